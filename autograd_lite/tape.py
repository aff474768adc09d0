"""The tape: recording ops as they run, and walking them back in reverse.

Every op output that depends on a tensor with ``requires_grad`` carries its
graph node inline (no separate node objects, to keep the per-op cost low;
``Primitive.__call__`` fills it in):

    t._prim     the Primitive that made it (None for leaves)
    t._parents  its input Tensors, or None once backward() freed the graph
    t._params   keyword parameters of the op (axis, mask, keep_prob, ...)
    t._epoch    the count of in-place updates (``_State.mutations``) when the op ran
    t._seq      its place in creation order, counting down (newer is lower)
    t._scope    the ``scope()`` names active when it was made
    t._site     the user's source line, recorded only in anomaly mode

``backward`` is the only place that applies a VJP, and the only place that
reduces a broadcast gradient back to an input's shape (``unbroadcast``):
no op handles broadcasting on its own.
"""
import heapq
import itertools
import sys
from contextlib import contextmanager

import numpy as np

from .errors import AnomalyError, GraphError, InplaceModificationError


class _Switches:
    """Process-wide switches, read on every op. One instance, ``_State``: attributes of a
    slotted instance are read faster than those of a class."""
    __slots__ = ("grad_enabled", "anomaly", "scope", "mutations", "tracer")

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scope = ()
        # Count of in-place updates (Tensor.data assignments) so far. A node recorded when it had
        # its current value saw no update since: backward skips its in-place checks.
        self.mutations = 0
        self.tracer = None  # a list while ag.compile records a function: every op is appended to it


_State = _Switches()


# Creation order of tensors, counting down: an op's output is always newer than its inputs,
# so walking nodes newest (lowest) first visits each one after every node that consumes it.
# Counting down lets a min-heap order them by the number itself, with no negation per push.
next_seq = itertools.count(0, -1).__next__


class _GradMode:
    """Context manager and decorator that sets whether ops are recorded."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.previous = _State.grad_enabled
        _State.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _State.grad_enabled = self.previous

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return func(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
        return wrapper


def no_grad():
    """Nothing computed inside is recorded (evaluation, parameter updates)."""
    return _GradMode(False)


def enable_grad():
    """Recording is on inside, even within ``no_grad`` (used by ``grad``)."""
    return _GradMode(True)


def is_grad_enabled():
    """True when new ops are being recorded."""
    return _State.grad_enabled


@contextmanager
def scope(name):
    """Tag every tensor made inside with ``name`` (nests), e.g. to draw layers as clusters."""
    previous = _State.scope
    _State.scope = previous + (str(name),)
    try:
        yield
    finally:
        _State.scope = previous


@contextmanager
def detect_anomaly():
    """Inside, the first op whose output or gradient holds NaN/inf raises ``AnomalyError``
    naming the op, its input shapes and the user's source line that created it."""
    previous = _State.anomaly
    _State.anomaly = True
    try:
        yield
    finally:
        _State.anomaly = previous


def user_site():
    """'file:line' of the innermost caller outside this package (for error messages)."""
    package_dir = __file__.rsplit("/", 1)[0]
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back
    return "<unknown>" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def describe(t, prim=None, parents=None):
    """Short human description of a graph node for error messages."""
    prim = prim or t._prim
    parents = parents or t._parents
    what = f"op '{prim.name}'" if prim is not None else "leaf"
    if t.name:
        what += f" named '{t.name}'"
    shapes = ""
    if parents:
        shapes = " from inputs of shape " + ", ".join(str(p.shape) for p in parents)
    where = f", created at {t._site}" if t._site else ""
    return f"{what} (output shape {t.shape}{shapes}{where})"


