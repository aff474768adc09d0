"""Review adv64 (drawings and formulas): a reused subexpression is written once under a name and the
formula's size is capped (F1), a primitive's keyword parameters off their defaults are a subscript (F2),
the shape ops print with their parameter (F3), a primitive's ``draw`` rule is checked (F4), scalar
constants are drawn by their shortest round-trip text (F5), and graph_name and names reach Graphviz
escaped and visible (F6). Expected texts are written by hand; values come from NumPy; what Graphviz
draws is read from its own SVG."""
import html
import os
import re
import subprocess
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import latex as tex
from oracles import needs_dot



def _leaf(name, values=(1.0, 2.0, 3.0)):
    return ag.Tensor(np.array(values), requires_grad=True, name=name)


def _newton(steps):
    """Newton's iteration for sqrt(a), y <- 0.5 (y + a / y): each step reads the running value twice."""
    a = ag.Tensor(2.0, requires_grad=True, name="a")
    y = a
    for _ in range(steps):
        y = 0.5 * (y + a / y)
    return y


# F1: shared subexpressions ----------------------------------------------------------------------
def test_a_reused_subexpression_is_defined_once_and_then_named():
    assert ag.formula(_newton(2)) == (r"y_{1} = 0.5 \left(a + \frac{a}{a}\right);\quad "
                                      r"0.5 \left(y_{1} + \frac{a}{y_{1}}\right)")


