"""``ag.compile``: record a function's ops once, then replay them without the graph.

::

    step = ag.compile(cost_fn)          # or @ag.compile
    cost = step(params, X, Y)           # like cost_fn(params, X, Y): a Tensor ...
    cost.backward()                     # ... whose backward() fills every .grad
    print(step.source)                  # what is replayed

The first call with a given key runs ``fn`` eagerly while a ``Tracer`` (this
thread only) notes every primitive it calls. From that list two straight-line
functions are generated (``step.generated``): the forward calls each
primitive's own ``forward``, the backward its own VJPs in reverse, through the
engine's one gradient check (``conform.conform``). No rule is written twice, and
every check inside a forward runs on every replay; what is saved is the
bookkeeping (no Tensor per step, no graph, no heap).

A replay is exact or it does not happen:

- Arguments that are Tensors or arrays are inputs, read (and converted) on
  every call. Other arguments are static and key the trace: numbers and
  strings by value; containers by the identity of the Tensors and arrays in
  them, so replacing ``params["W1"]`` traces again. Tensors and arrays in the
  function's closure, the globals it names and its bound object key it too.
- Tensors reached that way are read by identity on every replay.
- Comparisons (``x > 0``), ``where`` conditions, boolean-mask indices,
  ``Tensor(x)``, ``x.detach()`` and conversions of arrays are steps of the
  replay, recomputed every time; dropout masks are drawn afresh, in order.
- Every value the function read out of the graph while tracing (``float(t)``,
  ``t.item()``, ``bool(x > 0)``, ``t.data``) is a guard: a replay computes it
  again, and if it differs, or any step's output changes shape or dtype, the
  call runs eagerly and records a new trace instead.

In anomaly mode, and inside ``ag.grad`` (higher order), the function runs
eagerly. Replays keep no shared buffers, so any number of threads may call one
compiled function at once, and each result can backward at any time.
"""
import builtins
import re
import threading
from collections import OrderedDict

import numpy as np

from . import tape
from .conform import conform
from .errors import GraphError
from .modes import current
from .primitive import Primitive
from .tensor import Tensor, as_tensor
from .tracer import Slot, Tracer, as_input, call_key, reachable

__all__ = ["compile", "CompiledFunction"]


def compile(fn=None, *, max_traces=8):
    """Compile ``fn(*args, **kwargs) -> Tensor`` into a replayed tape.

    Args:
        fn: function of Tensors/arrays (and static values) returning one Tensor.
        max_traces: how many traces to keep (the least recently used is dropped).
    Returns:
        a ``CompiledFunction``, called exactly like ``fn``; also usable as ``@ag.compile``
        or ``@ag.compile(max_traces=...)``.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, max_traces)
    return CompiledFunction(fn, max_traces)


class _Retrace(Exception):
    """A guard, shape or dtype of this call differs from the trace's."""


class CompiledFunction:
    """``fn`` with a replayed trace per key (see the module docstring).

    Attributes:
        fn: the original function (``step.fn(*args)`` runs it eagerly).
        recordings: how many times ``fn`` was traced so far.
        source: the steps of the most recent trace, one line each.
        generated: the Python source replayed for the most recent trace.
    """

    def __init__(self, fn, max_traces=8):
        if not callable(fn):
            raise TypeError(f"ag.compile: expected a function, got {type(fn).__name__}")
        if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 1:
            raise ValueError(f"ag.compile: max_traces must be an int >= 1, got {max_traces!r}")
        self.fn, self.max_traces, self.recordings = fn, max_traces, 0
        self.__name__ = getattr(fn, "__name__", "fn")
        self.__doc__ = getattr(fn, "__doc__", None)
        self._traces, self._lock, self._latest = OrderedDict(), threading.Lock(), None
        self._reached = reachable(fn)

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    source = property(lambda self: self._latest.source() if self._latest else "(not traced yet)")
    generated = property(lambda self: self._latest.generated if self._latest else "(not traced yet)")

    def __call__(self, *args, **kwargs):
        if current().anomaly or current().grad_depth or current().tracer is not None:  # eagerly, arrays as Tensors
            return self.fn(*[as_input(a) for a in args], **{k: as_input(v) for k, v in kwargs.items()})
        key = (call_key(args, kwargs), self._reached())
        with self._lock:
            trace = self._traces.get(key)
            if trace is not None:
                self._traces.move_to_end(key)
        if trace is not None:
            try:
                return trace.replay(args, kwargs)
            except _Retrace:
                pass
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        tracer = Tracer()
        args = [tracer.input(a) for a in args]
        kwargs = {k: tracer.input(v) for k, v in sorted(kwargs.items())}
        current().tracer = tracer
        try:
            out = self.fn(*args, **kwargs)
        finally:
            current().tracer = None
        if not isinstance(out, Tensor):
            raise TypeError(f"ag.compile({self.__name__}): the function must return one Tensor, "
                            f"got {type(out).__name__}")
        trace = _Trace(self.__name__, tracer, out)
        with self._lock:
            self.recordings += 1
            self._traces[key], self._latest = trace, trace
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)
        return out


