"""The op table: every primitive, its forward next to its rules.

Each entry gives the NumPy forward, one vector-Jacobian product per input
(``vjp(g, out, *inputs, **params)``: given g = dL/d(out), return dL/d(input)),
the forward-mode rules (``jvps``, same signature with a tangent in place of g)
and how ``ag.formula`` writes it (``latex(terms, node)``, with the helpers of
``latex.py``). VJPs see ndarrays on the first-order path and Tensors under
``create_graph``; they use only operators, methods both types share, and the
ops here, so every rule differentiates again. Broadcasting is undone once, by
the engine (``tape.conform``), never here.

The Tensor operators and methods are installed at the end of this file.
"""
import numpy as np

from . import latex as tex
from .errors import ShapeError
from .modes import state
from .primitive import Primitive
from .tensor import Tensor, as_tensor


def _raw(value):
    """The array behind a Tensor (used for parts of a rule that are constants)."""
    return value._data if isinstance(value, Tensor) else value


def _sum_of(a, b):
    return tex.Term(f"{a.text} + {tex.right_of_sum(b, tex.SUM).text}", tex.SUM)


# --- arithmetic --------------------------------------------------------------
add = Primitive(np.add, "add", symbol="+",
                vjps=(lambda g, out, x, y: g, lambda g, out, x, y: g),
                latex=lambda t, node: _sum_of(*t))
subtract = Primitive(np.subtract, "subtract", symbol="-",
                     vjps=(lambda g, out, x, y: g, lambda g, out, x, y: -g),
                     latex=lambda t, node: tex.Term(f"{t[0].text} - {tex.right_of_sum(t[1], tex.PRODUCT).text}",
                                                    tex.SUM))
