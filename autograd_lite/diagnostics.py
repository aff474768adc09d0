"""Error messages that name the op, the shapes and the user's line, and the checks that raise
them (shared by the engine)."""
import ast
import inspect
import operator
import re
import sys
import warnings

import numpy as np

from .convert import flag, plain_array
from .errors import AnomalyError, GraphError, InplaceModificationError, ShapeError
from .modes import current, grad_lock, note_grad_write


def user_site():
    """'file:line' of the innermost caller outside this package (for error messages)."""
    package_dir = __file__.rsplit("/", 1)[0]
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back
    return "<unknown>" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def describe(t, prim=None, parents=None):
    """Short description of a graph node for error messages."""
    prim, parents = prim or t._prim, parents or t._parents
    what = (f"op '{prim.name}'" if prim is not None else "leaf") + (f" named '{t.name}'" if t.name else "")
    shapes = " from inputs of shape " + ", ".join(str(p.shape) for p in parents) if parents else ""
    return f"{what} (output shape {t.shape}{shapes}{f', created at {t._site}' if t._site else ''})"


def raise_if_not_finite(array, stage, t, prim=None, parents=None):
    """Anomaly mode's check: raise ``AnomalyError`` if ``array`` holds NaN or inf."""
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise AnomalyError(f"{stage} of {describe(t, prim, parents)} produced {bad}")


def explain_failure(prim, parents, error, params=None):
    """The error to raise for a forward that NumPy refused: a ShapeError for a ValueError (an axis
    out of range too), a TypeError for an axis that is no int; None for an error that already
    names an op ("dropout: ...") or has a type of its own (ShapeError, DomainError), or another
    TypeError or IndexError (a bug in a custom forward keeps its traceback): it passes as it is. A
    forward of yours gets a ShapeError only for NumPy's refusal of its shapes (``_shape_refusal``),
    raised from it, so the traceback into your code is kept; any other ValueError of its own (a
    value it refuses: math.sqrt's "math domain error") passes as it is."""
    tracer = current().tracer
    if tracer is not None:  # should the function catch it and go on, a replay would not raise it
        tracer.refusals.append(f"catches an error of op '{prim.name}' ({error}) while it runs: a replay "
                               "would take the other path; check the values before the op instead")
    if _NAMES_AN_OP.match(str(error)):
        return None
    shapes = [p.shape for p in parents]
    listed = " and ".join(str(shape) for shape in shapes)
    if isinstance(error, (TypeError, OverflowError)):  # (a parameter NumPy cannot take: keepdims=None)
        failure = _axis_failure(prim, shapes, params or {}, error) if type(error) is TypeError else None
        if failure is None and getattr(prim, "builtin", False) and not str(error).startswith(f"{prim.name}("):
            # one of the op table's own (not check_call's error, which names its call; a user primitive's
            # error keeps its message and traceback): its call says what it takes
            given = "".join(f", {key}={value!r:.40}" for key, value in (params or {}).items())
            kind = TypeError if isinstance(error, TypeError) else OverflowError  # (NumPy's subclasses need more)
            call = f"; expected {prim.name}{prim.__signature__}" if hasattr(prim, "__signature__") else ""
            failure = kind(f"{prim.label}: {error} (inputs of shape {listed or '()'}{given}){call}")
        return failure
    if type(error) not in (ValueError, np.exceptions.AxisError):
        return None
    builtin = getattr(prim, "builtin", False)
    if not builtin and not _shape_refusal(error):  # (a value your forward refused: raised as it is)
        return None
    if len(shapes) > 1 and "broadcast" in str(error):
        failure = broadcast_error(prim.label, shapes, input_names(prim, len(shapes)))
    else:
        failure = ShapeError(f"{prim.label}: cannot apply to shapes {listed}: {error}")
    failure.__cause__ = None if builtin else error  # (raised from it: the traceback into your forward kept)
    return failure


def _shape_refusal(error):
    """Whether ``error`` is NumPy's refusal of its operands' shapes (an axis out of range, a broadcast,
    np.dot's alignment, a reshape, a gufunc's core dimension, a join's sizes), which a ShapeError names."""
    return isinstance(error, np.exceptions.AxisError) or (
        type(error) is ValueError and _NUMPY_SHAPES.search(str(error)) is not None)


