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
import builtins
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
        self._reached = _reachable(fn)

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    @property
    def source(self):
        return self._latest.source() if self._latest else "(not traced yet)"

    def __call__(self, *args, **kwargs):
        if state.anomaly or state.grad_depth or state.tracer is not None:  # eagerly, arrays as Tensors
            return self.fn(*[_as_input(a) for a in args], **{k: _as_input(v) for k, v in kwargs.items()})
        key = (_key(args, kwargs), self._reached())
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
            self.captured.append((slot, value, value.shape, value.dtype, value.requires_grad))
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
    """One recorded call, replayable: its steps, guards, inputs and captured tensors, and
    the two functions generated from them (``_generate``)."""

    def __init__(self, name, tracer, out):
        self.steps, self.inputs, self.captured = tracer.steps, tracer.inputs, tracer.captured
        self.constants, self.guards = tracer.constants, {}
        for slot, value in tracer.guards:
            self.guards.setdefault(slot, []).append(value)
        self.out_slot, self.size = tracer.ref(out), len(tracer.keep)
        self.source_slots = [slot for slot, _ in tracer.inputs] + [c[0] for c in tracer.captured]
        self.guarded_sources = [slot for slot in self.source_slots if slot in self.guards]
        self.node = _Replayed(f"compiled {name}", self)
        # slots whose value depends on a source that requires grad: only their steps get a backward
        self.differentiable = {slot for slot in self.source_slots if tracer.keep[slot].requires_grad}
        for prim, refs, _, out_slot, _, _ in self.steps:
            if isinstance(prim, Primitive) and any(r in self.differentiable for r in refs):
                self.differentiable.add(out_slot)
        self.generated = _generate(self)
        traced = [np.asarray(getattr(v, "_data", v)) for v in tracer.keep]  # each slot's value when traced
        namespace = dict(_RUNTIME, trace=self, steps=self.steps, shapes=[v.shape for v in traced],
                         dtypes=[v.dtype for v in traced])
        exec(builtins.compile(self.generated, f"<ag.compile {name}>", "exec"), namespace)
        self.forward, self.backward = namespace["forward"], namespace["backward"]

    def source(self):
        lines = [f"s{slot} = input" for slot, _ in self.inputs]
        lines += [f"s{slot} = captured {t.name or 'tensor'} {shape}" for slot, t, shape, _, _ in self.captured]
        for prim, refs, params, out_slot, shape, dtype in self.steps:
            extras = "".join(f", {k}=s{v}" if isinstance(v, _Slot) else f", {k}=..." for k, v in params.items())
            lines.append(f"s{out_slot} = {prim.name}({', '.join(f's{r}' for r in refs)}{extras})  # {shape} {dtype}")
        return "\n".join(lines + [f"return s{self.out_slot}"])

    def replay(self, args, kwargs):
        values = [None] * self.size
        given = [v for v in list(args) + [v for _, v in sorted(kwargs.items())] if isinstance(v, (Tensor, np.ndarray))]
        sources = [as_tensor(value) for value in given]
        for (slot, _), t in zip(self.inputs, sources):
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
        if state.grad_enabled and self.differentiable:
            out.requires_grad, out._prim, out._parents = True, self.node, tuple(sources)
            out._params, out._epoch = {"values": values}, tape.clock.now
        return out

    def check_guards(self, slot, value):
        for expected in self.guards.get(slot, ()):
            if not np.array_equal(value, expected, equal_nan=True):
                raise _Retrace


def _resolve(value, values):
    """A step's parameter, with the parts that refer to traced values (``_Slot``) read."""
    if type(value) is _Slot:
        return values[value]
    return tuple(_resolve(v, values) for v in value) if type(value) is tuple else value


_RUNTIME = {"ndarray": np.ndarray, "generic": np.generic, "asarray": np.asarray, "Retrace": _Retrace,
            "resolve": _resolve, "conform": tape.conform}


