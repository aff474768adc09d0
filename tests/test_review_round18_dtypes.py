"""Round 18 (adv94, random graphs against PyTorch): an op given a float32 array and Python numbers,
no Tensor, returned float64 (the numbers were made float64 Tensors), so the same function ran in
float32 or float64 depending on which arguments a transform differentiated; and binary
cross-entropy of a saturated 0-d sigmoid raised a TypeError. Expected dtypes: NumPy's (NEP 50:
a Python number takes the array's float dtype, as in PyTorch); expected values: the math."""
import math

import numpy as np
import pytest

import autograd_lite as ag

X32 = np.array([1.5, -2.0, 3.0], dtype=np.float32)
CALLS = {
    "multiply": (lambda x: ag.multiply(x, 2), lambda x: np.multiply(x, 2)),
    "add": (lambda x: ag.add(x, 0.5), lambda x: np.add(x, 0.5)),
    "subtract": (lambda x: ag.subtract(1, x), lambda x: np.subtract(1, x)),
    "divide": (lambda x: ag.divide(x, 3), lambda x: np.divide(x, 3)),
    "power": (lambda x: ag.power(x, 3), lambda x: np.power(x, 3)),
    "maximum": (lambda x: ag.maximum(x, 0), lambda x: np.maximum(x, 0)),
    "minimum": (lambda x: ag.minimum(x, 0.0), lambda x: np.minimum(x, 0.0)),
    "clip": (lambda x: ag.clip(x, 0, 1), lambda x: np.clip(x, 0, 1)),
    "where": (lambda x: ag.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0.0)),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_an_array_and_numbers_keep_the_arrays_dtype(name, dtype):
    ours, numpys = CALLS[name]
    x = X32.astype(dtype)
    out = ours(x)
    assert out.dtype == numpys(x).dtype == dtype
    np.testing.assert_array_equal(out.data, numpys(x))


def test_a_numpy_float_and_a_number_keep_its_dtype():
    assert ag.multiply(np.float32(2), 2).dtype == np.float32 == np.multiply(np.float32(2), 2).dtype


def test_numbers_take_the_first_tensors_dtype_before_an_arrays():
    # (a float64 array itself stays float64 and promotes, as in NumPy and PyTorch; a number and an int
    # array take the float32 Tensor's dtype, as before)
    assert ag.add(np.ones(3), ag.Tensor(X32)).dtype == np.float64
    assert ag.where(np.array([True, False, True]), ag.Tensor(X32), 2).dtype == np.float32
    assert ag.multiply(np.arange(3), ag.Tensor(X32)).dtype == np.float32


def test_a_transform_runs_in_the_datas_dtype_whichever_argument_it_differentiates():
    # x (float32) is not differentiated, so f gets it as an array: (30000 ** 3) ** 3 = 2.7e40 overflows
    # float32 to inf, as it does when f runs on Tensors
    big, w = np.array([30000.0], dtype=np.float32), np.array([1.0], dtype=np.float32)

    def f(w, x):
        return ag.sum(ag.power(ag.power(x, 3), 3) * w)

    with np.errstate(over="ignore"):
        eager = f(ag.Tensor(w), ag.Tensor(big)).item()
        value, grad = ag.value_and_grad(f, argnums=0)(w, big)
    assert eager == value == math.inf
    assert grad.dtype == np.float32


def test_eager_and_compiled_agree_on_the_dtype():
    def f(x):
        return ag.multiply(x, 2)

    step = ag.compile(f)
    assert [f(X32).dtype] + [step(X32).dtype for _ in range(2)] == [np.float32] * 3


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
@pytest.mark.parametrize("z,label", [(20.0, 0.0), (-20.0, 1.0), (30.0, 0.0)])
def test_cross_entropy_of_a_saturated_0d_sigmoid(dtype, rtol, z, label):
    # the true label's probability is below 1e-6: the cost is softplus(-s) for s = z (label 1) or -z
    s = z if label else -z
    expected_cost = max(-s, 0.0) + math.log1p(math.exp(-abs(s)))
    expected_grad = 1 / (1 + math.exp(-z)) - label  # d/dz: sigmoid(z) - y
    zt = ag.Tensor(np.array(z, dtype=dtype), requires_grad=True)
    cost = ag.binary_cross_entropy(ag.sigmoid(zt), np.array(label, dtype=dtype))
    cost.backward()
    assert cost.dtype == dtype and zt.grad.dtype == dtype
    np.testing.assert_allclose(cost.item(), expected_cost, rtol=rtol)
    np.testing.assert_allclose(zt.grad, expected_grad, rtol=rtol)


def test_cross_entropy_of_a_saturated_sigmoid_matches_the_0d_case_in_a_vector():
    z = np.array([20.0, -3.0, 0.5])
    y = np.array([0.0, 1.0, 1.0])
    expected = np.mean(np.maximum(-np.where(y == 1, z, -z), 0) + np.log1p(np.exp(-np.abs(z))))
    zt = ag.Tensor(z.reshape(1, 3), requires_grad=True)
    cost = ag.binary_cross_entropy(ag.sigmoid(zt), y.reshape(1, 3))
    np.testing.assert_allclose(cost.item(), expected, rtol=1e-14)


@pytest.mark.parametrize("make", [
    lambda x, s: ag.multiply(x, s), lambda x, s: ag.multiply(s, x),
    lambda x, s: ag.add(s, x), lambda x, s: ag.maximum(x, s), lambda x, s: ag.minimum(s, x),
])
@pytest.mark.parametrize("dtype,scalar", [(np.float32, np.float64(0.1)), (np.float16, np.float32(1.0)),
                                          (np.float32, 0.1)])
def test_a_numpy_float_beside_an_array_takes_its_dtype_either_way_round_and_compiled(make, dtype, scalar):
    # (as beside a Tensor: the array, not the scalar, sets the dtype, whichever comes first; a compiled
    # call, whose array arguments are Tensors, gives the same)
    x = np.array([0.5, -2.0, 3.0], dtype=dtype)
    eager = make(x, scalar)
    step = ag.compile(lambda x: make(x, scalar))
    replays = [step(x) for _ in range(2)]
    assert eager.dtype == dtype and all(r.dtype == dtype for r in replays)
    np.testing.assert_array_equal(replays[1].data, eager.data)
