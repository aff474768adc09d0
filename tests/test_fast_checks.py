"""The cheaper forms of binary cross-entropy's label check and of the L2 penalty's gradient
give what the plain formulas give: references computed here with NumPy, not by the code."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import DomainError


@pytest.mark.parametrize("bad", [2.0, 0.5, -1.0, np.inf, -np.inf, np.nan, 1e200, 5e-324])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_other_than_0_and_1_are_refused(bad, dtype):
    labels = np.array([[0.0, 1.0, bad]]).astype(dtype)
    if labels[0, 2] in (0, 1):  # 5e-324 is 0 in float32
        pytest.skip("the value rounds to a label")
    with pytest.raises(DomainError, match="labels must be 0 or 1"):
        ag.binary_cross_entropy(ag.sigmoid(ag.Tensor([[0.1, 0.2, 0.3]])), labels)


@pytest.mark.parametrize("labels", [np.array([[0, 1, 1]]), np.array([[0.0, 1.0, -0.0]], dtype=np.float32),
                                    np.array([[False, True, True]])])
def test_labels_of_any_number_type_give_the_exercise_cost(labels):
    z = np.array([[0.3, -1.2, 2.5]])
    a = 1.0 / (1.0 + np.exp(-z))
    y = labels.astype(np.float64)
    expected = -(1.0 / 3) * np.sum(np.log(np.where(y == 1, a, 1.0 - a)))
    assert ag.binary_cross_entropy(ag.Tensor(a), labels).item() == expected
    assert ag.binary_cross_entropy(ag.sigmoid(ag.Tensor(z)), labels).item() == expected


def test_a_single_prediction_0d():
    cost = ag.binary_cross_entropy(ag.Tensor(np.array(0.25)), np.array(1.0))
    assert cost.item() == -np.log(0.25)
    with pytest.raises(DomainError, match=r"labels must be 0 or 1, found \[3.0\]"):
        ag.binary_cross_entropy(ag.Tensor(np.array(0.25)), np.array(3.0))


def test_l2_gradient_is_lambd_over_m_times_each_weight_bit_for_bit():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((1, 4))]
    weights = [ag.Tensor(w, requires_grad=True) for w in arrays]
    (ag.l2_penalty(weights, 0.7, 211) * 3.0).backward()
    for w, t in zip(arrays, weights):
        assert np.array_equal(t.grad, np.float64(3.0) * (0.7 / 211) * w)
        assert not np.shares_memory(t.grad, w)
    # two weights that are one Tensor: the gradients add up
    w = ag.Tensor(arrays[0], requires_grad=True)
    ag.l2_penalty([w, w], 0.7, 211).backward()
    assert np.array_equal(w.grad, 0.7 / 211 * arrays[0] + 0.7 / 211 * arrays[0])
