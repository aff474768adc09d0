"""ag.save / ag.load, round 20 findings: write errors (a full disk, a quota, a file-size limit, an I/O
error) worded as every other save error, a write-protected file refused as open(path, "wb") refuses it,
a path holding a NUL byte refused by the path rule, and a hard-linked file replaced by name only."""
import errno
import inspect
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag

REPO = Path(__file__).resolve().parents[1]
OLD = {"W": np.arange(6.0).reshape(2, 3)}
BIG = {"W": np.zeros(100_000)}  # 800,000 bytes: over the limits the tests set


def _temporaries(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def _assert_kept(path):
    """``path`` still holds OLD, bit for bit, and nothing else was left beside it."""
    np.testing.assert_array_equal(ag.load(path)["W"].data, OLD["W"])
    assert _temporaries(os.path.dirname(path)) == []


def _assert_write_error(report, path, code):
    """``report`` (what a failed save raised, as ``describe`` gives it) is one OSError of errno ``code``
    naming save and ``path``, chained once from the first error of that errno."""
    assert report["type"] == "OSError" and report["errno"] == code, report
    assert report["filename"] == str(path), report
    assert report["message"].startswith(f"save: cannot write {str(path)!r}: "), report
    assert os.strerror(code) in report["message"] and errno.errorcode[code] in report["message"], report
    assert report["cause"] == [code, None], report  # the original error, itself chained to nothing
    assert report["suppressed"], report  # the repeats raised while unwinding are not shown


def describe(error):
    """What a failed save raised, as JSON (the subprocesses print it, with this same function)."""
    cause = error.__cause__
    return {"type": type(error).__name__, "errno": error.errno, "filename": error.filename,
            "message": error.strerror, "suppressed": error.__suppress_context__,
            "cause": None if cause is None else [cause.errno, None if cause.__context__ is None
                                                 else repr(cause.__context__)]}


def _run(code, *args, prefix=()):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([*prefix, sys.executable, "-c", inspect.getsource(describe) + textwrap.dedent(code), *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=120)


# --- write errors -------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="needs RLIMIT_FSIZE and SIGXFSZ")
@pytest.mark.parametrize("existed", [True, False])
def test_a_file_size_limit_is_one_oserror_naming_save_and_the_path(tmp_path, existed):
    path = tmp_path / "params.npz"
    if existed:
        ag.save(OLD, path)
    # In a subprocess: the limit must not reach this process (or any other test's files).
    done = _run("""
        import json, resource, signal, sys
        import numpy as np
        import autograd_lite as ag
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (else the signal kills the process)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            ag.save({"W": np.zeros(100_000)}, sys.argv[1])
        except OSError as error:
            print(json.dumps(describe(error)))
        """, path)
    assert done.returncode == 0 and done.stdout, done.stderr
    report = json.loads(done.stdout)
    _assert_write_error(report, path, errno.EFBIG)
    if existed:
        assert "the file was left as it was" in report["message"]
        _assert_kept(path)
    else:
        assert "no file was created" in report["message"]
        assert os.listdir(tmp_path) == []


class _FailingFile(io.FileIO):
    """The temporary's raw file, failing with ``code`` once ``room`` bytes are written, as a full
    disk, a quota or a failing device does (partial writes first, then the error)."""
    code, room = errno.ENOSPC, 3000

    def write(self, data):
        left = type(self).room - self.tell()
        if left <= 0:
            raise OSError(self.code, os.strerror(self.code))
        return super().write(memoryview(data)[:left])


@pytest.fixture
def failing_disk(monkeypatch):
    """Make save's temporary a _FailingFile: returns a function setting the errno it fails with."""
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        if mode != "wb":
            return real_fdopen(fd, mode, *args, **kwargs)
        return io.BufferedWriter(_FailingFile(fd, "wb", closefd=kwargs.get("closefd", True)))

    monkeypatch.setattr(os, "fdopen", fdopen)
    return lambda code: monkeypatch.setattr(_FailingFile, "code", code)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO])
def test_write_errors_are_one_oserror_of_their_errno_and_the_old_file_stays(tmp_path, failing_disk, code):
    path = tmp_path / "params.npz"
    ag.save(OLD, path)
    failing_disk(code)
    with pytest.raises(OSError) as caught:
        ag.save(BIG, path)
    _assert_write_error(describe(caught.value), path, code)
    assert f"in the folder {str(tmp_path)!r}" in str(caught.value)
    assert ("free some space" in str(caught.value)) == (code != errno.EIO)
    _assert_kept(path)


def test_a_save_in_an_except_block_reports_its_own_error_not_the_one_handled(tmp_path, failing_disk):
    path = tmp_path / "params.npz"
    ag.save(OLD, path)
    failing_disk(errno.ENOSPC)
    with pytest.raises(OSError) as caught:
        try:
            ag.load(tmp_path / "missing.npz")
        except FileNotFoundError:  # (no checkpoint yet: write one)
            ag.save(BIG, path)
    assert caught.value.errno == errno.ENOSPC and "No space left" in str(caught.value)
    assert isinstance(caught.value.__cause__.__context__, FileNotFoundError)  # the caller's, kept as it was
    _assert_kept(path)


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("unshare") is None,
                    reason="needs Linux and unshare to mount a small tmpfs")
