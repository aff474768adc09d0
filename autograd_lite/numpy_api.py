"""NumPy's protocols on Tensors: ``np.sum(t)``, ``np.exp(t)``, ``np.dot(a, t)``, ... are the
recorded ops (``__array_function__`` / ``__array_ufunc__``), and the Tensor methods a
NumPy or PyTorch user reaches for (``t.exp()``, ``t.clip(lo, hi)``, ``t.min(axis)``), which
take NumPy's arguments (``t.var(axis, dtype, out, ddof, keepdims)``) and name NumPy's
spelling for PyTorch's (``dim=``: ``axis=``).

Where no op exists the call raises a TypeError naming the ``ag`` function to use (or
``t.data`` for a value outside the graph), rather than silently leaving the graph. A call
is bound by the NumPy function's own signature: every argument is honoured (the same
result as NumPy's) or refused with a TypeError naming it. Functions that only look at
shapes (``np.shape``) read the data; those that read values (``np.allclose``,
``np.argmax``, ``np.sign``) read them as ``float(t)`` does, a guard while ``ag.compile``
traces. Installed onto Tensor when the package is imported.
"""
import copy
import inspect

import numpy as np

from . import ops
from .compile_key import ENGINE_FIELDS
from .diagnostics import _NUMPY_KEYWORDS, TORCH_SPELLINGS, broadcast_error, describe
from .errors import GraphError
from .modes import current
from .tensor import Tensor


_NO_VALUE = inspect.signature(np.sum).parameters["keepdims"].default  # NumPy's "not given"


class _Bound:
    """A NumPy function on Tensors. The call is bound by NumPy's own signature (read once), so
    positional and keyword forms mean what they mean to NumPy. The arguments named in
    ``honoured`` go to ``handler``, the first (the input) by position, the others by name,
    NumPy's defaults filled in; any other argument must be NumPy's default or a value in
    ``neutral`` (the same result), else TypeError. ``honoured`` None: ``handler`` gets the
    ``inspect.BoundArguments`` (a function applied to the data takes every argument). ``label``:
    who errors name, ``numpy.var on a Tensor`` or, bound as a Tensor method, ``Tensor.var()``."""

    def __init__(self, func, handler, honoured=None, neutral=None, name=None, label=None):
        self.name, self.handler = name or func.__name__, handler
        self.label = label or f"numpy.{self.name} on a Tensor"  # (who is named in an error)
        self.signature = inspect.signature(func)
        params = self.signature.parameters.values()
        self.honoured = honoured
        self.neutral = {p.name: (p.default,) for p in params if p.default is not p.empty}
        self.neutral.update(neutral or {})
        self.var_keyword = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        self.first = next(iter(self.signature.parameters))

    def __call__(self, *args, **kwargs):
        try:  # (for np.func, NumPy's dispatcher has checked the arity already; a Tensor method's call comes here)
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.label}: {error}; expected the arguments {self._listed()}, as NumPy's") from None
        if self.honoured is None:
            return self.handler(bound)
        bound.apply_defaults()  # NumPy's defaults for what was left out (ufunc.reduce's axis is 0)
        given = dict(bound.arguments)
        given.update(given.pop(self.var_keyword, None) or {})
        for key, value in given.items():
            if key not in self.honoured and not _is_neutral(value, self.neutral.get(key, ())):
                raise TypeError(f"{self.label}: the argument {key}={value!r} is not supported (expected it left "
                                f"out; the result is a new recorded Tensor){self._by_position(key, len(args))}; "
                                f"call it without {key}, or apply numpy to t.data")
        honoured = {k: v for k, v in given.items() if k in self.honoured and v is not _NO_VALUE}
        return self.handler(honoured.pop(self.first), **honoured)  # the input by position: a, array, arrays

    def _listed(self):
        """NumPy's parameters after the input, as ``(axis, dtype, out, *, where)``."""
        listed = []
        for p in list(self.signature.parameters.values())[1:]:
            if p.kind is p.KEYWORD_ONLY and "*" not in listed:
                listed.append("*")
            listed.append("**" + p.name if p.kind is p.VAR_KEYWORD else p.name)
        return f"({', '.join(listed)})"

    def _by_position(self, key, n_args):
        """Why ``key`` was taken, when it came by position: ``t.var(0, True)`` is NumPy's dtype=True
        (PyTorch would read unbiased, an older Tensor.var keepdims), so the fix is to name what follows."""
        names = list(self.signature.parameters)
        if key not in names or names.index(key) >= n_args:  # (by name, or among **kwargs)
            return ""
        later = [f"{name}=" for name in self.honoured if names.index(name) > names.index(key)]
        return (f"; it was given by position, where NumPy's arguments are {self._listed()}"
                + (f": pass {', '.join(later)} by name" if later else ""))


