"""Every primitive's VJP against central differences, on several shapes
(broadcasting included), in float64 and float32."""
import numpy as np
import pytest

import autograd_lite as ag

# (id, function of Tensors -> Tensor, input shapes, sampler of safe values)
positive = lambda rng, shape: rng.uniform(0.5, 2.0, shape)  # noqa: E731
anywhere = lambda rng, shape: rng.uniform(-2.0, 2.0, shape)  # noqa: E731


def away_from_zero(rng, shape):
    # Kinks (relu, abs) sit at 0: keep samples where central differences are valid.
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def distinct(rng, shape):
    # max/maximum ties split the gradient; distinct values keep the derivative classical.
    return rng.permutation(np.arange(np.prod(shape), dtype=float)).reshape(shape) * 0.37 - 1.0


CASES = [
    ("add", lambda x, y: x + y, [(3, 4), (3, 4)], anywhere),
    ("add_broadcast_col_row", lambda x, y: x + y, [(3, 1), (1, 4)], anywhere),
    ("add_bias", lambda x, b: x + b, [(5, 7), (5, 1)], anywhere),
    ("radd_scalar", lambda x: 2.5 + x, [(2, 3)], anywhere),
    ("subtract", lambda x, y: x - y, [(3, 1), (1, 4)], anywhere),
    ("rsub_scalar", lambda x: 1 - x, [(4,)], anywhere),
    ("multiply", lambda x, y: x * y, [(3, 4), (3, 4)], anywhere),
    ("multiply_broadcast", lambda x, y: x * y, [(2, 3, 1), (4,)], anywhere),
    ("scalar_times_matrix", lambda s, x: s * x, [(), (3, 4)], anywhere),
    ("divide", lambda x, y: x / y, [(3, 4), (3, 4)], positive),
    ("divide_broadcast", lambda x, y: x / y, [(3, 1), (1, 4)], positive),
    ("rdivide_scalar", lambda x: 1 / x, [(3,)], positive),
    ("power_const", lambda x: x ** 3, [(3, 4)], anywhere),
    ("power_tensor", lambda x, p: x ** p, [(3, 4), (1, 4)], positive),
    ("rpower", lambda p: 2.0 ** p, [(3,)], anywhere),
    ("negative", lambda x: -x, [(3, 4)], anywhere),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 5)], anywhere),
    ("matmul_vec_right", lambda a, b: a @ b, [(3, 4), (4,)], anywhere),
    ("matmul_vec_left", lambda a, b: a @ b, [(4,), (4, 5)], anywhere),
    ("matmul_dot", lambda a, b: a @ b, [(4,), (4,)], anywhere),
    ("matmul_batched", lambda a, b: a @ b, [(2, 3, 4), (4, 5)], anywhere),
    ("matmul_batched_vec_left", lambda a, b: a @ b, [(4,), (2, 4, 3)], anywhere),
    ("matmul_batched_vec_right", lambda a, b: a @ b, [(2, 3, 4), (4,)], anywhere),
    ("matmul_transposed", lambda x, w: x.T @ w, [(4, 3), (4, 2)], anywhere),
    ("linear", ag.linear, [(3, 4), (4, 5), (3, 1)], anywhere),
    ("linear_full_bias", ag.linear, [(3, 4), (4, 5), (3, 5)], anywhere),
    ("linear_row_bias_vec_input", ag.linear, [(3, 4), (4,), (3,)], anywhere),
    ("linear_no_bias", lambda w, a: ag.linear(w, a), [(3, 4), (4, 5)], anywhere),
    ("exp", ag.exp, [(3, 4)], anywhere),
    ("log", ag.log, [(3, 4)], positive),
    ("sqrt", ag.sqrt, [(3, 4)], positive),
    ("square", ag.square, [(3, 4)], anywhere),
    ("relu", ag.relu, [(3, 4)], away_from_zero),
    ("sigmoid", ag.sigmoid, [(3, 4)], anywhere),
    ("tanh", ag.tanh, [(3, 4)], anywhere),
    ("abs", ag.abs, [(3, 4)], away_from_zero),
    ("maximum", ag.maximum, [(3, 4), (1, 4)], distinct),
    ("minimum", ag.minimum, [(3, 4), (3, 1)], distinct),
    ("where", lambda x, y: ag.where(x > 0, x, y), [(3, 4), (3, 4)], away_from_zero),
    ("sum_all", lambda x: x.sum(), [(3, 4)], anywhere),
    ("sum_axis", lambda x: x.sum(axis=1), [(3, 4)], anywhere),
    ("sum_keepdims", lambda x: x.sum(axis=0, keepdims=True), [(3, 4)], anywhere),
    ("sum_tuple_axes", lambda x: ag.sum(x, axis=(0, 2)), [(2, 3, 4)], anywhere),
    ("mean_all", lambda x: x.mean(), [(3, 4)], anywhere),
    ("mean_axis_keepdims", lambda x: ag.mean(x, axis=1, keepdims=True), [(3, 4)], anywhere),
    ("max_axis", lambda x: x.max(axis=1), [(3, 4)], distinct),
    ("max_all", lambda x: x.max(), [(3, 4)], distinct),
    ("reshape", lambda x: x.reshape(4, 3) * np.arange(12.0).reshape(4, 3), [(3, 4)], anywhere),
    ("transpose_T", lambda x: x.T * np.arange(12.0).reshape(4, 3), [(3, 4)], anywhere),
    ("transpose_axes", lambda x: x.transpose(2, 0, 1) * np.arange(24.0).reshape(4, 2, 3),
     [(2, 3, 4)], anywhere),
    ("getitem_slice", lambda x: x[1:, ::2] * 3.0, [(3, 4)], anywhere),
    ("getitem_repeated_index", lambda x: x[np.array([0, 0, 2])], [(3, 4)], anywhere),
    ("broadcast_to", lambda x: ag.broadcast_to(x, shape=(3, 4)) * np.arange(12.0).reshape(3, 4),
     [(1, 4)], anywhere),
    ("stack", lambda x, y: ag.stack([x, y], axis=1) * np.arange(24.0).reshape(3, 2, 4),
     [(3, 4), (3, 4)], anywhere),
    ("concatenate", lambda x, y: ag.concatenate([x, y], axis=1) * np.arange(21.0).reshape(3, 7),
     [(3, 4), (3, 3)], anywhere),
    ("dropout_fixed_mask", lambda a: ag.dropout(a, 0.8, mask=np.array([[1, 0, 1], [0, 1, 1]])),
     [(2, 3)], anywhere),
    ("l2_penalty", lambda w1, w2: ag.l2_penalty([w1, w2], lambd=0.7, m=5), [(3, 2), (1, 3)], anywhere),
    ("bce_on_probabilities", lambda a: ag.binary_cross_entropy(a, np.array([[1.0, 0.0, 1.0]])),
     [(1, 3)], lambda rng, shape: rng.uniform(0.1, 0.9, shape)),
    ("bce_through_sigmoid", lambda z: ag.binary_cross_entropy(ag.sigmoid(z), np.array([[1.0, 0.0, 1.0]])),
     [(1, 3)], anywhere),
]


