"""Saving and loading parameters as ``.npz`` files, safely.

The file is an ordinary uncompressed ``.npz`` (a zip of ``<name>.npy`` members,
readable by ``np.load``) plus one more member, ``__manifest__.json``, stored
first: the JSON object ``{"format": "autograd_lite.params", "version": 1,
"arrays": [{"name", "dtype" (NumPy's dtype.str, e.g. "<f8"), "shape" (list of
ints), "sha256" (hex digest of the array's C-ordered bytes)}, ...]}`` with the
arrays in order, then a newline and ``sha256:<hex digest of the JSON bytes>``.
What "safely" means:

- **Nothing is ever pickled or unpickled**, so loading a file cannot run code.
  Only real numbers (bool, int, uint, float) are saved; complex, string,
  structured, datetime and object arrays are refused both ways.
- **A damaged file never loads as a partial or altered set.** ``load`` checks the
  zip structure, the manifest against the members (every name present, none
  extra, none twice), each header against the manifest, and each array's bytes
  against its checksum. Any damage is a ``ValueError`` naming the file and,
  where known, the parameter.
- **Bounded memory.** Every size the file declares (the file itself, each array,
  their total) is checked against ``max_bytes`` (default ``DEFAULT_MAX_BYTES``,
  1 GiB) *before* anything of that size is allocated or read; a larger limit is
  one keyword away for a trusted file. Files from ``save`` are never compressed,
  so a compressed member in one is refused outright (no zip bombs).
- **Atomic saves.** The archive is written to a temporary file next to the
  target (``.<name>.<pid>.<random>.tmp``, ``<name>`` cut to fit NAME_MAX),
  flushed to disk, then renamed over the target: a crash leaves the old file or
  the new one, never half of one, and a ``load`` meanwhile reads wholly the old
  file or wholly the new one.
- **Temporaries of dead writers are removed.** A writer holds an exclusive
  ``flock`` on its temporary from creating it to renaming it. A later save to the
  same path removes a temporary only when the pid in its name names no process
  here *and* it can take that lock at once. So a live writer's temporary is never
  removed by a save on the same machine (any container, any PID namespace), nor
  from another machine over a network file system that shares flock locks (Linux
  NFS with its lock service does). Not guaranteed: where locks are not shared
  between machines (NFS mounted ``nolock``, some other network file systems) a
  save on another machine whose pid numbers differ can remove it; the live
  writer's save then fails with a FileNotFoundError saying so, and the file is
  left as it was. Without ``fcntl`` (Windows), or on a file system that takes no
  locks (``flock`` fails with ENOLCK, EOPNOTSUPP, ENOSYS, Lustre's 524, ...: any
  error but "held" and EBADF), the pid alone decides.
- **Permissions as ``open()`` gives them.** A new file gets ``0o666 & ~umask``,
  a re-saved file keeps its permission bits (a 0600 file stays 0600), and the
  process umask is never changed (it is process-wide: changing it even for an
  instant affects files other threads create). Saving through a symbolic link
  writes the file the link points to and keeps the link. An existing file this
  process may not write (mode 0444, or 000 for another user; ``os.access``) is
  refused with a PermissionError, as ``open(path, "wb")`` refuses it: the rename
  alone needs only the folder's permission and would replace it. Saving over a
  hard-linked file replaces that name only: the other names keep the old content.
- **Names are plain.** ``check_name`` is the one rule for parameter names, used
  by both ``save`` and ``load``: 1 to 200 characters of letters, digits, ``_``,
  ``.`` and ``-``, not starting with ``.`` or ``-`` (so never a path such as
  ``../../etc/W1``).
"""
import collections
import errno
import hashlib
import io
import json
import math
import numbers
import os
import re
import secrets
import stat
import sys
import zipfile
from collections.abc import Mapping

import numpy as np

try:
    import fcntl
except ImportError:  # (Windows) no flock: a temporary's writer is judged by its pid alone
    fcntl = None

from .convert import flag, plain_array
from .errors import ShapeError
from .modes import grad_lock
from .tensor import Tensor

__all__ = ["save", "load", "check_name", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 2 ** 30  # load's default limit on the bytes a file may hold or declare (1 GiB)

MANIFEST = "__manifest__.json"  # never a "<name>.npy" member, so no parameter name can clash
_FORMAT, _VERSION = "autograd_lite.params", 1
_MAX_MANIFEST_BYTES = 16 * 2 ** 20
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}\Z")
_NUMERIC_KINDS = "biuf"


class _Refused(ValueError):
    """A damage or refusal that ``load`` has already explained."""


