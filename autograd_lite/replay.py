"""A replayed tape: record a function's graph once, then re-run it over preallocated buffers.

::

    step = ag.compile(cost_fn)          # or use @ag.compile as a decorator
    cost = step(X, Y)                   # like cost_fn(X, Y): a Tensor ...
    cost.backward()                     # ... whose backward() fills every leaf's .grad
    optimizer.step()
    with ag.no_grad():
        value = step(X_test, Y_test)    # forward only

The first call with given argument shapes and dtypes runs ``fn`` eagerly and
records every op it makes (a trace). From that trace it generates two
straight-line Python functions: a forward pass and a backward pass whose
NumPy calls write into buffers allocated once (``out=`` arguments, in-place
updates), skip work that is exact to skip (multiplying by a seed of 1.0),
and reduce broadcast gradients with axes worked out in advance. Later calls
with the same argument shapes and dtypes only run these functions. A call
with new shapes or dtypes records again (each signature keeps its own
trace, up to ``max_traces``); so does a call after a captured parameter
changed shape, dtype or ``requires_grad``.

The results are those of the eager engine, operation for operation: the
same NumPy calls in the same order, so values and gradients agree to the
last bit on the same machine (tests hold them to 1e-12).

What is replayed, and how arguments are seen:

- Positional and keyword arguments that are Tensors or arrays are inputs:
  ``fn`` receives them as Tensors (arrays as constants, ints converted to
  float64 as any op would), and every replay reads their current values.
- Other arguments (numbers, strings, Generators, dicts of parameters, ...)
  are static: part of the trace's key (by value when hashable, by identity
  otherwise) and fixed inside a trace.
- Tensors that ``fn`` reaches by closure or through static arguments (the
  model's parameters) are read by identity: each replay uses their current
  ``.data``, and the gradient goes to their ``.grad``.
- ``ag.dropout`` masks drawn inside ``fn`` (``mask=None``) are drawn afresh
  on every replay, from the same Generator (or the module's default one),
  in the same order, so replay and eager consume the same random stream.
  Anything else computed inside ``fn`` outside autograd_lite ops (plain
  NumPy on ``.data``, Python control flow on values) is frozen into the
  trace, as with any tracing compiler.

The returned Tensor is a copy (later replays do not change it). Its graph
is one node whose inputs are the leaves that require grad; ``backward()``
replays the backward pass for it. Any later call (under ``no_grad`` too)
reuses the buffers that backward needs, so an older result then refuses to
backward with a ``GraphError`` instead of giving wrong gradients: call
``backward()`` before calling the function again, as a training loop does.
Updating a parameter between the call and ``backward()`` is caught as in
eager mode. In anomaly mode, or inside ``ag.grad`` (higher-order
derivatives), the function runs eagerly instead. ``step.fn`` is the
original function; ``step.recordings`` counts the traces made so far.
"""
import builtins
import itertools
import re
from collections import OrderedDict

import numpy as np

from . import functional, ops, tape
from .errors import GraphError
from .primitive import Primitive
from .tensor import Tensor, as_tensor
from .transforms import _Nesting

__all__ = ["compile", "CompiledFunction"]


