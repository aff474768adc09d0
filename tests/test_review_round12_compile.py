"""ag.compile, review round 12 (adversarial round 28, findings 2 and 4): objects and functions
passed to a compiled function are freed once no trace holds them, and a replay whose op refuses
this call's values runs the function eagerly (which may catch that error) instead of raising.
Expected values come from calling the uncompiled function (``step.fn``) or by hand."""
import gc
import weakref

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import compile_key


class _Cfg:
    def __init__(self, scale):
        self.scale = ag.Tensor(np.full(1000, scale))


def _scaled(x, cfg):
    return (x * cfg.scale).sum()


def _collected(refs):
    gc.collect()
    return [r() is None for r in refs]


# --- finding 2: what is passed in is freed with the traces that hold it -------------------------
def test_static_argument_objects_are_freed_on_eviction_and_with_the_compiled_function():
    step, x = ag.compile(_scaled, max_traces=2), np.ones(1000)
    refs = []
    for i in range(4):
        cfg = _Cfg(float(i))
        assert float(step(x, cfg)) == float(step.fn(ag.Tensor(x), cfg)) == 1000.0 * i
        refs.append(weakref.ref(cfg))
        del cfg
    assert _collected(refs) == [True, True, False, False]  # the two evicted traces held the first two
    del step
    assert _collected(refs) == [True] * 4


def test_an_object_argument_is_reached_once_while_its_trace_lives(monkeypatch):
    found = []
    real = compile_key.reachable

    def counting(fn, methods=False):
        found.append(methods)
        return real(fn, methods)
    monkeypatch.setattr(compile_key, "reachable", counting)
    step, x, cfg = ag.compile(_scaled), np.ones(1000), _Cfg(2.0)
    step(x, cfg)
    found.clear()
    for _ in range(3):
        assert float(step(x, cfg)) == 2000.0
    assert found == [] and step.replays == 3  # (replays: no object's methods followed anew)


def test_a_compiled_methods_object_is_freed():
    class Model:
        def __init__(self):
            self.W = ag.Tensor(np.ones(3), requires_grad=True)

        def cost(self, x):
            return (self.W * x).sum()
    m, n = Model(), Model()
    refs = [weakref.ref(m), weakref.ref(n)]
    step = ag.compile(Model.cost)
    assert float(step(m, np.ones(3))) == 3.0
    probe = ag.compile(lambda x, method: method(x))  # a bound method passed as an argument
    assert float(probe(np.full(3, 2.0), n.cost)) == float(n.cost(ag.Tensor(np.full(3, 2.0)))) == 6.0
    del m, n, step, probe
    assert _collected(refs) == [True, True]


def test_a_function_passed_as_an_argument_is_freed():
    def scaler(k):
        return lambda t: t * k
    step, x, refs = ag.compile(lambda x, act: act(x).sum(), max_traces=1), np.ones(3), []
    for k in (2.0, 3.0):
        act = scaler(k)
        assert float(step(x, act)) == float(step.fn(ag.Tensor(x), act)) == 3.0 * k
        refs.append(weakref.ref(act))
        del act
    assert _collected(refs) == [True, False]
    del step
    assert _collected(refs) == [True, True]


def test_an_object_is_freed_when_the_latest_trace_is_evicted_by_an_eager_call():
    step, x = ag.compile(_scaled, max_traces=1), np.ones(1000)
    cfg = _Cfg(2.0)
    ref = weakref.ref(cfg)
    assert float(step(x, cfg)) == 2000.0
    with pytest.warns(RuntimeWarning, match="integer or boolean array"):  # (runs eagerly, evicts the trace)
        assert float(step(np.ones(1000, dtype=np.int64), _Cfg(1.0))) == 1000.0
    del cfg
    assert _collected([ref]) == [True]
    assert "mul" in step.source  # (the latest trace's listing stays)


# --- finding 4: an op's error in a replay, which the function may catch -----------------------
@ag.primitive
def _safe_log(x):
    if (x <= 0).any():
        raise ag.DomainError("safe_log: non-positive input")
    return np.log(x)


_safe_log.defvjp(lambda g, out, x: g / x)


def _log_or_fallback(x):
    try:
        return _safe_log(x).sum()
    except ag.DomainError:
        return (x * 0).sum() - 1.0


