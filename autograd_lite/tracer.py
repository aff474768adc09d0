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
import dis
import functools
import inspect
import itertools
import sys
import types

import numpy as np

from . import tape
from .convert import to_float_array
from .errors import GraphError
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

    def check_result(self, out, name):
        """Refuse what a replay could not reproduce: a result that is not one Tensor, or a leaf
        that requires grad made while the function ran (a replay could not fill its .grad)."""
        if not isinstance(out, Tensor):
            raise TypeError(f"ag.compile({name}): the function must return one Tensor, got {type(out).__name__}")
        for t in self.keep:
            if isinstance(t, Tensor) and t._prim is None and t.requires_grad and t._seq < self.start:
                raise GraphError(
                    f"ag.compile({name}): the function made a tensor that requires grad while it ran (shape "
                    f"{t.shape}{', ' + repr(t.name) if t.name else ''}); a replay could not fill its .grad. Make "
                    "it outside the function (pass it in, or close over it), or call the function uncompiled")


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
    key = tuple(map(describe, args, _TOP))
    return key + tuple([(k, describe(v, True)) for k, v in sorted(kwargs.items())]) if kwargs else key


_TOP = itertools.repeat(True)  # describe(argument, top=True) for each argument, in map()
# Exact types, each told by one set lookup. A container's Tensors and arrays are keyed by identity
# without a call each; _PLAIN values are no Tensor, array or container (isinstance would also
# look up their __class__).
_ARRAYS, _CONTAINERS = frozenset([Tensor, np.ndarray]), frozenset([dict, list, tuple])
_SCALARS = frozenset([float, int, bool, str, type(None)])
_PLAIN = _SCALARS | {type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                     np.random.Generator}


def describe(value, top=False, depth=0, seen=None):
    """``value`` as part of a key: numbers and strings by type and value; a Tensor or array
    by shape, dtype (and requires_grad) at the top level, else by identity; containers, and
    objects with attributes of their own (``obj.__dict__``) that are not callable, by what they hold
    (and their own identity below the top); other objects by value if hashable, else (and
    functions and generators always) by identity. ``seen``, a set, collects the ids of the
    Tensors and arrays the key holds by identity."""
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)  # by type too: 1, 1.0 and True are equal keys otherwise
    if kind in _CONTAINERS and depth < 4:
        members = value.values() if kind is dict else value
        if _ARRAYS.issuperset(map(type, members)):  # what the loop below gives them, at once
            inner = tuple(map(id, members))
            if seen is not None:
                seen.update(inner)
        else:
            inner = tuple([describe(v, False, depth + 1, seen) for v in members])
        return (kind, None if top else id(value), tuple(value) if kind is dict else None, inner)
    if kind in _ARRAYS or kind not in _PLAIN and isinstance(value, (Tensor, np.ndarray)):
        if not top:  # (a captured tensor's shape, dtype and requires_grad are checked on every replay)
            if seen is not None:
                seen.add(id(value))
            return id(value)
        if kind is np.ndarray:
            return ("A", value.shape, value.dtype)
        return ("T", value._data.shape, value._data.dtype, value.requires_grad)
    if isinstance(value, (np.random.Generator, types.FunctionType)):
        return ("id", id(value))
    attributes = _own_attribute(value, None) if kind not in _PLAIN and depth < 4 else None
    if attributes is not None and not callable(value):  # an object holding values: a SimpleNamespace, a model
        return (kind, id(value), tuple([describe(v, False, depth + 1, seen) for v in attributes.values()]))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (kind, value)


def reachable(fn):
    """A function ``reached(seen=None)`` listing what calling ``fn`` reaches besides its
    arguments, each described for the key (see ``describe``): the closure cells, default values
    and globals it loads, the attributes it reads straight off one of those (``mod.W``,
    ``Holder.scale``), the object a method or callable object belongs to, and the same for every
    function of the user's code it reaches that way (helpers it calls, methods, properties)."""
    objects, loads = [], []
    _follow(fn, None, objects, loads, set())

    def reached(seen=None):
        found = objects + [_resolve(*load) for load in loads]
        return tuple([describe(v, False, 0, seen) for v in found]) if found else ()
    return reached


