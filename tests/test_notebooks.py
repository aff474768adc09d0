"""Both notebooks run headless (nbclient, kernel python3) in the fast setting
(AG_NOTEBOOK_ITERATIONS caps every training run); an error in any cell fails.
Each runs as a learner's copy would: copied out of the checkout into a temporary folder
(its cwd), importing the installed packages, finding data only through AUTOGRAD_LITE_DATA.
The kernels inherit AUTOGRAD_LITE_DATA (conftest sets it when the real data is there)."""
import base64
import io
import os
import pathlib
import shutil
import time

import nbformat
import pytest
from nbclient import NotebookClient
from oracles import needs_dot

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FAST_ITERATIONS = "20"
# Both notebooks show their cost's graph with ag.draw, which runs Graphviz's dot (README command 2 installs no
# Graphviz): without it a cell would fail, so the runs are marked needs_dot, skipped, not failed.


def run(name, out_dir, monkeypatch):
    """Execute a copy of notebooks/<name> in place of a user, from a folder outside the
    checkout (out_dir/copy, its cwd); return it with its outputs."""
    pytest.importorskip("autograd_lite_models", reason="the notebooks import the installed package")
    monkeypatch.setenv("AG_NOTEBOOK_ITERATIONS", FAST_ITERATIONS)
    monkeypatch.setenv("AG_NOTEBOOK_OUT", str(out_dir))
    # Nothing points the kernel at the checkout: a notebook that looked for the repository
    # (it once did, and a copy elsewhere stopped with a bare StopIteration) fails here.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    where = out_dir / "copy"
    where.mkdir()
    assert ROOT not in where.resolve().parents
    notebook = nbformat.read(shutil.copy(NOTEBOOKS / name, where), as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(where)}}).execute()  # a failing cell raises
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


def images(cell):
    """The PNG images a cell displayed, as (height, width, channels) float arrays."""
    import matplotlib.image
    return [matplotlib.image.imread(io.BytesIO(base64.b64decode(output["data"]["image/png"])), format="png")
            for output in cell.outputs if output.output_type == "display_data" and "image/png" in output.get("data", {})]


def inked(image):
    """Fraction of pixels that are not the background (the most common colour)."""
    flat = image[..., :3].reshape(-1, 3)
    colours, counts = __import__("numpy").unique(flat, axis=0, return_counts=True)
    return 1 - counts.max() / len(flat)


@needs_dot
def test_regularization_notebook_runs(tmp_path, monkeypatch):
    notebook = run("regularization.ipynb", tmp_path, monkeypatch)
    text = printed(notebook)
    assert "max relative difference" in text
    assert r"\frac{\lambda}{2m}" in text  # the formula cell printed the regularized cost
    assert (tmp_path / "regularized_cost.svg").stat().st_size > 1000
    # The formula cell's matplotlib figure shows the formula (it once rendered an empty figure).
    formula_cell = next(c for c in notebook.cells if c.cell_type == "code" and "ax.text(" in c.source)
    (figure,) = images(formula_cell)
    assert figure.shape[1] > 300 and inked(figure) > 0.01


@needs_dot
def test_deep_network_notebook_runs(tmp_path, monkeypatch):
    notebook = run("deep_network.ipynb", tmp_path, monkeypatch)
    text = printed(notebook)
    assert "gradcheck passed" in text and "gradcheck FAILED" in text
    assert (tmp_path / "deep_cost.svg").stat().st_size > 1000
    step_rates = [0.1 / (1 + 1.0 * (epoch // 1000)) for epoch in (0, 1000, 2000, 4999)]  # the step formula
    assert f"learning rate at epochs 0, 1000, 2000, 4999: {step_rates}" in text
    cat_cell = notebook.cells[-1]
    if os.environ.get("AUTOGRAD_LITE_DATA") and (pathlib.Path(os.environ["AUTOGRAD_LITE_DATA"]) /
                                                 "catvnoncat.npz").is_file():
        shown = images(cat_cell)  # the grid of cat / non-cat images, then the cost curve
        assert len(shown) == 2 and all(inked(image) > 0.2 for image in shown[:1])
        assert "training images (72 cats of 209)" not in text  # a title, not printed text
        assert "after 20 iterations" in text
    else:
        assert "no cat / non-cat data" in text