multiply = Primitive(np.multiply, "multiply", symbol="*",
                     vjps=(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
                     latex=lambda t, node: tex.product(*t, "scalar" if any(p.size == 1 for p in node._parents)
                                                       else "odot"))
divide = Primitive(np.true_divide, "divide", symbol="/",
                   vjps=(lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y),
                   latex=lambda t, node: tex.Term(f"\\frac{{{t[0].text}}}{{{t[1].text}}}"))
negative = Primitive(np.negative, "negative", symbol="-",
                     vjps=(lambda g, out, x: -g,),
                     latex=lambda t, node: tex.Term("-" + tex.at_least(t[0], tex.PRODUCT).text, tex.NEG))


def _power_vjp_base(g, out, x, p):
    # p * x ** (p - 1), with the exponent 0 giving exactly 0 (not 0 * inf at x = 0), as PyTorch and JAX
    p_raw = _raw(p)
    return g * p * x ** (p - 1 + (p_raw == 0))


def _power_vjp_exponent(g, out, x, p):
    # out * log(x); where x is 0 the derivative is taken as 0 (x ** p is flat in p there for p > 0)
    return g * out * log(where(_raw(x) > 0, x, 1.0))


power = Primitive(np.power, "power", symbol="**", vjps=(_power_vjp_base, _power_vjp_exponent),
                  latex=lambda t, node: tex.superscript(t[0], t[1].text))
square = Primitive(np.square, "square", vjps=(lambda g, out, x: g * 2 * x,),
                   latex=lambda t, node: tex.superscript(t[0], "2"))
sqrt = Primitive(np.sqrt, "sqrt", vjps=(lambda g, out, x: g * 0.5 / out,),
                 latex=lambda t, node: tex.Term(f"\\sqrt{{{t[0].text}}}", simple=True))
abs = Primitive(np.abs, "abs", vjps=(lambda g, out, x: g * np.sign(_raw(x)),),
                latex=lambda t, node: tex.Term(f"|{t[0].text}|", simple=True))


def _tie_share(x, y):
    # 1 where x wins, 0 where it loses, 1/2 on ties: the gradient is split fairly.
    x, y = _raw(x), _raw(y)
    return (x > y) + 0.5 * (x == y)


maximum = Primitive(np.maximum, "maximum", vjps=(lambda g, out, x, y: g * _tie_share(x, y),
                                                 lambda g, out, x, y: g * _tie_share(y, x)),
                    latex=lambda t, node: tex.call("\\max", *t))
minimum = Primitive(np.minimum, "minimum", vjps=(lambda g, out, x, y: g * _tie_share(y, x),
                                                 lambda g, out, x, y: g * _tie_share(x, y)),
                    latex=lambda t, node: tex.call("\\min", *t))
_where = Primitive(lambda x, y, condition: np.where(condition != 0, x, y), "where",
                   vjps=(lambda g, out, x, y, c: g * (c != 0), lambda g, out, x, y, c: g * (c == 0), None),
                   latex=lambda t, node: tex.call("\\mathrm{where}", t[2], t[0], t[1]))


def where(condition, x, y):
    """Elementwise ``x`` where ``condition`` is true (nonzero) else ``y``, all three
    broadcast together; ``condition`` (e.g. ``t > 0``) gets no gradient."""
    return _where(x, y, condition)


# --- elementwise functions -----------------------------------------------------
exp = Primitive(np.exp, "exp", vjps=(lambda g, out, x: g * out,),
                latex=lambda t, node: tex.Term(f"e^{{{t[0].text}}}"))
log = Primitive(np.log, "log", vjps=(lambda g, out, x: g / x,),
                latex=lambda t, node: tex.prefix("\\log", t[0]))
relu = Primitive(lambda x: np.maximum(x, 0.0), "relu",  # 0.0: NumPy converts an int scalar on every call
                 vjps=(lambda g, out, x: g * (_raw(x) > 0.0),),
                 latex=lambda t, node: tex.call("\\mathrm{ReLU}", *t))
relu.__doc__ = "max(0, x) elementwise; its derivative is taken as (x > 0)."


def _sigmoid(x):
    """1 / (1 + exp(-x)) elementwise (the exercise's formula)."""
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0, giving the right 0
        return 1.0 / (1.0 + np.exp(-x))


sigmoid = Primitive(_sigmoid, "sigmoid", vjps=(lambda g, out, x: g * out * (1 - out),),
                    latex=lambda t, node: tex.call("\\sigma", *t))
tanh = Primitive(np.tanh, "tanh", vjps=(lambda g, out, x: g * (1 - out * out),),
                 latex=lambda t, node: tex.call("\\tanh", *t))


# --- linear algebra --------------------------------------------------------------
def _explain_matmul(a, b, op):
    if a.ndim == 0 or b.ndim == 0:
        return f"{op}: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        return f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied ({inner_a} columns vs {inner_b} rows)"
    return f"{op}: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast"


def _matmul(a, b, op="matmul (@)"):
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return np.dot(a, b)  # for matrices the same BLAS product as matmul, with less call overhead
    try:
        return np.matmul(a, b)
    except ValueError:
        raise ShapeError(_explain_matmul(a, b, op)) from None


def _swap(x):
    return x.T if x.ndim == 2 else x.swapaxes(-1, -2)


# These two serve linear too, whose third input (the bias) plays no part in them.
def _matmul_vjp_a(g, out, a, b, bias=None):
    if b.ndim == 1:
        return g * b if a.ndim == 1 else g.reshape(g.shape + (1,)) * b
    if a.ndim == 1:
        return (b @ g.reshape(g.shape + (1,))).reshape(b.shape[:-1])
    return g @ _swap(b)


def _matmul_vjp_b(g, out, a, b, bias=None):
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a.reshape((-1, 1)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        return (_swap(a) @ g.reshape(g.shape + (1,))).reshape(a.shape[:-2] + a.shape[-1:])
    return _swap(a) @ g


matmul = Primitive(_matmul, "matmul", symbol="@", vjps=(_matmul_vjp_a, _matmul_vjp_b),
                   latex=lambda t, node: tex.product(*t, "matmul"))


def _linear(w, a, b):
    z = _matmul(w, a, "linear (weights @ inputs)")
    try:
        fits = np.broadcast_shapes(z.shape, b.shape) == z.shape  # a bias may not enlarge the product
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"linear: bias of shape {b.shape} does not broadcast to the shape {z.shape} of "
                         f"weights {w.shape} @ inputs {a.shape}; expected e.g. {z.shape[:-1] + (1,)}")
    if b.dtype != z.dtype:
        return z + b  # promotes as the expression w @ a + b does
    z += b  # into the product's fresh array: no second (n_out, m) array per layer
    return z


_linear_op = Primitive(_linear, "linear", vjps=(_matmul_vjp_a, _matmul_vjp_b, lambda g, out, w, a, b: g),
                       latex=lambda t, node: _sum_of(tex.product(t[0], t[1], "matmul"), t[2]))


def linear(w, a, b=None):
    """``w @ a + b`` recorded as one op (as PyTorch's ``F.linear``): the same values and
    gradients as the expression, one node instead of two.

    Args:
        w: (n_out, n_in) weights; a: (n_in, m) inputs, one column per example;
        b: bias broadcastable to (n_out, m), usually (n_out, 1); None: no bias.
    Returns:
        Tensor of shape (n_out, m) (``matmul``'s rules for other ranks).
    """
    return matmul(w, a) if b is None else _linear_op(w, a, b)


# --- reductions -------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim if ndim else a for a in (axis if isinstance(axis, tuple) else (axis,)))


def _kept_shape(shape, axis):
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _spread(g, shape, axis):
    """A reduction's gradient, broadcast back over the reduced axes."""
    g = g.reshape(_kept_shape(shape, axis))
    return broadcast_to(g, shape=shape) if isinstance(g, Tensor) else np.broadcast_to(g, shape)


def _count(shape, axis):
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))]))


