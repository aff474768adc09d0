"""Round 9 review of the jobs and the data loaders: unusable data (NaN/inf features, empty sets)
and a bad --out exit with status 2 and a message before any training; the closing "wrote" line
lists what the run wrote; a file that is not an .npz is called that, without suggesting an
unsafe load."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import TrainingDivergedError, cat, data, deep, football, three_layer

REPO = Path(__file__).resolve().parents[1]
FOOTBALL_KEYS = "train_X, train_Y, test_X, test_Y"


def football_copy(real_data, tmp_path, **changes):
    """The real football set with some arrays replaced, saved in tmp_path/football.npz."""
    arrays = dict(np.load(real_data("football.npz")))
    arrays.update(changes)
    path = tmp_path / "football.npz"
    np.savez(path, **arrays)
    return path


def small_cat_arrays(m=4, n=2):
    """A few random images in the catvnoncat.npz layout (the real set takes minutes to train on)."""
    rng = np.random.default_rng(9)
    return {"train_x_orig": rng.integers(0, 256, (m, 64, 64, 3)).astype(np.float64),
            "train_y": (np.arange(m) % 2).reshape(1, m).astype(np.float64),
            "test_x_orig": rng.integers(0, 256, (n, 64, 64, 3)).astype(np.float64),
            "test_y": (np.arange(n) % 2).reshape(1, n).astype(np.float64)}


def write_cat(tmp_path, **changes):
    arrays = small_cat_arrays()
    arrays.update(changes)
    path = tmp_path / "catvnoncat.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture
def no_training(monkeypatch):
    """Makes any training call fail the test: the jobs must refuse bad input before training."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the bad input was refused")
    monkeypatch.setattr(three_layer, "train", refuse)
    monkeypatch.setattr(deep, "train", refuse)


def exit_status(job, argv):
    with pytest.raises(SystemExit) as info:
        job.main(argv)
    return info.value.code


def with_nan(array, where):
    array = np.array(array, dtype=np.float64)
    array[where] = np.nan
    return array


