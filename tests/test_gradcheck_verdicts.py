"""gradcheck / numerical_gradient at inputs that are not C-ordered, the per-leaf verdict of
gradcheck and compare_gradients, and formula's L2 penalties of different strength.

Expected gradients come from the math (d/dW sum(W**2) = 2W, d/dx sum(sin(x) * y) = cos(x) * y)."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.testing import assert_gradients_close


# --- inputs that are not C-ordered: every entry's perturbation must reach f --------------------
def _transposed():
    W = np.arange(1.0, 7.0).reshape(3, 2).T  # (2, 3), F-ordered, as any .T and the data loaders' arrays
    assert W.flags["F_CONTIGUOUS"] and not W.flags["C_CONTIGUOUS"]
    return W


def _permuted():
    x = np.linspace(-1.0, 1.3, 24).reshape(2, 3, 4).transpose(1, 0, 2)  # neither C- nor F-ordered
    assert not (x.flags["C_CONTIGUOUS"] or x.flags["F_CONTIGUOUS"])
    return x


@pytest.mark.parametrize("make", [_transposed, _permuted])
def test_numerical_gradient_at_a_non_c_ordered_array_is_the_derivative(make):
    x = make()
    y = np.cos(np.arange(x.size, dtype=float)).reshape(x.shape)  # entries all different: order shows
    g = ag.numerical_gradient(lambda t: (ag.sin(t) * y).sum(), [x])[0]
    np.testing.assert_allclose(g, np.cos(x) * y, rtol=1e-6, atol=1e-8)


def test_gradcheck_of_a_correct_gradient_at_a_transposed_array_passes_without_kinks():
    r = ag.gradcheck(lambda w: (w ** 2).sum(), [_transposed()])
    assert r.passed, str(r)
    assert r.kinks == []
    assert r.inputs[0].numeric == pytest.approx(2 * _transposed()[r.inputs[0].worst_entry], rel=1e-6)


def test_gradcheck_at_a_transposed_tensor_and_a_dict_of_them_passes():
    W, x = _transposed(), _permuted()
    assert ag.gradcheck(lambda w: (w ** 3).sum(), [ag.Tensor(W)]).passed
    r = ag.gradcheck(lambda p: (p["W"] ** 2).sum() + (ag.sin(p["x"]) * 3.0).sum(),
                     [{"W": ag.Tensor(W), "x": x}])
    assert r.passed, str(r)
    grads = ag.numerical_gradient(lambda p: (p["W"] ** 2).sum() + (ag.sin(p["x"]) * 3.0).sum(),
                                  [{"W": W, "x": x}])[0]
    np.testing.assert_allclose(grads["W"], 2 * W, rtol=1e-6)
    np.testing.assert_allclose(grads["x"], 3 * np.cos(x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [_transposed, _permuted])
def test_gradcheck_fails_a_zero_vjp_at_a_non_c_ordered_array(make):
    @ag.primitive
    def cube(x):
        return x ** 3
    cube.defvjp(lambda g, out, x: 0 * g)  # wrong: the derivative is 3 x ** 2
    r = ag.gradcheck(lambda x: cube(x).sum(), [make()])
    assert not r.passed, str(r)
    assert r.difference == pytest.approx(1.0)  # autodiff 0 against numerical 3 x ** 2: nothing shared


# --- formula: an L2 penalty prints the cost it records ------------------------------------------
def _cost_terms(*penalties, examples=5):
    """binary_cross_entropy over ``examples`` columns plus an L2 penalty per (lambd, m) of ``penalties``."""
    W1 = ag.Tensor(np.ones((3, 4)), requires_grad=True, name="W1")
    W2 = ag.Tensor(np.ones((1, 3)), requires_grad=True, name="W2")
    A = ag.sigmoid(W2 @ ag.relu(W1 @ np.ones((4, examples))))
    A.name = "A2"
    J = ag.binary_cross_entropy(A, (np.arange(examples) % 2)[None, :])
    for W, (lambd, m) in zip([W1, W2], penalties):
        J = J + ag.l2_penalty([W], lambd, m)
    return J


CE_OVER_M = r"-\frac{1}{m}\sum\left(Y\log A^{[2]} + (1 - Y)\log(1 - A^{[2]})\right)"


def test_formula_keeps_the_symbols_when_the_cost_has_one_lambda_and_one_m():
    assert ag.formula(_cost_terms((0.7, 5), (0.7, 5))) == (
        CE_OVER_M + r" + \frac{\lambda}{2m}\Vert W^{[1]}\Vert^2 + \frac{\lambda}{2m}\Vert W^{[2]}\Vert^2")


def test_formula_writes_penalties_of_different_lambda_with_their_values():
    assert ag.formula(_cost_terms((0.5, 5), (3.0, 5))) == (
        CE_OVER_M + r" + \frac{0.5}{2m}\Vert W^{[1]}\Vert^2 + \frac{3}{2m}\Vert W^{[2]}\Vert^2")


def test_formula_writes_every_m_when_a_penalty_has_another_m_than_the_cross_entropy():
    latex = ag.formula(_cost_terms((0.5, 1000), (3.0, 5)))
    assert latex == (r"-\frac{1}{5}\sum\left(Y\log A^{[2]} + (1 - Y)\log(1 - A^{[2]})\right)"
                     r" + \frac{0.5}{2 \cdot 1000}\Vert W^{[1]}\Vert^2"
                     r" + \frac{3}{2 \cdot 5}\Vert W^{[2]}\Vert^2")
    # one lambda, an m of its own: lambda stays a symbol
    one_lambda = ag.formula(_cost_terms((0.7, 1000)))
    assert one_lambda.endswith(r" + \frac{\lambda}{2 \cdot 1000}\Vert W^{[1]}\Vert^2")


def test_formula_counts_only_the_terms_it_prints_and_forgets_them_afterwards():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    named = ag.l2_penalty([W], 3.0, 9)
    named.name = "R"
    J = ag.l2_penalty([W], 0.5, 10) + named
    assert ag.formula(J) == r"\frac{\lambda}{2m}\Vert W\Vert^2 + R"  # R's lambda is not printed
    assert ag.formula(J, expand=True) == (r"\frac{0.5}{2 \cdot 10}\Vert W\Vert^2"
                                          r" + \frac{3}{2 \cdot 9}\Vert W\Vert^2")
    assert ag.formula(ag.l2_penalty([W], 0.5, 10)) == r"\frac{\lambda}{2m}\Vert W\Vert^2"


# --- the verdict counts every leaf on its own, above the noise of the comparison -----------------
def _mix(dy):
    """1e8 x + y as a custom op whose VJP for y is ``dy`` times the true one (1): y's gradient is
    1e-8 of x's, so y's error hides in the difference over both leaves."""
    @ag.primitive
    def mix(x, y):
        return 1e8 * x + y
    mix.defvjp(lambda g, out, x, y: 1e8 * g, lambda g, out, x, y: dy * g)
    return lambda x, y: (mix(x, y) ** 2).sum()


MIX_INPUTS = [np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.4, -0.7])]


def _consistent(report):
    """A report never says passed/match next to a row marked FAIL, nor FAILED/DIFFER without a cause."""
    text = str(report)
    assert ("FAIL" in text.splitlines()[0] or "DIFFER" in text) != report.passed
    if report.passed:
        assert "  FAIL" not in text
    return text


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_fails_when_a_small_input_gradient_is_off_by_a_factor_2(fast):
    # (rng=0: a direction along which y's part is measurable; along one where f's rounding swamps it,
    # y is unmeasured and the pooled difference decides, as docs/api.md says)
    r = ag.gradcheck(_mix(2.0), MIX_INPUTS, fast=fast, rng=0)
    assert r.difference < r.threshold  # the pooled measure alone would pass it
    assert r.inputs[1].difference == pytest.approx(1 / 3, rel=0.05)  # 2 g against g
    assert not r.passed
    text = _consistent(r)
    assert "input 1 x1" in text.splitlines()[0] and "FAIL" in text.splitlines()[2]


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_passes_the_same_correct_gradient_whose_small_input_carries_rounding_noise(fast):
    # f ~ 4e15: its differences are rounded to ~0.5 / 2e-7 = 2.5e6 while y's gradient is ~1e8, so
    # y's own relative difference is noise far above 1e-7 (see the full mode's assertion)
    r = ag.gradcheck(_mix(1.0), MIX_INPUTS, fast=fast)
    assert r.passed, str(r)
    if not fast:
        assert r.inputs[1].difference > 1e-3
        assert "not counted" in _consistent(r)


def test_gradcheck_passes_a_bias_whose_gradient_is_zero_by_symmetry():
    # softmax is unchanged by a shift of every logit: d cost / d b is exactly 0, computed as a
    # residue (~1e-17) by autodiff and as rounding noise by the differences: relative difference ~1
    rng = np.random.default_rng(0)
    W, x, labels = rng.standard_normal((3, 4)), rng.standard_normal((4, 6)), rng.integers(0, 3, 6)
    f = lambda W, b: ag.cross_entropy(W @ x + b, labels)  # noqa: E731
    for r in (ag.gradcheck(f, [W, np.array(0.3)]), ag.gradcheck(f, [W, np.array(0.3)], fast=True),
              ag.gradgradcheck(f, [W, np.array(0.3)])):
        assert r.passed, str(r)
        assert r.inputs[1].difference > r.threshold  # the leaf is judged by its noise bound
        _consistent(r)


def test_gradcheck_passes_a_relu_dead_layer_and_a_gradient_of_1e_minus_12_next_to_1e3():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) < 0.5).astype(float)
    params = {"W1": rng.standard_normal((4, 3)) * 0.1, "b1": np.full((4, 1), -10.0),  # no unit ever fires
              "W2": rng.standard_normal((1, 4)), "b2": np.array([[0.2]])}

    def cost(p):
        A1 = ag.relu(p["W1"] @ X + p["b1"])
        return ag.binary_cross_entropy(ag.sigmoid(p["W2"] @ A1 + p["b2"]), Y)
    r = ag.gradcheck(cost, [params])
    assert r.passed, str(r)
    assert all(c.error == 0.0 and c.analytic == 0.0 for c in r.inputs if c.name != "b2")  # exactly 0
    small = ag.gradcheck(lambda x, y: 500.0 * (x ** 2).sum() + 1e-12 * y.sum(),
                         [np.array([0.4, -0.9]), np.ones(3)])
    assert small.passed, str(small)
    assert small.inputs[1].difference > small.threshold  # 1e-12 is below f's rounding (~1e-13 / 1e-7)


def _unscaled_features_gradients(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((20, 2)) * 1e3, rng.standard_normal((20, 1)) * 1e-5  # dW, db


def test_compare_gradients_and_assert_gradients_close_fail_a_small_leaf_off_by_a_factor_2():
    dW, db = _unscaled_features_gradients()
    c = ag.compare_gradients({"W1": dW, "b1": 2 * db}, {"dW1": dW, "db1": db})
    assert c.difference < c.threshold and not c.passed
    assert "'b1'" in _consistent(c).splitlines()[0]
    with pytest.raises(AssertionError, match="b1"):
        assert_gradients_close({"W1": dW, "b1": 2 * db}, {"dW1": dW, "db1": db})


def test_a_leaf_at_the_threshold_fails_and_just_below_it_passes():
    dW, db = _unscaled_features_gradients()
    at = ag.compare_gradients({"W": dW, "b": db * 1.001}, {"W": dW, "b": db}).leaves[1].difference
    actual, expected = {"W": dW, "b": db * 1.001}, {"W": dW, "b": db}
    assert not ag.compare_gradients(actual, expected, threshold=at).passed
    assert ag.compare_gradients(actual, expected, threshold=np.nextafter(at, 1)).passed


@pytest.mark.parametrize("dtype, residue", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_compare_gradients_passes_a_zero_gradient_computed_as_a_rounding_residue(dtype, residue):
    dW, _ = _unscaled_features_gradients()
    zero, computed = np.zeros((20, 1)), np.zeros((20, 1))
    computed[3] = residue  # a sum of ~1e3 terms that cancel leaves ~1e3 * the dtype's roundoff
    c = ag.compare_gradients({"W": dW.astype(dtype), "b": computed.astype(dtype)},
                             {"W": dW.astype(dtype), "b": zero.astype(dtype)})
    assert c.leaves[1].difference == 1.0
    assert c.passed, str(c)
    assert "not counted" in _consistent(c)
    assert assert_gradients_close({"W": dW, "b": zero}, {"W": dW, "b": zero}).passed  # exact zeros


# --- adv85: a zero gradient made of rounding of sums; a small leaf's wrong Hessian ----------------
def test_compare_gradients_passes_correct_gradients_with_a_zero_bias_gradient_made_of_rounding():
    rng = np.random.default_rng(1)
    m = 400
    Xh = rng.standard_normal((3, m // 2)); Yh = (rng.random((1, m // 2)) < 0.5).astype(float)
    X = np.concatenate([Xh, -Xh], 1) * 1e-3; Y = np.concatenate([Yh, 1 - Yh], 1)   # db = 0 in exact math
    W = rng.standard_normal((1, 3)); b = np.zeros((1, 1))
    Wt, bt = ag.Tensor(W, requires_grad=True), ag.Tensor(b, requires_grad=True)
    ag.binary_cross_entropy(ag.sigmoid(Wt @ X + bt), Y).backward()
    dZ = 1 / (1 + np.exp(-(W @ X + b))) - Y
    hand = {"W": dZ @ X.T / m, "b": np.sum(dZ, axis=1, keepdims=True) / m}
    assert abs(hand["b"].item()) < 1e-15 and abs(bt.grad.item()) < 1e-15   # both rounding of an exact 0
    assert abs(hand["b"].item() - bt.grad.item()) > 0                       # and not the same rounding
    assert ag.compare_gradients({"W": Wt.grad, "b": bt.grad}, hand).passed
    assert_gradients_close({"W": Wt.grad, "b": bt.grad}, hand)


def _quartic_with_wrong_second_derivative():
    @ag.primitive
    def fourx3(x):                      # 4 x**3, VJP 24 x**2 (true: 12 x**2)
        return 4 * x ** 3
    fourx3.defvjp(lambda g, out, x: g * 24 * x ** 2)

    @ag.primitive
    def quartic(x):                     # x**4: first derivative right, second wrong by 2
        return x ** 4
    quartic.defvjp(lambda g, out, x: g * fourx3(x))
    return quartic


def test_gradgradcheck_fails_a_small_leaf_whose_hessian_is_wrong_by_2_next_to_a_large_gradient():
    quartic = _quartic_with_wrong_second_derivative()
    y, W = np.array([0.05, -0.035]), np.full((2, 2), 30.0)
    # y's gradient 4 y^3 is computed on its own: its central differences resolve 12 y^2 v to ~1e-9
    v = np.array([1.0, -1.0]) / np.sqrt(2)
    numeric = (4 * (y + 1e-6 * v) ** 3 - 4 * (y - 1e-6 * v) ** 3) / 2e-6
    assert np.allclose(numeric, 12 * y ** 2 * v, rtol=1e-6)
    assert not ag.gradgradcheck(lambda y: quartic(y).sum(), [y]).passed
    r = ag.gradgradcheck(lambda W, y: 1e3 * (W ** 2).sum() ** 2 + quartic(y).sum(), [W, y])
    assert not r.passed, str(r)


def test_gradgradcheck_passes_the_same_function_with_a_correct_second_derivative():
    y, W = np.array([0.05, -0.035]), np.full((2, 2), 30.0)
    assert ag.gradgradcheck(lambda W, y: 1e3 * (W ** 2).sum() ** 2 + (y ** 4).sum(), [W, y]).passed


# --- adv85: with a larger eps the truncation allowance is measured, not assumed from |f| ----------
def _badsq():
    @ag.primitive
    def badsq(x):
        return np.sum(x ** 2)
    badsq.defvjp(lambda g, out, x: g * 4 * x)   # true: 2 x
    return badsq


@pytest.mark.parametrize("eps", [1e-4, 1e-3])
def test_gradcheck_with_a_larger_eps_fails_a_small_gradient_wrong_by_2(eps):
    badsq = _badsq()
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    # the central differences resolve b's true gradient 2e-3 b to ~1e-5 absolute (f's rounding / eps)
    num = ag.numerical_gradient(lambda W, b: 1e6 * (W ** 2).sum() + 1e-3 * (b ** 2).sum(), [W, b], eps=eps)[1]
    assert np.allclose(num, 2e-3 * b, rtol=1e-3, atol=1e-5)
    r = ag.gradcheck(lambda W, b: 1e6 * (W ** 2).sum() + 1e-3 * badsq(b), [W, b], eps=eps)
    assert not r.passed, str(r)


@pytest.mark.parametrize("eps", [1e-4, 1e-3])
def test_gradcheck_with_a_larger_eps_passes_correct_small_gradients_of_a_curved_function(eps):
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    for f in (lambda W, b: 1e6 * (W ** 2).sum() + 1e-3 * (b ** 2).sum(),
              lambda W, b: 1e6 * ag.exp(3 * W).sum() + 1e-3 * ag.sin(5 * b).sum() + 1e-9 * (b ** 4).sum()):
        assert ag.gradcheck(f, [W, b], eps=eps, threshold=1e-4).passed
