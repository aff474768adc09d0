"""ag.compile, review round 13 (adversarial round 34, finding 2): what keys a trace (``compile_key``).
A name the function loads (a global, a closure variable, ``mod.name``, ``Class.name``, a name of a
namespace it reads by a computed name) keys the trace by what it is bound to now, whatever that is: a
partial, a function, a lambda, a bound method, a class, a callable object, a compiled function,
installed code's ``ag.tanh``, a module. Before, a name bound to something whose ``__module__`` is
installed code (a ``functools.partial``, ``ag.tanh``, a compiled function) was followed into but not
keyed, so rebinding it replayed the old trace. Each test compares the compiled function with the
function itself (``step.fn``) over several calls: equal values and gradients."""
import functools
import sys
import types
import weakref

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import compile_key

_THIS = sys.modules[__name__]


def _mul(a, k):
    return a * k


def _times6(t):
    return t * 6.0


def _agree(step, calls=3):
    """``calls`` calls of the compiled ``step`` and of its function: equal values and gradients.
    Returns the first value."""
    values = []
    for i in range(calls):
        x = np.array([1.0, 2.0, 3.0]) + i
        xc, xe = ag.Tensor(x, requires_grad=True), ag.Tensor(x.copy(), requires_grad=True)
        got, want = step(xc), step.fn(xe)
        got.backward()
        want.backward()
        assert got.item() == want.item()
        np.testing.assert_array_equal(xc.grad, xe.grad)
        values.append(got.item())
    return values[0]


# --- finding 2 (pending tests test_f2_*): a global functools.partial rebound ---------------------
_scale = functools.partial(lambda a, k: a * k, k=2.0)


def _uses_partial(t):
    return ag.sum(_scale(t))


@pytest.mark.parametrize("new", ["partial", "lambda"])
def test_f2_compile_sees_rebound_global_partial(new):
    global _scale
    x = np.array([1., 2., 3.])
    _scale = functools.partial(lambda a, k: a * k, k=2.0)
    cf = ag.compile(_uses_partial)
    assert cf(x).item() == 12.0
    _scale = functools.partial(lambda a, k: a * k, k=4.0) if new == "partial" else (lambda t: t * 4.0)
    try:
        assert cf(x).item() == _uses_partial(x).item() == 24.0
        assert _agree(cf) == 24.0
    finally:
        _scale = functools.partial(lambda a, k: a * k, k=2.0)


def test_the_reach_key_changes_when_a_global_partial_is_rebound(monkeypatch):
    monkeypatch.setattr(_THIS, "_scale", functools.partial(_mul, k=2.0))
    reached = compile_key.reachable(_uses_partial)
    before = reached()
    monkeypatch.setattr(_THIS, "_scale", functools.partial(_mul, k=4.0))
    assert reached() != before  # (was equal: the global load itself was not keyed)
    monkeypatch.setattr(_THIS, "_scale", _times6)
    assert reached() != before


# --- the same name rebound among kinds of values ---------------------------------------------------
_h = None


def _uses_h(t):
    return ag.sum(_h(t))


def test_a_global_rebound_from_a_partial_to_a_function_and_back(monkeypatch):
    p7 = functools.partial(_mul, k=7.0)
    monkeypatch.setattr(_THIS, "_h", p7)
    step = ag.compile(_uses_h)
    assert _agree(step) == 42.0
    monkeypatch.setattr(_THIS, "_h", _times6)
    assert _agree(step) == 36.0
    monkeypatch.setattr(_THIS, "_h", p7)  # (the same partial again: its trace replays)
    assert _agree(step) == 42.0
    monkeypatch.setattr(_THIS, "_h", functools.partial(_mul, k=3.0))  # (the same function, another k)
    assert _agree(step) == 18.0
    assert step.replays > 0


class _Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, t):
        return t * self.k

    def __call__(self, t):
        return t * self.k


class _Double:
    def __init__(self, t):
        self.v = t * 2.0


class _Triple:
    def __init__(self, t):
        self.v = t * 3.0


def _uses_class(t):
    return ag.sum(_h(t).v)


@pytest.mark.parametrize("kind", ["bound method", "callable object", "compiled function", "installed function"])
def test_a_global_rebound_to_another_value_of_its_kind(monkeypatch, kind):
    first, second, want = {
        "bound method": (_Scaler(2.0).apply, _Scaler(3.0).apply, (12.0, 18.0)),
        "callable object": (_Scaler(2.0), _Scaler(3.0), (12.0, 18.0)),
        "compiled function": (ag.compile(lambda t: t * 2.0), ag.compile(lambda t: t * 3.0), (12.0, 18.0)),
        "installed function": (ag.tanh, ag.sigmoid, None),
    }[kind]
    monkeypatch.setattr(_THIS, "_h", first)
    step = ag.compile(_uses_h)
    got_first = _agree(step)
    monkeypatch.setattr(_THIS, "_h", second)
    got_second = _agree(step)
    assert got_first != got_second
    if want is not None:
        assert (got_first, got_second) == want
    monkeypatch.setattr(_THIS, "_h", first)
    assert _agree(step) == got_first


