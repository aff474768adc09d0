"""Review 37 (drawings and formulas): operands marked on the edges (F1), a prefix function closed
before the next factor (F2), a graph recorded before an in-place update refused (F3), the
parameters that change a value shown (F6), bad primitive names and latex rules (F7).
Expected texts are written by hand."""
import re

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import latex as tex


def _leaf(name, shape=(2, 2), offset=1.0):
    return ag.Tensor(np.arange(np.prod(shape), dtype=float).reshape(shape) + offset, requires_grad=True, name=name)


# F2: a prefix function followed by another factor is closed ------------------------------------
@pytest.mark.parametrize("build, expected", [
    (lambda x, y, z, s: (y * ag.log(x)) * z, r"y \odot (\log x) \odot z"),
    (lambda x, y, z, s: ag.log(x) * z, r"(\log x) \odot z"),
    (lambda x, y, z, s: y * ag.log(x), r"y \odot \log x"),               # nothing follows: stays open
    (lambda x, y, z, s: (y @ ag.sin(x)) @ z, r"y (\sin x) z"),
    (lambda x, y, z, s: (s * ag.sum(x)) * z, r"s \cdot \left(\sum x\right) \cdot z"),
    (lambda x, y, z, s: y * (z * ag.cos(x)) * s, r"y \odot z \odot (\cos x) \cdot s"),
])
def test_a_prefix_function_inside_a_product_is_closed_before_the_next_factor(build, expected):
    x, y, z = _leaf("x"), _leaf("y", offset=5), _leaf("z", offset=9)
    s = ag.Tensor(2.0, requires_grad=True, name="s")
    assert ag.formula(build(x, y, z, s)) == expected


def test_a_dropout_of_a_product_ending_in_a_prefix_term_closes_it():
    x, y = _leaf("x"), _leaf("A1", offset=5)
    mask = np.array([[1.0, 0.0], [1.0, 1.0]])
    out = ag.dropout(y * ag.log(x), 0.5, mask=mask)
    assert ag.formula(out) == r"\frac{A^{[1]} \odot (\log x) \odot D}{0.5}"


def test_a_prefix_term_made_by_a_user_rule_is_closed_too():
    # a Term of precedence PREFIX written by hand (no tail given) is open at its end, as \log x is
    p = ag.Primitive(lambda a: np.log(a), "ln", latex=lambda t, node: tex.Term(r"\ln " + t[0].text, tex.PREFIX))
    p.defvjp(lambda g, out, a: g / a)
    x, y = _leaf("x"), _leaf("y")
    assert ag.formula(p(x) * y) == r"(\ln x) \odot y"


# F1: the edges into an op of two or more inputs name the operands ---------------------------------
def _edges_into(source, head):
    """{tail: edge attribute text} of the edges into node ``head``."""
    return {tail: attrs or "" for tail, h, attrs in re.findall(r"(n\d+) -> (n\d+)(?: \[(.*?)\])?\n", source)
            if h == head}


def _node(source, label):
    return re.search(rf'(n\d+) \[label="?{re.escape(label)}', source).group(1)


@pytest.mark.parametrize("op, label, first, second", [
    (lambda a, b: a - b, "subtract (-)", "x", "y"), (lambda a, b: a / b, "divide (/)", "x", "y"),
    (lambda a, b: a @ b, "matmul (@)", "a", "b"), (lambda a, b: a ** b, "power (**)", "x", "p"),
    (lambda a, b: a + b, "add (+)", "x", "y"),  # commutative ones too: no op declares that it is
])
def test_drawing_tells_the_operands_of_a_two_input_op_apart(op, label, first, second):
    x = _leaf("x")
    two_x = x * 2
    two_x.name = "twice"
    for first_tail, second_tail in (("x", "twice"), ("twice", "x")):
        a, b = (x, two_x) if first_tail == "x" else (two_x, x)
        source = ag.to_dot(op(a, b)).source
        into = _edges_into(source, _node(source, label))
        assert into == {_node(source, first_tail): f"label={first}", _node(source, f"{second_tail} = ")
                        if second_tail == "twice" else _node(source, second_tail): f"label={second}"}, source


