"""ag.compile, round 20: values a replay could have kept, each compared with eager code over calls
whose values change (the eager result is the reference: it computes what the function says)."""
import functools
import threading
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _eager(fn, *args):
    return float(fn(*[ag.as_tensor(np.array(a)) for a in args]).data)


# --- an array of more than 16 entries that the function itself changes in place --------------------
class _RunningMean:
    """A running statistic kept by the object and updated in place, as a batch norm layer keeps one."""

    def __init__(self, n):
        self.mean = np.zeros(n)

    def __call__(self, z):
        self.mean[...] = 0.9 * self.mean + 0.1 * z.mean(axis=0).data
        return z - self.mean


def test_a_running_statistic_updated_in_place_by_the_function_is_seen_on_every_call():
    X = np.random.default_rng(0).normal(size=(4, 20))
    compiled_layer, eager_layer = _RunningMean(20), _RunningMean(20)
    step = ag.compile(lambda x: (compiled_layer(x) ** 2).sum())
    reference = lambda x: (eager_layer(x) ** 2).sum()
    got = [float(step(X).data) for _ in range(4)]
    expected = [_eager(reference, X) for _ in range(4)]
    assert got == expected and len(set(got)) == 4
    np.testing.assert_array_equal(compiled_layer.mean, eager_layer.mean)


def test_a_global_buffer_doubled_in_place_on_each_call():
    buffer = np.ones(20)

    def cost(x):
        buffer[...] *= 2
        return (x * float(buffer.sum())).sum()
    step = ag.compile(cost)
    assert [float(step(np.ones(1)).data) for _ in range(4)] == [40.0, 80.0, 160.0, 320.0]


def test_an_array_another_thread_changes_while_the_call_is_traced_is_not_frozen():
    shared = np.ones(20)
    read, changed = threading.Event(), threading.Event()

    def cost(x):
        c = float(shared.sum())
        if not changed.is_set():  # (the first call only: the other thread writes now)
            read.set()
            changed.wait()
        return (x * c).sum()

    def writer():
        read.wait()
        shared[0] += 1.0
        changed.set()
    step = ag.compile(cost)
    thread = threading.Thread(target=writer)
    thread.start()
    assert float(step(np.ones(3)).data) == 60.0  # read before the write
    thread.join()
    assert float(step(np.ones(3)).data) == 63.0 == _eager(cost, np.ones(3))


# --- a method of a builtin type bound to a container or array, held as a value ----------------------
@pytest.mark.parametrize("make", [
    lambda holder: (holder.get, lambda read: read("scale")),                   # dict.get
    lambda holder: (holder["list"].__getitem__, lambda read: read(0)),         # list.__getitem__
    lambda holder: (holder["array"].sum, lambda read: float(read()) / 40),     # ndarray.sum, 40 entries
], ids=["dict.get", "list.__getitem__", "ndarray.sum"])
def test_a_bound_builtin_method_keys_the_object_it_reads(make):
    holder = {"scale": 1.0, "list": [1.0], "array": np.ones(40)}
    method, use = make(holder)
    cost = lambda x: (x * use(method)).sum()
    step = ag.compile(cost)
    x = np.array([1.0, 2.0, 3.0])
    for scale in (1.0, 2.0, 3.0):
        holder["scale"] = holder["list"][0] = scale
        holder["array"][...] = scale
        assert float(step(x).data) == _eager(cost, x) == 6.0 * scale


def test_module_level_builtin_methods_still_replay():
    reduce, join = np.add.reduce, ", ".join  # (bound to a ufunc and a str: nothing in them changes)
    step = ag.compile(lambda x: (x * float(reduce(np.ones(3))) * len(join("ab"))).sum())
    for _ in range(3):
        assert float(step(np.ones(2)).data) == 24.0
    assert step.recordings == 1 and step.replays == 2


# --- a helper behind functools.singledispatch --------------------------------------------------------
def test_a_singledispatch_helper_is_followed_to_what_it_reads():
    settings = {"v": 1.0}

    @functools.singledispatch
    def coefficient(value):
        return settings["v"]

    @coefficient.register
    def _(value: int):
        return 10 * settings["v"]

    cost = lambda x: (x * coefficient(1.0) + coefficient(1)).sum()
    step = ag.compile(cost)
    x = np.array([1.0, 2.0, 3.0])
    for v in (1.0, 2.0, 3.0):
        settings["v"] = v
        assert float(step(x).data) == _eager(cost, x) == 36.0 * v


