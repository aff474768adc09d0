"""Round 20 (adv122 #1-#4, #7, #8): what ``ag.formula`` and ``ag.to_dot`` leave out, and a custom VJP's
own errors under create_graph.

- #1 every reduction's keepdims=True is part of its formula, which then reads back as the tensor's shape
- #2/#8 a parameter off its declared default shows in the formula and in the drawing, by one rule
  (softmax(axis=None), a custom keyword's False or None, A[None]'s index)
- #3 a one-element constant that adds axes by broadcasting prints with its shape
- #4 distinct data get distinct symbols (two dropout masks, unnamed labels vs a tensor named Y, D1 vs a mask)
- #7 a VJP's own ValueError / TypeError passes through create_graph unchanged
"""
import io
import re

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import latex as tex

pytest.importorskip("graphviz")


def _matrix():
    return ag.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="A")


def _boxes(t):
    return [box.replace("\n", " | ") for box in re.findall(r'label="([^"]*)"', ag.to_dot(t).source)]


# 1. keepdims=True in every reduction's formula ------------------------------------------------------------
KEPT = r"\mathrm{axis}=1, \mathrm{keepdims}=\mathrm{True}"


@pytest.mark.parametrize("op, written", [
    (ag.sum, r"\sum_{%s} A"), (ag.mean, r"\mathrm{mean}_{%s}(A)"), (ag.max, r"\max_{%s}(A)"),
    (ag.min, r"\min_{%s}(A)"), (ag.logsumexp, r"\log\sum_{%s} \exp(A)"), (ag.var, r"\mathrm{Var}_{%s}(A)"),
    (ag.std, r"\mathrm{std}_{%s}(A)")], ids=lambda v: getattr(v, "name", None))
def test_keepdims_true_is_a_subscript_of_every_reduction(op, written):
    A = _matrix()
    kept, dropped = op(A, axis=1, keepdims=True), op(A, axis=1)
    assert ag.formula(kept) == written % KEPT
    assert ag.formula(dropped) == written % r"\mathrm{axis}=1"  # (the default is left out, as before)
    assert kept.shape == (2, 1) and dropped.shape == (2,)


def test_a_reduction_kept_or_not_gives_two_formulas_for_two_values():
    A = _matrix()
    t1, t2 = A - ag.sum(A, axis=1, keepdims=True), A - ag.sum(A, axis=1)
    assert not np.array_equal(t1.data, t2.data)
    assert ag.formula(t1) == r"A - \sum_{%s} A" % KEPT
    assert ag.formula(t1) != ag.formula(t2)


def test_var_shows_keepdims_beside_ddof_in_the_order_of_its_call():
    A = _matrix()
    assert ag.formula(ag.std(A, axis=0, keepdims=True, ddof=1)) == \
        r"\mathrm{std}_{\mathrm{axis}=0, \mathrm{keepdims}=\mathrm{True}, \mathrm{ddof}=1}(A)"


# 2 and 8. a parameter off its declared default, in the formula and in the drawing ------------------------
@pytest.mark.parametrize("op, name", [(ag.softmax, r"\mathrm{softmax}"), (ag.log_softmax, r"\log\mathrm{softmax}")])
def test_softmax_over_all_entries_prints_its_axis(op, name):
    A = _matrix()
    assert not np.allclose(op(A, axis=None).data, op(A).data)
    assert ag.formula(op(A, axis=None)) == name + r"_{\mathrm{axis}=\mathrm{None}}(A)"
    assert ag.formula(op(A)) == name + "(A)"
    assert ag.formula(op(A, axis=0)) == name + "(A)"  # (0 is the default)
    assert ag.formula(op(A, axis=1)) == name + r"_{\mathrm{axis}=1}(A)"


def test_softmax_over_all_entries_draws_its_axis():
    A = _matrix()
    assert _boxes(ag.softmax(A, axis=None))[1] == "softmax | axis=None | (2, 2)"
    assert _boxes(ag.softmax(A))[1] == "softmax | (2, 2)"


def _flipper():
    @ag.primitive
    def sc(x, *, flip=True):
        return -x if flip else x
    return sc.defvjp(lambda g, out, x, flip=True: -g if flip else g)


