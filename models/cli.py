"""The ``autograd-lite`` command: the project's jobs as subcommands.

    autograd-lite --help               lists the jobs, one line each
    autograd-lite football [options]   the regularization study (python -m models.football)
    autograd-lite cat [options]        the course's two cat classifiers (python -m models.cat)
    autograd-lite JOB --help           what the job does, its options and the files it writes

pip installs this as a console script (``[project.scripts]`` in pyproject.toml),
so it works from any folder without the checkout.
"""
import argparse
import importlib
import sys

# subcommand -> (module in this package, one-line description for --help)
JOBS = {
    "football": ("football", "regularization study: 4 models, table, plots, graph"),
    "cat": ("cat", "course's 2-layer and L-layer cat classifiers vs published"),
}


def main(argv=None):
    """Dispatch ``argv`` (None: sys.argv[1:]) to a job's ``main``; returns what it returns (0), or
    raises its ``SystemExit(2)`` on a failure (see the job's ``main``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in JOBS:
        # Everything after the job's name, --help included, goes to the job's own parser,
        # which documents its options and files.
        module = importlib.import_module(f"{__package__}.{JOBS[argv[0]][0]}")
        return module.main(argv[1:], prog=f"autograd-lite {argv[0]}")
    parser = argparse.ArgumentParser(
        prog="autograd-lite", description="Run one of autograd_lite's jobs.",
        epilog="Data: each job takes --data PATH, else the folder in $AUTOGRAD_LITE_DATA. "
               "'autograd-lite JOB --help' lists a job's options and the files it writes.")
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for name, (_, summary) in JOBS.items():
        jobs.add_parser(name, help=summary)
    parser.parse_args(argv)  # --help, no job or an unknown one: prints and exits
    return 2  # not reached: parse_args exits for anything that is not a job


if __name__ == "__main__":
    sys.exit(main())
