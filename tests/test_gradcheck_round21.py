"""gradcheck, round 21 (adv130): the random directions of fast mode, the forward check and gradgradcheck
no longer come from seed 0, the stream tests draw their inputs from; along x itself a quadratic form's or a
normalization's wrong rule agrees with the differences. Expected values are the math written here."""
import numpy as np
import pytest

import autograd_lite as ag

A = np.arange(16.0).reshape(4, 4) / 10  # not symmetric: the gradient of x A x is (A + A^T) x, not 2 A x


def _quadratic_form(vjp=None, jvp=None):
    quad = ag.primitive(lambda x: x @ A @ x)
    quad.defvjp(vjp or (lambda g, out, x: g * ((A + A.T) @ x)))
    quad.defjvp(jvp or (lambda t, out, x: x @ (A + A.T) @ t))
    return quad


def _unit_sum(factor):
    """sum(w * x / ||x||) as a primitive whose VJP is ``factor`` times the true one."""
    w = np.linspace(-1, 1, 5)
    unit = ag.primitive(lambda x: x / np.sqrt(np.sum(x * x)))
    unit.defvjp(lambda g, out, x: factor * (g - out * np.sum(g * out)) / np.sqrt(np.sum(x * x)))
    return lambda x: ag.sum(unit(x) * w)


X4, X5 = np.random.default_rng(0).standard_normal(4), np.random.default_rng(0).standard_normal(5)


def test_fast_mode_catches_a_quadratic_forms_wrong_vjp_at_inputs_drawn_from_seed_0():
    # along x, 2 A x and (A + A^T) x agree: <2 A x, x> = <(A + A^T) x, x>
    assert np.isclose(X4 @ (2 * A @ X4), X4 @ ((A + A.T) @ X4))
    wrong = _quadratic_form(vjp=lambda g, out, x: g * 2 * (A @ x))
    assert not ag.gradcheck(wrong, [X4], fast=True).passed
    assert ag.gradcheck(_quadratic_form(), [X4], fast=True).passed


def test_the_forward_check_catches_a_quadratic_forms_wrong_jvp_at_inputs_drawn_from_seed_0():
    wrong = _quadratic_form(jvp=lambda t, out, x: 2 * (x @ A @ t))
    result = ag.gradcheck(wrong, [X4], modes=("rev", "fwd"))
    assert not result.passed and not result.forward.passed, str(result)
    assert ag.gradcheck(_quadratic_form(), [X4], modes=("rev", "fwd")).passed


def test_fast_mode_catches_a_normalizations_doubled_vjp_at_inputs_drawn_from_seed_0():
    # d(x / |x|) along x is 0: a doubled rule is 0 there too
    assert not ag.gradcheck(_unit_sum(2.0), [X5], fast=True).passed
    assert ag.gradcheck(_unit_sum(1.0), [X5], fast=True).passed
    assert ag.gradcheck(_unit_sum(2.0), [X5]).passed is False  # (full mode, every entry: caught as before)


def test_an_explicit_rng_still_chooses_the_direction():
    one, again, other = (ag.gradcheck(_quadratic_form(), [X4], fast=True, rng=r) for r in (3, 3, 4))
    assert one.inputs[0].analytic == again.inputs[0].analytic != other.inputs[0].analytic
    # autodiff's slope along the direction u drawn from seed 3, by hand
    u = np.random.default_rng(3).standard_normal(4)
    assert one.inputs[0].analytic == pytest.approx(((A + A.T) @ X4) @ (u / np.linalg.norm(u)), rel=1e-12)


# --- constant functions (adv130 #2): residues on both sides, with no larger leaf ------------------------
XC = np.random.default_rng(11).standard_normal((3, 4))
CONSTANT_NEAR_ZERO = {
    "mean of centred": lambda x: ag.mean(x - ag.mean(x)),
    "mean of row-centred": lambda x: ag.mean(x - ag.mean(x, 1, keepdims=True)),
    "softmax sum less 3": lambda x: ag.sum(ag.softmax(x, axis=1)) - 3,
    "standardized squares less 12": lambda x: ag.sum(((x - ag.mean(x)) / ag.std(x)) ** 2) - 12,
}


@pytest.mark.parametrize("f", CONSTANT_NEAR_ZERO.values(), ids=CONSTANT_NEAR_ZERO.keys())
@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("eps", [1e-7, 1e-5])
def test_a_constant_function_near_zero_passes(f, fast, eps):
    # d f / d x is 0 by construction (each is constant in x): autodiff's residue against noise
    assert ag.gradcheck(f, [XC], eps=eps, fast=fast).passed


def test_a_constant_whose_value_explains_the_noise_is_unmeasured_and_the_advice_works():
    f = lambda x: ag.sum(ag.softmax(x, axis=1))  # noqa: E731 (3 exactly, whatever x)
    x = np.random.default_rng(13).standard_normal((3, 4))  # (autodiff's side a residue, not an exact 0)
    result = ag.gradcheck(f, [x])
    assert not result.passed and result.inputs[0].unmeasured
    assert "subtract the constant from f" in str(result)
    assert ag.gradcheck(lambda x: f(x) - 3, [x]).passed


def _shifted_softmax_sum(vjp_scale):
    """sum(softmax(x)) - 3 through a primitive whose VJP adds ``vjp_scale`` x (the true gradient is 0)."""
    @ag.primitive
    def total(x):
        return float(np.sum(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)) - 3)
    total.defvjp(lambda g, out, x: g * vjp_scale * x)
    return total


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("scale", [1e-3, 1e-6, 1e-7])  # (below the differences' noise, ~4e-9, none can tell)
def test_a_wrong_gradient_of_a_constant_function_still_fails(fast, scale):
    assert not ag.gradcheck(_shifted_softmax_sum(scale), [XC], fast=fast).passed
    assert ag.gradcheck(_shifted_softmax_sum(0.0), [XC], fast=fast).passed


