"""The tape itself: recording, reverse traversal, accumulation, freeing, modes."""
import numpy as np
import pytest

import autograd_lite as ag


def test_tensor_used_twice_accumulates():
    x = ag.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_matrix_times_its_own_transpose():
    a_data = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    a = ag.Tensor(a_data, requires_grad=True)
    (a @ a.T).sum().backward()
    # d/dA sum(A A^T) = (1 + 1^T) A with 1 the all-ones (2, 2) matrix
    np.testing.assert_allclose(a.grad, 2 * np.ones((2, 2)) @ a_data)


def test_diamond_graph_reaches_shared_input_once_all_paths_are_summed():
    x = ag.Tensor(2.0, requires_grad=True)
    y = x * 3
    z = y * y + y          # dz/dx = (2y + 1) * 3
    z.backward()
    assert x.grad == pytest.approx((2 * 6 + 1) * 3)


def test_grad_accumulates_across_backward_calls_and_zero_grad_resets():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])
    w.zero_grad()
    assert w.grad is None
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 2.0])


def test_leaf_grad_is_an_independent_copy():
    # add's VJP hands the same array to both inputs; .grad must not alias it.
    a, b = ag.Tensor([1.0, 2.0], requires_grad=True), ag.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 10
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_only_requires_grad_leaves_get_grad():
    w = ag.Tensor([1.0], requires_grad=True)
    data = ag.Tensor([5.0])
    (w * data).sum().backward()
    assert data.grad is None and w.grad[0] == 5.0


def test_no_grad_records_nothing():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    with ag.no_grad():
        y = (w * 2).sum()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y._prim is None and y._parents is None
    with pytest.raises(ag.GraphError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator_and_enable_grad_inside():
    w = ag.Tensor([1.0], requires_grad=True)

    @ag.no_grad()
    def evaluate():
        with ag.enable_grad():
            inner = w * 2
        return w * 2, inner
    outer, inner = evaluate()
    assert not outer.requires_grad and inner.requires_grad


def test_backward_frees_the_graph_and_a_second_backward_raises():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    loss = (ag.exp(w) * 2).sum()
    loss.backward()
    with pytest.raises(ag.GraphError, match="freed"):
        loss.backward()


def test_retain_graph_allows_a_second_backward():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    loss = (ag.exp(w) * 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * 2 * np.exp(w.data))


def test_non_scalar_backward_uses_the_given_seed():
    x = ag.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    seed = np.array([[1.0, 0.5], [0.0, 2.0]])
    (x * x).backward(seed)
    np.testing.assert_array_equal(x.grad, 2 * x.data * seed)


def test_retain_grad_fills_an_intermediate():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(x.grad, 2 * h.data * 3)


def test_long_chain_does_not_hit_the_recursion_limit():
    x = ag.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_detach_cuts_the_graph():
    x = ag.Tensor([2.0], requires_grad=True)
    y = (x * x).detach() * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0])


@pytest.mark.parametrize("make", [
    lambda x, a: 2 * x, lambda x, a: x * 2, lambda x, a: 1 - x, lambda x, a: a * x,
    lambda x, a: a + x, lambda x, a: a - x, lambda x, a: a / x, lambda x, a: a @ x.T,
    lambda x, a: x.T @ a, lambda x, a: np.exp(x), lambda x, a: np.maximum(a, x),
])
def test_mixed_operands_give_tensors(make):
    x = ag.Tensor(np.full((2, 2), 0.5), requires_grad=True)
    out = make(x, np.ones((2, 2)))
    assert type(out) is ag.Tensor and out.dtype == np.float64 and out.requires_grad


def test_unsupported_numpy_function_raises_instead_of_dropping_the_gradient():
    x = ag.Tensor([0.5], requires_grad=True)
    with pytest.raises(TypeError, match="arccosh"):
        np.arccosh(x)
    with pytest.raises(TypeError, match="drop its gradient"):
        np.asarray(x)
    np.testing.assert_array_equal(np.asarray(ag.Tensor([0.5])), [0.5])


def test_dtypes_ints_and_bools_become_float64_float32_stays():
    assert ag.Tensor([1, 2]).dtype == np.float64
    assert ag.Tensor(np.array([True, False])).dtype == np.float64
    x32 = ag.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = 2 * x32 + 1.5
    assert y.dtype == np.float32
    ag.sigmoid(y).sum().backward()
    assert x32.grad.dtype == np.float32


def test_constructor_copies_its_data():
    source = np.array([1.0, 2.0])
    t = ag.Tensor(source)
    source[0] = 100.0
    assert t.data[0] == 1.0


def test_tensor_basics():
    t = ag.Tensor([[1.0, 2.0, 3.0]], name="A3")
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and len(t) == 1
    assert t.T.shape == (3, 1)
    assert ag.Tensor([[4.0]]).item() == 4.0
    assert "A3" in repr(t)
    assert t.numpy() is t.data
    assert (t > 1.5).tolist() == [[False, True, True]]


def test_sum_and_mean_functions_accept_arrays():
    assert ag.sum(np.ones((2, 3)), axis=0).shape == (3,)
    assert ag.mean(np.ones((2, 3))).item() == 1.0
    assert ag.matmul(np.ones((2, 3)), np.ones((3, 1))).shape == (2, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_scalar_costs_seed_reaches_vjps_as_a_numpy_scalar_and_grads_are_arrays_of_their_own(dtype):
    seen = []

    @ag.primitive
    def double(x):
        return 2 * x
    double.defvjp(lambda g, out, x: seen.append(g) or 2 * g)

    x = ag.Tensor(np.array(1.5, dtype), requires_grad=True)
    y = double(x).retain_grad()
    y.backward()
    assert type(seen[0]) is dtype and seen[0] == 1  # no 0-d array arithmetic for the cost's seed
    for t in (x, y):
        assert type(t.grad) is np.ndarray and t.grad.dtype == dtype and t.grad.shape == ()
    assert x.grad == 2 and y.grad == 1
    leaf = ag.Tensor(np.array(3.0, dtype), requires_grad=True)
    leaf.backward()
    assert type(leaf.grad) is np.ndarray and leaf.grad == 1 and leaf.grad.flags.writeable
