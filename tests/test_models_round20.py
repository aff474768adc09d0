"""Round 20 (adv116): the course's reference draws from streams of its own (thread-safe, the user's global
NumPy state untouched, the same bits as the course's global seeding); masked arrays refused by the train
functions; manual's checked mode refuses NaN or out-of-range costs, a bad lambd, learning rate, keep_prob,
sizes and layer_dims by name; a .mat file is not called text; predict refuses malformed or non-finite
parameters; the notebooks' iteration cap is parsed by a documented helper."""
import json
import pathlib
import threading
from fractions import Fraction

import numpy as np
import pytest

import autograd_lite as ag
from models import data, deep, manual, three_layer

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 5))
    Y = np.array([[1., 0, 1, 0, 1]])
    P = manual.initialize_reference()
    A3, cache = manual.forward_propagation(X, P)
    return X, Y, P, A3, cache


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# --- 1+2: the reference's own random streams ------------------------------------------------------------------
def test_reference_draws_are_the_course_global_seed_draws(football):
    X, _ = football
    m = X.shape[1]
    saved = np.random.get_state()
    try:  # the course's own code, on NumPy's global generator
        np.random.seed(3)
        weights = [np.random.randn(n, n_prev) / np.sqrt(n_prev) for n_prev, n in ((2, 20), (20, 3), (3, 1))]
        np.random.seed(1)
        masks = [np.random.rand(20, m) < 0.86, np.random.rand(3, m) < 0.86]
    finally:
        np.random.set_state(saved)
    params = manual.initialize_reference()
    for l, W in enumerate(weights, start=1):
        assert np.array_equal(params[f"W{l}"], W) and params[f"W{l}"].dtype == np.float64
        assert np.array_equal(params[f"b{l}"], np.zeros((W.shape[0], 1)))
    D1, D2 = manual.reference_dropout_masks((20, 3), m, 0.86)
    assert np.array_equal(D1, masks[0]) and np.array_equal(D2, masks[1])
    assert (round(D1.mean(), 4), round(D2.mean(), 4)) == (0.8595, 0.8594)  # SEEDS.md's kept fractions


def test_reference_leaves_the_global_random_state_alone(football):
    X, Y = football
    np.random.seed(12345)
    before = np.random.get_state()
    manual.initialize_reference()
    manual.reference_dropout_masks((20, 3), 7, 0.5)
    three_layer.initialize("reference")
    three_layer.train(X, Y, num_iterations=1, keep_prob=0.86)
    assert _same_state(np.random.get_state(), before)


class _Interleaving:
    """Thread "A" stops right after its first draw until thread "B" has run the whole function: hooked on
    NumPy's global draws and on every RandomState's, so A pauses wherever the function draws from."""

    def __init__(self, monkeypatch, method):
        self.paused, self.b_done = threading.Event(), threading.Event()

        def pause_a():
            if threading.current_thread().name == "A" and not self.paused.is_set():
                self.paused.set()
                assert self.b_done.wait(60), "thread B never finished"

        global_draw = getattr(np.random, method)

        def drawing(*shape):
            result = global_draw(*shape)
            pause_a()
            return result

        class PausingRandomState(np.random.RandomState):
            pass

        def stream_draw(stream, *shape):
            result = getattr(super(PausingRandomState, stream), method)(*shape)
            pause_a()
            return result

        setattr(PausingRandomState, method, stream_draw)
        monkeypatch.setattr(np.random, method, drawing)
        monkeypatch.setattr(np.random, "RandomState", PausingRandomState)

    def run(self, function):
        results, errors = {}, []

        def a():
            try:
                results["A"] = function()
            except BaseException as error:  # noqa: BLE001 - re-raised in the main thread below
                errors.append(error)
                self.paused.set()

        def b():
            try:
                assert self.paused.wait(60), "thread A never drew"
                results["B"] = function()
            except BaseException as error:  # noqa: BLE001
                errors.append(error)
            finally:
                self.b_done.set()

        threads = [threading.Thread(target=a, name="A"), threading.Thread(target=b, name="B")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        assert self.paused.is_set()
        return results["A"], results["B"]


def test_two_threads_initializing_get_the_sequential_weights(monkeypatch):
    sequential = manual.initialize_reference()
    a, b = _Interleaving(monkeypatch, "randn").run(manual.initialize_reference)
    for result in (a, b):
        assert result.keys() == sequential.keys()
        assert all(np.array_equal(result[k], sequential[k]) for k in sequential)


def test_two_threads_drawing_masks_get_the_sequential_masks(monkeypatch):
    sequential = manual.reference_dropout_masks((20, 3), 211, 0.86)
    a, b = _Interleaving(monkeypatch, "rand").run(lambda: manual.reference_dropout_masks((20, 3), 211, 0.86))
    for result in (a, b):
        assert len(result) == 2 and all(np.array_equal(r, s) for r, s in zip(result, sequential))


# --- 3: masked arrays -----------------------------------------------------------------------------------------
@pytest.fixture
def masked():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 7))
    Y = (rng.random((1, 7)) < .5).astype(float)
    Xm = np.ma.masked_array(X.copy(), mask=np.zeros((2, 7), bool))
    Xm.mask[0, 0] = True
    Xm.data[0, 0] = 999.0
    return X, Y, Xm