def _bce_or_fallback(a, y):
    try:
        return ag.binary_cross_entropy(a, y)
    except ag.DomainError:
        return (a * 0).sum() - 1.0


@pytest.mark.parametrize("fn, good, bad", [
    (_log_or_fallback, (np.array([1.0, np.e]),), (np.array([-1.0, 2.0]),)),
    (_bce_or_fallback, (np.array([[0.3, 0.6]]), np.array([[1.0, 0.0]])),
     (np.array([[0.3, 0.6]]), np.array([[2.0, 0.0]]))),
])
def test_a_replay_takes_the_functions_except_path(fn, good, bad):
    step = ag.compile(fn)
    for args in (good, bad, good, bad):
        mine, eager = ag.Tensor(args[0], requires_grad=True), ag.Tensor(args[0], requires_grad=True)
        got, want = step(mine, *args[1:]), step.fn(eager, *args[1:])
        assert float(got) == float(want) and (args is good or float(want) == -1.0)  # (by hand: the fallback)
        got.backward()
        want.backward()
        np.testing.assert_array_equal(mine.grad, eager.grad)
    assert step.recordings == 1 and step.replays == 1  # the good trace stays, replayed for a good input


def test_the_gradient_after_an_eager_fallback_is_eagers():
    step = ag.compile(_log_or_fallback)
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    step(x).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.5])  # d/dx sum(log x) = 1 / x
    bad = ag.Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    step(bad).backward()
    np.testing.assert_array_equal(bad.grad, [0.0, 0.0])  # the fallback (x * 0).sum() - 1
    assert step.recordings == 1 and step.replays == 0


def test_an_uncaught_op_error_in_a_replay_is_eagers():
    def f(a, y):
        return ag.binary_cross_entropy(a, y)
    step, a = ag.compile(f), np.array([[0.3, 0.6]])
    step(a, np.array([[1.0, 0.0]]))
    with pytest.raises(ag.DomainError) as eager:
        step.fn(ag.Tensor(a), np.array([[2.0, 0.0]]))
    with pytest.raises(ag.DomainError) as compiled:
        step(a, np.array([[2.0, 0.0]]))
    assert str(compiled.value) == str(eager.value)
    assert str(eager.value) == "binary_cross_entropy: labels must be 0 or 1, found [2.0]"
    assert float(step(a, np.array([[0.0, 1.0]]))) == float(f(ag.Tensor(a), np.array([[0.0, 1.0]])))
    assert step.recordings == 1 and step.replays == 1


def test_a_dropout_drawn_before_the_failing_op_is_drawn_again_as_eager_code_would():
    def f(x, shift, rng):
        d = ag.dropout(x, 0.5, rng=rng)
        try:
            return _safe_log(d + shift).sum()
        except ag.DomainError:
            return (d * np.arange(20.0)).sum()  # (depends on the mask)
    step, x = ag.compile(f), np.ones(20)
    rng = np.random.default_rng(5)
    step(x, np.ones(20), rng)  # traced: d + 1 > 0
    state = rng.bit_generator.state
    got = float(step(x, np.full(20, -10.0), rng))  # the replay draws a mask, then safe_log refuses
    twin = np.random.default_rng()
    twin.bit_generator.state = state
    want = float(step.fn(ag.Tensor(x), ag.Tensor(np.full(20, -10.0)), twin))
    assert got == want
    assert rng.bit_generator.state == twin.bit_generator.state  # one mask drawn, not two
    assert step.recordings == 1


def test_a_keyboard_interrupt_in_a_replay_is_not_run_again():
    @ag.primitive
    def interrupted(x):
        if x[0] == 99.0:
            raise KeyboardInterrupt
        return x * 2.0
    interrupted.defvjp(lambda g, out, x: g * 2.0)

    def f(x):
        try:
            return interrupted(x).sum()
        except KeyboardInterrupt:  # (eager code would take this path; a replay run again eagerly would too)
            return (x * 0).sum()
    step = ag.compile(f)
    assert float(step(np.ones(2))) == 4.0
    with pytest.raises(KeyboardInterrupt):
        step(np.array([99.0, 1.0]))
    assert step.recordings == 1 and float(step(np.ones(2))) == 4.0 and step.replays == 1
