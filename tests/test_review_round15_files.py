"""Review round 15 (adv58): files. A data archive storing a key twice, features beyond float64's
range, and integers a float64 Tensor would round are refused, naming the file; references are
independent of autograd_lite (zipfile, np.load)."""
import io
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import serialization
from models import data


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_data_npz_with_a_key_stored_twice_is_refused_naming_file_and_key(tmp_path):
    train_X, train_Y, test_X, test_Y = data.synthetic_football(20, 10)
    path = tmp_path / "dup.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name" warning
        with zipfile.ZipFile(path, "w") as archive:
            for key, value in (("train_X", train_X), ("train_Y", train_Y), ("test_X", test_X),
                               ("test_Y", test_Y), ("train_Y", 1 - train_Y)):
                archive.writestr(key + ".npy", _npy(value))
    assert [n for n in zipfile.ZipFile(path).namelist()].count("train_Y.npy") == 2  # the two copies disagree
    with pytest.raises(ValueError, match=r"dup\.npz.*train_Y"):
        data.load_football(path)


def _long_double_football(tmp_path):
    """An .npz of the football set whose train_X is long double, holding 1e400: finite there, inf as
    float64 (float64's largest is about 1.8e308)."""
    train_X, train_Y, test_X, test_Y = data.synthetic_football(20, 10)
    X = train_X.astype(np.longdouble)
    X[0, 0] = np.longdouble("1e400")
    with np.errstate(over="ignore"):
        assert np.isfinite(X).all() and not np.isfinite(X.astype(np.float64)).all()
    path = tmp_path / "ld.npz"
    np.savez(path, train_X=X, train_Y=train_Y, test_X=test_X, test_Y=test_Y)
    return path


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="long double is float64 here")
def test_features_that_overflow_float64_are_refused_by_the_loader_naming_file_and_key(tmp_path):
    path = _long_double_football(tmp_path)
    with pytest.raises(ValueError, match=r"ld\.npz.*train_X"):
        data.load_football(path)


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="long double is float64 here")
def test_football_job_given_features_beyond_float64_exits_2_naming_the_file(tmp_path):
    path = _long_double_football(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(ag.__file__)))
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", str(path), "--out",
                          str(tmp_path / "out"), "--iterations", "1"], cwd=tmp_path, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=root), timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr and str(path) in run.stderr


def test_load_refuses_integers_a_float64_tensor_would_round(tmp_path):
    # np.load (the oracle) reads the exact ints; load must return them exactly or refuse naming the file.
    path = tmp_path / "p.npz"
    with open(path, "wb") as file:  # (ag.save refuses such ints itself: the file is written as a save writes it)
        serialization._write_archive(file, {"steps": np.array([2 ** 53 + 1], np.int64),
                                            "seed": np.array([2 ** 64 - 1], np.uint64)})
    with np.load(path) as npz:  # (the file holds them exactly)
        assert (int(npz["steps"][0]), int(npz["seed"][0])) == (2 ** 53 + 1, 2 ** 64 - 1)
    with pytest.raises(ValueError, match=r"p\.npz'?: parameter '(steps|seed)' holds the integer (9007199254740993|18446744073709551615), which float64"):
        ag.load(path)
    ag.save({"steps": np.array([2 ** 53, -2 ** 53], np.int64)}, path)  # exactly float64's: taken
    assert ag.load(path)["steps"].data.tolist() == [2.0 ** 53, -2.0 ** 53]
