"""NumPy and PyTorch habits (issue 13), each as a test of what such a user expects."""
import numpy as np
import pytest

import autograd_lite as ag


@pytest.fixture
def t():
    return ag.Tensor(np.arange(6.0).reshape(2, 3) - 2.5, requires_grad=True)


@pytest.mark.parametrize("call,expected_op", [
    (lambda t: np.sum(t), "sum"), (lambda t: np.mean(t), "mean"), (lambda t: np.max(t), "max"),
    (lambda t: np.min(t), "min"), (lambda t: np.exp(t), "exp"), (lambda t: np.log(t * t), "log"),
    (lambda t: np.dot(np.ones((4, 2)), t), "matmul"), (lambda t: np.matmul(t, np.ones(3)), "matmul"),
    (lambda t: np.where(t > 0, t, 0.0), "where"), (lambda t: np.clip(t, -1, 1), "clip"),
    (lambda t: np.transpose(t), "transpose"), (lambda t: np.reshape(t, (3, 2)), "reshape"),
    (lambda t: np.sum(t, axis=1, keepdims=True), "sum"), (lambda t: np.var(t, 0), "var"),
    (lambda t: np.std(t), "std"), (lambda t: np.abs(t), "abs"), (lambda t: np.tanh(t), "tanh"),
    (lambda t: np.squeeze(t[None]), "squeeze"), (lambda t: np.expand_dims(t, 0), "expand_dims"),
    (lambda t: np.concatenate([t, t]), "concatenate"), (lambda t: np.stack([t, t], 1), "stack"),
    (lambda t: np.add.reduce(t, axis=1), "sum"), (lambda t: np.maximum(t, 0), "maximum"),
    (lambda t: np.sin(t) + np.cos(t), "add"), (lambda t: np.log1p(t * t), "log1p"),
])
def test_numpy_functions_on_tensors_are_the_recorded_ops(t, call, expected_op):
    out = call(t)
    assert isinstance(out, ag.Tensor) and out.requires_grad and out._prim.name == expected_op
    out.sum().backward()
    assert t.grad is not None and t.grad.shape == t.shape


def test_the_course_cost_written_with_np_sum_differentiates():
    A = ag.sigmoid(ag.Tensor([[0.3, -1.2, 2.0]], requires_grad=True))
    Y = np.array([[1.0, 0.0, 1.0]])
    cost = -1 / 3 * np.sum(np.multiply(np.log(A), Y) + np.multiply(np.log(1 - A), 1 - Y))
    assert cost.item() == pytest.approx(ag.binary_cross_entropy(A, Y).item(), rel=1e-14)
    np.testing.assert_allclose(ag.grad(lambda z: -1 / 3 * np.sum(np.log(ag.sigmoid(z)) * Y + np.log(
        1 - ag.sigmoid(z)) * (1 - Y)))(np.array([[0.3, -1.2, 2.0]])),
        (1 / (1 + np.exp(-np.array([[0.3, -1.2, 2.0]]))) - Y) / 3, rtol=1e-12)


@pytest.mark.parametrize("call,suggested", [
    (lambda t: np.linalg.norm(t), "sqrt\\(sum\\(x \\*\\* 2\\)\\)"), (lambda t: np.cumsum(t), "t.data|cumsum"),
    (lambda t: np.sum(t, out=np.zeros(())), "out="), (lambda t: np.logaddexp(t, t), "ag.softplus"),
    (lambda t: np.where(t), "one argument"), (lambda t: np.floor(t), "t.data"),
    (lambda t: np.exp(t, out=np.zeros((2, 3))), "out"),
])
def test_unsupported_numpy_calls_raise_type_error_naming_what_to_use(t, call, suggested):
    with pytest.raises(TypeError, match=suggested):
        call(t)


def test_value_only_numpy_functions_read_the_data(t):
    assert np.shape(t) == (2, 3) and np.ndim(t) == 2 and np.size(t) == 6
    assert np.allclose(t, t.data) and np.argmax(t) == 5
    assert np.isfinite(t).all()


def test_conversions_behave_as_on_ndarrays():
    J = ag.Tensor(0.693147, requires_grad=True) * 1.0
    assert float(J) == pytest.approx(0.693147) and f"{J:.4f}" == "0.6931" and round(J, 3) == 0.693
    assert int(ag.Tensor(2.7)) == 2 and round(ag.Tensor(2.7)) == 3
    assert ag.Tensor([[1.5, 2.0]]).tolist() == [[1.5, 2.0]] and ag.Tensor(3.0).tolist() == 3.0
    assert bool(ag.Tensor([0.0])) is False and bool(ag.Tensor(2.0)) is True
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ag.Tensor([1.0, 2.0]))
    assert f"{ag.Tensor([1.0, 2.0])}" == f"{np.array([1.0, 2.0])}"


