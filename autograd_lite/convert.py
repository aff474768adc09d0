"""Turning user data into the float arrays a Tensor holds, and counts into the numbers that scale them."""
import functools
import numbers

import numpy as np

from .errors import ShapeError

# What nearly every op's forward returns (an array; a NumPy scalar from a reduction to 0-d): tested
# by identity on the eager path, cheaper than reading .kind or calling np.asarray
FLOATS, FLOAT_SCALARS = (np.dtype(np.float64), np.dtype(np.float32)), (np.float64, np.float32)


class ScalarStandIn:
    """Marks what stands for a NumPy scalar while ``ag.compile`` traces: NumPy on a comparison's result
    (``np.mean(x > 0)``) is a 0-d traced array there, so that a replay recomputes it (``tracer.TracedScalar``)."""


def is_scalar_number(value):
    """Whether ``value`` is a Python or NumPy bool, int or float: a number with no float precision of
    its own, which beside a Tensor takes the Tensor's dtype (``2 * t32``, ``t32 / np.sqrt(d)`` and
    ``t32 > np.float64(0.1)`` work in float32, as in PyTorch). While tracing, a stand-in for one is
    one too (and is told it was taken for a number: ``TracedScalar.taken_as_number``)."""
    return type(value) in (int, float, bool) or isinstance(value, np.generic) and value.dtype.kind in "biuf" or (
        isinstance(value, ScalarStandIn) and value.taken_as_number())


def number_held(value):
    """A 0-d real NumPy array (``np.array(0.1)``) as the NumPy scalar it holds, so that a parameter
    (a learning rate, ``keep_prob``) takes it as it takes ``np.float64(0.1)``; anything else as it is."""
    if type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "iuf":
        return value[()]
    return value


def listed(values, what, expected):
    """``values`` (any iterable: a list, a tuple, a generator) as a list, or a TypeError naming ``what``
    and the ``expected`` contents when it is not iterable. Only that is checked here: an error raised
    inside the user's own generator is theirs, with its message and traceback."""
    try:
        items = iter(values)
    except TypeError:
        raise TypeError(f"{what} must be {expected}, got {type(values).__name__} {values!r:.60}") from None
    return list(items)


class Label:
    """A tensor's ``name`` (``Tensor.name``): None or a str, refused otherwise when set, as a name
    given to the constructor is (``t.name = 5`` would fail only later, in a drawing or a message).
    Kept in the tensor's own ``__dict__``, which only a named tensor needs."""

    def __get__(self, t, owner=None):
        return self if t is None else t.__dict__.get("name")

    def __set__(self, t, value):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"Tensor: name must be a str (a label such as 'W1') or None, got "
                            f"{type(value).__name__} {value!r:.60}")
        t.__dict__["name"] = value

    def __delete__(self, t):  # (del t.name: unnamed again)
        t.__dict__.pop("name", None)


def function_arg(f, op):
    """``f`` if it can be called, else a TypeError naming ``op`` (a transform or a gradient check),
    raised when ``op`` is given it rather than at the first call."""
    if not callable(f):
        raise TypeError(f"{op}: expected a function to differentiate, got {type(f).__name__} {f!r:.60}")
    return f


def flag(value, what):
    """``value`` as a bool if it is one (Python's or NumPy's), else a TypeError naming ``what``: a
    string such as "no" or an array would otherwise be taken for True, None for False (PyTorch
    refuses them too)."""
    if type(value) is bool or isinstance(value, np.bool_) or isinstance(value, ScalarStandIn) and value.dtype == bool:
        return bool(value)  # (a stand-in, np.any(x > 0) while tracing: read, so a guard)
    raise TypeError(f"{what}: expected True or False, got {type(value).__name__} {value!r:.60}")