def _is_neutral(value, neutral):
    return value is _NO_VALUE or any(value is n or isinstance(value, str) and value == n for n in neutral)


def _reduction(op):
    def call(a, axis=None, keepdims=False):
        return op(a, axis=axis, keepdims=keepdims)
    return call


def _var_like(op, name):
    def call(a, axis=None, ddof=0, keepdims=False, correction=None):
        if correction is not None:
            if ddof != 0:  # as NumPy: they are two names for one number
                raise ValueError(f"numpy.{name} on a Tensor: ddof={ddof!r} and correction={correction!r} given; "
                                 "expected one of them (they are two names for the same number)")
            ddof = correction
        return op(a, axis=axis, keepdims=keepdims, ddof=ddof)
    return call


def _dot(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return ops.multiply(a, b)
    if np.ndim(b) > 2:
        raise TypeError("numpy.dot on a Tensor with a >2-d right operand (a sum over its second-to-last axis) "
                        "is not supported; use ag.matmul (batched) or ag.transpose first")
    return ops.matmul(a, b)


def _where(condition, x=None, y=None):
    if x is None and y is None:
        raise TypeError("numpy.where(condition) with one argument (the indices) is not differentiable; "
                        "use np.where(t.data) or ag.where(condition, x, y)")
    if x is None or y is None:
        raise ValueError(f"numpy.where on a Tensor: only {'y' if x is None else 'x'} given; expected both x and "
                         "y or neither, as NumPy")
    return ops.where(condition, x, y)


def _clip(a, a_min=None, a_max=None, min=None, max=None):
    if min is not None or max is not None:
        if a_min is not None or a_max is not None:  # NumPy refuses both spellings at once
            raise ValueError(f"numpy.clip on a Tensor: a_min={a_min!r}, a_max={a_max!r} and min={min!r}, "
                             f"max={max!r} given; expected the bounds by one pair of names")
        a_min, a_max = min, max
    return ops.clip(a, a_min, a_max)


def _reshape(a, shape, order="C", label="numpy.reshape on a Tensor"):
    if order == "C":
        return ops.reshape(a, shape=shape)
    if order != "F":
        raise TypeError(f"{label}: order={order!r} is not supported; expected 'C' or 'F' "
                        "('A' and 'K' follow the memory layout, which a Tensor does not promise)")
    # Fortran order is C order over the axes reversed: reverse them, reshape, reverse back
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    return ops.transpose(ops.reshape(ops.transpose(a), shape=shape[::-1]))


def _concatenate(arrays, axis=0):
    if axis is None:  # as NumPy: each array flattened first
        return ops.concatenate([ops.reshape(x, shape=(-1,)) for x in arrays], axis=0)
    return ops.concatenate(arrays, axis=axis)


def _on_data(func, read, read_first=None):
    """``func`` (NumPy's own) applied to the data; ``read`` takes the array out of a Tensor
    (``read_first``, if given, out of the first argument)."""
    def call(bound):
        out = bound.arguments.get("out")
        if isinstance(out, Tensor):  # NumPy would write into its array behind the graph's back
            raise TypeError(f"numpy.{func.__name__} on a Tensor: out= a Tensor (shape {out.shape}) is not "
                            "supported; expected an ndarray or no out")
        first, *rest = bound.args
        return func((read_first or read)(first), *map(read, rest),
                    **{key: read(value) for key, value in bound.kwargs.items()})
    return _Bound(func, call)


def _values(x):
    # a value read out of the graph: while ag.compile traces, a guard (a replay rechecks it)
    return x._read() if isinstance(x, Tensor) else x


def _layout(x):
    # shapes and dtypes only, which key a compiled trace already: no guard needed
    return x._array if isinstance(x, Tensor) else x


def _taken_in(what):
    """A reader of a value written into a new or given array (``what``: np.full_like's fill value, np.copyto's
    source): np.asarray's, refused for a tensor that requires grad while recording."""
    def read(x):
        if isinstance(x, Tensor) and _drops_gradient(x):
            raise TypeError(f"{what} is a Tensor that requires grad ({describe(x)}): the plain array it is written "
                            "into would silently drop its gradient; pass v.detach() for its value, or compute "
                            "with the tensor itself (t * 0 + v)")
        return np.asarray(x) if isinstance(x, Tensor) else x
    return read


def _written_into(x):
    if isinstance(x, Tensor):  # (NumPy would write into its array behind the graph's back)
        raise TypeError(f"numpy.copyto into a Tensor (shape {x.shape}) is not supported: it would change the "
                        "tensor behind the graph; expected an ndarray to write into (or t[...] = v, recorded)")
    return x


def _memory(x):
    # A trace keys which of the arrays passed as arguments overlap, not the memory of a tensor made inside
    # (whether a reshape is a view depends on the layout): a call asking it of tensors runs eagerly
    tracer = current().tracer
    if isinstance(x, Tensor) and tracer is not None:
        tracer.refusals.append("asks whether tensors share memory (np.shares_memory, np.may_share_memory), "
                               "which a trace keys only for the arrays passed as arguments; ask it outside "
                               "and pass the answer in")
    return _layout(x)


_REDUCTION_ARGS = ("a", "axis", "keepdims")
_UFUNC_KEYWORDS = {"out": (None,), "dtype": (None,), "casting": ("same_kind",), "order": ("K", None),
                   "subok": (True,), "where": (True,)}  # a ufunc's keywords at values that change nothing
FUNCTIONS = {
    np.sum: _Bound(np.sum, _reduction(ops.sum), _REDUCTION_ARGS, {"where": (True,), "initial": (None,)}),
    np.mean: _Bound(np.mean, _reduction(ops.mean), _REDUCTION_ARGS, {"where": (True,)}),
    np.var: _Bound(np.var, _var_like(ops.var, "var"), _REDUCTION_ARGS + ("ddof", "correction"), {"where": (True,)}),
    np.std: _Bound(np.std, _var_like(ops.std, "std"), _REDUCTION_ARGS + ("ddof", "correction"), {"where": (True,)}),
    np.dot: _Bound(np.dot, _dot, ("a", "b")),
    np.where: _Bound(np.where, _where, ("condition", "x", "y")),
    np.clip: _Bound(np.clip, _clip, ("a", "a_min", "a_max", "min", "max"), _UFUNC_KEYWORDS),
    np.transpose: _Bound(np.transpose, lambda a, axes: ops.transpose(a, axes=axes), ("a", "axes")),
    np.reshape: _Bound(np.reshape, _reshape, ("a", "shape", "order")),
    np.squeeze: _Bound(np.squeeze, lambda a, axis: ops.squeeze(a, axis=axis), ("a", "axis")),
    np.expand_dims: _Bound(np.expand_dims, lambda a, axis: ops.expand_dims(a, axis=axis), ("a", "axis")),
    np.concatenate: _Bound(np.concatenate, _concatenate, ("arrays", "axis")),
    np.stack: _Bound(np.stack, lambda arrays, axis: ops.stack(arrays, axis=axis), ("arrays", "axis")),
    np.broadcast_to: _Bound(np.broadcast_to, lambda array, shape: ops.broadcast_to(array, shape=shape),
                            ("array", "shape")),
}
FUNCTIONS.update({func: _Bound(func, _reduction(op), _REDUCTION_ARGS, {"where": (True,), "initial": (None,)})
                  for func, op in ((np.max, ops.max), (np.amax, ops.max), (np.min, ops.min), (np.amin, ops.min))})
FUNCTIONS.update({func: _on_data(func, _layout) for func in (
    np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj)})
FUNCTIONS.update({func: _on_data(func, _memory) for func in (np.may_share_memory, np.shares_memory)})
# a new array of t's shape and dtype (an ndarray, a constant, as HIPS autograd's): t's values are not read
FUNCTIONS.update({func: _on_data(func, _layout) for func in (np.zeros_like, np.ones_like, np.empty_like)})
FUNCTIONS[np.full_like] = _on_data(np.full_like, _taken_in("numpy.full_like's fill value"), read_first=_layout)
FUNCTIONS[np.copyto] = _on_data(np.copyto, _taken_in("numpy.copyto's source (np.full_like(array, v) writes v "
                                                    "with it)"), read_first=_written_into)
FUNCTIONS.update({func: _on_data(func, _values) for func in (
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.argmax, np.argmin, np.argsort, np.count_nonzero,
    np.array_repr, np.array_str, np.array2string)})
# ufunc.reduce (np.add.reduce(t, 1)): the same reductions, NumPy's default axis 0
_REDUCES = {ufunc: _Bound(ufunc.reduce, _reduction(op), ("array", "axis", "keepdims"), {"where": (True,)},
                          name=f"{ufunc.__name__}.reduce")
            for ufunc, op in ((np.add, ops.sum), (np.maximum, ops.max), (np.minimum, ops.min))}


# numpy names that have an ag function of another name
_SUGGEST = {"amax": "max", "amin": "min", "logaddexp": "softplus / logsumexp", "mean": "mean",
            "einsum": "matmul", "tensordot": "matmul", "inner": "matmul", "outer": "matmul",
            "linalg.norm": "sqrt(sum(x ** 2))", "norm": "sqrt(sum(x ** 2))", "hstack": "concatenate",
            "vstack": "concatenate", "sign": "a constant (np.sign(t.data))", "swapaxes": "transpose",
            "moveaxis": "transpose", "average": "mean", "ravel": "reshape(t, (-1,)) (or t.ravel())",
            "fabs": "abs", "reciprocal": "divide (1 / t)", "float_power": "power (t ** p)",
            # (the course's cost: nansum drops 0 log 0, which binary_cross_entropy takes as 0 itself)
            "nansum": "sum (for the cross-entropy cost, ag.binary_cross_entropy, which takes 0 log 0 as 0)",
            "nanmean": "mean (for the cross-entropy cost, ag.binary_cross_entropy, which takes 0 log 0 as 0)",
            "flip": "no flip; index with a reversed slice, t[::-1] or t[:, ::-1], recorded like any index",
            # (not exp(sum(log(x))): the log of a negative entry is nan, of a zero -inf)
            "prod": "no prod yet; multiply the entries, right for every sign: p = x[0], then p = p * v for "
                    "each v in x[1:] (the product over axis 0; ag.reshape(x, (-1,)) first for all entries)"}


def _suggestion(name):
    import autograd_lite as ag
    short = name.rsplit(".", 1)[-1]
    if short in _SUGGEST:
        return f"use ag.{_SUGGEST[short]}" if not _SUGGEST[short].startswith(("a constant", "(", "no ")) \
            else f"autograd_lite has {_SUGGEST[short]}"
    if hasattr(ag, short):
        return f"use ag.{short}"
    return ("no ag function does this yet; for a value outside the graph (no gradient flows through it), "
            "apply numpy to t.data")


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
          np.expm1: ops.expm1, np.sin: ops.sin, np.cos: ops.cos,
          np.positive: lambda x: ops.multiply(x, 1)}  # (a new tensor, as NumPy's a new array; -0.0 stays)
