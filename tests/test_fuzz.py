"""Fuzzing: random expression graphs mixing every primitive, with random
broadcasting shapes, in float32 and float64; every input's autodiff gradient
must match central differences computed in float64.

A program is a list of steps over a pool of values: leaves (random inputs) and
op outputs. Each step applies one primitive to values drawn from the pool,
sometimes with a new leaf of a broadcast-compatible shape or a Python scalar.
Values are kept where finite differences are valid: away from the kinks of
relu/abs/maximum/minimum/max (by a margin), away from the singularities of
log/sqrt/divide/power (arguments made positive or bounded away from 0), and
bounded in size. The cost is the sum over op outputs of ``sum(out * R)`` with
fixed random ``R``, so every op's gradient matters.

Default run: a few seconds. ``AG_SLOW=1``: the "slow" hypothesis profile
(tests/conftest.py), 1,000 examples per dtype plus 40 per (primitive, dtype).
"""
import os

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import autograd_lite as ag

SLOW = os.environ.get("AG_SLOW") == "1"
KINK_MARGIN = 0.02  # finite differences (eps 1e-6) never cross a kink this far away
EPS = 1e-6
TOLERANCE = {np.float64: 1e-6, np.float32: 2e-3}  # relative difference per input
MAX_DIM, MAX_NDIM = 3, 3


class Program:
    """A random expression: leaves and op steps over a pool of values.

    ``values`` holds each pool entry's float64 value while the program is being
    generated, so each new step can be made safe for finite differences.
    """

    def __init__(self, rng):
        self.rng = rng
        self.leaves = []    # float64 arrays
        self.steps = []     # (name, fn or leaf index, argument slots, cost weight)
        self.values = []    # float64 value of each slot
        self.ops_used = []  # primitive names, for coverage statistics

    # Choices come from the program's own generator, seeded by hypothesis: uniform over the
    # options (hypothesis's own draws lean heavily towards the first option and small sizes).
    def choice(self, options):
        return options[self.rng.integers(len(options))]

    def integer(self, low, high):
        """Uniform integer in [low, high]."""
        return int(self.rng.integers(low, high + 1))

    def coin(self):
        return bool(self.rng.integers(2))

    def shape(self):
        return tuple(self.integer(1, MAX_DIM) for _ in range(self.integer(0, MAX_NDIM)))

    def leaf(self, shape):
        value = self.rng.uniform(-2, 2, size=shape)
        self.leaves.append(value)
        self.steps.append((None, len(self.leaves) - 1, (), None))
        self.values.append(value)
        return len(self.values) - 1

    def op(self, name, fn, *slots):
        """Add ``fn(dtype, *tensors) -> Tensor`` applied to ``slots``; returns the new slot."""
        with ag.no_grad():
            out = fn(np.float64, *[ag.Tensor(self.values[s]) for s in slots])
        weight = self.rng.uniform(0.5, 1.5, size=out.shape) * self.rng.choice([-1.0, 1.0], size=out.shape)
        self.steps.append((name, fn, slots, weight))
        self.values.append(out.data)
        self.ops_used.append(name)
        return len(self.values) - 1

    def cost(self, *leaves):
        """Scalar cost of the program on ``leaves`` (Tensors, all of one dtype)."""
        dtype = leaves[0].dtype.type
        slots, total = [], 0.0
        for name, fn, args, weight in self.steps:
            if name is None:
                slots.append(leaves[fn])
                continue
            out = fn(dtype, *[slots[a] for a in args])
            assert out.dtype == dtype, f"{name} turned {dtype.__name__} into {out.dtype}"
            slots.append(out)
            total = total + (out * weight.astype(dtype)).sum()
        return total

    # --- making values safe ---------------------------------------------------------
    def bounded(self, x, limit):
        """``x``, or ``x`` scaled so its values lie in [-limit, limit]."""
        peak = np.abs(self.values[x]).max(initial=0.0)
        if peak <= limit:
            return x
        scale = float(limit / peak)  # a Python float, so float32 stays float32 (NumPy 2 promotion)
        return self.op("multiply", lambda d, t: t * scale, x)

    def positive(self, x, floor=0.3):
        """``x`` if all its values exceed ``floor``, else square(x) + 0.5 (>= 0.5 everywhere)."""
        if self.values[x].size and self.values[x].min() > floor:
            return x
        return self.op("square", lambda d, t: ag.square(t) + 0.5, self.bounded(x, 3.0))

    def nonzero(self, x):
        """``x`` if bounded away from 0, else its positive version."""
        if self.values[x].size and np.abs(self.values[x]).min() > 0.3:
            return x
        return self.positive(x)