@pytest.mark.parametrize("call, name", [
    (lambda X, Y: three_layer.train(X, Y, num_iterations=1), "three_layer.train"),
    (lambda X, Y: deep.train(X, Y, [2, 3, 1], num_epochs=1), "deep.train"),
    (lambda X, Y: deep.random_mini_batches(X, Y, 2, rng=0), "random_mini_batches"),
])
def test_train_functions_refuse_masked_entries(masked, call, name):
    X, Y, Xm = masked
    with pytest.raises(TypeError, match=rf"^{name}: X: a numpy\.ma\.MaskedArray of shape \(2, 7\) with 1 masked entry"):
        call(Xm, Y)
    Ym = np.ma.masked_array(Y, mask=Y == 1)
    with pytest.raises(TypeError, match=rf"^{name}: Y: a numpy\.ma\.MaskedArray"):
        call(X, Ym)


def test_masked_array_without_masked_entries_is_its_data(masked):
    X, Y, _ = masked
    plain = three_layer.train(X, Y, num_iterations=2)[1]
    assert three_layer.train(np.ma.masked_array(X, mask=False), Y, num_iterations=2)[1] == plain


def test_predict_names_itself_on_masked_entries(masked):
    _, _, Xm = masked
    with pytest.raises(TypeError, match=r"^three_layer\.predict: X: a numpy\.ma\.MaskedArray"):
        three_layer.predict(three_layer.initialize(), Xm)


# --- 4: compute_cost --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("A, Y, match", [
    (np.full((1, 3), np.nan), np.array([[1., 0, 1]]), r"NaN"),
    (np.array([[.5, np.nan, .5]]), np.array([[1., 0, 1]]), r"NaN"),
    (np.array([[.9, .1, .9]]) + 2, np.array([[1., 0, 1]]), r"\[0, 1\]"),
    (np.array([[.9, .1, .9]]), np.full((1, 3), np.nan), r"labels must be 0 or 1"),
    (np.array([[.9, .1, .9]]), np.array([[1., .5, 1]]), r"labels must be 0 or 1, found \[0\.5\]"),
])
def test_compute_cost_refuses_nan_and_out_of_range(A, Y, match):
    with pytest.raises(ValueError, match=rf"^compute_cost: .*{match}"):
        manual.compute_cost(A, Y)
    with pytest.raises(ValueError, match=rf"^compute_cost_with_regularization: .*{match}"):
        manual.compute_cost_with_regularization(A, Y, manual.initialize_reference([2, 1]), 0.7)


