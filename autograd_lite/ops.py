"""The op table: every primitive, its forward next to its rules.

Each entry gives the NumPy forward, one vector-Jacobian product per input
(``vjp(g, out, *inputs, **params)``: given g = dL/d(out), return dL/d(input)),
the forward-mode rules (``jvps``: ``jvp(t, out, *inputs, **params)``, given the
tangent t of that input (at the input's shape), its contribution to d(out);
``forward.py`` sums the contributions and broadcasts them to the output's shape)
and how ``ag.formula`` writes it (``latex(terms, node)``, with the helpers of
``latex.py``). VJPs see ndarrays on the first-order path and Tensors under
``create_graph``; they use only operators, methods both types share, and the
ops here, so every rule differentiates again. Broadcasting is undone once, by
the engine (``conform.conform``), never here. For an elementwise op the Jacobian is
diagonal, so its JVP is its VJP (``jvps=vjps``). JVP rules run on ndarrays.

Every exported op has a ``doc`` of its own that opens with its call (``exp(x): ...``,
``sum(x, axis=None, keepdims=False): ...``): help() and ``inspect.signature`` show that
call, not NumPy's, and a keyword it does not declare (NumPy's out=, where=, dtype=) is
refused before the forward runs. Ops whose parameters NumPy also takes positionally
(``ag.sum(x, 1)``, ``ag.reshape(x, (4, 6))``) are ``_Op`` primitives: their parameters
are the ones their call declares after the inputs.

The Tensor operators and methods are installed at the end of this file.
"""
import copy
import functools
import numbers
import operator
import re

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from . import diagnostics
from . import latex as tex
from .convert import _is_half, flag, float64_for_half, is_scalar_number, listed, plain_array, scale_for, to_float_array
from .errors import GraphError, ShapeError
from .modes import clock, current, detect_anomaly, mark_modified, shares_memory_with_another
from .primitive import Primitive
from .tensor import Tensor, as_tensor


def _raw(value):
    """The array behind a Tensor (used for parts of a rule that are constants)."""
    return value._array if isinstance(value, Tensor) else value


def _apply(prim, *args, **params):
    """``prim`` inside a rule: recorded on Tensors (under create_graph), its bare forward on
    ndarrays (the first-order path builds no graph)."""
    if any(isinstance(a, Tensor) for a in args):
        return prim(*args, **params)
    return prim.forward(*args, **params)


_ONE64 = np.array(1.0)  # 0-d float64: a float16 operand times it is its exact float64 value (as scale_for's)


def _float64_rule(rule, output=None):
    """``rule(g, out, x, *inputs, **params)``, a VJP (or JVP) whose float16 arithmetic would cancel
    or round twice (x - mean(x), sigmoid(z) - y, 1 - a), computed in float64 and rounded once when
    its first input ``x`` is float16, as the docs promise. On ndarrays (first order, and JVPs) that
    is ``float64_for_half``. On Tensors (create_graph), which a float64 copy would cut from the
    graph, each float16 argument is multiplied by a float64 1, recorded, and the walk rounds the
    float64 gradient where it writes it. ``output(*inputs, **params)``: the op's output recomputed
    in float64 there, for a rule that reads it (std divides by it; its float16 value is rounded).
    Other dtypes call ``rule`` itself after one dtype test: bit for bit what it gave."""
    full = rule if output is None else (
        lambda g, out, *inputs, **params: rule(g, output(*inputs, **params), *inputs, **params))
    on_arrays = float64_for_half(full, dtype_of=lambda args: args[2].dtype)

    @functools.wraps(rule)
    def run(*args, **params):  # (g, out, x, ...): the float32/64 path pays one dtype test, no more
        if args[2].dtype.char != "e":  # (convert._is_half inline; a call without keywords costs less)
            return rule(*args, **params) if params else rule(*args)
        if type(args[2]) is not Tensor:
            return on_arrays(*args, **params)
        return full(*[a * _ONE64 if _is_half(getattr(a, "dtype", None)) else a for a in args], **params)
    return run


class _Op(Primitive):
    """A primitive whose parameters may also follow its inputs positionally, as NumPy's
    functions take them: ``sum(x, 1)`` is ``sum(x, axis=1)``. Its ``doc`` opens with its call,
    whose names after the first ``inputs`` are its parameters (``reshape(x, shape)``)."""

    def __init__(self, forward, name, *, doc, inputs=1, **rules):
        super().__init__(forward, name, doc=doc, **rules)
        diagnostics.declare_call(self, doc, inputs)  # (again: only the first ``inputs`` names are inputs)
        self.inputs, self.param_names = inputs, tuple(self.__signature__.parameters)[inputs:]

    def __call__(self, *args, **params):
        if len(args) > self.inputs:
            extra, args = args[self.inputs:], args[:self.inputs]
            if len(extra) > len(self.param_names):
                raise TypeError(f"{self.name}: takes {self.inputs} input(s) then the parameters "
                                f"({', '.join(self.param_names)}); got {len(extra)} more positional arguments")
            for key, value in zip(self.param_names, extra):
                if key in params:
                    raise TypeError(f"{self.name}: got {key!r} both positionally and as a keyword")
                params[key] = value
        if type(params.get("axis")) is list:  # (NumPy would read a list of axes as an array: rules see a tuple)
            params["axis"] = tuple(params["axis"])
        if "keepdims" in params:  # (a string such as "False" would be taken for True)
            params["keepdims"] = flag(params["keepdims"], f"{self.name}(keepdims=...)")
        return super().__call__(*args, **params)


def _sum_of(a, b):
    return tex.Term(f"{a.text} + {tex.right_of_sum(b, tex.SUM).text}", tex.SUM)


# --- arithmetic --------------------------------------------------------------
add = Primitive(np.add, "add", symbol="+", doc="""add(x, y): x + y elementwise, shapes broadcast together.

    d/dx = d/dy = 1 (each gradient summed back to its input's shape).""",
                vjps=(lambda g, out, x, y: g, lambda g, out, x, y: g), jvps=(lambda g, out, x, y: g, lambda g, out, x, y: g),
                latex=lambda t, node: _sum_of(*t))
subtract = Primitive(np.subtract, "subtract", symbol="-", doc="""subtract(x, y): x - y elementwise, shapes broadcast together.

    d/dx = 1, d/dy = -1 (each gradient summed back to its input's shape).""",
                     vjps=(lambda g, out, x, y: g, lambda g, out, x, y: -g), jvps=(lambda g, out, x, y: g, lambda g, out, x, y: -g),
                     latex=lambda t, node: tex.Term(f"{t[0].text} - {tex.right_of_sum(t[1], tex.PRODUCT).text}",
                                                    tex.SUM))