def test_a_user_primitive_edges_carry_its_forward_parameter_names():
    def blend(a, b, c):
        return a + 2 * b + 3 * c
    p = ag.Primitive(blend, "blend").defvjp(lambda g, out, a, b, c: g, lambda g, out, a, b, c: 2 * g,
                                            lambda g, out, a, b, c: 3 * g)
    x, y = _leaf("x"), _leaf("y")
    source = ag.to_dot(p(y, x, y)).source
    into = re.findall(r"(n\d+) -> (n\d+) \[label=(\w)\]", source)
    assert sorted((tail, label) for tail, _, label in into) == sorted(
        [(_node(source, "y"), "a"), (_node(source, "x"), "b"), (_node(source, "y"), "c")])


def test_a_variadic_op_names_its_inputs_by_position_and_one_input_ops_stay_unlabelled():
    x, y = _leaf("x"), _leaf("y")
    source = ag.to_dot(ag.exp(ag.stack([y, x]))).source
    head = _node(source, "stack")
    assert _edges_into(source, head) == {_node(source, "y"): 'label="arrays[0]"',
                                         _node(source, "x"): 'label="arrays[1]"'}
    assert list(_edges_into(source, _node(source, "exp")).values()) == [""]


def test_dropout_and_cross_entropy_keep_their_own_edge_labels():
    a = ag.sigmoid(_leaf("z", (1, 4), offset=-5))
    y = ag.Tensor([[0.0, 1.0, 1.0, 0.0]], name="Y")
    kept = ag.dropout(a, 0.5, mask=np.array([[1.0, 0.0, 1.0, 1.0]]))
    source = ag.to_dot(ag.binary_cross_entropy(kept, y)).source
    assert list(_edges_into(source, _node(source, "dropout")).values()) == [""]  # the mask is not drawn
    labels = sorted(_edges_into(source, _node(source, "cross-entropy")).values())
    assert labels == ["label=a", "label=y"]


# F3: a graph recorded before an in-place change is refused, as backward() refuses it -------------
def _recorded_then_updated(record_update):
    v = ag.Tensor([1.0, 2.0], requires_grad=True, name="v")
    w = ag.Tensor([10.0, 10.0], requires_grad=True, name="w")
    t = ag.Tensor([3.0, 4.0], name="t")
    y = t * v                      # y = t_old * v
    if record_update:
        t += w                     # recorded: t becomes add(t_old, w), a history y never had
    else:
        with ag.no_grad():
            t += 1.0               # t's value is no longer the one y used
    return y, t


@pytest.mark.parametrize("record_update", [True, False])
@pytest.mark.parametrize("show, caller", [(lambda y: ag.formula(y, expand=True), "formula"),
                                          (lambda y: ag.formula(y), "formula"),
                                          (lambda y: ag.to_dot(y), "to_dot")])
def test_a_graph_recorded_before_an_inplace_update_is_refused_naming_the_tensor(record_update, show, caller):
    y, t = _recorded_then_updated(record_update)
    with pytest.raises(ag.InplaceModificationError) as refused:
        show(y)
    message = str(refused.value)
    assert message.startswith(f"{caller}: op 'multiply'")
    assert "input 0 (shape (2,), 't') was modified in place after the op was recorded" in message
    assert "draw the graph before updating it, or recompute the forward pass" in message
    with pytest.raises(ag.InplaceModificationError):  # the same refusal as backward()'s
        y.sum().backward()


