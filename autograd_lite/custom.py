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
  the op;
- a forward's result is the output's own: one it keeps (a workspace) is copied, as the next call
  would change it; under ``ag.compile``, a forward changing a container or object among its keyword
  parameters runs the call eagerly (each replay would start from what the last one left there);
- the forward and the rules are checked when given (``op_name``, ``checked_rules``), and a rule whose
  signature cannot take its call is named with the call it got.
"""
import collections
import collections.abc
import functools
import inspect
import itertools
import types
import weakref

import numpy as np

from . import diagnostics
from .conform import alone
from .convert import own_memory, plain_array
from .errors import GraphError
from .modes import current, share_version
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
    ``np.diagonal(x)``, cannot be told from here). Any other result is the output's own: adopted when
    nothing else refers to it (``conform.alone``: an array the forward just made), else copied (a
    workspace it keeps, ``np.multiply(x, x, out=BUF)``, would be every output of the op at once), as is
    a writable result whose entries share memory (``convert.own_memory``). While ``ag.compile`` traces,
    a change it makes to a container or object given as a keyword parameter makes the call run eagerly
    (``_note_changed``). Any other error it raises passes as it is (``diagnostics.explain_failure``)."""
    check_params(prim, params)
    views = [_read_only(a) for a in arrays]
    tracer = current().tracer
    before = _contents(params) if tracer is not None and params else None
    try:
        out = prim.forward(*views, **{k: _read_only(v) for k, v in params.items()})
    except ValueError as error:
        _name_write(prim, "forward", error, "its inputs are the graph's values (a constant, one that "
                    "ag.compile hands every later call)", "c = c + 1, not c += 1")
        raise
    if before:
        _note_changed(prim, params, before, tracer)
    if isinstance(out, Tensor) and out.requires_grad and current().grad_enabled:
        raise GraphError(f"{prim.label}: its forward returned a Tensor that requires grad ({out.shape}: made from a "
                         "tensor it closes over, as W in x @ W); the op takes its value, so that tensor's gradient "
                         "would silently be lost. Pass the tensor as an input of the op (f(x, W)), or use its "
                         "value (W.detach()) for a constant")
    if _array_like(out):  # (a tensor, buffer or array of another library, which may share memory the forward
        return _own_copy(out)  # keeps: the output's own copy; a torch tensor, an array.array, a memoryview)
    for view, array in zip(views, arrays):
        if out is view:
            return array  # (the input itself, as eager NumPy code would hand it on)
    if not isinstance(out, np.ndarray) or out.base is not None and any(
            np.may_share_memory(out, a) for a in arrays):  # (a view of an input: it shares that input's
        return out                                          # version counter, share_version_of_view)
    # Adopted only if nothing else can reach its memory: a plain array, no weak reference to it (a cache
    # of workspaces), referred to by this frame alone, owning its memory or viewing one such array just made
    # (a view of a kept bytearray, memoryview or mmap, or of a kept array, is copied; so is a subclass)
    if type(out) is np.ndarray and not weakref.getweakrefcount(out) and alone(out) and (out.base is None or (
            type(out.base) is np.ndarray and out.base.base is None and not weakref.getweakrefcount(out.base)
            and alone(out.base))):  # (out.base read anew each time: a local holding it would count)
        return own_memory(out)  # (an as_strided view's entries sharing memory are copied, as a user's are)
    return np.array(plain_array(out, f"{prim.label}: its forward's result"), subok=False)  # (a masked entry refused)


def _contents(params):
    """{keyword: contents} of the containers and objects among ``params`` (``_contents_of``)."""
    return {key: _contents_of(value, set()) for key, value in params.items() if _holder(value)}


def _holder(value):
    """Whether ``value`` holds what a forward could change: a list, tuple, dict, set, deque, or an object
    with attributes of its own (not a class, module or function)."""
    return isinstance(value, (list, tuple, dict, set, collections.deque)) or (
        hasattr(value, "__dict__") and not callable(value) and not isinstance(value, (type, types.ModuleType)))


