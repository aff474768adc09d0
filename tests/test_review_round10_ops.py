"""Review round 10 (adversarial round 14): op rules and op errors, each test failing before its fix.

Expected values come from PyTorch (CPU, computed here), hand formulas or the rules' documented
conventions, never from autograd_lite. Every numeric case runs in float64 and float32.
"""
import re

import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sqrt(0), log(0): the point of the tests

DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-12, np.float32: 1e-6}


def _torch_grad(f, x):
    """d sum(f(t)) / dt at x, by PyTorch's backward."""
    t = torch.tensor(x, requires_grad=True)
    f(t).sum().backward()
    return t.grad.numpy()


# --- 1. std over a single entry is identically 0: its derivative is 0, not 0/0 -----------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_std_over_a_single_entry_has_zero_gradient_as_torch(dtype, keepdims):
    x = np.array([[1.0], [2.0], [4.0]], dtype)
    got = ag.grad(lambda t: ag.sum(ag.std(t, axis=1, keepdims=keepdims)))(x)
    want = _torch_grad(lambda t: torch.std(t, 1, correction=0, keepdim=keepdims), x)
    np.testing.assert_array_equal(want, np.zeros_like(x))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_std_over_a_single_entry_has_zero_jvp_and_hessian(dtype):
    x = np.array([[1.0], [2.0], [4.0]], dtype)
    _, tangent = ag.jvp(lambda t: ag.std(t, axis=1), (x,), (np.ones_like(x),))
    _, want = torch.func.jvp(lambda t: torch.std(t, 1, correction=0), (torch.tensor(x),),
                             (torch.ones(3, 1, dtype=torch.float64 if dtype == np.float64 else torch.float32),))
    np.testing.assert_array_equal(tangent, want.numpy())
    # std over N = 1 is the constant 0: every second derivative is 0
    hessian = ag.hessian(lambda t: ag.sum(ag.std(t, axis=1)))(x)
    np.testing.assert_array_equal(hessian, np.zeros((3, 1, 3, 1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_std_of_a_0d_input_has_zero_gradient(dtype):
    assert ag.grad(lambda t: ag.std(t))(np.array(3.0, dtype)) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_std_of_a_constant_row_gets_torchs_zero_and_other_rows_their_gradient(dtype):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype)
    got = ag.grad(lambda t: ag.sum(ag.std(t, axis=1, ddof=1)))(x)
    want = _torch_grad(lambda t: torch.std(t, 1, correction=1), x)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


# --- 2. an op that blocks the gradient selects it: 0, not 0 * inf = NaN ------------------------
X = [-1.0, 0.5, 2.0]
C = np.array(X) > 0
BLOCKED = {  # name: (ag function, torch function); sqrt'(0) = inf (log'(0) = inf) reaches the op
    "relu": (lambda t: ag.sqrt(ag.relu(t)), lambda t: torch.sqrt(torch.relu(t))),
    "where_x": (lambda t: ag.sqrt(ag.where(C, t, 0.0)), lambda t: torch.sqrt(torch.where(torch.tensor(C), t, 0.0))),
    "where_y": (lambda t: ag.sqrt(ag.where(~C, 0.0, t)), lambda t: torch.sqrt(torch.where(torch.tensor(~C), 0.0, t))),
    "maximum": (lambda t: ag.sqrt(ag.maximum(t, 0.0)), lambda t: torch.sqrt(torch.clamp_min(t, 0.0))),
    "minimum": (lambda t: ag.sqrt(-ag.minimum(-t, 0.0)), lambda t: torch.sqrt(-torch.minimum(-t, torch.zeros(3, dtype=t.dtype)))),
    "clip": (lambda t: ag.log(ag.clip(t, 0, 1)), lambda t: torch.log(torch.clamp(t, 0, 1))),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BLOCKED))
def test_a_blocked_entry_gets_zero_even_under_an_infinite_gradient_as_torch(name, dtype):
    ours, theirs = BLOCKED[name]
    x = np.array(X, dtype)
    got = ag.grad(lambda t: ag.sum(ours(t)))(x)
    want = _torch_grad(theirs, x)
    assert want[0] == 0.0
    np.testing.assert_allclose(got, want, rtol=TOL[dtype])
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_bounds_blocked_where_x_lies_inside_get_zero_as_torch(dtype):
    x, lo, hi = np.array([0.0, 0.0], dtype), np.array([-1.0, 0.7], dtype), np.array([1.0, 2.0], dtype)
    got_lo = ag.grad(lambda b: ag.sum(ag.sqrt(ag.clip(x, b, 2.0))))(lo)
    want_lo = _torch_grad(lambda b: torch.sqrt(torch.clamp(torch.tensor(x), b, torch.tensor(2.0, dtype=b.dtype))), lo)
    np.testing.assert_allclose(got_lo, want_lo, rtol=TOL[dtype])
    x_hi = np.array([0.0, 3.0], dtype)
    got_hi = ag.grad(lambda b: ag.sum(ag.sqrt(ag.clip(x_hi, -1.0, b))))(hi)
    want_hi = _torch_grad(lambda b: torch.sqrt(torch.clamp(torch.tensor(x_hi), torch.tensor(-1.0, dtype=b.dtype), b)), hi)
    np.testing.assert_allclose(got_hi, want_hi, rtol=TOL[dtype])
    assert want_lo[0] == want_hi[0] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, rows", [("max", [[-1.0, 0.0], [0.0, -3.0]]), ("min", [[1.0, 0.0], [0.0, 3.0]])])
def test_max_and_min_reductions_give_the_other_entries_zero_as_torch(name, rows, dtype):
    x = np.array(rows, dtype)  # the extreme of each row is 0: sqrt'(0) = inf reaches every entry of the row
    got = ag.grad(lambda t: ag.sum(ag.sqrt(getattr(ag, name)(t, axis=1))))(x)
    # (torch's function is looked up here, not in the parametrize list: collection must not import torch)
    want = _torch_grad(lambda t: torch.sqrt(getattr(torch, name)(t, dim=1).values), x)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_with_slope_0_and_abs_at_0_block_an_infinite_gradient(dtype):
    # Hand values: leaky_relu with slope 0 is relu (constant 0 for x < 0); abs's derivative at 0
    # is taken as sign(0) = 0. (PyTorch multiplies in both and gives NaN there.)
    x = np.array(X, dtype)
    got = ag.grad(lambda t: ag.sum(ag.sqrt(ag.leaky_relu(t, 0.0))))(x)
    np.testing.assert_allclose(got, [0.0, 0.5 / np.sqrt(0.5), 0.5 / np.sqrt(2.0)], rtol=TOL[dtype])
    got = ag.grad(lambda t: ag.sum(ag.sqrt(ag.abs(t))))(np.array([0.0, -4.0], dtype))
    np.testing.assert_allclose(got, [0.0, -0.25], rtol=TOL[dtype])


JVP_BLOCKED = {  # name: (ag function, torch function or None (hand value 0: flat around t = 0))
    "relu": (lambda t: ag.relu(ag.sqrt(t)), lambda t: torch.relu(torch.sqrt(t))),
    "where": (lambda t: ag.where(np.array([0.0, 4.0, 1.0]) > 0, ag.sqrt(t), 0.0),
              lambda t: torch.where(t > 0, torch.sqrt(t), 0.0)),
    "clip": (lambda t: ag.clip(ag.sqrt(t), 0.5, 1.5), lambda t: torch.clamp(torch.sqrt(t), 0.5, 1.5)),
    "max": (lambda t: ag.max(ag.sqrt(t)), lambda t: torch.amax(torch.sqrt(t))),
    "maximum": (lambda t: ag.maximum(ag.sqrt(t), 0.5), None),
    "minimum": (lambda t: ag.minimum(-ag.sqrt(t), -0.5), None),
    "leaky_relu_0": (lambda t: ag.leaky_relu(-ag.sqrt(t), 0.0), None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(JVP_BLOCKED))
def test_forward_mode_blocks_an_infinite_tangent(name, dtype):
    ours, theirs = JVP_BLOCKED[name]
    x = np.array([0.0, 4.0, 1.0], dtype)  # sqrt's tangent at 0 is inf; every op here blocks entry 0
    _, got = ag.jvp(ours, (x,), (np.ones_like(x),))
    if theirs is None:
        want = {"maximum": [0.0, 0.25, 0.5], "minimum": [0.0, -0.25, -0.5], "leaky_relu_0": [0.0, 0.0, 0.0]}[name]
    else:
        want = torch.func.jvp(theirs, (torch.tensor(x),), (torch.ones(3, dtype=torch.tensor(x).dtype),))[1].numpy()
    np.testing.assert_allclose(got, want, rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_recorded_rules_select_too_hessian_and_compile(dtype):
    x = np.array(X, dtype)
    hessian = ag.hessian(lambda t: ag.sum(ag.sqrt(ag.where(C, t, 0.0))))(x)
    want = torch.func.hessian(lambda t: torch.sqrt(torch.where(torch.tensor(C), t, 0.0)).sum())(torch.tensor(x))
    np.testing.assert_allclose(hessian, want.numpy(), rtol=TOL[dtype])
    step = ag.compile(lambda t: ag.sum(ag.sqrt(ag.relu(t))))
    for _ in range(3):  # the first call traces, the others replay the recorded rules
        t = ag.Tensor(x.copy(), requires_grad=True)
        step(t).backward()
        np.testing.assert_allclose(t.grad, _torch_grad(lambda u: torch.sqrt(torch.relu(u)), x), rtol=TOL[dtype])


# --- 3. log_softmax / logsumexp from the shifted values: exact for huge logits -------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_of_huge_logits_keeps_the_log_sum_term_as_torch(dtype):
    big = np.array([1e17, 1e17, 0.0], dtype)
    want = torch.log_softmax(torch.tensor(big), 0).numpy()
    np.testing.assert_allclose(ag.log_softmax(big).data, want, rtol=TOL[dtype])
    np.testing.assert_allclose(want[:2], -np.log(2), rtol=TOL[dtype])
    got = ag.grad(lambda t: ag.log_softmax(t)[0])(big)
    np.testing.assert_allclose(got, _torch_grad(lambda t: torch.log_softmax(t, 0)[0], big), atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_of_huge_logits_differentiates_to_their_softmax(dtype):
    # hand formula: d logsumexp / dx = softmax(x) = [1/2, 1/2, 0]; Hessian diag(p) - p p^T
    big = np.array([1e17, 1e17, 0.0], dtype)
    p = np.array([0.5, 0.5, 0.0])
    np.testing.assert_allclose(ag.grad(lambda t: ag.logsumexp(t))(big), p, atol=TOL[dtype])
    _, tangent = ag.jvp(lambda t: ag.logsumexp(t), (big,), (np.array([1.0, 0.0, 0.0], dtype),))
    assert tangent == pytest.approx(0.5)
    hessian = ag.hessian(lambda t: ag.logsumexp(t))(big)
    np.testing.assert_allclose(hessian, np.diag(p) - np.outer(p, p), atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_over_an_axis_of_huge_logits_as_torch(dtype):
    x = np.array([[3e16, -2.0], [3e16, 5.0], [0.0, 1.0]], dtype)
    got = ag.grad(lambda t: ag.sum(ag.logsumexp(t, axis=0, keepdims=True) * np.array([1.0, 2.0], dtype)))(x)
    want = torch.softmax(torch.tensor(x), 0).numpy() * np.array([1.0, 2.0])  # d lse / dx = softmax (hand)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_huge_logits_as_torch(dtype):
    logits = np.array([[1e17, 0.0], [1e17, 0.0], [0.0, 1.0]], dtype)  # classes along axis 0
    labels = np.array([0, 2])
    want = torch.nn.functional.cross_entropy(torch.tensor(logits.T), torch.tensor(labels)).item()
    assert ag.cross_entropy(logits, labels).item() == pytest.approx(want, rel=TOL[dtype])


# --- 4. where's error lists the shapes in the call's order (condition, x, y) ---------------------
def test_where_error_lists_shapes_in_the_calls_order():
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ag.ShapeError, match=re.escape("where: shapes (4,) and (2, 3) and () do not broadcast")):
        ag.where(np.ones(4) > 0, a, 0.0)


# --- 4b. broadcast errors: sizes in operand order, each operand named ---------------------------
def test_broadcast_error_gives_sizes_in_operand_order_naming_each_operand():
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ag.ShapeError, match=re.escape("axis -1 has sizes 3 vs 2: operand 1 has 3, operand 2 has 2")):
        ag.multiply(a, np.ones((3, 2)))


def test_where_error_lists_shapes_in_the_calls_order_and_names_condition_and_x():
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ag.ShapeError, match=re.escape(
            "where: shapes (4,) and (2, 3) and () do not broadcast (axis -1 has sizes 4 vs 3: condition has 4, x has 3")):
        ag.where(np.ones(4) > 0, a, 0.0)


# --- 5. errors that name the op, the value and what was expected ----------------------------------
@pytest.mark.parametrize("slope", ["x", None, [0.1]])
def test_leaky_relu_refuses_a_slope_that_is_not_a_number_naming_it(slope):
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope must be a real number .*got "
                       + re.escape(repr(slope))) as info:
        ag.leaky_relu(a, slope)
    assert not isinstance(info.value, ag.ShapeError)


def test_getitem_out_of_range_names_op_index_shape_and_valid_range():
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match=re.escape("getitem: index 5 does not fit shape (2, 3)")
                       + r".*expected integers in \[-2, 1\] along axis 0"):
        a[5]
    with pytest.raises(IndexError, match=re.escape("getitem: index (0, 7) does not fit shape (2, 3)")
                       + r".*\[-3, 2\] along axis 1"):
        a[0, 7]


def test_getitem_with_too_many_indices_names_op_and_shape():
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match=re.escape("getitem: index (0, 0, 0) does not fit shape (2, 3)")
                       + r".*expected at most 2 indices"):
        a[0, 0, 0]
