"""``python -m bench``: time one training step per implementation and workload.

Repetitions are interleaved (every round runs each implementation once, in a
rotating order) so that load from other processes hits all of them alike,
and each timed block follows a few untimed steps of its own implementation;
the table reports medians over rounds, and each ratio to the hand-written
step is the median over rounds of that round's ratio (paired, so load that
comes and goes between rounds cancels out). Memory: the peak of NumPy/Python
allocations during one step (tracemalloc; PyTorch's own allocator is not
seen, so its column says n/a), and optionally RSS over many eager steps.
"""
import argparse
import contextlib
import gc
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from . import memory, peers, workloads

IMPLEMENTATIONS = {**workloads.FACTORIES, **peers.FACTORIES}
TARGETS = {  # implementation -> workload -> highest accepted ratio to the course's hand-written step
    "eager": {"football": 1.3, "cat": 1.05, "minibatch": 1.3},
    "replay": {"football": 1.0, "minibatch": 1.0},
}
LEAN_TARGETS = {  # implementation -> highest accepted ratio to the leanest hand-written step (football)
    "eager": 1.4, "replay": 0.95,
}
FOOTBALL = ("football", "football_l2", "football_dropout")


def build_steps(problem, names, seed):
    """{name: step()} for the implementations that can run, and {name: reason} for the others."""
    steps, skipped = {}, {}
    for name in names:
        try:
            steps[name] = IMPLEMENTATIONS[name](problem, seed)
        except workloads.Unavailable as reason:
            skipped[name] = str(reason)
    return steps, skipped


def step_peak_bytes(step):
    """Peak bytes allocated (tracemalloc) while one step runs, above what was live before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def time_steps(steps, reps, warmup, block_seconds):
    """Median seconds per step of each step function, over ``reps`` interleaved rounds.

    Each round times a block of consecutive steps per implementation, sized so a
    block lasts about ``block_seconds``, after ``warmup`` untimed steps of the same
    implementation. Returns {name: [seconds per step, one per round]}.
    """
    names = list(steps)
    # The libraries' own objects (PyTorch alone brings some 100,000) are not part of any
    # step: move them out of the garbage collector's sight, so full collections that
    # allocation-heavy steps trigger do not scan them.
    gc.collect()
    gc.freeze()
    block = {}
    for name in names:
        for _ in range(warmup):
            steps[name]()
        start = time.perf_counter()
        steps[name]()
        block[name] = max(1, int(block_seconds / max(time.perf_counter() - start, 1e-9)))
    samples = {name: [] for name in names}
    for r in range(reps):
        for name in names[r % len(names):] + names[:r % len(names)]:
            step, n = steps[name], block[name]
            # Untimed steps first: each block is timed in its implementation's steady state,
            # not paying for the caches that the implementation before it left cold.
            for _ in range(warmup):
                step()
            start = time.perf_counter()
            for _ in range(n):
                step()
            samples[name].append((time.perf_counter() - start) / n)
    return samples


def run(workload_names, impl_names, reps, warmup, block_seconds, seed):
    """Benchmark rows: one dict per (workload, implementation)."""
    rows = []
    for wname in workload_names:
        workload = workloads.WORKLOADS[wname]
        problem = workloads.make_problem(workload, seed)
        steps, skipped = build_steps(problem, impl_names, seed)
        samples = time_steps(steps, reps, warmup, block_seconds)
        medians = {name: statistics.median(s) for name, s in samples.items()}
        base, lean = samples.get("manual"), samples.get("lean")
        for name in impl_names:
            row = {"workload": wname, "implementation": name, "data": problem.source}
            if name in skipped:
                row["skipped"] = skipped[name]
            else:
                peak = None if name == "torch" else step_peak_bytes(steps[name])
                row.update(median_us=medians[name] * 1e6,
                           # paired: each round's time over the hand-written step's in the same
                           # round, so load that comes and goes between rounds cancels out
                           ratio=_paired_ratio(samples[name], base),
                           lean_ratio=_paired_ratio(samples[name], lean),
                           peak_mb=None if peak is None else peak / 2 ** 20,
                           rounds=len(samples[name]))
            rows.append(row)
        print(f"  {wname} ({workload.description}): done", file=sys.stderr)
    return rows


def _paired_ratio(times, base_times):
    """Median over rounds of each round's time over the reference's time in the same round
    (paired, so load that comes and goes between rounds cancels out); None without reference."""
    if base_times is None:
        return None
    return statistics.median(t / t_base for t, t_base in zip(times, base_times))


def target_verdicts(rows):
    """Lines saying, for each target, the measured ratio and whether it is met."""
    ratio = {(r["workload"], r["implementation"]): r.get("ratio") for r in rows}
    lean = {(r["workload"], r["implementation"]): r.get("lean_ratio") for r in rows}
    checks = [(impl, wname, limit, ratio, "the course's step") for impl, limits in TARGETS.items()
              for wname, limit in limits.items()]
    checks += [(impl, wname, limit, lean, "the lean step") for impl, limit in LEAN_TARGETS.items()
               for wname in FOOTBALL]
    lines = []
    for impl, wname, limit, measured, reference in checks:
        got = measured.get((wname, impl))
        if got is None:
            continue
        strict = impl == "replay" and reference == "the course's step"
        met = got < limit if strict else got <= limit
        lines.append(f"{impl} on {wname}: {got:.2f}x {reference} (target {'<' if strict else '<='} {limit}x): "
                     f"{'met' if met else 'MISSED'}")
    for wname in dict.fromkeys(r["workload"] for r in rows):
        eager = ratio.get((wname, "eager"))
        for peer in peers.FACTORIES:
            other = ratio.get((wname, peer))
            if eager is not None and other is not None:
                lines.append(f"eager vs {peer} on {wname}: {eager:.2f}x vs {other:.2f}x: "
                             f"{'faster' if eager < other else 'SLOWER'}")
    return lines


def markdown_table(rows):
    """The rows as a markdown table."""
    out = ["| workload | implementation | median µs/step | × course's step | × lean step | peak MB/step |",
           "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if "skipped" in r:
            out.append(f"| {r['workload']} | {r['implementation']} | skipped: {r['skipped']} | | | |")
            continue
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lean = "" if r.get("lean_ratio") is None else f"{r['lean_ratio']:.2f}"
        peak = "n/a" if r["peak_mb"] is None else f"{r['peak_mb']:.2f}"
        out.append(f"| {r['workload']} | {r['implementation']} | {r['median_us']:,.0f} | {ratio} | {lean} | {peak} |")
    return "\n".join(out)


def environment(threads):
    """Versions and load, recorded next to the numbers."""
    info = {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "threads": threads}
    for name in ("autograd", "mygrad", "torch"):
        if name in sys.modules:
            try:
                info[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                info[name] = getattr(sys.modules[name], "__version__", "unknown")
    return info


@contextlib.contextmanager
def pinned_threads(n, impls):
    """Inside, every implementation gets the same ``n`` threads, so that the table compares
    the engines and not their thread counts: NumPy's BLAS (and any OpenMP pool) through
    threadpoolctl, PyTorch's own intra-op pool through ``torch.set_num_threads``."""
    torch = sys.modules.get("torch")
    if "torch" in impls and torch is None:
        try:
            import torch
        except ImportError:
            pass  # reported as unavailable by its factory
    previous = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(n):
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(previous)