def _contents_of(value, seen):
    """What a replay would have to give a forward again of ``value``: the bytes of an array, else for a
    container or an object (``_holder``) what it holds (the id of each item, or attribute, and its own
    contents; a set's in the order of their ids), else None."""
    if isinstance(value, np.ndarray):  # (ndarray's own: the tracer's stand-in for a comparison refuses its own)
        return np.ndarray.tobytes(value)
    if not _holder(value) or id(value) in seen:  # (one holding itself ends)
        return None
    seen.add(id(value))
    items = value.items() if isinstance(value, dict) else sorted((id(v), v) for v in value) if isinstance(
        value, set) else enumerate(value) if isinstance(value, (list, tuple, collections.deque)) else vars(value).items()
    return [(key, id(item), _contents_of(item, seen)) for key, item in items]


def _note_changed(prim, params, before, tracer):
    """Make ``tracer``'s call run eagerly if ``prim``'s forward changed a container or object given to it as a
    keyword parameter (``before``: their ``_contents`` then): the trace would hold that container, and each
    replay would start from what the last one left, where the function makes it anew on each call."""
    for key, contents in before.items():
        if _contents_of(params[key], set()) != contents:
            held = type(params[key]).__name__
            tracer.refusals.append(
                f"passes op '{prim.name}' a {held} as keyword parameter {key!r} whose contents its forward "
                "changes (an array in it written into, an item set): a replay would start from what the last "
                f"call left in that {held}; have the forward return what it computes, or keep such state "
                "outside")
            return


def share_version_of_view(prim, out, parents):
    """Give ``out`` the version counter of the input whose memory it shares: the first input of a
    built-in view (``view=True``), the input of a primitive of your own whose memory it really shares
    (``np.shares_memory``: interleaved inputs, ``buf[::2]`` and ``buf[1::2]``, share a range but no entry)."""
    if prim.builtin:
        if np.may_share_memory(out._array, parents[0]._array):
            share_version(parents[0], out)
        return
    viewed = viewed_source(out._array, parents)
    if viewed is not None:
        share_version(viewed, out)


def viewed_source(array, tensors):
    """The tensor among ``tensors`` whose memory ``array`` views, or None: the one holding ``array`` itself
    first (an input returned as it is), else the first whose memory it really shares (``np.shares_memory``:
    interleaved inputs, ``buf[::2]`` and ``buf[1::2]`` or a matrix's two columns, share a range but no entry)."""
    same = [t for t in tensors if t._array is array]
    return next((t for t in same or tensors
                 if np.may_share_memory(array, t._array) and np.shares_memory(array, t._array)), None)


def run_rule(prim, rule, kind, g, out, args, params):
    """``rule(g, out, *args, **params)`` (a VJP, or a JVP with a tangent as ``g``) on read-only views; a
    rule that cannot take that call (not callable, another signature) is a TypeError naming the op, the
    rule and the call (``_name_signature``). A result it may still hold is copied (see the end)."""
    g = [_read_only(t) for t in g] if type(g) is list else _read_only(g)  # (jvp_all's: one tangent per input)
    out, *args = [_read_only(v) for v in (out, *args)]
    try:  # (keyword arrays read-only too: the forward's constants, which every later call reads)
        result = rule(g, out, *args, **{k: _read_only(v) for k, v in params.items()})
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, TypeError):
            _name_signature(prim, rule, kind, args, params, error)
        if isinstance(error, ValueError):
            _name_write(prim, kind, error, "g, out, the inputs and keyword arrays are shared with the graph and "
                        "with other gradients (add hands g on to both its inputs; a keyword array is the "
                        "forward's constant, which every later call reads)", "g = g * 2, not g *= 2; hand a "
                        "library that writes into its arguments a copy, s.copy()")
        # (under create_graph, out is a Tensor: NumPy's refusal of a Tensor, or an ndarray method a Tensor
        # lacks, g.astype or x.copy(), means the rule is not written to be differentiated again)
        lacks = type(error) is AttributeError and isinstance(getattr(error, "obj", None), Tensor)
        refused = type(error) in (TypeError, ValueError) and _raised_by_numpy_protocol(error)
        if isinstance(out, Tensor) and (refused or lacks):
            raise type(error)(_not_differentiable_again(prim, kind, error)) from error
        raise
    # What the rule may still hold (a workspace it reuses, a weakly cached buffer, a view or buffer of one, a
    # Tensor it keeps) is copied, as a forward's result is (run_forward): the walk keeps a gradient until its
    # consumers are done, .grad adopts one, and the rule's next call would write into it. Only a plain array
    # nothing else refers to is taken as it is; under create_graph a Tensor is the recorded gradient itself.
    if type(result) is np.ndarray and result.base is None and not weakref.getweakrefcount(result) and alone(result):
        return result
    if rule is prim.vjp_all:  # (one per input, none alone: the sequence holds it; another type is refused later)
        return [_unshared(v, out) for v in result] if isinstance(
            result, (list, tuple, collections.abc.Iterator)) else result
    return _unshared(result, out)


