"""Drawing the recorded graph with Graphviz: ``to_dot`` builds the DOT
description, ``draw`` renders it with Graphviz's ``dot`` program.

Nodes are drawn apart by role, so the regularized cost of the study reads at
a glance:

    parameter  leaf with requires_grad (W1, b1, ...)     blue ellipse
    data       named leaf without grad (X, Y)            yellow parallelogram
    constant   unnamed leaf without grad (1, 0.5, ...)   plain grey text
    op         any other recorded op                     grey rounded box
    dropout    the dropout op, with keep_prob and the share of units its mask kept
    cost term  binary_cross_entropy and l2_penalty, each with its formula

An op's primitive chooses its role and lines with ``draw(node) -> (role, [lines])``
(checked: anything else is a TypeError naming the op). Scalar constants show their
shortest round-trip value; an unprintable character in a name shows as its code point.
An op's box shows its parameters off their defaults (axis, shape, index, ...); the
edges into an op of two or more inputs carry each input's name in the op's call
(``subtract(x, y)``: x and y), so ``x - y`` and ``y - x`` draw apart. A graph recorded before an in-place
change of one of its tensors is refused, as ``backward()`` refuses it.

The ``class`` attribute of each node carries its role (and ends up in SVG).
``graphviz`` is imported only inside the functions, so ``import autograd_lite``
stays light.
"""
import errno
import inspect
import os
import signal

import numpy as np

from . import latex as tex
from .convert import flag
from .diagnostics import check_unchanged
from .errors import GraphError
from .modes import clock
from .serialization import existing_target, path_name
from .tensor import Tensor

FORMATS = ("svg", "png", "pdf")

_STYLE = {
    "parameter": {"shape": "ellipse", "style": "filled", "fillcolor": "#bfdbfe", "color": "#1d4ed8"},
    "data": {"shape": "parallelogram", "style": "filled", "fillcolor": "#fef08a", "color": "#a16207"},
    "constant": {"shape": "plaintext", "fontcolor": "#4b5563"},
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f3f4f6", "color": "#6b7280"},
    "dropout": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fed7aa", "color": "#c2410c"},
    "cost-term": {"shape": "box", "style": "filled,bold", "fillcolor": "#fecaca", "color": "#b91c1c"},
}

_INSTALL_HINT = ("install Graphviz, e.g. `apt-get install graphviz` (Debian/Ubuntu), "
                 "`dnf install graphviz` (Fedora), `brew install graphviz` (macOS), "
                 "`conda install graphviz` or the installer from https://graphviz.org/download/")


def walk_graph(root, caller, expand=None):
    """The tensors that produced ``root`` (``root`` included), each after all its inputs.

    Follows every input, constants and data included, with an explicit stack
    (no recursion, so depth is unbounded). ``expand(t)`` False keeps an op
    output ``t`` but skips its inputs. Raises GraphError naming ``caller`` when
    a part of the graph was freed by ``backward()``, and InplaceModificationError
    when an op's input or output was changed in place after the op ran, as
    backward() does: after ``t += w`` (recorded), t's inputs are those of the new
    ``add``, which an op recorded before never saw; after an unrecorded update the
    value a constant prints or ``show_values`` shows is not the one the op used.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"{caller}: expected a Tensor, got {type(root).__name__}")

    def inputs(t):
        if t._prim is None or (expand is not None and not expand(t)):
            return ()
        if t._parents is None:
            raise GraphError(
                f"{caller}: the graph behind this tensor was freed by backward() (at op "
                f"'{t._prim.name}', output shape {t.shape}); draw it before backward(), or call "
                "backward(retain_graph=True) to keep it")
        if t._epoch != clock.now:  # (the clock moves only at in-place changes: else none since t's op)
            check_unchanged(t, f"{caller}: ", "draw the graph before updating it, or recompute the forward pass")
        return [p for _, p in drawn_inputs(t)]

    return topological_order(root, inputs)


def drawn_inputs(t):
    """(position, input) of each input of op output ``t`` that drawings show (``edge_labels``
    maps an input to None to leave it out, as dropout does with its mask, shown inside its node)."""
    labels = t._prim.edge_labels or {}
    return [(i, p) for i, p in enumerate(t._parents) if labels.get(i, "") is not None]


def value_inputs(t):
    """The drawn inputs of op output ``t`` whose value it uses: a gradient's shortcut (an edge label
    starting 'grad', drawn dashed, as the cross-entropy's logits) is left out."""
    labels = t._prim.edge_labels or {}
    return [p for i, p in drawn_inputs(t) if not _shortcut(labels.get(i))]


