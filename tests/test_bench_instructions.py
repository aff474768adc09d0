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
