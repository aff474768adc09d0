"""Issue 11, the differential test: random graphs over every public op, eager and
compiled (``ag.compile``), against an independent implementation, HIPS ``autograd``
(values and gradients, float64 and float32, broadcasting shapes), with central
differences of the plain NumPy formulas as a third opinion for the smooth ops.

A graph is a small program: a list of (op name, input node indices). ``OPS`` says how
each op is applied in a backend-neutral way (``ns`` is either the autograd_lite or the
HIPS namespace), keeping inputs in the op's domain. Adding an op is one line in ``OPS``
(and its two spellings in ``Lite``/``Hips`` if it is not a plain function of both).
"""
import os

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.primitive import Primitive

autograd = pytest.importorskip("autograd")  # HIPS autograd: in the [test] extra
import autograd.numpy as anp  # noqa: E402

# Every node's shape is one of these: any two broadcast together.
FAMILY = [(2, 3), (1, 3), (3,), (2, 1), (), (1, 1)]
MASK23 = np.array([[True, False, True], [False, True, True]])


class Lite:
    """autograd_lite spelled for the programs."""
    add, subtract, multiply, divide, negative = ag.add, ag.subtract, ag.multiply, ag.divide, ag.negative
    power, square, sqrt, abs, maximum, minimum = ag.power, ag.square, ag.sqrt, ag.abs, ag.maximum, ag.minimum
    exp, log, relu, sigmoid, tanh, matmul = ag.exp, ag.log, ag.relu, ag.sigmoid, ag.tanh, ag.matmul
    where, linear, stack = staticmethod(ag.where), staticmethod(ag.linear), staticmethod(ag.stack)
    gt = staticmethod(lambda x, v: x > v)
    sum = staticmethod(lambda x, axis, keepdims: ag.sum(x, axis=axis, keepdims=keepdims))
    mean = staticmethod(lambda x, axis, keepdims: ag.mean(x, axis=axis, keepdims=keepdims))
    max = staticmethod(lambda x, axis, keepdims: ag.max(x, axis=axis, keepdims=keepdims))
    reshape = staticmethod(lambda x, shape: ag.reshape(x, shape=shape))
    transpose = staticmethod(lambda x, axes: ag.transpose(x, axes=axes))
    broadcast_to = staticmethod(lambda x, shape: ag.broadcast_to(x, shape=shape))
    getitem = staticmethod(lambda x, index: x[index])
    concatenate = staticmethod(lambda xs, axis: ag.concatenate(xs, axis=axis))
    dropout = staticmethod(lambda x, keep_prob, mask: ag.dropout(x, keep_prob, mask=mask))
    l2_penalty = staticmethod(ag.l2_penalty)
    binary_cross_entropy = staticmethod(ag.binary_cross_entropy)
    shape = staticmethod(lambda x: x.shape)
    sin, cos, expm1, log1p, softplus = ag.sin, ag.cos, ag.expm1, ag.log1p, ag.softplus
    clip = staticmethod(lambda x, lo, hi: ag.clip(x, lo, hi))
    leaky_relu = staticmethod(lambda x, slope: ag.leaky_relu(x, slope))
    expand_dims = staticmethod(lambda x, axis: ag.expand_dims(x, axis))
    squeeze = staticmethod(lambda x, axis: ag.squeeze(x, axis))
    min = staticmethod(lambda x, axis, keepdims: ag.min(x, axis=axis, keepdims=keepdims))
    var = staticmethod(lambda x, axis, keepdims, ddof: ag.var(x, axis=axis, keepdims=keepdims, ddof=ddof))
    std = staticmethod(lambda x, axis, keepdims, ddof: ag.std(x, axis=axis, keepdims=keepdims, ddof=ddof))
    logsumexp = staticmethod(lambda x, axis, keepdims: ag.logsumexp(x, axis=axis, keepdims=keepdims))
    softmax = staticmethod(lambda x, axis: ag.softmax(x, axis=axis))
    log_softmax = staticmethod(lambda x, axis: ag.log_softmax(x, axis=axis))
    cross_entropy = staticmethod(lambda z, y: ag.cross_entropy(z, y, axis=0))
    binary_cross_entropy_with_logits = staticmethod(ag.binary_cross_entropy_with_logits)


