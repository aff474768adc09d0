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


# --- next to a constant term (adv130 #2, adv133, adv135): no wrong gradient passes -------------------------
# (a constant f's own residues are not certified: docs/api.md, "Gradient checking"; these guard the verdicts)
XC = np.random.default_rng(11).standard_normal((3, 4))


def _shifted_softmax_sum(vjp_scale):
    """sum(softmax(x)) - 3 through a primitive whose VJP adds ``vjp_scale`` x (the true gradient is 0)."""
    @ag.primitive
    def total(x):
        return float(np.sum(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)) - 3)
    total.defvjp(lambda g, out, x: g * vjp_scale * x)
    return total


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("scale", [1e-3, 1e-6])
def test_a_wrong_gradient_of_a_constant_function_fails(fast, scale):
    assert not ag.gradcheck(_shifted_softmax_sum(scale), [XC], fast=fast).passed


@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_gradient_that_only_f_values_rounding_hides_fails(fast):
    @ag.primitive
    def wrong_sin(x):
        return np.sin(x)
    wrong_sin.defvjp(lambda g, out, x: 2 * g * np.cos(x))  # (the derivative is cos)
    result = ag.gradcheck(lambda x: 1e12 + 1e-4 * ag.sum(wrong_sin(x)), [XC], fast=fast)
    assert not result.passed, str(result)


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


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_sign_next_to_one_noisy_entry_fails(seed, fast):
    @ag.primitive
    def decay(x):
        return 1e-3 * float(np.sum(x[1:] ** 2)) / 2
    decay.defvjp(lambda g, out, x: -g * 1e-3 * np.r_[0.0, np.asarray(x)[1:]])  # (the sign is +)
    f = lambda x: ((x[0] + 1e6) - 1e6 - x[0]) + decay(x)  # noqa: E731 (entry 0: rounding noise alone)
    assert not ag.gradcheck(f, [np.random.default_rng(seed).standard_normal(6)], fast=fast).passed


def test_a_wrong_rule_at_a_large_eps_fails():
    @ag.primitive
    def wave(x):
        return float(np.sum(np.sin(70 * np.asarray(x)))) / 70
    wave.defvjp(lambda g, out, x: -0.8 * g * np.cos(70 * np.asarray(x)))  # (the derivative is cos(70 x))
    assert not ag.gradcheck(wave, [np.random.default_rng(0).standard_normal(5)], eps=1e-2).passed


@pytest.mark.parametrize("size", [1e-3, 1.0])
def test_gradgradcheck_fails_a_lost_second_derivative_next_to_a_constant(size):
    @ag.primitive
    def half_square(x):
        return size * float(np.sum(x * x)) / 2
    # (the VJP reads x's value off the tape: its own derivative, size * I, is lost)
    half_square.defvjp(lambda g, out, x: g * size * (x.detach() if isinstance(x, ag.Tensor) else x))
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert not ag.gradgradcheck(lambda x: ag.mean(x - ag.mean(x)) + half_square(x), [x]).passed


@pytest.mark.parametrize("scale", [1.0, 1e6])
def test_a_float32_gradient_wrong_next_to_a_constant_fails_its_own_dtype_check(scale):
    @ag.primitive
    def zero_term(x):
        return float(np.sum(x - x))
    # right in float64 (0), 0.01 in float32: a rule branching on the dtype
    zero_term.defvjp(lambda g, out, x: g * np.full(np.shape(x), 0.01 if x.dtype == np.float32 else 0.0, x.dtype))
    x = (scale * np.random.default_rng(0).standard_normal((3, 4))).astype(np.float32)
    with pytest.warns(UserWarning, match="checked on float64 copies"):
        result = ag.gradcheck(lambda x: ag.mean(x - ag.mean(x)) + zero_term(x), [x])
    assert not result.passed and result.own_dtype[0].failed


def test_compare_gradients_warns_when_a_side_holds_parameters_not_gradients():
    # (adv138 #3) compare_gradients(hand, params) for {k: t.grad}: the weights' values were compared silently
    params = {"W1": ag.Tensor(np.ones((2, 2)), requires_grad=True), "b1": ag.Tensor(np.zeros((2, 1)), requires_grad=True)}
    (ag.sum(params["W1"] * 2.0) + ag.sum(params["b1"])).backward()
    hand = {"dW1": np.full((2, 2), 2.0), "db1": np.ones((2, 1))}
    with pytest.warns(UserWarning, match=r"expected holds tensors that require grad and have a \.grad \(dW1, db1\)"):
        assert not ag.compare_gradients(hand, params).passed
    assert ag.compare_gradients(hand, {k: t.grad for k, t in params.items()}).passed
