"""The one rule a gradient must satisfy: the shape and dtype of the input it belongs to.

``conform`` is applied to every gradient a VJP returns (by the backward walk and by a
compiled replay); ``unbroadcast`` is the only place where broadcasting is undone, so no
op handles broadcasting on its own.
"""
import collections.abc
import sys
from typing import NamedTuple

import numpy as np

from .convert import plain_array
from .errors import GraphError, ShapeError


class ForGradOnly(NamedTuple):
    """What a VJP returns for an input whose gradient is wanted in its ``.grad`` alone (it called
    ``retain_grad()``) while the op sends that share on by another edge (cross-entropy's logits):
    the backward walk adds it to ``.grad`` with the other gradients, and does not walk it further."""
    grad: object


class NotDifferentiable(NamedTuple):
    """What an op gives for an input it has no VJP for while that input requires grad: ``conform`` refuses
    it (``why``) where the walk goes on to that input; a walk that goes no further (``ag.grad``'s f closing
    over it, a constant there, as under torch.func) drops it."""
    why: str


def conform(grad, like, prim, i, out_ndim):
    """``grad`` for input ``i`` of ``prim``, whose value was the array ``like`` (and whose output
    had ``out_ndim`` axes), checked: of like's dtype and shape, with broadcasting summed out where
    the input was broadcast. A gradient that no broadcast of the input explains, or with more axes
    than the input and the output (a tuple of one gradient per input, stacked), is refused, naming
    the op, the input and both shapes."""
    # (ndarrays skip hasattr here and keyword parsing in unbroadcast: ~400 instructions a call)
    if type(grad) is not np.ndarray:
        if type(grad) is NotDifferentiable:
            raise GraphError(grad.why)
        what = f"{prim.label}: the gradient for input {i}"  # (an np.matrix would multiply as matrices
        if isinstance(grad, np.ndarray):  # upstream; a masked entry's hidden value count)
            grad = plain_array(grad, what)
        elif not hasattr(grad, "shape") or not hasattr(grad, "dtype"):  # (a memoryview has a shape alone)
            try:
                grad = np.asarray(plain_array(grad, what))
            except ValueError as error:  # (a ragged list: NumPy's "inhomogeneous shape", named here)
                raise TypeError(f"{what} is no array: {error}") from None
    shape = like.shape
    if grad.shape != shape:
        try:
            if grad.ndim > max(out_ndim, len(shape)):
                raise ShapeError
            grad = unbroadcast(grad, shape)
        except ShapeError:
            more = "" if grad.ndim <= max(out_ndim, len(shape)) else (
                f" and the output {out_ndim} ax{'i' if out_ndim == 1 else 'e'}s, fewer than it has (a VJP returns "
                "one input's gradient: a tuple of several is taken as one stacked array)")
            raise ShapeError(f"{prim.label}: the gradient for input {i} has shape {grad.shape}, but the "
                             f"input has shape {shape}{more}; expected {shape} or a broadcast of it") from None
    if grad.dtype != like.dtype and hasattr(grad, "astype"):  # (a Tensor of create_graph is cast at the end)
        grad = _as_real(grad, like.dtype, f"{prim.label}: the gradient for input {i}")
    return grad


def owned(grad, dtype):
    """``grad`` (an ndarray, or a Tensor under create_graph) as the array a ``.grad`` of ``dtype``
    keeps: ``grad`` itself when it is a writable ndarray of that dtype, owning its memory, that
    nothing refers to but the caller's (tensor, gradient) pair (the usual case: a VJP just made it);
    else a copy, since VJPs share arrays (add's one ``g`` for both inputs, the caller's seed, an
    input or output returned as it is). Adopting an unshared gradient, as PyTorch's AccumulateGrad
    steals one whose use count says it is unshared, saves a copy of every weight's gradient: a
    tenth of a step with a wide first layer (``python -m bench``, minibatch). The count of a gradient
    nobody else holds is measured at import (``_UNSHARED``), as Python versions count a call's own
    references differently (``tracer.kept_outside`` probes its counts the same way)."""
    if (type(grad) is np.ndarray and grad.base is None and grad.dtype == dtype and grad.flags.writeable
            and grad.flags.forc and sys.getrefcount(grad) <= _UNSHARED):  # (forc: no entries sharing memory)
        return grad
    return np.array(getattr(grad, "_array", grad), dtype=dtype)


def alone(array):
    """Whether nothing refers to ``array`` but one local variable of the caller's (``custom.run_forward``'s
    for the result a forward of yours just returned; a forward's workspace, a global, a cache or the
    object it came from raise the count): the test ``owned`` makes, for a value held as a forward's
    result is, against its own count measured at import (``_ALONE``)."""
    return sys.getrefcount(array) <= _ALONE


def _references(grad):
    return sys.getrefcount(grad)  # (counted as owned and alone count: a parameter passed on to the count)


def _in_a_pair():
    for _, grad in [(None, np.empty(1))]:  # held as tape._write_grads holds one: in a pair, a loop variable
        return _references(grad)


def _in_a_local():
    array = np.empty(1)  # held as custom.run_forward holds a forward's result: by one local variable
    return _references(array)


