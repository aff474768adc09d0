"""adv107 #1 and #2: gradcheck's verdict where f's rounding hides the differences, and inputs of a
narrower float dtype than float64. Expected values come from NumPy formulas written here."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _bad_sin():
    @ag.primitive
    def bad_sin(x):
        return np.sin(x)
    bad_sin.defvjp(lambda g, out, x: -3 * g * np.cos(x))   # wrong: the derivative is cos(x)
    return bad_sin


X5 = np.random.default_rng(0).standard_normal(5)


def _central(values, x, eps):
    """Central differences of the NumPy function ``values`` at x, entry by entry (float64)."""
    out = np.zeros_like(x)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        out[i] = (values(plus) - values(minus)) / (2 * eps)
    return out


# --- #2: a gradient the differences cannot resolve is not certified --------------------------------
def test_the_repro_with_a_constant_1e9_no_longer_passes_and_says_why():
    bad_sin = _bad_sin()
    r = ag.gradcheck(lambda x: 1e9 + bad_sin(x).sum(), [X5])
    assert not r.passed, str(r)
    # .difference stays the course's formula over 2 eps, computed here by hand
    g, numeric = -3 * np.cos(X5), _central(lambda x: 1e9 + np.sin(x).sum(), X5, 1e-7)
    expected = np.linalg.norm(g - numeric) / (np.linalg.norm(g) + np.linalg.norm(numeric))
    assert r.difference == pytest.approx(expected, rel=1e-12)
    text = str(r)
    assert "could not be measured" in text and "input 0 x0" in text
    assert "larger eps" in text and "subtract" in text


def test_the_pytree_repro_whose_pooled_difference_is_over_the_threshold_fails_naming_b():
    bad_sin = _bad_sin()
    rng = np.random.default_rng(2)
    p = {"W": rng.standard_normal((30, 30)), "b": rng.standard_normal(3)}
    r = ag.gradcheck(lambda p: 1e6 * (p["W"] ** 2).sum() + bad_sin(p["b"]).sum(), [p])
    assert not r.passed, str(r)
    unmeasured = [line for line in str(r).splitlines() if "could not be measured" in line]
    assert unmeasured and all(" b" in line and " W" not in line for line in unmeasured), str(r)


@pytest.mark.parametrize("offset", [1e8, 1e9])
def test_fast_mode_does_not_pass_the_repro_either(offset):
    bad_sin = _bad_sin()
    r = ag.gradcheck(lambda x: offset + bad_sin(x).sum(), [X5], fast=True)
    assert not r.passed, str(r)  # (as unmeasured, or as counted: which depends on the direction drawn)
    assert "could not be measured" in str(r) or "  FAIL" in str(r), str(r)


@pytest.mark.parametrize("fast", [False, True])
def test_differences_that_are_all_exactly_zero_certify_nothing(fast):
    # ulp(1e12) is 1.2e-4, far above sin's change over 2e-7: f(x + eps) == f(x - eps) everywhere
    assert np.all(_central(lambda x: 1e12 + np.sin(x).sum(), X5, 1e-7) == 0)
    r = ag.gradcheck(lambda x: 1e12 + ag.sin(x).sum(), [X5], fast=fast)   # a correct gradient
    assert not r.passed, str(r)
    assert "could not be measured" in str(r)


@pytest.mark.parametrize("fast", [False, True])
def test_what_the_report_advises_works(fast):
    bad_sin = _bad_sin()
    # subtracting the constant: the same functions are measured, the right one passes, the wrong fails
    assert ag.gradcheck(lambda x: ag.sin(x).sum(), [X5], fast=fast).passed
    assert not ag.gradcheck(lambda x: bad_sin(x).sum(), [X5], fast=fast).passed
    # a larger eps: f's rounding (~1e-7) over 2e-4 is ~1e-3, well below |cos x| ~ 1
    right = ag.gradcheck(lambda x: 1e9 + ag.sin(x).sum(), [X5], eps=1e-4, fast=fast, threshold=1e-3)
    assert right.passed, str(right)
    wrong = ag.gradcheck(lambda x: 1e9 + bad_sin(x).sum(), [X5], eps=1e-4, fast=fast, threshold=1e-3)
    assert not wrong.passed and "could not be measured" not in str(wrong), str(wrong)


def test_a_zero_bias_gradient_next_to_large_weights_still_passes():
    # softmax ignores a shift of every logit: d cost / d b is exactly 0 (autodiff gives a ~1e-17
    # residue, the differences rounding noise); that leaf is a zero gradient, not an unmeasured one
    rng = np.random.default_rng(0)
    W, x, labels = rng.standard_normal((3, 4)), rng.standard_normal((4, 6)), rng.integers(0, 3, 6)
    r = ag.gradcheck(lambda W, b: ag.cross_entropy(W @ x + b, labels), [W, np.full((3, 1), 0.5)])
    assert r.passed, str(r)
    assert "could not be measured" not in str(r)


def test_gradgradcheck_does_not_pass_second_derivatives_its_differences_cannot_see():
    @ag.primitive
    def bent_sin(x):
        return np.sin(x)
    # the VJP's value is cos(x), but its own derivative is -sin(x) + 3 cos(x), not -sin(x)
    bent_sin.defvjp(lambda g, out, x: g * (ag.cos(x) + 3 * ag.sin(x) - 3 * np.sin(getattr(x, "data", x))))
    assert not ag.gradgradcheck(lambda x: bent_sin(x).sum(), [X5]).passed
    # a gradient of 1e10 rounds to 2e-6, far above its change over 2 eps = 2e-6 times |sin| <= 1
    r = ag.gradgradcheck(lambda x: 1e10 * x.sum() + bent_sin(x).sum(), [X5])
    assert not r.passed and "could not be measured" in str(r), str(r)


# --- #1: inputs narrower than float64 -------------------------------------------------------------
def _overflowing_sigmoid():
    @ag.primitive
    def my_sigmoid(z):
        return 1 / (1 + np.exp(-z))
    # right in float64; exp(100) overflows float32, so at z = -100 inf / inf = nan
    my_sigmoid.defvjp(lambda g, out, z: g * np.exp(-z) / (1 + np.exp(-z)) ** 2)
    return my_sigmoid


Z32 = np.array([-100., -3., 0.5, 2.], dtype=np.float32)


@pytest.mark.parametrize("fast", [False, True])
def test_a_gradient_that_is_nan_only_in_float32_fails_and_warns(fast):
    my_sigmoid = _overflowing_sigmoid()
    with np.errstate(over="ignore", invalid="ignore"):
        own = np.exp(-Z32) / (1 + np.exp(-Z32)) ** 2      # the VJP's own formula in float32
    assert np.isnan(own[0])
    with pytest.warns(UserWarning) as caught, np.errstate(over="ignore", invalid="ignore"):
        r = ag.gradcheck(lambda z: my_sigmoid(z).sum(), [Z32], fast=fast)
    ours = [w for w in caught if "float64 copies" in str(w.message)]
    assert len(ours) == 1 and "x0" in str(ours[0].message) and "float32" in str(ours[0].message)
    assert not r.passed, str(r)
    text = str(r)
    assert "input 0 x0" in text and "own dtype float32" in text


@pytest.mark.parametrize("fast", [False, True])
def test_a_correct_float32_gradient_passes_with_the_warning(fast):
    @ag.primitive
    def good_sigmoid(z):
        return 1 / (1 + np.exp(-z))
    good_sigmoid.defvjp(lambda g, out, z: g * out * (1 - out))   # finite in float32 everywhere
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-Z32))
    assert np.all(np.isfinite(s * (1 - s)))
    with pytest.warns(UserWarning, match="float64 copies"), np.errstate(over="ignore"):
        r = ag.gradcheck(lambda z: good_sigmoid(z).sum(), [Z32], fast=fast)
    assert r.passed, str(r)


def test_a_vjp_that_branches_on_float32_fails_only_in_float32():
    @ag.primitive
    def branchy(x):
        return np.sin(x)
    branchy.defvjp(lambda g, out, x: g * np.cos(x) * (2 if x.dtype == np.float32 else 1))
    x64 = np.array([0.3, -1.2, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a float64 input is checked as given: no warning
        assert ag.gradcheck(lambda x: branchy(x).sum(), [x64]).passed
    with pytest.warns(UserWarning, match="float64 copies"):
        r = ag.gradcheck(lambda x: branchy(x).sum(), [x64.astype(np.float32)])
    assert not r.passed and "own dtype float32" in str(r), str(r)


def test_the_warning_names_each_narrow_leaf_once_and_not_the_float64_ones():
    params = {"W": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float16), "c": np.ones(2)}
    with pytest.warns(UserWarning) as caught:
        r = ag.gradcheck(lambda p: (p["W"] ** 2).sum() + (p["b"] * 3).sum() + (p["c"] ** 3).sum(), [params])
    ours = [str(w.message) for w in caught if "float64 copies" in str(w.message)]
    assert len(ours) == 1
    assert "'W' (float32)" in ours[0] and "'b' (float16)" in ours[0] and "'c'" not in ours[0]
    assert r.passed, str(r)   # 2 W, 3 and 3 c ** 2: exact in every dtype


def test_integer_inputs_are_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ag.gradcheck(lambda x: (x * x).sum(), [np.array([1, 2, 3])]).passed


# --- round 19b (adv111): correct gradients learners check must pass --------------------------------------
def _seeds_difference(f_numpy, params, grads, eps=1e-7):
    """docs/math.md's difference, by hand: central differences of ``f_numpy`` over every entry."""
    approx, exact = [], []
    for key, value in params.items():
        for i in np.ndindex(value.shape):
            up, down = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
            up[key][i] += eps
            down[key][i] -= eps
            approx.append((f_numpy(up) - f_numpy(down)) / (2 * eps))
            exact.append(grads[key][i])
    approx, exact = np.array(approx), np.array(exact)
    return np.linalg.norm(exact - approx) / (np.linalg.norm(exact) + np.linalg.norm(approx))


