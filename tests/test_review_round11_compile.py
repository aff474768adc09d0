"""Review round 11 (adversarial round 18): ag.compile is exact or refuses loudly when the
function uses tensors another thread computed during the trace, switches anomaly mode on
inside, changes this thread's modes for after it returns, or branches on an argument's
``.name`` / ``.is_leaf``. Every value is checked against the function run eagerly."""
import copy
import pickle
import sys
import threading
import types
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import modes
from autograd_lite.replay import CompiledFunction
from autograd_lite.tracer import as_input

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


# --- adversarial round 25: classmethods, class namespaces, attribute names, methods, views ----------
_R25_X = [np.array([0.1, 0.2, 0.3]) * k for k in (1.0, -2.0, 3.0)]


def _r25_w():
    return ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)


def _r25_same(step, eager, *rest):
    """Compiled and eager agree, value and gradient, over inputs that change from call to call."""
    for x in _R25_X:
        got, want = step(x, *rest), eager(ag.Tensor(x), *rest)
        assert got.item() == want.item()


def test_r25_a_classmethods_cls_attribute_keys_the_trace():
    """cls.k in a classmethod (compiled itself, through a helper, via self.factor()) keys the trace,
    a subclass's own value and a replaced classmethod too."""
    W = _r25_w()

    class K:
        k = 2.0

        @classmethod
        def g(cls, x):
            return ag.sum(W * x) * cls.k

    class Sub(K):
        pass

    class Net:
        scale = 2.0

        @classmethod
        def factor(cls):
            return cls.scale

        def cost(self, x):
            return ag.sum(W * x) * self.factor()

    helper = lambda x: K.g(x)
    net = Net()
    cases = [(ag.compile(K.g), K.g, lambda: setattr(K, "k", 5.0)),
             (ag.compile(helper), helper, lambda: setattr(K, "k", 7.0)),
             (ag.compile(Sub.g), Sub.g, lambda: setattr(Sub, "k", 3.0)),
             (ag.compile(net.cost), net.cost, lambda: setattr(Net, "scale", 5.0)),
             (ag.compile(net.cost), net.cost, lambda: setattr(Net, "factor", classmethod(lambda cls: -1.0)))]
    for step, eager, change in cases:
        _r25_same(step, eager)
        change()
        _r25_same(step, eager)


def test_r25_b_code_of_a_class_used_as_a_value_is_keyed_and_followed():
    """getattr(Acts, name)(z): a global the static method reads, the method replaced, a classmethod's
    cls.alpha, and a module-level function found through globals() all key the trace."""
    W = _r25_w()
    cfg = {"alpha": 0.1}

    class Acts:
        alpha = 0.2

        @staticmethod
        def leaky(z):
            return ag.leaky_relu(z, cfg["alpha"])

        @classmethod
        def scaled(cls, z):
            return ag.leaky_relu(z, cls.alpha)

    def cost(x, name):
        return ag.sum(getattr(Acts, name)(W * x))

    step = ag.compile(cost)
    for change in (lambda: cfg.update(alpha=0.5), lambda: setattr(Acts, "leaky", staticmethod(ag.tanh)),
                   lambda: setattr(Acts, "alpha", 0.7)):
        for name in ("leaky", "scaled"):
            _r25_same(step, cost, name)
        change()
    for name in ("leaky", "scaled"):
        _r25_same(step, cost, name)


def _r25_activation(z):
    return z * 2.0


def test_r25_b_a_function_found_through_globals_replaced_retraces():
    W = _r25_w()

    def cost(x, name):
        return ag.sum(globals()[name](W * x))

    step = ag.compile(cost)
    _r25_same(step, cost, "_r25_activation")
    saved = globals()["_r25_activation"]
    try:
        globals()["_r25_activation"] = lambda z: z * 3.0
        _r25_same(step, cost, "_r25_activation")
    finally:
        globals()["_r25_activation"] = saved


class _R25Slots:
    __slots__ = ("scale", "shift")


def test_r25_c_attribute_names_key_the_trace():
    """Removing one attribute and setting another to the same value traces anew: a SimpleNamespace,
    a plain object, a __slots__ object (argument), a global read with getattr, self in a method."""
    W = _r25_w()

    def cost(x, opts):
        return ag.sum(W * x) * getattr(opts, "scale", 1.0) + getattr(opts, "shift", 0.0)

    for opts in (types.SimpleNamespace(), type("Opts", (), {})(), _R25Slots()):
        step = ag.compile(cost)
        opts.scale = 3.0
        _r25_same(step, cost, opts)
        del opts.scale
        opts.shift = 3.0
        _r25_same(step, cost, opts)
    G = types.SimpleNamespace(scale=3.0)
    read = lambda x: ag.sum(W * x) * getattr(G, "scale", 1.0) + getattr(G, "shift", 0.0)
    step = ag.compile(read)
    _r25_same(step, read)
    del G.scale
    G.shift = 3.0
    _r25_same(step, read)

    class Net:
        lam = None

        def cost(self, x):
            return ag.sum(W * x) * (getattr(self, "lam") or 1.0) + getattr(self, "mu", 0.0)

    net = Net()
    net.lam = 3.0
    step = ag.compile(net.cost)
    _r25_same(step, net.cost)
    del net.lam
    net.mu = 3.0
    _r25_same(step, net.cost)


