"""The mission's composite ops: inverted dropout, the L2 penalty and binary
cross-entropy, each one recorded node with its own rules, so drawings and
formulas show them as the textbook terms they are.

Every value these ops depend on (the mask, the labels, the logits) is an input
of the primitive, never a value read by the wrapper function: checks run in
the forward functions, so ``ag.compile`` repeats them on every replay.
"""
import functools
import math
import numbers

import numpy as np

from . import latex as tex
from .conform import ForGradOnly
from .convert import flag, float64_for_half, listed, number_held, scale_for
from .errors import DomainError, ShapeError
from .lr_schedule import _not_a_number
from .ops import _apply, _float64_rule, _log_softmax, _raw, logits_of, sigmoid, softmax
from .primitive import Primitive
from .rng import as_generator, manual_seed
from .tensor import Tensor, as_tensor

__all__ = ["dropout", "l2_penalty", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "manual_seed"]


def _checked_number(op, name, value, wanted, holds):
    """``value`` if ``_is_number`` and ``holds(value)``; else ValueError naming ``op``, ``name`` and the range
    ``wanted`` (e.g. "in (0, 1]"), or, for a value of a type not taken as a number (a Tensor, a bool, a
    one-element array), that type, the ones taken and what float(x) gives (lr_schedule's one rule)."""
    if _is_number(value) and holds(value):
        return value
    held = number_held(value)
    if isinstance(held, bool) or not isinstance(held, numbers.Real):
        raise _not_a_number(op, name, value)
    raise ValueError(f"{op}: {name} must be a finite number {wanted}, got {value!r}")


def _is_number(value):
    if type(value) is not float and type(value) is not int:  # the usual types cost one test each
        value = number_held(value)
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            return False
    try:
        return math.isfinite(value)
    except OverflowError:  # (an int beyond float64: no number, refused by its parameter's own message)
        return False


# --- dropout -------------------------------------------------------------------
def _draw_mask(*, shape, keep_prob, rng, dtype):
    # A float 0/1 mask: multiplying by it is exact, and faster than by a boolean one. The
    # comparison is written into the draws' own (float64) array: one array, not two.
    draws = as_generator(rng, "dropout").random(shape)
    return np.less(draws, keep_prob, out=draws, casting="unsafe").astype(dtype, copy=False)


def _check_mask(mask, *, shape, dtype):
    if mask.shape != shape:
        raise ShapeError(f"dropout: mask has shape {mask.shape} but the input has shape {shape}; they must match")
    if mask.dtype != bool and np.count_nonzero(mask * (1 - mask)):
        bad = mask[(mask != 0) & (mask != 1)].ravel()[:3]
        raise DomainError(f"dropout: mask must hold only 0 and 1, found values such as {bad.tolist()}")
    return mask.astype(dtype)  # a copy: the backward reads it, after the caller may reuse the mask


def _dropout_drawing(node):
    mask = node._parents[1]._array
    kept = int(np.count_nonzero(mask))
    return "dropout", ["dropout", f"keep_prob = {node._params['keep_prob']:.4g}",
                       f"kept {kept}/{mask.size} = {kept / max(mask.size, 1):.1%}"]


def _dropout_latex(terms, node):
    x = tex.operand_of_product(terms[0], "odot", True)
    mask = tex.data_symbol(tex.mask_name(node._parents[0]), node._parents[1]._array)  # (two masks print apart)
    return tex.Term(f"\\frac{{{x.text} \\odot {mask}}}{{{tex.number_latex(node._params['keep_prob'])}}}")


_new_mask = Primitive(_draw_mask, "dropout_mask")
_new_mask.draws = True  # (its rng= draws on every replay too: ag.compile repeats and rewinds its draws)
# (a tangent on the mask goes on to dropout, which refuses a non-zero one by name, as reverse mode does)
_given_mask = Primitive(_check_mask, "dropout_mask", jvps=(lambda t, out, mask, shape, dtype: t,))
# (float16 in float64, rounded once: a small keep_prob is a float16 subnormal, with few digits)
_dropout = Primitive(float64_for_half(lambda a, mask, keep_prob: a * mask / keep_prob), "dropout",
                     vjps=(_float64_rule(lambda g, out, a, mask, keep_prob: g * mask / keep_prob), None),
                     jvps=(float64_for_half(lambda t, out, a, mask, keep_prob: t * mask / keep_prob), None),
                     latex=_dropout_latex, draw=_dropout_drawing)