@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_gradient_that_only_f_values_rounding_hides_still_fails(fast):
    @ag.primitive
    def wrong_sin(x):
        return np.sin(x)
    wrong_sin.defvjp(lambda g, out, x: 2 * g * np.cos(x))  # (the derivative is cos)
    result = ag.gradcheck(lambda x: 1e12 + 1e-4 * ag.sum(wrong_sin(x)), [XC], fast=fast)
    assert not result.passed, str(result)


CONSTANT = dict(CONSTANT_NEAR_ZERO, **{
    "softmax sum": lambda x: ag.sum(ag.softmax(x, axis=1)),
    "sigmoid pairs": lambda x: ag.sum(ag.sigmoid(x) + ag.sigmoid(-x)),
})


@pytest.mark.parametrize("f", CONSTANT.values(), ids=CONSTANT.keys())
def test_gradgradcheck_passes_a_constant_function(f):
    # its gradient is a residue and so is autodiff's Hessian-vector product: noise against noise
    assert ag.gradgradcheck(f, [XC]).passed


@pytest.mark.parametrize("factor", [2.0, 1.001])
def test_gradgradcheck_still_fails_a_wrong_second_derivative_next_to_a_constant(factor):
    @ag.primitive
    def square_sum(x):
        return float(np.sum(x ** 2))
    square_sum.defvjp(lambda g, out, x: g * twice(x))

    @ag.primitive
    def twice(x):
        return 2 * x
    twice.defvjp(lambda g, out, x: 2 * factor * g)  # (the derivative of 2 x is 2)
    f = lambda x: ag.sum(ag.softmax(x, axis=1)) - 3 + 1e-3 * square_sum(x)  # noqa: E731
    assert not ag.gradgradcheck(f, [XC]).passed
    if factor == 2.0:  # (the same with the right rule passes)
        twice.defvjp(lambda g, out, x: 2 * g)
        assert ag.gradgradcheck(f, [XC]).passed


@pytest.mark.parametrize("f", list(CONSTANT_NEAR_ZERO.values())[:3], ids=list(CONSTANT_NEAR_ZERO)[:3])
@pytest.mark.parametrize("seed", [11, 14])
def test_a_constant_function_near_zero_passes_in_float32_too(f, seed):
    # float32's gradient is a residue as well, of float32's rounding: its own-dtype comparison passes it
    x = np.random.default_rng(seed).standard_normal((3, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="checked on float64 copies"):
        result = ag.gradcheck(f, [x])
    assert result.passed, str(result)
    assert result.inputs[0].residue > 0 and not result.own_dtype[0].failed


def test_a_float32_gradient_wrong_next_to_a_constant_still_fails_its_own_dtype_check():
    @ag.primitive
    def centred_mean(x):
        return float(np.mean(x - np.mean(x)))
    # right in float64 (0), 1e-3 in float32: a rule branching on the dtype
    centred_mean.defvjp(lambda g, out, x: g * (np.full(x.shape, 1e-3, x.dtype) if x.dtype == np.float32
                                               else np.zeros_like(x)))
    x = np.random.default_rng(11).standard_normal((3, 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="checked on float64 copies"):
        result = ag.gradcheck(centred_mean, [x])
    assert not result.passed and result.own_dtype[0].failed


# --- adv133: a steady small gradient next to a constant term is a gradient, not a residue -----------------
def _missed(size):
    """size * sum(x) through a primitive whose VJP is 0 (the true gradient is ``size`` everywhere)."""
    @ag.primitive
    def penalty(x):
        return size * float(np.sum(x))
    penalty.defvjp(lambda g, out, x: 0 * x)
    return penalty


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("scale, size", [(1, 1e-7), (10, 1e-6), (100, 1e-5), (1000, 1e-4)])
def test_a_missed_small_gradient_next_to_a_constant_fails(fast, scale, size):
    x = scale * np.random.default_rng(0).standard_normal((3, 4))
    penalty = _missed(size)
    numerical = ag.numerical_gradient(lambda x: ag.mean(x - ag.mean(x)) + penalty(x), [x])[0]
    np.testing.assert_allclose(numerical, size, rtol=0.05)  # (a steady value the differences resolve)
    assert not ag.gradcheck(lambda x: ag.mean(x - ag.mean(x)) + penalty(x), [x], fast=fast).passed


def test_gradgradcheck_fails_a_lost_second_derivative_next_to_a_constant():
    @ag.primitive
    def half_square(x):
        return 1e-3 * float(np.sum(x * x)) / 2
    # (the VJP reads x's value off the tape: its own derivative, 1e-3 I, is lost)
    half_square.defvjp(lambda g, out, x: g * 1e-3 * (x.detach() if isinstance(x, ag.Tensor) else x))
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert not ag.gradgradcheck(lambda x: ag.mean(x - ag.mean(x)) + half_square(x), [x]).passed


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_a_float32_constant_near_zero_passes_its_own_dtype_check_at_any_scale(scale):
    x = (np.random.default_rng(11).standard_normal((3, 4)) * scale).astype(np.float32)
    with pytest.warns(UserWarning, match="checked on float64 copies"):
        result = ag.gradcheck(lambda x: ag.mean(x - ag.mean(x)), [x])
    assert result.passed, str(result)
