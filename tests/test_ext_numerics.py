"""Issue 12's numerics items that live in the op table and functional.py, each against
HIPS autograd or a closed form: x ** 0 at 0, concatenate(axis=None) and many-input
concatenate/stack backward, binary cross-entropy's Hessian, saturation and retain_grad."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import autograd_lite as ag


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, 0.5])
def test_power_gradient_at_zero_matches_hips_autograd(p):
    x = np.array([0.0, 1.5, 2.0])
    f = lambda x: ag.sum(x ** p)  # noqa: E731
    expected = autograd.grad(lambda x: anp.sum(x ** p))(x)
    np.testing.assert_array_equal(ag.grad(f)(x), expected)
    if p == 0.0:
        np.testing.assert_array_equal(ag.grad(f)(x), [0.0, 0.0, 0.0])
    _, t = ag.jvp(lambda x: x ** p, (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, expected)


def test_power_second_derivative_at_zero_matches_hips_autograd():
    x = np.array([0.0, 1.5])
    for p in (0.0, 2.0, 3.0):
        got = ag.grad(lambda x: ag.sum(ag.grad(lambda y: ag.sum(y ** p))(x)))(x)
        expected = autograd.grad(lambda x: anp.sum(autograd.grad(lambda y: anp.sum(y ** p))(x)))(x)
        np.testing.assert_array_equal(got, expected)


def test_concatenate_axis_none_backward():
    a = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = ag.Tensor([7.0, 8.0], requires_grad=True)
    out = ag.concatenate([a, b], axis=None)
    assert out.shape == (8,)
    (out * np.arange(8.0)).sum().backward()
    np.testing.assert_array_equal(a.grad, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(b.grad, [6.0, 7.0])
    _, t = ag.jvp(lambda a, b: ag.concatenate([a, b], axis=None), (a.data, b.data), (np.ones((2, 3)), np.zeros(2)))
    np.testing.assert_array_equal(t, [1, 1, 1, 1, 1, 1, 0, 0])


@pytest.mark.parametrize("join", ["concatenate", "stack"])
def test_ten_thousand_inputs_backward_in_one_pass(join):
    # linear in the number of inputs (timing reported in the closing note, not asserted)
    xs = [ag.Tensor(np.full(3, float(i)), requires_grad=True) for i in range(10_000)]
    out = getattr(ag, join)(xs)
    (out * out).sum().backward()
    assert all(np.array_equal(x.grad, 2 * x.data) for x in xs[::997])


Y = np.array([[1.0, 0.0, 1.0, 0.0]])
A = np.array([[0.3, 0.6, 0.8, 0.1]])
V = np.array([[1.0, -0.5, 2.0, 0.7]])


def test_bce_hessian_vector_product_on_plain_probabilities_is_the_closed_form():
    # d2/da2 of -(1/m)(y log a + (1-y) log(1-a)) = (1/m)(y / a^2 + (1-y) / (1-a)^2)
    m = A.shape[1]
    closed = (Y / A ** 2 + (1 - Y) / (1 - A) ** 2) / m * V
    got = ag.hvp(lambda a: ag.binary_cross_entropy(a, Y))(A, V)
    np.testing.assert_allclose(got, closed, rtol=1e-12)
    np.testing.assert_allclose(got, [[2.778, -0.781, 0.781, 0.216]], atol=5e-4)
    ref = autograd.hessian_vector_product(lambda a: -anp.sum(Y * anp.log(a) + (1 - Y) * anp.log(1 - a)) / m)
    np.testing.assert_allclose(got, ref(A, V), rtol=1e-12)


@pytest.mark.parametrize("z,expected", [(40.0, 40.0), (800.0, 800.0), (-40.0, 0.0), (35.0, 35.0)])
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "no_grad"])
def test_bce_through_sigmoid_is_exact_at_saturation(z, expected, recorded):
    with ag.set_grad_enabled(recorded):
        cost = ag.binary_cross_entropy(ag.sigmoid(ag.Tensor([[z]], requires_grad=True)), np.array([[0.0]]))
    assert cost.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert cost.item() == pytest.approx(np.logaddexp(0, z), rel=1e-15, abs=1e-16)  # softplus(z) = -log(1 - a)
    assert cost.item() != 100.0
    assert ag.binary_cross_entropy_with_logits(np.array([[z]]), np.array([[0.0]])).item() == pytest.approx(
        cost.item(), rel=1e-12, abs=1e-16)


def test_bce_value_and_gradient_agree_at_saturation():
    z = np.array([[40.0]])
    f = lambda z: ag.binary_cross_entropy(ag.sigmoid(z), np.array([[0.0]]))  # noqa: E731
    numeric = (f(z + 1e-3).item() - f(z - 1e-3).item()) / 2e-3
    assert numeric == pytest.approx(1.0, rel=1e-9)
    assert ag.grad(f)(z)[0, 0] == pytest.approx(numeric, rel=1e-9)


def test_retain_grad_on_the_sigmoid_output_gets_dJ_dA():
    z = ag.Tensor([[0.3, -1.2, 2.0, 0.5]], requires_grad=True)
    a = ag.sigmoid(z).retain_grad()
    ag.binary_cross_entropy(a, Y).backward()
    m = Y.shape[1]
    expected = -(Y / a.data - (1 - Y) / (1 - a.data)) / m
    np.testing.assert_allclose(a.grad, expected, rtol=1e-12)
    np.testing.assert_allclose(z.grad, (a.data - Y) / m, rtol=1e-12)
    ref = autograd.grad(lambda a: -anp.sum(Y * anp.log(a) + (1 - Y) * anp.log(1 - a)) / m)(a.data)
    np.testing.assert_allclose(a.grad, ref, rtol=1e-12)


def test_bce_jvp_follows_the_logits_when_they_are_there():
    z = np.array([[0.3, -1.2, 2.0, 0.5]])
    t = np.array([[1.0, 2.0, -1.0, 0.5]])
    _, got = ag.jvp(lambda z: ag.binary_cross_entropy(ag.sigmoid(z), Y), (z,), (t,))
    a = 1 / (1 + np.exp(-z))
    assert got == pytest.approx(np.sum((a - Y) * t) / 4, rel=1e-12)
    _, got = ag.jvp(lambda a: ag.binary_cross_entropy(a, Y), (A,), (V,))
    expected = autograd.make_jvp(lambda a: -anp.sum(Y * anp.log(a) + (1 - Y) * anp.log(1 - a)) / 4)(A)(V)[1]
    assert got == pytest.approx(expected, rel=1e-12)
