"""gradgradcheck after adv101 (review of 395e278, the verdict along the displacement taken).

1. An entry where x + eps v rounds to x (v one unit vector over all entries, so with many entries
   some v_k are tiny) is not displaced: the comparison along t = (x + eps v) - (x - eps v) stays
   exact there, so a correct Hessian passes (sum(x ** 2): Hessian 2I).
2. The bound's share for the displacement's midpoint being off x is charged per entry, at the
   entry's own leaf's scale: a leaf at 2 ** 26 with gradient 1.3e8 no longer excuses another leaf.
3. The truncation bound is per leaf too: exp(25)'s scale no longer excuses another leaf.

Expected verdicts from the math: sin's second derivative is -sin, so one scaled by 1.1, 2 or -1 is
wrong (by 0.1, 1 and 2 times |sin b| at 50 entries in [-3, 3], far beyond the threshold)."""
import numpy as np
import pytest

import autograd_lite as ag
from tests.test_gradgradcheck_taken_step import _sin_scaled_second as _sum_sin_scaled_second

EPS = 1e-6  # gradgradcheck's default (its second derivative -sin(x) * factor: _sum_sin_scaled_second)


# --- 1. a tiny component of the direction: that entry is not displaced, the leaf still checked ------
def test_correct_hessian_of_a_million_ordinary_entries_passes():
    x = np.random.default_rng(1).uniform(50, 100, 10 ** 6)
    v = np.random.default_rng(0).standard_normal(x.size)  # (gradgradcheck's direction at rng=None)
    v /= np.linalg.norm(v)
    assert np.any(x + EPS * v == x)  # (the situation: some entries take no step)
    r = ag.gradgradcheck(lambda t: ag.sum(t ** 2), [x])
    assert r.passed and r.inputs[0].unchecked == [], str(r)


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_correct_hessian_of_1e4_large_entries_passes_for_a_seeded_direction(seed):
    x = np.random.default_rng(1).uniform(5000, 10000, 10 ** 4)
    v = np.random.default_rng(seed).standard_normal(x.size)
    v /= np.linalg.norm(v)
    assert np.any(x + EPS * v == x)
    r = ag.gradgradcheck(lambda t: ag.sum(t * t) * 1e-8, [x], rng=np.random.default_rng(seed))
    assert r.passed, str(r)


def test_a_wrong_hessian_still_fails_where_some_entries_take_no_step():
    x = np.random.default_rng(1).uniform(5000, 10000, 10 ** 4)
    r = ag.gradgradcheck(_sum_sin_scaled_second(1.01), [x], rng=np.random.default_rng(1))
    assert not r.passed and r.inputs[0].error > r.inputs[0].bound, str(r)


# --- 2. a leaf at a power of two (its midpoint off x, gradient 1.3e8) excuses no other leaf ---------
@pytest.mark.parametrize("factor", [1.1, 2.0, -1.0])
def test_wrong_second_derivative_fails_next_to_a_power_of_two_leaf(factor):
    wrong = _sum_sin_scaled_second(factor)
    p = {"a": np.array([2.0 ** 26]), "b": np.linspace(-3, 3, 50)}
    r = ag.gradgradcheck(lambda q: ag.sum(q["a"] ** 2) + wrong(q["b"]), [p])
    assert not r.passed, str(r)
    assert [c.name for c in r.inputs if c.error > c.bound] == ["b"], str(r)


def test_correct_second_derivative_next_to_a_power_of_two_leaf_passes():
    right = _sum_sin_scaled_second(1.0)
    p = {"a": np.array([2.0 ** 26]), "b": np.linspace(-3, 3, 50)}
    r = ag.gradgradcheck(lambda q: ag.sum(q["a"] ** 2) + right(q["b"]), [p])
    assert r.passed, str(r)


# --- 3. a leaf with a large gradient (exp(25) = 7.2e10) widens no other leaf's truncation bound -----
def test_wrong_second_derivative_fails_next_to_a_leaf_with_a_large_gradient():
    wrong = _sum_sin_scaled_second(1.1)
    p = {"a": np.array([25.0]), "b": np.linspace(-3, 3, 50)}
    r = ag.gradgradcheck(lambda q: ag.sum(ag.exp(q["a"])) + wrong(q["b"]), [p])
    assert not r.passed, str(r)  # (torch.autograd.gradgradcheck fails it too)
    assert [c.name for c in r.inputs if c.error > c.bound] == ["b"], str(r)


def test_correct_second_derivative_next_to_a_leaf_with_a_large_gradient_passes():
    right = _sum_sin_scaled_second(1.0)
    p = {"a": np.array([25.0]), "b": np.linspace(-3, 3, 50)}
    assert ag.gradgradcheck(lambda q: ag.sum(ag.exp(q["a"])) + right(q["b"]), [p]).passed