_COMPARISONS = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)
_CONSTANT_UFUNCS = (np.isfinite, np.isnan, np.isinf, np.sign, np.signbit)


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``ndarray * tensor``, ``np.exp(tensor)``: the recorded ops; comparisons and tests such
    as ``np.isfinite`` give constant arrays, as NumPy does."""
    if method == "reduce" and ufunc in _REDUCES:
        return _REDUCES[ufunc](*inputs, **kwargs)
    if method != "__call__":
        raise TypeError(f"numpy.{ufunc.__name__}.{method} is not supported on autograd_lite Tensors; "
                        f"{_method_suggestion(ufunc, method)}")
    if ufunc not in UFUNCS and ufunc not in _COMPARISONS and ufunc not in _CONSTANT_UFUNCS:
        raise TypeError(f"numpy.{ufunc.__name__} is not differentiable on autograd_lite Tensors; "
                        f"{_suggestion(ufunc.__name__)}")
    refused = [key for key, value in kwargs.items() if not _is_neutral(value, _UFUNC_KEYWORDS.get(key, ()))]
    if refused:
        raise _keywords_refused(ufunc, refused)
    if ufunc in _COMPARISONS:
        return ops._compare(ufunc)(*inputs)
    if ufunc in _CONSTANT_UFUNCS:
        return ufunc(*map(_values, inputs))
    return UFUNCS[ufunc](*inputs)


def _keywords_refused(ufunc, keys):
    """The TypeError for NumPy keywords ``keys`` (at values that change the result) on a ufunc that
    Tensors support: it names each and why it does not apply."""
    name, listed = ufunc.__name__, ", ".join(f"{key}=" for key in keys)
    if ufunc in UFUNCS:  # a recorded op: the reasons the ops themselves give (diagnostics)
        why = "".join(f"; NumPy's {key}= does not apply, as {_NUMPY_KEYWORDS[key].format(op=f'np.{name}')}"
                      for key in keys if key in _NUMPY_KEYWORDS)
    else:  # a comparison or test: computed here from the data, never into NumPy's buffer or mask
        why = (f"; on a Tensor it gives a new constant array, computed from the values (again on every "
               f"replay under ag.compile), never through NumPy's {listed}")
    return TypeError(f"numpy.{name} on a Tensor: the keyword{'s' * (len(keys) > 1)} {listed} "
                     f"{'are' if len(keys) > 1 else 'is'} not supported{why}; call it without "
                     f"{'them' if len(keys) > 1 else 'it'}, or apply numpy to t.data (a constant, outside the graph)")


def _method_suggestion(ufunc, method):
    """What to write instead of ``ufunc.method`` (outer, accumulate, reduce, reduceat, at): the plain
    ufunc's ag function computes something else, so it is named only inside a correct rewrite."""
    import autograd_lite as ag
    op = UFUNCS.get(ufunc)
    ag_name = next((name for name in dir(ag) if getattr(ag, name) is op), None) if op else None
    on_data = "apply numpy to t.data (a constant, outside the graph)"
    if method == "outer" and ag_name:
        return (f"write it by broadcasting: ag.{ag_name}(a[:, None], b[None, :]) for 1-d a and b (in general, "
                f"reshape a to a.shape + (1,) * b.ndim first)")
    if method == "accumulate":
        running = "cumsum" if ufunc is np.add else f"running {ufunc.__name__}"
        return f"autograd_lite has no {running} yet; {on_data}"
    if method == "reduce":
        supported = ", ".join(f"np.{u.__name__}.reduce" for u in _REDUCES)
        return f"the supported reductions are {supported} (ag.sum, ag.max, ag.min); otherwise {on_data}"
    if method == "at":
        return f"it writes into its first argument in place, behind the graph; build a new Tensor instead, or {on_data}"
    return f"no ag function does this yet; {on_data}"


