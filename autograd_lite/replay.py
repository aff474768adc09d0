"""``ag.compile``: record a function's ops once, then replay them without the graph.

::

    step = ag.compile(cost_fn)          # or @ag.compile
    cost = step(params, X, Y)           # like cost_fn(params, X, Y): a Tensor ...
    cost.backward()                     # ... whose backward() fills every .grad
    print(step.source)                  # what is replayed

The first call with a given key runs ``fn`` eagerly while a tracer notes every
primitive it calls (in this thread only). Later calls replay that list: each
step calls the primitive's own ``forward`` on the current arrays, and
``backward()`` calls the primitive's own VJPs in reverse, through the engine's
one gradient check (``tape.conform``). There is no second copy of any op's
rules, and every check inside a forward runs on every replay. What the replay
saves is the bookkeeping: no Tensor per step, no graph, no heap.

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
import threading
import types
from collections import OrderedDict

import numpy as np

from . import tape
from .errors import GraphError
from .modes import state
from .primitive import Primitive
from .tensor import Tensor, as_tensor, to_float_array

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

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    @property
    def source(self):
        return self._latest.source() if self._latest else "(not traced yet)"

    def __call__(self, *args, **kwargs):
        if state.anomaly or state.grad_depth or state.tracer is not None:  # eagerly, arrays as Tensors
            return self.fn(*[_as_input(a) for a in args], **{k: _as_input(v) for k, v in kwargs.items()})
        key = (_key(args, kwargs), tuple(_describe(v) for v in _reachable(self.fn)))
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
        tracer = _Tracer()
        args = [tracer.input(a) for a in args]
        kwargs = {k: tracer.input(v) for k, v in sorted(kwargs.items())}
        state.tracer = tracer
        try:
            out = self.fn(*args, **kwargs)
        finally:
            state.tracer = None
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


class _Tracer:
    """What a traced call did: steps (function, argument references, parameters, output
    slot) in order, and the guards. A reference is a slot number; ``slots`` maps the
    id of every traced Tensor or array to its slot (``keep`` keeps them alive)."""

    def __init__(self):
        self.slots, self.keep, self.steps, self.guards = {}, [], [], []
        self.inputs, self.captured, self.constants = [], [], []
        self.start = tape.next_seq()  # tensors made later (lower numbers) are the function's own

    def _new_slot(self, obj):
        self.keep.append(obj)
        self.slots[id(obj)] = slot = len(self.keep) - 1
        return slot

    def input(self, value):
        if not isinstance(value, (Tensor, np.ndarray)):
            return value
        t = _as_input(value)
        self.inputs.append((self._new_slot(t), value.dtype if isinstance(value, np.ndarray) else None))
        return t

    def ref(self, value):
        """The slot of a step's argument, making one for what the trace has not seen."""
        slot = self.slots.get(id(value))
        if slot is not None:
            return slot
        if isinstance(value, Tensor) and value._seq > self.start:  # made before the call: read by identity
            slot = self._new_slot(value)
            self.captured.append((slot, value, value.shape, value.dtype))
            return slot
        slot = self._new_slot(value)
        self.constants.append((slot, value._data if isinstance(value, Tensor) else value))
        return slot

    def record(self, prim, out, parents, params, args=()):
        refs = []
        for i, p in enumerate(parents):
            source = args[i] if i < len(args) and args[i] is not p else None
            if source is not None and id(p) not in self.slots and isinstance(source, (np.ndarray, Tensor)):
                self.copy_of(source, p)  # an array converted on the way in: convert it on every replay
            refs.append(self.ref(p))
        params = {k: self._param_ref(v) for k, v in params.items()}
        self.steps.append((prim, refs, params, self._new_slot(out), out.shape, out.dtype))

    def _param_ref(self, value):
        if isinstance(value, tuple):
            return tuple(self._param_ref(v) for v in value)
        slot = self.slots.get(id(value)) if isinstance(value, np.ndarray) else None
        return value if slot is None else _Slot(slot)

    def copy_of(self, source, t):
        """``t`` (a new Tensor) was made from ``source``: a step converts it on every replay."""
        convert = _Conversion(t.dtype)
        self.steps.append((convert, [self.ref(source)], {}, self._new_slot(t), t.shape, t.dtype))

    def comparison(self, ufunc, a, b, result):
        refs = [self.ref(v) if isinstance(v, (Tensor, np.ndarray)) else self.ref(np.asarray(v)) for v in (a, b)]
        result = np.asarray(result).view(_TracedBools)  # 0-d too: `if x > 0:` must become a guard
        self.steps.append((_Comparison(ufunc), refs, {}, self._new_slot(result), np.shape(result),
                           np.asarray(result).dtype))
        return result

    def guard(self, t):
        slot = self.slots.get(id(t))
        if slot is not None and all(slot != s for s, _ in self.constants):
            self.guards.append((slot, np.array(t._data if isinstance(t, Tensor) else t)))


