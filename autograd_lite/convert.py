"""Turning user data into the float arrays a Tensor holds."""
import numbers

import numpy as np


def to_float_array(data, op="Tensor", copy=True):
    """``data`` as an ndarray of a float dtype: floats keep their precision, ints and bools
    become float64; strings, objects and complex numbers are refused, naming ``op``."""
    data = getattr(data, "_data", data)  # a Tensor's array
    try:
        array = np.array(data, copy=copy) if copy else np.asarray(data)
        if array.dtype == object and isinstance(data, numbers.Real):  # an int beyond int64, e.g. 10**30
            array = np.array(float(data))
    except (ValueError, TypeError, OverflowError) as error:
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
