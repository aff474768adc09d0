"""The cat job (models.cat): the course's two cat classifiers on the real images reproduce the
course's published accuracies and printed costs; without data it says where to put them.

Reference values are typed in from the course's own printed output (never produced by this
code): the 2-layer model's costs as printed with every digit, the L-layer model's as printed
with six decimals ("%f"), and the accuracies printed after training.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import cat, data

REPO = Path(__file__).resolve().parents[1]

# Cost after iteration 0, 100, ..., 2400 as the course's 2-layer run prints them.
# Copies of that printout made on different machines differ from one another from about the
# 14th significant digit on (BLAS summation order), so they are compared to a relative 1e-10.
PRINTED_2_LAYER = [
    0.6930497356599888, 0.6464320953428849, 0.6325140647912677, 0.6015024920354665, 0.5601966311605747,
    0.5158304772764729, 0.47549013139433255, 0.43391631512257495, 0.4007977536203886, 0.3580705011323798,
    0.3394281538366412, 0.3052753636196264, 0.2749137728213015, 0.24681768210614846, 0.19850735037466108,
    0.17448318112556654, 0.17080762978096023, 0.11306524562164728, 0.09629426845937154, 0.08342617959726861,
    0.07439078704319084, 0.06630748132267932, 0.05919329501038171, 0.053361403485605564, 0.048554785628770226,
]
# The L-layer run prints "Cost after iteration %i: %f": compared as printed, digit for digit.
PRINTED_L_LAYER = [
    "0.771749", "0.672053", "0.648263", "0.611507", "0.567047", "0.540138", "0.527930", "0.465477",
    "0.369126", "0.391747", "0.315187", "0.272700", "0.237419", "0.199601", "0.189263", "0.161189",
    "0.148214", "0.137775", "0.129740", "0.121225", "0.113821", "0.107839", "0.102855", "0.100897",
    "0.092878",
]
# Accuracies printed after training (train, test): 209/209, 36/50; 206/209, 40/50.
PUBLISHED_ACCURACY = {"2-layer": (1.0, 0.72), "L-layer": (206 / 209, 0.8)}


@pytest.fixture(scope="module")
def cat_run(real_data, tmp_path_factory):
    """The whole job once, as a user runs it, on the real images."""
    path = real_data("catvnoncat.npz")
    out = tmp_path_factory.mktemp("cat")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "models.cat", "--data", str(path), "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    print(f"cat job: {time.perf_counter() - start:.1f} s")
    assert run.returncode == 0, run.stderr
    return run, out, json.loads((out / "results.json").read_text())


def test_accuracies_are_the_published_ones_exactly(cat_run):
    _, _, results = cat_run
    assert list(results) == ["2-layer", "L-layer"]
    for name, (train, test) in PUBLISHED_ACCURACY.items():
        assert results[name]["train_accuracy"] == train, name
        assert results[name]["test_accuracy"] == test, name


def test_costs_match_the_printed_digits(cat_run):
    _, _, results = cat_run
    two, deep_ = results["2-layer"]["costs"], results["L-layer"]["costs"]
    assert len(two) == len(deep_) == 25  # iterations 0, 100, ..., 2400
    np.testing.assert_allclose(two, PRINTED_2_LAYER, rtol=1e-10, atol=0)
    assert [f"{c:.6f}" for c in deep_] == PRINTED_L_LAYER


def test_table_and_files(cat_run):
    run, out, results = cat_run
    assert {p.name for p in out.iterdir()} == {"results.json", "results.md", "costs.png", "misclassified.png"}
    for name in ("costs.png", "misclassified.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "the real set" in run.stdout
    assert "| 2-layer | 1.0000 | 0.7200 | 1.0000 | 0.7200 |" in run.stdout
    assert "| L-layer | 0.9856 | 0.8000 | 0.9856 | 0.8000 | 0.092878 | 0.092878 |" in run.stdout
    assert "Cost after iteration 100: 0.6464320953" in run.stdout  # printed every 100 iterations
    assert "L-layer model: 10 misclassified test images" in run.stdout  # 40 of 50 right


def test_no_data_is_a_clear_message(tmp_path, monkeypatch):
    env_free = {k: v for k, v in __import__("os").environ.items() if k != data.DATA_ENV}
    run = subprocess.run([sys.executable, "-m", "models.cat", "--out", str(tmp_path / "out")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env=env_free)
    assert run.returncode == 2
    assert "--data" in run.stderr and "AUTOGRAD_LITE_DATA" in run.stderr and "no synthetic stand-in" in run.stderr
    assert not (tmp_path / "out").exists()  # nothing written
    run = subprocess.run([sys.executable, "-m", "models.cat", "--data", str(tmp_path / "missing.npz")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "does not exist" in run.stderr


def test_short_run_on_course_h5_files_without_published_columns(tmp_path, capsys):
    """The job reads a folder of the course's .h5 files; on other data it shows no published values."""
    import h5py
    rng = np.random.default_rng(0)
    for split, m in (("train", 12), ("test", 6)):
        with h5py.File(tmp_path / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)
            f[f"{split}_set_y"] = np.arange(m) % 2
            f["list_classes"] = np.array([b"non-cat", b"cat"])
    assert cat.main(["--data", str(tmp_path), "--iterations", "3", "--out", str(tmp_path / "out")]) == 0
    stdout = capsys.readouterr().out
    assert "published" not in stdout and "the real set" not in stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [len(r["costs"]) for r in results.values()] == [1, 1]


def test_help_says_what_it_writes():
    run = subprocess.run([sys.executable, "-m", "models.cat", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0
    for word in ("results.json", "costs.png", "misclassified.png", "AUTOGRAD_LITE_DATA", "0.0075", "2,500"):
        assert word in run.stdout, word
