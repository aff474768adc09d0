"""Round 15 (adv66): numerical accuracy at the edges.

- power: d/dx x ** 0 is 0 at a subnormal x too (it was 0 * inf = NaN), while the mixed second
  derivative at the smallest normal x is still 1 / x; d/dp is -inf at x = 0, p < 0 (it was NaN)
  and NaN at a NaN base (it was 0), as PyTorch's;
- var and std of float32 are computed in float64 and rounded once: NumPy's float32 sum of squares
  overflowed where the answer fits (std of [1e20, 1e20, 0] was inf with a gradient of 0);
  float64 is NumPy's, bit for bit;
- expm1's derivative is exp(x) (out + 1 was 0 below x = -37.4); sigmoid's, tanh's and
  binary_cross_entropy_with_logits' gradients keep PyTorch's formulas, within a few ulps of 1 of
  the closed forms, as their docstrings now say;
- binary_cross_entropy(sigmoid(z), y) keeps the course's log(1 - a) for a well-classified
  example, and its docstring says so, pointing to binary_cross_entropy_with_logits, which is exact;
- gradcheck names the entries where the one-sided slopes disagree (|x| at 0, sqrt(|x|) at 0, ties
  in max) in result.kinks and a caution in its report, without changing the verdict; smooth
  functions, curved ones and minima included, are never flagged.

Every expected value comes from torch, mpmath, NumPy or a closed form, never from autograd_lite.
"""
import math
import warnings

import mpmath
import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch


@pytest.fixture(autouse=True)
def _quiet():
    """The edges below divide by 0 and overflow on purpose (NumPy warns; the values are checked)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _torch_grad(f, *arrays):
    """PyTorch's gradients of sum(f(*tensors)) at ``arrays`` (NumPy arrays out)."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    f(*tensors).sum().backward()
    return [t.grad.numpy() for t in tensors]


# 1. power's d/dx where p = 0 ------------------------------------------------------------------
SUBNORMALS = [(np.float32, 1e-40), (np.float32, 1e-45), (np.float64, 1e-310)]


@pytest.mark.parametrize("dtype,tiny", SUBNORMALS)
def test_power_zero_exponent_base_gradient_is_torchs_zero_at_a_subnormal_base(dtype, tiny):
    xa = np.array([tiny, -tiny, 1.0], dtype)
    x = ag.Tensor(xa, requires_grad=True)
    ag.sum(x ** 0.0).backward()
    np.testing.assert_array_equal(x.grad, _torch_grad(lambda t: t ** 0.0, xa)[0])


@pytest.mark.parametrize("dtype,tiny", SUBNORMALS)
def test_power_zero_tensor_exponent_base_gradient_is_torchs_zero_at_a_subnormal_base(dtype, tiny):
    xa, pa = np.array([tiny, -tiny, 1.0], dtype), np.zeros(3, dtype)
    x = ag.Tensor(xa, requires_grad=True)
    ag.sum(ag.power(x, ag.Tensor(pa, requires_grad=True))).backward()
    np.testing.assert_array_equal(x.grad, _torch_grad(torch.pow, xa, pa)[0])


@pytest.mark.parametrize("dtype,tiny", SUBNORMALS)
def test_power_zero_exponent_tangent_is_zero_at_a_subnormal_base(dtype, tiny):
    # x ** 0 is the constant 1: its tangent is 0 whatever the direction
    _, tangent = ag.jvp(lambda v: ag.sum(v ** 0.0), (np.array([tiny, -tiny], dtype),), (np.ones(2, dtype),))
    assert tangent == 0


def test_power_mixed_second_derivative_at_a_tiny_normal_base_is_still_one_over_x():
    # d/dp (p x ** (p - 1)) at p = 0 is 1 / x (closed form): the shift is for subnormals only
    x0 = 1e-300
    hessian = ag.hessian(lambda x, p: ag.sum(ag.power(x, p)), (0, 1))(np.array([x0]), np.array([0.0]))
    assert float(np.asarray(hessian[0][1]).ravel()[0]) == pytest.approx(1 / x0, rel=1e-15)


# 2. power's d/dp -----------------------------------------------------------------------------
def test_power_exponent_gradient_at_zero_base_negative_exponent_is_torchs_minus_inf():
    xa, pa = np.zeros(2), np.array([-1.0, -0.5])
    p = ag.Tensor(pa, requires_grad=True)
    ag.sum(ag.power(ag.Tensor(xa, requires_grad=True), p)).backward()
    np.testing.assert_array_equal(p.grad, _torch_grad(torch.pow, xa, pa)[1])