def compile(fn=None, *, max_traces=8):
    """Compile ``fn(*args, **kwargs) -> Tensor`` into a replayed tape.

    Args:
        fn: function of Tensors/arrays (and static values) returning one Tensor.
        max_traces: how many argument signatures to keep traces for (least
            recently used ones are dropped).
    Returns:
        a ``CompiledFunction``, called exactly like ``fn``; usable as ``@ag.compile``
        or ``@ag.compile(max_traces=...)``.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, max_traces)
    return CompiledFunction(fn, max_traces)


class CompiledFunction:
    """``fn`` with a replayed tape per argument signature (see the module docstring).

    Attributes:
        fn: the original function (``step.fn(*args)`` runs it eagerly).
        recordings: how many times ``fn`` was traced so far.
    """

    def __init__(self, fn, max_traces=8):
        if not callable(fn):
            raise TypeError(f"ag.compile: expected a function, got {type(fn).__name__}")
        if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 1:
            raise ValueError(f"ag.compile: max_traces must be an int >= 1, got {max_traces!r}")
        self.fn = fn
        self.max_traces = max_traces
        self.recordings = 0
        self._traces = OrderedDict()
        self.__name__ = getattr(fn, "__name__", "fn")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __repr__(self):
        return f"<compiled {self.__name__}: {len(self._traces)} trace(s), {self.recordings} recording(s)>"

    def __call__(self, *args, **kwargs):
        if tape._State.anomaly or _Nesting.depth:
            args, kwargs, _ = _tensor_inputs(args, kwargs)
            return self.fn(*args, **kwargs)
        key = _signature(args, kwargs)
        trace = self._traces.get(key)
        if trace is not None and trace.still_valid():
            self._traces.move_to_end(key)
            return trace.run(args, kwargs)
        return self._record(key, args, kwargs)

    def _record(self, key, args, kwargs):
        """Run ``fn`` eagerly while tracing; keep the trace; return the eager result."""
        traced_args, traced_kwargs, inputs = _tensor_inputs(args, kwargs)
        tracer = _Tracer()
        previous, tape._State.tracer = tape._State.tracer, tracer
        try:
            with tape.enable_grad():
                out = self.fn(*traced_args, **traced_kwargs)
        finally:
            tape._State.tracer = previous
        if not isinstance(out, Tensor):
            raise TypeError(f"ag.compile({self.__name__}): the function must return one Tensor, "
                            f"got {type(out).__name__}")
        self.recordings += 1
        trace = _Trace(self.__name__, tracer, inputs, out)
        trace.keep = [v for v in itertools.chain(args, kwargs.values())
                      if not isinstance(v, (Tensor, np.ndarray))]
        self._traces[key] = trace
        if len(self._traces) > self.max_traces:
            self._traces.popitem(last=False)
        if not tape._State.grad_enabled:  # as the caller asked: no graph
            return Tensor._wrap(out._data)
        return out


def _tensor_inputs(args, kwargs):
    """The arguments as ``fn`` sees them (arrays wrapped as constant Tensors), and the
    list of (position or keyword, Tensor) of those inputs."""
    inputs = []
    args, kwargs = list(args), dict(kwargs)
    for slot, value in itertools.chain(enumerate(args), kwargs.items()):
        if isinstance(value, (Tensor, np.ndarray)):
            t = value if isinstance(value, Tensor) else as_tensor(value)
            inputs.append((slot, t))
            if isinstance(slot, int):
                args[slot] = t
            else:
                kwargs[slot] = t
    return args, kwargs, inputs


class _Tracer(list):
    """The ops recorded while tracing, (prim, out, parents, params) in order, and the
    dropout outputs whose masks ``ag.dropout`` drew (out Tensor -> rng or None)."""

    def __init__(self):
        super().__init__()
        self.random_masks = {}
        self.comparisons = {}  # id(bool array) -> (array, ufunc, a, b) from Tensor comparisons


def _signature(args, kwargs):
    """Hashable key: shapes/dtypes of array arguments, values or identities of the others."""
    key = tuple([_describe_arg(a) for a in args])
    if kwargs:
        key += tuple((k, _describe_arg(v)) for k, v in sorted(kwargs.items()))
    return key


def _describe_arg(value):
    cls = type(value)
    if cls is np.ndarray:
        return ("A", value.shape, value.dtype)
    if cls is float or cls is int or cls is bool or value is None:
        return (cls, value)  # by type too: 1, 1.0 and True are equal keys otherwise
    if cls is dict or cls is list:
        return ("id", id(value))  # the trace keeps the object alive, so its id is not reused
    if isinstance(value, Tensor):
        return ("T", value._data.shape, value._data.dtype, value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("A", value.shape, value.dtype)
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (cls, value)


class _Trace:
    """One recorded signature: generated forward/backward functions and their buffers."""

    def __init__(self, name, tracer, inputs, out):
        self.name = name
        names = {}  # Tensor -> variable name in the generated code
        self.constants = {"np": np, "ndarray": np.ndarray, "unbroadcast": tape.unbroadcast,
                          "GraphError": GraphError, "functional": functional}
        self.keep = []  # static objects whose identity keys this trace
        self.input_slots = []
        for i, (slot, t) in enumerate(inputs):
            names[t] = f"x{i}"
            self.input_slots.append((slot, t._data.dtype))
        # An op parameter that is an input's array (e.g. a dropout mask passed as an
        # argument) is read from that input on every replay, not frozen.
        self.input_arrays = {id(t._data): f"x{i}" for i, (_, t) in enumerate(inputs)}
        produced = {op[1] for op in tracer}
        self.comparisons, self.names = tracer.comparisons, names
        self.captured = []  # Tensors read by identity
        forward = []
        for k, (prim, t, parents, params) in enumerate(tracer):
            for p in parents:
                if p not in names:
                    self._capture(p, names, forward)
            names[t] = f"v{k}"
            _append_merging_errstate(forward, _forward_code(self, k, prim, t, parents, params, names,
                                                            tracer.random_masks.get(t, False)))
        if out not in names:
            self._capture(out, names, forward)
        self.out_name = names[out]
        # The graph: leaves (outside fn, or inputs) that require grad, and the nodes inside fn.
        nodes = [t for t in tape.topological_order(out) if t in produced and t._prim is not None]
        self.leaves = [t for t in tape.topological_order(out) if t.requires_grad and t not in produced]
        self.leaf_sources = []
        input_slot = {t: slot for slot, t in inputs}
        for leaf in self.leaves:
            origin = ("input", input_slot[leaf]) if leaf in input_slot else ("captured", leaf)
            self.leaf_sources.append(origin)
        self.input_leaves = any(kind == "input" for kind, _ in self.leaf_sources)
        self.captured_leaves = tuple(ref for _, ref in self.leaf_sources)
        self.last_out = None
        self.leaf_signature = [(t, t._data.shape, t._data.dtype, t.requires_grad) for t in self.captured]
        # One generated factory: the forward pass keeps its values in closure cells
        # that the two backward passes (unit seed or any seed) read.
        values = sorted({n for n in names.values() if isinstance(n, str) and n[0] in "xvc"})
        parameters = [f"a{i}" for i in range(len(inputs))]
        forward = [f"x{i} = a{i}" for i in range(len(inputs))] + forward + [f"return {self.out_name}"]
        functions = [(f"forward({', '.join(parameters)})", forward),
                     ("backward_unit(g)", self._backward_code(out, nodes, names, unit_seed=True)),
                     ("backward_any(g)", self._backward_code(out, nodes, names, unit_seed=False))]
        source = ["def factory():", f"    {' = '.join(values + ['None'])}"]
        for header, lines in functions:
            source.append(f"    def {header}:")
            source.append(f"        nonlocal {', '.join(values)}" if values else "        pass")
            source += ["        " + line for line in lines]
        source.append("    return forward, backward_unit, backward_any")
        self.source = "\n".join(source) + "\n"
        self.forward, self.backward_unit, self.backward_any = self._define(self.source, "factory")()
        self.node_prim = Primitive(lambda *leaves: self.last_out, name=f"compiled {name}")
        self.node_prim.vjps = _leaf_vjps(self)  # when the result feeds further eager ops
        self.node_prim.vjp_all = lambda g, out, *leaves: self.gradients(g, out)  # when it is the root
        self.pending = None  # (call number, seed, gradient list) of the last backward

    def _capture(self, t, names, forward):
        i = len(self.captured)
        self.captured.append(t)
        self.constants[f"C{i}"] = t
        names[t] = f"c{i}"
        forward.append(f"c{i} = C{i}._data")

    def _define(self, source, name):
        # NumPy functions as names of their own: one lookup instead of two per call.
        used = sorted(set(re.findall(r"\bnp\.(\w+)(?=[.(])", source)))
        for attr in used:
            self.constants[f"np_{attr}"] = getattr(np, attr)
        source = re.sub(r"\bnp\.(\w+)(?=[.(])", r"np_\1", source)
        namespace = dict(self.constants)
        exec(builtins.compile(source, f"<ag.compile {self.name}: {name}>", "exec"), namespace)
        return namespace[name]

    def constant(self, value, prefix="K"):
        """Name under which ``value`` is visible in the generated code."""
        name = f"{prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

    def param(self, value):
        """An op parameter in the generated code: the input it comes from, the comparison of
        traced values that made it (recomputed on every replay), or else a constant."""
        made = self.comparisons.get(id(value))
        if made is not None and made[0] is value:
            _, ufunc, a, b = made
            operands = [self.names.get(x) if isinstance(x, Tensor) else self.constant(x) for x in (a, b)]
            if None not in operands:
                return f"np.{ufunc.__name__}({operands[0]}, {operands[1]})"
        return self.input_arrays.get(id(value)) or self.constant(value)

    def buffer(self, shape, dtype):
        return self.constant(np.empty(shape, dtype), "B")

    def still_valid(self):
        for t, shape, dtype, requires_grad in self.leaf_signature:
            d = t._data
            if (d.shape != shape or (d.dtype is not dtype and d.dtype != dtype)
                    or t.requires_grad != requires_grad):
                return False
        return True

    def run(self, args, kwargs):
        arrays = []
        for slot, dtype in self.input_slots:
            value = args[slot] if type(slot) is int else kwargs[slot]
            data = value._data if isinstance(value, Tensor) else value
            arrays.append(data if data.dtype is dtype or data.dtype == dtype else data.astype(dtype))
        # The result is copied, so later calls leave it alone; its identity marks this call.
        result = self.last_out = np.array(self.forward(*arrays))
        if self.input_leaves:
            leaves = tuple((args[ref] if type(ref) is int else kwargs[ref]) if kind == "input" else ref
                           for kind, ref in self.leaf_sources)
        else:
            leaves = self.captured_leaves
        return self.node_prim(*leaves)  # records the node; its forward hands back `result`

    # --- backward -----------------------------------------------------------------------------
    def _backward_code(self, out, nodes, names, unit_seed):
        """Lines of ``backward(g)``, returning the leaves' gradients (None where no path)."""
        code = []
        # Tensor -> (variable, exactly the unit seed?, may be None at run time?)
        grad = {out: ("g", unit_seed, False)}
        contributions = {}  # Tensor -> list of such triples, in the order eager backward adds them
        # A leaf reached by one edge gets that VJP's result as a new array (adopted as .grad
        # without a copy); a leaf reached by several sums buffered parts into a new array.
        edges = {}
        for t in nodes:
            for p in t._parents:
                if p.requires_grad:
                    edges[p] = edges.get(p, 0) + 1
        single_leaves = {leaf for leaf in self.leaves if edges.get(leaf) == 1}
        counter = itertools.count()
        for t in sorted(nodes, key=lambda n: n._seq):  # newest first
            if t in contributions:
                grad[t] = self._accumulate(contributions.pop(t), code, fresh=False, shape=t._data.shape,
                                           dtype=t._data.dtype)
            if t not in grad:
                continue
            g, unit, maybe = grad[t]
            block = []
            made_here = []
            for i, p in enumerate(t._parents):
                if not p.requires_grad:
                    continue
                if t._prim.vjps[i] is None:
                    message = (f"{tape.describe(t)} is not differentiable with respect to input {i} "
                               f"(shape {p.shape}), which requires grad")
                    code.insert(0, f"raise GraphError({message!r})")
                    continue
                v = f"d{next(counter)}"
                made = _vjp_code(self, t, i, p, g, unit, v, names, fresh=p in single_leaves and not maybe)
                if made is None:
                    continue
                lines, v_unit, v_maybe = made
                block += lines
                made_here.append(v)
                contributions.setdefault(p, []).append((v, v_unit, v_maybe or maybe))
            if maybe:  # g is None at run time when no gradient reached t: skip its VJPs
                code += [f"{v} = None" for v in made_here] + [f"if {g} is not None:"]
                code += ["    " + line for line in block]
            else:
                code += block
        results = []
        for leaf in self.leaves:
            if leaf in contributions:
                results.append(self._accumulate(contributions.pop(leaf), code, fresh=True,
                                                shape=leaf._data.shape, dtype=leaf._data.dtype)[0])
            else:
                results.append("None")
        return code + [f"return [{', '.join(results)}]"]

    def _accumulate(self, contributions, code, fresh, shape, dtype):
        """Sum the contributions in order into one (variable, unit, maybe) triple: into a
        buffer, or a new array when ``fresh``; with None-aware adds if any may be None."""
        if len(contributions) == 1:
            return contributions[0]
        names = [c[0] for c in contributions]
        total = f"s_{names[0]}"
        if any(c[2] for c in contributions):
            code.append(f"{total} = {names[0]}")
            for v in names[1:]:
                code.append(f"{total} = {v} if {total} is None else "
                            f"{total} if {v} is None else {total} + {v}")
            return total, False, True
        target = "" if fresh else f", out={self.buffer(shape, dtype)}"
        code.append(f"{total} = np.add({names[0]}, {names[1]}{target})")
        for v in names[2:]:
            code.append(f"np.add({total}, {v}, out={total})")
        return total, False, False

    def gradients(self, g, out):
        """The leaves' gradients for seed ``g`` of the call that returned ``out``."""
        if isinstance(g, Tensor):
            raise GraphError(f"compiled {self.name}: higher-order gradients (create_graph) go through the "
                             "eager function; call it inside ag.grad, or use step.fn")
        if out is not self.last_out:
            raise GraphError(f"backward through compiled {self.name}: the function has been called again "
                             "since this result was computed, and that call reused the buffers its backward "
                             "needs; call backward() before calling the function again")
        unit = g.size == 1 and g.item() == 1.0
        return (self.backward_unit if unit else self.backward_any)(g)