SHIFTS = (0.0, 0.25, -0.35, 0.6, -0.8, 1.1, -1.45, 1.9)


def _shift_away_from_zero(values):
    """A shift c from SHIFTS with |values + c| > KINK_MARGIN everywhere, or None."""
    return next((c for c in SHIFTS if np.abs(values + c).min(initial=np.inf) > KINK_MARGIN), None)


def partner_shape(p, shape):
    """A shape that broadcasts with ``shape`` ((3, 1) with (1, 4) style), at most MAX_NDIM axes."""
    dims = [p.choice([n, 1] if n != 1 else [1, 2, 3]) for n in shape]
    dropped = p.integer(0, len(dims))  # fewer leading axes broadcast too
    dims = dims[dropped:]
    if not dropped and len(dims) < MAX_NDIM and p.coin():  # or one more
        dims.insert(0, p.integer(1, MAX_DIM))
    return tuple(dims)


def partner(p, x):
    """Second operand for a binary op on slot ``x``: ("slot", index) or ("scalar", value)."""
    kind = p.choice(["slot", "leaf", "scalar"])
    if kind == "scalar":
        return "scalar", p.choice([1.5, -0.7, 2.0])
    if kind == "slot":
        fitting = [s for s in range(len(p.values)) if _broadcasts(p.values[x].shape, p.values[s].shape)]
        return "slot", p.choice(fitting)  # x itself always fits
    shape = partner_shape(p, p.values[x].shape)
    return "slot", p.leaf(shape)


def _broadcasts(a, b):
    try:
        return len(np.broadcast_shapes(a, b)) <= MAX_NDIM
    except ValueError:
        return False


def binary(p, name, x, y, fn):
    """Apply ``fn(t, u)`` to slot ``x`` and partner ``y``, in a random order."""
    swap = p.coin()
    kind, other = y
    if kind == "scalar":
        return p.op(name, (lambda d, t: fn(other, t)) if swap else (lambda d, t: fn(t, other)), x)
    return p.op(name, lambda d, t, u: fn(u, t) if swap else fn(t, u), x, other)


# --- one builder per primitive: build(p, x) adds a step using slot x ---------
ARITHMETIC = {
    "add": (lambda t, u: t + u, ag.add),
    "subtract": (lambda t, u: t - u, ag.subtract),
    "multiply": (lambda t, u: t * u, ag.multiply),
}


def build_arithmetic(name):
    def build(p, x):
        fn = ARITHMETIC[name][p.integer(0, 1)]  # the operator or the function
        binary(p, name, p.bounded(x, 10.0), partner(p, x), fn)
    return build


def build_divide(p, x):
    kind, other = partner(p, x)
    if p.coin():  # x is the numerator
        if kind == "scalar":
            p.op("divide", lambda d, t: t / other, x)
        else:
            p.op("divide", lambda d, t, u: ag.divide(t, u), x, p.nonzero(other))
    elif kind == "scalar":  # scalar / x, via __rtruediv__
        p.op("divide", lambda d, t: other / t, p.nonzero(x))
    else:
        p.op("divide", lambda d, t, u: u / t, p.nonzero(x), other)


def build_power(p, x):
    variant = p.choice(["integer", "real", "tensor exponent", "scalar base"])
    if variant == "integer":
        exponent = p.choice([2, 3])
        p.op("power", lambda d, t: t ** exponent, p.bounded(x, 3.0))
    elif variant == "real":
        exponent = p.choice([0.5, -1.0, 1.5, -0.5])
        p.op("power", lambda d, t: t ** exponent, p.positive(p.bounded(x, 3.0)))
    elif variant == "tensor exponent":
        kind, y = partner(p, x)
        exponent = p.bounded(x if kind == "scalar" else y, 2.0)
        p.op("power", lambda d, t, u: ag.power(t, u), p.positive(p.bounded(x, 3.0)), exponent)
    else:
        base = p.choice([1.7, 0.6])
        p.op("power", lambda d, t: base ** t, p.bounded(x, 3.0))