_NUMPY_SHAPES = re.compile(r"broadcast|not aligned|core dimension|reshape|must match exactly|same shape|"
                           r"zero-size array")


def _axis_failure(prim, shapes, params, error):
    """A TypeError naming the op, its input's shape and the valid axes, when its ``axis`` (or
    ``axes``) parameter holds something other than ints (``axis=1.0``); else None."""
    declared = getattr(prim, "__signature__", None)
    for key in ("axis", "axes"):
        value = params.get(key)
        required = declared is not None and key in declared.parameters and \
            declared.parameters[key].default is inspect.Parameter.empty  # (expand_dims' axis: no None)
        none = "" if required else "None, "
        try:
            for a in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(a, bool):  # (an int to operator.index: True would be axis 1)
                    raise TypeError("a bool is no axis")
                if a is not None or required:
                    operator.index(a)
        except TypeError:
            ndim = len(shapes[0]) if shapes else 0
            wanted = f"{none}an int or a tuple of ints" if key == "axis" else f"None or a permutation of range({ndim})"
            if getattr(prim, "axes_in_result", False):  # (expand_dims: n + k axes once k are added)
                added = len(value) if isinstance(value, (tuple, list)) else 1
                ndim, wanted = ndim + added, f"{wanted} (counted in the result's {ndim + added} axes)"
            return TypeError(f"{prim.label}: {key}={value!r} for an input of shape {shapes[0] if shapes else ()} "
                             f"({error}); expected {wanted}, each axis in [{-ndim}, {ndim - 1}]")
    return None


def broadcast_error(label, shapes, names):
    """The ShapeError of operands of ``shapes`` (called ``names``) that do not broadcast, naming the
    op (``label``), the shapes and the first axis where they clash."""
    return ShapeError(f"{label}: shapes {' and '.join(str(shape) for shape in shapes)} do not broadcast "
                      f"({_clash(shapes, names)}; expected each axis, aligned from the right, to be equal or 1 "
                      "in one of them)")


def _clash(shapes, names):
    """The first axis, counted from the right, where the shapes' sizes disagree, its sizes in
    the operands' order, each with the operand that has it."""
    for axis in range(1, max(len(s) for s in shapes) + 1):
        held = [(name, s[-axis]) for name, s in zip(names, shapes) if len(s) >= axis and s[-axis] != 1]
        sizes = list(dict.fromkeys(n for _, n in held))  # distinct, in the operands' order
        if len(sizes) > 1:
            who = ", ".join(f"{name} has {n}" for name, n in held)
            return f"axis {-axis} has sizes {' vs '.join(map(str, sizes))}: {who}"
    return "their sizes disagree"


def input_names(prim, n):
    """The forward's parameter names for its ``n`` inputs (where's condition, x, y), else
    'operand 1', 'operand 2', ... (a NumPy ufunc's x1, x2 would mean nothing to the user)."""
    try:
        params = [] if isinstance(prim.forward, np.ufunc) else list(
            inspect.signature(prim.forward).parameters.values())[:n]
    except (TypeError, ValueError):  # a builtin without a signature
        params = []
    if len(params) == n and all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        return [p.name for p in params]
    return [f"operand {i}" for i in range(1, n + 1)]


_NAMES_AN_OP = re.compile(r"[\w.]+( \([^)]*\))?: ")  # "l2_penalty: ...", "matmul (@): ..."


requires_grad_of = operator.attrgetter("_requires_grad")


def set_requires_grad(t, value, what="Tensor.requires_grad"):
    """``t.requires_grad = value`` (also ``requires_grad_()`` and the constructor, named by ``what``): a bool,
    or a TypeError (a string such as "no" would be taken for True); False on an op output is refused, as
    PyTorch refuses it: it would silently cut the graph there, where ``t.detach()`` says so."""
    value = flag(value, what)
    if t._prim is not None and not value:
        raise GraphError(f"{what}: False on an op's output ({describe(t)}) would silently cut the graph "
                         "there; use t.detach() for a constant")
    if not value and current().grad_depth:
        from .transforms import is_running_variable  # (lazy: the transforms are built on the engine)
        if is_running_variable(t):  # (torch.func refuses requires_grad_() inside a transform too)
            raise GraphError(f"{what}: False on the variable a running transform differentiates ({describe(t)}) "
                             "would make its derivative silently 0; use t.detach() for a constant")
    # A leaf first requiring grad is new to the graph, as in PyTorch: ops recorded before took it as a constant,
    # so backward() sends it nothing through them (it is now after them in creation order). A leaf that required
    # grad before (switched off, then on) keeps its place on graphs; so does a tensor that requires grad now
    # (an op's output: True there changes nothing, as in PyTorch).
    if value and not t._requires_grad and t._prim is None and "_born" not in vars(t):
        from .tape import next_seq
        t._born, t._seq = t._seq, next_seq()
    t._requires_grad = value


