"""Recording a call for ``ag.compile`` (see ``replay.py``): the ``Tracer`` that the engine
notifies of every primitive call, comparison, copy and value read while a function runs.

Each value the call touches gets a slot: inputs, tensors captured from outside (read by
identity), constants, and the output of every step. A step is (function, argument slots,
parameters, output slot, traced shape, traced dtype); comparisons (``x > 0``) and
conversions (``Tensor(x)``, ``x.detach()``, an array made float) are steps too, so a replay
recomputes them; NumPy on a comparison's result is a ``TracedArray``, and where eager code gets a
NumPy scalar (``np.mean(x > 0)``) a ``TracedScalar``, which the engine takes as that scalar (beside a
float32 tensor it is float32). A value read out of the graph (``float(t)``, ``bool(x > 0)``, ``t.data``)
becomes a guard: the replay checks it is unchanged. ``compile_key.py`` says which traced call
a new call may replay.
"""
import collections
import collections.abc
import copy
import functools
import io
import logging
import math
import numbers
import operator
import pickle
import random
import sys
import types

import numpy as np

from . import rng, tape
from .compile_key import tensor_fields, unkeyed
from .convert import ScalarStandIn, to_float_array
from .diagnostics import born
from .errors import GraphError
from .modes import current
from .primitive import Primitive
from .tensor import Tensor, as_tensor