def _leaf_vjps(trace):
    """The compiled node's VJPs: input i's VJP returns leaf i's gradient. The first one
    asked for in a backward runs the whole replayed backward; the others read its result."""
    def vjp_of(i):
        def vjp(g, out, *leaves):
            pending = trace.pending
            if pending is None or pending[0] is not out or pending[1] is not g or pending[2][i] is _TAKEN:
                pending = trace.pending = (out, g, trace.gradients(g, out))
            grads = pending[2]
            gi, grads[i] = grads[i], _TAKEN  # handed over: nothing here keeps it, so .grad adopts it
            return gi
        return vjp
    return tuple(vjp_of(i) for i in range(len(trace.leaves)))


_TAKEN = object()


# --- code generation per primitive ----------------------------------------------------------
def _forward_code(trace, k, prim, t, parents, params, names, drawn_rng):
    """Lines computing op ``k``'s output into ``v{k}`` exactly as ``prim.forward`` does."""
    v, shape, dtype = f"v{k}", t._data.shape, t._data.dtype
    x = [names[p] for p in parents]
    arrays = [p._data for p in parents]
    same = all(type(a) is np.ndarray for a in arrays)
    if prim in _UFUNC_OPS and same and not params:
        return [f"{v} = np.{prim.forward.__name__}({', '.join(x)}, out={trace.buffer(shape, dtype)})"]
    if prim is ops.matmul and not params and all(a.ndim == 2 and a.dtype == dtype for a in arrays):
        return [f"{v} = np.dot({x[0]}, {x[1]}, out={trace.buffer(shape, dtype)})"]
    if prim is ops._linear and all(a.ndim == 2 and a.dtype == dtype for a in arrays[:2]) and \
            arrays[2].dtype == dtype:
        return [f"{v} = np.dot({x[0]}, {x[1]}, out={trace.buffer(shape, dtype)})", f"np.add({v}, {x[2]}, out={v})"]
    if prim is ops.relu and not params:
        return [f"{v} = np.maximum(0, {x[0]}, out={trace.buffer(shape, dtype)})"]
    if prim is ops.sigmoid and not params:
        b = trace.buffer(shape, dtype)
        return ["with np.errstate(over='ignore'):",
                f"    {v} = np.negative({x[0]}, out={b})", f"    np.exp({v}, out={v})",
                f"    np.add(1, {v}, out={v})", f"    np.divide(1, {v}, out={v})"]
    if prim is functional._dropout and drawn_rng is not False:
        mask = trace.buffer(shape, bool)
        names[("mask", t)] = mask
        draws = trace.buffer(shape, np.float64)
        rng = "functional._default_rng" if drawn_rng is None else trace.constant(drawn_rng, "R")
        keep = params["keep_prob"]
        return [f"{rng}.random(out={draws})", f"np.less({draws}, {keep!r}, out={mask})",
                f"{v} = np.multiply({x[0]}, {mask}, out={trace.buffer(shape, dtype)})",
                f"np.divide({v}, {keep!r}, out={v})"]
    if prim is functional._bce and same and len({a.dtype for a in arrays}) == 1 and arrays[0].ndim:
        # As functional._bce: -(1/m) sum(log of each true label's probability), floored.
        a = arrays[0]
        probability = f"{v}p"
        lines = [f"{probability} = np.where({x[1]}, {x[0]}, np.subtract(1, {x[0]}, out={trace.buffer(a.shape, a.dtype)}))"]
        if a.dtype == np.float64:
            lines.append(f"np.log(np.maximum({probability}, {functional._PROBABILITY_FLOOR!r}, out={probability}), "
                         f"out={probability})")
        else:
            lines += ["with np.errstate(divide='ignore'):",
                      f"    np.maximum(np.log({probability}, out={probability}), {functional._LOG_FLOOR!r}, "
                      f"out={probability})"]
        return lines + [f"{v} = np.asarray({-(1.0 / a.shape[-1])!r} * np.add.reduce({probability}, axis=None))"]
    if prim is functional._l2_penalty and same:
        lambd, m = params["lambd"], params["m"]
        total = "0"
        for name, a in zip(x, arrays):
            square = f"np.square({name}, out={trace.buffer(a.shape, a.dtype)})"
            total = f"({total} + np.add.reduce({square}, axis=None))"
        return [f"{v} = np.asarray({1.0 / m * lambd / 2!r} * {total})"]
    # Any other op: its own forward, as eager calls it.
    call_params = ", ".join(f"{name}={trace.param(value)}" for name, value in params.items())
    f = trace.constant(prim.forward, "F")
    return [f"{v} = {f}({', '.join(x + ([call_params] if call_params else []))})",
            f"if type({v}) is not ndarray: {v} = np.asarray({v})"]