def test_power_exponent_gradient_at_zero_base_nonnegative_exponent_is_torchs_zero():
    xa, pa = np.zeros(3), np.array([0.0, 0.5, 2.0])
    p = ag.Tensor(pa, requires_grad=True)
    ag.sum(ag.power(ag.Tensor(xa, requires_grad=True), p)).backward()
    np.testing.assert_array_equal(p.grad, _torch_grad(torch.pow, xa, pa)[1])


def test_power_exponent_gradient_at_nan_base_is_torchs_nan():
    xa, pa = np.array([np.nan, np.nan]), np.array([0.0, 2.0])
    p = ag.Tensor(pa, requires_grad=True)
    ag.sum(ag.power(ag.Tensor(xa, requires_grad=True), p)).backward()
    np.testing.assert_array_equal(p.grad, _torch_grad(torch.pow, xa, pa)[1])  # (NaN equals NaN here)


def test_power_exponent_gradient_at_zero_base_keeps_float32():
    p = ag.Tensor(np.float32([-1.0]), requires_grad=True)
    ag.sum(ag.power(np.float32([0.0]), p)).backward()
    assert p.grad.dtype == np.float32 and p.grad[0] == -np.inf


# 3. var and std of float32 -------------------------------------------------------------------
LARGE = np.array([1e20, 1e20, 0.0], np.float32)


def test_float32_std_of_large_values_is_torchs_finite_value():
    np.testing.assert_array_equal(ag.std(LARGE).data, torch.tensor(LARGE).std(unbiased=False).numpy())


def test_float32_std_of_large_values_has_torchs_gradient():
    x = ag.Tensor(LARGE, requires_grad=True)
    ag.std(x).backward()
    np.testing.assert_allclose(x.grad, _torch_grad(lambda t: t.std(unbiased=False), LARGE)[0], rtol=1e-6)


def test_float32_var_sum_of_squares_does_not_overflow():
    xa = np.tile(np.array([2e18, -2e18], np.float32), 50)  # var 4e36 fits; N sigma**2 does not
    reference = np.float32(torch.tensor(xa, dtype=torch.float64).var(unbiased=False).item())
    assert ag.var(xa).item() == reference


def test_float32_var_is_rounded_once_from_the_true_value():
    # a large mean: NumPy's float32 var is ~37 ulps off; rounded once it is within half an ulp
    xa = (np.float32(1e4) + np.arange(1000, dtype=np.float32) * np.float32(1e-3)).astype(np.float32)
    mpmath.mp.prec = 120
    values = [mpmath.mpf(float(v)) for v in xa]
    mean = mpmath.fsum(values) / len(values)
    true = float(mpmath.fsum((v - mean) ** 2 for v in values) / len(values))
    got = ag.var(xa)
    assert got.dtype == np.float32
    assert abs(float(got.item()) - true) <= 2.0 ** -24 * true


def test_float32_std_along_an_axis_keeps_shape_and_dtype():
    xa = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    got = ag.std(xa, axis=1, keepdims=True, ddof=1)
    reference = torch.tensor(xa, dtype=torch.float64).std(dim=1, keepdim=True, unbiased=True).numpy()
    assert got.shape == (3, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got.data, reference, rtol=2.0 ** -24)


def test_float64_var_and_std_are_numpys_bit_for_bit():
    xa = np.random.default_rng(1).normal(size=(5, 7)) * 1e3 + 1e6
    np.testing.assert_array_equal(ag.var(xa, axis=0).data, np.var(xa, axis=0))
    np.testing.assert_array_equal(ag.std(xa, ddof=1).data, np.std(xa, ddof=1))


# 4. saturated gradients ----------------------------------------------------------------------
@pytest.mark.parametrize("x0", [-40.0, -37.5, -30.0, -1e-8, 3.0, 700.0])
def test_expm1_gradient_is_exp(x0):
    x = ag.Tensor(np.array(x0), requires_grad=True)
    ag.expm1(x).backward()
    assert float(x.grad) == pytest.approx(math.exp(x0), rel=1e-15, abs=0)


def test_expm1_tangent_is_exp_where_out_plus_one_is_zero():
    _, tangent = ag.jvp(ag.expm1, (np.array(-40.0),), (np.array(1.0),))
    assert float(tangent) == pytest.approx(math.exp(-40.0), rel=1e-15, abs=0)


