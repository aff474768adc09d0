"""NumPy's *_like constructors on Tensors, round 21 (adv130 #4): a new ndarray of the tensor's shape and
dtype, NumPy's own result on its data; under ag.compile a fill value given as a tensor is read anew."""
import numpy as np
import pytest

import autograd_lite as ag

DATA = np.arange(6.0, dtype=np.float32).reshape(2, 3)


@pytest.mark.parametrize("make, extra", [(np.zeros_like, {}), (np.ones_like, {}), (np.full_like, {"fill_value": 7}),
                                         (np.ones_like, {"dtype": np.float64}), (np.zeros_like, {"shape": (4,)}),
                                         (np.full_like, {"fill_value": 2.5, "order": "F"})])
def test_like_constructors_give_numpys_array(make, extra):
    t = ag.Tensor(DATA.copy(), requires_grad=True)
    got, expected = make(t, **extra), make(DATA, **extra)
    assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.flags.f_contiguous == expected.flags.f_contiguous


def test_empty_like_has_the_shape_and_dtype():
    got = np.empty_like(ag.Tensor(DATA))
    assert type(got) is np.ndarray and got.shape == (2, 3) and got.dtype == np.float32


def test_a_like_constant_in_a_loss_gives_the_gradient_of_the_formula():
    z = ag.Tensor(np.array([[-1.0, 0.5, 2.0]]), requires_grad=True)
    cost = ag.binary_cross_entropy_with_logits(z, np.ones_like(z))
    cost.backward()
    np.testing.assert_allclose(z.grad, (1 / (1 + np.exp(-z.data)) - 1) / 3, rtol=1e-14)  # (sigmoid(z) - y) / m


def test_a_tensor_fill_value_under_compile_is_read_on_every_call():
    compiled = ag.compile(lambda x, v: (x * np.full_like(x, v)).sum())
    x = ag.Tensor(DATA.astype(np.float64))
    for v in (1.0, 2.0, -3.0):
        assert compiled(x, ag.Tensor(v)).item() == DATA.sum() * v


def test_zeros_like_under_compile_follows_the_inputs_shape():
    compiled = ag.compile(lambda x: (x + np.ones_like(x)).sum())
    for n in (2, 3, 2):
        assert compiled(ag.Tensor(np.zeros(n))).item() == n


def test_a_fill_value_that_requires_grad_is_refused_rather_than_dropped():
    # (adv131 D) JAX differentiates through it; a constant array here would silently drop the gradient
    x = ag.Tensor(np.arange(3.0))
    with pytest.raises(TypeError, match="would silently drop its gradient"):
        ag.grad(lambda w: (x * np.full_like(x, w)).sum())(2.0)
    with ag.no_grad():  # (nothing recorded: the value, as np.asarray gives it)
        np.testing.assert_array_equal(np.full_like(x, ag.Tensor(2.0, requires_grad=True)), [2.0, 2.0, 2.0])


def test_full_like_of_an_array_takes_a_tensor_fill_value():
    # (adv131 E) NumPy's full_like writes the value with np.copyto, which reads the tensor by value
    got = np.full_like(np.ones((2, 2), np.float32), ag.Tensor(2.5))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.full((2, 2), 2.5, np.float32))


def test_copyto_reads_a_tensor_source_and_refuses_a_tensor_destination():
    out = np.zeros(3)
    np.copyto(out, ag.Tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    t = ag.Tensor(np.zeros(3))
    with pytest.raises(TypeError, match=r"numpy.copyto into a Tensor \(shape \(3,\)\)"):
        np.copyto(t, np.ones(3))
    np.testing.assert_array_equal(t.data, np.zeros(3))


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_reshape_method_takes_numpys_order(order):
    # (adv134 #2) as ndarray.reshape and np.reshape on a Tensor; the gradient is the weights put back in that order
    data, weights = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2) + 1
    x = ag.Tensor(data, requires_grad=True)
    y = x.reshape((3, 2), order=order)
    np.testing.assert_array_equal(y.data, data.reshape((3, 2), order=order))
    np.testing.assert_array_equal(np.reshape(x, (3, 2), order=order).data, y.data)
    (y * weights).sum().backward()
    np.testing.assert_array_equal(x.grad, weights.reshape((2, 3), order=order))


@pytest.mark.parametrize("keywords, refusal", [({"order": "A"}, r"Tensor.reshape\(\): order='A' is not supported"),
                                               ({"copy": True}, r"Tensor.reshape\(\): copy=True is not supported")])
def test_the_reshape_method_refuses_what_it_cannot_honour_by_name(keywords, refusal):
    with pytest.raises(TypeError, match=refusal):
        ag.Tensor(np.arange(6.0)).reshape((3, 2), **keywords)


@pytest.mark.parametrize("nan_function, ag_function", [(np.nansum, "ag.sum"), (np.nanmean, "ag.mean")])
def test_the_courses_nansum_cost_is_refused_with_advice_that_keeps_the_gradient(nan_function, ag_function):
    # (adv138 #2) the course writes its cost with np.nansum; t.data would leave the graph
    a = ag.sigmoid(ag.Tensor(np.zeros((1, 4)), requires_grad=True))
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    with pytest.raises(TypeError, match=rf"numpy\.{nan_function.__name__} is not differentiable .*; use "
                                        rf"{ag_function} .*ag\.binary_cross_entropy, which takes 0 log 0 as 0"):
        nan_function(y * ag.log(a) + (1 - y) * ag.log(1 - a))