class Tracer:
    """What a traced call did: steps (function, argument references, parameters, output
    slot) in order, and the guards. A reference is a slot number; ``slots`` maps the
    id of every traced Tensor or array to its slot (``keep`` keeps them alive)."""

    def __init__(self):
        self.slots, self.keep, self.steps, self.guards = {}, [], [], []
        self.inputs, self.captured, self.constants = [], [], []
        # aliases: (earlier, later) input slots given the same Tensor; detached: step outputs
        # made under no_grad; refusals: why this call cannot be replayed (it then runs eagerly)
        self.aliases, self.detached, self.refusals, self.traced_memory = [], set(), [], set()
        self.drew_random, self.pinned, self.facts, self.result = False, [], [], None  # (see run, fact)
        self.edited_in_place = False  # (set by modes.mark_modified)
        self.taken = None  # (a stand-in just taken for a number, and where its guard is: see number_taken)
        self.start = tape.next_seq()  # tensors made later (lower numbers) are the function's own

    def _new_slot(self, obj):
        self.keep.append(obj)
        self.slots[id(obj)] = slot = len(self.keep) - 1
        return slot

    def run(self, fn, name, args, kwargs, seen):
        """Call ``fn(*args, **kwargs)`` (``name`` for messages) recording it. ``seen``: {id: object}
        of what the key holds by identity, the arguments' contents included (the random generators
        among them are watched). Returns (the result, where the inputs are among the arguments, why
        a replay could differ from calling ``fn`` or None)."""
        reached, streams = set(seen), random_streams(seen.values())  # (not the arguments' own Tensors)
        self.default_rng = rng._default  # to see reseeding
        unseen = unkeyed(seen.values())  # (an iterator, a queue: a replay could not repeat reading it)
        if unseen is not None:
            self.refusals.append(unseen)
        where = [at for at, v in [*enumerate(args), *kwargs.items()] if isinstance(v, (Tensor, np.ndarray))]
        args, kwargs = [self.input(a) for a in args], {k: self.input(v) for k, v in kwargs.items()}
        self.retained = [self.keep[slot]._retain for slot in self.inputs]
        state = current()
        before, outer = (state.grad_enabled, state.anomaly, state.grad_depth), state.scope
        state.tracer, state.scope = self, _TracedScope(outer, self.start)  # (tags what this thread makes)
        try:
            try:
                out = fn(*args, **kwargs)
            finally:
                state.tracer = None
                self.restore_modes(state, before, outer)
        except BaseException:
            self.__init__()  # (the error's traceback holds this tracer: let go of all that fn made)
            raise
        self.result = out  # (a plain call's result, whatever check_result says of replaying it)
        self.check_result(out, name)
        if isinstance(out, Tensor) and out._seq < self.start:
            self.ref(out)  # (a tensor made while it ran, returned as it is: a constant, or another thread's)
        self.escaped = self.kept_outside()
        self.drew_random = self.drew_beyond_steps(*streams)
        # an argument that is also a tensor the function reads from outside: the trace holds the
        # two as one, so it is replayed only while that argument is this very tensor
        self.pinned = [slot for slot in self.inputs if id(self.keep[slot]) in reached]
        self.guard_unread(out)
        return out, where, self.why_not_replayable(seen)

    def restore_modes(self, state, before, outer):
        """After the traced call: put back this thread's scope as it was (without the tag), and
        refuse a change of its modes that outlives the call (``ag.set_grad_enabled(False)`` called
        as a function, a mode entered and not exited): a replay would not repeat it. ``before``:
        (grad_enabled, anomaly, grad_depth) at the start; ``outer``: the scope at the start."""
        changed = [name for name, was, now in zip(("grad mode", "anomaly mode", "ag.grad depth"), before,
                                                  (state.grad_enabled, state.anomaly, state.grad_depth))
                   if was != now]
        scope, state.scope = state.scope, outer  # (the tag off; `with ag.scope(...)` inside put it back)
        if tuple(scope) != tuple(outer):  # (entered inside and not exited, or one from outside exited)
            state.scope = tuple(scope)
            changed.append("ag.scope")
        if changed:
            self.refusals.insert(0, f"changes this thread's {' and '.join(changed)} for after it returns "
                                 "(ag.set_grad_enabled(False) called as a function, a mode entered and not "
                                 "exited), which a replay would not repeat; use a `with` block inside (with "
                                 "ag.set_grad_enabled(False):, with ag.no_grad():), or set the mode outside")

    def kept_outside(self):
        """Whether something besides the graph and this tracer holds a tensor the call made (a
        global, an attribute, a list, a closure it stored it in): a replay would not update it.
        Told by reference counts: each made tensor may be held only by the graph (the inputs and
        parameters of the tensors made after it), this tracer, and the caller's result."""
        inputs = set(self.inputs)
        made = [t for slot, t in enumerate(self.keep) if isinstance(t, Tensor) and born(t) < self.start
                and slot not in inputs]
        held = collections.Counter([id(self.result)] * 2)  # (self.result and run's local)
        held.update([id(v) for t in made for part in (t._parents or (), (t._params or {}).values(),
                                                      (_own_fields(t) or {}).values()) for v in part])
        held.update([id(v) for step in self.steps for v in step[2].values()])
        # (a probe counts the references this code's own list, loop and call hold, whatever Python's version)
        counts = [sys.getrefcount(t) for t in [*made, _PROBE]]
        return any(n > counts[-1] + 1 + held[id(t)] for n, t in zip(counts, made))  # (+1: the trace's list)

    def input(self, value):
        """An argument of the traced call: arrays and Tensors get a slot, read on every replay."""
        if not isinstance(value, (Tensor, np.ndarray)):
            return value
        t = as_input(value)
        earlier = self.slots.get(id(t))
        self.inputs.append(self._new_slot(t))
        if earlier is not None:  # the same Tensor twice: the trace holds only while it is
            self.aliases.append((earlier, self.inputs[-1]))
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
        if isinstance(value, np.ndarray) and self._derived(value):
            self._refuse_once(_NOT_RECOMPUTED)
        if isinstance(value, Tensor) and born(value) > self.start:  # (made before, first required grad inside)
            self._refuse_once(_REQUIRED_INSIDE)
        elif isinstance(value, Tensor) and not self.made_here(value):
            self._refuse_once(_FOREIGN)
        slot = self._new_slot(value)
        self.constants.append((slot, value._array if isinstance(value, Tensor) else value))
        return slot

    def made_here(self, t):
        """Whether Tensor ``t``, made while the call was traced, was made by the traced thread (a
        constant: ``Tensor([1.0, 2.0])``, a number an op wrapped) rather than by another thread,
        whose ops this tracer does not see. Told by the scope tag ``run`` gives this thread."""
        return type(t._scope) is _TracedScope and t._scope.trace == self.start

    def record(self, prim, out, parents, params, args=()):
        self.taken, refs = None, []
        for i, p in enumerate(parents):
            source = args[i] if i < len(args) and args[i] is not p else None
            if source is not None and id(p) not in self.slots and isinstance(source, (np.ndarray, Tensor)):
                self.copy_of(source, p)  # an array converted on the way in: convert it on every replay
            refs.append(self.ref(p))
        params = {k: self._param_ref(v) for k, v in params.items()}
        self.steps.append((prim, refs, params, self._new_slot(out), out.shape, out.dtype))
        state = current()
        if not state.grad_enabled:
            self.detached.add(self.steps[-1][3])
        if state.anomaly:  # (its checks of each output: eager only)
            self._refuse_once(_ANOMALY)

    def _param_ref(self, value):
        if type(value) is tuple:
            return tuple(self._param_ref(v) for v in value)
        if not isinstance(value, (np.ndarray, Tensor)) and self._holds_traced([value]):
            self._refuse_once(_IN_A_LIST)  # (a replay would pass the traced call's value again)
        if isinstance(value, np.ndarray) and id(value) not in self.slots and self._derived(value):
            self._refuse_once(_NOT_RECOMPUTED)
        slot = self.slots.get(id(value)) if isinstance(value, np.ndarray) else None
        return value if slot is None else ScalarSlot(slot) if isinstance(value, TracedScalar) else Slot(slot)

    def _refuse_once(self, reason):
        if reason not in self.refusals:
            self.refusals.append(reason)

    def _derived(self, value):
        """Whether the array ``value`` is a traced value or an array made from one past the hooks (np.asarray)."""
        return isinstance(value, TracedArray) or id(getattr(value, "base", None)) in self.traced_memory

    def _holds_traced(self, items, depth=0, seen=None):
        """Whether ``items`` hold, in containers, objects' attributes or slots, functions' closures and
        defaults, or bound methods' objects (each looked into once; modules and classes not), a value the
        trace computes from a comparison (``_derived``); a constant array it merely uses is none. What
        cannot be looked into without changing it (an iterator, a generator), or lies deeper than 8
        levels, is taken as holding one: the call then runs eagerly."""
        seen = set() if seen is None else seen
        for v in items:
            if isinstance(v, np.ndarray):
                if self._derived(v) or v.dtype == object and self._holds_traced(v.ravel(), depth + 1, seen):
                    return True
                continue
            if id(v) in seen or v is None or isinstance(v, (str, bytes, numbers.Number, type, types.ModuleType,
                                                              Tensor, io.IOBase, logging.Logger)):
                continue
            if depth >= 8 or isinstance(v, collections.abc.Iterator):  # (a file, one of lines: skipped above)
                return True
            seen.add(id(v))
            if self._holds_traced(_held_by(v), depth + 1, seen):
                return True
        return False

    def number_taken(self, value):
        """The engine took the ``TracedScalar`` ``value`` for the NumPy scalar it stands for
        (``is_scalar_number``). What it makes of it may be a plain number, which a replay would take as
        a constant (a comparison's ``t.dtype.type(n)``, which no NumPy hook sees): so that is a guard,
        unless ``as_tensor`` converts it next, a step of the replay (``copy_of`` takes the guard back)."""
        before = len(self.guards)
        self.guard(value)
        self.taken = (value, before) if len(self.guards) > before else None

    def copy_of(self, source, t):
        """``t`` (a new Tensor) was made from ``source``: a step converts it on every replay."""
        taken, self.taken = self.taken, None
        if taken is not None and taken[0] is source and len(self.guards) == taken[1] + 1:
            del self.guards[taken[1]]  # (the guard number_taken just made: converted here, it is recomputed)
        convert = _Conversion(t.dtype)
        self.steps.append((convert, [self.ref(source)], {}, self._new_slot(t), t.shape, t.dtype))

    def numpy_call(self, func, args, kwargs):
        """``func(*args, **kwargs)`` on the arrays of Tensors and traced values (a comparison
        ``x > 0``, NumPy on its result) as a step recomputed on every replay; the result is a
        ``TracedArray``, a ``TracedScalar`` where NumPy gives a scalar (``if (x > 0).any():`` must
        become a guard, ``x32 * np.mean(x32 > 0)`` stay float32)."""
        self.taken, refs = None, []
        call = _NumpyCall(func, _holes(args, refs, self), _holes(kwargs, refs, self))
        values = [_plain(self.keep[r]) for r in refs]
        result = call.func(*_filled(call.args, values), **_filled(call.kwargs, values))
        if not isinstance(result, (np.ndarray, np.generic, bool, int, float)):
            self.refusals.append(f"calls NumPy's {call.name} on a comparison's result, which gives a "
                                 f"{type(result).__name__} a replay cannot check (use a boolean mask: x[x > 0])")
            return result
        scalar = _scalar_type(func, args, result)
        result = np.asarray(result)
        result = result.view(TracedArray if scalar is None else _stand_in(scalar, result.dtype.kind))
        self.steps.append((call, refs, {}, self._new_slot(result), result.shape, result.dtype))
        self.traced_memory.add(id(result.base))  # (a view of it, np.asarray(m), has this base)
        return result

    def fact(self, t, read):
        """An op decided by ``read(t)`` (True or False), ``t`` a tensor from outside the call
        (``binary_cross_entropy``: whether ``t`` is a sigmoid's output): a replay checks it again."""
        slot = self.slots.get(id(t))
        if slot is None and t._seq > self.start:
            slot = self.ref(t)
        if slot in self.inputs or any(slot == s for s, *_ in self.captured):
            self.facts.append((slot, read, read(t)))

    def guard_unread(self, out):
        """Guard every traced NumPy value (a comparison's result, NumPy on one) that no step reads
        and that is not the result: what read it went past NumPy's hooks (np.asarray(x > 0).mean(),
        np.full(n, np.mean(x > 0)), np.array(n) + 1), which a replay could not recompute; it traces
        anew when such a value changes (one computed and never used too)."""
        read = {self.slots.get(id(out))}
        for _, refs, params, _, _, _ in self.steps:
            read.update(refs, _slots_in(list(params.values())))
        for _, _, _, slot, _, _ in self.steps:
            if slot not in read and isinstance(self.keep[slot], TracedArray) and not self.guarded(self.keep[slot]):
                self.guard(self.keep[slot])

    def guarded(self, value):
        """Whether a replay checks ``value`` (a guard holds it): what Python makes of it then holds too."""
        slot = self.slots.get(id(value))
        return slot is not None and any(slot == s for s, _ in self.guards)

    def guard(self, t):
        slot = self.slots.get(id(t))
        if slot is None and isinstance(t, Tensor) and (t._seq > self.start or not self.made_here(t)):
            slot = self.ref(t)  # from outside, read before any op used it (T.item()), or another thread's
        if slot is not None and all(slot != s for s, _ in self.constants):
            self.guards.append((slot, np.array(t._array if isinstance(t, Tensor) else t)))

    def drew_beyond_steps(self, streams, starts, python_state):
        """Whether the call drew random numbers other than its steps' own (``ag.dropout``'s masks,
        drawn again on each replay): the steps' draws are repeated on copies of the streams as they
        were (``random_streams``), which must then match the streams as they are."""
        copies = {id(s): c for s, c in zip(streams, starts)}
        for prim, refs, params, _, _, _ in self.steps:
            rng = params.get("rng")
            if getattr(prim, "draws", False) and id(rng) in copies:
                if refs or any(isinstance(v, Slot) for v in params.values()):
                    return True  # (no such step today; not worth repeating)
                prim.forward(**dict(params, rng=copies[id(rng)]))
        moved = pickle.dumps(random.getstate()) != python_state
        return moved or any(_random_state(s) != _random_state(c) for s, c in zip(streams, starts))

    def why_not_replayable(self, seen):
        """Why a replay of this call could differ from running the function (None if it could
        not). ``seen``: {id: object} of what the key holds by identity."""
        unseen = [slot for slot, t, _, _, _ in self.captured if id(t) not in seen]
        if unseen:
            return self.unseen(unseen[0])
        subclassed = next((self.keep[s] for s in [*self.inputs, *(c[0] for c in self.captured)]
                           if type(self.keep[s]) is not Tensor), None)
        if subclassed is not None:
            kind = type(subclassed)
            return (f"uses a tensor of the Tensor subclass {kind.__module__}.{kind.__qualname__} (shape "
                    f"{subclassed.shape}{_named(subclassed)}), whose own methods and operators a replay would not "
                    "run (nor could the compile key tell if what they read changed)")
        if self.drew_random:
            return ("draws random numbers with NumPy while it runs: a replay could only repeat the old ones. "
                    "Use ag.dropout (a replay draws fresh masks), or draw outside and pass the values in")
        made = [p["rng"] for _, _, p, _, _, _ in self.steps if isinstance(p.get("rng"), _STREAMS)
                and id(p["rng"]) not in seen and p["rng"] is not _GLOBAL]
        if made or rng._default is not self.default_rng:
            return ("makes or reseeds a random generator while it runs (np.random.default_rng(seed), "
                    "ag.manual_seed): a replay would go on drawing from the old one. Seed outside, or pass "
                    "the generator in")
        if self.edited_in_place or any(not np.array_equal(_plain(self.keep[s]), v, equal_nan=True) for s, v in self.guards):
            return ("changes a tensor in place while it runs (+=, .data, a write into .data[...]); a replay "
                    "does not repeat that. Write it as an expression (y = y + 1), or update outside")
        traced = [np.ndarray.view(v, np.ndarray) for v in self.keep if isinstance(v, TracedArray) and not self.guarded(v)]
        if any(_same_values(c, m) for _, c in self.constants if type(c) is np.ndarray and id(c) not in seen
               for m in traced):
            return POSSIBLY_COPIED
        if any(isinstance(t, Tensor) and t._retain and born(t) < self.start for t in self.keep):
            return "calls retain_grad() on a tensor it makes; a replay could not fill that tensor's .grad"
        if any(self.keep[slot]._retain and not kept for slot, kept in zip(self.inputs, self.retained)):
            return "calls retain_grad() on an argument; a replay could not fill the next argument's .grad"
        if self.refusals:
            return self.refusals[0]
        if self.escaped:
            return ("keeps a tensor it makes (in a global, an attribute, a list or a closure); a replay would "
                    "not update it. Return what you need from the function")
        return None

    def unseen(self, slot):
        """Why the captured tensor in ``slot``, which the key cannot see, stops a replay: read by the
        function, or by an op through a tensor it was given (``binary_cross_entropy`` reads the logits of a
        sigmoid's output, told by ``fact``), which the message names, since the function never reads it."""
        t, told = self.keep[slot], {s for s, _, value in self.facts if value}
        op, given = next(((prim.name, self.keep[refs[0]]) for prim, refs, *_ in self.steps
                          if slot in refs[1:] and refs[0] in told), (None, None))
        if op is not None:
            return (f"passes {op} a sigmoid's output (shape {given.shape}{_named(given)}), whose logits (the "
                    f"sigmoid's input, shape {t.shape}{_named(t)}) it reads too; the compile key cannot see them, so "
                    "a replay could not tell if they were replaced. Pass the logits as an argument too "
                    "(f(A, Z, Y)), or apply the sigmoid inside the function")
        return (f"reads a tensor (shape {t.shape}{_named(t)}) that is not an argument and "
                "that the compile key cannot see (it holds the closure, the globals, the attributes of "
                "the objects the function reads, and containers up to 8 levels deep), so a replay "
                "could not tell if it was replaced. Pass the tensor as an argument")

    def labelled(self, seen):
        """The tensors the key holds by identity (captured, in a container argument, reached), each with
        its name and the attributes set on it now (``compile_key.tensor_fields``): code may branch on
        them (``if p.name.startswith("W")``), so a replay checks them (``replay_source``)."""
        return [(t, t.name, tensor_fields(t, seen)) for t in list(seen.values()) if isinstance(t, Tensor)]

    def watched(self, seen):
        """The arrays the key holds by identity alone (more than 16 elements, reached outside the
        arguments), each with a copy of its values now: plain NumPy may have read them
        (``float(w.mean())``) where no step sees it, so a replay checks them bit for bit."""
        return [(v, np.array(v)) for v in seen.values()
                if isinstance(v, np.ndarray) and not isinstance(v, TracedArray) and v.size > 16]

    def differentiable(self, sources):
        """The slots whose value depends on one of ``sources`` that requires grad, through
        primitives called while recording (not under ``no_grad``)."""
        found = {slot for slot in sources if self.keep[slot].requires_grad}
        for prim, refs, _, out_slot, _, _ in self.steps:
            if isinstance(prim, Primitive) and out_slot not in self.detached and any(r in found for r in refs):
                found.add(out_slot)
        return found

    def listing(self, out_slot):
        """The recorded steps, one line each (``step.source``)."""
        lines = [f"s{slot} = input" for slot in self.inputs]
        lines += [f"s{slot} = captured {t.name or 'tensor'} {shape}" for slot, t, shape, _, _ in self.captured]
        for prim, refs, params, out, shape, dtype in self.steps:
            extras = "".join(f", {k}=s{v}" if isinstance(v, Slot) else f", {k}=..." for k, v in params.items())
            lines.append(f"s{out} = {prim.name}({', '.join(f's{r}' for r in refs)}{extras})  # {shape} {dtype}")
        return "\n".join(lines + [f"return s{out_slot}"])

    def check_result(self, out, name):
        """Refuse what a replay could not reproduce: a result that is not one Tensor, or a leaf
        that requires grad made while the function ran (a replay could not fill its .grad)."""
        if not isinstance(out, Tensor):
            raise TypeError(f"ag.compile({name}): the function must return one Tensor, got {type(out).__name__}")
        for t in self.keep:
            if isinstance(t, Tensor) and t._prim is None and t.requires_grad and born(t) < self.start and (
                    self.made_here(t)):  # (another thread's: refused by ref)
                raise GraphError(
                    f"ag.compile({name}): the function made a tensor that requires grad while it ran (shape "
                    f"{t.shape}{_named(t)}); a replay could not fill its .grad. Make it outside the function "
                    "(pass it in, or close over it), or call the function uncompiled (ag.grad and ag.jacobian "
                    "inside a function make such tensors too)")


