"""Review round 17 (adv86 finding 1): ag.compile keys a Tensor's own attribute (``x.decay``) when the
name it is read by reaches ``getattr`` as a value the key holds (a default, a closure cell, a global, an
argument, an object's field, a container's key or value, a format string's field), as it does for a
name written in the code. Each case runs in a fresh interpreter: ``compile_key.MENTIONED`` is
process-wide and only grows, so a name another test's code mentions (or ``vars(x)`` anywhere) would
key the attribute and hide the bug. Expected values from the math: ``sum(x * x) = 5`` for x = [0, 1, 2],
times the attribute; the gradient ``2 x`` times it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

_CHILD = r"""
import functools, json, sys, warnings
import numpy as np
import autograd_lite as ag
case, values = sys.argv[1], json.loads(sys.argv[2])
attr = "attr_" + case                     # (a name of this case alone: no other code mentions it)
ATTR, FMT = attr, "{0.%s}" % attr         # (module globals holding the name, as values)

def scale(x, name):
    return getattr(x, name, 1.0)

def cost_arg(x, name):
    return ag.sum(x * x) * getattr(x, name, 1.0)

def make_default(name):
    def cost(x, name=name):
        return ag.sum(x * x) * getattr(x, name, 1.0)
    return cost

def make_keyword_default(name):
    def cost(x, *, name=name):
        return ag.sum(x * x) * getattr(x, name, 1.0)
    return cost

def make_names_tuple(name):
    def cost(x, names=(name, "unused")):  # (a tuple of strings: the reach holds it by identity)
        return ag.sum(x * x) * getattr(x, names[0], 1.0)
    return cost

def make_closure(name):
    def cost(x):
        return ag.sum(x * x) * getattr(x, name, 1.0)
    return cost

def cost_global(x):
    return ag.sum(x * x) * getattr(x, ATTR, 1.0)

class Decayed:
    def __init__(self, name):
        self.name = name
    def cost(self, x):
        return ag.sum(x * x) * getattr(x, self.name, 1.0)

def cost_holder(x, holder):
    return ag.sum(x * x) * getattr(x, holder.name, 1.0)

def cost_kwargs(x, **named):
    return ag.sum(x * x) * getattr(x, next(iter(named)), 1.0)

def cost_dict_value(x, cfg):
    return ag.sum(x * x) * getattr(x, cfg["name"], 1.0)

def cost_dict_key(x, cfg):
    return ag.sum(x * x) * getattr(x, next(iter(cfg)), 1.0)

def cost_list(x, names):
    return ag.sum(x * x) * getattr(x, names[0], 1.0)

def cost_format_constant(x):
    return ag.sum(x * x) * float("{0.attr_format_constant}".format(x))

def cost_format_global(x):
    return ag.sum(x * x) * float(FMT.format(x))

def cost_format_spec(x):                  # (the precision an attribute of x too, in a nested field)
    return ag.sum(x * x) * float("{0.attr_k:.{0.attr_format_spec}f}".format(x))

def cost_format_argument(x, template):
    return ag.sum(x * x) * float(template.format(x))

cases = {
    "default": (make_default(attr), (), {}), "keyword_default": (make_keyword_default(attr), (), {}),
    "names_tuple": (make_names_tuple(attr), (), {}), "closure": (make_closure(attr), (), {}),
    "global": (cost_global, (), {}), "object_field": (Decayed(attr).cost, (), {}),
    "object_argument": (cost_holder, (Decayed(attr),), {}), "argument": (cost_arg, (attr,), {}),
    "keyword": (cost_arg, (), {"name": attr}), "kwarg_name": (cost_kwargs, (), {attr: None}),
    "dict_value": (cost_dict_value, ({"name": attr},), {}), "dict_key": (cost_dict_key, ({attr: 0},), {}),
    "list": (cost_list, ([attr],), {}), "partial": (functools.partial(cost_arg, name=attr), (), {}),
    "format_constant": (cost_format_constant, (), {}), "format_global": (cost_format_global, (), {}),
    "format_spec": (cost_format_spec, (), {}), "format_argument": (cost_format_argument, (FMT,), {}),
}
fn, args, kwargs = cases[case]
step = ag.compile(fn)
x = ag.Tensor(np.arange(3.0), requires_grad=True)
x.attr_k = 1.25
got = []
for v in values:
    if v is None:
        delattr(x, attr)
    else:
        setattr(x, attr, v)
    x.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")    # (a call run eagerly with a warning would test no replay)
        out = step(x, *args, **kwargs)
    out.backward()
    got.append([float(out.data), x.grad.tolist()])
