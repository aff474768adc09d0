"""``ag.compile``: record a function's ops once, then replay them without the graph.

::

    step = ag.compile(cost_fn)          # or @ag.compile
    cost = step(params, X, Y)           # like cost_fn(params, X, Y): a Tensor ...
    cost.backward()                     # ... whose backward() fills every .grad
    print(step.source)                  # what is replayed

The first call with a given key (``compile_key.py``: argument shapes, grad mode, and
what the function reaches, by value or identity) runs ``fn`` eagerly while a ``Tracer``
(this thread only) notes every primitive it calls. From that list two straight-line
functions are generated (``step.generated``): the forward calls each primitive's own
``forward``, the backward its own VJPs in reverse, through the engine's one gradient
check (``conform.conform``). No rule is written twice, and every check inside a forward
runs on every replay; what is saved is the bookkeeping (no Tensor per step, no graph).

A replay is exact or it does not happen: inputs are read and converted on every call,
tensors from outside by identity; comparisons, NumPy on their results, conversions and
dropout masks are recomputed; values read out of the graph while tracing are guards,
and a changed guard, shape or dtype makes the call trace anew; what a replay could not
repeat (``Tracer.why_not_replayable``) makes it run eagerly, with a ``RuntimeWarning``.
In anomaly mode and inside ``ag.grad`` the function runs eagerly. Replays keep no shared
buffers, so threads may call one compiled function at once, and each result can
backward at any time.
"""
import builtins
import re
import threading
import warnings
from collections import OrderedDict

import numpy as np

from . import tape
from .compile_key import call_key, reachable
from .conform import conform
from .errors import GraphError
from .modes import current
from .primitive import Primitive
from .tensor import Tensor, as_tensor
from .tracer import Slot, Tracer, as_input

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
        self.__name__, self.__doc__ = getattr(fn, "__name__", "fn"), getattr(fn, "__doc__", None)
        self._traces, self._lock, self._latest, self._recent = OrderedDict(), threading.Lock(), None, None
        self._reached = reachable(fn)

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    source = property(lambda self: self._latest.listing if self._latest else "(not traced yet)")
    generated = property(lambda self: self._latest.generated if self._latest else "(not traced yet)")

    def __call__(self, *args, **kwargs):
        state = current()
        if state.anomaly or state.grad_depth or state.tracer is not None:
            return _Eager(self.fn).replay(args, kwargs, state)
        key = (call_key(args, kwargs), self._reached(), state.grad_enabled)
        trace = self._traces.get(key)  # (one lookup is atomic; reordering takes the lock)
        if trace is not None and trace is not self._recent:  # _recent's key is already the last
            with self._lock:
                if key in self._traces:
                    self._traces.move_to_end(key)
                    self._recent = trace
        if trace is not None:
            try:
                return trace.replay(args, kwargs, state)
            except _Retrace:
                pass
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        # What fn reaches is found again now: helpers it calls may have been defined (or
        # rebound) since compile(). ``seen``: the ids of what the key holds by identity.
        seen, values, self._reached = set(), [*args, *kwargs.values()], reachable(self.fn)
        key, tracer = (key[0], self._reached(seen, values), key[2]), Tracer()
        out, where, reason = tracer.run(self.fn, self.__name__, args, kwargs, seen, values)
        trace = _Trace(self.__name__, tracer, out, where) if reason is None else _Eager(self.fn)
        if reason is not None:
            warnings.warn(f"ag.compile({self.__name__}): the function {reason}; calls like this one run "
                          "it eagerly", RuntimeWarning, stacklevel=3)
        with self._lock:
            self.recordings += 1
            self._traces[key], self._recent = trace, trace
            self._latest = trace if reason is None else self._latest
            self._traces.move_to_end(key)  # (a key traced again keeps its place otherwise)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)
        return out


class _Eager:
    """Stands for a trace where there is none to replay: the function runs eagerly, arrays
    among its arguments as Tensors."""

    def __init__(self, fn):
        self.fn = fn

    def replay(self, args, kwargs, state):
        return self.fn(*[as_input(a) for a in args], **{k: as_input(v) for k, v in kwargs.items()})