def _deep_net(activation):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 50)), (rng.random((1, 50)) > 0.5).astype(float)
    dims, params = [4, 5, 5, 5, 1], {}
    for l in range(1, 5):  # the course's 0.01 init: the first layers' gradients vanish (about 1e-8)
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * 0.01
        params[f"b{l}"] = np.zeros((dims[l], 1))

    def f(p):
        A = X
        for l in range(1, 4):
            A = activation(p[f"W{l}"] @ A + p[f"b{l}"])
        return ag.binary_cross_entropy(ag.sigmoid(p["W4"] @ A + p["b4"]), Y)
    return f, params, X, Y


def test_deep_sigmoid_net_with_vanishing_gradients_passes_as_its_seeds_difference_does():
    f, params, X, Y = _deep_net(ag.sigmoid)

    def f_numpy(p):
        A = X
        for l in range(1, 5):
            A = 1 / (1 + np.exp(-(p[f"W{l}"] @ A + p[f"b{l}"])))
        return -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert _seeds_difference(f_numpy, params, ag.grad(f)(params)) < 1e-7  # correct by the course's rule
    assert ag.gradcheck(f, [params]).passed
    assert all(ag.gradcheck(f, [params], fast=True, rng=seed).passed for seed in range(4))


def test_fast_mode_passes_a_correct_tanh_net_for_every_seed():
    f, params, _, _ = _deep_net(ag.tanh)
    assert ag.gradcheck(f, [params]).passed
    assert all(ag.gradcheck(f, [params], fast=True, rng=seed).passed for seed in range(30))