def test_the_updated_tensor_itself_and_a_recomputed_graph_still_draw():
    v = ag.Tensor([1.0, 2.0], requires_grad=True, name="v")
    w = ag.Tensor([10.0, 10.0], requires_grad=True, name="w")
    t = ag.Tensor([3.0, 4.0], name="t")
    t * v
    t += w
    assert ag.formula(t, expand=True) == r"\mathrm{const}_{2} + w"  # its own new history
    assert ag.formula(t * v, expand=True) == r"(\mathrm{const}_{2} + w) \odot v"
    assert ag.formula(t * v) == r"t \odot v"


# F6: the parameters that change a value are shown ------------------------------------------------
@pytest.mark.parametrize("index, expected", [
    ([0], r"x_{[[0]]}"), ([1], r"x_{[[1]]}"),
    ((Ellipsis, 0), r"x_{[\ldots, 0]}"), (([1, 1], 0), r"x_{[[1, 1], 0]}"),
    ((slice(None), slice(0, 1)), r"x_{[:, 0:1]}"), ((slice(None), slice(None, None, 2)), r"x_{[:, ::2]}"),
    (np.array([[0], [1]]), r"x_{[[[0], [1]]]}"), ((None, 1), r"x_{[\mathrm{new}, 1]}"),
    (np.array([True, False]), r"x_{[[\mathrm{True}, \mathrm{False}]]}"),
])
def test_an_index_prints_by_its_entries(index, expected):
    x = _leaf("x", (2, 3))
    assert ag.formula(x[index]) == expected


def test_a_huge_index_array_prints_numpys_summary():
    x = _leaf("x", (100,))
    assert ag.formula(x[np.arange(40)]) == r"x_{[[0, 1, 2, \ldots, 37, 38, 39]]}"


def test_params_subscript_shows_the_parameters_off_their_declared_defaults():
    x = _leaf("x", (2, 3))
    assert tex.params_subscript(ag.var(x), "axis", "ddof") == ""
    assert tex.params_subscript(ag.var(x, ddof=0), "axis", "ddof") == ""
    assert tex.params_subscript(ag.var(x, 1, ddof=1), "axis", "ddof") == r"_{\mathrm{axis}=1, \mathrm{ddof}=1}"
    assert tex.params_subscript(ag.leaky_relu(x, 0.3), "negative_slope") == r"_{\mathrm{negative\_slope}=0.3}"
    assert tex.params_subscript(ag.transpose(x, (1, 0)), "axes") == r"_{\mathrm{axes}=(1, 0)}"


@pytest.mark.parametrize("build, expected", [
    (lambda x: ag.var(x, ddof=1), r"\mathrm{Var}_{\mathrm{ddof}=1}(x)"),
    (lambda x: ag.std(x, 1, ddof=1), r"\mathrm{std}_{\mathrm{axis}=1, \mathrm{ddof}=1}(x)"),
    (lambda x: ag.leaky_relu(x, 0.3), r"\mathrm{LeakyReLU}_{\mathrm{negative\_slope}=0.3}(x)"),
    (lambda x: ag.transpose(x[None], (1, 2, 0)), r"\mathrm{transpose}_{\mathrm{axes}=(1, 2, 0)}(x_{[\mathrm{new}]})"),
])
def test_the_op_tables_parameters_print(build, expected):
    assert ag.formula(build(_leaf("x", (2, 3), offset=-3.5))) == expected


def test_unchanged_formulas_for_default_parameters():
    x = _leaf("x", (2, 3), offset=-3.5)
    assert ag.formula(ag.var(x)) == ag.formula(ag.var(x, ddof=0)) == r"\mathrm{Var}(x)"
    assert ag.formula(ag.leaky_relu(x)) == r"\mathrm{LeakyReLU}(x)"
    assert ag.formula(ag.transpose(x)) == r"x^{T}"


def _getitem_label(t):
    return re.search(r'label="getitem\n([^"]*)"', ag.to_dot(t).source).group(1)


