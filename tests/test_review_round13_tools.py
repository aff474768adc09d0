"""Review round 13 (adv38): pytrees, gradcheck, compare_gradients and NumPy's ufuncs on Tensors.

F1 a namedtuple is a pytree node whatever it holds; F2 the checkers take what ag.grad takes (a
transform's result inside f); F3 a refused ufunc keyword is named; F4 np.prod's advice is right for
every sign; F5 a report's numbers agree with its verdict. Expected values are hand formulas."""
import re
from collections import namedtuple
from typing import NamedTuple

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import GraphError
from autograd_lite.gradcheck import GradcheckResult, GradientComparison

P = namedtuple("P", "w b")


class Q(NamedTuple):
    w: float
    b: float


X = np.array([0.3, -1.2, 2.0])


# --- F1: a namedtuple is a node, as in JAX and torch's pytree --------------------------------------
@pytest.mark.parametrize("record", [P(1.0, 2.0), Q(1.0, 2.0)])
def test_flatten_namedtuple_of_numbers_has_one_leaf_per_field(record):
    leaves, treedef = ag.pytree.flatten(record)
    assert leaves == [1.0, 2.0]
    rebuilt = ag.pytree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(record) and rebuilt == record


def test_plain_lists_and_tuples_of_numbers_stay_one_leaf():
    for tree in ([1.0, 2.0], (1.0, 2.0), [[1, 2], [3, 4]]):
        leaves, treedef = ag.pytree.flatten(tree)
        assert leaves == [tree] and repr(treedef) == "*"


def test_a_list_of_namedtuples_is_a_tree_of_records():
    leaves, treedef = ag.pytree.flatten([P(1.0, 2.0), P(3.0, 4.0)])
    assert leaves == [1.0, 2.0, 3.0, 4.0] and repr(treedef) == "[(*, *), (*, *)]"


def test_grad_of_namedtuple_of_numbers_attribute_access():
    g = ag.grad(lambda p: p.w * 2.0 + p.b * 3.0)(P(1.0, 2.0))
    assert isinstance(g, P) and float(g.w) == 2.0 and float(g.b) == 3.0


def test_grad_of_namedtuple_of_numbers_by_index_returns_namedtuple():
    g = ag.grad(lambda p: p[0] * 2.0 + p[1] * 3.0)(P(1.0, 2.0))
    assert isinstance(g, P) and float(g.w) == 2.0 and float(g.b) == 3.0


def test_gradcheck_namedtuple_of_numbers():
    assert ag.gradcheck(lambda p: p.w * p.b, [P(1.0, 2.0)]).passed
    (g,) = ag.numerical_gradient(lambda p: p.w * p.b, [P(1.0, 2.0)])
    assert isinstance(g, P)
    np.testing.assert_allclose([g.w, g.b], [2.0, 1.0], rtol=1e-6)   # d(wb)/dw = b, d(wb)/db = w


def test_jvp_hvp_vjp_with_a_namedtuple_of_numbers():
    f = lambda p: p.w ** 2 * p.b   # grad (2wb, w^2), Hessian [[2b, 2w], [2w, 0]]
    value, deriv = ag.jvp(f, (P(1.0, 2.0),), (P(1.0, 0.0),))
    assert float(value) == 2.0 and float(deriv) == 4.0
    h = ag.hvp(f)(P(1.0, 2.0), P(1.0, 0.0))
    assert isinstance(h, P) and (float(h.w), float(h.b)) == (4.0, 2.0)
    _, vjp_fn = ag.vjp(lambda p: (p.w * 2.0, p.b * 3.0), P(1.0, 2.0))
    (g,) = vjp_fn((1.0, 1.0))   # a plain tuple of numbers stands for the output's two leaves
    assert isinstance(g, P) and (float(g.w), float(g.b)) == (2.0, 3.0)