def _shortcut(label):
    return label is not None and label.startswith("grad")


def _node_lines(t):
    """(role, lines) of ``t``'s node: its role ('parameter', 'data', 'constant', 'dropout', 'cost-term'
    or 'op', see the module docstring) and the lines of its label before an op's output shape."""
    if t._prim is None:
        if t.requires_grad:
            return "parameter", [t.name or "parameter", _shape_text(t.shape)]
        if t.name:
            return "data", [t.name, _shape_text(t.shape)]
        return "constant", [_number(t._array) if t.size == 1 else f"constant {_shape_text(t.shape)}"]
    if t._prim.draw:
        return _drawing(t)
    return "op", [t._prim.label] + _op_params_text(t)


def _drawing(t):
    """What the ``draw`` rule of op output ``t``'s primitive gives, checked: ``(role, lines)``, the
    role one of ``_STYLE``'s and the lines a non-empty list of str. Anything else, or an error the
    rule raises, is refused naming the op: unchecked, a str of lines was drawn one character per
    line and an unknown role was a bare KeyError."""
    prim = t._prim
    try:
        drawing = prim.draw(t)
    except Exception as error:
        raise rule_error(error, f"to_dot: the draw rule of op '{prim.name}' raised "
                                f"{type(error).__name__}: {error}") from error
    if isinstance(drawing, (tuple, list)) and len(drawing) == 2:
        kind, lines = drawing
        if (isinstance(kind, str) and kind in _STYLE and isinstance(lines, (list, tuple)) and lines
                and all(isinstance(line, str) for line in lines)):
            return kind, list(lines)
    raise TypeError(f"to_dot: the draw rule of op '{prim.name}' returned {type(drawing).__name__} "
                    f"{drawing!r:.80}; expected (role, lines): a role among {', '.join(map(repr, _STYLE))} "
                    "and a non-empty list of str, the lines of the op's box")


def rule_error(error, message):
    """An error of ``error``'s type saying ``message`` (a RuntimeError if that type will not take a
    message alone), to raise from ``error`` where a user's rule failed: its type kept for callers
    that catch it, the op named."""
    try:
        return type(error)(message)
    except TypeError:  # (a type whose constructor wants more, as UnicodeDecodeError)
        return RuntimeError(message)


def _shape_text(shape):
    return "scalar" if shape == () else "(" + ", ".join(str(n) for n in shape) + ")"


def _number(array):
    """A one-element array's value, the shortest text that reads back as it in its own dtype, as
    ``latex.number_latex`` writes it: 0.99999 (rounded to a few digits it drew as 1, the value of
    another constant), 2 for 2.0, 1e-08, inf, nan."""
    value = np.asarray(array).reshape(())[()]
    mantissa, e, exponent = str(value).partition("e")  # (str of a NumPy float: its shortest round-trip repr)
    return mantissa.removesuffix(".0") + e + exponent