def test_different_slices_draw_differently():
    x = _leaf("x", (2, 3))
    assert _getitem_label(x[:, 0:1]) == "index=(:, 0:1)\n(2, 1)"
    assert _getitem_label(x[:, 2:3]) == "index=(:, 2:3)\n(2, 1)"
    assert _getitem_label(x[[1, 0]]) == "index=[1, 0]\n(2, 3)"
    assert _getitem_label(x[..., np.array([True, False, True])]) == "index=(..., [True, False, True])\n(2, 2)"


def test_a_long_parameter_is_cut_short_never_dropped():
    x = _leaf("x", (1000,))
    index = np.arange(0, 1000, 37)                   # 28 entries: all of them, 118 characters
    line = _getitem_label(x[index]).split("\n")[0]
    assert len(line) == 80 and line.endswith("…")
    assert line[:-1] == ("index=[" + ", ".join(str(i) for i in index) + "]")[:79]


# F7: a primitive's name must be a str; a latex rule may return a str --------------------------------
@pytest.mark.parametrize("name", [123, b"cube", 1.5])
def test_a_primitive_name_that_is_no_str_is_refused_at_construction(name):
    def cube(a):
        return a ** 3
    with pytest.raises(TypeError) as refused:
        ag.Primitive(cube, name)
    assert str(refused.value) == (f"Primitive: name must be a str, got {type(name).__name__} {name!r} (for the "
                                  "forward test_a_primitive_name_that_is_no_str_is_refused_at_construction"
                                  ".<locals>.cube); expected a str, or None for the forward's own name")
    with pytest.raises(TypeError, match="name must be a str"):
        ag.primitive(cube, name=name)


def _doubled(rule):
    p = ag.Primitive(lambda a: a * 2, "dbl", latex=rule)
    return p.defvjp(lambda g, out, a: 2 * g)


@pytest.mark.parametrize("build, expected", [
    (lambda p, x: p(x), "2x"),
    (lambda p, x: p(x) + 1, "2x + 1"),
    (lambda p, x: p(x) * x, r"(2x) \odot x"),      # a str that is no single symbol binds weakest
    (lambda p, x: p(x) ** 2, r"(2x)^{2}"),
])
def test_a_latex_rule_returning_a_str_is_taken_as_a_term(build, expected):
    x = _leaf("x")
    assert ag.formula(build(_doubled(lambda terms, node: "2" + terms[0].text), x)) == expected


def test_a_latex_rule_returning_a_single_symbol_str_needs_no_parentheses():
    x = _leaf("x")
    p = _doubled(lambda terms, node: r"\alpha")
    assert ag.formula(p(x) * x) == r"\alpha \odot x"
    assert ag.formula(p(x) ** 2) == r"\alpha^{2}"


def test_a_latex_rule_returning_something_else_is_refused_naming_the_op():
    p = _doubled(lambda terms, node: 5)
    with pytest.raises(TypeError, match=re.escape("formula: the latex rule of op 'dbl' returned int 5; "
                                                  "expected a str or an autograd_lite.latex.Term")):
        ag.formula(p(_leaf("x")))


def test_the_new_texts_render_with_mathtext():
    from io import BytesIO
    from matplotlib import mathtext
    x = _leaf("x", (2, 3))
    for t in (x[np.array([True, False])], x[..., [0, 2]], (_leaf("y", (2, 3)) * ag.log(x)) * x):
        mathtext.math_to_image(f"${ag.formula(t)}$", BytesIO(), format="png")
    mathtext.math_to_image("$" + tex.params_subscript(ag.leaky_relu(x, 0.3), "negative_slope") + "$",
                           BytesIO(), format="png")


@pytest.mark.parametrize("text, expected", [("k", r"k \odot x"), ("0.5", r"0.5 \odot x"), ("xy", r"(xy) \odot x")])
def test_only_a_single_letter_number_or_command_counts_as_one_symbol(text, expected):
    x = _leaf("x")
    assert ag.formula(_doubled(lambda terms, node: text)(x) * x) == expected