def _grow(x, *others):
    shape = np.broadcast_shapes(*(np.shape(v) for v in (x,) + others))
    return x + np.zeros(shape) if np.shape(x) != shape else x


def _count(x, axis):
    ndim = np.ndim(x)
    axes = range(ndim) if axis is None else [a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return int(np.prod([np.shape(x)[a] for a in axes]))


def _keep(out, x, axis, keepdims):
    if not keepdims:
        return out
    ndim = np.ndim(x)
    axes = range(ndim) if axis is None else [a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return anp.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(np.shape(x))))


class Hips:
    """The same, written independently with HIPS autograd's numpy (also plain NumPy)."""
    add, subtract, multiply, divide, negative = anp.add, anp.subtract, anp.multiply, anp.divide, anp.negative
    power, square, sqrt, abs, maximum, minimum = anp.power, anp.square, anp.sqrt, anp.abs, anp.maximum, anp.minimum
    exp, log, tanh, matmul = anp.exp, anp.log, anp.tanh, anp.matmul
    relu = staticmethod(lambda x: anp.where(x > 0, x, 0.0))
    sigmoid = staticmethod(lambda x: 1.0 / (1.0 + anp.exp(-x)))
    # HIPS's where, reductions with keepdims and broadcast_to do not undo broadcasting
    # themselves: spelled with explicit broadcasts (x + zeros) and reshapes
    where = staticmethod(lambda c, x, y: anp.where(c, _grow(x, c, y), _grow(y, c, x)))
    linear = staticmethod(lambda w, a, b: anp.dot(w, a) + b)
    stack = staticmethod(lambda xs, axis=0: anp.stack(xs, axis=axis))
    gt = staticmethod(lambda x, v: x > v)
    sum = staticmethod(lambda x, axis, keepdims: _keep(anp.sum(x, axis=axis), x, axis, keepdims))
    mean = staticmethod(lambda x, axis, keepdims: _keep(anp.mean(x, axis=axis), x, axis, keepdims))
    max = staticmethod(lambda x, axis, keepdims: _keep(anp.max(x, axis=axis), x, axis, keepdims))
    reshape = staticmethod(lambda x, shape: anp.reshape(x, shape))
    transpose = staticmethod(lambda x, axes: anp.transpose(x, axes))
    broadcast_to = staticmethod(lambda x, shape: x + np.zeros(shape))
    getitem = staticmethod(lambda x, index: x[index])
    concatenate = staticmethod(lambda xs, axis: anp.concatenate(xs, axis=axis))
    dropout = staticmethod(lambda x, keep_prob, mask: x * mask / keep_prob)
    l2_penalty = staticmethod(lambda ws, lambd, m: 1.0 / m * lambd / 2 * sum(anp.sum(anp.square(w)) for w in ws))
    binary_cross_entropy = staticmethod(lambda a, y: -(1.0 / a.shape[-1]) * anp.sum(
        y * anp.log(a) + (1 - y) * anp.log(1 - a)))
    shape = staticmethod(anp.shape)
    sin, cos, expm1, log1p = anp.sin, anp.cos, anp.expm1, anp.log1p
    softplus = staticmethod(lambda x: anp.log(1.0 + anp.exp(x)))
    clip = staticmethod(lambda x, lo, hi: anp.where(x < lo, lo, anp.where(x > hi, hi, x)))
    leaky_relu = staticmethod(lambda x, slope: anp.where(x > 0, x, slope * x))
    expand_dims = staticmethod(lambda x, axis: anp.expand_dims(x, axis))
    squeeze = staticmethod(lambda x, axis: anp.squeeze(x, axis))
    min = staticmethod(lambda x, axis, keepdims: _keep(-anp.max(-x, axis=axis), x, axis, keepdims))
    var = staticmethod(lambda x, axis, keepdims, ddof: _keep(anp.sum(anp.square(x - _keep(anp.mean(x, axis=axis), x, axis, True)),
                                                                     axis=axis) / (_count(x, axis) - ddof), x, axis, keepdims))
    std = staticmethod(lambda x, axis, keepdims, ddof: anp.sqrt(Hips.var(x, axis, keepdims, ddof)))
    logsumexp = staticmethod(lambda x, axis, keepdims: _keep(anp.log(anp.sum(anp.exp(x), axis=axis)), x, axis, keepdims))
    softmax = staticmethod(lambda x, axis: anp.exp(x) / _keep(anp.sum(anp.exp(x), axis=axis), x, axis, True))
    log_softmax = staticmethod(lambda x, axis: x - _keep(anp.log(anp.sum(anp.exp(x), axis=axis)), x, axis, True))
    cross_entropy = staticmethod(lambda z, y: -anp.sum(y * Hips.log_softmax(z, 0)) / z.shape[1])
    binary_cross_entropy_with_logits = staticmethod(lambda z, y: Hips.binary_cross_entropy(Hips.sigmoid(z), y))