def _unshared(value, out):
    """A rule's result (``value``) as an array of its own: ndarrays copied (subclasses kept: a masked entry
    is refused later, by name), and so, as ndarrays, buffers, arrays of other libraries (torch, JAX) and, at
    first order (``out`` an ndarray), Tensors; under create_graph a Tensor is the recorded gradient itself.
    Anything else (numbers, lists: read anew by conform) is left to conform, which names what it refuses."""
    if isinstance(value, np.ndarray):
        return np.array(value, subok=True)
    return _own_copy(value) if _array_like(value) and not (isinstance(value, Tensor) and isinstance(out, Tensor)) \
        else value


def _array_like(value):
    """Whether ``value`` holds array data another object may share: a Tensor, an array of another library
    (``__array__``, ``__array_interface__``), anything with the buffer protocol (memoryview, bytearray,
    array.array, a ctypes array); not an ndarray."""
    if isinstance(value, (np.ndarray, bytes, str)):  # (bytes and str cannot change: read as they are)
        return False
    if isinstance(value, Tensor) or any(hasattr(value, name) for name in (
            "__array__", "__array_interface__", "__array_struct__", "__buffer__")):
        return True
    try:
        memoryview(value)  # (Python 3.11 and before: the buffer protocol has no attribute to look for)
        return True
    except TypeError:
        return False


def _own_copy(value):
    """``value`` (``_array_like``) as a new ndarray (np.asarray's reading, then copied: an ``__array__`` without
    NumPy 2's copy keyword, as torch's, is asked for no copy)."""
    return np.asarray(getattr(value, "_array", value)).copy()


def _raised_by_numpy_protocol(error):
    """Whether ``error`` was raised by the engine's side of NumPy's protocols (``numpy_api``: a Tensor's
    ``__array__``, ``__array_function__``, ``__array_ufunc__`` and the ndarray methods it mirrors),
    refusing a Tensor that NumPy was handed; an error the rule raises itself, as its own ValueError
    for an input out of range, is the rule's own at any order and passes through as it is."""
    from . import numpy_api  # (it imports the ops, which import this module)
    innermost = error.__traceback__
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    return innermost.tb_frame.f_globals.get("__name__") == numpy_api.__name__


def op_name(forward, name):
    """The name of the op made of ``forward``: ``name``, else the forward's ``__name__`` (a
    ``functools.partial``'s: its function's). A forward that is no callable, or one without a name
    (a callable object) given no ``name``, is a TypeError saying what is expected."""
    if not callable(forward):
        raise TypeError(f"primitive: the forward is {type(forward).__name__} {forward!r:.40}, not a "
                        "function; expected forward(*ndarrays, **params) -> ndarray")
    inner = forward
    while isinstance(inner, functools.partial):
        inner = inner.func
    found = name or getattr(inner, "__name__", None)
    if found is None:
        raise TypeError(f"primitive: the forward {forward!r:.60} ({type(forward).__name__}) has no __name__ "
                        "to name the op by; pass name=, as in ag.primitive(forward, name='scale')")
    return found