def born(t):
    """Where Tensor ``t`` was made in creation order (``tape.next_seq``): its ``_seq``, unless it first
    required grad later, which moved it (``set_requires_grad``). What a transform or a trace closes over
    is told by this (made before the call), not by its place on graphs."""
    return vars(t).get("_born", t._seq)


def check_usable(t, mode=None):
    """Raise if op output ``t``'s graph was freed, or if it or an input was changed in
    place since the op ran (its VJP would use the new value). ``mode``: None for backward, else
    the transform walking the graph forward (``"forward mode (jvp)"``), whose JVPs read the same values."""
    if t._parents is None:
        raise GraphError(f"{mode or 'backward'} through a freed graph: {describe(t)} was freed by an earlier "
                         "backward(); pass retain_graph=True to the first call to go through it again")
    if mode is None:
        check_unchanged(t, "", "run backward() before updating it, or recompute the forward pass")
    else:
        check_unchanged(t, f"{mode}: ", "make a new tensor instead (y = y + 1, not y += 1 or y.data = ...), "
                        "or recompute the ops that read it after the change")


def check_unchanged(t, caller, remedy):
    """Raise InplaceModificationError (opening with ``caller``, closing with ``remedy``) if op output
    ``t`` or one of its inputs was changed in place since the op ran."""
    for i, x in enumerate(t._parents + (t,)):  # (inputs first: a recorded t /= w edits its output itself)
        if x._vc is not None and x._vc.stamp > t._epoch:
            which = "its output" if x is t else f"input {i} (shape {x.shape}{', ' + repr(x.name) if x.name else ''})"
            raise InplaceModificationError(
                f"{caller}{describe(t)}: {which} was modified in place after the op was recorded (it is now at "
                f"version {x._vc.version}); {remedy}")


def backward_flags(retain_graph, create_graph):
    """``backward()``'s ``retain_graph`` and ``create_graph`` as bools, or a TypeError naming the argument (a
    string such as "no" would be taken for True); ``retain_graph=None`` is ``create_graph``'s value, PyTorch's
    default."""
    create_graph = flag(create_graph, "backward(create_graph=...)")
    return create_graph if retain_graph is None else flag(retain_graph, "backward(retain_graph=...)"), create_graph


def check_grads(to_write):
    """Refuse a backward() whose (tensor, gradient) pairs ``to_write`` would add into a ``.grad``
    that is not an array of the tensor's shape and dtype, naming the tensor (before any write)."""
    for t, _ in to_write:
        old = t._grad
        if old is not None and (old.shape != t._array.shape or old.dtype != t._array.dtype  # (byte order aside:
                                and old.dtype.newbyteorder("=") != t._array.dtype.newbyteorder("=")):  # NumPy adds them)
            raise ShapeError(f"backward: {describe(t)} has a .grad of shape {old.shape} and dtype "
                             f"{old.dtype} to add to; expected {t._array.shape} {t._array.dtype} "
                             "(set .grad = None to start afresh)")


def data_to_wrap(data):
    """``Tensor(data)``'s data. A Tensor that requires grad, while recording, makes a constant copy through
    which no gradient flows: meant (as ``t.detach()``), or a mistake (``Tensor(relu(z))`` in a network,
    its weights then never trained); so it warns, as PyTorch's ``torch.tensor(t)`` does."""
    if hasattr(data, "_array") and data.requires_grad and current().grad_enabled:
        warnings.warn(f"Tensor(data): data is a Tensor that requires grad ({describe(data)}); the new Tensor is a "
                      "constant copy, through which no gradient flows. For a constant, write data.detach(); to "
                      "keep the gradient, use the tensor as it is (ag.as_tensor returns a Tensor unchanged)",
                      UserWarning, stacklevel=3)
    return data


