"""Review round 15 (adv69, a docs audit after round 15): what the docs promised and the code did not do.

1. models.three_layer.cost refuses a lambd that is not a finite number >= 0 (models.check_lambd, the rule
   deep.cost got in ff34a95) before its ``if lambd:``: None, False, [] and "" meant "no L2" silently, a
   2-element array was NumPy's bare "truth value ... is ambiguous". m comes from A3, so X may be a list.
2. three_layer.forward / three_layer.cost take None or a list or tuple of exactly two masks (D1 (20, m),
   D2 (3, m)); another count was a bare "not enough / too many values to unpack": now a ValueError
   naming the function, the count and the expected shapes (the helper deep used, now models.check_masks).
3. three_layer.train uses the arrays check_examples returns (a nested-list X with dropout crashed with
   "'list' object has no attribute 'shape'") and refuses a bad lambd (None trained without L2) or
   keep_prob ('a' was a bare TypeError from '<') by its own name before any work.
4. An optimizer refusing a .grad too wide for its parameter's dtype names the largest finite magnitude
   (a NaN beside the overflowing 1e300 made the message say "largest magnitude nan").
5. docs/api.md names the public names it left out (ag.is_anomaly_enabled, ag.GradcheckResult,
   ag.GradientComparison, ag.optim.Optimizer, ag.init.METHODS, ag.pytree.flatten / unflatten /
   leaf_names).
9. The advice for a Tensor passed by keyword to a positional parameter of a primitive without a rule
   for that input says it needs one in defvjp (following "pass it by position" alone ended in
   "not differentiable with respect to input 1").

References: the models' forward pass, cost and gradient descent written out in NumPy (the course's
formulas: legacy seed 3 for the weights, seed 1 for the masks), closed-form derivatives, and the
documented messages; never autograd_lite's own values.
"""
import pathlib
import re

import numpy as np
import pytest

import autograd_lite as ag
from models import three_layer

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _data(m=8, seed=0):
    rs = np.random.RandomState(seed)
    X = rs.randn(2, m)
    return X, (X[:1] + 0.3 * rs.randn(1, m) > 0).astype(float)


def _numpy_params(seed=0):
    """[2, 20, 3, 1] weights and small biases drawn with NumPy only."""
    rs = np.random.RandomState(seed)
    dims = [2, 20, 3, 1]
    params = {}
    for l in range(1, 4):
        params[f"W{l}"] = rs.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        params[f"b{l}"] = 0.1 * rs.randn(dims[l], 1)
    return params


def _tensors(arrays):
    return {k: ag.Tensor(v, requires_grad=True, name=k) for k, v in arrays.items()}


def _ref_forward(P, X, masks=None, keep_prob=1.0):
    """A3 and the activations [X, A1, A2] (after dropout), inverted dropout A * D / keep_prob."""
    A, As = X, [X]
    for l in (1, 2):
        A = np.maximum(P[f"W{l}"] @ A + P[f"b{l}"], 0)
        if masks is not None:
            A = A * masks[l - 1] / keep_prob
        As.append(A)
    return 1 / (1 + np.exp(-(P["W3"] @ A + P["b3"]))), As


def _ref_cost(P, X, Y, lambd=0.0):
    A3, _ = _ref_forward(P, X)
    cross_entropy = -np.mean(Y * np.log(A3) + (1 - Y) * np.log(1 - A3))
    return cross_entropy + lambd / (2 * X.shape[1]) * sum(np.sum(P[f"W{l}"] ** 2) for l in (1, 2, 3))


def _ref_train(X, Y, learning_rate, iterations, keep_prob):
    """The study's gradient descent: weights randn(n_l, n_prev) / sqrt(n_prev) after np.random.seed(3),
    zero biases; masks rand(20, m) < keep_prob then rand(3, m) < keep_prob after np.random.seed(1)."""
    dims, m = [2, 20, 3, 1], X.shape[1]
    np.random.seed(3)
    P = {}
    for l in range(1, 4):
        P[f"W{l}"] = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        P[f"b{l}"] = np.zeros((dims[l], 1))
    np.random.seed(1)
    masks = [np.random.rand(20, m) < keep_prob, np.random.rand(3, m) < keep_prob]
    for _ in range(iterations):
        A3, As = _ref_forward(P, X, masks, keep_prob)
        dZ, G = A3 - Y, {}
        for l in (3, 2, 1):
            G[f"W{l}"] = dZ @ As[l - 1].T / m
            G[f"b{l}"] = dZ.sum(axis=1, keepdims=True) / m
            if l > 1:
                dA = (P[f"W{l}"].T @ dZ) * masks[l - 2] / keep_prob
                dZ = dA * (As[l - 1] > 0)
        P = {k: v - learning_rate * G[k] for k, v in P.items()}
    return P


