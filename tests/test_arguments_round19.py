"""adv110 #2-#6 and #9: options checked as the rest of the package checks them. Yes/no options refuse
what is not a bool (``convert.flag``), numeric options take what the optimizers' ``lr`` takes and name
themselves for a number too large for a float, ragged labels and inputs are refused by name, and
``Tensor.item`` / ``detect_anomaly`` take NumPy's / PyTorch's arguments."""
import warnings
from fractions import Fraction

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import testing
from autograd_lite.errors import AnomalyError

X = np.array([1.0, 2.0, 3.0])
NOT_BOOLS = ["False", "no", None, 0, 1, np.array([0, 1])]


def _square_sum(a):
    return ag.sum(a * a)


def _graph():
    w = ag.Tensor(X, requires_grad=True, name="w")
    return ag.sum(ag.exp(w))


# --- #2: yes/no options -----------------------------------------------------------------------------
def _cube_slightly_wrong():
    @ag.primitive
    def cube(a):
        return a ** 3
    cube.defvjp(lambda g, out, a: g * 3 * a ** 2 * (1 + 1e-6))  # off by 1e-6 relative
    return cube


def test_gradcheck_fast_false_as_a_str_is_refused_not_run_as_the_fast_check():
    cube = _cube_slightly_wrong()
    f = lambda a: ag.sum(cube(a))  # noqa: E731
    assert not ag.gradcheck(f, (X,), fast=False).passed
    assert not ag.gradcheck(f, (X,), fast=np.False_).passed  # NumPy's bool is a bool
    with pytest.raises(TypeError, match=r"^gradcheck\(fast=\.\.\.\): expected True or False, got str 'False'"):
        ag.gradcheck(f, (X,), fast="False")


@pytest.mark.parametrize("value", NOT_BOOLS)
def test_gradcheck_fast_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"^gradcheck\(fast=\.\.\.\): expected True or False"):
        ag.gradcheck(_square_sum, (X,), fast=value)


@pytest.mark.parametrize("value", NOT_BOOLS)
def test_load_require_manifest_must_be_a_bool(tmp_path, value):
    path = str(tmp_path / "p.npz")
    ag.save({"a": X}, path)
    with pytest.raises(TypeError, match=r"^load\(require_manifest=\.\.\.\): expected True or False"):
        ag.load(path, require_manifest=value)
    assert list(ag.load(path, require_manifest=np.True_)) == ["a"]


@pytest.mark.parametrize("option", ["show_grads", "show_values"])
@pytest.mark.parametrize("value", NOT_BOOLS)
def test_to_dot_options_must_be_bools(option, value):
    with pytest.raises(TypeError, match=rf"^to_dot\({option}=\.\.\.\): expected True or False"):
        ag.to_dot(_graph(), **{option: value})


@pytest.mark.parametrize("option", ["show_grads", "show_values"])
def test_draw_names_itself_for_a_show_option_that_is_not_a_bool(tmp_path, option):
    with pytest.raises(TypeError, match=rf"^draw\({option}=\.\.\.\): expected True or False, got str 'no'"):
        ag.draw(_graph(), str(tmp_path / "g.svg"), **{option: "no"})
    assert not list(tmp_path.iterdir())  # refused before anything is written


@pytest.mark.parametrize("value", NOT_BOOLS)
def test_formula_expand_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"^formula\(expand=\.\.\.\): expected True or False"):
        ag.formula(_graph(), expand=value)
    assert ag.formula(_graph(), expand=np.True_) == ag.formula(_graph(), expand=True)


# --- #3: ints too large for a float ---------------------------------------------------------------
HUGE = 10 ** 400
RANGE = r"must be a finite number > 0, at most 1\.798e\+308 \(the largest float\), got 10000"


@pytest.mark.parametrize("check", [ag.gradcheck, ag.numerical_gradient, ag.gradgradcheck])
def test_a_huge_int_step_names_the_check_the_argument_and_the_range(check):
    with pytest.raises(ValueError, match=rf"^{check.__name__}: eps {RANGE}"):
        check(_square_sum, [X], eps=HUGE)


@pytest.mark.parametrize("call, op", [
    (lambda: ag.compare_gradients(X, X, threshold=HUGE), "compare_gradients"),
    (lambda: testing.assert_gradients_close(X, X, threshold=HUGE), "compare_gradients"),
    (lambda: ag.gradcheck(_square_sum, [X], threshold=HUGE), "gradcheck"),
    (lambda: ag.gradgradcheck(_square_sum, [X], threshold=HUGE), "gradgradcheck")])
def test_a_huge_int_threshold_names_the_check_the_argument_and_the_range(call, op):
    with pytest.raises(ValueError, match=rf"^{op}: threshold {RANGE}"):
        call()


@pytest.mark.parametrize("dims, shown", [([2, HUGE], r"10000\S*\.\.\. \(401 characters\)"),
                                         ([2 ** 40, 2 ** 40], "1099511627776")])
def test_initialize_names_a_size_too_large_for_an_array(dims, shown):
    with pytest.raises(ValueError, match=rf"^initialize: layer_dims .*W1 of shape \({shown}, .*\), which would hold "
                                         r"more than NumPy's largest array"):
        ag.init.initialize(dims)


# --- #6: the numbers the optimizers' lr takes ------------------------------------------------------
@pytest.mark.parametrize("eps", [np.array(1e-7), Fraction(1, 10 ** 7), np.float32(1e-3)])
def test_the_step_takes_a_0d_array_and_a_fraction_as_lr_does(eps):
    assert ag.gradcheck(_square_sum, (X,), eps=eps).passed
    np.testing.assert_allclose(ag.numerical_gradient(_square_sum, [X], eps=eps)[0], 2 * X, rtol=1e-5)


