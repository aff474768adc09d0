"""ag.to_dot / ag.draw: structure of the DOT source, roles, dropout and cost-term
labels, scopes as clusters, rendering with the real `dot`, and its absence."""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import GraphError

NODE = re.compile(r'^\s*(n\d+) \[label=("(?:[^"\\]|\\.)*"|[^\s\]]+)(.*?)\]$', re.MULTILINE | re.DOTALL)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?$", re.MULTILINE)


def nodes(dot):
    """{node id: (label, attribute text)} parsed from a Digraph's source."""
    return {m.group(1): (m.group(2).strip('"'), m.group(3)) for m in NODE.finditer(dot.source)}


def edges(dot):
    return [(m.group(1), m.group(2), m.group(3) or "") for m in EDGE.finditer(dot.source)]


def by_label(dot):
    """{label: node id}; labels must be unique in the graph under test."""
    found = {label: name for name, (label, _) in nodes(dot).items()}
    assert len(found) == len(nodes(dot)), "labels are not unique in this test graph"
    return found


def attribute(dot, node_id, key):
    match = re.search(rf'\b{key}=("[^"]*"|\S+)', nodes(dot)[node_id][1])
    return None if match is None else match.group(1).strip('"')


def small_expression():
    """sum(0.5 * relu(W @ X)): 7 tensors, 6 edges (counted by hand)."""
    rng = np.random.default_rng(0)
    W = ag.Tensor(rng.standard_normal((2, 3)), requires_grad=True, name="W")
    X = ag.Tensor(rng.standard_normal((3, 4)), name="X")
    return W, X, ag.sum(0.5 * ag.relu(W @ X))


def test_known_small_expression_gives_one_node_per_tensor_with_op_and_shape():
    _, _, out = small_expression()
    dot = ag.to_dot(out)
    labels = by_label(dot)
    assert set(labels) == {"W\n(2, 3)", "X\n(3, 4)", "matmul (@)\n(2, 4)", "relu\n(2, 4)", "0.5",
                           "multiply (*)\n(2, 4)", "sum\nscalar"}
    flow = {(a, b) for a, b, _ in edges(dot)}
    expected = [("W\n(2, 3)", "matmul (@)\n(2, 4)"), ("X\n(3, 4)", "matmul (@)\n(2, 4)"),
                ("matmul (@)\n(2, 4)", "relu\n(2, 4)"), ("0.5", "multiply (*)\n(2, 4)"),
                ("relu\n(2, 4)", "multiply (*)\n(2, 4)"), ("multiply (*)\n(2, 4)", "sum\nscalar")]
    assert flow == {(labels[a], labels[b]) for a, b in expected}
    assert len(edges(dot)) == 6
    # the output is marked with a double border
    assert attribute(dot, labels["sum\nscalar"], "peripheries") == "2"
    assert 'rankdir=LR' in dot.source and 'rankdir=TB' in ag.to_dot(out, rankdir="TB").source


def test_parameters_data_constants_and_ops_are_drawn_apart():
    _, _, out = small_expression()
    dot = ag.to_dot(out)
    labels = by_label(dot)
    roles = {name: attribute(dot, labels[label], "class") for name, label in
             [("W", "W\n(2, 3)"), ("X", "X\n(3, 4)"), ("0.5", "0.5"), ("matmul", "matmul (@)\n(2, 4)")]}
    assert roles == {"W": "parameter", "X": "data", "0.5": "constant", "matmul": "op"}
    looks = {name: (attribute(dot, labels[label], "shape"), attribute(dot, labels[label], "fillcolor"))
             for name, label in [("W", "W\n(2, 3)"), ("X", "X\n(3, 4)"), ("0.5", "0.5"),
                                 ("matmul", "matmul (@)\n(2, 4)")]}
    assert len(set(looks.values())) == 4, looks


def test_dropout_node_shows_keep_prob_and_the_share_its_mask_kept():
    a = ag.Tensor(np.ones((4, 5)), requires_grad=True, name="a")
    mask = np.zeros((4, 5), dtype=bool)
    mask.flat[:14] = True  # 14 of 20 units kept
    out = ag.dropout(a, 0.7, mask=mask)
    label, attributes = nodes(ag.to_dot(out))["n1"]
    assert label == "dropout\nkeep_prob = 0.7\nkept 14/20 = 70.0%\n(4, 5)"
    assert "class=dropout" in attributes


