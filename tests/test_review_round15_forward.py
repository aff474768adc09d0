"""Round 15 (adv57): higher-order derivatives and forward mode.

- power's mixed second derivative d2(x**p)/dx dp at p = 0 is 1/x (it was 1), so the Hessian is
  symmetric; first-order results and the 0**p conventions are as documented;
- ag.jvp refuses what reverse mode refuses, with the same errors: a graph freed by a backward()
  inside f, a value changed in place after an op read it, and a non-zero tangent reaching an input
  that is not differentiable (cross-entropy and BCE labels, a given dropout mask, where's condition,
  a custom op's input declared None in both defvjp and defjvp); a zero tangent there passes;
- a custom VJP that cannot be differentiated again is refused under ag.hessian naming the primitive
  and its VJP, without advice to read .data (which gives a silently wrong Hessian).

Every expected value comes from a closed form, central differences or torch.func, never from
autograd_lite itself.
"""
import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch


def _mixed_power_derivative(x, p):
    """d/dp (p x^(p-1)) = x^(p-1) (1 + p log x), the closed form."""
    return x ** (p - 1) * (1 + p * np.log(x))


def _central_mixed_power_derivative(x, p, eps=1e-6):
    """Central differences in p of the closed-form d/dx = p x^(p-1)."""
    return ((p + eps) * x ** (p + eps - 1) - (p - eps) * x ** (p - eps - 1)) / (2 * eps)


# 1. power ------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.5, 2.0, 3.0])
def test_power_mixed_second_derivative_at_zero_exponent_is_one_over_x(x):
    truth = _mixed_power_derivative(x, 0.0)
    assert truth == pytest.approx(1 / x, rel=1e-15)
    assert _central_mixed_power_derivative(x, 0.0) == pytest.approx(truth, rel=1e-6)
    assert float(ag.grad(ag.grad(lambda x, p: x ** p, 0), 1)(x, 0.0)) == pytest.approx(truth, rel=1e-12)
    H = ag.hessian(lambda x, p: x ** p, (0, 1))(x, 0.0)
    assert float(H[0][1]) == pytest.approx(truth, rel=1e-12)
    assert float(H[1][0]) == pytest.approx(truth, rel=1e-12)


def test_power_hessian_at_zero_exponent_matches_central_differences_of_the_gradient():
    x, p = np.array([0.5, 1.5, 2.5]), np.zeros(3)
    H = ag.hessian(lambda x, p: ag.power(x, p).sum(), (0, 1))(x, p)
    np.testing.assert_allclose(np.diag(np.asarray(H[0][1])), _central_mixed_power_derivative(x, p), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(H[0][1]), np.asarray(H[1][0]).T, rtol=1e-12)


def test_power_first_order_and_zero_conventions_are_as_documented():
    # d/dx = p x^(p-1), exactly 0 where p = 0 (also at x = 0); d/dp = x^p log x, 0 at x = 0
    x = np.array([0.0, 0.0, 0.5, 2.0, 0.0])
    p = np.array([0.0, 2.0, 0.0, 0.0, 1.0])
    dx, dp = ag.grad(lambda x, p: ag.power(x, p).sum(), (0, 1))(x, p)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(dp, [0.0, 0.0, np.log(0.5), np.log(2.0), 0.0], rtol=1e-15)
    _, tangent = ag.jvp(lambda x: ag.power(x, p), (x,), (np.ones(5),))
    np.testing.assert_array_equal(tangent, [0.0, 0.0, 0.0, 0.0, 1.0])
    # d2/dx2 of x^2 at 0 is 2, of x^0 and x^1 is 0 (no 0 * inf)
    d2 = ag.grad(ag.grad(lambda x: ag.power(x, np.array(2.0)) + ag.power(x, np.array(0.0))
                         + ag.power(x, np.array(1.0))))(0.0)
    assert float(d2) == 2.0


# 2. a graph freed inside f ---------------------------------------------------------------------
def test_jvp_through_a_graph_freed_inside_f_is_refused_as_reverse_mode_refuses_it():
    x0 = np.array([0.3, 1.1, -0.7])

    def f(x, retain=False):
        y = ag.sin(x)
        y.sum().backward(retain_graph=retain)
        return y * 2

    with pytest.raises(ag.GraphError, match=r"forward mode \(jvp\) through a freed graph: op 'sin'.*retain_graph"):
        ag.jvp(f, (x0,), (np.ones(3),))
    with pytest.raises(ag.GraphError, match="backward through a freed graph: op 'sin'"):
        ag.grad(lambda x: f(x).sum())(x0)
    _, tangent = ag.jvp(lambda x: f(x, retain=True), (x0,), (np.ones(3),))
    np.testing.assert_allclose(tangent, 2 * np.cos(x0), rtol=1e-15)


