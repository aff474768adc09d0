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

torch.func's rule for ``no_grad``: one inside f holds for the transform differentiating f (what is
computed in the block is a constant for it); a transform called under ``no_grad`` computes its own
values and derivatives as at top level (ndarrays, constants for any enclosing transform).
"""
import collections.abc
import numbers
import os
import sys
import threading
import warnings
import weakref

import numpy as np

from . import pytree, tape
from .errors import GraphError, InplaceModificationError, ShapeError
from .forward import in_order, push_forward
from .modes import enable_grad, current
from .ops import _apply, reshape, stack
from .primitive import Primitive
from .convert import function_arg
from .diagnostics import born, describe
from .tensor import Tensor, to_float_array

__all__ = ["grad", "value_and_grad", "hvp", "jvp", "vjp", "jacobian", "hessian"]


def _fixed_argnums(argnums, op):
    """``argnums`` read once, when the transform is made, as ``(single, nums)``: whether it is one int,
    and the positions as a tuple of ints (a list, range or integer array copied: changing it later
    changes nothing, as in JAX; an iterator read here). Bad values are refused now, naming ``op``;
    the range is checked at each call, against the number of arguments given. A set or a dict is
    refused: the results come in argnums' order, which neither has to give."""
    if isinstance(argnums, (collections.abc.Set, collections.abc.Mapping)):
        raise TypeError(f"{op}: argnums must be an int or a tuple of ints (positions of f's arguments), got "
                        f"{type(argnums).__name__} {argnums!r}, which has no order to give the gradients in")
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
    nums = tuple(int(n) for n in nums)
    _refuse_repeats(nums, nums, op)
    return single, nums


def _refuse_repeats(nums, shown, op):
    if len(set(nums)) != len(nums):
        raise ValueError(f"{op}: argnums {shown!r} names the same argument twice; list each argument once")


def _argnums_tuple(fixed, nargs, op):
    """``fixed`` (``_fixed_argnums``'s result) for a call with ``nargs`` positional arguments:
    ``(single, nums)`` with each position in range(nargs)."""
    single, nums = fixed
    shown = nums[0] if single else nums
    if not all(-nargs <= n < nargs for n in nums):
        raise ValueError(f"{op}: argnums {shown!r} is out of range for {nargs} positional arguments")
    normalized = tuple(n % nargs for n in nums)
    _refuse_repeats(normalized, shown, op)  # (0 and -2 for two arguments)
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


def _where(argnum, treedef, index):
    """How an error names leaf ``index`` of argument ``argnum``: by its path in the tree, if any."""
    if treedef.kind == "leaf":
        return f"argument {argnum}"
    return f"argument {argnum}, leaf {pytree.leaf_names(treedef)[index]!r}"


def _leaf_array(leaf, op, argnum, treedef, index):
    """Leaf ``index`` of argument ``argnum`` as a float array; a refusal names its path in the tree."""
    try:
        return to_float_array(leaf, op)
    except (TypeError, ValueError) as error:
        if treedef.kind == "leaf":  # the argument itself: nothing more to name
            raise
        message = str(error)
        message = message[len(op) + 2:] if message.startswith(f"{op}: ") else message
        raise type(error)(f"{op}: {_where(argnum, treedef, index)}: {message}") from None


def _linked():
    """True when a transform called now must keep its results on an enclosing transform's graph:
    one runs in this thread, with recording on. Under the user's ``no_grad()`` (torch.func's rule)
    the call computes as at top level, and its results are constants for the enclosing one."""
    state = current()
    return state.grad_depth > 0 and state.grad_enabled


def _user_stacklevel():
    """``warnings.warn``'s stacklevel, from its caller's caller, of the first frame outside this package."""
    package, frame, level = os.path.dirname(__file__), sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _constant_copy(value, op, what):
    """``value`` (a Tensor) given to a transform that keeps no graph (none encloses it): warn, while
    recording, if an op made it from tensors that require grad, since the results (ndarrays) then carry
    none of its dependence on the graph that made it (torch.func.grad would keep it). A leaf, a model's
    parameter (``ag.grad(cost)(params)``), is taken as its value: that is what the call asks for."""
    if value.requires_grad and value._prim is not None and current().grad_enabled:
        warnings.warn(f"{op}: {what} is a Tensor that requires grad ({describe(value)}); outside another "
                      "transform the results are ndarrays, through which no gradient flows back to it. Pass "
                      "t.detach() for a constant; to differentiate through it, call this transform inside an "
                      "ag.grad (or ag.jacobian, ...) of the computation that made it", UserWarning,
                      stacklevel=_user_stacklevel())


