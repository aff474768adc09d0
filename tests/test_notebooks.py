"""Both notebooks run headless (nbclient, kernel python3) in the fast setting
(AG_NOTEBOOK_ITERATIONS caps every training run); an error in any cell fails."""
import os
import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FAST_ITERATIONS = "20"


def run(name, out_dir, monkeypatch):
    """Execute notebooks/<name> in place of a user (cwd: notebooks/); return it with its outputs."""
    monkeypatch.setenv("AG_NOTEBOOK_ITERATIONS", FAST_ITERATIONS)
    monkeypatch.setenv("AG_NOTEBOOK_OUT", str(out_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()  # a failing cell raises
    print(f"{name}: {time.perf_counter() - start:.1f} s with AG_NOTEBOOK_ITERATIONS={FAST_ITERATIONS}")
    return notebook


def printed(notebook):
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream")


@pytest.mark.parametrize("name", ["regularization.ipynb", "deep_network.ipynb"])
def test_notebooks_are_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_regularization_notebook_runs(tmp_path, monkeypatch):
    text = printed(run("regularization.ipynb", tmp_path, monkeypatch))
    assert "max relative difference" in text
    assert r"\frac{\lambda}{2m}" in text  # the formula cell printed the regularized cost
    assert (tmp_path / "regularized_cost.svg").stat().st_size > 1000


def test_deep_network_notebook_runs(tmp_path, monkeypatch):
    text = printed(run("deep_network.ipynb", tmp_path, monkeypatch))
    assert "gradcheck passed" in text and "gradcheck FAILED" in text
    assert (tmp_path / "deep_cost.svg").stat().st_size > 1000