print(json.dumps({"got": got, "replays": step.replays, "recordings": step.recordings}))
"""

_CHANGING = [2.0, 3.0, None, 4.0, 4.0]  # (None: the attribute deleted, getattr's default 1.0 is read)
_NAMES = ["default", "keyword_default", "names_tuple", "closure", "global", "object_field", "object_argument",
          "argument", "keyword", "kwarg_name", "dict_value", "dict_key", "list", "partial"]


def _run(case, values):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    run = subprocess.run([sys.executable, "-c", _CHILD, case, json.dumps(values)], capture_output=True,
                         text=True, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _check(result, scales):
    x = np.arange(3.0)
    assert len(result["got"]) == len(scales)
    for (value, grad), s in zip(result["got"], scales):
        assert value == pytest.approx(5.0 * s, rel=1e-12), result
        np.testing.assert_allclose(grad, 2.0 * x * s, rtol=1e-12)
    assert result["replays"] >= 1, result  # (the last call repeats the one before: keyed, not traced anew)


@pytest.mark.parametrize("case", _NAMES)
def test_an_attribute_named_by_a_value_keys_the_compiled_call(case):
    _check(_run(case, _CHANGING), [1.0 if v is None else v for v in _CHANGING])


@pytest.mark.parametrize("case", ["format_constant", "format_global", "format_argument"])
def test_an_attribute_a_format_string_reads_keys_the_compiled_call(case):
    values = [2.0, 3.0, 0.5, 0.5]  # (str.format of a missing attribute raises: no deletion here)
    _check(_run(case, values), values)


def test_an_attribute_a_nested_format_spec_reads_keys_the_compiled_call():
    precisions = [0, 1, 2, 2]  # x.attr_k = 1.25 printed with that many digits, as Python's format does
    _check(_run("format_spec", precisions), [float(format(1.25, f".{p}f")) for p in precisions])


def test_a_name_first_seen_in_a_later_argument_keys_the_first_call_already():
    # step(x, "name"): x is described before the string that names its attribute; the key is made
    # anew then, so the first trace is kept under x's attribute and the same call replays it
    result = _run("argument", [2.0, 2.0, 2.0])
    _check(result, [2.0, 2.0, 2.0])
    assert (result["recordings"], result["replays"]) == (1, 2), result


def test_format_string_attributes_are_those_str_format_reads():
    from autograd_lite.compile_key import _format_attributes

    class Recorder:  # (the oracle: the attributes str.format itself reads off its arguments)
        def __init__(self, log):
            self.log = log

        def __getattr__(self, name):
            self.log.append(name)
            return "3" if name == "w" else Recorder(self.log)

        def __format__(self, spec):
            return ""

    for text in ["{0.k:{1.w}} and {t[x.y].z}", "{0.a.b}{{0.not_read}}", "{!r}{.c!s:>{.w}}", "plain {0}"]:
        log = []
        text.format(Recorder(log), Recorder(log), Recorder(log), t={"x.y": Recorder(log)})
        assert sorted(_format_attributes(text)) == sorted(log), text
    assert _format_attributes("{") == [] and _format_attributes("{0.}") == []  # (str.format raises on both)
