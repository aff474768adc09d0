"""The suite on a fresh machine (adv80): without Graphviz's `dot` the tests that draw skip, naming it;
without PyTorch the files that use it as an oracle collect, never importing it, and run their other
tests; the forced thread interleavings pause where they say on Python 3.11 to 3.13, and fail, naming
the pause point, where they do not (one that never paused once passed without testing anything)."""
import os
import pathlib
import re
import subprocess
import sys
import threading

import pytest
from test_review_round11_core import _interleave, _Pause

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pytest(args, env):
    """Run pytest on ``args`` in a child from the checkout's root; return (returncode, its output)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600, check=False)
    return done.returncode, done.stdout + done.stderr


# --- without Graphviz's dot ------------------------------------------------------------------------------
DRAWING = ["tests/test_viz.py::test_draw_renders_a_file_with_the_real_dot",
           "tests/test_notebooks.py::test_regularization_notebook_runs",
           "tests/test_notebooks.py::test_deep_network_notebook_runs",
           "tests/test_review_round15_learners.py::test_readme_python_blocks_run_in_order"]


def test_the_tests_that_draw_with_dot_skip_naming_it_when_it_is_absent(tmp_path):
    # README's command 2 installs no Graphviz: these 6 tests failed with draw's RuntimeError there
    empty = tmp_path / "bin"
    empty.mkdir()
    code, output = _pytest(DRAWING, dict(os.environ, PATH=str(empty)))  # (the child is sys.executable)
    assert code == 0 and "failed" not in output, output[-2000:]
    reasons = re.findall(r"SKIPPED \[(\d+)\] [^:]+:\d+: (.*)", output)
    assert sum(int(n) for n, _ in reasons) == 6 and all("Graphviz's dot" in why for _, why in reasons), output


# --- without PyTorch -------------------------------------------------------------------------------------
def _without_torch(tmp_path):
    """The environment with a ``torch`` package on PYTHONPATH's front whose import fails as an absent one."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text('raise ModuleNotFoundError("torch: blocked")\n')
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))


def test_every_file_taking_torch_from_oracles_collects_without_it(tmp_path):
    # a module-level importorskip skipped a whole file, and torch named in a parametrize list is read at
    # collection: either way the file's torch-free tests never ran where PyTorch is absent
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                   if "from oracles import torch" in p.read_text())
    assert {"tests/test_review_round10_ops.py", "tests/test_review_round12_holes.py"} <= set(files)
    code, output = _pytest(["--collect-only", *files], _without_torch(tmp_path))
    assert code == 0 and "ERROR" not in output and "skipped" not in output, output[-2000:]


def test_round_10_and_12_run_their_torch_free_tests_without_torch(tmp_path):
    code, output = _pytest(["tests/test_review_round10_ops.py", "tests/test_review_round12_holes.py"],
                           _without_torch(tmp_path))
    # 94 of their 140 tests use no torch (masked arrays, flags, hyp2f1, signatures, op errors, ...)
    passed = re.search(r"(\d+) passed", output)
    assert code == 0 and passed and int(passed.group(1)) >= 90, output[-2000:]
    reasons = re.findall(r"SKIPPED \[\d+\] [^:]+:\d+: (.*)", output)
    assert all(why.startswith("torch is not installed here") for why in reasons), reasons


# --- forced interleavings --------------------------------------------------------------------------------
def _two_steps(log):
    log.append("before")
    log.append("after")


def test_a_pause_holds_its_thread_before_the_line_it_names():
    # on 3.12 and 3.13 the opcode-event pause of round 11 never came: its tests waited 10 s and failed
    log, seen = [], []
    _interleave(lambda: _two_steps(log), lambda: seen.append(list(log)),
                _Pause(_two_steps, 'log.append("after")'))
    assert seen == [["before"]] and log == ["before", "after"]


def test_an_interleaving_whose_pause_point_is_never_reached_fails_naming_it():
    second_ran = threading.Event()
    with pytest.raises(AssertionError, match=r"without reaching .*_two_steps, line 'log.append\(\"after\"\)'"
                                             r".* nothing was interleaved"):
        _interleave(lambda: None, second_ran.set, _Pause(_two_steps, 'log.append("after")'))
    assert not second_ran.is_set()


def test_a_pause_point_that_is_not_one_line_is_refused():
    with pytest.raises(AssertionError, match=r"_two_steps, line 'log': 2 lines begin so, not one"):
        _Pause(_two_steps, "log")