class Consts:
    """Constants of one program step (lift offsets, masks, labels, option picks): drawn
    the first time the program runs, the same on every later run and in every backend."""

    def __init__(self, table, step, rng, dtype):
        self.table, self.step, self.rng, self.dtype = table, step, rng, dtype

    def _get(self, name, make):
        key = (self.step, name)
        if key not in self.table:
            self.table[key] = make()
        return self.table[key]

    def array(self, name, shape, kind="normal"):
        def make():
            if kind == "bits":
                return (self.rng.random(shape) < 0.6).astype(np.float64)
            return self.rng.normal(size=shape)
        value = self._get((name, shape, kind), make)
        return value.astype(self.dtype)

    def onehot(self, name, k, m):
        classes = self._get((name, k, m), lambda: self.rng.integers(k, size=m))
        return np.eye(k, dtype=self.dtype)[:, classes]

    def pick(self, name, options):
        return options[self._get(name, lambda: int(self.rng.integers(len(options))))]


def lift(ns, x, K, shape, name="lift"):
    """x (a family shape) as exactly ``shape``: plus a random constant of that shape (x's
    mean first when x is larger than ``shape``)."""
    try:
        fits = np.broadcast_shapes(tuple(ns.shape(x)), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        x = ns.mean(x, None, False)
    return ns.add(x, K.array(name, shape))


def positive(ns, x):
    return ns.add(ns.square(x), 0.5)


# op name -> (how to apply it to nodes a, b, c; smooth: also checked by central differences)
OPS = {
    "add": (lambda ns, a, b, c, K: ns.add(a, b), True),
    "subtract": (lambda ns, a, b, c, K: ns.subtract(a, b), True),
    "multiply": (lambda ns, a, b, c, K: ns.multiply(a, b), True),
    "divide": (lambda ns, a, b, c, K: ns.divide(a, positive(ns, b)), True),
    "negative": (lambda ns, a, b, c, K: ns.negative(a), True),
    "power": (lambda ns, a, b, c, K: ns.power(positive(ns, a), ns.tanh(b)), True),
    "square": (lambda ns, a, b, c, K: ns.square(a), True),
    "sqrt": (lambda ns, a, b, c, K: ns.sqrt(positive(ns, a)), True),
    "abs": (lambda ns, a, b, c, K: ns.abs(a), False),
    "maximum": (lambda ns, a, b, c, K: ns.maximum(a, b), False),
    "minimum": (lambda ns, a, b, c, K: ns.minimum(a, b), False),
    "where": (lambda ns, a, b, c, K: ns.where(ns.gt(c, 0.0), a, b), False),
    "exp": (lambda ns, a, b, c, K: ns.exp(ns.tanh(a)), True),
    "log": (lambda ns, a, b, c, K: ns.log(positive(ns, a)), True),
    "relu": (lambda ns, a, b, c, K: ns.relu(a), False),
    "sigmoid": (lambda ns, a, b, c, K: ns.sigmoid(a), True),
    "tanh": (lambda ns, a, b, c, K: ns.tanh(a), True),
    "matmul": (lambda ns, a, b, c, K: ns.matmul(lift(ns, a, K, (2, 3)), K.pick("rhs", [
        lambda: ns.transpose(lift(ns, b, K, (2, 3), "b"), None), lambda: lift(ns, b, K, (3,), "b1")])()), True),
    "linear": (lambda ns, a, b, c, K: ns.linear(lift(ns, a, K, (2, 3)), ns.transpose(lift(ns, b, K, (2, 3), "b"), None),
                                                lift(ns, c, K, K.pick("bias", [(2, 1), (2, 2), (1, 2)]), "c")), True),
    "sum": (lambda ns, a, b, c, K: ns.sum(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1, -1, (0, 1)]),
                                          K.pick("keep", [False, True])), True),
    "mean": (lambda ns, a, b, c, K: ns.mean(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1, -1, (0, 1)]),
                                            K.pick("keep", [False, True])), True),
    "max": (lambda ns, a, b, c, K: ns.max(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1, -1]),
                                          K.pick("keep", [False, True])), False),
    "reshape": (lambda ns, a, b, c, K: ns.reshape(lift(ns, a, K, (2, 3)), K.pick("shape", [(3, 2), (6,), (1, 6), (3, 1, 2)])),
                True),
    "transpose": (lambda ns, a, b, c, K: ns.transpose(ns.reshape(lift(ns, a, K, (2, 3)), (2, 3, 1)), K.pick(
        "axes", [None, (2, 0, 1), (-1, 0, 1), (1, -1, -3), (0, 2, 1)])), True),
    "broadcast_to": (lambda ns, a, b, c, K: ns.broadcast_to(a, K.pick("shape", [(2, 3), (4, 2, 3), (2, 2, 3)])), True),
    "getitem": (lambda ns, a, b, c, K: ns.getitem(lift(ns, a, K, (2, 3)), K.pick("index", [
        (0,), (slice(0, 1),), (slice(None), [0, 2, 0]), ([1, 0, 1],), (Ellipsis, 1), MASK23, (-1, slice(None, None, -1))])),
        True),
    "stack": (lambda ns, a, b, c, K: ns.stack([lift(ns, a, K, (2, 3)), lift(ns, b, K, (2, 3), "b"), lift(ns, c, K, (2, 3), "c")],
                                              axis=K.pick("axis", [0, 1, 2, -1])), True),
    "concatenate": (lambda ns, a, b, c, K: K.pick("how", [
        lambda: ns.concatenate([lift(ns, a, K, (2, 3)), lift(ns, b, K, (1, 3), "b")], 0),
        lambda: ns.concatenate([lift(ns, a, K, (2, 3)), lift(ns, b, K, (2, 1), "b"), lift(ns, c, K, (2, 2), "c")], -1),
        lambda: ns.concatenate([lift(ns, a, K, (3,)), lift(ns, b, K, (2,), "b")], 0)])(), True),
    "dropout": (lambda ns, a, b, c, K: ns.dropout(lift(ns, a, K, (2, 3)), 0.7, K.array("mask", (2, 3), "bits")), True),
    "l2_penalty": (lambda ns, a, b, c, K: ns.l2_penalty([lift(ns, a, K, (2, 3)), b], 0.7, 3), True),
    "binary_cross_entropy": (lambda ns, a, b, c, K: K.pick("path", [
        lambda: ns.binary_cross_entropy(ns.sigmoid(lift(ns, a, K, (1, 3))), K.array("y", (1, 3), "bits")),
        lambda: ns.binary_cross_entropy(ns.add(ns.multiply(ns.add(ns.tanh(lift(ns, a, K, (2, 3))), 1.0), 0.45), 0.05),
                                        K.array("y", (2, 3), "bits"))])(), True),
    # added with the ops of another issue
    "sin": (lambda ns, a, b, c, K: ns.sin(a), True),
    "cos": (lambda ns, a, b, c, K: ns.cos(a), True),
    "expm1": (lambda ns, a, b, c, K: ns.expm1(ns.tanh(a)), True),
    "log1p": (lambda ns, a, b, c, K: ns.log1p(ns.square(a)), True),
    "softplus": (lambda ns, a, b, c, K: ns.softplus(a), True),
    "clip": (lambda ns, a, b, c, K: ns.clip(a, -0.5, 0.7), False),
    "leaky_relu": (lambda ns, a, b, c, K: ns.leaky_relu(a, 0.1), False),
    "expand_dims": (lambda ns, a, b, c, K: ns.expand_dims(lift(ns, a, K, (2, 3)), K.pick("axis", [0, 1, 2, -1])), True),
    "squeeze": (lambda ns, a, b, c, K: ns.squeeze(lift(ns, a, K, (1, 3, 1)), K.pick("axis", [None, 0, -1])), True),
    "min": (lambda ns, a, b, c, K: ns.min(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1, -1]),
                                          K.pick("keep", [False, True])), False),
    "var": (lambda ns, a, b, c, K: ns.var(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1]),
                                          K.pick("keep", [False, True]), K.pick("ddof", [0, 1])), True),
    "std": (lambda ns, a, b, c, K: ns.std(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1]),
                                          K.pick("keep", [False, True]), 0), True),
    "logsumexp": (lambda ns, a, b, c, K: ns.logsumexp(lift(ns, a, K, (2, 3)), K.pick("axis", [None, 0, 1, -1]),
                                                      K.pick("keep", [False, True])), True),
    "softmax": (lambda ns, a, b, c, K: ns.softmax(lift(ns, a, K, (2, 3)), K.pick("axis", [0, 1, -1])), True),
    "log_softmax": (lambda ns, a, b, c, K: ns.log_softmax(lift(ns, a, K, (2, 3)), K.pick("axis", [0, 1, -1])), True),
    "cross_entropy": (lambda ns, a, b, c, K: ns.cross_entropy(lift(ns, a, K, (3, 4)), K.onehot("y", 3, 4)), True),
    "binary_cross_entropy_with_logits": (lambda ns, a, b, c, K: ns.binary_cross_entropy_with_logits(
        lift(ns, a, K, (2, 3)), K.array("y", (2, 3), "bits")), True),
}

