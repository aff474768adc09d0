"""The exercises' data sets: the 2-D "football" set and the cat / non-cat images.

Each loader reads this project's ``.npz`` layout or the course's own files
(the football set's ``data.mat``, the two cat ``.h5`` files) and returns the
same arrays either way: examples as columns, float64, labels 0/1.

Files are read without unpickling anything and checked key by key, so a
wrong, truncated, damaged or hostile file gives a ``ValueError`` naming the
file and the key instead of failing later inside training. (An .npz carries a
checksum per array, so a damaged one never loads; .mat and .h5 files carry
none, so a flipped byte inside the numbers themselves cannot be noticed.) ``.mat`` files
need scipy and ``.h5`` files need h5py: ``pip install "autograd_lite[data]"``.

The data folder. The jobs look for data in this order: their ``--data``
option, else the folder named by the environment variable
``AUTOGRAD_LITE_DATA`` (see ``data_folder``), else the synthetic stand-in
where one exists (``synthetic_football``; the cat images have none).
"""
import codecs
import json
import errno
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["DATA_ENV", "ITERATIONS_ENV", "FOOTBALL_FILES", "CAT_FILES", "data_folder", "find_data", "load_football",
           "load_catvnoncat", "synthetic_football", "path_kind", "notebook_iterations"]

DATA_ENV = "AUTOGRAD_LITE_DATA"
ITERATIONS_ENV = "AG_NOTEBOOK_ITERATIONS"  # the notebooks' cap on every training run
# What a data folder may hold for each set, in the order they are looked for.
FOOTBALL_FILES = ("football.npz", "data.mat")
CAT_FILES = ("catvnoncat.npz", "train_catvnoncat.h5")  # the .h5 pair: train_ and test_catvnoncat.h5
CAT_H5 = ("train_catvnoncat.h5", "test_catvnoncat.h5")

_FOOTBALL_SHAPES = {"train_X": (2, None), "train_Y": (1, None), "test_X": (2, None), "test_Y": (1, None)}
_CAT_SHAPES = {"train_x_orig": (None, 64, 64, 3), "train_y": (1, None),
               "test_x_orig": (None, 64, 64, 3), "test_y": (1, None)}
# The course's data.mat: examples as rows, labels uint8 columns.
_MAT_SHAPES = {"X": (None, 2), "y": (None, 1), "Xval": (None, 2), "yval": (None, 1)}
# The course's .h5 files: images (m, 64, 64, 3) uint8, labels (m,).
_H5_SHAPES = {"train": {"train_set_x": (None, 64, 64, 3), "train_set_y": (None,)},
              "test": {"test_set_x": (None, 64, 64, 3), "test_set_y": (None,)}}