# The variables of the transforms whose f is running: one entry per running evaluation, keyed by a
# weak reference to a token only its _evaluate frame holds, giving (its variables, (thread ident,
# name)). A transform started in another thread cannot see that one (grad_depth is per thread), so
# it would give constants where the outer transform differentiates; it refuses them instead (as JAX
# does). Each entry is added and removed by one dict operation (atomic under the GIL, so no lock):
# an interrupt (Ctrl-C) cannot leave half of it, and one that skips the removal leaves an entry
# that goes when the frame does (the weak reference's callback). It holds the Tensors themselves,
# not their ids, so it can never match a new Tensor that reuses a dead one's id.
_running = {}


class _Token:
    __slots__ = ("__weakref__",)


def is_running_variable(t):
    """Whether the Tensor ``t`` is a variable of a transform whose f this thread is running."""
    me = threading.get_ident()
    return any(owner[0] == me and any(v is t for v in variables) for variables, owner in _running.copy().values())


def closed_over(t):
    """Whether the Tensor ``t`` is older than every variable of a transform whose f this thread is running:
    a tensor that f closes over (made before the call), a constant there."""
    me = threading.get_ident()
    return any(owner[0] == me and variables and born(t) > max(born(v) for v in variables)
               for variables, owner in _running.copy().values())


def _foreign_variables():
    """The variables of transforms running in other threads, each with its thread ({} if none)."""
    me = threading.get_ident()
    return {v: owner for variables, owner in _running.copy().values() if owner[0] != me
            for v in variables}


def _refuse_foreign(roots, op, what):
    """Raise if the graph of a Tensor of ``roots`` reaches a variable of a transform that another
    thread is running (nothing to walk unless another thread runs one)."""
    running = _foreign_variables() if _running else None
    if not running:
        return
    for node in in_order([r for r in roots if isinstance(r, Tensor) and r.requires_grad]):
        owner = running.get(node)
        if owner is not None:
            raise GraphError(f"{op}: {what} depends on a variable of a transform running in another thread "
                             f"({owner[1]!r}); this one cannot differentiate through it (each thread keeps its "
                             "own transforms), so its result would be a constant there. Call it in the thread "
                             "that runs the enclosing transform")


class _Inputs:
    """The differentiated arguments: each flattened to Tensors requiring grad (new leaves at
    top level; linked to an enclosing transform, new nodes depending on the outer values), and
    rebuilt in its structure for ``f``. ``inner``: these are the arguments of the inner gradient
    of ``hessian`` or ``hvp``, whose outer transform gives them its own variables."""

    def __init__(self, args, nums, op, inner=False):
        self.linked, self.op, self.inner = _linked(), op, inner
        self.args, self.nums, self.defs, self.leaves = list(args), nums, [], []
        for n in nums:
            leaves, treedef = pytree.flatten(self.args[n])
            tensors = [self._variable(leaf, n, treedef, i) for i, leaf in enumerate(leaves)]
            self.args[n] = pytree.unflatten(treedef, tensors)
            self.defs.append(treedef)
            self.leaves.append(tensors)

    def _variable(self, leaf, n, treedef, index):
        """The Tensor f gets for leaf ``index`` of argument ``n``."""
        if isinstance(leaf, Tensor) and leaf.requires_grad:
            if self.linked:
                return _variable_of(leaf)
            _refuse_foreign([leaf], self.op, _where(n, treedef, index))
            _constant_copy(leaf, self.op, _where(n, treedef, index))
        return Tensor(_leaf_array(leaf, self.op, n, treedef, index), requires_grad=True)

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

    def evaluate(self, f, kwargs):
        """``f`` at the arguments, recorded, these variables marked as this thread's while it runs."""
        return _evaluate(f, self.args, kwargs, self.flat)

    def check_outputs(self, outputs):
        """After f ran, with ``outputs`` its leaves: refuse what would silently go wrong later."""
        if not self.linked:
            _refuse_foreign(outputs, self.op, "f's value")
            return
        for treedef, n, leaves in zip(self.defs, self.nums, self.leaves):
            for index, v in enumerate(leaves):
                if v._prim is _variable_of and v._vc is not None and v._vc.stamp > v._epoch:
                    self._changed_in_place(v, _where(n, treedef, index))

    def _changed_in_place(self, v, where):
        """``f`` changed variable ``v`` in place: refused, since ``v`` shares the outer value's memory,
        so the change reached the enclosing transform's value too, and its derivative through this one
        is no longer the one recorded. Except inside ``hessian`` or ``hvp`` called at top level: there
        the outer value is that transform's own copy of the argument, which nothing else has read, so
        as at top level f's derivatives are those at the changed value, and ``v``'s node (the
        identity, which saved nothing) is taken as recorded after the change."""
        if self.inner and v._parents[0]._prim is None:
            v._epoch = v._vc.stamp
            return
        raise InplaceModificationError(
            f"{self.op}: f changed its {where} in place (under no_grad(), or through .data) while {self.op} ran "
            "inside another transform, which differentiates through that argument; write y = y + c "
            "(recorded) instead of changing it in place")


