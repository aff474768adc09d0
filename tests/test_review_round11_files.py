"""Round 11 review (adv19): saving onto FIFOs, sockets and devices, save errors that name the
user's path, the formula's grouping, constants and names, draw's paths, bench's output
options and the jobs' --iterations range.

Expected values are written by hand from the documented behaviour; no test writes outside
tmp_path, and no test touches /dev (a device is simulated by a patched os.stat).
"""
import argparse
import errno
import os
import socket
import stat
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import latex
from autograd_lite.formula import name_latex
from models import cat, football
from oracles import needs_dot

ROOT = Path(__file__).resolve().parent.parent


def renders(text):
    """matplotlib's mathtext parses and draws ``$text$`` (raises otherwise); docs/api.md promises it."""
    from matplotlib import mathtext
    mathtext.math_to_image(f"${text}$", BytesIO(), format="png")
    return True


def tensor(name, shape=(3, 3)):
    return ag.Tensor(np.ones(shape), requires_grad=True, name=name)


# 1: save never replaces a FIFO, socket or device ----------------------------------------------
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


@needs_fifo
def test_save_refuses_a_fifo_and_leaves_it_as_it_was(tmp_path):
    fifo = tmp_path / "params.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"save: '.*params\.npz' exists and is not a regular file"):
        ag.save({"W": np.ones(3)}, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.npz"]  # no temporary left


@needs_fifo
def test_save_through_a_link_to_a_fifo_is_refused_naming_the_users_path(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.npz").symlink_to(tmp_path / "pipe")
    with pytest.raises(ValueError, match="link.npz"):
        ag.save({"W": np.ones(3)}, tmp_path / "link.npz")
    assert stat.S_ISFIFO(os.stat(tmp_path / "link.npz").st_mode)
    assert (tmp_path / "link.npz").is_symlink()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_save_refuses_a_socket(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("params.npz")
        with pytest.raises(ValueError, match="not a regular file"):
            ag.save({"W": np.ones(3)}, "params.npz")
        assert stat.S_ISSOCK(os.lstat("params.npz").st_mode)


def test_save_refuses_a_device_before_writing_anything(tmp_path, monkeypatch):
    # A character device is simulated: the test must never write near a real one.
    target = str(tmp_path / "device.npz")
    real_stat = os.stat

    def fake_stat(path, *args, **kwargs):
        if os.fspath(path) == target:
            return os.stat_result((stat.S_IFCHR | 0o666, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        return real_stat(path, *args, **kwargs)
    monkeypatch.setattr(os, "stat", fake_stat)
    with pytest.raises(ValueError, match="device.npz' exists and is not a regular file"):
        ag.save({"W": np.ones(3)}, target)
    assert list(tmp_path.iterdir()) == []  # not even a temporary


def test_save_onto_a_directory_is_still_an_is_a_directory_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory; expected a file name"):
        ag.save({"W": np.ones(3)}, tmp_path / "d")


def test_save_still_replaces_a_regular_file(tmp_path):
    path = tmp_path / "params.npz"
    path.write_bytes(b"old")
    ag.save({"W": np.arange(3.0)}, path)
    np.testing.assert_array_equal(ag.load(path)["W"].data, [0.0, 1.0, 2.0])


# 9: a folder save cannot write into: the error names the user's path ---------------------------
def _refuse_creating_files_in(monkeypatch, folder, error):
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.path.dirname(os.fspath(path)) == str(folder):
            raise error
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", fake_open)


@pytest.mark.parametrize("error", [PermissionError(errno.EACCES, "Permission denied"),
                                   FileNotFoundError(errno.ENOENT, "No such file or directory")],
                         ids=["no-permission", "folder-takes-no-files"])
def test_save_into_a_folder_it_cannot_write_names_the_path_and_folder(tmp_path, monkeypatch, error):
    # As /sys (EACCES even for root) and /proc (ENOENT although the folder exists) answer.
    _refuse_creating_files_in(monkeypatch, tmp_path, error)
    with pytest.raises(type(error)) as info:
        ag.save({"W": np.ones(3)}, tmp_path / "params.npz")
    message = str(info.value)
    assert f"save: cannot write {str(tmp_path / 'params.npz')!r}" in message
    assert f"cannot create a file in the folder {str(tmp_path)!r} ({error.strerror})" in message
    assert ".params.npz." not in message  # not the hidden temporary's name
    assert info.value.errno == error.errno


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_into_a_read_only_folder_names_the_path(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"save: cannot write '.*ro/params\.npz'"):
            ag.save({"W": np.ones(3)}, folder / "params.npz")
    finally:
        folder.chmod(0o700)


def test_save_into_a_missing_folder_still_says_it_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .*missing' does not exist"):
        ag.save({"W": np.ones(3)}, tmp_path / "missing" / "params.npz")


# 2: a scalar factor keeps the grouping of elementwise and matrix products ---------------------
def test_a_scalar_factor_keeps_odot_grouped_inside_a_matmul():
    A, B, W = tensor("A"), tensor("B"), tensor("W")
    s = ag.Tensor(np.array(2.0), requires_grad=True, name="s")
    assert ag.formula((A * B) @ W) == r"(A \odot B) W"
    assert ag.formula((A * B * 2) @ W) == r"(A \odot B \cdot 2) W"
    assert ag.formula(A * ((B * 2) @ W)) == r"A \odot (B \cdot 2 W)"
    assert ag.formula(A * (s * (B @ W))) == r"A \odot (s \cdot B W)"
    assert ag.formula(W @ (2 * (A * B))) == r"W (2 A \odot B)"
    assert ag.formula((A @ W) * 2 * B) == r"(A W \cdot 2) \odot B"


def test_scalar_factors_still_need_no_parentheses_of_their_own():
    A, W = tensor("A"), tensor("W")
    s = ag.Tensor(np.array(2.0), requires_grad=True, name="s")
    assert ag.formula(2 * (A @ W)) == r"2 A W"
    assert ag.formula(s * 2 * A) == r"s \cdot 2 \cdot A"
    assert ag.formula(A * tensor("B") * 2) == r"A \odot B \cdot 2"


def test_a_scalar_that_is_itself_a_matrix_product_keeps_the_other_factor_grouped():
    a, b, A, B = tensor("a", (1, 3)), tensor("b", (3, 1)), tensor("A"), tensor("B")
    assert ag.formula((a @ b) * (A * B)) == r"a b \cdot (A \odot B)"


# 3: a base in scientific notation (or any compound base) is parenthesized ---------------------
@pytest.mark.parametrize("make, expected", [
    (lambda x: 1e-8 ** x, r"(1\times 10^{-8})^{x}"),
    (lambda x: ag.Tensor(np.array(-2.5)) ** x, r"(-2.5)^{x}"),
    (lambda x: 2.5 ** x, r"2.5^{x}"),
    (lambda x: (x * 2) ** 2, r"(x \cdot 2)^{2}"),
    (lambda x: x * 1e-8, r"x \cdot 1\times 10^{-8}"),
    (lambda x: ag.exp(x) ** 2, r"(e^{x})^{2}"),
], ids=["scientific", "negative", "plain", "product", "scientific-factor", "power"])
def test_compound_bases_are_parenthesized_and_render(make, expected):
    pytest.importorskip("matplotlib")
    text = ag.formula(make(tensor("x", (2,))))
    assert text == expected
    assert renders(text)


def test_a_named_layer_tensor_as_base_is_parenthesized_and_renders():
    pytest.importorskip("matplotlib")
    text = ag.formula(tensor("W1") ** 2)
    assert text == r"(W^{[1]})^{2}"
    assert renders(text)


# 4: LaTeX's special characters in names are escaped, never dropped ----------------------------
HOSTILE_NAMES = {
    "a^b": r"\mathrm{a{\wedge}b}",
    "a\\b": r"\mathrm{a{\backslash}b}",
    "a{b}": r"\mathrm{a\{b\}}",
    "a&b": r"\mathrm{a\text{\&}b}",
    "a#b": r"\mathrm{a{\#}b}",
    "a%b": r"\mathrm{a\%b}",
    "a$b": r"\mathrm{a\$b}",
    "a_b": r"\mathrm{a\_b}",
    "a~b": r"\mathrm{a{\sim}b}",
    "a b": r"\mathrm{a{\ }b}",
    'a"b': r'\mathrm{a\text{"}b}',
    "a`b": r"\mathrm{a\text{`}b}",
    "a|b<c>d*e@f": r"\mathrm{a|b<c>d*e@f}",
    "a\tb": r"\mathrm{a{\langle}U+0009{\rangle}b}",
    "^": r"\mathrm{{\wedge}}",
    "{x}": r"\mathrm{\{x\}}",
    "ab": r"\mathrm{ab}",
}


@pytest.mark.parametrize("name", list(HOSTILE_NAMES))
def test_special_characters_in_names_are_escaped(name):
    assert name_latex(name) == HOSTILE_NAMES[name]


def test_hostile_names_stay_distinct_and_render_in_formulas():
    pytest.importorskip("matplotlib")
    formulas = []
    for name in [*HOSTILE_NAMES, "a\\^b", "\\", "&", "a\nb", "a''b", "{}", "x_1"]:
        text = ag.formula((tensor(name, (2,)) * 2).sum())
        assert "\\mathrm{}" not in text
        assert renders(text), name
        formulas.append(text)
    assert len(set(formulas)) == len(formulas)


# 5: constants print as the shortest text that reads back as the same value ---------------------
@pytest.mark.parametrize("value, expected", [
    (1.0, "1"), (2, "2"), (0.5, "0.5"), (0.86, "0.86"), (1.0000001, "1.0000001"),
    (0.1234567891, "0.1234567891"), (123456789.0, "123456789"), (1e-08, r"1\times 10^{-8}"),
    (2.5e-7, r"2.5\times 10^{-7}"), (1e22, r"1\times 10^{22}"), (-1.5e-300, r"-1.5\times 10^{-300}"),
    (np.float32(0.1), "0.1"), (np.int64(7), "7"), (True, "1"),
    (float("inf"), r"\infty"), (float("-inf"), r"-\infty"), (float("nan"), r"\mathrm{NaN}"),
])
def test_number_latex_is_the_shortest_round_trip(value, expected):
    assert latex.number_latex(value) == expected


def test_constants_in_formulas_are_not_rounded_into_other_values():
    x = tensor("x", (2,))
    assert ag.formula(x * 1.0000001) == r"x \cdot 1.0000001"
    assert ag.formula(x * 1.0) == r"x \cdot 1"
    assert ag.formula(x - 0.1234567891) == r"x - 0.1234567891"
    x32 = ag.Tensor(np.ones(2, np.float32), requires_grad=True, name="x")
    assert ag.formula(x32 * np.float32(0.1)) == r"x \cdot 0.1"  # float32's own shortest repr


# 6: draw's paths follow save's rules ----------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "out/", b"", b"out/"])
def test_draw_refuses_an_empty_or_folder_path(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="draw: the path"):
        ag.draw((tensor("x", (2,)) * 2).sum(), bad)
    assert not (tmp_path / ".svg").exists() and not (tmp_path / "out" / ".svg").exists()


@pytest.mark.parametrize("bad", [3, None, ["a.svg"]])
def test_draw_refuses_other_path_types_naming_what_it_expects(bad):
    with pytest.raises(TypeError, match="draw: path must be a str, bytes or os.PathLike"):
        ag.draw((tensor("x", (2,)) * 2).sum(), bad)


@needs_fifo
def test_draw_refuses_a_fifo_instead_of_blocking(tmp_path):
    os.mkfifo(tmp_path / "graph.svg")
    with pytest.raises(ValueError, match="graph.svg' exists and is not a regular file"):
        ag.draw((tensor("x", (2,)) * 2).sum(), tmp_path / "graph.svg")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "graph.svg").st_mode)


@needs_dot
@pytest.mark.parametrize("path, format, written", [
    ("cost.SVG", None, "cost.SVG"), ("cost.Png", None, "cost.Png"), ("cost", "PNG", "cost.png"),
    ("cost.txt", None, "cost.txt.svg"), (Path("cost.pdf"), None, "cost.pdf"), (b"cost.svg", None, "cost.svg"),
])
def test_draw_keeps_an_extension_in_any_case_and_takes_path_likes(tmp_path, monkeypatch, path, format, written):
    monkeypatch.chdir(tmp_path)
    assert ag.draw((tensor("x", (2,)) * 2).sum(), path, format=format) == written
    assert sorted(p.name for p in tmp_path.iterdir()) == [written]
    head = (tmp_path / written).read_bytes()[:5]
    assert head == {"svg": b"<?xml", "png": b"\x89PNG\r", "pdf": b"%PDF-"}[written.rsplit(".", 1)[1].lower()]


# 7: bench checks --json and --markdown before the benchmark runs ------------------------------
@pytest.mark.parametrize("option, where, expected", [
    ("--json", "missing/x.json", "does not exist"), ("--markdown", "", "is a folder"),
    ("--json", "sub/", "is a folder"),
])
def test_bench_output_paths_are_checked_before_running(tmp_path, option, where, expected):
    (tmp_path / "sub").mkdir()
    run = subprocess.run([sys.executable, "-m", "bench", "--impls", "manual", "--workloads", "football",
                          "--reps", "1", "--block-seconds", "0.001", option, str(tmp_path / where)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 2, run.stderr[-500:]
    assert f"argument {option}:" in run.stderr and expected in run.stderr
    assert "Traceback" not in run.stderr and "done" not in run.stderr  # no workload ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_bench_output_file_type():
    from bench.__main__ import output_file
    assert output_file("results.json") == "results.json"
    with pytest.raises(argparse.ArgumentTypeError, match="the path is empty"):
        output_file("")


# 8: the jobs' --iterations range ---------------------------------------------------------------
@pytest.mark.parametrize("job", [football, cat], ids=["football", "cat"])
@pytest.mark.parametrize("value", ["99999999999999999999", str(10 ** 9 + 1), "0", "abc", "1.5", "1e3"])
def test_iterations_out_of_range_is_a_usage_error_naming_the_range(tmp_path, capsys, job, value):
    with pytest.raises(SystemExit) as info:
        job.main(["--data", "synthetic", "--out", str(tmp_path / "out"), "--iterations", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --iterations: must be a whole number >= 1 and <= 1,000,000,000, got '{value}'" in err
    assert not (tmp_path / "out").exists()  # refused before anything else


def test_the_range_accepts_its_bounds():
    assert football.iteration_count("1") == 1
    assert football.iteration_count(str(10 ** 9)) == 10 ** 9


def test_huge_iterations_from_the_command_line_is_no_traceback(tmp_path):
    run = subprocess.run([sys.executable, "-m", "models.football", "--data", "synthetic", "--out",
                          str(tmp_path / "o"), "--iterations", "99999999999999999999"],
                         cwd=ROOT, env=dict(os.environ, AUTOGRAD_LITE_DATA=""), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "--iterations" in run.stderr
