"""Review adv80 (the fresh machine): what the suite and .ci/run need that a clean CI machine may not have.
The install test's venv sees this interpreter's import path, less the checkout (F3); .ci/run makes a venv
where there is only python3 or its pip is externally managed, and installs Graphviz through sudo or goes on
without it (F4); the PID-namespace test skips where unshare is not permitted (F6); the memory-capped child
loads NumPy on a 48-CPU machine (F7); the document tests list the files without git (F8). Expected values
come from git itself, from site and from the commands .ci/run must call."""
import os
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import test_course_files as course
import test_install as install

REPO = Path(__file__).resolve().parents[1]


def _pytest(args, env=None, wrap=()):
    """Run pytest on ``args`` in a child (through the command ``wrap``); return (returncode, output)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args]
    if wrap:
        command = [*wrap, shlex.join(command)]
    r = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env or dict(os.environ), timeout=300)
    return r.returncode, r.stdout + r.stderr


# F3: the install test's venv ---------------------------------------------------------------------------
def test_the_install_venv_sees_this_interpreters_packages_but_not_the_checkout():
    paths = [Path(p).resolve() for p in install.import_path_without_checkout()]
    assert any(Path(p).resolve() == REPO for p in sys.path)  # pytest's pythonpath put the checkout there
    assert REPO not in paths
    assert Path(np.__file__).resolve().parents[1] in paths  # where this interpreter's NumPy comes from
    assert {Path(p).resolve() for p in site.getsitepackages() if Path(p).is_dir()} <= set(paths)


# F4: .ci/run, with stand-ins for the programs it calls ---------------------------------------------------
ACTIVATE = 'export PATH="$PWD/.ci-venv/bin:$PATH"\n'
# logs its name and arguments; python's `-c` (the check whether pip may install) answers yes
LOGGING = '#!/bin/sh\n[ "$1" = -c ] && exit 0\necho "${0##*/} $*" >> "$CI_LOG"\n'
VENV = LOGGING + ('mkdir -p .ci-venv/bin; for n in python pip; do cp "${0%/*}/logs" .ci-venv/bin/$n; done\n'
                  f"echo '{ACTIVATE.strip()}' > .ci-venv/bin/activate\n")


def _stub(folder, name, body):
    (folder / name).write_text(body)
    (folder / name).chmod(0o755)


def _run_ci(tmp_path, uid, programs):
    """Run a copy of .ci/run in an empty project folder with only ``programs`` (name -> script), the
    stubs' tools and ``id -u`` giving ``uid`` on PATH; return (returncode, stderr, the logged calls)."""
    project, stubs = tmp_path / "project", tmp_path / "bin"
    (project / ".ci").mkdir(parents=True)
    stubs.mkdir()
    shutil.copy(REPO / ".ci" / "run", project / ".ci" / "run")
    for name in ("dirname", "env", "mkdir", "cp"):
        os.symlink(shutil.which(name), stubs / name)
    _stub(stubs, "id", f"#!/bin/sh\necho {uid}\n")
    _stub(stubs, "logs", LOGGING)
    for name, body in programs.items():
        _stub(stubs, name, body)
    log = tmp_path / "calls"
    log.touch()
    r = subprocess.run([shutil.which("bash"), str(project / ".ci" / "run")], capture_output=True, text=True,
                       env={"PATH": str(stubs), "HOME": str(tmp_path), "CI_LOG": str(log)}, timeout=60)
    return r.returncode, r.stderr, log.read_text().splitlines()


README_COMMAND = ["pip install -q -e .[test]", "python -m pytest -q"]


def test_ci_with_only_python3_as_root_installs_graphviz_and_works_in_a_venv(tmp_path):
    code, _, calls = _run_ci(tmp_path, 0, {"python3": VENV, "apt-get": LOGGING})
    assert code == 0
    assert calls == ["apt-get update -qq", "apt-get install -y -qq graphviz", "python3 -m venv --clear .ci-venv",
                     "python -m pip install -q --upgrade pip", *README_COMMAND]


def test_ci_as_a_user_without_sudo_says_graphviz_is_missing_and_goes_on(tmp_path):
    code, err, calls = _run_ci(tmp_path, 1000, {"python": LOGGING, "pip": LOGGING, "apt-get": LOGGING})
    assert code == 0
    assert "Graphviz (dot) is missing" in err
    assert calls == ["python -m pip install -q --upgrade pip", *README_COMMAND]  # no apt-get, no venv


def test_ci_as_a_user_with_sudo_installs_graphviz_through_it(tmp_path):
    sudo = LOGGING + 'shift; [ "$1" = true ] || exec "$@"\n'  # sudo -n <command>
    code, _, calls = _run_ci(tmp_path, 1000, {"sudo": sudo, "python": LOGGING, "pip": LOGGING, "apt-get": LOGGING})
    assert code == 0
    assert calls[:5] == ["sudo -n true", "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
                         "apt-get update -qq",
                         "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz",
                         "apt-get install -y -qq graphviz"]