_dropout.edge_labels = {1: None}  # the mask is shown inside the dropout node


def _smallest_keep_prob(dtype):
    # (the forward divides in the input's dtype, float16's in float64): below that dtype's smallest
    # normal number keep_prob keeps few digits, and once it rounds to 0 a dropped unit is 0 / 0
    return float(np.finfo(np.float64 if dtype.char == "e" else dtype).tiny)


def dropout(a, keep_prob, *, mask=None, rng=None, training=True):
    """Inverted dropout: ``a * mask / keep_prob``.

    Args:
        a: Tensor or array of any shape.
        keep_prob: probability of keeping a unit, in (0, 1].
        mask: 0/1 array (or Tensor) of a's shape to use as is; else drawn as
            ``rng.random(a.shape) < keep_prob``.
        rng: None (the package's default generator, see ``manual_seed``), an int
            seed, a ``numpy.random.Generator`` or a ``numpy.random.RandomState``.
        training: False returns ``a`` unchanged (as does keep_prob == 1 without a
            mask); ``mask`` and ``rng`` are checked all the same.
    Returns:
        Tensor of a's shape. The mask is the node's second input (a constant), so
        the drawing shows how many units it kept.
    """
    _checked_number("dropout", "keep_prob", keep_prob, "in (0, 1]", lambda p: 0 < p <= 1)
    keep_prob, a, training = float(keep_prob), as_tensor(a), flag(training, "dropout(training=...)")
    if keep_prob < 1e-4 and a.dtype.kind == "f" and keep_prob < _smallest_keep_prob(a.dtype):
        raise ValueError(f"dropout: keep_prob {keep_prob!r} is too small for {a.dtype} input: the kept units are "
                         f"divided by it, and below {_smallest_keep_prob(a.dtype)!r} (the smallest normal number "
                         f"there) it keeps few digits, or rounds to 0 (0 / 0); expected keep_prob >= "
                         f"{_smallest_keep_prob(a.dtype)!r}")
    if rng is not None and (mask is not None or not training or keep_prob == 1):
        as_generator(rng, "dropout")  # (unused here: a wrong one is refused all the same)
    if mask is not None:  # (applied at keep_prob 1 too: the formula, as the course's own code does)
        mask = _given_mask(mask, shape=a.shape, dtype=a.dtype)
        return _dropout(a, mask, keep_prob=keep_prob) if training else a
    if not training or keep_prob == 1:
        return a
    return _dropout(a, _new_mask(shape=a.shape, keep_prob=keep_prob, rng=rng, dtype=a.dtype), keep_prob=keep_prob)


# --- L2 penalty ----------------------------------------------------------------
@functools.partial(float64_for_half, dtype_of=lambda weights: np.result_type(*weights))
def _l2(*weights, lambd, m):
    total = 0
    for w in weights:
        total += np.add.reduce(np.square(w), axis=None)
    return 1.0 / m * lambd / 2 * total  # the exercise's order of operations: costs match it bit for bit


def _l2_latex(terms, node):
    norms = [tex.Term(f"\\Vert {t.text}\\Vert^2") for t in terms]
    total = norms[0] if len(norms) == 1 else tex.parens(tex.Term(" + ".join(n.text for n in norms), tex.SUM),
                                                        tall=True)
    lambd, m = tex.symbol("\\lambda", node._params["lambd"]), tex.symbol("m", node._params["m"])
    twice_m = "2m" if m == "m" else f"2 \\cdot {m}"  # (a number: 2 \cdot 1000)
    return tex.Term(f"\\frac{{{lambd}}}{{{twice_m}}}{total.text}", tex.PRODUCT, "scalar")