def test_compute_cost_drops_only_the_zero_log_zero_terms():
    # A exactly 0 or 1 on its own label: the 0 * log(0) terms are taken as 0, the third term is log 2
    assert manual.compute_cost(np.array([[1., 0., .5]]), np.array([[1., 0, 1]])) == pytest.approx(np.log(2) / 3)
    # unchecked: the course's bare formula, whatever the inputs (documented)
    assert manual.compute_cost(np.full((1, 3), np.nan), np.array([[1., 0, 1]]), check=False) == 0.0


def test_compute_cost_refuses_zero_examples():
    with pytest.raises(ValueError, match=r"^compute_cost: A has shape \(1, 0\): zero examples"):
        manual.compute_cost(np.zeros((1, 0)), np.zeros((1, 0)))


def test_step_refuses_a_nan_cost_naming_the_step(small):
    X, Y, P, _, _ = small
    P = {**P, "W3": np.full((1, 3), np.nan)}
    before = {k: v.copy() for k, v in P.items()}
    with pytest.raises(ValueError, match=r"^three_layer_step \(in compute_cost\): .*NaN"):
        manual.three_layer_step(P, X, Y, 0.1)
    assert all(np.array_equal(P[k], before[k], equal_nan=True) for k in P)


# --- 5: lambd ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lambd", [None, -1.0, np.array([.7, .1]), float("nan"), "0.7"])
def test_manual_refuses_a_bad_lambd(small, lambd):
    X, Y, P, A3, cache = small
    wanted = rf"lambd must be a finite number >= 0, got {'None' if lambd is None else '.*'}"
    with pytest.raises(ValueError, match=rf"^backward_propagation: {wanted}"):
        manual.backward_propagation(X, Y, cache, lambd)
    with pytest.raises(ValueError, match=rf"^L_model_backward: {wanted}"):
        manual.L_model_backward(Y, manual.L_model_forward(X, P)[1], lambd)
    with pytest.raises(ValueError, match=rf"^compute_cost_with_regularization: {wanted}"):
        manual.compute_cost_with_regularization(A3, Y, P, lambd)
    before = {k: v.copy() for k, v in P.items()}
    with pytest.raises(ValueError, match=rf"^three_layer_step: {wanted}"):
        manual.three_layer_step(P, X, Y, 0.1, lambd=lambd)
    with pytest.raises(ValueError, match=rf"^deep_step: {wanted}"):
        manual.deep_step(P, X, Y, 0.1, lambd=lambd)
    assert all(np.array_equal(P[k], before[k]) for k in P)


