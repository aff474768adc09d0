"""Recording a call for ``ag.compile`` (see ``replay.py``): the ``Tracer`` that the engine
notifies of every primitive call, comparison, copy and value read while a function runs.

Each value the call touches gets a slot: inputs, tensors captured from outside (read by
identity), constants, and the output of every step. A step is (function, argument slots,
parameters, output slot, traced shape, traced dtype); comparisons (``x > 0``) and
conversions (``Tensor(x)``, ``x.detach()``, an array made float) are steps too, so a replay
recomputes them. A value read out of the graph (``float(t)``, ``bool(x > 0)``, ``t.data``)
becomes a guard: the replay checks it is unchanged. ``call_key`` and ``reachable`` say
which traced call a new call may replay.
"""
import types

import numpy as np

from . import tape
from .convert import to_float_array
from .modes import current
from .tensor import Tensor, as_tensor


class Tracer:
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
        """An argument of the traced call: arrays and Tensors get a slot, read on every replay."""
        if not isinstance(value, (Tensor, np.ndarray)):
            return value
        t = as_input(value)
        self.inputs.append(self._new_slot(t))
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
        return value if slot is None else Slot(slot)

    def copy_of(self, source, t):
        """``t`` (a new Tensor) was made from ``source``: a step converts it on every replay."""
        convert = _Conversion(t.dtype)
        self.steps.append((convert, [self.ref(source)], {}, self._new_slot(t), t.shape, t.dtype))

    def comparison(self, ufunc, a, b, result):
        refs = [self.ref(v) if isinstance(v, (Tensor, np.ndarray)) else self.ref(np.asarray(v)) for v in (a, b)]
        result = np.asarray(result).view(TracedBools)  # 0-d too: `if x > 0:` must become a guard
        self.steps.append((_Comparison(ufunc), refs, {}, self._new_slot(result), np.shape(result),
                           np.asarray(result).dtype))
        return result

    def guard(self, t):
        slot = self.slots.get(id(t))
        if slot is not None and all(slot != s for s, _ in self.constants):
            self.guards.append((slot, np.array(t._data if isinstance(t, Tensor) else t)))


class Slot(int):
    """A parameter that refers to a traced value (e.g. a boolean-mask index)."""


class TracedBools(np.ndarray):
    """A comparison's result while tracing: Python branching on it becomes a guard."""

    def __bool__(self):
        if current().tracer is not None:
            current().tracer.guard(self)
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


def as_input(value):
    """An argument as the traced function sees it: arrays become (constant) Tensors."""
    return as_tensor(value) if isinstance(value, np.ndarray) else value


def call_key(args, kwargs):
    """Hashable key of a call: shapes and dtypes of inputs, values or identities of the rest."""
    key = tuple([describe(a, True) for a in args])
    return key + tuple([(k, describe(v, True)) for k, v in sorted(kwargs.items())]) if kwargs else key


def describe(value, top=False, depth=0):
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
        return (kind, None if top else id(value), tuple([  # (a tensor in a container: its identity, inline)
            (k, id(v) if type(v) is Tensor else describe(v, False, depth + 1)) for k, v in items]))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("id", id(value)) if isinstance(value, (types.FunctionType, np.random.Generator)) else (kind, value)


def reachable(fn):
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
        return tuple([describe(v) for v in found if isinstance(v, kinds)])
    return reached
