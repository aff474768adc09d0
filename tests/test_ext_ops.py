"""The ops users expect (issue 13), each against central differences (VJP and JVP) and
against HIPS autograd, the independent implementation: values, gradients (VJP),
directional derivatives (JVP) and Hessian-vector products, in float64 and float32,
with broadcasting shapes and an axis."""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.scipy.special import logsumexp as anp_logsumexp

import autograd_lite as ag


def anywhere(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    return rng.uniform(0.3, 2.0, shape)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def distinct(rng, shape):
    return rng.permutation(np.arange(np.prod(shape), dtype=float)).reshape(shape) * 0.37 - 1.0


def away_from_bounds(rng, shape):  # clip's kinks sit at +-0.5
    return rng.choice([-1.0, 1.0], shape) * rng.choice([rng.uniform(0, 0.4), rng.uniform(0.6, 2.0)], shape)


def _bce_logits_ref(z, y):
    return anp.sum(anp.maximum(z, 0) - z * y + anp.log1p(anp.exp(-anp.abs(z)))) / z.shape[-1]


def _ce_ref(x, onehot):
    return -anp.sum(onehot * (x - anp_logsumexp(x, axis=0, keepdims=True))) / x.shape[1]


LABELS = np.array([[1.0, 0.0, 1.0, 0.0, 1.0]])
CLASSES = np.array([2, 0, 1, 1, 3])
ONE_HOT = np.eye(4)[:, CLASSES]

# (id, ag function of Tensors, HIPS autograd function of arrays, input shapes, sampler)
CASES = [
    ("min_all", lambda x: ag.min(x), lambda x: anp.min(x), [(3, 4)], distinct),
    ("min_axis_positional", lambda x: ag.min(x, 1), lambda x: anp.min(x, axis=1), [(3, 4)], distinct),
    ("min_keepdims_broadcast", lambda x, y: ag.min(x * y, axis=0, keepdims=True),
     lambda x, y: anp.min(x * y, axis=0, keepdims=True), [(3, 4), (1, 4)], distinct),
    ("clip", lambda x: ag.clip(x, -0.5, 0.5), lambda x: anp.clip(x, -0.5, 0.5), [(3, 4)], away_from_bounds),
    ("clip_method_upper_only", lambda x: x.clip(None, 0.5), lambda x: anp.minimum(x, 0.5), [(3, 4)],
     away_from_bounds),
    ("softmax_columns", lambda x: ag.softmax(x), lambda x: anp.exp(x - anp_logsumexp(x, axis=0, keepdims=True)),
     [(4, 5)], anywhere),
    ("softmax_axis1_broadcast", lambda x, b: ag.softmax(x + b, 1),
     lambda x, b: anp.exp(x + b - anp_logsumexp(x + b, axis=1, keepdims=True)), [(3, 4), (3, 1)], anywhere),
    ("log_softmax", lambda x: ag.log_softmax(x, axis=0), lambda x: x - anp_logsumexp(x, axis=0, keepdims=True),
     [(4, 5)], anywhere),
    ("logsumexp_all", lambda x: ag.logsumexp(x), lambda x: anp_logsumexp(x), [(3, 4)], anywhere),
    ("logsumexp_axis_keepdims", lambda x: ag.logsumexp(x, 0, True),
     lambda x: anp_logsumexp(x, axis=0, keepdims=True), [(3, 4)], anywhere),
    ("softplus", ag.softplus, lambda x: anp.logaddexp(0, x), [(3, 4)], anywhere),
    ("leaky_relu", lambda x: ag.leaky_relu(x, 0.1), lambda x: anp.where(x > 0, x, 0.1 * x), [(3, 4)],
     away_from_zero),
    ("log1p", ag.log1p, anp.log1p, [(3, 4)], positive),
    ("expm1", ag.expm1, anp.expm1, [(3, 4)], anywhere),
    ("sin", ag.sin, anp.sin, [(3, 4)], anywhere),
    ("cos_broadcast", lambda x, y: ag.cos(x * y), lambda x, y: anp.cos(x * y), [(3, 1), (1, 4)], anywhere),
    ("var_all", lambda x: ag.var(x), lambda x: anp.var(x), [(3, 4)], anywhere),
    ("var_axis_ddof", lambda x: ag.var(x, 1, ddof=1), lambda x: anp.var(x, axis=1, ddof=1), [(3, 4)], anywhere),
    ("std_axis_keepdims", lambda x: ag.std(x, axis=0, keepdims=True),
     lambda x: anp.std(x, axis=0, keepdims=True), [(3, 4)], anywhere),
    ("squeeze", lambda x: ag.squeeze(x, 0), lambda x: anp.squeeze(x, 0), [(1, 4)], anywhere),
    ("expand_dims", lambda x: ag.expand_dims(x, 1), lambda x: anp.expand_dims(x, 1), [(3, 4)], anywhere),
    ("bce_with_logits", lambda z: ag.binary_cross_entropy_with_logits(z, LABELS),
     lambda z: _bce_logits_ref(z, LABELS), [(1, 5)], anywhere),
    ("cross_entropy_indices", lambda x: ag.cross_entropy(x, CLASSES), lambda x: _ce_ref(x, ONE_HOT), [(4, 5)],
     anywhere),
    ("cross_entropy_one_hot", lambda x: ag.cross_entropy(x, ONE_HOT), lambda x: _ce_ref(x, ONE_HOT), [(4, 5)],
     anywhere),
]
IDS = [c[0] for c in CASES]


def _inputs(name, shapes, sample):
    rng = np.random.default_rng(sum(map(ord, name)))
    return [sample(rng, s) for s in shapes]


def _weights(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _scalar(fn, weights_shape, numpy=np):
    w = _weights(weights_shape)
    return lambda *xs: (fn(*xs) * w).sum()


@pytest.mark.parametrize("name,fn,ref,shapes,sample", CASES, ids=IDS)
def test_value_and_vjp_match_hips_autograd_float64(name, fn, ref, shapes, sample):
    xs = _inputs(name, shapes, sample)
    out = fn(*[ag.Tensor(x) for x in xs])
    expected = ref(*xs)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    assert out.shape == np.shape(expected)
    scalar, ref_scalar = _scalar(fn, out.shape), _scalar(ref, out.shape)
    grads = ag.grad(scalar, tuple(range(len(xs))))(*xs)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, autograd.grad(ref_scalar, i)(*xs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,fn,ref,shapes,sample", CASES, ids=IDS)
def test_jvp_matches_hips_autograd_forward_mode_and_central_differences(name, fn, ref, shapes, sample):
    xs = _inputs(name, shapes, sample)
    rng = np.random.default_rng(7)
    ts = [rng.normal(size=np.shape(x)) for x in xs]
    out, tangent = ag.jvp(fn, xs, ts)

    def along(s):
        return ref(*[x + s * t for x, t in zip(xs, ts)])
    expected_value, expected = autograd.make_jvp(along)(0.0)(1.0)
    np.testing.assert_allclose(out, expected_value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tangent, expected, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    central = (np.asarray(along(eps)) - np.asarray(along(-eps))) / (2 * eps)
    np.testing.assert_allclose(tangent, central, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,fn,ref,shapes,sample", CASES, ids=IDS)
def test_vjp_matches_central_differences(name, fn, ref, shapes, sample):
    xs = _inputs(name, shapes, sample)
    out_shape = fn(*[ag.Tensor(x) for x in xs]).shape
    result = ag.gradcheck(_scalar(fn, out_shape), xs, eps=1e-6)
    assert result.difference < 1e-8, str(result)


@pytest.mark.parametrize("name,fn,ref,shapes,sample", CASES, ids=IDS)
def test_float32_stays_float32_and_matches_hips_autograd(name, fn, ref, shapes, sample):
    xs = _inputs(name, shapes, sample)
    tensors = [ag.Tensor(x.astype(np.float32), requires_grad=True) for x in xs]
    out = fn(*tensors)
    assert out.dtype == np.float32, f"{name} gave {out.dtype}"
    np.testing.assert_allclose(out.data, ref(*xs), rtol=1e-5, atol=1e-5)
    _scalar(fn, out.shape)(*tensors).backward()
    for i, t in enumerate(tensors):
        assert t.grad.dtype == np.float32
        np.testing.assert_allclose(t.grad, autograd.grad(_scalar(ref, out.shape), i)(*xs), rtol=1e-4, atol=1e-5)
    _, tangent = ag.jvp(fn, [t.data for t in tensors], [np.ones_like(t.data) for t in tensors])
    assert tangent.dtype == np.float32


SECOND_ORDER = [c for c in CASES if c[0] in {"softmax_columns", "log_softmax", "logsumexp_all", "softplus", "log1p",
                                             "expm1", "sin", "cos_broadcast", "var_axis_ddof", "std_axis_keepdims",
                                             "bce_with_logits", "cross_entropy_indices"}]


@pytest.mark.parametrize("name,fn,ref,shapes,sample", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_hessian_vector_product_matches_hips_autograd(name, fn, ref, shapes, sample):
    xs = _inputs(name, shapes, sample)
    out_shape = fn(*[ag.Tensor(x) for x in xs]).shape
    v = np.random.default_rng(3).normal(size=xs[0].shape)
    scalar = _scalar(fn, out_shape)
    got = ag.hvp(scalar)(*xs, v)
    expected = autograd.hessian_vector_product(_scalar(ref, out_shape))(*xs, v)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)
    assert ag.gradgradcheck(scalar, xs).passed


# --- the ops' own semantics ------------------------------------------------------------
def test_bce_with_logits_is_exact_for_every_finite_z():
    y0 = np.array([[0.0]])
    assert ag.binary_cross_entropy_with_logits(np.array([[40.0]]), y0).item() == pytest.approx(40.0, rel=1e-15)
    assert ag.binary_cross_entropy_with_logits(np.array([[800.0]]), y0).item() == 800.0
    assert ag.binary_cross_entropy_with_logits(np.array([[-800.0]]), np.array([[1.0]])).item() == 800.0
    z = ag.Tensor([[40.0, -3.0, 0.5, 800.0]], requires_grad=True)
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    ag.binary_cross_entropy_with_logits(z, y).backward()
    np.testing.assert_allclose(z.grad, (1 / (1 + np.exp(-z.data)) - y) / 4, rtol=1e-15)
    assert ag.binary_cross_entropy_with_logits(np.zeros((1, 3), np.float32), np.ones((1, 3))).dtype == np.float32


def test_softmax_family_is_stable_and_columns_are_examples():
    x = np.array([[1000.0, -1000.0], [0.0, 0.0]])
    s = ag.softmax(x)
    np.testing.assert_allclose(s.data.sum(axis=0), [1.0, 1.0])
    assert np.all(np.isfinite(ag.log_softmax(x).data)) and ag.log_softmax(x).data[1, 0] == -1000.0
    assert ag.logsumexp(np.array([1000.0, 1000.0])).item() == pytest.approx(1000 + np.log(2))
    assert ag.logsumexp(np.full(3, -np.inf)).item() == -np.inf


def test_cross_entropy_labels_are_checked_naming_the_op():
    logits = np.zeros((3, 4))
    with pytest.raises(ag.ShapeError, match="cross_entropy.*expected class indices of shape \\(4,\\)"):
        ag.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ag.DomainError, match="cross_entropy.*\\[0, 2\\]"):
        ag.cross_entropy(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ag.DomainError, match="whole numbers"):
        ag.cross_entropy(logits, np.array([0, 1.5, 2, 0]))
    assert ag.cross_entropy(logits, np.array([0, 1, 2, 0])).item() == pytest.approx(np.log(3))


def test_errors_name_the_op():
    with pytest.raises(ag.ShapeError, match="squeeze: axis 1 of shape \\(1, 3\\) has length 3"):
        ag.squeeze(np.ones((1, 3)), 1)
    with pytest.raises(ValueError, match="clip: give at least one"):
        ag.clip(np.ones(2))
    with pytest.raises(ag.ShapeError, match="binary_cross_entropy_with_logits: labels have shape"):
        ag.binary_cross_entropy_with_logits(np.ones((1, 3)), np.ones((1, 2)))
    with pytest.raises(TypeError, match="sum: takes 1 input"):
        ag.sum(np.ones(3), 0, False, "extra")


def test_ties_and_kinks_follow_the_documented_conventions():
    x = ag.Tensor([1.0, 3.0, 1.0], requires_grad=True)
    ag.min(x).backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])  # tied minima share, as max's do
    x = ag.Tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    ag.clip(x, 0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])  # as PyTorch's clamp: bounds included
    x = ag.Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    ag.leaky_relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.01, 0.01, 1.0])