_l2_penalty = Primitive(_l2, "l2_penalty", latex=_l2_latex, draw=lambda node: (
    "cost-term", ["L2 penalty", "(λ/2m) Σ ‖W‖²", f"λ = {node._params['lambd']:.4g}, m = {node._params['m']}"]))
# (formula prints lambda and m as symbols while they have one value in the whole formula)
_l2_penalty.symbols = lambda node: {"\\lambda": node._params["lambd"], "m": node._params["m"]}


def _l2_vjp_all(g, out, *weights, lambd, m):
    scale = g * scale_for(lambd / m, g)  # once, not per weight (same order of operations): ~2k instructions a step
    return [scale * w for w in weights]


_l2_penalty.vjp_all = _l2_vjp_all
_l2_penalty.jvp_all = lambda tangents, out, *weights, lambd, m: scale_for(lambd / m, out) * np.sum(
    [np.sum(w * t) for w, t in zip(weights, tangents) if t is not None])


def l2_penalty(weights, lambd, m):
    """``(lambd / (2 m)) * sum over weights of sum(W ** 2)``.

    Args:
        weights: iterable of Tensors (any shapes); biases are usually left out.
        lambd: regularization strength, finite and >= 0.
        m: number of examples, finite and > 0.
    Returns:
        scalar Tensor; d/dW = (lambd / m) W.
    """
    if isinstance(weights, (dict, Tensor, np.ndarray)):
        raise TypeError(f"l2_penalty: weights must be a list (or other iterable) of tensors, got a "
                        f"{type(weights).__name__}; e.g. [params['W1'], params['W2']]")
    weights = listed(weights, "l2_penalty: weights", "a list of tensors (e.g. [params['W1'], params['W2']])")
    if not weights:
        raise ValueError("l2_penalty: no weights given; expected at least one weight tensor")
    _checked_number("l2_penalty", "lambd", lambd, ">= 0", lambda v: v >= 0)
    _checked_number("l2_penalty", "m (the number of examples)", m, "> 0", lambda v: v > 0)
    lambd = float(lambd)  # Python numbers: a NumPy int m would make a float32 cost float64
    if type(m) is not int and type(m) is not float:
        m = int(m) if isinstance(m, numbers.Integral) else float(m)
    return _l2_penalty(*weights, lambd=lambd, m=m)


# --- binary cross-entropy ---------------------------------------------------------
_LOG_FLOOR = -100.0  # as PyTorch's BCELoss: log(0) counts as -100, so the cost stays finite
_FLOAT64_FLOOR = math.exp(_LOG_FLOOR)  # its log is exactly -100.0 in float64
_FLOAT64_FLOOR_ARRAY = np.array(_FLOAT64_FLOOR)
# Below this probability of the true label, 1 - sigmoid(z) has lost digits to cancellation:
# with the logits at hand, such terms are computed from z instead (exact for every finite z).
_TRUST_PROBABILITY = 1e-6


def _check_labels(y):
    # y (1 - y) is 0 exactly where y is 0 or 1 (NaN and inf give NaN or inf): one pass. (y is a
    # float array: binary_cross_entropy converts the labels, refusing strings, as every Tensor's data.)
    product = 1.0 - y
    product *= y  # y (1 - y) in place, no second new array; with the 0-d floor below ~2.5k instructions a call
    if np.count_nonzero(product):
        bad = y[(y != 0) & (y != 1)].ravel()[:3]
        raise DomainError(f"binary_cross_entropy: labels must be 0 or 1, found {bad.tolist()}")


def _check_probabilities(a):
    if a.size and not (a.min() >= 0 and a.max() <= 1):
        nan = np.isnan(a)
        if nan.any():  # (min and max are NaN then: no range to show, and sigmoid is no cure)
            first = tuple(int(i) for i in np.argwhere(nan)[0])
            raise DomainError(f"binary_cross_entropy: the predictions hold NaN ({int(nan.sum())} of {a.size} "
                              f"entries, the first at index {first} of shape {a.shape}); the forward pass produced "
                              "NaN (training diverging, or NaN in the data): run it under ag.detect_anomaly() to "
                              "find the op")
        raise DomainError(f"binary_cross_entropy: predictions must lie in [0, 1] (probabilities), found "
                          f"values in [{a.min()}, {a.max()}]; apply sigmoid first, or use "
                          "binary_cross_entropy_with_logits")