def build_unary(name, function, bound=10.0):
    def build(p, x):
        p.op(name, lambda d, t: function(t), p.bounded(x, bound))
    return build


def build_exp(p, x):
    p.op("exp", lambda d, t: ag.exp(t), p.bounded(x, 3.0))


def build_log(p, x):
    p.op("log", lambda d, t: ag.log(t), p.positive(x))


def build_sqrt(p, x):
    p.op("sqrt", lambda d, t: ag.sqrt(t), p.positive(x))


def build_negative(p, x):
    fn = p.choice([lambda t: -t, ag.negative])
    p.op("negative", lambda d, t: fn(t), x)


def build_kinked_unary(name, function):
    def build(p, x):
        c = _shift_away_from_zero(p.values[x])
        if c is None:
            return build_unary("tanh", ag.tanh)(p, x)
        p.op(name, lambda d, t: function(t + c) if c else function(t), x)
    return build


def build_extremum(name, function):
    def build(p, x):
        kind, other = partner(p, x)
        swap = p.coin()
        if kind == "scalar":  # a scalar from SHIFTS clear of x's values
            s = _shift_away_from_zero(-p.values[x])
            if s is None:
                return build_unary("tanh", ag.tanh)(p, x)
            p.op(name, (lambda d, t: function(s, t)) if swap else (lambda d, t: function(t, s)), x)
            return
        c = _shift_away_from_zero(p.values[x] - p.values[other])
        if c is None:
            return build_unary("tanh", ag.tanh)(p, x)

        def fn(d, t, u):
            u = u - c if c else u
            return function(u, t) if swap else function(t, u)
        p.op(name, fn, x, other)
    return build


def build_where(p, x):
    kind, other = partner(p, x)
    shape = p.values[x].shape if kind == "scalar" else np.broadcast_shapes(p.values[x].shape,
                                                                         p.values[other].shape)
    condition = p.rng.random(shape) < 0.5
    if kind == "scalar":
        p.op("where", lambda d, t: ag.where(condition, t, other), x)
    else:
        p.op("where", lambda d, t, u: ag.where(condition, t, u), x, other)


def draw_axis(p, ndim):
    """A reduction's ``axis``: None, an int (maybe negative) or a tuple of distinct axes."""
    if ndim == 0:
        return None
    kind = p.choice(["all", "int", "tuple"])
    if kind == "all":
        return None
    if kind == "int":
        return p.integer(-ndim, ndim - 1)
    return tuple(p.rng.choice(ndim, size=p.integer(1, ndim), replace=False).tolist())


def build_reduction(name):
    def build(p, x):
        axis, keepdims = draw_axis(p, p.values[x].ndim), p.coin()
        method = p.coin()  # t.sum(...) or ag.sum(t, ...)
        function = getattr(ag, name)
        p.op(name, lambda d, t: getattr(t, name)(axis=axis, keepdims=keepdims) if method
             else function(t, axis=axis, keepdims=keepdims), x)
    return build


def _top_two_gap(values, axis):
    """Smallest gap between the largest and second largest entry of each reduced group."""
    ndim = values.ndim
    reduced = tuple(range(ndim)) if axis is None else tuple(a % ndim for a in np.atleast_1d(axis))
    kept = [a for a in range(ndim) if a not in reduced]
    groups = values.transpose(kept + list(reduced)).reshape([values.shape[a] for a in kept] + [-1])
    if groups.shape[-1] < 2:
        return np.inf
    top = np.sort(groups, axis=-1)
    return (top[..., -1] - top[..., -2]).min(initial=np.inf)


def build_max(p, x):
    axis, keepdims = draw_axis(p, p.values[x].ndim), p.coin()
    if _top_two_gap(p.values[x], axis) <= KINK_MARGIN:  # a tie: max is not differentiable there
        return build_reduction("sum")(p, x)
    p.op("max", lambda d, t: t.max(axis=axis, keepdims=keepdims), x)


def build_reshape(p, x):
    shape = p.values[x].shape
    options = [(-1,), shape[::-1]]
    if len(shape) < MAX_NDIM:
        at = p.integer(0, len(shape))
        options.append(shape[:at] + (1,) + shape[at:])
    new_shape = p.choice(options)
    p.op("reshape", lambda d, t: t.reshape(new_shape), x)


