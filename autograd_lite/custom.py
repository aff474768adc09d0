"""The checks a primitive of your own gets that the engine's own ops (``Primitive.builtin``) do not need.

The engine's rules are written knowing how the tape shares arrays; a rule of yours may not be:
- a Tensor passed as a keyword parameter would bypass the tape (its gradient silently lost, and
  ``ag.compile`` would replay the value it had when traced): refused, naming the op and the keyword;
- a forward returning its input, or a view of it (``x``, ``x.T``), is found by the memory the output
  shares with an input, as a built-in view is declared (``view=True``): an in-place edit through
  either is then seen at ``backward()``;
- a rule gets ``g``, ``out`` and the inputs read-only: ``g`` may be the very array another input's
  gradient is (``add`` passes it on to both), and the others are the graph's values, so a rule
  writing into one (``g *= 2``) would change other gradients silently; NumPy refuses the write, and
  the error names the op.
"""
import numpy as np

from .modes import share_version
from .tensor import Tensor


def check_params(prim, params):
    """Refuse a Tensor among ``prim``'s keyword parameters, or held in a list, tuple or dict there."""
    for key, value in params.items():
        held = _tensor_in(value)
        if held is not None:
            where = "is a Tensor" if held is value else "holds a Tensor"
            raise TypeError(f"{prim.label}: keyword parameter {key!r} {where} (shape {held.shape}); keyword "
                            "parameters are constants of the op, which no gradient reaches: pass it as an input "
                            f"({prim.name}(x, {key})) to differentiate through it, or its array (.data) as a "
                            "constant")


def _tensor_in(value):
    """The first Tensor in ``value`` or in the lists, tuples and dicts it holds (no recursion; each
    container looked into once, so one holding itself ends), else None."""
    pending, seen = [value], set()
    while pending:
        item = pending.pop()
        if isinstance(item, Tensor):
            return item
        if isinstance(item, (list, tuple, dict)) and id(item) not in seen:
            seen.add(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)
    return None


def share_version_of_view(prim, out, parents):
    """Give ``out`` the version counter of the input whose memory it shares: the first input of a
    built-in view (``view=True``), any input of a primitive of your own."""
    for p in parents[:1] if prim.builtin else parents:
        if np.may_share_memory(out._array, p._array):
            share_version(p, out)
            return


def run_rule(prim, rule, kind, g, out, args, params):
    """``rule(g, out, *args, **params)`` (a VJP, or a JVP with a tangent as ``g``) on read-only views."""
    g, out, *args = [_read_only(v) for v in (g, out, *args)]
    try:
        return rule(g, out, *args, **params)
    except ValueError as error:
        if "read-only" not in str(error):
            raise
        raise ValueError(f"{prim.label}: its {kind} writes into an array it was given ({error}): g, out and the "
                         f"inputs are shared with the graph and with other gradients (add hands g on to both "
                         f"its inputs); compute a new array instead (g = g * 2, not g *= 2)") from error


def _read_only(value):
    if type(value) is not np.ndarray or not value.flags.writeable:
        return value
    view = value.view()
    view.flags.writeable = False
    return view
