"""Checking gradients (issue 13): compare_gradients against models.manual's hand-derived
backward pass (L2 and dropout) finds and names a planted error; testing.assert_gradients_close;
gradcheck on pytrees, fast mode, second order; issue 12's eps=0 and complex refusals."""
import numpy as np
import pytest

import autograd_lite as ag
from models import data, manual, three_layer

KEEP_PROB = 0.86


def _autodiff_and_manual(lambd, keep_prob):
    X, Y = data.load_football()[:2]
    params = ag.init.initialize(three_layer.LAYER_DIMS, method="he", rng=np.random.default_rng(5))
    rng = np.random.default_rng(11)
    masks = [rng.random((n, X.shape[1])) < keep_prob for n in three_layer.LAYER_DIMS[1:-1]] \
        if keep_prob < 1 else None
    arrays = {k: p.data.copy() for k, p in params.items()}
    grads = ag.grad(lambda p: three_layer.cost(p, X, Y, lambd, keep_prob, masks=masks))(arrays)
    _, cache = manual.forward_propagation(X, arrays, keep_prob, masks)
    hand = manual.backward_propagation(X, Y, cache, lambd, keep_prob)
    return grads, {k: hand["d" + k] for k in grads}


@pytest.mark.parametrize("lambd,keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, KEEP_PROB), (0.7, KEEP_PROB)],
                         ids=["plain", "L2", "dropout", "L2+dropout"])
def test_compare_gradients_passes_on_the_hand_derived_gradients(lambd, keep_prob):
    grads, hand = _autodiff_and_manual(lambd, keep_prob)
    report = ag.compare_gradients(grads, hand)
    assert report.passed and report.difference < 1e-10, str(report)
    assert [leaf.name for leaf in report.leaves] == list(grads)
    ag.testing.assert_gradients_close(grads, hand)


@pytest.mark.parametrize("planted", ["W2", "b3"])
def test_compare_gradients_finds_and_names_a_planted_2x_error(planted):
    grads, hand = _autodiff_and_manual(0.7, KEEP_PROB)
    wrong = dict(hand, **{planted: 2 * hand[planted]})
    report = ag.compare_gradients(grads, wrong)
    assert not report.passed
    assert report.worst.name == planted
    by_name = {leaf.name: leaf for leaf in report.leaves}
    assert by_name[planted].difference == pytest.approx(1 / 3, rel=1e-6)  # |g - 2g| / (|g| + |2g|)
    assert all(leaf.difference < 1e-10 for name, leaf in by_name.items() if name != planted)
    leaf = by_name[planted]
    assert leaf.expected == pytest.approx(2 * leaf.actual)
    assert leaf.worst_entry == tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grads[planted])),
                                                                       grads[planted].shape))
    text = str(report)
    assert f"worst leaf: '{planted}'" in text and "DIFFER" in text and "actual/expected = 0.5" in text
    with pytest.raises(AssertionError, match=f"worst leaf: '{planted}'"):
        ag.testing.assert_gradients_close(grads, wrong)


def test_compare_gradients_matches_d_prefixed_keys_and_refuses_mismatches():
    g = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    assert ag.compare_gradients(g, {"dW1": np.ones((2, 2)), "db1": np.zeros((2, 1))}).passed
    with pytest.raises(ValueError, match="keys differ.*only in expected \\['W2'\\]"):
        ag.compare_gradients({"W1": np.ones(2)}, {"W1": np.ones(2), "W2": np.ones(2)})
    with pytest.raises(ValueError, match="leaf 'W1' has shape \\(2,\\) in actual but \\(3,\\)"):
        ag.compare_gradients({"W1": np.ones(2)}, {"W1": np.ones(3)})
    single = ag.compare_gradients(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-3]))
    assert not single.passed and single.leaves[0].worst_entry == (1,)


def _net(params, X, Y):
    A1 = ag.relu(ag.linear(params["W1"], X, params["b1"]))
    A2 = ag.sigmoid(ag.linear(params["W2"], A1, params["b2"]))
    return ag.binary_cross_entropy(A2, Y) + ag.l2_penalty([params["W1"], params["W2"]], 0.1, X.shape[1])


