"""NumPy's protocols on Tensors: ``np.sum(t)``, ``np.exp(t)``, ``np.dot(a, t)``, ... are the
recorded ops (``__array_function__`` / ``__array_ufunc__``), and the Tensor methods a
NumPy or PyTorch user reaches for (``t.exp()``, ``t.clip(lo, hi)``, ``t.min(axis)``).

Where no op exists the call raises a TypeError naming the ``ag`` function to use (or
``t.data`` for a value outside the graph), rather than silently leaving the graph.
Functions that only look at shapes or compare values (``np.shape``, ``np.allclose``)
read the data. Installed onto Tensor when the package is imported.
"""
import numpy as np

from . import ops
from .modes import current
from .tensor import Tensor


def _no_out(name, kwargs, allowed=()):
    for key, value in kwargs.items():
        if key in allowed:
            continue
        if key in ("out", "dtype", "where", "initial", "casting", "order", "subok", "signature") and value is None:
            continue
        if key == "where" and value is True:
            continue
        raise TypeError(f"numpy.{name} on a Tensor: the argument {key}={value!r} is not supported (the result "
                        f"is a new recorded Tensor); use ag.{name} without it, or apply numpy to t.data")


def _reduction(op, name):
    def call(a, axis=None, *rest, keepdims=False, **kwargs):
        _no_out(name, dict(zip(("dtype", "out"), rest)) if name in ("sum", "mean") else dict(zip(("out",), rest)))
        _no_out(name, kwargs)
        return op(a, axis=axis, keepdims=bool(keepdims))
    return call


