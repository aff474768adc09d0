"""Autodiff gradients of the costs written once == the hand-derived gradients of
models.manual (relative error < 1e-10 for every dW and db), and the hand-derived
reference itself agrees with central differences (SEEDS.md section 6)."""
import numpy as np
import pytest

import autograd_lite as ag
from models import data, deep, manual, three_layer

KEEP_PROB = 0.86
CONFIGS = {"plain": (0.0, 1.0), "L2": (0.7, 1.0), "dropout": (0.0, KEEP_PROB), "L2+dropout": (0.7, KEEP_PROB)}


def relative_error(got, expected):
    """||got - expected|| / ||expected|| (0 when both are exactly zero)."""
    scale = np.linalg.norm(expected)
    diff = np.linalg.norm(got - expected)
    return diff / scale if scale else diff


def fixed_masks(sizes, m, keep_prob, seed):
    rng = np.random.default_rng(seed)
    return [rng.random((n, m)) < keep_prob for n in sizes] if keep_prob < 1 else None


def manual_cost(params, X, Y, lambd, keep_prob, masks):
    A, _ = manual.L_model_forward(X, params, keep_prob, masks)
    return manual.compute_cost_with_regularization(A, Y, params, lambd)


def assert_gradients_match(params, manual_grads, tolerance=1e-10):
    worst = 0.0
    for key, p in params.items():
        error = relative_error(p.grad, manual_grads["d" + key])
        assert error < tolerance, f"{key}: relative error {error:.2e} between autodiff and manual"
        worst = max(worst, error)
    return worst


@pytest.fixture(scope="module")
def football():
    return data.load_football()[:2]


@pytest.mark.parametrize("config", CONFIGS)
def test_three_layer_autodiff_equals_manual(config, football):
    X, Y = football
    lambd, keep_prob = CONFIGS[config]
    params = ag.init.initialize(three_layer.LAYER_DIMS, method="he", rng=np.random.default_rng(5))
    masks = fixed_masks(three_layer.LAYER_DIMS[1:-1], X.shape[1], keep_prob, seed=11)
    arrays = {k: p.data.copy() for k, p in params.items()}

    J = three_layer.cost(params, X, Y, lambd, keep_prob, masks=masks)
    J.backward()

    A3, cache = manual.forward_propagation(X, arrays, keep_prob, masks)
    expected_cost = manual.compute_cost_with_regularization(A3, Y, arrays, lambd)
    assert J.item() == pytest.approx(expected_cost, rel=1e-13)
    assert_gradients_match(params, manual.backward_propagation(X, Y, cache, lambd, keep_prob))


def test_three_layer_gradients_where_the_sigmoid_saturates(football):
    # Scale W3 up so that some A3 round to exactly 0.0 or 1.0, where a naive chain
    # rule through log and sigmoid gives 0/0; the hand-derived dZ3 = A3 - Y does not.
    X, Y = football
    params = three_layer.initialize("reference")
    params["W3"].data = params["W3"].data * 400
    arrays = {k: p.data.copy() for k, p in params.items()}
    A3, cache = manual.forward_propagation(X, arrays)
    assert ((A3 == 1.0) | (A3 == 0.0)).any()
    J = three_layer.cost(params, X, Y)
    J.backward()
    # The costs differ on purpose here: the exercise's cost is inf where a wrong label
    # meets a saturated output, the engine floors log at -100 and stays finite.
    assert np.isfinite(J.item())
    assert_gradients_match(params, manual.backward_propagation(X, Y, cache))


DEPTHS = [[2, 4, 1], [5, 4, 3, 1], [6, 8, 5, 4, 3, 1]]


@pytest.mark.parametrize("layer_dims", DEPTHS, ids=lambda d: f"L{len(d) - 1}")
@pytest.mark.parametrize("config", CONFIGS)
def test_deep_autodiff_equals_manual_on_mini_batches(layer_dims, config):
    lambd, keep_prob = CONFIGS[config]
    rng = np.random.default_rng(len(layer_dims))
    X = rng.standard_normal((layer_dims[0], 150))
    Y = (rng.random((1, 150)) < 0.5).astype(float)
    batches = deep.random_mini_batches(X, Y, 64, rng)
    assert [b[0].shape[1] for b in batches] == [64, 64, 22]
    for X_batch, Y_batch in (batches[0], batches[-1]):
        params = ag.init.initialize(layer_dims, method="he", rng=rng)
        arrays = {k: p.data.copy() for k, p in params.items()}
        masks = fixed_masks(layer_dims[1:-1], X_batch.shape[1], keep_prob, seed=3)

        J = deep.cost(params, X_batch, Y_batch, lambd, keep_prob, masks=masks)
        J.backward()

        AL, caches = manual.L_model_forward(X_batch, arrays, keep_prob, masks)
        assert J.item() == pytest.approx(manual.compute_cost_with_regularization(AL, Y_batch, arrays, lambd),
                                         rel=1e-13)
        assert_gradients_match(params, manual.L_model_backward(Y_batch, caches, lambd, keep_prob))


def test_three_layer_manual_equals_general_manual(football):
    # The two hand-written references agree with each other, to the bit.
    X, Y = football
    arrays = manual.initialize_reference()
    masks = manual.reference_dropout_masks((20, 3), X.shape[1], KEEP_PROB)
    A3, cache = manual.forward_propagation(X, arrays, KEEP_PROB, masks)
    AL, caches = manual.L_model_forward(X, arrays, KEEP_PROB, masks)
    np.testing.assert_array_equal(A3, AL)
    three = manual.backward_propagation(X, Y, cache, 0.7, KEEP_PROB)
    general = manual.L_model_backward(Y, caches, 0.7, KEEP_PROB)
    for key in three:
        np.testing.assert_array_equal(three[key], general[key])


@pytest.mark.parametrize("config", CONFIGS)
def test_manual_reference_against_central_differences(config):
    # The reference is only worth comparing with if it is right: check it numerically
    # on a small net (fixed masks; float64; SEEDS.md section 6 threshold 1e-7).
    lambd, keep_prob = CONFIGS[config]
    rng = np.random.default_rng(2)
    layer_dims = [3, 5, 4, 1]
    X = rng.standard_normal((3, 7))
    Y = np.array([[1., 0., 1., 1., 0., 0., 1.]])
    masks = fixed_masks(layer_dims[1:-1], 7, keep_prob, seed=4)
    arrays = {k: p.data for k, p in ag.init.initialize(layer_dims, rng=rng).items()}
    # Non-zero biases: with zero ones, an example whose inputs to a layer are all
    # dropped gets Z exactly 0, on the ReLU kink, where differences are meaningless.
    arrays.update({k: rng.standard_normal(v.shape) * 0.1 for k, v in arrays.items() if k.startswith("b")})
    keys = list(arrays)

    def J(*tensors):
        return ag.Tensor(manual_cost(dict(zip(keys, (t.data for t in tensors))), X, Y, lambd, keep_prob, masks))

    numeric = ag.numerical_gradient(J, [arrays[k] for k in keys])
    _, caches = manual.L_model_forward(X, arrays, keep_prob, masks)
    grads = manual.L_model_backward(Y, caches, lambd, keep_prob)
    analytic = np.concatenate([grads["d" + k].ravel() for k in keys])
    numeric = np.concatenate([g.ravel() for g in numeric])
    difference = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    assert difference < 1e-7