multiply = Primitive(np.multiply, "multiply", symbol="*", doc="""multiply(x, y): x * y elementwise, shapes broadcast together.

    d/dx = y, d/dy = x (each gradient summed back to its input's shape).""",
                     vjps=(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x), jvps=(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
                     latex=lambda t, node: tex.product(*t, "scalar" if any(p.size == 1 for p in node._parents)
                                                       else "odot"))
def _divide_jvp(tangents, out, x, y):
    # (tx - ty out) / y in one expression, as PyTorch's: tx / y and ty out / y apart overflow (or give
    # inf - inf) where their difference is finite
    tx, ty = tangents
    return tx / y if ty is None else ((0.0 if tx is None else tx) - ty * out) / y


divide = Primitive(np.true_divide, "divide", symbol="/", doc="""divide(x, y): x / y elementwise, shapes broadcast together.

    d/dx = 1 / y, d/dy = -x / y ** 2 (each gradient summed back to its input's shape).""",
                   vjps=(lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y),
                   latex=lambda t, node: tex.Term(f"\\frac{{{t[0].text}}}{{{t[1].text}}}"))
divide.jvp_all = _divide_jvp
negative = Primitive(np.negative, "negative", symbol="-", doc="negative(x): -x elementwise, x's shape; d/dx = -1.",
                     vjps=(lambda g, out, x: -g,), jvps=(lambda g, out, x: -g,),
                     latex=lambda t, node: tex.Term("-" + tex.at_least(t[0], tex.PRODUCT).text, tex.NEG))


def _power_vjp_base(g, out, x, p):
    # p * x ** (p - 1), exactly 0 where p = 0 (not 0 * inf), as PyTorch and JAX. Where p = 0 and
    # x ** -1 overflows (x = 0, or |x| below the dtype's smallest normal: a float32 subnormal) the
    # exponent is shifted to 0. Only there: shifted wherever p = 0, the recorded p * x ** p would
    # differentiate in p to x ** p = 1 instead of 1 / x (the mixed second derivative, for normal x).
    # Where it is shifted, p * (1 - shift) is 0 with no slope in p either: second derivatives 0
    # there, as PyTorch's. (The dtype is out's, the one x ** (p - 1) is computed in.)
    shift = (_raw(p) == 0) & (np.abs(_raw(x)) < np.finfo(_raw(out).dtype).tiny)
    if not shift.any():
        return g * p * x ** (p - 1)
    return g * (p * (1 - shift)) * x ** (p - 1 + shift)


def _power_vjp_exponent(g, out, x, p):
    # out * log(x), as PyTorch's: NaN where x < 0 (log of a negative number) or x is NaN (NaN ** 0
    # is 1, and log was taken of 1 there). Where x = 0 it is the limit as x -> 0+: 0 for p >= 0,
    # -inf for p < 0, selected there, where out * log is inf * 0 = NaN (then times g, as PyTorch)
    raw_x = _raw(x)
    undefined = np.where((raw_x < 0) | np.isnan(raw_x), np.nan, 0.0)
    local = out * (log(where(raw_x > 0, x, 1.0)) + undefined)
    pole = (raw_x == 0) & (_raw(p) < 0)
    return g * (_pick(pole, -np.inf, local) if pole.any() else local)


power = Primitive(np.power, "power", symbol="**", doc="""power(x, p): x ** p elementwise, shapes broadcast together.

    d/dx = p x ** (p - 1), exactly 0 where p = 0 (x = 0 and subnormal x included; NaN x: NaN);
    d/dp = x ** p log(x), at x = 0 its limit from above (0 for p >= 0, -inf for p < 0), NaN where
    x < 0 or x is NaN (as PyTorch).""", vjps=(_power_vjp_base, _power_vjp_exponent),
                  jvps=(_power_vjp_base, _power_vjp_exponent),
                  latex=lambda t, node: tex.superscript(t[0], t[1].text))
square = Primitive(np.square, "square", doc="square(x): x ** 2 elementwise, x's shape; d/dx = 2 x.",
                   vjps=(lambda g, out, x: g * 2 * x,), jvps=(lambda g, out, x: g * 2 * x,),
                   latex=lambda t, node: tex.superscript(t[0], "2"))
sqrt = Primitive(np.sqrt, "sqrt", doc="""sqrt(x): the square root elementwise, x's shape.

    d/dx = 1 / (2 sqrt(x)) (inf at x = 0; NaN below, where sqrt is NaN).""",
                 vjps=(lambda g, out, x: g * 0.5 / out,),
                 # (a zero tangent gives 0 at x = 0, not 0 * inf: as sqrt(|x|)'s gradient, abs's rule selecting 0)
                 jvps=(lambda t, out, x: _pick(t == 0.0, 0.0, t * 0.5 / out),),
                 latex=lambda t, node: tex.Term(f"\\sqrt{{{t[0].text}}}", simple=True))


def _pick(mask, a, b):
    """``a`` where ``mask`` else ``b``: NumPy's where on arrays, recorded on Tensors (a rule under
    create_graph). Rules that block the gradient select it rather than multiply it by a 0/1
    mask: an infinite incoming gradient (sqrt'(0), log'(0)) times 0 would be NaN, where the
    derivative is 0 (PyTorch's relu and clamp select too; its abs multiplies: sqrt(|x|)'s
    gradient at 0 is NaN there, 0 here)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return where(mask, a, b)
    return np.where(mask, a, b)


def _abs_rule(g, out, x):
    # sign(x) g, with x = 0 (sign 0) selected away rather than multiplied
    x = _raw(x)
    return _pick(x != 0, g, 0.0) * np.sign(x)


abs = Primitive(np.abs, "abs", doc="abs(x): |x| elementwise, x's shape; d/dx = sign(x), taken as 0 at x = 0.",
                vjps=(_abs_rule,), jvps=(_abs_rule,),
                latex=lambda t, node: tex.Term(f"|{t[0].text}|", simple=True))


def _winner_share(g, x, y):
    """g where x wins, g / 2 on ties (the gradient is split fairly), 0 where x loses; a NaN on
    either side loses nothing (it passes g, as PyTorch's masks do: NaN < y is false)."""
    x, y = _raw(x), _raw(y)
    return _pick(x < y, 0.0, g) * np.where(x == y, 0.5, 1.0)


maximum = Primitive(np.maximum, "maximum", doc="""maximum(x, y): the larger of x and y elementwise, shapes broadcast.

    The gradient goes to the larger input, split equally on ties; a NaN passes it on.""", vjps=(lambda g, out, x, y: _winner_share(g, x, y),
                                                 lambda g, out, x, y: _winner_share(g, y, x)),
                    latex=lambda t, node: tex.call("\\max", *t))
minimum = Primitive(np.minimum, "minimum", doc="""minimum(x, y): the smaller of x and y elementwise, shapes broadcast.

    The gradient goes to the smaller input, split equally on ties; a NaN passes it on.""", vjps=(lambda g, out, x, y: _winner_share(g, y, x),
                                                 lambda g, out, x, y: _winner_share(g, x, y)),
                    latex=lambda t, node: tex.call("\\min", *t))
maximum.jvps, minimum.jvps = maximum.vjps, minimum.vjps  # elementwise
# The inputs in the order of the call, so an error lists their shapes as the user wrote them
_where = Primitive(lambda condition, x, y: np.where(condition != 0, x, y), "where",
                   vjps=(None, lambda g, out, c, x, y: _pick(c != 0, g, 0.0),
                         lambda g, out, c, x, y: _pick(c == 0, g, 0.0)),
                   latex=lambda t, node: tex.call("\\mathrm{where}", *t))
_where.jvps = _where.vjps  # elementwise


def where(condition, x, y):
    """Elementwise ``x`` where ``condition`` is true (nonzero) else ``y``, all three
    broadcast together; ``condition`` (e.g. ``t > 0``, a constant) is not differentiable: one
    that requires grad, or carries a non-zero tangent in ``ag.jvp``, is refused."""
    return _where(condition, x, y)


# --- elementwise functions -----------------------------------------------------
exp = Primitive(np.exp, "exp", doc="exp(x): e ** x elementwise, x's shape; d/dx = exp(x).",
                vjps=(lambda g, out, x: g * out,), jvps=(lambda g, out, x: g * out,),
                latex=lambda t, node: tex.Term(f"e^{{{t[0].text}}}"))
log = Primitive(np.log, "log", doc="log(x): the natural logarithm elementwise, x's shape; d/dx = 1 / x.",
                vjps=(lambda g, out, x: g / x,), jvps=(lambda g, out, x: g / x,),
                latex=lambda t, node: tex.prefix("\\log", t[0]))
relu = Primitive(lambda x: np.maximum(x, 0.0), "relu",  # 0.0: NumPy converts an int scalar on every call
                 doc="relu(x): max(0, x) elementwise, x's shape; d/dx = 0 where x <= 0, else 1 (NaN: 1, as PyTorch).",
                 vjps=(lambda g, out, x: _pick(x <= 0.0, 0.0, g),),  # (NaN passes g, as in PyTorch)
                 latex=lambda t, node: tex.call("\\mathrm{ReLU}", *t))
relu.jvps = relu.vjps  # elementwise


@float64_for_half  # (float16's exp(-x) overflows from x = -11, and 1 + exp(-x) rounds to 1 from x = 7.6)
def _sigmoid(x):
    """1 / (1 + exp(-x)) elementwise (the exercise's formula)."""
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0, giving the right 0
        return 1.0 / (1.0 + np.exp(-x))


class _Sigmoid(Primitive):
    """sigmoid's output remembers its logits even when nothing is recorded (``no_grad``,
    constant inputs), so ``binary_cross_entropy`` computes the same exact value at
    saturation whether or not a graph is being built (finite differences agree with it)."""

    def __call__(self, x, *extra, **params):  # (extra, params: refused by name, as by any op)
        x = x if isinstance(x, Tensor) else as_tensor(x, what="sigmoid")
        out = super().__call__(x, *extra, **params)
        if out._prim is None:  # cut from the graph as out is: a copy of x of its own, as an op (compile's
            # tracer sees it), which no write to a buffer x shares reaches; stamped, so an edit of out is seen
            with detect_anomaly(check_nan=False):  # (anomaly mode checks the user's ops: an inf here is x's)
                out._logits, out._epoch = multiply(x.detach(), 1.0), clock.now
        return out


def logits_of(a):
    """The input z of ``a = sigmoid(z)`` while both are as they were when sigmoid ran, else
    None: a recorded sigmoid gives its input, an unrecorded one (``no_grad``, constant input)
    a detached copy, unless ``a`` itself requires grad (``requires_grad_()``: a variable whose
    own gradient is wanted). While ``ag.compile`` traces, a replay checks the answer again."""
    tracer = current().tracer
    if tracer is not None:
        tracer.fact(a, _has_logits)
    return _logits(a)


def _logits(a):
    if a._vc is not None and a._vc.stamp > a._epoch:
        return None
    if a._prim is sigmoid and a._parents is not None:
        z = a._parents[0]
    elif a.requires_grad or not hasattr(a, "__dict__"):
        return None
    else:
        z = a.__dict__.get("_logits")
    return None if z is None or z._vc is not None and z._vc.stamp > a._epoch else z


def _has_logits(a):
    return _logits(a) is not None


sigmoid = _Sigmoid(_sigmoid, "sigmoid", doc="""sigmoid(x): 1 / (1 + exp(-x)) elementwise, x's shape.

    d/dx = sigmoid(x) (1 - sigmoid(x)), computed from the output as PyTorch computes it: off by
    a few ulps of 1 at most, but relative accuracy goes as sigmoid(x) nears 1, and from
    about x = 17 (float32) or 37 (float64) it is 0 (true: about exp(-x)).""",
                    vjps=(_float64_rule(lambda g, out, x: g * out * (1 - out)),),
                    jvps=(_float64_rule(lambda g, out, x: g * out * (1 - out)),),
                    latex=lambda t, node: tex.call("\\sigma", *t))
sigmoid.read_on_result = True  # (its output's node is read, _logits: ag.compile applies it to a replayed result)
tanh = Primitive(np.tanh, "tanh", doc="""tanh(x): the hyperbolic tangent elementwise, x's shape.

    d/dx = 1 - tanh(x) ** 2, computed from the output as PyTorch computes it: off by a few ulps
    of 1 at most, but relative accuracy goes as |tanh(x)| nears 1, and from about |x| = 10
    (float32) or 19 (float64) it is 0 (true: about 4 exp(-2 |x|)).""",
                 vjps=(lambda g, out, x: g * (1 - out * out),), jvps=(lambda g, out, x: g * (1 - out * out),),
                 latex=lambda t, node: tex.call("\\tanh", *t))


# --- linear algebra --------------------------------------------------------------
def _explain_matmul(a, b, op):
    if a.ndim == 0 or b.ndim == 0:
        return f"{op}: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
    inner_a, inner_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        return f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied ({inner_a} columns vs {inner_b} rows)"
    return f"{op}: batch dimensions of shapes {a.shape} and {b.shape} do not broadcast"


def _matmul(a, b, op="matmul (@)"):
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        return np.dot(a, b)  # for matrices the same BLAS product as matmul, with less call overhead
    try:
        return np.matmul(a, b)
    except ValueError:
        raise ShapeError(_explain_matmul(a, b, op)) from None


def _swap(x):
    return x.T if x.ndim == 2 else x.swapaxes(-1, -2)


# These two serve linear too, whose third input (the bias) plays no part in them.
def _matmul_vjp_a(g, out, a, b, bias=None):
    if type(g) is np.ndarray and g.ndim == 2 and b.ndim == 2:  # matrices, first order: one BLAS call
        return np.dot(g, b.T)
    if b.ndim == 1:
        return g * b if a.ndim == 1 else g.reshape(g.shape + (1,)) * b
    if a.ndim == 1:
        return (b @ g.reshape(g.shape + (1,))).reshape(b.shape[:-1])
    return g @ _swap(b)


def _matmul_vjp_b(g, out, a, b, bias=None):
    if type(g) is np.ndarray and g.ndim == 2 and a.ndim == 2:  # matrices, first order: one BLAS call
        return np.dot(a.T, g)
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a.reshape((-1, 1)) * g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        return (_swap(a) @ g.reshape(g.shape + (1,))).reshape(a.shape[:-2] + a.shape[-1:])
    return _swap(a) @ g


def _matmul_jvp_a(t, out, a, b, bias=None):
    return np.matmul(t, b)


def _matmul_jvp_b(t, out, a, b, bias=None):
    return np.matmul(a, t)


matmul = Primitive(_matmul, "matmul", symbol="@", doc="""matmul(a, b): the matrix product a @ b (NumPy's matmul).

    Shapes (n, k) @ (k, m) give (n, m); a 1-d operand is a vector (its axis dropped from the result),
    leading axes are batch axes that broadcast. d/da = g @ b^T, d/db = a^T @ g.""", vjps=(_matmul_vjp_a, _matmul_vjp_b),
                   jvps=(_matmul_jvp_a, _matmul_jvp_b),
                   latex=lambda t, node: tex.product(*t, "matmul"))


def _linear(w, a, b):
    z = _matmul(w, a, "linear (weights @ inputs)")
    try:
        if b.dtype == z.dtype and type(z) is np.ndarray:  # (two vectors' product is a NumPy scalar)
            z += b  # into the product's fresh array; refused unless b broadcasts to z's shape
            return z
        out = z + b  # promotes as the expression w @ a + b does
        if out.shape == z.shape:
            return out
    except ValueError:
        pass
    raise ShapeError(f"linear: bias of shape {b.shape} does not broadcast to the shape {z.shape} of "
                     f"weights {w.shape} @ inputs {a.shape}; expected e.g. {z.shape[:-1] + (1,) if z.ndim else ()}")


_linear_op = Primitive(_linear, "linear", vjps=(_matmul_vjp_a, _matmul_vjp_b, lambda g, out, w, a, b: g),
                       jvps=(_matmul_jvp_a, _matmul_jvp_b, lambda t, out, w, a, b: t),
                       latex=lambda t, node: _sum_of(tex.product(t[0], t[1], "matmul"), t[2]))


def linear(w, a, b=None):
    """``w @ a + b`` recorded as one op (as PyTorch's ``F.linear``): the same values and
    gradients as the expression, one node instead of two.

    Args:
        w: (n_out, n_in) weights; a: (n_in, m) inputs, one column per example;
        b: bias broadcastable to (n_out, m), usually (n_out, 1); None: no bias.
    Returns:
        Tensor of shape (n_out, m) (``matmul``'s rules for other ranks).
    """
    return matmul(w, a) if b is None else _linear_op(w, a, b)


# --- reductions -------------------------------------------------------------------
def _axes(axis, ndim):
    """``axis`` (None, an int or a sequence of ints, negative counting from the end) as a
    tuple of non-negative axes: the one place reductions read it. Out of range or repeated:
    NumPy's own AxisError / ValueError (never wrapped around), which ops report by name."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, bool) or isinstance(axis, (tuple, list)) and any(isinstance(a, bool) for a in axis):
        raise TypeError("a bool is no axis")  # (an int to NumPy: True would be axis 1)
    one = _as_number(axis[0] if isinstance(axis, (tuple, list)) and len(axis) == 1 else axis)  # (np.array(0))
    if ndim == 0 and isinstance(one, numbers.Integral) and one in (0, -1):
        return ()  # a 0-d array's one entry: axis 0 (or -1, or (0,)) reduces nothing, as in NumPy's sum and PyTorch
    return normalize_axis_tuple(list(axis) if isinstance(axis, list) else axis, ndim)


def _kept_shape(shape, axis):
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _spread(g, shape, axis):
    """A reduction's gradient, broadcast back over the reduced axes."""
    g = g.reshape(_kept_shape(shape, axis))
    return broadcast_to(g, shape=shape) if isinstance(g, Tensor) else np.broadcast_to(g, shape)


def _count(shape, axis):
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))]))


