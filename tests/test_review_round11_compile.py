"""Review round 11 (adversarial round 18): ag.compile is exact or refuses loudly when the
function uses tensors another thread computed during the trace, switches anomaly mode on
inside, changes this thread's modes for after it returns, or branches on an argument's
``.name`` / ``.is_leaf``. Every value is checked against the function run eagerly."""
import copy
import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import modes

RNG = np.random.default_rng(18)
INPUTS = [RNG.normal(size=3) for _ in range(4)]
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # (W / 0, eager and compiled)


@pytest.fixture(autouse=True)
def _modes_back():
    yield
    ag.set_grad_enabled(True)
    modes.current().anomaly, modes.current().scope = False, ()


def _value_and_grad(fn, W, x):
    """fn(x)'s value and W.grad after its backward (W.grad reset first)."""
    W.grad = None
    out = fn(x)
    out.backward()
    return float(out), W.grad.copy()


def _same_as_eager(step, cost, W, xs):
    for X in xs:
        got, got_grad = _value_and_grad(step, W, X)
        want, want_grad = _value_and_grad(cost, W, ag.Tensor(X))
        assert got == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(got_grad, want_grad, atol=1e-12)


# --- finding 1: tensors another thread computes while this one traces --------------------------------
def test_a_pools_op_on_an_input_runs_eagerly_with_a_warning():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    with ThreadPoolExecutor(1) as pool:
        def cost(x):
            h = pool.submit(lambda: ag.tanh(W * x)).result()  # (a graph the tracer never saw)
            return ag.sum(h * W)
        step = ag.compile(cost)
        with pytest.warns(RuntimeWarning, match="computed in another thread"):
            step(INPUTS[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (refused once, then eager without another warning)
            _same_as_eager(step, cost, W, INPUTS)


def test_a_threads_tensor_without_a_graph_made_from_an_input_is_not_frozen():
    W = ag.Tensor(np.array([0.5, 1.5, -1.0]), requires_grad=True)

    def worker(x, box):
        with ag.no_grad():
            h = ag.tanh(x)  # no graph: a leaf to the tracer, yet it depends on x
        box.append((h, ag.Tensor(x.data * 2.0)))  # (the second read from the input's data in that thread)

    def cost(x):
        box = []
        thread = threading.Thread(target=worker, args=(x, box))
        thread.start()
        thread.join()
        h, c = box.pop()  # (nothing else holds them: only the other thread tells them from constants)
        return ag.sum(W * h + W * c)

    step = ag.compile(cost)
    with pytest.warns(RuntimeWarning, match="computed in another thread"):
        step(INPUTS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same_as_eager(step, cost, W, INPUTS)


def test_a_threads_tensor_returned_as_it_is_is_refused():
    with ThreadPoolExecutor(1) as pool:
        def f(x):
            return pool.submit(lambda: ag.sum(x * 3.0)).result()
        step = ag.compile(f)
        with pytest.warns(RuntimeWarning, match="computed in another thread"):
            step(INPUTS[0])
        for X in INPUTS:
            assert float(step(X)) == pytest.approx(3.0 * X.sum(), abs=1e-12)


@pytest.mark.parametrize("read", ["data", "float"])
def test_a_threads_tensor_read_out_of_the_graph_is_refused(read):
    with ThreadPoolExecutor(1) as pool:
        def f(x):
            h = pool.submit(lambda: ag.tanh(x)).result()  # (used by no op: only read here)
            return ag.sum(x * h.data) if read == "data" else ag.sum(x) * float(h[0])
        step = ag.compile(f)
        with pytest.warns(RuntimeWarning, match="computed in another thread"):
            step(INPUTS[0])
        for X in INPUTS:
            assert float(step(X)) == float(f(ag.Tensor(X)))


def test_own_constants_and_scopes_still_replay_while_another_thread_makes_tensors():
    W = ag.Tensor(np.array([1.0, 2.0, -0.5]), requires_grad=True)
    tracing, made = threading.Event(), threading.Event()
    unrelated = []

    def other():  # makes tensors of its own while the first call is traced, used by nobody
        tracing.wait(10)
        unrelated.append(ag.tanh(ag.Tensor([1.0, 2.0], requires_grad=True) * 2.0))
        made.set()

    def cost(x):
        tracing.set()
        made.wait(10)
        with ag.scope("layer"):
            h = W * x + ag.Tensor([1.0, 2.0, 3.0]) * 0.5  # (constants made in this thread)
        return ag.sum(h * h)

    step = ag.compile(cost)
    thread = threading.Thread(target=other)
    thread.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            _same_as_eager(step, cost, W, INPUTS[:1])
        finally:
            thread.join()
        _same_as_eager(step, cost, W, INPUTS)
    assert (step.recordings, step.replays) == (1, len(INPUTS))


def test_the_thread_scope_is_back_as_it_was_and_tensors_made_while_traced_copy_plainly():
    kept = []

    def f(x):
        with ag.scope("inner"):
            y = x * 2.0
        kept.append(ag.Tensor([1.0]))
        return ag.sum(y)

    with ag.scope("outer"):
        outer = modes.current().scope
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (f keeps a tensor: runs eagerly)
            ag.compile(f)(INPUTS[0])
        assert modes.current().scope is outer
    assert kept[0]._scope == ("outer",)
    scope = kept[0]._scope  # (equal to the names; copied or pickled with a tensor: a plain tuple)
    for copied in (copy.deepcopy(scope), copy.copy(scope), pickle.loads(pickle.dumps(scope))):
        assert type(copied) is tuple and copied == ("outer",)
    for copied in (copy.deepcopy(kept[0]), pickle.loads(pickle.dumps(kept[0]))):
        assert type(copied._scope) is tuple


# --- finding 2: anomaly mode switched on inside ----------------------------------------------------
def _anomaly_inside(W):
    def as_block(x):
        with ag.detect_anomaly():
            return ag.sum(W / x)

    @ag.detect_anomaly()
    def as_decorator(x):
        return ag.sum(W / x)
    return [as_block, as_decorator]



@pytest.mark.parametrize("which", [0, 1])
def test_anomaly_mode_inside_runs_eagerly_and_raises_as_eager(which):
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    cost = _anomaly_inside(W)[which]
    step = ag.compile(cost)
    with pytest.warns(RuntimeWarning, match="anomaly mode"):
        step(np.array([1.0, 2.0, 3.0]))
    X = np.array([1.0, 0.0, 3.0])
    with pytest.raises(ag.AnomalyError):
        cost(ag.Tensor(X))
    for _ in range(2):
        with pytest.raises(ag.AnomalyError):
            step(X)
    _same_as_eager(step, cost, W, [np.array([1.0, 2.0, 3.0]), np.array([-4.0, 0.5, 2.0])])
    assert not ag.is_anomaly_enabled()


# --- finding 3: a mode change that outlives the call ----------------------------------------------
def test_set_grad_enabled_called_inside_leaves_the_mode_as_eager():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)

    def evaluate(x):
        ag.set_grad_enabled(False)
        return ag.sum(W * x)

    step = ag.compile(evaluate)
    for i, X in enumerate(INPUTS):
        ag.set_grad_enabled(True)
        want = evaluate(ag.Tensor(X))
        want_mode = ag.is_grad_enabled()
        ag.set_grad_enabled(True)
        if i == 0:
            with pytest.warns(RuntimeWarning, match="grad mode for after it returns"):
                got = step(X)
        else:
            got = step(X)
        assert (ag.is_grad_enabled(), float(got), got.requires_grad) == (want_mode, float(want), False)
        assert want_mode is False


@pytest.mark.parametrize("inside", ["set_grad_enabled", "no_grad", "off_then_on"])
def test_a_mode_put_back_inside_still_replays(inside):
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)

    def cost(x):
        if inside == "off_then_on":
            ag.set_grad_enabled(False)
            frozen = W * 3.0  # (detached, as eager)
            ag.set_grad_enabled(True)
        else:
            with ag.set_grad_enabled(False) if inside == "set_grad_enabled" else ag.no_grad():
                frozen = W * 3.0
        return ag.sum(W * x * frozen)

    step = ag.compile(cost)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same_as_eager(step, cost, W, INPUTS)
    assert (step.recordings, step.replays, ag.is_grad_enabled()) == (1, len(INPUTS) - 1, True)


def test_anomaly_or_a_scope_entered_and_not_exited_is_refused_and_left_as_eager():
    def anomaly_on(x):
        ag.detect_anomaly().__enter__()
        return ag.sum(x * 2.0)

    def scope_open(x):
        ag.scope("left open").__enter__()
        return ag.sum(x * 2.0)

    for fn, mode in [(anomaly_on, "anomaly mode"), (scope_open, "ag.scope")]:
        step = ag.compile(fn)
        for i, X in enumerate(INPUTS[:3]):
            modes.current().anomaly, modes.current().scope = False, ()
            want = float(fn(ag.Tensor(X)))
            state = (modes.current().anomaly, modes.current().scope)
            modes.current().anomaly, modes.current().scope = False, ()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = float(step(X))
            assert [mode in str(w.message) for w in caught] == ([True] if i == 0 else [])
            assert (got, modes.current().anomaly, modes.current().scope) == (want, *state)
            assert type(modes.current().scope) is tuple


# --- finding 4: an argument's name and leafness key the trace ---------------------------------------
def test_an_arguments_name_and_leafness_key_the_trace():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)

    def by_name(x):
        return ag.sum(W * x) * (0.5 if x.name == "test" else 1.0)

    def by_leaf(x):
        return ag.sum(W * x) * (1.0 if x.is_leaf else 2.0)

    step = ag.compile(by_name)
    calls = [ag.Tensor(X, name=n) for X in INPUTS[:2] for n in ("train", "test", None)]
    assert [float(step(a)) for a in calls] == [float(by_name(a)) for a in calls]
    assert (step.recordings, step.replays) == (3, 3)

    step = ag.compile(by_leaf)
    V = ag.Tensor(np.ones(3), requires_grad=True)
    calls = [t for X in INPUTS[:2] for t in (V * X, ag.Tensor(X, requires_grad=True))]
    assert [float(step(a)) for a in calls] == [float(by_leaf(a)) for a in calls]
    assert (step.recordings, step.replays) == (2, 2)


