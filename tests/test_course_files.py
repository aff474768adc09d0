"""The project's documents stay true and self-contained: nothing shipped points outside the
repository, the API reference's "planned" marks match the package, README's commands are the
ones CI runs, its figures exist, and its L2 + dropout row is what the job computes."""
import os
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

import autograd_lite as ag

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def ignore_rules(folder, names):
    """The patterns of the ignore files ``names`` in ``folder`` (relative to REPO) as (folder, pattern,
    anchored, folders only). This walk knows neither negation (``!``) nor ``**``: with one, the test skips
    rather than guess."""
    lines = [line.strip() for name in names if (REPO / folder / name).is_file()
             for line in (REPO / folder / name).read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    unknown = [rule for rule in rules if rule.startswith("!") or "**" in rule]
    if unknown:
        pytest.skip(f"git cannot read this checkout and {unknown} in {folder} need git's own matching")
    return [(folder, rule.strip("/"), "/" in rule.rstrip("/"), rule.endswith("/")) for rule in rules]


def ignored(rules, relative, is_folder):
    """Whether a rule skips this path: an anchored one (a slash at its start or inside) matches the path
    from its file's folder, another one the name at any depth below that folder."""
    return any((is_folder or not folders_only) and relative.is_relative_to(folder)
               and fnmatch(relative.relative_to(folder).as_posix() if anchored else relative.name, pattern)
               for folder, pattern, anchored, folders_only in rules)


def walked_files():
    """The files below REPO that git would list as tracked or new: all but .git and what is ignored."""
    rules, found = ignore_rules(Path("."), [".git/info/exclude"]), []
    for folder, folders, files in os.walk(REPO):
        here = Path(folder).relative_to(REPO)
        rules += ignore_rules(here, [".gitignore"])
        folders[:] = [f for f in folders if f != ".git" and not ignored(rules, here / f, True)]
        found += [(here / f).as_posix() for f in files if not ignored(rules, here / f, False)]
    return found


def listed_files(*options, under=None):
    """``git ls-files`` with these options (below the folder ``under``), relative to REPO. Where git
    cannot read the checkout (a source archive has no .git; git refuses a clone owned by another user,
    "dubious ownership", as when a checkout is mounted into a CI container), the walk's files: in an
    archive every file is a tracked one; in a clone git refuses, new files count as tracked too."""
    if (REPO / ".git").exists():
        try:
            listed = subprocess.run(["git", "ls-files", *options, *([under] if under else [])], cwd=REPO,
                                    capture_output=True, text=True)
        except OSError:  # no git program
            listed = None
        if listed is not None and listed.returncode == 0:
            return listed.stdout.split()
    return [p for p in walked_files() if under is None or p.startswith(f"{under}/")]


def shipped_files():
    """Tracked and new files of the repository, outside tests/ and .ci/ (which may name the
    data folder beside the clone), of the kinds that carry prose."""
    listed = listed_files("--cached", "--others", "--exclude-standard")
    return [REPO / p for p in listed if not p.startswith(("tests/", ".ci/"))
            and p.endswith((".py", ".md", ".ipynb", ".toml", ".txt", ".cfg")) and (REPO / p).is_file()]


def offending_lines(paths, pattern):
    return [f"{path.relative_to(REPO)}:{n}: {line.strip()}" for path in paths
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if re.search(pattern, line)]


def test_nothing_shipped_points_outside_the_repository():
    offenders = offending_lines(shipped_files(), r"shared/spec|\.\./shared")
    assert not offenders, "\n".join(offenders)


def test_docs_models_and_notebooks_explain_in_their_own_words():
    """Nor do the documents, models and notebooks send the reader to the outside spec files."""
    ours = [p for p in shipped_files() if p.relative_to(REPO).parts[0] in ("models", "notebooks", "docs")
            or p.name in ("README.md", "pyproject.toml")]
    offenders = offending_lines(ours, r"SEEDS\.md|API\.md|[\"']shared[\"']")
    assert not offenders, "\n".join(offenders)


def resolve(dotted):
    obj = ag
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def test_api_reference_planned_marks_match_the_package():
    """Each bullet of docs/api.md's Extensions that starts with an `ag.` name: the name exists
    unless the bullet says it is planned, and a planned name does not exist yet (when it lands,
    the mark must go)."""
    text = (REPO / "docs" / "api.md").read_text()
    extensions = text[text.index("## Extensions"):]
    bullets = re.split(r"\n(?=- )", extensions)
    checked = 0
    for bullet in bullets:
        names = re.findall(r"`(ag\.[A-Za-z_.]+)\(", bullet.split(":")[0] + bullet.split("\n")[0])
        if not bullet.startswith("- `ag.") or not names:
            continue
        planned = "*(planned" in bullet
        wholly_planned = "*(planned: not in this version yet" in bullet  # else only some options are planned
        for name in names:
            present = resolve(name) is not None
            if wholly_planned:
                assert not present, f"{name} exists now: remove its '(planned...)' mark in docs/api.md"
            elif not planned:
                assert present, f"docs/api.md documents {name} as available, but autograd_lite has no {name}"
            checked += 1
    assert checked >= 15


def test_api_reference_core_names_exist():
    text = (REPO / "docs" / "api.md").read_text()
    core = text[:text.index("## The exercises")]
    names = set(re.findall(r"`(ag\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", core))
    missing = sorted(n for n in names if resolve(n) is None)
    assert not missing, f"docs/api.md names {missing}, which autograd_lite does not have"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second_verbatim():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "python -m models.football" in commands[0] and "pip install" in commands[0]
    assert "command -v dot" in commands[0]  # no apt-get when Graphviz is already there (non-root users)
    ci = (REPO / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()  # verbatim, as its own line
    assert README.index("```bash") < README.index("## ")  # the commands come first


def test_readme_figures_exist():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images, "README shows no figure"
    for image in images:
        assert (REPO / image).is_file(), image


# The CPU features each of OpenBLAS's kernel sets needs (its OPENBLAS_CORETYPE names), as /proc/cpuinfo lists them
KERNELS = {"AVX2": ("Haswell", "avx2"), "AVX-512": ("SkylakeX", "avx512f")}
_TRAIN_L2_DROPOUT = """
import sys
import numpy as np
from models import data, football, three_layer
train_X, train_Y, test_X, test_Y = data.load_football(sys.argv[1])
name, lambd, keep_prob, _ = football.MODELS[3]
assert name == "L2 + dropout"
params, _ = three_layer.train(train_X, train_Y, lambd=lambd, keep_prob=keep_prob, init="reference")
print(np.mean(three_layer.predict(params, train_X) == train_Y), np.mean(three_layer.predict(params, test_X) == test_Y))
"""


@pytest.mark.parametrize("kernels", sorted(KERNELS))
def test_readme_l2_dropout_row_is_what_the_job_computes(real_data, kernels):
    """One full 30,000-iteration run of the combined model (the job's settings) with each of OpenBLAS's
    kernel sets the CPU runs, against the figures README shows for it: this model's accuracies move
    with the last bits of the BLAS products, which differ between kernel sets (the other rows do not)."""
    core, feature = KERNELS[kernels]
    cpu = Path("/proc/cpuinfo")
    if not cpu.is_file() or feature not in cpu.read_text().split():
        pytest.skip(f"this CPU cannot run OpenBLAS's {kernels} kernels ({feature})")
    row = next(line for line in README.splitlines() if line.startswith("| L2 + dropout |"))
    shown = [re.search(rf"([0-9.]+) \([0-9/]+\) with {kernels} kernels", cell).group(1) for cell in row.split("|")[2:4]]
    env = dict(os.environ, OPENBLAS_CORETYPE=core, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(REPO))
    # (a child process: OpenBLAS chooses its kernels when NumPy loads)
    result = subprocess.run([sys.executable, "-c", _TRAIN_L2_DROPOUT, str(real_data("football.npz"))], env=env,
                            capture_output=True, text=True, check=True)
    train, test = map(float, result.stdout.split())
    assert (f"{train:.4g}", f"{test:.4g}") == (f"{float(shown[0]):.4g}", f"{float(shown[1]):.4g}")


def test_readme_names_every_engine_module():
    """README's "Where things are" table keeps up with the engine's files."""
    table = README[README.index("## Where things are"):README.index("## Install and layout")]
    rows = [line for line in table.splitlines() if line.startswith("| `autograd_lite/")]
    named = {name for row in rows for name in re.findall(r"`(?:autograd_lite/)?([a-z_]+\.py)`", row.split("|")[1])}
    tracked = listed_files(under="autograd_lite")  # committed files: a colleague's draft is not yet news
    modules = {Path(p).name for p in tracked if p.endswith(".py") and Path(p).parent.name == "autograd_lite"
               and Path(p).name != "__init__.py"}
    assert not modules - named, f"README's table does not mention {sorted(modules - named)}"
    assert not named - modules, f"README's table names {sorted(named - modules)}, which no longer exist"


def test_every_ag_name_in_readme_and_docs_exists():
    for path in (REPO / "README.md", REPO / "docs" / "math.md", REPO / "docs" / "reproduce.md"):
        names = set(re.findall(r"\bag\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", path.read_text()))
        missing = sorted(n for n in names if resolve("ag." + n) is None)
        assert not missing, f"{path.name} names ag.{missing}, which autograd_lite does not have"