class _Trace:
    """One recorded call, replayable: its steps, guards, inputs and captured tensors, and
    the two functions generated from them (``_generate``)."""

    def __init__(self, name, tracer, out):
        self.steps, self.inputs, self.captured = tracer.steps, tracer.inputs, tracer.captured
        self.constants, self.guards = tracer.constants, {}
        for slot, value in tracer.guards:
            self.guards.setdefault(slot, []).append(value)
        self.out_slot, self.size = tracer.ref(out), len(tracer.keep)
        self.source_slots = tracer.inputs + [c[0] for c in tracer.captured]
        self.guarded_sources = [slot for slot in self.source_slots if slot in self.guards]
        self.node = _Replayed(f"compiled {name}", self)
        # slots whose value depends on a source that requires grad: only their steps get a backward
        self.differentiable = {slot for slot in self.source_slots if tracer.keep[slot].requires_grad}
        for prim, refs, _, out_slot, _, _ in self.steps:
            if isinstance(prim, Primitive) and any(r in self.differentiable for r in refs):
                self.differentiable.add(out_slot)
        self.generated, names = _generate(self)
        traced = [np.asarray(getattr(v, "_data", v)) for v in tracer.keep]  # each slot's value when traced
        namespace = dict(_RUNTIME, **names, trace=self, shapes=[v.shape for v in traced],
                         dtypes=[v.dtype for v in traced])
        exec(builtins.compile(self.generated, f"<ag.compile {name}>", "exec"), namespace)
        self.forward, self.backward = namespace["forward"], namespace["backward"]

    def source(self):
        lines = [f"s{slot} = input" for slot in self.inputs]
        lines += [f"s{slot} = captured {t.name or 'tensor'} {shape}" for slot, t, shape, _, _ in self.captured]
        for prim, refs, params, out_slot, shape, dtype in self.steps:
            extras = "".join(f", {k}=s{v}" if isinstance(v, Slot) else f", {k}=..." for k, v in params.items())
            lines.append(f"s{out_slot} = {prim.name}({', '.join(f's{r}' for r in refs)}{extras})  # {shape} {dtype}")
        return "\n".join(lines + [f"return s{self.out_slot}"])

    def replay(self, args, kwargs):
        values = [None] * self.size
        given = [v for v in list(args) + [v for _, v in sorted(kwargs.items())] if isinstance(v, (Tensor, np.ndarray))]
        sources = [as_tensor(value) for value in given]
        for slot, t in zip(self.inputs, sources):
            values[slot] = t._data
        for slot, t, shape, dtype, requires_grad in self.captured:
            if t._data.shape != shape or t._data.dtype != dtype or t.requires_grad != requires_grad:
                raise _Retrace
            values[slot] = t._data
            sources.append(t)
        for slot, value in self.constants:
            values[slot] = value
        for slot in self.guarded_sources:
            self.check_guards(slot, values[slot])
        out = Tensor._wrap(np.array(self.forward(values)))
        if current().grad_enabled and self.differentiable:
            out.requires_grad, out._prim, out._parents = True, self.node, tuple(sources)
            out._params, out._epoch = {"values": values}, tape.clock.now
        return out

    def check_guards(self, slot, value):
        for expected in self.guards.get(slot, ()):
            if not np.array_equal(value, expected, equal_nan=True):
                raise _Retrace


