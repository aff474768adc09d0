"""Ops, round 21: an unrecorded sigmoid of a caller's array keeps its own copy of the logits (adv128), and
var/std of a 0-d tensor over axis 0 or -1 reduce nothing, as sum, mean and max do (as PyTorch). Expected
values are formulas written here, or PyTorch's where it is installed."""
import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import autograd_lite as ag


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_cost_of_a_constant_sigmoid_does_not_follow_the_callers_reused_buffer(dtype):
    y = np.array([[1.0, 0.0]])
    z = np.array([[-20.0, 20.0]], dtype=dtype)
    a = ag.sigmoid(z)  # (nothing recorded: its logits kept, a copy of its own, for the exact cost at saturation)
    before = ag.binary_cross_entropy(a, y).item()
    assert before == pytest.approx(20 + math.log1p(math.exp(-20)), rel=1e-6 if dtype == np.float32 else 1e-12)
    z[...] = 0.0  # the caller reuses its buffer: a, and its cost, are as they were (not log 2, z = 0's)
    assert ag.binary_cross_entropy(a, y).item() == before


@pytest.mark.parametrize("route", ["as_tensor", "data setter", "Tensor", "view"])
@pytest.mark.parametrize("reused", [0.0, 90.0])  # (90: sigmoid still 1 there, in float64 as at 40)
def test_the_cost_of_a_constant_sigmoid_does_not_follow_a_buffer_its_input_shares(route, reused):
    # (adv131 C, adv139 #1) as_tensor and .data = share the caller's array, which no version counter watches
    y, z = np.array([[1.0, 0.0]]), np.array([[-40.0, 40.0]])
    if route == "as_tensor":
        x = ag.as_tensor(z)
    elif route == "data setter":
        x = ag.Tensor(np.zeros((1, 2)))
        x.data = z
    elif route == "Tensor":
        x = ag.Tensor(z.copy())
        z = x.data  # (a write through the array itself: untracked, as documented)
    else:
        big = np.zeros((3, 2))
        big[1] = z[0]
        x, z = ag.as_tensor(big[1:2]), big[1:2]
    a = ag.sigmoid(x)
    exact = 40 + math.log1p(math.exp(-40))  # (from the logits; torch's BCE-with-logits)
    assert ag.binary_cross_entropy(a, y).item() == exact
    z[...] = reused
    assert ag.binary_cross_entropy(a, y).item() == exact