class _TracedScope(tuple):
    """This thread's ``ag.scope`` names while a call is traced (``Tracer.run``): equal to them, so
    drawings see the same names, and tagged with the trace (``trace``: its ``start``), so a tensor
    made then tells whether this thread made it (its ``_scope`` is the tag, or a scope nested in it)
    or another thread did, unseen by the tracer. Costs eager ops nothing: each stores its scope."""

    def __new__(cls, names, trace):
        scope = super().__new__(cls, names)
        scope.trace = trace
        return scope

    def __add__(self, names):  # (ag.scope entered inside: the nested scope keeps the tag)
        return _TracedScope(tuple.__add__(self, names), self.trace)

    def __reduce__(self):  # (a copy or pickle of a tensor made while traced: plain names)
        return tuple, (tuple(self),)


_FOREIGN = ("uses a tensor computed in another thread while it was traced (a pool's or a thread's result); "
            "the tracer sees only this thread's ops, so a replay would return that tensor's old value. "
            "Compute it in this thread, or pass it in as an argument")
_REQUIRED_INSIDE = ("makes a tensor it closes over require grad (requires_grad_(True)) while it runs: its uses "
                    "before that take it as a constant, after it as a variable, which a replay would not tell "
                    "apart; set requires_grad before the call")
def _held_by(v):
    """What ``v`` holds that a call of it, or a forward reading it, could read (``Tracer._holds_traced``)."""
    held = list(v.keys()) + list(v.values()) if isinstance(v, collections.abc.Mapping) else list(v) if isinstance(
        v, (list, tuple, set, frozenset, collections.deque)) else []
    held += list(vars(v).values()) if hasattr(v, "__dict__") else []
    held += [getattr(v, n, None) for k in type(v).__mro__ for n in getattr(k, "__slots__", ()) if isinstance(n, str)]
    held += [v.func, *v.args, *v.keywords.values()] if isinstance(v, functools.partial) else []
    if isinstance(v, types.FunctionType):
        held += list(v.__closure__ or ()) + list(v.__defaults__ or ()) + list((v.__kwdefaults__ or {}).values())
    for name in ("__self__", "__func__", "__wrapped__", "cell_contents"):  # (bound methods, wrappers, cells)
        try:
            part = getattr(v, name)
        except Exception:  # noqa: BLE001 (an empty cell's ValueError, a dict-backed __getattr__'s KeyError: none)
            continue
        held += [] if isinstance(part, types.ModuleType) else [part]
    return held