# --- 1. three_layer.cost's lambd -------------------------------------------------------------------------
@pytest.mark.parametrize("lambd", [None, False, [], "", np.array([1.0, 2.0]), -0.5, float("nan")],
                         ids=["None", "False", "empty list", "empty str", "2-array", "negative", "nan"])
def test_three_layer_cost_refuses_a_lambd_that_is_not_a_finite_number_at_least_0(lambd):
    X, Y = _data()
    P = _tensors(_numpy_params())
    message = f"three_layer.cost: lambd must be a finite number >= 0, got {lambd!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        three_layer.cost(P, X, Y, lambd=lambd)


@pytest.mark.parametrize("lambd", [0, 0.0, np.array(0.7), 7], ids=["int 0", "0.0", "0-d array", "int 7"])
def test_three_layer_cost_takes_every_finite_number_at_least_0_as_numpy(lambd):
    X, Y = _data()
    arrays = _numpy_params()
    J = three_layer.cost(_tensors(arrays), X, Y, lambd=lambd)
    assert J.item() == pytest.approx(_ref_cost(arrays, X, Y, float(lambd)), rel=1e-12)


def test_three_layer_cost_with_l2_on_nested_lists_equals_numpy():
    X, Y = _data()
    arrays = _numpy_params()
    J = three_layer.cost(_tensors(arrays), X.tolist(), Y.tolist(), lambd=0.7)
    assert J.item() == pytest.approx(_ref_cost(arrays, X, Y, 0.7), rel=1e-12)


# --- 2. the number of masks ----------------------------------------------------------------------------
def _masks(count, m=8, seed=1):
    rs = np.random.RandomState(seed)
    return [(rs.rand(n, m) < 0.5).astype(float) for n in (20, 3, 3)[:count]]


@pytest.mark.parametrize("masks, got", [(_masks(1), "has 1 entry"), (_masks(3), "has 3 entries"),
                                        ([], "has 0 entries"), ((m for m in _masks(2)), "is generator")],
                         ids=["1", "3", "0", "generator"])
@pytest.mark.parametrize("function", ["forward", "cost"])
def test_three_layer_refuses_a_mask_count_other_than_two_naming_the_expected_shapes(function, masks, got):
    X, Y = _data()
    arguments = (X, 0.5) if function == "forward" else (X, Y, 0.0, 0.5)  # (cost: lambd, then keep_prob)
    expected = (f"three_layer.{function}: masks {got}; expected a list of 2, one 0/1 array per hidden layer, "
                "of shapes [(20, m), (3, m)]")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        getattr(three_layer, function)(_tensors(_numpy_params()), *arguments, masks=masks)


@pytest.mark.parametrize("kind", [list, tuple], ids=["list", "tuple"])
def test_three_layer_forward_with_two_masks_matches_numpy(kind):
    X, _ = _data()
    arrays = _numpy_params()
    masks = _masks(2)
    A3 = three_layer.forward(_tensors(arrays), X, 0.5, masks=kind(masks))
    np.testing.assert_allclose(A3.data, _ref_forward(arrays, X, masks, 0.5)[0], rtol=1e-13)


# --- 3. three_layer.train ------------------------------------------------------------------------------
def test_three_layer_train_on_nested_lists_with_dropout_equals_numpy_gradient_descent():
    X, Y = _data()
    params, _ = three_layer.train(X.tolist(), Y.tolist(), learning_rate=0.3, num_iterations=3, keep_prob=0.5)
    expected = _ref_train(X, Y, 0.3, 3, 0.5)
    assert set(params) == set(expected)
    for key in expected:
        np.testing.assert_allclose(params[key].data, expected[key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lambd": None}, ValueError, "lambd must be a finite number >= 0, got None"),
    ({"lambd": -1, "num_iterations": 0}, ValueError, "lambd must be a finite number >= 0, got -1"),
    ({"lambd": np.array([0.1, 0.2])}, ValueError,
     "lambd must be a finite number >= 0, got array([0.1, 0.2])"),
    ({"keep_prob": "a"}, TypeError, "keep_prob is 'a'; expected a number in (0, 1]"),
    ({"keep_prob": 0}, ValueError, "keep_prob is 0; expected a number in (0, 1]"),
    ({"keep_prob": 1.5, "num_iterations": 0}, ValueError, "keep_prob is 1.5; expected a number in (0, 1]"),
], ids=["lambd None", "lambd<0, 0 iterations", "lambd 2-array", "keep_prob str", "keep_prob 0",
        "keep_prob 1.5, 0 iterations"])
