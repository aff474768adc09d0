"""Tensor: a NumPy array that remembers how it was computed."""
import numpy as np

from . import tape
from .errors import GraphError, ShapeError


def _to_float_array(data, op="Tensor", copy=True):
    """ndarray of a float dtype: floats keep their precision, ints and bools become float64."""
    if isinstance(data, Tensor):
        data = data._data
    try:
        array = np.array(data, copy=copy) if copy else np.asarray(data)
    except (ValueError, TypeError) as error:
        raise TypeError(f"{op}: cannot make a numeric array from {type(data).__name__}: {error}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in "iub":
        return array.astype(np.float64)
    if kind == "c":
        raise TypeError(f"{op}: complex data (dtype {array.dtype}) is not supported; "
                        "expected real numbers (take .real or abs() first)")
    raise TypeError(f"{op}: data of dtype {array.dtype} ({type(data).__name__}) is not numeric; "
                    "expected numbers, a list of numbers or a numeric ndarray")


class Tensor:
    """An n-dimensional float array recorded on the tape.

    Args:
        data: array-like of any shape; ints and bools become float64,
            float32 stays float32. The array is copied.
        requires_grad: whether ``backward()`` should fill ``.grad``.
        name: label used in drawings, formulas and error messages (e.g. "W1").
    """

    # Fields every op output sets live in slots; the rarely set ones default on the class,
    # and only a tensor that sets one (a leaf's .grad, a name) gets an instance dict.
    __slots__ = ("_data", "requires_grad", "_prim", "_parents", "_params", "_epoch", "_seq", "_scope",
                 "__dict__", "__weakref__")
    __array_priority__ = 1000
    grad = None
    name = None
    _version = 0        # in-place updates so far (``t.data = ...``, optimizer steps)
    _modified_at = 0    # value of tape._State.mutations at the last in-place update
    _retain = False     # retain_grad() was called
    _site = None        # the user's source line, recorded only in anomaly mode

    def __init__(self, data, requires_grad=False, name=None):
        self._data = _to_float_array(data)
        self.requires_grad = bool(requires_grad)
        if name is not None:
            self.name = name
        self._prim = self._parents = self._params = None
        self._epoch = 0
        self._seq = tape.next_seq()
        self._scope = tape._State.scope

    @classmethod
    def _wrap(cls, array):
        """A tensor outside the graph around ``array``: no copy, no checks (the hot path)."""
        t = _new(cls)
        t._data = array
        t.requires_grad = False
        t._prim = t._parents = t._params = None
        t._epoch = 0
        t._seq = _next_seq()
        t._scope = _State.scope
        return t

    # --- the array ---------------------------------------------------------
    @property
    def data(self):
        """The underlying numpy.ndarray."""
        return self._data

    @data.setter
    def data(self, value):
        # Any assignment (including `t.data -= lr * g`, which ends in this setter)
        # bumps the version so a stale graph is caught at backward().
        self._data = value if isinstance(value, np.ndarray) else _to_float_array(value, copy=False)
        mark_modified((self,))

    shape = property(lambda self: self._data.shape, doc="Shape tuple of the data.")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="NumPy dtype of the data.")
    size = property(lambda self: self._data.size, doc="Number of elements.")
    T = property(lambda self: _ops.transpose(self), doc="Transpose (all axes reversed), recorded.")

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        extras = "".join([f", name={self.name!r}" if self.name else "",
                          f", op={self._prim.name}" if self._prim is not None else "",
                          ", requires_grad=True" if self.requires_grad else ""])
        return f"Tensor({np.array2string(self._data, prefix='Tensor(')}{extras})"

    def item(self):
        """The single element as a Python float (size-1 tensors only)."""
        if self._data.size != 1:
            raise ValueError(f"item(): tensor of shape {self.shape} has {self.size} elements; expected 1")
        return self._data.item()

    def numpy(self):
        """The data as an ndarray (shared, not a copy)."""
        return self._data

    def detach(self):
        """A new leaf sharing the data, cut from the graph."""
        return Tensor._wrap(self._data)

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and tape._State.grad_enabled:
            raise TypeError("converting a Tensor that requires grad to a NumPy array would silently "
                            "drop its gradient; use t.data or t.detach() if that is what you want")
        return self._data if dtype is None else self._data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # `ndarray * tensor` and `np.exp(tensor)` land here: route them to the recorded ops.
        op = _UFUNCS.get(ufunc)
        if method != "__call__" or kwargs or op is None:
            raise TypeError(f"numpy.{ufunc.__name__} ({method}) is not differentiable in autograd_lite; "
                            "use the autograd_lite function of the same name, or apply it to t.data")
        return op(*inputs)

    # --- gradients ---------------------------------------------------------
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Args:
            grad: seed of self's shape; may be omitted for a single-element tensor (1.0).
            retain_graph: keep the graph so backward() can run through it again.
            create_graph: record the backward pass too (for higher-order gradients).
        """
        if not self.requires_grad:
            raise GraphError("backward(): this tensor does not require grad and has no graph "
                             "(no input had requires_grad=True, or it was computed under no_grad())")
        if grad is None:
            if self._data.size != 1:
                raise GraphError(f"backward(): output of shape {self.shape} is not a scalar; pass "
                                 f"grad= of shape {self.shape} (only a single-element output gets the seed 1.0)")
            seed = _unit_seed(self._data.shape, self._data.dtype)
        else:
            seed = _to_float_array(grad, "backward(grad=...)", copy=False)
            if seed.shape != self.shape:
                raise ShapeError(f"backward(): grad has shape {seed.shape} but the output has shape "
                                 f"{self.shape}; they must match")
        if create_graph:
            seed = Tensor._wrap(seed)
        tape.backward(self, seed, retain_graph=retain_graph, create_graph=create_graph)

    def retain_grad(self):
        """Also fill ``.grad`` of this non-leaf tensor on backward()."""
        self._retain = True
        return self

    def zero_grad(self):
        """Reset ``.grad`` to None."""
        self.grad = None

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place (leaves only); returns self."""
        if self._prim is not None and not requires_grad:
            raise GraphError("requires_grad_(False) on an op output; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    # --- recorded operators and methods --------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.subtract(self, other)
    def __rsub__(self, other): return _ops.subtract(other, self)
    def __mul__(self, other): return _ops.multiply(self, other)
    def __rmul__(self, other): return _ops.multiply(other, self)
    def __truediv__(self, other): return _ops.divide(self, other)
    def __rtruediv__(self, other): return _ops.divide(other, self)
    def __pow__(self, other): return _ops.power(self, other)
    def __rpow__(self, other): return _ops.power(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index=index)

    # Comparisons give plain boolean arrays: masks are constants, not differentiable.
    def __lt__(self, other): return _compare(np.less, self, other)
    def __le__(self, other): return _compare(np.less_equal, self, other)
    def __gt__(self, other): return _compare(np.greater, self, other)
    def __ge__(self, other): return _compare(np.greater_equal, self, other)

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (int, tuple or None for all)."""
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (int, tuple or None for all)."""
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; ties share the gradient equally."""
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        """Same data in a new shape (``t.reshape(2, 3)`` or ``t.reshape((2, 3))``)."""
        return _ops.reshape(self, shape=shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        """Permute axes (default: reverse them), as ``ndarray.transpose``."""
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return _ops.transpose(self, axes=tuple(axes) if axes else None)

    def swapaxes(self, axis1, axis2):
        """Exchange two axes."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return _ops.transpose(self, axes=tuple(axes))


_new, _next_seq, _State = object.__new__, tape.next_seq, tape._State  # bound once: _wrap runs per op


def mark_modified(tensors):
    """Note an in-place update of each of ``tensors`` (one stamp for all): a graph
    recorded before it is refused at backward()."""
    _State.mutations += 1
    for t in tensors:
        t._version += 1
        t._modified_at = _State.mutations


def _unit_seed(shape, dtype):
    """The seed 1.0 of a single-element output. For a 0-d output (a cost) it is a NumPy
    scalar: the VJPs that scale by it then do scalar arithmetic, which costs a fraction of a
    0-d array operation. Otherwise one shared read-only array per shape and dtype. Neither
    can be changed by a VJP, and ``.grad`` always gets a copy."""
    seed = _UNIT_SEEDS.get((shape, dtype))
    if seed is None:
        if shape == ():
            seed = _UNIT_SEEDS[shape, dtype] = dtype.type(1)
        else:
            seed = _UNIT_SEEDS[shape, dtype] = np.ones(shape, dtype)
            seed.flags.writeable = False
    return seed


_UNIT_SEEDS = {}


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def _compare(ufunc, a, b):
    """``ufunc(a, b)`` on the data: a constant boolean array. While ``ag.compile`` traces,
    it notes how the array was made, so a replay recomputes it (e.g. ``where(x > 0, ...)``)."""
    result = ufunc(_raw(a), _raw(b))
    tracer = tape._State.tracer
    if tracer is not None:
        tracer.comparisons[id(result)] = (result, ufunc, a, b)
    return result


def as_tensor(value, like_dtype=None):
    """``value`` as a Tensor (no copy for ndarrays). Python scalars take ``like_dtype``
    when given, so ``2 * float32_tensor`` stays float32."""
    if isinstance(value, Tensor):
        return value
    if type(value) is np.ndarray and value.dtype.kind == "f":  # the common case, e.g. the data X
        return Tensor._wrap(value)
    if like_dtype is not None and isinstance(value, (int, float, bool)) and not isinstance(value, np.generic):
        return Tensor._wrap(np.asarray(value, dtype=like_dtype))
    return Tensor._wrap(_to_float_array(value, copy=False))


from . import ops as _ops  # noqa: E402  (ops needs Tensor defined first)

_UFUNCS = {
    np.add: _ops.add, np.subtract: _ops.subtract, np.multiply: _ops.multiply,
    np.true_divide: _ops.divide, np.power: _ops.power, np.negative: _ops.negative,
    np.matmul: _ops.matmul, np.exp: _ops.exp, np.log: _ops.log, np.sqrt: _ops.sqrt,
    np.square: _ops.square, np.tanh: _ops.tanh, np.maximum: _ops.maximum,
    np.minimum: _ops.minimum, np.absolute: _ops.abs,
    np.greater: lambda a, b: _compare(np.greater, a, b),
    np.less: lambda a, b: _compare(np.less, a, b),
    np.greater_equal: lambda a, b: _compare(np.greater_equal, a, b),
    np.less_equal: lambda a, b: _compare(np.less_equal, a, b),
}
