"""Round 19 (adv103): a 0-d tensor reduced over axis 0 (or -1), which NumPy's sum and max and PyTorch
take as its one entry, gets its gradient and tangent (the rules refused the axis NumPy's forward took:
a bare AxisError at backward); ``linear`` of two vectors refuses a bias that would enlarge the product
(it became a (2,) result whose backward failed); softmax and log_softmax take a list of axes as
every reduction does."""
import numpy as np
import pytest

import autograd_lite as ag

REDUCTIONS_OF_A_0D = {
    "sum axis 0": lambda x: ag.sum(x, 0),
    "method sum axis -1": lambda x: x.sum(-1),
    "max axis -1": lambda x: ag.max(x, -1),
    "min axis 0": lambda x: ag.min(x, axis=0),
    "mean axis 0": lambda x: ag.mean(x, 0),
    "logsumexp axis 0": lambda x: ag.logsumexp(x, 0),
    "np.max axis 0": lambda x: np.max(x, axis=0),
    "np.add.reduce (axis 0 by default)": lambda x: np.add.reduce(x),
}


@pytest.mark.parametrize("reduce", REDUCTIONS_OF_A_0D.values(), ids=REDUCTIONS_OF_A_0D.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reducing_a_0d_tensor_over_its_axis_0_passes_the_gradient(reduce, dtype):
    x = ag.Tensor(np.array(2.0, dtype), requires_grad=True)
    y = reduce(x)
    (3 * y).backward()
    assert y.shape == () and y.dtype == dtype and float(y.data) == 2.0
    assert x.grad.shape == () and x.grad.dtype == dtype and float(x.grad) == 3.0  # PyTorch's x.sum(0): 3.0
    value, tangent = ag.jvp(reduce, (np.array(2.0, dtype),), (np.array(1.0, dtype),))
    assert float(tangent) == 1.0


def test_an_axis_a_0d_tensor_does_not_have_is_still_refused_by_name():
    x = ag.Tensor(2.0, requires_grad=True)
    with pytest.raises(ag.ShapeError, match=r"^sum: .*axis 1 is out of bounds for array of dimension 0"):
        ag.sum(x, 1)
    with pytest.raises(ag.ShapeError, match=r"^var: .*axis 1 is out of bounds"):
        ag.var(x, 1)  # (axis 0 reduces nothing, as for sum: tests/test_ops_round21.py)


def test_linear_of_two_vectors_refuses_an_enlarging_bias():
    w = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ag.ShapeError, match=r"linear: bias of shape \(2,\) does not broadcast to the shape \(\) of "
                                            r"weights \(3,\) @ inputs \(3,\); expected e\.g\. \(\)$"):
        ag.linear(w, np.ones(3), ag.Tensor([10.0, 20.0], requires_grad=True))
    b = ag.Tensor(5.0, requires_grad=True)
    z = ag.linear(w, np.array([1.0, -1.0, 2.0]), b)
    z.backward()
    assert float(z.data) == 1.0 - 2.0 + 6.0 + 5.0
    np.testing.assert_array_equal(w.grad, [1.0, -1.0, 2.0])
    assert float(b.grad) == 1.0


@pytest.mark.parametrize("op", [ag.softmax, ag.log_softmax])
def test_softmax_takes_a_list_of_axes_as_the_tuple(op):
    values = np.random.default_rng(3).standard_normal((2, 3))
    seed = np.random.default_rng(4).standard_normal((2, 3))
    results = []
    for axis in ([0, 1], (0, 1)):
        x = ag.Tensor(values, requires_grad=True)
        y = op(x, axis)
        y.backward(seed)
        results.append((y.data, x.grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    whole = np.exp(values) / np.exp(values).sum()  # over both axes: one distribution
    np.testing.assert_allclose(results[0][0], whole if op is ag.softmax else np.log(whole), rtol=1e-12)
