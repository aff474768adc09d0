"""The primitive ops: each forward next to its vector-Jacobian products.

One VJP per input, read as "given g = dL/d(out), return dL/d(input)". VJPs see
ndarrays on the first-order path and Tensors under ``create_graph``; they use
only operators and methods both types share (or the ops below), so every rule
is differentiable again. Broadcasting is undone once, by ``tape.unbroadcast``,
never here.
"""
import builtins

import numpy as np

from .errors import ShapeError
from .primitive import Primitive, primitive
from .tensor import Tensor


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def _op(name, symbol=None):
    return primitive(name=name, symbol=symbol)


# --- arithmetic --------------------------------------------------------------
add = Primitive(np.add, "add", "+").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: g)
subtract = Primitive(np.subtract, "subtract", "-").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: -g)
multiply = Primitive(np.multiply, "multiply", "*").defvjp(
    lambda g, out, x, y: g * y,
    lambda g, out, x, y: g * x)
divide = Primitive(np.true_divide, "divide", "/").defvjp(
    lambda g, out, x, y: g / y,
    lambda g, out, x, y: -g * out / y)
negative = Primitive(np.negative, "negative", "-").defvjp(
    lambda g, out, x: -g)
power = Primitive(np.power, "power", "**").defvjp(
    lambda g, out, x, p: g * p * x ** (p - 1),
    lambda g, out, x, p: g * out * log(where(_raw(x) > 0, x, 1.0)))
square = Primitive(np.square, "square").defvjp(
    lambda g, out, x: g * 2 * x)
sqrt = Primitive(np.sqrt, "sqrt").defvjp(
    lambda g, out, x: g * 0.5 / out)
abs = Primitive(np.abs, "abs").defvjp(
    lambda g, out, x: g * np.sign(_raw(x)))


def _tie_share(x, y):
    # 1 where x wins, 0 where it loses, 1/2 on ties, so the gradient is split fairly.
    x, y = _raw(x), _raw(y)
    return (x > y) + 0.5 * (x == y)


maximum = Primitive(np.maximum, "maximum").defvjp(
    lambda g, out, x, y: g * _tie_share(x, y),
    lambda g, out, x, y: g * _tie_share(y, x))
minimum = Primitive(np.minimum, "minimum").defvjp(
    lambda g, out, x, y: g * _tie_share(y, x),
    lambda g, out, x, y: g * _tie_share(x, y))


@_op("where")
def _where(x, y, condition):
    return np.where(condition, x, y)


_where.defvjp(lambda g, out, x, y, condition: g * condition,
              lambda g, out, x, y, condition: g * ~condition)


def where(condition, x, y):
    """Elementwise ``x`` where ``condition`` else ``y`` (all broadcast together).
    ``condition`` is a constant boolean array (e.g. ``t > 0``)."""
    return _where(x, y, condition=np.asarray(_raw(condition), dtype=bool))


# --- elementwise functions -----------------------------------------------------
exp = Primitive(np.exp, "exp").defvjp(
    lambda g, out, x: g * out)
log = Primitive(np.log, "log").defvjp(
    lambda g, out, x: g / x)


@_op("relu")
def relu(x):
    """max(0, x) elementwise; its derivative is taken as (x > 0)."""
    return np.maximum(x, 0.0)  # a float 0: NumPy converts an int scalar on every call


relu.defvjp(lambda g, out, x: g * (x > 0.0))


@_op("sigmoid")
def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise (exactly the exercise's formula)."""
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0, giving the right 0
        return 1.0 / (1.0 + np.exp(-x))


sigmoid.defvjp(lambda g, out, x: g * out * (1 - out))
tanh = Primitive(np.tanh, "tanh").defvjp(
    lambda g, out, x: g * (1 - out * out))


# --- linear algebra --------------------------------------------------------------
def _explain_matmul(a, b, op):
    if a.ndim == 0 or b.ndim == 0:
        return f"{op}: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        return (f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied "
                f"({inner_a} columns vs {inner_b} rows)")
    return f"{op}: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast"


def _matmul_forward(a, b, op="matmul (@)"):
    try:
        if a.ndim == 2 and b.ndim == 2:
            return np.dot(a, b)  # for matrices the same BLAS product as matmul, with less call overhead
        return np.matmul(a, b)
    except ValueError:
        raise ShapeError(_explain_matmul(a, b, op)) from None


def _swap(x):
    return x.T if x.ndim == 2 else x.swapaxes(-1, -2)


# `bias` is linear's third input, which these two VJPs serve as well (it plays no part in them).
def _matmul_vjp_a(g, out, a, b, bias=None):
    if type(g) is np.ndarray and g.ndim == 2 and b.ndim == 2:  # matrices (then a is one too), first order
        return np.dot(g, b.T)
    if b.ndim == 1:
        return g * b if a.ndim == 1 else g.reshape(g.shape + (1,)) * b
    if a.ndim == 1:
        return (b @ g.reshape(g.shape + (1,))).reshape(b.shape[:-1])
    return g @ _swap(b)


