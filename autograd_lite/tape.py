"""The tape: recording ops as they run, and walking them back in reverse.

Every op output that depends on a tensor with ``requires_grad`` carries its
graph node inline (no separate node objects, to keep the per-op cost low):

    t._prim     the Primitive that made it (None for leaves)
    t._parents  its input Tensors, or None once backward() freed the graph
    t._params   keyword parameters of the op (axis, mask, keep_prob, ...)
    t._versions the inputs' version counters when the op ran
    t._scope    the ``scope()`` names active when it was made
    t._site     the user's source line, recorded only in anomaly mode

``backward`` is the only place that applies a VJP, and the only place that
reduces a broadcast gradient back to an input's shape (``unbroadcast``):
no op handles broadcasting on its own.
"""
import sys
from contextlib import contextmanager

import numpy as np

from .errors import AnomalyError, GraphError, InplaceModificationError


class _State:
    """Process-wide switches, read on every op (class attributes: one lookup)."""
    grad_enabled = True
    anomaly = False
    scope = ()


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


def _raise_if_not_finite(array, stage, t, prim=None, parents=None):
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise AnomalyError(f"{stage} of {describe(t, prim, parents)} produced {bad}")


def record(prim, data, parents, params, tensor_cls):
    """Wrap an op's output ``data`` in a Tensor, linking it to ``parents`` when
    recording is on and any parent requires grad."""
    out = tensor_cls._wrap(data)
    if _State.grad_enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._prim = prim
                out._parents = parents
                out._params = params
                out._versions = tuple([q._version for q in parents])
                out._scope = _State.scope
                break
    if _State.anomaly:
        out._site = user_site()
        _raise_if_not_finite(data, "forward", out, prim, parents)
    return out


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it
    takes ``shape`` again (works on ndarrays and, for higher order, Tensors)."""
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise GraphError(f"gradient of shape {grad.shape} cannot be reduced to input shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape) if lead else grad


def topological_order(root):
    """Tensors that lead to ``root`` and require grad, each after all its inputs.
    Iterative depth-first search, so graph depth is not bounded by recursion."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root._parents or ()))]
    while stack:
        node, pending = stack[-1]
        for p in pending:
            if p.requires_grad and id(p) not in visited:
                visited.add(id(p))
                stack.append((p, iter(p._parents or ())))
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
    if t._version:
        raise InplaceModificationError(
            f"{describe(t)}: its output was modified in place after it was recorded; "
            "its backward needs the original value")
    for i, (p, seen) in enumerate(zip(t._parents, t._versions)):
        if p._version != seen:
            raise InplaceModificationError(
                f"{describe(t)}: input {i} (shape {p.shape}{', ' + repr(p.name) if p.name else ''}) "
                f"was modified in place (version {seen} -> {p._version}) after the op was "
                "recorded; run backward() before updating it, or recompute the forward pass")


def backward(root, seed, inputs=None, retain_graph=False, create_graph=False):
    """Propagate ``seed`` (d root / d root) back through the graph of ``root``.

    inputs None: accumulate into ``.grad`` of every leaf (and ``retain_grad()``
    tensor) and return None. inputs given: return their gradients as a list
    (None where no path exists) and leave ``.grad`` untouched.
    create_graph: gradients are Tensors recorded on the tape (higher order).
    """
    order = topological_order(root)
    for t in reversed(order):  # all checks before any .grad is written: a refused backward changes nothing
        if t._prim is not None:
            _check_usable(t)
    wanted = None if inputs is None else {id(x): i for i, x in enumerate(inputs)}
    found = [None] * (0 if inputs is None else len(inputs))
    grads = {id(root): seed}
    anomaly = _State.anomaly
    with _GradMode(create_graph):
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if wanted is not None and id(t) in wanted:
                found[wanted[id(t)]] = g
            elif wanted is None and (t._prim is None or t._retain):
                _accumulate_grad(t, g)
            if t._prim is None:
                continue
            parents, params, vjps = t._parents, t._params, t._prim.vjps
            if create_graph:
                out, args = t, parents
            else:
                out, args = t._data, [p._data for p in parents]
            for i, p in enumerate(parents):
                if not p.requires_grad:
                    continue
                vjp = vjps[i]
                if vjp is None:
                    raise GraphError(f"{describe(t)} is not differentiable with respect to "
                                     f"input {i} (shape {p.shape}), which requires grad")
                gi = vjp(g, out, *args, **params) if params else vjp(g, out, *args)
                if gi is None:  # this edge carries no gradient (it flows through another input)
                    continue
                if not create_graph and type(gi) is not np.ndarray:
                    gi = np.asarray(getattr(gi, "_data", gi))
                if gi.shape != p.shape:
                    gi = unbroadcast(gi, p.shape)
                if anomaly:
                    _raise_if_not_finite(getattr(gi, "_data", gi), f"backward (input {i})", t)
                key = id(p)
                grads[key] = gi if key not in grads else grads[key] + gi
    if not retain_graph and not create_graph:
        for t in order:
            if t._prim is not None:
                t._parents = t._params = None
    return None if inputs is None else found


def _accumulate_grad(t, g):
    # An own ndarray copy: VJPs may hand one array to several inputs, 0-d arithmetic
    # yields NumPy scalars, and under create_graph g is a Tensor; .grad is always an ndarray.
    g = np.array(getattr(g, "_data", g), dtype=t._data.dtype)
    t.grad = g if t.grad is None else t.grad + g
