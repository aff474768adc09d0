"""Function transformations in the JAX / HIPS style: ``grad``, ``value_and_grad``, ``hvp``,
``jvp`` (forward mode), ``vjp``, ``jacobian`` and ``hessian``.

Every argument being differentiated may be a pytree (nested dicts, lists and tuples
of arrays or Tensors, see ``pytree.py``); results come back in the same structure.
They nest: inside an outer transform, an inner ``grad`` differentiates with
``create_graph`` and returns Tensors (in each argument's dtype, as at top level, by a
recorded cast), so ``grad(grad(f))`` is the second derivative and ``hessian`` is the
Jacobian of the gradient. What goes with the arguments (jvp's tangents, vjp's
cotangents, hvp's direction) stays on the outer graph too, so the outer transform
differentiates through it. The first-order path never builds a second graph.
"""
import numbers

import numpy as np

from . import pytree, tape
from .errors import GraphError, ShapeError
from .forward import push_forward
from .modes import enable_grad, current
from .ops import _apply, reshape, stack
from .primitive import Primitive
from .convert import function_arg
from .tensor import Tensor, to_float_array

__all__ = ["grad", "value_and_grad", "hvp", "jvp", "vjp", "jacobian", "hessian"]


def _argnums_tuple(argnums, nargs, op):
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    try:  # (a tuple, list, range or integer array of positions; a bool, float, str or None is none)
        nums = (argnums,) if single else tuple(argnums)
    except TypeError:
        nums = None
    if nums is None or isinstance(argnums, (bool, str)) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in nums):
        raise TypeError(f"{op}: argnums must be an int or a tuple of ints (positions of f's arguments), "
                        f"got {type(argnums).__name__} {argnums!r}")
    if not nums:
        raise ValueError(f"{op}: argnums is empty; expected an int or a non-empty tuple of ints")
    for n in nums:
        if not isinstance(n, numbers.Integral) or not -nargs <= n < nargs:
            raise ValueError(f"{op}: argnums {argnums!r} is out of range for {nargs} positional arguments")
    normalized = tuple(int(n) % nargs for n in nums)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: argnums {argnums!r} names the same argument twice; list each argument once")
    return single, normalized


# A nested transform's variable is a node of its own, equal to the outer value: the outer
# derivative flows through it, while a closure's use of the outer value stays a separate
# path (taking the outer Tensor itself would sum d/dy and d/dx of f(x, y) at y = x).
_variable_of = Primitive(lambda x: x, "variable", view=True, vjps=(lambda g, out, x: g,),
                         jvps=(lambda t, out, x: t,), latex=lambda terms, node: terms[0])

# A value cast to another float dtype, recorded: the backward walk leaves create_graph Tensors in
# the dtype they were computed in (conform casts ndarrays only), so a gradient or tangent that
# stays inside a transform is cast here, where an outer transform differentiates through it. Its
# derivative is the identity, cast back to the input's dtype.
_cast = Primitive(lambda x, dtype: x.astype(dtype, copy=False), "cast",
                  vjps=(lambda g, out, x, dtype: _in_dtype(g, x.dtype),), jvps=(lambda t, out, x, dtype: t,),
                  latex=lambda terms, node: terms[0])
_variable_of.builtin = _cast.builtin = True  # (the engine's own ops: custom.py's checks are for yours)


def _in_dtype(value, dtype):
    """``value`` (an ndarray or a Tensor, any shape) in ``dtype``; a Tensor's cast is recorded."""
    return value if value.dtype == dtype else _apply(_cast, value, dtype=dtype)


def _leaf_array(leaf, op, argnum, treedef, index):
    """Leaf ``index`` of argument ``argnum`` as a float array; a refusal names its path in the tree."""
    try:
        return to_float_array(leaf, op)
    except (TypeError, ValueError) as error:
        if treedef.kind == "leaf":  # the argument itself: nothing more to name
            raise
        path, message = pytree.leaf_names(treedef)[index], str(error)
        message = message[len(op) + 2:] if message.startswith(f"{op}: ") else message
        raise type(error)(f"{op}: argument {argnum}, leaf {path!r}: {message}") from None


