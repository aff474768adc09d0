"""The one rule a gradient must satisfy: the shape and dtype of the input it belongs to.

``conform`` is applied to every gradient a VJP returns (by the backward walk and by a
compiled replay); ``unbroadcast`` is the only place where broadcasting is undone, so no
op handles broadcasting on its own.
"""
from typing import NamedTuple

import numpy as np

from .errors import ShapeError


class ForGradOnly(NamedTuple):
    """What a VJP returns for an input whose gradient is wanted in its ``.grad`` alone (it called
    ``retain_grad()``) while the op sends that share on by another edge (cross-entropy's logits):
    the backward walk adds it to ``.grad`` with the other gradients, and does not walk it further."""
    grad: object


def conform(grad, like, prim, i):
    """``grad`` for input ``i`` of ``prim``, whose value was the array ``like``, checked: of
    like's dtype and shape, with broadcasting summed out where the input was broadcast. A
    gradient that no broadcast of the input explains is refused, naming the op, the input
    and both shapes."""
    # (ndarrays skip hasattr here and keyword parsing in unbroadcast: ~400 instructions a call)
    if type(grad) is not np.ndarray and not hasattr(grad, "shape"):
        grad = np.asarray(grad)
    shape = like.shape
    if grad.shape != shape:
        try:
            grad = unbroadcast(grad, shape)
        except ShapeError:
            raise ShapeError(f"{prim.label}: the gradient for input {i} has shape {grad.shape}, but the "
                             f"input has shape {shape}; expected {shape} or a broadcast of it") from None
    if grad.dtype != like.dtype and hasattr(grad, "astype"):  # (a Tensor of create_graph is cast at the end)
        if grad.dtype.kind not in "fiub":
            raise TypeError(f"{prim.label}: the gradient for input {i} has dtype {grad.dtype}; "
                            f"expected real numbers ({like.dtype})")
        grad = grad.astype(like.dtype)
    return grad


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it takes
    ``shape`` again (ndarrays and Tensors alike); ShapeError if ``grad`` is no broadcast
    of ``shape``. The one place where broadcasting is undone."""
    plan = _REDUCTIONS.get((grad.shape, shape))
    if plan is None:
        lead = len(grad.shape) - len(shape)
        if lead < 0 or any(n != m and n != 1 for n, m in zip(shape, grad.shape[lead:])):
            raise ShapeError(f"unbroadcast: shape {grad.shape} is not a broadcast of {shape}")
        axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape) if n == 1 and grad.shape[lead + k] != 1)
        if len(_REDUCTIONS) > 4096:  # a bound, for programs whose shapes never repeat
            _REDUCTIONS.clear()
        plan = _REDUCTIONS[grad.shape, shape] = (axes, lead)
    axes, lead = plan
    if axes:  # (np.add.reduce is ndarray.sum without its Python wrapper)
        grad = np.add.reduce(grad, axes, None, None, True) if type(grad) is np.ndarray else grad.sum(axes, True)
    return grad.reshape(shape) if lead else grad


_REDUCTIONS = {}  # (gradient shape, input shape) -> (axes to sum, number of leading axes)
