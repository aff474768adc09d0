"""The source ``ag.compile`` replays (see ``replay.py``): a trace's steps as two straight-line
Python functions, each step calling its primitive's own forward and VJPs, with the shape and
dtype checks a replay needs and the engine's one gradient check (``conform``).
"""
import collections
import functools
import keyword
import re

import numpy as np

from .compile_key import ENGINE_FIELDS, tensor_fields
from .conform import ForGradOnly, conform, gradient_list
from .custom import run_forward
from .convert import forward_output
from .primitive import Primitive
from .tensor import Tensor, as_tensor
from .tracer import ScalarSlot, Slot


class Retrace(Exception):
    """A guard, shape or dtype of this call differs from the trace's."""


def same_bits(value, expected):
    """A guard's check: ``value`` is the array ``expected`` bit for bit (so -0.0 is not 0.0, which
    np.signbit and 1 / x tell apart; a NaN is the same NaN), compared through unsigned-integer
    views of the same width: no copy of either, which matters for a large array the key holds."""
    value = np.asarray(value)
    if value.dtype != expected.dtype or value.shape != expected.shape:
        return False
    if value.dtype.hasobject or value.dtype.itemsize not in (1, 2, 4, 8):
        return value.tobytes() == expected.tobytes()
    bits = f"u{value.dtype.itemsize}"
    return np.array_equal(value.view(bits), expected.view(bits))


def _node(array, requires_grad):
    """A Tensor around a replay's ``array``, for a primitive's own ``input_grads`` (what it reads of its
    output and of its inputs that are not the trace's sources)."""
    t = Tensor._wrap(array)
    t._requires_grad = requires_grad
    return t


# A step's results of these types are used as they are (NumPy scalars too) when their shape and dtype
# are the traced ones; others are made what eager code has (a primitive's: its Tensor's float array)
_SHAPED = frozenset([np.ndarray, *[t for t in np.sctypeDict.values() if issubclass(t, np.generic)]])
RUNTIME = {"shaped": _SHAPED, "float_output": forward_output, "generic": np.generic, "asarray": np.asarray,
           "as_tensor": as_tensor, "Retrace": Retrace, "same_bits": same_bits, "conform": conform,
           "gradient_list": gradient_list, "ForGradOnly": ForGradOnly, "node": _node,
           "engine_fields": ENGINE_FIELDS, "tensor_fields": tensor_fields}


def generate(trace, traced):
    """The trace as Python source of two straight-line functions, and the names it uses.
    ``forward(args, kwargs, drawn)`` reads the sources, calls each primitive's own forward and checks the
    shape and dtype it gave when traced; it returns (result, source Tensors, the values the
    backward needs). ``backward(g, sources, *saved)`` calls each primitive's own VJPs in reverse, with
    the engine's gradient check, and returns the sources' gradients. Slot 3's value is the local
    ``s3`` (``k3`` if a constant), its gradient ``g3``; ``traced[3]`` its value when traced."""
    constant = {slot for slot, _ in trace.constants}
    names = {f"k{slot}": value for slot, value in trace.constants}
    name = lambda r: f"k{r}" if r in constant else f"s{r}"
    # A primitive of your own gets a copy of each constant (a forward writing into one would change
    # what every later replay reads; eager code makes it anew on each call)
    copied = lambda r: f"k{r}.copy()" if r in constant else f"s{r}"
    calls = []  # per step: its op's name, arguments as source (all, positional, keywords), slots read
    for k, (prim, refs, params, out, shape, dtype) in enumerate(trace.steps):
        op, used = f"op{k}_" + re.sub(r"\W", "_", prim.name), set(refs)  # an identifier for any name
        own = not getattr(prim, "builtin", True)  # (yours: custom.run_forward's checks)
        names.update({op: prim, f"{op}_fn": prim.forward, f"dtype{out}": dtype,
                      f"{op}_forward": functools.partial(run_forward, prim) if own else prim.forward})
        listed = ", ".join(map(copied if own else name, refs))
        kw = ", ".join(_keyword(key, _expr(v, f"{op}_param{j}", name, names, used, own))
                       for j, (key, v) in enumerate(params.items()))
        calls.append((op, ", ".join(filter(None, (listed, kw))), listed, kw, used - constant))
    backward, saved, extra = _backward_source(trace, calls, traced, names, name)
    return "\n".join(_forward_source(trace, calls, names, saved, name, extra) + [""] + backward + [""]), names