# What a path may be other than a regular file or a folder, as messages say it.
_OTHER_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def path_kind(path):
    """What is at ``path``, in words, for a message that must not call an existing path missing or a
    file in the way a folder: "a directory", "a regular file", "a FIFO (named pipe)", "a character
    device" (e.g. /dev/null), "a block device", "a socket", "a symbolic link to 'x', which does not
    exist", "a loop of symbolic links", "nothing: it does not exist", or "a path that cannot be
    looked up (<reason>)" (a file further up the path, no permission). Symbolic links are followed."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
        return "nothing: it does not exist"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a loop of symbolic links"
        return f"a path that cannot be looked up ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _OTHER_KINDS if test(mode)), "not a regular file")


def data_folder():
    """The folder named by ``AUTOGRAD_LITE_DATA``, or None when the variable is unset or empty.

    Raises:
        ValueError: the variable names something that is not a folder (a typo
            should not silently fall back to synthetic data).
    """
    value = os.environ.get(DATA_ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{DATA_ENV}={value!r} is not a folder ({path_kind(folder)}); point it at the folder "
                         "holding the data files, or unset it")
    return folder


def notebook_iterations():
    """The notebooks' cap on every training run, from the environment variable ``AG_NOTEBOOK_ITERATIONS``
    (the test suite sets it low for a quick pass).

    Returns:
        the int it holds (surrounding spaces allowed), or 0 when it is unset or empty; 0 means no cap,
        each run trains its full length.
    Raises:
        ValueError: it holds anything but a whole number >= 0 (``int()`` in the notebook's first
            cell gave a bare "invalid literal"), naming the variable, its value and what was expected.
    """
    value = os.environ.get(ITERATIONS_ENV, "")
    try:
        cap = int(value) if value.strip() else 0
    except ValueError:
        cap = None
    if cap is None or cap < 0:
        raise ValueError(f"{ITERATIONS_ENV}={value!r} is not a whole number >= 0; expected the number of "
                         "iterations to cap every training run at (e.g. 20), or 0 or unset for full-length runs")
    return cap


def find_data(option, names):
    """Where a job's data comes from: the ``--data`` option, else the data folder.

    Args:
        option: the option's value: None, a file, or a folder to look in.
        names: file names to look for in a folder, in order (e.g. ``FOOTBALL_FILES``).
    Returns:
        a Path (a file, or for the cat .h5 pair the folder holding it), or None when
        ``option`` is None and ``AUTOGRAD_LITE_DATA`` is unset.
    Raises:
        TypeError: ``option`` neither None nor a str / os.PathLike.
        FileNotFoundError: nothing at ``option``, or nothing at any of ``names`` in the folder.
        ValueError: ``option`` is neither a regular file nor a folder (a device such as /dev/null, a
            FIFO, a dangling symbolic link, ...), the folder holds none of ``names`` as a regular file
            but something else at one of them (a folder, a FIFO, ...), each said as what it is
            (``path_kind``); ``AUTOGRAD_LITE_DATA`` is set to something that is not a folder.
    """
    if option is None:
        folder = data_folder()
        if folder is None:
            return None
        where = f"the data folder {str(folder)!r} (from {DATA_ENV})"
    else:
        folder = _path_argument("find_data", option, "a data file or a folder to look in",
                                " (None: the data folder)", name="option").expanduser()
        if folder.is_file():
            return folder
        if not folder.is_dir():
            _refuse_path(f"data path {str(option)!r}", folder, f"a data file ({' or '.join(names)}) or a "
                                                              "folder holding one")
        where = f"folder {str(folder)!r}"
    for name in names:
        if (folder / name).is_file():
            return folder if name.endswith(".h5") else folder / name
    others = [f"{str(folder / name)!r} is {path_kind(folder / name)}" for name in names
              if os.path.lexists(folder / name)]
    if others:  # something at a data file's name, but not a file: said as what it is, not as missing
        raise ValueError(f"{where} holds no data file: {'; '.join(others)}; expected a regular file at one of "
                         f"the names {', '.join(names)}")
    raise FileNotFoundError(f"{where} holds none of {', '.join(names)}")


def _refuse_path(what, path, expected):
    """The error for ``path`` (called ``what``), which is not what was ``expected``: a
    FileNotFoundError when nothing is there, else a ValueError saying what is (``path_kind``)."""
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{what} does not exist")
    raise ValueError(f"{what} is {path_kind(path)}; expected {expected}")


def _fits(shape, pattern):
    return len(shape) == len(pattern) and all(p is None or p == n for n, p in zip(shape, pattern))


def _expected(pattern):
    return "(" + ", ".join("m" if p is None else str(p) for p in pattern) + (",)" if len(pattern) == 1 else ")")


def _check_array(path, key, array, pattern):
    """A numeric array of the given shape pattern, else a ValueError naming file and key."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiub":
        raise ValueError(f"data file {str(path)!r}, key {key!r}: dtype {array.dtype} is not numeric")
    if not _fits(array.shape, pattern):
        raise ValueError(f"data file {str(path)!r}, key {key!r}: shape {array.shape}, "
                         f"expected {_expected(pattern)}")
    return array