_NOT_RECOMPUTED = ("uses a value made from a comparison (x > 0) by an array method the replay does not recompute "
                   "(.reshape, .T, np.asarray, ...); use NumPy functions (np.reshape) or ag's ops on it")
_IN_A_LIST = ("passes an op a list, dict or object holding a value computed from the inputs (a comparison, x > 0) "
              "as a keyword parameter, which a replay would give the op again unchanged (or an iterator, or "
              "objects nested over 8 deep, which cannot be looked into); pass it as the parameter itself, or in "
              "a tuple")
_ANOMALY = ("runs ops in anomaly mode (ag.detect_anomaly() inside it), whose NaN/inf checks a replay would "
            "not repeat; switch anomaly mode on outside the call (a compiled function then runs eagerly)")


class Slot(int):
    """A parameter that refers to a traced value (e.g. a boolean-mask index)."""


class ScalarSlot(Slot):
    """A parameter that refers to a ``TracedScalar``: a replay passes the NumPy scalar (``s3[()]``), as
    eager code does (``leaky_relu``'s forward takes a number, not a 0-d array)."""


class TracedArray(np.ndarray):
    """A value computed outside the graph from traced values while tracing (``x > 0``, NumPy
    applied to one): NumPy on it is a step of the replay too, and Python reading its values
    (``bool``, ``int``, ``float``, ``.item()``, an element) is a guard."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy_on_traced(getattr(ufunc, method), inputs, kwargs)

    def __array_finalize__(self, source):
        # A copy of a traced value made past every hook: NumPy's scalar types convert a 0-d array so
        # (np.float32(np.mean(x > 0)), np.int32(m.sum())); a replay would keep the traced value, unless a
        # guard checks it (the engine's own conversion of a value it took as a number) or an op's forward
        # made it (a replay runs that forward again on the value recomputed: leaky_relu's slope). (The
        # methods and functions above compute on plain views, so their results never come here.)
        tracer = current().tracer
        if isinstance(source, TracedArray) and self.base is None and tracer is not None and \
                not tracer.guarded(source) and not _inside_an_op():
            _refuse(f"converts a value computed from a comparison with NumPy's {self.dtype} type "
                    f"(np.{self.dtype}(np.mean(x > 0))), which no replay would recompute; use "
                    f".astype(np.{self.dtype}) instead")

    def __copy__(self):  # (copy.copy, copy.deepcopy: the copy is a step, as m.copy() is)
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __array_function__(self, func, types, args, kwargs):
        return _numpy_on_traced(func, args, kwargs)

    def astype(self, *args, **kwargs):
        return _numpy_on_traced(np.ndarray.astype, (self,) + args, kwargs)

    def __getitem__(self, index):
        return _numpy_on_traced(operator.getitem, (self, index), {})

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def _read(self):
        if current().tracer is not None:
            current().tracer.guard(self)
        return np.ndarray.view(self, np.ndarray)

    def __hash__(self):  # a 0-d value stands for a NumPy scalar (a count as a dict key)
        if self.ndim:
            raise TypeError("unhashable type: 'numpy.ndarray'")
        return hash(self._read()[()])

    def __bool__(self): return bool(self._read())
    def __int__(self): return int(self._read())
    def __float__(self): return float(self._read())
    def __index__(self): return operator.index(self._read()[()])
    def item(self, *args): return self._read().item(*args)
    def tolist(self): return self._read().tolist()

    def __setitem__(self, index, value):
        _refuse("writes into a comparison's result (m[i] = v); a replay does not repeat that")
        np.ndarray.view(self, np.ndarray)[index] = value


class TracedScalar(TracedArray, ScalarStandIn):
    """What NumPy gives as a scalar (``np.mean(x > 0)``, ``(x > 0).sum()``, ``m[0]``: a bool, int or
    float), computed from traced values. It is 0-d, so that a replay recomputes it, and taken where
    eager code takes that scalar: beside a tensor it takes the tensor's dtype (``is_scalar_number``:
    ``x32 * np.mean(x32 > 0)`` stays float32); as an op's parameter a replay passes the scalar
    (``ScalarSlot``); a float is a ``numbers.Real`` and an int a ``numbers.Integral``, as NumPy's are,
    so ops check and read it as they read eager code's (``float(keep_prob)``: a guard). Its class is
    named as the scalar's type and it prints as that scalar, so messages read as eager code's.
    ``scalar_type``: that type (``_stand_in`` makes the classes)."""

    scalar_type = None

    def __new__(cls, *args, **kwargs):  # (its class called as the scalar's type is, statistics.mean's T(total):
        return cls.scalar_type(*args, **kwargs)  # that type's value; values are made by view(), never here)

    def __repr__(self):  # (a guard, as str: text made of it may be parsed back, float(repr(n)[11:-1]))
        return repr(self._scalar())

    def __reduce_ex__(self, protocol):  # (pickled as the scalar: a class _stand_in made has no name to find)
        return self.scalar_type(self._read()[()]).__reduce_ex__(protocol)

    def _scalar(self):  # (a guard: Python reads its value)
        return self.scalar_type(self._read()[()])

    # Python's number protocol and a float's own methods read the value, as float() does
    def __round__(self, ndigits=None): return round(self._scalar(), ndigits)
    def __trunc__(self): return math.trunc(self._scalar())
    def __floor__(self): return math.floor(self._scalar())
    def __ceil__(self): return math.ceil(self._scalar())
    def __str__(self): return str(self._scalar())
    def __format__(self, spec): return format(self._scalar(), spec)
    def __mul__(self, other):  # (n * [t]: Python's repeat of a sequence, reading n by __index__, a guard)
        return NotImplemented if _repeats(other) else np.ndarray.__mul__(self, other)

    def __rmul__(self, other):
        return NotImplemented if _repeats(other) else np.ndarray.__rmul__(self, other)

    def is_integer(self): return self._scalar().is_integer()
    def as_integer_ratio(self): return self._scalar().as_integer_ratio()

    def taken_as_number(self):
        """``is_scalar_number``'s hook: True, noted by the tracer (``Tracer.number_taken``)."""
        if current().tracer is not None:
            current().tracer.number_taken(self)
        return True


