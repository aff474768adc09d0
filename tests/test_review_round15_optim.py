"""Review round 15 (adv60): optimizers, schedules and dropout at the edges of their dtypes.
Each checks against formulas evaluated in float64 (independent of autograd_lite), or a loud
refusal where the docs allow one."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _adam_formula(p0, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    p = p0.astype(np.float64); v = np.zeros_like(p); s = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g ** 2
        p = p - lr * (v / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    return p


# Finding 1
def test_adam_on_a_float16_parameter_follows_the_formula_for_small_zero_and_large_gradients():
    p0 = np.array([1.0, -2.0, 0.5, 0.25, 3.0], np.float16)
    grads = [np.array([1e-3, 0.0, -2e-3, 300.0, 0.05], np.float16)] * 3
    p = ag.Tensor(p0.copy(), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in grads:
            p.grad = g.copy()
            opt.step()
    ref = _adam_formula(p0, grads, 0.01).astype(np.float16)
    assert p.dtype == np.float16
    assert np.all(np.isfinite(p.data))
    np.testing.assert_allclose(p.data.astype(np.float64), ref.astype(np.float64), rtol=2e-3, atol=1e-3)


# Finding 2: refused below the smallest normal number of the dtype the division runs in (float16's
# runs in float64): there keep_prob keeps few digits, and rounded to 0 a dropped unit is 0 / 0
@pytest.mark.parametrize("dtype, keep_prob", [(np.float32, 1e-46), (np.float32, 1e-39), (np.float64, 1e-310)])
def test_dropout_refuses_a_keep_prob_below_the_dtypes_normal_numbers(dtype, keep_prob):
    x = ag.Tensor(np.ones((2, 3), dtype), requires_grad=True)
    with pytest.raises(ValueError, match=f"dropout: keep_prob {keep_prob!r} is too small for {np.dtype(dtype)} input"):
        ag.dropout(x, keep_prob, mask=np.zeros((2, 3)))


# (adv77) float16 divides in float64: a small keep_prob is the formula rounded once, never refused
@pytest.mark.parametrize("keep_prob", [1e-5, 1e-8])
@pytest.mark.filterwarnings("ignore:overflow encountered")  # (1 / 1e-8 is beyond float16: inf, the value rounded)
def test_float16_dropout_small_keep_prob_is_the_float64_formula(keep_prob):
    x = np.array([1e-3, 2e-4, 0.0, 5e-4, 1.0], dtype=np.float16)
    mask = np.array([1, 0, 1, 0, 1], dtype=np.float16)
    t = ag.Tensor(x, requires_grad=True)
    out = ag.dropout(t, keep_prob, mask=mask)
    out.backward(np.ones(5, np.float16))
    with np.errstate(over="ignore"):
        expected = (x.astype(np.float64) * mask / keep_prob).astype(np.float16)
        expected_grad = (mask.astype(np.float64) / keep_prob).astype(np.float16)
    assert out.dtype == np.float16 and t.grad.dtype == np.float16
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(t.grad, expected_grad)


def test_dropout_takes_a_keep_prob_just_inside_the_dtype():
    keep_prob = 1 / 60000  # 1 / keep_prob = 60000 < 65504, float16's largest
    x = ag.Tensor(np.full((1, 2), 0.5, np.float16), requires_grad=True)
    y = ag.dropout(x, keep_prob, mask=np.array([[1.0, 0.0]]))
    y.sum().backward()
    # the formula a * mask / keep_prob, exact (float64) and rounded once to float16, as the docs say
    np.testing.assert_array_equal(y.data, np.array([[0.5 / keep_prob, 0.0]]).astype(np.float16))
    np.testing.assert_array_equal(x.grad, np.array([[1 / keep_prob, 0.0]]).astype(np.float16))
    assert np.isfinite(y.data).all() and y.dtype == np.float16


# Finding 3: refused (PyTorch refuses a grad of another dtype outright), naming the parameter
@pytest.mark.parametrize("dtype, lr, grad", [(np.float16, 1e-3, [1e5, -7e4]), (np.float32, 1e-10, [1e39, -1e40])])
def test_a_wider_grad_beyond_the_parameters_range_is_refused(dtype, lr, grad):
    p0 = np.array([1.0, 2.0], dtype)
    p = ag.Tensor(p0.copy(), requires_grad=True)
    opt = ag.optim.GradientDescent([p], lr)
    p.grad = np.array(grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=rf"GradientDescent: the .grad of parameter 0 is float64 with values "
                                             rf"beyond {np.dtype(dtype)}'s range"):
            opt.step()
    np.testing.assert_array_equal(p.data, p0)
    assert opt.t == 0


def test_a_wider_grad_within_the_parameters_range_is_cast():
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = ag.optim.GradientDescent([p], 0.5)
    p.grad = np.array([0.25, -4.0])
    opt.step()
    np.testing.assert_array_equal(p.data, np.array([0.875, 4.0], np.float32))


# Finding 4: refused, as a change of shape is (and as torch.optim.Adam refuses it)
@pytest.mark.parametrize("name", ["Momentum", "Adam"])
def test_a_parameter_whose_dtype_changed_since_its_moments_were_made_is_refused(name):
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = getattr(ag.optim, name)([p], 0.1)
    p.grad = np.array([0.5, -1.0], np.float32)
    opt.step()
    moments = {k: v.copy() for k, v in opt.state[0].items() if isinstance(v, np.ndarray)}
    p.data = p.data.astype(np.float64)
    p.grad = np.array([0.1 + 1e-12, 1e-9 + 1e-17])
    before = p.data.copy()
    with pytest.raises(TypeError, match=f"{name}: parameter 0 changed dtype from float32 to float64 since the "
                                        "last step"):
        opt.step()
    np.testing.assert_array_equal(p.data, before)
    for k, v in moments.items():
        np.testing.assert_array_equal(opt.state[0][k], v)
    assert opt.t == 1


# Finding 5: a 0-d array is the number it holds, as a NumPy scalar is (and as torch takes a tensor lr)
def test_a_0d_array_is_taken_as_the_number_it_holds():
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Adam([p], np.array(0.1), beta1=np.array(0.5), eps=np.array(1e-8, np.float32))
    assert (opt.lr, opt.beta1, opt.eps) == (0.1, 0.5, float(np.float32(1e-8)))
    assert type(opt.lr) is float
    y = ag.dropout(ag.Tensor(np.ones((1, 2))), np.array(0.5), mask=np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(y.data, [[2.0, 0.0]])
    assert float(ag.l2_penalty([ag.Tensor(np.ones(2))], np.array(0.5), np.array(4)).data) == 0.5 / 4 / 2 * 2
    with pytest.raises(ValueError, match=r"GradientDescent: learning rate lr must be a finite number, got array\(\[0.1\]\)"):
        ag.optim.GradientDescent([p], np.array([0.1]))
