"""Round 20b (adv120): manual's checked mode refuses masked arrays with a masked entry by name (A, Y, X,
params, masks, grads) and takes an np.matrix as its ndarray; layer_dims and hidden sizes become Python ints
(any iterable); check=True computes the very numbers check=False does (keep_prob and the learning rate used
as given); a forward/backward keep_prob pair is compared at the lower precision of the two;
initialize_reference takes any output size; predict takes a bias that broadcasts exactly to (n_l, 1);
update_parameters takes a learning rate of 0."""
import numpy as np
import pytest

import autograd_lite as ag
from models import deep, manual, three_layer

KEEP = 0.86  # the study's keep_prob


@pytest.fixture
def small():
    rng = np.random.RandomState(0)
    X = rng.randn(2, 5)
    Y = (rng.rand(1, 5) > .5).astype(float)
    return X, Y, manual.reference_dropout_masks((20, 3), 5, KEEP)


def _same(a, b):
    """Bit-identical: the same dtype and the same bits (NaN nowhere here)."""
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# --- S1, R7: masked arrays ---------------------------------------------------------------------------------------
A = np.array([[0.2, 0.9, 0.4]])
Y3 = np.array([[0, 1, 1]])
HIDDEN = np.ma.array(A, mask=[[0, 1, 0]])


@pytest.mark.parametrize("function", ["compute_cost", "compute_cost_with_regularization"])
def test_cost_refuses_a_masked_entry_in_A_or_Y_by_name(function):
    P = manual.initialize_reference()
    extra = (P, 0.7) if function == "compute_cost_with_regularization" else ()
    cost = getattr(manual, function)
    with pytest.raises(TypeError, match=rf"^{function}: A: a numpy\.ma\.MaskedArray of shape \(1, 3\) with 1 masked"):
        cost(HIDDEN, Y3, *extra)
    # before the label check, which would report a label None the caller never wrote
    with pytest.raises(TypeError, match=rf"^{function}: Y: a numpy\.ma\.MaskedArray of shape \(1, 3\) with 1 masked"):
        cost(A, np.ma.array(Y3, mask=[[0, 1, 0]]), *extra)
    assert cost(np.ma.array(A), np.ma.array(Y3), *extra) == cost(A, Y3, *extra)  # nothing masked: its data


def test_backward_passes_and_steps_refuse_a_masked_Y(small):
    X, Y, masks = small
    masked = np.ma.array(Y, mask=[[0, 1, 0, 0, 0]])
    _, cache = manual.forward_propagation(X, manual.initialize_reference(), KEEP, masks)
    with pytest.raises(TypeError, match=r"^backward_propagation: Y: a numpy\.ma\.MaskedArray"):
        manual.backward_propagation(X, masked, cache, 0.0, KEEP)
    _, caches = manual.L_model_forward(X, manual.initialize_reference(), KEEP, masks)
    with pytest.raises(TypeError, match=r"^L_model_backward: Y: a numpy\.ma\.MaskedArray"):
        manual.L_model_backward(masked, caches, 0.0, KEEP)
    P = manual.initialize_reference()
    before = {k: v.copy() for k, v in P.items()}
    with pytest.raises(TypeError, match=r"^three_layer_step \(in compute_cost\): Y: a numpy\.ma\.MaskedArray"):
        manual.three_layer_step(P, X, masked, 0.3, keep_prob=KEEP, masks=masks)
    assert all(np.array_equal(P[k], before[k]) for k in P)