def test_equality_is_elementwise_and_hashing_stays_by_identity():
    a = ag.Tensor([1.0, 2.0])
    eq = a == 1.0
    assert isinstance(eq, np.ndarray) and eq.tolist() == [True, False]
    assert (a != ag.Tensor([1.0, 0.0])).tolist() == [False, True]
    b = ag.Tensor([1.0, 2.0])
    cache = {a: "a", b: "b"}
    assert cache[a] == "a" and cache[b] == "b" and len({a, b}) == 2


def test_in_place_update_under_no_grad_changes_the_leaf_itself():
    W = ag.Tensor([1.0, 2.0], requires_grad=True)
    data_before, version_before = W.data, W._version
    (W * W).sum().backward()
    with ag.no_grad():
        W -= 0.1 * W.grad
    assert W.requires_grad and W.data is data_before and W._version == version_before + 1
    np.testing.assert_allclose(W.data, [0.8, 1.6])
    W.grad = None
    (W * W).sum().backward()  # the next backward works: W is still the same leaf
    np.testing.assert_allclose(W.grad, [1.6, 3.2])
    with pytest.raises(ag.GraphError, match="no_grad"):
        W -= 0.1 * W.grad


def test_ag_functions_take_axis_shape_and_axes_positionally():
    x = ag.Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(ag.sum(x, 1).data, x.data.sum(1))
    np.testing.assert_array_equal(ag.mean(x, 1).data, x.data.mean(1))
    np.testing.assert_array_equal(ag.max(x, 1).data, x.data.max(1))
    np.testing.assert_array_equal(ag.min(x, (0, 2), True).data, x.data.min((0, 2), keepdims=True))
    assert ag.reshape(x, (4, 6)).shape == (4, 6)
    assert ag.transpose(x, (1, 0, 2)).shape == (3, 2, 4)
    assert ag.sum(x, [0, 1]).shape == (4,)
    with pytest.raises(TypeError, match="'axis' both positionally and as a keyword"):
        ag.sum(x, 1, axis=0)


def test_tensor_methods_users_reach_for():
    t = ag.Tensor([[-1.0, 0.5], [2.0, -3.0]], requires_grad=True)
    checks = {
        "exp": np.exp(t.data), "log": None, "tanh": np.tanh(t.data), "sigmoid": 1 / (1 + np.exp(-t.data)),
        "relu": np.maximum(t.data, 0), "abs": np.abs(t.data), "sin": np.sin(t.data), "cos": np.cos(t.data),
    }
    for name, expected in checks.items():
        if expected is not None:
            np.testing.assert_allclose(getattr(t, name)().data, expected)
    np.testing.assert_allclose(t.abs().log().data, np.log(np.abs(t.data)))
    np.testing.assert_array_equal(t.clip(-1, 1).data, np.clip(t.data, -1, 1))
    np.testing.assert_array_equal(t.min(1).data, t.data.min(1))
    np.testing.assert_array_equal(t.max(0).data, t.data.max(0))
    np.testing.assert_allclose(t.var(1).data, t.data.var(1))
    np.testing.assert_allclose(t.softmax(0).data.sum(0), [1.0, 1.0])
    assert t.flatten().shape == (4,) and t.squeeze().shape == (2, 2) and t.expand_dims(0).shape == (1, 2, 2)
    (t.exp().sum() + t.clip(-1, 1).sum() + t.min(1).sum()).backward()
    assert t.grad.shape == (2, 2)


def test_grad_of_a_dict_of_parameters_and_gradcheck_of_the_course_cost():
    # the two calls the issue quotes as failing
    from models import three_layer
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(2, 6)), (rng.random((1, 6)) > 0.5).astype(float)
    params = {k: p.data for k, p in ag.init.initialize(three_layer.LAYER_DIMS, rng=3).items()}
    g = ag.grad(lambda p: three_layer.cost(p, X, Y, 0.7))(params)
    assert set(g) == set(params) and all(g[k].shape == params[k].shape for k in params)
    small = {"W1": params["W1"][:3], "b1": params["b1"][:3], "W2": params["W2"][:, :3], "b2": params["b2"],
             "W3": params["W3"], "b3": params["b3"]}
    result = ag.gradcheck(lambda p: three_layer.cost(p, X, Y, 0.7), [small], eps=1e-6)
    assert result.difference < 1e-7, str(result)
