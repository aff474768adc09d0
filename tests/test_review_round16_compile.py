"""Round 16 (adv76): what ag.compile's key holds of a config class or module used as a value, and of
the standard library's holders of values (threading.local, ContextVar, UserList, bytearray, ctypes,
memoryview, queues). Each changes between calls; the compiled call must agree with the math.

J = sum(W @ x) + lambd * sum(W ** 2) with W = [[1, 2]], x = ones((2, 1)): J = 3 + 5 lambd and
dJ/dW = x.T + 2 lambd W."""
import collections
import contextvars
import ctypes
import math
import queue
import threading
import types
import warnings
import weakref

import numpy as np
import pytest
import scipy.sparse

import autograd_lite as ag


def _W():
    return ag.Tensor(np.array([[1.0, 2.0]]), requires_grad=True)


def _x():
    return ag.Tensor(np.ones((2, 1)))


def _J(lambd):
    return 3.0 + 5.0 * lambd


def _dJ(lambd):
    return np.ones((1, 2)) + 2.0 * lambd * np.array([[1.0, 2.0]])


def _cost(W):
    return lambda x, hp: (W @ x).sum() + hp.lambd * (W * W).sum()


def _config(kind):
    if kind == "class":
        return type("Hyper", (), {"lambd": 0.5})
    module = types.ModuleType("adv76_cfg")  # (no __file__: the user's own module, as a script's)
    module.lambd = 0.5
    return module


def _calls(how, hp, W):
    """A compiled call reading ``hp.lambd``, with ``hp`` given as ``how`` says."""
    cost = _cost(W)
    if how == "argument":
        step = ag.compile(cost)
        return step, lambda: step(_x(), hp)
    if how == "dict_entry":
        step = ag.compile(lambda x, d: cost(x, d["hp"]))
        return step, lambda: step(_x(), {"hp": hp})
    step = ag.compile(lambda x, hp=hp: cost(x, hp))  # how == "default"
    return step, lambda: step(_x())


@pytest.mark.parametrize("kind, how", [("class", "argument"), ("class", "dict_entry"), ("class", "default"),
                                       ("module", "argument"), ("module", "default")])
def test_a_config_class_or_module_used_as_a_value_keys_the_trace_by_its_data(kind, how):
    W, hp = _W(), _config(kind)
    step, call = _calls(how, hp, W)
    assert call().item() == _J(0.5) and call().item() == _J(0.5)
    assert step.recordings == 1  # (unchanged: replayed)
    hp.lambd = 2.0
    J = call()
    J.backward()
    assert J.item() == _J(2.0)
    np.testing.assert_array_equal(W.grad, _dJ(2.0))


@pytest.mark.parametrize("kind", ["class", "module"])
@pytest.mark.parametrize("held", ["class attribute", "attribute set outside"])
def test_a_config_held_by_a_model_keys_the_trace(kind, held):
    W, hp = _W(), _config(kind)

    class Model:
        cfg = hp if held == "class attribute" else None

        def cost(self, x):
            return (W @ x).sum() + self.cfg.lambd * (W * W).sum()

    model = Model()
    if held != "class attribute":
        model.cfg = hp  # (no method of the model loads hp)
    for step, call in ((ag.compile(model.cost), lambda s: s(_x())), (ag.compile(Model.cost), lambda s: s(model, _x()))):
        hp.lambd = 0.5
        assert call(step).item() == _J(0.5)
        hp.lambd = 2.0
        assert call(step).item() == _J(2.0)


def test_a_method_of_a_config_class_argument_reading_a_global_keys_the_trace():
    W = _W()
    Hyper = type("Hyper", (), {"penalty": staticmethod(lambda W: _SCALE[0] * (W * W).sum())})
    step = ag.compile(lambda x, hp: (W @ x).sum() + hp.penalty(W))
    _SCALE[0] = 0.5
    assert step(_x(), Hyper).item() == _J(0.5)
    Hyper.penalty = staticmethod(lambda W: 2.0 * (W * W).sum())  # (the class's code replaced)
    assert step(_x(), Hyper).item() == _J(2.0)


_SCALE = [0.5]


