"""Round 16 review (/tmp/adv78/FINDINGS.md #2-#5): ag.save / ag.load, and ag.compile's churn warning.

2. ``flock`` failing with errno 524 (Lustre, Cray DVS) or ENOSYS made save fail with a bare OSError;
3. a legal file name of about 228 to 255 bytes was refused (its temporary's name went past NAME_MAX),
   blaming the folder;
4. load through a symbolic link named the link's own folder as "a file";
5. the "traced N times" warning did not name printing a tensor as a cause.

Expected arrays are read back with ``np.load``; name limits come from ``os.pathconf``.
"""
import contextlib
import errno
import io
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import autograd_lite as ag
import autograd_lite.serialization as S

needs_flock = pytest.mark.skipif(S.fcntl is None, reason="needs fcntl.flock")
needs_posix = pytest.mark.skipif(os.name != "posix", reason="POSIX names and links")


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid names no process
    return child.pid


def _fake_flock(monkeypatch, flock):
    monkeypatch.setattr(S, "fcntl", types.SimpleNamespace(flock=flock, LOCK_EX=S.fcntl.LOCK_EX,
                                                          LOCK_NB=S.fcntl.LOCK_NB))


def _raising(code):
    def flock(fd, how):
        raise OSError(code, os.strerror(code))
    return flock


def _name_max(folder):
    return os.pathconf(folder, "PC_NAME_MAX")


# --- 2. a file system without flock: the pid alone decides; other lock errors name save ----------
@needs_flock
@pytest.mark.parametrize("code", [524, errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP])
def test_save_without_flock_support_falls_back_to_pid(tmp_path, monkeypatch, code):
    _fake_flock(monkeypatch, _raising(code))
    path = tmp_path / "w.npz"
    ag.save({"W": np.arange(3.)}, path)
    np.testing.assert_array_equal(np.load(path)["W"], np.arange(3.))
    assert os.listdir(tmp_path) == ["w.npz"]


@needs_flock
def test_without_flock_support_a_dead_writers_temporary_goes_by_its_pid(tmp_path, monkeypatch):
    _fake_flock(monkeypatch, _raising(524))
    dead = tmp_path / f".ck.npz.{_dead_pid()}.0123456789abcdef.tmp"
    ours = tmp_path / f".ck.npz.{os.getpid()}.0123456789abcdef.tmp"  # another thread's, maybe
    dead.write_bytes(b"partial")
    ours.write_bytes(b"partial")
    ag.save({"W": np.ones(2)}, tmp_path / "ck.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.npz", ours.name])