def _externally_managed_python():
    """A system python3 that PEP 668 marks as externally managed (Debian's), or None."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        return None
    marked = subprocess.run([python, "-c", "import os, sysconfig; print(os.path.isfile(os.path.join("
                             "sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"], capture_output=True, text=True)
    return python if marked.stdout.strip() == "True" else None


def test_ci_with_an_externally_managed_python_works_in_a_venv(tmp_path):
    real = _externally_managed_python()
    if real is None:
        pytest.skip("needs a python3 marked EXTERNALLY-MANAGED (PEP 668), as Debian's")
    code, _, calls = _run_ci(tmp_path, 0, {"dot": LOGGING, "python3": VENV, "pip": LOGGING,
                                           "python": f'#!/bin/sh\nexec {real} "$@"\n'})
    assert code == 0
    assert calls == ["python3 -m venv --clear .ci-venv", "python -m pip install -q --upgrade pip", *README_COMMAND]


# F6: a root without CAP_SYS_ADMIN (Docker's default) cannot make a PID namespace -------------------------
@pytest.mark.skipif(not shutil.which("capsh") or not shutil.which("unshare") or os.name != "posix"
                    or os.geteuid() != 0, reason="needs root, capsh and unshare")
def test_the_pid_namespace_test_skips_without_cap_sys_admin():
    target = "tests/test_review_round16_serialization.py::" \
             "test_a_save_in_a_real_other_pid_namespace_keeps_a_live_writers_temporary"
    code, out = _pytest([target], wrap=["capsh", "--drop=cap_sys_admin", "--", "-c"])
    assert code == 0 and "1 skipped" in out and "unshare --pid is not permitted" in out, out[-1500:]


# F7: OpenBLAS reserves address space per CPU when NumPy loads ----------------------------------------------
FAKE_CPUS = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
int get_nprocs(void) { return 48; }
int get_nprocs_conf(void) { return 48; }
int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set) {
    memset(set, 0, size);
    for (int i = 0; i < 48; i++) CPU_SET_S(i, size, set);
    return 0;
}
long sysconf(int name) {
    static long (*real)(int);
    if (!real) real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    return name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF ? 48 : real(name);
}
"""


@pytest.mark.skipif(not shutil.which("gcc") or not sys.platform.startswith("linux"), reason="needs gcc and Linux")
def test_the_memory_capped_formula_child_loads_numpy_on_48_cpus(tmp_path):
    (tmp_path / "cpus.c").write_text(FAKE_CPUS)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "cpus.so"), str(tmp_path / "cpus.c"), "-ldl"],
                   check=True)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["LD_PRELOAD"] = str(tmp_path / "cpus.so")
    code, out = _pytest(["tests/test_review_round15_drawing.py::"
                         "test_a_40_step_loop_reading_its_value_twice_gives_one_definition_per_step"], env=env)
    assert code == 0 and "1 passed" in out, out[-1500:]


# F8: the document tests' file list where git cannot read the checkout ---------------------------------------
def _git(folder, *args):
    """git's own answer, blind to this user's global ignore files."""
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", HOME=str(folder),
               XDG_CONFIG_HOME=str(folder))
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, env=env, check=True).stdout


@pytest.fixture
def archive(tmp_path):
    """(folder, commit): a commit's tree as ``git archive`` ships it, with no .git."""
    commit = _git(REPO, "rev-parse", "HEAD").strip()  # fixed: other work may commit meanwhile
    (tmp_path / "src").mkdir()
    tar = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path / "src")], input=tar, check=True)
    return tmp_path / "src", commit


def test_in_a_source_archive_the_files_are_the_committed_ones(archive, monkeypatch):
    archive, commit = archive
    committed = sorted(_git(REPO, "ls-tree", "-r", "--name-only", commit).split())
    monkeypatch.setattr(course, "REPO", archive)
    assert sorted(course.listed_files("--cached", "--others", "--exclude-standard")) == committed
    assert sorted(course.listed_files(under="autograd_lite")) == [p for p in committed if p.startswith("autograd_lite/")]


def test_the_walk_skips_what_git_ignores(archive, monkeypatch):
    archive, _ = archive
    for junk in ("__pycache__/a.pyc", "models/__pycache__/b.pyc", "out/results.md", "docs/out/x.md",
                 "bench/results/r.json", "x.egg-info/PKG-INFO", ".ci-venv/bin/pip", ".ruff_cache/0/c",
                 "docs/draft.md", "models/new_model.py", "notes.txt", "bench/results.md"):
        (archive / junk).parent.mkdir(parents=True, exist_ok=True)
        (archive / junk).write_text("x")
    (archive / ".ruff_cache" / ".gitignore").write_text("# made by ruff\n*\n")
    monkeypatch.setattr(course, "REPO", archive)
    walked = sorted(course.walked_files())
    _git(archive, "init", "-q")
    assert walked == sorted(_git(archive, "ls-files", "--others", "--exclude-standard").split())
    assert "docs/draft.md" in walked and "out/results.md" not in walked


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to give the clone to another user")
def test_in_a_clone_git_refuses_as_another_users_the_files_are_the_walked_ones(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(REPO), str(clone))
    tracked = sorted(_git(clone, "ls-files").split())
    subprocess.run(["chown", "-R", "nobody", str(tmp_path)], check=True)
    refused = subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True)
    if refused.returncode == 0:
        pytest.skip("git here reads a clone owned by another user")
    monkeypatch.setattr(course, "REPO", clone)
    assert sorted(course.listed_files("--cached", "--others", "--exclude-standard")) == tracked