def build_transpose(p, x):
    shape = p.values[x].shape
    if len(shape) < MAX_NDIM and p.coin():  # 3 axes, so that some permutations are not their own inverse
        lifted = shape + (1,) * (MAX_NDIM - len(shape))
        x = p.op("reshape", lambda d, t: t.reshape(lifted), x)
    ndim = p.values[x].ndim
    if p.coin():
        p.op("transpose", lambda d, t: t.T, x)
    else:
        axes = tuple(p.rng.permutation(ndim).tolist())
        p.op("transpose", lambda d, t: t.transpose(*axes) if axes else t.transpose(), x)


def build_getitem(p, x):
    shape = p.values[x].shape
    if not shape:
        return build_negative(p, x)
    n = shape[0]
    kind = p.choice(["int", "slice", "repeats", "ellipsis", "boolean"])
    if kind == "int":
        index = p.integer(-n, n - 1)
    elif kind == "slice":
        start = p.integer(0, n - 1)
        index = slice(start, p.integer(start + 1, n), p.choice([1, 2]))
    elif kind == "repeats":  # repeated indices: their gradients must add up
        index = p.rng.integers(0, n, size=p.integer(1, 4))
    elif kind == "ellipsis":
        index = (Ellipsis, p.integer(0, shape[-1] - 1))
    else:
        index = p.rng.random(shape) < 0.6
        index.flat[0] = True
    p.op("getitem", lambda d, t: t[index], x)


def build_matmul(p, x):
    shape = p.values[x].shape
    if not shape:
        return build_arithmetic("multiply")(p, x)
    k = p.integer(1, MAX_DIM)
    x = p.bounded(x, 5.0)
    if p.coin():  # x @ W, with W a vector or a matrix
        w = p.leaf(p.choice([(shape[-1],), (shape[-1], k)]))
        fn = p.choice([lambda t, u: t @ u, ag.matmul])
        p.op("matmul", lambda d, t, u: fn(t, u), x, w)
    else:  # W @ x: W's last axis meets x's first (matrix) axis
        inner = shape[0] if len(shape) == 1 else shape[-2]
        w = p.leaf(p.choice([(inner,), (k, inner)]))
        p.op("matmul", lambda d, t, u: u @ t, x, w)


def build_dropout(p, x):
    keep_prob = p.choice([0.5, 0.8, 1.0])  # 1.0: dropout is the identity
    mask = p.rng.random(p.values[x].shape) < keep_prob
    if p.coin():
        mask = mask.astype(np.float64)  # a float 0/1 mask must not change the dtype
    p.op("dropout", lambda d, t: ag.dropout(t, keep_prob, mask=mask), x)


def build_l2_penalty(p, x):
    others = p.rng.choice(len(p.values), size=min(p.integer(0, 2), len(p.values)), replace=False).tolist()
    slots = [x] + [s for s in others if s != x]
    lambd = p.choice([0.7, 2.0, 0.1, 0.0])  # hypothesis favours the first entry
    m = p.integer(1, 10)
    p.op("l2_penalty", lambda d, *ts: ag.l2_penalty(ts, lambd, m), *[p.bounded(s, 10.0) for s in slots])


def build_binary_cross_entropy(p, x):
    x = p.bounded(x, 8.0)  # sigmoid stays clear of exactly 0 and 1, where log is floored
    if p.values[x].ndim != 2 or p.values[x].shape[-1] == 1:  # examples as columns: (1, m), as in use
        x = p.op("reshape", lambda d, t: t.reshape(1, -1), x)
    labels = (p.rng.random(p.values[x].shape) < 0.5).astype(np.float64)
    if p.coin():  # a = sigmoid(z): the gradient goes straight to z as (a - y) / m
        p.op("binary_cross_entropy", lambda d, t: ag.binary_cross_entropy(ag.sigmoid(t), labels), x)
    else:  # probabilities not straight from sigmoid: the general d/da path
        p.op("binary_cross_entropy",
             lambda d, t: ag.binary_cross_entropy(ag.sigmoid(t) * 0.8 + 0.1, labels), x)


