"""Where a job writes: its ``--out`` folder, checked before training, and its outputs written into
it as one set.

A run writes its files into a hidden folder inside ``--out`` and, at the end, replaces the previous
run's files there as one set (``staged_outputs``, ``publish``): a run that fails or is stopped before
then leaves the folder as it was, and one stopped while replacing the set leaves a file INCOMPLETE,
which the next complete run removes. Used by both jobs (``football.py``, ``cat.py``).
"""
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from autograd_lite.serialization import fsync_path, process_is_gone

from .data import path_kind

# Present in --out while a run replaces the previous run's files (see staged_outputs): left behind
# only by a run stopped part-way, it says that the folder may mix two runs.
INCOMPLETE = "INCOMPLETE"
# The hidden folder inside --out that a run writes into: .autograd_lite_run.<pid>.<random>.
STAGING_PREFIX = ".autograd_lite_run."


def output_folder(parser, value, files=()):
    """The --out folder, created and checked to take the job's ``files`` (names inside it),
    all before training, so a folder that cannot take them does not cost a whole run. An
    empty value would write into the current folder, and a file in the way, a folder at one
    of the names, no permission, ... would end in a traceback: each exits with status 2 via
    ``parser.error``, naming the path and what is wrong."""
    if not value.strip():
        parser.error("--out is empty; expected a folder (e.g. --out out)")
    out = Path(value)
    if os.path.lexists(out) and not out.is_dir():  # (lexists: a dangling symbolic link is in the way too)
        kind = path_kind(out)
        parser.error(f"--out {value!r} is {'a file' if kind == 'a regular file' else kind}; expected a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file further up the path, no permission, ...
        parser.error(f"--out {value!r}: cannot create the folder ({_in_the_way(out) or error.strerror or error}); "
                     "expected a folder that can be created")
    problem = _unwritable(out, files)
    if problem:
        parser.error(f"--out {value!r}: {problem}")
    return out


def _in_the_way(out):
    """What stands where a folder above ``out`` must be (a file, a dangling symbolic link, a FIFO, ...),
    as "'a/b' is a FIFO (named pipe)", or None: mkdir says only "File exists" or "Not a directory"."""
    for folder in reversed(out.parents):
        if os.path.lexists(folder) and not folder.is_dir():
            return f"{str(folder)!r} is {path_kind(folder)}"
    return None


def _unwritable(out, files):
    """What keeps the existing folder ``out`` from taking ``files``, or None. An existing folder
    passes mkdir whether or not it can be written, and root ignores permission bits, so the
    folder is tried for real: a probe file is created and removed, and each name is tried."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".autograd_lite_probe_", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        return f"cannot write into the folder ({error.strerror or error}); expected a folder this job can write to"
    for name in files:
        path = out / name
        if path.is_dir():
            return (f"{str(path)!r} is a folder, where the job writes its file {name}; expected a file or "
                    "nothing at that name (remove or rename that folder, or choose another --out)")
        if path.exists() and not path.is_file():  # a pipe or device: opening it could block or misfire
            return (f"{str(path)!r} is not a regular file, where the job writes its file {name}; expected a "
                    "file or nothing at that name")
        if path.exists():
            try:  # append mode: the file's contents stay as they are
                with open(path, "ab"):
                    pass
            except OSError as error:
                return (f"cannot write {str(path)!r} ({error.strerror or error}); expected a file this job "
                        "can overwrite")
    return None


@contextlib.contextmanager
def staged_outputs(out, names, job):
    """Write one run's outputs as a set: yields a fresh hidden folder inside ``out`` to write them
    into. On a normal exit they replace the previous run's files ``names`` in ``out`` as a set
    (``publish``); on an error or an interrupt the hidden folder is removed and ``out`` keeps the
    previous run's files as they were. Two runs into one ``out`` write into separate folders, so
    their files never mix."""
    _remove_dead_stagings(out)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}.", dir=out))
    try:
        yield staging
        publish(staging, out, names, job)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging, out, names, job):
    """Replace the files ``names`` in ``out`` by those in ``staging`` (the ones this run wrote), as a
    set: under a lock on ``out`` (a concurrent run publishes before or after, never in between), the
    file INCOMPLETE is written first and removed last, and the old run's results.md/results.json are
    withdrawn first and the new ones put in last, so that a kill in between never leaves results
    beside another run's plots without that marker. Returns the names published, sorted."""
    written = sorted(p.name for p in staging.iterdir())
    order = sorted(written, key=lambda name: name.startswith("results."))  # the results last
    with _locked(out):
        marker = out / INCOMPLETE
        marker.write_text(f"A run of the {job} job (process {os.getpid()}) was replacing the files in this folder "
                          "and has not finished: until this file is gone, they may mix two runs or be missing. "
                          "If no run is going on, that run was stopped part-way; run the job again.\n")
        fsync_path(out)
        for name in sorted(names, key=lambda name: not name.startswith("results.")):  # the results first
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        for name in order:
            fsync_path(staging / name)  # the bytes are on disk before the name points at them
            os.replace(staging / name, out / name)
        fsync_path(out)
        marker.unlink()
    return written


@contextlib.contextmanager
def _locked(folder):
    """Hold an exclusive lock on ``folder`` itself (flock; the system releases it when the process
    dies, so a killed run never leaves it held). Where there is no flock (not POSIX) or the file
    system refuses it, the run goes on unlocked: the INCOMPLETE marker still shows a broken set."""
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        fd = None
    try:
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def _remove_dead_stagings(out):
    """Remove the hidden folders left in ``out`` by runs killed before publishing (their process
    no longer exists); a live run's folder is left alone."""
    pattern = re.compile(re.escape(STAGING_PREFIX) + r"([0-9]{1,10})\.[A-Za-z0-9_]+\Z")
    for entry in out.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and process_is_gone(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
