"""ag.save / ag.load and the file system: permissions and the umask, symbolic links,
temporaries of dead writers, names that could be paths, size limits (zip bombs, huge
headers) and dtypes that are not real numbers."""
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag

REPO = Path(__file__).resolve().parents[1]
PARAMS = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros((2, 1))}


def _run(code, *args):
    """Run ``code`` in a fresh interpreter (its own umask and first import); its stdout."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- the umask and permissions ------------------------------------------------------------------
def test_import_save_and_load_never_call_os_umask(tmp_path):
    # Race-free: every call to os.umask is recorded, rather than hoping to catch another
    # thread creating a file during the instant the umask would be 0.
    out = _run("""
        import os, sys
        calls, real_umask = [], os.umask
        os.umask = lambda mask: calls.append(mask) or real_umask(mask)
        real_umask(0o027)
        import numpy as np
        import autograd_lite as ag
        from autograd_lite import serialization
        path = os.path.join(sys.argv[1], "p.npz")
        ag.save({"W": np.ones(2)}, path)
        ag.save({"W": np.zeros(2)}, path)
        ag.load(path)
        os.umask = real_umask
        print(calls, oct(real_umask(0o027)), oct(os.stat(path).st_mode & 0o777))
    """, tmp_path)
    assert out.split() == ["[]", "0o27", "0o640"]


def test_a_new_file_gets_what_open_gives_under_the_umask(tmp_path):
    out = _run("""
        import os, sys
        import numpy as np
        import autograd_lite as ag
        folder = sys.argv[1]
        for umask in (0o022, 0o077, 0o002, 0o027):
            os.umask(umask)
            saved, opened = os.path.join(folder, f"saved{umask}.npz"), os.path.join(folder, f"opened{umask}")
            ag.save({"W": np.ones(2)}, saved)
            with open(opened, "w"):
                pass
            print(oct(umask), oct(os.stat(saved).st_mode & 0o7777), oct(os.stat(opened).st_mode & 0o7777))
    """, tmp_path)
    for line in out.splitlines():
        umask, saved, opened = (int(field, 8) for field in line.split())
        assert saved == opened == 0o666 & ~umask, line


@pytest.mark.parametrize("mode", [0o600, 0o640, pytest.param(0o444, marks=pytest.mark.skipif(
    os.geteuid() != 0, reason="only root may write a read-only file, as open() allows: test_serialization_round20")),
    0o664])
def test_resaving_keeps_the_files_permission_bits(tmp_path, mode):
    path = tmp_path / "model.npz"
    ag.save(PARAMS, path)
    os.chmod(path, mode)
    ag.save({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    np.testing.assert_array_equal(ag.load(path)["W1"].data, np.ones((2, 3)))


# --- symbolic links -----------------------------------------------------------------------------
def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    target = real_dir / "model.npz"
    ag.save({"W1": np.zeros((2, 3))}, target)
    os.chmod(target, 0o600)
    link = tmp_path / "current.npz"
    link.symlink_to(os.path.relpath(target, tmp_path))
    ag.save(PARAMS, link)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, tmp_path)
    assert list(ag.load(target)) == ["W1", "b1"]
    np.testing.assert_array_equal(ag.load(link)["W1"].data, PARAMS["W1"])
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["current.npz", "store"]
    assert os.listdir(real_dir) == ["model.npz"]  # no temporary left beside the target


def test_saving_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "new.npz")
    ag.save(PARAMS, link)
    assert link.is_symlink() and (tmp_path / "new.npz").is_file()
    assert list(ag.load(tmp_path / "new.npz")) == ["W1", "b1"]


def test_directories_are_named_as_such(tmp_path):
    with pytest.raises(IsADirectoryError, match="load: .* is a directory; expected an .npz file"):
        ag.load(tmp_path)
    with pytest.raises(IsADirectoryError, match="save: .* is a directory; expected a file name"):
        ag.save(PARAMS, tmp_path)


# --- temporaries of dead writers ------------------------------------------------------------
def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid no longer names a process
    return child.pid


def test_the_next_save_removes_temporaries_of_dead_writers_only(tmp_path):
    path = tmp_path / "model.npz"
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".model.npz.{dead}.0123456789abcdef.tmp",
            "live": f".model.npz.{sleeper.pid}.0123456789abcdef.tmp",
            "ours": f".model.npz.{os.getpid()}.0123456789abcdef.tmp",  # maybe another thread saving
            "other file": f".other.npz.{dead}.0123456789abcdef.tmp",
            "not ours": ".model.npz.backup",
            "pid 0": ".model.npz.0.0123456789abcdef.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        ag.save(PARAMS, path)
        left = set(os.listdir(tmp_path))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert names["dead"] not in left
    assert {names[k] for k in ("live", "ours", "other file", "not ours", "pid 0")} <= left
    assert list(ag.load(path)) == ["W1", "b1"]


def test_temporaries_carry_the_writers_pid(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(source, target):
        seen.append(os.path.basename(source))
        return real_replace(source, target)
    monkeypatch.setattr(os, "replace", spy)
    ag.save(PARAMS, tmp_path / "model.npz")
    (name,) = seen
    prefix, pid, token, suffix = name.rsplit(".", 3)
    assert prefix == ".model.npz" and int(pid) == os.getpid() and len(token) == 16 and suffix == "tmp"


# --- names: one rule for save and load ----------------------------------------------------
BAD_NAMES = ["../../etc/W1", "a/b", "/abs", "..", ".hidden", "-x", "", "a b", "a\\b", "W\n1", "x" * 201,
             "W1\t", "é", "C:W1"]
GOOD_NAMES = ["W1", "b1", "layer1.weight", "_x", "0", "a-b", "x" * 200, "file", "allow_pickle"]


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _manifest(entries):
    """The manifest format ag.save writes, built here independently (JSON, then its SHA-256)."""
    body = json.dumps({"format": "autograd_lite.params", "version": 1, "arrays": entries}).encode()
    return body + b"\nsha256:" + hashlib.sha256(body).hexdigest().encode()


def _entry(name, array, raw=None):
    raw = np.ascontiguousarray(array).tobytes() if raw is None else raw
    return {"name": name, "dtype": array.dtype.str, "shape": list(array.shape),
            "sha256": hashlib.sha256(raw).hexdigest()}


def _craft(path, members, manifest=None, compression=zipfile.ZIP_STORED):
    """An archive of ``members`` (member name -> bytes), with ``manifest`` bytes when given."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        if manifest is not None:
            archive.writestr("__manifest__.json", manifest, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_save_refuses_load_refuses_too(tmp_path, name):
    with pytest.raises(ValueError, match=r"save: parameter name .* is not allowed"):
        ag.save({name: np.ones(2)}, tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()
    value = np.ones(2)
    with_manifest = _craft(tmp_path / "m.npz", {name + ".npy": _npy(value)}, _manifest([_entry(name, value)]))
    plain = _craft(tmp_path / "p.npz", {name + ".npy": _npy(value)})
    for path, kwargs in ((with_manifest, {}), (plain, {"require_manifest": False})):
        with pytest.raises(ValueError, match=r"load: cannot read .*(is not allowed|is not a \.npy array)"):
            ag.load(path, **kwargs)


def test_a_manifest_naming_a_path_is_refused_even_if_the_member_name_is_plain(tmp_path):
    value = np.ones(2)
    path = _craft(tmp_path / "m.npz", {"W1.npy": _npy(value)}, _manifest([_entry("../../etc/W1", value)]))
    with pytest.raises(ValueError, match=r"m\.npz.*manifest.*'\.\./\.\./etc/W1' is not allowed"):
        ag.load(path)


def test_the_name_rule_is_one_function():
    from autograd_lite.serialization import check_name
    for name in GOOD_NAMES:
        assert check_name("test", name) == name
    for name in BAD_NAMES + [None, 1, b"W1"]:
        with pytest.raises(ValueError, match="test: parameter name"):
            check_name("test", name)


def test_good_names_round_trip(tmp_path):
    params = {name: np.full(2, float(i)) for i, name in enumerate(GOOD_NAMES)}
    ag.save(params, tmp_path / "model.npz")
    loaded = ag.load(tmp_path / "model.npz")
    assert list(loaded) == GOOD_NAMES
    for name, value in params.items():
        np.testing.assert_array_equal(loaded[name].data, value)


def test_duplicate_and_extra_members_are_refused(tmp_path):
    value = np.ones(2)
    manifest = _manifest([_entry("W1", value)])
    extra = _craft(tmp_path / "extra.npz", {"W1.npy": _npy(value), "W2.npy": _npy(value)}, manifest)
    with pytest.raises(ValueError, match=r"extra\.npz.*not in the manifest \['W2'\]"):
        ag.load(extra)
    twice = tmp_path / "twice.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _craft(twice, {"W1.npy": _npy(value)}, manifest)
        with zipfile.ZipFile(twice, "a") as archive:
            archive.writestr("W1.npy", _npy(np.zeros(2)))
    with pytest.raises(ValueError, match=r"twice\.npz.*lists \['W1\.npy'\] more than once"):
        ag.load(twice)


# --- size limits ------------------------------------------------------------------------------
def _npy_header(descr, shape):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _peak_bytes_while(call):
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("with_manifest", [True, False])
def test_a_header_claiming_2_to_the_40_elements_is_refused_without_allocating(tmp_path, with_manifest):
    member = _npy_header("<f8", (2 ** 40,)) + np.ones(2).tobytes()
    fake = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(2 ** 40,), strides=(0,))  # no memory
    manifest = _manifest([{"name": "W1", "dtype": "<f8", "shape": [2 ** 40], "sha256": "0" * 64}])
    path = _craft(tmp_path / "huge.npz", {"W1.npy": member}, manifest if with_manifest else None)
    kwargs = {} if with_manifest else {"require_manifest": False}
    assert fake.nbytes == 8 * 2 ** 40

    def refused():
        with pytest.raises(ValueError, match=r"huge\.npz' \(parameter 'W1'\).*shape \(1099511627776,\) of "
                                             r"float64, 8796093022208 bytes, more than max_bytes=1073741824"):
            ag.load(path, **kwargs)
    assert _peak_bytes_while(refused) < 2 ** 20
    # Even with the limit raised, the header cannot claim more data than the member holds.

    def truncated():
        with pytest.raises(ValueError, match=r"huge\.npz.*'W1'.*8796093022208 bytes of data\) but the "
                                             r"member holds 16"):
            ag.load(path, max_bytes=2 ** 50, **kwargs)
    assert _peak_bytes_while(truncated) < 2 ** 20


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory):
    """A < 1 MB archive whose one member inflates to 200 MB of zeros (a valid .npy); compression
    level 1 makes it in half a second (level 6 would make it 200 KB in 1.5 s)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    count = 25_000_000  # float64: 200 MB
    header = _npy_header("<f8", (count,))
    chunk = bytes(1 << 22)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("W1.npy", "w", force_zip64=True) as member:  # the archive's level 1
            member.write(header)
            left = count * 8
            while left:
                member.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
    assert path.stat().st_size < 1_500_000
    return path


def test_a_zip_bomb_is_refused_under_a_configured_limit_before_inflating(zip_bomb):
    def refused():
        with pytest.raises(ValueError, match=r"bomb\.npz' \(parameter 'W1'\): it declares 2000001\d\d bytes "
                                             r"of data, more than max_bytes=100000000"):
            ag.load(zip_bomb, require_manifest=False, max_bytes=100_000_000)
    assert _peak_bytes_while(refused) < 2 ** 20


def test_a_zip_bomb_never_passes_as_a_saved_file(zip_bomb, tmp_path):
    with pytest.raises(ValueError, match=r"bomb\.npz.*no manifest"):
        ag.load(zip_bomb)
    # A forged manifest does not help: save never compresses, so a compressed member is refused.
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(forged, "w") as target:
        target.writestr("__manifest__.json", _manifest([{"name": "W1", "dtype": "<f8", "shape": [25_000_000],
                                                          "sha256": "0" * 64}]))
        target.writestr("W1.npy", _npy_header("<f8", (25_000_000,)) + bytes(4096),
                        compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"forged\.npz' \(parameter 'W1'\): the member is compressed, which "
                                         "save never does"):
        ag.load(forged, max_bytes=2 ** 31)


def test_the_limit_is_honoured_and_can_be_raised(tmp_path):
    path = tmp_path / "model.npz"
    ag.save({"W": np.zeros(1000)}, path)  # 8,000 bytes of data, a file of about 8.4 KB
    with pytest.raises(ValueError, match=r"model\.npz' is \d+ bytes, more than max_bytes=4000"):
        ag.load(path, max_bytes=4000)
    assert ag.load(path, max_bytes=20_000)["W"].shape == (1000,)
    for bad in (0, -1, 1.5, True, None, "1"):
        with pytest.raises(ValueError, match="load: max_bytes must be an int > 0"):
            ag.load(path, max_bytes=bad)


def test_a_plain_compressed_npz_loads_when_the_manifest_is_not_required(tmp_path):
    path = tmp_path / "plain.npz"
    W = np.arange(12.0).reshape(3, 4)
    np.savez_compressed(path, W=W, b=np.arange(3, dtype=np.int32))
    loaded = ag.load(path, require_manifest=False)
    assert list(loaded) == ["W", "b"]
    np.testing.assert_array_equal(loaded["W"].data, W)
    assert loaded["b"].dtype == np.float64 and loaded["b"].data.tolist() == [0.0, 1.0, 2.0]


# --- dtypes -----------------------------------------------------------------------------------
NON_REAL = {
    "complex": (np.array([1 + 2j, 3 - 1j]), "complex numbers"),
    "str": (np.array(["a", "bc"]), "strings"),
    "bytes": (np.array([b"a", b"bc"]), "strings"),
    "structured": (np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]), "a structured"),
    "datetime": (np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[D]"), "dates or time spans"),
    "timedelta": (np.array([1, 2], dtype="timedelta64[s]"), "dates or time spans"),
}


@pytest.mark.parametrize("kind", list(NON_REAL) + ["object"])
def test_save_refuses_arrays_that_are_not_real_numbers_naming_the_key(tmp_path, kind):
    value = np.array([object(), None]) if kind == "object" else NON_REAL[kind][0]
    with pytest.raises(TypeError, match=r"save: parameter 'W1' has dtype .*expected a real numeric array"):
        ag.save({"b1": np.zeros(2), "W1": value}, tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("kind", list(NON_REAL))
def test_load_refuses_members_that_are_not_real_numbers_naming_file_and_key(tmp_path, kind):
    value, words = NON_REAL[kind]
    ok = np.zeros(2)
    plain = tmp_path / "plain.npz"
    np.savez(plain, b1=ok, W1=value)
    with pytest.raises(ValueError, match=rf"plain\.npz' \(parameter 'W1'\): it holds {words}"):
        ag.load(plain, require_manifest=False)
    crafted = _craft(tmp_path / "crafted.npz", {"b1.npy": _npy(ok), "W1.npy": _npy(value)},
                     _manifest([_entry("b1", ok), _entry("W1", value)]))
    with pytest.raises(ValueError, match=rf"crafted\.npz' \(parameter 'W1'\): it holds {words}"):
        ag.load(crafted)


def test_an_object_member_is_refused_as_pickled_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, W1=np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"evil\.npz' \(parameter 'W1'\): it holds pickled data"):
        ag.load(path, require_manifest=False)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int64, np.uint16, bool])
def test_real_dtypes_round_trip(tmp_path, dtype):
    value = (np.arange(6).reshape(2, 3) % 2).astype(dtype)
    ag.save({"W": value}, tmp_path / "model.npz")
    got = ag.load(tmp_path / "model.npz")["W"].data
    assert got.dtype == (value.dtype if value.dtype.kind == "f" else np.float64)  # as ag.Tensor stores it
    np.testing.assert_array_equal(got, value.astype(got.dtype))


def test_big_endian_and_fortran_ordered_members_load_as_their_values(tmp_path):
    W = np.arange(6.0).reshape(2, 3)
    path = tmp_path / "plain.npz"
    np.savez(path, big=W.astype(">f8"), fortran=np.asfortranarray(W))
    loaded = ag.load(path, require_manifest=False)
    np.testing.assert_array_equal(loaded["big"].data, W)
    np.testing.assert_array_equal(loaded["fortran"].data, W)
    assert loaded["big"].dtype.isnative


def test_saved_files_are_ordinary_npz_for_numpy(tmp_path):
    path = tmp_path / "model.npz"
    ag.save(PARAMS, path)
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["W1"], PARAMS["W1"])
        manifest = archive["__manifest__.json"] if "__manifest__.json" in archive.files else None
    assert manifest is not None


def test_the_same_params_give_the_same_bytes(tmp_path):
    ag.save(PARAMS, tmp_path / "a.npz")
    ag.save(PARAMS, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