BUILDERS = {
    "add": build_arithmetic("add"),
    "subtract": build_arithmetic("subtract"),
    "multiply": build_arithmetic("multiply"),
    "divide": build_divide,
    "power": build_power,
    "negative": build_negative,
    "matmul": build_matmul,
    "exp": build_exp,
    "log": build_log,
    "sqrt": build_sqrt,
    "square": build_unary("square", ag.square),
    "relu": build_kinked_unary("relu", ag.relu),
    "sigmoid": build_unary("sigmoid", ag.sigmoid, bound=20.0),
    "tanh": build_unary("tanh", ag.tanh, bound=20.0),
    "abs": build_kinked_unary("abs", ag.abs),
    "maximum": build_extremum("maximum", ag.maximum),
    "minimum": build_extremum("minimum", ag.minimum),
    "where": build_where,
    "sum": build_reduction("sum"),
    "mean": build_reduction("mean"),
    "max": build_max,
    "reshape": build_reshape,
    "transpose": build_transpose,
    "getitem": build_getitem,
    "dropout": build_dropout,
    "l2_penalty": build_l2_penalty,
    "binary_cross_entropy": build_binary_cross_entropy,
}


@st.composite
def programs(draw, focus=None):
    """A random Program: 1-3 leaves and 1-8 random steps (plus ``focus`` when given)."""
    p = Program(np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))))
    for _ in range(draw(st.integers(1, 3))):
        p.leaf(p.shape())
    names = [p.choice(sorted(BUILDERS)) for _ in range(draw(st.integers(1, 6)) + p.integer(0, 2))]
    if focus:
        names.insert(p.integer(0, len(names)), focus)
    for name in names:
        BUILDERS[name](p, p.integer(0, len(p.values) - 1))
    return p


def _relative_difference(a, n, floor):
    return float(np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n) + floor))


def check_program(p, dtype):
    """Autodiff in ``dtype`` vs central differences in float64, input by input."""
    leaves = [ag.Tensor(v.astype(dtype), requires_grad=True) for v in p.leaves]
    cost = p.cost(*leaves)
    assert cost.dtype == dtype and cost.size == 1
    cost.backward()
    analytic = [t.grad if t.grad is not None else np.zeros_like(t.data) for t in leaves]
    for t, g in zip(leaves, analytic):
        assert g.shape == t.shape and g.dtype == dtype
    numeric = ag.numerical_gradient(p.cost, [t.data for t in leaves], eps=EPS)
    # A floor relative to the whole gradient, so an input whose gradient is ~0 compares in absolute terms.
    floor = 1e-3 * sum(np.linalg.norm(n) for n in numeric) + 1e-12
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        difference = _relative_difference(a.astype(np.float64), n, floor)
        assert difference < TOLERANCE[dtype], (
            f"input {i} of shape {n.shape}: relative difference {difference:.2e} with ops {p.ops_used}\n"
            f"autodiff {a.ravel()}\nnumeric  {n.ravel()}")
    for name in set(p.ops_used):
        event(f"op {name}")


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@given(program=programs())
def test_random_graphs_match_numerical_gradients(dtype, program):
    check_program(program, dtype)


# Each primitive is checked in every run, whatever the random mix above drew.
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("focus", sorted(BUILDERS))
@settings(max_examples=40 if SLOW else 6)
@given(data=st.data())
def test_each_primitive_in_random_graphs(focus, dtype, data):
    program = data.draw(programs(focus=focus))
    assume(focus in program.ops_used)  # kinked ops fall back to a smooth one where they would tie
    check_program(program, dtype)


# --- regressions found by the fuzzer ---------------------------------------------------
def test_float_dropout_mask_keeps_float32():
    a = ag.Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    out = ag.dropout(a, 0.5, mask=np.array([[1.0, 0.0, 1.0]]))
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, np.array([[2.0, 0.0, 2.0]], np.float32))  # mask / keep_prob


@pytest.mark.parametrize("labels", [np.array([[1.0, 0.0]]), np.array([[1, 0]]), [[True, False]]])
def test_bce_labels_of_another_dtype_keep_float32(labels):
    z = ag.Tensor(np.zeros((1, 2), np.float32), requires_grad=True)
    cost = ag.binary_cross_entropy(ag.sigmoid(z), labels)
    assert cost.dtype == np.float32
    assert cost.item() == pytest.approx(np.log(2.0), rel=1e-6)  # a = 1/2 everywhere
