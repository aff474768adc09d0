"""Review round 17 (adv91 findings 1-3, 5, 6): ag.compile's key reads an attribute name held as a str subclass,
an ``np.str_`` or a string inside a dict's tuple key (a name that keys the trace as a plain ``str`` value does),
never crashes on a format string of deeply nested specs, and does not keep every long string it saw for good.
Each case runs in a fresh interpreter: ``compile_key.MENTIONED`` is process-wide and only grows. Expected values
from the math: ``sum(x * x) = 5`` for x = [0, 1, 2], times the attribute; the gradient ``2 x`` times it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

_CHILD = r"""
import json, sys, warnings
import numpy as np
import autograd_lite as ag
case, values = sys.argv[1], json.loads(sys.argv[2])
NAME = "attr_more_" + case            # (a name of this case alone: no other code mentions it)

class Name(str):
    def __str__(self):                # (getattr reads its characters, not its str())
        return "other"

def by_name(x, name):
    return ag.sum(x * x) * getattr(x, name, 1.0)

def by_tuple_key(x, cfg):
    (name, _), = cfg
    return ag.sum(x * x) * getattr(x, name, 1.0)

def by_global(x):
    return ag.sum(x * x) * getattr(x, GLOBAL, 1.0)

def long_name(x, name):
    return ag.sum(x * x) * getattr(x, name, 1.0)

LONG = "attr_" + "l" * 80             # (longer than the names the key remembers)
GLOBAL = np.array([NAME])[0]
cases = {"str_subclass": (by_name, (Name(NAME),)), "np_str": (by_name, (np.array([NAME])[0],)),
         "np_str_global": (by_global, ()), "tuple_key": (by_tuple_key, ({(NAME, "scale"): True},)),
         "nested_tuple_key": (by_tuple_key, ({(Name(NAME), ("a", ("b",))): 1},)),
         "frozenset_key": (lambda x, cfg: by_name(x, min(next(iter(cfg)))), ({frozenset([NAME]): 0},)),
         "long_name": (long_name, (LONG,))}
fn, args = cases[case]
attr = LONG if case == "long_name" else NAME
step = ag.compile(fn)
x = ag.Tensor(np.arange(3.0), requires_grad=True)
got = []
for v in values:
    setattr(x, attr, v)
    x.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")    # (a call run eagerly with a warning would test no replay)
        out = step(x, *args)
    out.backward()
    got.append([float(out.data), x.grad.tolist()])
print(json.dumps({"got": got, "replays": step.replays}))
"""


def _python(code, *argv):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.split("\n")[-2]


@pytest.mark.parametrize("case", ["str_subclass", "np_str", "np_str_global", "tuple_key", "nested_tuple_key",
                                  "frozenset_key", "long_name"])
def test_an_attribute_named_by_a_held_string_keys_the_compiled_call(case):
    values = [1.0, 2.0, 3.0, 3.0]
    result = json.loads(_python(_CHILD, case, json.dumps(values)))
    for (value, grad), s in zip(result["got"], values):
        assert value == pytest.approx(5.0 * s, rel=1e-12), result
        np.testing.assert_allclose(grad, 2.0 * np.arange(3.0) * s, rtol=1e-12)
    assert len(result["got"]) == len(values) and result["replays"] >= 1, result  # (the last call repeats one)


_NESTED = r"""
import numpy as np, autograd_lite as ag
from autograd_lite import compile_key
def f(x, s):
    return ag.sum(x * x) * len(s)
x = ag.Tensor(np.arange(3.0))
step = ag.compile(f)
s = "{0:" * 1500 + "}" * 1500
print(float(step(x, s).data), float(step(x, s).data), "__dict__" in compile_key.MENTIONED)
"""


def test_deeply_nested_format_specs_key_every_attribute_instead_of_crashing():
    value, again, every = _python(_NESTED).split()
    assert float(value) == float(again) == 5.0 * 6000 and every == "True"  # (len(s) = 6000)


def test_format_fields_nested_three_deep_are_those_string_formatter_reads():
    import string

    from autograd_lite.compile_key import _format_attributes

    class Logged(string.Formatter):  # (the oracle: the fields string.Formatter itself reads)
        def get_field(self, field_name, args, kwargs):
            log.append(field_name.partition(".")[2])
            return "", field_name

    log = []
    with pytest.raises(ValueError, match="recursion"):  # (after reading three fields deep)
        Logged().format("{0.a:{0.b:{0.c:{0.d}}}}")
    assert sorted(_format_attributes("{0.a:{0.b:{0.c}}}")) == sorted(log) == ["a", "b", "c"]
    assert "__dict__" in _format_attributes("{0.a:{0.b:{0.c:{0.d}}}}")  # (deeper: every attribute keys)


_LEAK = r"""
import gc, tracemalloc, warnings, numpy as np, autograd_lite as ag
from autograd_lite import compile_key
warnings.simplefilter("ignore")
def f(x, tag):
    return ag.sum(x * x)
step = ag.compile(f, max_traces=8)
x = ag.Tensor(np.arange(3.0), requires_grad=True)
tracemalloc.start(); gc.collect(); before = tracemalloc.get_traced_memory()[0]
for i in range(600):
    step(x, "fixed"); step(x, "fixed")
    step(x, ("record %06d {0.attr_in_log} " % i) + "x" * 10_000)
gc.collect()
print(tracemalloc.get_traced_memory()[0] - before, "attr_in_log" in compile_key.MENTIONED)
"""


def test_long_strings_a_compiled_call_saw_are_not_kept_for_good():
    grown, field = _python(_LEAK).split()
    # 600 distinct 10 kB texts (6 MB) were passed; the 8 traces kept may hold 8 of them (80 kB)
    assert int(grown) < 1_000_000 and field == "True"  # (a long format string's field is still a name)