NOT_OPS = {"manual_seed"}  # public functions of ops/functional that are not differentiable ops


def test_every_public_op_is_in_the_table():
    public = {n for n in dir(ag) if not n.startswith("_") and (
        isinstance(getattr(ag, n), Primitive)
        or getattr(getattr(ag, n), "__module__", "") in ("autograd_lite.ops", "autograd_lite.functional"))}
    missing = public - NOT_OPS - set(OPS)
    assert not missing, f"public ops with no line in OPS (add one each): {sorted(missing)}"


# --- programs -------------------------------------------------------------------------
def make_program(seed, focus, n_steps=5, n_leaves=3):
    """(leaf shapes, steps): random ops on random earlier nodes, ``focus`` among them."""
    rng = np.random.default_rng(seed)
    shapes = [(2, 3)] + [FAMILY[i] for i in rng.integers(len(FAMILY), size=n_leaves - 1)]
    names = list(OPS)
    ops = [names[i] for i in rng.integers(len(names), size=n_steps)]
    if focus is not None:
        ops[int(rng.integers(n_steps))] = focus
    steps = []
    for k, name in enumerate(ops):
        nodes = n_leaves + k
        steps.append((name, [int(i) for i in rng.integers(nodes, size=3)]))
    return shapes, steps, np.random.default_rng(seed + 10_000)


