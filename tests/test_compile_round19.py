"""Round 19 (adv104): whether a compiled result views its source is decided on every call, as eager
code decides it: ``x.reshape`` views a C-ordered array and copies an F-ordered one, and memory layout
keys no trace, so a trace made on one layout must not fix the answer for the other."""
import numpy as np
import pytest

import autograd_lite as ag


def _edit_through_result(fn, W):
    """``fn(W)`` edited in place under no_grad, then backward of a cost recorded before: whether the edit
    reached W and whether backward refused it."""
    loss = (W * W).sum()
    v = fn(W)
    with ag.no_grad():
        v += 5.0
    try:
        loss.backward()
        refused = False
    except ag.InplaceModificationError:
        refused = True
    return np.shares_memory(v.data, W.data), float(W.data[0, 0]), refused


@pytest.mark.parametrize("first_layout, later_layout", [("F", "C"), ("C", "F")])
def test_reshape_result_aliases_as_in_eager_whatever_layout_was_traced(first_layout, later_layout):
    flat = ag.compile(lambda w: w.reshape(-1))
    flat(ag.Tensor(np.ones((2, 3), order=first_layout), requires_grad=True))
    for _ in range(2):  # replays
        compiled = _edit_through_result(flat, ag.Tensor(np.zeros((2, 3), order=later_layout), requires_grad=True))
        eager = _edit_through_result(flat.fn, ag.Tensor(np.zeros((2, 3), order=later_layout), requires_grad=True))
        assert compiled == eager
    assert flat.replays == 2
    # NumPy's own rule, for the record: C views, F copies
    assert eager == ((True, 5.0, True) if later_layout == "C" else (False, 0.0, False))


def test_captured_tensor_reshaped_after_its_data_changes_layout():
    W = ag.Tensor(np.ones((2, 3), order="F"), requires_grad=True)
    flat = ag.compile(lambda x: W.reshape(-1))
    x = ag.Tensor(np.zeros(1))
    flat(x)
    W.data = np.zeros((2, 3))  # C-ordered now
    compiled, eager = flat(x), flat.fn(x)
    assert np.shares_memory(compiled.data, W.data) and np.shares_memory(eager.data, W.data)


def test_fresh_result_and_constant_result_are_still_copies():
    C = np.arange(6.0)
    const = ag.compile(lambda x: ag.Tensor(C).reshape(2, 3) + 0 * x.sum())
    fresh = ag.compile(lambda x: (x * 2).reshape(-1))
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    for _ in range(3):
        a, b = const(x), fresh(x)
        assert not np.shares_memory(a.data, b.data)
        a.data[0, 0] = 99.0  # a caller writing into one call's result changes no later call's
        b.data[0] = 99.0
    np.testing.assert_array_equal(const(x).data, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(fresh(x).data, np.full(6, 2.0))