class _Inputs:
    """The differentiated arguments: each flattened to Tensors requiring grad (new leaves at
    top level; inside another transform, new nodes depending on the outer values), and
    rebuilt in its structure for ``f``."""

    def __init__(self, args, nums, op):
        nested = current().grad_depth > 0
        self.args, self.nums, self.defs, self.leaves = list(args), nums, [], []
        for n in nums:
            leaves, treedef = pytree.flatten(self.args[n])
            tensors = []
            for leaf in leaves:
                if nested and isinstance(leaf, Tensor) and leaf.requires_grad:
                    with enable_grad():  # even under the caller's no_grad(): the inner backward must reach it
                        leaf = _variable_of(leaf)
                else:
                    leaf = Tensor(_leaf_array(leaf, op, n, treedef, len(tensors)), requires_grad=True)
                tensors.append(leaf)
            self.args[n] = pytree.unflatten(treedef, tensors)
            self.defs.append(treedef)
            self.leaves.append(tensors)

    @property
    def flat(self):
        return [t for leaves in self.leaves for t in leaves]

    def rebuild(self, flat_values):
        """Per differentiated argument, its tree holding the matching slice of ``flat_values``."""
        out, start = [], 0
        for treedef, leaves in zip(self.defs, self.leaves):
            out.append(pytree.unflatten(treedef, flat_values[start:start + len(leaves)]))
            start += len(leaves)
        return out


def _evaluate(f, args, kwargs):
    """``f(*args)`` recorded, with inner ``grad`` calls told to build differentiable graphs."""
    current().grad_depth += 1
    try:
        with enable_grad():
            return f(*args, **kwargs)
    finally:
        current().grad_depth -= 1


def _zeros_if_none(g, x, as_tensor):
    """The gradient ``g`` found for Tensor ``x``, in x's dtype (float32 stays float32, whatever
    the output's dtype): an ndarray, or with ``as_tensor`` (inside another transform) a Tensor on
    the outer graph; zeros where no path led from x to the output."""
    if g is None:
        g = np.zeros_like(x._array)
        return Tensor._wrap(g) if as_tensor else g
    if not as_tensor:
        return np.asarray(getattr(g, "_array", g), dtype=x._array.dtype)
    return _in_dtype(g, x.dtype)


def value_and_grad(f, argnums=0):
    """Turn ``f(*args) -> scalar Tensor`` into ``(*args) -> (value, gradients)``.

    Args:
        f: function of Tensors/arrays (or pytrees of them) returning a single-element Tensor.
        argnums: int or tuple of distinct ints, which positional arguments to differentiate.
    Returns:
        A function returning ``(value, g)``: at top level value is a float and g has the
        argument's structure with an ndarray of each leaf's shape (``{"W1": ndarray, ...}``
        for a dict of parameters; a tuple of those for tuple argnums); nested inside
        another transform, both are Tensors on the outer graph. Each gradient has its
        argument's dtype, nested or not.
    """
    return _value_and_grad(function_arg(f, "value_and_grad"), argnums, "value_and_grad")


def _value_and_grad(f, argnums, op):
    """``value_and_grad(f, argnums)``, its errors naming ``op``: the transform the user called."""
    def value_and_grad_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), op)
        nested = current().grad_depth > 0
        inputs = _Inputs(args, nums, op)
        out = _evaluate(f, inputs.args, kwargs)
        if not isinstance(out, Tensor) or out.size != 1:
            what = f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise GraphError(f"{op}: f must return a single-element Tensor (a scalar cost), got {what}")
        create = nested  # an enclosing transform will differentiate these gradients again
        flat = inputs.flat
        if out.requires_grad:
            seed = np.ones_like(out._array)
            found = tape.backward(out, Tensor._wrap(seed) if create else seed, inputs=flat,
                                  retain_graph=create, create_graph=create)
        else:
            found = [None] * len(flat)
        grads = inputs.rebuild([_zeros_if_none(g, x, create) for g, x in zip(found, flat)])
        value = out if nested else out.item()
        return value, (grads[0] if single else tuple(grads))
    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def grad(f, argnums=0):
    """Gradient of ``f(*args) -> scalar Tensor`` with respect to ``args[argnums]``.

    Returns a function giving the argument's structure with an ndarray of each leaf's
    shape (a tuple for tuple argnums); ``grad(grad(f))`` gives second derivatives.
    """
    return _grad(function_arg(f, "grad"), argnums, "grad")