def _net_data(n_in, hidden, m, seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(hidden, n_in)) / np.sqrt(n_in), "b1": rng.normal(size=(hidden, 1)) * 0.1,
              "W2": rng.normal(size=(1, hidden)) / np.sqrt(hidden), "b2": np.zeros((1, 1))}
    return params, rng.normal(size=(n_in, m)), (rng.random((1, m)) > 0.5).astype(float)


def test_gradcheck_takes_a_dict_of_parameters_and_names_its_keys():
    params, X, Y = _net_data(4, 5, 6)
    result = ag.gradcheck(lambda p: _net(p, X, Y), [params], eps=1e-6)
    assert result.passed and result.difference < 1e-7, str(result)
    assert [c.name for c in result.inputs] == ["W1", "b1", "W2", "b2"]
    assert "W1 (5, 4)" in str(result)
    numeric = ag.numerical_gradient(lambda p: _net(p, X, Y), [params], eps=1e-6)[0]
    assert ag.compare_gradients(ag.grad(lambda p: _net(p, X, Y))(params), numeric, threshold=1e-7).passed


def test_fast_gradcheck_passes_a_correct_net_and_fails_a_planted_wrong_vjp():
    params, X, Y = _net_data(30, 20, 16)
    result = ag.gradcheck(lambda p: _net(p, X, Y), [params], fast=True, rng=1)
    assert result.passed and result.threshold == 1e-5 and result.mode == "fast", str(result)
    assert "one random direction per input" in str(result)

    @ag.primitive
    def bad_relu(x):
        return np.maximum(x, 0.0)
    bad_relu.defvjp(lambda g, out, x: 2 * g * (x > 0))  # planted: twice the true derivative

    def wrong(p):
        A1 = bad_relu(ag.linear(p["W1"], X, p["b1"]))
        return ag.binary_cross_entropy(ag.sigmoid(ag.linear(p["W2"], A1, p["b2"])), Y)
    failed = ag.gradcheck(wrong, [params], fast=True, rng=1)
    assert not failed.passed, str(failed)
    names = {c.name: c for c in failed.inputs}
    assert names["W1"].difference > 0.1 and names["W2"].difference < 1e-5  # the error sits below W2


def test_fast_gradcheck_of_a_quarter_million_weights_is_correct_in_both_directions():
    # the size of the cat network's first layer; the timing is reported, not asserted
    params, X, Y = _net_data(12288, 20, 8)
    assert params["W1"].size == 245760
    assert ag.gradcheck(lambda p: _net(p, X, Y), [params], fast=True).passed


def test_gradgradcheck_checks_second_derivatives_and_catches_a_wrong_one():
    params, X, Y = _net_data(3, 4, 5)
    assert ag.gradgradcheck(lambda p: _net(p, X, Y), [params]).passed

    @ag.primitive
    def square_wrong_second(x):
        return x * x
    # right first derivative, but x is taken as a constant, so its own derivative is lost
    square_wrong_second.defvjp(lambda g, out, x: g * 2 * ag.Tensor(x.data if isinstance(x, ag.Tensor) else x))
    x = [np.array([0.5, 1.5])]
    assert ag.gradcheck(lambda x: ag.sum(square_wrong_second(x)), x).passed  # first order is right
    assert not ag.gradgradcheck(lambda x: ag.sum(square_wrong_second(x)), x).passed  # second order is not


# --- issue 12 -------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0, 0.0, -1e-7, float("nan"), float("inf")])
def test_gradcheck_refuses_a_step_that_is_not_positive(eps):
    # (lr_schedule._real's messages, the optimizers' rule: "must be > 0" or "must be a finite number")
    with pytest.raises(ValueError, match=r"^gradcheck: eps must be (> 0|a finite number), got"):
        ag.gradcheck(lambda x: ag.sum(x), [np.ones(2)], eps=eps)
    with pytest.raises(ValueError, match=r"^numerical_gradient: eps must be (> 0|a finite number), got"):
        ag.numerical_gradient(lambda x: ag.sum(x), [np.ones(2)], eps=eps)


def test_gradcheck_refuses_complex_input_instead_of_passing_silently():
    with pytest.raises(TypeError, match=r"gradcheck: input 'x0': complex data \(dtype complex128\)"):
        ag.gradcheck(lambda x: ag.sum(x), [np.array([1 + 2j, 3.0])])
    with pytest.raises(TypeError, match="input 'W': complex data"):
        ag.gradcheck(lambda p: ag.sum(p["W"]), [{"W": np.ones(2, complex)}])