def _to_extremes(g, x, out, axis):
    """g (x's shape) at the maxima (minima), shared equally among ties, 0 elsewhere (selected:
    0 * inf would be NaN). NumPy's max of a slice holding a NaN is NaN, so its NaN entries are
    the hits (NaN == NaN is false), as in PyTorch's max(): the gradient passes at a NaN input."""
    x, out = _raw(x), _raw(out).reshape(_kept_shape(x.shape, axis))
    hits = (x == out) | (np.isnan(x) & np.isnan(out))
    return _pick(hits, g, 0.0) / hits.sum(axis=_axes(axis, x.ndim), keepdims=True)


def _reduction_latex(symbol, as_prefix=False):
    def latex(t, node):
        function = symbol + tex.params_subscript(node, "axis", "keepdims")  # (keepdims: the shape read next)
        return tex.prefix(function, t[0]) if as_prefix else tex.call(function, *t)
    return latex


def _reduce(np_reduction):
    # (a list of axes arrives as a tuple: _Op.__call__)
    def forward(x, axis=None, keepdims=False):
        if x.ndim == 0 and axis is not None:  # (NumPy's mean refuses axis 0 of a 0-d array, its sum takes it)
            axis = _axes(axis, 0)
        return np_reduction(x, axis=axis, keepdims=keepdims)
    forward.__name__ = np_reduction.__name__
    return forward