def run_program(ns, program, leaves, table, dtype):
    shapes, steps, rng = program
    nodes = list(leaves)
    loss = None
    for k, (name, idx) in enumerate(steps):
        K = Consts(table, k, rng, dtype)
        out = OPS[name][0](ns, *[nodes[i] for i in idx], K)
        shape = tuple(ns.shape(out))
        if shape not in FAMILY:  # back into the family: a random weighted sum
            out = ns.sum(ns.multiply(out, K.array("fix", shape)), None, False)
        nodes.append(out)
        term = ns.sum(ns.multiply(out, K.array("weight", tuple(ns.shape(out)))), None, False)
        loss = term if loss is None else ns.add(loss, term)
    return loss


def leaf_values(program, seed, dtype):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in program[0]]


def reference(program, leaves64, table):
    """HIPS autograd's value and gradients in float64."""
    f = lambda ls: run_program(Hips, program, ls, table, np.float64)  # noqa: E731
    value = f(list(leaves64))
    grads = autograd.grad(f)(list(leaves64))
    return float(value), [np.asarray(g) for g in grads]


def lite(fn, leaves):
    ts = [ag.Tensor(x, requires_grad=True) for x in leaves]
    out = fn(*ts)
    out.backward()
    return out, [t.grad for t in ts]