class _Trace:
    """One recorded call, replayable: its steps, guards, inputs (``where``: their positions
    or keywords in the call) and captured tensors, and the two functions generated from
    them (``_generate``)."""

    def __init__(self, name, tracer, out, where):
        self.steps, self.inputs, self.captured = tracer.steps, tracer.inputs, tracer.captured
        self.constants, self.where, self.aliases = tracer.constants, where, tracer.aliases
        self.pinned = {slot: tracer.keep[slot] for slot in tracer.pinned}
        self.guards = {slot: [v for s, v in tracer.guards if s == slot] for slot, _ in tracer.guards}
        self.out_slot = tracer.ref(out)
        self.source_slots = tracer.inputs + [c[0] for c in tracer.captured]
        self.node, self.listing = _Replayed(f"compiled {name}", self), tracer.listing(self.out_slot)
        self.differentiable = tracer.differentiable(self.source_slots)  # only their steps get a backward
        self.grad = self.out_slot in self.differentiable  # as eager: the result requires grad or not
        self.generated, names = _generate(self, [np.asarray(getattr(v, "_data", v)) for v in tracer.keep])
        namespace = dict(_RUNTIME, **names)
        exec(builtins.compile(self.generated, f"<ag.compile {name}>", "exec"), namespace)
        self.forward, self.backward = namespace["forward"], namespace["backward"]

    def replay(self, args, kwargs, state):
        value, sources, saved = self.forward(args, kwargs)
        out = Tensor._wrap(np.array(value), state.scope)
        if self.grad and state.grad_enabled:
            out.requires_grad, out._prim, out._parents = True, self.node, sources
            out._params, out._epoch = {"values": saved}, tape.clock.now
        return out


# A step's results of these types are used as they are (NumPy scalars too); others are made arrays
_SHAPED = frozenset([np.ndarray, *[t for t in np.sctypeDict.values() if issubclass(t, np.generic)]])
_RUNTIME = {"shaped": _SHAPED, "generic": np.generic, "asarray": np.asarray, "as_tensor": as_tensor,
            "Retrace": _Retrace, "array_equal": np.array_equal, "conform": conform}


def _generate(trace, traced):
    """The trace as Python source of two straight-line functions, and the names it uses.
    ``forward(args, kwargs)`` reads the sources, calls each primitive's own forward and checks the
    shape and dtype it gave when traced; it returns (result, source Tensors, the values the
    backward needs). ``backward(g, *saved)`` calls each primitive's own VJPs in reverse, with the
    engine's gradient check, and returns the sources' gradients. Slot 3's value is the local
    ``s3`` (``k3`` if a constant), its gradient ``g3``; ``traced[3]`` its value when traced."""
    constant = {slot for slot, _ in trace.constants}
    names = {f"k{slot}": value for slot, value in trace.constants}
    name = lambda r: f"k{r}" if r in constant else f"s{r}"
    calls = []  # per step: its op's name, arguments as source (all, positional, keywords), slots read
    for k, (prim, refs, params, out, shape, dtype) in enumerate(trace.steps):
        op, used = f"op{k}_" + re.sub(r"\W", "_", prim.name), set(refs)  # an identifier for any name
        names.update({op: prim, f"{op}_forward": prim.forward, f"dtype{out}": dtype})
        listed = ", ".join(map(name, refs))
        kw = ", ".join(f"{key}={_expr(v, f'{op}_{key}', name, names, used)}" for key, v in params.items())
        calls.append((op, ", ".join(filter(None, (listed, kw))), listed, kw, used - constant))
    backward, saved = _backward_source(trace, calls, traced, names)
    return "\n".join(_forward_source(trace, calls, names, saved, name) + [""] + backward + [""]), names