# 3. a value changed in place after an op read it ---------------------------------------------------
@pytest.mark.parametrize("how", ["iadd", "data"])
def test_jvp_after_an_in_place_change_is_refused_as_reverse_mode_refuses_it(how):
    x0 = np.array([0.3, 1.1, -0.7])

    def f(x):
        y = x * 2
        z = ag.sin(y)
        if how == "iadd":
            with ag.no_grad():
                y += 1.0
        else:
            y.data = y.data + 1.0
        return z

    with pytest.raises(ag.InplaceModificationError, match=r"forward mode \(jvp\): op .*modified in place"):
        ag.jvp(f, (x0,), (np.ones(3),))
    with pytest.raises(ag.InplaceModificationError, match="modified in place"):
        ag.grad(lambda x: f(x).sum())(x0)


def test_jvp_after_an_in_place_change_of_a_constant_an_op_read_is_refused():
    x0 = np.array([0.3, 1.1, -0.7])

    def f(x):
        c = ag.Tensor([1.0, 2.0, 3.0])
        z = x * c
        with ag.no_grad():
            c += 1.0
        return z

    with pytest.raises(ag.InplaceModificationError, match=r"forward mode \(jvp\): op 'multiply'.*input 1"):
        ag.jvp(f, (x0,), (np.ones(3),))


def test_jvp_with_an_in_place_change_before_the_op_reads_the_value_is_exact():
    x0 = np.array([0.3, 1.1, -0.7])

    def f(x):
        c = ag.Tensor([1.0, 2.0, 3.0])
        with ag.no_grad():
            c += 1.0
        return ag.sin(x * c)

    _, tangent = ag.jvp(f, (x0,), (np.ones(3),))
    c = np.array([2.0, 3.0, 4.0])
    np.testing.assert_allclose(tangent, c * np.cos(c * x0), rtol=1e-15)


# 4. a tangent on an input that is not differentiable -------------------------------------------
def _soft_labels():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4))
    y = np.abs(rng.standard_normal((3, 4)))
    y /= y.sum(0)
    return z, y, rng.standard_normal((3, 4))


def test_jvp_along_cross_entropy_soft_labels_is_refused_and_a_zero_label_tangent_is_exact():
    z, y, t = _soft_labels()
    with pytest.raises(ag.GraphError, match=r"op 'cross_entropy'.* not differentiable with respect to input 1"):
        ag.jvp(lambda z, y: ag.cross_entropy(z, y), (z, y), (np.zeros_like(z), t))
    with pytest.raises(ag.GraphError, match="not differentiable with respect to input 1"):
        ag.grad(lambda z, y: ag.cross_entropy(z, y), 1)(z, y)
    expected = torch.func.jvp(lambda zz: torch.nn.functional.cross_entropy(zz.T, torch.tensor(y).T),
                              (torch.tensor(z),), (torch.tensor(t),))[1].item()
    _, tangent = ag.jvp(lambda z, y: ag.cross_entropy(z, y), (z, y), (t, np.zeros_like(y)))
    assert float(tangent) == pytest.approx(expected, rel=1e-12)


def test_jvp_along_binary_cross_entropy_labels_is_refused_and_a_zero_label_tangent_is_exact():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.1, 0.9, (1, 4))
    y = (rng.uniform(size=(1, 4)) > 0.5).astype(float)
    t = rng.standard_normal((1, 4))
    for f in (ag.binary_cross_entropy, lambda s, y: ag.binary_cross_entropy(ag.sigmoid(s), y)):
        with pytest.raises(ag.GraphError, match=r"op 'binary_cross_entropy'.* with respect to input 1"):
            ag.jvp(f, (a, y), (np.zeros_like(a), t))
    # d/da of the mean BCE: (a - y) / (a (1 - a)) / m
    _, tangent = ag.jvp(ag.binary_cross_entropy, (a, y), (t, np.zeros_like(y)))
    assert float(tangent) == pytest.approx(np.sum((a - y) / (a * (1 - a)) * t) / 4, rel=1e-12)


def test_jvp_along_a_given_dropout_mask_is_refused_and_a_zero_mask_tangent_is_exact():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4))
    m = (rng.uniform(size=(3, 4)) > 0.3).astype(float)
    t = rng.standard_normal((3, 4))
    f = lambda x, m: ag.dropout(x, 0.7, mask=m)
    with pytest.raises(ag.GraphError, match=r"op 'dropout'.* not differentiable with respect to input 1"):
        ag.jvp(f, (x, m), (np.zeros_like(x), np.ones_like(m)))
    with pytest.raises(ag.GraphError, match=r"op 'dropout'.* not differentiable with respect to input 1"):
        ag.grad(lambda x, m: f(x, m).sum(), 1)(x, m)
    _, tangent = ag.jvp(f, (x, m), (t, np.zeros_like(m)))
    np.testing.assert_allclose(tangent, t * m / 0.7, rtol=1e-15)
    # unused (training=False), the mask does not reach the output: its tangent changes nothing
    _, tangent = ag.jvp(lambda x, m: ag.dropout(x, 0.7, mask=m, training=False), (x, m), (t, np.ones_like(m)))
    np.testing.assert_array_equal(tangent, t)