# --- values out, as ndarray gives them (each read is a guard while ag.compile traces) --------
def _item(self, *args):
    """The single element as a Python float (size-1 tensors only), or with ``args`` the element they
    pick, as ``ndarray.item(*args)``: a flat index (``t.item(0)``, the first) or one index per axis."""
    if not args and self._array.size != 1:
        raise ValueError(f"item(): tensor of shape {self.shape} has {self.size} elements; expected 1")
    try:
        return self._read().item(*args)
    except (IndexError, TypeError, ValueError) as error:  # (NumPy's message names no function)
        called = ", ".join(f"{arg!r:.30}" for arg in args[:3]) + (", ..." if len(args) > 3 else "")
        raise type(error)(f"Tensor.item({called}) on a tensor of shape {self.shape}: {error}") from None


def _numpy(self):
    """The data as an ndarray (shared, not a copy)."""
    return self._read()


def _tolist(self):
    """The data as nested Python lists (a float for a 0-d tensor)."""
    return self._read().tolist()


def _not_a_number(conversion, t, fix):
    """The TypeError for ``conversion`` (``float()``, ``format(t, '.3f')``) of a tensor ``t`` that is not 0-d,
    which NumPy (2.4 on) refuses as it would for an array of its shape: a one-element one (a (1, 1) cost)
    is told to take its element, one of more elements ``fix``."""
    if t.size == 1:
        return TypeError(f"{conversion}: tensor of shape {t.shape} is not 0-d (NumPy converts only a 0-d array "
                         "to a number); take its element with t.item(), or index or squeeze it first "
                         f"(t[{', '.join(['0'] * t.ndim)}], t.squeeze())")
    return TypeError(f"{conversion}: tensor of shape {t.shape} has {t.size} elements; {fix}")