def check_name(op, name):
    """``name`` if it may be a parameter name in a file, else a ValueError naming ``op``.

    The one rule for ``save`` and ``load``: a str of 1 to 200 characters from letters,
    digits, ``_``, ``.`` and ``-``, not starting with ``.`` or ``-``. Each name becomes
    the archive member ``<name>.npy``, so nothing that could read as a path (``/``,
    ``\\``, a leading ``..``) or confuse a zip tool (spaces, control characters) is allowed.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{op}: parameter name {name!r} is not allowed; names must be 1 to 200 characters "
                         "from letters, digits, '_', '.' and '-', not starting with '.' or '-' (no '/' or "
                         "'\\': each becomes the member '<name>.npy' of the .npz archive)")
    return name


# --- save --------------------------------------------------------------------------------------
def _checked_array(key, value):
    """A C-ordered copy of the array to store for ``key``: real numbers only, so no pickling is ever needed."""
    check_name("save", key)
    # a masked array's hidden values would be stored as data (refused); an np.matrix as its ndarray
    value = plain_array(value, f"save: parameter {key!r}")
    try:
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
    except Exception as error:
        # the full name: a torch.Tensor NumPy cannot convert must not read as "a Tensor"
        raise TypeError(f"save: parameter {key!r} is a {_type_name(type(value))} that NumPy cannot make "
                        f"an array of ({error}); expected an autograd_lite Tensor or a real numeric ndarray "
                        "(convert it to a NumPy array of real numbers first)") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"save: parameter {key!r} has dtype {array.dtype}; expected a real numeric "
                        "array (bool, int or float: object arrays would need pickling, which save never "
                        "does, and load refuses complex, string, structured and datetime arrays)")
    # A snapshot (np.array copies): the checksums must describe the bytes written even if another thread
    # updates the parameter meanwhile. Under the lock an optimizer commits its step under, so the copy comes
    # before or after a step (the copy alone: the user's mapping and __array__ run outside, never holding it)
    with grad_lock:
        array = np.array(array, order="C")
    # refused before any file is touched: load would refuse the file (a good checkpoint overwritten by it)
    _refuse_inexact_integers("save", key, array, "load would refuse the file, so nothing was written (store it "
                             "as a float array if rounding is acceptable, or write it with np.savez and read it with np.load)")
    return array


def _refuse_inexact_integers(where, key, array, remedy):
    """A ValueError (``where``: the op and file, ``remedy``: what to do) if the int array ``array`` holds
    an integer that float64, a Tensor's dtype, would round (beyond 2**53): the one rule for save and load."""
    if array.dtype.kind in "iu" and array.size and max(-int(array.min()), int(array.max())) > 2 ** 53:
        inexact = next((v for v in array.ravel().tolist() if int(float(v)) != v), None)  # (2**60 is exact)
        if inexact is not None:
            raise ValueError(f"{where}: parameter {key!r} holds the integer {inexact}, which float64, a Tensor's "
                             f"dtype, cannot hold exactly; {remedy}")


def _type_name(kind):
    """The class ``kind`` by its full name (``torch.Tensor``, ``numpy.ndarray``; ``int`` for a builtin)."""
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", repr(kind))
    return name if module in (None, "builtins") else f"{module}.{name}"


def _npy_header(array):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    return buffer.getvalue()


def _raw_bytes(array):
    """The array's bytes as stored in the .npy (C order), without a copy."""
    return memoryview(array.reshape(-1).view(np.uint8))


def _write_archive(file, arrays):
    entries, members = [], []
    for key, array in arrays.items():
        data = _raw_bytes(array)
        entries.append({"name": key, "dtype": array.dtype.str, "shape": list(array.shape),
                        "sha256": hashlib.sha256(data).hexdigest()})
        members.append((key, _npy_header(array), data))
    body = json.dumps({"format": _FORMAT, "version": _VERSION, "arrays": entries}, indent=1).encode()
    manifest = body + b"\nsha256:" + hashlib.sha256(body).hexdigest().encode()
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(_member_info(MANIFEST, len(manifest)), manifest)
        for key, header, data in members:
            # The size is known up front, so zipfile writes no zip64 records it does not need.
            with archive.open(_member_info(key + ".npy", len(header) + len(data)), "w") as member:
                member.write(header)
                for start in range(0, len(data), 1 << 24):  # zipfile copies what it is given: bounded chunks
                    member.write(data[start:start + (1 << 24)])


def _member_info(name, size):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same params, same bytes
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.file_size = size
    return info


def path_name(op, path):
    """``path`` (str, bytes or os.PathLike) as a str, refused when it cannot name a file.

    The one rule for the paths of the files the package writes and reads (``save``, ``load``,
    ``draw``): a TypeError naming ``op`` for any other type, a ValueError for an empty path, one
    holding a NUL byte, or one ending in a separator (it names a folder).
    """
    try:
        name = os.fsdecode(path)
    except TypeError:
        raise TypeError(f"{op}: path must be a str, bytes or os.PathLike naming a file, got "
                        f"{type(path).__name__}") from None
    if not name:
        raise ValueError(f"{op}: the path is empty; expected a file name")
    if "\0" in name:  # (the OS would refuse it with a bare "embedded null byte", naming neither op nor path)
        raise ValueError(f"{op}: the path {name!r} holds a NUL byte ('\\x00'), which no file name can hold; "
                         "expected a path without one")
    if name.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        # realpath would drop the separator and write a file where the user meant a folder
        raise ValueError(f"{op}: the path {name!r} ends in a path separator, so it names a folder; "
                         "expected a file name without a trailing separator")
    return name