def _extreme_vjp(g, out, x, axis=None, keepdims=False):
    return _to_extremes(_spread(g, x.shape, axis), x, out, axis)


def _extreme_jvp(t, out, x, axis=None, keepdims=False):
    return np.sum(_to_extremes(t, x, out, axis), axis=_axes(axis, x.ndim), keepdims=keepdims)


sum = _Op(_reduce(np.sum), "sum", doc="""sum(x, axis=None, keepdims=False): the sum over ``axis`` (None: all).

    NumPy's reduction shape (the axes kept as length 1 with keepdims); d/dx = 1 at every entry.""",
          vjps=(lambda g, out, x, axis=None, keepdims=False: _spread(g, x.shape, axis),),
          jvps=(lambda t, out, x, axis=None, keepdims=False: np.sum(t, axis=_axes(axis, x.ndim),
                                                                     keepdims=keepdims),),
          latex=_reduction_latex("\\sum", as_prefix=True))
mean = _Op(_reduce(np.mean), "mean", doc="""mean(x, axis=None, keepdims=False): the mean over ``axis`` (None: all).

    NumPy's reduction shape; d/dx = 1 / N at every entry, N the number of entries averaged.""", vjps=(
    lambda g, out, x, axis=None, keepdims=False: _spread(g / scale_for(_count(x.shape, axis), x), x.shape, axis),),
    jvps=(lambda t, out, x, axis=None, keepdims=False: np.mean(t, axis=_axes(axis, x.ndim), keepdims=keepdims),),
    latex=_reduction_latex("\\mathrm{mean}"))
max = _Op(_reduce(np.max), "max", vjps=(_extreme_vjp,), jvps=(_extreme_jvp,), latex=_reduction_latex("\\max"),
          doc="""max(x, axis=None, keepdims=False): the largest entries over ``axis`` (NumPy's shapes).

    The gradient goes to the maxima, shared equally among ties; a NaN is the maximum (NumPy's
    result), so a slice holding NaNs passes its gradient to them, as PyTorch's ``max()`` does.""")
min = _Op(_reduce(np.min), "min", vjps=(_extreme_vjp,), jvps=(_extreme_jvp,), latex=_reduction_latex("\\min"),
          doc="""min(x, axis=None, keepdims=False): the smallest entries over ``axis`` (NumPy's shapes).

    The gradient goes to the minima, shared equally among ties; a NaN is the minimum (NumPy's
    result), so a slice holding NaNs passes its gradient to them, as PyTorch's ``min()`` does.""")


# --- shape -------------------------------------------------------------------------
def _shape_latex(key):
    """A shape op written as a function with its parameter: \\mathrm{reshape}_{\\mathrm{shape}=(3, 1)}(u).
    Not left out as notation often does: what follows reads the new shape, so sum(u (3,1) @ v (1,3))
    (an outer product's sum) and sum(u (1,3) @ v (3,1)) (the inner product) would print alike."""
    def latex(t, node):
        return tex.call(tex.roman(node._prim.name) + tex.params_subscript(node, key), *t)
    return latex


reshape = _Op(np.reshape, "reshape", view=True, doc="""reshape(x, shape): x's entries in ``shape`` (one -1 inferred).

    Row-major (C) order, as NumPy's; shares x's data where NumPy can. The gradient is reshaped back.""",
              vjps=(lambda g, out, x, shape: g.reshape(x.shape),),
              jvps=(lambda t, out, x, shape: t.reshape(out.shape),), latex=_shape_latex("shape"))


def _transpose_back(g, out, x, axes=None):
    return g.transpose() if axes is None else g.transpose(tuple(np.argsort([a % x.ndim for a in axes])))


transpose = _Op(np.transpose, "transpose", view=True, vjps=(_transpose_back,),
                doc="""transpose(x, axes=None): x's axes permuted by ``axes`` (None: reversed), sharing its data.

    Shape: x.shape[axes[0]], x.shape[axes[1]], ...; the gradient is permuted back.""",
                jvps=(lambda t, out, x, axes=None: np.transpose(t, axes),),
                      latex=lambda t, node: tex.superscript(t[0], "T") if node._params.get("axes") is None
                      else tex.call("\\mathrm{transpose}" + tex.params_subscript(node, "axes"), *t))
broadcast_to = _Op(np.broadcast_to, "broadcast_to", view=True,
                   doc="""broadcast_to(x, shape): x repeated along axes to ``shape``, a read-only view.

    ``shape`` must be one x broadcasts to; the gradient is summed back to x's shape.""",
                   vjps=(lambda g, out, x, shape: g,), jvps=(lambda t, out, x, shape: np.broadcast_to(t, shape),),  # the engine sums it back to x's shape
                   latex=_shape_latex("shape"))


def _getitem_latex(t, node):
    base = t[0] if t[0].simple else tex.parens(t[0])
    return tex.Term(f"{base.text}_{{[{tex.index_latex(node._params['index'])}]}}")


class _GetItem(Primitive):
    """A recorded node keeps its own copy of an index holding arrays or lists: the VJP reads
    the index at backward(), after the caller may have reused that buffer (PyTorch, too,
    turns a NumPy index into a tensor of its own). Slices and integers need no copy."""

    def __call__(self, x, index):
        # A masked index's hidden values would pick entries silently. (Only masked arrays: a traced
        # comparison is an ndarray subclass that ag.compile must see as it is, to recompute it.)
        index = _unmasked_index(index, "getitem (an index)")
        parts = index if type(index) is tuple else (index,)
        if not all(type(part) in _PLAIN_INDEX for part in parts):  # (a slice of 0-d arrays, an __index__ object:
            parts = tuple(map(_as_number, parts))                  # as the ints they stand for, read once now)
            index = parts if type(index) is tuple else parts[0]
        held = [part for part in parts if not isinstance(part, _BASIC_INDEX)]
        for part in held:
            if isinstance(part, Tensor):  # (a Tensor holds floats: NumPy's own message would not say so)
                raise TypeError(f"getitem: an index is a Tensor of shape {part.shape} ({part.dtype}); expected "
                                "integers, slices or an integer or boolean ndarray")
        out = super().__call__(x, index=index)
        if held and out._prim is self:  # (another array-like, a torch tensor or memoryview: a NumPy copy)
            own = tuple(p if isinstance(p, (_BASIC_INDEX, np.ndarray, list)) else np.array(p) for p in parts)
            out._params = {"index": copy.deepcopy(own if type(index) is tuple else own[0])}
        return out


_BASIC_INDEX = (numbers.Integral, slice, type(None), type(Ellipsis), np.bool_)  # (nothing to copy; bool is Integral)
_PLAIN_INDEX = frozenset([int, type(None), type(Ellipsis), bool, np.ndarray, list])


def _as_number(part):
    """An index part with its mutable numbers read now: a slice's bounds and an object standing for an
    int (``__index__``: a 0-d integer array, a user's class) as ints; anything else as it is (NumPy judges it)."""
    if type(part) is slice:
        return slice(*map(_as_number, (part.start, part.stop, part.step)))
    if part is None or isinstance(part, (bool, np.bool_, list, tuple)) or \
            isinstance(part, np.ndarray) and part.ndim or not hasattr(type(part), "__index__"):
        return part
    try:
        return operator.index(part)
    except TypeError:  # (a 0-d float array: NumPy's own refusal, named by getitem)
        return part


def _unmasked_index(index, what):
    """``index`` with each masked array in it (none masked) as its plain data; one with a masked entry,
    at any depth (``t[[m]]``, ``t[(m,)]``), is refused naming ``what``: its hidden values would pick."""
    parts = index if type(index) is tuple else (index,)
    plain_array(list(parts), what)  # (the nested ones: refused, or left for NumPy, which reads their data)
    if any(isinstance(part, np.ma.MaskedArray) for part in parts):
        parts = tuple(plain_array(part, what) for part in parts)
        index = parts if type(index) is tuple else parts[0]
    return index


def _index(x, index):
    """x[index]; NumPy's IndexError named and explained (it names neither op nor shape)."""
    try:
        return x[index]
    except IndexError as error:
        raise IndexError(f"getitem: index {index!r} does not fit shape {x.shape} ({error}); "
                         f"expected {_index_hint(x.shape, index, str(error))}") from None