class _Slot(int):
    """A parameter that refers to a traced value (e.g. a boolean-mask index)."""


class _TracedBools(np.ndarray):
    """A comparison's result while tracing: Python branching on it becomes a guard."""

    def __bool__(self):
        if state.tracer is not None:
            state.tracer.guard(self)
        return bool(self.view(np.ndarray))


class _Conversion:
    """A replay step: an array or Tensor made into a float array of ``dtype``."""

    def __init__(self, dtype):
        self.dtype, self.name, self.vjps, self.vjp_all = dtype, "convert", (), None

    def forward(self, value):
        array = to_float_array(value, copy=False)
        return array if array.dtype == self.dtype else array.astype(self.dtype)


class _Comparison:
    def __init__(self, ufunc):
        self.forward, self.name, self.vjps, self.vjp_all = ufunc, ufunc.__name__, (), None


class _Trace:
    """One recorded call, replayable: its steps, guards, inputs and captured tensors."""

    def __init__(self, name, tracer, out):
        self.steps, self.inputs, self.captured = tracer.steps, tracer.inputs, tracer.captured
        self.constants, self.size = tracer.constants, len(tracer.keep)
        self.guards = {}
        for slot, value in tracer.guards:
            self.guards.setdefault(slot, []).append(value)
        self.out_slot = tracer.ref(out)
        self.size = len(tracer.keep)
        self.source_slots = [slot for slot, _ in tracer.inputs] + [c[0] for c in tracer.captured]
        self.node = _Replayed(f"compiled {name}", self)
        # slots whose value depends on a source that requires grad: only their steps get a backward
        self.differentiable = {slot for slot in self.source_slots if tracer.keep[slot].requires_grad}
        self.backward_steps = []
        for prim, refs, params, out_slot, _, _ in self.steps:
            wanted = [r in self.differentiable for r in refs]
            if isinstance(prim, Primitive) and any(wanted):
                self.differentiable.add(out_slot)
                self.backward_steps.append((prim, refs, params, out_slot, wanted))
        self.backward_steps.reverse()
        self.guarded_sources = [slot for slot in self.source_slots if slot in self.guards]

    def source(self):
        lines = [f"s{slot} = input" for slot, _ in self.inputs]
        lines += [f"s{slot} = captured {t.name or 'tensor'} {shape}" for slot, t, shape, _ in self.captured]
        for prim, refs, params, out_slot, shape, dtype in self.steps:
            extras = "".join(f", {k}=s{v}" if isinstance(v, _Slot) else f", {k}=..." for k, v in params.items())
            lines.append(f"s{out_slot} = {prim.name}({', '.join(f's{r}' for r in refs)}{extras})  # {shape} {dtype}")
        return "\n".join(lines + [f"return s{self.out_slot}"])

    def replay(self, args, kwargs):
        values = [None] * self.size
        given = list(args) + [v for _, v in sorted(kwargs.items())]
        given = [v for v in given if isinstance(v, (Tensor, np.ndarray))]
        sources = []
        for (slot, _), value in zip(self.inputs, given):
            t = as_tensor(value)
            values[slot] = t._data
            sources.append(t)
        for slot, t, shape, dtype in self.captured:
            if t._data.shape != shape or t._data.dtype != dtype:
                raise _Retrace
            values[slot] = t._data
            sources.append(t)
        for slot, value in self.constants:
            values[slot] = value
        for slot in self.guarded_sources:
            self._check_guards(slot, values[slot])
        for prim, refs, params, out_slot, shape, dtype in self.steps:
            value = prim.forward(*[values[r] for r in refs], **_resolve(params, values))
            if not isinstance(value, (np.ndarray, np.generic)):
                value = np.asarray(value)
            if value.shape != shape or value.dtype != dtype:
                raise _Retrace
            values[out_slot] = value
            if out_slot in self.guards:
                self._check_guards(out_slot, value)
        out = Tensor._wrap(np.array(values[self.out_slot]))
        if state.grad_enabled and self.differentiable:
            out.requires_grad, out._prim, out._parents = True, self.node, tuple(sources)
            out._params, out._epoch = {"values": values}, tape.clock.now
        return out

    def _check_guards(self, slot, value):
        for expected in self.guards.get(slot, ()):
            if not np.array_equal(value, expected, equal_nan=True):
                raise _Retrace

    def backward(self, g, values, needed):
        """The gradient of each source (inputs, then captured tensors) from the output's ``g``."""
        grads = {self.out_slot: g}
        for prim, refs, params, out_slot, wanted in self.backward_steps:
            g_out = grads.pop(out_slot, None)
            if g_out is None:
                continue
            args = [values[r] for r in refs]
            for i, gi in enumerate(prim.apply_vjps(g_out, values[out_slot], args, _resolve(params, values), wanted)):
                if gi is not None:
                    gi = tape.conform(gi, args[i], prim, i)
                    old = grads.get(refs[i])
                    grads[refs[i]] = gi if old is None else old + gi
        return [grads.get(slot) if need else None for slot, need in zip(self.source_slots, needed)]