def _weights(shape):
    # A fixed, non-uniform cotangent so every output entry is checked separately.
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _scalar(fn):
    def scalar_fn(*xs):
        out = fn(*xs)
        return (out * _weights(out.shape)).sum()
    return scalar_fn


@pytest.mark.parametrize("name,fn,shapes,sample", CASES, ids=[c[0] for c in CASES])
def test_vjp_matches_central_differences_float64(name, fn, shapes, sample):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    inputs = [sample(rng, s) for s in shapes]
    result = ag.gradcheck(_scalar(fn), inputs, eps=1e-6)
    assert result.difference < 1e-8, str(result)


@pytest.mark.parametrize("name,fn,shapes,sample", CASES, ids=[c[0] for c in CASES])
def test_vjp_float32_stays_float32_and_matches(name, fn, shapes, sample):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    inputs64 = [sample(rng, s) for s in shapes]
    numeric = ag.numerical_gradient(_scalar(fn), inputs64, eps=1e-6)
    tensors = [ag.Tensor(x.astype(np.float32), requires_grad=True) for x in inputs64]
    _scalar(fn)(*tensors).backward()
    for t, expected in zip(tensors, numeric):
        assert t.grad.dtype == np.float32
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, expected, rtol=2e-3, atol=2e-3)


def test_numerical_gradient_matches_closed_form():
    # The reference itself: d/dx sum(x^3) = 3x^2, d/dy sum(sin-free) of x*y = x.
    x, y = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[2.0, 1.0], [-1.0, 4.0]])
    gx, gy = ag.numerical_gradient(lambda a, b: (a ** 3 + a * b).sum(), [x, y])
    np.testing.assert_allclose(gx, 3 * x ** 2 + y, rtol=1e-6)
    np.testing.assert_allclose(gy, x, rtol=1e-6)


def test_forward_values_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    np.testing.assert_array_equal((ag.Tensor(a) @ b).data, a @ b)
    np.testing.assert_array_equal(ag.sigmoid(a).data, 1 / (1 + np.exp(-a)))
    np.testing.assert_array_equal(ag.relu(a).data, np.maximum(0, a))
    np.testing.assert_array_equal(ag.mean(a, axis=0).data, a.mean(axis=0))
    np.testing.assert_array_equal((ag.Tensor(a) ** 2).data, a ** 2)


