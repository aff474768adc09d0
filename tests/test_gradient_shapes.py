"""Issue 11, "every gradient is checked at one place": each route by which a wrong-shaped
or wrong-dtyped gradient used to be silently "unbroadcast" into its input.

Expected values come from hand-derived formulas (d sum(x^T) / dx = 1, d sum(2x) / dx = 2).
"""
import numpy as np
import pytest

import autograd_lite as ag


def _custom(name, vjp):
    """A fresh identity-like primitive named ``name`` whose VJP is ``vjp``."""
    @ag.primitive(name=name)
    def op(x):
        return x * 1.0
    op.defvjp(vjp)
    return op


# --- transpose with negative axes ---------------------------------------------
def test_transpose_negative_axes_gradient_keeps_input_shape():
    x = ag.Tensor(np.arange(4.0).reshape(1, 4), requires_grad=True)
    x.transpose(-1, 0).sum().backward()
    assert x.grad.shape == (1, 4)
    np.testing.assert_array_equal(x.grad, np.ones((1, 4)))


@pytest.mark.parametrize("axes", [(-1, 0, 1), (2, -3, -2), (-2, -1, -3), (1, 2, 0)])
def test_transpose_3d_negative_axes_weighted_gradient(axes):
    # d sum(transpose(x) * R) / dx = R transposed back: np.transpose(R, argsort(axes))
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    norm = [a % 3 for a in axes]
    R = rng.normal(size=np.transpose(x.data, norm).shape)
    (x.transpose(*axes) * R).sum().backward()
    assert x.grad.shape == (2, 3, 4)
    np.testing.assert_array_equal(x.grad, np.transpose(R, np.argsort(norm)))


# --- custom VJPs of the wrong shape ---------------------------------------------
def test_custom_vjp_of_wrong_shape_raises_naming_op_input_and_shapes():
    op = _custom("too_long", lambda g, out, x: np.ones(3))
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    y = op(x).sum()
    with pytest.raises(ag.ShapeError) as info:
        y.backward()
    message = str(info.value)
    assert "too_long" in message
    assert "input 0" in message
    assert "(3,)" in message and "(2,)" in message
    assert x.grad is None  # a refused backward writes nothing


def test_custom_vjp_returning_scalar_for_vector_input_raises_naming_op():
    op = _custom("scalar_vjp", lambda g, out, x: np.float64(2.0))
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ag.ShapeError, match="scalar_vjp"):
        op(x).sum().backward()
    assert x.grad is None


def test_custom_vjp_wrong_shape_in_second_input_names_input_1():
    @ag.primitive(name="pair_op")
    def pair(x, y):
        return x + y
    pair.defvjp(lambda g, out, x, y: g, lambda g, out, x, y: np.ones((5,)))
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    y = ag.Tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(ag.ShapeError) as info:
        pair(x, y).sum().backward()
    assert "pair_op" in str(info.value) and "input 1" in str(info.value)
    assert x.grad is None and y.grad is None


def test_custom_vjp_at_broadcast_shape_is_summed_back():
    # the documented contract: a VJP may return the gradient at the output's broadcast shape
    @ag.primitive(name="badd")
    def badd(x, y):
        return x + y
    badd.defvjp(lambda g, out, x, y: g, lambda g, out, x, y: g)
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    b = ag.Tensor(np.ones((1, 3)), requires_grad=True)
    R = np.arange(6.0).reshape(2, 3)
    (badd(x, b) * R).sum().backward()
    np.testing.assert_array_equal(b.grad, R.sum(axis=0, keepdims=True))
    np.testing.assert_array_equal(x.grad, R)


def test_compiled_replay_checks_custom_vjp_shape_too():
    op = _custom("too_long_compiled", lambda g, out, x: np.ones(3))
    step = ag.compile(lambda x: op(x).sum())
    for values in ([1.0, 2.0], [3.0, 4.0]):  # trace, then replay
        x = ag.Tensor(values, requires_grad=True)
        with pytest.raises(ag.ShapeError, match="too_long_compiled"):
            step(x).backward()


# --- dtypes ------------------------------------------------------------------------
def test_complex_vjp_raises_type_error_naming_op():
    op = _custom("complex_vjp", lambda g, out, x: g * (1 + 1j))
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="complex_vjp"):
        op(x).sum().backward()
    assert x.grad is None


def test_float64_gradient_for_float32_input_is_cast_to_float32():
    op = _custom("widening", lambda g, out, x: np.asarray(g, dtype=np.float64) * 2.0)
    x = ag.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    op(x).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, np.array([2.0, 2.0], dtype=np.float32))


def test_float64_gradient_reaching_float32_intermediate_is_cast():
    # the cast happens at every edge, not only when writing .grad
    seen = []
    op = _custom("widening_mid", lambda g, out, x: np.asarray(g, dtype=np.float64) * 3.0)
    spy = _custom("spy", lambda g, out, x: (seen.append(np.asarray(g).dtype), g)[1])
    x = ag.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    op(spy(x)).sum().backward()
    assert seen == [np.float32]
    np.testing.assert_array_equal(x.grad, np.array([3.0, 3.0], dtype=np.float32))


# --- a preset .grad of another shape ---------------------------------------------------
def test_preset_grad_of_other_shape_is_refused():
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises((ag.ShapeError, ValueError, TypeError)):
        x.grad = np.zeros((2, 1))        # refusing at assignment is fine ...
        (x * 2.0).sum().backward()       # ... and so is refusing at accumulation
    # never the silent broadcast
    assert x.grad is None or x.grad.shape == (2, 1)


def test_preset_grad_of_right_shape_accumulates():
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    x.grad = np.full((2, 2), 10.0)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 12.0))