def _format(self, spec):
    """``f"{t:.3f}"``: formatted as the number (0-d) or as the array (no spec). NumPy has no spec for an
    array, so ``f"{t:.3f}"`` of a tensor that is not 0-d is a TypeError naming its shape."""
    if spec and self.ndim:
        raise _not_a_number(f"format(t, {spec!r})", self, "a format spec applies to one number (t.item(), or "
                            "t.sum() first), or use np.array2string(t.data)")
    return format(self._read().item() if self.ndim == 0 else self._read(), spec)


def _number_of(kind):
    """``float(t)`` / ``int(t)`` / ``complex(t)``: the number a 0-d tensor holds, as NumPy gives it; a
    tensor that is not 0-d is a TypeError naming its shape (NumPy's rule for an array of that shape)."""
    def convert(self):
        if self.ndim:
            raise _not_a_number(f"{kind.__name__}()", self, "expected one (reduce it first: t.sum(), t.mean())")
        return kind(self._read())
    convert.__name__ = convert.__qualname__ = f"__{kind.__name__}__"
    return convert


def _round(self, ndigits=None):
    """``round(t)`` / ``round(t, 3)``: a Python number for one element, of any shape (as ``round`` of a
    NumPy scalar; an ndarray has no ``round``), else an ndarray of t's shape. No op rounds on the
    tape, so a rounded array of a tensor that requires grad is refused, as ``np.asarray(t)`` and
    ``np.round(t)`` are: it would drop the gradient."""
    if self.size == 1:
        return round(self._read().item(), ndigits)
    if ndigits is None:
        raise TypeError(f"round(): a tensor of shape {self.shape} has {self.size} elements; round(t, ndigits) or "
                        "np.round(t.data) rounds each")
    if _drops_gradient(self):
        raise TypeError(f"round(t, {ndigits!r}): t (shape {self.shape}) requires grad, and rounding it gives a "
                        "plain ndarray that would silently drop its gradient (no op rounds on the tape); use "
                        f"np.round(t.data, {ndigits!r}) for a constant, or round(t.detach(), {ndigits!r})")
    return np.round(self._read(), ndigits)


