"""Round 17 (adv86 findings 2-4 and the report label): gradcheck and gradgradcheck verdicts.

The gradients compared are built by hand: a primitive whose VJP is wrong by a known factor, the
true derivative from the math (d/dx sum(x**2) = 2x; d/db sum((XW + b) T) = column sums of T, 0
for centred T). Nothing here takes autograd_lite's own gradient as the truth.
"""
import numpy as np
import pytest

import autograd_lite as ag


def _doubled(value):
    """A primitive computing ``value(x)`` (a sum) whose VJP ``dvalue(g, x)`` is given: the test's
    hand-made autodiff side."""
    def make(dvalue):
        @ag.primitive
        def op(x):
            return value(x)
        op.defvjp(lambda g, out, x: dvalue(g, x))
        return op
    return make


badsq = _doubled(lambda x: np.sum(x ** 2))(lambda g, x: g * 4 * x)          # true VJP: 2 x
badlin = _doubled(lambda x: np.sum(x))(lambda g, x: g * 2 * np.ones_like(x))  # true VJP: 1
goodlin = _doubled(lambda x: np.sum(x))(lambda g, x: g * np.ones_like(x))


# --- finding 2: a zero gradient computed as a rounding residue is not failed -----------------------
def _zero_init_layer(seed, x_scale):
    """f(W, b) = sum((X W + b) T) at W = 0, b = 0 with centred columns of T: d f / d b is the
    column sums of T, 0 in exact math, a rounding residue on both sides."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((16, 3)) * x_scale
    T = r.standard_normal((16, 2))
    T = T - T.mean(axis=0)
    return (lambda W, b: ag.sum((X @ W + b) * T)), [np.zeros((3, 2)), np.zeros(2)], T


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("x_scale", [1.0, 1e-3])
def test_gradcheck_passes_a_zero_bias_gradient_next_to_weights_at_zero_init(fast, x_scale):
    for seed in range(20):
        f, inputs, T = _zero_init_layer(seed, x_scale)
        assert np.all(np.abs(T.sum(axis=0)) < 1e-14)      # the exact gradient of b is ~0
        r = ag.gradcheck(f, inputs, fast=fast, rng=seed)
        assert r.passed, str(r)


def test_gradcheck_zero_bias_leaf_is_judged_by_its_noise_bound_and_the_report_says_so():
    f, inputs, _ = _zero_init_layer(0, 1.0)
    r = ag.gradcheck(f, inputs)
    b = r.inputs[1]
    assert b.difference > r.threshold and b.error <= b.bound     # noise over noise, not counted
    assert "not counted" in str(r).splitlines()[2]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("eps", [1e-7, 1e-3])
@pytest.mark.parametrize("k", [1e-13, 1e-10])
def test_gradcheck_fails_a_tiny_gradient_wrong_by_2_that_the_differences_resolve(fast, eps, k):
    # f = sum(W C) + k sum(b) at W = 0: b's gradient k is 1e-13 of W's, yet f's values are ~k, so
    # the differences resolve it exactly; a VJP of 2k is wrong, the zero-gradient rule must not hide it
    C = np.random.default_rng(0).standard_normal((3, 3))
    num = ag.numerical_gradient(lambda W, b: ag.sum(W * C) + k * ag.sum(b), [np.zeros((3, 3)), np.ones(3)],
                                eps=eps)[1]
    assert np.allclose(num, k, rtol=1e-6)
    wrong = ag.gradcheck(lambda W, b: ag.sum(W * C) + k * badlin(b), [np.zeros((3, 3)), np.ones(3)],
                         eps=eps, fast=fast)
    assert not wrong.passed, str(wrong)
    right = ag.gradcheck(lambda W, b: ag.sum(W * C) + k * goodlin(b), [np.zeros((3, 3)), np.ones(3)],
                         eps=eps, fast=fast)
    assert right.passed, str(right)


# --- finding 3: fast mode measures the truncation as full mode does ---------------------------------
@pytest.mark.parametrize("eps", [1e-4, 1e-3])
def test_gradcheck_fast_with_a_larger_eps_fails_a_small_gradient_wrong_by_2(eps):
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    r = ag.gradcheck(lambda W, b: 1e6 * (W ** 2).sum() + 1e-3 * badsq(b), [W, b], eps=eps, fast=True)
    assert not r.passed, str(r)
    assert "input 1 x1" in str(r).splitlines()[0]   # b alone fails: its slope 4e-3 b.u against 2e-3 b.u
    assert r.inputs[1].analytic == pytest.approx(2 * r.inputs[1].numeric, rel=1e-3)


@pytest.mark.parametrize("eps", [1e-4, 1e-3])
def test_gradcheck_fast_with_a_larger_eps_passes_the_correct_gradient(eps):
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    for seed in range(5):
        r = ag.gradcheck(lambda W, b: 1e6 * (W ** 2).sum() + 1e-3 * (b ** 2).sum(), [W, b], eps=eps,
                         fast=True, rng=seed)
        assert r.passed, str(r)


# --- finding 4: gradgradcheck at a leaf's stationary point -------------------------------------------
def _sq_with_second_derivative(factor):
    """y ** 2 whose VJP is 2 y (right), computed by a primitive whose own VJP is ``factor`` (true: 2)."""
    @ag.primitive
    def twoy(x):
        return 2 * x
    twoy.defvjp(lambda g, out, x: g * factor)

    @ag.primitive
    def sq(x):
        return x ** 2
    sq.defvjp(lambda g, out, x: g * twoy(x))
    return sq


@pytest.mark.parametrize("w", [60.0, 200.0])
def test_gradgradcheck_fails_a_wrong_hessian_of_a_leaf_at_its_stationary_point(w):
    # y = 0: y's gradient 2 y at y +- eps v is 2 eps v, computed on its own (exact to ~1e-22), far
    # below 2 ** -40 of W's (~1e9 to 1e10); the Hessian-vector product is 4 v against the true 2 v
    wrong, right = _sq_with_second_derivative(4.0), _sq_with_second_derivative(2.0)
    y, W = np.zeros(2), np.full((2, 2), w)
    r = ag.gradgradcheck(lambda W, y: 1e3 * (W ** 2).sum() ** 2 + wrong(y).sum(), [W, y])
    assert not r.passed, str(r)
    assert "input 1 x1" in str(r).splitlines()[0]
    assert r.inputs[1].analytic == pytest.approx(2 * r.inputs[1].numeric, rel=1e-6)
    ok = ag.gradgradcheck(lambda W, y: 1e3 * (W ** 2).sum() ** 2 + right(y).sum(), [W, y])
    assert ok.passed, str(ok)


def test_gradgradcheck_still_excuses_a_bias_whose_gradient_is_zero_by_symmetry_at_several_seeds():
    # softmax is unchanged by shifting every logit: d cost / d b is 0 everywhere, so its gradient
    # at x +- eps v is a residue and its central difference noise (relative difference ~1)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        W, x, labels = rng.standard_normal((3, 4)), rng.standard_normal((4, 6)), rng.integers(0, 3, 6)
        r = ag.gradgradcheck(lambda W, b: ag.cross_entropy(W @ x + b, labels), [W, np.array(0.3)], rng=seed)
        assert r.passed, str(r)


# --- minor: gradgradcheck's rows show the worst entries, and say so ---------------------------------
def test_gradgradcheck_report_rows_name_their_worst_entry_and_fast_rows_their_direction():
    y, W = np.zeros(2), np.full((2, 2), 60.0)
    f = lambda W, y: 1e3 * (W ** 2).sum() ** 2 + (y ** 2).sum()  # noqa: E731
    r = ag.gradgradcheck(f, [W, y])
    rows = str(r).splitlines()[1:3]
    for row, c in zip(rows, r.inputs):
        assert f"worst entry {c.worst_entry}: autodiff" in row and "along the direction" not in row
    fast = str(ag.gradcheck(f, [W, y], fast=True)).splitlines()[1:3]
    assert all("along the direction: autodiff" in row for row in fast)
