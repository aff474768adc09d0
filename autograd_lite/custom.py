"""The checks a primitive of your own gets that the engine's own ops (``Primitive.builtin``) do not need.

The engine's rules are written knowing how the tape shares arrays; a rule of yours may not be:
- a Tensor passed as a keyword parameter would bypass the tape (its gradient silently lost, and
  ``ag.compile`` would replay the value it had when traced): refused, naming the op and the keyword;
- a forward returning its input, or a view of it (``x``, ``x.T``), is found by the memory the output
  shares with an input, as a built-in view is declared (``view=True``): an in-place edit through
  either is then seen at ``backward()``;
- a forward gets its inputs read-only (they are tensors' data, or constants that ``ag.compile``
  hands every later call), and a rule gets ``g``, ``out`` and the inputs read-only: ``g`` may be the
  very array another input's gradient is (``add`` passes it on to both), so a rule writing into one
  (``g *= 2``) would change other gradients silently; NumPy refuses the write, and the error names
  the op.
"""
import inspect
import itertools

import numpy as np

from .convert import own_memory
from .modes import share_version
from .tensor import Tensor


def check_params(prim, params):
    """Refuse a Tensor among ``prim``'s keyword parameters, or held in a list, tuple or dict there."""
    for key, value in params.items():
        held = _tensor_in(value)
        if held is not None:
            where = "is a Tensor" if held is value else "holds a Tensor"
            advice = _as_input(prim, key, params, held is value)
            raise TypeError(f"{prim.label}: keyword parameter {key!r} {where} (shape {held.shape}); keyword "
                            "parameters are constants of the op, which no gradient reaches: to differentiate "
                            f"through it, {advice}; for a constant, pass its array (.data)")


def _as_input(prim, key, params, alone):
    """Advice making the Tensor given as keyword ``key`` (``alone``: not inside a list, tuple or dict) an
    input of ``prim``: passed by position in the place its forward declares (``cube(x=t)`` for ``cube(x,
    factor=1.0)``: ``cube(x)``; not ``cube(x, x)``, which passes it as ``factor`` too), adding that the op
    needs a rule for that input in its defvjp when it has none (else backward() refuses it there); a
    keyword-only parameter (or ``**params``) has no such place, nor has a tensor inside a container."""
    try:
        declared = inspect.signature(prim.forward).parameters.values()
    except (TypeError, ValueError):  # (a forward without a signature Python can read: some C functions)
        declared = ()
    positional = [p.name for p in declared if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if key not in positional or not alone:
        return (f"make {'it' if alone else 'each tensor it holds'} an input: a positional parameter of "
                f"{prim.name}'s forward, passed by position, with a rule of its own in {prim.name}.defvjp")
    names = positional[:positional.index(key) + 1]  # (inputs are positional: every one before it is too)
    call = ", ".join(names + [f"{k}=..." for k in params if k not in names])
    index = len(names) - 1
    ruled = prim.vjp_all is not None or (index < len(prim.vjps) and prim.vjps[index] is not None)
    rule = "" if ruled else f", with a rule for it in {prim.name}.defvjp (it has none for input {index} yet)"
    return f"pass it by position, as input {index} of the op: {prim.name}({call}){rule}"


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


def run_forward(prim, *arrays, **params):
    """``prim.forward(*arrays, **params)`` (its keywords checked: ``check_params``) on read-only
    views: a forward writing into an input (a constant ``ag.compile`` hands every replay, a tensor's
    data) is refused, naming the op. An input returned as it is stays writable; any other view of
    one comes back read-only (whether NumPy would give it writable, as for ``x.T``, or not, as for
    ``np.diagonal(x)``, cannot be told from here). A writable result whose entries share memory is
    copied (``convert.own_memory``)."""
    check_params(prim, params)
    views = [_read_only(a) for a in arrays]
    try:
        out = prim.forward(*views, **{k: _read_only(v) for k, v in params.items()})
    except ValueError as error:
        _name_write(prim, "forward", error, "its inputs are the graph's values (a constant, one that "
                    "ag.compile hands every later call)", "c = c + 1, not c += 1")
        raise
    for view, array in zip(views, arrays):
        if out is view and view is not array:
            return array  # (the input itself, as eager NumPy code would hand it on)
    # (a fresh array of its own making whose entries share memory, as_strided's: copied, as a user's is)
    return own_memory(out) if type(out) is np.ndarray else out


def share_version_of_view(prim, out, parents):
    """Give ``out`` the version counter of the input whose memory it shares: the first input of a
    built-in view (``view=True``), the input of a primitive of your own whose memory it really shares
    (``np.shares_memory``: interleaved inputs, ``buf[::2]`` and ``buf[1::2]``, share a range but no entry)."""
    if prim.builtin:
        if np.may_share_memory(out._array, parents[0]._array):
            share_version(parents[0], out)
        return
    for p in parents:
        if np.may_share_memory(out._array, p._array) and np.shares_memory(out._array, p._array):
            share_version(p, out)
            return


def run_rule(prim, rule, kind, g, out, args, params):
    """``rule(g, out, *args, **params)`` (a VJP, or a JVP with a tangent as ``g``) on read-only views."""
    g = [_read_only(t) for t in g] if type(g) is list else _read_only(g)  # (jvp_all's: one tangent per input)
    out, *args = [_read_only(v) for v in (out, *args)]
    try:
        return rule(g, out, *args, **params)
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, ValueError):
            _name_write(prim, kind, error, "g, out and the inputs are shared with the graph and with other "
                        "gradients (add hands g on to both its inputs)", "g = g * 2, not g *= 2")
        # (under create_graph, out is a Tensor: NumPy's refusal of a Tensor, or an ndarray method a Tensor
        # lacks, g.astype or x.copy(), means the rule is not written to be differentiated again)
        lacks = type(error) is AttributeError and isinstance(getattr(error, "obj", None), Tensor)
        if isinstance(out, Tensor) and (type(error) in (TypeError, ValueError) or lacks):
            raise type(error)(_not_differentiable_again(prim, kind, error)) from error
        raise


def _not_differentiable_again(prim, kind, error):
    """Why ``prim``'s rule failed on Tensors, as it runs under create_graph (``out`` is then the
    Tensor): the first clauses of NumPy's refusal, without its advice to read ``t.data``, which in
    a rule would leave the higher derivative silently wrong."""
    clauses = str(error).split("; ")
    reason = "; ".join(itertools.takewhile(lambda c: ".data" not in c and "detach()" not in c, clauses))
    return (f"{prim.label}: its {kind} cannot be differentiated again (under create_graph: ag.hessian, "
            f"ag.grad of ag.grad), where it gets g, out and the inputs as Tensors: {reason or clauses[0]}. "
            f"Write the {kind} with ag functions and Tensor operators, which record on the graph, or by "
            "calling another primitive of yours that has rules of its own; "
            "np.asarray(g), g.data or x.data there would give a silently wrong higher derivative "
            "(ag.gradgradcheck finds it)")


def _name_write(prim, kind, error, why, instead):
    """Raise, naming ``prim``, for NumPy's refusal of a write into a read-only array (else return)."""
    if "read-only" in str(error):
        raise ValueError(f"{prim.label}: its {kind} writes into an array it was given ({error}): {why}; "
                         f"compute a new array instead ({instead})") from error


def _read_only(value):
    if type(value) is not np.ndarray or not value.flags.writeable:
        return value
    view = value.view()
    view.flags.writeable = False
    return view
