"""Turning user data into the float arrays a Tensor holds."""
import numbers

import numpy as np

# What nearly every op's forward returns (an array; a NumPy scalar from a reduction to 0-d): tested
# by identity on the eager path, cheaper than reading .kind or calling np.asarray
FLOATS, FLOAT_SCALARS = (np.dtype(np.float64), np.dtype(np.float32)), (np.float64, np.float32)


def is_scalar_number(value):
    """Whether ``value`` is a Python or NumPy bool, int or float: a number with no float precision of
    its own, which beside a Tensor takes the Tensor's dtype (``2 * t32``, ``t32 / np.sqrt(d)`` and
    ``t32 > np.float64(0.1)`` work in float32, as in PyTorch)."""
    return type(value) in (int, float, bool) or isinstance(value, np.generic) and value.dtype.kind in "biuf"


def to_float_array(data, op="Tensor", copy=True, int_dtype=np.float64):
    """``data`` as an ndarray of a float dtype: floats keep their precision, ints and bools
    become ``int_dtype`` (float64), ints beyond int64 float64; strings, objects and complex numbers are refused, naming ``op``."""
    data = getattr(data, "_array", data)  # a Tensor's array
    try:
        array = np.array(data, copy=copy) if copy else np.asarray(data)
        if array.dtype == object and all(isinstance(v, numbers.Real) for v in array.flat):
            array = array.astype(np.float64)  # ints beyond int64 (10**30, alone or in a list), as NumPy's dtype=float
    except (ValueError, TypeError, OverflowError) as error:
        raise TypeError(f"{op}: cannot make a numeric array from {type(data).__name__}: {error}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in "iub":
        return array.astype(int_dtype)
    if kind == "c":
        raise TypeError(f"{op}: complex data (dtype {array.dtype}) is not supported; "
                        "expected real numbers (take .real or abs() first)")
    raise TypeError(f"{op}: data of dtype {array.dtype} ({type(data).__name__}) is not numeric; "
                    "expected numbers, a list of numbers or a numeric ndarray")


def forward_output(data, prim, parents):
    """A primitive's forward result ``data`` (any shape) as the float ndarray its output holds:
    floats keep their precision; ints and bools take the inputs' float dtype (NumPy's promotion
    of the ``parents``' dtypes; float64 without inputs), as ``as_tensor`` gives int data beside
    a tensor, so a float32 model stays float32 and no gradient is cast to integers; complex,
    strings and objects are refused with a TypeError naming the primitive ``prim``. ``parents``:
    its inputs, Tensors (eager) or the arrays a compiled replay passes."""
    like = np.result_type(*[p.dtype for p in parents]) if parents else np.float64
    return to_float_array(data, f"{prim.label} (the result of its forward)", copy=False, int_dtype=like)