def existing_target(op, name, target):
    """The ``os.stat`` of ``target`` (the file ``name`` resolves to), or None when it does not exist.

    The one rule for the files the package writes (``save``, ``draw``): a folder is an
    IsADirectoryError and any other file that is not a regular one (a FIFO, socket or device)
    a ValueError, both naming ``op`` and ``name``. Writing would replace such a file with a
    regular one (as root, ``/dev/null`` itself) or block on a FIFO; ``load`` refuses them too.
    """
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as error:  # a file where a folder should be, a loop of symbolic links, no permission
        raise _path_error(op, "write", name, os.path.dirname(target), error,
                         f"cannot look it up ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{op}: {name!r} is a directory; expected a file name")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{op}: {name!r} exists and is not a regular file (a FIFO, socket or device); "
                         "expected a regular file or a name that does not exist yet")
    return info


def _temporary_prefix(directory, base):
    """``.<base>.``, ``base`` cut (whole characters) so that ``.<base>.<pid>.<16 hex>.tmp`` fits the
    folder's longest file name: a legal name of up to NAME_MAX bytes gets a temporary too. Targets
    sharing a cut prefix share it, which is harmless: only dead writers' temporaries are removed."""
    room = _name_max(directory) - len("..0123456789.0123456789abcdef.tmp")  # (a pid of up to 10 digits)
    while len(os.fsencode(base)) > room and len(base) > 1:
        base = base[:-1]
    return f".{base}."


def _name_max(directory):
    """The most bytes a file name in ``directory`` may have (255 where the system cannot tell)."""
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # (no pathconf on Windows; a folder that is not there)
        return 255
    return limit if limit > 0 else 255  # (-1: no limit)


def _path_error(op, action, name, folder, error, otherwise):
    """The OSError ``error`` met on the user's path ``name`` (a str) as one of its type and errno
    whose message names ``op``, ``name`` and its ``folder``: "<op>: cannot <action> <name>: <reason>",
    the reason being ``otherwise`` unless the error itself says more (a missing folder, a file where a
    folder should be, a loop of symbolic links, a name too long). The one wording for ``save``, ``load``
    and ``draw``."""
    if error.errno == errno.ENOTDIR:
        reason = (f"a part of the folder {folder!r} is a file, not a folder; expected a path through "
                  "existing folders")
    elif error.errno == errno.ELOOP:
        reason = (f"the path runs into a loop of symbolic links ({error.strerror}), at the file's own name "
                  f"or on the way to the folder {folder!r}; expected links that end at a file or a folder")
    elif error.errno == errno.ENAMETOOLONG:
        reason = _too_long(name, folder)
    elif isinstance(error, FileNotFoundError) and not os.path.isdir(folder):
        make = " (create it first, e.g. os.makedirs)" if action == "write" else ""
        reason = f"the folder {folder!r} does not exist; expected an existing folder{make}"
    else:
        reason = otherwise
    return type(error)(error.errno, f"{op}: cannot {action} {name!r}: {reason}", name)


def _too_long(name, folder):
    """Why the file system refused ``name`` (in ``folder``) as too long: its own name, or the whole path."""
    target = os.path.realpath(name)  # (a symbolic link's target may be the long one)
    size, limit = len(os.fsencode(os.path.basename(target))), _name_max(folder)
    if size > limit:
        return f"its file name is {size} bytes, more than the {limit} this file system takes; expected fewer"
    return (f"the path is {len(os.fsencode(target))} bytes, more than the file system takes (PATH_MAX; the "
            "file name itself fits); expected a shorter path")


