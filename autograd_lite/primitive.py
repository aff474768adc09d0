"""Primitives: a NumPy forward function plus one VJP per input.

This is the one mechanism behind every built-in op, and the public way to add
your own (in the spirit of HIPS autograd's ``@primitive`` + ``defvjp``)::

    @ag.primitive
    def cube(x):                      # receives and returns ndarrays
        return x ** 3
    cube.defvjp(lambda g, out, x: g * 3 * x ** 2)

A VJP is called as ``vjp(g, out, *inputs, **params)`` with ``g`` the gradient
of the output. First-order, every argument is an ndarray (``g`` of a 0-d output may
be a NumPy scalar, which supports the same arithmetic and methods). Under
``create_graph`` (``grad`` of ``grad``) they are Tensors, so a VJP written
with operators and ``ag`` functions is differentiable again for free. A VJP
may return None when its input gets no gradient through this op; an input
without any VJP (``defvjp(..., None)``) is not differentiable.
"""
import functools

import numpy as np

from . import tape
from .errors import ShapeError
from .tensor import Tensor, _new, _next_seq, _State, as_tensor


class Primitive:
    """A differentiable op: call it with Tensors, arrays or scalars."""

    # __dict__ holds __doc__. vjp_all: optional vjp_all(g, out, *inputs, **params) -> list of
    # every input's gradient at once; backward() uses it when all inputs are leaves.
    __slots__ = ("forward", "name", "symbol", "vjps", "vjp_all", "__wrapped__", "__dict__")

    def __init__(self, forward, name=None, symbol=None):
        self.forward = forward
        self.__wrapped__ = forward
        self.name = name or forward.__name__
        self.symbol = symbol
        self.vjps = ()
        self.vjp_all = None
        self.__doc__ = forward.__doc__

    def defvjp(self, *vjps):
        """Set the VJPs, one per positional input (None: not differentiable)."""
        self.vjps = vjps
        return self

    def defvjp_argnum(self, vjp):
        """One VJP for any number of inputs: ``vjp(argnum, g, out, *inputs, **params)``."""
        self.vjps = _VJPByArgnum(vjp)
        return self

    def display_name(self):
        return f"{self.name} ({self.symbol})" if self.symbol else self.name

    def __call__(self, *args, **params):
        for a in args:
            if type(a) is not Tensor:
                parents = _as_parents(args)
                break
        else:
            parents = args
        try:
            n = len(parents)
            if n == 2 and not params:  # most ops: no argument list, no keyword unpacking
                data = self.forward(parents[0]._data, parents[1]._data)
            elif n == 1:
                data = self.forward(parents[0]._data, **params) if params else self.forward(parents[0]._data)
            elif n == 3 and not params:
                data = self.forward(parents[0]._data, parents[1]._data, parents[2]._data)
            else:
                data = self.forward(*[p._data for p in parents], **params)
        except ShapeError:
            raise
        except ValueError as error:
            raise ShapeError(_explain_failure(self, parents, error)) from None
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        # Record: the output carries its node inline (see tape.py), written out here
        # rather than in a helper because this runs for every op.
        out = _new(Tensor)
        out._data = data
        out._seq = _next_seq()
        out._scope = _State.scope
        for p in parents:
            if p.requires_grad and _State.grad_enabled:
                out.requires_grad = True
                out._prim = self
                out._parents = parents
                out._params = params
                out._epoch = _State.mutations
                break
        else:
            out.requires_grad = False
            out._prim = out._parents = out._params = None
            out._epoch = 0
        if _State.tracer is not None:
            _State.tracer.append((self, out, parents, params))
        if _State.anomaly:
            out._site = tape.user_site()
            tape.raise_if_not_finite(data, "forward", out, self, parents)
        return out

    def __repr__(self):
        return f"<primitive {self.name}>"


def primitive(forward=None, *, name=None, symbol=None):
    """Decorator turning ``forward(*ndarrays, **params) -> ndarray`` into a
    differentiable op; attach its VJPs with ``.defvjp``."""
    if forward is None:
        return lambda f: Primitive(f, name, symbol)
    return Primitive(forward, name, symbol)


class _VJPByArgnum:
    """Indexable like a tuple of VJPs, for ops with a variable number of inputs."""

    __slots__ = ("vjp", "cache")

    def __init__(self, vjp):
        self.vjp, self.cache = vjp, {}

    def __getitem__(self, argnum):
        vjp = self.cache.get(argnum)
        if vjp is None:  # partial calls vjp(argnum, g, out, ...) without a Python frame of its own
            vjp = self.cache[argnum] = functools.partial(self.vjp, argnum)
        return vjp


def _explain_failure(prim, parents, error):
    """Error message for a forward that raised ValueError (only built on that error path)."""
    shapes = [p.shape for p in parents]
    listed = " and ".join(str(shape) for shape in shapes)
    if len(shapes) > 1 and "broadcast" in str(error):
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            return (f"{prim.display_name()}: shapes {listed} do not broadcast ({_clash(shapes)}; "
                    "expected each axis, aligned from the right, to be equal or 1 in one of them)")
    return f"{prim.display_name()}: cannot apply to shapes {listed}: {error}"


def _clash(shapes):
    """The first axis, counted from the right, where the shapes' sizes disagree."""
    for axis in range(1, max(len(s) for s in shapes) + 1):
        sizes = {s[-axis] for s in shapes if len(s) >= axis} - {1}
        if len(sizes) > 1:
            return f"axis {-axis} has sizes {' vs '.join(str(n) for n in sorted(sizes))}"
    return "their sizes disagree"


def _as_parents(args):
    """Tensors as they are; constants wrapped, Python scalars taking the
    dtype of the first Tensor so float32 stays float32."""
    like = None
    for a in args:  # plain loops: generator expressions and comprehensions cost a frame each, per op
        if type(a) is Tensor:
            like = a._data.dtype
            break
    parents = []
    for a in args:
        parents.append(a if isinstance(a, Tensor) else as_tensor(a, like))
    return tuple(parents)
