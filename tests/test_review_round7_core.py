"""Review round 7 of the eager engine: axes out of range, read-only in-place updates, dtype of
masks and int arrays in float32 graphs, and the logits a sigmoid output remembers.
References: PyTorch and NumPy."""
import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch

L = np.random.default_rng(0).standard_normal((3, 4))


# --- 1 -----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [2, -3, (0, 2)])
def test_logsumexp_refuses_an_axis_out_of_range_as_torch_does(axis):
    with pytest.raises(IndexError):
        torch.logsumexp(torch.tensor(L), axis)
    with pytest.raises(ag.ShapeError, match=r"logsumexp: .*out of bounds"):
        ag.logsumexp(L, axis=axis)


# --- 2 -----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [2, -3, 5])
def test_cross_entropy_refuses_a_class_axis_out_of_range(axis):
    # torch's log_softmax over that dim raises IndexError (cross_entropy has no dim argument)
    with pytest.raises(IndexError):
        torch.log_softmax(torch.tensor(L), axis)
    with pytest.raises((ag.ShapeError, ValueError), match=r"cross_entropy: .*(out of range|out of bounds)"):
        ag.cross_entropy(L, np.array([0, 1, 2, 0]), axis=axis)


def test_cross_entropy_refuses_a_tuple_of_axes():
    with pytest.raises(TypeError, match=r"cross_entropy: axis must be one int"):
        ag.cross_entropy(L, np.array([0, 1, 2, 0]), axis=(0, 1))


# --- 3 -----------------------------------------------------------------------------
def test_in_place_update_of_read_only_data_says_read_only_not_shape():
    v = ag.broadcast_to(ag.Tensor(np.ones((2, 2))), (3, 2, 2))
    with pytest.raises(Exception, match=r"read-only") as caught:
        v += np.ones((3, 2, 2))
    assert "does not broadcast" not in str(caught.value)


# --- 4 -----------------------------------------------------------------------------
def test_a_bool_mask_keeps_a_float32_graph_float32_as_numpy_and_torch_do():
    data = np.ones((2, 3), np.float32)
    mask = np.random.default_rng(0).random((2, 3)) < 0.8
    assert (data * mask).dtype == np.float32                                       # NumPy
    assert (torch.from_numpy(data) * torch.from_numpy(mask)).dtype == torch.float32  # PyTorch
    a = ag.Tensor(data, requires_grad=True)
    for out in (a * mask, mask * a, ag.where(a > 0, a, np.zeros((2, 3), bool))):
        assert out.dtype == np.float32


def test_an_int_array_keeps_a_float32_graph_float32_as_torch_does():
    data = np.ones((2, 3), np.float32)
    ints = np.array([1, 2, 3])
    assert (torch.from_numpy(data) + torch.from_numpy(ints)).dtype == torch.float32
    a = ag.Tensor(data, requires_grad=True)
    out = a + ints
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, data + ints.astype(np.float32))


# --- 5 -----------------------------------------------------------------------------
def test_l2_penalty_with_a_numpy_integer_m_keeps_float32():
    w = np.array([[1.0, -2.0, 0.5]], np.float32)
    cost = ag.l2_penalty([ag.Tensor(w, requires_grad=True)], 0.7, np.int64(5))
    assert cost.dtype == np.float32
    np.testing.assert_allclose(cost.item(), 0.7 / (2 * 5) * (1 + 4 + 0.25), rtol=1e-6)


# --- 6 -----------------------------------------------------------------------------
Z6 = np.array([[0.5, -1.0, 2.0]])
Y6 = np.array([[1., 0., 1.]])


def test_bce_of_a_sigmoid_made_under_no_grad_is_a_constant_as_in_torch():
    zt = torch.tensor(Z6, requires_grad=True)
    with torch.no_grad():
        at = torch.sigmoid(zt)
    assert not torch.nn.functional.binary_cross_entropy(at, torch.tensor(Y6)).requires_grad
    z = ag.Tensor(Z6, requires_grad=True)
    with ag.no_grad():
        a = ag.sigmoid(z)
    cost = ag.binary_cross_entropy(a, Y6)
    assert not cost.requires_grad
    # its value is still the exact one
    np.testing.assert_allclose(cost.item(), torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(Z6), torch.tensor(Y6)).item(), rtol=1e-14)


def test_bce_gradient_reaches_a_sigmoid_output_made_a_variable():
    at = torch.sigmoid(torch.tensor(Z6)).requires_grad_()
    (torch.nn.functional.binary_cross_entropy(at, torch.tensor(Y6), reduction="sum") / 3).backward()
    a = ag.sigmoid(Z6)
    a.requires_grad_()
    ag.binary_cross_entropy(a, Y6).backward()
    assert a.grad is not None
    np.testing.assert_allclose(a.grad, at.grad.numpy(), rtol=1e-12)


def test_bce_of_a_no_grad_sigmoid_ignores_logits_changed_in_place_afterwards():
    z = ag.Tensor(np.array([[40.0, -40.0]]), requires_grad=True)
    y = np.array([[0., 1.]])
    with ag.no_grad():
        a = ag.sigmoid(z)
        before = ag.binary_cross_entropy(a, y).item()
        z -= 80.0
        after = ag.binary_cross_entropy(a, y).item()
    # a did not change, so neither may its cost: either the exact 40 (from the old z) or the
    # floored value of a's own entries (torch's BCELoss: (100 + 40) / 2 = 70), never a mix
    assert before == 40.0
    a_own = torch.sigmoid(torch.tensor([[40.0, -40.0]], dtype=torch.float64))
    floored = torch.nn.functional.binary_cross_entropy(a_own, torch.tensor(y)).item()
    assert after in (40.0, floored)