# --- which memory tensors share is no part of a trace's key ------------------------------------------
def test_asking_whether_tensors_share_memory_runs_eagerly():
    def cost(a, b):
        if np.shares_memory(a, b) or np.may_share_memory(a, b):
            return (a * 0.0).sum()
        return (a * b).sum()
    step = ag.compile(cost)
    base, other = np.arange(1.0, 7.0), np.arange(1.0, 7.0)
    with pytest.warns(RuntimeWarning, match=r"share memory \(np.shares_memory"):
        assert float(step(base[:3], other[3:]).data) == 4.0 + 10.0 + 18.0
    assert float(step(base[:3], base[1:4]).data) == 0.0  # eager code: they overlap (run so, as said)


# --- a comparison's values read by the standard library ------------------------------------------------
def test_statistics_mean_of_a_comparison_gives_eager_results():
    import statistics
    cost = lambda x: x.sum() * statistics.mean((x > 0).astype(float))
    step = ag.compile(cost)
    for values in ([1.0, -1.0, 2.0], [1.0, 1.0, 2.0], [-1.0, -1.0, 2.0], [-1.0, -1.0, 2.0]):
        expected = sum(values) * sum(v > 0 for v in values) / 3
        assert float(step(np.array(values)).data) == pytest.approx(expected, rel=1e-15)
        assert float(step(np.array(values)).data) == _eager(cost, values)
    assert step.replays >= 1  # (the values read are guards: equal values replay)


# --- arrays of more than 16 entries that the arguments hold (checked on every replay, as before) ------------
def test_a_large_array_in_a_dict_argument_changed_between_calls_is_seen():
    cfg = {"w": np.arange(20.0)}
    cost = lambda x, cfg: (x * float(cfg["w"].sum())).sum()
    step, x = ag.compile(cost), np.ones(3)
    for _ in range(4):
        assert float(step(x, cfg).data) == float(cost(ag.as_tensor(x), cfg).data) == 3 * cfg["w"].sum()
        cfg["w"] += 1


class _Net:
    def __init__(self):
        self.W = np.arange(20.0)
        self.running = np.zeros(20)

    @ag.compile
    def cost(self, x):
        return (x * float(self.W.max())).sum()

    def cost_with_statistic(self, x):
        self.running *= 0.9  # (a running statistic on the object, updated in place by each call)
        self.running += 0.1 * float(x.sum().item())
        return x.sum() * float(self.running[0])


def test_a_models_large_attribute_changed_between_calls_is_seen():
    net, x = _Net(), np.ones(3)
    for _ in range(4):
        assert float(net.cost(x).data) == 3 * net.W.max()
        net.W *= 2


def test_a_running_statistic_on_an_argument_object_is_seen():
    compiled_net, eager_net = _Net(), _Net()
    step, x = ag.compile(_Net.cost_with_statistic), np.ones(3)
    got = [float(step(compiled_net, x).data) for _ in range(4)]
    expected = [float(_Net.cost_with_statistic(eager_net, ag.as_tensor(x)).data) for _ in range(4)]
    assert got == expected and len(set(got)) == 4


# --- a functools.singledispatchmethod is followed to what its methods read ---------------------------
class _Dispatching:
    def __init__(self):
        self.k = 2.0

    @functools.singledispatchmethod
    def act(self, z):
        return z * self.k * SCALE[0]

    def cost(self, x):
        return self.act(x).sum()


SCALE = [1.0]


def test_a_singledispatchmethod_reading_a_global_and_an_attribute_is_followed():
    model, x = _Dispatching(), np.ones(3)
    step = ag.compile(model.cost)
    for k, scale in ((2.0, 1.0), (2.0, 2.0), (5.0, 2.0), (5.0, 3.0)):
        model.k, SCALE[0] = k, scale
        assert float(step(x).data) == float(model.cost(ag.as_tensor(x)).data) == 3 * k * scale


# --- logging and writing to a stream are side effects a replay skips, as print's ----------------------
def test_a_function_that_logs_replays(tmp_path):
    import logging
    log = logging.getLogger("autograd_lite.tests.round20")
    handler = logging.FileHandler(tmp_path / "train.log", mode="w")
    log.addHandler(handler)
    try:
        scale = [2.0]

        def cost(x):
            log.warning("cost called")
            return (x * scale[0]).sum()
        step = ag.compile(cost)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no "runs eagerly" warning)
            for s in (2.0, 2.0, 3.0, 3.0):
                scale[0] = s
                assert float(step(np.ones(3)).data) == 3 * s
        assert step.replays == 2
    finally:
        log.removeHandler(handler)
        handler.close()


