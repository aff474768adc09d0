"""The tape: walking recorded ops back in reverse to get gradients.

An op output that depends on a tensor with ``requires_grad`` carries its node inline: ``t._prim``
the Primitive that made it (None for leaves), ``t._parents`` its inputs (None once backward()
freed the graph), ``t._params`` the op's keyword parameters, ``t._epoch`` the ``modes.clock`` when
it ran (for the in-place check), ``t._seq`` its place in creation order (counting down: newer is lower).
``backward`` is the only place that applies VJPs; each gradient goes through ``conform``.
"""
import heapq
import itertools

import numpy as np

from .conform import ForGradOnly, conform, owned
from .diagnostics import check_grads, check_usable, raise_if_not_finite
from .modes import clock, current, grad_lock, note_grad_write

# Creation order, counting down: an op's output is newer (lower) than its inputs, so popping the lowest first
# visits every node after its consumers; an input newer than the op (made to require grad later) gets nothing.
next_seq = itertools.count(0, -1).__next__


def backward(root, seed, inputs=None, retain_graph=False, create_graph=False):
    """Propagate ``seed`` (d root / d root) back through the graph of ``root``, newest node first
    (a heap on creation order: each node is walked once, after all its consumers). inputs None:
    add into ``.grad`` of every leaf that requires grad and every ``retain_grad()`` tensor, after
    the whole walk; inputs given: return their gradients (None where no path leads), stopping there."""
    # A tensor older than every input asked for cannot lead to one (its inputs are older still): not walked
    oldest = 1 if inputs is None else max([x._seq for x in inputs], default=-float("inf"))
    grads, to_write, leaves = _walk(root, seed, set(inputs or ()), oldest, retain_graph, create_graph)
    if inputs is not None:
        return [grads.get(x) for x in inputs]
    _write_grads(to_write + [(t, grads.pop(t)) for t in leaves])  # (popped: the pairs alone hold them, see owned)


def _walk(root, seed, wanted, oldest, retain_graph, create_graph):
    """The walk of ``backward`` (no tensor older than ``oldest``): (every gradient found, the (tensor, gradient)
    pairs for ``.grad`` so far, the leaves reached), in a frame of its own, gone before ``.grad`` is written."""
    to_write, state = [], current()
    grads, heap = {root: seed}, [(root._seq, root)] if root._prim and root._seq <= oldest else []
    leaves = [] if root._prim else [root]
    recording, state.grad_enabled = state.grad_enabled, create_graph  # VJPs record only for create_graph
    try:
        while heap:
            t = heapq.heappop(heap)[1]
            if t in wanted:
                continue  # its gradient stays in grads, to be returned
            g, parents, params = grads.pop(t), t._parents, t._params
            if t._retain:
                to_write.append((t, g))
            if parents is None or t._epoch != clock.now:
                check_usable(t)
            if not (retain_graph or create_graph):
                t._parents = t._params = None  # free the graph as it is walked, as PyTorch does
            for i, gi in enumerate(t._prim.input_grads(g, t, parents, params, create_graph)):
                if gi is None or not t._seq < parents[i]._seq <= oldest:  # (see next_seq; set_requires_grad)
                    continue
                p = parents[i]
                if type(gi) is not np.ndarray or gi.shape != p._array.shape or gi.dtype is not p._array.dtype:
                    if type(gi) is ForGradOnly:  # (off the path of ndarray gradients, which skip this branch)
                        to_write.append((p, gi.grad))
                        continue
                    gi = conform(gi, p._array, t._prim, i, t._array.ndim)
                if state.anomaly:
                    raise_if_not_finite(getattr(gi, "_array", gi), f"backward (input {i})", t, t._prim, parents)
                old = grads.get(p)
                grads[p] = gi if old is None else old + gi
                if old is None:  # first seen: op outputs wait in the heap, leaves in a list
                    heapq.heappush(heap, (p._seq, p)) if p._prim else leaves.append(p)
    finally:
        state.grad_enabled = recording
    return grads, to_write, leaves


def _write_grads(to_write):
    """Add each (tensor, gradient) into ``tensor.grad``, an ndarray of its own; every check
    comes before any write, so a refused backward writes nothing."""
    note_grad_write()
    with grad_lock:  # as PyTorch's AccumulateGrad: another thread's backward cannot add in between
        check_grads(to_write)
        for t, g in to_write:
            own = owned(g, t._array.dtype)
            if t._grad is not None:
                own += t._grad  # in place into the copy: a 0-d .grad stays an ndarray (old + own would not)
            t._grad = own
