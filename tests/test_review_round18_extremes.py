"""Round 18 (adv98, extreme values against PyTorch): float16 sigmoid computed in float16 flushed
to 0 from x = -11 and rounded to 1 from 7.6 (values and gradients 0; softplus and cross-entropy through
it too); binary_cross_entropy_with_logits gave NaN at z = +inf (inf - inf); divide's forward-mode
tangent overflowed where (tx - ty out) / y is finite; cross_entropy's error for 0.5 / NaN / inf class
indices named no value. Oracles: the math in float64, rounded once; PyTorch's documented results."""
import numpy as np
import pytest
import autograd_lite as ag


def _sig64(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


@pytest.mark.parametrize("x", [-11.5, -12.0, -14.0, -16.0])
def test_sigmoid_float16_does_not_flush_where_the_value_is_representable(x):
    X = ag.Tensor(np.array([x], np.float16), requires_grad=True)
    s = ag.sigmoid(X)
    s.sum().backward()
    expected = _sig64(x)  # 1e-7 .. 1e-5: float16 subnormal / normal, not 0
    assert s.dtype == np.float16 and X.grad.dtype == np.float16
    assert s.data[0] == np.float16(expected) > 0  # rounded once (a subnormal at -16: 2 units of 6e-8)
    unit = float(np.spacing(np.float16(expected)))
    assert abs(float(X.grad[0]) - expected * (1 - expected)) <= unit


@pytest.mark.parametrize("x", [7.625, 8.0])
def test_sigmoid_float16_is_correctly_rounded_below_saturation(x):
    X = ag.Tensor(np.array([x], np.float16), requires_grad=True)
    s = ag.sigmoid(X)
    s.sum().backward()
    rounded = np.float16(_sig64(x))  # correctly rounded output: < 1 here (1 - 2**-11 is a float16)
    assert s.data[0] == rounded
    assert rounded < 1
    np.testing.assert_allclose(X.grad.astype(np.float64), float(rounded) * (1 - float(rounded)), rtol=0.01)


def test_softplus_float16_gradient_not_zero_at_minus_12():
    Z = ag.Tensor(np.array([-12.0], np.float16), requires_grad=True)
    ag.softplus(Z).sum().backward()
    np.testing.assert_allclose(Z.grad.astype(np.float64), _sig64(-12.0), rtol=0.05)


def test_bce_through_sigmoid_float16_gradient_not_zero():
    Z = ag.Tensor(np.array([[-12.0]], np.float16), requires_grad=True)
    ag.binary_cross_entropy(ag.sigmoid(Z), np.array([[0.0]], np.float16)).backward()
    np.testing.assert_allclose(Z.grad.astype(np.float64), _sig64(-12.0), rtol=0.05)  # (a - y) / m


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("y", [0.0, 0.5])
def test_bce_with_logits_plus_inf_logit_is_inf_not_nan(dtype, y):
    # -(y log sigmoid(inf) + (1 - y) log(1 - sigmoid(inf))) = +inf for y < 1 (PyTorch: inf)
    out = ag.binary_cross_entropy_with_logits(np.array([[np.inf]], dtype), np.array([[y]], dtype))
    assert np.isposinf(out.item())


def test_divide_jvp_float16_tangent_that_fits_does_not_overflow():
    x, y = np.array(5e-6, np.float16), np.array(1e-5, np.float16)
    _, t = ag.jvp(ag.divide, (x, y), (np.array(1.0, np.float16), np.array(1.0, np.float16)))
    xf, yf = float(x), float(y)
    exact = (1 - xf / yf) / yf  # 49932: a float16 number (PyTorch's jvp: 49920)
    assert np.isfinite(t)
    np.testing.assert_allclose(float(t), exact, rtol=2e-3)


def test_divide_jvp_x_over_x_at_subnormal_is_zero():
    _, t = ag.jvp(lambda v: v / v, (np.array(5e-324),), (np.array(1.0),))
    assert t == 0.0  # d/dx (x / x) = 0 (PyTorch's jvp: 0)


@pytest.mark.parametrize("bad", [0.5, np.nan, np.inf])
def test_cross_entropy_non_whole_index_error_names_the_value(bad):
    with pytest.raises(ag.DomainError) as info:
        ag.cross_entropy(np.zeros((3, 2)), np.array([bad, 1.0]))
    msg = str(info.value)
    assert str(bad) in msg or repr(bad) in msg or str(float(bad)) in msg


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_minus_inf_and_label_one_and_plus_inf_and_label_one(dtype):
    # -log sigmoid(-inf) = inf for y = 1; -log sigmoid(inf) = 0 for y = 1 (the limit; PyTorch gives NaN there)
    z, y = np.array([[-np.inf, np.inf, 2.0]], dtype), np.array([[1.0, 1.0, 0.0]], dtype)
    with np.errstate(all="raise"):  # (no warning leaks: inf * 0 is replaced by its limit)
        out = ag.binary_cross_entropy_with_logits(z, y)
    assert np.isposinf(out.item())
    finite = ag.binary_cross_entropy_with_logits(z[:, 1:], y[:, 1:]).item()
    np.testing.assert_allclose(finite, (0.0 + (2.0 + np.log1p(np.exp(-2.0)))) / 2, rtol=1e-6)


def test_divide_jvp_matches_the_quotient_rule_with_one_tangent_missing():
    x, y = np.array([1.0, -2.0, 3.0]), np.array([4.0, 5.0, -6.0])
    tx, ty = np.array([0.5, 1.0, -1.0]), np.array([2.0, -1.0, 0.25])
    _, both = ag.jvp(ag.divide, (x, y), (tx, ty))
    np.testing.assert_allclose(both, (tx * y - x * ty) / y ** 2, rtol=1e-15)
    _, only_y = ag.jvp(lambda y: ag.divide(x, y), (y,), (ty,))
    np.testing.assert_allclose(only_y, -x * ty / y ** 2, rtol=1e-15)
    _, only_x = ag.jvp(lambda x: ag.divide(x, y), (x,), (tx,))
    np.testing.assert_allclose(only_x, tx / y, rtol=1e-15)
