"""Round 19 (adv108 #5): ``t.data = new`` is a change of ``t`` but not of the views and ``detach()`` of
its old array, which keep their memory: ``d = w.detach(); d.data = new`` left w's graph refused at
backward() ("input 0 was modified in place") where PyTorch gives the gradient."""
import numpy as np
import pytest

import autograd_lite as ag


def test_data_assigned_on_a_detach_leaves_the_base_graph_usable():
    w = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    out = ag.sum(w * w)
    d = w.detach()
    d.data = d.data + 1
    out.backward()
    np.testing.assert_array_equal(w.grad, 2 * np.arange(1.0, 5.0).reshape(2, 2))  # PyTorch: [[2, 4], [6, 8]]
    d += 1  # d's memory is its own now: w does not change
    np.testing.assert_array_equal(w.data, np.arange(1.0, 5.0).reshape(2, 2))


def test_data_assigned_on_a_tensor_still_refuses_its_own_graphs_and_counts_on():
    w = ag.Tensor(np.ones(2), requires_grad=True)
    d = w.detach().requires_grad_()  # the old memory, sharing w's counter until w.data is replaced
    y, yd = (w * w).sum(), (d * d).sum()
    before = w._version
    w.data = np.zeros(2)
    assert w._version == before + 1 and d._version == before
    with pytest.raises(ag.InplaceModificationError, match=r"op 'multiply'.*input 0"):
        y.backward()
    yd.backward()  # d's memory did not change
    np.testing.assert_array_equal(d.grad, [2.0, 2.0])


def test_views_still_share_when_the_new_array_is_the_old_memory():
    w = ag.Tensor(np.arange(4.0), requires_grad=True)
    view = w.reshape(2, 2)
    y = (view * view).sum()
    w.data = view.data.reshape(4)  # (the very memory the view reads)
    with ag.no_grad():
        w += 1  # an edit of that memory: the view's graph must see it
    with pytest.raises(ag.InplaceModificationError):
        y.backward()


def test_recorded_in_place_allowed_once_the_tensor_no_longer_shares_memory():
    t = ag.Tensor(np.ones(2))
    view = t.reshape(2)
    t.data = np.zeros(2)
    w = ag.Tensor([2.0, 3.0], requires_grad=True)
    t += w
    t.sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])
    np.testing.assert_array_equal(view.data, [1.0, 1.0])
