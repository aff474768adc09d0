"""Round 16 review (/tmp/adv72/FINDINGS.md): ag.save / ag.load.

1. a save renaming a new file in between load's look-up and its open gave "corrupted" for a good file;
2. a save that cannot see a live writer's pid (another PID namespace) removed its temporary;
3. a path through a regular file, or a symlink loop, gave a bare OSError naming neither op nor folder;
4. a foreign tensor was called "a Tensor"; ``expected={"W": np.ndarray}`` gave a bare TypeError.

Interleavings are forced by hooks and threading.Event, never by sleeping. Expected values are the
arrays each test writes itself.
"""
import builtins
import errno
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag
import autograd_lite.serialization as S

REPO = Path(__file__).resolve().parent.parent
needs_flock = pytest.mark.skipif(S.fcntl is None, reason="needs fcntl.flock")


def _temporaries(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def _loaded(path):
    return {key: t.data for key, t in ag.load(path).items()}


# --- 1. load sees wholly the old file or wholly the new one ----------------------------------------
def test_a_save_renamed_in_between_loads_lookup_and_open_loads_the_new_file(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.npz")
    ag.save({"W": np.zeros(3)}, path)  # small
    new = {"W": np.ones(3), "b": np.arange(500.0)}  # larger: reads bounded by the old size fell short
    real_open = builtins.open

    def open_after_a_save(name, *args, **kwargs):  # a trainer's checkpoint lands just before load's open
        monkeypatch.delattr(S, "open")
        ag.save(new, path)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(S, "open", open_after_a_save, raising=False)
    got = _loaded(path)
    assert list(got) == ["W", "b"]  # the file opened is the new one, so the new set, whole
    np.testing.assert_array_equal(got["W"], new["W"])
    np.testing.assert_array_equal(got["b"], new["b"])


def test_a_file_grown_past_max_bytes_in_between_is_refused_by_the_size_of_the_file_opened(tmp_path, monkeypatch):
    path = str(tmp_path / "ck.npz")
    ag.save({"W": np.zeros(1)}, path)
    small = os.path.getsize(path)
    real_open = builtins.open

    def open_after_a_save(name, *args, **kwargs):
        monkeypatch.delattr(S, "open")
        ag.save({"W": np.zeros(1000)}, path)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(S, "open", open_after_a_save, raising=False)
    with pytest.raises(ValueError) as info:
        ag.load(path, max_bytes=small + 10)
    assert str(info.value) == (f"load: {path!r} is {os.path.getsize(path)} bytes, more than "
                               f"max_bytes={small + 10}; pass a larger max_bytes= to load a file this "
                               "large that you trust")


# --- 2. a live writer's temporary is never removed by a save that cannot see its pid ----------------
def _child_saving(path, value):
    """A save in a child process that sees no process behind any pid, as one in another PID namespace
    (another container, another host) sees this one."""
    code = ("import numpy as np, autograd_lite as ag, autograd_lite.serialization as S\n"
            "S.process_is_gone = lambda pid: True\n"
            f"ag.save({{'W': np.full(3, {value!r})}}, {str(path)!r})\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@needs_flock
def test_a_save_from_another_pid_namespace_keeps_a_live_writers_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    ag.save({"W": np.zeros(3)}, path)
    real_write = S._write_archive
    seen = {}

    def other_save_meanwhile(file, arrays):
        real_write(file, arrays)
        ours = _temporaries(tmp_path)
        _child_saving(path, 7.0)  # runs to its end while this writer is between writing and renaming
        seen["child wrote"] = _loaded(path)["W"]
        seen["ours before"], seen["ours after"] = ours, _temporaries(tmp_path)

    monkeypatch.setattr(S, "_write_archive", other_save_meanwhile)
    ag.save({"W": np.ones(3)}, path)
    assert len(seen["ours before"]) == 1 and seen["ours after"] == seen["ours before"]
    np.testing.assert_array_equal(seen["child wrote"], np.full(3, 7.0))
    np.testing.assert_array_equal(_loaded(path)["W"], np.ones(3))  # ours renamed in last
    assert _temporaries(tmp_path) == []


def _can_unshare_pid():
    """Whether ``unshare --pid`` works here: being root is not enough, it needs CAP_SYS_ADMIN, which root
    in a default Docker container lacks."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return probe.returncode == 0


@needs_flock
@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare --pid")
def test_a_save_in_a_real_other_pid_namespace_keeps_a_live_writers_temporary(tmp_path, monkeypatch):
    if not _can_unshare_pid():
        pytest.skip("unshare --pid is not permitted here (no CAP_SYS_ADMIN, as in a default Docker container)")
    path = str(tmp_path / "ck.npz")
    ag.save({"W": np.zeros(3)}, path)
    real_write = S._write_archive
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def other_container_saves(file, arrays):
        real_write(file, arrays)
        code = f"import numpy as np, autograd_lite as ag; ag.save({{'W': np.full(3, 7.0)}}, {path!r})"
        subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],
                       check=True, env=env)

    monkeypatch.setattr(S, "_write_archive", other_container_saves)
    ag.save({"W": np.ones(3)}, path)
    np.testing.assert_array_equal(_loaded(path)["W"], np.ones(3))


@needs_flock
def test_a_clean_up_in_another_thread_keeps_a_temporary_being_written(tmp_path, monkeypatch):
    # flock conflicts between two opens of a file even in one process: the writer's lock is what counts
    path = tmp_path / "ck.npz"
    written, cleaned = threading.Event(), threading.Event()
    real_write = S._write_archive
    errors = []

    def pause_after_writing(file, arrays):
        real_write(file, arrays)
        written.set()
        cleaned.wait()

    def writer():
        try:
            ag.save({"W": np.arange(3.0)}, path)
        except BaseException as error:  # reported by the main thread's assertion
            errors.append(error)
            written.set()

    monkeypatch.setattr(S, "_write_archive", pause_after_writing)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(60)
        (temp,) = _temporaries(tmp_path)
        monkeypatch.setattr(S, "process_is_gone", lambda pid: True)  # as a clean-up that cannot see our pid
        S._remove_stale_temporaries(str(tmp_path), "ck.npz")
        assert _temporaries(tmp_path) == [temp]
    finally:
        cleaned.set()
        thread.join()
    assert errors == []
    np.testing.assert_array_equal(_loaded(path)["W"], np.arange(3.0))


@needs_flock
def test_a_temporary_removed_between_its_creation_and_its_lock_is_replaced_by_a_new_one(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    real_lock = S._lock
    created = []

    def clean_up_first(fd, how):
        if how == S.fcntl.LOCK_EX:  # the writer's lock: a clean-up that cannot see our pid gets there first
            (temp,) = _temporaries(tmp_path)
            created.append(temp)
            if len(created) == 1:
                S._remove_if_unlocked(str(tmp_path / temp))
                assert _temporaries(tmp_path) == []
        return real_lock(fd, how)

    monkeypatch.setattr(S, "_lock", clean_up_first)
    ag.save({"W": np.arange(4.0)}, path)
    assert len(created) == 2 and created[0] != created[1]  # written under a new name
    np.testing.assert_array_equal(_loaded(path)["W"], np.arange(4.0))
    assert _temporaries(tmp_path) == []


def test_a_temporary_removed_while_written_is_an_error_naming_save_and_the_path(tmp_path, monkeypatch):
    # Where locks are not shared (another machine, NFS mounted nolock) the temporary can still vanish.
    path = tmp_path / "ck.npz"
    ag.save({"W": np.zeros(3)}, path)
    real_write = S._write_archive

    def removed_meanwhile(file, arrays):
        real_write(file, arrays)
        (temp,) = _temporaries(tmp_path)
        os.unlink(tmp_path / temp)

    monkeypatch.setattr(S, "_write_archive", removed_meanwhile)
    with pytest.raises(FileNotFoundError) as info:
        ag.save({"W": np.ones(3)}, path)
    message = str(info.value)
    assert f"save: cannot write {str(path)!r}: the temporary file '.ck.npz." in message
    assert "was removed by another process" in message and "the file was left as it was" in message
    assert info.value.filename == str(path) and info.value.errno == errno.ENOENT
    np.testing.assert_array_equal(_loaded(path)["W"], np.zeros(3))  # the old file, whole
    assert _temporaries(tmp_path) == []


def test_without_fcntl_the_pid_alone_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "fcntl", None)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process
    dead = tmp_path / f".ck.npz.{child.pid}.0123456789abcdef.tmp"
    ours = tmp_path / f".ck.npz.{os.getpid()}.0123456789abcdef.tmp"
    dead.write_bytes(b"partial")
    ours.write_bytes(b"partial")
    ag.save({"W": np.ones(2)}, tmp_path / "ck.npz")
    assert _temporaries(tmp_path) == [ours.name]
    np.testing.assert_array_equal(_loaded(tmp_path / "ck.npz")["W"], np.ones(2))


# --- 3. a path through a file, or a symlink loop: errors naming the op, the path and its folder ------
def _call(op, path):
    return ag.save({"W": np.ones(2)}, path) if op == "save" else ag.load(path)


@pytest.mark.parametrize("op,action", [("save", "write"), ("load", "read")])
def test_a_path_through_a_regular_file_names_op_path_and_folder(tmp_path, op, action):
    (tmp_path / "afile").write_text("")
    path = str(tmp_path / "afile" / "x.npz")
    with pytest.raises(NotADirectoryError) as info:
        _call(op, path)
    message = str(info.value)
    assert f"{op}: cannot {action} {path!r}: a part of the folder {str(tmp_path / 'afile')!r} is a file" in message
    assert info.value.errno == errno.ENOTDIR and info.value.filename == path
    assert sorted(os.listdir(tmp_path)) == ["afile"]


@pytest.mark.parametrize("op,action", [("save", "write"), ("load", "read")])
def test_a_symlink_loop_names_op_path_and_folder(tmp_path, op, action):
    path = str(tmp_path / "loop")
    os.symlink(path, path)
    with pytest.raises(OSError) as info:
        _call(op, path)
    message = str(info.value)
    assert f"{op}: cannot {action} {path!r}: the path runs into a loop of symbolic links" in message
    assert repr(str(tmp_path)) in message
    assert info.value.errno == errno.ELOOP and info.value.filename == path
    assert os.listdir(tmp_path) == ["loop"]


def test_load_of_a_missing_file_is_still_a_file_not_found_error_naming_load_and_the_folder(tmp_path):
    path = str(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError) as info:
        ag.load(path)
    assert f"load: cannot read {path!r}" in str(info.value) and repr(str(tmp_path)) in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"load: cannot read .*the folder .*missing' does not exist"):
        ag.load(tmp_path / "missing" / "x.npz")


# --- 4. messages --------------------------------------------------------------------------------
def _foreign_tensor_class():
    """A stand-in for a torch.Tensor NumPy cannot convert (bfloat16, requires_grad)."""
    def refuse(self, *args, **kwargs):
        raise TypeError("Got unsupported ScalarType BFloat16")
    return type("Tensor", (), {"__module__": "torchlike", "shape": (1,), "__array__": refuse})


def test_a_foreign_tensor_is_named_by_its_full_type(tmp_path):
    with pytest.raises(TypeError) as info:
        ag.save({"W": _foreign_tensor_class()()}, tmp_path / "x.npz")
    message = str(info.value)
    assert "save: parameter 'W' is a torchlike.Tensor that NumPy cannot make an array of" in message
    assert "Got unsupported ScalarType BFloat16" in message and "an autograd_lite Tensor" in message
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind,shown", [(np.ndarray, "numpy.ndarray"), (ag.Tensor, "autograd_lite.")])
def test_load_expected_given_a_class_is_a_type_error_naming_load_and_the_key(tmp_path, kind, shown):
    path = tmp_path / "e.npz"
    ag.save({"W": np.ones(2)}, path)
    with pytest.raises(TypeError) as info:
        ag.load(path, expected={"W": kind})
    message = str(info.value)
    assert message.startswith(f"load: expected['W'] is the class {shown}")
    assert "expected a shape tuple of ints >= 0" in message and "Tensor/ndarray whose shape is used" in message


def test_load_expected_still_takes_arrays_tensors_and_shapes(tmp_path):
    path = tmp_path / "e.npz"
    ag.save({"W": np.ones((2, 3)), "b": np.zeros(2)}, path)
    for expected in ({"W": np.empty((2, 3)), "b": (2,)}, {"W": ag.Tensor(np.ones((2, 3))), "b": [np.int64(2)]}):
        assert {key: t.shape for key, t in ag.load(path, expected=expected).items()} == {"W": (2, 3), "b": (2,)}