def _var_like(op, name):
    def call(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        _no_out(name, dict(dtype=dtype, out=out, **kwargs))
        return op(a, axis=axis, keepdims=bool(keepdims), ddof=ddof)
    return call


def _dot(a, b, out=None):
    _no_out("dot", dict(out=out))
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return ops.multiply(a, b)
    if np.ndim(b) > 2:
        raise TypeError("numpy.dot on a Tensor with a >2-d right operand (a sum over its second-to-last axis) "
                        "is not supported; use ag.matmul (batched) or ag.transpose first")
    return ops.matmul(a, b)


def _where(condition, x=None, y=None):
    if x is None or y is None:
        raise TypeError("numpy.where(condition) with one argument (the indices) is not differentiable; "
                        "use np.where(t.data) or ag.where(condition, x, y)")
    return ops.where(condition, x, y)


def _clip(a, a_min=None, a_max=None, out=None, **kwargs):
    _no_out("clip", dict(out=out, **{k: v for k, v in kwargs.items() if k not in ("min", "max")}))
    a_min = kwargs.get("min", a_min)
    a_max = kwargs.get("max", a_max)
    return ops.clip(a, a_min, a_max)


def _squeeze(a, axis=None):
    return ops.squeeze(a, axis=axis)


def _value(fn):
    # a function that reads values only (shapes, comparisons): applied to the data
    def call(*args, **kwargs):
        return fn(*[a._data if isinstance(a, Tensor) else a for a in args],
                  **{k: v._data if isinstance(v, Tensor) else v for k, v in kwargs.items()})
    return call


FUNCTIONS = {
    np.sum: _reduction(ops.sum, "sum"), np.mean: _reduction(ops.mean, "mean"),
    np.max: _reduction(ops.max, "max"), np.min: _reduction(ops.min, "min"),
    np.amax: _reduction(ops.max, "max"), np.amin: _reduction(ops.min, "min"),
    np.var: _var_like(ops.var, "var"), np.std: _var_like(ops.std, "std"),
    np.dot: _dot, np.where: _where, np.clip: _clip,
    np.transpose: lambda a, axes=None: ops.transpose(a, axes=axes),
    np.reshape: lambda a, shape=None, *rest, newshape=None, **kw: ops.reshape(
        a, shape=shape if shape is not None else newshape),
    np.squeeze: _squeeze, np.expand_dims: lambda a, axis: ops.expand_dims(a, axis=axis),
    np.concatenate: lambda arrays, axis=0, out=None, **kw: (_no_out("concatenate", dict(out=out, **kw)),
                                                           ops.concatenate(arrays, axis=axis))[1],
    np.stack: lambda arrays, axis=0, out=None, **kw: (_no_out("stack", dict(out=out, **kw)),
                                                     ops.stack(arrays, axis=axis))[1],
    np.broadcast_to: lambda array, shape, subok=False: ops.broadcast_to(array, shape=shape),
    np.abs: lambda x: ops.abs(x),
    np.shape: _value(np.shape), np.ndim: _value(np.ndim), np.size: _value(np.size),
    np.allclose: _value(np.allclose), np.isclose: _value(np.isclose), np.array_equal: _value(np.array_equal),
    np.array_equiv: _value(np.array_equiv), np.result_type: _value(np.result_type),
    np.may_share_memory: _value(np.may_share_memory), np.shares_memory: _value(np.shares_memory),
    np.iscomplexobj: _value(np.iscomplexobj), np.isrealobj: _value(np.isrealobj),
    np.argmax: _value(np.argmax), np.argmin: _value(np.argmin), np.argsort: _value(np.argsort),
    np.count_nonzero: _value(np.count_nonzero), np.array_repr: _value(np.array_repr),
    np.array_str: _value(np.array_str), np.array2string: _value(np.array2string),
}

# numpy names that have an ag function of another name
_SUGGEST = {"amax": "max", "amin": "min", "logaddexp": "softplus / logsumexp", "mean": "mean",
            "einsum": "matmul", "tensordot": "matmul", "inner": "matmul", "outer": "matmul",
            "linalg.norm": "sqrt(sum(x ** 2))", "norm": "sqrt(sum(x ** 2))", "hstack": "concatenate",
            "vstack": "concatenate", "sign": "a constant (np.sign(t.data))", "swapaxes": "transpose",
            "moveaxis": "transpose", "average": "mean", "prod": "exp(sum(log(x)))", "cumsum": "(none yet)"}


def _suggestion(name):
    import autograd_lite as ag
    short = name.rsplit(".", 1)[-1]
    if short in _SUGGEST:
        return f"use ag.{_SUGGEST[short]}" if not _SUGGEST[short].startswith(("a constant", "(")) \
            else f"autograd_lite has {_SUGGEST[short]}"
    if hasattr(ag, short):
        return f"use ag.{short}"
    return "no ag function does this yet; apply numpy to t.data (a constant, outside the graph)"


def array_function(self, func, types, args, kwargs):
    """``np.func(tensor, ...)`` for a NumPy function (not a ufunc): the recorded op."""
    handler = FUNCTIONS.get(func)
    if handler is None:
        name = getattr(func, "__name__", str(func))
        module = getattr(func, "__module__", "") or ""
        full = f"linalg.{name}" if "linalg" in module else name
        raise TypeError(f"numpy.{full} is not differentiable on autograd_lite Tensors; {_suggestion(full)}")
    return handler(*args, **kwargs)


UFUNCS = {np.add: ops.add, np.subtract: ops.subtract, np.multiply: ops.multiply, np.true_divide: ops.divide,
          np.power: ops.power, np.negative: ops.negative, np.matmul: ops.matmul, np.exp: ops.exp,
          np.log: ops.log, np.sqrt: ops.sqrt, np.square: ops.square, np.tanh: ops.tanh,
          np.maximum: ops.maximum, np.minimum: ops.minimum, np.absolute: ops.abs, np.log1p: ops.log1p,
          np.expm1: ops.expm1, np.sin: ops.sin, np.cos: ops.cos, np.positive: lambda x: x}
_COMPARISONS = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)
_CONSTANT_UFUNCS = (np.isfinite, np.isnan, np.isinf, np.sign, np.signbit)


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``ndarray * tensor``, ``np.exp(tensor)``: the recorded ops; comparisons and tests such
    as ``np.isfinite`` give constant arrays, as NumPy does."""
    if method == "__call__" and not kwargs:
        if ufunc in _COMPARISONS:
            return ops._compare(ufunc)(*inputs)
        if ufunc in _CONSTANT_UFUNCS:
            return ufunc(*[x._data if isinstance(x, Tensor) else x for x in inputs])
        op = UFUNCS.get(ufunc)
        if op is not None:
            return op(*inputs)
    if method == "reduce" and ufunc in (np.add, np.maximum, np.minimum) and len(inputs) == 1:
        reduction = {np.add: ops.sum, np.maximum: ops.max, np.minimum: ops.min}[ufunc]
        _no_out(f"{ufunc.__name__}.reduce", kwargs, allowed=("axis", "keepdims"))
        return reduction(inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    detail = "" if method == "__call__" else f".{method}"
    if kwargs and method == "__call__" and ufunc in UFUNCS:
        raise TypeError(f"numpy.{ufunc.__name__} on a Tensor with {', '.join(kwargs)}= is not supported (the "
                        f"result is a new recorded Tensor); call it without them, or on t.data")
    raise TypeError(f"numpy.{ufunc.__name__}{detail} is not differentiable on autograd_lite Tensors; "
                    f"{_suggestion(ufunc.__name__)}")


# --- values out, as ndarray gives them (each read is a guard while ag.compile traces) --------
def _item(self):
    """The single element as a Python float (size-1 tensors only)."""
    if self._data.size != 1:
        raise ValueError(f"item(): tensor of shape {self.shape} has {self.size} elements; expected 1")
    return self._read().item()


def _numpy(self):
    """The data as an ndarray (shared, not a copy)."""
    return self._read()


def _tolist(self):
    """The data as nested Python lists (a float for a 0-d tensor)."""
    return self._read().tolist()


def _format(self, spec):
    """``f"{t:.3f}"``: formatted as the number (one element, 0-d) or as the array."""
    return format(self._read().item() if self.ndim == 0 else self._read(), spec)


def _round(self, ndigits=None):
    """``round(t)`` / ``round(t, 3)``: as for a NumPy array (a Python number for one element)."""
    data = self._read()
    if data.size == 1:
        return round(data.item(), ndigits)
    if ndigits is None:
        raise TypeError(f"round(): a tensor of shape {self.shape} has {self.size} elements; round(t, ndigits) or "
                        "np.round(t.data) rounds each")
    return np.round(data, ndigits)


def _array(self, dtype=None, copy=None):
    """``np.asarray(t)``: the data, refused for a tensor whose gradient it would drop."""
    if self.requires_grad and current().grad_enabled:
        raise TypeError("converting a Tensor that requires grad to a NumPy array would silently "
                        "drop its gradient; use t.data or t.detach() if that is what you want")
    data = self._read()
    return data if dtype is None else data.astype(dtype)


def _install():
    Tensor.__array__ = _array
    Tensor.__array_function__ = array_function
    Tensor.__array_ufunc__ = array_ufunc
    methods = {
        "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "square": ops.square, "tanh": ops.tanh,
        "sigmoid": ops.sigmoid, "relu": ops.relu, "abs": ops.abs, "log1p": ops.log1p, "expm1": ops.expm1,
        "sin": ops.sin, "cos": ops.cos, "softplus": ops.softplus,
    }
    for name, op in methods.items():
        setattr(Tensor, name, lambda self, op=op: op(self))
    Tensor.min = lambda self, axis=None, keepdims=False: ops.min(self, axis=axis, keepdims=keepdims)
    Tensor.max = lambda self, axis=None, keepdims=False: ops.max(self, axis=axis, keepdims=keepdims)
    Tensor.var = lambda self, axis=None, keepdims=False, ddof=0: ops.var(self, axis=axis, keepdims=keepdims,
                                                                           ddof=ddof)
    Tensor.std = lambda self, axis=None, keepdims=False, ddof=0: ops.std(self, axis=axis, keepdims=keepdims,
                                                                           ddof=ddof)
    Tensor.clip = lambda self, lo=None, hi=None: ops.clip(self, lo, hi)
    Tensor.leaky_relu = lambda self, negative_slope=0.01: ops.leaky_relu(self, negative_slope=negative_slope)
    Tensor.softmax = lambda self, axis=0: ops.softmax(self, axis=axis)
    Tensor.log_softmax = lambda self, axis=0: ops.log_softmax(self, axis=axis)
    Tensor.logsumexp = lambda self, axis=None, keepdims=False: ops.logsumexp(self, axis=axis, keepdims=keepdims)
    Tensor.squeeze = lambda self, axis=None: ops.squeeze(self, axis=axis)
    Tensor.expand_dims = lambda self, axis: ops.expand_dims(self, axis=axis)
    Tensor.flatten = lambda self: ops.reshape(self, shape=(-1,))
    Tensor.ravel = Tensor.flatten
    Tensor.dot = lambda self, other: _dot(self, other)
    Tensor.__round__ = _round
    Tensor.item, Tensor.numpy, Tensor.tolist, Tensor.__format__ = _item, _numpy, _tolist, _format
    Tensor.__float__ = lambda self: float(self._read())
    Tensor.__int__ = lambda self: int(self._read())
    Tensor.__bool__ = lambda self: bool(self._read())
    for name in ("exp", "log", "sqrt", "square", "tanh", "sigmoid", "relu", "abs", "log1p", "expm1", "sin",
                 "cos", "softplus", "min", "max", "var", "std", "clip", "leaky_relu", "softmax", "log_softmax",
                 "logsumexp", "squeeze", "expand_dims", "flatten", "dot"):
        getattr(Tensor, name).__doc__ = f"Recorded ``ag.{name}`` of this tensor (see autograd_lite.{name})."


_install()