def _repeats(other):
    """Whether Python repeats ``other`` by an int (``n * seq``), as a NumPy int defers to: the sequences
    with that repeat (a range or memoryview has none, so NumPy multiplies them elementwise)."""
    return isinstance(other, collections.abc.Sequence) and not isinstance(other, (range, memoryview))


class _TracedReal(TracedScalar):
    """A ``TracedScalar`` standing for a NumPy float."""


class _TracedIntegral(TracedScalar):
    """A ``TracedScalar`` standing for a NumPy int."""


numbers.Real.register(_TracedReal)
numbers.Integral.register(_TracedIntegral)


def _scalar_type(func, args, result):
    """The type of the scalar eager code gets where ``func(*args)`` gives ``result`` while tracing (a
    ``TracedScalar`` is a 0-d array there), None for an array: what NumPy gives as a scalar, and the 0-d
    result of an array method of a ``TracedScalar`` (a NumPy scalar's own ``astype``, ``copy`` give one)."""
    if not isinstance(result, np.ndarray):
        return type(result)
    method = getattr(func, "__objclass__", None) is np.ndarray  # (TracedArray's methods are ndarray's: _method_step)
    return result.dtype.type if result.ndim == 0 and method and isinstance(args[0], TracedScalar) else None


@functools.cache
def _stand_in(scalar_type, kind):
    """The class of a ``TracedScalar`` standing for a scalar of ``scalar_type`` (NumPy's or Python's, of
    dtype ``kind``), named as that type (float64, int64, bool); ``TracedArray`` for other kinds (complex)."""
    base = {"b": TracedScalar, "i": _TracedIntegral, "u": _TracedIntegral, "f": _TracedReal}.get(kind)
    return TracedArray if base is None else type(scalar_type.__name__, (base,), {
        "__doc__": base.__doc__, "scalar_type": scalar_type})


