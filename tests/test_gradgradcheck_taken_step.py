"""gradgradcheck where x +- eps v rounds to float64: the displacement the differences of the gradient
take, t = (x + eps v) - (x - eps v), is not 2 eps v (0.2% off at |x| = 1e8, eps = 1e-6), so a correct
second derivative failed from |x| ~ 1e6 and one wrong by exactly that rounding passed. ``.difference``
stays the documented formula over 2 eps; the verdict (``.judged``) is along the displacement taken.

Expected values come from the math: f = sum(sin x) has gradient cos x and Hessian diag(-sin x), so
the Hessian-vector product is -sin(x) v (NumPy's sin), and the differences are formed here with NumPy;
f = sum(x ** 3) has Hessian diag(6 x)."""
import numpy as np
import pytest

import autograd_lite as ag
from tests.test_gradcheck_step_rounding import EDGES, _sum_sin

EPS = 1e-6  # gradgradcheck's default


def _sin_scaled_second(factor):
    """sum(sin x) whose gradient is right (cos x) but whose second derivative is -sin(x) * factor."""
    @ag.primitive
    def sin(x):
        return np.sin(x)

    @ag.primitive
    def cos(x):
        return np.cos(x)
    sin.defvjp(lambda g, out, x: g * cos(x))
    cos.defvjp(lambda g, out, x: -g * np.sin(x) * factor)
    return lambda x: ag.sum(sin(x))


def _cube_scaled_second(factor):
    """sum(x ** 3) with gradient 3 x ** 2 and second derivative 6 x * factor."""
    @ag.primitive
    def cube(x):
        return x ** 3

    @ag.primitive
    def three_squared(x):
        return 3 * x ** 2
    cube.defvjp(lambda g, out, x: g * three_squared(x))
    three_squared.defvjp(lambda g, out, x: g * 6 * x * factor)
    return lambda x: ag.sum(cube(x))


def _direction(shape):
    """gradgradcheck's direction for one leaf at rng=0, as these tests pass it: a standard normal, unit norm."""
    v = np.random.default_rng(0).standard_normal(shape)
    return v / np.linalg.norm(v)


def _around(x0):
    return np.array([x0, -1.1 * x0, 0.7 * x0 + 0.3])