def _argmax_share(x, out, axis):
    # The maxima share the gradient equally; constant with respect to x.
    hits = _raw(x) == _raw(out).reshape(_kept_shape(x.shape, axis))
    return hits / hits.sum(axis=_axes(axis, x.ndim), keepdims=True)


def _reduction_latex(symbol, as_prefix=False):
    def latex(t, node):
        function = symbol + tex.axis_subscript(node._params)
        return tex.prefix(function, t[0]) if as_prefix else tex.call(function, *t)
    return latex


sum = Primitive(np.sum, "sum", vjps=(lambda g, out, x, axis=None, keepdims=False: _spread(g, x.shape, axis),),
                latex=_reduction_latex("\\sum", as_prefix=True))
mean = Primitive(np.mean, "mean", vjps=(
    lambda g, out, x, axis=None, keepdims=False: _spread(g / _count(x.shape, axis), x.shape, axis),),
    latex=_reduction_latex("\\mathrm{mean}"))
max = Primitive(np.max, "max", vjps=(
    lambda g, out, x, axis=None, keepdims=False: _spread(g, x.shape, axis) * _argmax_share(x, out, axis),),
    latex=_reduction_latex("\\max"))


# --- shape -------------------------------------------------------------------------
reshape = Primitive(np.reshape, "reshape", view=True, vjps=(lambda g, out, x, shape: g.reshape(x.shape),),
                    latex=lambda t, node: t[0])


def _transpose_back(g, out, x, axes=None):
    return g.transpose() if axes is None else g.transpose(tuple(np.argsort([a % x.ndim for a in axes])))


transpose = Primitive(np.transpose, "transpose", view=True, vjps=(_transpose_back,),
                      latex=lambda t, node: tex.superscript(t[0], "T") if node._params.get("axes") is None
                      else tex.call("\\mathrm{transpose}", *t))
broadcast_to = Primitive(np.broadcast_to, "broadcast_to", view=True,
                         vjps=(lambda g, out, x, shape: g,),  # the engine sums it back to x's shape
                         latex=lambda t, node: t[0])          # broadcasting is implicit in the notation


def _getitem_latex(t, node):
    base = t[0] if t[0].simple else tex.parens(t[0])
    return tex.Term(f"{base.text}_{{[{tex.index_latex(node._params['index'])}]}}")


getitem = Primitive(lambda x, index: x[index], "getitem", view=True, latex=_getitem_latex,
                    vjps=(lambda g, out, x, index: _scatter_add(g, shape=x.shape, index=index),))
getitem.__doc__ = "``x[index]`` (basic and advanced indexing)."


def _scatter(g, shape, index):
    # getitem's inverse: zeros of `shape` with g added at `index` (repeated indices add up)
    result = np.zeros(shape, dtype=g.dtype)
    np.add.at(result, index, g)
    return result


_scatter_add = Primitive(_scatter, "scatter_add", vjps=(lambda g, out, grad, shape, index: g[index],))


