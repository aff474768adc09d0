"""In-place safety: changing a recorded tensor's ``.data`` between forward and
backward is caught by version counters at ``backward()`` (instead of a wrong
gradient); updating parameters after backward, as every optimizer does, is fine."""
import numpy as np
import pytest

import autograd_lite as ag


@pytest.fixture
def W():
    return ag.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True, name="W1")


X = np.array([[1.0, 2.0, -1.0], [0.0, 1.0, 4.0]])


def test_subtracting_from_data_before_backward_is_caught(W):
    cost = ((W @ X) ** 2).sum()
    W.data -= 0.1 * np.ones_like(W.data)
    with pytest.raises(ag.InplaceModificationError) as error:
        cost.backward()
    message = str(error.value)
    assert message.startswith("op 'matmul'")
    assert "input 0 (shape (2, 2), 'W1') was modified in place after the op was recorded (it is now at version 1)" in message
    assert "run backward() before updating it" in message


def test_assigning_new_data_before_backward_is_caught(W):
    cost = ag.tanh(W).sum()
    W.data = np.zeros((2, 2))
    with pytest.raises(ag.InplaceModificationError, match=r"op 'tanh'.*input 0 .*'W1'.*modified in place"):
        cost.backward()


def test_update_under_no_grad_is_caught_too(W):
    cost = (W * W).sum()
    with ag.no_grad():
        W.data = W.data * 0.5
    with pytest.raises(ag.InplaceModificationError, match="op 'multiply'"):
        cost.backward()


def test_modified_op_output_is_caught(W):
    hidden = W @ X
    cost = ag.relu(hidden).sum()
    hidden.data = hidden.data + 1.0
    with pytest.raises(ag.InplaceModificationError, match=r"op 'relu'.*input 0 \(shape \(2, 3\)\)"):
        cost.backward()


def test_no_gradient_is_written_when_backward_is_refused(W):
    # b's gradient is reached before the stale matmul: it must not be written either.
    b = ag.Tensor(np.ones((2, 1)), requires_grad=True)
    cost = ag.relu(W @ X + b).sum()
    W.data -= 1.0
    with pytest.raises(ag.InplaceModificationError):
        cost.backward()
    assert W.grad is None and b.grad is None


def test_reusing_an_output_after_the_optimizer_changed_its_inputs(W):
    optimizer = ag.optim.GradientDescent([W], lr=0.1)
    activation = ag.relu(W @ X)
    activation.sum().backward(retain_graph=True)
    optimizer.step()
    stale_cost = (activation * activation).sum()  # built on the pre-step activation
    with pytest.raises(ag.InplaceModificationError, match=r"op 'matmul'.*'W1'.*modified in place after the op was recorded \(it is now at version 1\)"):
        stale_cost.backward()


def test_optimizer_step_between_forward_and_backward_is_caught(W):
    optimizer = ag.optim.GradientDescent([W], lr=0.1)
    W.grad = np.ones((2, 2))  # a gradient left over from an earlier iteration
    cost = ((W @ X) ** 2).sum()
    optimizer.step()
    with pytest.raises(ag.InplaceModificationError, match="'W1'"):
        cost.backward()


def test_optimizer_update_after_backward_is_allowed(W):
    optimizer = ag.optim.GradientDescent([W], lr=0.01)
    W0 = W.data.copy()
    for _ in range(2):
        optimizer.zero_grad()
        cost = ((W @ X) ** 2).sum()
        cost.backward()
        # d/dW sum((W X)^2) = 2 (W X) X^T, at the W the forward pass used
        np.testing.assert_allclose(W.grad, 2 * (W.data @ X) @ X.T)
        optimizer.step()
    expected = W0 - 0.01 * 2 * (W0 @ X) @ X.T
    expected = expected - 0.01 * 2 * (expected @ X) @ X.T
    np.testing.assert_allclose(W.data, expected)


def test_manual_update_after_backward_then_new_forward_works(W):
    cost = (W * W).sum()
    cost.backward()
    W.data -= 0.25 * W.grad  # W <- W - 0.25 * 2W = W / 2
    W.grad = None
    (W * W).sum().backward()
    np.testing.assert_allclose(W.grad, np.array([[1.0, -2.0], [0.5, 3.0]]))  # 2 * W / 2


def test_changing_an_unrelated_tensor_is_fine(W):
    other = ag.Tensor(np.ones(3), requires_grad=True)
    cost = (W * W).sum()
    other.data = other.data * 2
    cost.backward()
    np.testing.assert_allclose(W.grad, 2 * W.data)


def test_retained_graph_stays_valid_when_nothing_changes(W):
    cost = ag.exp(W).sum()
    cost.backward(retain_graph=True)
    cost.backward()
    np.testing.assert_allclose(W.grad, 2 * np.exp(W.data))
