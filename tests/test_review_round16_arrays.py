"""Review round 16 (adv73): hostile array inputs. Arrays whose entries share memory are copied where a
Tensor takes them in; ``.data =`` takes float arrays only; ``ag.compile`` runs an np.matrix argument
eagerly; ``np.positive`` returns a new tensor; softmax, log_softmax and logsumexp over an empty axis;
object ndarrays are refused. Expected values come from NumPy, SciPy and the math."""
import warnings
from fractions import Fraction

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from scipy import special

import autograd_lite as ag


# Finding 1: a writable array whose entries share memory is copied where it is taken in ----------------------
def test_optimizer_step_on_a_broadcast_arrays_view_updates_every_entry_and_leaves_the_users_array():
    bias = np.array([[0.1], [0.2]])
    bb, _ = np.broadcast_arrays(bias, np.zeros((2, 4)))  # writable (for now), strides (8, 0)
    grad = np.arange(8.0).reshape(2, 4)
    expected = np.tile(bias, (1, 4)) - 0.01 * grad  # as PyTorch on a clone
    W = ag.Tensor(np.zeros((2, 4)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (NumPy's FutureWarning on reading bb's writeable flag: not raised)
        W.data = bb
        W.grad = grad
        ag.optim.GradientDescent([W], lr=0.01).step()
    np.testing.assert_allclose(W.data, expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(bias, [[0.1], [0.2]])


def test_inplace_sub_on_an_as_strided_tensor_writes_each_entry_once():
    base = np.array([1.0, 2.0, 3.0])
    t = ag.as_tensor(as_strided(base, shape=(3, 3), strides=(0, base.itemsize)))
    t -= np.eye(3)
    np.testing.assert_array_equal(t.data, np.tile([1.0, 2.0, 3.0], (3, 1)) - np.eye(3))
    np.testing.assert_array_equal(base, [1.0, 2.0, 3.0])


def test_momentum_on_writable_sliding_windows_matches_the_windows_copied():
    series = np.arange(6.0)
    windows = sliding_window_view(series, 3, writeable=True)  # (4, 3), strides (8, 8): entries overlap
    grad = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    p = ag.Tensor(np.zeros((4, 3)), requires_grad=True)
    p.data = windows
    opt = ag.optim.Momentum([p], lr=0.1, beta=0.9)
    for _ in range(2):
        p.grad = grad.copy()
        opt.step()
    # Momentum (v = beta v + (1 - beta) g) from v = 0: v1 = 0.1 g, v2 = 0.19 g
    expected = np.array([[0., 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]) - 0.1 * (0.1 + 0.19) * grad
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(series, np.arange(6.0))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_a_float_matrix_view_with_a_zero_stride_is_copied_too():
    base = np.array([1.0, 2.0])
    m = np.asmatrix(as_strided(base, shape=(2, 2), strides=(0, 8)))  # the subclass path of as_tensor
    t = ag.as_tensor(m)
    t += np.array([[10.0, 20.0], [30.0, 40.0]])
    np.testing.assert_array_equal(t.data, [[11.0, 22.0], [31.0, 42.0]])
    np.testing.assert_array_equal(base, [1.0, 2.0])


def test_arrays_whose_entries_do_not_overlap_are_still_shared():
    # documented: a float ndarray is used as it is, not copied (as torch.from_numpy)
    a = np.arange(12.0).reshape(3, 4)
    for view in (a, a[:, ::2], a.T, a[::-1]):
        assert np.shares_memory(ag.as_tensor(view).data, a)
    t = ag.Tensor(np.zeros((3, 2)))
    strided = a[:, ::2]
    t.data = strided
    assert t.data is strided


def test_a_read_only_broadcast_view_is_kept_and_refuses_in_place_writes():
    base = np.array([1.0, 2.0, 3.0])
    view = np.broadcast_to(base, (1000, 3))  # 3 entries of memory, not 3000
    t = ag.as_tensor(view)
    assert np.shares_memory(t.data, base)
    with pytest.raises(ag.GraphError, match="read-only"):
        t -= 1.0
    p = ag.Tensor(np.zeros((1000, 3)), requires_grad=True)
    p.data, p.grad = view, np.ones((1000, 3))
    ag.optim.GradientDescent([p], lr=0.5).step()  # a new array, as for any read-only data
    np.testing.assert_array_equal(p.data, np.tile(base - 0.5, (1000, 1)))
    np.testing.assert_array_equal(base, [1.0, 2.0, 3.0])


# Finding 2: .data = takes float arrays only, whatever else it is given --------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("value", [0.0, 1, [1, 2], [1.5, 2.5], np.array([1, 2]), np.array([True, False])])
def test_data_setter_refuses_what_has_no_float_dtype_of_its_own_and_keeps_the_tensor(dtype, value):
    old = np.ones(np.shape(value), dtype)
    t = ag.Tensor(old, requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor\.data"):
        t.data = value
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.data, old)


def test_data_setter_names_the_dtype_to_keep_and_its_advice_works():
    w = ag.Tensor(np.float32(1.5), requires_grad=True)
    opt = ag.optim.Adam([w], lr=0.1)
    w.grad = np.float32(3.0)
    opt.step()
    with pytest.raises(TypeError, match=r"float 0\.0: expected a float ndarray of shape \(\).*np\.asarray\(value, "
                                        r"t\.dtype\).*\(float32\)"):
        w.data = 0.0
    w.data = np.asarray(0.0, w.dtype)  # the advice: the parameter stays float32 and the optimizer goes on
    w.grad = np.float32(1.0)
    opt.step()
    assert w.dtype == np.float32 and w.data.shape == ()


def test_data_setter_takes_float_arrays_numpy_scalars_and_tensors():
    t = ag.Tensor(np.zeros(2, np.float32))
    t.data = np.array([1.0, 2.0])  # a float array keeps its own dtype, as before
    assert t.dtype == np.float64
    s = ag.Tensor(np.float32(0.0))
    s.data = np.float16(0.5)  # a NumPy scalar as a 0-d array, as .grad = takes it
    assert s.dtype == np.float16 and s.item() == 0.5
    u = ag.Tensor([3.0, 4.0])
    t.data = u
    assert t.data is u.data


# Finding 3: an ndarray subclass argument of a compiled function runs eagerly ------------------------------
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_compile_with_a_matrix_argument_gives_the_eager_value_and_gradient():
    W0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = ag.Tensor(W0, requires_grad=True)

    def f(x):
        return (W @ x).sum() + ag.sum(x * x)  # on an np.matrix, x * x is its matrix product

    M = np.matrix([[4.0, 5.0], [6.0, 7.0]])
    A = np.asarray(M)
    expected = (W0 @ A).sum() + (A @ A).sum()  # 114 + 246
    cf = ag.compile(f)
    with pytest.warns(RuntimeWarning, match=r"ndarray subclass numpy\.matrix.*calls like this one run it eagerly"):
        first = cf(M)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # warned once: the key now runs eagerly
        values = [cf(M).item() for _ in range(2)]
        W.grad = None
        cf(M).backward()
    assert [first.item(), *values] == [expected] * 3
    np.testing.assert_array_equal(W.grad, np.ones((2, 2)) @ A.T)  # d sum(W A) / dW


def test_compile_with_a_masked_array_argument_runs_eagerly():
    m = np.ma.masked_array(np.array([1.0, 2.0, 3.0]), mask=False)
    cf = ag.compile(lambda x: ag.sum(ag.as_tensor(x) * 2.0))
    with pytest.warns(RuntimeWarning, match=r"ndarray subclass numpy\.ma\.MaskedArray"):
        assert cf(m).item() == 12.0


def test_compile_with_a_memmap_argument_stays_compiled(tmp_path):
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
    mm[:] = [1.0, 2.0, 3.0]
    cf = ag.compile(lambda x: ag.sum(x * x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert cf(mm).item() == 14.0
        mm[:] = [2.0, 0.0, 1.0]
        assert cf(mm).item() == 5.0
    assert (cf.recordings, cf.replays) == (1, 1)


# Finding 4: np.positive returns a new tensor ----------------------------------------------------------------
def test_np_positive_returns_a_new_tensor_through_which_gradients_flow():
    t = ag.Tensor(np.array([-0.0, 2.0, np.inf], np.float16), requires_grad=True)
    y = np.positive(t)
    assert y is not t and not np.shares_memory(y.data, t.data)
    assert y.dtype == np.float16 and np.signbit(y.data[0])  # NumPy's np.positive(-0.0) is -0.0
    np.testing.assert_array_equal(y.data, [-0.0, 2.0, np.inf])
    (y * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(t.grad, [1.0, 2.0, 3.0])
    with ag.no_grad():
        y += 10
    np.testing.assert_array_equal(t.data, [-0.0, 2.0, np.inf])


# Finding 5: the softmax family over an axis of length 0 -----------------------------------------------------
@pytest.mark.parametrize("shape, axis", [((3, 0), -1), ((0, 4), 0), ((2, 0, 3), 1), ((0,), 0)])
def test_softmax_family_over_an_empty_axis(shape, axis):
    x = ag.Tensor(np.zeros(shape), requires_grad=True)
    reduced = tuple(n for i, n in enumerate(shape) if i != axis % len(shape))
    for f in (ag.softmax, ag.log_softmax):
        x.grad = None
        y = f(x, axis=axis)
        assert y.shape == shape
        ag.sum(y).backward()
        assert x.grad.shape == shape
    x.grad = None
    lse = ag.logsumexp(x, axis=axis)
    np.testing.assert_array_equal(lse.data, np.full(reduced, -np.inf))  # the log of an empty sum
    ag.sum(lse).backward()
    assert x.grad.shape == shape
    assert ag.logsumexp(x, axis=axis, keepdims=True).shape == tuple(
        1 if i == axis % len(shape) else n for i, n in enumerate(shape))


def test_softmax_family_on_a_nonempty_axis_is_unchanged():
    rng = np.random.default_rng(16)
    x = rng.normal(size=(4, 5)) * 30
    x[:, 2] = -np.inf  # a column with no finite entry: logsumexp -inf, as SciPy's
    t = ag.Tensor(x)
    np.testing.assert_allclose(ag.logsumexp(t, axis=0).data, special.logsumexp(x, axis=0), rtol=1e-14)
    np.testing.assert_allclose(ag.softmax(t[:, :2], axis=0).data, special.softmax(x[:, :2], axis=0), rtol=1e-13)
    np.testing.assert_allclose(ag.log_softmax(t[:, :2], axis=0).data, special.log_softmax(x[:, :2], axis=0),
                               rtol=1e-13)


# Finding 6: object ndarrays are refused, as documented and as PyTorch does -----------------------------------
@pytest.mark.parametrize("values", [[1.5, 2], [np.float32(1.5), np.float32(2)], [10 ** 30, 1]])
def test_object_ndarray_is_refused_on_every_way_in(values):
    obj = np.array(values, dtype=object)
    for make in (ag.Tensor, ag.as_tensor, lambda a: ag.Tensor([1.0, 2.0]) + a):
        with pytest.raises(TypeError, match=r"ndarray of dtype object is refused.*a\.astype\(float\)"):
            make(obj)
    t = ag.Tensor([0.0, 0.0])
    with pytest.raises(TypeError):
        t.data = obj
    np.testing.assert_array_equal(t.data, [0.0, 0.0])


def test_python_numbers_numpy_holds_only_as_objects_are_still_converted():
    np.testing.assert_array_equal(ag.Tensor([10 ** 30, 1]).data, np.array([10 ** 30, 1], dtype=float))
    assert ag.Tensor(10 ** 30).item() == 1e30
    assert ag.Tensor([Fraction(1, 2), 2]).data.tolist() == [0.5, 2.0]
    assert ag.Tensor([np.float32(1.5), np.float32(2)]).dtype == np.float32  # (a list of them: float32)