def int_at_least(minimum):
    """An argparse type: an int >= ``minimum``, else an argparse error (status 2) naming the option
    and what it expects, before any work (a bad count would otherwise fail after the timing run)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}, got {value}")
        return value
    return parse


def positive_seconds(text):
    """An argparse type: a finite number of seconds > 0 (nan, inf, 0 and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def output_file(text):
    """An argparse type: a file the results can be written to, checked before the timing run
    (minutes with the defaults) rather than failing when they are written after it. A device
    or FIFO is taken (``--json /dev/stdout``): open() writes into it, it does not replace it."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty; expected a file path such as results.json")
    folder = os.path.dirname(text) or os.curdir
    if os.path.isdir(text) or text.endswith(os.sep):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; expected a file path such as "
                                         f"{os.path.join(text, 'results.json')!r}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder {folder!r} does not exist; expected a file in an "
                                         "existing folder (create it first)")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(workloads.WORKLOADS),
                        choices=list(workloads.WORKLOADS), help="workloads to run (default: all)")
    parser.add_argument("--impls", nargs="+", default=list(IMPLEMENTATIONS), choices=list(IMPLEMENTATIONS),
                        help="implementations to time (default: all; 'manual' is the reference)")
    parser.add_argument("--reps", type=int_at_least(1), default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--warmup", type=int_at_least(0), default=3,
                        help="untimed steps before every timed block (default 3)")
    parser.add_argument("--block-seconds", type=positive_seconds, default=0.05,
                        help="target duration of one timed block of steps (default 0.05)")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    parser.add_argument("--json", metavar="PATH", type=output_file, help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", type=output_file, help="also write the table as markdown")
    parser.add_argument("--memory-steps", type=int_at_least(0), default=0, metavar="N",
                        help="also run N eager steps (e.g. 30000) and report RSS over them")
    parser.add_argument("--memory-workload", default="football", choices=list(workloads.WORKLOADS))
    parser.add_argument("--threads", type=int_at_least(1), default=1,
                        help="threads for every implementation: BLAS, OpenMP and PyTorch's pool (default 1)")
    args = parser.parse_args(argv)
    impls = (["manual"] if "manual" not in args.impls else []) + args.impls

    with pinned_threads(args.threads, impls):
        rows = run(args.workloads, impls, args.reps, args.warmup, args.block_seconds, args.seed)
    table = markdown_table(rows)
    verdicts = target_verdicts(rows)
    print(table)
    print()
    print("\n".join(verdicts))
    result = {"environment": environment(args.threads), "rows": rows, "targets": verdicts}
    if args.memory_steps:
        workload = workloads.WORKLOADS[args.memory_workload]
        report = memory.rss_over_steps(workload, args.memory_steps, args.seed)
        print()
        print(memory.describe(report))
        result["memory"] = report
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n")
            if "memory" in result:
                f.write("\n" + memory.describe(result["memory"]) + "\n")


if __name__ == "__main__":
    main()