@float64_for_half
def _bce(a, y, *logits):
    if y.shape != a.shape:
        raise ShapeError(f"binary_cross_entropy: labels have shape {y.shape} but predictions have shape "
                         f"{a.shape}; they must match")
    m = a.shape[-1] if a.ndim else 1
    if m == 0:
        raise ValueError(f"binary_cross_entropy: no examples (predictions of shape {a.shape}); expected m >= 1")
    _check_labels(y)
    if not logits:  # a sigmoid's output lies in [0, 1] unless NaN, which the result then shows
        _check_probabilities(a)
    # -log of the probability given to each true label: for 0/1 labels exactly the exercise's
    # terms -y log a - (1 - y) log(1 - a), summed in the same order, so costs match it.
    p = np.where(y, a, 1.0 - a)
    if p.dtype == np.float64:  # log(max(p, e^-100)) is max(log p, -100) without log(0)'s warning
        log_p = np.log(np.maximum(p, _FLOAT64_FLOOR_ARRAY))  # (0-d array: no Python float to convert)
    else:  # in narrower floats e^-100 is subnormal or 0, with another log
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), _LOG_FLOOR)
    if logits:
        if np.minimum.reduce(p, axis=None) < _TRUST_PROBABILITY:  # log(sigmoid(s)) = -softplus(-s), s = ±z
            s = np.where(y, logits[0], -logits[0])  # (np.where: log_p of a 0-d input is a NumPy scalar)
            log_p = np.where(p < _TRUST_PROBABILITY, -(np.maximum(-s, 0) + np.log1p(np.exp(-np.abs(s)))), log_p)
    cost = -(1.0 / m) * np.add.reduce(log_p, axis=None)  # (np.sum without its Python wrapper)
    if logits and not math.isfinite(cost):
        _check_probabilities(a)
    return cost


# The cost VJPs take float16 through _float64_rule (ops.py), computed in float64 and rounded once as
# the docs promise: in float16, 1 - a and a - y rounded before the division by m rounded again (1 ulp
# off), and sigmoid(z) rounds to 1 from z = 8 on, so with_logits' sigmoid(z) - 1 was 0 (-3.4e-4 there)
@_float64_rule
def _bce_vjp_probabilities(g, out, a, y, *logits):
    m = a.shape[-1] if a.ndim else 1
    p = y * a + (1 - y) * (1 - a)  # the true label's probability, written so it differentiates again
    floor = (_raw(p) < 1e-12) * (1e-12 - _raw(p))  # keeps 1/p finite where p is 0 (a constant shift)
    return g * (1 - 2 * y) / ((p + floor) * m)


@float64_for_half
def _bce_jvp_probabilities(t, out, a, y):
    return np.sum(_bce_vjp_probabilities(1.0, out, a, y) * t)


class _CrossEntropy(Primitive):
    """A sigmoid's output ``a`` comes with its logits ``z`` as a third input: the gradient
    goes straight to ``z`` as ``(a - y) / m`` (the hand-derived dZ = A - Y), so a saturated
    sigmoid never gives 0/0, and ``a``'s own edge is not walked. A ``retain_grad()`` on
    ``a`` still receives dJ/da."""

    def input_grads(self, g, out, parents, params, higher):
        grads = super().input_grads(g, out, parents, params, higher)
        a = parents[0]
        if len(parents) == 3 and a._retain:  # (written with the other gradients, once the walk succeeds)
            args, value = (parents, out) if higher else ([p._array for p in parents], out._array)
            grads = [ForGradOnly(_raw(_bce_vjp_probabilities(g, value, *args[:2])))] + list(grads[1:])
        return grads


