"""Modes that change what the engine records, kept per thread (as PyTorch keeps grad mode).

``current()`` is this thread's ``ThreadState``: each thread sees its own grad
mode, anomaly mode, scope names, ``grad`` nesting depth and compile tracer, so
one thread's ``no_grad()``, ``backward()`` or tracing never changes what another
records. Each mode manager's exit restores, in the thread that exits, the value its own
entry saw; one manager object may be reused, nested and shared by threads.

A process forked while other threads run (``os.fork``, multiprocessing's fork start
method) gets this module's locks unlocked, whatever those threads held, and keeps
only the forking thread's ``ThreadState`` (CPython drops the other threads' ones).
"""
import dis
import functools
import inspect
import os
import sys
import threading
import weakref

from .convert import flag


class ThreadState:
    """One thread's modes. Slots: read on every op, they cost a tenth of a
    ``threading.local``'s attributes, so each op reads the local once (``current()``)."""
    __slots__ = ("grad_enabled", "anomaly", "scope", "grad_depth", "tracer")

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scope = ()
        self.grad_depth = 0   # how many ag.grad evaluations are running in this thread
        self.tracer = None    # the trace being recorded by ag.compile in this thread, if any


class _PerThread(threading.local):
    def __init__(self):  # runs once in every thread that calls current()
        self.state = ThreadState()


per_thread = _PerThread()  # its .state is this thread's ThreadState


def current():
    """This thread's ``ThreadState``."""
    return per_thread.state


def note_grad_write():
    """Before a ``.grad`` is set (the setter; backward and optimizers, which write ``_grad`` in a
    loop, once): while ``ag.compile`` traces this thread, a replay could not repeat it."""
    tracer = per_thread.state.tracer
    if tracer is not None:
        tracer.refusals.append("sets a .grad while it runs (backward(), zero_grad(), an optimizer), which "
                               "a replay would not repeat; call them outside it")


