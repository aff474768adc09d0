"""ag.compile, review round 12 (adversarial round 31, findings 1 and 2): what keys a trace
(``compile_key``). A callable model's layers' methods are followed (the globals they read key the
trace), and the cached reach of an argument object or function is followed anew when what it holds
changes (a layer of another class appended, a model rebound), not only when a function it found is
replaced. Expected values and gradients come from calling the uncompiled function (``step.fn``)."""
import sys

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import compile_key

G, H, K = 2.0, 5.0, 11.0


@pytest.fixture(autouse=True)
def _globals():
    global G, H, K
    G, H, K = 2.0, 5.0, 11.0
    yield
    G, H, K = 2.0, 5.0, 11.0


class A:
    def f(self, x):
        return x * G


class B:
    def f(self, x):
        return x * H


class C:
    def f(self, x):
        return x * K


class Model:  # a plain holder with a forward method
    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.f(x)
        return x


class CallableNet(Model):  # a model called as net(x), holding its layers
    def __call__(self, x):
        return self.forward(x)


def _net_cost(net, x):
    return ag.sum(net(x))


def _model_cost(model, x):
    return ag.sum(model.forward(x))


def _same(step, *args):
    """The compiled call and the uncompiled one: equal values and gradients (the last argument x)."""
    *rest, x = args
    xc, xe = (ag.Tensor(np.array(x), requires_grad=True) for _ in range(2))
    got, want = step(*rest, xc), step.fn(*rest, xe)
    got.backward()
    want.backward()
    assert got.item() == want.item()
    np.testing.assert_array_equal(xc.grad, xe.grad)
    return got.item()


# --- finding 1: a callable model's layers' methods ----------------------------------------------
def test_a_callable_model_argument_keys_the_globals_its_layers_read():
    global G
    step, net, x = ag.compile(_net_cost), CallableNet(A()), np.ones(3)
    assert _same(step, net, x) == 6.0
    G = 3.0
    assert _same(step, net, x) == 9.0  # (was the old trace: 6.0, gradient [2, 2, 2])
    assert step.recordings == 2


def test_a_callable_model_read_as_a_global_keys_the_globals_its_layers_read():
    global G
    gnet = CallableNet(A(), A())
    step, x = ag.compile(lambda x: ag.sum(gnet(x))), np.ones(3)
    assert _same(step, x) == 12.0
    G = 3.0
    assert _same(step, x) == 27.0


def test_a_callable_model_kept_in_a_list_and_a_method_other_than_call():
    global G

    class Wrapper(CallableNet):
        def __call__(self, x):
            return self.run(x)

        def run(self, x):
            for layer in self.layers:
                x = layer.f(x)
            return x

    nets = [Wrapper(A())]  # (read by the function: a model inside a list argument gets no reach yet)
    step, x = ag.compile(lambda x: ag.sum(nets[0](x))), np.ones(3)
    assert _same(step, x) == 6.0
    G = 4.0
    assert _same(step, x) == 12.0


# --- finding 2: the cached reach of an argument followed anew when what it holds changes ---------
def test_a_layer_of_another_class_appended_to_an_argument_model():
    global H
    step, model, x = ag.compile(_model_cost), Model(A()), np.ones(3)
    assert _same(step, model, x) == 6.0
    model.layers.append(B())
    assert _same(step, model, x) == 30.0
    H = 7.0
    assert _same(step, model, x) == 42.0  # (was a replay: 30.0, gradient [10, 10, 10])


def test_a_layer_of_another_class_appended_to_a_callable_model_argument():
    global K
    step, net, x = ag.compile(_net_cost), CallableNet(A()), np.ones(3)
    assert _same(step, net, x) == 6.0
    net.layers.append(C())
    assert _same(step, net, x) == 66.0
    K = 1.0
    assert _same(step, net, x) == 6.0


def test_a_layer_replaced_in_place_and_a_sub_model_set_as_an_attribute():
    global H, K
    step, model, x = ag.compile(_model_cost), Model(A(), A()), np.ones(3)
    assert _same(step, model, x) == 12.0
    model.layers[1] = B()
    assert _same(step, model, x) == 30.0
    H = 3.0
    assert _same(step, model, x) == 18.0
    model.layers = [A(), C()]  # a new list
    assert _same(step, model, x) == 66.0
    K = 2.0
    assert _same(step, model, x) == 12.0


def test_a_function_argument_reading_a_global_model_that_gets_a_new_layer():
    global H
    gm = Model(A())

    def helper(x):
        return gm.forward(x)

    step, x = ag.compile(lambda h, x: ag.sum(h(x))), np.ones(3)
    assert _same(step, helper, x) == 6.0
    gm.layers.append(B())
    assert _same(step, helper, x) == 30.0
    H = 7.0
    assert _same(step, helper, x) == 42.0  # (was a replay: 30.0)