def test_a_stream_it_reads_still_runs_eagerly(tmp_path):
    (tmp_path / "scale.txt").write_text("2.0\n3.0\n")
    stream = open(tmp_path / "scale.txt")
    try:
        step = ag.compile(lambda x: (x * float(stream.readline())).sum())
        with pytest.warns(RuntimeWarning, match="takes an iterator"):
            assert float(step(np.ones(3)).data) == 6.0
        assert float(step(np.ones(3)).data) == 9.0  # (eager: the next line)
    finally:
        stream.close()


@pytest.mark.parametrize("ask", [
    lambda x, y: np.shares_memory(np.asarray(x), np.asarray(y)),
    lambda x, y: np.may_share_memory(x.data, y.data),
    lambda x, y: np.shares_memory(x.numpy(), y.numpy()),
], ids=["np.asarray", ".data", ".numpy()"])
def test_which_inputs_share_memory_is_as_when_traced(ask):
    f = lambda x, y: x.sum() * (2.0 if ask(x, y) else 1.0)
    step, base = ag.compile(f), np.ones(10)
    for a, b in ((base[:5], base[5:]), (base[:5], base[0:5]), (base[:5], base[5:]), (base[:5], base[0:5])):
        assert float(step(a, b).data) == float(f(ag.as_tensor(a), ag.as_tensor(b)).data)


def test_a_singledispatch_helper_sees_a_new_abc_registration():
    import abc

    class Base(abc.ABC):
        pass

    class Config:
        pass

    @functools.singledispatch
    def scale(c):
        return 1.0

    @scale.register(Base)
    def _(c):
        return 10.0

    config = Config()
    cost = lambda x: (x * scale(config)).sum()
    step = ag.compile(cost)
    assert float(step(np.ones(3)).data) == 3.0
    Base.register(Config)  # (now dispatched to Base's function)
    assert float(step(np.ones(3)).data) == _eager(cost, np.ones(3)) == 30.0


ACTIVATIONS = {}


def _double(z):
    return z * ACTIVATIONS["factor"]


def _chain(z):
    return ACTIVATIONS["double"](ACTIVATIONS["double"](z))


def test_a_registry_of_functions_that_look_each_other_up_replays():
    ACTIVATIONS.update(double=_double, chain=_chain, factor=2.0)
    cost = lambda x: ACTIVATIONS["chain"](x).sum()
    step = ag.compile(cost)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no "nested more than 8 levels deep": the cycle is seen as one)
        for factor in (2.0, 2.0, 3.0, 3.0):
            ACTIVATIONS["factor"] = factor
            assert float(step(np.ones(3)).data) == 3 * factor * factor
    assert step.replays == 2
    ACTIVATIONS["double"] = lambda z: z * 10.0  # (a function of the registry rebound: seen)
    assert float(step(np.ones(3)).data) == 300.0


def test_overlapping_and_separate_inputs_alternating_keep_a_trace_each():
    step = ag.compile(lambda x, y: ag.sum(x * y))
    buf, a, b = np.arange(6.0), np.arange(6.0), np.ones(6)
    for i in range(20):
        x, y = (a, b) if i % 2 == 0 else (buf, buf)
        assert float(step(x, y).data) == float(np.sum(x * y))
    assert step.recordings == 2 and step.replays == 18


def test_a_method_registered_on_a_singledispatchmethod_after_tracing_is_seen():
    class Model:
        @functools.singledispatchmethod
        def h(self, a):
            return a * 2

        def cost(self, x):
            return ag.sum(x) * self.h(2)
    model, x = Model(), np.ones(4)
    step = ag.compile(model.cost)
    assert float(step(x).data) == 16.0

    @Model.h.register
    def _(self, a: int):
        return a * 7
    assert float(step(x).data) == float(model.cost(ag.as_tensor(x)).data) == 56.0


def test_a_branch_on_a_loggers_level_follows_the_level():
    import logging
    log = logging.getLogger("autograd_lite.tests.round20.level")
    log.setLevel(logging.WARNING)
    try:
        f = lambda x: ag.sum(x) * (26.0 if log.isEnabledFor(logging.DEBUG) else 1.0)
        step = ag.compile(f)
        assert float(step(np.ones(4)).data) == 4.0
        log.setLevel(logging.DEBUG)
        assert float(step(np.ones(4)).data) == 104.0
    finally:
        log.setLevel(logging.NOTSET)
