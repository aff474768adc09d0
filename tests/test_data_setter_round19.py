"""Round 19 (adv112 #4): ``t.data = new`` counts as a change of every tensor sharing t's version counter.
Giving t a counter of its own when the new array does not overlap the old one (tried for adv108 #5:
``d = w.detach(); d.data = new`` refused w's graph, which PyTorch allows) let a view of the original array,
edited after the original was put back (a perturbation restored), escape t's graph: a silent wrong
gradient, which PyTorch refuses. The conservative rule stays, its refusal pinned here."""
import numpy as np
import pytest

import autograd_lite as ag


def test_a_view_edited_after_the_original_array_is_restored_is_seen_by_backward():
    W = ag.Tensor(np.zeros(3))
    row = W[0:2]
    backup = W.data
    W.data = backup + 1e-3
    W.data = backup  # restored: row's memory again
    w = ag.Tensor(np.full(3, 2.0), requires_grad=True)
    y = (W * w).sum()
    with ag.no_grad():
        row += 7.0
    with pytest.raises(ag.InplaceModificationError):
        y.backward()


def test_data_assigned_on_a_detach_counts_as_a_change_of_its_base():
    w = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    out = ag.sum(w * w)
    d = w.detach()
    d.data = d.data + 1
    with pytest.raises(ag.InplaceModificationError, match=r"input 0"):
        out.backward()
    np.testing.assert_array_equal(w.data, np.arange(1.0, 5.0).reshape(2, 2))


def test_data_assigned_on_a_tensor_refuses_its_own_graphs_and_counts_on():
    w = ag.Tensor(np.ones(2), requires_grad=True)
    y = (w * w).sum()
    before = w._version
    w.data = np.zeros(2)
    assert w._version == before + 1
    with pytest.raises(ag.InplaceModificationError, match=r"op 'multiply'.*input 0"):
        y.backward()


def test_views_still_share_when_the_new_array_is_the_old_memory():
    w = ag.Tensor(np.arange(4.0), requires_grad=True)
    view = w.reshape(2, 2)
    y = (view * view).sum()
    w.data = view.data.reshape(4)  # (the very memory the view reads)
    with ag.no_grad():
        w += 1  # an edit of that memory: the view's graph must see it
    with pytest.raises(ag.InplaceModificationError):
        y.backward()