def _grad(f, argnums, op):
    value_and_grad_f = _value_and_grad(f, argnums, op)

    def grad_f(*args, **kwargs):
        return value_and_grad_f(*args, **kwargs)[1]
    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f


def _checked_like(leaves, names, others, op, what):
    """``others`` (leaves of a tree of the same structure) as float arrays of the leaves' shapes."""
    out = []
    for leaf, name, other in zip(leaves, names, others):
        array = to_float_array(other, f"{op} ({what})", copy=False)
        shape = pytree.shape_of(leaf)
        if array.shape != shape:
            where = f" for '{name}'" if name else ""
            raise ShapeError(f"{op}: the {what}{where} has shape {array.shape}; expected {shape}, the shape of "
                             "the argument it goes with (it is not broadcast)")
        out.append(array)
    return out


def hvp(f, argnums=0):
    """Hessian-vector product: ``hvp(f)(*args, v)`` = (d^2 f / dx^2) v for x = args[argnums].

    x may be a pytree; v has x's structure and every leaf x's shape exactly (a
    different shape is refused, never broadcast). Returns x's structure of ndarrays
    in x's dtype (Pearlmutter's trick: the gradient of <grad f(x), v>), None where x
    has None (an empty subtree, as in ``grad``: ``hvp(f, argnums=1)(x, None, None)`` is
    None). Inside another transform the result is Tensors on the outer graph, and v
    stays on it as jvp's tangents do: ``grad(lambda x: hvp(f)(x, x))`` differentiates
    through the direction too.
    """
    function_arg(f, "hvp")
    def hvp_f(*args_and_v):
        if len(args_and_v) < 2:
            raise TypeError("hvp: call as hvp(f)(*args, v): the arguments of f, then the direction v")
        *args, v = args_and_v
        _, nums = _argnums_tuple(argnums, len(args), "hvp")
        if len(nums) != 1:  # one direction v goes with one argument (which may itself be a pytree)
            raise ValueError(f"hvp: argnums must name one argument, got {argnums!r}; to take several "
                             "together, pass them to f as one tuple and v as a tuple of the same structure")
        (n,) = nums
        leaves, treedef = pytree.flatten(args[n])
        given = pytree.match(treedef, v, "hvp", "direction v")
        directions = _values_like(given, pytree.leaf_names(treedef), leaves, "hvp", "direction v",
                                  keep_tensors=current().grad_depth > 0)

        def directional(*inner_args):
            g = pytree.flatten(grad(f, n)(*inner_args))[0]
            if not g:  # x is None or a tree of Nones: <grad f, v> is an empty sum, a constant, so the
                return Tensor(0.0)  # outer grad gives x's structure back with None where None was
            total = (g[0] * directions[0]).sum()
            for gi, vi in zip(g[1:], directions[1:]):
                total = total + (gi * vi).sum()
            return total
        return grad(directional, n)(*args)
    return hvp_f


def _as_output_array(x):
    return np.array(x._array) if isinstance(x, Tensor) else np.asarray(x)


