"""gradcheck / numerical_gradient at inputs that are not C-ordered, the per-leaf verdict of
gradcheck and compare_gradients, and formula's L2 penalties of different strength.

Expected gradients come from the math (d/dW sum(W**2) = 2W, d/dx sum(sin(x) * y) = cos(x) * y)."""
import numpy as np
import pytest

import autograd_lite as ag


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
                     r" + \frac{0.5}{2 \cdot 1000}\Vert W^{[1]}\Vert^2 + \frac{3}{2 \cdot 5}\Vert W^{[2]}\Vert^2")
    # one lambda, an m of its own: lambda stays a symbol
    assert ag.formula(_cost_terms((0.7, 1000))).endswith(r" + \frac{\lambda}{2 \cdot 1000}\Vert W^{[1]}\Vert^2")


def test_formula_counts_only_the_terms_it_prints_and_forgets_them_afterwards():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    named = ag.l2_penalty([W], 3.0, 9)
    named.name = "R"
    J = ag.l2_penalty([W], 0.5, 10) + named
    assert ag.formula(J) == r"\frac{\lambda}{2m}\Vert W\Vert^2 + R"  # R's lambda is not printed
    assert ag.formula(J, expand=True) == r"\frac{0.5}{2 \cdot 10}\Vert W\Vert^2 + \frac{3}{2 \cdot 9}\Vert W\Vert^2"
    assert ag.formula(ag.l2_penalty([W], 0.5, 10)) == r"\frac{\lambda}{2m}\Vert W\Vert^2"
