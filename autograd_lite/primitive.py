"""Primitives: the one mechanism behind every op, built in or your own.

A primitive is a NumPy forward function plus, per input, a vector-Jacobian product (``vjp(g,
out, *inputs, **params)``: g = dL/d(out) in, dL/d(input) out) and a Jacobian-vector product
(same call, a tangent in place of g), as HIPS autograd's ``@primitive`` / ``defvjp``. First
order the rules get ndarrays; under ``create_graph`` Tensors, so rules written with operators
differentiate again. A rule may return None (no gradient flows there); ``None`` in ``defvjp``
marks an input as not differentiable. The engine checks every gradient against its input and
undoes broadcasting (``conform.conform``), your own ops a little more (``custom.py``). ``latex(terms,
node)`` and ``draw(node) -> (role, [lines])`` tell the formula and the drawing how to show the op (a role
of viz's: 'op', 'dropout', 'cost-term', ...); ``view=True`` marks an output sharing its first input's memory.
"""
import operator

import numpy as np

from . import conform, custom, diagnostics
from .convert import FLOAT_SCALARS, FLOATS, forward_output
from .modes import clock, per_thread
from .tensor import Tensor, _fill, as_tensor


class Primitive:
    """A differentiable op: call it with Tensors, arrays or scalars."""
    builtin = False  # the engine's own ops (set by their tables), which custom.py's checks trust

    def __init__(self, forward, name=None, *, symbol=None, vjps=(), jvps=None, latex=None, draw=None,
                 view=False, doc=None):
        # vjp_all(g, out, *inputs, **params) / jvp_all(tangents, out, *inputs, **params), when set,
        # give every input's gradient (a list) / the whole tangent in one call (many-input ops);
        # edge_labels: {input index: label} for the drawing's edges, e.g. cross-entropy's; keywords and
        # arity: its keyword parameters and its 1 to 3 inputs (None: whatever its forward takes, or > 3).
        self.vjp_all = self.jvp_all = self.edge_labels = self.keywords = self.arity = None
        self.forward = self.__wrapped__ = forward
        self.name = custom.op_name(forward, name)
        self.label = f"{self.name} ({symbol})" if symbol else self.name
        self.vjps, self.jvps = tuple(vjps), jvps
        self.latex, self.draw, self.view = latex, draw, view
        self.__doc__ = doc or forward.__doc__  # a built-in op's own (NumPy's would offer out=, where=, ...)
        diagnostics.declare_call(self, doc)  # (a built-in op's doc opens with its call: "exp(x): ...")

    def defvjp(self, *vjps):
        """Set the VJPs, one per positional input (None: not differentiable there)."""
        self.vjps = custom.checked_rules(self, "VJP", vjps)
        return self

    def defjvp(self, *jvps):
        """Set the JVPs, one per positional input (None: a non-zero tangent reaching it is refused)."""
        self.jvps = custom.checked_rules(self, "JVP", jvps)
        return self

    def __call__(self, *args, **params):
        parents = args
        for a in args:  # constants (arrays, numbers) are wrapped; Tensors pass as they are
            if type(a) is not Tensor:
                parents = _as_parents(args, self.label)
                break
        n, epoch = len(parents), clock.now  # (read first: an input edited while the forward runs is seen)
        try:  # a built-in op's own number of inputs (1 to 3), no parameters: plain arguments, as in input_grads
            if params or n != self.arity or not self.builtin:  # (its call checked: NumPy's out=, by keyword or
                if self.keywords is not None:  # position, bypasses the tape; your own ops' in custom.py)
                    diagnostics.check_call(self, n, params)
                data = self.forward(*map(_array_of, parents), **params) if self.builtin else \
                    custom.run_forward(self, *map(_array_of, parents), **params)
            elif n == 1:
                data = self.forward(parents[0]._array)
            else:
                data = (self.forward(parents[0]._array, parents[1]._array) if n == 2 else
                        self.forward(parents[0]._array, parents[1]._array, parents[2]._array))
        except (ValueError, TypeError, IndexError, OverflowError) as error:  # (no cost unless raised)
            failure = diagnostics.explain_failure(self, parents, error, params)
            if failure is None:
                raise
            raise failure from failure.__cause__  # (None but for a forward of yours: explain_failure)
        state = per_thread.state  # (current()'s record, read without the call: this runs per op)
        if type(data) is not np.ndarray or data.dtype not in FLOATS:  # a reduction's scalar, ints, complex, ...
            data = data.__array__() if type(data) in FLOAT_SCALARS else forward_output(data, self, parents)
        out = _fill(Tensor.__new__(Tensor), data, state.scope)
        if state.grad_enabled:
            for p in parents:  # a plain loop: a generator in any() costs a frame per op
                if p._requires_grad:
                    out._requires_grad, out._prim, out._parents, out._params, out._epoch = (
                        True, self, parents, params, epoch)
                    break
        if (self.view or not self.builtin) and parents:
            custom.share_version_of_view(self, out, parents)
        if state.tracer is not None:
            state.tracer.record(self, out, parents, params, args)
        if state.anomaly:
            out._site = diagnostics.user_site()
            diagnostics.raise_if_not_finite(data, "forward", out, self, parents)
        return out

    def input_grads(self, g, out, parents, params, higher):
        """Each input's gradient from ``g`` = dL/d(out) (None for inputs that need none);
        ``higher``: on Tensors, recorded (``create_graph``)."""
        vjps, n = self.vjps, len(parents)
        if n == len(vjps) < 4 and not (higher or params) and None not in vjps and self.vjp_all is None and self.builtin:
            # Up to three inputs, first order (most nodes): each rule called with plain arguments,
            # since unpacking them and looping cost as much again as a small rule (bench.instructions)
            value, a = out._array, parents[0]._array
            if n == 1:
                return (vjps[0](g, value, a) if parents[0]._requires_grad else None,)
            b = parents[1]._array
            if n == 2:
                return (vjps[0](g, value, a, b) if parents[0]._requires_grad else None,
                        vjps[1](g, value, a, b) if parents[1]._requires_grad else None)
            c = parents[2]._array
            return (vjps[0](g, value, a, b, c) if parents[0]._requires_grad else None,
                    vjps[1](g, value, a, b, c) if parents[1]._requires_grad else None,
                    vjps[2](g, value, a, b, c) if parents[2]._requires_grad else None)
        args = parents if higher else list(map(_array_of, parents))
        return self.apply_vjps(g, out if higher else out._array, args, params,
                               list(map(_requires_grad_of, parents)), out)

    def apply_vjps(self, g, out, args, params, needed, node=None):
        """The VJPs on plain values: a list with the gradient of each input where ``needed``."""
        if self.vjp_all is not None:
            every = conform.gradient_list(self.vjp_all(g, out, *args, **params) if self.builtin else
                custom.run_rule(self, self.vjp_all, "VJP", g, out, args, params), self, len(args))
            return [gi if need else None for need, gi in zip(needed, every)]
        grads, vjps = [], self.vjps
        for i, need in enumerate(needed):
            vjp = vjps[i] if need and i < len(vjps) else None
            if vjp is not None:
                grads.append(vjp(g, out, *args, **params) if self.builtin else
                             custom.run_rule(self, vjp, "VJP", g, out, args, params))
            elif need:
                where = diagnostics.describe(node) if node is not None else f"op '{self.name}'"
                grads.append(conform.NotDifferentiable(f"{where} is not differentiable with respect to input {i} "
                                                       f"(shape {getattr(args[i], 'shape', ())}), which requires grad"))
            else:
                grads.append(None)
        return grads

    def __repr__(self):
        return f"<primitive {self.name}>"


def primitive(forward=None, *, name=None, symbol=None):
    """Decorator turning ``forward(*ndarrays, **params) -> ndarray`` into a differentiable
    op; attach its rules with ``.defvjp`` (and ``.defjvp`` for forward mode)."""
    make = lambda f: Primitive(f, name, symbol=symbol)
    return make if forward is None else make(forward)


def _as_parents(args, label):
    """Constants wrapped as Tensors (or refused naming ``label``), numbers in the dtype of the first
    Tensor, else of the first float array, else NumPy float (``multiply(0.1, x32)`` is float32 either way round)."""
    like = next((a._array.dtype for a in args if isinstance(a, Tensor)), None) or next((a.dtype for a in sorted(
        args, key=np.isscalar) if isinstance(a, (np.ndarray, np.floating)) and a.dtype.kind == "f"), None)
    return tuple(as_tensor(a, like, label) for a in args)


_array_of = operator.attrgetter("_array")
_requires_grad_of = operator.attrgetter("_requires_grad")
