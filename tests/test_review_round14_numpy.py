"""Round 14 (adv47, findings 1, 2, 4, 5): Tensor methods take NumPy's ndarray arguments, by
position and by name; PyTorch's spellings are refused naming NumPy's; round(t, n) does not
drop a gradient; ``v in t`` is NumPy's. Oracles: NumPy, PyTorch and hand-derived values."""
import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch


def _x():
    return np.random.default_rng(14).standard_normal((3, 4))


# --- finding 1: a positional argument means what it means to ndarray's method ------------------
@pytest.mark.parametrize("method", ["var", "std"])
def test_var_std_second_positional_is_numpys_dtype_and_refused(method):
    t = ag.Tensor(_x(), requires_grad=True)
    with pytest.raises(TypeError) as info:
        getattr(t, method)(0, True)  # NumPy: dtype=True (a TypeError); PyTorch: unbiased; never keepdims
    message = str(info.value)
    assert f"Tensor.{method}()" in message and "dtype=True" in message
    assert "by position" in message and "keepdims=" in message and "ddof=" in message


@pytest.mark.parametrize("method", ["var", "std"])
def test_var_std_by_name_match_torch_unbiased(method):
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    expected = getattr(torch.tensor(x), method)(0, True).numpy()  # (dim, unbiased=True)
    np.testing.assert_allclose(getattr(t, method)(0, ddof=1).data, expected, rtol=1e-12)
    np.testing.assert_allclose(getattr(t, method)(axis=0, correction=1).data, expected, rtol=1e-12)


@pytest.mark.parametrize("method", ["var", "std"])
def test_var_std_numpys_full_positional_form(method):
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    got = getattr(t, method)(1, None, None, 1, True)  # (axis, dtype, out, ddof, keepdims), as ndarray's
    expected = getattr(x, method)(1, None, None, 1, True)
    assert got.shape == expected.shape == (3, 1)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)


def test_min_second_positional_is_numpys_out_and_refused():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor\.min\(\).*out=True.*by position.*keepdims="):
        t.min(0, True)
    np.testing.assert_array_equal(t.min(0, None, True).data, x.min(0, None, True))  # (axis, out, keepdims)
    np.testing.assert_array_equal(t.min(1, keepdims=True).data, x.min(1, keepdims=True))


def test_out_by_position_is_refused_and_the_buffer_untouched():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    buffer = np.full((3, 4), 7.0)
    with pytest.raises(TypeError, match=r"Tensor\.clip\(\).*out="):
        t.clip(0, 1, buffer)
    vector = np.full(3, 7.0)
    with pytest.raises(TypeError, match=r"Tensor\.dot\(\).*out="):
        t.dot(np.ones(4), vector)
    assert (buffer == 7.0).all() and (vector == 7.0).all()


