"""Issue 11, "state per thread": forced interleavings (``threading.Event``s and queues,
never sleeps) showing that one thread's ``no_grad``, ``backward``, ``grad`` or compile
tracing never changes what another thread records. Every thread is joined with a timeout
and its exception re-raised in the main thread.
"""
import contextlib
import queue
import threading

import numpy as np
import pytest

import autograd_lite as ag

TIMEOUT = 20.0


class Worker:
    """A thread that runs the callables it is given, one at a time, in its own thread:
    the test decides the interleaving step by step. ``run`` waits for the step and
    re-raises its exception here; ``start`` hands over a step without waiting."""

    def __init__(self, name):
        self.stack = contextlib.ExitStack()  # context managers entered in the worker thread
        self._todo, self._done = queue.Queue(), queue.Queue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            fn = self._todo.get()
            if fn is None:
                return
            try:
                self._done.put((True, fn()))
            except BaseException as error:  # handed to the main thread
                self._done.put((False, error))

    def start(self, fn):
        self._todo.put(fn)

    def result(self):
        ok, value = self._done.get(timeout=TIMEOUT)
        if not ok:
            raise value
        return value

    def run(self, fn):
        self.start(fn)
        return self.result()

    def enter(self, cm):
        return self.run(lambda: self.stack.enter_context(cm))

    def close(self):
        self._todo.put(None)
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), f"{self.thread.name} did not finish"


@contextlib.contextmanager
def workers(*names):
    made = [Worker(n) for n in names]
    try:
        yield made
    finally:
        for w in made:
            w.close()