def get_grad(t):
    """``t.grad``. While ``ag.compile`` traces a call on this thread, reading it is refused for that call
    (it runs eagerly, with a warning): a replay would keep the value read then. An op output's is None
    unless it called ``retain_grad()``: reading it warns, as PyTorch does, since a loop that rebinds a
    parameter (``W = W - lr * W.grad``) makes W an op output whose .grad stays None."""
    tracer = current().tracer
    if tracer is not None:
        tracer.refusals.append("reads a tensor's .grad while it runs, which a replay would keep as it was when "
                               "traced; pass the gradient in as an argument")
    if t._grad is None and t._prim is not None and not t._retain:
        warnings.warn(f".grad of a tensor that is not a leaf ({describe(t)}) is None: backward() fills only "
                      "leaves' .grad (call retain_grad() before it to keep this one's). A parameter rebound by "
                      "W = W - lr * W.grad is such a tensor: update it in place instead, with ag.no_grad(): "
                      "W -= lr * W.grad", UserWarning, stacklevel=2)
    return t._grad


def set_grad(t, value):
    """``t.grad = value``: None, an ndarray (any shape: backward() checks it against ``t``; an np.matrix
    as its ndarray), a NumPy scalar (as a 0-d array) or a Tensor that does not require grad (its array,
    shared, as PyTorch keeps the tensor); anything else is refused naming ``t``, since backward() adds
    into it."""
    value = plain_array(value, "Tensor.grad")
    if isinstance(value, np.generic):  # (before the float test: np.float64 is a float)
        value = np.asarray(value)
    elif value is not None and not isinstance(value, np.ndarray):
        data = getattr(value, "_array", None)
        if not isinstance(data, np.ndarray):  # (not a Tensor)
            raise TypeError(f"{describe(t)}: .grad = {type(value).__name__} {value!r:.60}; expected None or "
                            f"a float ndarray of shape {t.shape}")
        if value.requires_grad:  # backward() would record each sum into it, a graph growing every step
            raise TypeError(f"{describe(t)}: .grad = a Tensor that requires grad; expected None or an "
                            "ndarray: pass t.detach() (or t.data)")
        value = data
    note_grad_write()
    with grad_lock:  # (not between another thread's backward reading .grad and storing its sum)
        t._grad = value


def declare_call(prim, doc, inputs=None):
    """The inputs and keywords op ``prim`` takes (``prim.arity``, ``prim.keywords``; None: whatever its
    forward takes) and the signature help() shows. A built-in op's ``doc`` opens with its call
    (``"sum(x, axis=None, keepdims=False): ..."``, literal defaults), which declares them, so NumPy's out=,
    where=, dtype= are refused before the forward runs (``check_call``): its first ``inputs`` names (all
    of them by default; an ``_Op``'s parameters follow) are its inputs; a NumPy ufunc as a forward takes
    its own ``nin`` inputs alone, since its out=, by keyword or position, would be written into behind the
    tape; any other forward (a user primitive's) takes what its signature takes, a fixed number of
    positional inputs passed on as they are (``Primitive.__call__``). Inputs are positional-only in the
    signature (``exp(x, /)``), as the call takes no input by keyword. A name that is no str is refused
    here, at construction: errors, drawings and formulas all write it."""
    if not isinstance(prim.name, str):
        forward = getattr(prim.forward, "__qualname__", None) or repr(prim.forward)
        raise TypeError(f"Primitive: name must be a str, got {type(prim.name).__name__} {prim.name!r:.40} "
                        f"(for the forward {forward}); expected a str, or None for the forward's own name")
    head = (doc or "").split("): ", 1)[0] + ")"
    if head.startswith(f"{prim.name}("):
        call = ast.parse(head, mode="eval").body
        names, keywords = [a.id for a in call.args], {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    elif isinstance(prim.forward, np.ufunc):
        nin = prim.forward.nin  # (scipy.special's hyp2f1 takes 4)
        names, keywords = ["x", "y", "z"][:nin] if nin <= 3 else [f"x{i}" for i in range(1, nin + 1)], {}
    else:
        prim.arity = _fixed_inputs(prim.forward)
        return
    inputs = len(names) if inputs is None else inputs
    make = inspect.Parameter
    prim.__signature__ = inspect.Signature(
        [make(name, make.POSITIONAL_ONLY) for name in names[:inputs]] +
        [make(name, make.POSITIONAL_OR_KEYWORD) for name in names[inputs:]] +
        [make(key, make.POSITIONAL_OR_KEYWORD, default=value) for key, value in keywords.items()])
    # (an _Op's parameters without a default, reshape's shape, are keywords too); arity: only the 1 to 3
    # inputs Primitive.__call__ passes on unchecked, else None, so every call goes through check_call
    prim.keywords = frozenset(names[inputs:]) | frozenset(keywords)
    prim.arity = inputs if 0 < inputs <= 3 else None


def _fixed_inputs(forward):
    """How many positional inputs ``forward`` takes, from 1 to 3, when that is fixed (none has a
    default, no ``*args``); else None (calls then take Primitive.__call__'s general path)."""
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):  # (a builtin without a signature)
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters) or any(p.default is not p.empty for p in positional):
        return None
    return len(positional) if 0 < len(positional) <= 3 else None