def _resolve(params, values):
    """The step's parameters, those that refer to traced values (``_Slot``) read from ``values``."""
    for v in params.values():
        if type(v) is _Slot:
            return {k: values[v] if type(v) is _Slot else v for k, v in params.items()}
    return params


class _Replayed(Primitive):
    """The one node a replayed result has: its inputs are the trace's sources."""

    def __init__(self, name, trace):
        super().__init__(lambda *sources: None, name)
        self.trace = trace

    def input_grads(self, g, out, parents, params, higher):
        if higher:
            raise GraphError(f"{self.name}: a replayed result gives first-order gradients only; call the "
                             "function itself (step.fn) for higher-order ones")
        return self.trace.backward(g, params["values"], [p.requires_grad for p in parents])


def _as_input(value):
    return as_tensor(value) if isinstance(value, np.ndarray) else value


def _key(args, kwargs):
    """Hashable key of a call: shapes and dtypes of inputs, values or identities of the rest."""
    return tuple(_describe(a, top=True) for a in args) + tuple(
        (k, _describe(v, top=True)) for k, v in sorted(kwargs.items()))


def _describe(value, top=False, depth=0):
    if isinstance(value, Tensor):
        return ("T", None if top else id(value), value.shape, value.dtype, value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("A", None if top else id(value), value.shape, value.dtype)
    if isinstance(value, (dict, list, tuple)) and depth < 4:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return (type(value).__name__, id(value) if not top else None,
                tuple((k, _describe(v, depth=depth + 1)) for k, v in items))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value), value) if not isinstance(value, (types.FunctionType, np.random.Generator)) else ("id", id(value))


def _reachable(fn):
    """Values the function reaches besides its arguments: closure cells, the globals it
    names, and the object a bound method belongs to (Tensors, arrays and containers only)."""
    found = []
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found += [v for v in vars(owner).values() if isinstance(v, (Tensor, np.ndarray, dict, list))]
    fn = getattr(fn, "__func__", fn)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            found.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    code, names = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    if code is not None:
        found += [names[n] for n in code.co_names if isinstance(names.get(n), (Tensor, np.ndarray, dict, list))]
    return [v for v in found if isinstance(v, (Tensor, np.ndarray, dict, list, tuple))]