def test_a_tree_matched_against_a_structure_takes_that_structure():
    # two array leaves: a tuple of two lists of numbers is two arrays there, not one 2x2 array
    pair = (np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    value, deriv = ag.jvp(lambda p: ag.sum(p[0] * p[1]), (pair,), (([1.0, 2.0], [3.0, 4.0]),))
    assert float(value) == 4.0 and float(deriv) == 2 * (1 + 2) + 1 * (3 + 4)   # <b, t0> + <a, t1>
    assert ag.compare_gradients([np.ones(2), np.ones(2)], [[1.0, 1.0], [1.0, 1.0]]).passed
    # where the structure has one array leaf, a list of numbers is that array
    assert ag.compare_gradients(np.ones((2, 2)), [[1.0, 1.0], [1.0, 1.0]]).passed


def test_a_mismatched_tree_is_still_refused_naming_both_structures():
    pair = (np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"jvp: the tangent 0 has structure \[\*, \*, \*\]; expected \(\*, \*\)"):
        ag.jvp(lambda p: ag.sum(p[0] * p[1]), (pair,), ([np.ones(2), np.ones(2), np.ones(2)],))
    with pytest.raises(ValueError, match="expected tree has structure"):
        ag.compare_gradients({"W": np.ones(2)}, {"W": [np.ones(1), np.ones(1)]})
    with pytest.raises(ValueError, match=r"has structure \(\*, \*\); expected \*"):
        ag.compare_gradients(np.ones(2), P(1.0, 1.0))   # a record is never one array


# --- F2: the checkers take a function ag.grad takes -------------------------------------------------
def _f_hvp(x):
    return ag.hvp(lambda y: ag.sum(y ** 3))(x, np.ones(3)).sum()      # sum(6 x): gradient 6


def _f_jvp(x):
    return ag.jvp(lambda y: ag.sum(ag.sin(y)), (x,), (np.ones(3),))[1] * 1.0   # sum(cos x): gradient -sin x


def _f_vjp(x):
    _, vjp_fn = ag.vjp(lambda y: y ** 2, x)
    (g,) = vjp_fn(np.ones(3))
    return g.sum()   # sum(2 x): gradient 2


@pytest.mark.parametrize("f,gradient", [(_f_hvp, lambda x: np.full(3, 6.0)), (_f_jvp, lambda x: -np.sin(x)),
                                        (_f_vjp, lambda x: np.full(3, 2.0))])
def test_gradcheck_of_a_function_using_a_transform_inside(f, gradient):
    np.testing.assert_allclose(ag.grad(f)(X), gradient(X), rtol=1e-12)   # ag.grad handles it
    assert ag.gradcheck(f, [X]).passed
    assert ag.gradcheck(f, [X], fast=True).passed
    assert ag.gradgradcheck(f, [X]).passed
    (g,) = ag.numerical_gradient(f, [X])
    np.testing.assert_allclose(g, gradient(X), rtol=1e-6)


@pytest.mark.parametrize("check", [ag.gradcheck, ag.gradgradcheck, ag.numerical_gradient])
def test_each_checker_names_itself_refusing_a_vector_output(check):
    name = check.__name__
    with pytest.raises(GraphError, match=rf"^{name}: f must return a single-element Tensor \(a scalar\), "
                                         r"got a Tensor of shape \(3,\)"):
        check(lambda x: x * 2.0, [X])
    with pytest.raises(GraphError, match=rf"^{name}: .* got an ndarray of shape \(3,\)"):
        check(lambda x: ag.hvp(lambda y: ag.sum(y ** 3))(x, np.ones(3)), [X])


def test_gradcheck_still_refuses_a_constant_output():
    # a plain number passes the numerical evaluations, but autodiff needs f's value on the graph
    with pytest.raises(GraphError, match="gradcheck: f must return a single-element Tensor"):
        ag.gradcheck(lambda x: np.float64(1.0), [X])


# --- F3: a supported ufunc given NumPy's keywords names them ----------------------------------------
@pytest.mark.parametrize("ufunc", [np.greater, np.isfinite])
def test_comparison_with_out_names_the_keyword(ufunc):
    t = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    args = (t, 0.0) if ufunc.nin == 2 else (t,)
    with pytest.raises(TypeError, match=rf"^numpy\.{ufunc.__name__} on a Tensor: the keyword out= is not "
                                        r"supported; .*constant array.*t\.data") as info:
        ufunc(*args, out=np.empty(2, bool))
    assert "not differentiable" not in str(info.value)


def test_recorded_ufunc_keywords_give_the_engines_reasons():
    t = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"^numpy\.exp on a Tensor: the keyword out= is not supported; NumPy's "
                                        r"out= does not apply, as the result is a new recorded Tensor"):
        np.exp(t, out=np.empty(2))
    with pytest.raises(TypeError, match=r"the keywords where=, dtype= are not supported; NumPy's where= does not "
                                        r"apply, .*ag\.where.*; NumPy's dtype= does not apply"):
        np.add(t, t, where=np.array([True, False]), dtype=np.float32)