def _bce_latex(terms, node):
    a, y = terms[0], terms[1]
    labels = node._parents[1]
    if labels._prim is None and not labels.name and not labels.requires_grad:
        y = tex.Term(tex.data_symbol("Y", labels._array), simple=True)  # labels passed as a plain array
    y_factor = y if y.prec == tex.ATOM else tex.parens(y)
    one_minus_y = tex.parens(tex.Term(f"1 - {tex.right_of_sum(y, tex.PRODUCT).text}", tex.SUM))
    one_minus_a = tex.Term(f"1 - {tex.right_of_sum(a, tex.PRODUCT).text}", tex.SUM)
    inner = f"{y_factor.text}{tex.prefix(chr(92) + 'log', a).text} + {one_minus_y.text}\\log({one_minus_a.text})"
    m = tex.symbol("m", _bce_examples(node))
    return tex.Term(f"-\\frac{{1}}{{{m}}}\\sum\\left({inner}\\right)", tex.NEG)


def _bce_examples(node):
    """The m of cross-entropy output ``node``: its probabilities' columns."""
    a = node._parents[0]
    return a.shape[-1] if a.ndim else 1


_cross_entropy = _CrossEntropy(
    _bce, "binary_cross_entropy", latex=_bce_latex,
    vjps=(lambda g, out, a, y, *logits: None if logits else _bce_vjp_probabilities(g, out, a, y), None,
          _float64_rule(lambda g, out, a, y, z: (a - y) * (g / (a.shape[-1] if a.ndim else 1)))),
    # forward mode follows the same edges: through z when the logits are there, else through a
    jvps=(lambda t, out, a, y, *logits: None if logits else _bce_jvp_probabilities(t, out, a, y),
          None, float64_for_half(lambda t, out, a, y, z: np.sum((a - y) * t) / (a.shape[-1] if a.ndim else 1))),
    draw=lambda node: ("cost-term", ["cross-entropy", "-(1/m) Σ (y log a + (1-y) log(1-a))",
                                     f"m = {_bce_examples(node)}"]))
_cross_entropy.edge_labels = {0: "a", 1: "y", 2: "grad (a-y)/m"}
_cross_entropy.symbols = lambda node: {"m": _bce_examples(node)}


def binary_cross_entropy(a, y):
    """``-(1/m) * sum(y log a + (1-y) log(1-a))``, m = a.shape[-1] (examples are columns).

    Args:
        a: predicted probabilities in [0, 1], shape (k, m) (usually (1, m)).
        y: labels of the same shape, each 0 or 1; not differentiable (a gradient or a
            non-zero tangent reaching them is refused).
    Returns:
        scalar Tensor. Finite even where ``a`` is exactly 0 or 1 (log is floored at
        -100, as PyTorch's BCELoss). Each term is the course's ``log(a)`` or
        ``log(1 - a)`` of the rounded ``a``, bit for bit, so a well-classified
        example's small cost loses relative accuracy: for y = 0 the term is 0 once
        ``1 - a`` rounds to 1 (sigmoid(z) for z below about -17 in float32, -37 in
        float64; the true cost is about exp(z)). When ``a`` came from ``sigmoid(z)``
        the op also takes ``z``: a term whose label's probability (``a``, or ``1 - a``)
        is below 1e-6, a confident wrong prediction, is computed from ``z`` exactly,
        and the gradient ``(a - y) / m`` goes straight to ``z``, as the hand-derived
        dZ = A - Y does, so a saturated sigmoid never gives 0/0. For every term
        exact at saturated logits use ``binary_cross_entropy_with_logits``.
    """
    a = as_tensor(a)
    # converted as binary_cross_entropy_with_logits' labels are (ragged lists, strings refused by name;
    # int and bool labels take a's dtype), named as the labels; their values are checked in the forward
    y = as_tensor(y, a.dtype, "binary_cross_entropy (labels)")
    z = logits_of(a)
    if z is not None:
        return _cross_entropy(a, y, z)
    return _cross_entropy(a, y)


# --- cross-entropy from logits -------------------------------------------------------
def _examples(shape, op):
    m = shape[-1] if len(shape) else 1
    if m == 0:
        raise ValueError(f"{op}: no examples (input of shape {shape}); expected m >= 1 columns")
    return m