class _Mode:
    """Base of the mode managers: ``with`` sets one ``ThreadState`` field of the entering
    thread; the exit puts back, in the thread that exits, the value its own entry saw.

    One object may be entered again, nested, and from several threads at once: each open
    entry keeps (thread id, frame of its ``with``, value it saw, whether a ``with`` statement
    made it) on ``_saved``. An exit takes the innermost entry of its own ``with`` block, found by
    its frame, which stays the same when a generator is resumed in another thread. An exit from
    another frame (``contextlib.ExitStack`` enters in one call and exits in another) never takes a
    ``with`` statement's entry, which only its own frame exits: it takes its own thread's
    innermost other entry, else another thread's. As a decorator it runs each call, or each
    step of a generator, under the mode.
    """
    _field = None  # the ThreadState slot this mode sets

    def __init__(self):
        self._saved = []  # (thread id, frame, value seen, by a with statement) of each open entry, innermost last

    def _inside(self, state):
        """The value of the field inside the block, for a thread whose state is ``state``."""
        raise NotImplementedError

    def _seen(self, state):
        """The value this entry will restore at its exit."""
        return getattr(state, self._field)

    def __enter__(self):
        state, frame = current(), sys._getframe(1)
        entry = (threading.get_ident(), frame, self._seen(state), _by_with_statement(frame))
        with _saved_lock:
            self._saved.append(entry)
        setattr(state, self._field, self._inside(state))

    def __exit__(self, *exc_info):
        setattr(current(), self._field, self._pop_saved(sys._getframe(1)))

    def _pop_saved(self, frame):
        me, saved = threading.get_ident(), self._saved
        with _saved_lock:
            for i in range(len(saved) - 1, -1, -1):  # this very block's entry, by its frame
                if saved[i][1] is frame:
                    return saved.pop(i)[2]
            loose = [i for i in range(len(saved)) if not saved[i][3]] or list(range(len(saved)))
            for i in reversed(loose):  # (entered from another frame: this thread's)
                if saved[i][0] == me:
                    return saved.pop(i)[2]
            if not saved:
                raise RuntimeError(f"{type(self).__name__}: __exit__ without a matching __enter__; "
                                   "expected it to close a `with` block of this object")
            # Entered in another thread and from another frame: as PyTorch's, the exit gives the
            # exiting thread the value that entry saw; the entering thread is not touched.
            return saved.pop(loose[-1])[2]

    def __call__(self, func):
        """Decorator: ``func`` runs under this mode at each call; a generator function at each
        step (the caller's mode comes back between steps), as PyTorch's mode decorators do."""
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"{type(self).__name__}(): as a decorator of the async function "
                            f"{getattr(func, '__qualname__', func)!r} it would hold only while the coroutine is "
                            f"made, not while it runs; expected a function or a generator function: use "
                            f"`with` inside it (keeping `await` out of the block)")
        if inspect.isgeneratorfunction(func):
            return _each_step_under(self, func)

        @functools.wraps(func)
        def under_mode(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return under_mode


# The opcodes a `with` / `async with` statement enters by: BEFORE_WITH / BEFORE_ASYNC_WITH (Python 3.11 to
# 3.13); from 3.14, which removes them, a CALL of the __enter__ a LOAD_SPECIAL loaded (_special_calls).
# None elsewhere: every exit from another frame then takes its thread's innermost entry, as before.
_ENTERS = ("BEFORE_WITH", "BEFORE_ASYNC_WITH") if "BEFORE_WITH" in dis.opmap else \
    ("CALL",) if "LOAD_SPECIAL" in dis.opmap else ()
_WITH, _CALL = frozenset(dis.opmap[name] for name in _ENTERS), dis.opmap.get("CALL")


def _by_with_statement(frame):
    """Whether ``frame`` enters a mode by a `with` statement (its opcode, see ``_WITH``), not by a call
    of ``__enter__`` (``contextlib.ExitStack``)."""
    code, at = frame.f_code, frame.f_lasti
    return code.co_code[at] in _WITH and (code.co_code[at] != _CALL or at in _special_calls(code))


@functools.lru_cache(maxsize=256)
def _special_calls(code):
    """The offsets of ``code``'s CALLs right after a LOAD_SPECIAL (Python 3.14: a `with` calling the
    ``__enter__`` it loaded; the opcode loads only a `with`'s special methods)."""
    ops = list(dis.get_instructions(code))
    return frozenset(op.offset for before, op in zip(ops, ops[1:])
                     if op.opname == "CALL" and before.opname == "LOAD_SPECIAL")


def _each_step_under(mode, func):
    """Generator function ``func`` wrapped so that each step of its generators runs under ``mode``."""
    @functools.wraps(func)
    def steps(*args, **kwargs):
        generator = func(*args, **kwargs)
        try:
            with mode:
                response = generator.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with mode:
                        generator.close()
                    raise
                except BaseException as error:  # thrown in by the consumer: the generator handles it
                    with mode:
                        response = generator.throw(error)
                else:
                    with mode:
                        response = generator.send(request)
        except StopIteration as stop:
            return stop.value
    return steps


class no_grad(_Mode):
    """Context manager and decorator: nothing computed inside is recorded (evaluation,
    parameter updates). Reusable, as PyTorch's."""
    _field = "grad_enabled"

    def _inside(self, state):
        return False


class enable_grad(_Mode):
    """Context manager and decorator: recording is on inside, even within ``no_grad``
    (``grad`` uses it)."""
    _field = "grad_enabled"

    def _inside(self, state):
        return True


class set_grad_enabled(_Mode):
    """Recording on or off as ``enabled`` says: at once when called, and in a ``with`` block
    or a decorated function only inside it (the previous mode comes back at its end), as PyTorch's."""
    _field = "grad_enabled"

    def __init__(self, enabled):
        super().__init__()
        self._enabled = flag(enabled, "set_grad_enabled")
        state = current()
        # The mode before the call: the first `with` of this thread restores it (it already
        # sees the new mode), and decorating puts it back at once.
        self._before = (threading.get_ident(), state.grad_enabled)
        state.grad_enabled = self._enabled

    def _inside(self, state):
        return self._enabled

    def _seen(self, state):
        before = self._take_before()
        return state.grad_enabled if before is None else before

    def __call__(self, func):
        before = self._take_before()
        if before is not None:
            current().grad_enabled = before
        return super().__call__(func)

    def _take_before(self):
        """The mode before the call, once, in the thread that made this object; else None (another
        thread's mode is that thread's to restore)."""
        before = self._before
        if before is None or before[0] != threading.get_ident():
            return None
        self._before = None
        return before[1]


def is_grad_enabled():
    """True when this thread records new ops."""
    return current().grad_enabled


class detect_anomaly(_Mode):
    """Context manager and decorator: the first op whose output or gradient holds NaN/inf
    raises ``AnomalyError`` naming the op, its input shapes and the user's source line.
    ``check_nan``: PyTorch's argument, a bool; False checks nothing inside (as PyTorch raises
    on no NaN then; NaN/inf is all this mode checks, so ``is_anomaly_enabled()`` is False there)."""
    _field = "anomaly"

    def __init__(self, check_nan=True):
        super().__init__()
        self._check = flag(check_nan, "detect_anomaly(check_nan=...)")

    def _inside(self, state):
        return self._check


def is_anomaly_enabled():
    """True inside ``detect_anomaly()`` in this thread."""
    return current().anomaly


class scope(_Mode):
    """Context manager and decorator: tag every tensor made inside with ``name`` (nests inside
    the scopes open at entry), e.g. to draw each layer as a cluster."""
    _field = "scope"

    def __init__(self, name):
        super().__init__()
        self._name = str(name)

    def _inside(self, state):
        return state.scope + (self._name,)


class VersionCounter:
    """How often a tensor's data was changed in place; views and ``detach()`` share their
    base's counter, so an edit through any of them is seen by all.

    ``stamp`` is the value of the process-wide ``clock`` at the last change: a node recorded
    at a later clock value saw no change since, so backward can skip comparing versions.
    ``holders``: a weak reference to each Tensor holding the counter (``t``, which made it, and
    every view and detach given it), which removes itself when its Tensor goes, so a view made
    and deleted no longer counts (``shares_memory_with_another``). Each Tensor is added once: two
    weak references to one live Tensor compare with its ``==``, which is elementwise."""
    __slots__ = ("version", "stamp", "holders")

    def __init__(self, t):
        self.version = 0
        self.stamp = 0
        self.holders = set()
        _hold(self, t)


def _hold(vc, t):
    # (set.add and set.discard are single operations under the GIL: threads sharing a counter need no lock)
    vc.holders.add(weakref.ref(t, vc.holders.discard))


class _Clock:
    __slots__ = ("now",)


clock = _Clock()
clock.now = 0
# Every lock of the package is re-entrant: code holding one allocates, so the garbage collector may
# run an object's __del__ there, in the same thread; one that calls back in (zero_grad(), a compiled
# function) takes the lock again instead of waiting forever on its own thread.
_clock_lock = threading.RLock()
# Held while a .grad is read, added to and stored (backward), or set (the setter, zero_grad): without
# it two threads' backward() into one leaf could each add to the old .grad and one sum would be lost.
grad_lock = threading.RLock()
# Several threads may enter and exit one mode object at once; held only around a list operation,
# so one lock serves every mode object (and a fork has one lock to reset, not one per object).
_saved_lock = threading.RLock()


def _reset_locks_in_child():
    """After a fork, in the child: every lock of this module unlocked. A thread that held one in
    the parent (another thread's backward() inside ``_write_grads``) does not exist in the child,
    so it would never release it, and the child's first backward() would wait forever. Reset in
    place rather than replaced, since other modules hold these very objects (``from .modes import
    grad_lock``). Entries that other threads left on a mode object's ``_saved`` stay, as those of a
    generator suspended in a ``with`` block do: such a generator may still be resumed in the child.

    Not done before the fork (taking grad_lock so that no ``.grad`` write is half done): a
    signal handler that forks, run by the thread holding it, would deadlock there, and a fork
    would wait on a thread stopped inside a write (a debugger); readers of ``.grad`` take no
    lock anyway, so the parent's own threads may see the same half-written set."""
    for lock in (grad_lock, _clock_lock, _saved_lock):
        lock._at_fork_reinit()  # what CPython does to its own locks after a fork (threading, logging)


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_reset_locks_in_child)