def test_r25_d_compile_as_a_method_decorator_binds_self():
    """@ag.compile in a class body: obj.cost(x) is Model.cost(obj, x); each object its own eager
    result and gradient, replayed; Model.cost is the compiled function; ag.compile(obj.cost) works."""
    class Model:
        def __init__(self, s):
            self.W = ag.Tensor(np.array([1.0, -2.0, 3.0]) * s, requires_grad=True)

        @ag.compile
        def cost(self, x):
            return ag.sum(self.W * self.W * x)

    a, b = Model(1.0), Model(2.0)
    assert isinstance(Model.cost, CompiledFunction)
    for x in _R25_X * 2:
        for m in (a, b):
            m.W.grad = None
            J = m.cost(x)
            J.backward()
            got = (J.item(), m.W.grad.copy())
            m.W.grad = None
            E = Model.cost.fn(m, ag.Tensor(x))
            E.backward()
            assert got[0] == E.item()
            np.testing.assert_array_equal(got[1], m.W.grad)
    assert Model.cost.recordings == 2 and Model.cost.replays > 0
    a.W = ag.Tensor(np.array([5.0, 0.0, 0.0]), requires_grad=True)  # replaced on the object: its key changes
    outer = ag.compile(a.cost)
    _r25_same(outer, lambda x: Model.cost.fn(a, x))
    a.W = ag.Tensor(np.array([0.0, 7.0, 0.0]), requires_grad=True)
    _r25_same(outer, lambda x: Model.cost.fn(a, x))


def test_r25_e_a_view_of_an_argument_is_a_view_on_every_call():
    """x.T, x.reshape, W.T (captured): the result shares the source's memory on every call as eager's
    does; a fresh result (or one made of a constant of the trace) shares nothing between calls."""
    W = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    for fn, source in ((lambda x: x.T, None), (lambda x: x.reshape(3, 2), None), (lambda x: W.T, W)):
        step = ag.compile(fn)
        for k in range(3):
            A = np.full((2, 3), float(k))
            out, eager = step(A), fn(as_input(A))  # (as a compiled call's eager fallback hands it in)
            src = A if source is None else W.data
            assert np.shares_memory(out.data, src) == np.shares_memory(eager.data, src) == True
            np.testing.assert_array_equal(out.data, eager.data)
        assert (step.recordings, step.replays) == (1, 2)
    step = ag.compile(lambda x: ag.Tensor(np.ones((2, 3))).T + 0 * ag.sum(x))
    outs = [step(np.ones(3)) for _ in range(3)]
    assert not any(np.shares_memory(outs[0].data, o.data) for o in outs[1:])
    V = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    fn = lambda x: (V * x).reshape(3, 2)
    step = ag.compile(fn)
    for x in _R25_X:
        V.grad = None
        ag.sum(step(x) ** 2).backward()
        got = V.grad.copy()
        V.grad = None
        ag.sum(fn(ag.Tensor(x)) ** 2).backward()
        np.testing.assert_array_equal(got, V.grad)


def test_r25_b_a_module_used_as_a_value_replays_and_keys_its_data_and_functions(monkeypatch):
    """getattr(mod, name): the module's data was keyed by a tuple made anew on every call, so it traced
    on every call; now it replays, and a value or a function of the module changed traces anew."""
    mod = types.ModuleType("r25_settings")  # (no __file__: the user's module, as a script's)
    mod.scale = 2.0
    mod.act = lambda z: z * 2.0
    monkeypatch.setitem(sys.modules, "r25_settings", mod)
    W = _r25_w()

    def cost(x, name):
        return ag.sum(mod.act(W * x)) * getattr(mod, name)

    step = ag.compile(cost)
    _r25_same(step, cost, "scale")
    assert (step.recordings, step.replays) == (1, 2)
    for change in (lambda: setattr(mod, "scale", 5.0), lambda: setattr(mod, "act", lambda z: z * -1.0)):
        change()
        _r25_same(step, cost, "scale")
    assert (step.recordings, step.replays) == (3, 6)