def test_linear_equals_the_expression_it_fuses_in_values_and_gradients():
    rng = np.random.default_rng(4)
    arrays = rng.normal(size=(3, 4)), rng.normal(size=(4, 6)), rng.normal(size=(3, 1))
    fused = [ag.Tensor(x, requires_grad=True) for x in arrays]
    written = [ag.Tensor(x, requires_grad=True) for x in arrays]
    z_fused = ag.linear(*fused)
    z_written = written[0] @ written[1] + written[2]
    np.testing.assert_array_equal(z_fused.data, z_written.data)
    assert z_fused._prim.name == "linear" and len(z_fused._parents) == 3  # one node, not two
    seed = rng.normal(size=(3, 6))
    z_fused.backward(seed)
    z_written.backward(seed)
    for f, w in zip(fused, written):
        np.testing.assert_array_equal(f.grad, w.grad)


def test_linear_keeps_a_float32_model_float32_and_promotes_like_the_expression():
    w, a = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    assert ag.linear(w, a, np.zeros((2, 1), np.float32)).dtype == np.float32
    assert ag.linear(w, a, np.zeros((2, 1))).dtype == (ag.Tensor(w) @ a + np.zeros((2, 1))).dtype


def test_sigmoid_saturates_without_overflow_warning():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = ag.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])


def test_bce_value_matches_the_exercise_formula():
    rng = np.random.default_rng(3)
    a, y = rng.uniform(0.05, 0.95, (1, 7)), (rng.uniform(size=(1, 7)) > 0.5).astype(float)
    expected = 1.0 / 7 * np.nansum(-np.log(a) * y - np.log(1 - a) * (1 - y))
    assert ag.binary_cross_entropy(a, y).item() == expected


def test_bce_through_saturated_sigmoid_gives_a_minus_y_over_m():
    # Logits so large that sigmoid is exactly 0.0 or 1.0: naive chain rule gives 0/0.
    z = ag.Tensor([[40.0, -800.0, 40.0, 0.3]], requires_grad=True)
    y = np.array([[1.0, 0.0, 0.0, 1.0]])
    a = ag.sigmoid(z)
    assert a.data[0, 0] == 1.0 and a.data[0, 1] == 0.0
    cost = ag.binary_cross_entropy(a, y)
    cost.backward()
    assert np.isfinite(cost.item())
    np.testing.assert_array_equal(z.grad, (a.data - y) / 4)


def test_bce_on_saturated_probabilities_is_finite():
    a = ag.Tensor([[1.0, 0.0, 1.0, 0.0]], requires_grad=True)
    cost = ag.binary_cross_entropy(a, np.array([[1.0, 0.0, 0.0, 1.0]]))
    cost.backward()
    assert np.isfinite(cost.item()) and np.all(np.isfinite(a.grad))
    assert cost.item() == pytest.approx(2 * 100 / 4)  # two wrong saturated terms, log floored at -100


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_bce_floors_each_log_at_exactly_minus_100_in_every_float_width(dtype):
    # log(0), and log(1e-50) = -115 in float64 (0 in the others), all count as -100
    a = np.array([[0.0, 1.0, 1e-50, 0.5]]).astype(dtype)
    cost = ag.binary_cross_entropy(a, np.array([[1.0, 0.0, 1.0, 1.0]]))
    assert cost.item() == pytest.approx((3 * 100.0 + np.log(2.0)) / 4, rel=1e-3 if dtype is np.float16 else 1e-7)
    assert ag.binary_cross_entropy(np.zeros((1, 1), dtype), np.ones((1, 1))).item() == 100.0


def test_dropout_scales_kept_units_and_reuses_the_mask_backward():
    a = ag.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    mask = np.array([[1, 0, 1], [0, 1, 1]])
    out = ag.dropout(a, 0.5, mask=mask)
    assert out._params["keep_prob"] == 0.5 and np.array_equal(out._parents[1].data, mask)
    np.testing.assert_array_equal(out.data, a.data * mask / 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, mask / 0.5)


def test_dropout_draws_from_the_given_generator():
    a = np.ones((50, 40))
    kept = ag.dropout(a, 0.8, rng=np.random.default_rng(7)).data != 0
    np.testing.assert_array_equal(kept, np.random.default_rng(7).random((50, 40)) < 0.8)
    assert ag.dropout(a, 0.8, training=False).data is not None
    np.testing.assert_array_equal(ag.dropout(a, 0.8, training=False).data, a)
    np.testing.assert_array_equal(ag.dropout(a, 1.0).data, a)


def test_l2_penalty_value_and_gradient_match_seeds_formula():
    w1, w2 = ag.Tensor([[1.0, -2.0]], requires_grad=True), ag.Tensor([[3.0]], requires_grad=True)
    penalty = ag.l2_penalty([w1, w2], lambd=0.7, m=4)
    assert penalty.item() == pytest.approx(0.7 / 8 * (1 + 4 + 9), rel=1e-15)
    penalty.backward()
    np.testing.assert_allclose(w1.grad, 0.7 / 4 * w1.data, rtol=1e-15)
    np.testing.assert_allclose(w2.grad, 0.7 / 4 * w2.data, rtol=1e-15)
