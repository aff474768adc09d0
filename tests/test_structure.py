"""The engine stays readable in one sitting: the size bars the project set itself, checked.

Core (tensor.py + tape.py + primitive.py) <= 400 lines, the backward walk <= 40 lines, no
function in the package over 60 lines, replay.py <= 300 lines, and no import circle among
the package's modules at import time (a lazy import inside a function does not count)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autograd_lite"


def _tree(name):
    return ast.parse((PACKAGE / name).read_text(), filename=name)


def _functions():
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(_tree(path.name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.name, node


def test_the_core_reads_in_one_sitting():
    lines = sum(len((PACKAGE / name).read_text().splitlines()) for name in ("tensor.py", "tape.py", "primitive.py"))
    assert lines <= 400, f"tensor.py + tape.py + primitive.py are {lines} lines; the bar is 400"
    assert len((PACKAGE / "replay.py").read_text().splitlines()) <= 300


def test_the_backward_walk_and_every_function_stay_short():
    walk = next(node for name, node in _functions() if name == "tape.py" and node.name == "backward")
    assert walk.end_lineno - walk.lineno + 1 <= 40
    long = [f"{name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)" for name, node in _functions()
            if node.end_lineno - node.lineno + 1 > 60]
    assert not long, f"functions over 60 lines: {long}"


def _module_level_imports(name):
    """The package modules ``name`` imports when it is imported (relative imports at module level)."""
    found = set()
    for node in _tree(name).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import latex as tex
                found.update(alias.name for alias in node.names)
    return {m for m in found if (PACKAGE / f"{m}.py").is_file()}


def test_no_import_circle_among_the_package_modules():
    graph = {path.stem: _module_level_imports(path.name) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    state = {}

    def visit(module, path):
        state[module] = "open"
        for other in graph.get(module, ()):
            assert state.get(other) != "open", f"import circle: {' -> '.join(path + [other])}"
            if other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