def test_expm1_second_derivative_is_exp():
    second = ag.grad(ag.grad(ag.expm1))(np.array(-40.0))
    assert float(second) == pytest.approx(math.exp(-40.0), rel=1e-15, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,derivative", [
    ("sigmoid", lambda x: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2),
    ("tanh", lambda x: 1 / mpmath.cosh(x) ** 2),
])
def test_saturating_gradients_are_within_an_ulp_of_one_of_the_closed_form(name, derivative, dtype):
    # the docstrings' claim: absolute accuracy (a few ulps of 1), not relative at saturation
    xs = np.linspace(-60.0, 60.0, 241).astype(dtype)
    x = ag.Tensor(xs, requires_grad=True)
    ag.sum(getattr(ag, name)(x)).backward()
    mpmath.mp.prec = 120
    true = np.array([float(derivative(mpmath.mpf(float(v)))) for v in xs])
    assert np.max(np.abs(x.grad.astype(np.float64) - true)) <= 2 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype,x0", [(np.float32, 17.0), (np.float64, 40.0)])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturated_gradients_are_torchs(name, dtype, x0):
    xa = np.array([x0, -x0], dtype)
    x = ag.Tensor(xa, requires_grad=True)
    ag.sum(getattr(ag, name)(x)).backward()
    # torch's formula, to the last bits its vectorized exp leaves (they differ between CPUs' kernels)
    np.testing.assert_array_max_ulp(x.grad, _torch_grad(getattr(torch, name), xa)[0], maxulp=2)


@pytest.mark.parametrize("dtype,z0", [(np.float32, 17.0), (np.float64, 40.0)])
def test_bce_with_logits_saturated_gradient_is_torchs(dtype, z0):
    za, ya = np.array([[z0, -z0]], dtype), np.array([[1.0, 1.0]], dtype)
    z = ag.Tensor(za, requires_grad=True)
    ag.binary_cross_entropy_with_logits(z, ya).backward()
    reference = _torch_grad(lambda t: torch.nn.functional.binary_cross_entropy_with_logits(
        t, torch.tensor(ya), reduction="sum") / za.shape[-1], za)[0]
    np.testing.assert_allclose(z.grad, reference, rtol=1e-6, atol=0)


# 5. binary_cross_entropy of a sigmoid for a well-classified example ----------------------------
@pytest.mark.parametrize("dtype,z0", [(np.float32, -16.0), (np.float32, -20.0), (np.float64, -40.0)])
def test_bce_of_sigmoid_well_classified_term_is_the_courses_log_one_minus_a(dtype, z0):
    z, y = np.array([[z0]], dtype), np.array([[0.0]], dtype)
    a = 1 / (1 + np.exp(-z))  # the course's sigmoid and cost, in NumPy
    course = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / 1
    assert ag.binary_cross_entropy(ag.sigmoid(z), y).item() == course


@pytest.mark.parametrize("dtype,z0,rtol", [(np.float32, -16.0, 1e-6), (np.float32, -20.0, 1e-6),
                                           (np.float64, -40.0, 1e-14)])
def test_bce_with_logits_well_classified_term_is_exact(dtype, z0, rtol):
    mpmath.mp.prec = 120
    true = float(mpmath.log1p(mpmath.exp(mpmath.mpf(z0))))
    value = ag.binary_cross_entropy_with_logits(np.array([[z0]], dtype), np.array([[0.0]], dtype)).item()
    assert value == pytest.approx(true, rel=rtol, abs=0)


def test_bce_of_sigmoid_confidently_wrong_term_is_computed_from_z():
    # label 1, z = -40: a = 4.2e-18, the label's probability below 1e-6, so -log sigmoid(z) from z
    mpmath.mp.prec = 120
    true = float(-mpmath.log(1 / (1 + mpmath.exp(40))))
    value = ag.binary_cross_entropy(ag.sigmoid(np.array([[-40.0]])), np.array([[1.0]])).item()
    assert value == pytest.approx(true, rel=1e-15, abs=0)


# 6. gradcheck and kinks ----------------------------------------------------------------------
def test_gradcheck_names_the_cusp_of_sqrt_abs_at_zero():
    r = ag.gradcheck(lambda x: ag.sum(ag.sqrt(ag.abs(x))), [np.array([0.0, 1.0])])
    assert [k.entry for k in r.kinks] == [(0,)]
    # one-sided slopes of sqrt(|x|) at 0 with step 1e-7: -+1 / sqrt(1e-7) (closed form)
    assert (r.kinks[0].left, r.kinks[0].right) == pytest.approx((-1e-7 ** -0.5, 1e-7 ** -0.5), rel=1e-9)


