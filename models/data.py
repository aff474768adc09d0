"""The exercises' data sets: the 2-D "football" set and the cat / non-cat images.

Files are read with ``allow_pickle=False`` and checked key by key, so a
wrong, truncated or hostile file gives a ``ValueError`` naming the file and
the key instead of unpickling anything or failing later inside training.
"""
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["load_football", "load_catvnoncat", "synthetic_football"]

_FOOTBALL_SHAPES = {"train_X": (2, None), "train_Y": (1, None), "test_X": (2, None), "test_Y": (1, None)}
_CAT_SHAPES = {"train_x_orig": (None, 64, 64, 3), "train_y": (1, None),
               "test_x_orig": (None, 64, 64, 3), "test_y": (1, None)}


def _fits(shape, pattern):
    return len(shape) == len(pattern) and all(p is None or p == n for n, p in zip(shape, pattern))


def _read_npz(path, patterns):
    """The arrays named in ``patterns`` (key -> shape with None for any size) from an
    .npz file, each checked to be numeric and of its shape; examples must agree
    between each X and its Y (the last axis of Y, the first or last of X)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key, pattern in patterns.items():
                if key not in npz.files:
                    raise ValueError(f"data file {str(path)!r} has no key {key!r}; it holds {sorted(npz.files)}, "
                                     f"expected {sorted(patterns)}")
                array = npz[key]
                if array.dtype.kind not in "fiub":
                    raise ValueError(f"data file {str(path)!r}, key {key!r}: dtype {array.dtype} is not numeric")
                if not _fits(array.shape, pattern):
                    expected = "(" + ", ".join("m" if p is None else str(p) for p in pattern) + ")"
                    raise ValueError(f"data file {str(path)!r}, key {key!r}: shape {array.shape}, "
                                     f"expected {expected}")
                arrays[key] = array
    except ValueError as error:
        if str(path) in str(error):
            raise
        # numpy's own ValueErrors: pickled object arrays, a broken header, ...
        raise ValueError(f"data file {str(path)!r} cannot be read safely: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"data file {str(path)!r} is unreadable, truncated or not an .npz archive: "
                         f"{type(error).__name__}: {error}") from None
    return arrays


def _check_labels(path, key, Y, n_examples, x_key):
    if Y.shape[-1] != n_examples:
        raise ValueError(f"data file {str(path)!r}: {key!r} has {Y.shape[-1]} examples but {x_key!r} "
                         f"has {n_examples}")
    if not np.all((Y == 0) | (Y == 1)):
        raise ValueError(f"data file {str(path)!r}, key {key!r}: labels must be 0 or 1")


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
        path: None for the shipped synthetic set (``synthetic_football()``), or an
            .npz file with keys train_X (2, m), train_Y (1, m), test_X (2, n), test_Y (1, n),
            e.g. the real set ``shared/data/football.npz``.
    Returns:
        train_X (2, m), train_Y (1, m), test_X (2, n), test_Y (1, n), float64;
        examples are columns, labels 0/1.
    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: unreadable or truncated file, a missing key, a wrong shape,
            non-numeric data or labels other than 0/1 (the message names file and key).
    """
    if path is None:
        return synthetic_football()
    arrays = _read_npz(path, _FOOTBALL_SHAPES)
    for x_key, y_key in (("train_X", "train_Y"), ("test_X", "test_Y")):
        _check_labels(path, y_key, arrays[y_key], arrays[x_key].shape[1], x_key)
    return tuple(arrays[k].astype(np.float64) for k in _FOOTBALL_SHAPES)


def load_catvnoncat(path):
    """The L-layer exercise's 64x64 RGB cat / non-cat images, flattened and scaled.

    Args:
        path: .npz with train_x_orig (m, 64, 64, 3), train_y (1, m), test_x_orig
            (n, 64, 64, 3), test_y (1, n), e.g. ``shared/data/catvnoncat.npz``.
    Returns:
        train_x (12288, m) and test_x (12288, n) scaled to [0, 1] (pixel / 255),
        train_y (1, m) and test_y (1, n) float64 0/1.
    Raises:
        FileNotFoundError, ValueError: as ``load_football``.
    """
    arrays = _read_npz(path, _CAT_SHAPES)
    result = []
    for x_key, y_key in (("train_x_orig", "train_y"), ("test_x_orig", "test_y")):
        images, labels = arrays[x_key], arrays[y_key]
        _check_labels(path, y_key, labels, images.shape[0], x_key)
        result += [images.reshape(images.shape[0], -1).T / 255.0, labels.astype(np.float64)]
    return tuple(result)