def raise_if_not_finite(array, stage, t, prim=None, parents=None):
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise AnomalyError(f"{stage} of {describe(t, prim, parents)} produced {bad}")


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it
    takes ``shape`` again (works on ndarrays and, for higher order, Tensors)."""
    plan = _REDUCTIONS.get((grad.shape, shape))
    if plan is None:
        lead = grad.ndim - len(shape)
        if lead < 0:
            raise GraphError(f"gradient of shape {grad.shape} cannot be reduced to input shape {shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
        if len(_REDUCTIONS) > 4096:  # a bound, for programs with ever-changing shapes
            _REDUCTIONS.clear()
        plan = _REDUCTIONS[grad.shape, shape] = (axes, lead)
    axes, lead = plan
    if axes:
        grad = (_add_all(grad, axis=axes, keepdims=True) if type(grad) is np.ndarray
                else grad.sum(axis=axes, keepdims=True))
    return grad.reshape(shape) if lead else grad


_REDUCTIONS = {}  # (gradient shape, input shape) -> (axes to sum, number of leading axes)
_add_all = np.add.reduce  # ndarray.sum without its Python wrapper


def _inputs_requiring_grad(t):
    return [p for p in t._parents or () if p.requires_grad]


def topological_order(root, inputs=_inputs_requiring_grad):
    """Tensors that lead to ``root``, each after all its inputs. ``inputs(t)`` says
    which inputs of ``t`` to follow (default: those that require grad).
    Iterative depth-first search, so graph depth is not bounded by recursion."""
    order, visited = [], {id(root)}
    stack = [(root, iter(inputs(root)))]
    while stack:
        node, pending = stack[-1]
        for p in pending:
            if id(p) not in visited:
                visited.add(id(p))
                stack.append((p, iter(inputs(p))))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _check_usable(t):
    """Raise unless op output ``t`` still has its graph and unchanged inputs."""
    if t._parents is None:
        raise GraphError(
            f"backward through a freed graph: {describe(t)} was freed by an earlier "
            "backward(); pass retain_graph=True to the first call to go through it again")
    if t._modified_at > t._epoch:
        raise InplaceModificationError(
            f"{describe(t)}: its output was modified in place after it was recorded; "
            "its backward needs the original value")
    for i, p in enumerate(t._parents):
        if p._modified_at > t._epoch:
            raise InplaceModificationError(
                f"{describe(t)}: input {i} (shape {p.shape}{', ' + repr(p.name) if p.name else ''}) "
                f"was modified in place after the op was recorded (it is now at version {p._version}); "
                "run backward() before updating it, or recompute the forward pass")


def backward(root, seed, inputs=None, retain_graph=False, create_graph=False):
    """Propagate ``seed`` (d root / d root) back through the graph of ``root``.

    inputs None: accumulate into ``.grad`` of every leaf (and ``retain_grad()``
    tensor) and return None. inputs given: return their gradients as a list
    (None where no path exists) and leave ``.grad`` untouched.
    create_graph: gradients are Tensors recorded on the tape (higher order).

    Nodes are visited newest first (a heap on creation order), which is a reverse
    topological order found without a separate graph search. Only edges that carry a
    gradient are followed (a VJP returning None ends its path, as binary_cross_entropy's
    does towards a sigmoid it bypasses). Unless retained, each walked node's graph is
    dropped as soon as it is walked (as PyTorch frees saved tensors).
    ``.grad`` is written only after the whole walk, so a refused backward leaves no
    partial gradients.
    """
    prim = root._prim
    if (prim is not None and prim.vjp_all is not None and inputs is None and not create_graph
            and not _State.anomaly and root._parents is not None
            and all(p._prim is None for p in root._parents)):
        return _backward_to_leaves(root, seed, retain_graph)
    # Keyed by the tensors themselves (identity hash: Tensor defines no __eq__).
    wanted = None if inputs is None else {x: i for i, x in enumerate(inputs)}
    found = [None] * (0 if inputs is None else len(inputs))
    grads = {root: seed}
    # Op outputs wait in the heap, newest first; leaves need no order and wait in `leaves`.
    # Sequence numbers are unique, so heap entries never compare their tensors.
    heap, leaves = ([], [root]) if prim is None else ([(root._seq, root)], [])
    to_write = []
    free = not retain_graph and not create_graph  # each node's graph is dropped once it is walked
    anomaly, mutations = _State.anomaly, _State.mutations
    pop, push = heapq.heappop, heapq.heappush
    recording, _State.grad_enabled = _State.grad_enabled, create_graph
    try:
        while heap:
            t = pop(heap)[1]
            g = grads.pop(t)
            if t._epoch != mutations or t._parents is None:
                _check_usable(t)
            parents, params = t._parents, t._params
            if free:
                t._parents = t._params = None
            if t._retain or wanted is not None:  # rare: usually both are off
                if wanted is None:
                    to_write.append((t, g))
                elif t in wanted:
                    found[wanted[t]] = g
            vjps = t._prim.vjps
            out = t if create_graph else t._data
            # Up to three inputs (one, with parameters): the VJPs get them as plain arguments,
            # since a call with *args costs about three times as much.
            arity = len(parents)
            if arity == 1 or arity <= 3 and not params:
                x0 = parents[0] if create_graph else parents[0]._data
                x1 = parents[arity > 1] if create_graph else parents[arity > 1]._data
                x2 = parents[-1] if create_graph else parents[-1]._data
            else:
                arity = 0
                args = parents if create_graph else [p._data for p in parents]
            for i, p in enumerate(parents):
                if not p.requires_grad:
                    continue
                vjp = vjps[i]
                if vjp is None:
                    raise GraphError(f"{describe(t, None, parents)} is not differentiable with respect to "
                                     f"input {i} (shape {p.shape}), which requires grad")
                if arity == 2:
                    gi = vjp(g, out, x0, x1)
                elif arity == 1:
                    gi = vjp(g, out, x0, **params) if params else vjp(g, out, x0)
                elif arity == 3:
                    gi = vjp(g, out, x0, x1, x2)
                else:
                    gi = vjp(g, out, *args, **params)
                if gi is None:  # this edge carries no gradient (it flows through another input)
                    continue
                # NumPy scalars (a 0-d output's seed, passed on) stay scalars: their arithmetic is cheaper
                if type(gi) is not np.ndarray and not create_graph and not isinstance(gi, np.generic):
                    gi = np.asarray(getattr(gi, "_data", gi))
                if gi.shape != p._data.shape:
                    gi = unbroadcast(gi, p._data.shape)
                if anomaly:
                    raise_if_not_finite(getattr(gi, "_data", gi), f"backward (input {i})", t, None, parents)
                old = grads.get(p)
                if old is None:
                    grads[p] = gi
                    if p._prim is None:
                        leaves.append(p)
                    else:
                        push(heap, (p._seq, p))
                else:
                    grads[p] = old + gi
        if wanted is None:
            to_write += [(t, grads.pop(t)) for t in leaves]
        else:
            for t in leaves:
                if t in wanted:
                    found[wanted[t]] = grads.pop(t)
    finally:
        _State.grad_enabled = recording
    g = gi = old = grads = None  # only to_write may still refer to the leaves' gradients (see _accumulate_grad)
    for t, g in to_write:
        _accumulate_grad(t, g)
    del to_write
    return None if inputs is None else found


def _backward_to_leaves(root, seed, retain_graph):
    """``backward`` for a node whose inputs are all leaves and whose primitive gives every
    input's gradient in one call (``Primitive.vjp_all``, as an ``ag.compile`` node does):
    no graph walk, the same checks, conversions and ``.grad`` writes."""
    if root._epoch != _State.mutations:
        _check_usable(root)
    parents = root._parents
    grads = root._prim.vjp_all(seed, root._data, *[p._data for p in parents], **root._params)
    to_write = [(root, seed)] if root._retain else []
    for p, gi in zip(parents, grads):
        if gi is None or not p.requires_grad:
            continue
        if type(gi) is not np.ndarray:
            gi = np.asarray(getattr(gi, "_data", gi))
        shape = p._data.shape
        if gi.shape != shape:
            gi = unbroadcast(gi, shape)
        to_write.append((p, gi))
    grads = gi = None  # only to_write may still refer to the gradients (see _accumulate_grad)
    for t, g in to_write:
        _accumulate_grad(t, g)
    del to_write
    if not retain_graph:
        root._parents = root._params = None


def _accumulate_grad(t, g):
    """Add ``g`` into ``t.grad``, which is always an ndarray of its own.

    A gradient array nobody else refers to (the usual case: a VJP just made it)
    is adopted as it is. One that is shared (VJPs may hand one array to several
    inputs, or return the seed or an input), a view, a NumPy scalar (0-d
    arithmetic), a Tensor (create_graph) or of another dtype is copied.
    """
    if (type(g) is np.ndarray and g.base is None and g.dtype == t._data.dtype
            and sys.getrefcount(g) <= _UNSHARED_REFS and g.flags.writeable):
        own = g
    else:
        own = np.array(getattr(g, "_data", g), dtype=t._data.dtype)
    t.grad = own if t.grad is None else t.grad + own


def _count_unshared_refs():
    # sys.getrefcount of an array referenced only by the loop in backward() and by
    # _accumulate_grad's argument: measured through the same call shape, since the
    # count of temporary references differs between Python versions.
    def probe(t, g):
        return sys.getrefcount(g)

    def caller():
        to_write = [(None, np.empty(1))]
        for t, g in to_write:
            count = probe(t, g)
        return count
    return caller()


_UNSHARED_REFS = _count_unshared_refs()
