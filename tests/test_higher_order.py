"""grad / value_and_grad / hvp: first order, nesting, and second derivatives
against closed forms and finite differences."""
import numpy as np
import pytest

import autograd_lite as ag


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("f,second_derivative,x0", [
    (lambda x: x ** 3, lambda x: 6 * x, 1.7),
    (ag.exp, np.exp, 0.4),
    (ag.log, lambda x: -1 / x ** 2, 2.5),
    (ag.sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 - 2 * sigmoid(x)), 0.3),
    (ag.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), -0.6),
    (ag.sqrt, lambda x: -0.25 * x ** -1.5, 1.3),
    (lambda x: 1 / x, lambda x: 2 / x ** 3, 0.8),
    (lambda x: ag.square(x) * ag.exp(x), lambda x: (x ** 2 + 4 * x + 2) * np.exp(x), 0.5),
])
def test_second_derivative_matches_closed_form(f, second_derivative, x0):
    d2 = ag.grad(ag.grad(lambda x: f(x).sum()))(np.array(x0))
    assert d2 == pytest.approx(second_derivative(x0), rel=1e-12)


def test_third_derivative_of_a_cube():
    d3 = ag.grad(ag.grad(ag.grad(lambda x: (x ** 3).sum())))(np.array(2.0))
    assert d3 == pytest.approx(6.0)


def test_grad_returns_ndarrays_and_value_and_grad_the_value():
    w = np.array([[1.0, -2.0]])
    value, g = ag.value_and_grad(lambda w: (w * w).sum())(w)
    assert value == 5.0 and isinstance(g, np.ndarray)
    np.testing.assert_array_equal(g, 2 * w)


def test_argnums_tuple_and_unused_argument():
    f = lambda x, y, z: (x * y).sum()  # noqa: E731
    gx, gz = ag.grad(f, argnums=(0, 2))(np.array([2.0]), np.array([3.0]), np.array([4.0]))
    np.testing.assert_array_equal(gx, [3.0])
    np.testing.assert_array_equal(gz, [0.0])


def test_grad_does_not_touch_leaf_grads():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    ag.grad(lambda x: (x * w).sum())(np.array([3.0, 4.0]))
    assert w.grad is None


def test_mixed_partial_derivative():
    # d/dy (d/dx x^2 y^3) = 6 x y^2
    def df_dx(x, y):
        return ag.grad(lambda x, y: (x ** 2 * y ** 3).sum())(x, y)
    d2 = ag.grad(lambda x, y: df_dx(x, y).sum(), argnums=1)(np.array(1.5), np.array(2.0))
    assert d2 == pytest.approx(6 * 1.5 * 2.0 ** 2)


def test_second_derivative_through_matmul_and_broadcasting():
    # f(w) = sum((X w + b)^3): Hessian diagonal-free check via hvp against finite differences.
    rng = np.random.default_rng(1)
    X, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 1))
    f = lambda w: ((X @ w + b) ** 3).sum()  # noqa: E731
    w0, v = rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
    hessian = X.T @ np.diag((6 * (X @ w0 + b)).ravel()) @ X
    np.testing.assert_allclose(ag.hvp(f)(w0, v), hessian @ v, rtol=1e-10)


def test_second_derivative_through_linear_matches_the_written_expression_and_finite_differences():
    rng = np.random.default_rng(2)
    X, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 1))
    w0, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    fused = ag.hvp(lambda w: ag.tanh(ag.linear(w, X, b)).sum())(w0, v)
    written = ag.hvp(lambda w: ag.tanh(w @ X + b).sum())(w0, v)
    np.testing.assert_allclose(fused, written, rtol=1e-12, atol=1e-14)
    gradient = ag.grad(lambda w: ag.tanh(w @ X + b).sum())
    eps = 1e-6
    np.testing.assert_allclose(fused, (gradient(w0 + eps * v) - gradient(w0 - eps * v)) / (2 * eps), rtol=1e-6)


def test_hvp_of_the_regularized_cost_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(2, 9)), (rng.uniform(size=(1, 9)) > 0.5).astype(float)
    W2, b1, b2 = rng.normal(size=(1, 4)), rng.normal(size=(4, 1)), rng.normal(size=(1, 1))

    def cost(W1):
        A1 = ag.tanh(W1 @ X + b1)
        A2 = ag.sigmoid(W2 @ A1 + b2)
        return ag.binary_cross_entropy(A2, Y) + ag.l2_penalty([W1, W2], lambd=0.7, m=9)

    W1, v = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    eps = 1e-5
    gradient = ag.grad(cost)
    finite = (gradient(W1 + eps * v) - gradient(W1 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(ag.hvp(cost)(W1, v), finite, rtol=1e-6, atol=1e-9)


def test_first_order_path_builds_no_graph_for_gradients():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    (ag.sigmoid(x) * 3).sum().backward()
    assert type(x.grad) is np.ndarray


def test_create_graph_backward_gives_differentiable_grad():
    x = ag.Tensor([1.5], requires_grad=True)
    y = (x ** 3).sum()
    (g,) = ag.tape.backward(y, ag.Tensor(1.0), inputs=[x], create_graph=True)
    assert isinstance(g, ag.Tensor) and g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * 1.5)