def _append_merging_errstate(lines, new):
    """``lines += new``, but when ``lines`` ends inside a ``with np.errstate(...)`` block and
    ``new`` opens one, the two blocks become one (entering errstate costs about a microsecond)."""
    header = next((i for i in range(len(lines) - 1, -1, -1) if not lines[i].startswith(" ")), None)
    if (header is not None and header < len(lines) - 1 and lines[header].startswith("with np.errstate(")
            and new and new[0].startswith("with np.errstate(")):
        kinds = sorted(set(re.findall(r"(\w+)='ignore'", lines[header] + new[0])))
        lines[header] = f"with np.errstate({', '.join(f'{k}={chr(39)}ignore{chr(39)}' for k in kinds)}):"
        new = new[1:]
    lines += new


_UFUNC_OPS = {ops.add, ops.subtract, ops.multiply, ops.divide, ops.negative, ops.exp, ops.log, ops.sqrt,
              ops.square, ops.tanh}


def _out(trace, fresh, shape, dtype):
    return "" if fresh else f", out={trace.buffer(shape, dtype)}"


def _vjp_code(trace, t, i, p, g, unit, v, names, fresh):
    """Lines setting ``v`` to the gradient reaching input ``i`` (Tensor ``p``) of node ``t``,
    reduced to p's shape; None when this edge carries no gradient. ``fresh``: the result
    is a leaf's gradient and must be a new array (it becomes ``.grad`` without a copy)."""
    prim, params, parents = t._prim, t._params, t._parents
    x = [names[q] for q in parents]
    out = names[t]
    shape, pshape, dtype = t._data.shape, p._data.shape, p._data.dtype
    arrays = [q._data for q in parents]
    simple = all(type(a) is np.ndarray for a in arrays) and t._data.dtype == dtype
    lines = None
    passes_seed = False
    if simple and prim is ops.add:
        lines, passes_seed = [f"{v} = {g}"], True
    elif simple and prim is ops.subtract:
        passes_seed = i == 0
        lines = [f"{v} = {g}"] if i == 0 else [f"{v} = np.negative({g}{_out(trace, fresh, shape, dtype)})"]
    elif simple and prim is ops.multiply:
        lines = [f"{v} = np.multiply({g}, {x[1 - i]}{_out(trace, fresh, shape, dtype)})"]
    elif simple and prim is ops.matmul and all(a.ndim == 2 and a.dtype == dtype for a in arrays):
        if i == 0:
            lines = [f"{v} = np.dot({g}, {x[1]}.T{_out(trace, fresh, pshape, dtype)})"]
        else:
            lines = [f"{v} = np.dot({x[0]}.T, {g}{_out(trace, fresh, pshape, dtype)})"]
    elif simple and prim is ops._linear and all(a.ndim == 2 and a.dtype == dtype for a in arrays):
        if i == 0:
            lines = [f"{v} = np.dot({g}, {x[1]}.T{_out(trace, fresh, pshape, dtype)})"]
        elif i == 1:
            lines = [f"{v} = np.dot({x[0]}.T, {g}{_out(trace, fresh, pshape, dtype)})"]
        else:
            lines, passes_seed = [f"{v} = {g}"], True
    elif simple and prim is ops.relu:
        positive = trace.buffer(arrays[0].shape, bool)
        lines = [f"np.greater({x[0]}, 0, out={positive})",
                 f"{v} = np.multiply({g}, {positive}{_out(trace, fresh, shape, dtype)})"]
    elif simple and prim is ops.sigmoid:
        one_minus = trace.buffer(shape, dtype)
        lines = [f"{v} = np.multiply({g}, {out}{_out(trace, fresh, shape, dtype)})",
                 f"np.subtract(1, {out}, out={one_minus})", f"np.multiply({v}, {one_minus}, out={v})"]
    elif simple and prim is functional._dropout and i == 0:
        mask = names.get(("mask", t)) or trace.param(params["mask"])
        keep = params["keep_prob"]
        lines = [f"{v} = np.multiply({g}, {mask}{_out(trace, fresh, shape, dtype)})",
                 f"np.divide({v}, {keep!r}, out={v})"]
    elif simple and prim is functional._bce and len(parents) == 3:
        if i == 0:
            return None  # the gradient goes to the logits (see binary_cross_entropy)
        a, y = arrays[0], arrays[1]
        m = a.shape[-1] if a.ndim else 1
        lines = [f"{v} = np.subtract({x[0]}, {x[1]}{_out(trace, fresh, a.shape, dtype)})"]
        if not unit:
            lines.append(f"np.multiply({g}, {v}, out={v})")
        lines.append(f"np.divide({v}, {m!r}, out={v})")
    elif simple and prim is functional._l2_penalty:
        scale = params["lambd"] / params["m"]
        factor = repr(scale) if unit else f"{g} * {scale!r}"
        lines = [f"{v} = np.multiply({factor}, {x[i]}{_out(trace, fresh, pshape, dtype)})"]
    if lines is not None:
        reduced = prim in (ops.matmul, functional._l2_penalty, functional._bce) or prim is ops._linear and i < 2
        result_shape = pshape if reduced else shape
        if result_shape != pshape:
            lines += _unbroadcast_lines(v, result_shape, pshape)
            passes_seed = False
        return lines, unit and passes_seed, False
    # Any other VJP: called as eager backward calls it, reduced at run time; it may return None.
    vjp = trace.constant(prim.vjps[i], "J")
    call_params = "".join(f", {name}={trace.param(value)}" for name, value in params.items())
    return [f"{v} = {vjp}({g}, {out}, {', '.join(x)}{call_params})",
            f"if {v} is not None:",
            f"    if type({v}) is not ndarray: {v} = np.asarray({v})",
            f"    if {v}.shape != {pshape!r}: {v} = unbroadcast({v}, {pshape!r})"], False, True


def _unbroadcast_lines(v, shape, target):
    """``tape.unbroadcast`` with its axes worked out now."""
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
    lines = [f"{v} = np.add.reduce({v}, axis={axes!r}, keepdims=True)"] if axes else []
    if lead:
        lines.append(f"{v} = {v}.reshape({target!r})")
    return lines
