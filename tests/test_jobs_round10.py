"""Round 10 review of the jobs, the data loaders, the bench command and the two models:
an --out folder that cannot take the job's files exits with status 2 before training; cat
pixels must be whole numbers 0..255 and come back float64; one course .h5 file stands for
its folder; bench options are checked by argparse; ``rng`` is checked for every init of
three_layer; models.deep refuses partial params and bad layer_dims, naming them.

Expected behaviour comes from docs/api.md (Jobs: bad arguments exit with status 2 and a
message; Random streams), the docstrings of output_folder and the loaders, and pixel / 255
worked by hand; never from values the code under test produced."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.__main__ import main as bench_main
from models import cat, data, deep, football, outputs, three_layer

REPO = Path(__file__).resolve().parents[1]


def small_images(m, seed):
    """m random 64x64 RGB images of whole-number pixel values 0..255, as uint8."""
    return np.random.default_rng(seed).integers(0, 256, (m, 64, 64, 3)).astype(np.uint8)


def write_cat(tmp_path, train_x=None, test_x=None):
    """A small catvnoncat.npz (4 train, 2 test images); the image arrays may be replaced."""
    arrays = {"train_x_orig": small_images(4, 1) if train_x is None else train_x,
              "train_y": np.array([[0, 1, 0, 1]], dtype=np.float64),
              "test_x_orig": small_images(2, 2) if test_x is None else test_x,
              "test_y": np.array([[1, 0]], dtype=np.float64)}
    path = tmp_path / "catvnoncat.npz"
    np.savez(path, **arrays)
    return path


def refuse_training(*args, **kwargs):
    raise AssertionError("training started although --out cannot take the job's files")


def exits_2(main, argv, capsys):
    """Run a job's main in-process; it must exit with status 2. Returns its stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# --- 1: an --out folder that cannot take the job's files: status 2, named, before training ---

