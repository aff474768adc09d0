"""Review round 13, a sweep of the core (adv43): a custom VJP returning an np.matrix or a masked array is taken
as the plain array it holds (an np.matrix made g * w a matrix product upstream; a masked entry is refused), swapaxes
refuses axes out of range (it wrapped them), in-place updates and parameters name an int beyond float64 or a complex
operand. Oracles: the same VJP returning np.asarray, NumPy, hand values."""
import numpy as np
import pytest
import autograd_lite as ag

X = np.array([[1., 2.], [3., 4.]])
W = np.array([[5., 6.], [7., 8.]])
G = np.array([[1., 0.], [0., 2.]])


def _ident(vjp):
    @ag.primitive
    def ident(x):
        return x * 1.0
    ident.defvjp(vjp)
    return ident


# F1: a VJP's np.matrix result must come out as the plain ndarray (as a JVP's does), not turn g * w into g @ w
def test_custom_vjp_matrix_result_is_plain_array_upstream():
    ident = _ident(lambda g, out, x: np.asmatrix(g))
    x = ag.Tensor(X, requires_grad=True)
    w = ag.Tensor(W, requires_grad=True)
    ident(x * w).backward(G)
    np.testing.assert_allclose(x.grad, G * W)
    np.testing.assert_allclose(w.grad, G * X)


# F2: out-of-range axes are refused, as np.swapaxes / torch.swapaxes refuse them
@pytest.mark.parametrize("shape,a,b", [((2, 3, 4), 3, 0), ((2, 3), 2, 0), ((2, 3, 4), 5, 2), ((), 7, -3)])
def test_swapaxes_out_of_range_refused(shape, a, b):
    with pytest.raises(np.exceptions.AxisError):
        np.swapaxes(np.zeros(shape), a, b)          # the oracle refuses
    x = ag.Tensor(np.zeros(shape), requires_grad=True)
    with pytest.raises((ag.ShapeError, IndexError, ValueError, TypeError)):
        x.swapaxes(a, b)


# F3: a VJP's np.matrix / masked-array result of a broadcast shape is summed back (or refused naming the op), not a NumPy crash
@pytest.mark.parametrize("wrap", [np.asmatrix, np.ma.asarray], ids=["matrix", "masked"])
def test_custom_vjp_subclass_broadcast_result(wrap):
    @ag.primitive
    def op(x):
        return np.ones((2, 2)) * x
    op.defvjp(lambda g, out, x: wrap(g))
    x = ag.Tensor(np.ones((1, 2)), requires_grad=True)
    try:
        op(x).sum().backward()
    except (TypeError, ValueError, ag.ShapeError) as e:
        assert "op" in str(e) and "input 0" in str(e), str(e)
    else:
        np.testing.assert_allclose(x.grad, [[2., 2.]])
        assert type(x.grad) is np.ndarray


# F4: a masked VJP result with a masked entry is refused, as backward(grad=...), .grad= and .data= refuse it
def test_custom_vjp_masked_entry_refused():
    op = _ident(lambda g, out, x: np.ma.array([1., 99.], mask=[0, 1]))
    x = ag.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="ident"):
        op(x).sum().backward()


# F5: in-place updates and functional parameters beyond float64 / complex are refused naming the operation
@pytest.mark.parametrize("value", [10 ** 400, 1j, np.ones(3, complex), [10 ** 400, 1, 1]],
                         ids=["int400", "1j", "complex-array", "list-int400"])
def test_inplace_unrepresentable_operand_named(value):
    t = ag.Tensor(np.ones(3))
    with pytest.raises(TypeError, match="-="):
        t -= value


@pytest.mark.parametrize("call,name", [
    (lambda t: ag.dropout(t, 10 ** 400), "dropout"),
    (lambda t: ag.l2_penalty([t], 0.7, 10 ** 400), "l2_penalty"),
    (lambda t: ag.l2_penalty([t], 10 ** 400, 5), "l2_penalty"),
], ids=["dropout-keep_prob", "l2-m", "l2-lambd"])
def test_functional_huge_int_param_named(call, name):
    t = ag.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises((TypeError, ValueError), match=name):
        call(t)


def test_swapaxes_refuses_a_bool_axis_and_matches_numpy_otherwise():
    x = ag.Tensor(np.arange(24.0).reshape(2, 3, 4))
    with pytest.raises(TypeError, match=r"swapaxes: axes True, 0 for a tensor of shape \(2, 3, 4\); a bool is no axis"):
        x.swapaxes(True, 0)
    for a, b in [(0, -1), (1, 1), (-3, 2)]:
        np.testing.assert_array_equal(x.swapaxes(a, b).data, np.swapaxes(x.data, a, b))
