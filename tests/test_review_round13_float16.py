"""Review round 13, float16 rules and expand_dims' axis (findings F1, F7, F4 of adv34).

In float16 the docs promise that the gradients and tangents of ``var`` and ``std`` and the
cross-entropies' gradients are "computed in float64 and rounded once". Expected values here are
NumPy float64 formulas (or PyTorch float64) on the same float16 values, rounded once to float16
and compared exactly; never autograd_lite. float32 and float64 are pinned to the order of
operations of their rules, so they stay bit for bit what they were. Seeded, deterministic."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag

from oracles import OptionalModule, torch

F = OptionalModule("torch.nn.functional")
PAIR = np.array([1000., 1000.5, 1000., 1000.5], np.float16)  # mean 1000.25: no float16 number


def _grad(f, data):
    x = ag.Tensor(data, requires_grad=True)
    f(x).backward()
    assert x.grad.dtype == data.dtype
    return x.grad


def _centered64(x16, axis=None):
    x = x16.astype(np.float64)
    return x - x.mean(axis=axis, keepdims=True)


def _dof(shape, axis, ddof):
    n = int(np.prod(shape)) if axis is None else shape[axis]
    return n - ddof


def _torch_grad(fn, data):
    t = torch.tensor(data.astype(np.float64), requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()


# --- F1: var and std ---------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["var", "std"])
def test_f1_float16_var_std_gradient_centered_in_float64(op):
    c = _centered64(PAIR)
    exact = 2 * c / 4 if op == "var" else c / 4 / np.sqrt(np.mean(c ** 2))
    got = _grad(getattr(ag, op), PAIR)
    np.testing.assert_array_equal(got, exact.astype(np.float16))  # [-.125, .125, ...] / [-.25, .25, ...]
    np.testing.assert_array_equal(got, _torch_grad(lambda t: getattr(torch, op)(t, correction=0), PAIR)
                                  .astype(np.float16))


@pytest.mark.parametrize("op", ["var", "std"])
def test_f1_float16_var_std_vjp_agrees_with_own_jvp(op):
    v = np.ones(4, np.float16)
    _, tangent = ag.jvp(getattr(ag, op), (PAIR,), (v,))
    got = _grad(getattr(ag, op), PAIR)
    assert float(np.sum(got.astype(np.float64) * v)) == pytest.approx(float(tangent), abs=1e-3)  # both 0


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("axis,keepdims,ddof", [(None, False, 0), (0, False, 0), (1, True, 0), (None, False, 1),
                                                 (1, False, 1)])
def test_f1_float16_var_std_gradients_and_tangents_rounded_once(op, axis, keepdims, ddof):
    rng = np.random.default_rng(11)
    x16 = (rng.standard_normal((6, 40)) * 3 + 100).astype(np.float16)
    w = rng.standard_normal((6, 40) if axis is None else (40 if axis == 0 else 6,)).astype(np.float16)
    w = w[0, 0] if axis is None else (w.reshape(6, 1) if keepdims else w)
    params = dict(axis=axis, keepdims=keepdims, ddof=ddof)
    got = _grad(lambda t: ag.sum(getattr(ag, op)(t, **params) * w), x16)
    c, dof = _centered64(x16, axis), _dof(x16.shape, axis, ddof)
    w64 = np.asarray(w, np.float64) if axis is None else np.expand_dims(w.astype(np.float64).reshape(-1), axis)
    if op == "var":
        exact = w64 * 2 * c / dof
    else:
        exact = w64 * c / dof / np.sqrt(np.sum(c ** 2, axis=axis, keepdims=True) / dof)
    np.testing.assert_array_equal(got, exact.astype(np.float16))
    # the tangent along v, the same rule read forward
    v16 = rng.standard_normal((6, 40)).astype(np.float16)
    _, tangent = ag.jvp(lambda t: getattr(ag, op)(t, **params), (x16,), (v16,))
    along = np.sum(v16.astype(np.float64) * c, axis=axis, keepdims=keepdims) * 2 / dof
    if op == "std":
        along = along / 2 / np.sqrt(np.sum(c ** 2, axis=axis, keepdims=keepdims) / dof)
    np.testing.assert_array_equal(np.asarray(tangent), along.astype(np.float16))


@pytest.mark.parametrize("op", ["var", "std"])
def test_f1_float16_var_std_over_70000_entries_rounded_once(op):
    # the finding: 3,378 of var's 70,000 gradient entries differed, by up to 12%
    x16 = np.random.default_rng(3).standard_normal((1, 70_000)).astype(np.float16)
    c = _centered64(x16)
    exact = 2 * c / c.size if op == "var" else c / c.size / np.sqrt(np.mean(c ** 2))
    np.testing.assert_array_equal(_grad(getattr(ag, op), x16), exact.astype(np.float16))


@pytest.mark.parametrize("op", ["var", "std"])
def test_f1_float16_var_std_higher_order_in_float64(op):
    # create_graph: the rules see Tensors, and compute in float64 too (PyTorch float64 the oracle)
    rng = np.random.default_rng(5)
    x16 = (rng.standard_normal(12) * 2 + 500).astype(np.float16)
    v16 = rng.standard_normal(12).astype(np.float16)
    tfn = lambda a: getattr(torch, op)(a, correction=1)
    t = torch.tensor(x16.astype(np.float64), requires_grad=True)
    (g,) = torch.autograd.grad(tfn(t), t)
    g16 = g.numpy().astype(np.float16)
    hvp = lambda d: torch.autograd.functional.hvp(tfn, t.detach(), torch.tensor(d))[1].numpy().astype(np.float16)
    f = lambda a: getattr(ag, op)(a, ddof=1)
    x = ag.Tensor(x16, requires_grad=True)
    f(x).backward(create_graph=True)  # the recorded backward gives what the plain one gives
    np.testing.assert_array_equal(x.grad, g16)
    np.testing.assert_array_equal(ag.hvp(f)(x16, v16), hvp(v16.astype(np.float64)))
    # d/dx sum(grad f(x) ** 2): the inner gradient is float16 (x's dtype, as grad returns it), the
    # rest a Hessian-vector product along 2 grad f(x), computed in float64 and rounded once
    outer = ag.grad(lambda a: ag.sum(ag.grad(f)(a) ** 2))(x16)
    assert outer.dtype == np.float16
    np.testing.assert_array_equal(outer, hvp(2 * g16.astype(np.float64)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["var", "std"])
def test_f1_float32_float64_var_std_bit_for_bit(dtype, op):
    # the rules' own order of operations, in the input's dtype: unchanged by the float16 fix
    x = (np.random.default_rng(2).standard_normal((5, 7)) * 3 + 10).astype(dtype)
    c = x - x.mean(axis=1, keepdims=True)
    if op == "var":
        expected = c * (2.0 * (1.0 / 6))
    else:
        # (std's float32 value is NumPy's float64 std rounded once, round 15: adv66)
        expected = (c * (1.0 / 6)) / np.std(x, axis=1, keepdims=True, ddof=1, dtype=np.float64).astype(dtype)
    got = _grad(lambda t: ag.sum(getattr(ag, op)(t, axis=1, ddof=1)), x)
    np.testing.assert_array_equal(got, expected.astype(dtype))
    # higher order still works: d/dx sum(grad^2) against PyTorch in float64
    t = torch.tensor(x.astype(np.float64), requires_grad=True)
    (g,) = torch.autograd.grad(torch.sum(getattr(torch, op)(t, dim=1, correction=1)), t, create_graph=True)
    (gg,) = torch.autograd.grad(torch.sum(g * g), t)
    f = lambda a: ag.sum(getattr(ag, op)(a, axis=1, ddof=1))
    got2 = ag.grad(lambda a: ag.sum(ag.grad(f)(a) ** 2))(x)
    assert got2.dtype == dtype
    np.testing.assert_allclose(got2, gg.numpy(), rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-6)


# --- F7: the cross-entropies ----------------------------------------------------------------------
def test_f7_float16_bce_with_logits_gradient_rounded_once():
    rng = np.random.default_rng(0)
    z = rng.uniform(-4, 4, (1, 1000)).astype(np.float16)
    y = (rng.random((1, 1000)) < 0.5).astype(float)
    exact = (1 / (1 + np.exp(-z.astype(np.float64))) - y) / z.shape[-1]
    got = _grad(lambda t: ag.binary_cross_entropy_with_logits(t, y), z)
    np.testing.assert_array_equal(got, exact.astype(np.float16))
    np.testing.assert_array_equal(got, _torch_grad(
        lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y)), z).astype(np.float16))


def test_f7_float16_bce_with_logits_saturated_logits_not_zero():
    z, y = np.array([[8., 10., 12.]], np.float16), np.ones((1, 3))
    got = _grad(lambda t: ag.binary_cross_entropy_with_logits(t, y), z)
    expected = _torch_grad(lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y)), z).astype(np.float16)
    np.testing.assert_array_equal(got, expected)  # about [-1.12e-4, -1.51e-5, -2.03e-6], not 0
    assert np.all(got < 0)


def test_f7_float16_bce_on_probabilities_gradient_rounded_once():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.01, 0.99, (1, 1000)).astype(np.float16)
    y = (rng.random((1, 1000)) < 0.5).astype(float)
    a64 = a.astype(np.float64)
    exact = (1 - 2 * y) / (np.where(y == 1, a64, 1 - a64) * a.shape[-1])  # -(y/a - (1-y)/(1-a)) / m
    got = _grad(lambda t: ag.binary_cross_entropy(t, y), a)
    np.testing.assert_array_equal(got, exact.astype(np.float16))
    np.testing.assert_array_equal(got, _torch_grad(
        lambda t: F.binary_cross_entropy(t, torch.tensor(y)), a).astype(np.float16))


def test_f7_float16_bce_of_a_sigmoid_gradients_rounded_once():
    # the logits' edge is (a - y) / m of the op's inputs (a: the sigmoid's float16 output), in float64;
    # a retain_grad() on a gets dJ/da in float64 too
    rng = np.random.default_rng(4)
    z16 = (rng.standard_normal((1, 1000)) * 4).astype(np.float16)
    y = (rng.random((1, 1000)) < 0.5).astype(float)
    z = ag.Tensor(z16, requires_grad=True)
    a = ag.sigmoid(z)
    a.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # saturated a: dJ/da overflows float16 there
        ag.binary_cross_entropy(a, y).backward()
    a64 = a.data.astype(np.float64)
    np.testing.assert_array_equal(z.grad, ((a64 - y) / 1000).astype(np.float16))
    p = np.where(y == 1, a64, 1 - a64)
    with np.errstate(over="ignore"):
        expected_a = ((1 - 2 * y) / (np.maximum(p, 1e-12) * 1000)).astype(np.float16)
    np.testing.assert_array_equal(a.grad, expected_a)


def _softmax64(logits16, axis=0):
    s = logits16.astype(np.float64)
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("labels", ["indices", "one_hot"])
def test_f7_float16_cross_entropy_gradient_rounded_once(labels):
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((5, 300)) * 4).astype(np.float16)
    logits[:, :3] = np.array([[12, -12, 0]] + [[0, 0, 0]] * 4, np.float16)  # saturated: 0 in float16
    idx = rng.integers(0, 5, 300)
    idx[:3] = 0
    one_hot = (np.arange(5)[:, None] == idx).astype(np.float64)
    given = idx if labels == "indices" else one_hot
    exact = (_softmax64(logits) - one_hot) / 300
    got = _grad(lambda t: ag.cross_entropy(t, given), logits)
    np.testing.assert_array_equal(got, exact.astype(np.float16))
    assert got[0, 0] < 0  # softmax - 1 = -6e-6 / 300 in float64: a float16 subnormal, not 0
    expected = _torch_grad(lambda t: F.cross_entropy(t.T, torch.tensor(idx)), logits).astype(np.float16)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("cost", ["with_logits", "cross_entropy"])
def test_f7_float16_cost_higher_order_in_float64(cost):
    rng = np.random.default_rng(9)
    z16 = (rng.standard_normal((3, 20)) * 3).astype(np.float16)
    v16 = rng.standard_normal((3, 20)).astype(np.float16)
    y = (rng.random((3, 20)) < 0.5).astype(np.float64)
    idx = rng.integers(0, 3, 20)
    if cost == "with_logits":
        ours = lambda t: ag.binary_cross_entropy_with_logits(t, y)
        theirs = lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y), reduction="sum") / 20
    else:
        ours = lambda t: ag.cross_entropy(t, idx)
        theirs = lambda t: F.cross_entropy(t.T, torch.tensor(idx))
    _, hv = torch.autograd.functional.hvp(theirs, torch.tensor(z16.astype(np.float64)),
                                          torch.tensor(v16.astype(np.float64)))
    got = ag.hvp(ours)(z16, v16)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, hv.numpy().astype(np.float16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_f7_float32_float64_cost_gradients_bit_for_bit(dtype):
    # the rules' own order of operations, in the inputs' dtypes: unchanged by the float16 fix
    rng = np.random.default_rng(6)
    z = rng.standard_normal((1, 50)).astype(dtype)
    y = (rng.random((1, 50)) < 0.5).astype(np.float64)
    expected = ((ag.sigmoid(z).data - y) * (dtype(1) / 50)).astype(dtype)  # (sigmoid(z) - y) (g / m), g = 1
    np.testing.assert_array_equal(_grad(lambda t: ag.binary_cross_entropy_with_logits(t, y), z), expected)
    np.testing.assert_array_equal(_grad(lambda t: ag.binary_cross_entropy(ag.sigmoid(t), y), z), expected)
    logits, idx = rng.standard_normal((4, 50)).astype(dtype), rng.integers(0, 4, 50)
    one_hot = (np.arange(4)[:, None] == idx).astype(dtype)
    expected = (ag.softmax(logits).data * one_hot.sum(axis=0, keepdims=True) - one_hot) * (dtype(1) / 50)
    np.testing.assert_array_equal(_grad(lambda t: ag.cross_entropy(t, idx), logits), expected.astype(dtype))


# --- F4: expand_dims refuses a bool axis, naming the op --------------------------------------------
@pytest.mark.parametrize("axis", [True, (True,), [True], (0, True), False, np.True_])
def test_f4_expand_dims_bool_axis_refused(axis):
    x = ag.Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"^expand_dims: axis=.* for an input of shape \(2, 3\)"):
        ag.expand_dims(x, axis)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, (0, 3), [0, 2], (), np.int64(1), np.array(1)])
def test_f4_expand_dims_int_axes_still_work(axis):
    data = np.arange(6.).reshape(2, 3)
    x = ag.Tensor(data, requires_grad=True)
    out = ag.expand_dims(x, axis)
    expected = np.expand_dims(data, tuple(axis) if isinstance(axis, list) else axis)
    assert out.shape == expected.shape and np.shares_memory(out.data, x.data)
    ag.sum(out * 2).backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_f4_expand_dims_other_errors_unchanged():
    x = ag.Tensor(np.zeros((2, 3)))
    with pytest.raises(ag.ShapeError, match="expand_dims: .*axis 5 is out of bounds for array of dimension 3"):
        ag.expand_dims(x, 5)
    with pytest.raises(ag.ShapeError, match="expand_dims: .*repeated axis"):
        ag.expand_dims(x, (0, 0))
    with pytest.raises(TypeError, match=r"expand_dims: axis=1.0 .*\(integer argument expected, got float\)"):
        ag.expand_dims(x, 1.0)