def _create_temporary(directory, base, path):
    """A new temporary for the save to ``directory/base`` (``path``, the user's, as a str): its path
    and a descriptor open for writing that holds an exclusive ``flock`` on it until it is closed,
    which tells ``_remove_stale_temporaries`` in any process that its writer is alive."""
    while True:
        temp_path = os.path.join(directory, f"{_temporary_prefix(directory, base)}{os.getpid()}."
                                            f"{secrets.token_hex(8)}.tmp")
        try:
            # Created with 0o666 like open() does, so the kernel applies the umask: no need to read
            # it (reading it means setting it, which is process-wide and races other threads).
            fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as error:
            # The temporary's hidden name would tell the user nothing: name their path and its folder.
            # (no permission, a read-only file system, a folder that takes no files (/sys, /proc), ...)
            raise _path_error("save", "write", path, directory, error,
                             f"cannot create a file in the folder {directory!r} ({error.strerror or error}); "
                             "expected a folder this process can write to") from None
        try:
            # (blocks only while a clean-up holds the lock, which it takes only to remove the file)
            if fcntl is None or _lock(fd, fcntl.LOCK_EX) is False or os.fstat(fd).st_nlink:
                return temp_path, fd
        except BaseException as error:  # (an interrupt, a lock error): no temporary of this save remains
            os.close(fd)
            _remove_own_temporary(temp_path)
            if isinstance(error, OSError):
                raise _path_error("save", "write", path, directory, error, "cannot lock its temporary file "
                                  f"in the folder {directory!r} ({error.strerror or error})") from None
            raise
        # A clean-up that cannot see this process (another PID namespace) locked and removed the new
        # file before this lock: it is gone, so write under a new name.
        os.close(fd)


def _remove_own_temporary(temp_path):
    try:
        os.unlink(temp_path)
    except FileNotFoundError:  # (already removed)
        pass


def _lock(fd, how):
    """``flock(fd, how)``: True once taken, None when another descriptor holds it (``LOCK_NB``), False
    where the file system takes no locks (then a writer is judged by its pid alone, as without fcntl)."""
    try:
        fcntl.flock(fd, how)  # (Python retries it on EINTR)
    except (BlockingIOError, PermissionError):  # (EACCES: POSIX lets fcntl locks, under some flocks, say so)
        return None
    except OSError as error:
        if error.errno == errno.EBADF:  # this descriptor cannot take it (NFS gives LOCK_EX to writers only)
            raise
        # Any other errno says this file system gives no flock locks, whatever its code: ENOLCK,
        # EOPNOTSUPP, EINVAL, ENOSYS, 524 (the kernel's ENOTSUPP: Lustre, Cray DVS), ...
        return False
    return True


def process_is_gone(pid):
    """Whether no process ``pid`` exists (the writer that named a temporary; never this process,
    where another thread may be writing). The jobs' staging folders use it too (models/outputs.py)."""
    if os.name != "posix" or pid <= 0 or pid == os.getpid():  # our own pid: another thread may be saving
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):  # PermissionError: it exists under another user
        return False
    return False


def _remove_stale_temporaries(directory, base):
    """Remove the temporaries of saves to ``directory/base`` whose writer died (kill -9, power cut):
    those whose pid names no process here and whose ``flock`` no one holds (``_remove_if_unlocked``)."""
    prefix = re.escape(_temporary_prefix(directory, base))
    pattern = re.compile(prefix + r"([0-9]{1,10})\.[0-9a-f]{16}\.tmp\Z")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match and process_is_gone(int(match.group(1))):
            _remove_if_unlocked(entry.path)


def _remove_if_unlocked(temp_path):
    """Remove the temporary ``temp_path`` unless its writer still holds its lock: a writer in another
    PID namespace (a container sharing the folder, a host sharing it over NFS) has a pid that names
    no process here, or another one. The lock is held while removing, so a writer that created the
    file just before locking it finds it gone (``_create_temporary``)."""
    try:
        if fcntl is None:  # no locks here: the pid alone decided
            os.unlink(temp_path)
            return
        fd = _open_to_lock(temp_path)
    except OSError:  # removed by another saver meanwhile, or not ours to remove
        return
    try:
        if _lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB) is not None and stat.S_ISREG(os.fstat(fd).st_mode):
            os.unlink(temp_path)
    except OSError:  # removed by another saver meanwhile, or a lock this file system cannot give a reader
        pass
    finally:
        os.close(fd)


