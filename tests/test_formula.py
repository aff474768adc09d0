"""ag.formula: the study's cost as the textbook LaTeX (typed here by hand),
minimal parenthesization, names, and rendering with matplotlib's mathtext."""
from io import BytesIO

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import GraphError
from autograd_lite.formula import name_latex
from models import manual, three_layer

STUDY_COST = (r"-\frac{1}{m}\sum\left(Y\log A^{[3]} + (1 - Y)\log(1 - A^{[3]})\right)"
              r" + \frac{\lambda}{2m}\left(\Vert W^{[1]}\Vert^2 + \Vert W^{[2]}\Vert^2"
              r" + \Vert W^{[3]}\Vert^2\right)")


def renders(latex):
    """mathtext parses and draws ``$latex$`` (raises otherwise)."""
    from matplotlib import mathtext
    mathtext.math_to_image(f"${latex}$", BytesIO(), format="png")
    return True


def study_cost(m=7):
    rng = np.random.default_rng(0)
    params = three_layer.initialize("reference")
    X = rng.uniform(-0.6, 0.3, (2, m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    masks = manual.reference_dropout_masks((20, 3), m, 0.86)
    return three_layer.cost(params, X, Y, lambd=0.7, keep_prob=0.86, masks=masks)


def test_the_study_cost_is_the_textbook_formula_and_renders():
    latex = ag.formula(study_cost())
    assert latex == STUDY_COST
    assert renders(latex)


def test_expanded_study_cost_goes_down_to_the_leaves_and_renders():
    a1 = r"\frac{\mathrm{ReLU}(W^{[1]} X + b^{[1]}) \odot D^{[1]}}{0.86}"
    a2 = r"\frac{\mathrm{ReLU}(W^{[2]} " + a1 + r" + b^{[2]}) \odot D^{[2]}}{0.86}"
    a3 = r"\sigma(W^{[3]} " + a2 + r" + b^{[3]})"
    expected = (r"-\frac{1}{m}\sum\left(Y\log(" + a3 + r") + (1 - Y)\log(1 - " + a3 + r")\right)"
                + STUDY_COST[STUDY_COST.index(r" + \frac{\lambda}"):])
    latex = ag.formula(study_cost(), expand=True)
    assert latex == expected
    assert renders(latex)


def test_named_intermediates_stop_the_expansion_but_the_formula_of_a_named_tensor_is_its_expression():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="W2")
    A = ag.Tensor(np.ones((2, 3)), requires_grad=True, name="A1")
    b = ag.Tensor(np.zeros((2, 1)), requires_grad=True, name="b2")
    Z = W @ A + b
    Z.name = "Z2"
    A2 = ag.relu(Z)
    assert ag.formula(Z) == r"W^{[2]} A^{[1]} + b^{[2]}"
    assert ag.formula(A2) == r"\mathrm{ReLU}(Z^{[2]})"
    assert ag.formula(A2, expand=True) == r"\mathrm{ReLU}(W^{[2]} A^{[1]} + b^{[2]})"


def test_dropout_is_the_inverted_dropout_term():
    A = ag.Tensor(np.ones((3, 4)), requires_grad=True, name="A1")
    mask = np.ones((3, 4), dtype=bool)
    assert ag.formula(ag.dropout(A, 0.86, mask=mask)) == r"\frac{A^{[1]} \odot D^{[1]}}{0.86}"


def test_single_weight_penalty_and_labels_given_as_a_plain_array():
    W = ag.Tensor(np.ones((1, 2)), requires_grad=True, name="W")
    a = ag.sigmoid(W @ np.ones((2, 3)))
    assert ag.formula(ag.l2_penalty([W], 0.1, 3)) == r"\frac{\lambda}{2m}\Vert W\Vert^2"
    bce = ag.formula(ag.binary_cross_entropy(a, np.array([[1.0, 0.0, 1.0]])))
    sigma = r"\sigma(W \mathrm{const}_{2\times 3})"
    assert bce == rf"-\frac{{1}}{{m}}\sum\left(Y\log({sigma}) + (1 - Y)\log(1 - {sigma})\right)"


@pytest.mark.parametrize("name, latex", [
    ("A3", "A^{[3]}"), ("W12", "W^{[12]}"), ("X", "X"), ("dW1", r"\mathrm{dW}^{[1]}"),
    ("cost", r"\mathrm{cost}"), ("b_1", r"\mathrm{b\_1}"),
])
def test_names(name, latex):
    assert name_latex(name) == latex


def _leaf(name, shape=(2, 2)):
    return ag.Tensor(np.full(shape, 0.5), requires_grad=True, name=name)


a, b, c, x, W, A, A2, W1 = (_leaf(n) for n in ("a", "b", "c", "x", "W", "A", "A2", "W1"))
D = ag.Tensor(np.ones((2, 2)), name="D")
CASES = [  # expression, LaTeX typed by hand with the fewest parentheses that keep the meaning
    (lambda: (a + b) * c, r"(a + b) \odot c"),
    (lambda: a - (b - c), r"a - (b - c)"),
    (lambda: a - b - c, r"a - b - c"),
    (lambda: a + (b + c), r"a + b + c"),
    (lambda: -(a + b), r"-(a + b)"),
    (lambda: a + (-b), r"a + (-b)"),
    (lambda: (-x) * a, r"(-x) \odot a"),
    (lambda: W @ (A * D), r"W (A \odot D)"),
    (lambda: (W @ A) * D, r"(W A) \odot D"),
    (lambda: a @ (b @ c), r"a b c"),
    (lambda: c * (a @ b), r"c \odot (a b)"),
    (lambda: 2 * x, r"2 x"),
    (lambda: x * 2, r"x \cdot 2"),
    (lambda: x ** 2, r"x^{2}"),
    (lambda: W1 ** 2, r"(W^{[1]})^{2}"),
    (lambda: (a + b) ** 2, r"(a + b)^{2}"),
    (lambda: a / (b + c), r"\frac{a}{b + c}"),
    (lambda: 1 / (1 + ag.exp(-x)), r"\frac{1}{1 + e^{-x}}"),
    (lambda: ag.log(a) * b, r"(\log a) \odot b"),
    (lambda: b * ag.log(a), r"b \odot \log a"),
    (lambda: ag.log(a + b), r"\log(a + b)"),
    (lambda: -ag.log(a), r"-\log a"),
    (lambda: ag.sigmoid(x), r"\sigma(x)"),
    (lambda: ag.tanh(x), r"\tanh(x)"),
    (lambda: ag.sqrt(a + b), r"\sqrt{a + b}"),
    (lambda: ag.sum(x), r"\sum x"),
    (lambda: ag.sum(a + b), r"\sum(a + b)"),
    (lambda: ag.sum(x, axis=1), r"\sum_{\mathrm{axis}=1} x"),
    (lambda: ag.mean(x), r"\mathrm{mean}(x)"),
    (lambda: A2.T, r"A^{[2]T}"),
    (lambda: (a + b).T, r"(a + b)^{T}"),
    (lambda: x + 1e-8, r"x + 1\times 10^{-8}"),
    (lambda: ag.maximum(a, b), r"\max(a, b)"),
    (lambda: abs(a), r"|a|"),
]


@pytest.mark.parametrize("build, expected", CASES, ids=[latex for _, latex in CASES])
def test_operators_and_functions_with_minimal_parentheses(build, expected):
    latex = ag.formula(build())
    assert latex == expected
    assert renders(latex)


def test_unnamed_parameters_and_user_primitives():
    @ag.primitive
    def soft_plus(v):
        return np.log1p(np.exp(v))

    soft_plus.defvjp(lambda g, out, v: g / (1 + np.exp(-v)))
    p, q = ag.Tensor([1.0], requires_grad=True), ag.Tensor([2.0], requires_grad=True)
    latex = ag.formula(soft_plus(p * q))
    assert latex == r"\mathrm{soft\_plus}(\theta_{1} \cdot \theta_{2})"
    assert renders(latex)


def test_a_freed_graph_raises():
    J = study_cost()
    J.backward()
    with pytest.raises(GraphError, match="formula: the graph .* was freed"):
        ag.formula(J)


def test_linear_prints_as_the_expression_it_fuses():
    W, A, b = (ag.Tensor(np.ones(shape), requires_grad=True, name=n) for n, shape in
               (("W2", (3, 4)), ("A1", (4, 5)), ("b2", (3, 1))))
    assert ag.formula(ag.linear(W, A, b)) == ag.formula(W @ A + b) == r"W^{[2]} A^{[1]} + b^{[2]}"
    assert ag.formula(ag.relu(ag.linear(W, A, b)) * 2.0) == r"\mathrm{ReLU}(W^{[2]} A^{[1]} + b^{[2]}) \cdot 2"


def test_formula_memory_grows_with_the_output_not_with_depth_squared():
    # A long chain: every intermediate term used to stay alive, so memory grew with depth
    # squared (4,000 ops: 63 MB for 32 KB of text). Now only the live terms are kept.
    import tracemalloc

    def peak_bytes(depth):
        x = ag.Tensor(np.ones(3), requires_grad=True, name="x")
        y = x
        for i in range(depth):
            y = ag.tanh(y) * 0.5 if i % 2 else y + 1.0
        tracemalloc.start()
        try:
            text = ag.formula(y, expand=True)
            return tracemalloc.get_traced_memory()[1], len(text)
        finally:
            tracemalloc.stop()

    small, small_text = peak_bytes(1000)
    large, large_text = peak_bytes(4000)
    assert large_text > 3.5 * small_text
    assert large < 8 * small            # quadratic growth would be about 16x
    assert large < 200 * large_text     # a small multiple of the text, not of depth * text