def _visible(text):
    """``text`` with each unprintable character as its code point, ``⟨U+0000⟩``, as ``latex.roman``
    writes it: Graphviz ends a label at a NUL (the rest of the name vanished), a lone surrogate
    cannot be encoded for ``dot`` at all, and a newline inside a name would look like two lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"⟨U+{ord(c):04X}⟩" for c in text)


def _op_params_text(t):
    """The op's parameters as 'key=value' lines, for the generic ops (axis, shape, index, ...): each
    one off its default, by the rule the formula's subscripts follow (``latex.off_default``), a long
    one cut short (never dropped, so x[:, 0:1] and x[:, 2:3] draw apart)."""
    lines = []
    for key, value in tex.off_default(t, tuple(t._params or ())):
        text = f"{key}={_param_text(value)}"
        lines.append(text if len(text) <= _PARAM_WIDTH else text[:_PARAM_WIDTH - 1] + "…")
    return lines


_PARAM_WIDTH = 80  # characters of a parameter's line; an index array past it is cut, with an ellipsis


def _param_text(value):
    """A parameter as Python writes an index: 0:1 for a slice, ... for Ellipsis, an array by its
    entries ([0, 2]; NumPy's summary past 32), a tuple or list by its items, anything else by its repr."""
    if isinstance(value, slice):
        return tex.slice_text(value)
    if value is Ellipsis:
        return "..."
    if isinstance(value, np.ndarray):
        return tex.array_text(value)
    if isinstance(value, np.generic):  # (NumPy 2's repr is np.float64(0.3))
        return repr(value.item())
    if type(value) in (tuple, list):
        inner = ", ".join(map(_param_text, value)) + ("," if len(value) == 1 and type(value) is tuple else "")
        return f"({inner})" if type(value) is tuple else f"[{inner}]"
    return repr(value)


def _label(t, kind, lines, show_grads, show_values):
    """The text of ``t``'s node from its role and lines (``_node_lines``), each line ``_visible``."""
    if t._prim is not None:
        if t.name:
            lines[0] = f"{t.name} = {lines[0]}"
        lines.append(_shape_text(t.shape))
    if show_values:
        value = f"{t.dtype} {_shape_text(t.shape)}"
        if t.size == 1:
            value += f" = {_number(t._array)}"
        if kind == "constant":
            lines.append(value)
        else:
            lines[-1] = value
    if show_grads and t._grad is not None:  # (an op output's .grad warns when read)
        lines.append(f"‖grad‖ = {np.linalg.norm(t.grad):.3g}")
    return "\n".join(map(_visible, lines))


def input_names(prim, n):
    """The names of op ``prim``'s ``n`` inputs in its declared call (``subtract(x, y, /)``: x, y), else
    its forward's (``where(condition, x, y)``; ``*arrays``: arrays[0], arrays[1], ...), else 'input i'."""
    try:
        signature = getattr(prim, "__signature__", None) or inspect.signature(prim.forward)
    except (TypeError, ValueError):  # (a builtin without a signature)
        signature = None
    names = []
    for p in signature.parameters.values() if signature else ():
        if p.kind is p.VAR_POSITIONAL:
            names += [f"{p.name}[{k}]" for k in range(n - len(names))]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return names[:n] if len(names) >= n else [f"input {i}" for i in range(n)]


def _edge_attributes(child, position, names):
    """Edge style: the op's ``edge_labels`` (inputs labelled by role, a gradient's shortcut dashed),
    else the input's name from ``names`` (None: a single drawn input, which needs none)."""
    labels = child._prim.edge_labels or {}
    if position not in labels:
        return {} if names is None else {"label": names[position]}
    if _shortcut(labels[position]):  # a gradient's shortcut, not a value's path
        return {"style": "dashed", "color": "#b91c1c", "label": labels[position], "fontcolor": "#b91c1c"}
    return {"label": labels[position]}


def to_dot(t, *, rankdir="LR", show_grads=False, show_values=False, graph_name="autograd_lite"):
    """The graph that produced ``t`` as a ``graphviz.Digraph`` (``.source`` is the DOT text).

    Args:
        t: Tensor of any shape whose graph is still recorded. After
            ``backward()`` the graph is freed unless it ran with
            ``retain_graph=True``; a freed graph raises GraphError.
        rankdir: "LR" (data flows left to right) or "TB" (top to bottom).
        show_grads: add ``‖grad‖`` to every tensor whose ``.grad`` is set (leaves after ``backward()``,
            non-leaves that called ``retain_grad()``); a bool, as is show_values (else a TypeError).
        show_values: add each value's dtype and shape (and the value of size-1 tensors).
        graph_name: name of the digraph in the DOT source, a str (backslashes and quotes
            escaped, so that any name gives valid DOT; another type is a TypeError).
    Returns:
        graphviz.Digraph with one node per tensor, edges in data-flow order,
        one (nested) cluster per ``ag.scope`` name.
    """
    show_grads = flag(show_grads, "to_dot(show_grads=...)")  # (a str such as "no" would be truthy)
    show_values = flag(show_values, "to_dot(show_values=...)")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be one of 'LR', 'TB', 'RL', 'BT', got {rankdir!r}")
    if not isinstance(graph_name, str):
        raise TypeError(f"to_dot: graph_name must be a str, got {type(graph_name).__name__} "
                        f"{graph_name!r:.60}")
    nodes = walk_graph(t, "to_dot")
    try:
        import graphviz
    except ImportError:
        raise ImportError("to_dot needs the Python package graphviz: pip install graphviz") from None

    dot = _digraph(graphviz, graph_name, rankdir)
    node_id = {id(n): f"n{i}" for i, n in enumerate(nodes)}
    by_scope = {}  # scope tuple -> node statements (name, attributes) placed in its cluster
    for n in nodes:
        kind, lines = _node_lines(n)
        label = _label(n, kind, lines, show_grads, show_values)
        attributes = dict(_STYLE[kind], label=_literal(graphviz, label))
        attributes["class"] = kind
        if n is t:
            attributes["peripheries"] = "2"
        by_scope.setdefault(n._scope or (), []).append((node_id[id(n)], attributes))

    _add_clusters(dot, by_scope, lambda text: _literal(graphviz, text))
    names = {}  # (op, number of inputs) -> their names, looked up once per op
    for n in nodes:
        if n._prim is None:
            continue
        head, drawn = node_id[id(n)], drawn_inputs(n)
        # Two or more inputs: each edge names its operand, so x - 2x and 2x - x (x / y and y / x,
        # a user op's f(a, b) and f(b, a)) do not draw alike. Every such op is labelled, commutative
        # or not: nothing an op declares says whether its operands may be swapped.
        key = (n._prim, len(n._parents))
        if len(drawn) > 1 and key not in names:
            names[key] = input_names(*key)
        for position, p in drawn:
            attributes = _edge_attributes(n, position, names.get(key) if len(drawn) > 1 else None)
            if "label" in attributes:  # (a user's edge_labels may hold DOT's own escapes, \N, \G)
                attributes["label"] = _literal(graphviz, _visible(attributes["label"]))
            dot.edge(node_id[id(p)], head, **attributes)
    return dot


def _literal(graphviz, text):
    """``text`` as a DOT label that Graphviz draws as written: its backslashes escaped (``graphviz.escape``),
    and its ``&`` too, since Graphviz reads HTML entities even in plain labels (``W&#49;`` drew as W1)."""
    return graphviz.escape(text.replace("&", "&amp;"))


def _digraph(graphviz, graph_name, rankdir):
    """An empty ``graphviz.Digraph`` named ``graph_name`` (a str), with the drawing's fonts and spacing."""
    # (a backslash ending the name would escape DOT's closing quote: all are doubled, as in labels)
    dot = graphviz.Digraph(graphviz.escape(_visible(graph_name)))
    dot.attr(rankdir=rankdir, nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname="Helvetica", fontsize="10", margin="0.08,0.04")
    dot.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.7")
    return dot


def _add_clusters(dot, by_scope, escape):
    """Add each scope's nodes inside a cluster nested in its enclosing scope's cluster.

    Sorted scope tuples put every scope right after its enclosing one, so one
    pass that closes and opens ``subgraph cluster_k { ... }`` blocks nests them.
    """
    open_scope, count = (), 0
    for scope in sorted(by_scope):
        shared = 0
        while shared < min(len(open_scope), len(scope)) and open_scope[shared] == scope[shared]:
            shared += 1
        dot.body += ["}\n"] * (len(open_scope) - shared)
        for depth in range(shared + 1, len(scope) + 1):
            dot.body.append(f"subgraph cluster_{count} {{\n")
            dot.attr(label=escape(_visible(scope[depth - 1])), style="rounded,dashed", color="#9ca3af",
                     fontname="Helvetica", fontsize="11")
            count += 1
        open_scope = scope
        for name, attributes in by_scope[scope]:
            dot.node(name, **attributes)
    dot.body += ["}\n"] * len(open_scope)


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return "an unknown signal"


def draw(t, path, format=None, **options):
    """Render the graph of ``t`` to ``path`` with Graphviz's ``dot``; returns the written path.

    Args:
        t: Tensor whose graph is recorded (see ``to_dot``; after ``backward()``
            only with ``retain_graph=True``).
        path: output file (str, bytes or os.PathLike); the extension ``.<format>`` is added
            when missing (in any case: ``cost.SVG`` is written as it is).
        format: "svg", "png" or "pdf" (any case); None: the path's extension when it is one
            of those, else "svg".
        **options: passed to ``to_dot`` (rankdir, show_grads, show_values, graph_name).
    Returns:
        str, the path of the rendered file, the only file written (no DOT source is left
        or overwritten next to it).
    Raises:
        RuntimeError saying how to install Graphviz when ``dot`` is not on PATH; ``to_dot(t).source`` works without it.
        TypeError: a path that is not a str, bytes or os.PathLike.
        ValueError: an empty path, one ending in a separator (a folder), one naming an existing
            file that is not a regular file (a FIFO, socket or device), or an unknown format.
        IsADirectoryError: a path (with its extension) naming a folder.
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(t).__name__}")
    path = path_name("draw", path)
    extension = os.path.splitext(path)[1][1:].lower()  # cost.SVG is an .svg file, as Graphviz sees it
    if format is None:
        format = extension if extension in FORMATS else "svg"
    elif isinstance(format, str):
        format = format.lower()
    if format not in FORMATS:
        raise ValueError(f"draw: format must be one of {', '.join(FORMATS)}, got {format!r}")
    if extension in FORMATS and extension != format:
        raise ValueError(f"draw: the path {path!r} ends in .{extension} but format is {format!r}; "
                         "expected them to agree (or a path without one of those extensions)")
    if extension != format:
        path += "." + format
    existing_target("draw", path, path)  # before dot runs: a folder, FIFO or device is refused
    import graphviz

    dot = to_dot(t, **_draw_options(options))
    try:
        # Rendered to bytes, not with render(): that writes the DOT text to <stem>.gv next to
        # the output (overwriting and then deleting any such file of the user's).
        image = dot.pipe(format=format)
    except graphviz.ExecutableNotFound as error:
        raise RuntimeError(f"draw: Graphviz's `dot` program was not found on PATH, so the graph cannot "
                           f"be rendered; {_INSTALL_HINT}. The DOT text needs no Graphviz: "
                           "ag.to_dot(t).source") from error
    except graphviz.CalledProcessError as error:  # (its message is the whole command and dot's output)
        said = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        if error.returncode < 0:  # (a signal: the graph may be fine)
            raise RuntimeError(f"draw: Graphviz's `dot` was stopped by signal {-error.returncode} "
                               f"({_signal_name(-error.returncode)}) before it finished; nothing was written to "
                               f"{os.fspath(path)!r}") from None
        raise RuntimeError(f"draw: Graphviz's `dot` could not lay out this graph (exit status {error.returncode}: "
                           f"{said[0] if said else 'no message'}); "
                           "draw fewer steps or a smaller part of it, or lay out ag.to_dot(t).source with "
                           "another Graphviz engine") from None
    _write_only(path, image)
    return path


def _draw_options(options):
    """``draw``'s ``options`` for ``to_dot``, its yes/no ones checked first under draw's name, the
    function the user called."""
    for option in ("show_grads", "show_values"):
        if option in options:
            flag(options[option], f"draw({option}=...)")
    return options


def _write_only(path, content):
    """Write the bytes ``content`` to ``path``, touching no other file. ``dot`` has already run,
    so a render that fails leaves an existing ``path`` as it was."""
    folder = os.path.dirname(path) or os.curdir
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"draw: cannot write {path!r}: the folder {folder!r} does "
                                "not exist; expected an existing folder (create it first, e.g. "
                                "os.makedirs)", path)
    with open(path, "wb") as file:
        file.write(content)


def topological_order(root, inputs):
    """Tensors that lead to ``root``, each after all its inputs; ``inputs(t)`` lists the
    inputs to follow. Iterative, so graph depth is not bounded by recursion."""
    order, visited, stack = [], {id(root)}, [(root, iter(inputs(root)))]
    while stack:
        node, pending = stack[-1]
        for p in pending:
            if id(p) not in visited:
                visited.add(id(p))
                stack.append((p, iter(inputs(p))))
                break
        else:
            stack.pop()
            order.append(node)
    return order