def _forward_source(trace, calls, names, saved, name):
    """The lines of ``forward`` (see ``_generate``); ``saved``: the values it returns, as source."""
    lines = ["def forward(args, kwargs):"]
    for slot, at in zip(trace.inputs, trace.where):
        given = f"args[{at}]" if type(at) is int else f"kwargs[{at!r}]"
        lines += [f"    t{slot} = as_tensor({given})", f"    s{slot} = t{slot}._data"]
    for earlier, later in trace.aliases:  # traced as one Tensor: replayed only while they are
        lines += [f"    if t{later} is not t{earlier}:", "        raise Retrace"]
    for slot, t in trace.pinned.items():
        names[f"pinned{slot}"] = t
        lines += [f"    if t{slot} is not pinned{slot}:", "        raise Retrace"]
    for slot, t, shape, dtype, requires_grad in trace.captured:  # read by identity, as traced (or re-traced)
        names[f"t{slot}"], names[f"dtype{slot}"] = t, dtype
        held = f"t{slot}.requires_grad != {bool(requires_grad)}"
        lines += [f"    s{slot} = t{slot}._data", f"    if {_differs(f's{slot}', slot, shape)} or {held}:",
                  "        raise Retrace"]
    names.update({f"guards{slot}": expected for slot, expected in trace.guards.items()})
    guard = lambda slot: [f"    if not all(array_equal(s{slot}, e, equal_nan=True) for e in guards{slot}):",
                          "        raise Retrace"] if slot in trace.guards else []
    lines += [line for slot in trace.source_slots for line in guard(slot)]
    for (op, args, _, _, _), (_, _, _, out, shape, _) in zip(calls, trace.steps):
        lines += [f"    s{out} = {op}_forward({args})", f"    if type(s{out}) not in shaped:",
                  f"        s{out} = s{out} if isinstance(s{out}, generic) else asarray(s{out})",
                  f"    if {_differs(f's{out}', out, shape)}:", "        raise Retrace"]
        lines += guard(out)
    sources = "".join(f"t{slot}, " for slot in trace.source_slots)
    return lines + [f"    return {name(trace.out_slot)}, ({sources}), ({saved})"]


def _backward_source(trace, calls, traced, names):
    """The lines of ``backward`` (see ``_generate``), and the values it takes, as source. Only
    steps a gradient can reach get a block; a slot's later gradients are added to the first
    (any may be None: a VJP may return None)."""
    reached, blocks, saved = {trace.out_slot}, [], set()
    for (op, args, listed, kw, used), (prim, refs, _, out, _, _) in zip(calls[::-1], trace.steps[::-1]):
        if out not in reached or out not in trace.differentiable:
            continue
        saved |= used | {out}
        wanted = tuple(r in trace.differentiable for r in refs)
        all_at_once = prim.vjp_all is not None or any(  # apply_vjps names a missing VJP
            w and (i >= len(prim.vjps) or prim.vjps[i] is None) for i, w in enumerate(wanted))
        blocks.append(f"    if g{out} is not None:")
        if all_at_once:  # (vjp_all's result may be any iterable, as apply_vjps takes it)
            each = f"{op}.apply_vjps(g{out}, s{out}, [{listed}], dict({kw}), {wanted})"
            every = f"tuple({op}.vjp_all(g{out}, s{out}, {args}))"
            blocks.append(f"        gs = {every if prim.vjp_all is not None else each}")
        names.update({f"{op}_vjp{i}": vjp for i, vjp in enumerate(prim.vjps)})
        for i, r in ((i, r) for i, r in enumerate(refs) if wanted[i]):
            names[f"dtype{r}"] = traced[r].dtype
            x = "gi" if r in reached else f"g{r}"  # the first gradient is stored as it is
            gi = f"gs[{i}]" if all_at_once else f"{op}_vjp{i}(g{out}, s{out}, {args})"
            check = f"type({x}) not in shaped or {_differs(x, r, traced[r].shape)}"
            blocks += [f"        {x} = {gi}", f"        if {x} is not None and ({check}):",
                       f"            {x} = conform({x}, s{r}, {op}, {i})"]
            if r in reached:
                blocks += ["        if gi is not None:",
                           f"            g{r} = gi if g{r} is None else g{r} + gi"]
            reached.add(r)
    saved = "".join(f"s{r}, " for r in sorted(saved))
    result = "".join(f"g{slot}, " if slot in reached else "None, " for slot in trace.source_slots)
    inits = [f"    g{r} = None" for r in sorted(reached - {trace.out_slot})]
    return [f"def backward(g{trace.out_slot}, {saved}):", *inits, *blocks, f"    return [{result}]"], saved


def _differs(x, slot, shape):
    """Source testing that ``x``'s shape or dtype is not slot's when traced (``dtype3`` is bound)."""
    return f"{x}.shape != {shape!r} or {x}.dtype is not dtype{slot} and {x}.dtype != dtype{slot}"


def _expr(value, label, name, names, used):
    """Source of a step's parameter: a traced value (``Slot``) by its variable (noted in
    ``used``), a tuple holding one as a tuple of sources, anything else bound as ``label``."""
    if type(value) is Slot:
        used.add(value)
        return name(value)
    if type(value) is tuple and _has_slot(value):
        parts = [_expr(v, f"{label}_{j}", name, names, used) for j, v in enumerate(value)]
        return "(" + "".join(f"{part}, " for part in parts) + ")"
    names[label] = value
    return label


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
        return self.trace.backward(g, *params["values"])