def test_too_many_or_unknown_arguments_name_the_method_and_numpys_list():
    t = ag.Tensor(_x(), requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor\.var\(\).*\(axis, dtype, out, ddof, keepdims"):
        t.var(0, None, None, 0, False, 5)
    with pytest.raises(TypeError, match=r"Tensor\.squeeze\(\).*\(axis\)"):
        t.squeeze(0, 1)


# --- finding 2: the matching NumPy function's keywords; PyTorch's named, never a lambda -----------
def test_clip_takes_numpys_min_max():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    np.testing.assert_array_equal(t.clip(min=0).data, x.clip(min=0))
    np.testing.assert_array_equal(t.clip(max=0.25).data, x.clip(max=0.25))
    got = t.clip(-0.5, max=0.5)
    np.testing.assert_array_equal(got.data, x.clip(-0.5, max=0.5))
    got.sum().backward()
    np.testing.assert_array_equal(t.grad, ((x > -0.5) & (x < 0.5)).astype(float))  # 1 inside, 0 outside


def test_var_std_take_correction_as_np_var_does():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    np.testing.assert_allclose(t.var(correction=1).data, np.var(x, correction=1), rtol=1e-12)
    np.testing.assert_allclose(t.std(axis=0, correction=1).data, np.std(x, axis=0, correction=1), rtol=1e-12)


@pytest.mark.parametrize("call, name, numpy_spelling", [
    (lambda t: t.min(keepdim=True), "min", "keepdims="), (lambda t: t.softmax(dim=1), "softmax", "axis="),
    (lambda t: t.log_softmax(dim=1), "log_softmax", "axis="), (lambda t: t.logsumexp(dim=1), "logsumexp", "axis="),
    (lambda t: t.squeeze(dim=0), "squeeze", "axis="), (lambda t: t.var(0, unbiased=True), "var", "ddof="),
    (lambda t: t.std(dim=0, keepdim=True), "std", "axis=, keepdims=")])
def test_pytorch_spellings_name_the_method_and_numpys(call, name, numpy_spelling):
    t = ag.Tensor(_x(), requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(t)
    message = str(info.value)
    assert f"Tensor.{name}()" in message and numpy_spelling in message and "<lambda>" not in message


@pytest.mark.parametrize("call, name", [
    (lambda t: t.leaky_relu(0.2, 1), "leaky_relu"), (lambda t: t.var(foo=1), "Tensor.var()"),
    (lambda t: t.expand_dims(0, 1), "expand_dims"), (lambda t: t.flatten("C", 1), "Tensor.flatten()")])
def test_other_bad_calls_name_the_method_not_a_lambda(call, name):
    t = ag.Tensor(_x(), requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(t)
    assert name in str(info.value) and "<lambda>" not in str(info.value)


def test_the_ag_only_methods_still_match_numpy():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(t.softmax(axis=1).data, e / e.sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(t.softmax(1).data, torch.softmax(torch.tensor(x), 1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(t.logsumexp(1, True).data, torch.logsumexp(torch.tensor(x), 1, True).numpy(),
                               rtol=1e-12)
    np.testing.assert_array_equal(t.leaky_relu(0.2).data, np.where(x > 0, x, 0.2 * x))
    assert t.expand_dims(1).shape == np.expand_dims(x, 1).shape


def test_flatten_order_as_numpy():
    x = _x()
    t = ag.Tensor(x, requires_grad=True)
    np.testing.assert_array_equal(t.flatten().data, x.flatten())
    np.testing.assert_array_equal(t.flatten("F").data, x.flatten("F"))
    np.testing.assert_array_equal(t.ravel("F").data, x.ravel("F"))
    with pytest.raises(TypeError, match=r"Tensor\.flatten\(\): order='A'"):
        t.flatten("A")


# --- finding 4: round(t, n) -----------------------------------------------------------------------
def test_round_of_a_tensor_requiring_grad_is_refused_as_np_asarray_is():
    x = np.array([[1.26, -2.51], [3.0, 0.44]])
    t = ag.Tensor(x, requires_grad=True)
    with pytest.raises(TypeError, match=r"round\(t, 1\).*requires grad.*t\.data"):
        round(t, 1)
    with pytest.raises(TypeError):
        np.asarray(t)  # the same rule
    hand = np.array([[1.3, -2.5], [3.0, 0.4]])
    for plain in (round(t.detach(), 1), round(ag.Tensor(x), 1)):
        assert type(plain) is np.ndarray
        np.testing.assert_array_equal(plain, hand)
    with ag.no_grad():  # recording off: nothing to drop, as np.asarray(t) there
        np.testing.assert_array_equal(round(t, 1), hand)


def test_round_of_one_element_is_still_the_number():
    t = ag.Tensor(np.array([[2.71828]]), requires_grad=True)
    assert round(t, 3) == 2.718 and round(t) == 3


# --- finding 5: v in t ------------------------------------------------------------------------------
def test_contains_is_numpys():
    x = np.array([[1.5, -2.5], [3.0, 0.5]])
    t = ag.Tensor(x, requires_grad=True)
    assert (1.5 in t) is True and (7.0 in t) is False
    assert (np.array([3.0, 0.5]) in t) is (np.array([3.0, 0.5]) in x) is True  # a row, broadcast
    assert (np.array([3.0, 9.0]) in t) is (np.array([3.0, 9.0]) in x) is True  # any entry, as NumPy
    assert (ag.Tensor(-2.5) in t) is True and (np.array([9.0, 9.0]) in t) is False


def test_contains_under_compile_is_a_guard():
    @ag.compile
    def scaled(a):
        return a * 2.0 if 2.0 in a else a * 3.0

    for values, factor in (([1.0, 2.0], 2.0), ([5.0, 6.0], 3.0), ([1.0, 2.0], 2.0), ([2.0, 7.0], 2.0)):
        np.testing.assert_array_equal(scaled(ag.Tensor(np.array(values))).data, np.array(values) * factor)
