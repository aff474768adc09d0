"""A plain, non-editable ``pip install .`` into a fresh virtual environment gives the
``autograd-lite`` command, which runs the jobs from any folder, and installs the models as
``autograd_lite_models`` without a generic top-level package named ``models``.

The venv sees this interpreter's import path (a ``.pth`` file in its site-packages lists it)
only so that NumPy, matplotlib, graphviz and tqdm need not be downloaded again. Not
``--system-site-packages``: when the suite runs in a venv, as PEP 668 makes it do on Debian,
that would be the *base* interpreter's site-packages, which on a fresh machine hold no NumPy.
The checkout is left off that path; the project itself is built from a copy of the source
tree and installed into the venv (``--no-deps``), and the test checks that the venv's copy is
the one imported.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                ".hypothesis", "out", "out_*", ".ipynb_checkpoints", "bench", ".ci-venv")


def run(args, **kwargs):
    kwargs.setdefault("timeout", 600)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def setuptools_version(python):
    result = run([python, "-c", "import setuptools; print(setuptools.__version__)"])
    return tuple(int(p) for p in result.stdout.strip().split(".")[:1]) if result.returncode == 0 else (0,)


def import_path_without_checkout():
    """The folders this interpreter imports from (its venv's or its own site-packages, and what their
    .pth files added), less any checkout of the project (pytest and an editable install put one there:
    its top-level ``models`` must not be importable in the venv)."""
    return [p for p in dict.fromkeys(sys.path) if p and Path(p).is_dir()
            and not ((Path(p) / "pyproject.toml").is_file() and (Path(p) / "autograd_lite").is_dir())]


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the project installed from a copy of the source, non-editable."""
    root = tmp_path_factory.mktemp("install")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=IGNORE)
    env_dir = root / "venv"
    created = run([sys.executable, "-m", "venv", env_dir])
    assert created.returncode == 0, created.stderr
    python = env_dir / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # after the venv's own site-packages, so the venv's install of the project comes first
    paths = import_path_without_checkout()
    (Path(purelib) / "_suite_import_path.pth").write_text("".join(f"{p}\n" for p in paths))
    # pyproject.toml's build backend needs setuptools >= 77 (SPDX license string); without it
    # in this interpreter, put a recent one into the venv (pip's cache or the index).
    if setuptools_version(python) < (77,):
        upgrade = run([python, "-m", "pip", "install", "-q", "setuptools>=77"])
        if upgrade.returncode != 0:
            pytest.skip(f"setuptools >= 77 is needed to build the project and could not be installed: "
                        f"{upgrade.stderr.strip().splitlines()[-1:]}")
    installed = run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", source])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return env_dir, python


def clean_env():
    """The environment without PYTHONPATH (nothing may find the checkout through it)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_installed_layout(venv, tmp_path):
    env_dir, python = venv
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    assert site.is_relative_to(env_dir)
    assert (site / "autograd_lite_models" / "cat.py").is_file()
    assert not (site / "models").exists()  # no generic top-level package
    probe = run([python, "-c", "import autograd_lite, autograd_lite_models.deep as d; "
                               "print(autograd_lite.__file__); print(d.__file__)"], cwd=tmp_path, env=clean_env())
    assert probe.returncode == 0, probe.stderr
    assert all(Path(line).is_relative_to(env_dir) for line in probe.stdout.split())  # the venv's copy
    missing = run([python, "-c", "import models"], cwd=tmp_path, env=clean_env())
    assert missing.returncode != 0 and "No module named 'models'" in missing.stderr


def test_command_lists_its_jobs(venv, tmp_path):
    env_dir, _ = venv
    result = run([env_dir / "bin" / "autograd-lite", "--help"], cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    jobs = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()]
    assert jobs == ["football", "cat"]  # one line each


def test_football_runs_from_another_folder(venv, tmp_path):
    env_dir, _ = venv
    out = tmp_path / "results"
    result = run([env_dir / "bin" / "autograd-lite", "football", "--out", out, "--iterations", "300"],
                 cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "| L2 + dropout |" in result.stdout
    for name in ("results.json", "results.md", "costs.png", "data.png", "boundary_none.png", "cost_formula.tex"):
        assert (out / name).stat().st_size > 0, name


def test_cat_without_data_says_where_to_put_it(venv, tmp_path):
    env_dir, _ = venv
    env = {k: v for k, v in clean_env().items() if k != "AUTOGRAD_LITE_DATA"}
    result = run([env_dir / "bin" / "autograd-lite", "cat", "--out", tmp_path / "out"], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "usage: autograd-lite cat" in result.stderr and "AUTOGRAD_LITE_DATA" in result.stderr
