"""In-place edits (adv100 findings 3 and 4): a recorded ``t += w`` is refused only while another
live Tensor shares t's memory, and top-level ``hessian`` / ``hvp`` allow an ``f`` that changes its
argument before using it. Expected values from the math (PyTorch's semantics: the derivative at the
edited leaf) or from PyTorch as the optional oracle."""
import copy
import gc

import numpy as np
import pytest

import autograd_lite as ag
from tests.oracles import torch

T0, W0 = np.array([0.5, -1.0]), np.array([1.0, 2.0])
SQUARED_SUM_GRAD = 2 * (T0 + W0)  # d/dw sum((t0 + w)^2) = 2 (t0 + w) = [3, 2]


def _iadd_then_backward(t):
    """``t += w`` recorded, then sum(t * t).backward(): w's gradient."""
    w = ag.Tensor(W0, requires_grad=True)
    t += w
    (t * t).sum().backward()
    return w.grad


def _view_then_delete(t):
    v = t.T
    del v


def _detach_then_delete(t):
    d = t.detach()
    del d


@pytest.mark.parametrize("prepare", [ag.sigmoid, copy.deepcopy, copy.copy, _view_then_delete, _detach_then_delete],
                         ids=["sigmoid", "deepcopy", "copy", "deleted_view", "deleted_detach"])
def test_recorded_iadd_allowed_without_a_live_view(prepare):
    # (before: refused as "shares its memory with a view or a detach() of it"; PyTorch allows all of them)
    t = ag.Tensor(T0)
    prepare(t)
    np.testing.assert_allclose(_iadd_then_backward(t), SQUARED_SUM_GRAD)


def test_recorded_iadd_allowed_while_the_sigmoid_output_lives():
    # sigmoid keeps a detach() of its constant input to itself (its logits): no view the user holds
    t = ag.Tensor(T0)
    s = ag.sigmoid(t)
    np.testing.assert_allclose(_iadd_then_backward(t), SQUARED_SUM_GRAD)
    # s is still sigmoid(t0): the cross-entropy through it must not read t's edited memory as its logits
    y = np.array([1.0, 0.0])
    s0 = 1 / (1 + np.exp(-T0))
    expected = -np.mean(y * np.log(s0) + (1 - y) * np.log(1 - s0))
    np.testing.assert_allclose(ag.binary_cross_entropy(s, y).item(), expected, rtol=1e-12)


def test_copies_own_their_memory_after_the_recorded_iadd():
    t = ag.Tensor(T0)
    deep, shallow = copy.deepcopy(t), copy.copy(t)
    _iadd_then_backward(t)
    np.testing.assert_array_equal(t.data, T0 + W0)
    np.testing.assert_array_equal(deep.data, T0)
    np.testing.assert_array_equal(shallow.data, T0)  # (a copy of the data, as documented; see the report)


@pytest.mark.parametrize("make", [lambda t: t.T, lambda t: t.detach(), lambda t: t[:], lambda t: t.reshape(2)],
                         ids=["T", "detach", "slice", "reshape"])
def test_recorded_iadd_refused_while_a_view_lives(make):
    t = ag.Tensor(T0)
    view = make(t)
    w = ag.Tensor(W0, requires_grad=True)
    with pytest.raises(ag.GraphError, match=r"'\+=' .*shares its memory with a view or a detach\(\) of it, "
                                            "still alive"):
        t += w
    with pytest.raises(ag.GraphError, match=r"'\+=' .*shares its memory with a view .*still alive"):
        view += w  # (the view itself, while its base lives)
    np.testing.assert_array_equal(t.data, T0)  # refused before writing anything


def test_the_mark_follows_the_views_alive_now():
    t = ag.Tensor(T0)
    first = t.T
    del first
    second = t.detach()
    w = ag.Tensor(W0, requires_grad=True)
    with pytest.raises(ag.GraphError, match="still alive"):
        t += w
    del second
    np.testing.assert_allclose(_iadd_then_backward(t), SQUARED_SUM_GRAD)


def test_view_whose_base_is_gone_may_take_a_recorded_iadd():
    # nothing else holds the memory: PyTorch allows it too (the view of a constant leaf)
    t = ag.Tensor(T0)
    v = t.T
    del t
    np.testing.assert_allclose(_iadd_then_backward(v), SQUARED_SUM_GRAD)


def test_view_in_a_collected_cycle_no_longer_counts():
    t = ag.Tensor(T0)
    holder = {"view": t.T}
    holder["self"] = holder  # (freed by the cycle collector, not by its reference count)
    del holder
    gc.collect()
    np.testing.assert_allclose(_iadd_then_backward(t), SQUARED_SUM_GRAD)


def _doubling_cube_sum(y):
    """sum(y^3) after y *= 2 in place: at the edited value y = 2 x, d2/dy2 = diag(6 y) = diag(12 x)."""
    with ag.no_grad():
        y *= 2
    return (y * y * y).sum()


X0 = np.array([1.0, 2.0])


def test_top_level_hessian_of_f_changing_its_argument():
    x = X0.copy()
    np.testing.assert_allclose(ag.hessian(_doubling_cube_sum)(x), np.diag(12 * X0))
    np.testing.assert_array_equal(x, X0)  # the caller's array is untouched (the argument is a copy)


def test_top_level_hvp_of_f_changing_its_argument():
    v = np.array([0.5, -3.0])
    np.testing.assert_allclose(ag.hvp(_doubling_cube_sum)(X0.copy(), v), 12 * X0 * v)


def test_top_level_hessian_matches_pytorch_at_the_edited_leaf():
    x = torch.tensor(X0.copy(), requires_grad=True)
    with torch.no_grad():
        x *= 2
    g = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)[0]
    rows = [torch.autograd.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(2)]
    np.testing.assert_allclose(ag.hessian(_doubling_cube_sum)(X0.copy()), np.stack(rows))


def test_top_level_hessian_of_two_arguments_one_changed():
    def f(a, b):
        with ag.no_grad():
            a *= 2
        return (a * a * b).sum()
    b = np.array([3.0, 4.0])
    h = ag.hessian(f, argnums=(0, 1))(X0.copy(), b)
    a = 2 * X0  # sum(a^2 b): d2/da2 = diag(2 b), d2/da db = diag(2 a), d2/db2 = 0
    for got, expected in [(h[0][0], np.diag(2 * b)), (h[0][1], np.diag(2 * a)), (h[1][0], np.diag(2 * a)),
                          (h[1][1], np.zeros((2, 2)))]:
        np.testing.assert_allclose(got, expected)


def _cube_sum_then_double(y):
    s = (y * y * y).sum()
    with ag.no_grad():
        y *= 2
    return s


@pytest.mark.parametrize("call", [lambda f: ag.hessian(f)(X0.copy()), lambda f: ag.hvp(f)(X0.copy(), np.ones(2))],
                         ids=["hessian", "hvp"])
def test_top_level_change_after_use_still_refused(call):
    # as at top level for ag.grad: an op read the old value
    with pytest.raises(ag.InplaceModificationError, match="op 'multiply'.*modified in place"):
        call(_cube_sum_then_double)


@pytest.mark.parametrize("which", ["hessian", "hvp"])
def test_hessian_nested_in_a_transform_still_refused(which):
    inner = ag.hessian(_doubling_cube_sum) if which == "hessian" else \
        (lambda x: ag.hvp(_doubling_cube_sum)(x, np.ones(2)))
    with pytest.raises(ag.InplaceModificationError, match=f"{which}: f changed its argument 0 in place .*"
                                                          f"while {which} ran inside another transform"):
        ag.grad(lambda x: inner(x).sum())(X0.copy())
