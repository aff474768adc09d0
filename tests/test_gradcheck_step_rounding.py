"""gradcheck where x +- eps rounds to float64 (adv93 finding 1, adv96 findings 2 and 3): the step a
central difference takes, h = (x + eps) - (x - eps), is not 2 eps (4% off at |x| = 1e8, eps = 1e-7).
``.difference`` stays SEEDS section 6's formula, over 2 eps; the verdict divides each difference by
the step taken, so a correct gradient passes and a wrong one fails at any |x| the step resolves.

Expected values come from the math: d/dx sum(sin x) = cos x (NumPy's cos), the central differences
formed here with NumPy (the oracle: over the step taken they agree with cos to ~1e-9)."""
import numpy as np
import pytest

import autograd_lite as ag

EPS = 1e-7
EDGES = [2.0 ** 29, np.nextafter(2.0 ** 29, 0), 2.0 ** 30, np.nextafter(2.0 ** 30, 0), -2.0 ** 30]


def _sum_sin(x):
    return ag.sum(ag.sin(x))


def _scaled_sin(factor):
    """sum(sin x) whose VJP is cos(x) * factor (wrong unless factor is 1)."""
    @ag.primitive
    def sin(x):
        return np.sin(x)
    sin.defvjp(lambda g, out, x: g * np.cos(x) * factor)
    return lambda x: ag.sum(sin(x))


def _over_taken(x):
    """The oracle: sin's central differences over the steps actually taken."""
    plus, minus = x + EPS, x - EPS
    return (np.sin(plus) - np.sin(minus)) / (plus - minus)


def _seeds_differences(x, taken=False):
    """SEEDS section 6's gradapprox of sum(sin x), in NumPy: (J(x + eps e_i) - J(x - eps e_i)) / (2 eps);
    with ``taken``, over the step taken, (x_i + eps) - (x_i - eps)."""
    out = np.empty_like(x)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus[i] += EPS
        minus[i] -= EPS
        out[i] = (np.sum(np.sin(plus)) - np.sum(np.sin(minus))) / (plus[i] - minus[i] if taken else 2 * EPS)
    return out