def _forward_source(trace, calls, names, saved, name, extra):
    """The lines of ``forward`` (see ``_generate``); ``saved``: the values it returns, as source;
    ``extra``: the sources given again after them (see ``_backward_source``)."""
    lines = ["def forward(args, kwargs, drawn):"]  # (drawn: the steps that drew random numbers, in order)
    first = {}  # each primitive's rules, bound when traced: a replay only while they are its rules still
    for (op, *_), (prim, *_) in zip(calls, trace.steps):
        if isinstance(prim, Primitive) and id(prim) not in first:
            first[id(prim)], names[f"{op}_vjps"] = op, prim.vjps
            lines += [f"    if {op}.forward is not {op}_fn or {op}.vjps is not {op}_vjps:", "        raise Retrace"]
    for slot, at in zip(trace.inputs, trace.where):
        given = f"args[{at}]" if type(at) is int else f"kwargs[{at!r}]"
        lines += [f"    t{slot} = as_tensor({given})", f"    s{slot} = t{slot}._array"]
    for earlier, later in trace.aliases:  # traced as one Tensor: replayed only while they are
        lines += [f"    if t{later} is not t{earlier}:", "        raise Retrace"]
    for slot, t in trace.pinned.items():
        names[f"pinned{slot}"] = t
        lines += [f"    if t{slot} is not pinned{slot}:", "        raise Retrace"]
    for slot, t, shape, dtype, requires_grad in trace.captured:  # read by identity, as traced (or re-traced)
        names[f"t{slot}"], names[f"dtype{slot}"] = t, dtype
        held = f"t{slot}.requires_grad != {bool(requires_grad)}"
        lines += [f"    s{slot} = t{slot}._array", f"    if {_differs(f's{slot}', slot, shape)} or {held}:",
                  "        raise Retrace"]
    for k, (t, label, fields) in enumerate(trace.labelled):  # (held by identity: code may branch on their
        names[f"labelled{k}"], names[f"fields{k}"] = t, fields  # names and attributes; the name is in __dict__)
        changed = f"tensor_fields(labelled{k}) != fields{k}" if fields else \
            f"not engine_fields.issuperset(held) and tensor_fields(labelled{k})"  # (no call for a tensor
                                                                                  # with the engine's fields alone)
        lines += [f"    if (held := labelled{k}.__dict__).get('name') != {label!r} or {changed}:", "        raise Retrace"]
    for k, (array, copy) in enumerate(trace.watched):  # (read by plain NumPy, perhaps: by value)
        names[f"watched{k}"], names[f"copy{k}"] = array, copy
        lines += [f"    if not same_bits(watched{k}, copy{k}):", "        raise Retrace"]
    for k, (slot, read, value) in enumerate(trace.facts):
        names[f"fact{k}"] = read
        lines += [f"    if fact{k}(t{slot}) is not {value}:", "        raise Retrace"]
    names.update({f"guards{slot}": expected for slot, expected in trace.guards.items()})
    guard = lambda slot: [f"    if not all(same_bits(s{slot}, e) for e in guards{slot}):",
                          "        raise Retrace"] if slot in trace.guards else []
    lines += [line for slot in trace.source_slots for line in guard(slot)]
    for k, ((op, args, listed, _, _), (prim, _, _, out, shape, _)) in enumerate(zip(calls, trace.steps)):
        differs = _differs(f"s{out}", out, shape)  # (made what eager code has of it, then checked again)
        made = (f"float_output(s{out}, {op}, [{listed}])" if isinstance(prim, Primitive)  # (its Tensor's)
                else f"s{out} if isinstance(s{out}, generic) else asarray(s{out})")  # (NumPy on a comparison)
        drawn = [f"    drawn.append({k})"] if getattr(prim, "draws", False) else []  # (dropout's masks)
        lines += [f"    s{out} = {op}_forward({args})", *drawn]
        lines += [f"    if type(s{out}) not in shaped or {differs}:",
                  f"        s{out} = {made}", f"        if {differs}:", "            raise Retrace"]
        lines += guard(out)
    sources = "".join(f"t{slot}, " for slot in [*trace.source_slots, *extra])
    return lines + [f"    return {name(trace.out_slot)}, ({sources}), ({saved})"]


