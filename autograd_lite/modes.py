"""Modes that change what the engine records, kept per thread (as PyTorch keeps grad mode).

``current()`` is this thread's ``ThreadState``: each thread sees its own grad
mode, anomaly mode, scope names, ``grad`` nesting depth and compile tracer, so
one thread's ``no_grad()``, ``backward()`` or tracing never changes what another
records. Every context manager restores the value it found in its own thread.
"""
import threading
from contextlib import contextmanager


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


@contextmanager
def _switch(name, value):
    state = current()
    previous = getattr(state, name)
    setattr(state, name, value)
    try:
        yield
    finally:
        setattr(state, name, previous)


def no_grad():
    """Context manager: nothing computed inside is recorded (evaluation, parameter updates)."""
    return _switch("grad_enabled", False)


def enable_grad():
    """Context manager: recording is on inside, even within ``no_grad`` (``grad`` uses it)."""
    return _switch("grad_enabled", True)


class set_grad_enabled:
    """Recording on or off as ``enabled`` says: at once when called, and in a ``with`` block
    only inside it (the previous mode comes back at its end), as PyTorch's."""

    def __init__(self, enabled):
        state = current()
        self._previous, state.grad_enabled = state.grad_enabled, bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        current().grad_enabled = self._previous


def is_grad_enabled():
    """True when this thread records new ops."""
    return current().grad_enabled


def detect_anomaly():
    """Context manager: the first op whose output or gradient holds NaN/inf raises
    ``AnomalyError`` naming the op, its input shapes and the user's source line."""
    return _switch("anomaly", True)


def is_anomaly_enabled():
    """True inside ``detect_anomaly()`` in this thread."""
    return current().anomaly


def scope(name):
    """Context manager: tag every tensor made inside with ``name`` (nests), e.g. to draw
    each layer as a cluster."""
    return _switch("scope", current().scope + (str(name),))


class VersionCounter:
    """How often a tensor's data was changed in place; views and ``detach()`` share their
    base's counter, so an edit through any of them is seen by all.

    ``stamp`` is the value of the process-wide ``clock`` at the last change: a node recorded
    at a later clock value saw no change since, so backward can skip comparing versions."""
    __slots__ = ("version", "stamp")

    def __init__(self):
        self.version = 0
        self.stamp = 0


class _Clock:
    __slots__ = ("now",)


clock = _Clock()
clock.now = 0
_clock_lock = threading.Lock()


def mark_modified(tensors):
    """Note an in-place change of each of ``tensors``: a graph recorded before it is
    refused at backward()."""
    with _clock_lock:  # one tick for all, so no thread sees half of the change
        clock.now += 1
        for t in tensors:
            t._vc = t._vc or VersionCounter()
            t._vc.version += 1
            t._vc.stamp = clock.now