def _moder():
    @ag.primitive
    def mode_op(x, *, mode="a"):
        return x
    return mode_op.defvjp(lambda g, out, x, mode="a": g)


def test_a_custom_keyword_false_or_none_off_its_default_is_drawn_as_the_formula_writes_it():
    A, sc, mode_op = _matrix(), _flipper(), _moder()
    assert _boxes(sc(A, flip=False))[1] == "sc | flip=False | (2, 2)"
    assert _boxes(sc(A))[1] == _boxes(sc(A, flip=True))[1] == "sc | (2, 2)"
    assert ag.formula(sc(A, flip=False)) == r"\mathrm{sc}_{\mathrm{flip}=\mathrm{False}}(A)"
    assert _boxes(mode_op(A, mode=None))[1] == "mode_op | mode=None | (2, 2)"
    assert ag.formula(mode_op(A, mode=None)) == r"\mathrm{mode\_op}_{\mathrm{mode}=\mathrm{None}}(A)"


def test_a_new_axis_index_is_drawn():
    A = _matrix()
    assert _boxes(A[None])[1] == "getitem | index=None | (1, 2, 2)"
    assert ag.formula(A[None]) == r"A_{[\mathrm{new}]}"


def test_drawing_and_formula_leave_out_the_same_parameters_at_their_defaults():
    A = _matrix()
    assert _boxes(ag.var(A, ddof=0))[1] == "var | scalar"
    assert ag.formula(ag.var(A, ddof=0)) == r"\mathrm{Var}(A)"
    t = ag.var(A, axis=1, keepdims=True, ddof=1)
    assert tex.off_default(t, tuple(t._params)) == [("axis", 1), ("keepdims", True), ("ddof", 1)]
    assert _boxes(t)[1] == "var | axis=1 | keepdims=True | ddof=1 | (2, 1)"


# 3. a one-element constant that adds axes -----------------------------------------------------------------
def test_a_one_by_one_constant_that_broadcasts_a_vector_prints_with_its_shape():
    a = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    B, C = a + np.array([[2.0]]), a + 2.0
    outer, inner = ag.sum(B.T @ B), ag.sum(C.T @ C)
    assert (outer.item(), inner.item()) == (144.0, 50.0)
    assert ag.formula(outer) == r"\sum((a + [2]_{1\times 1})^{T} (a + [2]_{1\times 1}))"
    assert ag.formula(inner) == r"\sum((a + 2)^{T} (a + 2))"


def test_a_one_element_constant_that_adds_no_axis_is_its_number():
    A = _matrix()
    assert ag.formula(A + np.array([[2.0]])) == "A + 2"
    assert ag.formula(A * np.array([-0.5])) == r"A \cdot (-0.5)"
    x = ag.Tensor(3.0, requires_grad=True, name="x")
    assert ag.formula(x * np.array([-0.5])) == r"x \cdot [-0.5]_{1}"  # () times (1,) is (1,)


# 4. distinct data, distinct symbols -----------------------------------------------------------------------
def test_two_dropout_masks_of_one_layer_print_apart_and_the_same_mask_alike():
    x = ag.Tensor([[0.5, 0.2, 0.9]], requires_grad=True, name="A1")
    first, second = np.array([[1.0, 0.0, 1.0]]), np.array([[0.0, 1.0, 1.0]])
    v = (ag.sum(ag.dropout(x, 0.5, mask=first)) + ag.sum(ag.dropout(x, 0.5, mask=second))
         + ag.sum(ag.dropout(x, 0.5, mask=first.copy())))
    assert ag.formula(v) == (r"\sum(\frac{A^{[1]} \odot D^{[1]}}{0.5}) + \sum(\frac{A^{[1]} \odot D^{[1]}_{(2)}}{0.5})"
                             r" + \sum(\frac{A^{[1]} \odot D^{[1]}}{0.5})")