def _evaluate(f, args, kwargs, variables=()):
    """``f(*args)`` recorded, with inner ``grad`` calls told to build differentiable graphs;
    ``variables`` (the transform's) marked as this thread's while f runs."""
    state, token = current(), _Token()
    depth, key = state.grad_depth, weakref.ref(token, _forget)
    try:  # (registered inside the try, so the finally removes whatever was done before an interrupt)
        _running[key] = (tuple(variables), (threading.get_ident(), threading.current_thread().name))
        state.grad_depth = depth + 1
        with enable_grad():
            return f(*args, **kwargs)
    finally:
        state.grad_depth = depth
        _running.pop(key, None)


def _forget(key):
    """Drop the entry of an evaluation whose frame is gone (its removal skipped by an interrupt)."""
    _running.pop(key, None)


def _zeros_if_none(g, x, as_tensor):
    """The gradient ``g`` found for Tensor ``x``, in x's dtype (float32 stays float32, whatever
    the output's dtype): an ndarray, or with ``as_tensor`` (linked to an enclosing transform) a
    Tensor on the outer graph; zeros where no path led from x to the output. An ndarray is always a
    fresh writable copy, as HIPS autograd's: VJPs share arrays (two arguments' gradients, the
    caller's cotangent, sum's read-only broadcast view), and a caller updates results in place."""
    if g is None:
        g = np.zeros_like(x._array)
        return Tensor._wrap(g) if as_tensor else g
    if not as_tensor:
        return np.array(getattr(g, "_array", g), dtype=x._array.dtype)
    return _in_dtype(g, x.dtype)


def value_and_grad(f, argnums=0):
    """Turn ``f(*args) -> scalar Tensor`` into ``(*args) -> (value, gradients)``.

    Args:
        f: function of Tensors/arrays (or pytrees of them) returning a single-element Tensor.
        argnums: int or tuple of distinct ints, which positional arguments to differentiate.
    Returns:
        A function returning ``(value, g)``: at top level (or under ``no_grad()``) value is a
        float and g has the argument's structure with a fresh ndarray of each leaf's shape
        (``{"W1": ndarray, ...}`` for a dict of parameters; a tuple of those for tuple
        argnums); nested inside another transform, both are Tensors on the outer graph. Each
        gradient has its argument's dtype, nested or not.
    """
    return _value_and_grad(function_arg(f, "value_and_grad"), argnums, "value_and_grad")


def _value_and_grad(f, argnums, op, inner=False):
    """``value_and_grad(f, argnums)``, its errors naming ``op``: the transform the user called
    (``inner``: as the inner gradient of ``hessian`` or ``hvp``, see ``_Inputs``)."""
    argnums = _fixed_argnums(argnums, op)

    def value_and_grad_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), op)
        inputs = _Inputs(args, nums, op, inner)
        out = inputs.evaluate(f, kwargs)
        if not isinstance(out, Tensor) or out.size != 1:
            what = f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise GraphError(f"{op}: f must return a single-element Tensor (a scalar cost), got {what}")
        inputs.check_outputs([out])
        create = inputs.linked  # an enclosing transform will differentiate these gradients again
        flat = inputs.flat
        if out.requires_grad:
            seed = np.ones_like(out._array)
            # (f may close over a graph that is not this transform's, the enclosing transform's or the
            # user's own (w = model(p), or an argument not differentiated), which must outlive this walk,
            # as it does under jvp, vjp, jacobian and torch.func.grad; this transform's own graph is
            # freed anyway when out is dropped, on return)
            found = tape.backward(out, Tensor._wrap(seed) if create else seed, inputs=flat,
                                  retain_graph=True, create_graph=create)
        else:
            found = [None] * len(flat)
        grads = inputs.rebuild([_zeros_if_none(g, x, create) for g, x in zip(found, flat)])
        value = out if create else out.item()
        return value, (grads[0] if single else tuple(grads))
    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def grad(f, argnums=0):
    """Gradient of ``f(*args) -> scalar Tensor`` with respect to ``args[argnums]``.

    Returns a function giving the argument's structure with an ndarray of each leaf's
    shape (a tuple for tuple argnums); ``grad(grad(f))`` gives second derivatives.
    """
    return _grad(function_arg(f, "grad"), argnums, "grad")