# --- finding 3: NaN/inf features and empty sets ---------------------------------------------------
@pytest.mark.parametrize("key, bad", [("train_X", np.nan), ("test_X", np.inf), ("test_X", -np.inf)])
def test_football_job_refuses_non_finite_features_before_training(real_data, tmp_path, capsys, no_training,
                                                                    key, bad):
    arrays = dict(np.load(real_data("football.npz")))
    arrays[key] = np.array(arrays[key], dtype=np.float64)
    arrays[key][1, 7] = bad
    path = football_copy(real_data, tmp_path, **{key: arrays[key]})
    out = tmp_path / "out"
    assert exit_status(football, ["--data", str(path), "--out", str(out), "--iterations", "2"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and repr(key) in err and "NaN or inf" in err and "expected finite" in err
    assert not out.exists()


@pytest.mark.parametrize("key, label_key", [("train_X", "train_Y"), ("test_X", "test_Y")])
def test_football_job_refuses_an_empty_set(real_data, tmp_path, capsys, no_training, key, label_key):
    path = football_copy(real_data, tmp_path, **{key: np.zeros((2, 0)), label_key: np.zeros((1, 0))})
    out = tmp_path / "out"
    assert exit_status(football, ["--data", str(path), "--out", str(out), "--iterations", "2"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and repr(key) in err and "0 examples" in err and "at least one" in err
    assert not out.exists()


def test_football_mat_with_nan_names_the_course_key(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    train_X, train_Y, test_X, test_Y = data.synthetic_football(n_train=5, n_test=3)
    path = tmp_path / "data.mat"
    scipy_io.savemat(path, {"X": with_nan(train_X, (0, 2)).T, "y": train_Y.T.astype(np.uint8),
                            "Xval": test_X.T, "yval": test_Y.T.astype(np.uint8)})
    with pytest.raises(ValueError, match=r"data\.mat.*'X'.*NaN or inf"):
        data.load_football(path)


def test_cat_job_refuses_nan_pixels_before_training(tmp_path, capsys, no_training):
    path = write_cat(tmp_path, train_x_orig=with_nan(small_cat_arrays()["train_x_orig"], (1, 5, 6, 2)))
    out = tmp_path / "out"
    assert exit_status(cat, ["--data", str(path), "--out", str(out), "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'train_x_orig'" in err and "NaN or inf" in err
    assert not out.exists()


def test_cat_loader_refuses_an_empty_test_set(tmp_path):
    path = write_cat(tmp_path, test_x_orig=np.zeros((0, 64, 64, 3)), test_y=np.zeros((1, 0)))
    with pytest.raises(ValueError, match=r"catvnoncat\.npz.*'test_x_orig'.*0 examples"):
        data.load_catvnoncat(path)


def test_cat_h5_with_inf_pixels_names_the_file_and_key(tmp_path):
    h5py = pytest.importorskip("h5py")
    arrays = small_cat_arrays()
    arrays["test_x_orig"][0, 0, 0, 0] = np.inf
    for split, x_key, y_key in (("train", "train_x_orig", "train_y"), ("test", "test_x_orig", "test_y")):
        with h5py.File(tmp_path / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = arrays[x_key]
            f[f"{split}_set_y"] = arrays[y_key][0]
    with pytest.raises(ValueError, match=r"test_catvnoncat\.h5.*'test_set_x'.*NaN or inf"):
        data.load_catvnoncat(tmp_path)


# --- finding 4: --out naming a file, or empty -----------------------------------------------------
def test_football_out_naming_a_file_exits_2(tmp_path, capsys, no_training):
    target = tmp_path / "not_a_dir"
    target.write_text("keep me")
    assert exit_status(football, ["--data", "synthetic", "--out", str(target), "--iterations", "2"]) == 2
    err = capsys.readouterr().err
    assert f"--out {str(target)!r} is a file; expected a folder" in err
    assert target.read_text() == "keep me"


def test_cat_out_naming_a_file_exits_2(tmp_path, capsys, no_training):
    target = tmp_path / "not_a_dir"
    target.write_text("keep me")
    path = write_cat(tmp_path)
    assert exit_status(cat, ["--data", str(path), "--out", str(target), "--iterations", "1"]) == 2
    assert f"--out {str(target)!r} is a file; expected a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("job", [football, cat])
def test_empty_out_exits_2_and_writes_nothing_here(tmp_path, monkeypatch, capsys, no_training, job):
    data_path = write_cat(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    argv = ["--data", "synthetic" if job is football else str(data_path), "--out", "", "--iterations", "1"]
    assert exit_status(job, argv) == 2
    assert "--out is empty; expected a folder" in capsys.readouterr().err
    assert list(here.iterdir()) == []


def test_out_naming_a_file_from_the_command_line_has_no_traceback(tmp_path):
    target = tmp_path / "not_a_dir"
    target.write_text("")
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", "synthetic", "--out", str(target),
                          "--iterations", "1"],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "is a file; expected a folder" in run.stderr


# --- finding 5: the "wrote" line lists what this run wrote ----------------------------------------
def wrote_names(stdout):
    line = next(line for line in stdout.splitlines() if "wrote " in line)
    return set(re.search(r"wrote (.*) to ", line).group(1).split(", "))


def test_football_wrote_line_lists_exactly_the_files_written(tmp_path, capsys):
    (tmp_path / "my_thesis.tex").write_text("precious")
    assert football.main(["--data", "synthetic", "--out", str(tmp_path), "--iterations", "2"]) == 0
    names = wrote_names(capsys.readouterr().out)
    assert names == {p.name for p in tmp_path.iterdir()} - {"my_thesis.tex"}
    assert {"results.md", "results.json", "data.png", "costs.png", "boundary_none.png"} <= names


def test_cat_wrote_line_lists_exactly_the_files_written(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    path = write_cat(tmp_path)
    assert cat.main(["--data", str(path), "--out", str(out), "--iterations", "1"]) == 0
    assert wrote_names(capsys.readouterr().out) == {"results.json", "results.md", "costs.png", "misclassified.png"}


# --- finding 8: a file that is not an .npz --------------------------------------------------------
def test_text_file_named_npz_is_called_not_an_npz(tmp_path):
    path = tmp_path / "football.npz"
    path.write_text("hello\n")
    with pytest.raises(ValueError) as info:
        data.load_football(path)
    message = str(info.value)
    assert str(path) in message and "is not an .npz archive" in message and "text file" in message
    assert f"expected an .npz with keys {FOOTBALL_KEYS}" in message
    assert "pickle" not in message and "unsafe" not in message


def test_npy_file_is_called_a_single_array(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.zeros((2, 3)))
    with pytest.raises(ValueError) as info:
        data.load_football(path)
    message = str(info.value)
    assert str(path) in message and "is not an .npz archive" in message and "a single .npy array" in message
    assert f"expected an .npz with keys {FOOTBALL_KEYS}" in message
    assert "context manager" not in message


def test_cat_loader_says_which_keys_an_npz_needs(tmp_path):
    path = tmp_path / "catvnoncat.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"catvnoncat\.npz' is not an \.npz archive \(an empty file\); "
                                         r"expected an \.npz with keys train_x_orig, train_y, test_x_orig, test_y"):
        data.load_catvnoncat(path)


@pytest.mark.parametrize("value", [-1.0, 256.0, 1000.0])
def test_cat_loader_refuses_pixels_outside_8_bit_values(tmp_path, value):
    images = small_cat_arrays()["test_x_orig"]
    images[1, 2, 3, 0] = value
    path = write_cat(tmp_path, test_x_orig=images)
    with pytest.raises(ValueError, match=r"catvnoncat\.npz.*'test_x_orig'.*pixel values in .*expected 8-bit values 0\.\.255"):
        data.load_catvnoncat(path)


def test_football_job_without_the_reader_a_data_file_needs_exits_2(tmp_path, monkeypatch, capsys):
    def no_scipy(option):
        raise ImportError("reading the course's data.mat needs scipy: pip install scipy")
    monkeypatch.setattr(football, "resolve_data", no_scipy)
    assert exit_status(football, ["--data", str(tmp_path / "data.mat"), "--out", str(tmp_path / "out")]) == 2
    assert "needs scipy" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("train", [
    lambda X, Y: deep.train(X, Y, [2, 3, 1], num_epochs=5, learning_rate=1e300, rng=0, mini_batch_size=64),
    lambda X, Y: deep.train(X, Y, [2, 3, 1], num_epochs=5, learning_rate=1e300, rng=2),
    lambda X, Y: three_layer.train(X, Y, num_iterations=5, learning_rate=1e300, keep_prob=0.86),
], ids=["deep minibatch", "deep full batch", "three_layer dropout"])
def test_a_run_that_diverges_stops_with_training_diverged_naming_the_step(train):
    X, Y, _, _ = data.load_football()  # (the built-in stand-in set: no file needed)
    with pytest.raises(TrainingDivergedError, match=r"(epoch|iteration) \d+.*smaller learning rate"):
        train(X, Y)


def test_labels_other_than_0_and_1_are_refused_before_training():
    X, Y, _, _ = data.load_football()
    Y = Y.copy()
    Y[0, 3] = 0.5
    with pytest.raises(ValueError, match=r"deep\.train: Y holds values other than 0 and 1, such as \[0\.5\]"):
        deep.train(X, Y, [2, 3, 1], num_epochs=1)