def _index_hint(shape, index, error):
    """What would have fitted ``shape``, for the case NumPy's IndexError ``error`` names."""
    if bounds := re.search(r"axis (\d+) with size (\d+)", error):
        axis, n = int(bounds[1]), int(bounds[2])
        return f"integers in [{-n}, {n - 1}] along axis {axis} (length {n})"
    if mask := re.search(r"along axis (\d+); size of axis is (\d+)", error):
        return (f"a boolean mask of length {mask[2]} along axis {mask[1]} (one entry per element; a mask "
                "over several axes has their shape)")
    if "integer (or boolean) type" in error:
        kinds = [part.dtype for part in (index if type(index) is tuple else (index,)) if isinstance(part, np.ndarray)]
        return (f"index arrays of an integer or boolean dtype, got {', '.join(map(str, kinds))} (convert "
                "with .astype(int))")
    if "shape mismatch" in error:
        return "index arrays whose shapes broadcast together (they pick elements pairwise)"
    if "too many indices" in error:
        return f"at most {len(shape)} indices, one per axis"
    return "integers, slices, ..., None, or integer or boolean arrays (lists of ints), one per axis"


getitem = _GetItem(_index, "getitem", view=True, latex=_getitem_latex,
                   vjps=(lambda g, out, x, index: _scatter_add(g, shape=x.shape, index=index),),
                   jvps=(lambda t, out, x, index: t[index],))
getitem.__doc__ = "``x[index]`` (basic and advanced indexing)."


def _scatter(g, shape, index):
    # getitem's inverse: zeros of `shape` with g added at `index` (repeated indices add up)
    result = np.zeros(shape, dtype=g.dtype)
    np.add.at(result, index, g)
    return result


_scatter_add = Primitive(_scatter, "scatter_add", vjps=(lambda g, out, grad, shape, index: g[index],),
                         jvps=(lambda t, out, grad, shape, index: _scatter(t, shape, index),))


def _offsets(arrays, axis):
    sizes = [a.size if axis is None else a.shape[axis] for a in arrays]
    return np.concatenate([[0], np.cumsum(sizes)]).tolist()


def _concatenate_vjps(g, out, *arrays, axis=0):
    """Every input's slice of g at once: one pass, not one pass per input."""
    bounds = _offsets(arrays, axis)
    if axis is None:
        return [g[bounds[i]:bounds[i + 1]].reshape(a.shape) for i, a in enumerate(arrays)]
    lead = (slice(None),) * (axis % out.ndim)
    return [g[lead + (slice(bounds[i], bounds[i + 1]),)] for i in range(len(arrays))]


def _stack_vjps(g, out, *arrays, axis=0):
    lead = (slice(None),) * (axis % out.ndim)
    return [g[lead + (i,)] for i in range(len(arrays))]


_concatenate = Primitive(lambda *arrays, axis=0: np.concatenate(arrays, axis=axis), "concatenate",
                         latex=lambda t, node: tex.call("\\mathrm{concatenate}" + tex.params_subscript(node, "axis"), *t))
_concatenate.vjp_all = _concatenate_vjps
_concatenate.jvp_all = lambda tangents, out, *arrays, axis=0: np.concatenate(
    [np.zeros_like(a) if t is None else t for t, a in zip(tangents, arrays)], axis=axis)
_stack = Primitive(lambda *arrays, axis=0: np.stack(arrays, axis=axis), "stack",
                   latex=lambda t, node: tex.call("\\mathrm{stack}" + tex.params_subscript(node, "axis"), *t))
_stack.vjp_all = _stack_vjps
_stack.jvp_all = lambda tangents, out, *arrays, axis=0: np.stack(
    [np.zeros_like(a) if t is None else t for t, a in zip(tangents, arrays)], axis=axis)


def _joined(tensors, op, axis, new_axis):
    """The tensors to join, as a list in their order, once ``axis`` is known to be an int (or None,
    flattening, where ``new_axis`` is False); else a TypeError naming ``op``. A set or a dict has no
    order of tensors to keep, so it is refused, as by NumPy and PyTorch."""
    if isinstance(tensors, (set, frozenset, dict, str)):
        raise TypeError(f"{op}: expected a list, tuple or generator of tensors, got a {type(tensors).__name__}"
                        + (" (no order to join them in)" if not isinstance(tensors, str) else ""))
    tensors = listed(tensors, f"{op}: tensors", "a list, tuple or generator of tensors")
    if not tensors:
        raise ValueError(f"{op}: expected at least one tensor, got none")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) and not (axis is None and not new_axis):
        shape = np.shape(getattr(tensors[0], "_array", tensors[0]))
        wanted = "an int" if new_axis else "an int or None (flattened first)"
        raise TypeError(f"{op}: axis={axis!r:.40} for inputs of shape {shape}; expected {wanted}")
    return tensors


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None``: flattened first), as NumPy.

    tensors: a list, tuple or generator of tensors (or arrays) whose shapes agree except along ``axis``.
    Returns a Tensor whose ``axis`` is as long as theirs together."""
    return _concatenate(*_joined(tensors, "concatenate", axis, new_axis=False), axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis.

    tensors: a list, tuple or generator of k tensors (or arrays) of one shape s. Returns a Tensor of
    shape s with a new axis of length k inserted at ``axis``."""
    return _stack(*_joined(tensors, "stack", axis, new_axis=True), axis=axis)


# --- more elementwise functions ------------------------------------------------
def _softplus(x):
    """log(1 + exp(x)) elementwise, without overflow (NumPy's logaddexp(0, x))."""
    return np.logaddexp(x.dtype.type(0), x)


def _sigmoid_of(x):
    return _apply(sigmoid, x)


softplus = Primitive(_softplus, "softplus", doc="""softplus(x): log(1 + exp(x)) elementwise, x's shape, exact for large |x|.

    d/dx = sigmoid(x).""", vjps=(lambda g, out, x: g * _sigmoid_of(x),),
                     jvps=(lambda t, out, x: t * _sigmoid_of(x),),
                     latex=lambda t, node: tex.function("softplus", *t))
log1p = Primitive(np.log1p, "log1p", doc="log1p(x): log(1 + x) elementwise, accurate for small x; x's shape; d/dx = 1 / (1 + x).",
                  vjps=(lambda g, out, x: g / (1 + x),), jvps=(lambda t, out, x: t / (1 + x),),
                  latex=lambda t, node: tex.call("\\log", tex.Term(f"1 + {tex.right_of_sum(t[0], tex.SUM).text}")))
# d/dx from exp(x), not out + 1: that cancels to 0 for x <= -37.4 in float64 (exp(-40) is 4.2e-18)
expm1 = Primitive(np.expm1, "expm1", doc="expm1(x): exp(x) - 1 elementwise, accurate for small x; x's shape; d/dx = exp(x).",
                  vjps=(lambda g, out, x: g * _apply(exp, x),), jvps=(lambda t, out, x: t * _apply(exp, x),),
                  latex=lambda t, node: tex.Term(f"e^{{{t[0].text}}} - 1", tex.SUM))
sin = Primitive(np.sin, "sin", doc="sin(x): the sine elementwise (radians), x's shape; d/dx = cos(x).",
                vjps=(lambda g, out, x: g * _apply(cos, x),),
                jvps=(lambda t, out, x: t * np.cos(x),), latex=lambda t, node: tex.prefix("\\sin", t[0]))
cos = Primitive(np.cos, "cos", doc="cos(x): the cosine elementwise (radians), x's shape; d/dx = -sin(x).",
                vjps=(lambda g, out, x: -g * _apply(sin, x),),
                jvps=(lambda t, out, x: -t * np.sin(x),), latex=lambda t, node: tex.prefix("\\cos", t[0]))


def _leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x (elementwise, x's shape and dtype)."""
    if not isinstance(negative_slope, numbers.Real) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a real number (e.g. 0.01), got {negative_slope!r} "
                        f"({type(negative_slope).__name__}) for an input of shape {x.shape}")
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def _leaky_slope(g, out, x, negative_slope=0.01):
    # a slope of 0 blocks the gradient: selected, not multiplied (0 * inf would be NaN)
    slope = _raw(x).dtype.type(negative_slope)
    return _pick(_raw(x) > 0, g, g * slope if slope else 0.0)


leaky_relu = _Op(_leaky_relu, "leaky_relu", doc="""leaky_relu(x, negative_slope=0.01): x where x > 0, else negative_slope * x.

    Elementwise, x's shape; d/dx = 1 where x > 0, else negative_slope.""", vjps=(_leaky_slope,), jvps=(_leaky_slope,),
                 latex=lambda t, node: tex.call("\\mathrm{LeakyReLU}" + tex.params_subscript(node, "negative_slope"), *t))


