"""Round 13 review of the exercises and jobs (adversarial round adv35).

1. Features so large that the first forward pass overflows (1e308: finite, so every data check
   passes) made the cost of iteration 0 inf at the starting parameters, before any update; both
   train functions then blamed the learning rate ("training diverged, try a smaller learning
   rate", the same at 1e-12), and the football job ended in a traceback. Now the first cost is
   checked where it is taken: an InitialCostError names the largest |feature|, and the job
   exits with status 2 and that one line, as for its other data errors. A run that diverges
   after updates keeps the learning-rate advice.
2. A valid course data.mat holding one more variable named `file` was refused as damaged: the
   reader's child passed every variable to np.savez as a keyword, and `file` is savez's own.
3. deep_network.ipynb printed the cost at iteration 2,400 (costs[-1], taken before that
   iteration's update) as the cost "after 2500 iterations".
"""
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from models import InitialCostError, TrainingDivergedError, data, deep, football, manual, three_layer

REPO = Path(__file__).resolve().parents[1]


def overflowing(m=40, value=1e308):
    """Features of ``value`` (finite, so the data checks pass) and alternating labels 0/1."""
    X = np.full((2, m), value)
    X[:, ::2] *= -1
    return X, (np.arange(m) % 2).reshape(1, m).astype(np.float64)


# --- 1. a first cost that overflows names the data, not the learning rate -------------------------
RUNS = {
    "three_layer": lambda X, Y, lr: three_layer.train(X, Y, learning_rate=lr, num_iterations=3),
    "three_layer compiled": lambda X, Y, lr: three_layer.train(X, Y, learning_rate=lr, num_iterations=3,
                                                               compiled=True),
    "three_layer dropout": lambda X, Y, lr: three_layer.train(X, Y, learning_rate=lr, num_iterations=3,
                                                              keep_prob=0.86),
    "deep full batch": lambda X, Y, lr: deep.train(X, Y, [2, 20, 3, 1], learning_rate=lr, num_epochs=3, rng=0),
    "deep mini-batches": lambda X, Y, lr: deep.train(X, Y, [2, 20, 3, 1], learning_rate=lr, num_epochs=3, rng=0,
                                                     mini_batch_size=16),
    "deep adam": lambda X, Y, lr: deep.train(X, Y, [2, 5, 1], optimizer="adam", learning_rate=lr, num_epochs=3,
                                             rng=0),
}


@pytest.mark.parametrize("learning_rate", [0.3, 1e-12])
@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_a_first_cost_that_overflows_names_the_data_whatever_the_learning_rate(run, learning_rate):
    X, Y = overflowing()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings, the subject here
        with pytest.raises(InitialCostError) as info:
            run(X, Y, learning_rate)
    message = str(info.value)
    assert isinstance(info.value, FloatingPointError) and not isinstance(info.value, TrainingDivergedError)
    assert re.search(r"the cost at (iteration 0|epoch 0)", message), message
    assert "before any update" in message and "largest |feature| 1e+308" in message, message
    assert "rescale" in message and "smaller learning rate" not in message, message
    assert "\n" not in message


def test_the_exercise_own_reference_agrees_that_the_first_cost_is_already_inf():
    # The oracle, apart from the engine: the hand-derived forward pass at the starting parameters.
    X, Y = overflowing()
    with np.errstate(all="ignore"):
        A3, _ = manual.forward_propagation(X, manual.initialize_reference())
        assert not np.isfinite(manual.compute_cost(A3, Y))


def test_large_but_harmless_features_still_train():
    # 1e3 is far from overflowing: no InitialCostError, a finite cost at iteration 0.
    X, Y = overflowing(value=1e3)
    _, costs = three_layer.train(X, Y, learning_rate=1e-6, num_iterations=2)
    assert np.isfinite(costs[0])
    _, costs = deep.train(X, Y, [2, 3, 1], learning_rate=1e-6, num_epochs=2, rng=0)
    assert np.isfinite(costs[0])


@pytest.mark.parametrize("train", [
    lambda X, Y: three_layer.train(X, Y, learning_rate=1e300, num_iterations=20),
    lambda X, Y: deep.train(X, Y, [2, 3, 1], learning_rate=1e300, num_epochs=20, rng=0),
    lambda X, Y: deep.train(X, Y, [2, 3, 1], learning_rate=1e300, num_epochs=20, rng=0, mini_batch_size=64),
], ids=["three_layer", "deep full batch", "deep mini-batches"])
def test_a_run_that_diverges_after_updates_keeps_the_learning_rate_advice(train):
    X, Y, _, _ = data.synthetic_football()  # finite first cost; a huge learning rate wrecks the updates
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="smaller learning rate"):
        train(X, Y)


def write_overflowing_football(tmp_path):
    train_X, train_Y, test_X, test_Y = data.synthetic_football(n_train=30, n_test=10)
    path = tmp_path / "football.npz"
    np.savez(path, train_X=np.full_like(train_X, 1e308), train_Y=train_Y, test_X=test_X, test_Y=test_Y)
    return path