def _method_step(name):
    """``TracedArray.name``: NumPy's own method, as a replay step."""
    method = getattr(np.ndarray, name)
    return lambda self, *args, **kwargs: _numpy_on_traced(method, (self,) + args, kwargs)


def _inside_an_op():
    """Whether an op's forward is running: a ``Primitive.__call__`` frame is among the callers."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code is not _OP_CALL:
        frame = frame.f_back
    return frame is not None


_OP_CALL = Primitive.__call__.__code__


def _refuse(reason):
    if current().tracer is not None:
        current().tracer.refusals.append(reason)


# Every other method of an array is a step too (m.copy(), m.argmax(), m.reshape(...), m.view(np.ndarray):
# the engine's own plain views are np.ndarray.view(m, np.ndarray)); those that
# change it in place are refused above (__setitem__) or as steps (their result is None).
for _name in dir(np.ndarray):
    if not _name.startswith("_") and _name not in TracedArray.__dict__ and callable(
            getattr(np.ndarray, _name)):
        setattr(TracedArray, _name, _method_step(_name))


def _numpy_on_traced(func, args, kwargs):
    tracer = current().tracer
    if tracer is None:  # after the trace it is an ndarray like any other
        return func(*_holes(args, [], None, _plain), **_holes(kwargs, [], None, _plain))
    if _has_tensor(args) or _has_tensor(kwargs):
        return NotImplemented  # the Tensor's own NumPy protocol records it
    return tracer.numpy_call(func, args, kwargs)


def _plain(value):
    """A Tensor's or traced value's array, as NumPy functions get it on a replay."""
    if isinstance(value, Tensor):
        return value._array
    return np.ndarray.view(value, np.ndarray) if isinstance(value, np.ndarray) else value


def _slots_in(values):
    """The slots among ``values`` (a step's parameters: tuples of them too)."""
    return [s for v in values for s in (_slots_in(v) if type(v) is tuple else [v] if isinstance(v, Slot) else [])]


class _Hole(int):
    """In a recorded NumPy call's arguments: the n-th traced value."""


def _holes(value, refs, tracer, fill=None):
    """``value`` (arguments, nested in lists, tuples and dicts) with every Tensor and array
    replaced: by a ``_Hole`` whose slot is appended to ``refs`` (``fill`` None), else by
    ``fill(it)``."""
    if isinstance(value, (Tensor, np.ndarray)):
        if fill is not None:
            return fill(value)
        refs.append(tracer.ref(value))
        return _Hole(len(refs) - 1)
    if type(value) in (list, tuple):
        return type(value)([_holes(v, refs, tracer, fill) for v in value])
    if type(value) is dict:
        return {k: _holes(v, refs, tracer, fill) for k, v in value.items()}
    return value


def _filled(value, values):
    if type(value) is _Hole:
        return values[value]
    if type(value) in (list, tuple):
        return type(value)([_filled(v, values) for v in value])
    if type(value) is dict:
        return {k: _filled(v, values) for k, v in value.items()}
    return value


def _has_tensor(value):
    if type(value) in (list, tuple):
        return any(map(_has_tensor, value))
    if type(value) is dict:
        return any(map(_has_tensor, value.values()))
    return isinstance(value, Tensor)


def random_streams(values):
    """The NumPy generators among ``values`` and NumPy's global one, a copy of each, and Python's
    global random state: what a traced call starts from."""
    streams = [v for v in values if isinstance(v, _STREAMS) and v is not _GLOBAL] + [_GLOBAL]
    return streams, [copy.deepcopy(s) for s in streams], pickle.dumps(random.getstate())


_STREAMS = (np.random.Generator, np.random.RandomState)
# NumPy's global stream (np.random.rand, np.random.seed): a RandomState that rng= takes too, made once,
# so its identity never changes and ag.dropout's draws from it repeat exactly on a replay
_GLOBAL = np.random.mtrand._rand


def _random_state(stream):
    state = stream.bit_generator.state if isinstance(stream, np.random.Generator) else stream.get_state()
    return pickle.dumps(state)


# Told by its value alone: a number of the user's own may equal a traced value by chance on one call
# (x * 0.0 beside a mean of 0), so only that call runs eagerly (replay.py: the next one traces again)
POSSIBLY_COPIED = ("uses a copy of a comparison's result, or of a value computed from one, made past NumPy's "
                   "hooks (np.array(x > 0, dtype=float), np.int64(m.sum()))? A replay would not recompute it; "
                   "use (x > 0).astype(float), or ag's ops on it")


def _same_values(a, b):
    """Whether the constant ``a`` may be a copy of the traced value ``b`` made past every hook
    (np.array(m), np.int64(m.sum()), float(str(s))): the same values, more than one, or the one
    value of a traced scalar (a count, a mean), a number either way."""
    if a.size == 1 and b.size == 1 and a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return bool(a.reshape(()) == b.reshape(()))
    return a.shape == b.shape and a.size > 1 and np.array_equal(a, b)


_PROBE = object()  # referenced by this module, as a made tensor is by kept_outside's list of them


def _own_fields(t):
    """The ``__dict__`` of Tensor ``t`` (rarely set fields), None if it has none."""
    try:
        return object.__getattribute__(t, "__dict__")
    except AttributeError:
        return None


def _named(t):
    return f", {t.name!r}" if t.name else ""


class _Conversion:
    """A replay step: an array or Tensor made into a float array of ``dtype``."""

    def __init__(self, dtype):
        self.dtype, self.name, self.vjps, self.vjp_all = dtype, "convert", (), None

    def forward(self, value):
        array = to_float_array(value, copy=False)
        return array if array.dtype == self.dtype else array.astype(self.dtype)


class _NumpyCall:
    """A replay step: a NumPy function called with the step's values put into its recorded
    arguments (``_Hole`` n: the n-th value)."""

    def __init__(self, func, args, kwargs):
        self.func, self.args, self.kwargs, self.vjps, self.vjp_all = func, args, kwargs, (), None
        self.name = getattr(func, "__name__", "numpy")

    def forward(self, *values):
        result = self.func(*_filled(self.args, values), **_filled(self.kwargs, values))
        return np.asarray(result) if isinstance(result, np.generic) else result  # (0-d, as traced: out= takes it)


# Array arguments a trace would not use as eager code does: the call runs eagerly (replay.py), with the reason.
# (a trace makes every array argument a float64 input; eager ops cast an integer or boolean one
# to their other operand's dtype, float32 too, and index with it)
_INTEGER_ARGUMENT = ("takes an integer or boolean array argument, which its ops use as eager code does "
                     "(cast to the dtype of what they combine it with, or as an index)")
_UNNUMERIC_ARGUMENT = ("takes an array argument of dtype {} (no numbers: strings, dates, objects), which it uses "
                       "as eager code does, where a trace would refuse to make it a Tensor")
_SUBCLASS_ARGUMENT = ("takes an argument of the ndarray subclass {}, whose own operators eager code uses "
                      "({}), where a trace would make it a Tensor")
# What each subclass's own operators do that a Tensor's do not (by isinstance: np.ma's subclasses too)
_SUBCLASS_OPERATORS = (
    (np.matrix, "np.matrix's * is a matrix product"),
    (np.ma.MaskedArray, "a masked array's operators carry its mask and mask what they cannot compute: "
                        "np.log(m) where m <= 0, m / 0"))


def eager_argument(value):
    """Why ``value``, an argument of a compiled function, makes the call run eagerly, or None: an
    integer or boolean array, an array of no numbers (strings: ``names[k]`` picking a parameter), or an
    array of an ndarray subclass (np.matrix, a masked array) other than np.memmap, which behaves as the
    ndarray it maps."""
    if not isinstance(value, np.ndarray):
        return None
    if value.dtype.kind in "biu":
        return _INTEGER_ARGUMENT
    if value.dtype.kind not in "fc":  # (complex: refused by as_tensor, as eager's ops refuse it)
        return _UNNUMERIC_ARGUMENT.format(value.dtype)
    if type(value) is np.ndarray or isinstance(value, (np.memmap, TracedArray)):
        return None
    operators = next((why for kind, why in _SUBCLASS_OPERATORS if isinstance(value, kind)),
                     "its class may define them anew")
    return _SUBCLASS_ARGUMENT.format(f"{type(value).__module__}.{type(value).__qualname__}", operators)


def as_input(value):
    """An argument as a compiled function sees it: float arrays become (constant) Tensors; those that
    run a call eagerly (``eager_argument``) stay as they are, as eager ops use them (integer and boolean
    ones cast to their operands' dtype or as indices, an np.matrix with its own operators)."""
    return as_tensor(value) if isinstance(value, np.ndarray) and eager_argument(value) is None else value