def _generate(trace):
    """The trace as Python source of two straight-line functions. ``forward(values)`` fills
    the slot values step by step, calling each primitive's own forward and checking the
    shape and dtype it gave when traced; ``backward(g, values)`` calls each primitive's own
    VJPs in reverse, with the engine's gradient check, and returns the sources' gradients."""
    forward, backward = ["def forward(values):"], []
    for k, (prim, refs, params, out, shape, dtype) in enumerate(trace.steps):
        step = f"steps[{k}]"
        args = "".join(f"values[{r}], " for r in refs)
        kw = "".join(f"{name}=resolve({step}[2][{name!r}], values), " if _has_slot(v) else
                     f"{name}={step}[2][{name!r}], " for name, v in params.items())
        forward += [f"    v = {step}[0].forward({args}{kw})",
                    "    if type(v) is not ndarray and not isinstance(v, generic):",
                    "        v = asarray(v)",
                    f"    if v.shape != {shape!r} or v.dtype != {step}[5]:",
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
            block.append(f"        gs = {step}[0].apply_vjps(g{out}, out, [{args}], dict({kw}), {wanted})")
        for i, r in enumerate(refs):
            if wanted[i]:
                block += [f"        gi = gs[{i}]" if all_at_once else
                          f"        gi = {step}[0].vjps[{i}](g{out}, out, {args}{kw})",
                          "        if gi is not None:",
                          f"            if type(gi) is not ndarray or gi.shape != shapes[{r}] or gi.dtype != dtypes[{r}]:",
                          f"                gi = conform(gi, values[{r}], {step}[0], {i})",
                          f"            g{r} = gi if g{r} is None else g{r} + gi"]
        backward[:0] = block  # reverse order: consumers before producers
    forward.append(f"    return values[{trace.out_slot}]")
    start = [f"    g{slot} = None" for slot in sorted(trace.differentiable - {trace.out_slot})]
    result = ", ".join(f"g{slot}" if slot in trace.differentiable else "None" for slot in trace.source_slots)
    backward = ["def backward(g, values):"] + start + [f"    g{trace.out_slot} = g"] + backward
    return "\n".join(forward + [""] + backward + [f"    return [{result}]", ""])


def _has_slot(value):
    return type(value) is _Slot or type(value) is tuple and any(_has_slot(v) for v in value)


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


def _as_input(value):
    return as_tensor(value) if isinstance(value, np.ndarray) else value


def _key(args, kwargs):
    """Hashable key of a call: shapes and dtypes of inputs, values or identities of the rest."""
    key = tuple([_describe(a, True) for a in args])
    return key + tuple([(k, _describe(v, True)) for k, v in sorted(kwargs.items())]) if kwargs else key


def _describe(value, top=False, depth=0):
    kind = type(value)
    if kind is float or kind is int or kind is bool or kind is str or value is None:
        return (kind, value)  # by type too: 1, 1.0 and True are equal keys otherwise
    if isinstance(value, (Tensor, np.ndarray)):  # an input by its signature, else by identity (a
        if not top:                                # captured tensor's shape, dtype and requires_grad
            return id(value)                       # are checked on every replay)
        if kind is np.ndarray:
            return ("A", value.shape, value.dtype)
        return ("T", value._data.shape, value._data.dtype, value.requires_grad)
    if (kind is dict or kind is list or kind is tuple) and depth < 4:
        items = value.items() if kind is dict else enumerate(value)
        return (kind, None if top else id(value), tuple([(k, _describe(v, False, depth + 1)) for k, v in items]))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("id", id(value)) if isinstance(value, (types.FunctionType, np.random.Generator)) else (kind, value)


def _reachable(fn):
    """A function listing what ``fn`` reaches besides its arguments: its closure cells, default
    values, the globals it names, and the object a bound method belongs to (Tensors, arrays,
    containers)."""
    owner = getattr(fn, "__self__", None)
    fn = getattr(fn, "__func__", fn)
    cells = getattr(fn, "__closure__", None) or ()
    defaults = (getattr(fn, "__defaults__", None) or ()) + tuple((getattr(fn, "__kwdefaults__", None) or {}).values())
    code, names = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    global_names = code.co_names if code is not None else ()
    kinds = (Tensor, np.ndarray, dict, list, tuple)

    def reached():
        found = [v for v in vars(owner).values() if isinstance(v, kinds)] if owner is not None else []
        found += defaults
        for cell in cells:
            try:
                found.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        found += [names[n] for n in global_names if isinstance(names.get(n), kinds)]
        return tuple([_describe(v) for v in found if isinstance(v, kinds)])
    return reached