def test_an_edit_of_the_input_recorded_after_the_sigmoid_leaves_its_cost_alone_and_its_copies_too():
    # (adv139 #2) the logits are the input as it was when sigmoid ran: the cost of the output it gave
    y, x = np.array([[0.0]]), ag.Tensor(np.array([[40.0]]))
    a = ag.sigmoid(x)
    x += 30.0
    for twin in (a, copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert ag.binary_cross_entropy(twin, y).item() == 40.0 + math.log1p(math.exp(-40.0))


def test_the_cost_of_a_saturated_constant_sigmoid_raises_no_floating_point_error():
    # (adv139 #5) nothing the cost computes underflows: no sigmoid is recomputed for it
    a = ag.sigmoid(np.array([[800.0, 3.0]]))
    with np.errstate(under="raise"):
        cost = ag.binary_cross_entropy(a, np.array([[1.0, 1.0]])).item()
    assert cost == pytest.approx(math.log1p(math.exp(-3.0)) / 2, rel=1e-12)


def test_an_edit_of_a_tensors_logits_is_still_seen():
    z = ag.Tensor(np.array([[-20.0, 20.0]]))
    a = ag.sigmoid(z)
    z += 20.0  # (recorded in place: a's logits are stale, so the cost is a's probabilities')
    cost = ag.binary_cross_entropy(a, np.array([[1.0, 0.0]])).item()
    p = a.data[0]
    assert cost == pytest.approx(-(math.log(p[0]) + math.log(1 - p[1])) / 2, rel=1e-6)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("axis", [0, -1, (0,), [-1], None])
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_var_and_std_of_a_0d_tensor_over_its_one_entry(op, axis, ddof, dtype):
    x = ag.Tensor(np.array(3.0, dtype=dtype), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (NumPy's: no degree of freedom left)
        out = getattr(ag, op)(x, axis=axis, ddof=ddof, keepdims=True)
        out.backward()
    assert out.shape == () and out.dtype == dtype and x.grad.dtype == dtype
    if ddof == 0:  # one entry: no spread, and none to gain by moving it
        assert out.item() == 0.0 and x.grad == 0.0
    else:  # N - ddof = 0 degrees of freedom: NaN, as NumPy's and PyTorch's
        assert math.isnan(out.item()) and math.isnan(x.grad)


def test_var_of_a_0d_tensor_refuses_an_axis_it_does_not_have():
    with pytest.raises(ag.ShapeError, match=r"^var: .*axis 1 is out of bounds for array of dimension 0"):
        ag.var(ag.Tensor(np.array(3.0)), axis=1)


def test_var_and_std_of_a_0d_tensor_match_pytorch():
    torch = pytest.importorskip("torch")
    for op in ("var", "std"):
        for ddof in (0, 1):
            x = ag.Tensor(np.array(3.0), requires_grad=True)
            t = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = getattr(ag, op)(x, axis=0, ddof=ddof)
                out.backward()
                expected = getattr(torch, op)(t, dim=0, correction=ddof)
                expected.backward()
            np.testing.assert_array_equal(out.data, expected.detach().numpy())
            np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp"])
def test_every_reduction_of_a_0d_tensor_takes_a_one_axis_tuple(op):
    x = ag.Tensor(np.array(3.0), requires_grad=True)
    out = getattr(ag, op)(x, axis=(0,))
    out.backward()
    assert out.shape == () and out.item() == 3.0 and x.grad == 1.0  # (one entry: the reduction is the identity)


@pytest.mark.parametrize("axis", [np.array(0), np.array(-1), (np.int64(0),), [np.array(-1)]])
def test_a_0d_reduction_takes_numpys_integer_forms_of_its_axis(axis):
    # (adv131 F) as np.sum(np.array(2.5), axis=np.array(0)) does
    x = ag.Tensor(np.array(2.5), requires_grad=True)
    out = ag.sum(x, axis=axis)
    out.backward()
    assert out.item() == 2.5 and x.grad == 1.0


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_copy_of_a_constant_sigmoid_costs_what_the_original_does(duplicate):
    y = np.array([[1.0, 0.0]])
    a = ag.sigmoid(np.array([[-40.0, 40.0]]))
    twin = duplicate(a)
    assert ag.binary_cross_entropy(twin, y).item() == ag.binary_cross_entropy(a, y).item() == 40 + math.log1p(
        math.exp(-40))
    with ag.no_grad():
        twin += 0.0  # (an edit of the copy: its probabilities alone count, clamped at log = -100 as PyTorch's)
    assert ag.binary_cross_entropy(twin, y).item() == pytest.approx(70.0, rel=1e-12)  # (40 + 100) / 2


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["copy", "deepcopy", "pickle"])
def test_a_copy_of_a_constant_sigmoid_edited_before_it_was_copied_costs_its_own_probabilities(duplicate):
    # (adv136 #3) the copy is a fresh leaf: its kept logits no longer give its values
    with ag.no_grad():
        a = ag.sigmoid(np.array([[5.0]]))
        a[...] = 1e-8
    expected = -math.log(1e-8)
    assert ag.binary_cross_entropy(a, [[1.0]]).item() == pytest.approx(expected, rel=1e-12)
    assert ag.binary_cross_entropy(duplicate(a), [[1.0]]).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("infinite, label", [(np.inf, 1.0), (-np.inf, 0.0)])
def test_a_constant_sigmoid_of_infinite_logits_under_anomaly_mode(infinite, label):
    # (adv141) the logits' own copy is no op of the user's: anomaly mode checks none of it (-inf logits: a mask)
    with ag.detect_anomaly():
        a = ag.sigmoid(np.array([[infinite, 0.0]]))
        cost = ag.binary_cross_entropy(a, np.array([[label, 1.0]])).item()
    np.testing.assert_array_equal(a.data, [[1.0 if infinite > 0 else 0.0, 0.5]])
    assert cost == pytest.approx(math.log(2) / 2, rel=1e-12)  # (0 for the infinite entry, log 2 for z = 0)