def share_version(base, other):
    """Give ``other`` (a view of ``base``, or its ``detach()``) ``base``'s version counter, made
    now if ``base`` has none, so an in-place change through either is seen by both."""
    vc = base._vc
    if vc is None:
        with _clock_lock:  # two threads sharing at once (a view and a detach) must get one counter
            vc = base._vc
            if vc is None:
                vc = base._vc = VersionCounter(base)
    if other._vc is not vc:
        other._vc = vc
        _hold(vc, other)


def shares_memory_with_another(t):
    """Whether a live Tensor other than ``t`` holds ``t``'s version counter: a view or ``detach()``
    of ``t``, the base ``t`` is one of, or another of its views."""
    vc = t._vc
    held = [] if vc is None else [ref() for ref in list(vc.holders)]  # (list(): another thread may add)
    return any(h is not None and h is not t for h in held)  # (by identity: a Tensor's == is elementwise)


def mark_modified(tensors):
    """Note an in-place change of each of ``tensors``: a graph recorded before it is
    refused at backward()."""
    with _clock_lock:  # one tick for all, so no thread sees half of the change
        clock.now += 1
        for t in tensors:
            t._vc = t._vc or VersionCounter(t)
            t._vc.version += 1
            t._vc.stamp = clock.now
    tracer = current().tracer
    if tracer is not None:  # (this thread's traced call changed them; another thread's edit is no part of it)
        tracer.edited_in_place = True