def _contains(self, value):
    """``v in t``: whether any entry equals ``v`` (a number, or an array broadcasting against t's
    shape), as for an ndarray, ``(t == v).any()``; it reads the values, a guard while ``ag.compile``
    traces, as ``bool(t)`` is."""
    own, other = self._read(), _values(value)
    try:
        return bool((own == other).any())
    except ValueError as error:  # (NumPy's "operands could not be broadcast" names no `in`)
        if "broadcast" not in str(error):
            raise
        raise broadcast_error("in (v in t)", [np.shape(other), own.shape], ["v", "t"]) from None


def _drops_gradient(t):
    """Whether a plain ndarray made from ``t`` would leave a gradient behind (recording is on)."""
    return t.requires_grad and current().grad_enabled


def _to_numpy(self, dtype=None, copy=None):
    """NumPy's ``__array__`` protocol, refused for a tensor whose gradient it would drop.

    ``np.asarray(t)`` (copy None): the data itself, shared, as ``t.numpy()``; a copy only when
    ``dtype`` differs. ``np.array(t)`` / ``np.asarray(t, copy=True)`` (copy True): always a new
    array, so writing to it cannot change the tensor behind its version counter. copy False:
    shared, or ValueError when ``dtype`` needs a copy. The result has the tensor's shape."""
    if _drops_gradient(self):
        # (NumPy converts it too for an array subclass on an operator's left, m * t with m masked, as the
        # subclass's own operator runs first: the advice then is to reorder, not to drop the gradient)
        raise TypeError("converting a Tensor that requires grad to a NumPy array would silently "
                        "drop its gradient; use t.data or t.detach() if that is what you want. An array "
                        "subclass on the left of an operator (a numpy.ma masked array, m * t) converts the "
                        "tensor: put the tensor first (t * m) or pass plain arrays (np.asarray(m) * t)")
    data = self._read()
    if copy is False and dtype is not None and np.dtype(dtype) != data.dtype:
        raise ValueError(f"np.asarray(t, copy=False): the tensor holds {data.dtype}, and dtype={np.dtype(dtype)} "
                         "needs a copy; pass copy=None (a copy only when needed) or copy=True")
    # NumPy >= 2 trusts __array__ with the copy (it makes none of its own for np.array(t))
    if copy:
        return np.array(data, dtype=dtype, copy=True)
    return data if dtype is None else data.astype(dtype, copy=False)


def _deepcopy(self, memo):
    """``copy.deepcopy(t)`` / ``copy.copy(t)`` (``memo`` None) of a leaf: a new leaf of t's class with a copy
    of the data (and of ``.grad``) and the attributes its user set (shared by copy.copy, copied by deepcopy),
    as PyTorch's; an op's output is refused, as there."""
    _refuse_op_output(self, "copy")
    t = Tensor(self.detach(), self.requires_grad, self.name)  # (Tensor(self) warns)
    if memo is not None:
        memo[id(self)] = t
    t._grad = None if self._grad is None else np.array(self._grad)  # (not the setter: no effect to note)
    fields = _own_fields(self)  # (copy.copy shares them, as a shallow copy does; deepcopy copies them)
    return _as_kept(t, type(self), fields if memo is None else {k: copy.deepcopy(v, memo) for k, v in fields.items()})