def test_an_installed_module_or_class_argument_replays():
    W = _W()
    step = ag.compile(lambda x, m, k: (W @ x).sum() * m.sqrt(4.0) * k(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [step(_x(), math, float).item() for _ in range(3)]
    assert values == [6.0, 6.0, 6.0] and step.recordings == 1


def test_a_threading_local_setting_keys_the_trace_per_thread():
    W, local = _W(), threading.local()
    step = ag.compile(lambda x: (W @ x).sum() + local.lambd * (W * W).sum())
    local.lambd = 0.5
    assert step(_x()).item() == _J(0.5)
    local.lambd = 2.0
    assert step(_x()).item() == _J(2.0)
    got = {}

    def other():  # this thread's own setting, the main thread's left as it is
        local.lambd = 1.0
        got["other"] = step(_x()).item()
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert got["other"] == _J(1.0) and step(_x()).item() == _J(2.0)


def test_a_contextvar_keys_the_trace_by_its_value_in_this_context():
    W = _W()
    var = contextvars.ContextVar("adv76_lambd", default=0.5)
    step = ag.compile(lambda x: (W @ x).sum() + var.get() * (W * W).sum())

    def run():
        first = step(_x()).item()
        var.set(2.0)
        return first, step(_x()).item()
    assert contextvars.copy_context().run(run) == (_J(0.5), _J(2.0))
    assert step(_x()).item() == _J(0.5)  # (this context never set it)


def _holders():
    """(holder, read it, change it to 2.0): the standard library's holders of a number."""
    keep = _Setting(2.0)  # (a WeakValueDictionary's new value, kept alive while the test runs)

    class Point(ctypes.Structure):
        _fields_ = [("lambd", ctypes.c_double)]

    return {
        "UserList": (collections.UserList([0.5]), lambda h: h[0], lambda h: h.__setitem__(0, 2.0)),
        "bytearray": (bytearray([1]), lambda h: h[0] / 2, lambda h: h.__setitem__(0, 4)),
        "memoryview": (memoryview(bytearray(np.array([0.5]).tobytes())).cast("d"), lambda h: h[0],
                       lambda h: h.__setitem__(0, 2.0)),
        "read-only memoryview": (memoryview(_buffer).toreadonly().cast("d"), lambda h: h[0],
                                 lambda h: _buffer.__setitem__(slice(None), np.array([2.0]).tobytes())),
        "c_double": (ctypes.c_double(0.5), lambda h: h.value, lambda h: setattr(h, "value", 2.0)),
        "ctypes array": ((ctypes.c_double * 1)(0.5), lambda h: h[0], lambda h: h.__setitem__(0, 2.0)),
        "ctypes Structure": (Point(0.5), lambda h: h.lambd, lambda h: setattr(h, "lambd", 2.0)),
        "WeakValueDictionary": (weakref.WeakValueDictionary({"hp": _Setting(0.5)}), lambda h: h["hp"].v,
                                lambda h: h.__setitem__("hp", keep)),
        "dict values": (_values.values(), lambda h: next(iter(h)), lambda h: _values.__setitem__("hp", 2.0)),
    }


class _Setting:
    def __init__(self, v):
        self.v = v


_SETTING = _Setting(0.5)  # (kept alive: the WeakValueDictionary holds it weakly)
_values = {"hp": 0.5}
_buffer = bytearray(np.array([0.5]).tobytes())


@pytest.mark.parametrize("name", list(_holders()))
@pytest.mark.parametrize("where", ["argument", "closure"])
def test_a_standard_library_holder_keys_the_trace_by_what_it_holds(name, where):
    _values["hp"] = 0.5
    _buffer[:] = np.array([0.5]).tobytes()
    holder, read, change = _holders()[name]
    if name == "WeakValueDictionary":
        holder["hp"] = _SETTING
    W = _W()
    if where == "argument":
        step = ag.compile(lambda x, h: (W @ x).sum() + read(h) * (W * W).sum())
        call = lambda: step(_x(), holder)
    else:
        step = ag.compile(lambda x: (W @ x).sum() + read(holder) * (W * W).sum())
        call = lambda: step(_x())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (all of them are keyed: no call runs eagerly)
        assert call().item() == _J(0.5) and call().item() == _J(0.5)
        assert step.recordings == 1
        change(holder)
        J = call()
    J.backward()
    assert J.item() == _J(2.0)
    np.testing.assert_array_equal(W.grad, _dJ(2.0))


def _unkeyed():
    """(holder, read it, change it to 2.0, the warning's words): what the key cannot see into."""
    items = queue.Queue()
    items.put(0.5)
    value = ctypes.c_double(0.5)
    return {
        "Queue": (items, lambda h: h.get(), lambda h: h.put(2.0), "takes from a Queue"),
        "pointer": (ctypes.pointer(value), lambda h: h.contents.value, lambda h: setattr(value, "value", 2.0),
                    "ctypes pointer"),
        # (25 stored values: an array a replay would not check; a small one is keyed by value)
        "sparse matrix": (scipy.sparse.csr_matrix(np.full((5, 5), 0.5)), lambda h: h.data[0],
                          lambda h: h.data.__setitem__(0, 2.0), "csr_matrix object"),
    }


@pytest.mark.parametrize("name", list(_unkeyed()))
def test_what_the_key_cannot_see_into_runs_eagerly_with_a_warning(name):
    holder, read, change, words = _unkeyed()[name]
    W = _W()
    step = ag.compile(lambda x: (W @ x).sum() + read(holder) * (W * W).sum())
    with pytest.warns(RuntimeWarning, match=words):
        assert step(_x()).item() == _J(0.5)
    change(holder)
    J = step(_x())
    J.backward()
    assert J.item() == _J(2.0)
    np.testing.assert_array_equal(W.grad, _dJ(2.0))


def test_a_slice_argument_replays():
    W = _W()
    step = ag.compile(lambda x, s: (W @ x[s]).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [step(_x(), slice(0, 2)).item() for _ in range(2)] == [3.0, 3.0]
        assert step.recordings == 1
        assert step(ag.Tensor(np.ones((3, 1))), slice(1, 3)).item() == 3.0
