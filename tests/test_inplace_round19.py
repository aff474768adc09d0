"""Round 19 (adv106): ``**=`` and ``@=`` change the tensor's own array as the other in-place operators do
(before, Python fell back to ``t = t ** w``: aliases and optimizers kept the old value); ``t[index] = v``
and ``t[index] -= v`` write into the tensor (before: written through the view, then a bare TypeError);
a recorded ``t /= w`` whose ``w`` another thread edits while the op runs is refused at backward()."""
import threading
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def test_power_in_place_keeps_the_object_its_dtype_and_bumps_its_version():
    W = ag.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    alias, before = W, W._version
    with ag.no_grad():
        W **= 2
    assert W is alias and W.requires_grad and W.dtype == np.float32
    np.testing.assert_array_equal(alias.data, np.array([1.0, 4.0, 9.0], np.float32))
    assert W._version == before + 1


def test_matmul_in_place_writes_the_product_into_the_tensor():
    M = ag.Tensor(np.eye(2))
    alias = M
    R = np.array([[1.0, 2.0], [3.0, 4.0]])
    M @= R
    assert M is alias
    np.testing.assert_array_equal(alias.data, R)
    v = ag.Tensor(np.array([1.0, -1.0]))
    v @= R
    np.testing.assert_array_equal(v.data, np.array([1.0, -1.0]) @ R)


def test_matmul_in_place_names_the_square_shape_it_needs():
    M = ag.Tensor(np.ones((2, 3)))
    with pytest.raises(ag.ShapeError, match=r"'@=': the tensor of shape \(2, 3\) @ a right side of shape \(3, 4\) "
                                            r"does not give the tensor's shape; expected a square right side, "
                                            r"shape \(3, 3\)"):
        M @= np.ones((3, 4))
    np.testing.assert_array_equal(M.data, np.ones((2, 3)))


@pytest.mark.parametrize("update", [lambda W: W.__ipow__(2), lambda W: W.__imatmul__(np.eye(2))])
def test_recording_refuses_them_on_a_tensor_that_requires_grad(update):
    W = ag.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with pytest.raises(ag.GraphError, match=r"on a tensor that requires grad would change it in place"):
        update(W)
    assert W.is_leaf
    np.testing.assert_array_equal(W.data, [[1.0, 2.0], [3.0, 4.0]])


def test_recorded_power_and_matmul_in_place_reach_the_right_side():
    base = np.array([[1.5, 2.0], [0.5, 3.0]])
    w = ag.Tensor(np.array([0.5, 2.0]), requires_grad=True)
    t = ag.Tensor(base)
    t **= w
    t.sum().backward()
    np.testing.assert_allclose(t.data, base ** w.data)
    np.testing.assert_allclose(w.grad, (base ** w.data * np.log(base)).sum(axis=0))  # d/dw b**w = b**w log b
    M = ag.Tensor(np.array([[1.0, 2.0], [3.0, -1.0]]), requires_grad=True)
    u = ag.Tensor(base)
    u @= M
    (u * u).sum().backward()
    np.testing.assert_allclose(M.grad, base.T @ (2 * (base @ M.data)))  # d/dM sum((B M)**2) = B^T 2 B M


def test_item_update_under_no_grad_changes_the_entries_and_is_seen_by_backward():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    loss = (W * W).sum()
    with ag.no_grad():
        W[:, 0] -= 0.5
    np.testing.assert_array_equal(W.data, [[0.5, 1.0], [0.5, 1.0]])
    with pytest.raises(ag.InplaceModificationError):
        loss.backward()


def test_item_assignment_on_a_plain_tensor_and_dtype_kept():
    c = ag.Tensor(np.zeros(3, np.float32))
    c[0] += 5.0  # (c[0] is a copy: the assignment itself writes)
    c[1:] = ag.Tensor([1.0, 2.0])
    c[np.array([True, False, False])] = np.float64(7.25)
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c.data, np.array([7.25, 1.0, 2.0], np.float32))


def test_item_assignment_refusals_change_nothing():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ag.GraphError, match=r"'-=' on a tensor that requires grad"):
        W[:, 0] -= 0.5  # while recording: refused before any write
    with pytest.raises(ag.GraphError, match=r"t\[index\] = value on a tensor that requires grad"):
        W[0] = 3.0
    np.testing.assert_array_equal(W.data, np.ones((2, 2)))
    c = ag.Tensor(np.zeros(3))
    w = ag.Tensor(2.0, requires_grad=True)
    with pytest.raises(ag.GraphError, match=r"t\[index\] = value: the value requires grad.*ag\.where"):
        c[1] = w * 3
    with pytest.raises(IndexError, match=r"t\[index\] = value: index 5 on a tensor of shape \(3,\).*index 5 is out of bounds"):
        c[5] = 1.0
    with pytest.raises(ValueError, match=r"on a tensor of shape \(3,\), a value of shape \(3,\).*broadcast"):
        c[:2] = np.ones(3)
    frozen = ag.Tensor._wrap(np.broadcast_to(np.zeros(1), (3,)))
    with pytest.raises(ag.GraphError, match=r"is read-only"):
        frozen[0] = 1.0
    np.testing.assert_array_equal(c.data, np.zeros(3))


