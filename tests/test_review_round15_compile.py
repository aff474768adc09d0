"""Review round 15 (adv61): ag.compile vs closed forms for functions made by exec/eval with a
plain globals dict (f.__module__ is None), checked against closed forms."""
import warnings

import numpy as np

import autograd_lite as ag


def _call(cf, xs):
    x = ag.Tensor(np.asarray(xs, dtype=float), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # running eagerly with a warning is allowed
        out = cf(x)
    out.backward()
    return float(out.data), x.grad


def test_exec_defined_function_sees_a_rebound_global_number():
    ns = {"ag": ag, "S": 2.0}
    exec("def f(x):\n    return ag.sum(x * S)\n", ns)
    cf = ag.compile(ns["f"])
    for s in [2.0, 2.0, 9.0, -1.5]:
        ns["S"] = s
        value, grad = _call(cf, [1.0, 2.0, 3.0])
        assert value == 6.0 * s                      # closed form: sum(x) * s
        np.testing.assert_array_equal(grad, np.full(3, s))


def test_exec_defined_function_sees_a_global_array_rebound_and_edited_in_place():
    ns = {"ag": ag, "K": np.ones(20)}
    exec("def f(x):\n    return ag.sum(x * K)\n", ns)
    cf = ag.compile(ns["f"])
    x = np.arange(20.0)
    _call(cf, x)
    ns["K"] = np.full(20, 5.0)
    value, grad = _call(cf, x)
    assert value == 5.0 * x.sum()
    np.testing.assert_array_equal(grad, np.full(20, 5.0))
    ns["K"][...] = 7.0
    value, grad = _call(cf, x)
    assert value == 7.0 * x.sum()
    np.testing.assert_array_equal(grad, np.full(20, 7.0))


def test_exec_defined_function_sees_a_rebound_helper():
    ns = {"ag": ag, "act": ag.tanh}
    exec("def f(x):\n    return ag.sum(act(x))\n", ns)
    cf = ag.compile(ns["f"])
    x = np.array([0.5, -1.0])
    _call(cf, x)
    ns["act"] = ag.sigmoid
    value, grad = _call(cf, x)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(value, sig.sum(), rtol=1e-15)
    np.testing.assert_allclose(grad, sig * (1 - sig), rtol=1e-15)


def test_eval_lambda_sees_a_rebound_global_and_exec_closure_sees_a_rebound_cell():
    ns = {"ag": ag, "s": 2.0}
    g = eval("lambda x: ag.sum(x * s)", ns)
    cg = ag.compile(g)
    _call(cg, [1.0, 1.0])
    ns["s"] = 9.0
    assert _call(cg, [1.0, 1.0])[0] == 18.0
    exec("def make(scale):\n"
         "    def f(x):\n        return ag.sum(x * scale)\n"
         "    def set_scale(v):\n        nonlocal scale\n        scale = v\n"
         "    return f, set_scale\n", ns)
    f, set_scale = ns["make"](2.0)
    cf = ag.compile(f)
    _call(cf, [1.0, 1.0])
    set_scale(9.0)
    assert _call(cf, [1.0, 1.0])[0] == 18.0


def test_a_method_of_an_exec_defined_class_sees_a_rebound_global():
    # (such a class claims the module "builtins", which holds no class written in Python)
    ns = {"ag": ag, "S": 2.0}
    exec("class Model:\n    def cost(self, x):\n        return ag.sum(x * S)\n", ns)
    model = ns["Model"]()
    cf = ag.compile(lambda x: model.cost(x))
    for s in [2.0, 2.0, 9.0]:
        ns["S"] = s
        value, grad = _call(cf, [1.0, 2.0, 3.0])
        assert value == 6.0 * s  # closed form: sum(x) * s
        np.testing.assert_array_equal(grad, np.full(3, s))
