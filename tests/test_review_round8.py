"""Session 8: defects found by review, each pinned by a test that failed before its fix."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import InplaceModificationError


def _sigmoid_cost(rng):
    """W (1, 3) -> sigmoid(W @ x) retained -> cross-entropy: the output's gradient takes the logits' edge."""
    W = ag.Tensor(rng.standard_normal((1, 3)), requires_grad=True)
    x = ag.Tensor(rng.standard_normal((3, 5)))
    y = (rng.random((1, 5)) < 0.5).astype(np.float64)
    a = ag.sigmoid(W @ x).retain_grad()
    return W, x, y, a, ag.binary_cross_entropy(a, y)


def test_a_refused_backward_leaves_the_retained_sigmoid_output_without_grad():
    W, x, y, a, cost = _sigmoid_cost(np.random.default_rng(0))
    x.data = x.data - 1  # the matmul's saved input changed: backward refuses at that node
    with pytest.raises(InplaceModificationError):
        cost.backward()
    assert a.grad is None and W.grad is None


def test_ag_grad_writes_no_grad_of_a_retained_sigmoid_output():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 5)), (rng.random((1, 5)) < 0.5).astype(np.float64)
    made = []

    def f(W):
        a = ag.sigmoid(W @ x).retain_grad()
        made.append(a)
        return ag.binary_cross_entropy(a, y)

    W = rng.standard_normal((1, 3))
    dW = ag.grad(f)(W)
    a = made[0].data
    np.testing.assert_allclose(dW, ((a - y) / 5) @ x.T, rtol=1e-12)  # hand-derived dW = dZ X^T
    assert made[0].grad is None


def test_the_retained_sigmoid_output_still_gets_dJ_dA_after_a_backward_that_succeeds():
    W, x, y, a, cost = _sigmoid_cost(np.random.default_rng(2))
    cost.backward()
    p = a.data
    np.testing.assert_allclose(a.grad, -(y / p - (1 - y) / (1 - p)) / 5, rtol=1e-12)
    np.testing.assert_allclose(W.grad, ((p - y) / 5) @ x.data.T, rtol=1e-12)