@pytest.mark.parametrize("threshold", [np.array(1e-6), Fraction(1, 10 ** 6), np.float32(1e-6)])
def test_the_threshold_takes_a_0d_array_and_a_fraction_as_lr_does(threshold):
    assert type(ag.gradcheck(_square_sum, (X,), threshold=threshold).threshold) is float
    comparison = ag.compare_gradients(X, X, threshold=threshold)
    assert comparison.passed and comparison.threshold == float(threshold) and type(comparison.threshold) is float


@pytest.mark.parametrize("name", ["eps", "threshold"])
def test_a_one_element_array_is_not_taken_as_a_number_there_as_for_lr(name):
    with pytest.raises(ValueError, match=rf"^gradcheck: {name} must be a finite number, got array\(\[0\.001\]\) "
                                         r".*expected an int, float, Fraction, NumPy real scalar or 0-d real ndarray"):
        ag.gradcheck(_square_sum, (X,), **{name: np.array([1e-3])})


# --- #4: Tensor.item's index, detect_anomaly's check_nan -----------------------------------------
def test_item_takes_an_index_as_ndarray_item_does():
    t = ag.Tensor(np.arange(6.0).reshape(2, 3))
    assert t.item(0) == 0.0 and t.item(4) == 4.0 and t.item(1, 2) == 5.0 and t.item((1, 0)) == 3.0
    assert type(t.item(-1)) is float
    assert ag.Tensor(X).item(np.int64(2)) == 3.0


@pytest.mark.parametrize("args, error", [((6,), IndexError), ((0, 5), IndexError), ((0.5,), TypeError),
                                         ((0, 1, 2), ValueError)])
def test_item_names_itself_for_an_index_ndarray_refuses(args, error):
    with pytest.raises(error, match=r"^Tensor\.item\("):
        ag.Tensor(np.arange(6.0).reshape(2, 3)).item(*args)


def _nan_cost():
    return ag.log(ag.Tensor(np.array([-1.0]), requires_grad=True))


def test_detect_anomaly_takes_pytorchs_check_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with ag.detect_anomaly(False):  # (PyTorch: no error at a NaN)
            assert np.isnan(_nan_cost().data).all()
        with ag.detect_anomaly(check_nan=np.False_):
            _nan_cost()
        for mode in (ag.detect_anomaly(True), ag.detect_anomaly(check_nan=True)):
            with pytest.raises(AnomalyError), mode:
                _nan_cost()


@pytest.mark.parametrize("value", NOT_BOOLS)
def test_detect_anomaly_check_nan_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"^detect_anomaly\(check_nan=\.\.\.\): expected True or False"):
        ag.detect_anomaly(value)


# --- #5: ragged labels and gradients -------------------------------------------------------------
RAGGED = [[0], [1, 1]]


def test_ragged_labels_are_named_as_the_other_cross_entropies_name_them():
    a = np.array([[0.3, 0.6]])
    with pytest.raises(TypeError, match=r"^binary_cross_entropy \(labels\): cannot make a numeric array from list"):
        ag.binary_cross_entropy(a, RAGGED)


@pytest.mark.parametrize("labels", [[[0, 1]], np.array([[0, 1]]), np.array([[False, True]]),
                                    np.array([[0, 1]], np.float32)])
def test_labels_of_every_number_type_keep_the_cost_and_the_float32_gradient(labels):
    a = ag.Tensor(np.array([[0.3, 0.6]], np.float32), requires_grad=True)
    cost = ag.binary_cross_entropy(a, labels)
    cost.backward()
    expected = -(np.log(np.float32(0.7)) + np.log(np.float32(0.6))) / np.float32(2)
    assert cost.dtype == np.float32 and a.grad.dtype == np.float32
    np.testing.assert_allclose(cost.item(), expected, rtol=1e-6)


@pytest.mark.parametrize("call", [lambda: ag.compare_gradients(np.array([[0.3, 0.6]]), RAGGED),
                                  lambda: ag.compare_gradients({"W": RAGGED}, {"W": np.ones(2)})])
def test_compare_gradients_names_a_ragged_leaf(call):
    with pytest.raises(TypeError, match=r"^compare_gradients: input '\w+': cannot make a numeric array from list"):
        call()


def test_a_complex_input_is_refused_naming_the_check_and_the_leaf():
    with pytest.raises(TypeError, match=r"^gradcheck: input 'W': complex data \(dtype complex128\) is not supported"):
        ag.gradcheck(lambda p: ag.sum(p["W"]), [{"W": np.ones(2, complex)}])


# --- #9: compile's reason for running a masked-array argument eagerly ---------------------------
def test_compiles_warning_for_a_masked_array_speaks_of_its_mask_not_of_np_matrix():
    f = ag.compile(lambda a: ag.sum(ag.exp(a)))
    with pytest.warns(RuntimeWarning, match=r"numpy\.ma\.MaskedArray") as caught:
        f(np.ma.array(X))
    text = " ".join(str(w.message) for w in caught)
    assert "np.matrix" not in text and "mask" in text.replace("MaskedArray", "")
    with pytest.warns(RuntimeWarning, match=r"numpy\.matrix.*np\.matrix's \* is a matrix product"):
        ag.compile(lambda a: ag.sum(ag.exp(a)))(np.matrix(X))