def _resolve(value, values):
    """A step's parameter, with the parts that refer to traced values (``Slot``) read."""
    if type(value) is Slot:
        return values[value]
    return tuple(_resolve(v, values) for v in value) if type(value) is tuple else value


_RUNTIME = {"ndarray": np.ndarray, "generic": np.generic, "asarray": np.asarray, "Retrace": _Retrace,
            "resolve": _resolve, "conform": conform}


def _generate(trace):
    """The trace as Python source of two straight-line functions, and the names it uses.
    ``forward(values)`` fills the slot values step by step, calling each primitive's own
    forward and checking the shape and dtype it gave when traced; ``backward(g, values)``
    calls each primitive's own VJPs in reverse, with the engine's gradient check, and
    returns the sources' gradients."""
    names, forward, backward = {}, ["def forward(values):"], []
    for k, (prim, refs, params, out, shape, dtype) in enumerate(trace.steps):
        op = f"op{k}_" + re.sub(r"\W", "_", prim.name)  # a valid identifier for any op's name
        names.update({op: prim, f"{op}_forward": prim.forward, f"{op}_dtype": dtype})
        names.update({f"{op}_{key}": value for key, value in params.items()})
        args = "".join(f"values[{r}], " for r in refs)
        kw = "".join(f"{key}=resolve({op}_{key}, values), " if _has_slot(v) else f"{key}={op}_{key}, "
                     for key, v in params.items())
        forward += [f"    v = {op}_forward({args}{kw})",
                    "    if type(v) is not ndarray and not isinstance(v, generic):",
                    "        v = asarray(v)",
                    f"    if v.shape != {shape!r} or v.dtype != {op}_dtype:",
                    "        raise Retrace",
                    f"    values[{out}] = v"]
        if out in trace.guards:
            forward.append(f"    trace.check_guards({out}, v)")
        if out not in trace.differentiable:
            continue
        wanted = [r in trace.differentiable for r in refs]
        block = [f"    if g{out} is not None:", f"        out = values[{out}]"]
        all_at_once = prim.vjp_all is not None or any(  # apply_vjps also names a missing VJP
            w and (i >= len(prim.vjps) or prim.vjps[i] is None) for i, w in enumerate(wanted))
        if all_at_once:
            block.append(f"        gs = {op}.apply_vjps(g{out}, out, [{args}], dict({kw}), {wanted})")
        for i, r in enumerate(refs):
            if wanted[i]:
                if not all_at_once:
                    names[f"{op}_vjp{i}"] = prim.vjps[i]
                block += [f"        gi = gs[{i}]" if all_at_once else f"        gi = {op}_vjp{i}(g{out}, out, {args}{kw})",
                          "        if gi is not None:",
                          f"            if type(gi) is not ndarray or gi.shape != shapes[{r}] or gi.dtype != dtypes[{r}]:",
                          f"                gi = conform(gi, values[{r}], {op}, {i})",
                          f"            g{r} = gi if g{r} is None else g{r} + gi"]
        backward[:0] = block  # reverse order: consumers before producers
    forward.append(f"    return values[{trace.out_slot}]")
    start = [f"    g{slot} = None" for slot in sorted(trace.differentiable - {trace.out_slot})]
    result = ", ".join(f"g{slot}" if slot in trace.differentiable else "None" for slot in trace.source_slots)
    backward = ["def backward(g, values):"] + start + [f"    g{trace.out_slot} = g"] + backward
    return "\n".join(forward + [""] + backward + [f"    return [{result}]", ""]), names


def _has_slot(value):
    return type(value) is Slot or type(value) is tuple and any(_has_slot(v) for v in value)


class _Replayed(Primitive):
    """The one node a replayed result has: its inputs are the trace's sources."""

    def __init__(self, name, trace):
        super().__init__(lambda *sources: None, name)
        self.trace = trace

    def input_grads(self, g, out, parents, params, higher):
        if higher:
            raise GraphError(f"{self.name}: a replayed result gives first-order gradients only; call the "
                             "function itself (step.fn) for higher-order ones")
        return self.trace.backward(g, params["values"])