def _unshared_references(held):
    """The count ``held()`` measures for an array nobody else holds, with this thread's trace and profile
    hooks off: a debugger or a locals watcher holding the probe's frame would raise it, and shared
    arrays would be adopted ever after."""
    hooks = sys.gettrace(), sys.getprofile()
    sys.settrace(None), sys.setprofile(None)
    try:
        return held()
    finally:
        sys.settrace(hooks[0]), sys.setprofile(hooks[1])


# (never above CPython 3.11-3.13's 4 and 3: what else holds a reference at import only raises the count;
# 3.14 borrows references, so its own may be lower)
_UNSHARED, _ALONE = min(_unshared_references(_in_a_pair), 4), min(_unshared_references(_in_a_local), 3)


def gradient_list(every, prim, n):
    """The result of ``prim``'s ``vjp_all`` (a list or tuple, or an iterator such as a generator: one
    gradient per input, in order, None for none) as a tuple of its ``n`` gradients. Anything else is
    refused naming the op, the type and what is expected (a dict would give its keys as gradients, a
    set its own order, an array its rows), as is another count than ``n``: ``zip`` would drop a
    missing gradient (its input's ``.grad`` silently None) or an extra one."""
    if not isinstance(every, (list, tuple, collections.abc.Iterator)):
        raise TypeError(f"{prim.label}: its vjp_all returned {type(every).__name__}; expected a list of {n} "
                        "gradient(s) (or a tuple), one per input in order (None for an input without one)" + (
                            "; a dict gives its keys, a set its own order" if isinstance(
                                every, (collections.abc.Mapping, collections.abc.Set)) else ""))
    every = tuple(every)
    if len(every) != n:
        raise GraphError(f"{prim.label}: its vjp_all returned {len(every)} gradient(s) for {n} input(s); "
                         "expected one per input, in order (None for an input that gets none)")
    return every


def conform_tangent(tangent, like, out, prim, i=None):
    """The contribution a JVP gave for input ``i`` of ``prim`` (whose value was ``like``, its
    output ``out``), checked as ``conform`` checks a VJP's gradient: a real array of out's shape,
    or of a broadcast of the input's shape that broadcasts to out's (``add``'s (3, 1) input
    against a (3, 4) output); anything else is refused naming the op, the input and the shapes.
    ``i`` None: the whole tangent a ``jvp_all`` gave (``like`` unused), of out's shape or of one
    that broadcasts to it."""
    what = f"{prim.label}: the JVP for input {i}" if i is not None else f"{prim.label}: its jvp_all"
    try:
        tangent = np.asarray(plain_array(getattr(tangent, "_array", tangent), what))
    except ValueError as error:  # (a ragged list: NumPy's "inhomogeneous shape", named here)
        raise TypeError(f"{what} is no array: {error}") from None
    if tangent.shape != out.shape:
        try:  # (the rule of unbroadcast, both ways: from the input up to the tangent, on up to the output)
            if i is not None:
                reduction_plan(tangent.shape, like.shape)
            reduction_plan(out.shape, tangent.shape)
        except ShapeError:
            if i is None:
                given, other = "the output has shape", "a shape that broadcasts to it"
            else:
                given = f"the input has shape {like.shape} and the output"
                other = "a broadcast of the input's shape that broadcasts to it"
            either = "" if i is not None and like.shape == out.shape else f" or {other}"
            raise ShapeError(f"{what} gives a tangent of shape {tangent.shape}, but {given} {out.shape}; "
                             f"expected {out.shape}{either}") from None
    return tangent if tangent.dtype == out.dtype else _as_real(tangent, out.dtype, (
        f"{prim.label}: the JVP's tangent for input {i}" if i is not None else f"{what}'s tangent"))


def _as_real(array, dtype, what):
    """``array`` cast to the float ``dtype``, refused if it holds no real numbers (complex)."""
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} has dtype {array.dtype}; expected real numbers ({dtype})")
    return array.astype(dtype)


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it takes
    ``shape`` again (ndarrays and Tensors alike); ShapeError if ``grad`` is no broadcast
    of ``shape``. The one place where broadcasting is undone."""
    axes, lead = _REDUCTIONS.get((grad.shape, shape)) or reduction_plan(grad.shape, shape)
    if axes:  # (np.add.reduce is ndarray.sum without its Python wrapper)
        grad = np.add.reduce(grad, axes, None, None, True) if type(grad) is np.ndarray else grad.sum(axes, keepdims=True)
    return grad.reshape(shape) if lead else grad


def reduction_plan(big, shape):
    """(axes to sum, number of leading axes) taking shape ``big`` back to ``shape``; ShapeError if
    ``big`` is no broadcast of ``shape``: the one statement of which shapes broadcast."""
    plan = _REDUCTIONS.get((big, shape))
    if plan is None:
        lead = len(big) - len(shape)
        if lead < 0 or any(n != m and n != 1 for n, m in zip(shape, big[lead:])):
            raise ShapeError(f"unbroadcast: shape {big} is not a broadcast of {shape}")
        axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape) if n == 1 and big[lead + k] != 1)
        if len(_REDUCTIONS) > 4096:  # a bound, for programs whose shapes never repeat
            _REDUCTIONS.clear()
        plan = _REDUCTIONS[big, shape] = (axes, lead)
    return plan


_REDUCTIONS = {}  # (gradient shape, input shape) -> (axes to sum, number of leading axes)