def test_recorded_divide_in_place_refuses_an_edit_of_its_right_side_made_while_it_ran():
    # Another thread's update of w lands inside the forward of t /= w: NumPy's error callback (an
    # underflow in entry 0) is the hook that holds the forward there until the edit is done.
    t = ag.Tensor([1e-300, 1.0])
    w = ag.Tensor([1e300, 2.0], requires_grad=True)
    inside, edited = threading.Event(), threading.Event()

    def other_thread():
        inside.wait()
        with ag.no_grad():
            w.__isub__(1.0)
        edited.set()

    def hold(kind, flag):
        if not inside.is_set():
            inside.set()
            edited.wait()

    worker = threading.Thread(target=other_thread)
    worker.start()
    old = np.seterrcall(hold)
    try:
        with np.errstate(under="call"):
            t /= w
    finally:
        np.seterrcall(old)
        worker.join()
    with pytest.raises(ag.InplaceModificationError, match=r"op 'divide'.*input 1 \(shape \(2,\)\) was modified"):
        t.sum().backward()


def test_recorded_divide_in_place_then_a_later_edit_of_the_right_side_is_refused_as_before():
    t = ag.Tensor([4.0, 1.0])
    w = ag.Tensor([2.0, 2.0], requires_grad=True)
    t /= w
    t.sum().backward(retain_graph=True)
    np.testing.assert_allclose(w.grad, -np.array([4.0, 1.0]) / 4.0)
    with ag.no_grad():
        w -= 1.0
    with pytest.raises(ag.InplaceModificationError, match=r"input 1"):
        t.sum().backward()


# --- round 19b (adv109): a write NumPy makes and then raises on still counts; @= takes no vector ---------------
@pytest.mark.parametrize("write", [
    lambda t: t.__ipow__(0.5),                          # invalid (sqrt of -1) raised after the write
    lambda t: t.__setitem__(slice(None), np.array([5.0, 1e300])),  # cast overflow into float32
    lambda t: t.__iadd__(np.float32(3e38)),             # overflow in float32
])
def test_a_write_numpy_raises_after_is_seen_by_backward(write):
    x = ag.Tensor(np.array([1.0, 1.0], np.float32), requires_grad=True)
    t = ag.Tensor(np.array([3e38, -1.0], np.float32))
    y = (x * t).sum()
    with np.errstate(all="raise"), pytest.raises(FloatingPointError) as raised:
        write(t)
    assert any("whose entries may have been written" in note for note in raised.value.__notes__)
    assert t._version == 1
    with pytest.raises(ag.InplaceModificationError):
        y.backward()


def test_a_warning_made_an_error_after_the_write_is_seen_by_backward():
    x = ag.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    t = ag.Tensor(np.array([4.0, -1.0]))
    y = (x * t).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            t **= 0.5
    with pytest.raises(ag.InplaceModificationError):
        y.backward()


def test_recorded_in_place_whose_cast_overflows_is_seen_by_backward():
    x = ag.Tensor(np.ones(2, np.float16), requires_grad=True)
    h = ag.Tensor(np.ones(2, np.float16))
    y = (x * h).sum()
    w = ag.Tensor(np.array([1e5, 1.0]), requires_grad=True)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        h += w
    with pytest.raises(ag.InplaceModificationError):
        y.backward()


@pytest.mark.parametrize("target", [np.ones(3), np.eye(3)])
def test_matmul_in_place_refuses_a_vector_right_side(target):
    t = ag.Tensor(target)
    with pytest.raises(ag.ShapeError, match=r"'@=': .*right side of shape \(3,\).*expected a square right side, "
                                            r"shape \(3, 3\)"):
        t @= np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.data, target)  # (NumPy's own a @= v refuses it too)


def test_item_assignment_names_itself_for_numpy_type_errors_and_cuts_long_indices():
    t = ag.Tensor(np.zeros(4))
    with pytest.raises(TypeError, match=r"^t\[index\] = value: index slice\(0\.5, None, None\) on a tensor of shape"):
        t[0.5:] = 1.0
    with pytest.raises(IndexError, match=r"index \[0, 1, 2, 3, 4, 5.{60,}\.\.\. on a tensor of shape \(4,\)"):
        t[list(range(100))] = 1.0
    np.testing.assert_array_equal(t.data, np.zeros(4))
