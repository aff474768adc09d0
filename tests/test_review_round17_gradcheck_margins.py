"""gradcheck's measured truncation (adv90 #1, #2): a small leaf's gradient that the central
differences resolve is checked, not excused as a zero gradient; the Richardson estimate of D(eps)'s
truncation has a margin, so a correct gradient of a smooth f passes; a kink crossed inside the step
is allowed for and named in the report. Expected values are derivatives written out by hand."""
import numpy as np
import pytest

import autograd_lite as ag


def _cube_with(factor):
    """x ** 3 whose VJP is ``factor`` times the true 3 x ** 2 (1: the correct rule)."""
    cube = ag.primitive(lambda x: x ** 3, name="cube_margins")
    cube.defvjp(lambda g, out, x: g * (3 * factor) * x ** 2)
    return cube


def _small_cube_f(factor):
    # f = <w, a> + y^3 at w = 0, y = 1e-6: df/dy = 3e-12, D(1e-7) = 3e-12 + 1e-14 (0.3% off) and f's
    # values are ~1e-18, so the differences resolve dy although it is below eps**0.75 of ||df/dw|| = 22
    cube, a = _cube_with(factor), 10 * np.ones(5)
    return lambda w, y: ag.sum(w * a) + ag.sum(cube(y)), [np.zeros(5), np.array([1e-6])]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("factor", [2 / 3, -1.0, 0.0, 4.0])
def test_a_small_gradient_the_differences_resolve_is_not_excused_as_zero(fast, factor):
    f, inputs = _small_cube_f(factor)
    y, h = inputs[1], 1e-7
    resolved = ((y + h) ** 3 - (y - h) ** 3) / (2 * h)
    assert abs(resolved - 3 * y ** 2) < 0.01 * 3 * y ** 2
    r = ag.gradcheck(f, inputs, fast=fast)
    assert not r.passed, str(r)
    assert "FAIL" in str(r).splitlines()[2]  # (the y row)


@pytest.mark.parametrize("fast", [False, True])
def test_the_same_small_gradient_right_passes(fast):
    f, inputs = _small_cube_f(1.0)
    r = ag.gradcheck(f, inputs, fast=fast)
    assert r.passed, str(r)


def _sin_with(factor):
    """sin(2x) whose VJP is ``factor`` times the true 2 cos(2x)."""
    sin2 = ag.primitive(lambda x: np.sin(2 * x), name="sin2_margins")
    sin2.defvjp(lambda g, out, x: g * factor * 2 * np.cos(2 * x))
    return sin2


SIN_X, SIN_W = np.array([0.3, 1.1, -0.7]), np.array([1.0, 2.0])


@pytest.mark.parametrize("fast,eps", [(True, 1e-2), (False, 3e-3), (True, 3e-3), (False, 1e-2)])
def test_a_correct_gradient_of_sin_passes_at_a_large_step(fast, eps):
    # D(eps) of sin(2x) is 2 cos(2x) (1 - (2 eps)^2 / 6 + (2 eps)^4 / 120 - ...): the eps^4 term
    # opposes the eps^2 one, so (D(3 eps) - D(eps)) / 8 alone falls short of D(eps)'s error
    sin2 = _sin_with(1.0)
    f = lambda x, w: ag.sum(sin2(x)) + 100.0 * ag.sum(w)
    np.testing.assert_allclose(ag.grad(f)(SIN_X, SIN_W), 2 * np.cos(2 * SIN_X), rtol=1e-15)
    r = ag.gradcheck(f, [SIN_X, SIN_W], eps=eps, fast=fast)
    assert r.passed, str(r)
    assert r.kinks == []


@pytest.mark.parametrize("fast,eps", [(True, 1e-2), (False, 3e-3)])
@pytest.mark.parametrize("factor", [1.01, 0.99, -1.0])
def test_the_margin_still_fails_a_gradient_of_sin_off_by_a_percent(fast, eps, factor):
    # D(eps)'s truncation is at most (2 eps)^2 / 6 = 6.7e-5 of the gradient: a 1% error is 150x it
    sin2 = _sin_with(factor)
    f = lambda x, w: ag.sum(sin2(x)) + 100.0 * ag.sum(w)
    assert not ag.gradcheck(f, [SIN_X, SIN_W], eps=eps, fast=fast).passed


@pytest.mark.parametrize("fast", [False, True])
def test_a_kink_crossed_inside_the_step_is_named_not_failed(fast):
    # f = x + J relu(x - d) + 100 sum(w) at x = 0 with d = eps / 5: df/dx = 1 there (x < d), but
    # D(eps) = 1 + J (1 - 1/5) / 2 crosses the kink; its one-sided slopes differ by 0.8 J, far below
    # what the slopes-only detector can see next to slopes of 100
    eps, jump = 1e-3, 1e-4
    f = lambda x, w: ag.sum(x) + jump * ag.sum(ag.relu(x - eps / 5)) + 100.0 * ag.sum(w)
    x, w = np.zeros(1), np.ones(2)
    np.testing.assert_array_equal(ag.grad(f)(x, w), [1.0])
    r = ag.gradcheck(f, [x, w], eps=eps, fast=fast)
    assert r.passed, str(r)
    assert [(k.index, k.crossed) for k in r.kinks] == [(0, True)]
    assert "kink within 3 eps" in str(r)


def test_a_smooth_function_lists_no_crossed_kink():
    # f = 1e3 x^3 + 100 sum(w) at x = 0.5, eps = 1e-3: its truncation is large (f3 = 6e3) but smooth
    f = lambda x, w: 1e3 * ag.sum(x ** 3) + 100.0 * ag.sum(w)
    x, w = np.array([0.5, -0.2]), np.ones(2)
    np.testing.assert_allclose(ag.grad(f)(x, w), 3e3 * x ** 2, rtol=1e-15)
    for fast in (False, True):
        r = ag.gradcheck(f, [x, w], eps=1e-3, fast=fast)
        assert not any(k.crossed for k in r.kinks), str(r)
