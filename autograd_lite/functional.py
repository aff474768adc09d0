"""The mission's composite ops: inverted dropout, the L2 penalty and binary
cross-entropy, each one recorded node with its own VJP (so drawings and
formulas show them as the textbook terms they are)."""
import math
import numbers

import numpy as np

from . import tape
from .errors import ShapeError
from .ops import _raw, sigmoid
from .primitive import primitive
from .tensor import Tensor, as_tensor

_default_rng = np.random.default_rng()
# ndarray.min/max/sum without their Python wrappers (same reductions, same results)
_lowest, _highest, _add_all = np.minimum.reduce, np.maximum.reduce, np.add.reduce


def manual_seed(seed):
    """Re-seed the generator that ``dropout`` uses when no ``rng`` is given."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


# --- dropout -------------------------------------------------------------------
@primitive(name="dropout")
def _dropout(a, mask, keep_prob):
    return a * mask / keep_prob


_dropout.defvjp(lambda g, out, a, mask, keep_prob: g * mask / keep_prob)


def dropout(a, keep_prob, *, mask=None, rng=None, training=True):
    """Inverted dropout: ``a * mask / keep_prob``.

    Args:
        a: Tensor or array of any shape.
        keep_prob: probability of keeping a unit, in (0, 1].
        mask: 0/1 array of a's shape to use as is; else drawn as
            ``rng.random(a.shape) < keep_prob``.
        rng: numpy.random.Generator (default: the module's, see ``manual_seed``).
        training: False returns ``a`` unchanged (as does keep_prob == 1).
    Returns:
        Tensor of a's shape; the node keeps ``mask`` and ``keep_prob`` in its params.
    """
    if type(keep_prob) is not float or not 0 < keep_prob <= 1:  # the common case costs one test
        if isinstance(keep_prob, bool) or not isinstance(keep_prob, numbers.Real) or not 0 < keep_prob <= 1:
            raise ValueError(f"dropout: keep_prob must be a number in (0, 1], got {keep_prob!r}")
    if type(a) is not Tensor:
        a = as_tensor(a)
    if not training or keep_prob == 1:
        return a
    drawn = mask is None
    if drawn:
        # A float 0/1 mask: multiplying by it is exact, and faster than by a boolean one. The
        # comparison is written into the draws' own array (float64), then cast to a's dtype if other.
        draws = (rng or _default_rng).random(a._data.shape)
        mask = np.less(draws, keep_prob, out=draws, casting="unsafe").astype(a._data.dtype, copy=False)
    else:
        mask = np.asarray(_raw(mask))
        if mask.shape != a.shape:
            raise ShapeError(f"dropout: mask has shape {mask.shape} but the input has shape {a.shape}; "
                             "they must match")
        if mask.dtype != bool and not np.all((mask == 0) | (mask == 1)):
            bad = mask[(mask != 0) & (mask != 1)].ravel()[:3]
            raise ValueError(f"dropout: mask must hold only 0 and 1, found values such as {bad.tolist()}")
        mask = mask.astype(a._data.dtype, copy=False)  # as a drawn mask (a float32 model stays float32)
    out = _dropout(a, mask=mask, keep_prob=float(keep_prob))
    if drawn and tape._State.tracer is not None:  # ag.compile draws this mask afresh on every replay
        tape._State.tracer.random_masks[out] = rng
    return out


# --- L2 penalty ----------------------------------------------------------------
@primitive(name="l2_penalty")
def _l2_penalty(*weights, lambd, m):
    # (1/m * lambd / 2) in the exercise's order of operations, so costs match it bit for bit.
    total = 0
    for w in weights:  # a loop, not sum() of a generator: no frame per weight
        total += _add_all(np.square(w), axis=None)
    return 1.0 / m * lambd / 2 * total


_l2_penalty.defvjp_argnum(lambda i, g, out, *weights, lambd, m: g * (lambd / m) * weights[i])


def l2_penalty(weights, lambd, m):
    """``(lambd / (2 m)) * sum over weights of sum(W ** 2)``.

    Args:
        weights: iterable of Tensors (any shapes); biases are usually left out.
        lambd: regularization strength, finite and >= 0.
        m: number of examples, > 0.
    Returns:
        scalar Tensor; d/dW = (lambd / m) W.
    """
    weights = list(weights)
    if not weights:
        raise ValueError("l2_penalty: no weights given; expected at least one weight tensor")
    # The usual float lambd and int m cost one test each; anything else gets the full checks.
    if type(lambd) is not float or not (math.isfinite(lambd) and lambd >= 0):
        if isinstance(lambd, bool) or not isinstance(lambd, numbers.Real) or not np.isfinite(lambd) or lambd < 0:
            raise ValueError(f"l2_penalty: lambd must be a finite number >= 0, got {lambd!r}")
    if type(m) is not int or m <= 0:
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not m > 0:
            raise ValueError(f"l2_penalty: m (the number of examples) must be > 0, got {m!r}")
    return _l2_penalty(*weights, lambd=float(lambd), m=m)


# --- binary cross-entropy ---------------------------------------------------------
_LOG_FLOOR = -100.0  # as PyTorch's BCELoss: log(0) counts as -100, so the cost stays finite
# The probability whose log is exactly the floor: log(max(p, it)) equals max(log(p), -100) for
# every p (log is increasing), without the divide-by-zero warning of log(0) to silence.
_PROBABILITY_FLOOR = math.exp(_LOG_FLOOR)


@primitive(name="binary_cross_entropy")
def _bce(a, y, *logits):
    m = a.shape[-1] if a.ndim else 1
    # -log of the probability given to each true label: for 0/1 labels these are exactly the
    # exercise's terms -y log a - (1 - y) log(1 - a) (the other product is a zero), with the
    # floor standing in for its nansum of 0 * log(0); summed in the same order, so costs match.
    log_p = np.where(y, a, 1.0 - a)
    if log_p.dtype == np.float64:
        np.log(np.maximum(log_p, _PROBABILITY_FLOOR, out=log_p), out=log_p)
    else:  # in narrower floats that probability is subnormal, with a log other than -100
        with np.errstate(divide="ignore"):
            np.maximum(np.log(log_p, out=log_p), _LOG_FLOOR, out=log_p)
    # -(1/m) sum(...) rather than (1/m) sum(-...): negation is exact, so the same value, one pass less
    return -(1.0 / m) * _add_all(log_p, axis=None)


def _bce_vjp_a(g, out, a, y, *logits):
    if logits:  # the gradient goes straight to the logits instead (see binary_cross_entropy)
        return None
    m = a.shape[-1] if a.ndim else 1
    a_raw = _raw(a)
    return g * (a - y) / (np.maximum(a_raw * (1 - a_raw), 1e-12) * m)


def _bce_vjp_logits(g, out, a, y, z):
    m = a.shape[-1] if a.ndim else 1
    return (a - y) * (g / m)  # g / m first: a scalar, so one array operation less


_bce.defvjp(_bce_vjp_a, None, _bce_vjp_logits)


def binary_cross_entropy(a, y):
    """``-(1/m) * sum(y log a + (1-y) log(1-a))``, m = a.shape[-1] (examples are columns).

    Args:
        a: predicted probabilities in [0, 1], shape (k, m) (usually (1, m)).
        y: labels of the same shape, each 0 or 1.
    Returns:
        scalar Tensor. Finite even where ``a`` is exactly 0 or 1 (log is floored
        at -100). When ``a`` came from ``sigmoid(z)`` the op also takes ``z`` and
        sends ``(a - y) / m`` straight to it, as the hand-derived dZ = A - Y does,
        so a saturated sigmoid never yields 0/0.
    """
    a = as_tensor(a)
    y_data = np.asarray(_raw(y))
    if y_data.shape != a.shape:
        raise ShapeError(f"binary_cross_entropy: labels have shape {y_data.shape} but predictions "
                         f"have shape {a.shape}; they must match")
    # y (1 - y) is 0 exactly where y is 0 or 1 (NaN and inf give NaN or inf): one pass, no temporaries kept
    if y_data.dtype != bool and np.count_nonzero(y_data * (1.0 - y_data)):
        bad = y_data[(y_data != 0) & (y_data != 1)].ravel()[:3]
        raise ValueError(f"binary_cross_entropy: labels must be 0 or 1, found {bad.tolist()}")
    a_data = a._data
    from_sigmoid = a._prim is sigmoid and a._parents is not None
    # A sigmoid's output lies in [0, 1] unless it is NaN, and a NaN makes the cost NaN: such
    # predictions are checked only when the cost is not finite. Any other input is checked
    # up front (a prediction above 1 could otherwise give a finite, wrong cost).
    if not from_sigmoid or tape._State.tracer is not None:
        _check_probabilities(a_data)
    if y_data.dtype != a_data.dtype:  # 0/1 labels are exact in any float: a float32 model must stay float32
        y = Tensor._wrap(y_data.astype(a_data.dtype))
    elif not isinstance(y, Tensor):  # checked above already: wrap it without a second conversion
        y = Tensor._wrap(y_data)
    out = _bce(a, y, a._parents[0]) if from_sigmoid else _bce(a, y)
    if not math.isfinite(out._data):
        _check_probabilities(a_data)
    return out


def _check_probabilities(a_data):
    """Raise unless every entry of ``a_data`` lies in [0, 1]."""
    if a_data.size and not (_lowest(a_data, axis=None) >= 0 and _highest(a_data, axis=None) <= 1):
        raise ValueError(f"binary_cross_entropy: predictions must lie in [0, 1] (probabilities), found "
                         f"values in [{a_data.min()}, {a_data.max()}]; apply sigmoid first")


__all__ = ["dropout", "l2_penalty", "binary_cross_entropy", "manual_seed", "Tensor"]