def test_football_out_with_a_folder_where_results_md_goes_exits_2_before_training(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    (out / "results.md").mkdir(parents=True)
    monkeypatch.setattr(football, "run_models", refuse_training)
    err = exits_2(football.main, ["--data", "synthetic", "--iterations", "1", "--out", str(out)], capsys)
    assert "--out" in err and str(out / "results.md") in err and "folder" in err


def test_football_out_with_a_folder_where_a_plot_goes_exits_2_before_training(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    (out / "boundary_l2_dropout.png").mkdir(parents=True)
    monkeypatch.setattr(football, "run_models", refuse_training)
    err = exits_2(football.main, ["--data", "synthetic", "--iterations", "1", "--out", str(out)], capsys)
    assert "--out" in err and "boundary_l2_dropout.png" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc, where no file can be created")
def test_football_out_in_a_folder_no_file_can_be_written_to_exits_2_before_training(capsys, monkeypatch):
    # /proc exists, so mkdir(exist_ok=True) passes, but no one (root included) can create a file in it
    monkeypatch.setattr(football, "run_models", refuse_training)
    err = exits_2(football.main, ["--data", "synthetic", "--iterations", "1", "--out", "/proc"], capsys)
    assert "--out '/proc'" in err and "cannot write" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc, where no file can be created")
def test_football_job_unwritable_out_exits_2_without_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", "synthetic", "--iterations", "1",
                          "--out", "/proc"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-500:]
    assert "--out" in run.stderr


def test_cat_out_with_a_folder_where_an_output_file_goes_exits_2_before_training(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    (out / "misclassified.png").mkdir(parents=True)
    monkeypatch.setattr(cat, "train_model", refuse_training)
    err = exits_2(cat.main, ["--data", str(write_cat(tmp_path)), "--iterations", "1", "--out", str(out)], capsys)
    assert "--out" in err and str(out / "misclassified.png") in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc, where no file can be created")
def test_cat_out_in_a_folder_no_file_can_be_written_to_exits_2_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cat, "train_model", refuse_training)
    err = exits_2(cat.main, ["--data", str(write_cat(tmp_path)), "--iterations", "1", "--out", "/proc"], capsys)
    assert "--out '/proc'" in err and "cannot write" in err


def test_output_folder_check_leaves_the_folder_and_existing_files_as_they_were(tmp_path):
    import argparse
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.md").write_text("an older run\n")
    assert outputs.output_folder(argparse.ArgumentParser(), str(out), football.OUTPUT_FILES) == out
    assert sorted(p.name for p in out.iterdir()) == ["results.md"]  # no probe file left behind
    assert (out / "results.md").read_text() == "an older run\n"


# --- 2: cat pixels are whole numbers 0..255 (the course's uint8); the arrays come back float64 ---

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cat_loader_refuses_images_already_scaled_to_the_unit_interval(tmp_path, dtype):
    path = write_cat(tmp_path, train_x=(small_images(4, 1) / 255.0).astype(dtype))
    with pytest.raises(ValueError, match="train_x_orig") as error:
        data.load_catvnoncat(path)
    assert str(path) in str(error.value) and "0..255" in str(error.value)


def test_cat_loader_refuses_boolean_pixels(tmp_path):
    path = write_cat(tmp_path, test_x=small_images(2, 2) > 127)
    with pytest.raises(ValueError, match="test_x_orig.*0..255"):
        data.load_catvnoncat(path)


def test_cat_loader_returns_float64_pixel_over_255_for_float32_pixels(tmp_path):
    train, test = small_images(4, 1), small_images(2, 2)
    path = write_cat(tmp_path, train_x=train.astype(np.float32), test_x=test.astype(np.float32))
    train_x, train_y, test_x, test_y = data.load_catvnoncat(path)
    assert train_x.dtype == test_x.dtype == np.float64
    # Column j is image j's pixels in (row, column, channel) order, each pixel / 255 in float64.
    np.testing.assert_array_equal(train_x[:, 3], train[3].ravel().astype(np.float64) / 255.0)
    np.testing.assert_array_equal(test_x[:, 0], test[0].ravel().astype(np.float64) / 255.0)


# --- 6: one of the course's .h5 files stands for the folder holding both ---

def write_h5_pair(folder, train, test, with_test=True):
    h5py = pytest.importorskip("h5py")
    splits = {"train": (train, [0, 1, 0, 1]), "test": (test, [1, 0])}
    for split, (images, labels) in splits.items():
        if split == "test" and not with_test:
            continue
        with h5py.File(folder / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = images
            f[f"{split}_set_y"] = np.array(labels, dtype=np.int64)


def test_cat_loader_reads_the_pair_given_one_of_its_h5_files(tmp_path):
    train, test = small_images(4, 1), small_images(2, 2)
    write_h5_pair(tmp_path, train, test)
    train_x, train_y, test_x, test_y = data.load_catvnoncat(tmp_path / "train_catvnoncat.h5")
    assert train_x.shape == (12288, 4) and test_x.shape == (12288, 2)
    np.testing.assert_array_equal(train_x[:, 1], train[1].ravel() / 255.0)
    np.testing.assert_array_equal(test_y, [[1.0, 0.0]])


def test_cat_loader_given_an_h5_file_without_its_pair_says_to_pass_the_folder(tmp_path):
    write_h5_pair(tmp_path, small_images(4, 1), None, with_test=False)
    with pytest.raises(FileNotFoundError, match="test_catvnoncat.h5.*folder"):
        data.load_catvnoncat(tmp_path / "train_catvnoncat.h5")


# --- 3: bench options: argparse errors naming the option, before any work ---

@pytest.mark.parametrize("option, value, expected", [
    ("--reps", "0", "int >= 1"), ("--reps", "-3", "int >= 1"), ("--memory-steps", "-5", "int >= 0"),
    ("--block-seconds", "nan", "seconds > 0"), ("--block-seconds", "0", "seconds > 0"),
    ("--threads", "0", "int >= 1"), ("--threads", "-1", "int >= 1"), ("--warmup", "-1", "int >= 0"),
    ("--seed", "-1", "int >= 0")])
def test_bench_refuses_bad_option_values(option, value, expected, capsys):
    with pytest.raises(SystemExit) as stop:
        bench_main(["--workloads", "football", "--impls", "manual", "--reps", "2", "--block-seconds", "0.01",
                    option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and expected in err


# --- 4: rng is checked for every init, "reference" (the default) included ---

@pytest.mark.parametrize("rng", ["seed", 3.5, [1, 2]])
def test_three_layer_reference_init_refuses_an_rng_of_another_kind(rng):
    X, Y, _, _ = data.load_football(None)
    with pytest.raises(TypeError, match="three_layer.train: rng"):
        three_layer.train(X, Y, num_iterations=1, rng=rng)
    with pytest.raises(TypeError, match="three_layer.train: rng"):
        three_layer.train(X, Y, num_iterations=1, keep_prob=0.86, rng=rng)
    with pytest.raises(TypeError, match="three_layer.initialize: rng"):
        three_layer.initialize("reference", rng=rng)


def test_three_layer_reference_init_refuses_a_negative_seed_as_the_other_inits_do():
    X, Y, _, _ = data.load_football(None)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        three_layer.train(X, Y, num_iterations=1, rng=-1)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        three_layer.initialize("reference", rng=-1)


# --- 5: models.deep refuses partial params and bad layer_dims, naming them ---

def test_deep_predict_refuses_params_without_their_biases():
    X, _, _, _ = data.load_football(None)
    with pytest.raises(ValueError, match=r"deep\.predict: params is missing b1"):
        deep.predict({"W1": np.ones((1, 2))}, X)


def test_deep_predict_refuses_params_with_a_layer_left_out():
    X, _, _, _ = data.load_football(None)
    params = {"W1": np.ones((3, 2)), "b1": np.zeros((3, 1)), "W3": np.ones((1, 3)), "b3": np.zeros((1, 1))}
    with pytest.raises(ValueError, match=r"deep\.predict: params is missing W2, b2"):
        deep.predict(params, X)


@pytest.mark.parametrize("layer_dims", [[], [2], [2, 0, 1], [2, 3, 2]])
def test_deep_train_refuses_bad_layer_dims_by_name(layer_dims):
    X, Y, _, _ = data.load_football(None)
    with pytest.raises(ValueError, match=r"deep\.train: layer_dims .*; expected \[n_x, n_1, \.\.\., 1\]"):
        deep.train(X, Y, layer_dims, num_epochs=1)
