"""Issue 11, "views and detach share their base's version counter": an in-place edit
through ``reshape``, ``.T``, a slice or ``detach()`` is caught at ``backward()``; the
``.data`` setter refuses another shape or a non-real dtype; parameter updates under
``no_grad`` change the tensor's own array and bump its version, and are refused outside.
"""
import numpy as np
import pytest

import autograd_lite as ag

VIEWS = {
    "reshape": lambda x: x.reshape(4),
    "T": lambda x: x.T,
    "slice": lambda x: x[0:1],
    "detach": lambda x: x.detach(),
    "view_of_view": lambda x: x.reshape(4)[1:3],
    "detach_of_view": lambda x: x.T.detach(),
}


def _isub(y):
    y.data -= 1


def _rebind(y):
    y.data = y.data - 1


def _through_inplace_operator(y):
    with ag.no_grad():
        y -= 1


EDITS = {"isub": _isub, "rebind": _rebind, "operator": _through_inplace_operator}


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("view", list(VIEWS))
def test_edit_through_view_before_backward_is_refused(view, edit):
    x = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    y = VIEWS[view](x)
    loss = (x * x).sum()  # its VJP reads x's value
    EDITS[edit](y)
    with pytest.raises(ag.InplaceModificationError):
        loss.backward()
    assert x.grad is None


@pytest.mark.parametrize("view", list(VIEWS))
def test_edit_through_view_of_constant_input_is_refused(view):
    # x needs no grad, but W's gradient reads x's value
    x = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2))
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    loss = (W * x).sum()
    y = VIEWS[view](x)
    _isub(y)
    with pytest.raises(ag.InplaceModificationError):
        loss.backward()


@pytest.mark.parametrize("view", ["reshape", "T", "slice", "detach"])
def test_isub_through_view_changes_base_values_and_version(view):
    x = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    before = x._version
    y = VIEWS[view](x)
    _isub(y)
    assert x._version > before and y._version == x._version
    expected = np.arange(1.0, 5.0).reshape(2, 2)
    if view == "slice":
        expected[0:1] -= 1
    else:
        expected -= 1
    np.testing.assert_array_equal(x.data, expected)


def test_edit_of_view_made_after_backward_is_fine_and_fresh_graph_is_right():
    x = ag.Tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * np.arange(1.0, 5.0).reshape(2, 2))
    x.grad = None
    _isub(x.reshape(4))
    (x * x).sum().backward()  # a graph recorded after the edit is fine
    np.testing.assert_array_equal(x.grad, 2 * (np.arange(1.0, 5.0).reshape(2, 2) - 1))


# --- the .data setter ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4,), (2, 1), (1, 2, 2), ()])
def test_data_setter_refuses_other_shape(shape):
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ag.ShapeError):
        x.data = np.zeros(shape)
    np.testing.assert_array_equal(x.data, np.ones((2, 2)))


@pytest.mark.parametrize("value", [np.ones((2, 2), dtype=complex), np.array([["a", "b"], ["c", "d"]]),
                                   np.ones((2, 2), dtype=object)])
def test_data_setter_refuses_non_real_dtype(value):
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(TypeError):
        x.data = value
    np.testing.assert_array_equal(x.data, np.ones((2, 2)))
    assert x.data.dtype == np.float64


def test_data_setter_refuses_other_shape_through_a_view():
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ag.ShapeError):
        x.reshape(4).data = np.zeros(3)


# --- parameter updates --------------------------------------------------------------------
def test_no_grad_isub_updates_own_array_and_bumps_version():
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    (W * 3.0).sum().backward()
    own, before = W.data, W._version
    with ag.no_grad():
        W -= 0.1 * W.grad
    assert W.data is own  # the same array, updated in place
    assert W._version == before + 1
    np.testing.assert_allclose(W.data, np.full((2, 3), 1.0 - 0.3), rtol=0, atol=1e-15)


def test_no_grad_update_invalidates_graph_recorded_before_it():
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    loss = (W * W).sum()
    with ag.no_grad():
        W -= 0.1
    with pytest.raises(ag.InplaceModificationError):
        loss.backward()


@pytest.mark.parametrize("op", ["-=", "+=", "*=", "/="])
def test_inplace_outside_no_grad_on_requires_grad_raises(op):
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    own = W.data.copy()
    with pytest.raises(ag.GraphError):
        exec(f"W {op} 0.5", {}, {"W": W})
    np.testing.assert_array_equal(W.data, own)
    assert W._version == 0
