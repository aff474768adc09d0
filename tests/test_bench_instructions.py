"""bench.instructions: instructions per step are the difference of two counted runs over
the measured steps, and a child that fails under valgrind is reported, not read as a count."""
import subprocess

import pytest

from bench import instructions


def _fake_valgrind(counts_by_steps, returncode=0):
    def run(command, **kwargs):
        n_steps = int(command[-1])
        stderr = f"==1== Collected : {counts_by_steps[n_steps]}\n" if n_steps in counts_by_steps else "boom"
        return subprocess.CompletedProcess(command, returncode, "", stderr)
    return run


def test_one_step_costs_the_difference_of_the_two_runs_over_the_measured_steps(monkeypatch):
    monkeypatch.setattr(subprocess, "run", _fake_valgrind({20: 5_000_000, 220: 9_000_000}))
    assert instructions.per_step("football", "lean", steps=200, warmup=20) == 20_000.0


def test_a_failed_child_is_reported_with_its_output(monkeypatch):
    monkeypatch.setattr(subprocess, "run", _fake_valgrind({}, returncode=1))
    with pytest.raises(RuntimeError, match=r"lean on football failed under valgrind \(exit 1\):\nboom"):
        instructions.count("football", "lean", 3)


def test_the_child_runs_the_benchmark_step(monkeypatch):
    ran = []
    monkeypatch.setitem(instructions.workloads.FACTORIES, "lean",
                        lambda problem, seed: lambda: ran.append(problem.workload.name))
    instructions.run_steps("football", "lean", 3)
    assert ran == ["football"] * 3


def test_an_implementation_that_cannot_run_the_workload_is_skipped_saying_why(monkeypatch, capsys):
    # the lean step is written for gradient descent: on minibatch (Adam) its child exits UNAVAILABLE
    def fake(command, **kwargs):
        impl = command[-2]
        if impl == "lean":
            stderr = "==1== Collected : 123\nthe lean step is written for gradient descent only\n"
            return subprocess.CompletedProcess(command, instructions.UNAVAILABLE, "", stderr)
        return subprocess.CompletedProcess(command, 0, "", f"==1== Collected : {1000 * int(command[-1])}\n")
    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/usr/bin/valgrind")
    instructions.main(["--workloads", "minibatch", "--impls", "manual", "lean", "--steps", "10", "--warmup", "2"])
    out = capsys.readouterr().out
    assert "| minibatch | manual | 1,000 | 1.00 | n/a |" in out
    assert "| minibatch | lean | skipped: the lean step is written for gradient descent only | | |" in out


def test_the_child_exits_unavailable_when_the_step_cannot_be_built():
    with pytest.raises(SystemExit) as stopped:
        instructions.run_steps("minibatch", "lean", 1)
    assert stopped.value.code == instructions.UNAVAILABLE