def _reduce_ex(self, protocol):
    """``pickle.dumps(t)`` of a leaf: its data, requires_grad, name and ``.grad``, never the graph
    fields (a node's primitive and inputs). An op's output is refused, as deepcopy refuses it:
    PyTorch would pickle it as a new leaf, but here both copies follow one rule, and a leaf made
    silently would fill no ``.grad`` the user holds (its inputs' gradients would go nowhere)."""
    _refuse_op_output(self, "pickle")  # (the attributes as the state pickle sets after making the leaf: one
    return _leaf, (self._read(), self.requires_grad, self.name, self._grad, type(self)), _own_fields(self)  # that
    # refers back to the tensor, t.me = t, is then pickled by reference)


def _refuse_op_output(t, what):
    """The one rule of deepcopy and pickle: a copy of an op's output would need its graph."""
    if t._prim is not None:
        raise GraphError(f"{what}: this tensor is an op's output ({describe(t)}); {what} a leaf, or "
                         "t.detach() first (its graph cannot be copied)")


def _leaf(data, requires_grad, name, grad, kind=Tensor, fields=None):
    """The leaf a pickled Tensor unpickles as (shapes: ``grad`` None or of ``data``'s), of class ``kind``
    with the attributes ``fields`` its user set (files pickled before they were kept have neither)."""
    t = Tensor(data, requires_grad, name)
    t._grad = grad  # (not the setter: no effect to note)
    return _as_kept(t, kind, fields or {})


def _own_fields(t):
    """The attributes the user set on ``t`` (``t.decay = 0.5``): a copy or pickle keeps them, as PyTorch's;
    and an unrecorded sigmoid output's logits while they still give it (``ops._logits``): a copy costs what
    the original does."""
    fields = {key: value for key, value in vars(t).items() if key not in ENGINE_FIELDS}
    return dict(fields, _logits=t._logits) if "_logits" in vars(t) and ops._logits(t) is not None else fields


def _as_kept(t, kind, fields):
    """The copy ``t`` (a new leaf) made of class ``kind`` (a Tensor subclass stays one) with ``fields``."""
    if kind is not Tensor:
        try:
            t.__class__ = kind
        except TypeError:  # (fields in slots of its own, which no copy here could fill)
            raise TypeError(f"copy: a {kind.__qualname__} (a Tensor subclass with __slots__ of its own) cannot be "
                            "copied or pickled as one; give it __deepcopy__ and __reduce_ex__") from None
    vars(t).update(fields)
    return t


def _install():
    Tensor.__array__ = _to_numpy
    Tensor.__array_function__ = array_function
    Tensor.__array_ufunc__ = array_ufunc
    methods = {
        "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "square": ops.square, "tanh": ops.tanh,
        "sigmoid": ops.sigmoid, "relu": ops.relu, "abs": ops.abs, "log1p": ops.log1p, "expm1": ops.expm1,
        "sin": ops.sin, "cos": ops.cos, "softplus": ops.softplus,
    }
    for name, op in methods.items():
        setattr(Tensor, name, _shortcut(name, op))
    for name, (call, doc) in _methods().items():
        setattr(Tensor, name, _method(name, call, doc))
    Tensor.flatten, Tensor.ravel = _flattening("flatten"), _flattening("ravel")
    Tensor.reshape, _reshaping.__qualname__ = _reshaping, "Tensor.reshape"
    Tensor.__round__, Tensor.__contains__ = _round, _contains
    Tensor.__deepcopy__, Tensor.__copy__ = _deepcopy, lambda self: _deepcopy(self, None)
    Tensor.__reduce_ex__ = _reduce_ex
    Tensor.item, Tensor.numpy, Tensor.tolist, Tensor.__format__ = _item, _numpy, _tolist, _format
    Tensor.__float__, Tensor.__int__, Tensor.__complex__ = _number_of(float), _number_of(int), _number_of(complex)
    Tensor.__bool__ = lambda self: bool(self._read())