def _logistic_after_training(dtype, steps):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 1000))
    Y = (rng.random((1, 1000)) < 1 / (1 + np.exp(-(X[0] - 2 * X[1])))).astype(float)
    X, Y = X.astype(dtype), Y.astype(dtype)
    f = lambda p: ag.binary_cross_entropy(ag.sigmoid(p["W"] @ X + p["b"]), Y)
    params = {"W": np.zeros((1, 3), dtype), "b": np.zeros((1, 1), dtype)}
    for _ in range(steps):  # plain gradient descent: the bias's gradient is a sum cancelling to ~1e-9
        g = ag.grad(f)(params)
        params = {k: (params[k] - g[k]).astype(dtype) for k in params}
    return f, params


def test_trained_float64_logistic_regression_with_a_tiny_bias_gradient_passes():
    f, params = _logistic_after_training(np.float64, 200)
    assert abs(ag.grad(f)(params)["b"].item()) < 1e-7
    assert ag.gradcheck(f, [params]).passed


def test_trained_float32_model_whose_bias_gradient_cancels_passes_the_own_dtype_check():
    f, params = _logistic_after_training(np.float32, 100)
    with pytest.warns(UserWarning, match="float64 copies"):
        r = ag.gradcheck(f, [params])
    assert r.passed, str(r)
    assert all(not c.failed for c in r.own_dtype)
