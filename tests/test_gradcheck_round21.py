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