def _in_bounds(x, lo, hi):
    x = _raw(x)
    return (x >= _raw(lo)) & (x <= _raw(hi))


_clip = Primitive(lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), "clip",
                  # the output is hi wherever max(x, lo) > hi (everywhere when lo > hi, as NumPy)
                  vjps=(lambda g, out, x, lo, hi: _pick(_in_bounds(x, lo, hi), g, 0.0),
                        lambda g, out, x, lo, hi: _pick((_raw(x) < _raw(lo)) & (_raw(lo) <= _raw(hi)), g, 0.0),
                        lambda g, out, x, lo, hi: _pick(np.maximum(_raw(x), _raw(lo)) > _raw(hi), g, 0.0)),
                  latex=lambda t, node: tex.function("clip", *t))
_clip.jvps = _clip.vjps  # elementwise


def clip(x, lo=None, hi=None):
    """``x`` limited to [lo, hi] elementwise (NumPy's ``clip``; None: no bound on that side).

    Args:
        x: Tensor or array; lo, hi: scalars, arrays or Tensors broadcasting with x.
    Returns:
        Tensor of the broadcast shape. The gradient passes to x where lo <= x <= hi
        (as PyTorch's clamp), to lo where x < lo and to hi where x > hi.
    """
    if lo is None and hi is None:
        raise ValueError("clip: give at least one of lo and hi (both are None)")
    return _clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


# --- softmax family: examples are columns, classes along axis 0 by default ----------
def _shifted(x, axis):
    """x minus its maximum along ``axis`` (kept), and that maximum: exp of the shifted values
    never overflows and their log-sum-exp lies in [0, log N]. An empty axis has no maximum (-inf,
    then no shift): its log-sum-exp is -inf, its softmax empty, as in PyTorch and JAX."""
    top = np.max(_raw(x), axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)  # all -inf (or inf) along the axis: no shift
    return x - top, top


def _log_sum_exp_kept(shifted, axis):
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, shifted by the maximum so it never overflows."""
    axes = _axes(axis, x.ndim)
    shifted, top = _shifted(x, axes)
    out = _log_sum_exp_kept(shifted, axes) + top
    return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])


def _softmax_weights(x, axis):
    # The softmax along the reduced axes, from the shifted values (differentiable under
    # create_graph; the shift is a constant, which softmax does not see). exp(x - logsumexp(x))
    # would lose the log-sum term to rounding once |x| >~ 1e16 and sum to more than 1.
    axes = _axes(axis, x.ndim)
    shifted = _shifted(x, axes)[0]
    return _apply(exp, shifted - _apply(logsumexp, shifted, axis=axes, keepdims=True))


logsumexp = _Op(_logsumexp, "logsumexp", doc="""logsumexp(x, axis=None, keepdims=False): log(sum(exp(x), axis)), stable for any finite x.

    x of any shape; the result has NumPy's reduction shape. d/dx = softmax of x along axis.""",
                vjps=(lambda g, out, x, axis=None, keepdims=False:
                      _spread(g, x.shape, axis) * _softmax_weights(x, axis),),
                jvps=(lambda t, out, x, axis=None, keepdims=False: np.sum(
                    t * _softmax_weights(x, axis), axis=_axes(axis, x.ndim), keepdims=keepdims),),
                latex=lambda t, node: tex.call(
                    "\\log\\sum" + tex.params_subscript(node, "axis", "keepdims") + " \\exp", *t))


def _softmax(x, axis=0):
    """exp(x) / sum(exp(x)) along ``axis`` (classes), shifted by the maximum."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))  # (an empty axis: empty, see _shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_rule(g, out, x, axis=0):  # the Jacobian is symmetric: the same rule both ways
    return out * (g - (g * out).sum(axis=axis, keepdims=True))


softmax = _Op(_softmax, "softmax", doc="""softmax(x, axis=0): exp(x) / sum(exp(x), axis, keepdims), x's shape.

    Column-as-example layout: (k, m) logits, k classes, m examples; each column sums to 1.""", vjps=(_softmax_rule,), jvps=(_softmax_rule,),
              latex=lambda t, node: tex.call("\\mathrm{softmax}" + tex.params_subscript(node, "axis"), *t))


def _log_softmax(x, axis=0):
    """x - logsumexp(x) along ``axis``: exact log-probabilities, even where softmax underflows.
    Computed from the shifted values (x - max), so the log-sum term survives huge logits."""
    shifted = _shifted(x, axis)[0]
    return shifted - _log_sum_exp_kept(shifted, axis)


log_softmax = _Op(_log_softmax, "log_softmax", doc="""log_softmax(x, axis=0): x - logsumexp(x, axis, keepdims=True), x's shape.

    (k, m) logits with examples as columns; exact where softmax would underflow to 0.""",
                  vjps=(lambda g, out, x, axis=0: g - _apply(exp, out) * g.sum(axis=axis, keepdims=True),),
                  jvps=(lambda t, out, x, axis=0: t - (np.exp(out) * t).sum(axis=axis, keepdims=True),),
                  latex=lambda t, node: tex.call("\\log\\mathrm{softmax}" + tex.params_subscript(node, "axis"), *t))


# --- variance and standard deviation (NumPy's ddof=0 by default) --------------------
def _per_dof(shape, axis, ddof):
    """1 / (N - ddof), NumPy's divisor; inf when no degree of freedom is left (ddof >= N), where
    NumPy's var is nan or inf (with its RuntimeWarning) and so is the gradient, as in PyTorch."""
    dof = _count(shape, axis) - ddof
    return 1.0 / dof if dof > 0 else np.inf


def _moment(reduce, x, axis, keepdims, ddof):
    """``reduce`` (np.var or np.std) of x over ``axis``, NumPy's shapes. NumPy sums float32 squares
    in float32, which overflows from about 1.8e19 an entry where the answer fits (std([1e20, 1e20,
    0]) was inf, and its gradient, divided by it, 0): float32 is accumulated in float64 and rounded
    once, as PyTorch's CPU var and std accumulate in double. float64 is NumPy's, bit for bit."""
    if x.ndim == 0 and axis is not None:  # (as _reduce: axis 0 or -1 of a 0-d array reduces nothing)
        axis = _axes(axis, 0)
    if x.dtype.char == "f":
        return reduce(x, axis=axis, keepdims=keepdims, ddof=ddof, dtype=np.float64).astype(np.float32)
    return reduce(x, axis=axis, keepdims=keepdims, ddof=ddof)


# NumPy sums float16 squares in float16: over 70,000 N(0, 1) entries that sum passes 65,504 (inf)
@float64_for_half
def _var(x, axis=None, keepdims=False, ddof=0):
    """Mean squared deviation from the mean over ``axis``, divided by N - ddof."""
    return _moment(np.var, x, axis, keepdims, ddof)


@float64_for_half  # (as var: std's VJP divides by it, and an inf std gave a gradient of 0)
def _std(x, axis=None, keepdims=False, ddof=0):
    """sqrt(var(x, axis, ddof)), computed as NumPy's std (not from a rounded var)."""
    return _moment(np.std, x, axis, keepdims, ddof)


def _centered(x, axis):
    return x - x.mean(axis=_axes(axis, x.ndim), keepdims=True)


# float16 VJPs go through _float64_rule: centred in float16, x minus the mean rounded to float16
# shifted every entry ([1000, 1000.5, 1000, 1000.5] got [0, .25, 0, .25] for var, not +-.125)
def _var_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    return _spread(g, x.shape, axis) * _centered(x, axis) * (2.0 * _per_dof(x.shape, axis, ddof))


@float64_for_half  # (a sum over N terms)
def _var_jvp(t, out, x, axis=None, keepdims=False, ddof=0):
    if x.dtype.char == "f":  # (float32 as _moment: t (x - mean) overflows where the tangent fits; the
        t, x = t.astype(np.float64), x.astype(np.float64)  # float64 tangent is rounded once where it is taken)
    return np.sum(t * _centered(x, axis), axis=_axes(axis, x.ndim), keepdims=keepdims) * (
        2.0 * _per_dof(x.shape, axis, ddof))


def _over_std(value, std):
    """value / std, and 0 where std is 0. std is identically 0 over a single entry (N = 1, as
    in a batch of one), so its derivative there is 0, not 0/0; at other points of zero spread
    std is not differentiable and 0 is PyTorch's choice (its backward masks result == 0)."""
    zero = _raw(std) == 0
    return _pick(zero, 0.0, value / _pick(zero, 1.0, std))


def _std_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    scaled = _spread(g, x.shape, axis) * _centered(x, axis) * _per_dof(x.shape, axis, ddof)
    return _over_std(scaled, out.reshape(_kept_shape(x.shape, axis)))