def test_a_class_global_rebound(monkeypatch):
    monkeypatch.setattr(_THIS, "_h", _Double)
    step = ag.compile(_uses_class)
    assert _agree(step) == 12.0
    monkeypatch.setattr(_THIS, "_h", _Triple)
    assert _agree(step) == 18.0
    monkeypatch.setattr(_THIS, "_h", _Double)
    assert _agree(step) == 12.0


_G = 2.0


def _scaled_by_g(a, k):
    return a * k * _G


def test_a_partial_whose_function_reads_a_rebound_global(monkeypatch):
    monkeypatch.setattr(_THIS, "_h", functools.partial(_scaled_by_g, k=1.0))
    step = ag.compile(_uses_h)
    assert _agree(step) == 12.0
    monkeypatch.setattr(_THIS, "_G", 5.0)
    assert _agree(step) == 30.0


def test_a_partial_in_a_closure_cell_rebound():
    q = functools.partial(_mul, k=2.0)

    def f(t):
        return ag.sum(q(t))

    step = ag.compile(f)
    assert _agree(step) == 12.0
    q = functools.partial(_mul, k=9.0)
    assert _agree(step) == 54.0
    q = lambda t: t * 3.0
    assert _agree(step) == 18.0


def _reads_helper():
    return _h


def _through_a_helper(t):
    return ag.sum(_reads_helper()(t))


def test_a_module_global_rebound_to_another_module(monkeypatch):
    alt = types.ModuleType("alt_numpy_like")
    alt.tanh = ag.sigmoid
    monkeypatch.setattr(_THIS, "_h", np)
    step = ag.compile(lambda t: ag.sum(_h.tanh(t)))
    first = _agree(step)
    monkeypatch.setattr(_THIS, "_h", alt)
    assert _agree(step) != first


# --- attributes of modules and classes, namespaces read by name ----------------------------------
def test_a_partial_held_by_a_module_and_by_a_class_rebound():
    mod = types.ModuleType("user_mod_round13")
    mod.h = functools.partial(_mul, k=2.0)

    class Holder:
        h = staticmethod(functools.partial(_mul, k=2.0))

    by_module = ag.compile(lambda t: ag.sum(mod.h(t)))
    by_class = ag.compile(lambda t: ag.sum(Holder.h(t)))
    assert _agree(by_module) == _agree(by_class) == 12.0
    mod.h = functools.partial(_mul, k=4.0)
    Holder.h = staticmethod(functools.partial(_mul, k=5.0))
    assert _agree(by_module) == 24.0
    assert _agree(by_class) == 30.0
    Holder.__dict__["h"].__func__.keywords["k"] = 7.0  # (a staticmethod's partial changed in place)
    assert _agree(by_class) == 42.0


def test_a_partial_in_a_class_body_read_through_self_replaced():
    class Model:
        act = functools.partial(_mul, k=2.0)

        def forward(self, t):
            return self.act(t)

    model = Model()
    step = ag.compile(lambda t: ag.sum(model.forward(t)))
    assert _agree(step) == 12.0
    Model.act = functools.partial(_mul, k=3.0)
    assert _agree(step) == 18.0
    Model.act = _Scaler(5.0)
    assert _agree(step) == 30.0


def test_code_of_a_namespace_read_by_a_computed_name_rebound():
    cfg = types.ModuleType("cfg_round13")
    cfg.act = functools.partial(_mul, k=2.0)

    class Acts:
        act = ag.tanh

    by_module = ag.compile(lambda t, name="act": ag.sum(getattr(cfg, name)(t)))
    by_class = ag.compile(lambda t, name="act": ag.sum(getattr(Acts, name)(t)))
    assert _agree(by_module) == 12.0
    first = _agree(by_class)
    cfg.act = functools.partial(_mul, k=3.0)
    Acts.act = ag.sigmoid
    assert _agree(by_module) == 18.0
    assert _agree(by_class) != first


def _by_globals(t):
    return ag.sum(globals()["_h"](t))


@pytest.mark.parametrize("reader", [_through_a_helper, _by_globals], ids=["by a helper", "through globals()"])
def test_a_global_partial_rebound_is_seen_however_it_is_read(monkeypatch, reader):
    monkeypatch.setattr(_THIS, "_h", functools.partial(_mul, k=2.0))
    step = ag.compile(reader)
    assert _agree(step) == 12.0
    monkeypatch.setattr(_THIS, "_h", functools.partial(_mul, k=8.0))
    assert _agree(step) == 48.0


# --- defaults and weak references ------------------------------------------------------------------
def test_a_default_helper_replaced():
    def f(t, h=_times6):
        return ag.sum(h(t))

    step = ag.compile(f)
    assert _agree(step) == 36.0
    f.__defaults__ = (functools.partial(_mul, k=2.0),)
    assert _agree(step) == 12.0


def test_a_weak_reference_to_a_helper_rebound(monkeypatch):
    def double(t):
        return t * 2.0

    monkeypatch.setattr(_THIS, "_h", weakref.ref(_times6))
    step = ag.compile(lambda t: ag.sum(_h()(t)))
    assert _agree(step) == 36.0
    monkeypatch.setattr(_THIS, "_h", weakref.ref(double))
    assert _agree(step) == 12.0
