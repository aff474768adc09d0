"""Memory over many eager steps: the resident set size must stay flat, i.e.
no graph (or anything else) is kept alive from one step to the next."""
import gc

from . import workloads


def _rss_bytes():
    """Current resident set size in bytes (psutil; else /proc; else the peak from resource)."""
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_over_steps(workload, n_steps, seed=0, samples=30):
    """Run ``n_steps`` eager autograd_lite steps of ``workload`` and sample RSS.

    Returns a dict: steps, rss_mb (samples, evenly spaced), growth_mb (last sample
    minus the sample after the first tenth of the run, which absorbs warm-up).
    """
    problem = workloads.make_problem(workload, seed)
    step = workloads.make_eager(problem, seed)
    every = max(1, n_steps // samples)
    rss = []
    gc.collect()
    for i in range(1, n_steps + 1):
        step()
        if i % every == 0:
            rss.append(_rss_bytes() / 2 ** 20)
    settled = rss[len(rss) // 10] if rss else 0.0
    return {"workload": workload.name, "steps": n_steps, "rss_mb": rss,
            "growth_mb": (rss[-1] - settled) if rss else 0.0, "gc_objects": len(gc.get_objects())}


def describe(report):
    """One paragraph of text for ``rss_over_steps``'s result."""
    rss = report["rss_mb"]
    return (f"Memory: {report['steps']:,} eager steps of {report['workload']}: RSS "
            f"{rss[0]:.1f} MB after {report['steps'] // len(rss):,} steps, {rss[-1]:.1f} MB at the end "
            f"(min {min(rss):.1f}, max {max(rss):.1f}); growth after warm-up {report['growth_mb']:+.2f} MB.")