def test_a_parameter_named_like_a_mask_keeps_its_name_and_the_mask_is_numbered():
    x = ag.Tensor([[0.5, 0.2, 0.9]], requires_grad=True, name="A1")
    D1 = ag.Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="D1")
    v = ag.sum(ag.dropout(x, 0.5, mask=np.array([[1.0, 0.0, 1.0]])) * D1)
    assert ag.formula(v) == r"\sum(\frac{A^{[1]} \odot D^{[1]}_{(2)}}{0.5} \odot D^{[1]})"


def test_unnamed_labels_print_apart_from_a_tensor_named_y():
    Yhat = ag.sigmoid(ag.Tensor([[0.3, -1.0]], requires_grad=True, name="Z"))
    Yhat.name = "Y"
    assert ag.formula(ag.binary_cross_entropy(Yhat, np.array([[1.0, 0.0]]))) == \
        r"-\frac{1}{m}\sum\left(Y_{(2)}\log Y + (1 - Y_{(2)})\log(1 - Y)\right)"


def test_two_unnamed_label_arrays_print_apart():
    A = ag.Tensor([[0.3, 0.6]], requires_grad=True, name="A")
    cost = ag.binary_cross_entropy(A, np.array([[1.0, 0.0]])) + ag.binary_cross_entropy(A, np.array([[0.0, 0.0]]))
    text = ag.formula(cost)
    assert r"\left(Y\log A" in text and r"\left(Y_{(2)}\log A" in text
    same = ag.binary_cross_entropy(A, np.array([[1.0, 0.0]])) + ag.binary_cross_entropy(A, np.array([[1.0, 0.0]]))
    assert "Y_{(2)}" not in ag.formula(same)


def test_the_new_symbols_render_in_mathtext():
    mathtext = pytest.importorskip("matplotlib.mathtext")
    x = ag.Tensor([[0.5, 0.2, 0.9]], requires_grad=True, name="A1")
    v = ag.sum(ag.dropout(x, 0.5, mask=np.array([[1.0, 0.0, 1.0]])) * ag.Tensor(np.ones((1, 3)), name="D1"))
    a = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    for text in (ag.formula(v), ag.formula(a + np.array([[2.0]])), ag.formula(ag.sum(a, axis=0, keepdims=True))):
        mathtext.math_to_image("$" + text + "$", io.BytesIO(), format="png")


def test_the_course_cost_still_prints_its_plain_symbols():
    A3 = ag.sigmoid(ag.Tensor([[0.3, -1.0]], requires_grad=True, name="Z3"))
    A3.name = "A3"
    assert ag.formula(ag.binary_cross_entropy(A3, np.array([[1.0, 0.0]]))) == \
        r"-\frac{1}{m}\sum\left(Y\log A^{[3]} + (1 - Y)\log(1 - A^{[3]})\right)"


# 7. a VJP's own errors under create_graph ---------------------------------------------------------------
def _ranged(error_type):
    def dbl(x):
        return x * 2.0
    d = ag.primitive(dbl)

    def rule(g, out, x):
        if np.any(np.asarray(getattr(x, "data", x)) > 5):
            raise error_type("input out of supported range")
        return g * 2.0
    return d.defvjp(rule)


@pytest.mark.parametrize("error_type", [ValueError, TypeError])
def test_a_vjp_raising_its_own_error_under_create_graph_passes_it_through(error_type):
    d = _ranged(error_type)
    f = lambda x: ag.sum(d(x) ** 2)
    np.testing.assert_array_equal(ag.hessian(f)(np.array([1.0, 1.0])), np.diag([8.0, 8.0]))
    with pytest.raises(error_type, match="^input out of supported range$"):
        ag.grad(f)(np.array([6.0, 1.0]))
    with pytest.raises(error_type, match="^input out of supported range$"):
        ag.hessian(f)(np.array([6.0, 1.0]))


def test_numpy_refusing_a_tensor_in_a_vjp_is_still_reworded():
    @ag.primitive
    def csum(x):
        return np.cumsum(x)
    csum.defvjp(lambda g, out, x: np.cumsum(np.asarray(g)[::-1])[::-1])
    with pytest.raises(TypeError, match="csum: its VJP cannot be differentiated again"):
        ag.hessian(lambda x: ag.sum(ag.sin(csum(x))))(np.array([0.5, 1.0]))
