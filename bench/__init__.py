"""Speed benchmarks: one training step of autograd_lite against the
hand-written NumPy step (``models.manual``) and against peer libraries.

Run from the repository root::

    python -m bench                                  # every workload and implementation
    python -m bench --workloads football --reps 30   # a subset, more repetitions
    python -m bench --json out.json --markdown out.md
    python -m bench --memory-steps 30000             # RSS over many eager steps

See ``python -m bench --help`` and README.md, section "Speed".
"""