def _std_jvp(t, out, x, axis=None, keepdims=False, ddof=0):
    return _over_std(_var_jvp(t, out, x, axis, keepdims, ddof) / 2, out)


def _std_float64(x, **params):  # std's rules divide by it: for float16 x, recomputed in float64 (not rounded)
    return _apply(std, x, **params)


var = _Op(_var, "var", doc="""var(x, axis=None, keepdims=False, ddof=0): NumPy's variance (divided by N - ddof).

    The result has NumPy's reduction shape (float16 and float32 computed in float64, rounded
    once); d/dx = 2 (x - mean) / (N - ddof).""", vjps=(_float64_rule(_var_vjp),),
          jvps=(_var_jvp,),
          latex=lambda t, node: tex.call("\\mathrm{Var}" + tex.params_subscript(node, "axis", "keepdims", "ddof"), *t))
std = _Op(_std, "std", doc="""std(x, axis=None, keepdims=False, ddof=0): sqrt of ``var``; NumPy's shapes and ddof.

    d/dx = (x - mean) / ((N - ddof) std), taken as 0 where std is 0.""", vjps=(_float64_rule(_std_vjp, _std_float64),),
          jvps=(_float64_rule(_std_jvp, _std_float64),),
          latex=lambda t, node: tex.call("\\mathrm{std}" + tex.params_subscript(node, "axis", "keepdims", "ddof"), *t))


# --- adding and removing axes of length 1 ----------------------------------------------
def _squeeze(x, axis=None):
    """x without the given length-1 axes (all of them when axis is None)."""
    for a in _axes(axis, x.ndim) if axis is not None else ():
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}; "
                             "only axes of length 1 can be removed")
    return np.squeeze(x, axis=axis)  # (a list of axes arrives as a tuple: _Op.__call__)


def _expand_dims(x, axis):
    """x with a length-1 axis at each of ``axis`` (an int or ints, counted in the result): read as
    NumPy reads it, but by ``_axes``, so a bool (to NumPy the int 1) is refused as by every op."""
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return np.expand_dims(x, _axes(axes, x.ndim + len(axes)))


_RESHAPED = dict(vjps=(lambda g, out, x, axis=None: g.reshape(x.shape),),
                 jvps=(lambda t, out, x, axis=None: t.reshape(out.shape),), latex=_shape_latex("axis"))
squeeze = _Op(_squeeze, "squeeze", view=True, **_RESHAPED,
              doc="squeeze(x, axis=None): x without length-1 axes (NumPy's squeeze), sharing its data.")
expand_dims = _Op(_expand_dims, "expand_dims", view=True, **_RESHAPED,
                  doc="expand_dims(x, axis): x with a new length-1 axis at ``axis`` (NumPy's), sharing its data.")
expand_dims.axes_in_result = True  # (its axis counts the result's axes, one more per new axis)


# --- comparisons: constant boolean arrays, as NumPy gives ---------------------
def _compared_number(value):
    """Whether ``value``, beside a tensor in a comparison, is a number to compare in the tensor's
    dtype, as t - value computes it: a Python or NumPy scalar, or a 0-d numeric array (NumPy
    hands ``np.float64(0.1) < t`` over as one; PyTorch's 0-d tensors do not promote either)."""
    return is_scalar_number(value) or type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "biuf"


def _compare(ufunc, symbol=None):
    label = f"{ufunc.__name__} ({symbol})" if symbol else ufunc.__name__

    def compare(a, b):
        if isinstance(a, Tensor) and _compared_number(b):
            b = _number_like(b, a, label)
        elif isinstance(b, Tensor) and _compared_number(a):
            a = _number_like(a, b, label)
        try:
            if current().tracer is not None:  # ag.compile recomputes it on every replay
                return current().tracer.numpy_call(ufunc, (a, b), {})
        except ValueError as error:
            raise _unbroadcast_error(label, a, b, error) from None
        # a masked entry refused (NumPy would give a masked result, its hidden value compared)
        a, b = plain_array(_raw(a), label), plain_array(_raw(b), label)
        try:
            return ufunc(a, b)
        except TypeError:  # (None, a str: NumPy's message names neither the comparison nor the operands)
            raise TypeError(f"{label}: cannot compare {_operand(a)} with {_operand(b)}; expected numbers, "
                            "arrays or Tensors") from None
        except ValueError as error:
            raise _unbroadcast_error(label, a, b, error) from None
    return compare


def _unbroadcast_error(label, a, b, error):
    """NumPy's ``error`` comparing ``a`` with ``b``; "operands could not be broadcast", which names no
    comparison, as the ShapeError arithmetic gives."""
    if "broadcast" not in str(error):
        return error
    return diagnostics.broadcast_error(label, [np.shape(_raw(a)), np.shape(_raw(b))], ["left", "right"])


def _number_like(number, t, label):
    """``number`` in ``t``'s dtype, or the TypeError an operand beyond it gets (``x > 10**400``)."""
    try:
        return t._array.dtype.type(number)
    except OverflowError as error:
        raise TypeError(f"{label}: cannot make a numeric array from {type(number).__name__}: {error}") from None


def _operand(value):
    """How a comparison's error names an operand: an array by shape and dtype, anything else by type and value."""
    return f"an array of shape {value.shape} and dtype {value.dtype}" if isinstance(value, np.ndarray) else \
        f"{type(value).__name__} {value!r:.40}"


def _writable(self, label, remedy):
    """Refuse ``label`` (a write into ``self``'s own array) on a tensor that requires grad while recording,
    or whose array is read-only (``remedy``: what to write instead); returns whether recording is on."""
    recording = current().grad_enabled
    if recording and self.requires_grad:
        raise GraphError(f"{label} on a tensor that requires grad would change it in place while "
                         "its graph may still need the old value; do parameter updates inside "
                         "`with ag.no_grad():`")
    if not self._array.flags.writeable:
        raise GraphError(f"{label}: the tensor's data (shape {self.shape}) is read-only (a broadcast_to "
                         "view, whose entries share memory, or an array made read-only); expected a writable "
                         f"tensor: {remedy}, or copy it first (ag.Tensor(t.data))")
    return recording


def _written_value(other, self, label):
    """``other`` as the array (or number in the tensor's dtype, as t - b has it) written into ``self``."""
    return (other._read() if isinstance(other, Tensor) else
            _number_like(other, self, label) if is_scalar_number(other) else
            to_float_array(other, label, copy=False))  # (complex, ints beyond float64: refused by name)


def _inplace(self, ufunc, other, symbol, method):
    """``self <symbol>= other`` (shapes: other broadcasts to self's, which stays; for ``@=`` a square
    right side): the tensor's own array changes, so its aliases and views see it, and its version is
    bumped, as in NumPy and PyTorch. A recorded ``other`` (requires grad, while recording) is recorded
    too (``_record_inplace``); on a tensor that requires grad while recording it is refused."""
    recording = _writable(self, f"'{symbol}='", f"write t = t {symbol} other")
    if recording and isinstance(other, Tensor) and other.requires_grad:
        return _record_inplace(self, other, symbol, method)
    value = _written_value(other, self, f"'{symbol}='")
    if symbol == "@" and np.ndim(value) < 2:  # (NumPy's out= would spread a vector product over t: refused, as by a @= v)
        raise _no_broadcast(symbol, np.shape(value), self.shape)
    try:
        ufunc(self._array, value, out=self._array)
    except ValueError:
        raise _no_broadcast(symbol, np.shape(value), self.shape) from None
    except BaseException as error:
        raise _written_then_raised(self, f"'{symbol}='", error)
    mark_modified((self,))
    return self


def _written_then_raised(self, label, error):
    """``error``, raised by NumPy during a write into ``self``'s array, after ``self`` is marked changed:
    NumPy may write entries before it raises (an error state of 'raise', a warning made an error, an
    interrupt), so a graph that used the old value must be refused at backward()."""
    mark_modified((self,))
    error.add_note(f"autograd_lite: raised by {label} on a tensor of shape {self.shape}, whose entries may have "
                   "been written: its version is bumped, so a graph that used the old value is refused at backward()")
    return error