def _grad(f, argnums, op, inner=False):
    value_and_grad_f = _value_and_grad(f, argnums, op, inner)

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
    """Hessian-vector product: ``hvp(f)(*args, v, **kwargs)`` = (d^2 f / dx^2) v for x = args[argnums]
    (keyword arguments are passed to f, as ``grad`` passes them).

    x may be a pytree; v has x's structure and every leaf x's shape exactly (a
    different shape is refused, never broadcast). Returns x's structure of ndarrays
    in x's dtype (Pearlmutter's trick: the gradient of <grad f(x), v>), None where x
    has None (an empty subtree, as in ``grad``: ``hvp(f, argnums=1)(x, None, None)`` is
    None). Inside another transform the result is Tensors on the outer graph, and v
    stays on it as jvp's tangents do: ``grad(lambda x: hvp(f)(x, x))`` differentiates
    through the direction too. Called at top level, f may change its argument in place
    before using it, as under ``grad``: the product is the Hessian's at the changed value.
    """
    function_arg(f, "hvp")
    argnums = _fixed_argnums(argnums, "hvp")
    if len(argnums[1]) != 1:  # one direction v goes with one argument (which may itself be a pytree)
        raise ValueError(f"hvp: argnums must name one argument, got {argnums[1]!r}; to take several "
                         "together, pass them to f as one tuple and v as a tuple of the same structure")

    def hvp_f(*args_and_v, **kwargs):  # (keywords go to f, as under grad and hessian)
        if len(args_and_v) < 2:
            raise TypeError("hvp: call as hvp(f)(*args, v): the arguments of f, then the direction v")
        *args, v = args_and_v
        (n,) = _argnums_tuple(argnums, len(args), "hvp")[1]
        leaves, treedef = pytree.flatten(args[n])
        given = pytree.match(treedef, v, "hvp", "direction v")
        directions = _values_like(given, pytree.leaf_names(treedef), leaves, "hvp", "direction v",
                                  keep_tensors=_linked())

        def directional(*inner_args):
            g = pytree.flatten(_grad(f, n, "hvp", inner=True)(*inner_args, **kwargs))[0]
            if not g:  # x is None or a tree of Nones: <grad f, v> is an empty sum, a constant, so the
                return Tensor(0.0)  # outer grad gives x's structure back with None where None was
            total = (g[0] * directions[0]).sum()
            for gi, vi in zip(g[1:], directions[1:]):
                total = total + (gi * vi).sum()
            return total
        return _grad(directional, n, "hvp")(*args)
    return hvp_f