def _open_to_lock(temp_path):
    """A descriptor on the file ``temp_path`` that can take its exclusive lock (NFS grants one only
    to a writer), never through a symbolic link and never waiting on a FIFO."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(temp_path, os.O_RDWR | flags)
    except PermissionError:  # a read-only temporary (the saved file's mode was 0o444): a local lock needs no more
        return os.open(temp_path, os.O_RDONLY | flags)


def fsync_path(path):
    """Flush ``path`` to disk: a file's bytes, or a folder's entries (a rename in it durable, POSIX);
    best effort where it cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(params, path):
    """Write ``params`` to ``path`` as an uncompressed ``.npz`` archive with a manifest, atomically.

    Args:
        params: mapping name -> Tensor or ndarray of real numbers (any shapes), e.g.
            {"W1": Tensor of shape (n1, n0), "b1": Tensor of shape (n1, 1), ...}; names
            follow ``check_name``.
        path: file name (str, bytes or os.PathLike), used exactly as given (no suffix added). A
            symbolic link is followed: the file it points to is written, the link kept.
    Returns:
        ``path``. The file is complete and on disk once this returns; on any failure
        the previous content of ``path`` (if any) is left untouched and no temporary
        file of this save remains. An existing file keeps its permission bits; a new
        one gets ``0o666 & ~umask``, as ``open()`` would give it.
    Raises:
        TypeError: params not a mapping, a value that is not a real numeric array, or a
            path that is not a str, bytes or os.PathLike.
        ValueError: no params, a name ``check_name`` refuses, an int array holding an integer
            float64 would round (beyond 2**53: ``load`` would refuse the file), an empty path, a path
            holding a NUL byte, a path ending in a separator (it names a folder), or a path naming an
            existing file that is not a regular file (a FIFO, socket or device: it is left as it is).
        IsADirectoryError: a path naming a directory.
        PermissionError: an existing file this process may not write (mode 0444, or 000
            for another user), as ``open(path, "wb")`` would refuse it; it is left as it is.
        OSError: the file cannot be written (its folder does not exist, a part of it is a
            file, a loop of symbolic links, a name or path longer than the file system takes,
            no permission, a full disk, a quota, a file-size limit, an I/O error, ...), naming
            ``path`` and its folder, of the errno met (chained from that error);
            a FileNotFoundError saying so when another process removed this save's temporary
            while it was written (see the module's docstring for when that can happen).
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"save: params must be a mapping name -> Tensor/ndarray, got {type(params).__name__}")
    if not params:
        raise ValueError("save: params is empty; expected at least one named Tensor or ndarray")
    arrays = {key: _checked_array(key, value) for key, value in params.items()}
    name = path_name("save", path)
    target = os.path.realpath(name)
    info = existing_target("save", name, target)
    mode = None if info is None else stat.S_IMODE(info.st_mode)
    directory, base = os.path.split(target)
    temp_path, handle = _create_temporary(directory, base, name)
    try:
        if info is not None:
            # Checked once the temporary exists: a read-only file system or folder is then already
            # refused with its own reason (access() says "not writable" for those too).
            _refuse_write_protected(name, target, directory, mode)
        _write_temporary(handle, mode, arrays, name, directory)
        # Renamed while the lock is held: once released, a clean-up could take it and remove the file.
        _rename_into_place(temp_path, target, name)
    except BaseException:
        _remove_own_temporary(temp_path)
        raise
    finally:
        os.close(handle)
    fsync_path(directory)
    _remove_stale_temporaries(directory, base)
    return path


def _refuse_write_protected(path, target, folder, mode):
    """A PermissionError naming save and ``path`` when this process may not write the existing file
    ``target``: the rename needs only the folder's permission, so it would replace a file that
    ``open(path, "wb")`` refuses. (As root, access() allows it, as open() would.)"""
    if not os.access(target, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        raise _path_error("save", "write", path, folder, denied,
                          f"the file exists and is write-protected (mode {stat.filemode(stat.S_IFREG | mode)}, "
                          f"{oct(mode)}) for this process, so open(path, 'wb') would refuse it too; it was left "
                          "as it was. Expected a file this process may write: make it writable (os.chmod) or "
                          "remove it first")


def _write_temporary(fd, mode, arrays, path, folder):
    """Write the archive to the temporary ``fd`` and flush it to disk. A write error (a full disk,
    a quota, a file-size limit, an I/O error) is an OSError of its errno naming save and the user's
    ``path``, chained from the error first met."""
    handled = sys.exc_info()[1]  # (a save in the caller's except block: that error is not this save's)
    try:
        # closefd=False: the descriptor, and so the lock, stays open until the rename
        with os.fdopen(fd, "wb", closefd=False) as file:
            if mode is not None:
                os.fchmod(fd, mode)
            _write_archive(file, arrays)
        os.fsync(fd)  # the bytes are on disk before the name points at them
    except OSError as error:
        # zipfile's member and archive, then the file's close, each write again while unwinding from the
        # first failure: that first error says what happened, the ones raised while handling it repeat it.
        first = error
        while isinstance(first.__context__, OSError) and first.__context__ is not handled:
            first = first.__context__
        code = errno.errorcode.get(first.errno, first.errno)
        remedy = ("free some space or raise the limit (a quota, ulimit -f)"
                  if first.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else "check the device")
        raise _path_error("save", "write", path, folder, first,
                          f"writing it in the folder {folder!r} failed ({first.strerror or first}, errno {code}); "
                          f"{'the file was left as it was' if mode is not None else 'no file was created'} and "
                          f"no temporary file remains; {remedy}, then save again") from first


def _rename_into_place(temp_path, target, path):
    """Rename the written temporary over ``target``; a temporary another process removed meanwhile is
    a FileNotFoundError naming save, the user's ``path`` and what happened, not the hidden name alone."""
    try:
        os.replace(temp_path, target)
    except FileNotFoundError as error:
        folder, temp_name = os.path.split(temp_path)
        raise FileNotFoundError(
            error.errno, f"save: cannot write {path!r}: the temporary file {temp_name!r} it was writing in the "
            f"folder {folder!r} was removed by another process (or the folder moved) before it could be "
            f"renamed to {os.path.basename(target)!r}: a save to the same path from a machine that shares "
            "no file locks with this one, or a clean-up of the folder; the file was left as it was, so save "
            "again", path) from None
    except OSError as error:  # (a sticky folder, a bind-mounted file: open() could write it, a rename cannot)
        folder = os.path.dirname(target)
        why, kept = ("the file is a mount point, or the folder is sticky (mode +t, as /tmp) and the file another "
                     "user's; the file was left as it was", "write into this file with np.savez") \
            if os.path.lexists(target) else ("no file was created", "check the folder")
        raise _path_error("save", "write", path, folder, error, f"renaming the written temporary onto it in the "
                          f"folder {folder!r} failed ({error.strerror or error}): {why}, and no temporary file "
                          f"remains. Save to a path of your own, or {kept}") from error


