"""Session 8: defects found by review, each pinned by a test that failed before its fix."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import InplaceModificationError


def _sigmoid_cost(rng):
    """W (1, 3) -> sigmoid(W @ x) retained -> cross-entropy: the output's gradient takes the logits' edge."""
    W = ag.Tensor(rng.standard_normal((1, 3)), requires_grad=True)
    x = ag.Tensor(rng.standard_normal((3, 5)))
    y = (rng.random((1, 5)) < 0.5).astype(np.float64)
    a = ag.sigmoid(W @ x).retain_grad()
    return W, x, y, a, ag.binary_cross_entropy(a, y)


def test_a_refused_backward_leaves_the_retained_sigmoid_output_without_grad():
    W, x, y, a, cost = _sigmoid_cost(np.random.default_rng(0))
    x.data = x.data - 1  # the matmul's saved input changed: backward refuses at that node
    with pytest.raises(InplaceModificationError):
        cost.backward()
    assert a.grad is None and W.grad is None


def test_ag_grad_writes_no_grad_of_a_retained_sigmoid_output():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 5)), (rng.random((1, 5)) < 0.5).astype(np.float64)
    made = []

    def f(W):
        a = ag.sigmoid(W @ x).retain_grad()
        made.append(a)
        return ag.binary_cross_entropy(a, y)

    W = rng.standard_normal((1, 3))
    dW = ag.grad(f)(W)
    a = made[0].data
    np.testing.assert_allclose(dW, ((a - y) / 5) @ x.T, rtol=1e-12)  # hand-derived dW = dZ X^T
    assert made[0].grad is None


def test_the_retained_sigmoid_output_still_gets_dJ_dA_after_a_backward_that_succeeds():
    W, x, y, a, cost = _sigmoid_cost(np.random.default_rng(2))
    cost.backward()
    p = a.data
    np.testing.assert_allclose(a.grad, -(y / p - (1 - y) / (1 - p)) / 5, rtol=1e-12)
    np.testing.assert_allclose(W.grad, ((p - y) / 5) @ x.data.T, rtol=1e-12)


def test_index_array_changed_after_forward_does_not_change_gradient():
    t = ag.Tensor(np.arange(4.0), requires_grad=True)
    idx = np.array([0, 1])
    y = t[idx]
    idx[0] = 3
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, [1.0, 1.0, 0.0, 0.0])


def test_mask_array_changed_after_forward_does_not_change_gradient():
    t = ag.Tensor(np.arange(4.0), requires_grad=True)
    mask = np.array([True, False, True, False])
    y = t[mask]
    mask[:] = [False, True, False, True]
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, [1.0, 0.0, 1.0, 0.0])


def test_iterating_a_0d_tensor_raises_like_numpy():
    J = (ag.Tensor(np.array([1.0, 2.0]), requires_grad=True) ** 2).sum()
    with pytest.raises(TypeError):
        list(J)
    with pytest.raises(TypeError):
        sum(J)  # builtin sum iterates; must not silently give 0


def test_save_snapshots_arrays_so_a_concurrent_update_cannot_corrupt_the_file(tmp_path, monkeypatch):
    from autograd_lite import serialization

    W = ag.Tensor(np.zeros((4, 5)), requires_grad=True)
    original_header = serialization._npy_header

    def header_while_another_thread_updates(array):
        W.data += 1.0  # simulates an optimizer step in another thread, mid-save
        return original_header(array)

    monkeypatch.setattr(serialization, "_npy_header", header_while_another_thread_updates)
    path = tmp_path / "ckpt.npz"
    ag.save({"W": W}, path)
    monkeypatch.undo()
    loaded = ag.load(path)["W"].data  # must be loadable (and consistent) since save succeeded
    assert loaded.shape == (4, 5)
    assert np.all(loaded == loaded.flat[0]) and loaded.flat[0] in (0.0, 1.0)


def test_jacobian_of_empty_output_keeps_float32():
    x = np.ones(3, np.float32)
    J = ag.jacobian(lambda x: x[:0] * 2)(x)
    assert J.shape == (0, 3)
    assert J.dtype == np.float32


def test_index_list_and_tuple_of_arrays_are_copied_too():
    t = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows, cols = [0, 1], np.array([2, 0])
    y = t[rows, cols]
    rows[0], cols[0] = 1, 1
    (y * np.array([1.0, 10.0])).sum().backward()
    expected = np.zeros((2, 3))
    expected[0, 2], expected[1, 0] = 1.0, 10.0  # the positions read by the forward
    np.testing.assert_array_equal(t.grad, expected)


def test_iterating_a_tensor_gives_its_rows_recorded():
    x = ag.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    total = sum((i + 1) * row.sum() for i, row in enumerate(x))
    total.backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [2, 2], [3, 3]])
    assert total.item() == 1 * 1 + 2 * 5 + 3 * 9


def test_a_tensor_index_is_refused_naming_getitem_and_what_is_expected():
    t = ag.Tensor(np.arange(4.0), requires_grad=True)
    with pytest.raises(TypeError, match=r"getitem: an index is a Tensor of shape \(2,\) \(float64\); expected"):
        t[ag.Tensor([0, 1])]


@pytest.mark.parametrize("labels", [np.array([[1, 0, 1]]), np.array([[True, False, True]]), np.array([[1, 0, 1]], np.uint8)])
def test_an_integer_or_boolean_array_argument_makes_a_compiled_call_eager_with_eager_dtypes(labels):
    def cost(W, X, Y):  # a float32 model: eager casts the integer labels to float32
        return ag.binary_cross_entropy(ag.sigmoid(W @ X), Y) + W[0, Y[0].astype(int)].sum() * 0.0

    rng = np.random.default_rng(4)
    W = ag.Tensor(rng.standard_normal((1, 2)).astype(np.float32), requires_grad=True)
    X = rng.standard_normal((2, 3)).astype(np.float32)
    step = ag.compile(cost)
    with pytest.warns(RuntimeWarning, match="integer or boolean array argument"):
        compiled = step(W, X, labels)
    compiled.backward()
    compiled_grad, W.grad = W.grad, None
    eager = cost(W, X, labels)
    eager.backward()
    assert compiled.dtype == eager.dtype == np.float32
    assert compiled.item() == eager.item() and np.array_equal(compiled_grad, W.grad)


def test_a_dropout_mask_reused_before_backward_does_not_change_the_gradient():
    x = ag.Tensor(np.arange(1.0, 5.0), requires_grad=True)
    mask = np.array([1.0, 1.0, 0.0, 0.0])
    y = ag.dropout(x, 0.5, mask=mask).sum()
    mask[:] = 1 - mask
    y.backward()
    np.testing.assert_array_equal(x.grad, [2, 2, 0, 0])  # d/dx = mask / keep_prob, the mask it ran with


@pytest.mark.parametrize("check", [ag.gradcheck, ag.gradgradcheck])
@pytest.mark.parametrize("threshold", [float("nan"), -1.0, 0.0, float("inf"), True])
def test_gradchecks_refuse_a_threshold_that_would_decide_every_check(check, threshold):
    with pytest.raises(ValueError, match=rf"^{check.__name__}: threshold must be (> 0|a finite number), got"):
        check(lambda t: (t * t).sum(), [np.array([1.0, -2.0, 3.0])], threshold=threshold)


def test_compile_keys_a_number_read_through_a_chain_of_modules_and_classes(tmp_path, monkeypatch):
    import sys
    (tmp_path / "round8cfg").mkdir()
    (tmp_path / "round8cfg" / "__init__.py").write_text("from . import settings\n")
    (tmp_path / "round8cfg" / "settings.py").write_text("lambd = 0.7\n\nclass Train:\n    scale = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import round8cfg

    def cost(W):
        return round8cfg.settings.lambd * round8cfg.settings.Train.scale * (W * W).sum()

    step = ag.compile(cost)
    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    try:
        for lambd, scale in [(0.7, 1.0), (0.7, 1.0), (0.0, 1.0), (5.0, 1.0), (5.0, 3.0)]:
            round8cfg.settings.lambd, round8cfg.settings.Train.scale = lambd, scale
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # (a key that sees the change replays or re-traces quietly)
                value = step(W)
            value.backward()
            assert value.item() == pytest.approx(lambd * scale * 5.0)  # lambd scale (1 + 4)
            np.testing.assert_allclose(W.grad, 2 * lambd * scale * np.array([1.0, 2.0]))
            W.grad = None
        assert step.recordings == 4  # (0.7, 1.0) replayed once; every change traced anew
    finally:
        sys.modules.pop("round8cfg", None)
        sys.modules.pop("round8cfg.settings", None)


_WEIGHTS = np.ones(20)  # more than 16 elements: the compile key holds it by identity


@pytest.mark.parametrize("also_an_operand", [False, True])
def test_compile_sees_an_in_place_change_of_a_large_global_array_read_with_numpy(also_an_operand):
    def cost(W):
        scale = float(_WEIGHTS.mean())  # plain NumPy: no step of the trace sees this read
        extra = (W * _WEIGHTS[:2]).sum() if also_an_operand else 0.0
        return (W * W).sum() * scale + extra

    step = ag.compile(cost)
    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    try:
        for factor in (1.0, 1.0, 2.0, 4.0):  # the weights as they are at each call: 1, 1, then doubled twice
            _WEIGHTS[...] = factor
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                value = step(W)
            value.backward()
            operand = factor * np.ones(2) if also_an_operand else np.zeros(2)
            assert value.item() == pytest.approx(5.0 * factor + operand @ [1.0, 2.0])  # hand formula
            np.testing.assert_allclose(W.grad, 2 * factor * np.array([1.0, 2.0]) + operand)
            W.grad = None
        assert step.replays == 1  # the unchanged second call replayed; each change traced anew
    finally:
        _WEIGHTS[...] = 1.0


def _scaled_loss(model, x):  # a helper handed the model itself: it reads model.scale
    return model.scale * (x * x).sum()


class _HandsItselfOn:
    def __init__(self):
        self.scale = 1.0

    def __call__(self, x):
        return _scaled_loss(self, x)


def test_compile_keys_what_a_helper_reads_off_self_handed_to_it():
    model, x = _HandsItselfOn(), ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = ag.compile(model)
    for scale in (1.0, 1.0, 3.0, 0.5):
        model.scale = scale
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = step(x)
        value.backward()
        assert value.item() == pytest.approx(5.0 * scale)  # scale (1 + 4)
        np.testing.assert_allclose(x.grad, 2 * scale * np.array([1.0, 2.0]))
        x.grad = None
    assert step.replays == 1


_X = np.random.default_rng(10).standard_normal((3, 4))


def _value_and_grad_at_X(fn):
    x = ag.Tensor(_X, requires_grad=True)
    out = fn(x)
    out.backward()
    return out.item(), x.grad


class _Cfg:
    scale = 1.0


class _Net:
    def __init__(self):
        self.cfg = _Cfg()

    def loss(self, x):
        return (x * x).sum() * self.cfg.scale


def _helper(m, x):
    return (x * x).sum() * m.scale


class _Model:
    scale = 1.0

    def loss(self, x):
        return _helper(self, x)


class _Outer:
    pass


_holder = _Outer()
_holder.inner = _Cfg()


def _through_object(x):
    return (x * x).sum() * _holder.inner.scale


@pytest.mark.parametrize("make, cls", [(lambda: _Net().loss, _Cfg), (lambda: _Model().loss, _Model),
                                       (lambda: _through_object, _Cfg)],
                         ids=["self.cfg.scale", "helper(self)-reads-class-attr", "global.obj.class_attr"])
def test_compile_keys_a_class_attribute_read_behind_an_object(make, cls):
    step = ag.compile(make())
    try:
        for scale in (1.0, 3.0, 0.5):
            cls.scale = scale
            value, grad = _value_and_grad_at_X(step)
            # hand formula: J = scale * sum(x^2), dJ/dx = 2 * scale * x
            assert value == pytest.approx(scale * (_X * _X).sum(), rel=1e-12)
            np.testing.assert_allclose(grad, 2 * scale * _X, rtol=1e-12)
    finally:
        cls.scale = 1.0


class _Sub(np.ndarray):
    pass


_S = np.arange(40.0).view(_Sub)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    _M = np.matrix(np.arange(40.0).reshape(5, 8))


def _reads_sub(x):
    return (x * x).sum() * float(_S.sum())


def _reads_matrix(x):
    return (x * x).sum() * float(_M.sum())


@pytest.mark.parametrize("fn, array, where", [(_reads_sub, _S, 0), (_reads_matrix, _M, (0, 0))],
                         ids=["ndarray-subclass", "np.matrix"])
def test_compile_sees_an_ndarray_subclass_changed_in_place(fn, array, where):
    step = ag.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        _value_and_grad_at_X(step)  # traced (same key as the call below: requires_grad too)
        array[where] = array[where] + 100.0
        value, grad = _value_and_grad_at_X(step)
        total = float(np.asarray(array).sum())
    assert value == pytest.approx(total * (_X * _X).sum(), rel=1e-12)
    np.testing.assert_allclose(grad, 2 * total * _X, rtol=1e-12)


def test_the_replay_bit_check_tells_every_bit_apart_also_through_strided_views():
    from autograd_lite.replay_source import same_bits

    base = np.arange(40.0).reshape(5, 8)
    view = base[::2, 1::3]  # non-contiguous
    assert same_bits(view, np.array(view))
    changed = np.array(view)
    changed[1, 1] = -changed[1, 1] if changed[1, 1] else -0.0
    assert not same_bits(view, changed)
    assert not same_bits(np.array([0.0] * 20), np.array([-0.0] * 20))  # -0.0 is not 0.0
    assert same_bits(np.full(20, np.nan), np.full(20, np.nan))  # the same NaN
    assert not same_bits(np.zeros(20, np.float32), np.zeros(20))  # dtype differs
    assert same_bits(np.ones(20, np.complex128), np.ones(20, np.complex128))  # 16-byte items: bytes
    assert not same_bits(np.ones(20, np.complex128), np.full(20, 1 + 1j))


def _tanh_cost(W, X):
    return ag.sum(ag.tanh(W @ X)) + ag.sum(W * W)


def test_two_replayed_costs_summed_give_eager_gradients_up_to_the_order_of_the_sum():
    # Documented: each call's share reaches W summed first (eager adds use by use), so the
    # last bit may differ; the gradient is otherwise the hand-derived one.
    rs = np.random.RandomState(0)
    W0, X1, X2 = rs.randn(3, 3), rs.randn(3, 4), rs.randn(3, 4)
    step = ag.compile(_tanh_cost)
    W = ag.Tensor(W0, requires_grad=True)
    step(W, X1)  # traced; the two calls below replay
    (step(W, X1) + step(W, X2)).backward()
    by_hand = sum((1 - np.tanh(W0 @ X) ** 2) @ X.T + 2 * W0 for X in (X1, X2))
    np.testing.assert_allclose(W.grad, by_hand, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("expression", [lambda x: x * True, lambda x: x + False, lambda x: True - x])
def test_a_python_bool_mixed_with_a_float32_tensor_takes_its_dtype(expression):
    x = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = expression(x)
    assert y.dtype == np.float32  # as Python ints and floats do (and PyTorch's weak scalars)
    y.sum().backward()
    assert x.grad.dtype == np.float32
