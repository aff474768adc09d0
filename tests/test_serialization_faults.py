"""Fault injection for ag.save / ag.load: every single-byte damage and every truncation of a
small saved file, and kill -9 in the middle of saves.

The figures (trials and outcomes) are printed; ``pytest -s`` shows them.
"""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag

REPO = Path(__file__).resolve().parents[1]

PARAMS = {"W1": np.arange(6.0).reshape(2, 3) - 2.5,
          "b1": np.array([[0.5], [-1.0]], dtype=np.float32),
          "W2": np.array([[1e-300, -np.inf, np.nan]])}


def _outcome(path):
    """"same" when the file loads exactly PARAMS, "ValueError" when refused; anything else fails."""
    try:
        loaded = ag.load(path)
    except ValueError as error:
        assert str(path) in str(error), f"the error does not name the file: {error}"
        return "ValueError"
    assert list(loaded) == list(PARAMS), f"loaded a different set of names: {list(loaded)}"
    for key, value in PARAMS.items():
        got = loaded[key].data
        assert got.dtype == value.dtype and got.shape == value.shape, key
        assert got.tobytes() == value.tobytes(), f"{key} loaded with altered values"
    return "same"


def test_every_single_byte_damage_loads_identical_parameters_or_raises_value_error(tmp_path):
    path = tmp_path / "params.npz"
    ag.save(PARAMS, path)
    raw = path.read_bytes()
    damaged_path = tmp_path / "damaged.npz"
    damages = {"xor 0xFF": lambda b: b ^ 0xFF, "xor 0x01": lambda b: b ^ 0x01, "set 0x00": lambda b: 0}
    outcomes, started = Counter(), time.perf_counter()
    for label, damage in damages.items():
        for offset in range(len(raw)):
            damaged = bytearray(raw)
            damaged[offset] = damage(damaged[offset])
            if damaged == raw:
                continue
            damaged_path.write_bytes(damaged)
            outcomes[label, _outcome(damaged_path)] += 1  # any other exception fails the test
    seconds = time.perf_counter() - started
    trials = sum(outcomes.values())
    print(f"\nbyte damage: {len(raw)}-byte file, {trials} trials in {seconds:.1f} s: {dict(outcomes)}")
    assert trials > 2.5 * len(raw)
    assert sum(n for (_, result), n in outcomes.items() if result == "ValueError") > 0.7 * trials


def test_every_truncation_and_extension_raises_value_error(tmp_path):
    path = tmp_path / "params.npz"
    ag.save(PARAMS, path)
    raw = path.read_bytes()
    damaged_path = tmp_path / "damaged.npz"
    outcomes = Counter()
    for length in range(len(raw)):
        damaged_path.write_bytes(raw[:length])
        outcomes[_outcome(damaged_path)] += 1
    assert outcomes == {"ValueError": len(raw)}
    # Bytes appended after the archive do not hide anything: either still identical or refused.
    for tail in (b"\x00", b"PK\x05\x06" + bytes(18), raw):
        damaged_path.write_bytes(raw + tail)
        assert _outcome(damaged_path) in ("same", "ValueError")


def test_a_member_dropped_from_the_directory_is_detected(tmp_path):
    # The data loss: damage that makes the zip directory list fewer members.
    import zipfile
    path, dropped = tmp_path / "params.npz", tmp_path / "dropped.npz"
    ag.save(PARAMS, path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(dropped, "w") as target:
        for info in source.infolist():
            if info.filename != "b1.npy":
                target.writestr(info.filename, source.read(info))
    with pytest.raises(ValueError, match=r"dropped\.npz.*missing \['b1'\]"):
        ag.load(dropped)


def test_members_swapped_between_names_are_detected(tmp_path):
    import zipfile
    params = {"W1": np.zeros((2, 2)), "W2": np.ones((2, 2))}
    path, swapped = tmp_path / "params.npz", tmp_path / "swapped.npz"
    ag.save(params, path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(swapped, "w") as target:
        for info in source.infolist():
            other = {"W1.npy": "W2.npy", "W2.npy": "W1.npy"}.get(info.filename, info.filename)
            target.writestr(info.filename, source.read(other))  # a fresh entry, CRC of its new data
    with pytest.raises(ValueError, match=r"swapped\.npz' \(parameter 'W1'\).*checksum"):
        ag.load(swapped)


# --- kill -9 during saves ----------------------------------------------------------------------
# One Python process (started with Popen) imports the package once, then forks a writer per
# trial; the test kills the writer with SIGKILL. Forking saves the half second an interpreter
# start costs, so a few dozen trials take a second or two.
FORK_SERVER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from autograd_lite.serialization import save
    path = sys.argv[1]
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:  # the writer: announce each save, then do it, until killed
            version = int(line)
            while True:
                os.write(1, b"saving %d\\n" % version)  # one write: lines of two processes never mix
                save({"W": np.full(100_000, float(version)), "b": np.full((3, 1), float(version))}, path)
                version += 1
        os.write(1, b"pid %d\\n" % pid)
        os.waitpid(pid, 0)  # reap it, so its pid no longer exists once the test hears "reaped"
        os.write(1, b"reaped\\n")
""")


def _temporaries(folder, name):
    return sorted(n for n in os.listdir(folder) if n.startswith(f".{name}.") and n.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix" or not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_kill_9_in_the_middle_of_saves_never_corrupts_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "params.npz"
    ag.save({"W": np.full(100_000, 0.0), "b": np.full((3, 1), 0.0)}, path)
    rng = random.Random(12)
    trials, current, next_version = 40, 0.0, 1
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = subprocess.Popen([sys.executable, "-c", FORK_SERVER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    figures = Counter()
    try:
        for _ in range(trials):
            server.stdin.write(f"{next_version}\n")
            server.stdin.flush()
            # The writer may announce its first save before the server reports its pid.
            pid, announced, wanted = None, [], rng.randint(1, 3)  # kill it in its 1st to 3rd save
            while pid is None or len(announced) < wanted:
                kind, value = server.stdout.readline().split()
                if kind == "pid":
                    pid = int(value)
                else:
                    announced.append(int(value))
            delay = rng.uniform(0, 0.004)  # somewhere in that save: before, during or after the write
            deadline = time.perf_counter() + delay
            while time.perf_counter() < deadline:
                pass
            os.kill(pid, signal.SIGKILL)
            while (line := server.stdout.readline()) != "reaped\n":
                assert line.startswith("saving"), line
                announced.append(int(line.split()[1]))
            # The file is always one complete version: the one before this writer or one it started.
            loaded = ag.load(path)
            version = loaded["W"].data[0]
            assert loaded["W"].shape == (100_000,) and loaded["b"].shape == (3, 1)
            assert np.all(loaded["W"].data == version) and np.all(loaded["b"].data == version)
            assert version == current or version in announced, (version, current, announced)
            figures["previous version" if version == current else "a version it wrote"] += 1
            orphans = _temporaries(tmp_path, "params.npz")
            figures["left a temporary"] += bool(orphans)
            # The next save removes the dead writer's temporary (and leaves a complete file).
            ag.save({"W": np.full(100_000, version), "b": np.full((3, 1), version)}, path)
            assert _temporaries(tmp_path, "params.npz") == []
            current, next_version = version, max(announced) + 1
    finally:
        server.stdin.close()
        server.kill()
        server.wait()
    print(f"\nkill -9: {trials} trials, {dict(figures)}; every time the file loaded whole and no "
          "temporary survived the next save")
    assert figures["a version it wrote"] + figures["previous version"] == trials