def _methods():
    """The Tensor methods taking arguments: name -> (the call given ``self`` first, its doc).

    Those ndarray has are NumPy's function bound as NumPy's method binds (``t.var(0, None, None, 1)``
    is ``np.var(t, 0, None, None, 1)``; ``t.clip(lo, hi)`` takes ndarray.clip's min, max), so an
    argument by position means what it means to NumPy, and dtype= or out= (even by position) is
    refused by the same rule as ``np.var(t, ...)``, naming the method. The others are ag's ops,
    whose declared calls check their arguments."""
    calls = {name: (_labelled(FUNCTIONS[func], name), f"``np.{name}(t, ...)``, NumPy's arguments: the recorded "
                    f"``ag.{name}``. {getattr(ops, name).__doc__}")
             for name, func in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min),
                                ("var", np.var), ("std", np.std), ("squeeze", np.squeeze))}
    calls["clip"] = (_Bound(np.ndarray.clip, _clip, ("self", "min", "max"), _UFUNC_KEYWORDS, label="Tensor.clip()"),
                     f"``t.clip(min, max)``, ndarray's arguments: the recorded ``ag.clip``. {ops.clip.__doc__}")
    calls["dot"] = (_labelled(FUNCTIONS[np.dot], "dot"),
                    "``np.dot(t, other)``, recorded: ``ag.matmul`` for 1-d and 2-d operands (shapes (n, k) and "
                    "(k, m) give (n, m)), ``ag.multiply`` when either is 0-d.")
    calls.update({name: (getattr(ops, name), f"``ag.{name}(t, ...)``, recorded. {getattr(ops, name).__doc__}")
                  for name in ("softmax", "log_softmax", "logsumexp", "leaky_relu", "expand_dims")})
    return calls


def _labelled(bound, name):
    """``bound`` (a NumPy function's) as the Tensor method ``name``: its errors name ``Tensor.name()``."""
    method = copy.copy(bound)
    method.label = f"Tensor.{name}()"
    return method


def _method(name, call, doc):
    """The Tensor method ``t.name(*args, **kwargs)``: ``call(t, *args, **kwargs)``, PyTorch's
    spellings refused first, naming NumPy's (a closure named Tensor.name, so errors say so)."""
    def method(self, *args, **kwargs):
        torch = [key for key in kwargs if key in TORCH_SPELLINGS]
        if torch:
            raise TypeError(f"Tensor.{name}(): {', '.join(key + '=' for key in torch)} is PyTorch's spelling; "
                            f"a Tensor's methods take NumPy's: {', '.join(TORCH_SPELLINGS[key] for key in torch)}")
        return call(self, *args, **kwargs)
    method.__name__, method.__qualname__, method.__doc__ = name, f"Tensor.{name}", doc
    signature = call.signature if isinstance(call, _Bound) else inspect.signature(call)
    first, *rest = signature.parameters.values()  # (help() shows NumPy's or the op's call, self first)
    method.__signature__ = signature.replace(parameters=[first.replace(name="self")] + rest)
    return method


def _reshaping(self, *shape, order="C", copy=None):
    """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``: ``ag.reshape(t, shape)``, recorded, one -1 inferred;
    ``order`` 'C' (row-major, the default) or 'F' (column-major), as NumPy's."""
    if copy is not None:
        raise TypeError(f"Tensor.reshape(): copy={copy!r} is not supported; expected None (the result shares "
                        "t's data where NumPy can, as a recorded view whose edits are seen; for data of its own, "
                        "t.reshape(shape) + 0.0)")
    return _reshape(self, ops._shape_args(shape), order, label="Tensor.reshape()")


def _flattening(name):
    """``t.flatten()`` or ``t.ravel()`` (``name``), whose errors name it."""
    def flatten(self, order="C"):
        """``t.flatten()`` / ``t.ravel()``: t's entries in one axis, shape (t.size,), recorded; ``order``
        'C' (row-major) or 'F' (column-major), as NumPy's."""
        return _reshape(self, (-1,), order, label=f"Tensor.{name}()")
    flatten.__name__, flatten.__qualname__ = name, f"Tensor.{name}"  # (a TypeError names Tensor.ravel())
    return flatten


def _shortcut(name, op):
    """``t.exp()`` and the like: ``op(t)``, taking no argument (a closure, not a lambda with a
    default ``op=``, which ``t.exp(2)`` would replace by the number)."""
    def method(self):
        return op(self)
    method.__name__, method.__qualname__ = name, f"Tensor.{name}"  # (a TypeError names Tensor.exp())
    method.__doc__ = f"``t.{name}()``: ``ag.{name}(t)``, recorded. {op.__doc__}"
    return method


_install()