def _relative(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def _around(x0):
    return np.array([x0, -1.1 * x0, 0.7 * x0 + 0.3])


# --- wrong gradients fail wherever the step taken resolves them -------------------------------
@pytest.mark.parametrize("x0", [1.0, 300.0, 1e4, 1e6, 1e8])
@pytest.mark.parametrize("r", [1e-6, 1e-4, 1e-2, 5e-2])
@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_gradient_fails_at_any_magnitude_the_step_resolves(x0, r, fast):
    x = _around(x0)
    # the oracle resolves cos there to well below r (adv96: 1-5% wrong passed at 1e8)
    assert np.max(np.abs(_over_taken(x) - np.cos(x)) / np.abs(np.cos(x))) < r / 10
    result = ag.gradcheck(_scaled_sin(1 + r), [x], fast=fast, threshold=1e-7, rng=0)
    assert not result.passed, str(result)
    assert result.inputs[0].error > result.inputs[0].bound


@pytest.mark.parametrize("v", EDGES)
@pytest.mark.parametrize("fast", [False, True])
def test_a_gradient_1e_4_wrong_fails_at_a_power_of_two(v, fast):
    r = ag.gradcheck(_scaled_sin(1 + 1e-4), [np.array([v])], fast=fast, rng=0)
    assert not r.passed, str(r)


@pytest.mark.parametrize("fast", [False, True])
def test_a_sign_error_in_one_entry_fails_at_1e8(fast):
    @ag.primitive
    def sin(x):
        return np.sin(x)
    sin.defvjp(lambda g, out, x: g * np.cos(x) * np.array([1.0, -1.0, 1.0]))  # entry 1's sign wrong
    r = ag.gradcheck(lambda x: ag.sum(sin(x)), [_around(1e8)], fast=fast, rng=0)
    assert not r.passed, str(r)
    if not fast:
        assert r.inputs[0].worst_entry == (1,)


# --- correct gradients pass --------------------------------------------------------------------
@pytest.mark.parametrize("v", EDGES)
@pytest.mark.parametrize("fast", [False, True])
def test_a_correct_gradient_passes_where_the_unit_of_x_changes(v, fast):
    x = np.array([v])
    assert abs(_over_taken(x)[0] - np.cos(v)) < 1e-7  # measurable (adv96 finding 3 failed it)
    r = ag.gradcheck(_sum_sin, [x], fast=fast, rng=0)
    assert r.passed, str(r)
    assert not r.kinks, str(r)  # (x +- eps rounding unequally is no kink)


@pytest.mark.parametrize("x0", [300.0, 1234.5, 1e4, 1e6, 1e8, 7e8])
@pytest.mark.parametrize("fast", [False, True])
def test_a_correct_gradient_passes_at_large_x(x0, fast):
    r = ag.gradcheck(_sum_sin, [_around(x0)], fast=fast, threshold=1e-7, rng=0)
    assert r.passed, str(r)


@pytest.mark.parametrize("tensor", [False, True])
def test_float32_inputs_at_large_x_pass(tensor):
    x = np.array([1234.5, 3.0e6, 300.25, 2.0 ** 24], dtype=np.float32)
    r = ag.gradcheck(_sum_sin, [ag.Tensor(x) if tensor else x])
    assert r.passed, str(r)
    worst = r.inputs[0].worst_entry
    assert r.inputs[0].analytic == pytest.approx(np.cos(x.astype(np.float64))[worst], rel=1e-12)


@pytest.mark.parametrize("fast", [False, True])
def test_a_pytree_with_large_and_small_leaves(fast):
    params = {"w": np.array([1e8, -3e6]), "b": np.array([0.25, -1.5])}

    def f(p):
        return ag.sum(ag.sin(p["w"])) + ag.sum(p["b"] ** 3)
    assert ag.gradcheck(f, [params], fast=fast, rng=0).passed

    wrong = _scaled_sin(1 + 1e-3)
    r = ag.gradcheck(lambda p: wrong(p["w"]) + ag.sum(p["b"] ** 3), [params], fast=fast, rng=0)
    assert not r.passed and [c.name for c in r.inputs if c.error > c.bound] == ["w"], str(r)


# --- the number stays the formula ------------------------------------------------------------------
@pytest.mark.parametrize("x0", [1.0, 1234.5, 1e8])
def test_difference_is_the_seeds_formula_over_two_eps(x0):
    x = _around(x0)
    expected = _relative(np.cos(x), _seeds_differences(x))
    r = ag.gradcheck(_sum_sin, [x])
    assert r.difference == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert r.inputs[0].difference == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert r.passed, str(r)
    # the verdict's own number is over the steps taken
    assert r.judged == pytest.approx(_relative(np.cos(x), _seeds_differences(x, taken=True)), rel=1e-6, abs=1e-15)


def test_fast_mode_difference_is_the_formula_along_the_direction():
    x = _around(1e8)
    r = ag.gradcheck(_sum_sin, [x], fast=True, rng=0)
    u = np.random.default_rng(0).standard_normal(x.shape)
    u /= np.linalg.norm(u)
    numeric = (np.sum(np.sin(x + EPS * u)) - np.sum(np.sin(x - EPS * u))) / (2 * EPS)
    slope = np.sum(np.cos(x) * u)
    assert r.difference == pytest.approx(abs(slope - numeric) / (abs(slope) + abs(numeric)), rel=1e-6)
    assert r.difference > 1e-3 and r.passed, str(r)  # (the steps are 4% off 2 eps here)


# --- x + eps rounding to x: nothing measured -----------------------------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_an_entry_whose_step_rounds_to_zero_fails_with_a_note(fast):
    x = np.array([0.5, 1.5 * 2.0 ** 30])
    assert x[1] + EPS == x[1]
    r = ag.gradcheck(_sum_sin, [x], fast=fast, rng=0)
    assert not r.passed and r.inputs[0].unchecked == [(1,)]
    text = str(r)
    assert "x + eps rounds to x at 1 entry ((1,))" in text and "pass a" in text and "larger eps" in text
    assert ag.gradcheck(_sum_sin, [x], eps=1e-5, fast=fast, rng=0).passed  # as the note says


# --- the report ----------------------------------------------------------------------------------
def test_report_gives_the_difference_over_the_steps_taken_when_it_decides():
    r = ag.gradcheck(_sum_sin, [_around(1e8)])
    text = str(r)
    assert r.passed and r.difference > r.threshold > r.judged
    assert "over the steps taken" in text.splitlines()[0]
    assert "the verdict divides by the step each entry took" in text
    assert "caution" not in text and "FAIL" not in text


def test_report_of_an_ordinary_check_has_no_step_note():
    r = ag.gradcheck(_sum_sin, [np.array([1.5, 1.8])])
    assert r.passed and "step" not in str(r)