def _offsets(arrays, axis):
    sizes = [a.size if axis is None else a.shape[axis] for a in arrays]
    return np.concatenate([[0], np.cumsum(sizes)]).tolist()


def _concatenate_vjps(g, out, *arrays, axis=0):
    """Every input's slice of g at once: one pass, not one pass per input."""
    bounds = _offsets(arrays, axis)
    if axis is None:
        return [g[bounds[i]:bounds[i + 1]].reshape(a.shape) for i, a in enumerate(arrays)]
    lead = (slice(None),) * (axis % out.ndim)
    return [g[lead + (slice(bounds[i], bounds[i + 1]),)] for i in range(len(arrays))]


def _stack_vjps(g, out, *arrays, axis=0):
    lead = (slice(None),) * (axis % out.ndim)
    return [g[lead + (i,)] for i in range(len(arrays))]


_concatenate = Primitive(lambda *arrays, axis=0: np.concatenate(arrays, axis=axis), "concatenate")
_concatenate.vjp_all = _concatenate_vjps
_stack = Primitive(lambda *arrays, axis=0: np.stack(arrays, axis=axis), "stack")
_stack.vjp_all = _stack_vjps


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None``: flattened first), as NumPy."""
    return _concatenate(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    return _stack(*tensors, axis=axis)


# --- comparisons: constant boolean arrays, as NumPy gives ---------------------
def _compare(ufunc):
    def compare(a, b):
        result = ufunc(_raw(a), _raw(b))
        if state.tracer is not None:  # ag.compile recomputes it on every replay
            result = state.tracer.comparison(ufunc, a, b, result)
        return result
    return compare


# --- Tensor operators and methods ----------------------------------------------
def _install():
    def reflected(op):
        return lambda self, other: op(other, self)

    def shape_args(args):  # t.reshape(2, 3) or t.reshape((2, 3))
        return args[0] if len(args) == 1 and not isinstance(args[0], int) else args

    for name, op in [("add", add), ("sub", subtract), ("mul", multiply), ("truediv", divide),
                     ("pow", power), ("matmul", matmul)]:
        setattr(Tensor, f"__{name}__", lambda self, other, op=op: op(self, other))
        setattr(Tensor, f"__r{name}__", reflected(op))
    for name, ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                        ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
        setattr(Tensor, f"__{name}__", _compare(ufunc))
    Tensor.__neg__ = lambda self: negative(self)
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = lambda self: abs(self)
    Tensor.__getitem__ = lambda self, index: getitem(self, index=index)
    Tensor.T = property(lambda self: transpose(self), doc="Transpose (all axes reversed), recorded.")
    Tensor.sum = lambda self, axis=None, keepdims=False: sum(self, axis=axis, keepdims=keepdims)
    Tensor.mean = lambda self, axis=None, keepdims=False: mean(self, axis=axis, keepdims=keepdims)
    Tensor.max = lambda self, axis=None, keepdims=False: max(self, axis=axis, keepdims=keepdims)
    Tensor.reshape = lambda self, *shape: reshape(self, shape=shape_args(shape))
    Tensor.transpose = lambda self, *axes: transpose(self, axes=tuple(shape_args(axes)) if axes else None)
    Tensor.swapaxes = lambda self, a, b: transpose(self, axes=tuple(
        b if i == a % self.ndim else a if i == b % self.ndim else i for i in range(self.ndim)))
    Tensor.__array_ufunc__ = _array_ufunc


_UFUNCS = {np.add: add, np.subtract: subtract, np.multiply: multiply, np.true_divide: divide,
           np.power: power, np.negative: negative, np.matmul: matmul, np.exp: exp, np.log: log,
           np.sqrt: sqrt, np.square: square, np.tanh: tanh, np.maximum: maximum, np.minimum: minimum,
           np.absolute: abs}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    # `ndarray * tensor` and `np.exp(tensor)` land here: they become the recorded ops.
    if ufunc in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal) and not kwargs:
        return _compare(ufunc)(*inputs)
    op = _UFUNCS.get(ufunc)
    if method != "__call__" or kwargs or op is None:
        raise TypeError(f"numpy.{ufunc.__name__} ({method}) is not differentiable in autograd_lite; "
                        "use the autograd_lite function of the same name, or apply it to t.data")
    return op(*inputs)


_install()