def test_jvp_along_where_condition_is_refused_as_reverse_mode_refuses_it():
    c, x = np.array([1.0, 0.0, 1.0]), np.array([0.5, -1.0, 2.0])
    f = lambda c, x: ag.where(c, x, -x)
    with pytest.raises(ag.GraphError, match=r"op 'where'.* not differentiable with respect to input 0"):
        ag.jvp(f, (c, x), (np.ones(3), np.ones(3)))
    with pytest.raises(ag.GraphError, match=r"op 'where'.* not differentiable with respect to input 0"):
        ag.grad(lambda c, x: f(c, x).sum(), 0)(c, x)
    _, tangent = ag.jvp(f, (c, x), (np.zeros(3), np.ones(3)))
    np.testing.assert_array_equal(tangent, [1.0, -1.0, 1.0])
    _, tangent = ag.jvp(lambda x: ag.where(x > 0, x, 0 * x), (x,), (np.ones(3),))  # a comparison: a constant
    np.testing.assert_array_equal(tangent, [1.0, 0.0, 1.0])


def test_jvp_along_a_custom_input_declared_not_differentiable_is_refused_naming_the_op():
    scale = ag.primitive(lambda x, y: x * y, name="scale")
    scale.defvjp(lambda g, out, x, y: g * y, None).defjvp(lambda t, out, x, y: t * y, None)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    with pytest.raises(ag.GraphError, match=r"op 'scale'.* input 1 .*scale\.defjvp"):
        ag.jvp(scale, (x, y), (np.zeros(2), np.ones(2)))
    with pytest.raises(ag.GraphError, match=r"op 'scale'.* not differentiable with respect to input 1"):
        ag.grad(lambda x, y: scale(x, y).sum(), 1)(x, y)
    _, tangent = ag.jvp(scale, (x, y), (np.ones(2), np.zeros(2)))
    np.testing.assert_array_equal(tangent, y)


def test_jvp_uses_a_real_jvp_given_for_an_input_without_a_vjp():
    scale = ag.primitive(lambda x, y: x * y, name="scale2")
    scale.defvjp(lambda g, out, x, y: g * y, None).defjvp(lambda t, out, x, y: t * y, lambda t, out, x, y: t * x)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    _, tangent = ag.jvp(scale, (x, y), (np.zeros(2), np.ones(2)))
    np.testing.assert_array_equal(tangent, x)  # d(x y)/dy along ones


# 5. a custom VJP that cannot be differentiated again -----------------------------------------------
def _csum(vjp):
    @ag.primitive
    def csum(x):
        return np.cumsum(x, 1)

    return csum.defvjp(vjp)


def _torch_hessian(x0):
    f = lambda x: (torch.sin(torch.cumsum(x, 1)) ** 2).sum()
    return torch.func.hessian(f)(torch.tensor(x0)).numpy()


@pytest.mark.parametrize("vjp, reason", [
    (lambda g, out, x: np.cumsum(g[:, ::-1], 1)[:, ::-1], "numpy.cumsum is not differentiable"),
    (lambda g, out, x: np.cumsum(np.asarray(g)[:, ::-1], 1)[:, ::-1], "converting a Tensor that requires grad"),
])
def test_hessian_refuses_a_vjp_that_cannot_be_differentiated_naming_the_primitive(vjp, reason):
    csum = _csum(vjp)
    f = lambda x: (ag.sin(csum(x)) ** 2).sum()
    x0 = np.random.default_rng(0).standard_normal((2, 3))
    assert ag.gradcheck(f, [x0]).passed  # right at first order
    with pytest.raises(TypeError, match="csum: its VJP cannot be differentiated again") as info:
        ag.hessian(f)(x0)
    message = str(info.value)
    assert reason in message and "ag functions and Tensor operators" in message
    assert "apply numpy to t.data" not in message and "use t.data or t.detach()" not in message


def test_the_same_vjp_written_with_tensor_operators_gives_torch_hessian():
    upper = np.triu(np.ones((3, 3)))  # cumsum along axis 1 is x @ upper; its VJP g @ upper.T
    csum = _csum(lambda g, out, x: g @ upper.T)
    x0 = np.random.default_rng(0).standard_normal((2, 3))
    H = ag.hessian(lambda x: (ag.sin(csum(x)) ** 2).sum())(x0)
    np.testing.assert_allclose(H, _torch_hessian(x0), rtol=1e-10, atol=1e-12)
