"""The main job, end to end with few iterations."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import data, football

REPO = Path(__file__).resolve().parents[1]
EXPECTED_FILES = {"data.png", "costs.png", "boundary_none.png", "boundary_l2.png", "boundary_dropout.png",
                  "boundary_l2_dropout.png", "cost_graph.svg", "cost_graph.png", "cost_formula.tex", "results.md"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_command_line_run_writes_every_file(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", "synthetic", "--iterations", "50",
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # Without Graphviz's `dot` the job still runs and says why the graph is missing.
    expected = EXPECTED_FILES if shutil.which("dot") else EXPECTED_FILES - {"cost_graph.svg", "cost_graph.png"}
    assert {p.name for p in out.iterdir()} == expected
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    if "cost_graph.svg" in expected:
        assert (out / "cost_graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    formula = (out / "cost_formula.tex").read_text()
    assert "W^{[1]}" in formula and "\\lambda" in formula
    # The table: one row per model, and a tqdm bar per run on stderr.
    for name, *_ in football.MODELS:
        assert f"| {name} |" in run.stdout
        assert f"{name}: 100%" in run.stderr
    assert "published" not in run.stdout  # synthetic data: no published values to show


def test_real_data_shows_published_values(tmp_path, capsys):
    if not football.REAL_DATA.is_file():
        pytest.skip(f"{football.REAL_DATA} is absent: the real data set lives beside the clone in shared/data")
    assert football.main(["--data", str(football.REAL_DATA), "--iterations", "20", "--out", str(tmp_path)]) == 0
    stdout = capsys.readouterr().out
    assert "the real set" in stdout
    assert "| 0.9479 | 0.9150 |" in stdout  # SEEDS.md's no-regularization accuracies beside ours
    assert "published values are for 30,000 iterations" in stdout


def test_real_data_fingerprint_is_recognised_and_synthetic_is_not():
    assert football.fingerprint(data.load_football()) != football.REAL_DATA_SHA256
    if football.REAL_DATA.is_file():
        assert football.fingerprint(data.load_football(football.REAL_DATA)) == football.REAL_DATA_SHA256


def test_bad_arguments_exit_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        football.main(["--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        football.main(["--iterations", "0", "--out", str(tmp_path)])
    assert "--iterations must be >= 1" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", train_X=np.zeros((3, 2)))
    with pytest.raises(SystemExit):
        football.main(["--data", str(tmp_path / "bad.npz"), "--out", str(tmp_path)])
    assert "bad.npz" in capsys.readouterr().err