def plain_array(value, what):
    """``value`` (anything) with an ndarray subclass taken as the plain ndarray it holds, sharing its
    memory as ``np.asarray`` does: an ``np.matrix`` keeps its shape but indexes, reshapes and reduces as
    an ndarray; a ``numpy.ma.MaskedArray`` with no masked entry is its data. One with a masked entry is
    refused with a TypeError naming ``what``: autograd_lite has no masks, so NumPy would hand over the
    hidden values and they would count silently. Anything else is returned as it is."""
    if isinstance(value, (list, tuple)):  # np.array would drop the masks of masked arrays held inside
        nested = [(value, 1)]
        while nested:  # (no recursion: as deep as NumPy's 64 axes, and a list holding itself ends)
            items, depth = nested.pop()
            for item in items:
                kind = type(item)
                if kind is float or kind is int:
                    continue
                if isinstance(item, (list, tuple)) and depth < 64:
                    nested.append((item, depth + 1))
                elif isinstance(item, np.ma.MaskedArray):
                    plain_array(item, what)
        return value
    if type(value) is np.ndarray or not isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmaskarray(value)))
        if masked:
            raise TypeError(f"{what}: a numpy.ma.MaskedArray of shape {value.shape} with {masked} masked "
                            f"entr{'y' if masked == 1 else 'ies'}; expected a plain array, since a Tensor has no "
                            "mask and the masked entries' hidden values would count: fill them (m.filled(0.0)), "
                            "or keep them out with ag.where(m.mask, fill, other)")
    return np.asarray(value)