def _setitem(self, index, value):
    """``t[index] = value`` (NumPy's indexing; value broadcasts to ``t[index]``'s shape): written into the
    tensor's own array in its dtype, its version bumped, as ``+=`` is. So ``W[:, 0] -= lr * g`` under
    ``ag.no_grad()`` updates W's entries, as in NumPy and PyTorch. The write is not recorded: while
    recording, a value that requires grad is refused (its gradient would be lost), as is a tensor that
    requires grad (as for ``+=``)."""
    label, remedy = "t[index] = value", "build the new tensor as an expression (ag.where(mask, value, t))"
    if _writable(self, label, remedy) and isinstance(value, Tensor) and value.requires_grad:
        raise GraphError(f"{label}: the value requires grad, and an assignment into a tensor is not recorded, so "
                         f"its gradient would be lost; {remedy}")
    array, index = _written_value(value, self, label), _unmasked_index(index, f"{label} (the index)")
    try:
        self._array[index] = array
    except (IndexError, ValueError, TypeError) as error:  # (refused before any write)
        shown = repr(index)
        raise type(error)(f"{label}: index {shown if len(shown) <= 80 else shown[:77] + '...'} on a tensor of shape "
                          f"{self.shape}, a value of shape {np.shape(array)}: {error}; expected an index that fits the "
                          "shape and a value that broadcasts to the entries it picks") from None
    except BaseException as error:
        raise _written_then_raised(self, label, error)
    mark_modified((self,))


def _record_inplace(self, other, symbol, method):
    """``self <symbol>= other``, ``other`` requiring grad, ``self`` not: recorded as in PyTorch. The op
    runs on a snapshot of self's old value (multiply's and divide's VJPs need it, and self's array is
    about to change), its result is written into self's array (in self's dtype), and self becomes the
    op's output, so backward() reaches ``other`` through self."""
    if shares_memory_with_another(self):  # (a view or detach() deleted since no longer counts)
        raise GraphError(f"'{symbol}=' with a right side that requires grad, on a tensor that shares its memory "
                         "with a view or a detach() of it, still alive (or is one): PyTorch would rewrite the "
                         "history of every tensor sharing that memory, which autograd_lite cannot do, so the "
                         f"others would silently miss the gradient; write t = t {symbol} w (a new tensor) instead")
    if current().grad_depth:
        from .transforms import closed_over  # (lazy: the transforms are built on the ops)
        if closed_over(self):  # (torch.func refuses it too: "mutating a captured tensor")
            raise GraphError(f"'{symbol}=' inside a transform (ag.grad, ag.jvp, ...) on a tensor its f closes over, "
                             "with a right side the transform differentiates, would leave that tensor on the "
                             f"transform's own graph; write t = t {symbol} w (a new tensor) instead")
    tracer = current().tracer
    if tracer is not None:  # the snapshot and the write into self are no ops a replay could repeat
        tracer.refusals.append(f"records '{symbol}=' into a tensor while it runs; a replay does not repeat that. "
                               f"Write it as an expression (t = t {symbol} w)")
    out = getattr(Tensor._wrap(self._array.copy()), method)(other)
    if out.shape != self.shape:
        raise _no_broadcast(symbol, other.shape, self.shape)
    try:
        self._array[...] = out._array  # (cast to self's dtype, as an in-place op keeps it)
    except BaseException as error:
        raise _written_then_raised(self, f"'{symbol}='", error)
    mark_modified((self,))
    self._requires_grad, self._prim, self._parents, self._params, self._seq = (
        True, out._prim, out._parents, out._params, out._seq)
    # Recorded as of its own change, so only a later one is refused at backward; unless ``other`` changed
    # after the op began (another thread), which that stamp would hide: then as of the op's start.
    unchanged = all(p._vc is None or p._vc.stamp <= out._epoch for p in out._parents)
    self._epoch = self._vc.stamp if unchanged else out._epoch
    if out._site is not None:
        self._site = out._site
    return self


def _no_broadcast(symbol, shape, own_shape):
    """The ShapeError of ``t <symbol>= other`` whose ``other`` of ``shape`` does not broadcast to t's (for
    ``@=``: does not give t's shape)."""
    if symbol == "@":
        square = f"shape {(own_shape[-1],) * 2}" if own_shape else "none: a 0-d tensor has no matrix product"
        return ShapeError(f"'@=': the tensor of shape {own_shape} @ a right side of shape {shape} does not give "
                          f"the tensor's shape; expected a square right side, {square} (an in-place update "
                          "keeps the tensor's shape)")
    return ShapeError(f"'{symbol}=': the right side has shape {shape}, which does not broadcast to the "
                      f"tensor's shape {own_shape}; expected a shape that does (an in-place update keeps the "
                      "tensor's shape)")


# --- Tensor operators and methods ----------------------------------------------
def _length(t):
    """``len(t)``: the size of its first axis, as an ndarray's; a 0-d tensor has none."""
    if t.ndim == 0:
        raise TypeError(f"len() of a 0-d Tensor (value {t._array.item()!r}); it has no axis to count: use t.size, "
                        "or t.item() for the number")
    return len(t._array)


def _rows(t):
    """``for row in t``: t[0], t[1], ... (recorded, as indexing is); a 0-d tensor has no rows."""
    if t.ndim == 0:  # (else Python would call t[0] until IndexError: silently no rows at all)
        raise TypeError(f"iteration over a 0-d Tensor (value {t._array.item()!r}); use t.item() for the number")
    return (getitem(t, index=i) for i in range(len(t)))


def _install():
    def reflected(op):
        return lambda self, other: op(other, self)

    def in_place(ufunc, symbol, method):
        return lambda self, other: _inplace(self, ufunc, other, symbol, method)

    for name, op in [("add", add), ("sub", subtract), ("mul", multiply), ("truediv", divide),
                     ("pow", power), ("matmul", matmul)]:
        setattr(Tensor, f"__{name}__", lambda self, other, op=op: op(self, other))
        setattr(Tensor, f"__r{name}__", reflected(op))
    for name, ufunc, symbol in [("add", np.add, "+"), ("sub", np.subtract, "-"), ("mul", np.multiply, "*"),
                                ("truediv", np.true_divide, "/"), ("pow", np.power, "**"), ("matmul", np.matmul, "@")]:
        setattr(Tensor, f"__i{name}__", in_place(ufunc, symbol, f"__{name}__"))
    Tensor.__setitem__ = _setitem
    for name, ufunc, symbol in [("lt", np.less, "<"), ("le", np.less_equal, "<="), ("gt", np.greater, ">"),
                                ("ge", np.greater_equal, ">="), ("eq", np.equal, "=="),
                                ("ne", np.not_equal, "!=")]:
        setattr(Tensor, f"__{name}__", _compare(ufunc, symbol))
    Tensor.__len__ = _length
    Tensor.__neg__ = lambda self: negative(self)
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = lambda self: abs(self)
    Tensor.__getitem__ = lambda self, index: getitem(self, index=index)
    Tensor.__iter__ = _rows
    Tensor.T = property(lambda self: transpose(self), doc="Transpose (all axes reversed), recorded.")
    for name, method in [("transpose", _transpose_method), ("swapaxes", _swapaxes_method)]:
        method.__name__, method.__qualname__ = name, f"Tensor.{name}"  # (so help() and a TypeError name it)
        setattr(Tensor, name, method)


def _shape_args(args):  # t.reshape(2, 3) or t.reshape((2, 3)); an np.int64 is one axis too
    return args[0] if len(args) == 1 and not isinstance(args[0], numbers.Integral) else args


def _transpose_method(self, *axes):
    """``t.transpose()`` (axes reversed, as ``t.T``), ``t.transpose(1, 0, 2)`` or ``t.transpose((1, 0, 2))``:
    ``ag.transpose(t, axes)``, recorded; shape ``t.shape[axes[0]], t.shape[axes[1]], ...``."""
    axes = _shape_args(axes) if axes else None  # (t.transpose(None): reversed, as NumPy's)
    return transpose(self, axes=None if axes is None else tuple(axes))


def _swapaxes_method(self, a, b):
    """``t.swapaxes(a, b)``: t with axes ``a`` and ``b`` exchanged (their lengths swap in the shape),
    recorded as ``ag.transpose``."""
    if isinstance(a, bool) or isinstance(b, bool):  # (an int to NumPy: True would be axis 1)
        raise TypeError(f"swapaxes: axes {a!r}, {b!r} for a tensor of shape {self.shape}; a bool is no axis, expected ints")
    try:
        a, b = normalize_axis_tuple((a, b), self.ndim, "swapaxes", allow_duplicate=True)  # (AxisError when out of range)
    except TypeError:
        raise TypeError(f"swapaxes: axes {a!r}, {b!r} for a tensor of shape {self.shape}; expected ints") from None
    return transpose(self, axes=tuple(b if i == a else a if i == b else i for i in range(self.ndim)))


# NumPy's protocols (np.sum(t), ndarray * t) and the further Tensor methods: numpy_api.py
_install()
for _op in [v for v in list(globals().values()) if isinstance(v, Primitive)]:
    _op.builtin = True  # (diagnostics.explain_failure names an op of this table with its call)