def _backward_source(trace, calls, traced, names, name):
    """The lines of ``backward`` (see ``_generate``), the values it takes, as source, and the extra
    sources: only steps a gradient can reach get a block; a slot's later gradients are added to the
    first (any may be None: a VJP may return None). A step of a primitive with its own
    ``input_grads`` (cross-entropy's) that reads a source goes through it, as the backward walk does
    (``_own_grads``)."""
    reached, blocks, saved, extra, sources = {trace.out_slot}, [], set(), [], trace.source_slots
    counts = _gradient_counts(trace)
    for k, ((op, args, listed, kw, used), (prim, refs, _, out, _, _)) in reversed(list(enumerate(zip(calls, trace.steps)))):
        if out not in reached or out not in trace.differentiable:
            continue
        saved |= used | {out}
        wanted = tuple(r in trace.differentiable for r in refs)
        # The eager path, apply_vjps, for what it checks: a missing VJP, a vjp_all's count of gradients,
        # a rule of yours on read-only g, out and inputs (custom.run_rule); the engine's own VJPs directly
        own = type(prim).input_grads is not Primitive.input_grads and any(  # (a source's gradient it may
            w and r in sources for r, w in zip(refs, wanted))               # give for its .grad alone)
        all_at_once = own or prim.vjp_all is not None or not prim.builtin or any(
            w and (i >= len(prim.vjps) or prim.vjps[i] is None) for i, w in enumerate(wanted))
        blocks.append(f"    if g{out} is not None:")
        if own:
            parents = ", ".join(f"sources[{sources.index(r)}]" if r in sources else
                                f"node({name(r)}, {r in trace.differentiable})" for r in refs)
            blocks.append(f"        gs = {op}.input_grads(g{out}, node(s{out}, True), [{parents}], dict({kw}), False)")
        elif all_at_once and prim.builtin and prim.vjp_all is not None:  # (apply_vjps' own path, less its call)
            blocks.append(f"        gs = gradient_list({op}.vjp_all(g{out}, s{out}, {args}), {op}, {len(refs)})")
        elif all_at_once:
            blocks.append(f"        gs = {op}.apply_vjps(g{out}, s{out}, [{listed}], dict({kw}), {wanted})")
        names.update({f"{op}_vjp{i}": vjp for i, vjp in enumerate(prim.vjps)})
        for i, r in ((i, r) for i, r in enumerate(refs) if wanted[i]):
            names[f"dtype{r}"] = traced[r].dtype
            x = "gi" if r in reached else f"g{r}"  # the first gradient is stored as it is
            gi = f"gs[{i}]" if all_at_once else f"{op}_vjp{i}(g{out}, s{out}, {args})"
            check = f"type({x}) not in shaped or {_differs(x, r, traced[r].shape)}"
            blocks.append(f"        {x} = {gi}")
            if own:
                blocks += _own_grads(x, r in sources and (f"e{k}_{i}" if counts[r] > 1 else x))
                extra += [(f"e{k}_{i}", r)] if r in sources and counts[r] > 1 else []
            blocks += [f"        {'elif' if own else 'if'} {x} is not None and ({check}):",
                       f"            {x} = conform({x}, s{r}, {op}, {i}, s{out}.ndim)"]
            if r in reached:
                blocks += ["        if gi is not None:",
                           f"            g{r} = gi if g{r} is None else g{r} + gi"]
            reached.add(r)
    saved = "".join(f"s{r}, " for r in sorted(saved))
    result = "".join([*(f"g{slot}, " if slot in reached else "None, " for slot in sources), *(f"{e}, " for e, _ in extra)])
    inits = [f"    g{r} = None" for r in sorted(reached - {trace.out_slot})] + [f"    {e} = None" for e, _ in extra]
    return ([f"def backward(g{trace.out_slot}, sources, {saved}):", *inits, *blocks, f"    return [{result}]"],
            saved, [r for _, r in extra])


def _own_grads(x, kept):
    """The lines taking ``x``, a gradient a primitive's own ``input_grads`` gave, when it is for an
    input's ``.grad`` alone (a ``ForGradOnly``: a retained sigmoid output's dJ/da, which the walk adds to
    its ``.grad`` and sends no further). ``kept``: where it goes. A source's gradient itself (``x``)
    when it gets no other: the backward walk does the rest. An extra gradient (``e3_0``) when it gets
    others too: that source is given again after the sources, an extra input of the replayed node,
    with it as its gradient, so the walk adds both to its ``.grad`` in eager code's order. Nowhere
    (False) for a value inside the trace: none has a ``.grad`` to fill (a retained one runs eagerly)."""
    kept = "pass" if kept == x else f"{kept}, {x} = {x}, None" if kept else f"{x} = None"
    return [f"        if type({x}) is ForGradOnly:", f"            {kept}"]


def _gradient_counts(trace):
    """How many gradients ``backward`` gives each slot (one per input of each step it reaches)."""
    reached, counts = {trace.out_slot}, collections.Counter()
    for _, refs, _, out, _, _ in reversed(trace.steps):
        if out in reached and out in trace.differentiable:
            wanted = [r for r in refs if r in trace.differentiable]
            counts.update(wanted)
            reached.update(wanted)
    return counts


def _differs(x, slot, shape):
    """Source testing that ``x``'s shape or dtype is not slot's when traced (``dtype3`` is bound)."""
    return f"{x}.shape != {shape!r} or {x}.dtype is not dtype{slot} and {x}.dtype != dtype{slot}"


def _keyword(key, source):
    """``key=source`` in a call, or ``**{'lambda': source}`` for a name Python cannot take there."""
    plain = key.isidentifier() and not keyword.iskeyword(key)
    return f"{key}={source}" if plain else f"**{{{key!r}: {source}}}"


def _expr(value, label, name, names, used, copy=False):
    """Source of a step's parameter: a traced value (``Slot``) by its variable (noted in
    ``used``; a ``ScalarSlot``'s as the NumPy scalar eager code passes), a tuple holding one as a
    tuple of sources, anything else bound as ``label`` (an array copied on each call if ``copy``)."""
    if isinstance(value, Slot):
        used.add(value)
        return f"{name(value)}[()]" if type(value) is ScalarSlot else name(value)
    if type(value) is tuple and _has_slot(value):
        parts = [_expr(v, f"{label}_{j}", name, names, used, copy) for j, v in enumerate(value)]
        return "(" + "".join(f"{part}, " for part in parts) + ")"
    names[label] = value
    return f"{label}.copy()" if copy and isinstance(value, np.ndarray) else label


def _has_slot(value):
    return isinstance(value, Slot) or type(value) is tuple and any(_has_slot(v) for v in value)