def test_masked_params_masks_and_grads_are_refused_by_name(small):
    X, Y, masks = small
    P = manual.initialize_reference()
    W2 = np.ma.array(P["W2"], mask=np.eye(3, 20, dtype=bool))
    with pytest.raises(TypeError, match=r"^forward_propagation: params\['W2'\]: a numpy\.ma\.MaskedArray"):
        manual.forward_propagation(X, {**P, "W2": W2})
    D1 = np.ma.array(masks[0], mask=np.eye(20, 5, dtype=bool))
    with pytest.raises(TypeError, match=r"^L_model_forward: masks\[0\]: a numpy\.ma\.MaskedArray"):
        manual.L_model_forward(X, P, KEEP, [D1, masks[1]])
    grads = {"d" + k: np.ones_like(v) for k, v in P.items()}
    grads["db1"] = np.ma.array(grads["db1"], mask=np.eye(20, 1, dtype=bool))
    with pytest.raises(TypeError, match=r"^update_parameters: grads\['db1'\]: a numpy\.ma\.MaskedArray"):
        manual.update_parameters(P, grads, 0.1)
    # nothing masked: taken as the array it holds
    A3, _ = manual.forward_propagation(X, {**P, "W2": np.ma.array(P["W2"])})
    assert np.array_equal(A3, manual.forward_propagation(X, P)[0])


# --- S2: small-int layer_dims -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64])
def test_initialize_reference_draws_the_course_weights_for_numpy_int_dims(dtype):
    dims = np.array([2, 20, 3, 1], dtype=dtype)
    got, want = manual.initialize_reference(dims), manual.initialize_reference([2, 20, 3, 1])
    assert got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    lecun = ag.init.initialize(dims, "lecun", rng=np.random.RandomState(3))
    assert all(np.array_equal(lecun[k].data, want[k]) for k in want)


# --- S3: check=True computes what check=False does -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("keep_prob", [np.float64(KEEP), np.float32(KEEP), KEEP, np.array(KEEP), 1, np.int64(1)])
def test_forward_and_backward_are_the_same_checked_or_not(small, dtype, keep_prob):
    X, Y, masks = small
    X, Y = X.astype(dtype), Y.astype(dtype)
    P = {k: v.astype(dtype) for k, v in manual.initialize_reference().items()}
    for forward, backward, last in ((manual.forward_propagation, manual.backward_propagation, 11),
                                    (manual.L_model_forward, manual.L_model_backward, None)):
        a, cache = forward(X, P, keep_prob, masks)
        b, plain = forward(X, P, keep_prob, masks, check=False)
        assert _same(a, b)
        args = (X, Y) if last else (Y,)
        g, h = backward(*args, cache, 0.7, keep_prob), backward(*args, plain, 0.7, keep_prob, check=False)
        assert g.keys() == h.keys() and all(_same(g[k], h[k]) for k in g)


@pytest.mark.parametrize("keep_prob", [np.float32(KEEP), np.float64(KEEP)])
def test_reference_masks_are_the_same_checked_or_not(keep_prob):
    checked = manual.reference_dropout_masks((20, 3), 211, keep_prob)
    plain = manual.reference_dropout_masks((20, 3), 211, keep_prob, check=False)
    assert all(_same(a, b) for a, b in zip(checked, plain))


@pytest.mark.parametrize("learning_rate", [np.float64(0.3), np.float32(0.3), np.array(0.3), 0.3])
def test_update_parameters_is_the_same_checked_or_not(learning_rate):
    P = {k: v.astype(np.float32) for k, v in manual.initialize_reference().items()}
    Q = {k: v.copy() for k, v in P.items()}
    grads = {"d" + k: np.random.RandomState(1).randn(*v.shape).astype(np.float32) for k, v in P.items()}
    manual.update_parameters(P, grads, learning_rate)
    manual.update_parameters(Q, grads, learning_rate, check=False)
    assert all(_same(P[k], Q[k]) for k in P)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_twenty_football_steps_are_the_same_checked_or_not(football, dtype):
    X, Y = (a.astype(dtype) for a in football)
    masks = manual.reference_dropout_masks((20, 3), X.shape[1], KEEP)
    runs = []
    for check in (True, False):
        P = {k: v.astype(dtype) for k, v in manual.initialize_reference().items()}
        costs = [manual.three_layer_step(P, X, Y, np.float64(0.3), 0.0, np.float64(KEEP), masks, check=check)
                 for _ in range(20)]
        runs.append((costs, P))
    (costs, P), (plain_costs, Q) = runs
    assert costs == plain_costs and all(_same(P[k], Q[k]) for k in P)