def _path_argument(function, path, expected, none_hint="", name="path"):
    """``path`` as a Path, refusing None, numbers, bytes and the empty string by the loader's name:
    pathlib's own error ("expected str, bytes or os.PathLike object, not NoneType") names neither
    the loader nor what it wants, and Path("") is the current folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{function}: {name} is {path!r} ({type(path).__name__}); expected {expected}, as a str "
                        f"or pathlib.Path{none_hint}")
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{function}: {name} is {path!r}; expected {expected}")
    return Path(path)


def _check_file(path, kind):
    """A Path to an existing regular file; a missing path, a folder or anything else there is said
    as what it is."""
    path = Path(path)
    if not path.is_file():
        _refuse_path(f"data file {str(path)!r}", path, kind)
    return path


# An .npz is a zip archive: it starts with a local file header (or, empty, the end record).
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Binary formats whose first bytes are printable, or that are best named: a MATLAB .mat file (v5 to v7,
# and v7.3, an HDF5 file behind the same text header) starts with "MATLAB 5.0 MAT-file" (or 7.3).
_MAT_MAGIC, _HDF5_MAGIC = b"MATLAB ", b"\x89HDF\r\n\x1a\n"


def _what_it_is(head):
    """What a file that is not a zip archive looks like, from its first bytes."""
    if not head:
        return "an empty file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    if head.startswith(_MAT_MAGIC) and b"MAT-file" in head[:32]:
        return "a MATLAB .mat file, binary"
    if head.startswith(_HDF5_MAGIC):
        return "an HDF5 file, such as the course's .h5 files"
    try:  # an incomplete character at the cut is not a reason to call it binary
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and "".join(text.split()).isprintable():
        return "a text file"
    return f"not a zip file; it starts with {head[:8]!r}"


def _check_npz_magic(path, patterns):
    """Refuse a file that is not a zip archive before np.load sees it: np.load would take it
    for a pickle and suggest loading it unsafely, or return a lone .npy array."""
    with open(path, "rb") as file:
        head = file.read(64)
    if not head.startswith(_ZIP_MAGIC):
        raise ValueError(f"data file {str(path)!r} is not an .npz archive ({_what_it_is(head)}); "
                         f"expected an .npz with keys {', '.join(patterns)}")


def _check_single_members(path, patterns):
    """Refuse an archive storing one of the keys twice (as appending to it does): np.load takes the
    last copy, other tools the first, so which array the file holds is not known."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    # (np.load names a member "x.npy" or "x" alike: key x. A few keys: no Counter needed)
    twice = sorted(key for key in patterns if names.count(f"{key}.npy") + names.count(key) > 1)
    if twice:
        raise ValueError(f"data file {str(path)!r} stores {', '.join(map(repr, twice))} more than once (an archive "
                         "appended to?); which copy is the data cannot be told: write the file anew")