def test_gradcheck_kinks_do_not_change_the_verdict():
    # central differences of |x| at 0 are 0, the documented choice there: the check passes
    r = ag.gradcheck(lambda x: ag.sum(ag.abs(x)), [np.array([0.0, 2.0])])
    assert r.passed and len(r.kinks) == 1


def test_gradcheck_report_cautions_naming_the_kinked_entry():
    report = str(ag.gradcheck(lambda x: ag.sum(ag.abs(x)), [np.array([1.0, 0.0])]))
    assert "passed" in report.splitlines()[0]
    assert "caution: f may not be differentiable (a kink) at 1 entry" in report
    assert "input 0 x0 entry (1,): slope -1 from the left, 1 from the right" in report


def test_gradcheck_names_ties_in_maximum_on_both_inputs():
    r = ag.gradcheck(lambda x, y: ag.sum(ag.maximum(x, y)), [np.array([1.0, 2.0]), np.array([1.0, 3.0])])
    assert [(k.index, k.entry) for k in r.kinks] == [(0, (0,)), (1, (0,))]


def test_gradcheck_names_a_tie_in_max():
    r = ag.gradcheck(lambda x: ag.max(x), [np.array([0.5, 0.5, -1.0])])
    assert [k.entry for k in r.kinks] == [(0,), (1,)]


def test_gradcheck_fast_mode_names_a_kinked_direction():
    r = ag.gradcheck(lambda x: ag.sum(ag.abs(x)), [np.zeros(3)], fast=True)
    assert [(k.index, k.entry) for k in r.kinks] == [(0, ())]
    assert "along its direction" in str(r)


def test_gradcheck_report_lists_at_most_five_kinks():
    r = ag.gradcheck(lambda x: ag.sum(ag.relu(x)), [np.zeros(8)])
    lines = str(r).splitlines()
    assert len(r.kinks) == 8
    assert sum(" entry (" in line and "slope" in line for line in lines) == 5
    assert "... and 3 more (result.kinks lists them all)" in lines[-1]
    assert max(len(line) for line in lines) <= 110


def test_gradcheck_of_a_smooth_function_has_no_caution():
    report = str(ag.gradcheck(lambda x: ag.sum(ag.exp(x)), [np.array([0.0, 1.0])]))
    assert "caution" not in report


S = ag.sum
SMOOTH = [  # (name, f, sampler): smooth functions, some at strongly curved points or minima
    ("square_at_its_minimum", lambda x: S(x * x), lambda rng: np.zeros(3)),
    ("quartic_at_0", lambda x: S(x ** 4), lambda rng: np.zeros(3)),
    ("cos_at_its_maximum", lambda x: S(ag.cos(x)), lambda rng: np.zeros(3)),
    ("cos_at_its_minimum", lambda x: S(ag.cos(x)), lambda rng: np.full(2, np.pi)),
    ("rosenbrock_at_its_minimum", lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
     lambda rng: np.ones(2)),
    ("rosenbrock", lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
     lambda rng: np.array([-1.2, 1.0])),
    ("gaussian_peak", lambda x: S(ag.exp(-100 * x * x)), lambda rng: np.array([0.0, 0.05])),
    ("steep_tanh", lambda x: S(ag.tanh(100 * x)), lambda rng: np.array([0.0, 0.01])),
    ("exp_steep", lambda x: S(ag.exp(10 * x)), lambda rng: rng.uniform(-1, 1, 3)),
    ("log_near_zero", lambda x: S(ag.log(x)), lambda rng: np.array([0.01, 0.001, 2.0])),
    ("reciprocal_near_zero", lambda x: S(1 / x), lambda rng: np.array([0.01, 0.05])),
    ("sqrt_near_zero", lambda x: S(ag.sqrt(x)), lambda rng: np.array([1e-3, 1e-2])),
    ("sigmoid_saturated", lambda x: S(ag.sigmoid(x)), lambda rng: np.array([30.0, -30.0, 0.0])),
    ("tanh", lambda x: S(ag.tanh(x)), lambda rng: rng.uniform(-3, 3, 4)),
    ("softplus", lambda x: S(ag.softplus(x)), lambda rng: np.array([-50.0, 0.0, 50.0])),
    ("logsumexp_huge", lambda x: ag.logsumexp(x), lambda rng: np.array([1000.0, 999.0, 0.0])),
    ("log_softmax", lambda x: S(ag.log_softmax(x) * np.arange(3.0)[:, None]), lambda rng: rng.normal(size=(3, 2))),
    ("softmax", lambda x: S(ag.softmax(x) * np.arange(3.0)[:, None]), lambda rng: rng.normal(size=(3, 2))),
    ("cross_entropy_confident", lambda z: ag.cross_entropy(z, np.array([0, 1])),
     lambda rng: np.array([[50.0, -50.0], [-50.0, 50.0]])),
    ("bce_with_logits", lambda z: ag.binary_cross_entropy_with_logits(z, np.array([[1.0, 0.0]])),
     lambda rng: rng.normal(size=(1, 2))),
    ("bce_of_sigmoid", lambda z: ag.binary_cross_entropy(ag.sigmoid(z), np.array([[1.0, 0.0]])),
     lambda rng: rng.normal(size=(1, 2))),
    ("large_offset", lambda x: 1e8 + S(x * x), lambda rng: rng.normal(size=2)),
    ("large_scale", lambda x: 1e8 * S(ag.sin(x)), lambda rng: rng.normal(size=3)),
    ("tiny_scale", lambda x: 1e-10 * S(ag.exp(x)), lambda rng: rng.normal(size=2)),
    ("var_plus_std", lambda x: ag.std(x) + ag.var(x), lambda rng: rng.normal(size=4)),
    ("square_of_mean", lambda x: ag.mean(x) ** 2, lambda rng: np.array([1.0, -1.0])),
    ("sin_far_out", lambda x: S(ag.sin(x)), lambda rng: np.array([1e3, 123.4])),
    ("power_self", lambda x: S(x ** x), lambda rng: rng.uniform(0.2, 2, 3)),
    ("expm1_log1p", lambda x: S(ag.expm1(x) + ag.log1p(x)), lambda rng: np.array([-0.5, 0.0, 2.0])),
    ("leaky_relu_away_from_0", lambda x: S(ag.leaky_relu(x)), lambda rng: np.array([-1.0, 1.0])),
    ("abs_near_but_not_at_0", lambda x: S(ag.abs(x)), lambda rng: np.array([-1e-3, 1e-3])),
    ("tanh_layer", lambda w: S(ag.tanh(w @ np.ones((3, 2)))), lambda rng: rng.normal(size=(2, 3))),
    ("matmul_quadratic", lambda a: S((a @ a.T) ** 2), lambda rng: rng.normal(size=(2, 3))),
    ("l2_penalty_at_zero", lambda w: ag.l2_penalty([w], lambd=0.7, m=5), lambda rng: np.zeros((2, 2))),
]