@needs_flock
@pytest.mark.parametrize("code", [errno.EWOULDBLOCK, errno.EACCES])
def test_a_temporary_whose_lock_is_held_is_kept(tmp_path, monkeypatch, code):
    def flock(fd, how):  # the writer's blocking lock is taken; a clean-up's try finds it held
        if how & S.fcntl.LOCK_NB:
            raise OSError(code, os.strerror(code))
    _fake_flock(monkeypatch, flock)
    held = tmp_path / f".ck.npz.{_dead_pid()}.0123456789abcdef.tmp"  # a live writer in another PID namespace
    held.write_bytes(b"partial")
    ag.save({"W": np.ones(2)}, tmp_path / "ck.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["ck.npz", held.name])


@needs_flock
def test_a_lock_error_that_is_not_unsupported_names_save_and_the_path(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    np.savez(path, W=np.zeros(2))
    _fake_flock(monkeypatch, _raising(errno.EBADF))
    with pytest.raises(OSError) as info:
        ag.save({"W": np.ones(2)}, path)
    message = info.value.strerror
    assert message.startswith(f"save: cannot write {str(path)!r}: cannot lock its temporary file in the "
                              f"folder {str(tmp_path)!r}")
    assert info.value.errno == errno.EBADF and info.value.filename == str(path)
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary left, the old file as it was
    np.testing.assert_array_equal(np.load(path)["W"], np.zeros(2))


# --- 3. long legal names ------------------------------------------------------------------------
def _temporaries_seen_while_writing(monkeypatch, folder):
    seen = []
    real = S._write_archive

    def write(file, arrays):
        seen.extend(name for name in os.listdir(folder) if name.endswith(".tmp"))
        return real(file, arrays)
    monkeypatch.setattr(S, "_write_archive", write)
    return seen


@needs_posix
@pytest.mark.parametrize("stem,extra", [("w", 0), ("w", -27), ("w", -11), ("\u00e9", -1)])
def test_save_long_legal_file_name(tmp_path, monkeypatch, stem, extra):
    limit = _name_max(tmp_path)
    size = limit + extra - len(".npz")  # up to NAME_MAX bytes ("é" is 2 bytes in UTF-8)
    name = stem * (size // len(stem.encode())) + ".npz"
    assert len(name.encode()) <= limit
    path = tmp_path / name
    np.savez(path, W=np.ones(2))  # the OS and NumPy take it
    path.unlink()
    seen = _temporaries_seen_while_writing(monkeypatch, tmp_path)
    ag.save({"W": np.arange(2.)}, path)
    np.testing.assert_array_equal(np.load(path)["W"], np.arange(2.))
    (temp,) = seen
    assert len(temp.encode()) <= limit and temp.startswith("." + stem * 3)  # whole characters, valid UTF-8
    assert os.listdir(tmp_path) == [name]


@needs_posix
def test_a_dead_writers_temporary_of_a_long_name_is_removed(tmp_path, monkeypatch):
    path = tmp_path / ("w" * (_name_max(tmp_path) - 4) + ".npz")
    seen = _temporaries_seen_while_writing(monkeypatch, tmp_path)
    ag.save({"W": np.zeros(2)}, path)
    prefix = seen[0].split(f".{os.getpid()}.")[0]  # the cut name this target's temporaries carry
    dead = tmp_path / f"{prefix}.{_dead_pid()}.0123456789abcdef.tmp"
    dead.write_bytes(b"partial")
    ag.save({"W": np.ones(2)}, path)
    assert os.listdir(tmp_path) == [path.name]
    np.testing.assert_array_equal(np.load(path)["W"], np.ones(2))


@needs_posix
@pytest.mark.parametrize("op,action", [("save", "write"), ("load", "read")])
def test_a_file_name_too_long_says_so(tmp_path, op, action):
    limit = _name_max(tmp_path)
    path = str(tmp_path / ("w" * (limit + 1 - 4) + ".npz"))
    with pytest.raises(OSError) as info:
        ag.save({"W": np.ones(2)}, path) if op == "save" else ag.load(path)
    message = info.value.strerror
    assert message.startswith(f"{op}: cannot {action} {path!r}: its file name is {limit + 1} bytes, more "
                              f"than the {limit} this file system takes")
    assert "expected a folder" not in message
    assert info.value.errno == errno.ENAMETOOLONG and os.listdir(tmp_path) == []


@needs_posix
def test_a_path_too_long_says_so(tmp_path):
    parts = ["d" * 200] * (os.pathconf(tmp_path, "PC_PATH_MAX") // 200 + 1)
    path = os.path.join(tmp_path, *parts, "x.npz")
    with pytest.raises(OSError) as info:
        ag.save({"W": np.ones(2)}, path)
    assert info.value.errno == errno.ENAMETOOLONG
    assert f"the path is {len(path.encode())} bytes, more than the file system takes (PATH_MAX" in str(info.value)


# --- 4. load through a symbolic link names the file on the way, as save does ---------------------
@needs_posix
@pytest.mark.parametrize("op,action", [("save", "write"), ("load", "read")])
def test_load_through_link_names_the_file_on_the_way(tmp_path, op, action):
    (tmp_path / "afile").write_text("")
    link = tmp_path / "through.npz"
    os.symlink("afile/x.npz", link)
    with pytest.raises(NotADirectoryError) as info:
        ag.save({"W": np.ones(2)}, link) if op == "save" else ag.load(link)
    assert info.value.strerror.startswith(f"{op}: cannot {action} {str(link)!r}: a part of the folder "
                                      f"{str(tmp_path / 'afile')!r} is a file, not a folder")


def test_a_missing_folder_advises_makedirs_for_save_only(tmp_path):
    path = tmp_path / "missing" / "x.npz"
    with pytest.raises(FileNotFoundError) as info:
        ag.load(path)
    assert f"the folder {str(tmp_path / 'missing')!r} does not exist" in str(info.value)
    assert "makedirs" not in str(info.value)  # a read cannot be helped by creating the folder
    with pytest.raises(FileNotFoundError, match=r"create it first, e\.g\. os\.makedirs"):
        ag.save({"W": np.ones(2)}, path)


@needs_posix
def test_a_link_loop_at_the_name_itself_is_described_as_such(tmp_path):
    path = str(tmp_path / "loop")
    os.symlink(path, path)
    with pytest.raises(OSError) as info:
        ag.load(path)
    assert "loop of symbolic links" in str(info.value) and "at the file's own name" in str(info.value)


# --- 5. the churn warning names printing ------------------------------------------------------------
@pytest.mark.parametrize("show", [print, repr, str, lambda t: f"loss {t}"])
def test_churn_warning_names_print_when_a_step_prints(show):
    rng = np.random.default_rng(0)
    w = ag.Tensor(rng.normal(size=(3, 1)))

    def step(x):
        loss = ag.tanh(x @ w).sum()
        show(loss)
        return loss
    compiled = ag.compile(step)
    xs = [rng.normal(size=(4, 3)) for _ in range(20)]
    with warnings.catch_warnings(record=True) as got, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        out = [float(compiled(x).data) for x in xs]
    (message,) = [str(m.message) for m in got if "traced 16 times" in str(m.message)]
    assert "print, repr, str, an f-string" in message
    assert "Print outside it (return the value)" in message
    np.testing.assert_allclose(out, [np.tanh(x @ w.data).sum() for x in xs], rtol=1e-12)  # NumPy's values
