"""Review round 12, exotic arrays: float16 averaged over more than 65,504 entries (the count is no
float16 number), numpy.ma.MaskedArray and np.matrix data. Expected values come from PyTorch in
float64 on the same float16 values (then compared to float16 precision), NumPy on plain arrays,
or hand formulas; never from autograd_lite."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag

from oracles import OptionalModule, torch

F = OptionalModule("torch.nn.functional")
N = 70_000  # > 65,504, float16's largest finite number: the count itself is inf in float16
# float16 precision: a relative error of two half-ulps, and one ulp of its subnormals (below 6.1e-5)
HALF = {"rtol": 2.0 ** -10, "atol": 2.0 ** -24}


def _z16(rows=1, seed=0):
    return (np.random.default_rng(seed).standard_normal((rows, N)) * 0.1).astype(np.float16)


def _labels(seed=1):
    return (np.random.default_rng(seed).random((1, N)) < 0.5).astype(np.float64)


def _check_half(ours, data, torch_fn):
    """Value and gradient of ``ours`` at float16 ``data`` against ``torch_fn`` in float64 on the same values."""
    t = ag.Tensor(data, requires_grad=True)
    value = ours(t)
    value.backward()
    reference = torch.tensor(data.astype(np.float64), requires_grad=True)
    expected = torch_fn(reference)
    expected.backward()
    assert value.dtype == np.float16 and t.grad.dtype == np.float16
    np.testing.assert_allclose(float(value), expected.item(), **HALF)
    np.testing.assert_allclose(t.grad.astype(np.float64), reference.grad.numpy(), **HALF)
    assert np.count_nonzero(t.grad) > 0.99 * t.size  # not the 0 a float16 count of inf gave


# --- 1. float16 averaged over more than 65,504 entries ---------------------------------------
def test_f16_mean_value_and_grad_match_torch():
    _check_half(lambda t: ag.mean(t), _z16(), lambda t: t.mean())


def test_f16_mean_over_an_axis_grad_is_one_over_n():
    t = ag.Tensor(_z16(rows=2), requires_grad=True)
    ag.sum(ag.mean(t, axis=1)).backward()
    np.testing.assert_allclose(t.grad.astype(np.float64), 1.0 / N, **HALF)  # hand formula d mean/dx = 1/n


@pytest.mark.parametrize("ddof", [0, 1])
def test_f16_var_and_std_match_torch(ddof):
    z = _z16(seed=4)
    _check_half(lambda t: ag.var(t, ddof=ddof), z, lambda t: t.var(correction=ddof))
    _check_half(lambda t: ag.std(t, ddof=ddof), z, lambda t: t.std(correction=ddof))


def test_f16_bce_of_sigmoid_matches_torch():
    y = _labels()
    _check_half(lambda t: ag.binary_cross_entropy(ag.sigmoid(t), y), _z16(),
                lambda t: F.binary_cross_entropy(torch.sigmoid(t), torch.tensor(y)))


def test_f16_bce_of_probabilities_matches_torch():
    # probabilities given as such (no sigmoid behind them): the gradient divides by p m, over 65,504
    p = (np.random.default_rng(5).uniform(0.05, 0.95, (1, N))).astype(np.float16)
    y = _labels()
    _check_half(lambda t: ag.binary_cross_entropy(t, y), p, lambda t: F.binary_cross_entropy(t, torch.tensor(y)))


def test_f16_bce_with_logits_matches_torch():
    y = _labels()
    _check_half(lambda t: ag.binary_cross_entropy_with_logits(t, y), _z16(),
                lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y)))


def test_f16_cross_entropy_matches_torch():
    labels = (np.random.default_rng(3).random(N) < 0.5).astype(int)
    _check_half(lambda t: ag.cross_entropy(t, labels), _z16(rows=2, seed=2),
                lambda t: F.cross_entropy(t.T, torch.tensor(labels)))


def test_f16_l2_penalty_with_a_count_float16_cannot_hold():
    # lambd / m = 1e-8 is 0 in float16 and the sum of squares (about 1.2e6) overflows it; the
    # true value 5e-3 and gradient (lambd / m) W (about 1e-6) are float16 numbers
    w = (np.random.default_rng(6).uniform(50, 150, (10, 10))).astype(np.float16)
    lambd, m = 1.0, 10 ** 8
    _check_half(lambda t: ag.l2_penalty([t], lambd, m), w, lambda t: lambd / (2 * m) * (t ** 2).sum())


def test_f16_forward_mode_of_bce_cross_entropy_and_var():
    z, y = _z16(), _labels()
    labels = (np.random.default_rng(3).random(N) < 0.5).astype(int)
    z2 = _z16(rows=2, seed=2)
    cases = [(lambda t: ag.binary_cross_entropy(ag.sigmoid(t), y), z,  # through the logits
              lambda t: F.binary_cross_entropy(torch.sigmoid(t), torch.tensor(y))),
             (lambda t: ag.binary_cross_entropy(t * 0.1 + 0.5, y), z,  # through the probabilities
              lambda t: F.binary_cross_entropy(t * 0.1 + 0.5, torch.tensor(y))),
             (lambda t: ag.binary_cross_entropy_with_logits(t, y), z,
              lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(y))),
             (lambda t: ag.cross_entropy(t, labels), z2, lambda t: F.cross_entropy(t.T, torch.tensor(labels))),
             (lambda t: ag.var(t), z, lambda t: t.var(correction=0))]
    for ours, data, torch_fn in cases:
        _, derivative = ag.jvp(ours, (data,), (np.ones_like(data),))
        reference = torch.tensor(data.astype(np.float64), requires_grad=True)
        torch_fn(reference).backward()
        expected = float(reference.grad.sum())  # the directional derivative along all ones
        assert np.asarray(derivative).dtype == np.float16
        # float16 precision of the N terms summed (their float16 values cancel to a far smaller sum)
        scale = float(reference.grad.abs().sum())
        assert abs(float(derivative) - expected) <= 2.0 ** -10 * scale, (float(derivative), expected)


# --- 2. numpy.ma.MaskedArray -------------------------------------------------------------------
def _masked(dtype=float):
    return np.ma.MaskedArray(np.arange(6).reshape(2, 3).astype(dtype), mask=[[0, 1, 0], [0, 0, 0]])


def _leaf(requires_grad=True):
    return ag.Tensor(np.ones((2, 3)), requires_grad=requires_grad)


def _set_data(t, m):
    t.data = m


def _set_grad(t, m):
    t.grad = m


def _add_in_place(t, m):
    t += m


WAYS_IN = {
    "Tensor": lambda m: ag.Tensor(m),
    "as_tensor": lambda m: ag.as_tensor(m),
    "t * m": lambda m: _leaf() * m,
    "t + m": lambda m: _leaf() + m,
    "ag.maximum": lambda m: ag.maximum(_leaf(), m),
    "t32 * int mask": lambda m: ag.Tensor(np.ones((2, 3), np.float32), requires_grad=True) * m.astype(int),
    ".data =": lambda m: _set_data(_leaf(), m),
    ".grad =": lambda m: _set_grad(_leaf(), m),
    "+=": lambda m: _add_in_place(_leaf(requires_grad=False), m),
    "backward(grad=)": lambda m: (_leaf() * 2).backward(m),
    "bce labels": lambda m: ag.binary_cross_entropy(ag.sigmoid(_leaf()), (m > 2).astype(float)),
    "bce logits labels": lambda m: ag.binary_cross_entropy_with_logits(_leaf(), (m > 2).astype(float)),
    "cross_entropy labels": lambda m: ag.cross_entropy(_leaf(), m[0] % 2),
    "dropout mask": lambda m: ag.dropout(_leaf(), 0.5, mask=(m > 2).astype(float)),
}


@pytest.mark.parametrize("way", sorted(WAYS_IN))
def test_masked_array_with_a_masked_entry_is_refused(way):
    with pytest.raises(TypeError, match=r"MaskedArray of shape \((2, 3|3,)\) with 1 masked entry; .*m\.filled"):
        WAYS_IN[way](_masked())


def test_masked_refusal_names_where_it_came_in():
    with pytest.raises(TypeError, match=r"^Tensor\.data: "):
        _set_data(_leaf(), _masked())
    with pytest.raises(TypeError, match=r"^'\+=': "):
        _add_in_place(_leaf(requires_grad=False), _masked())
    with pytest.raises(TypeError, match=r"^binary_cross_entropy \(labels\): "):
        ag.binary_cross_entropy(ag.sigmoid(_leaf()), (_masked() > 2).astype(float))


def test_masked_array_on_the_left_of_a_tensor_that_requires_grad_is_refused():
    with pytest.raises(TypeError, match="requires grad"):
        _masked() * _leaf()


@pytest.mark.parametrize("mask", [np.ma.nomask, False, [[0, 0, 0], [0, 0, 0]]])
def test_masked_array_without_a_masked_entry_is_its_data(mask):
    a = np.arange(6.0).reshape(2, 3)
    m = np.ma.MaskedArray(a, mask=mask)
    t = ag.Tensor(m, requires_grad=True)
    assert type(t.data) is np.ndarray
    (t * m).sum().backward()  # d sum(t * a) / dt = a
    np.testing.assert_array_equal(t.grad, a)
    u = ag.Tensor(np.zeros((2, 3)))
    u.data = m
    assert type(u.data) is np.ndarray and np.shares_memory(u.data, a)  # shared, as a plain array is
    u += np.ma.MaskedArray(a.copy(), mask=mask)  # (u holds a itself: a is now 2 a)
    np.testing.assert_array_equal(a, 2 * np.arange(6.0).reshape(2, 3))


# --- 3. np.matrix (any ndarray subclass) as data -----------------------------------------------
def _matrix(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(a)


def test_matrix_data_is_a_plain_array_sharing_memory():
    a = np.arange(6.0).reshape(2, 3)
    mat = _matrix(a)
    t = ag.Tensor(np.zeros((2, 3)), requires_grad=True)
    t.data = mat
    assert type(t.data) is np.ndarray and t.shape == (2, 3) and np.shares_memory(t.data, mat)
    # NumPy's shapes and values on the plain array a
    assert t[0].shape == a[0].shape == (3,)
    assert t.reshape(6).shape == (6,)
    np.testing.assert_array_equal(ag.sum(t, axis=0).data, a.sum(axis=0))
    np.testing.assert_array_equal(ag.max(t, axis=1).data, a.max(axis=1))
    np.testing.assert_array_equal(ag.mean(t, axis=1).data, a.mean(axis=1))
    ag.sum(t[0] * t[0]).backward()  # hand formula: 2 a in row 0, 0 in row 1
    np.testing.assert_array_equal(t.grad, np.array([[0.0, 2.0, 4.0], [0.0, 0.0, 0.0]]))


def test_matrix_grad_is_a_plain_array_and_the_optimizer_step_matches_the_formula():
    a = np.arange(6.0).reshape(2, 3)
    p = ag.Tensor(a.copy(), requires_grad=True)
    p.grad = _matrix(np.ones((2, 3)))
    assert type(p.grad) is np.ndarray and p.grad.shape == (2, 3)
    ag.sum(p * p).backward()  # adds 2 p
    np.testing.assert_array_equal(p.grad, 1 + 2 * a)
    ag.optim.GradientDescent([p], lr=0.5).step()
    assert type(p.data) is np.ndarray
    np.testing.assert_array_equal(p.data, a - 0.5 * (1 + 2 * a))