# Why NumPy's ufunc and reduction keywords cannot apply to a recorded op
_NUMPY_KEYWORDS = {
    "out": "the result is a new recorded Tensor, never written into a buffer: assign it, y = {op}(...)",
    "where": "every entry is computed: select some with ag.where(mask, {op}(...), other)",
    "dtype": "the result has its inputs' float dtype: convert the input's data first",
    "casting": "the result has its inputs' float dtype", "order": "the result's layout is NumPy's default",
    "subok": "the result is always a Tensor", "initial": "a reduction starts from its inputs' entries alone",
}


def check_call(prim, n, params):
    """Refuse a call of the built-in op ``prim`` with ``n`` inputs and keywords ``params`` unless it takes
    them: a ufunc's out= given by keyword or by position (``np.exp(x, buf)``) would be written into."""
    if not prim.keywords.issuperset(params):
        raise unexpected_keywords(prim, params)
    # the declared inputs, counted from the signature: prim.arity is None beyond 3 (hyp2f1's 4)
    declared = sum(name not in prim.keywords for name in prim.__signature__.parameters)
    if n != declared:
        inputs = f"{declared} input{'s' * (declared > 1)}"
        raise TypeError(f"{prim.name}{prim.__signature__}: takes {inputs}, got {n}" + (
            "; NumPy's out= given by position does not apply, as the result is a new recorded Tensor: "
            f"assign it, y = {prim.name}(...)" if n > declared and _numpy_like(prim.forward) else ""))


def _numpy_like(forward):
    """Whether ``forward`` is a NumPy ufunc or a built-in op's (NumPy's or this package's), whose
    callers may pass NumPy's out= by position; a user's own Python forward takes no out=."""
    module = getattr(forward, "__module__", None) or ""
    return isinstance(forward, np.ufunc) or module.split(".")[0] in ("numpy", "autograd_lite")


# PyTorch's names for NumPy's parameters: ops and Tensor methods take NumPy's, and say which
TORCH_SPELLINGS = {"dim": "axis=", "keepdim": "keepdims=", "unbiased": "ddof= (ddof=1 for unbiased=True)"}


def unexpected_keywords(prim, params):
    """The TypeError for keywords in ``params`` that op ``prim`` does not take (``prim.keywords``), naming
    the op, those keywords and what it takes, and why NumPy's own (out=, where=, dtype=, ...) do not apply."""
    extra = [key for key in params if key not in prim.keywords]
    taken = [name for name in prim.__signature__.parameters if name in prim.keywords]  # (in the call's order)
    takes = f"the keywords {', '.join(taken)} only" if taken else "no keyword arguments"
    why = "".join(f"; NumPy's {key}= does not apply, as {_NUMPY_KEYWORDS[key].format(op=f'ag.{prim.name}')}"
                  for key in extra if key in _NUMPY_KEYWORDS)
    why += "".join(f"; {key}= is PyTorch's spelling, NumPy's is {TORCH_SPELLINGS[key]}" for key in extra
                   if key in TORCH_SPELLINGS)
    return TypeError(f"{prim.name}: unexpected keyword argument{'s' * (len(extra) > 1)} "
                     f"{', '.join(key + '=' for key in extra)}; "
                     f"{prim.name}{prim.__signature__} takes {takes}{why}")