def checked_rules(prim, kind, rules):
    """``rules`` given to ``prim.defvjp`` (``kind`` "VJP") or ``defjvp`` ("JVP"), each checked now rather than
    at backward(): a function or None, and, when ``prim``'s forward takes a fixed number of inputs
    (``prim.arity``), one that takes g, out and that many inputs by position; else a TypeError naming
    the op, the input and the call expected."""
    for i, rule in enumerate(rules):
        if rule is None:
            continue
        problem = None if callable(rule) else f"is {type(rule).__name__} {rule!r:.40}, not a function"
        if problem is None and prim.arity is not None:
            problem = _mismatch(rule, [None] * (2 + prim.arity), {})
        if problem is not None:
            expected = _expected_call(prim, kind.lower(), prim.arity)
            raise TypeError(f"{prim.label}.def{kind.lower()}: the rule for input {i} {problem}; expected "
                            f"{expected}, or None (not differentiable there)")
    return rules


def _name_signature(prim, rule, kind, args, params, error):
    """Raise, naming ``prim``, the rule and the call it is given, for a TypeError that comes from
    calling ``rule`` (not callable, or a signature that cannot take that call); else return."""
    problem = None if callable(rule) else f"is {type(rule).__name__} {rule!r:.40}, not a function"
    if problem is None:
        problem = _mismatch(rule, [None] * (2 + len(args)), params)
    if problem is not None:
        name = _rule_name(prim, rule, kind)
        call = name if name.endswith("_all") else kind.lower()
        raise TypeError(f"{prim.label}: its {name} {problem}; expected "
                        f"{_expected_call(prim, call, len(args), params)}") from error


def _mismatch(rule, args, params):
    """Why ``rule`` cannot be called with ``args`` and ``params`` (its signature and Python's words),
    or None if it can (or has no signature Python can read)."""
    try:
        signature = inspect.signature(rule)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*args, **params)
    except TypeError as error:
        keywords = f" and the keyword{'s' * (len(params) > 1)} {', '.join(params)}" if params else ""
        return f"{getattr(rule, '__name__', type(rule).__name__)}{signature} cannot take {len(args)} " \
               f"positional arguments{keywords} ({error})"
    return None


def _expected_call(prim, call, n, params=()):
    """How a rule ``call`` ("vjp", "jvp_all", ...) is called for ``prim``'s ``n`` inputs (None: not fixed),
    ``params`` its keywords: ``vjp(g, out, x, y, **params)``."""
    names = ["*inputs"] if n is None else [name if name.isidentifier() else f"x{i}" for i, name in
                                           enumerate(diagnostics.input_names(prim, n))]  # (not 'operand 1')
    keywords = "".join(f", {key}=..." for key in params) or ", **params"
    first = {"vjp": "g", "jvp": "t", "jvp_all": "tangents"}.get(call, "g")
    return f"a function called as {call}({first}, out, {', '.join(names)}{keywords})"


def _rule_name(prim, rule, kind):
    """How messages name ``rule`` of ``prim``: its ``vjp_all``/``jvp_all``, or its VJP (JVP) for input i."""
    if rule is prim.vjp_all or rule is prim.jvp_all:
        return "vjp_all" if kind == "VJP" else "jvp_all"
    where = [str(i) for i, r in enumerate((prim.vjps if kind == "VJP" else prim.jvps) or ()) if r is rule]
    return f"{kind} for input{'s' * (len(where) > 1)} {' and '.join(where) or '?'}"


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
    if isinstance(value, np.ma.MaskedArray):  # (a copy: any view of it shares its mask, which stays writable)
        value = value.copy()
    elif type(value) is not np.ndarray or not value.flags.writeable:  # (not the tracer's comparison stand-in)
        return value
    view = value.view()
    view.flags.writeable = False
    return view
