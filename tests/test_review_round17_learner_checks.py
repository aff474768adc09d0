"""Round 17 (adv87, a learner checking their own backprop): compare_gradients in float32, the
report's worst leaf, and gradcheck near a minimum.

The truth is built here: a one-hidden-layer net's backprop derived by hand in float64 (right, and
with planted bugs), logistic regression's gradient (a - y) x / m, primitives whose VJP is wrong by
a known factor; PyTorch only as the optional oracle of tests/oracles.py. Nothing here takes
autograd_lite's own gradient as the truth.
"""
import numpy as np
import pytest

import autograd_lite as ag
from tests.oracles import torch


# --- finding 1: float32 compare_gradients checks a small leaf that is no rounding residue ---------------
def _net(seed=0, feature_scale=1e6, m=50):
    """A learner's 1-hidden-layer net on features scaled by ``feature_scale`` (1e6: not normalized)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, m)) * feature_scale
    Y = (rng.random((1, m)) < 0.5).astype(float)
    params = {"W1": rng.standard_normal((4, 2)) / np.sqrt(2), "b1": 0.1 * rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((1, 4)) / 2, "b2": 0.1 * rng.standard_normal((1, 1))}
    return X, Y, params


def _backprop(X, Y, params, dtype):
    """The hand-derived gradients of the mean cross-entropy of sigmoid(W2 relu(W1 X + b1) + b2)."""
    X_, Y_ = X.astype(dtype), Y.astype(dtype)
    w1, c1, w2, c2 = (params[k].astype(dtype) for k in ("W1", "b1", "W2", "b2"))
    m = X.shape[1]
    Z1 = w1 @ X_ + c1
    A1 = np.maximum(0, Z1)
    with np.errstate(over="ignore"):  # (saturated outputs: exp(-z) overflows to inf, A2 to 0)
        A2 = 1 / (1 + np.exp(-(w2 @ A1 + c2)))
    dZ2 = A2 - Y_
    dZ1 = (w2.T @ dZ2) * (Z1 > 0)
    return {"dW1": dZ1 @ X_.T / m, "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": np.sum(dZ2, axis=1, keepdims=True) / m}


BUGS = {"doubled": lambda g: 2 * g, "sign flipped": lambda g: -g, "replaced by zeros": np.zeros_like}


def test_float32_gradients_of_unscaled_features_pass_and_db1_is_accurate_in_float32():
    X, Y, params = _net()
    truth, g32 = _backprop(X, Y, params, np.float64), _backprop(X, Y, params, np.float32)
    assert np.abs(g32["db1"] - truth["db1"]).max() < 1e-6 * np.abs(truth["db1"]).max()  # no residue
    assert ag.compare_gradients(g32, truth).passed
    assert ag.compare_gradients(g32, {k: v.astype(np.float32) for k, v in truth.items()}).passed


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_float32_compare_gradients_fails_a_wrong_db1_against_a_float64_reference(bug):
    # db1 ~0.25 next to dW1 ~1e5: ~4 float32 units of the pooled norm, but the float64 side shows a
    # real gradient (1e5 times float64's zero level), which float32 computed to 1e-7 of itself
    X, Y, params = _net()
    truth, g32 = _backprop(X, Y, params, np.float64), _backprop(X, Y, params, np.float32)
    wrong = dict(g32, db1=BUGS[bug](g32["db1"]))
    c = ag.compare_gradients(wrong, truth)
    assert not c.passed, str(c)
    assert c.worst.name == "db1"
    assert [leaf.name for leaf in c.leaves if leaf.error > leaf.bound and leaf.difference >= c.threshold] == ["db1"]
    assert "'db1'" in str(c).splitlines()[0] and "worst leaf: 'db1'" in str(c)


def test_float32_compare_gradients_fails_a_doubled_db1_against_float32_gradients():
    # no float64 side: the doubled db1 (~12 float32 units of the pooled norm) is above float32's
    # zero level (8 units), so it is checked at its own scale (a value within 8 units on both sides
    # cannot be told from a residue in float32 alone: docs/api.md)
    X, Y, params = _net()
    truth32 = {k: v.astype(np.float32) for k, v in _backprop(X, Y, params, np.float64).items()}
    g32 = _backprop(X, Y, params, np.float32)
    c = ag.compare_gradients(dict(g32, db1=2 * g32["db1"]), truth32)
    assert not c.passed, str(c)
    assert c.worst.name == "db1"


def test_float32_arrays_a_bias_gradient_of_0_25_doubled_next_to_1e5_fails():
    # exact float32 values: ||a - e|| = 0.25 is 1.5e7 units of the leaf's own rounding
    dW = np.array([[1e5, -1e5, 1e5, 1e5]], dtype=np.float32)
    truth = {"W1": dW.copy(), "b1": np.array([[0.25]], dtype=np.float32)}
    c = ag.compare_gradients({"dW1": dW, "db1": np.array([[0.5]], dtype=np.float32)}, truth)
    assert not c.passed, str(c)
    assert c.leaves[1].error == 0.25 and c.leaves[1].bound < 1e-6
    assert ag.compare_gradients({"dW1": dW, "db1": np.array([[0.25]], dtype=np.float32)}, truth).passed


def test_float32_zero_bias_gradient_made_of_rounding_still_passes():
    # mirrored examples with swapped labels: d cost / d b is 0 in exact math; float32 computes a
    # residue of its sums (a few float32 units of the pooled norm), float64 one near 1e-17
    for seed in range(3):
        rng = np.random.default_rng(seed)
        half = rng.standard_normal((3, 200))
        labels = (rng.random((1, 200)) < 0.5).astype(float)
        X, Y = np.concatenate([half, -half], 1) * 0.1, np.concatenate([labels, 1 - labels], 1)
        W, b = rng.standard_normal((1, 3)), np.zeros((1, 1))
        grads = {}
        for dtype in (np.float32, np.float64):
            Xd, Yd, Wd, bd = (a.astype(dtype) for a in (X, Y, W, b))
            dZ = 1 / (1 + np.exp(-(Wd @ Xd + bd))) - Yd
            grads[dtype] = {"W": dZ @ Xd.T / 400, "b": np.sum(dZ, axis=1, keepdims=True) / 400}
        assert abs(grads[np.float64]["b"].item()) < 1e-15
        c = ag.compare_gradients(grads[np.float32], grads[np.float64])
        assert c.passed, str(c)


def test_float32_doubled_db1_fails_like_torch_testing_assert_close():
    X, Y, params = _net()
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Z2 = t["W2"] @ torch.relu(t["W1"] @ torch.tensor(X) + t["b1"]) + t["b2"]
    torch.nn.functional.binary_cross_entropy_with_logits(Z2, torch.tensor(Y)).backward()
    truth = {k: v.grad.numpy() for k, v in t.items()}
    g32 = _backprop(X, Y, params, np.float32)
    assert ag.compare_gradients(g32, truth).passed
    wrong = 2 * g32["db1"]
    with pytest.raises(AssertionError):
        torch.testing.assert_close(torch.tensor(wrong).double(), torch.tensor(truth["b1"]))
    assert not ag.compare_gradients(dict(g32, db1=wrong), truth).passed


# --- finding 2: the worst leaf is the one that fails --------------------------------------------------
def test_worst_leaf_is_the_failing_leaf_not_a_zero_gradient_residue():
    # outputs saturate (unscaled features), so db2 is 0 up to rounding; dW1 lacks its 1/m
    X, Y, params = _net()
    truth = _backprop(X, Y, params, np.float64)
    hand = dict(truth, dW1=truth["dW1"] * X.shape[1], db2=np.zeros((1, 1)))
    residue = dict(truth, db2=np.full((1, 1), 2e-17))
    c = ag.compare_gradients(hand, residue)
    assert not c.passed
    assert c.leaves[3].difference == 1.0 and "not counted" in str(c).splitlines()[4]
    assert c.worst.name == "dW1"
    assert str(c).splitlines()[-1].startswith("worst leaf: 'dW1'")
    assert [line.split()[0] for line in str(c).splitlines() if "<- worst" in line] == ["dW1"]


def test_a_passing_report_points_to_a_counted_leaf_not_to_a_residue():
    dW = np.random.default_rng(0).standard_normal((3, 2)) * 1e3
    c = ag.compare_gradients({"W": dW * (1 + 1e-12), "b": np.full((2, 1), 1e-14)}, {"W": dW, "b": np.zeros((2, 1))})
    assert c.passed and c.leaves[1].difference == 1.0
    assert c.worst.name == "W"


def test_worst_leaf_is_the_leaf_holding_nan_not_one_that_matches_exactly():
    autodiff = {"W1": np.array([[0.1, -0.2], [0.3, 0.4]]), "b1": np.array([[0.05], [-0.02]])}
    hand = {"dW1": autodiff["W1"].copy(), "db1": np.array([[np.nan], [-0.02]])}  # a learner's 0/0
    c = ag.compare_gradients(hand, autodiff)
    assert not c.passed
    assert c.worst.name == "db1"
    assert "worst leaf: 'db1'" in str(c)
    assert [line.split()[0] for line in str(c).splitlines() if "<- worst" in line] == ["db1"]


def test_gradcheck_marks_the_input_with_a_nan_gradient_as_worst():
    @ag.primitive
    def f(w, b):
        return np.sum(w ** 2) + np.sum(b ** 2)
    f.defvjp(lambda g, out, w, b: g * 2 * w, lambda g, out, w, b: g * np.full(b.shape, np.nan))
    r = ag.gradcheck(f, [np.ones((2, 2)), np.ones((2, 1))])
    assert not r.passed
    worst = [line for line in str(r).splitlines() if "<- worst" in line]
    assert len(worst) == 1 and worst[0].startswith("  input 1 x1"), str(r)


# --- finding 3: every leaf within its noise bound passes, and the report says so ------------------------
def _logistic_near_its_minimum(shift):
    """X, Y and (w, b) ``shift`` from the minimum of the mean cross-entropy (Newton's method)."""
    rng = np.random.default_rng(0)
    m = 200
    X = rng.standard_normal((3, m))
    Y = (rng.random((1, m)) < 1 / (1 + np.exp(-(X[0:1] - X[1:2])))).astype(float)
    Xa = np.vstack([X, np.ones((1, m))])
    v = np.zeros(4)
    for _ in range(50):
        a = 1 / (1 + np.exp(-(v @ Xa)))
        H = (Xa * (a * (1 - a))) @ Xa.T / m
        v = v - np.linalg.solve(H, Xa @ (a - Y[0]) / m)
    return X, Y, (v[:3] + shift).reshape(1, 3), np.array([[v[3]]])


def _cost(X, Y):
    return lambda w, b: ag.binary_cross_entropy(ag.sigmoid(w @ X + b), Y)


@pytest.mark.parametrize("shift", [1e-2, 1e-4, 1e-6])
def test_gradcheck_passes_a_correct_gradient_near_the_minimum(shift):
    X, Y, w, b = _logistic_near_its_minimum(shift)
    a = 1 / (1 + np.exp(-(w @ X + b)))
    exact = [(a - Y) @ X.T / X.shape[1], np.mean(a - Y, keepdims=True)]  # the math
    for g, e in zip(ag.grad(_cost(X, Y), (0, 1))(w, b), exact):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-16)
    for fast in (False, True):
        r = ag.gradcheck(_cost(X, Y), [w, b], fast=fast)
        assert r.passed, str(r)
        assert "FAIL" not in str(r)
        if r.difference >= r.threshold:  # the pooled difference is noise: the headline says so
            assert "not counted" in str(r).splitlines()[0]