def test_a_full_tmpfs_is_one_oserror_naming_save_and_the_path(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    # A mount namespace of its own (a user namespace too, unless root): the tmpfs goes with the process.
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    done = _run("""
        import json, os, subprocess, sys
        import numpy as np
        import autograd_lite as ag
        folder = sys.argv[1]
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", folder]).returncode:
            sys.exit(77)
        path = os.path.join(folder, "params.npz")
        ag.save({"W": np.arange(6.0).reshape(2, 3)}, path)
        try:
            ag.save({"W": np.zeros(100_000)}, path)
        except OSError as error:
            print(json.dumps({"error": describe(error), "left": sorted(os.listdir(folder)),
                              "W": ag.load(path)["W"].data.tolist()}))
        """, folder, prefix=["unshare", *user, "--mount"])
    if done.returncode != 0 and not done.stdout:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()[-200:]})")
    report = json.loads(done.stdout)
    _assert_write_error(report["error"], folder / "params.npz", errno.ENOSPC)
    assert report["left"] == ["params.npz"] and report["W"] == OLD["W"].tolist()


# --- write-protected files ----------------------------------------------------------------------
def _refused_as_open_refuses(folder, mode):
    """Save over a file of ``mode`` in ``folder`` as this process's user: what save and open() said,
    and whether the file and folder were left as they were."""
    path = os.path.join(folder, "params.npz")
    ag.save(OLD, path)
    os.chmod(path, mode)
    try:
        open(path, "wb").close()
        opened = "written"
    except PermissionError:
        opened = "PermissionError"
    try:
        ag.save(BIG, path)
        saved, message, filename = "written", "", None
    except PermissionError as error:
        saved, message, filename = "PermissionError", str(error), error.filename
    os.chmod(path, 0o600)
    kept = ag.load(path)["W"].data.tolist() == OLD["W"].tolist() and _temporaries(folder) == []
    return {"opened": opened, "saved": saved, "message": message, "filename": filename, "kept": kept}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o444, 0o000])
def test_a_write_protected_file_is_refused_as_open_refuses_it(tmp_path, mode):
    if os.geteuid() != 0:
        result = _refused_as_open_refuses(str(tmp_path), mode)
    else:  # root may write anything: run as nobody, in a folder it may write to
        if not hasattr(os, "fork"):
            pytest.skip("needs fork to run as another user")
        # Nobody may not read root's home (where Python may live): save and load once here, so every
        # module they use (zipfile's codec too) is imported before the child switches user.
        ag.load(ag.save(OLD, tmp_path / "warm.npz"))
        folder = tempfile.mkdtemp(prefix="ag_round20_", dir="/tmp")
        try:
            os.chmod(folder, 0o777)
            result = _as_nobody(lambda: _refused_as_open_refuses(folder, mode))
        finally:
            shutil.rmtree(folder)
        if result is None:
            pytest.skip("cannot switch to the user nobody (65534) here")
    assert result["opened"] == result["saved"] == "PermissionError", result
    path = result["filename"]
    assert path.endswith("params.npz") and result["message"].startswith(f"[Errno {errno.EACCES}] save: cannot write {path!r}: ")
    assert "write-protected" in result["message"] and oct(mode) in result["message"], result
    assert result["kept"], result


def _as_nobody(work):
    """``work()``'s JSON-able result, run in a forked child as uid/gid 65534; None when it cannot switch."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # (the child: never returns into pytest)
        status = 1
        try:
            os.close(read)
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            except OSError:
                status = 77
                raise
            os.write(write, json.dumps(work()).encode())
            status = 0
        except BaseException as error:
            os.write(write, repr(error).encode())
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 77:
        return None
    assert os.waitstatus_to_exitcode(status) == 0, f"the child failed: {out.decode(errors='replace')}"
    return json.loads(out)


@pytest.mark.parametrize("mode", [0o444, 0o000])
def test_a_file_access_says_is_not_writable_is_refused_and_left_as_it_was(tmp_path, monkeypatch, mode):
    path = tmp_path / "params.npz"
    ag.save(OLD, path)
    os.chmod(path, mode)
    real_access = os.access

    def access(name, how, **kwargs):  # as for a user other than root
        if os.path.realpath(name) == str(path) and how & os.W_OK:
            return False
        return real_access(name, how, **kwargs)

    monkeypatch.setattr(os, "access", access)
    link = tmp_path / "current.npz"
    link.symlink_to(path.name)
    for given in (path, link):  # through a link: the file it points to decides
        with pytest.raises(PermissionError) as caught:
            ag.save(BIG, given)
        assert caught.value.errno == errno.EACCES and caught.value.filename == str(given)
        assert str(caught.value).startswith(f"[Errno {errno.EACCES}] save: cannot write {str(given)!r}: the file "
                                            f"exists and is write-protected (mode {stat.filemode(stat.S_IFREG | mode)}")
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    os.chmod(path, 0o600)
    _assert_kept(path)
    assert sorted(os.listdir(tmp_path)) == ["current.npz", "params.npz"]


# --- NUL bytes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [str, os.fsencode, Path], ids=["str", "bytes", "PathLike"])
def test_a_path_holding_a_nul_byte_is_refused_naming_the_function_and_the_path(tmp_path, make):
    name = str(tmp_path / "params\0.npz")
    for op, call in (("save", lambda p: ag.save(OLD, p)), ("load", ag.load)):
        with pytest.raises(ValueError) as caught:
            call(make(name))
        assert str(caught.value) == (f"{op}: the path {name!r} holds a NUL byte ('\\x00'), which no file "
                                     "name can hold; expected a path without one")
    assert os.listdir(tmp_path) == []


# --- hard links ---------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "link"), reason="needs hard links")
def test_saving_over_a_hard_linked_file_replaces_that_name_only(tmp_path):
    path, other = tmp_path / "params.npz", tmp_path / "backup.npz"
    ag.save(OLD, path)
    os.link(path, other)
    ag.save(BIG, path)
    np.testing.assert_array_equal(ag.load(path)["W"].data, BIG["W"])
    np.testing.assert_array_equal(ag.load(other)["W"].data, OLD["W"])  # the other name keeps the old file
    assert os.stat(path).st_nlink == os.stat(other).st_nlink == 1
