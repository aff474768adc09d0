"""``python -m bench.instructions``: CPU instructions per training step, counted by
Valgrind (callgrind), for a verdict that load on a shared machine cannot blur.

Wall-clock ratios (``python -m bench``) are what the speed targets are judged on,
but on a busy two-core machine a single timing can move by half. Instruction
counts are deterministic: each implementation runs in a fresh interpreter under
callgrind twice, for ``warmup`` steps and for ``warmup + steps`` steps, and the
difference divided by ``steps`` is the cost of one step, with start-up and
warm-up taken out. BLAS and NumPy run single-threaded, hashing is seeded.

Instructions are not time: NumPy's and BLAS's loops retire several per cycle,
Python's interpreter fewer, so a step heavy in Python bookkeeping takes longer
than its count says. Use the counts to see what a change saves, the timings to
judge the targets.

Needs ``valgrind`` on the PATH (Debian: ``apt-get install valgrind``).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

from . import workloads

ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


UNAVAILABLE = 3  # the child's exit status when the implementation cannot run that workload


def run_steps(workload, impl, n_steps, seed=0):
    """Build ``impl``'s step for ``workload`` and run it ``n_steps`` times (the measured child);
    one that cannot run here (``workloads.Unavailable``) exits with ``UNAVAILABLE``, saying why."""
    problem = workloads.make_problem(workloads.WORKLOADS[workload], seed)
    try:
        step = {**workloads.FACTORIES, **_peer_factories()}[impl](problem, seed)
    except workloads.Unavailable as reason:
        print(reason, file=sys.stderr)
        sys.exit(UNAVAILABLE)
    for _ in range(n_steps):
        step()


def _peer_factories():
    from . import peers
    return peers.FACTORIES


def count(workload, impl, n_steps):
    """Instructions callgrind counts for a child running ``n_steps`` steps (start-up included);
    ``workloads.Unavailable`` when the implementation cannot run that workload (the lean step on Adam)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               "-m", "bench.instructions", "--run", workload, impl, str(n_steps)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **ENV},
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode == UNAVAILABLE:
        raise workloads.Unavailable(next(line for line in reversed(done.stderr.splitlines()) if line and
                                         not line.startswith("==")))
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"bench.instructions: {impl} on {workload} failed under valgrind "
                           f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_step(workload, impl, steps, warmup):
    """Instructions of one step: (count at warmup + steps - count at warmup) / steps."""
    return (count(workload, impl, warmup + steps) - count(workload, impl, warmup)) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", default=["football_l2"], choices=list(workloads.WORKLOADS))
    parser.add_argument("--impls", nargs="+", default=["manual", "lean", "eager", "replay"])
    parser.add_argument("--steps", type=int, default=200, help="measured steps (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="steps run before measuring (default 20)")
    parser.add_argument("--run", nargs=3, metavar=("WORKLOAD", "IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        return run_steps(args.run[0], args.run[1], int(args.run[2]))
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not on the PATH (Debian: apt-get install valgrind)")
    print("| workload | implementation | instructions/step | × course's step | × lean step |")
    print("|---|---|---:|---:|---:|")
    for workload in args.workloads:
        counts = {}
        for impl in args.impls:
            try:
                counts[impl] = per_step(workload, impl, args.steps, args.warmup)
            except workloads.Unavailable as reason:
                counts[impl] = f"skipped: {reason}"
        for impl, n in counts.items():
            if isinstance(n, str):
                print(f"| {workload} | {impl} | {n} | | |")
                continue
            ratio = lambda ref: f"{n / counts[ref]:.2f}" if isinstance(counts.get(ref), float) else "n/a"
            print(f"| {workload} | {impl} | {n:,.0f} | {ratio('manual')} | {ratio('lean')} |")


if __name__ == "__main__":
    main()