def test_gradcheck_all_leaves_within_their_noise_passes_and_the_headline_says_why():
    X, Y, w, b = _logistic_near_its_minimum(1e-6)
    r = ag.gradcheck(_cost(X, Y), [w, b])
    assert r.difference > 1e-4 and all(c.error <= c.bound for c in r.inputs)
    assert r.passed
    head = str(r).splitlines()[0]
    assert head.startswith("gradcheck passed") and "not counted: ||autodiff - numerical||" in head


def _bce_with_vjp_factor(factor):
    """Mean binary cross-entropy of logits z against Y, its VJP scaled by ``factor`` (true: 1)."""
    def make(Y):
        @ag.primitive
        def bce(z):
            return np.mean(np.logaddexp(0, z) - Y * z)
        bce.defvjp(lambda g, out, z: g * factor * (1 / (1 + np.exp(-z)) - Y) / z.size)
        return bce
    return make


@pytest.mark.parametrize("shift", [1e-2, 1e-4])
def test_gradcheck_still_fails_a_wrong_gradient_near_the_minimum(shift):
    X, Y, w, b = _logistic_near_its_minimum(shift)
    wrong, right = _bce_with_vjp_factor(2.0)(Y), _bce_with_vjp_factor(1.0)(Y)
    assert not ag.gradcheck(lambda w, b: wrong(w @ X + b), [w, b]).passed
    assert ag.gradcheck(lambda w, b: right(w @ X + b), [w, b]).passed


def test_a_pooled_difference_over_the_threshold_with_a_leaf_beyond_its_noise_still_fails():
    # y's gradient is doubled: a leaf beyond its noise bound keeps the verdict FAILED whatever the pooled
    @ag.primitive
    def badsum(y):
        return np.sum(y)
    badsum.defvjp(lambda g, out, y: 2 * g * np.ones_like(y))
    r = ag.gradcheck(lambda x, y: ag.sum(x ** 2) + badsum(y), [np.array([0.3, -0.4]), np.ones(2)])
    assert not r.passed and r.inputs[1].error > r.inputs[1].bound
    assert "not counted" not in str(r).splitlines()[0]