def _follow(fn, owner, objects, loads, visited):
    """Note in ``objects`` and ``loads`` what calling ``fn`` (bound to ``owner``) reads besides its
    arguments. The user's functions, classes and modules are keyed by identity and followed
    into; library code (this package, NumPy, the standard library, builtins) is taken as it was
    when traced, like JAX's jit does."""
    if isinstance(fn, functools.partial):
        _follow_values((fn.func, *fn.args, *fn.keywords.values()), objects, loads, visited)
        return
    if isinstance(fn, (staticmethod, classmethod, property)):
        fn = fn.__func__ if not isinstance(fn, property) else fn.fget
    if isinstance(fn, types.MethodType):
        owner, fn = fn.__self__, fn.__func__
    if not isinstance(fn, types.FunctionType):
        if isinstance(fn, (type, types.ModuleType)) or not callable(fn):
            return
        owner, fn = fn, getattr(type(fn), "__call__", None)  # a callable object
        if not isinstance(fn, types.FunctionType):
            return
    if _library_code(fn) or (fn, id(owner)) in visited:
        return
    visited.add((fn, id(owner)))
    if owner is not None and not isinstance(owner, type) and _own_attribute(owner, None) is not None:
        objects.append(_own_attribute(owner, None))  # its attributes: the owner may be callable (describe)
    code, names = fn.__code__, fn.__globals__
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    _follow_values((*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()), objects, loads, visited)
    self_name = code.co_varnames[0] if owner is not None and code.co_argcount else None
    for name, attribute in _loads(code, self_name):
        if name == self_name:  # self.helper(x), self.W: methods are followed, data is in owner
            if attribute is not None:
                _follow_attribute(owner, attribute, objects, loads, visited)
        elif name in cells or name in names:
            value = _resolve(name, None, cells, names)
            if attribute is None:
                if not _library_code(value):  # data by what it holds, the user's code by identity
                    loads.append((name, None, cells, names))
                if _fixed(value):
                    _follow(value, None, objects, loads, visited)
            else:  # obj.method(), obj.prop, mod.helper(x); a plain object's data is keyed with it
                _follow_attribute(value, attribute, objects, loads, visited)
                if _fixed(value) and not _library_code(_resolve(name, attribute, cells, names)):
                    loads.append((name, attribute, cells, names))  # mod.W, Class.scale, mod.helper


def _follow_values(values, objects, loads, visited):
    """Values bound once (defaults, a partial's arguments): code is followed, what may change
    inside (containers, objects, arrays) is keyed; a number or string bound there cannot change."""
    for value in values:
        if _fixed(value):
            _follow(value, None, objects, loads, visited)
        elif type(value) not in _SCALARS:
            objects.append(value)


def _follow_attribute(obj, attribute, objects, loads, visited):
    """Follow ``obj.attribute`` when it is code (a method, property or function): found without
    running any descriptor, bound to ``obj`` unless it is a module's or class's own."""
    try:
        value = inspect.getattr_static(obj, attribute)
    except AttributeError:
        return
    own = _own_attribute(obj, None) or {}
    bound = not isinstance(obj, (type, types.ModuleType)) and attribute not in own
    if isinstance(value, (types.FunctionType, property)) and bound:
        _follow(value, obj, objects, loads, visited)
    elif isinstance(value, classmethod):
        _follow(value, obj if isinstance(obj, type) else type(obj), objects, loads, visited)
    elif _fixed(value) or isinstance(value, staticmethod):
        _follow(value, None, objects, loads, visited)


def _library_code(value):
    """Whether ``value`` is a module, class or callable of this package, NumPy or the standard
    library (taken as it was when traced, not looked into)."""
    if not _fixed(value):
        return False
    module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return (module or type(value).__module__).partition(".")[0] in _LIBRARY


_LIBRARY = frozenset({"autograd_lite", "numpy", *sys.stdlib_module_names})


def _resolve(name, attribute, cells, names):
    """What a load of ``name`` (``.attribute``) in the function finds now; None for an empty
    cell or a name neither the closure nor the globals hold (a builtin)."""
    if name in cells:
        try:
            value = cells[name].cell_contents
        except ValueError:  # an empty cell
            return None
    else:
        value = names.get(name)
    return value if attribute is None or value is None else _own_attribute(value, attribute)


def _fixed(value):
    return callable(value) and not isinstance(value, Tensor) or isinstance(value, types.ModuleType)


def _own_attribute(obj, name):
    """``obj.name`` from the object's own ``__dict__`` (no property or ``__getattr__`` runs), or
    None; ``name`` None: that ``__dict__`` itself (None for an object without one)."""
    try:
        attributes = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None
    return attributes if name is None else attributes.get(name)


def _loads(code, self_name=None):
    """(name, None) for each global or closure variable ``code`` (or a function or comprehension
    inside it) loads, and (name, attribute) for each attribute read straight off one; the same
    for the local ``self_name`` (a method's ``self``)."""
    ops = list(dis.get_instructions(code))
    found = set()
    for op, following in zip(ops, ops[1:] + [None]):
        if op.opname in _LOADS or op.opname == "LOAD_FAST" and op.argval == self_name:
            found.add((op.argval, None))
            if following is not None and following.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                found.add((op.argval, following.argval))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= set(_loads(const, self_name))
    return tuple(sorted(found, key=lambda pair: (pair[0], pair[1] or "")))


_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS", "LOAD_DEREF", "LOAD_CLASSDEREF")
