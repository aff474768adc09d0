"""Function transformations in the JAX / HIPS style: ``grad``, ``value_and_grad``, ``hvp``.

They nest: inside an outer ``grad``, an inner one differentiates with
``create_graph`` and returns Tensors, so ``grad(grad(f))`` is the second
derivative. The first-order path never builds a second graph.
"""
import numbers

import numpy as np

from . import tape
from .errors import GraphError
from .modes import enable_grad, state
from .tensor import Tensor


def _argnums_tuple(argnums, nargs, op):
    single = isinstance(argnums, numbers.Integral)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(f"{op}: argnums {argnums!r} is out of range for {nargs} positional arguments")
    return single, tuple(n % nargs for n in nums)


def value_and_grad(f, argnums=0):
    """Turn ``f(*args) -> scalar Tensor`` into ``(*args) -> (value, gradients)``.

    Args:
        f: function of Tensors/arrays returning a single-element Tensor.
        argnums: int or tuple of ints, which positional arguments to differentiate.
    Returns:
        A function returning ``(value, g)``: at top level value is a float and g an
        ndarray of the argument's shape (a tuple of them for tuple argnums);
        nested inside another ``grad``, both are Tensors on the outer graph.
    """
    def value_and_grad_f(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "grad")
        nested = state.grad_depth > 0
        args = list(args)
        inputs = []
        for n in nums:
            a = args[n]
            if not (nested and isinstance(a, Tensor) and a.requires_grad):
                a = Tensor(a, requires_grad=True)
            args[n] = a
            inputs.append(a)
        state.grad_depth += 1
        try:
            with enable_grad():
                out = f(*args, **kwargs)
        finally:
            state.grad_depth -= 1
        if not isinstance(out, Tensor) or out.size != 1:
            what = f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise GraphError(f"grad: f must return a single-element Tensor (a scalar cost), got {what}")
        create = nested  # an enclosing grad will differentiate these gradients again
        if out.requires_grad:
            seed = np.ones_like(out._data)
            found = tape.backward(out, Tensor._wrap(seed) if create else seed, inputs=inputs,
                                  retain_graph=create, create_graph=create)
        else:
            found = [None] * len(inputs)
        grads = tuple(_zeros_if_none(g, x, create) for g, x in zip(found, inputs))
        value = out if nested else out.item()
        return value, (grads[0] if single else grads)
    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def _zeros_if_none(g, x, as_tensor):
    # No path from x to the output: its gradient is exactly zero.
    if g is None:
        g = np.zeros_like(x._data)
        return Tensor._wrap(g) if as_tensor else g
    if not as_tensor:
        g = np.asarray(g, dtype=x._data.dtype)
    return g


def grad(f, argnums=0):
    """Gradient of ``f(*args) -> scalar Tensor`` with respect to ``args[argnums]``.

    Returns a function giving an ndarray of that argument's shape (a tuple for
    tuple argnums); ``grad(grad(f))`` gives second derivatives.
    """
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args, **kwargs):
        return value_and_grad_f(*args, **kwargs)[1]
    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f


def hvp(f, argnums=0):
    """Hessian-vector product: ``hvp(f)(*args, v)`` = (d^2 f / dx^2) v for x = args[argnums].

    v has x's shape; returns an ndarray of that shape (Pearlmutter's trick:
    the gradient of <grad f(x), v>).
    """
    def hvp_f(*args_and_v):
        *args, v = args_and_v
        _, (n,) = _argnums_tuple(argnums, len(args), "hvp")
        v = np.asarray(v)

        def directional(*inner_args):
            return (grad(f, n)(*inner_args) * v).sum()
        return grad(directional, n)(*args)
    return hvp_f