def test_new_ops_have_latex_rules():
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True, name="Z")
    for out in [ag.softmax(x), ag.logsumexp(x, 0), ag.softplus(x), ag.sin(x), ag.var(x, 1), ag.clip(x, 0, 1),
                ag.cross_entropy(x, np.array([0, 1, 0])), ag.binary_cross_entropy_with_logits(x, np.ones((2, 3)))]:
        text = ag.formula(out)
        assert "Z" in text, (out._prim.name, text)


def test_new_ops_replay_exactly_when_compiled():
    def f(W, X):
        return (ag.cross_entropy(W @ X, np.array([0, 2, 1])) + ag.logsumexp(ag.softplus(W), 0).sum()
                + ag.var(ag.clip(W, -0.5, 0.5), 1).sum() + ag.binary_cross_entropy_with_logits(
                    ag.sum(W, 0, True), np.array([[1.0, 0.0]])))
    compiled = ag.compile(f)
    rng = np.random.default_rng(0)
    for _ in range(3):
        W, X = rng.normal(size=(3, 2)), rng.normal(size=(2, 3))
        eager, replayed = ag.Tensor(W, requires_grad=True), ag.Tensor(W, requires_grad=True)
        a, b = f(eager, X), compiled(replayed, X)
        a.backward()
        b.backward()
        assert a.item() == b.item()
        np.testing.assert_array_equal(eager.grad, replayed.grad)