def test_cross_entropy_and_l2_penalty_are_labelled_terms_and_the_logits_edge_is_dashed():
    rng = np.random.default_rng(1)
    W = ag.Tensor(rng.standard_normal((1, 2)), requires_grad=True, name="W1")
    X = ag.Tensor(rng.standard_normal((2, 4)), name="X")
    Y = ag.Tensor([[1.0, 0.0, 1.0, 0.0]], name="Y")
    Z = W @ X
    Z.name = "Z1"
    A = ag.sigmoid(Z)
    J = ag.binary_cross_entropy(A, Y) + ag.l2_penalty([W], 0.7, 4)
    dot = ag.to_dot(J)
    labels = by_label(dot)
    bce = labels["cross-entropy\n-(1/m) Σ (y log a + (1-y) log(1-a))\nm = 4\nscalar"]
    l2 = labels["L2 penalty\n(λ/2m) Σ ‖W‖²\nλ = 0.7, m = 4\nscalar"]
    assert attribute(dot, bce, "class") == attribute(dot, l2, "class") == "cost-term"
    into_bce = {tail: style for tail, head, style in edges(dot) if head == bce}
    assert set(into_bce) == {labels["sigmoid\n(1, 4)"], labels["Y\n(1, 4)"], labels["Z1 = matmul (@)\n(1, 4)"]}
    logits_edge = into_bce[labels["Z1 = matmul (@)\n(1, 4)"]]
    assert "style=dashed" in logits_edge and 'label="grad (a-y)/m"' in logits_edge
    assert "dashed" not in into_bce[labels["sigmoid\n(1, 4)"]]


def clusters_of(source):
    """{first label line: enclosing cluster labels, outermost first}, from brace nesting."""
    where, stack = {}, []
    for line in source.splitlines():
        if line.startswith("subgraph cluster_"):
            stack.append(None)
        elif line.strip() == "}" and stack:
            stack.pop()
        elif (label := re.match(r'\s*\w+=.*\blabel=("[^"]*"|\S+)', line)) and stack:
            stack[-1] = label.group(1).strip('"')
        elif node := re.match(r'\s*n\d+ \[label="([^"\n]*)', line):
            where[node.group(1)] = tuple(stack)
    return where


def test_scopes_become_nested_clusters():
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="x")
    with ag.scope("net"):
        with ag.scope("layer1"):
            h = ag.relu(x)
        with ag.scope("layer2"):
            y = ag.tanh(h)
        z = ag.exp(y)
    out = ag.sum(z)
    where = clusters_of(ag.to_dot(out).source)
    assert where == {"x": (), "relu": ("net", "layer1"), "tanh": ("net", "layer2"), "exp": ("net",),
                     "sum": ()}


def test_show_grads_after_backward_with_retain_graph_shows_gradient_norms():
    W = ag.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")
    H = W * W
    H.retain_grad()
    out = ag.sum(H)
    out.backward(retain_graph=True)
    labels = nodes(ag.to_dot(out, show_grads=True))
    by_first_line = {label.split("\n")[0]: label for label, _ in labels.values()}
    # d sum(W*W) / dW = 2W, ||2W|| = 2 sqrt(30); d out / dH = ones, ||ones(2,2)|| = 2
    assert by_first_line["W"].endswith(f"‖grad‖ = {2 * np.sqrt(30):.3g}")
    assert by_first_line["multiply (*)"].endswith("‖grad‖ = 2")
    assert "‖grad‖" not in ag.to_dot(out).source


def test_show_values_adds_dtype_and_value_of_scalars():
    w = ag.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, name="w")
    out = ag.sum(w)
    labels = [label for label, _ in nodes(ag.to_dot(out, show_values=True)).values()]
    assert sorted(labels) == ["sum\nfloat32 scalar = 6", "w\nfloat32 (2, 3)"]