# --- 6+7: keep_prob, learning rate, sizes -----------------------------------------------------------------------
def test_fraction_keep_prob_is_the_float(small):
    X, Y, P, _, _ = small
    masks = manual.reference_dropout_masks((20, 3), 5, Fraction(1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(masks, manual.reference_dropout_masks((20, 3), 5, 0.5)))
    A_f, cache_f = manual.forward_propagation(X, P, Fraction(1, 2), masks)
    A_h, cache_h = manual.forward_propagation(X, P, 0.5, masks)
    assert A_f.dtype == np.float64 and np.array_equal(A_f, A_h)
    g_f = manual.backward_propagation(X, Y, cache_f, 0.7, Fraction(1, 2))
    g_h = manual.backward_propagation(X, Y, cache_h, 0.7, 0.5)
    assert all(g_f[k].dtype == np.float64 and np.array_equal(g_f[k], g_h[k]) for k in g_h)
    AL, caches = manual.L_model_forward(X, P, Fraction(1, 2), masks)
    assert np.array_equal(AL, A_h)
    g_l = manual.L_model_backward(Y, caches, 0.7, Fraction(1, 2))
    assert all(g_l[k].dtype == np.float64 for k in g_l)


@pytest.mark.parametrize("lr, match", [("0.1", "0.1"), (np.ones(3), r"array"), (float("nan"), "nan"),
                                       (-0.1, "-0.1"), (None, "None")])
def test_update_parameters_refuses_a_bad_learning_rate(small, lr, match):
    X, Y, P, _, cache = small
    g = manual.backward_propagation(X, Y, cache)
    before = {k: v.copy() for k, v in P.items()}
    with pytest.raises(ValueError, match=rf"^update_parameters: learning_rate .*{match}"):
        manual.update_parameters(P, g, lr)
    with pytest.raises(ValueError, match=r"^three_layer_step \(in update_parameters\): learning_rate"):
        manual.three_layer_step(P, X, Y, lr)
    assert all(np.array_equal(P[k], before[k]) for k in P)


def test_update_parameters_takes_a_fraction_learning_rate(small):
    X, Y, P, _, cache = small
    g = manual.backward_propagation(X, Y, cache)
    Q = {k: v.copy() for k, v in P.items()}
    manual.update_parameters(P, g, Fraction(1, 10))
    manual.update_parameters(Q, g, 0.1)
    assert all(np.array_equal(P[k], Q[k]) for k in P)


def test_update_parameters_refuses_complex_gradients(small):
    X, Y, P, _, cache = small
    g = {k: v.astype(complex) for k, v in manual.backward_propagation(X, Y, cache).items()}
    with pytest.raises(TypeError, match=r"^update_parameters: grads\['dW1'\] has dtype complex128; expected real"):
        manual.update_parameters(P, g, 0.1)


def test_forward_refuses_parameters_of_strings(small):
    X, _, P, _, _ = small
    with pytest.raises(TypeError, match=r"^forward_propagation: params\['W1'\] has dtype <U1; expected real"):
        manual.forward_propagation(X, {**P, "W1": np.full((20, 2), "a")})


def test_forward_refuses_zero_examples():
    P = manual.initialize_reference()
    with pytest.raises(ValueError, match=r"^forward_propagation: X has shape \(2, 0\): zero examples"):
        manual.forward_propagation(np.zeros((2, 0)), P)
    with pytest.raises(ValueError, match=r"^L_model_forward: X has shape \(2, 0\): zero examples"):
        manual.L_model_forward(np.zeros((2, 0)), P)


@pytest.mark.parametrize("hidden, m, keep_prob, error, match", [
    ((20, 3), -1, 0.5, ValueError, r"m must be an int >= 1, got -1"),
    ((20, 3), 5.5, 0.5, ValueError, r"m must be an int >= 1, got 5\.5"),
    ((20, 3), 5, 0, ValueError, r"keep_prob is 0; expected a number in \(0, 1\]"),
    ((20, 3), 5, 2, ValueError, r"keep_prob is 2; expected a number in \(0, 1\]"),
    ((20, -3), 5, 0.5, ValueError, r"hidden_sizes\[1\] must be an int >= 1, got -3"),
    (20, 5, 0.5, TypeError, r"hidden_sizes is int 20; expected a list or tuple"),
])
def test_reference_dropout_masks_refuses_bad_arguments(hidden, m, keep_prob, error, match):
    with pytest.raises(error, match=rf"^reference_dropout_masks: {match}"):
        manual.reference_dropout_masks(hidden, m, keep_prob)


@pytest.mark.parametrize("dims, error, match", [
    ("abc", TypeError, r"layer_dims is str 'abc'; expected \[n_x, n_1, \.\.\., 1\]"),
    ([2, -3, 1], ValueError, r"layer_dims \[2, -3, 1\] holds \[-3\]"),
    ([2], ValueError, r"layer_dims \[2\] has 1 entry"),
    ([2, 0, 1], ValueError, r"layer_dims \[2, 0, 1\] holds \[0\]"),
])
def test_initialize_reference_refuses_bad_layer_dims(dims, error, match):
    with pytest.raises(error, match=rf"^initialize_reference: {match}"):
        manual.initialize_reference(dims)


# --- 8: a .mat file is not text ----------------------------------------------------------------------------------
def _mat_header(version):
    text = f"MATLAB {version} MAT-file, Platform: posix, Created on: Mon Jan  1 00:00:00 2024".encode()
    if version == "5.0":
        return text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM" + b"\x0e\0\0\0" + b"\0" * 60
    return (text + b" HDF5 schema 1.00 .").ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM" + b"\0" * 384 \
        + b"\x89HDF\r\n\x1a\n" + b"\0" * 64


@pytest.mark.parametrize("version", ["5.0", "7.3"])
def test_a_mat_file_is_called_a_mat_file(tmp_path, version):
    path = tmp_path / "data.mat"
    path.write_bytes(_mat_header(version))
    with pytest.raises(ValueError, match=r"is not an \.npz archive \(a MATLAB \.mat file") as info:
        data.load_catvnoncat(path)
    assert "text" not in str(info.value)
    npz = tmp_path / "football.npz"
    npz.write_bytes(_mat_header(version))
    with pytest.raises(ValueError, match=r"is not an \.npz archive \(a MATLAB \.mat file"):
        data.load_football(npz)


def test_an_hdf5_file_and_a_text_file_are_said_so(tmp_path):
    h5 = tmp_path / "images.npz"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ValueError, match=r"is not an \.npz archive \(an HDF5 file"):
        data.load_catvnoncat(h5)
    text = tmp_path / "notes.npz"
    text.write_text("train_X,train_Y\n0.1,1\n")
    with pytest.raises(ValueError, match=r"is not an \.npz archive \(a text file\)"):
        data.load_catvnoncat(text)