def test_a_40_step_loop_reading_its_value_twice_gives_one_definition_per_step():
    # in a child with capped memory: written out in full the text doubled each step (a bare MemoryError)
    child = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
        sys.path.insert(0, sys.argv[1])
        import autograd_lite as ag
        a = ag.Tensor(2.0, requires_grad=True, name="a")
        y = a
        for _ in range(40):
            y = 0.5 * (y + a / y)
        assert abs(float(y.data) - 2 ** 0.5) < 1e-12      # Newton's limit: sqrt(2)
        text = ag.formula(y)
        print(len(text), text.count(" = "), "y_{39} = " in text, "y_{40}" in text)
    """)
    root = str(Path(__file__).resolve().parent.parent)
    # one BLAS thread: OpenBLAS reserves ~41 MB of address space per thread when NumPy loads, one per CPU,
    # so on 40 or more CPUs the import alone would pass the cap
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", child, root], capture_output=True, text=True, timeout=120,
                       check=False, env=env)
    assert r.returncode == 0, r.stderr[-500:]
    length, definitions, last, beyond = r.stdout.split()
    assert (int(definitions), last, beyond) == (39, "True", "False")
    assert int(length) < 40 * 80  # (a few dozen characters a step)


def test_a_short_reused_subexpression_stays_written_out():
    s = ag.sin(_leaf("x"))
    assert ag.formula(s * s) == r"(\sin x) \odot \sin x"


def test_a_reused_named_tensor_is_defined_under_its_own_name_when_expanded():
    x = _leaf("x")
    h = ag.sin(x) + ag.exp(x) * x + ag.cos(x)
    h.name = "h"
    assert ag.formula(h * h) == r"h \odot h"
    assert ag.formula(h * h, expand=True) == r"h = \sin x + e^{x} \odot x + \cos x;\quad h \odot h"


def test_the_definitions_render_with_mathtext():
    mathtext = pytest.importorskip("matplotlib.mathtext")
    mathtext.math_to_image(f"${ag.formula(_newton(3))}$", BytesIO(), format="png")


def test_a_formula_past_the_size_cap_is_refused_naming_the_graph_size():
    twice = ag.Primitive(lambda a: a + a, "twice", vjps=(lambda g, out, a: 2 * g,),
                         latex=lambda t, node: tex.Term(f"{t[0].text} + {t[0].text}", tex.SUM))
    y = _leaf("x")
    for _ in range(22):  # the rule writes its input twice: about 4 * 2**22 characters in all
        y = twice(y)
    with pytest.raises(ValueError, match=r"formula: the expression of this graph \(23 tensors\)"):
        ag.formula(y)


def test_a_latex_rule_that_raises_is_named():
    p = ag.Primitive(lambda a: a, "ident", vjps=(lambda g, out, a: g,), latex=lambda t, node: t[5])
    with pytest.raises(IndexError, match="latex rule of op 'ident' raised IndexError"):
        ag.formula(p(_leaf("x")))


# F2: a primitive's keyword parameters --------------------------------------------------------------
@ag.primitive(name="scale")
def _scale(a, factor=1.0):
    return a * factor


_scale.defvjp(lambda g, out, a, factor=1.0: g * factor)


def test_a_primitives_keyword_parameter_off_its_default_is_a_subscript():
    x = _leaf("x")
    np.testing.assert_array_equal(_scale(x, factor=3.0).data, np.array([3.0, 6.0, 9.0]))
    assert ag.formula(_scale(x, factor=3.0)) == r"\mathrm{scale}_{\mathrm{factor}=3}(x)"


def test_a_primitives_keyword_parameter_at_its_default_is_left_out():
    assert ag.formula(_scale(_leaf("x"), factor=1.0)) == r"\mathrm{scale}(x)"


def test_a_compiled_replay_shows_no_saved_values_as_parameters():
    step = ag.compile(lambda a: ag.sin(a) * 2.0)
    a = _leaf("a")
    for _ in range(3):  # (the first call traces; later ones replay)
        out = step(a)
    assert ag.formula(out) == r"\mathrm{compiled{\ }<lambda>}(a)"


# F3: shape ops -----------------------------------------------------------------------------------
def test_the_sum_of_an_outer_product_of_reshaped_vectors_shows_the_shapes():
    u, v = _leaf("u"), _leaf("v", (4.0, 5.0, 6.0))
    outer = ag.sum(ag.reshape(u, (3, 1)) @ ag.reshape(v, (1, 3)))
    assert float(outer.data) == np.outer([1, 2, 3], [4, 5, 6]).sum()
    assert ag.formula(outer) == (r"\sum(\mathrm{reshape}_{\mathrm{shape}=(3, 1)}(u) "
                                 r"\mathrm{reshape}_{\mathrm{shape}=(1, 3)}(v))")


def test_the_inner_product_of_expanded_vectors_shows_the_new_axes():
    u, v = _leaf("u"), _leaf("v", (4.0, 5.0, 6.0))
    inner = ag.sum(ag.expand_dims(u, 0) @ ag.expand_dims(v, 1))
    assert float(inner.data) == np.dot([1, 2, 3], [4, 5, 6])
    assert ag.formula(inner) == (r"\sum(\mathrm{expand\_dims}_{\mathrm{axis}=0}(u) "
                                 r"\mathrm{expand\_dims}_{\mathrm{axis}=1}(v))")


def test_a_sum_of_a_broadcast_shows_the_broadcast():
    big = ag.sum(ag.broadcast_to(_leaf("u"), (4, 3)))
    assert float(big.data) == 4 * np.sum([1.0, 2.0, 3.0])
    assert ag.formula(big) == r"\sum(\mathrm{broadcast\_to}_{\mathrm{shape}=(4, 3)}(u))"


def test_squeeze_shows_its_axis_unless_at_its_default():
    column = ag.expand_dims(_leaf("u"), 0)
    assert ag.formula(ag.squeeze(column, axis=0)) == \
        r"\mathrm{squeeze}_{\mathrm{axis}=0}(\mathrm{expand\_dims}_{\mathrm{axis}=0}(u))"
    assert ag.formula(ag.squeeze(column)) == r"\mathrm{squeeze}(\mathrm{expand\_dims}_{\mathrm{axis}=0}(u))"


# F4: draw rules ----------------------------------------------------------------------------------
def _drawn_with(rule):
    p = ag.Primitive(lambda a: a * 2, "dbl", vjps=(lambda g, o, a: 2 * g,), draw=rule)
    t = p(_leaf("x"))
    t.name = "t"
    return t


@pytest.mark.parametrize("rule", [lambda n: ("fancy", ["my op"]), lambda n: ("op", []),
                                  lambda n: ("op", "my op"), lambda n: "op", lambda n: None,
                                  lambda n: ("op", ["my op", 3])],
                         ids=["unknown-role", "no-lines", "lines-as-str", "bare-str", "none", "non-str-line"])
def test_a_draw_rule_returning_something_else_than_role_and_lines_is_refused_naming_the_op(rule):
    expected = r"to_dot: the draw rule of op 'dbl' returned .*expected \(role, lines\)"
    with pytest.raises(TypeError, match=expected):
        ag.to_dot(_drawn_with(rule))


def test_a_draw_rule_that_raises_is_named_keeping_its_error_type():
    with pytest.raises(KeyError, match="draw rule of op 'dbl' raised KeyError"):
        ag.to_dot(_drawn_with(lambda n: {}["missing"]))


def test_a_well_formed_draw_rule_draws_its_lines():
    source = ag.to_dot(_drawn_with(lambda n: ("cost-term", ["my op", "line 2"]))).source
    assert 'label="t = my op\nline 2\n(3)" class="cost-term"' in source


# F5: constants -----------------------------------------------------------------------------------
def _constant_labels(source):
    return re.findall(r'label="?([^"]*?)"? class=constant', source)


@pytest.mark.parametrize("value", [0.99999, 1 / 3, 1e-08, 123456.789])
def test_a_scalar_constant_is_drawn_by_its_shortest_round_trip_text(value):
    assert _constant_labels(ag.to_dot(_leaf("x") * value).source) == [repr(value)]


def test_show_values_shows_a_constants_value_unrounded():
    label = _constant_labels(ag.to_dot(_leaf("x") * 0.9999999, show_values=True).source)[0]
    assert label.splitlines() == ["0.9999999", "float64 scalar = 0.9999999"]


def test_a_float32_constant_is_drawn_at_its_own_precision():
    x = ag.Tensor(np.ones(2, dtype=np.float32), requires_grad=True, name="x")
    assert _constant_labels(ag.to_dot(x * np.float32(0.1)).source) == [str(np.float32(0.1))]


# F6: text reaching Graphviz --------------------------------------------------------------------------
def _svg(source):
    r = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def _texts(svg):
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


def test_a_graph_name_that_is_not_a_str_is_refused_naming_to_dot():
    with pytest.raises(TypeError, match="to_dot: graph_name must be a str, got int"):
        ag.to_dot(_leaf("x") * 2, graph_name=123)


@needs_dot
@pytest.mark.parametrize("graph_name, title", [("net\\", "net\\\\"), ('a"b', 'a"b'), ("x y", "x y")])
def test_a_graph_name_with_a_backslash_or_quote_gives_valid_dot(graph_name, title):
    svg = _svg(ag.to_dot(_leaf("x") * 2, graph_name=graph_name).source)
    assert html.unescape(re.search(r"<title>(.*?)</title>", svg).group(1)) == title


@needs_dot
def test_a_name_holding_a_lone_surrogate_is_drawn_as_its_code_point(tmp_path):
    path = ag.draw(ag.exp(_leaf("bad\ud800", (1.0,))), str(tmp_path / "s.svg"))
    assert "bad⟨U+D800⟩" in _texts(Path(path).read_text(encoding="utf-8"))


@needs_dot
def test_a_nul_in_a_name_is_drawn_as_its_code_point():
    assert "a⟨U+0000⟩b" in _texts(_svg(ag.to_dot(ag.exp(_leaf("a\x00b", (1.0,)))).source))


def test_draw_reports_a_layout_dot_gives_up_on(tmp_path, monkeypatch):
    # (Graphviz 2.43 gives up on the 200-step graph of test_viz after 100 s: a stand-in `dot` says so at once)
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: trouble in init_rank' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    x = ag.Tensor(np.ones(2), requires_grad=True, name="x")
    with pytest.raises(RuntimeError, match=r"draw: Graphviz's `dot` could not lay out this graph \(exit status 1: "
                                           r"Error: trouble in init_rank\)"):
        ag.draw(ag.sum(x * 2), str(tmp_path / "g.svg"))
    assert not (tmp_path / "g.svg").exists()