def test_three_layer_train_refuses_bad_arguments_by_its_own_name_before_any_work(kwargs, error, message):
    X, Y = _data()
    rng = np.random.RandomState(2)
    before = rng.get_state()[1].copy()
    kwargs = {"num_iterations": 1, **kwargs}
    with pytest.raises(error, match=f"^{re.escape('three_layer.train: ' + message)}$"):
        three_layer.train(X, Y, init="he", rng=rng, **kwargs)
    np.testing.assert_array_equal(rng.get_state()[1], before)  # no weight drawn


# --- 4. the optimizer's too-wide .grad -------------------------------------------------------------------
def test_too_wide_grad_refusal_names_the_largest_finite_magnitude_beside_a_nan():
    p = ag.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = ag.optim.Adam([p], 0.1)
    p.grad = np.array([np.nan, 1e300, -1e301])
    with pytest.raises(ValueError, match=r"largest finite magnitude 1e\+301, float32 holds at most 3\.4"):
        opt.step()
    np.testing.assert_array_equal(p.data, np.zeros(3, np.float32))


# --- 5. docs/api.md ------------------------------------------------------------------------------------
def test_api_md_names_the_public_names_it_left_out():
    code = " ".join(re.findall(r"`([^`]*)`", (ROOT / "docs" / "api.md").read_text()))
    wanted = ["ag.is_anomaly_enabled", "ag.GradcheckResult", "ag.GradientComparison", "ag.optim.Optimizer",
              "ag.init.METHODS", "ag.pytree.flatten", "ag.pytree.unflatten", "ag.pytree.leaf_names"]
    missing = [name for name in wanted if not re.search(rf"{re.escape(name)}(?!\w)", code)]
    assert not missing, f"docs/api.md never names {missing}"


# --- 9. the keyword-Tensor advice ----------------------------------------------------------------------
def _scaled_cube():
    @ag.primitive
    def scaled_cube(x, factor=1.0):
        return x ** 3 * factor
    return scaled_cube.defvjp(lambda g, out, x, factor=1.0: g * 3 * x ** 2 * factor)  # a rule for x only


def test_keyword_tensor_advice_says_an_input_without_a_rule_needs_one_and_following_it_works():
    op = _scaled_cube()
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    factor = ag.Tensor(np.array(3.0), requires_grad=True)
    with pytest.raises(TypeError) as info:
        op(x, factor=factor)
    assert ("as input 1 of the op: scaled_cube(x, factor), with a rule for it in scaled_cube.defvjp"
            in str(info.value))
    op.defvjp(lambda g, out, x, factor: g * 3 * x ** 2 * factor,
              lambda g, out, x, factor: np.sum(g * x ** 3))  # the advice followed: a rule for factor
    ag.sum(op(x, factor)).backward()
    np.testing.assert_array_equal(x.grad, [9.0, 36.0])  # 3 x^2 factor
    assert factor.grad == 9.0  # sum of x^3


def test_pytree_unflatten_refuses_another_number_of_leaves():
    # (as jax.tree_util.tree_unflatten: the structure's own count, from flatten)
    leaves, treedef = ag.pytree.flatten({"a": np.ones(2), "b": [np.zeros(1), None, 3.0]})
    assert len(leaves) == 3
    for wrong in (leaves[:-1], leaves + [1.0]):
        with pytest.raises(ValueError, match=rf"pytree.unflatten: got {len(wrong)} leaves for a structure of 3"):
            ag.pytree.unflatten(treedef, wrong)
    assert ag.pytree.unflatten(treedef, [None, None, None]) == {"a": None, "b": [None, None, None]}