def _as_output_array(x):
    """An output leaf of f as a fresh array of its own (never the caller's, even where f returns it)."""
    return np.array(getattr(x, "_array", x))


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
    ``keep_tensors`` (linked to an enclosing transform): a Tensor stays a Tensor on the outer
    graph (its cast recorded), since it may depend on the outer variables."""
    arrays = _checked_like(like, names, [getattr(g, "_array", g) for g in given], op, what)
    for g, name in zip(given, names):
        if isinstance(g, Tensor):  # (linked or not: this thread's transforms cannot differentiate it)
            _refuse_foreign([g], op, f"the {what}" + (f" for '{name}'" if name else ""))
            if not keep_tensors:
                _constant_copy(g, op, f"the {what}" + (f" for '{name}'" if name else ""))
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
    moving = [(x, t) for x, t in zip(flat, directions) if x.requires_grad]  # (see jvp: zero tangents' are not)
    u = Tensor(np.zeros_like(out._array), requires_grad=True)
    try:
        pulled = tape.backward(out, u, inputs=[x for x, _ in moving], retain_graph=True, create_graph=True)
    except GraphError as error:  # (a primitive with a JVP rule alone works at top level)
        raise GraphError(f"jvp inside another transform runs as two reverse passes (so that the outer one can "
                         f"differentiate it): an input with a non-zero tangent must be one its op differentiates, "
                         f"by a VJP (a primitive's defvjp; a JVP rule alone serves top-level jvp only): "
                         f"{error}") from None
    total = None
    for g, (_, t) in zip(pulled, moving):
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
    inputs = _Inputs(primals, tuple(range(len(primals))), "jvp")
    linked, directions = inputs.linked, []
    for i, (treedef, leaves) in enumerate(zip(inputs.defs, inputs.leaves)):
        names = [f"primal {i}" + (f" '{nm}'" if nm else "") for nm in pytree.leaf_names(treedef)]
        given = pytree.match(treedef, tangents[i], "jvp", f"tangent {i}")
        directions += _values_like(given, names, leaves, "jvp", "tangent", keep_tensors=linked)
    flat = inputs.flat
    if linked:  # (an input whose tangent is a constant 0 takes no part, as in forward mode: where's condition, a
        for x, t in zip(flat, directions):  # mask: a constant to f, so an op with no VJP for it refuses nothing)
            if x._prim is None and not getattr(t, "requires_grad", False) and not np.any(getattr(t, "_array", t)):
                x._requires_grad = False  # (its own new leaf: _variable made it)
    out_leaves, out_def = pytree.flatten(inputs.evaluate(f, {}))
    inputs.check_outputs(out_leaves)
    if linked:
        values = [o if isinstance(o, Tensor) else Tensor(o) for o in out_leaves]
        found = [_jvp_by_reverse(o, flat, directions) for o in values]
        derivs = [Tensor._wrap(np.zeros_like(v._array)) if d is None else d for d, v in zip(found, values)]
        return pytree.unflatten(out_def, values), pytree.unflatten(out_def, derivs)
    found = push_forward(out_leaves, dict(zip(flat, directions)))
    values = [_as_output_array(o) for o in out_leaves]
    derivs = [np.zeros_like(v, dtype=v.dtype if v.dtype.kind == "f" else float) if d is None else np.array(d)
              for d, v in zip(found, values)]
    return pytree.unflatten(out_def, values), pytree.unflatten(out_def, derivs)


def vjp(f, *primals):
    """Reverse mode as a function: ``(f(*primals), vjp_fn)``.

    ``vjp_fn(cotangent)``, cotangent of f's output structure and shapes, returns a
    tuple with one entry per primal (each in its primal's structure): the
    cotangent pulled back through f, in the primal's dtype. vjp_fn may be called many
    times. Inside another transform, f's output is Tensors on the outer graph. Each call of
    vjp_fn made inside a transform (wherever vjp ran) records its pull-back, so the
    pulled-back cotangents are Tensors on that graph, which it differentiates through the
    primals (when vjp ran inside it too) and through the cotangent (vjp_fn is linear in it).
    """
    function_arg(f, "vjp")
    inputs = _Inputs(primals, tuple(range(len(primals))), "vjp")
    out_leaves, out_def = pytree.flatten(inputs.evaluate(f, {}))
    inputs.check_outputs(out_leaves)
    flat = inputs.flat

    def vjp_fn(cotangent):
        linked = _linked()  # (now, not when vjp ran: a vjp_fn made at top level may be called in a transform)
        # (made inside a transform that another thread runs, its pull-back is that transform's to record)
        _refuse_foreign(flat, "vjp", "vjp_fn (through the primals vjp was given)")
        names = pytree.leaf_names(out_def)
        given = pytree.match(out_def, cotangent, "vjp", "cotangent")
        cts = _values_like(given, names, out_leaves, "vjp", "cotangent", keep_tensors=linked)
        total = [None] * len(flat)
        for o, ct in zip(out_leaves, cts):
            if not (isinstance(o, Tensor) and o.requires_grad):
                continue
            seed = Tensor._wrap(ct) if linked and not isinstance(ct, Tensor) else ct
            found = tape.backward(o, seed, inputs=flat, retain_graph=True, create_graph=linked)
            total = [g if t is None else t if g is None else t + g for t, g in zip(total, found)]
        return tuple(inputs.rebuild([_zeros_if_none(g, x, linked) for g, x in zip(total, flat)]))
    if inputs.linked:
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
    argnums = _fixed_argnums(argnums, op)

    def jacobian_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), op)
        inputs = _Inputs(args, nums, op)
        out_leaves, out_def = pytree.flatten(inputs.evaluate(f, kwargs))
        inputs.check_outputs(out_leaves)
        create, flat = inputs.linked, inputs.flat
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
    h[i][j]). It is ``jacobian(grad(f))``, so symmetric up to rounding. Called at top level,
    f may change its argument in place before using it, as under ``grad``: the second
    derivatives are those at the changed value."""
    inner = _grad(function_arg(f, "hessian"), argnums, "hessian", inner=True)
    hessian_f = _jacobian(inner, argnums, "hessian")
    hessian_f.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    return hessian_f
