"""gradcheck at inputs of a few hundred and more (adv93, finding 1): x + eps and x - eps are rounded
to float64, so the step a central difference takes, h = (x + eps) - (x - eps), is not 2 eps, and the
difference over 2 eps is off by up to ~1.1e-9 |x| of itself. The verdict allows for that error (known
per entry); ``.difference`` stays SEEDS section 6's formula, over 2 eps.

Expected values come from the math: d/dx sum(sin x) = cos x (NumPy's cos), and the central
differences are formed here with NumPy."""
import numpy as np
import pytest

import autograd_lite as ag

EPS = 1e-7


def _sum_sin(x):
    return ag.sum(ag.sin(x))


def _scaled_sin(factor):
    """sum(sin x) whose VJP is cos(x) * factor (wrong unless factor is 1)."""
    @ag.primitive
    def sin(x):
        return np.sin(x)
    sin.defvjp(lambda g, out, x: g * np.cos(x) * factor)
    return lambda x: ag.sum(sin(x))


def _central_differences(x):
    """SEEDS section 6's gradapprox of sum(sin x), in NumPy: (J(x + eps e_i) - J(x - eps e_i)) / (2 eps)."""
    out = np.empty_like(x)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus[i] += EPS
        minus[i] -= EPS
        out[i] = (np.sum(np.sin(plus)) - np.sum(np.sin(minus))) / (2 * EPS)
    return out


def _relative(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


# --- the pending tests of adv93, adapted -------------------------------------------------------
@pytest.mark.parametrize("x0", [300.0, 1000.0, 1234.5])
def test_gradcheck_passes_correct_gradient_at_large_inputs(x0):
    # the only error of the central difference is the rounded step (relative ~1e-9 |x|)
    r = ag.gradcheck(_sum_sin, [np.array([x0, x0 + 1.3])])
    assert r.passed, str(r)


def test_gradcheck_difference_small_for_correct_gradient_at_large_inputs():
    # central differences over the step actually taken agree with cos to ~1e-10
    x = np.array([1234.5, 1235.8])
    numeric = (np.sin(x + EPS) - np.sin(x - EPS)) / ((x + EPS) - (x - EPS))
    assert _relative(np.cos(x), numeric) < 1e-9
    r = ag.gradcheck(_sum_sin, [x])
    assert r.passed and (r.difference < 1e-7 or r.inputs[0].error <= r.inputs[0].bound), str(r)


# --- the number stays the formula; only the verdict allows for the step --------------------------
def test_difference_is_still_the_seeds_formula_over_two_eps():
    x = np.array([1234.5, 1235.8])
    expected = _relative(np.cos(x), _central_differences(x))
    assert expected > 1e-7  # over the threshold: the verdict, not the number, passes it
    r = ag.gradcheck(_sum_sin, [x])
    assert r.difference == pytest.approx(expected, rel=1e-6)
    assert r.passed, str(r)


def test_stepping_is_the_rounded_steps_share_of_the_differences():
    x = np.array([1234.5, 1235.8, -987.6])
    taken = (x + EPS) - (x - EPS)
    share = np.abs(taken - 2 * EPS) / np.minimum(taken, 2 * EPS)
    assert np.all(share > 1e-7)  # the steps really are off 2 eps here
    expected = np.linalg.norm(np.abs(_central_differences(x)) * share)
    r = ag.gradcheck(_sum_sin, [x])
    assert r.inputs[0].stepping == pytest.approx(expected, rel=1e-9)
    # what the differences miss cos by is that rounding (to 1e-9 of it, f's values' rounding)
    assert np.linalg.norm(_central_differences(x) - np.cos(x)) <= expected * (1 + 1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tensor", [False, True])
def test_float32_and_float64_inputs_at_large_x_pass(dtype, tensor):
    x = np.array([1234.5, 1235.8, 300.25], dtype=dtype)
    r = ag.gradcheck(_sum_sin, [ag.Tensor(x) if tensor else x])
    assert r.passed, str(r)
    worst = r.inputs[0].worst_entry
    assert r.inputs[0].analytic == pytest.approx(np.cos(x.astype(np.float64))[worst], rel=1e-12)


def test_fast_mode_at_a_strict_threshold_allows_for_the_rounded_steps():
    r = ag.gradcheck(_sum_sin, [np.array([1234.5, 1235.8])], fast=True, threshold=1e-7)
    assert r.passed, str(r)
    assert r.inputs[0].stepping > 0


# --- wrong gradients still fail at large x -------------------------------------------------------
@pytest.mark.parametrize("x0", [300.0, 1000.0, 1234.5])
@pytest.mark.parametrize("fast", [False, True])
def test_gradient_wrong_by_1e_5_still_fails_at_large_x(x0, fast):
    x = np.array([x0, x0 + 1.3, x0 + 2.9])
    r = ag.gradcheck(_scaled_sin(1 + 1e-5), [x], fast=fast, threshold=1e-7)
    assert not r.passed, str(r)
    assert r.inputs[0].error > r.inputs[0].bound


@pytest.mark.parametrize("x0", [300.0, 1000.0, 1234.5])
@pytest.mark.parametrize("fast", [False, True])
def test_sign_error_in_one_entry_still_fails_at_large_x(x0, fast):
    @ag.primitive
    def sin(x):
        return np.sin(x)
    sin.defvjp(lambda g, out, x: g * np.cos(x) * np.array([1.0, -1.0, 1.0]))  # entry 1's sign wrong
    r = ag.gradcheck(lambda x: ag.sum(sin(x)), [np.array([x0, x0 + 1.3, x0 + 2.9])], fast=fast)
    assert not r.passed, str(r)
    if not fast:
        assert r.inputs[0].worst_entry == (1,)
        assert r.inputs[0].numeric == pytest.approx(np.cos(x0 + 1.3), rel=1e-5)


def test_at_ordinary_x_the_allowance_is_negligible_and_a_1e_6_error_fails():
    x = np.array([1.5, -0.7, 2.2])
    assert ag.gradcheck(_sum_sin, [x]).inputs[0].stepping < 1e-8 * np.linalg.norm(np.cos(x))
    assert not ag.gradcheck(_scaled_sin(1 + 1e-6), [x]).passed


# --- the report says why -------------------------------------------------------------------------
def test_report_says_a_pass_needs_the_rounded_step_allowed_for():
    text = str(ag.gradcheck(_sum_sin, [np.array([1234.5, 1235.8])]))
    assert "passed" in text and "x +- eps rounds at these magnitudes" in text
    assert "passes only with that allowed for" in text


def test_report_of_an_ordinary_pass_has_no_step_note():
    r = ag.gradcheck(_sum_sin, [np.array([1.5, 1.8])])
    assert r.passed and "rounds at these magnitudes" not in str(r)


def test_report_of_a_failure_near_the_step_rounding_names_it():
    # wrong by 3e-6: its error is within 10 times what the rounded step can do at |x| ~ 1234
    r = ag.gradcheck(_scaled_sin(1 + 3e-6), [np.array([1234.5, 1235.8])])
    assert not r.passed
    assert r.inputs[0].error <= 10 * r.inputs[0].stepping
    text = str(r)
    assert "x +- eps rounds at these magnitudes" in text and "a larger eps makes it smaller" in text


def test_report_of_a_failure_far_beyond_the_step_rounding_has_no_step_note():
    r = ag.gradcheck(_scaled_sin(-1.0), [np.array([1234.5, 1235.8])])
    assert not r.passed and "rounds at these magnitudes" not in str(r)