@float64_for_half
def _bce_logits(z, y):
    """-(1/m) sum(y log sigmoid(z) + (1-y) log(1 - sigmoid(z))) in the log-sum-exp form
    max(z, 0) - z y + log(1 + exp(-|z|)), exact for every finite z."""
    op = "binary_cross_entropy_with_logits"
    if y.shape != z.shape:
        raise ShapeError(f"{op}: labels have shape {y.shape} but logits have shape {z.shape}; they must match")
    m = _examples(z.shape, op)
    if y.size and not (y.min() >= 0 and y.max() <= 1):
        raise DomainError(f"{op}: labels must lie in [0, 1] (0/1 or probabilities), found values in "
                          f"[{y.min()}, {y.max()}]")
    y = y.astype(z.dtype, copy=False)
    if np.isinf(z).any():  # (at z = ±inf, max(z, 0) - z y is inf - inf)
        return np.sum(_saturated_terms(z, y)) / z.dtype.type(m)
    terms = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return np.sum(terms) / z.dtype.type(m)


def _saturated_terms(z, y):
    """``_bce_logits``' terms where some z are infinite: max(z, 0) - z y = |z| w, w the weight of the label
    that z argues against (1 - y for z > 0, y for z < 0), is 0 where w is 0 (its limit: sigmoid(inf) = 1
    is right for y = 1) and inf where w > 0, as the math and PyTorch give, for 0/1 and soft labels."""
    away = np.where(z > 0, 1 - y, y)
    with np.errstate(invalid="ignore"):  # (inf * 0, replaced by its limit 0)
        return np.where(away == 0, 0, np.abs(z) * away) + np.log1p(np.exp(-np.abs(z)))


_bce_with_logits = Primitive(
    _bce_logits, "binary_cross_entropy_with_logits",
    vjps=(_float64_rule(lambda g, out, z, y: (_apply(sigmoid, z) - y) * (g / _examples(z.shape, ""))),
          lambda g, out, z, y: -z * (g / scale_for(_examples(z.shape, ""), z))),
    jvps=(float64_for_half(lambda t, out, z, y: np.sum((_apply(sigmoid, z) - y) * t) / _examples(z.shape, "")),
          float64_for_half(lambda t, out, z, y: -np.sum(z * t) / _examples(z.shape, ""))),
    latex=lambda t, node: tex.function("BCEWithLogits", *t))


def binary_cross_entropy_with_logits(z, y):
    """Binary cross-entropy of ``sigmoid(z)``, computed from the logits z.

    Args:
        z: logits, shape (k, m) (usually (1, m)), examples as columns.
        y: labels of z's shape, in [0, 1] (0/1, or soft labels).
    Returns:
        scalar Tensor ``-(1/m) sum(y log sigmoid(z) + (1-y) log(1 - sigmoid(z)))``, exact for
        every finite z (z = 40, y = 0 gives 40 / m, not a floored log); d/dz = (sigmoid(z) - y) / m,
        computed so, as PyTorch does: off by a few ulps of 1 (over m) at most, but 0 where
        sigmoid(z) rounds to y = 1 (z from about 17 in float32, 37 in float64; true: about
        -exp(-z) / m).
    """
    return _bce_with_logits(z, y)


def _one_hot(labels, logits_shape, axis, dtype):
    """(k, m) one-hot (or given probability) labels for ``cross_entropy``, checked."""
    op = "cross_entropy"
    if labels.shape == tuple(logits_shape):
        if labels.size and not (labels.min() >= 0 and labels.max() <= 1):
            raise DomainError(f"{op}: one-hot labels must lie in [0, 1], found values in "
                              f"[{labels.min()}, {labels.max()}]")
        return labels.astype(dtype, copy=False)
    k = logits_shape[axis]
    index_shape = tuple(n for i, n in enumerate(logits_shape) if i != axis)
    if labels.shape != index_shape:
        raise ShapeError(f"{op}: labels have shape {labels.shape}; expected class indices of shape {index_shape} "
                         f"or one-hot labels of the logits' shape {tuple(logits_shape)} (classes along axis {axis})")
    if labels.dtype.kind not in "iuf":
        raise DomainError(f"{op}: class indices must be whole numbers, got dtype {labels.dtype}")
    if labels.dtype.kind == "f" and labels.size and not np.all(np.isfinite(labels) & (np.floor(labels) == labels)):
        bad = labels[~(np.isfinite(labels) & (np.floor(labels) == labels))].ravel()[:3]
        raise DomainError(f"{op}: class indices must be whole numbers (in any dtype), found {bad.tolist()}")
    if labels.size and not (labels.min() >= 0 and labels.max() < k):
        raise DomainError(f"{op}: class indices must lie in [0, {k - 1}] ({k} classes), found values in "
                          f"[{labels.min()}, {labels.max()}]")
    classes = np.arange(k).reshape([k if i == axis else 1 for i in range(len(logits_shape))])
    return (classes == np.expand_dims(labels, axis)).astype(dtype)