def check_program(seed, focus, dtype, calls=3):
    program = make_program(seed, focus)
    table = {}
    leaf_sets = [leaf_values(program, seed * 31 + k, dtype) for k in range(calls)]
    # a float32 run is compared with float64 HIPS on the same (float32-rounded) numbers
    refs = [reference(program, [x.astype(np.float64) for x in ls], table) for ls in leaf_sets]
    eager = lambda *ts: run_program(Lite, program, ts, table, dtype)  # noqa: E731
    step = ag.compile(eager)
    f32 = dtype == np.float32
    for leaves, (want_value, want_grads) in zip(leaf_sets, refs):
        scale = max(1.0, abs(want_value), *(float(np.max(np.abs(g), initial=0)) for g in want_grads))
        rtol, atol = (2e-3, 2e-3 * scale) if f32 else (1e-9, 1e-10 * scale)
        for how, fn in (("eager", eager), ("compiled", step)):
            out, grads = lite(fn, leaves)
            where = f"seed {seed}, focus {focus}, {np.dtype(dtype).name}, {how}, program {program[1]}"
            assert out.dtype == dtype, where
            np.testing.assert_allclose(out.item(), want_value, rtol=rtol, atol=atol, err_msg=where)
            for i, (g, w) in enumerate(zip(grads, want_grads)):
                if g is None:  # no path from this leaf to the loss
                    assert not np.any(w), (where, i)
                    continue
                assert g.dtype == dtype and g.shape == w.shape, (where, i)
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{where}, leaf {i}")
    return program, table


SEEDS = range(3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("focus", list(OPS))
def test_random_graph_matches_hips_autograd(focus, seed, dtype):
    check_program(seed, focus, dtype)


def central_differences(program, leaves, table, eps=1e-6):
    f = lambda ls: float(run_program(Hips, program, ls, table, np.float64))  # noqa: E731  plain NumPy
    grads = []
    for i, x in enumerate(leaves):
        g = np.zeros_like(x)
        for j in np.ndindex(x.shape):
            up, down = [v.copy() for v in leaves], [v.copy() for v in leaves]
            up[i][j] += eps
            down[i][j] -= eps
            g[j] = (f(up) - f(down)) / (2 * eps)
        grads.append(g)
    return grads


SMOOTH = [name for name, (_, smooth) in OPS.items() if smooth]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("focus", SMOOTH)
def test_smooth_graph_matches_central_differences(focus, seed):
    program = make_program(100 + seed, focus)
    # smooth ops only (no kinks for the differences to straddle)
    program = (program[0], [(name if OPS[name][1] else "tanh", idx) for name, idx in program[1]], program[2])
    table = {}
    leaves = leaf_values(program, 7 + seed, np.float64)
    run_program(Hips, program, leaves, table, np.float64)  # draws the constants
    numeric = central_differences(program, leaves, table)
    for fn in (lambda *ts: run_program(Lite, program, ts, table, np.float64),):
        step = ag.compile(fn)
        for call in (fn, step, step):
            _, grads = lite(call, leaves)
            for i, (g, n) in enumerate(zip(grads, numeric)):
                g = np.zeros_like(n) if g is None else g
                scale = max(1.0, float(np.max(np.abs(n), initial=0)))
                np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6 * scale,
                                           err_msg=f"focus {focus}, seed {seed}, leaf {i}, {program[1]}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_random_graph_matches_hips_autograd_long(dtype):
    n = int(os.environ.get("AG_DIFFERENTIAL_SEEDS", "300"))
    for seed in range(1000, 1000 + n):
        check_program(seed, None, dtype)
