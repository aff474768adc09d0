"""``ag.compile``: record a function's ops once, then replay them without the graph.

::

    step = ag.compile(cost_fn)          # or @ag.compile
    cost = step(params, X, Y)           # like cost_fn(params, X, Y): a Tensor ...
    cost.backward()                     # ... whose backward() fills every .grad
    print(step.source)                  # what is replayed

The first call with a given key (``compile_key.py``) runs ``fn`` eagerly while a ``Tracer``
(this thread only) notes every primitive it calls; two straight-line functions are then
generated (``step.generated``): the forward calls each primitive's own ``forward``, the
backward its own VJPs in reverse, through the engine's one gradient check. No rule is
written twice and every check inside a forward runs on every replay; what is saved is the
bookkeeping. A replay is exact or does not happen: a changed guard, shape or dtype traces
anew; what a replay could not repeat (``Tracer.why_not_replayable``) runs eagerly, with a
``RuntimeWarning``; a call whose values an op's check refuses runs eagerly too (the function
may catch that error), its trace kept. Replays share no buffers: threads may call one compiled function at
once, and each result can backward at any time.
"""
import builtins
import copy
import numbers
import os
import pickle
import threading
import types
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import tape
from .compile_key import call_key, describe, owner, reachable
from .custom import viewed_source
from .errors import GraphError
from .modes import current, set_grad_enabled, share_version
from .primitive import Primitive
from .rng import as_generator
from .replay_source import RUNTIME, Retrace, generate, same_bits
from .tensor import Tensor
from .tracer import POSSIBLY_COPIED, Tracer, as_input, eager_argument

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
        self.fn, self.max_traces, self.recordings, self.replays, self._eager_only = fn, max_traces, 0, 0, False
        self.__name__, self.__doc__ = getattr(fn, "__name__", "fn"), getattr(fn, "__doc__", None)
        self.__wrapped__ = fn  # (what a compiled function reaches is what fn reaches: compile_key)
        self._traces, self._lock, self._latest, self._recent = OrderedDict(), threading.RLock(), None, None  # (re-entrant: see modes)
        _LOCKS.add(self._lock)
        self._reached = reachable(fn)

    def __get__(self, obj, owner=None):
        """``@ag.compile`` on a method in a class body binds like a function (as ``jax.jit`` and
        ``torch.compile`` do): ``obj.cost(x)`` is ``Model.cost(obj, x)``, ``obj`` an argument, so each
        object's calls are keyed by what it holds and by its identity (``compile_key.describe``)."""
        return self if obj is None else types.MethodType(self, obj)

    def __reduce__(self):  # (copy, deepcopy, pickle: a new compiled function of fn, no traces or lock)
        return CompiledFunction, (self.fn, self.max_traces)

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    # (_latest: the listing and source of the latest trace, not the trace: evicted, it frees what it held)
    source = property(lambda self: self._latest[0] if self._latest else "(not traced yet)")
    generated = property(lambda self: self._latest[1] if self._latest else "(not traced yet)")

    def __call__(self, *args, **kwargs):
        state = current()
        if state.anomaly or state.grad_depth or state.tracer is not None or self._eager_only:
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
                out = trace.replay(args, kwargs, state)
            except (Retrace, _Refused) as error:  # (run below, outside: the call's own error chains to neither)
                refused = isinstance(error, _Refused)
            else:
                self.replays += type(trace) is _Trace  # (a key that runs eagerly replays nothing)
                if getattr(trace, "finish", None) is None:
                    return out
                with set_grad_enabled(trace.finish_grad):  # (no_grad or enable_grad around it inside f holds)
                    return trace.finish(out)
            if refused:  # (the function may catch that error: run it, its own error if it does not)
                return _Eager(self.fn).replay(args, kwargs, state)
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        # What fn reaches is found anew (helpers may be new); ``seen``: {id: object} of what the key
        # holds by identity, kept alive by the trace so that no new object takes one of those ids.
        seen, self._reached = {}, reachable(self.fn)
        key, tracer = (key[0], self._reached(seen), key[2]), Tracer()
        for value in [*args, *kwargs.values()]:  # (what the arguments hold by identity: a model's arrays)
            describe(value, True, 0, seen)
        watched = tracer.watched(seen)  # (copied before the call: an array it changes, buf[...] *= 2, must show)
        unchanged = lambda: (call_key(args, kwargs), self._reached(), key[2]) == key and all(
            same_bits(array, copy) for array, copy in watched)
        reason = next(filter(None, map(eager_argument, [*args, *kwargs.values()])), None)
        if reason is not None:
            out = _Eager(self.fn).replay(args, kwargs, current())
        else:
            try:
                out, where, reason = tracer.run(self.fn, self.__name__, args, kwargs, seen)
            except GraphError:  # (another thread made that tensor, replacing what fn reads: fn's result stands)
                if tracer.result is None or unchanged():
                    raise
                return tracer.result
        trace = _Trace(self.__name__, tracer, out, where, seen, watched) if reason is None else _Eager(self.fn)
        trace.held = seen
        if reason is not None:
            then = "this call ran it eagerly, the next traces it again" if reason is POSSIBLY_COPIED else \
                "calls like this one run it eagerly"
            warnings.warn(f"ag.compile({self.__name__}): the function {reason}; {then}", RuntimeWarning, stacklevel=3)
        with self._lock:
            self.recordings += 1
            if unchanged() and reason is not POSSIBLY_COPIED:  # (else it changed meanwhile)
                self._traces[key], self._recent = trace, trace
                self._latest = (trace.listing, trace.generated) if reason is None else self._latest
                self._traces.move_to_end(key)  # (a key traced again keeps its place otherwise)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)
            if self.recordings >= max(16, 2 * self.max_traces) and self.recordings > self.replays:
                self._eager_only, self._recent = True, None
                self._traces.clear()  # (never replayed now: what they hold goes)
                warnings.warn(f"ag.compile({self.__name__}): traced {self.recordings} times, replayed {self.replays}: "
                              "what it reaches changes on every call (a tensor computed inside and printed: "
                              "print, repr, str, an f-string; a counter or costs list on its object, a new "
                              "generator per call, .item() or .data, an unused comparison, arrays in a tuple "
                              "argument); from now on it runs eagerly. Print outside it (return the value); "
                              "pass changing values as arguments", RuntimeWarning, stacklevel=3)
        return out