def _class_axis(logits, axis):
    if logits.ndim == 0:
        raise ShapeError("cross_entropy: logits must have a class axis, got a 0-d array")
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"cross_entropy: axis must be one int (the class axis), got {axis!r}")
    if not -logits.ndim <= axis < logits.ndim:
        raise ShapeError(f"cross_entropy: axis {axis} is out of range for logits of shape {logits.shape}; "
                         f"expected an int in [{-logits.ndim}, {logits.ndim - 1}]")
    return int(axis) % logits.ndim


@float64_for_half
def _ce(logits, labels, axis=0):
    axis = _class_axis(logits, axis)
    target = _one_hot(labels, logits.shape, axis, logits.dtype)
    m = logits.size // logits.shape[axis] if logits.shape[axis] else 0
    if m == 0:
        raise ValueError(f"cross_entropy: no examples (logits of shape {logits.shape}); expected m >= 1")
    picked = np.where(target != 0, target * _log_softmax(logits, axis), 0)  # 0 * -inf counts 0
    return -np.sum(picked) / logits.dtype.type(m)


def _ce_residual(logits, labels, axis):
    # softmax * (labels summed over classes) - target, and m: the gradient of the mean cross-entropy
    # is that over m (softmax - one_hot for labels that sum to 1 in each example, as one-hot ones do)
    axis = _class_axis(_raw(logits), axis)
    target = _one_hot(_raw(labels), logits.shape, axis, _raw(logits).dtype)
    total = np.add.reduce(target, axis=axis, keepdims=True)
    return _apply(softmax, logits, axis=axis) * total - target, logits.size // logits.shape[axis]


@_float64_rule  # (softmax - 1 cancels in float16 as sigmoid - y does)
def _ce_vjp(g, out, logits, labels, axis=0):
    residual, m = _ce_residual(logits, labels, axis)
    return residual * (g / m)


@float64_for_half
def _ce_jvp(t, out, logits, labels, axis=0):
    residual, m = _ce_residual(logits, labels, axis)
    return np.sum(residual * t) / m


_multiclass = Primitive(_ce, "cross_entropy", vjps=(_ce_vjp, None), jvps=(_ce_jvp, None),
                        latex=lambda t, node: tex.call("\\mathrm{CE}" + tex.params_subscript(node, "axis"), *t))


def cross_entropy(logits, labels, axis=0):
    """Multi-class cross-entropy: ``-(1/m) sum over examples of log_softmax(logits)`` at the true class.

    Args:
        logits: (k, m) scores, k classes along ``axis`` (0: examples are columns).
        labels: (m,) class indices in [0, k) (ints or whole floats), or (k, m) one-hot
            (or probability) labels of the logits' shape.
        axis: the class axis.
    Returns:
        scalar Tensor; d/dlogits = (softmax(logits) - one_hot) / m (softmax times each
        example's label sum, minus the labels, for labels that do not sum to 1). Labels are
        not differentiable: a gradient (reverse mode) or a non-zero tangent (``ag.jvp``)
        reaching them is refused.
    """
    return _multiclass(logits, labels, axis=axis)


for _op in [v for v in list(globals().values()) if isinstance(v, Primitive)]:
    _op.builtin = True  # (the engine's own ops: custom.py's checks are for yours)