def test_a_primitive_returning_ints_replays_with_eagers_float_dtype():
    """A straight-through step (forward (x > 0) as int64, VJP g) gives a float32 output in eager
    code; the replay makes the same of it (it was retraced on every call: dtype int64 != float32)."""
    @ag.primitive
    def positive(x):
        return (x > 0).astype(np.int64)
    positive.defvjp(lambda g, out, x: g)
    W = ag.Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    cost = lambda x: ag.sum(positive(W * x) * 0.5)
    step = ag.compile(cost)
    for k in range(1, 4):
        x = np.array([1.0, 2.0, -1.0], np.float32) * k
        W.grad = None
        J = step(x)
        J.backward()
        # by hand: W * x = [k, -2k, -3k] -> positive [1, 0, 0] -> cost 0.5; d/dW = 0.5 * x
        assert J.dtype == np.float32 and J.item() == 0.5
        assert W.grad.dtype == np.float32
        np.testing.assert_array_equal(W.grad, 0.5 * x)
    assert (step.recordings, step.replays) == (1, 2)


def test_a_primitive_without_inputs_returning_an_int_replays_as_float64():
    """No inputs: the forward's int becomes float64, as ag.Tensor(3) does."""
    three = ag.primitive(lambda: 3)
    W = ag.Tensor([1.0, 2.0], requires_grad=True)
    step = ag.compile(lambda: ag.sum(W * three()))
    for _ in range(3):
        J = step()
        assert J.dtype == np.float64 and J.item() == 9.0
    assert (step.recordings, step.replays) == (1, 2)