def test_neutral_ufunc_keywords_change_nothing():
    t = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    assert np.greater(t, 0, where=True).tolist() == [True, False]
    assert np.isfinite(t, casting="same_kind").tolist() == [True, True]
    y = np.exp(t, where=True, out=None)
    assert isinstance(y, ag.Tensor)
    np.testing.assert_array_equal(y.data, np.exp([1.0, -2.0]))


def test_an_unsupported_ufunc_is_still_not_differentiable():
    t = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"numpy\.floor is not differentiable.*t\.data"):
        np.floor(t, out=np.empty(2))


# --- F4: np.prod's advice holds for every sign --------------------------------------------------
def test_prod_suggestion_is_right_for_negative_and_zero_entries():
    t = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    with pytest.raises(TypeError) as info:
        np.prod(t)
    message = str(info.value)
    assert "exp(sum(log(x)))" not in message and "p = p * v" in message
    for values, product, gradient in (([1.0, -2.0, 3.0], -6.0, [-6.0, 3.0, -2.0]),
                                      ([2.0, 0.0, -3.0], 0.0, [0.0, -6.0, 0.0])):
        def prod(x):   # the advice, written out: d(prod)/dx_i = product of the other entries
            p = x[0]
            for v in x[1:]:
                p = p * v
            return p
        x = np.array(values)
        assert ag.Tensor(prod(ag.Tensor(x))).item() == product
        np.testing.assert_array_equal(ag.grad(prod)(x), gradient)


# --- F5: a report's numbers agree with its verdict ------------------------------------------------
def test_gradcheck_report_shows_the_threshold_used():
    r = ag.gradcheck(lambda x: ag.sum(ag.sin(x)), [X], threshold=1.4e-5)
    shown = float(re.search(r"threshold ([0-9.e+-]+)\)", str(r)).group(1))
    assert shown == r.threshold == 1.4e-5


def test_compare_gradients_report_shows_the_threshold_used():
    c = ag.compare_gradients(np.ones(3), np.ones(3), threshold=1.2345e-6)
    assert "(threshold 1.2345e-06;" in str(c)
    assert "(threshold 1e-07;" in str(ag.compare_gradients(np.ones(3), np.ones(3)))   # the default


@pytest.mark.parametrize("report", [GradcheckResult, GradientComparison])
@pytest.mark.parametrize("difference,threshold", [(1.39999e-5, 1.4e-5), (1.4e-5, 1.4e-5),
                                                  (1.23455e-5, 1.23456e-5), (2e-8, 1e-7)])
def test_the_printed_difference_is_on_the_verdicts_side_of_the_threshold(report, difference, threshold):
    result = report(difference, threshold)
    shown = re.search(r"difference ([0-9.e+-]+) .*threshold ([0-9.e+-]+)[;)]", str(result).splitlines()[0])
    assert (float(shown.group(1)) < float(shown.group(2))) == result.passed
    assert float(shown.group(2)) == threshold