def _matmul_vjp_b(g, out, a, b, bias=None):
    if type(g) is np.ndarray and g.ndim == 2 and a.ndim == 2:  # matrices (then b is one too), first order
        return np.dot(a.T, g)
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a.reshape((-1, 1)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        return (_swap(a) @ g.reshape(g.shape + (1,))).reshape(a.shape[:-2] + a.shape[-1:])
    return _swap(a) @ g


matmul = Primitive(_matmul_forward, "matmul", "@").defvjp(_matmul_vjp_a, _matmul_vjp_b)


def _linear_forward(w, a, b):
    z = _matmul_forward(w, a, "linear (weights @ inputs)")
    if type(z) is np.ndarray and b.dtype == z.dtype:
        try:
            z += b  # into the product's fresh array: no second (n_out, m) array per layer
            return z
        except ValueError:  # b does not broadcast to z's shape
            pass
    try:
        out = z + b
    except ValueError:
        out = None
    if out is None or out.shape != np.shape(z):  # a bias that would enlarge the product is a mistake
        expected = z.shape[:-1] + (1,) if np.ndim(z) >= 2 else np.shape(z)
        raise ShapeError(f"linear: bias of shape {b.shape} does not broadcast to the shape {np.shape(z)} of "
                         f"weights {w.shape} @ inputs {a.shape}; expected e.g. {expected}")
    return out


_linear = Primitive(_linear_forward, "linear").defvjp(
    _matmul_vjp_a, _matmul_vjp_b,
    lambda g, out, w, a, b: g)  # tape.unbroadcast sums it over the examples


def linear(w, a, b=None):
    """``w @ a + b`` recorded as one op (as PyTorch's ``F.linear``): the same values and
    gradients as writing the expression, one node instead of two.

    Args:
        w: (n_out, n_in) weights; a: (n_in, m) inputs, one column per example;
        b: bias broadcastable to (n_out, m), usually (n_out, 1); None: no bias.
    Returns:
        Tensor of shape (n_out, m) (``matmul``'s rules for other ranks).
    """
    return matmul(w, a) if b is None else _linear(w, a, b)


# --- reductions -------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim if ndim else a for a in axes)


def _kept_shape(shape, axis):
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _spread(g, shape, axis):
    """Broadcast a reduction's gradient back over the reduced axes."""
    g = g.reshape(_kept_shape(shape, axis))
    return broadcast_to(g, shape=shape) if isinstance(g, Tensor) else np.broadcast_to(g, shape)


def _count(shape, axis):
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))]))


sum = Primitive(np.sum, "sum").defvjp(
    lambda g, out, x, axis=None, keepdims=False: _spread(g, x.shape, axis))
mean = Primitive(np.mean, "mean").defvjp(
    lambda g, out, x, axis=None, keepdims=False: _spread(g / _count(x.shape, axis), x.shape, axis))
max = Primitive(np.max, "max").defvjp(
    lambda g, out, x, axis=None, keepdims=False: _spread(g, x.shape, axis) * _argmax_share(x, out, axis))


def _argmax_share(x, out, axis):
    # The maxima share the gradient equally; constant with respect to x.
    hits = _raw(x) == _raw(out).reshape(_kept_shape(x.shape, axis))
    return hits / hits.sum(axis=_axes(axis, x.ndim), keepdims=True)


# --- shape -------------------------------------------------------------------------
reshape = Primitive(np.reshape, "reshape").defvjp(
    lambda g, out, x, shape: g.reshape(x.shape))


def _transpose_back(g, out, x, axes=None):
    if axes is None:
        return g.transpose()
    return g.transpose(tuple(np.argsort(axes)))


transpose = Primitive(np.transpose, "transpose").defvjp(_transpose_back)
broadcast_to = Primitive(np.broadcast_to, "broadcast_to").defvjp(
    lambda g, out, x, shape: g)  # tape.unbroadcast sums it back to x's shape


@_op("getitem")
def getitem(x, index):
    """``x[index]`` (basic and advanced indexing)."""
    return x[index]


@_op("scatter_add")
def _scatter_add(g, shape, index):
    # Inverse of getitem: a zero array of `shape` with g added at `index` (repeats add up).
    result = np.zeros(shape, dtype=g.dtype)
    np.add.at(result, index, g)
    return result


getitem.defvjp(lambda g, out, x, index: _scatter_add(g, shape=x.shape, index=index))
_scatter_add.defvjp(lambda g, out, grad, shape, index: g[index])


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    return _stack(*tensors, axis=axis)


@_op("stack")
def _stack(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


_stack.defvjp_argnum(lambda i, g, out, *arrays, axis=0: g[(slice(None),) * (axis % out.ndim) + (i,)])


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis."""
    return _concatenate(*tensors, axis=axis)


@_op("concatenate")
def _concatenate(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def _concatenate_vjp(i, g, out, *arrays, axis=0):
    start = builtins.sum(a.shape[axis] for a in arrays[:i])
    return g[(slice(None),) * (axis % out.ndim) + (slice(start, start + arrays[i].shape[axis]),)]


_concatenate.defvjp_argnum(_concatenate_vjp)