# --- load --------------------------------------------------------------------------------------
class _BoundedFile:
    """A read-only file whose reads never ask for more than it holds: zipfile reads sizes
    taken from the (possibly damaged) directory, and a huge one must not allocate."""

    def __init__(self, file, size):
        self._file, self._size = file, size

    def read(self, n=-1):
        remaining = max(self._size - self._file.tell(), 0)
        if n is None or n < 0 or n > remaining:
            n = remaining
        return self._file.read(n)

    def seek(self, *args):
        return self._file.seek(*args)

    def tell(self):
        return self._file.tell()

    def seekable(self):
        return True


def _open_to_read(name, max_bytes):
    """``name`` (a str) opened for reading, and its size: that of the file opened (``os.fstat``), not of
    whatever the name meant a moment before, so that a save renaming a new file in meanwhile gives
    wholly the old file or wholly the new one. A FIFO or device is refused before it is opened."""
    folder = os.path.dirname(os.path.realpath(name))  # (resolved as save does: a link's target's folder)
    try:
        info = os.stat(name)
        # A FIFO or device is refused below, never opened; O_NONBLOCK: no wait on a FIFO swapped in
        # after the stat, O_NOCTTY: never a controlling terminal.
        file = open(name, "rb", opener=_open_no_wait) if stat.S_ISREG(info.st_mode) else None
    except OSError as error:
        raise _path_error("load", "read", name, folder, error,
                         f"{error.strerror or error} (in the folder {folder!r})") from None
    try:
        if file is not None:
            info = os.fstat(file.fileno())
        _check_loadable(name, info, max_bytes)
    except BaseException:
        if file is not None:
            file.close()
        raise
    return file, info.st_size


def _open_no_wait(path, flags):
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))


def _check_loadable(name, info, max_bytes):
    """Refuse the file ``name`` whose ``os.stat`` is ``info`` unless it is a regular file of at most ``max_bytes``."""
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"load: {name!r} is a directory; expected an .npz file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"load: {name!r} is not a regular file; expected an .npz file")
    if info.st_size > max_bytes:
        raise ValueError(f"load: {name!r} is {info.st_size} bytes, more than max_bytes={max_bytes}; "
                         "pass a larger max_bytes= to load a file this large that you trust")


def _expected_shapes(expected):
    """name -> shape tuple, from ``load``'s ``expected`` (name -> shape, or name -> Tensor/ndarray)."""
    if not isinstance(expected, Mapping):
        raise TypeError(f"load: expected must be a mapping name -> shape tuple (or name -> Tensor/ndarray), "
                        f"got {type(expected).__name__}")
    return {key: _expected_shape(key, value) for key, value in expected.items()}


def _expected_shape(key, value):
    # A class has a .shape too (np.ndarray's is a descriptor): only an instance's shape is used.
    shape = value.shape if hasattr(value, "shape") and not isinstance(value, type) else value
    if isinstance(shape, (tuple, list)) and all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape):
        return tuple(int(n) for n in shape)
    given = (f"the class {_type_name(value)} itself, not an array of it" if isinstance(value, type)
             else f"{value!r:.80} ({_type_name(type(value))})")
    raise TypeError(f"load: expected[{key!r}] is {given}; expected a shape tuple of ints >= 0 such as (2,) "
                    "or (4, 3), or a Tensor/ndarray whose shape is used")


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