def to_float_array(data, op="Tensor", copy=True, int_dtype=np.float64, dtype=None):
    """``data`` as an ndarray of a float dtype: floats keep their precision, ints and bools
    become ``int_dtype`` (float64); ``dtype`` given: that dtype, whatever ``data`` holds. Python
    numbers NumPy holds only as objects (ints beyond int64, alone or in a list, Fractions) become
    float64, as NumPy's dtype=float makes them. Strings, complex numbers, ints beyond float64, masked
    arrays with a masked entry (``plain_array``) and object ndarrays, whatever they hold (as PyTorch
    refuses them), are refused, naming ``op``. ``copy=False``: shared with ``data`` where it can be,
    save that an array whose entries share memory is copied (``own_memory``)."""
    data = plain_array(getattr(data, "_array", data), op)  # a Tensor's array; np.matrix as an ndarray
    try:
        array = np.array(data, dtype, copy=copy) if copy else np.asarray(data, dtype)
        if array.dtype == object and not isinstance(data, np.ndarray) and all(
                isinstance(v, numbers.Real) for v in array.flat):
            array = array.astype(np.float64)  # ints beyond int64 (10**30, alone or in a list), as NumPy's dtype=float
    except (ValueError, TypeError, OverflowError) as error:
        raise TypeError(f"{op}: cannot make a numeric array from {type(data).__name__}: {error}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array if copy else own_memory(array)
    if kind in "iub":
        return array.astype(int_dtype)
    if kind == "c":
        raise TypeError(f"{op}: complex data (dtype {array.dtype}) is not supported; "
                        "expected real numbers (take .real or abs() first)")
    if kind == "O" and isinstance(data, np.ndarray):
        raise TypeError(f"{op}: an ndarray of dtype object is refused, whatever it holds, as in PyTorch; expected "
                        "a numeric ndarray: convert it first (a.astype(float))")
    raise TypeError(f"{op}: data of dtype {array.dtype} ({type(data).__name__}) is not numeric; "
                    "expected numbers, a list of numbers or a numeric ndarray")


def own_memory(array):
    """``array`` (an ndarray a Tensor is to hold without a copy) as it is, or a copy in memory of its
    own when it is writable and two of its entries may share one memory location (``np.broadcast_arrays``'
    views, ``as_strided``, ``sliding_window_view(writeable=True)``): an in-place update (an optimizer's
    step, ``t -= v``) would write several entries into one place, and into the caller's array, where
    PyTorch refuses such writes. Told cheaply (the common, contiguous array costs one flags test) and
    conservatively: a layout whose axes, by increasing stride, do not each step past what the smaller
    ones span is copied (a zero stride, windows over a column); a rare interleaved layout that shares
    nothing may be copied too. A read-only one is kept:
    writes to it are refused or make a new array, and a ``broadcast_to`` view can be far larger than
    its memory."""
    if array.flags.forc or not _entries_overlap(array):
        return array
    # (NumPy's own flag read: .writeable warns on np.broadcast_arrays' views, which are writable for now)
    return array.copy() if getattr(array.flags, "_writeable_no_warn", False) or array.flags.writeable else array


def _entries_overlap(array):
    # Whether two entries may share memory, told conservatively as PyTorch's has_internal_overlap: axes
    # by increasing |stride|, each must step past everything the smaller ones span (windows over a
    # matrix's column step less than the column spans, though the total span looks ample)
    extent = array.itemsize  # (bytes the axes looked at so far cover, from the first entry's start)
    for stride, n in sorted([(abs(s), n) for n, s in zip(array.shape, array.strides) if n > 1]):
        if stride < extent:
            return True
        extent += stride * (n - 1)
    return False


def new_data(value, old):
    """What ``t.data = value`` makes ``t`` hold, ``old`` its array now: a float ndarray of ``old``'s
    shape, held as it is (its own dtype, its memory shared; an array whose entries share memory is
    copied, ``own_memory``). A subclass counts as its plain ndarray, a NumPy scalar as a 0-d array, a
    Tensor as its array. Anything else is a TypeError, as PyTorch's ``.data`` takes only a tensor and
    ``.grad =`` takes only arrays: a Python number or list has no float precision of its own (``w.data
    = 0.0`` would make a float32 ``w`` float64), and an int, bool, complex, str or object array none
    that fits; another shape is a ShapeError (the graph and ``.grad`` rely on it)."""
    array = plain_array(getattr(value, "_array", value), "Tensor.data")
    if isinstance(array, np.generic):
        array = np.asarray(array)
    if not isinstance(array, np.ndarray):
        raise TypeError(f"Tensor.data = {type(value).__name__} {value!r:.60}: expected a float ndarray of shape "
                        f"{old.shape}, as PyTorch's .data takes only a tensor: pass np.asarray(value, t.dtype) to keep "
                        f"the tensor's dtype ({old.dtype})")
    if array.dtype.kind != "f":
        raise TypeError(f"Tensor.data: the new value has dtype {array.dtype}; expected a float dtype "
                        "(ints: convert with .astype(float); complex is not supported)")
    if array.shape != old.shape:
        raise ShapeError(f"Tensor.data: the new value has shape {array.shape}; expected {old.shape} "
                         "(the graph and .grad rely on it; make a new Tensor for another shape)")
    return own_memory(array)


def forward_output(data, prim, parents):
    """A primitive's forward result ``data`` (any shape) as the float ndarray its output holds:
    floats keep their precision; ints and bools take the inputs' float dtype (NumPy's promotion
    of the ``parents``' dtypes; float64 without inputs), as ``as_tensor`` gives int data beside
    a tensor, so a float32 model stays float32 and no gradient is cast to integers; complex,
    strings and objects are refused with a TypeError naming the primitive ``prim``. ``parents``:
    its inputs, Tensors (eager) or the arrays a compiled replay passes."""
    like = np.result_type(*[p.dtype for p in parents]) if parents else np.float64
    return to_float_array(data, f"{prim.label} (the result of its forward)", copy=False, int_dtype=like)


# float16 (either byte order) holds no count above 65,504: NEP 50 casts a Python int beside a float16
# array to float16, where 70,000 is inf (x / m is then 0), and 1 / m or a sum of m terms loses digits.
def _is_half(dtype):
    return dtype is not None and dtype.char == "e"


def scale_for(number, like):
    """``number`` (a count of entries or examples, or a factor made of one: 2 / (N - ddof), lambd / m)
    as the operand that scales ``like`` (an ndarray, NumPy scalar or Tensor). Float16 gets it as a
    float64 0-d array, so that arithmetic runs in float64 (ndarrays and Tensors alike) and the result
    is rounded once where it takes the input's dtype (``conform`` for gradients and tangents); other
    dtypes get the number itself, so float32 and float64 results stay bit for bit what they were."""
    return np.array(number, np.float64) if _is_half(getattr(like, "dtype", None)) else number


def float64_for_half(forward, dtype_of=None):
    """``forward(*arrays, **params)``, a sum over many terms scaled by their count (a cost's forward, a
    JVP's), run on float64 copies of its float16 arrays when ``dtype_of(arrays)`` (the result's dtype;
    default: the first array's) is float16, the result (any shape) rounded once to float16 (see
    ``scale_for``); other dtypes run it as it is, after one test (no call: these run on every step). For
    rules that see only ndarrays: forwards and JVPs, not VJPs (Tensors under create_graph)."""
    @functools.wraps(forward)
    def run(*arrays, **params):
        if (arrays[0].dtype if dtype_of is None else dtype_of(arrays)).char != "e":
            return forward(*arrays, **params)
        return np.float16(forward(*[a.astype(np.float64) if _is_half(a.dtype) else a for a in arrays], **params))
    return run