def test_football_job_reports_an_overflowing_first_cost_as_a_data_error(tmp_path, capsys):
    path = write_overflowing_football(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(SystemExit) as info:
            football.main(["--data", str(path), "--out", str(tmp_path / "out"), "--iterations", "5"])
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m models.football: error: data ") and str(path) in error
    assert "the cost at iteration 0 is inf" in error and "largest |feature| 1e+308" in error
    assert "smaller learning rate" not in error


def test_football_job_run_as_a_command_exits_2_without_a_traceback(tmp_path):
    path = write_overflowing_football(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", str(path), "--out",
                          str(tmp_path / "out"), "--iterations", "5"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert "error: data" in run.stderr and "before any update" in run.stderr


# --- 2. a course data.mat may hold variables of any name ------------------------------------------
def course_mat(path, **extra):
    """The synthetic set in the course's data.mat layout (examples as rows, uint8 labels), plus extra
    variables; returns the arrays load_football must give."""
    import scipy.io
    arrays = data.synthetic_football(n_train=12, n_test=7)
    train_X, train_Y, test_X, test_Y = arrays
    scipy.io.savemat(path, {"X": train_X.T, "y": train_Y.T.astype(np.uint8), "Xval": test_X.T,
                            "yval": test_Y.T.astype(np.uint8), **extra})
    return arrays


@pytest.mark.parametrize("name", ["file", "allow_pickle", "args", "kwds", "arr_0"])
def test_a_course_data_mat_with_a_variable_named_like_savez_arguments_loads(tmp_path, name):
    pytest.importorskip("scipy")
    want = course_mat(tmp_path / "data.mat", **{name: np.array([[1.0]])})
    got = data.load_football(tmp_path / "data.mat")
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_a_mat_without_a_key_still_lists_every_variable_it_holds(tmp_path):
    import scipy.io
    pytest.importorskip("scipy")
    X = np.zeros((3, 2))
    y = np.array([[0], [1], [0]], np.uint8)
    scipy.io.savemat(tmp_path / "data.mat", {"X": X, "y": y, "Xtest": X, "yval": y, "file": np.ones((1, 1))})
    with pytest.raises(ValueError, match=re.escape("has no key 'Xval'; it holds ['X', 'Xtest', 'file', 'y', "
                                                   "'yval'], expected ['X', 'Xval', 'y', 'yval']")):
        data.load_football(tmp_path / "data.mat")


def test_course_h5_files_with_a_dataset_named_file_load(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(2)
    images = {split: rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8) for split, m in (("train", 3), ("test", 2))}
    for split, x in images.items():
        with h5py.File(tmp_path / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = x
            f[f"{split}_set_y"] = np.arange(len(x)) % 2
            f["file"] = np.array([1.0])
    train_x, _, _, test_y = data.load_catvnoncat(tmp_path)
    np.testing.assert_array_equal(train_x[:, 1], images["train"][1].ravel() / 255)
    np.testing.assert_array_equal(test_y, [[0, 1]])


# --- 3. the deep notebook labels its last cost with the iteration it was taken at -----------------
def run_cat_section(tmp_path, monkeypatch, cap):
    """Run the notebook's setup cell and its cat cell (a copy, from tmp_path) with every run capped at
    ``cap`` iterations; return what they printed."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("autograd_lite_models", reason="the notebooks import the installed package")
    monkeypatch.setenv("AG_NOTEBOOK_ITERATIONS", str(cap))
    monkeypatch.setenv("AG_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    notebook = nbformat.read(REPO / "notebooks" / "deep_network.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    notebook.cells = [code[0], next(cell for cell in code if "cat_X, cat_Y" in cell.source)]
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    return "".join(output.get("text", "") for cell in notebook.cells for output in cell.outputs
                   if output.output_type == "stream")


def test_deep_notebook_prints_the_cat_cost_with_the_iteration_it_belongs_to(tmp_path, monkeypatch, real_data):
    path = real_data("catvnoncat.npz")  # the notebook finds it through AUTOGRAD_LITE_DATA, as a user's copy
    cap = 50  # a cost every 50 // 25 = 2 iterations: at 0, 2, ..., 48, the last before the 49th update
    text = run_cat_section(tmp_path, monkeypatch, cap)
    found = re.search(r"cost at iteration 0: (\d\.\d{6}), at iteration (\d+): (\d\.\d{6})", text)
    assert found, text
    first, iteration, last = float(found[1]), int(found[2]), float(found[3])
    assert iteration == 48
    accuracies = re.search(rf"after {cap} iterations: train acc\. (\d\.\d{{4}}), test acc\. (\d\.\d{{4}})", text)
    assert accuracies, text

    # The oracle: the course's model trained apart for as many updates as each label says; a cost "at
    # iteration k" is the cost after k updates (the course's "Cost after iteration k").
    X, Y, test_X, test_Y = data.load_catvnoncat(path)

    def trained(updates):
        params, _ = deep.train(X, Y, [12288, 20, 7, 5, 1], learning_rate=0.0075, num_epochs=updates,
                               init="lecun", rng=np.random.RandomState(1))
        return params

    assert f"{first:.6f}" == "0.771749"  # the course's "Cost after iteration 0"
    assert f"{deep.cost(trained(iteration), X, Y).item():.6f}" == f"{last:.6f}"
    final = trained(cap)
    assert f"{deep.cost(final, X, Y).item():.6f}" != f"{last:.6f}"  # so the label is what tells them apart
    assert f"{np.mean(deep.predict(final, X) == Y):.4f}" == accuracies[1]
    assert f"{np.mean(deep.predict(final, test_X) == test_Y):.4f}" == accuracies[2]