def _read_npz(path, patterns, shown=None):
    """The arrays named in ``patterns`` (key -> shape with None for any size) from an
    .npz file, each checked to be numeric and of its shape; messages name ``shown``
    (default: ``path``), the file the user gave."""
    if shown is not None and shown != path:
        try:
            return _read_npz(path, patterns)
        except ValueError as error:
            raise ValueError(str(error).replace(str(path), str(shown))) from None
    arrays = {}
    try:
        _check_npz_magic(path, patterns)
        _check_single_members(path, patterns)
        with np.load(path, allow_pickle=False) as npz:
            for key, pattern in patterns.items():
                if key not in npz.files:
                    raise ValueError(f"data file {str(path)!r} has no key {key!r}; it holds {sorted(npz.files)}, "
                                     f"expected {sorted(patterns)}")
                arrays[key] = _check_array(path, key, _stored(path, npz, key, pattern), pattern)
    except ValueError as error:
        if str(path) in str(error):
            raise
        # numpy's own ValueErrors: pickled object arrays, a broken header, ...
        raise ValueError(f"data file {str(path)!r} cannot be read safely: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"data file {str(path)!r} is unreadable, truncated or not an .npz archive: "
                         f"{type(error).__name__}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged archive can raise anything from zip/zlib/numpy
        # (NotImplementedError for an unknown compression, MemoryError for a header that claims
        # billions of elements, ...): whatever it is, the file is damaged, and the caller must
        # learn which file.
        raise ValueError(f"data file {str(path)!r} is damaged: {type(error).__name__}: {error}") from None
    return arrays


def _stored(path, npz, key, pattern):
    """``npz[key]``; an array of Python objects (stored pickled) is refused naming the file, the key
    and what was expected. numpy's own message would advise allow_pickle=True, which is unsafe."""
    try:
        return npz[key]
    except ValueError as error:
        if "allow_pickle" not in str(error):  # not the pickle refusal: a damaged header, reported as such
            raise
        raise ValueError(f"data file {str(path)!r}, key {key!r}: dtype object (Python objects, stored pickled) "
                         f"is not numeric; expected a numeric array of shape {_expected(pattern)} (arrays of "
                         "objects are refused, never unpickled: unpickling a file can run its code)") from None


def _need(module, path):
    """Import scipy.io / h5py, or say how to install them."""
    try:
        if module == "scipy.io":
            import scipy.io
            return scipy.io
        import h5py
        return h5py
    except ImportError:
        package = "scipy" if module == "scipy.io" else "h5py"
        raise ImportError(f"reading {str(path)!r} needs {package}, which is not installed: "
                          f'pip install "autograd_lite[data]" (or pip install {package})') from None


# scipy.io.loadmat and HDF5 can crash the interpreter itself (a segmentation fault) on some
# damaged files; an exception handler never runs then. So the course's files are read in a
# child process that copies the arrays into an .npz, which is then read and checked here like
# any other: a crash of the child is reported as a damaged file, naming it.
# The child copies only the keys asked for (argv[3:]): a file's other variables may bear any
# name, and one passed to np.savez as a keyword could collide with savez's own arguments (a
# variable `file` made a valid data.mat unreadable). It prints every variable's name, as JSON on
# its last line, so that a missing key can be reported with what the file holds instead.
# A variable loadmat returns as something other than a plain array of numbers (a cell array or
# struct holds Python objects, a sparse matrix is a scipy object) is not copied: np.savez would
# pickle it, and reading it back would fail with numpy's advice to allow unpickling. The child
# names what it is instead (a second JSON line, {key: what}), and the parent refuses the key by name.
_CHILD_MAT = """
import json, sys, numpy as np, scipy.io, scipy.sparse
contents = scipy.io.loadmat(sys.argv[1])
names = [k for k in contents if not k.startswith("__")]
wanted = {k: contents[k] for k in names if k in sys.argv[3:]}
def what(v):
    if scipy.sparse.issparse(v):
        return "a MATLAB sparse matrix"
    if not isinstance(v, np.ndarray):
        return "a " + type(v).__name__
    if v.dtype.names:
        return "a MATLAB struct"
    return "a MATLAB cell array" if v.dtype.hasobject else None
refused = {k: what(v) for k, v in wanted.items() if what(v)}
np.savez(sys.argv[2], **{k: v for k, v in wanted.items() if k not in refused})
print(json.dumps(refused))
print(json.dumps(sorted(names)))
"""
_CHILD_H5 = """
import json, sys, numpy as np, h5py
with h5py.File(sys.argv[1], "r") as f:
    names = [k for k in f if isinstance(f[k], h5py.Dataset)]
    arrays = {k: f[k][()] for k in names if k in sys.argv[3:]}
np.savez(sys.argv[2], **arrays)
print(json.dumps(sorted(names)))
"""


def _read_in_child(path, code, patterns, what):
    """Run ``code`` (argv: path, out.npz, keys) in a child Python; return the numeric arrays of
    ``patterns`` from what it wrote, checked as ``_read_npz`` checks them."""
    with tempfile.TemporaryDirectory(prefix="autograd_lite_data_") as tmp:
        out = Path(tmp) / "arrays.npz"
        try:
            run = subprocess.run([sys.executable, "-c", code, str(path), str(out), *patterns],
                                 capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise ValueError(f"data file {str(path)!r} could not be read within 300 s; is it {what}?") from None
        if run.returncode != 0:
            lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines and run.returncode > 0 else f"the reader crashed (exit status {run.returncode})"
            raise ValueError(f"data file {str(path)!r} is unreadable, damaged or not {what}: {reason}")
        with np.load(out, allow_pickle=False) as npz:
            copied = npz.files
        refused = _refused_by_child(run.stdout)
        for key, pattern in patterns.items():
            if key in refused:
                raise ValueError(f"data file {str(path)!r}, key {key!r}: {refused[key]}, not an array of numbers; "
                                 f"expected a numeric array of shape {_expected(pattern)}")
        missing = [key for key in patterns if key not in copied]
        if missing:
            raise ValueError(f"data file {str(path)!r} has no key {missing[0]!r}; it holds "
                             f"{_names_held(run.stdout, copied)}, expected {sorted(patterns)}")
        return _read_npz(out, patterns, shown=path)


def _refused_by_child(stdout):
    """{key: what it is} for the variables the .mat child would not copy (JSON, its next-to-last
    line of output); {} for the .h5 child, which prints no such line, or a garbled one."""
    lines = stdout.strip().splitlines()
    try:
        refused = json.loads(lines[-2])
    except (IndexError, ValueError):
        return {}
    return refused if isinstance(refused, dict) else {}


def _names_held(stdout, copied):
    """Every variable of the file, as the child printed them (JSON, its last line of output); the
    keys it copied if that line is missing or garbled, so that an error stays an error about the file."""
    lines = stdout.strip().splitlines()
    try:
        names = json.loads(lines[-1])
    except (IndexError, ValueError):
        return sorted(copied)
    return names if isinstance(names, list) else sorted(copied)


def _read_mat(path):
    """The course's football ``data.mat`` (scipy.io.loadmat), checked key by key."""
    _need("scipy.io", path)
    return _read_in_child(path, _CHILD_MAT, _MAT_SHAPES, "a MATLAB .mat file")


def _read_h5(path, patterns):
    """The datasets named in ``patterns`` from one course .h5 file, checked."""
    _need("h5py", path)
    return _read_in_child(path, _CHILD_H5, patterns, "an HDF5 file")


def _check_features(path, key, X, n_examples):
    """Refuse an empty set or NaN/inf features here, naming the file and key: training would
    otherwise fail later (or, for a test set, after a model has trained) without naming them."""
    if n_examples == 0:
        raise ValueError(f"data file {str(path)!r}, key {key!r}: 0 examples (shape {X.shape}); "
                         "expected at least one")
    if not np.isfinite(X).all():  # one pass; the details below only on failure
        bad = ~np.isfinite(X)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"data file {str(path)!r}, key {key!r}: holds NaN or inf ({int(bad.sum())} of "
                         f"{X.size} values, the first {X[first]} at index {first}); expected finite features")
    if X.dtype.kind == "f" and X.dtype.itemsize > 8 and X.size and np.abs(X).max() > np.finfo(np.float64).max:
        first = tuple(int(i) for i in np.argwhere(np.abs(X) > np.finfo(np.float64).max)[0])
        raise ValueError(f"data file {str(path)!r}, key {key!r}: holds {X[first]!s} at index {first}, beyond float64's "
                         f"range (the features are read as float64, where it would be inf); expected finite features")


def _check_labels(path, key, Y, n_examples, x_key, axis=-1):
    """Refuse labels that do not match the features' example count or are not 0/1, naming the file
    and key. ``Y`` is the array as the file stores it, with its examples along ``axis``, so that the
    shape and index in a message are the ones the user finds in the file."""
    if Y.shape[axis] != n_examples:
        raise ValueError(f"data file {str(path)!r}: {key!r} has {Y.shape[axis]} examples but {x_key!r} has "
                         f"{n_examples}")
    bad = ~((Y == 0) | (Y == 1))
    if bad.any():
        where = np.argwhere(bad)
        first = tuple(int(i) for i in where[0])
        values = np.unique(Y[bad])  # sorted, NaN last: a handful is enough to recognise the problem
        shown = ", ".join(str(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ValueError(f"data file {str(path)!r}, key {key!r}: labels must be 0 or 1, found [{shown}] "
                         f"({len(where)} of {Y.size} labels; the first, {Y[first]}, at index {first} of the "
                         f"file's array of shape {Y.shape}); expected every label to be 0 or 1")


def synthetic_football(n_train=211, n_test=200, seed=0):
    """A stand-in for the football set, made deterministically in code: points in
    the same box, class 1 above a gently curved diagonal, with about 8% of the
    labels flipped near it (noise to overfit on).

    Returns:
        train_X (2, n_train), train_Y (1, n_train), test_X (2, n_test), test_Y (1, n_test),
        float64, labels 0/1.
    """
    rng = np.random.default_rng(seed)

    def make(m):
        X = np.vstack([rng.uniform(-0.6, 0.3, m), rng.uniform(-0.66, 0.58, m)])
        margin = X[1] + 0.9 * X[0] + 0.6 * X[0] ** 2 + 0.05
        Y = (margin > 0).astype(np.float64)
        flip = (np.abs(margin) < 0.25) & (rng.random(m) < 0.25)
        Y[flip] = 1 - Y[flip]
        return X, Y.reshape(1, m)

    train_X, train_Y = make(n_train)
    test_X, test_Y = make(n_test)
    return train_X, train_Y, test_X, test_Y


def load_football(path=None):
    """The regularization study's 2-D data.

    Args:
        path: None for the synthetic stand-in (``synthetic_football()``); an .npz
            file with keys train_X (2, m), train_Y (1, m), test_X (2, n), test_Y (1, n);
            or the course's ``data.mat`` (keys X (m, 2), y (m, 1), Xval (n, 2),
            yval (n, 1): examples as rows, uint8 labels; needs scipy).
    Returns:
        train_X (2, m), train_Y (1, m), test_X (2, n), test_Y (1, n), float64;
        examples are columns, labels 0/1 (the same arrays from either file layout).
    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a directory, an unreadable, truncated or damaged file, a missing
            key or one stored twice, a wrong shape, non-numeric data, NaN/inf features or
            features beyond float64's range, a set of zero examples or labels other than
            0/1 (the message names the file and the key).
        ImportError: a .mat file without scipy installed (says what to install).
        TypeError: path neither None nor a str / os.PathLike.
    """
    if path is None:
        return synthetic_football()
    path = _path_argument("load_football", path, "an .npz or the course's data.mat file",
                          " (None: the synthetic stand-in)")
    path = _check_file(path, "an .npz or the course's .mat file")
    if path.suffix.lower() == ".mat":
        mat = _read_mat(path)
        # Checked as the file stores them (examples as rows), so that messages give the file's own
        # shapes and indices under its key names; then transposed to this project's columns.
        for x_key, y_key in (("X", "y"), ("Xval", "yval")):
            _check_features(path, x_key, mat[x_key], mat[x_key].shape[0])
            _check_labels(path, y_key, mat[y_key], mat[x_key].shape[0], x_key, axis=0)
        arrays = {"train_X": mat["X"].T, "train_Y": mat["y"].T, "test_X": mat["Xval"].T, "test_Y": mat["yval"].T}
    else:
        arrays = _read_npz(path, _FOOTBALL_SHAPES)
        for x_key, y_key in (("train_X", "train_Y"), ("test_X", "test_Y")):
            _check_features(path, x_key, arrays[x_key], arrays[x_key].shape[1])
            _check_labels(path, y_key, arrays[y_key], arrays[x_key].shape[1], x_key)
    return tuple(arrays[k].astype(np.float64) for k in _FOOTBALL_SHAPES)


def load_catvnoncat(path):
    """The L-layer exercise's 64x64 RGB cat / non-cat images, flattened and scaled.

    Args:
        path: an .npz with train_x_orig (m, 64, 64, 3), train_y (1, m), test_x_orig
            (n, 64, 64, 3), test_y (1, n); or a folder holding the course's
            ``train_catvnoncat.h5`` (train_set_x (m, 64, 64, 3), train_set_y (m,))
            and ``test_catvnoncat.h5`` (test_set_x, test_set_y), or one of those two
            files (the pair is read from its folder: the other must sit beside it);
            the .h5 files need h5py. Images hold 8-bit pixel values: whole numbers
            0..255, uint8 as the course stores them (or any numeric type holding such values).
    Returns:
        train_x (12288, m) and test_x (12288, n) scaled to [0, 1] (pixel / 255; column
        j is image j's pixels in (row, column, channel) order), train_y (1, m) and
        test_y (1, n), all float64, labels 0/1. The same arrays from either layout.
    Raises:
        FileNotFoundError: no such file or folder, or a folder without both .h5 files.
        ValueError, ImportError: as ``load_football``; also pixel values that are not whole
            numbers 0..255 (e.g. images already scaled to [0, 1]), and an .h5 file other
            than the course's two.
        TypeError: path is None or not a str / os.PathLike (there is no synthetic cat set).
    """
    path = _path_argument("load_catvnoncat", path, f"an .npz file or the folder holding {CAT_H5[0]} and "
                          f"{CAT_H5[1]}", f"; there is no synthetic cat set (the cat job finds the data "
                          f"through --data or {DATA_ENV})")
    if path.suffix.lower() in (".h5", ".hdf5") and path.is_file():
        path = _h5_pair_folder(path)
    if path.is_dir():
        parts = _h5_parts(path)
    else:
        path = _check_file(path, "an .npz file or a folder holding the course's .h5 files")
        arrays = _read_npz(path, _CAT_SHAPES)
        parts = [(path, x_key, arrays[x_key], y_key, arrays[y_key])
                 for x_key, y_key in (("train_x_orig", "train_y"), ("test_x_orig", "test_y"))]
    result = []
    for file, x_key, images, y_key, labels in parts:
        _check_features(file, x_key, images, images.shape[0])
        _check_labels(file, y_key, labels, images.shape[0], x_key)
        _check_pixels(file, x_key, images)
        # float64 before the division: a float32 file gives the same float64 values as its uint8 form.
        # The course's .h5 labels are (m,): this project's are (1, m).
        result += [images.reshape(images.shape[0], -1).T.astype(np.float64) / 255.0,
                   labels.reshape(1, -1).astype(np.float64)]
    return tuple(result)


def _h5_pair_folder(file):
    """The folder to read the course's .h5 pair from, given one of its two files: the train
    and test sets are read together, so either file stands for the folder holding both."""
    if file.name not in CAT_H5:
        raise ValueError(f"data file {str(file)!r} is not one of the course's {CAT_H5[0]} and {CAT_H5[1]}; "
                         "pass the folder holding those two files, or an .npz")
    other = file.parent / CAT_H5[1 - CAT_H5.index(file.name)]
    if not other.is_file():
        beside = "is not beside it" if not os.path.lexists(other) else f"beside it is {path_kind(other)}"
        raise FileNotFoundError(f"data file {str(file)!r}: the course's .h5 files are read as a pair, and "
                                f"{other.name} {beside}; pass the folder holding both {CAT_H5[0]} "
                                f"and {CAT_H5[1]}")
    return file.parent


def _h5_parts(folder):
    """(file, x_key, images, y_key, labels (m,) as stored) for the train and test .h5 files in ``folder``."""
    missing = [name for name in CAT_H5 if not (folder / name).is_file()]
    if missing:
        # (a name holding something other than a file is said as what it is, not as missing)
        held = "".join(f" ({name} there is {path_kind(folder / name)})" for name in missing
                       if os.path.lexists(folder / name))
        raise FileNotFoundError(f"{str(folder)!r} is a directory that does not hold {' and '.join(missing)} as a "
                                f"regular file{held}; a folder given to load_catvnoncat must hold the course's "
                                f"{CAT_H5[0]} and {CAT_H5[1]}")
    parts = []
    for (split, patterns), name in zip(_H5_SHAPES.items(), CAT_H5):
        file = folder / name
        h5 = _read_h5(file, patterns)
        x_key, y_key = f"{split}_set_x", f"{split}_set_y"
        # The labels as the file stores them, (m,): checked so, so that an index in a message is the file's.
        parts.append((file, x_key, h5[x_key], y_key, h5[y_key]))
    return parts


def _check_pixels(path, key, images):
    """The course's convention: pixels are 8-bit values, whole numbers 0..255 (uint8, or any
    numeric type holding such values). Anything else is refused, naming the file and key:
    images already scaled to [0, 1] would be divided by 255 a second time, unseen, and the
    model would train on near-zero inputs."""
    expected = "expected 8-bit values 0..255 (whole numbers, uint8 as the course stores them)"
    if images.dtype.kind == "b":
        raise ValueError(f"data file {str(path)!r}, key {key!r}: boolean pixels; {expected}")
    fractional = np.argwhere(images != np.floor(images)) if images.dtype.kind == "f" else ()
    if len(fractional):
        first = tuple(int(i) for i in fractional[0])
        raise ValueError(f"data file {str(path)!r}, key {key!r}: pixel values that are not whole numbers (the "
                         f"first {images[first]} at index {first}, max {images.max()}); {expected}, not "
                         "images already scaled to [0, 1]")
    low, high = images.min(), images.max()
    if low < 0 or high > 255:
        raise ValueError(f"data file {str(path)!r}, key {key!r}: pixel values in [{low}, {high}]; {expected}")