def load(path, *, expected=None, max_bytes=DEFAULT_MAX_BYTES, require_manifest=True):
    """Read parameters written by ``save``, verified; never unpickles.

    Args:
        path: file name (str, bytes or os.PathLike) of an ``.npz`` archive.
        expected: optional mapping name -> shape tuple (or name -> Tensor/ndarray,
            e.g. freshly initialized params, whose shapes are used); the file must
            hold exactly these names with these shapes.
        max_bytes: the most bytes the file may hold, any one array may declare, and all
            its arrays may declare together (an int > 0, default ``DEFAULT_MAX_BYTES``,
            1 GiB). Checked before reading or allocating; raise it for a trusted larger file.
        require_manifest: a bool (another value is a TypeError). True (default) refuses
            archives without ``save``'s manifest, whose completeness cannot be verified. False also reads a plain ``np.savez``
            / ``np.savez_compressed`` archive of real numeric arrays (names, sizes, dtypes
            and the zip's CRCs are still checked; a member lost to damage is not detectable).
    Returns:
        dict name -> Tensor(requires_grad=True, name=name), in the order they were
        saved; float32/float64 data comes back bit for bit (ints and bools as float64;
        an int float64 would round, beyond 2**53, is refused).
    Raises:
        OSError: the file cannot be opened, naming ``path`` and its folder:
            FileNotFoundError (no such file, or no such folder), IsADirectoryError,
            PermissionError, NotADirectoryError (a part of the folder is a file), an OSError
            with errno ELOOP (a loop of symbolic links), ...
        ValueError: anything wrong with the file's content (truncated, corrupted, too
            large for ``max_bytes``, pickled, non-real dtypes, bad names, no manifest),
            naming the file and, where known, the parameter; names not matching ``expected``;
            an empty path or one ending in a separator.
        TypeError: ``expected`` not a mapping of names to shapes (or Tensors/ndarrays), or a
            path that is not a str, bytes or os.PathLike.
        ShapeError: a parameter's shape differs from ``expected``.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes <= 0:
        raise ValueError(f"load: max_bytes must be an int > 0, got {max_bytes!r}")
    # ("no" or an array would be truthy: a file without a manifest would be refused, or read unverified)
    require_manifest = flag(require_manifest, "load(require_manifest=...)")
    name = path_name("load", path)
    file, size = _open_to_read(name, max_bytes)
    with file:
        arrays = _Reader(name, _BoundedFile(file, size), int(max_bytes), require_manifest).read()
    if expected is not None:
        _check_expected(name, arrays, expected)
    for key, array in arrays.items():
        _refuse_inexact_integers(f"load: {name!r}", key, array, "read such a file with np.load")
    return {key: Tensor(array, requires_grad=True, name=key) for key, array in arrays.items()}


class _Reader:
    """One load: the archive's structure, its manifest, then each member, every check
    before the allocation or read it guards."""

    def __init__(self, name, file, max_bytes, require_manifest):
        self.name, self.file, self.max_bytes, self.require_manifest = name, file, max_bytes, require_manifest
        self.key = None  # the parameter being read, for error messages

    def fail(self, reason):
        where = f" (parameter {self.key!r})" if self.key is not None else ""
        raise _Refused(f"load: cannot read {self.name!r}{where}: {reason}")

    def read(self):
        try:
            try:
                return self._read()
            except (_Refused, MemoryError):  # (memory running out says nothing about the file: as np.load)
                raise
            except Exception as error:  # whatever a damaged archive makes zipfile, zlib, json or numpy raise
                self.fail(f"the file is truncated or corrupted ({type(error).__name__}: {error})")
        except _Refused as refused:
            raise ValueError(str(refused)) from None  # a plain ValueError, without the inner traceback

    def _read(self):
        head = self.file.read(8)
        self.file.seek(0)
        if head.startswith(b"\x93NUMPY"):
            self.fail("it is a single .npy array, not an .npz archive of named parameters")
        if head[:1] == b"\x80":
            self.fail("it holds pickled data, which load never unpickles")
        try:
            archive = zipfile.ZipFile(self.file)
        except zipfile.BadZipFile as error:
            self.fail(f"it is not an .npz (zip) archive, or it is truncated or corrupted ({error})")
        with archive:
            return self._read_archive(archive)

    def _read_archive(self, archive):
        infos = archive.infolist()
        names = [info.filename for info in infos]
        twice = sorted(n for n, count in collections.Counter(names).items() if count > 1)  # (linear: a hostile zip lists millions)
        if twice:
            self.fail(f"the archive lists {twice} more than once; a file from save never does")
        manifest_info = next((info for info in infos if info.filename == MANIFEST), None)
        members = {}
        for info in infos:
            if info is manifest_info:
                continue
            if not info.filename.endswith(".npy"):
                self.fail(f"member {info.filename!r} is not a .npy array")
            key = info.filename[:-len(".npy")]
            try:
                check_name("load", key)
            except ValueError as error:
                self.fail(str(error).replace("load: ", "", 1))
            members[key] = info
        if manifest_info is not None:
            entries = self._read_manifest(archive, manifest_info)
        elif self.require_manifest:
            self.fail("it has no manifest, so its completeness cannot be verified (it was not written by "
                      "ag.save, or the manifest was lost to damage); pass require_manifest=False to read "
                      "a plain np.savez archive that you trust")
        else:
            entries = {key: None for key in members}
        missing = [key for key in entries if key not in members]
        extra = [key for key in members if key not in entries]
        if missing or extra:
            self.fail(f"the manifest lists {list(entries)} but the archive holds {list(members)} (missing "
                      f"{missing}, not in the manifest {extra}): the file is damaged or was altered")
        # Every declared size is checked before the first array is allocated.
        total = 0
        for key in entries:
            self.key, info = key, members[key]
            if manifest_info is not None and info.compress_type != zipfile.ZIP_STORED:
                self.fail("the member is compressed, which save never does: the file was altered")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"the member uses zip compression method {info.compress_type}; expected none "
                          "(stored) or deflate")
            total += info.file_size
            if info.file_size > self.max_bytes or total > self.max_bytes:
                self.fail(f"it declares {total} bytes of data, more than max_bytes={self.max_bytes}; pass a "
                          "larger max_bytes= to load a file this large that you trust")
        arrays = {}
        for key, entry in entries.items():
            self.key = key
            arrays[key] = self._read_member(archive, members[key], entry)
        self.key = None
        return arrays

    def _read_manifest(self, archive, info):
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > _MAX_MANIFEST_BYTES:
            self.fail("its manifest is compressed or too large: the file is damaged or was altered")
        data = archive.read(info)
        body, _, tail = data.rpartition(b"\nsha256:")
        if tail != hashlib.sha256(body).hexdigest().encode():
            self.fail("its manifest does not match its own checksum: the file is damaged")
        manifest = json.loads(body.decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            self.fail("its manifest is not an autograd_lite parameter manifest")
        if manifest.get("version") != _VERSION:
            self.fail(f"its manifest has format version {manifest.get('version')!r}; this version of "
                      f"autograd_lite reads version {_VERSION}")
        entries = {}
        listed = manifest.get("arrays")
        if not isinstance(listed, list) or not listed:
            self.fail("its manifest lists no arrays")
        for entry in listed:
            ok = (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                  and isinstance(entry.get("dtype"), str) and isinstance(entry.get("shape"), list)
                  and all(type(n) is int and n >= 0 for n in entry["shape"])
                  and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64)
            if not ok:
                self.fail(f"its manifest holds a malformed entry {entry!r}")
            try:
                check_name("load", entry["name"])
            except ValueError as error:
                self.fail("its manifest: " + str(error).replace("load: ", "", 1))
            if entry["name"] in entries:
                self.fail(f"its manifest lists {entry['name']!r} twice")
            entries[entry["name"]] = entry
        return entries

    def _read_member(self, archive, info, entry):
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                self.fail(f"the member is a .npy of format version {version}; expected 1.0 or 2.0")
            self._check_dtype(dtype)
            if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
                self.fail(f"the member's header declares the shape {shape!r}")
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes > self.max_bytes:
                self.fail(f"its header declares shape {shape} of {dtype}, {nbytes} bytes, more than "
                          f"max_bytes={self.max_bytes}; pass a larger max_bytes= to load a file this "
                          "large that you trust")
            if info.file_size != member.tell() + nbytes:
                self.fail(f"its header declares shape {shape} of {dtype} ({nbytes} bytes of data) but the "
                          f"member holds {info.file_size - member.tell()}: the file is truncated or corrupted")
            if entry is not None and (dtype.str != entry["dtype"] or list(shape) != entry["shape"]):
                self.fail(f"the member holds {dtype.str} of shape {shape} but the manifest says "
                          f"{entry['dtype']} of shape {tuple(entry['shape'])}: the file is damaged")
            array = np.empty(count, dtype=dtype)
            view = _raw_bytes(array)
            filled = 0
            while filled < nbytes:
                n = member.readinto(view[filled:])
                if not n:
                    self.fail(f"the member ends after {filled} of {nbytes} bytes of data: the file is "
                              "truncated")
                filled += n
            if member.read(1):
                self.fail("the member holds more data than its header declares")
        if entry is not None and hashlib.sha256(view).hexdigest() != entry["sha256"]:
            self.fail("its data does not match the manifest's checksum: the file is damaged")
        array = array.reshape(shape, order="F" if fortran_order else "C")
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        return array

    def _check_dtype(self, dtype):
        kind = dtype.kind
        if dtype.hasobject or kind == "O":
            self.fail("it holds pickled data (an object array), which load never unpickles")
        if kind == "c":
            self.fail(f"it holds complex numbers ({dtype}); expected real numbers")
        if kind in "US":
            self.fail(f"it holds strings ({dtype}); expected real numbers")
        if kind == "V":
            self.fail(f"it holds a structured or raw-bytes array ({dtype}); expected real numbers")
        if kind in "Mm":
            self.fail(f"it holds dates or time spans ({dtype}); expected real numbers")
        if kind not in _NUMERIC_KINDS:
            self.fail(f"it holds an array of dtype {dtype}; expected real numbers")