# --- R1: keep_prob compared at the lower precision ---------------------------------------------------------------
@pytest.mark.parametrize("forward_kp, backward_kp", [
    (np.float32(KEEP), KEEP), (KEEP, np.float32(KEEP)), (np.float16(KEEP), KEEP), (KEEP, np.float16(KEEP)),
    (np.float16(KEEP), np.float32(KEEP)), (np.array(KEEP, dtype=np.float32), KEEP)])
def test_the_same_keep_prob_in_another_precision_is_accepted(small, forward_kp, backward_kp):
    X, Y, masks = small
    P = manual.initialize_reference()
    _, cache = manual.forward_propagation(X, P, forward_kp, masks)
    manual.backward_propagation(X, Y, cache, 0.0, backward_kp)
    _, caches = manual.L_model_forward(X, P, forward_kp, masks)
    manual.L_model_backward(Y, caches, 0.0, backward_kp)


def test_another_keep_prob_is_still_refused_naming_the_precision(small):
    X, Y, masks = small
    P = manual.initialize_reference()
    _, cache = manual.forward_propagation(X, P, np.float32(KEEP), masks)
    with pytest.raises(ValueError, match=r"^backward_propagation: keep_prob is 0\.87 but the forward pass that made "
                                         r"the cache used keep_prob=np\.float32\(0\.86\); expected the same value "
                                         r"\(compared in float32\)"):
        manual.backward_propagation(X, Y, cache, 0.0, 0.87)
    _, caches = manual.L_model_forward(X, P, KEEP, masks)
    with pytest.raises(ValueError, match=r"^L_model_backward: keep_prob is np\.float64\(0\.8600000001\) .*"
                                         r"\(compared in float64\)"):
        manual.L_model_backward(Y, caches, 0.0, np.float64(0.8600000001))


# --- R2: hidden sizes as any iterable -----------------------------------------------------------------------------
@pytest.mark.parametrize("hidden", [np.array([20, 3]), np.array([2, 20, 3, 1], dtype=np.uint8)[1:-1],
                                    range(20, 2, -17), (n for n in (20, 3))])
def test_reference_dropout_masks_take_any_iterable_of_sizes(hidden):
    got = manual.reference_dropout_masks(hidden, 5, KEEP)
    want = manual.reference_dropout_masks([20, 3], 5, KEEP)
    assert len(got) == 2 and all(_same(a, b) for a, b in zip(got, want))


def test_reference_dropout_masks_still_refuse_bad_sizes():
    with pytest.raises(ValueError, match=r"^reference_dropout_masks: hidden_sizes\[1\] must be an int >= 1, "
                                         r"got np\.int64\(0\)"):
        manual.reference_dropout_masks(np.array([20, 0]), 5, KEEP)
    with pytest.raises(TypeError, match=r"^reference_dropout_masks: hidden_sizes is str '20'; expected a list"):
        manual.reference_dropout_masks("20", 5, KEEP)


# --- R3: np.matrix as its ndarray ---------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix's own notice)
def test_matrix_labels_and_predictions_are_taken_as_ndarrays(small):
    X, Y, masks = small
    assert manual.compute_cost(A, np.asmatrix(Y3)) == manual.compute_cost(A, Y3)
    assert manual.compute_cost(np.asmatrix(A), Y3) == manual.compute_cost(A, Y3)
    P = manual.initialize_reference()
    assert manual.compute_cost_with_regularization(A, np.asmatrix(Y3), P, 0.7) == \
        manual.compute_cost_with_regularization(A, Y3, P, 0.7)
    runs = []
    for X_in, Y_in in ((np.asmatrix(X), np.asmatrix(Y)), (X, Y)):
        P = manual.initialize_reference()
        cost = manual.three_layer_step(P, X_in, Y_in, 0.3, 0.7, KEEP, masks)
        runs.append((cost, P))
    assert runs[0][0] == runs[1][0] and all(_same(runs[0][1][k], runs[1][1][k]) for k in P)
    assert all(type(v) is np.ndarray for v in runs[0][1].values())