@pytest.mark.parametrize("eps", [1e-8, 1e-7, 1e-6])
@pytest.mark.parametrize("name,f,sample", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_gradcheck_finds_no_kink_in_a_smooth_function(name, f, sample, eps):
    r = ag.gradcheck(f, [sample(np.random.default_rng(0))], eps=eps)
    assert r.kinks == [], str(r)


@pytest.mark.parametrize("name,f,sample", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_gradcheck_fast_mode_finds_no_kink_in_a_smooth_function(name, f, sample):
    r = ag.gradcheck(f, [sample(np.random.default_rng(0))], fast=True)
    assert r.kinks == [], str(r)


# adv70: the float32 std JVP accumulates in float64 as its forward does (closed forms in float64)
@pytest.mark.parametrize("x", [[3e19, 3e19, 0.0], [1e20, -1e20, 5e19, 0.0]])
def test_std_jvp_float32_accumulates_like_its_forward(x):
    # std's forward accumulates float32 in float64 (307de06); its JVP should not overflow where
    # the tangent fits float32. std is degree-1 homogeneous: d std along x equals std(x).
    x = np.array(x, np.float32)
    _, tangent = ag.jvp(lambda v: ag.std(v), (x,), (x,))
    x64 = x.astype(np.float64)
    expected = np.sum((x64 - x64.mean()) * x64) / (x64.size * np.std(x64))
    assert np.isfinite(expected) and abs(expected) < np.finfo(np.float32).max
    assert np.isfinite(tangent)
    np.testing.assert_allclose(float(tangent), expected, rtol=1e-5)


def test_std_jvp_float32_axis_keepdims():
    x = np.array([[3e19, 3e19, 0.0], [1.0, 2.0, 4.0]], np.float32)
    _, tangent = ag.jvp(lambda v: ag.std(v, axis=1, keepdims=True, ddof=1), (x,), (x,))
    x64 = x.astype(np.float64)
    c = x64 - x64.mean(axis=1, keepdims=True)
    expected = np.sum(c * x64, axis=1, keepdims=True) / (2 * np.std(x64, axis=1, ddof=1, keepdims=True))
    assert tangent.shape == (2, 1)
    np.testing.assert_allclose(np.asarray(tangent, np.float64), expected, rtol=1e-5)
