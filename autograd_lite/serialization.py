"""Saving and loading parameters as ``.npz`` files, safely.

Safe means three things. Nothing is ever pickled or unpickled, so loading a
file cannot run code. A save is atomic: the archive is written to a temporary
file next to the target and renamed over it only once complete, so a crash
mid-save leaves either the old file or the new one, never half of one. A
truncated or corrupted file is rejected with an error naming it, rather than
yielding garbage parameters.
"""
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np

from .errors import ShapeError
from .tensor import Tensor

# Member names inside the archive are "<key>.npy"; these would make a path of them.
_FORBIDDEN_IN_KEYS = ("/", "\\", "\x00")

# mkstemp creates files readable by the owner only; a saved file should get the
# usual permissions, as open() would give it. Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _checked_array(key, value):
    """The ndarray to store for ``key``: numbers only, so no pickling is ever needed."""
    if not isinstance(key, str) or not key or any(c in key for c in _FORBIDDEN_IN_KEYS):
        raise ValueError(f"save: parameter names must be non-empty strings without '/', '\\' or NUL "
                         f"(they become member names in the .npz), got {key!r}")
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: parameter {key!r} has dtype {array.dtype}; expected a real numeric "
                        "array (object arrays would need pickling, which save never does)")
    return array


def save(params, path):
    """Write ``params`` to ``path`` as an uncompressed ``.npz`` archive, atomically.

    Args:
        params: mapping name -> Tensor or ndarray (any shapes), e.g.
            {"W1": Tensor of shape (n1, n0), "b1": Tensor of shape (n1, 1), ...}.
        path: file name (str or os.PathLike), used exactly as given (no suffix added).
    Returns:
        ``path``. The file is complete once this returns; on any failure the
        previous content of ``path`` (if any) is left untouched and no
        temporary file remains.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"save: params must be a mapping name -> Tensor/ndarray, got {type(params).__name__}")
    if not params:
        raise ValueError("save: params is empty; expected at least one named Tensor or ndarray")
    arrays = {key: _checked_array(key, value) for key, value in params.items()}
    target = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(target))
    handle, temp_path = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~_UMASK)
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
                for key, array in arrays.items():
                    with archive.open(key + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temp_path, target)
    except BaseException:
        os.unlink(temp_path)
        raise
    return path


def _expected_shapes(expected):
    return {key: tuple(value.shape) if hasattr(value, "shape") else tuple(value)
            for key, value in expected.items()}


def _check_expected(path, arrays, expected):
    shapes = _expected_shapes(expected)
    missing = [key for key in shapes if key not in arrays]
    unexpected = [key for key in arrays if key not in shapes]
    if missing or unexpected:
        raise ValueError(f"load: {path!r} does not hold the expected parameters: missing {missing}, "
                         f"unexpected {unexpected} (expected keys {list(shapes)})")
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ShapeError(f"load: parameter {key!r} in {path!r} has shape {arrays[key].shape} "
                             f"but shape {shape} was expected")


# What reading a damaged archive raises: zip structure, CRC, short reads, deflate streams.
_DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_arrays(path):
    """name -> ndarray from the archive at ``path``, every member read and CRC-checked."""
    try:
        try:
            archive = np.load(path, allow_pickle=False)
        except ValueError as error:
            if "pickle" in str(error):
                raise ValueError("it holds pickled data, which load never unpickles") from None
            raise
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it is a single .npy array, not an .npz archive of named parameters")
        with archive:
            return {key: _read_member(archive, key) for key in archive.files}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except _DAMAGED as error:
        raise ValueError(f"load: cannot read {os.fspath(path)!r}: the file is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None
    except ValueError as error:
        raise ValueError(f"load: cannot read {os.fspath(path)!r}: {error}") from None


def _read_member(archive, key):
    try:
        value = archive[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(f"member {key!r} holds pickled data (an object array); "
                             "load never unpickles") from None
        raise
    except _DAMAGED as error:
        raise ValueError(f"member {key!r} is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None
    if not isinstance(value, np.ndarray):
        raise ValueError(f"member {key!r} is not a .npy array")
    return value


def load(path, *, expected=None):
    """Read parameters written by ``save``; never unpickles.

    Args:
        path: file name of an ``.npz`` archive.
        expected: optional mapping name -> shape tuple (or name -> Tensor/ndarray,
            e.g. freshly initialized params, whose shapes are used); the file must
            hold exactly these names with these shapes.
    Returns:
        dict name -> Tensor(requires_grad=True, name=name), in the file's order;
        float32/float64 data comes back bit for bit.
    Raises:
        ValueError: truncated/corrupted file, pickled content, or wrong names.
        ShapeError: a parameter's shape differs from ``expected``.
    """
    arrays = _read_arrays(path)
    if expected is not None:
        _check_expected(path, arrays, expected)
    return {key: Tensor(array, requires_grad=True, name=key) for key, array in arrays.items()}