# --- R4: initialize_reference takes any output size ------------------------------------------------------------------
def test_initialize_reference_takes_the_course_test_shape():
    P = manual.initialize_reference([5, 4, 3])
    assert {k: v.shape for k, v in P.items()} == {"W1": (4, 5), "b1": (4, 1), "W2": (3, 4), "b2": (3, 1)}
    stream = np.random.RandomState(3)
    assert _same(P["W1"], stream.randn(4, 5) / np.sqrt(5)) and _same(P["W2"], stream.randn(3, 4) / np.sqrt(4))
    with pytest.raises(ValueError, match=r"^initialize_reference: layer_dims \[5\] has 1 entry"):
        manual.initialize_reference([5])


def test_deep_train_still_needs_one_output_unit():
    X = np.random.RandomState(0).randn(5, 4)
    Y = np.array([[0., 1, 1, 0]])
    with pytest.raises(ValueError, match=r"^deep\.train: layer_dims \[5, 4, 3\] ends in 3 output units"):
        deep.train(X, Y, [5, 4, 3], num_epochs=0)


# --- R5: a bias that broadcasts exactly ----------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [np.zeros(1), np.array(0.0), 0.0, np.zeros((1, 1)), ag.Tensor(np.zeros(1))])
def test_predict_takes_an_output_bias_that_broadcasts_to_its_column(bias):
    X = np.random.RandomState(0).randn(2, 7)
    P = manual.initialize_reference()
    P["b3"] = np.full((1, 1), 0.0)
    want = three_layer.predict(P, X)
    assert np.array_equal(three_layer.predict({**P, "b3": bias}, X), want)
    one = {"W1": np.array([[1.0, -2.0]]), "b1": np.zeros((1, 1))}
    assert np.array_equal(deep.predict({**one, "b1": bias}, X), deep.predict(one, X))


def test_predict_still_refuses_a_bias_that_would_grow():
    X = np.random.RandomState(0).randn(2, 7)
    P = manual.initialize_reference()
    with pytest.raises(ValueError, match=r"^three_layer\.predict: params\['b3'\] has shape \(1, 7\); "
                                         r"expected \(1, 1\)"):
        three_layer.predict({**P, "b3": np.zeros((1, 7))}, X)
    with pytest.raises(ValueError, match=r"^three_layer\.predict: params\['b2'\] has shape \(3,\); expected \(3, 1\)"):
        three_layer.predict({**P, "b2": np.zeros(3)}, X)
    with pytest.raises(ValueError, match=r"^deep\.predict: params\['b1'\] has shape \(1, 1, 1\); expected \(1, 1\)"):
        deep.predict({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1, 1))}, X)
    with pytest.raises(ValueError, match=r"^deep\.predict: params\['b1'\] has shape \(\); expected \(2, 1\)"):
        deep.predict({**ag.init.initialize([2, 2, 1], rng=0), "b1": 0.0}, X)  # one number for two units


# --- R6: a learning rate of 0 in one update ------------------------------------------------------------------------
@pytest.mark.parametrize("zero", [0, 0.0, np.float32(0)])
def test_update_parameters_takes_a_learning_rate_of_zero(zero):
    P = manual.initialize_reference()
    before = {k: v.copy() for k, v in P.items()}
    manual.update_parameters(P, {"d" + k: np.ones_like(v) for k, v in P.items()}, zero)
    assert all(_same(P[k], before[k]) for k in P)


def test_negative_rates_and_training_at_zero_are_still_refused(football):
    P = manual.initialize_reference()
    with pytest.raises(ValueError, match=r"^update_parameters: learning_rate must be >= 0, got -0\.1"):
        manual.update_parameters(P, {"d" + k: np.ones_like(v) for k, v in P.items()}, -0.1)
    X, Y = football
    with pytest.raises(ValueError, match=r"^three_layer\.train: learning_rate must be > 0, got 0"):
        three_layer.train(X, Y, learning_rate=0, num_iterations=1)
    with pytest.raises(ValueError, match=r"^deep\.train: learning_rate must be > 0, got 0"):
        deep.train(X, Y, [2, 3, 1], learning_rate=0, num_epochs=0)