# --- 9: predict's parameters -------------------------------------------------------------------------------------
def test_three_layer_predict_refuses_malformed_or_non_finite_params():
    X = np.random.default_rng(0).standard_normal((2, 7))
    P = manual.initialize_reference()
    with pytest.raises(ValueError, match=r"^three_layer\.predict: params\['b3'\] has shape \(1, 7\); expected \(1, 1\)"):
        three_layer.predict({**P, "b3": np.ones((1, 7))}, X)
    with pytest.raises(ValueError, match=r"^three_layer\.predict: params\['W3'\] holds NaN or inf"):
        three_layer.predict({**P, "W3": np.full((1, 3), np.nan)}, X)
    tensors = three_layer.initialize()
    tensors["b2"] = ag.Tensor(np.full((3, 1), np.inf))
    with pytest.raises(ValueError, match=r"^three_layer\.predict: params\['b2'\] holds NaN or inf"):
        three_layer.predict(tensors, X)


def test_deep_predict_refuses_malformed_or_non_finite_params():
    X = np.random.default_rng(0).standard_normal((2, 7))
    P = ag.init.initialize([2, 2, 1], rng=0)
    with pytest.raises(ValueError, match=r"^deep\.predict: params\['b1'\] has shape \(1, 1\); expected \(2, 1\)"):
        deep.predict({**P, "b1": np.ones((1, 1))}, X)
    with pytest.raises(ValueError, match=r"^deep\.predict: params\['W1'\] holds NaN or inf"):
        deep.predict({**P, "W1": np.full((2, 2), np.nan)}, X)
    assert deep.predict(P, X).shape == (1, 7)


# --- 10: the notebooks' iteration cap ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-3", "1e3", "2.5"])
def test_notebook_iterations_refuses_a_bad_value(monkeypatch, value):
    monkeypatch.setenv("AG_NOTEBOOK_ITERATIONS", value)
    with pytest.raises(ValueError, match=rf"^AG_NOTEBOOK_ITERATIONS={value!r} is not a whole number >= 0; "
                                         r"expected"):
        data.notebook_iterations()


def test_notebook_iterations_reads_the_cap(monkeypatch):
    monkeypatch.delenv("AG_NOTEBOOK_ITERATIONS", raising=False)
    assert data.notebook_iterations() == 0
    for value, cap in (("", 0), ("0", 0), (" 20 ", 20)):
        monkeypatch.setenv("AG_NOTEBOOK_ITERATIONS", value)
        assert data.notebook_iterations() == cap


@pytest.mark.parametrize("name", ["regularization.ipynb", "deep_network.ipynb"])
def test_notebooks_read_the_cap_through_the_helper(name):
    cells = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
    first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert "CAP = data.notebook_iterations()" in first
    assert "int(os.environ" not in first