def _as_args_tuple(value, op, what):
    """``value`` (f's positional arguments, or what goes with them) as a tuple; an array is
    refused, since iterating it would pass each of its rows as an argument of its own."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{op}: {what} must be a tuple (or list) with one entry per positional argument of f, "
                        f"got a {type(value).__name__}; write ({what}_value,) for a function of one argument")
    return tuple(value)


def _values_like(given, names, like, op, what, keep_tensors):
    """The leaves ``given`` (tangents, cotangents or hvp's directions) checked against the
    shapes of ``like``, as float arrays in the dtype of the Tensor each goes with.
    ``keep_tensors`` (inside an outer transform): a Tensor stays a Tensor on the outer graph
    (its cast recorded), since it may depend on the outer variables."""
    arrays = _checked_like(like, names, [getattr(g, "_array", g) for g in given], op, what)
    values = [g if keep_tensors and isinstance(g, Tensor) else a for g, a in zip(given, arrays)]
    return [_in_dtype(value, x.dtype) if isinstance(x, Tensor) else value for value, x in zip(values, like)]


def _jvp_by_reverse(out, flat, directions):
    """J t for output Tensor ``out`` as a Tensor on the outer graph, by two reverse passes
    (``directions`` gives each of ``flat``'s tangents): g(u) = J^T u is recorded with u a
    variable, and J t is the gradient of <g(u), t> with respect to u (g is linear in u).
    Forward mode's rules run on ndarrays, so an enclosing transform could not differentiate
    them; VJPs record themselves. None where ``out`` does not depend on ``flat``."""
    if not out.requires_grad:
        return None
    u = Tensor(np.zeros_like(out._array), requires_grad=True)
    pulled = tape.backward(out, u, inputs=flat, retain_graph=True, create_graph=True)
    total = None
    for g, t in zip(pulled, directions):
        if g is not None:
            term = (g * t).sum()
            total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return None
    (tangent,) = tape.backward(total, Tensor._wrap(np.ones_like(total._array)), inputs=[u], create_graph=True)
    return _zeros_if_none(tangent, u, as_tensor=True)  # (out's dtype: u's)


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J t)``, the directional derivative along ``tangents``.

    Args:
        f: function of the primals returning a Tensor (or a pytree of Tensors).
        primals: tuple of arrays / Tensors / pytrees, f's positional arguments.
        tangents: tuple of the same structure, each leaf of its primal's shape.
    Returns:
        ``(out, tangent_out)``: f's output as ndarrays and its derivative along the
        tangents, both in the structure of f's output. One evaluation of f, with each
        op's JVP rule applied as it comes (no backward pass). Inside another transform
        (``ag.grad(lambda x: ag.jvp(f, (x,), (v,))[1].sum())``) both are Tensors on the
        outer graph, so the outer transform differentiates them (the tangent is then
        computed by two recorded reverse passes, which differentiate again).
    """
    function_arg(f, "jvp")
    primals = _as_args_tuple(primals, "jvp", "primals")
    tangents = _as_args_tuple(tangents, "jvp", "tangents")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents; expected one tangent "
                         "per primal, of the same structure")
    nested = current().grad_depth > 0
    inputs = _Inputs(primals, tuple(range(len(primals))), "jvp")
    directions = []
    for i, (treedef, leaves) in enumerate(zip(inputs.defs, inputs.leaves)):
        names = [f"primal {i}" + (f" '{nm}'" if nm else "") for nm in pytree.leaf_names(treedef)]
        given = pytree.match(treedef, tangents[i], "jvp", f"tangent {i}")
        directions += _values_like(given, names, leaves, "jvp", "tangent", keep_tensors=nested)
    flat = inputs.flat
    out = _evaluate(f, inputs.args, {})
    out_leaves, out_def = pytree.flatten(out)
    if nested:
        values = [o if isinstance(o, Tensor) else Tensor(o) for o in out_leaves]
        found = [_jvp_by_reverse(o, flat, directions) for o in values]
        derivs = [Tensor._wrap(np.zeros_like(v._array)) if d is None else d for d, v in zip(found, values)]
        return pytree.unflatten(out_def, values), pytree.unflatten(out_def, derivs)
    found = push_forward(out_leaves, {id(leaf): t for leaf, t in zip(flat, directions)})
    values = [_as_output_array(o) for o in out_leaves]
    derivs = [np.zeros_like(v, dtype=v.dtype if v.dtype.kind == "f" else float) if d is None else np.array(d)
              for d, v in zip(found, values)]
    return pytree.unflatten(out_def, values), pytree.unflatten(out_def, derivs)


def vjp(f, *primals):
    """Reverse mode as a function: ``(f(*primals), vjp_fn)``.

    ``vjp_fn(cotangent)``, cotangent of f's output structure and shapes, returns a
    tuple with one entry per primal (each in its primal's structure): the
    cotangent pulled back through f, in the primal's dtype. vjp_fn may be called many
    times. Inside another transform, f's output and the pulled-back cotangents are
    Tensors on the outer graph (the pull-back is recorded), so the outer transform
    differentiates them, and through the cotangent as well.
    """
    function_arg(f, "vjp")
    nested = current().grad_depth > 0
    inputs = _Inputs(primals, tuple(range(len(primals))), "vjp")
    out = _evaluate(f, inputs.args, {})
    out_leaves, out_def = pytree.flatten(out)
    flat = inputs.flat

    def vjp_fn(cotangent):
        names = pytree.leaf_names(out_def)
        given = pytree.match(out_def, cotangent, "vjp", "cotangent")
        cts = _values_like(given, names, out_leaves, "vjp", "cotangent", keep_tensors=nested)
        total = [None] * len(flat)
        for o, ct in zip(out_leaves, cts):
            if not (isinstance(o, Tensor) and o.requires_grad):
                continue
            seed = Tensor._wrap(ct) if nested and not isinstance(ct, Tensor) else ct
            found = tape.backward(o, seed, inputs=flat, retain_graph=True, create_graph=nested)
            total = [g if t is None else t if g is None else t + g for t, g in zip(total, found)]
        return tuple(inputs.rebuild([_zeros_if_none(g, x, nested) for g, x in zip(total, flat)]))
    if nested:
        return pytree.unflatten(out_def, [o if isinstance(o, Tensor) else Tensor(o) for o in out_leaves]), vjp_fn
    return pytree.unflatten(out_def, [_as_output_array(o) for o in out_leaves]), vjp_fn


def jacobian(f, argnums=0):
    """The Jacobian of ``f`` with respect to ``args[argnums]``, JAX's layout.

    Returns a function of f's arguments giving, for an output of shape S and an
    argument leaf of shape X, an ndarray of shape ``S + X`` (entry [i, j] = d out[i] /
    d x[j]), in the argument's dtype (Tensors on the outer graph inside another
    transform). Pytrees: the output's structure, each leaf holding the argument's
    structure (a tuple over tuple argnums). Computed row by row in reverse mode.
    """
    return _jacobian(function_arg(f, "jacobian"), argnums, "jacobian")


def _jacobian(f, argnums, op):
    """``jacobian(f, argnums)``, its errors naming ``op``: the transform the user called."""
    def jacobian_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), op)
        create = current().grad_depth > 0
        inputs = _Inputs(args, nums, op)
        out = _evaluate(f, inputs.args, kwargs)
        out_leaves, out_def = pytree.flatten(out)
        flat = inputs.flat
        blocks = []
        for o in out_leaves:
            o = o if isinstance(o, Tensor) else Tensor(o)
            rows = [[] for _ in flat]
            for k in range(o.size):
                seed = np.zeros(o.size, dtype=o.dtype)
                seed[k] = 1
                seed = seed.reshape(o.shape)
                if o.requires_grad:
                    found = tape.backward(o, Tensor._wrap(seed) if create else seed, inputs=flat,
                                          retain_graph=True, create_graph=create)
                else:
                    found = [None] * len(flat)
                for r, g, x in zip(rows, found, flat):
                    r.append(_zeros_if_none(g, x, create))
            per_leaf = [_stack_rows(r, o.shape, x, create) for r, x in zip(rows, flat)]
            rebuilt = inputs.rebuild(per_leaf)
            blocks.append(rebuilt[0] if single else tuple(rebuilt))
        return pytree.unflatten(out_def, blocks)
    jacobian_f.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return jacobian_f


def _stack_rows(rows, out_shape, x, create):
    """The rows d out[k] / d x stacked into one array of shape out_shape + x.shape (x's dtype)."""
    shape = tuple(out_shape) + tuple(x.shape)
    if not rows:  # (an empty output: zeros in x's dtype, as a row would have)
        empty = np.zeros(shape, dtype=x.dtype)
        return Tensor._wrap(empty) if create else empty
    if create:
        return reshape(stack(rows, axis=0), shape=shape)
    return np.stack(rows).reshape(shape)


def hessian(f, argnums=0):
    """Second derivatives of scalar ``f``: a function giving ``x.shape + x.shape`` arrays
    (for pytrees, h[k1][k2] of shape ``x[k1].shape + x[k2].shape``; for tuple argnums,
    h[i][j]). It is ``jacobian(grad(f))``, so symmetric up to rounding."""
    hessian_f = _jacobian(_grad(function_arg(f, "hessian"), argnums, "hessian"), argnums, "hessian")
    hessian_f.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    return hessian_f