def test_a_freed_graph_raises_instead_of_drawing_a_truncated_one():
    _, _, out = small_expression()
    out.backward()
    with pytest.raises(GraphError, match="freed by backward.*retain_graph=True"):
        ag.to_dot(out)


def test_names_that_look_like_html_or_escapes_stay_plain_text():
    x = ag.Tensor([1.0], requires_grad=True, name="<b>")
    source = ag.to_dot(ag.sum(x)).source
    assert 'label="<b>' in source


def test_bad_arguments_are_named():
    _, _, out = small_expression()
    with pytest.raises(ValueError, match="rankdir"):
        ag.to_dot(out, rankdir="up")
    with pytest.raises(ValueError, match="format"):
        ag.draw(out, "graph", format="jpeg")
    with pytest.raises(TypeError, match="to_dot: expected a Tensor"):
        ag.to_dot(np.ones(3))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_draw_renders_a_file_with_the_real_dot(tmp_path, fmt, magic):
    W, _, out = small_expression()
    path = ag.draw(out, tmp_path / "graph", format=fmt)
    assert path == str(tmp_path / f"graph.{fmt}")
    content = (tmp_path / f"graph.{fmt}").read_bytes()
    assert content.startswith(magic) and len(content) > 500
    if fmt == "svg":
        assert 'class="node parameter"' in content.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"graph.{fmt}"]  # no DOT file left behind


def test_draw_without_dot_says_how_to_install_it_and_to_dot_still_works(tmp_path, monkeypatch):
    _, _, out = small_expression()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RuntimeError, match=r"`dot` program was not found.*apt-get install graphviz"):
        ag.draw(out, tmp_path / "graph", format="svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no DOT file left behind either
    assert "matmul" in ag.to_dot(out).source


def test_importing_the_package_loads_neither_graphviz_nor_matplotlib():
    code = ("import sys, autograd_lite as ag; ag.formula; "
            "print(sorted(m for m in ('graphviz', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def unrolled_net(steps, layers=5, width=8, m=16):
    """An L-layer net applied `steps` times in a row, each step adding its cost:
    7 tensors per layer and step, plus the leaves."""
    rng = np.random.default_rng(0)
    params = [(ag.Tensor(rng.standard_normal((width, width)) * 0.3, requires_grad=True, name=f"W{l}"),
               ag.Tensor(np.zeros((width, 1)), requires_grad=True, name=f"b{l}")) for l in range(1, layers + 1)]
    A = ag.Tensor(rng.standard_normal((width, m)), name="X")
    total = 0.0
    for step in range(steps):
        with ag.scope(f"step{step}"):
            for l, (W, b) in enumerate(params, 1):
                with ag.scope(f"layer{l}"):
                    A = ag.relu(W @ A + b)
            total = total + ag.mean(A * A)
    return total


def test_a_graph_of_thousands_of_nodes_is_drawn_whole():
    # (how long it takes is README's measurement, not a test's: timings move with the machine's load)
    cost = unrolled_net(steps=200)
    dot = ag.to_dot(cost, show_values=True)
    assert len(nodes(dot)) == 3612  # (every node of the 200 steps: the count README quotes)


def test_a_very_deep_chain_needs_no_recursion():
    x = ag.Tensor([1.0], requires_grad=True, name="x")
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = ag.tanh(y)
    assert len(nodes(ag.to_dot(y))) == sys.getrecursionlimit() * 3 + 1


def test_linear_is_one_op_node_fed_by_weights_inputs_and_bias():
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True, name="W")
    X = ag.Tensor(np.ones((3, 4)), name="X")
    b = ag.Tensor(np.zeros((2, 1)), requires_grad=True, name="b")
    dot = ag.to_dot(ag.linear(W, X, b))
    labels = by_label(dot)
    assert set(labels) == {"W\n(2, 3)", "X\n(3, 4)", "b\n(2, 1)", "linear\n(2, 4)"}
    assert {(a, b_) for a, b_, _ in edges(dot)} == {(labels[n], labels["linear\n(2, 4)"])
                                                     for n in ("W\n(2, 3)", "X\n(3, 4)", "b\n(2, 1)")}
