"""Primitives of your own, round 21 (adv140): a rule's result it may still hold (a workspace it reuses, a
weakly cached buffer) is copied, as a forward's is; a forward returning a Tensor that requires grad is
refused by name rather than losing that tensor's gradient; odd VJP results are refused or read as arrays.
Expected values are the derivatives written here (d/dx x^2 = 2x)."""
import weakref

import numpy as np
import pytest

import autograd_lite as ag

A, B = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])


def _square_with_a_workspace():
    workspace = np.zeros(3)

    @ag.primitive
    def square(x):
        return x * x
    square.defvjp(lambda g, out, x: np.multiply(g, 2 * x, out=workspace))
    square.defjvp(lambda t, out, x: np.multiply(t, 2 * x, out=workspace))
    return square


def test_a_vjp_reusing_its_workspace_gives_each_input_its_own_gradient():
    square = _square_with_a_workspace()
    np.testing.assert_array_equal(ag.grad(lambda a: ag.sum(square(a * 10) + square(a)))(A), 2 * 101 * A)
    x, y = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    ag.sum(square(x) + square(y)).backward()
    np.testing.assert_array_equal(x.grad, 2 * A)
    np.testing.assert_array_equal(y.grad, 2 * B)


def test_a_vjp_reusing_its_workspace_replays_right():
    square = _square_with_a_workspace()
    compiled = ag.compile(lambda x, y: ag.sum(square(x) + square(y)))
    for k in range(3):
        x, y = ag.Tensor(A + k, requires_grad=True), ag.Tensor(B + k, requires_grad=True)
        compiled(x, y).backward()
        np.testing.assert_array_equal(x.grad, 2 * (A + k))
        np.testing.assert_array_equal(y.grad, 2 * (B + k))
    assert compiled.replays == 2


def test_a_jvp_reusing_its_workspace_gives_each_tangent_its_own():
    square = _square_with_a_workspace()
    _, tangent = ag.jvp(lambda a, b: square(a) + square(b), (A, B), (np.ones(3), np.ones(3)))
    np.testing.assert_array_equal(tangent, 2 * (A + B))
    _, tangent = ag.jvp(lambda a, b: square(a) * square(b), (A, B), (np.ones(3), np.ones(3)))
    np.testing.assert_array_equal(tangent, 2 * A * B ** 2 + 2 * B * A ** 2)


def test_a_weakly_cached_gradient_buffer_does_not_become_a_grad_that_changes_later():
    cache = weakref.WeakValueDictionary()

    @ag.primitive
    def square(x):
        return x * x

    def vjp(g, out, x):
        buffer = cache.get(x.shape)
        if buffer is None:
            buffer = cache[x.shape] = np.empty(x.shape)
        return np.multiply(g, 2 * x, out=buffer)
    square.defvjp(vjp)
    a, b = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    ag.sum(square(a)).backward()
    ag.sum(square(b)).backward()  # (its rule writes into the cached buffer again)
    np.testing.assert_array_equal(a.grad, 2 * A)
    np.testing.assert_array_equal(b.grad, 2 * B)


def test_a_forward_returning_a_tensor_that_requires_grad_is_refused_by_name():
    x0 = np.array([1.0, 1.0])

    def loss(W):
        @ag.primitive
        def layer(x):
            return x @ W  # (closes over W, the differentiated variable)
        layer.defvjp(lambda g, out, x: g @ W.data.T)
        return ag.sum(layer(x0))
    with pytest.raises(ag.GraphError, match=r"layer: its forward returned a Tensor that requires grad \(\(2,\)"):
        ag.grad(loss)(np.array([[1.0, 2.0], [3.0, 4.0]]))
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)

    @ag.primitive
    def layer(x):
        return x @ W
    layer.defvjp(lambda g, out, x: g @ W.data.T)
    with ag.no_grad():  # (nothing recorded: its value is what is asked for)
        np.testing.assert_array_equal(layer(x0).data, [2.0, 2.0])


@pytest.mark.parametrize("result, expected", [(lambda x: memoryview(np.full(2, 3.0)), [3.0, 3.0]),
                                              (lambda x: [2.0, 5.0], [2.0, 5.0])])
def test_a_vjp_returning_a_buffer_or_a_list_is_read_as_an_array(result, expected):
    @ag.primitive
    def f(x):
        return x * 1.0
    f.defvjp(lambda g, out, x: result(x))
    np.testing.assert_array_equal(ag.grad(lambda x: ag.sum(f(x)))(np.ones(2)), expected)


def test_a_vjp_returning_a_ragged_list_is_refused_naming_the_op():
    @ag.primitive
    def f(x):
        return x * 1.0
    f.defvjp(lambda g, out, x: [[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=r"f: the gradient for input 0 is no array: .*inhomogeneous"):
        ag.grad(lambda x: ag.sum(f(x)))(np.ones(2))


def test_a_comparison_given_as_a_keyword_parameter_replays():
    # (adv140 #4) the tracer's stand-in for x > 0 was taken for a container the forward might change
    @ag.primitive
    def masked(x, m=None):
        return x * m
    masked.defvjp(lambda g, out, x, m=None: g * m)
    compiled = ag.compile(lambda x: ag.sum(masked(x, m=(x > 0)) * x))
    for v in (np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, 3.0]), np.array([1.0, 2.0, -3.0])):
        x = ag.Tensor(v, requires_grad=True)
        out = compiled(x)
        out.backward()
        assert out.item() == float(np.sum((v > 0) * v * v))
        np.testing.assert_array_equal(x.grad, 2 * (v > 0) * v)  # d/dx of m x^2 with m held
    assert compiled.replays == 2
