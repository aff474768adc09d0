"""ag.compile's faster paths give eager's values and gradients: results that need no grad,
gradients that are None or not arrays, results that are not arrays, keyword inputs,
globals read by an inner function, the order traces are dropped in, and keys."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import GraphError
from autograd_lite.compile_key import call_key


def _compare(fn, calls, grad_of):
    """``ag.compile(fn)`` and ``fn`` on every call of ``calls`` (arg lists; positions in
    ``grad_of`` become fresh requires-grad Tensors): equal values and gradients (both None
    where no gradient flows). Returns the compiled function."""
    step = ag.compile(fn)
    for args in calls:
        results = []
        for f in (fn, step):
            given = [ag.Tensor(a, requires_grad=True) if i in grad_of else a for i, a in enumerate(args)]
            out = f(*given)
            out.backward()
            results.append((out.item(), [given[i].grad for i in grad_of]))
        (want, want_grads), (got, got_grads) = results
        assert got == want
        for g, w in zip(got_grads, want_grads):
            assert (g is None) == (w is None)
            if w is not None:
                np.testing.assert_array_equal(g, w)
    return step


def test_a_result_that_depends_on_no_grad_input_requires_no_grad_as_in_eager_mode():
    def fn(w, x):
        return ag.sum(x * 2.0) + 0.0 * ag.sum(ag.Tensor(w.data))  # w requires grad, yet no path leads to it
    w, x = ag.Tensor(np.ones(3), requires_grad=True), np.arange(3.0)
    step = ag.compile(fn)
    for _ in range(2):
        out = step(w, x)
        assert out.item() == 6.0
        assert out.requires_grad is False and fn(w, ag.Tensor(x)).requires_grad is False
        with pytest.raises(GraphError, match="does not require grad"):
            out.backward()


@ag.primitive
def _gated(x, y):
    return x * y


# the first VJP gives no gradient where y is all positive; the second gives a list
_gated.defvjp(lambda g, out, x, y: None if np.all(y > 0) else g * y, lambda g, out, x, y: (g * x).tolist())


def test_vjps_returning_none_at_run_time_or_lists_sum_as_in_eager_mode():
    def fn(x, y):
        z = _gated(x, y)
        return (_gated(z, y) + _gated(x, y)).sum()  # x and y each get two contributions
    rng = np.random.default_rng(3)
    calls = [[rng.normal(size=4), np.abs(rng.normal(size=4)) + 0.5] if k % 2 else
             [rng.normal(size=4), rng.normal(size=4)] for k in range(6)]
    _compare(fn, calls, grad_of=(0, 1))
    # by hand, y all positive: the first VJP gives None, so nothing reaches x (nor z); y gets
    # z = x*y from the outer call and x from the last one
    x, y = ag.Tensor([1.0, 2.0], requires_grad=True), ag.Tensor([3.0, 4.0], requires_grad=True)
    step = ag.compile(fn)
    for _ in range(2):
        x.grad = y.grad = None
        step(x, y).backward()
        assert x.grad is None
        np.testing.assert_array_equal(y.grad, [1 * 3 + 1, 2 * 4 + 2])


@ag.primitive
def _total(x):
    return float(x.sum())  # a Python float, not an array


_total.defvjp(lambda g, out, x: g * np.ones_like(x))


def test_a_forward_returning_a_python_float_is_an_array_as_in_eager_mode():
    def fn(x):
        return _total(x) * _total(ag.square(x))
    rng = np.random.default_rng(4)
    step = _compare(fn, [[rng.normal(size=3)] for _ in range(4)], grad_of=(0,))
    out = step(np.array([1.0, 2.0]))
    assert type(out.data) is np.ndarray and out.data.shape == () and out.item() == 3.0 * 5.0


def test_keyword_inputs_are_read_by_name_whatever_their_order():
    def fn(x, w, scale=1.0):
        return (ag.tanh(x @ w) * scale).sum()
    step = ag.compile(fn)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, w = rng.normal(size=(2, 3)), rng.normal(size=(3, 1))
        want = fn(ag.Tensor(x), ag.Tensor(w), scale=2.0).item()
        assert step(x=x, w=w, scale=2.0).item() == want
        assert step(w=w, scale=2.0, x=x).item() == want
        assert step(x, scale=2.0, w=w).item() == want
    # a trace per keyword order (a function taking **kwargs sees the order), one for x by position
    assert step.recordings == 3


_SCALE = ag.Tensor([2.0, 3.0])


def test_a_global_tensor_read_only_by_an_inner_function_keys_the_trace():
    global _SCALE

    def fn(x):
        def scaled():  # the global is loaded in here, not in fn itself
            return x * _SCALE
        return scaled().sum()
    step, x = ag.compile(fn), np.array([1.0, 1.0])
    assert step(x).item() == 5.0
    saved = _SCALE
    try:
        _SCALE = ag.Tensor([10.0, 20.0])
        assert step(x).item() == 30.0 == fn(ag.Tensor(x)).item()
    finally:
        _SCALE = saved
    assert step(x).item() == 5.0


def test_the_least_recently_used_trace_is_the_one_dropped():
    step = ag.compile(lambda x: ag.square(x).sum(), max_traces=2)
    a, b, c = np.ones(1), np.ones(2), np.ones(3)
    for x, recordings in [(a, 1), (b, 2), (a, 2), (c, 3), (a, 3), (b, 4), (c, 5), (a, 6)]:
        assert step(x).item() == x.size
        assert step.recordings == recordings


def test_keys_tell_containers_members_and_kinds_apart():
    t, u, x = ag.Tensor(1.0), ag.Tensor(1.0), np.ones(2)
    same = [({"a": t, "b": x},), ({"a": t, "b": x},)]
    assert call_key(same[0], {}) == call_key(same[1], {})
    different = [({"a": t, "b": x},), ({"a": u, "b": x},), ({"b": x, "a": t},), ({"a": t, "c": x},),
                 ([t, x],), ((t, x),), ([x, t],), ({"a": t, "b": 1.0},), ({"a": t, "b": 1},),
                 ({"a": t, "b": [t]},), ({"a": t, "b": [u]},), ({"a": t, "b": x.copy()},)]
    keys = [call_key(args, {}) for args in different]
    assert len(set(keys)) == len(keys)
    assert call_key((x,), {}) == call_key((np.zeros(2),), {}) != call_key((np.zeros(3),), {})


def test_a_guard_on_an_input_itself_retraces_when_it_changes():
    def fn(x):
        return (x * 2.0).sum() if x.data[0] > 0 else (x * 3.0).sum()
    step = ag.compile(fn)
    for first, want in [(1.0, 2.0), (-1.0, -3.0), (2.0, 4.0), (-2.0, -6.0), (1.0, 2.0)]:
        x = ag.Tensor([first, 0.0], requires_grad=True)
        step(x).backward()
        assert step(x).item() == want
        np.testing.assert_array_equal(x.grad, [want / first] * 2)


@ag.primitive
def _pair(x, y):
    return x * y


_pair.vjp_all = lambda g, out, x, y: (gi for gi in (g * y, g * x))  # any iterable, as eager takes it


@ag.primitive
def _left_fixed(x, y):
    return x + 2.0 * y


_left_fixed.defvjp(None, lambda g, out, x, y: 2.0 * g)


def test_gradients_given_all_at_once_and_a_missing_rule_as_in_eager_mode():
    rng = np.random.default_rng(6)
    _compare(lambda x, y: (_pair(x, y) * _pair(x, x)).sum(), [[rng.normal(size=3), rng.normal(size=3)]
                                                            for _ in range(3)], grad_of=(0, 1))
    _compare(lambda x, y: _left_fixed(x, y).sum(), [[rng.normal(size=2), rng.normal(size=2)]], grad_of=(1,))
    step = ag.compile(lambda x, y: _left_fixed(x, y).sum())
    for f in (lambda x, y: _left_fixed(x, y).sum(), step, step):
        x, y = ag.Tensor([1.0], requires_grad=True), ag.Tensor([2.0], requires_grad=True)
        with pytest.raises(GraphError, match="not differentiable with respect to input 0"):
            f(x, y).backward()