def _relative(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def _oracle_error(x):
    """Per entry, how far sin's second derivative from the differences of cos over the displacement
    taken is off -sin (relative): what the check can resolve there."""
    v = _direction(x.shape)
    taken = (x + EPS * v) - (x - EPS * v)
    return np.max(np.abs((np.cos(x + EPS * v) - np.cos(x - EPS * v)) / taken + np.sin(x)) / np.abs(np.sin(x)))


# --- the probe's cases: failed or passed wrongly before --------------------------------------------
@pytest.mark.parametrize("x0", [1e6, 1e7, 1e8, 5e8])
def test_a_correct_second_derivative_passes_at_large_x(x0):
    x = _around(x0)
    assert _oracle_error(x) < 1e-6
    r = ag.gradgradcheck(_sum_sin, [x], rng=0)
    assert r.passed, str(r)
    assert r.inputs[0].error <= 1e-6 * np.linalg.norm(np.sin(x) * _direction(x.shape))


@pytest.mark.parametrize("x0", [1e7 + 0.3, 3e7 + 0.1, 1e8])
def test_a_second_derivative_wrong_by_the_steps_rounding_fails(x0):
    x = np.array([x0])  # one entry: v = +-1 and the step taken is 2 eps (1 + delta)
    delta = ((x + EPS) - (x - EPS))[0] / (2 * EPS) - 1
    assert abs(delta) > 1e-4  # (before, the differences over 2 eps matched -sin (1 + delta) exactly)
    assert not ag.gradgradcheck(_sin_scaled_second(1 + delta), [x], rng=0).passed
    assert ag.gradgradcheck(_sum_sin, [x], rng=0).passed


# --- wrong second derivatives fail where the displacement taken resolves them ----------------------
@pytest.mark.parametrize("x0", [1.0, 1e4, 1e6, 1e8])
@pytest.mark.parametrize("r", [1e-4, 1e-3, 1e-2])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_wrong_second_derivative_fails_at_large_x(x0, r, sign):
    x = _around(x0)
    assert _oracle_error(x) < r / 10
    result = ag.gradgradcheck(_sin_scaled_second(1 + sign * r), [x], rng=0)
    assert not result.passed, str(result)
    assert result.inputs[0].error > result.inputs[0].bound


@pytest.mark.parametrize("v", EDGES)
@pytest.mark.parametrize("r", [1e-4, 1e-2])
def test_a_wrong_second_derivative_fails_at_a_power_of_two(v, r):
    x = np.array([v, -v])
    assert not ag.gradgradcheck(_sin_scaled_second(1 + r), [x], rng=0).passed


@pytest.mark.parametrize("x0", [1e3, 1e4])
@pytest.mark.parametrize("r", [1e-4, 1e-2])
def test_a_wrong_second_derivative_of_a_cube_fails(x0, r):
    x = _around(x0)
    assert ag.gradgradcheck(lambda t: ag.sum(t ** 3), [x], rng=0).passed
    assert not ag.gradgradcheck(_cube_scaled_second(1 + r), [x], rng=0).passed


def test_a_sign_error_in_one_entry_fails_at_1e8():
    x = _around(1e8)
    result = ag.gradgradcheck(_sin_scaled_second(np.array([1.0, -1.0, 1.0])), [x], rng=0)
    assert not result.passed, str(result)
    assert result.inputs[0].worst_entry == (1,)


# --- correct ones pass at powers of two (the midpoint of the displacement is off x) ----------------
@pytest.mark.parametrize("v", EDGES)
def test_a_correct_second_derivative_passes_where_the_unit_of_x_changes(v):
    for x in (np.array([v]), np.array([v, -v])):
        assert _oracle_error(x) < 1e-6
        r = ag.gradgradcheck(_sum_sin, [x], rng=0)
        assert r.passed, str(r)


def test_a_pytree_with_large_and_small_leaves():
    params = {"w": np.array([1e8, -3e6]), "b": np.array([0.25, -1.5])}
    assert ag.gradgradcheck(lambda p: ag.sum(ag.sin(p["w"])) + ag.sum(p["b"] ** 3), [params]).passed
    wrong = _sin_scaled_second(1 + 1e-3)
    r = ag.gradgradcheck(lambda p: wrong(p["w"]) + ag.sum(p["b"] ** 3), [params])
    assert not r.passed and [c.name for c in r.inputs if c.error > c.bound] == ["w"], str(r)


# --- the number stays the formula; the verdict's is along the displacement taken ------------------
@pytest.mark.parametrize("x0", [1.0, 1234.5, 1e8])
def test_difference_is_the_formula_over_two_eps_and_judged_is_over_the_displacement_taken(x0):
    x = _around(x0)
    v = _direction(x.shape)
    analytic = -np.sin(x) * v
    numeric = (np.cos(x + EPS * v) - np.cos(x - EPS * v)) / (2 * EPS)
    taken = (x + EPS * v) - (x - EPS * v)
    # the differences less the Hessian along t / (2 eps) - v: the Hessian-vector product along t
    judged = numeric + np.sin(x) * (taken / (2 * EPS) - v)
    r = ag.gradgradcheck(_sum_sin, [x], rng=0)
    assert r.difference == pytest.approx(_relative(analytic, numeric), rel=1e-6, abs=1e-14)
    assert r.inputs[0].numeric == pytest.approx(numeric[r.inputs[0].worst_entry], rel=1e-9)
    assert r.judged == pytest.approx(_relative(analytic, judged), rel=1e-3, abs=1e-12)
    assert r.passed, str(r)


# --- x + eps v rounding to x: that entry is not displaced; a leaf with no entry moved fails --------
@pytest.mark.parametrize("x1", [1.5 * 2.0 ** 40, 1.5 * 2.0 ** 33])
def test_an_entry_whose_displacement_rounds_to_zero_is_compared_along_the_displacement_taken(x1):
    x = np.array([0.5, x1])
    v = _direction(x.shape)
    assert x[1] + EPS * v[1] == x[1]  # (at 1.5 * 2 ** 33, x + eps does not round to x: eps |v| does)
    r = ag.gradgradcheck(_sum_sin, [x], rng=0)
    # along t = (2 eps v_0, 0) the differences of cos are -sin(x) t / (2 eps): exact, so it passes
    assert r.passed and r.inputs[0].unchecked == [] and r.judged < 1e-10, str(r)
    assert "larger eps" not in str(r)


@pytest.mark.parametrize("x1", [1.5 * 2.0 ** 40, 1.5 * 2.0 ** 45])
def test_a_leaf_whose_whole_displacement_rounds_to_zero_fails_with_a_note(x1):
    x = np.array([x1, -x1])
    v = _direction(x.shape)
    assert np.all(x + EPS * v == x)
    r = ag.gradgradcheck(_sum_sin, [x], rng=0)
    assert not r.passed and r.inputs[0].unchecked == [(0,), (1,)], str(r)
    text = str(r)
    assert "x + eps v rounds to x at 2 entries ((0,), (1,))" in text and "larger eps" in text, text
    assert ag.gradgradcheck(_sum_sin, [x], eps=1e-1).passed  # as the note says


# --- the report -----------------------------------------------------------------------------------
def test_report_gives_the_difference_over_the_displacement_taken_when_it_decides():
    r = ag.gradgradcheck(_sum_sin, [_around(1e8)])
    text = str(r)
    assert r.passed and r.difference > r.threshold > r.judged
    assert "over the steps taken" in text.splitlines()[0]
    assert "compares autodiff along the displacement taken" in text and "FAIL" not in text


def test_report_of_an_ordinary_check_has_no_step_note():
    r = ag.gradgradcheck(_sum_sin, [np.array([1.5, 1.8])])
    assert r.passed and "step" not in str(r) and r.judged < 1e-10 and r.difference < 1e-10