def test_a_function_argument_reading_a_global_model_that_is_rebound():
    global K
    def helper(x):
        return gm.forward(x)

    gm = Model(A())
    step, x = ag.compile(lambda h, x: ag.sum(h(x))), np.ones(3)
    assert _same(step, helper, x) == 6.0
    gm = Model(C())  # (helper's cell now holds a model of other layers)
    assert _same(step, helper, x) == 33.0
    K = 4.0
    assert _same(step, helper, x) == 12.0


def test_a_function_held_in_an_argument_models_dict_replaced():
    global G, H

    def by_g(x):
        return x * G

    def by_h(x):
        return x * H

    class Acts:
        def __init__(self):
            self.acts = {"f": by_g}

        def forward(self, x):
            return self.acts["f"](x)

    step, model, x = ag.compile(_model_cost), Acts(), np.ones(3)
    assert _same(step, model, x) == 6.0
    model.acts["f"] = by_h
    assert _same(step, model, x) == 15.0
    H = 1.0
    assert _same(step, model, x) == 3.0


# --- guards: a replay still happens when nothing changed, and nothing is followed anew ---------
@pytest.fixture
def follows(monkeypatch):
    """How often a reach is followed (``reachable``'s plan made anew)."""
    count = [0]
    real_follow, real_objects = compile_key._follow, compile_key._follow_objects

    def follow(fn, owner, objects, loads, visited):
        if not visited:
            count[0] += 1
        return real_follow(fn, owner, objects, loads, visited)

    def follow_objects(value, _, objects, loads, visited, depth=0):
        if not visited:
            count[0] += 1
        return real_objects(value, _, objects, loads, visited, depth)

    monkeypatch.setattr(compile_key, "_follow", follow)
    monkeypatch.setattr(compile_key, "_follow_objects", follow_objects)
    return count


def test_replays_when_nothing_changed_and_no_reach_is_followed_anew(follows):
    params = {f"W{i}": ag.Tensor(np.full(3, float(i)), requires_grad=True) for i in range(6)}
    steps = [(ag.compile(lambda p, x: ag.sum(p["W2"] * x) * G), params),
             (ag.compile(_model_cost), Model(A(), B())),
             (ag.compile(_net_cost), CallableNet(A(), C()))]
    for step, arg in steps:
        first = _same(step, arg, np.ones(3))
        before = follows[0]
        for _ in range(5):
            assert _same(step, arg, np.ones(3)) == first
        assert step.replays == 5 and step.recordings == 1
        assert follows[0] == before  # (the common path: what each reach found checked, not followed)


def test_a_growing_history_and_replaced_weights_follow_nothing_anew(follows):
    class Net:
        def __init__(self):
            self.layers = [A(), B()]
            self.history = [{"cost": 0.0}]  # (numbers, tuples, lists and dicts of numbers: no code in them)
            self.w = ag.Tensor(np.ones(3), requires_grad=True)

        def cost(self, x):
            return ag.sum(self.forward(x) * self.w)

        forward = Model.forward

    net = Net()
    step = ag.compile(net.cost)  # (net's history is not read by cost: it does not key the trace)
    _same(step, np.ones(3))
    before = follows[0]
    for i in range(5):
        assert _same(step, np.ones(3)) == 30.0
        net.history.extend([(i, 30.0), {"cost": 30.0, "w": net.w}, [float(i)], 30.0])
    assert step.replays == 5 and follows[0] == before
    net.w = ag.Tensor(np.full(3, 2.0), requires_grad=True)  # (a new tensor: keys it by identity, traced anew)
    assert _same(step, np.ones(3)) == 60.0
    assert step.recordings == 2


class _Scaled:
    def f(self, x):
        return x * _FACTOR


class _Stack:
    def __init__(self):
        self.layers = [_Scaled()]

    def forward(self, x):
        return self.layers[0].f(x)  # (what it reads through its layer keys the trace)


_FACTOR = 2.0


@pytest.mark.parametrize("wrap, unwrap", [(lambda m: [m], lambda held: held[0]),
                                          (lambda m: {"m": m}, lambda held: held["m"])], ids=["list", "dict"])
def test_a_model_held_in_a_list_or_dict_argument_keys_what_its_layers_read(monkeypatch, wrap, unwrap):
    held, x = wrap(_Stack()), np.ones(3)
    step = ag.compile(lambda held, x: ag.sum(unwrap(held).forward(x)))
    assert step(held, x).item() == step(held, x).item() == 6.0
    monkeypatch.setattr(sys.modules[__name__], "_FACTOR", 3.0)
    assert step(held, x).item() == step.fn(held, x).item() == 9.0