# Every compiled function's lock, reset in a child forked while another thread held one (it would
# never be released there); weakly held, so a compiled function still goes with its last reference.
_LOCKS = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: [lock._at_fork_reinit() for lock in list(_LOCKS)])

class _Refused(Exception):
    """An op's check refused the values of a replayed call (``DomainError``: labels of 2, a custom
    primitive's check): the call runs eagerly, as the function may catch that error; the trace stays."""


class _Eager:
    """In place of a trace: the function runs eagerly, float arrays among its arguments as Tensors."""

    def __init__(self, fn):
        self.fn = fn

    def replay(self, args, kwargs, state):
        return self.fn(*[as_input(a) for a in args], **{k: as_input(v) for k, v in kwargs.items()})


class _Trace:
    """One recorded call, replayable: its steps, guards, inputs (``where``: their positions
    or keywords in the call) and captured tensors, and the two functions generated from
    them (``replay_source.generate``)."""

    def __init__(self, name, tracer, out, where, seen, watched):
        self.steps, self.inputs, self.captured = tracer.steps, tracer.inputs, tracer.captured
        self.watched, self.labelled = watched, tracer.labelled(seen)
        self.constants, self.where, self.aliases, self.facts = tracer.constants, where, tracer.aliases, tracer.facts
        self.pinned = {slot: tracer.keep[slot] for slot in tracer.pinned}
        self.guards = {slot: [v for s, v in tracer.guards if s == slot] for slot, _ in tracer.guards}
        self.out_slot = tracer.ref(out)
        self.node, self.listing = _Replayed(f"compiled {name}", self), tracer.listing(self.out_slot)
        # An op whose output's node its consumers read (``read_on_result``: sigmoid's, where binary_cross_entropy
        # finds the logits) is applied again to the replayed input when it makes the result, as eager records it
        last = next((s for s in self.steps if s[3] == self.out_slot and getattr(s[0], "read_on_result", False)
                     and len(s[1]) == 1 and not s[2]), None)
        self.finish, self.out_slot = (last[0], last[1][0]) if last else (None, self.out_slot)
        self.finish_grad = last is not None and last[3] not in tracer.detached  # (the mode f ran it in)
        self.source_slots = tracer.inputs + [c[0] for c in tracer.captured]
        # the generators its steps draw from (ag.dropout's; None: the default; an int seeds anew)
        self.streams = list({id(p["rng"]): p["rng"] for prim, _, p, _, _, _ in self.steps
                             if getattr(prim, "draws", False) and not isinstance(p["rng"], numbers.Integral)}.values())
        self.differentiable = tracer.differentiable(self.source_slots)  # only their steps get a backward
        self.grad = self.out_slot in self.differentiable  # as eager: the result requires grad or not
        self.generated, names = generate(self, [np.asarray(getattr(v, "_array", v)) for v in tracer.keep])
        namespace = dict(RUNTIME, **names)
        exec(builtins.compile(self.generated, f"<ag.compile {name}>", "exec"), namespace)
        self.forward, self.backward = namespace["forward"], namespace["backward"]

    def replay(self, args, kwargs, state):
        streams = [(r, as_generator(r)) for r in self.streams]
        drawn_from, drawn = [(r, g, _bits(g).state) for r, g in streams], []
        epoch = tape.clock.now  # (read first, as Primitive.__call__ does: a source edited meanwhile is seen)
        try:
            value, sources, saved = self.forward(args, kwargs, drawn)
        except Exception as error:  # (after a draw: the call traced anew or run eagerly must draw what
            for r, g, before in drawn_from:  # the function would)
                self._rewind(r, g, before, drawn)
            if isinstance(error, Retrace):
                raise
            raise _Refused(error) from error
        if self.out_slot in self.source_slots:  # (it returns an argument or a captured tensor itself)
            return sources[self.source_slots.index(self.out_slot)]
        # A result made fresh is copied: it may be (or view) a constant of the trace, which every replay
        # shares. A view of a source (x.T, x.reshape) is the same view of this call's source, as eager's
        # is: returned as it is, so writes through it reach the caller's array as in eager code. Asked on
        # every call: x.reshape is a view of one layout and a copy of another, and layout keys no trace.
        view = _views_source(value, sources)
        out = Tensor._wrap(value if view else np.array(value), state.scope)
        if view:  # (and shares its version counter, as eager's view does: an edit through it is seen)
            viewed = viewed_source(value, sources)
            if viewed is not None:
                share_version(viewed, out)
        if self.grad:  # (grad mode keys the trace: as when it was traced, enable_grad inside too)
            out._requires_grad, out._prim, out._parents = True, self.node, sources
            out._params, out._epoch = {"values": saved}, epoch
        return out


    def _rewind(self, given, stream, before, drawn):
        """Put ``stream`` (the generator the steps' ``rng=given`` draws from) back to the state ``before``
        this failed replay, unless another thread drew from it meanwhile: its state is then not the one
        the replay's own draws (the steps ``drawn``, in order) lead to, and rewinding would hand that
        thread's numbers out again (the replay's draws stay spent: the call made anew draws the next
        ones). Under the stream's own lock, so that no draw comes between the test and the rewind."""
        bits = _bits(stream)
        with bits.lock:
            probe = copy.deepcopy(stream)
            _bits(probe).state = before
            for k in drawn:  # (a mask step draws from its params alone)
                prim, _, params, _, _, _ = self.steps[k]
                if params["rng"] is given:  # (given may be None: the default stream)
                    prim.forward(**dict(params, rng=probe))
            if pickle.dumps(bits.state) == pickle.dumps(_bits(probe).state):
                bits.state = before


def _bits(stream):
    """The bit generator of a ``Generator`` or a ``RandomState`` (its state, and the lock its draws take)."""
    return stream.bit_generator if isinstance(stream, np.random.Generator) else stream._bit_generator


def _views_source(value, sources):
    """Whether the array ``value`` is the array of one of the Tensors ``sources`` (the call's arguments and
    captured tensors), as ``x.detach()``'s is, or views its memory, as ``x.T`` does: the same buffer owner
    (NumPy keeps a view's ``base`` the array owning the memory), so no costly overlap test."""
    if type(value) is not np.ndarray:
        return False
    if value.base is None:  # (a fresh result, a cost: one identity test per source)
        return any(value is s._array for s in sources)
    held = owner(value)
    return any(owner(s._array) is held for s in sources)


class _Replayed(Primitive):
    """The one node a replayed result has: its inputs are the trace's sources."""

    def __init__(self, name, trace):
        super().__init__(lambda *sources: None, name)
        self.trace = trace

    def input_grads(self, g, out, parents, params, higher):
        if higher:
            raise GraphError(f"{self.name}: a replayed result gives first-order gradients only; call the "
                             "function itself (step.fn) for higher-order ones")
        return self.trace.backward(g, parents, *params["values"])