def run_threads(targets):
    """Run each target in its own thread; join with a timeout; re-raise the first error."""
    errors, results = [None] * len(targets), [None] * len(targets)

    def wrap(i, target):
        def body():
            try:
                results[i] = target()
            except BaseException as error:
                errors[i] = error
        return body

    threads = [threading.Thread(target=wrap(i, t), daemon=True) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish (deadlock?)"
    for error in errors:
        if error is not None:
            raise error
    return results


def wait(event):
    assert event.wait(TIMEOUT), "timed out waiting for the other thread"


def recorded_here():
    """Ops in this thread are recorded: the gradient reaches W (d sum(2 W) / dW = 2)."""
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    y = (W * 2).sum()
    assert y.requires_grad
    y.backward()
    np.testing.assert_array_equal(W.grad, np.full((2, 3), 2.0))
    return True


# --- another thread inside no_grad / backward ------------------------------------------
def test_other_thread_inside_no_grad_does_not_stop_recording():
    with workers("evaluator") as (other,):
        other.enter(ag.no_grad())
        assert other.run(ag.is_grad_enabled) is False
        assert ag.is_grad_enabled()
        assert recorded_here()
        assert run_threads([recorded_here])[0]   # a third, fresh thread records too
        other.run(other.stack.close)
        assert other.run(ag.is_grad_enabled) is True
        assert ag.is_grad_enabled()


def test_two_threads_no_grad_overlapping_leave_recording_on_everywhere():
    with workers("a", "b") as (a, b):
        a.enter(ag.no_grad())
        b.enter(ag.no_grad())
        a.run(a.stack.close)   # a leaves first, while b is still inside
        assert a.run(ag.is_grad_enabled) is True
        assert a.run(recorded_here)
        assert b.run(ag.is_grad_enabled) is False
        b.run(b.stack.close)
        assert b.run(recorded_here)
        assert recorded_here()


def test_other_thread_held_inside_backward_does_not_stop_recording():
    entered, release = threading.Event(), threading.Event()

    @ag.primitive(name="held")
    def held(x):
        return x * 1.0

    def held_vjp(g, out, x):
        entered.set()
        wait(release)
        return g * 5.0
    held.defvjp(held_vjp)

    V = ag.Tensor(np.ones(3), requires_grad=True)
    with workers("backward") as (other,):
        other.start(lambda: held(V).sum().backward())
        wait(entered)                       # the other thread is inside backward (no_grad there)
        try:
            assert ag.is_grad_enabled()
            assert recorded_here()
        finally:
            release.set()
        other.result()
    np.testing.assert_array_equal(V.grad, np.full(3, 5.0))


# --- overlapping context managers ------------------------------------------------------
STATES = {
    "no_grad": (ag.no_grad, lambda: ag.is_grad_enabled() is False),
    "detect_anomaly": (ag.detect_anomaly, ag.is_anomaly_enabled),
    "scope": (lambda: ag.scope("layer"), lambda: ag.Tensor(1.0)._scope == ("layer",)),
}


def _snapshot():
    return ag.is_grad_enabled(), ag.is_anomaly_enabled(), ag.Tensor(1.0)._scope


@pytest.mark.parametrize("first_exit", ["a", "b"])
@pytest.mark.parametrize("kind_b", list(STATES))
@pytest.mark.parametrize("kind_a", list(STATES))
def test_overlapping_context_managers_restore_own_state(kind_a, kind_b, first_exit):
    with workers("a", "b") as (a, b):
        outer = {"a": a.run(_snapshot), "b": b.run(_snapshot)}
        assert outer["a"] == outer["b"] == (True, False, ())
        a.enter(STATES[kind_a][0]())
        b.enter(STATES[kind_b][0]())
        b.enter(ag.scope("inner_b"))           # b nests one more
        assert a.run(STATES[kind_a][1]) and b.run(lambda: ag.Tensor(1.0)._scope[-1] == "inner_b")
        assert _snapshot() == (True, False, ())  # the main thread never changed
        order = [(a, "a"), (b, "b")] if first_exit == "a" else [(b, "b"), (a, "a")]
        for worker, name in order:
            worker.run(worker.stack.close)
            assert worker.run(_snapshot) == outer[name]
        assert a.run(_snapshot) == b.run(_snapshot) == _snapshot() == (True, False, ())


def test_anomaly_in_other_thread_does_not_raise_here():
    with workers("anomalous") as (other,):
        other.enter(ag.detect_anomaly())
        x = ag.Tensor([0.0, 1.0], requires_grad=True)
        with np.errstate(divide="ignore"):
            y = ag.log(x)  # -inf: fine outside anomaly mode
        assert np.isneginf(y.data[0])
        with pytest.raises(ag.AnomalyError):
            other.run(lambda: _log_quietly(ag.Tensor([0.0], requires_grad=True)))
        other.run(other.stack.close)


def _log_quietly(x):
    with np.errstate(divide="ignore"):
        return ag.log(x)


# --- ag.grad nesting --------------------------------------------------------------------
def test_grad_nesting_in_one_thread_does_not_change_another():
    entered, release = threading.Event(), threading.Event()

    def cube_held(x):
        entered.set()
        wait(release)      # this thread sits inside grad(grad(...)): its grad depth is 2
        return (x * x * x).sum()

    second = ag.grad(lambda x: ag.grad(cube_held)(x).sum())
    x0 = np.array([1.0, 2.0])
    with workers("nested") as (other,):
        other.start(lambda: second(x0))
        wait(entered)
        try:
            g = ag.grad(lambda x: (x * x * x).sum())(np.array([3.0, -1.0]))
            assert type(g) is np.ndarray         # top level: an array, not a Tensor of a nested call
            np.testing.assert_array_equal(g, np.array([27.0, 3.0]))
            value, g2 = ag.value_and_grad(lambda x: ag.square(x).sum())(np.array([2.0]))
            assert value == 4.0 and type(value) is float
            np.testing.assert_array_equal(g2, [4.0])
            assert recorded_here()
        finally:
            release.set()
        np.testing.assert_array_equal(other.result(), 6 * x0)  # d2/dx2 sum x^3 = 6x


# --- training separate models at once ----------------------------------------------------
def _train(seed, barrier=None, steps=50):
    """A 2-layer net (tanh, sigmoid, cross-entropy) trained by GradientDescent; returns
    the final parameters, the costs and an evaluation made under no_grad at each step."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, 20))
    Y = (rng.random((1, 20)) < 0.5).astype(float)
    params = {"W1": ag.Tensor(rng.normal(size=(4, 3)) * 0.5, requires_grad=True),
              "b1": ag.Tensor(np.zeros((4, 1)), requires_grad=True),
              "W2": ag.Tensor(rng.normal(size=(1, 4)) * 0.5, requires_grad=True),
              "b2": ag.Tensor(np.zeros((1, 1)), requires_grad=True)}
    opt = ag.optim.GradientDescent(params, lr=0.5)

    def forward():
        A1 = ag.tanh(ag.linear(params["W1"], X, params["b1"]))
        return ag.sigmoid(params["W2"] @ A1 + params["b2"])

    costs, evals = [], []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait(TIMEOUT)  # every thread is at the same step: maximal overlap
        opt.zero_grad()
        cost = ag.binary_cross_entropy(forward(), Y)
        cost.backward()
        opt.step()
        costs.append(cost.item())
        with ag.no_grad():
            evals.append(forward().data.copy())
    return {k: p.data.copy() for k, p in params.items()}, costs, evals


def test_threads_training_separate_models_match_sequential_bit_for_bit():
    seeds = [0, 1, 2, 3]
    sequential = [_train(s) for s in seeds]
    barrier = threading.Barrier(len(seeds))
    parallel = run_threads([lambda s=s: _train(s, barrier) for s in seeds])
    for (p_seq, c_seq, e_seq), (p_par, c_par, e_par) in zip(sequential, parallel):
        assert c_seq == c_par
        for k in p_seq:
            np.testing.assert_array_equal(p_seq[k], p_par[k])
        for a, b in zip(e_seq, e_par):
            np.testing.assert_array_equal(a, b)
    assert sequential[0][1][-1] < sequential[0][1][0]  # it did train


# --- one compiled function, several threads ----------------------------------------------
def _cost(W, x):
    h = ag.tanh(W @ x)
    return (h * h).sum() + ag.relu(x).mean()


def _eager(W0, x0):
    W = ag.Tensor(W0, requires_grad=True)
    x = ag.Tensor(x0, requires_grad=True)
    out = _cost(W, x)
    out.backward()
    return out.item(), W.grad, x.grad


def _compiled_call(step, W0, x0):
    W = ag.Tensor(W0, requires_grad=True)
    x = ag.Tensor(x0, requires_grad=True)
    out = step(W, x)
    out.backward()
    return out.item(), W.grad, x.grad


def _assert_same(a, b):
    assert a[0] == pytest.approx(b[0], rel=1e-12, abs=1e-12)
    for u, v in zip(a[1:], b[1:]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_compiled_function_from_several_threads_gives_eager_results():
    step = ag.compile(_cost)
    rng = np.random.default_rng(5)
    W0 = rng.normal(size=(3, 4))
    n_threads, calls = 4, 15
    inputs = [[rng.normal(size=(4, 2)) for _ in range(calls)] for _ in range(n_threads)]
    expected = [[_eager(W0, x0) for x0 in per] for per in inputs]
    _compiled_call(step, W0, inputs[0][0])  # traced once here: the threads replay
    barrier = threading.Barrier(n_threads)

    def body(i):
        got = []
        for x0 in inputs[i]:
            barrier.wait(TIMEOUT)
            got.append(_compiled_call(step, W0, x0))
        return got

    results = run_threads([lambda i=i: body(i) for i in range(n_threads)])
    for got_thread, want_thread in zip(results, expected):
        for got, want in zip(got_thread, want_thread):
            _assert_same(got, want)


def test_compiled_function_one_thread_tracing_while_another_replays():
    entered, release = threading.Event(), threading.Event()

    def cost(W, x):
        h = ag.tanh(W @ x)
        if x.shape[1] == 5:          # only the (4, 5) trace is held open, in the middle
            entered.set()
            wait(release)
        return (h * h).sum() + ag.relu(x).mean()

    step = ag.compile(cost)
    rng = np.random.default_rng(7)
    W0 = rng.normal(size=(3, 4))
    x_small = [rng.normal(size=(4, 2)) for _ in range(6)]
    x_held = rng.normal(size=(4, 5))
    _compiled_call(step, W0, x_small[0])    # trace for (4, 2)
    with workers("tracer") as (other,):
        other.start(lambda: _compiled_call(step, W0, x_held))
        wait(entered)                          # the other thread is tracing (its tracer is set)
        try:
            for x0 in x_small[1:]:
                _assert_same(_compiled_call(step, W0, x0), _eager(W0, x0))
            assert recorded_here()              # eager ops here are not traced into the other's trace
        finally:
            release.set()
        held = other.result()
    _assert_same(held, _eager(W0, x_held))
    for x0 in (x_held * 2, x_small[0] * 3):    # both traces replay correctly afterwards
        _assert_same(_compiled_call(step, W0, x0), _eager(W0, x0))


def test_compiled_function_traced_concurrently_in_two_threads():
    entered = [threading.Event(), threading.Event()]
    release = threading.Event()

    def cost(x):
        entered[int(x.shape[0] == 3)].set()
        wait(release)
        return ag.square(x * (x > 0)).sum()

    step = ag.compile(cost)
    x2, x3 = np.array([1.0, -2.0]), np.array([-1.0, 2.0, 3.0])

    def call(x0):
        x = ag.Tensor(x0, requires_grad=True)
        out = step(x)
        out.backward()
        return out.item(), x.grad

    with workers("t2", "t3") as (a, b):
        a.start(lambda: call(x2))
        b.start(lambda: call(x3))
        wait(entered[0])
        wait(entered[1])   # both threads trace at once
        release.set()
        v2, g2 = a.result()
        v3, g3 = b.result()
    assert v2 == 1.0 and v3 == 13.0
    np.testing.assert_array_equal(g2, [2.0, 0.0])
    np.testing.assert_array_equal(g3, [0.0, 4.0, 6.0])
