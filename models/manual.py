"""The hand-derived reference (docs/math.md), in plain NumPy.

This is the ONLY place in the project where backpropagation is written by
hand. The models (``three_layer``, ``deep``) write their cost once as an
expression of Tensors and take every gradient from ``backward()``; the tests
compare those gradients with the ones below, and the speed benchmarks compare
the engine's training step with ``three_layer_step`` / ``deep_step``.

Conventions: ``X`` is (n_x, m) with one column per example, ``Y`` is (1, m),
``params`` is a dict of ndarrays {"W1": (n_1, n_x), "b1": (n_1, 1), ...}.
Hidden layers use ReLU, the output layer sigmoid. The order of floating-point
operations follows the original exercise, so its published numbers come out.

The public functions check their arguments first (the helpers at the end of the file):
in NumPy a (m, 1) ``Y`` broadcasts against a (1, m) ``A`` into an (m, m) matrix and a
(1, 1) gradient into a (20, 1) bias, silently, so a wrong shape, a missing key or a
cache from the other network is refused by name (a ValueError or TypeError naming the
function, the argument, its shape and the expected one). So are inputs that would make the
gradients those of another function: a dropout mask holding values other than 0 and 1
(``ag.dropout``'s rule), and a backward pass given another keep_prob than its cache's forward
pass (a checked forward pass's cache carries its keep_prob). The formulas themselves stay
as the math writes them; ``check=False`` (keyword) skips the checks, so that the benchmark
times the course's step as the course runs it.
"""
import contextlib
import functools

import numbers

import numpy as np

from autograd_lite import DomainError
from autograd_lite.convert import plain_array
from autograd_lite.functional import _check_labels as _check_label_values, _check_mask, _check_probabilities

from . import (as_operand, check_count, check_examples, check_lambd, check_layer_dims, check_learning_rate,
               check_sizes)

LAYERS_3 = [2, 20, 3, 1]  # the regularization study's network


# --- the exercise's initialization and dropout masks (docs/math.md, "Inverted dropout") ---------------
def initialize_reference(layer_dims=LAYERS_3, *, check=True):
    """The study's initialization: the course's ``np.random.seed(3)``, then per layer
    ``W = randn(n_l, n_{l-1}) / sqrt(n_{l-1})`` and ``b = zeros((n_l, 1))``.

    The draws come from a stream of their own, ``np.random.RandomState(3)``: the same bits as the
    course's global seeding, without touching NumPy's global generator (the user's), so threads
    initializing at once each get the sequential result.

    Args:
        layer_dims: [n_x, n_1, ..., n_L], at least 2 positive ints (any iterable of them, NumPy ints
            too, taken as Python ints); n_L need not be 1 here (the course's initialize_parameters_deep
            is tried on [5, 4, 3]), though the forward passes below take one output unit only.
    Returns:
        dict of float64 ndarrays {"W1": (n_1, n_0), "b1": (n_1, 1), ...}.
    Raises:
        TypeError, ValueError: layer_dims not such a list (``models.check_layer_dims``).
    """
    if check:
        layer_dims = check_layer_dims("initialize_reference", layer_dims, one_output=False)
    stream = np.random.RandomState(3)
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = stream.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        params[f"b{l}"] = np.zeros((layer_dims[l], 1))
    return params


def reference_dropout_masks(hidden_sizes, m, keep_prob, *, check=True):
    """The exercise's masks: the course's ``np.random.seed(1)``, then ``rand(n_l, m) < keep_prob``
    for each hidden layer in order. Re-seeding means every call returns the same masks. Drawn from a
    stream of their own, ``np.random.RandomState(1)`` (the same bits; as ``initialize_reference``).

    Args:
        hidden_sizes: sizes of the hidden layers, ints >= 1 in a list, a tuple or any iterable (an
            ndarray, a range, a generator), as ``initialize_reference`` takes layer_dims, e.g. (20, 3).
        m: number of examples, an int >= 1.
        keep_prob: probability of keeping a unit, in (0, 1], compared with the draws as given
            (``models.as_operand``: an np.float32 0.86 is the float32 value).
    Returns:
        list of boolean (n_l, m) arrays, one per hidden layer.
    Raises:
        TypeError, ValueError: an argument not as above, naming it.
    """
    if check:
        hidden_sizes, keep_prob = _check_mask_sizes("reference_dropout_masks", hidden_sizes, m, keep_prob)
    stream = np.random.RandomState(1)
    return [stream.rand(n, m) < keep_prob for n in hidden_sizes]


# --- activations and cost ------------------------------------------------------------------
def relu(Z):
    """max(0, Z) elementwise."""
    return np.maximum(0, Z)


def sigmoid(Z):
    """1 / (1 + exp(-Z)) elementwise."""
    with np.errstate(over="ignore"):  # exp(-Z) -> inf for Z << 0 gives the right 0
        return 1 / (1 + np.exp(-Z))


def compute_cost(A, Y, *, check=True):
    """Cross-entropy as the published study writes it, summed with ``np.nansum``, which drops every
    NaN term. Checked, A holds probabilities in [0, 1] and Y labels 0/1, so the only NaN terms are the
    0 * log(0) ones where A is exactly 0 or 1 (taken as their limit 0). ``check=False`` is the course's
    bare formula: a NaN prediction or label is dropped silently there (all NaN: a cost of 0.0).

    Args:
        A: (1, m) predicted probabilities, m >= 1; Y: (1, m) labels 0/1.
    Returns:
        float.
    Raises:
        ValueError: A not (1, m) or of zero examples, Y not of A's shape; A holding NaN or values
            outside [0, 1], Y values other than 0 and 1 (``binary_cross_entropy``'s rules).
        TypeError: A or Y not a numeric ndarray, or a masked array with a masked entry (``_plain``;
            an np.matrix is taken as its ndarray).
    """
    if check:  # (check=False: the formulas alone, as the course runs them: bench's reference)
        A, Y = _check_cost_inputs("compute_cost", A, Y)
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    return 1. / m * np.nansum(logprobs)


def compute_cost_with_regularization(A, Y, params, lambd, *, check=True):
    """Cross-entropy plus ``(lambd / (2m)) * sum_l sum(W[l] ** 2)`` (biases not penalized).

    Args:
        A, Y: (1, m); params: dict with "W1".."WL"; lambd: a finite number >= 0.
    Returns:
        float.
    Raises:
        ValueError, TypeError: as ``compute_cost``; params not W1, b1, ..., WL, bL; lambd not a
            finite number >= 0 (``models.check_lambd``).
    """
    if check:
        A, Y = _check_cost_inputs("compute_cost_with_regularization", A, Y)
        _check_params("compute_cost_with_regularization", params)
        check_lambd("compute_cost_with_regularization", lambd)
    m = Y.shape[1]
    weights = [params[f"W{l}"] for l in range(1, len(params) // 2 + 1)]
    l2 = 1. / m * lambd / 2 * sum(np.sum(np.square(W)) for W in weights)
    return compute_cost(A, Y, check=False) + l2  # (A and Y were checked above, or are not to be)


# --- the 3-layer network, line by line as docs/math.md writes it -----------------------------
def forward_propagation(X, params, keep_prob=1.0, masks=None, *, check=True):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, inverted dropout on
    the two hidden layers when ``masks = (D1, D2)`` is given.

    Args:
        X: (n_x, m), m >= 1; params: W1, b1, W2, b2, W3, b3; keep_prob: in (0, 1], divided by as
            given (a NumPy number keeps its type, so check=False computes the same; a Fraction is
            taken as its float: ``models.as_operand``);
        masks: (D1 (n_1, m), D2 (n_2, m)) of 0/1 (an entry may be None: NO dropout
            on that layer, so [None, None] drops nothing at any keep_prob; three_layer.forward
            draws a fresh mask for a None entry instead); None only when keep_prob is 1.
    Returns:
        A3 (1, m) and the cache for ``backward_propagation``: the 14-tuple (Z1, D1, A1, W1, b1,
        Z2, D2, A2, W2, b2, Z3, A3, W3, b3); checked, it also carries keep_prob (``_carrying``).
    Raises:
        ValueError: keep_prob < 1 without masks (no dropout would happen), keep_prob
            outside (0, 1], params not W1..b3 of matching shapes, X or a mask of the wrong shape,
            X of zero examples or holding NaN or inf (``models.check_examples``), a mask holding
            values other than 0 and 1 (``ag.dropout``'s rule).
    """
    if check:
        X, keep_prob = _check_forward("forward_propagation", X, params, keep_prob, masks, layers=3)
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    D1, D2 = masks if masks is not None else (None, None)
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    if D1 is not None:
        A1 = A1 * D1
        A1 = A1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    if D2 is not None:
        A2 = A2 * D2
        A2 = A2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, (_carrying(cache, keep_prob, D1 is not None or D2 is not None) if check else cache)


def backward_propagation(X, Y, cache, lambd=0.0, keep_prob=1.0, *, check=True):
    """The hand-derived backward pass (docs/math.md) with the L2 terms and inverted dropout (same masks).

    Args:
        X: (n_x, m); Y: (1, m); cache from ``forward_propagation``;
        lambd: L2 strength, a finite number >= 0 (0: none); keep_prob: the forward pass's (the
            masked units are divided by it again here).
    Returns:
        dict of gradients {"dW1", "db1", ..., "dW3", "db3"} with the parameters' shapes.
    Raises:
        ValueError: a cache that is not forward_propagation's, Y not A3's shape (1, m),
            X not the forward pass's shape, a keep_prob other than the one the cache's (checked)
            forward pass used (compared at the lower precision of the two: np.float32(0.86) and 0.86
            are the same, ``_same_keep_prob``), lambd not a finite number >= 0 (``models.check_lambd``).
        TypeError: X or Y a masked array with a masked entry (``_plain``; an np.matrix is taken as its ndarray).
    """
    if check:
        X, Y, keep_prob = _check_cache("backward_propagation", X, Y, cache, keep_prob)
        check_lambd("backward_propagation", lambd)
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    if D2 is not None:
        dA2 = dA2 * D2
        dA2 = dA2 / keep_prob
    dZ2 = np.multiply(dA2, A2 > 0)
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    if D1 is not None:
        dA1 = dA1 * D1
        dA1 = dA1 / keep_prob
    dZ1 = np.multiply(dA1, A1 > 0)
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    if lambd:
        dW3 = dW3 + lambd / m * W3
        dW2 = dW2 + lambd / m * W2
        dW1 = dW1 + lambd / m * W1
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}


def update_parameters(params, grads, learning_rate, *, check=True):
    """Gradient descent in place: ``p -= learning_rate * dp`` for every parameter.

    Args:
        params: dict of float ndarrays (updated in place); grads: {"d" + key: ndarray}
            of the same shapes; learning_rate: a finite number >= 0 (0: nothing moves, as
            ``torch.optim.SGD(lr=0)`` takes it; the train functions still require > 0), used as
            given (``models.as_operand``: ``check=False`` computes the same numbers).
    Raises:
        ValueError: a gradient missing or of another shape than its parameter (NumPy
            would broadcast a (1, 1) db1 into every entry of b1 without a word); learning_rate
            not a finite number >= 0 (``models.check_learning_rate``: NaN would turn every
            parameter into NaN, an array broadcast). Nothing is updated then.
        TypeError: a parameter that is not a float ndarray (``p -= ...`` would rebind a
            float, leaving params unchanged, and refuse an int array), a gradient that is not real.
    """
    if check:
        _check_update("update_parameters", params, grads)
        learning_rate = check_learning_rate("update_parameters", learning_rate, zero=True)
    for key, p in params.items():
        p -= learning_rate * grads["d" + key]


def three_layer_step(params, X, Y, learning_rate, lambd=0.0, keep_prob=1.0, masks=None, *, check=True):
    """One full-batch training step of the study as written by hand: forward,
    cost, backward, update (params updated in place).

    Args:
        params: dict of ndarrays W1..b3; X: (2, m); Y: (1, m);
        masks: (D1, D2), required when keep_prob < 1 (e.g. ``reference_dropout_masks``):
            the course draws them itself, this reference takes them so that a caller
            can give the engine the same ones.
    Returns:
        the cost before the update (float), as the exercise prints it.
    Raises:
        ValueError, TypeError: what ``forward_propagation``, the cost, ``backward_propagation``
            or ``update_parameters`` refuse (Y not (1, m), keep_prob < 1 without masks, ...),
            named "three_layer_step (in forward_propagation): ..."; lambd not a finite number >= 0,
            named "three_layer_step: ...". Nothing is updated then.
    """
    with _Step("three_layer_step") if check else _NO_STEP:  # a refusal below names this step first
        if check:  # before ``if lambd`` below, which takes None as 0 and fails on an array
            check_lambd("three_layer_step", lambd)
        A3, cache = forward_propagation(X, params, keep_prob, masks, check=check)
        cost = (compute_cost_with_regularization(A3, Y, params, lambd, check=check) if lambd
                else compute_cost(A3, Y, check=check))
        grads = backward_propagation(X, Y, cache, lambd, keep_prob, check=check)
        update_parameters(params, grads, learning_rate, check=check)
    return cost


# --- the general L-layer network (docs/math.md, "The L-layer network") -----------------------------------------
def L_model_forward(X, params, keep_prob=1.0, masks=None, *, check=True):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, inverted dropout on hidden
    layer l when ``masks[l - 1]`` is given.

    Args:
        X: (n_x, m), m >= 1; params: W1, b1, ..., WL, bL; keep_prob: in (0, 1] (as ``forward_propagation``);
        masks: a list of L-1 entries, each an (n_l, m) 0/1 array or None (NO dropout
            on that layer; deep.forward draws a fresh mask for a None entry instead); None
            only when keep_prob is 1.
    Returns:
        AL (1, m) and caches: a list, per layer (A_prev, W, D or None, A); checked, it also
        carries keep_prob (``_carrying``).
    Raises:
        ValueError, TypeError: as ``forward_propagation``.
    """
    if check:
        X, keep_prob = _check_forward("L_model_forward", X, params, keep_prob, masks)
    L = len(params) // 2
    caches, A = [], X
    for l in range(1, L + 1):
        A_prev, W = A, params[f"W{l}"]
        Z = np.dot(W, A_prev) + params[f"b{l}"]
        D = None
        if l < L:
            A = relu(Z)
            D = masks[l - 1] if masks is not None else None
            if D is not None:
                A = A * D / keep_prob
        else:
            A = sigmoid(Z)
        caches.append((A_prev, W, D, A))
    return A, (_carrying(caches, keep_prob, any(D is not None for _, _, D, _ in caches)) if check else caches)


def L_model_backward(Y, caches, lambd=0.0, keep_prob=1.0, *, check=True):
    """Backpropagation through ``L_model_forward``: dZL = AL - Y, then per layer
    ``dW = (1/m) dZ A_prev^T + (lambd/m) W``, ``dA_prev = W^T dZ`` (times the
    layer's mask / keep_prob), ``dZ_prev = dA_prev * (A_prev > 0)``.

    Args:
        Y: (1, m); caches from ``L_model_forward``; lambd: L2 strength, a finite number >= 0
        (0: none); keep_prob: the forward pass's.
    Returns:
        dict {"dW1", "db1", ..., "dWL", "dbL"}.
    Raises:
        ValueError, TypeError: caches that are not L_model_forward's, Y not AL's shape (1, m),
            a keep_prob other than the one the caches' (checked) forward pass used (as
            ``backward_propagation`` compares them), lambd not a
            finite number >= 0 (``models.check_lambd``).
    """
    if check:
        Y, keep_prob = _check_caches("L_model_backward", Y, caches, keep_prob)
        check_lambd("L_model_backward", lambd)
    m = Y.shape[1]
    L = len(caches)
    grads = {}
    dZ = caches[-1][3] - Y
    for l in range(L, 0, -1):
        A_prev, W, _, _ = caches[l - 1]
        dW = 1. / m * np.dot(dZ, A_prev.T)
        grads[f"dW{l}"] = dW + lambd / m * W if lambd else dW
        grads[f"db{l}"] = 1. / m * np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dA_prev = np.dot(W.T, dZ)
            D_prev = caches[l - 2][2]
            if D_prev is not None:
                dA_prev = dA_prev * D_prev / keep_prob
            dZ = dA_prev * (A_prev > 0)
    return grads


def deep_step(params, X, Y, learning_rate, lambd=0.0, keep_prob=1.0, masks=None, *, check=True):
    """One gradient-descent step of the L-layer net by hand (params updated in place).

    Args:
        params: dict of ndarrays W1..bL; X: (n_x, m) (a mini-batch); Y: (1, m);
        masks: per hidden layer (n_l, m) 0/1 arrays, required when keep_prob < 1.
    Returns:
        the cost before the update (float).
    Raises:
        ValueError, TypeError: as ``three_layer_step``, from ``L_model_forward``,
            ``L_model_backward`` and the others, named "deep_step (in L_model_forward): ...".
    """
    with _Step("deep_step") if check else _NO_STEP:  # a refusal below names this step first
        if check:  # (as in three_layer_step)
            check_lambd("deep_step", lambd)
        AL, caches = L_model_forward(X, params, keep_prob, masks, check=check)
        cost = (compute_cost_with_regularization(AL, Y, params, lambd, check=check) if lambd
                else compute_cost(AL, Y, check=check))
        grads = L_model_backward(Y, caches, lambd, keep_prob, check=check)
        update_parameters(params, grads, learning_rate, check=check)
    return cost


# --- argument checks -------------------------------------------------------------------------
# Kept out of the formulas above so that those read like docs/math.md. NumPy broadcasts a
# (m, 1) Y against a (1, m) A, or a (1, 1) gradient into a (20, 1) bias, without a word, and
# fails deep inside np.dot on the rest: each public function checks its inputs here first, by
# shape and key, and the dropout masks and keep_prob by value (check=False skips them all: the
# benchmark times the course's step so).
_PUBLIC = ("forward_propagation", "backward_propagation", "compute_cost_with_regularization", "compute_cost",
           "update_parameters", "L_model_forward", "L_model_backward")


class _Step:
    """Around a training step's body: an inner function's refusal comes back naming the step the
    learner called first, "three_layer_step (in forward_propagation): ...". Each inner function
    checks its own inputs once; the step adds no second pass over them."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None and issubclass(kind, (ValueError, TypeError)):
            inner, _, rest = str(error).partition(": ")
            if inner in _PUBLIC:
                raise kind(f"{self.name} (in {inner}): {rest}").with_traceback(traceback) from None
        return False


_NO_STEP = contextlib.nullcontext()  # (check=False: no checks ran, errors pass as they are)


class _Cache(tuple):
    """forward_propagation's 14-tuple, carrying ``keep_prob`` (``_carrying``)."""


class _Caches(list):
    """L_model_forward's list of per-layer caches, carrying ``keep_prob`` (``_carrying``)."""


def _carrying(cache, keep_prob, dropped):
    """A checked forward pass's cache (tuple) or caches (list), unchanged for every other use, that
    also carries the ``keep_prob`` it divided the kept units by, when a mask was applied (``dropped``;
    else None: nothing was divided): the backward pass divides by its own keep_prob argument again,
    and another value gives the gradients of another function (dW1 scaled by (forward / backward) ** 2
    through two dropout layers), silently. ``_same_keep_prob`` compares them. (check=False returns the
    plain one: no cost there.)"""
    cache = (_Cache if isinstance(cache, tuple) else _Caches)(cache)
    cache.keep_prob = keep_prob if dropped else None
    return cache


def _kind(cache):
    """The name of ``cache``'s type, a carried cache's by what it is to the learner: tuple or list."""
    return type(cache).__base__.__name__ if isinstance(cache, (_Cache, _Caches)) else type(cache).__name__


def _same_keep_prob(function, cache, keep_prob, name="cache"):
    """Refuse a backward pass's ``keep_prob`` other than the one its cache's forward pass used
    (a cache from an unchecked forward pass, or built by hand, or one no mask was applied in, carries
    none: nothing to compare). The two are compared at the lower precision of the two (a Python
    number or a NumPy int counts as float64): np.float32(0.86) one way and 0.86 the other are the
    same value written once, off by float32's rounding only (a relative 2e-8 in the gradients),
    which the caller chose by writing a float32; np.float16(0.86) and 0.86 likewise."""
    used = getattr(cache, "keep_prob", None)
    if used is None:
        return
    lower = min(_precision(used), _precision(keep_prob), key=lambda dtype: dtype.itemsize)
    if np.asarray(used).astype(lower) != np.asarray(keep_prob).astype(lower):
        raise ValueError(f"{function}: keep_prob is {keep_prob!r} but the forward pass that made the {name} used "
                         f"keep_prob={used!r}; expected the same value (compared in {lower}): the backward pass "
                         "divides by it where the forward pass did, and another value gives the gradients of "
                         "another function")


def _precision(number):
    """The float dtype ``number`` holds its value in: a NumPy float's own, float64 for the rest."""
    dtype = getattr(number, "dtype", None)
    return dtype if dtype is not None and dtype.kind == "f" else np.dtype(np.float64)


def _plain(function, name, x):
    """``x`` as the plain ndarray it holds (an np.matrix, whose ``*`` would be a matrix product, or a
    masked array with nothing masked), and anything else as it is; a masked array with a masked entry
    refused with a TypeError naming ``function`` and ``name`` (``plain_array``, the Tensor's rule): the
    formulas would skip those entries in a sum still divided by m, or compute with hidden values."""
    return plain_array(x, f"{function}: {name}")


def _check_array(function, name, x, expected):
    """Refuse anything but an ndarray (a list, a float or a Tensor has no shape to check)."""
    if not isinstance(x, np.ndarray):
        hint = " (a Tensor: pass its .data)" if hasattr(x, "data") and hasattr(x, "requires_grad") else ""
        raise TypeError(f"{function}: {name} is {type(x).__name__}{hint}; expected an ndarray of shape {expected}")


_NUMERIC = "fiub"  # the dtype kinds NumPy computes these formulas in (strings, objects, complex refused)


def _check_numeric(function, name, x):
    """Refuse an ndarray ``x`` of another dtype kind than _NUMERIC: NumPy's own error would name neither
    the function nor the argument ("data type must provide an itemsize" for strings)."""
    if x.dtype.kind not in _NUMERIC:
        raise TypeError(f"{function}: {name} has dtype {x.dtype}; expected real numbers")


def _check_labels(function, Y, shape, like):
    """Y (as ``_plain`` takes it, and so returned) must have exactly ``shape`` (1, m); ``like`` says
    where that shape comes from."""
    Y = _plain(function, "Y", Y)
    _check_array(function, "Y", Y, shape)
    if Y.shape != shape:
        hint = ("; it looks transposed: pass Y.T" if Y.shape == shape[::-1] else
                "; reshape it with Y.reshape(1, -1)" if Y.size == shape[1] else "")
        raise ValueError(f"{function}: Y has shape {Y.shape}; expected {shape}, {like}{hint}")
    return Y


def _check_cost_inputs(function, A, Y):
    """A one row (1, m >= 1) of probabilities, Y of A's shape, then their values (``_check_cost_values``).
    Returns (A, Y) as ``_plain`` takes them (a masked entry refused before any value is looked at)."""
    A = _plain(function, "A", A)
    _check_array(function, "A", A, "(1, m)")
    if A.ndim != 2 or A.shape[0] != 1:
        raise ValueError(f"{function}: A has shape {A.shape}; expected (1, m), one row of probabilities "
                         "(one column per example)")
    if A.shape[1] == 0:  # (the cost divides by m)
        raise ValueError(f"{function}: A has shape {A.shape}: zero examples; expected at least one column")
    Y = _check_labels(function, Y, A.shape, "the shape of A")
    _check_cost_values(function, A, Y)
    return A, Y


def _check_cost_values(function, A, Y):
    """A in [0, 1] without NaN, Y of 0 and 1 only, by ``ag.binary_cross_entropy``'s own checks: the
    course's np.nansum drops every NaN term, not only the 0 * log(0) ones at A exactly 0 or 1, so a
    diverged model's NaN predictions (or NaN labels) would cost 0.0, and A outside [0, 1] gives NaN
    logs, dropped too."""
    _check_numeric(function, "A", A)
    _check_numeric(function, "Y", Y)
    try:
        _check_probabilities(A)
        _check_label_values(Y)
    except DomainError as error:  # "binary_cross_entropy: predictions must lie in [0, 1] ..."
        raise ValueError(f"{function}: {str(error).partition(': ')[2]} (as ag.binary_cross_entropy requires; "
                         "the NaN-skipping sum would drop those terms silently)") from None


def _check_params(function, params, layers=None):
    """params must be exactly W1, b1, ..., WL, bL (L = ``layers`` when given), W_l (n_l, n_{l-1})
    chained layer to layer, b_l (n_l, 1) and one output unit. Returns the sizes [n_1, ..., n_L]
    (their count is L). The loop tests only;
    messages are built in ``_refuse_keys`` / ``_refuse_layer`` (the benchmark times these steps)."""
    if not isinstance(params, dict):
        raise TypeError(f"{function}: params is {type(params).__name__}; expected a dict W1, b1, ..., WL, bL")
    L = layers or len(params) // 2
    keys, names = _layer_keys(L)
    if L < 1 or params.keys() != keys:
        _refuse_keys(function, params, layers)
    rows, sizes = None, []
    for l, (W_key, b_key) in enumerate(names, start=1):
        W, b = params[W_key], params[b_key]
        if not (type(W) is np.ndarray and type(b) is np.ndarray and W.ndim == 2) \
                or (rows is not None and W.shape[1] != rows) or b.shape != (W.shape[0], 1) \
                or W.dtype.kind not in _NUMERIC or b.dtype.kind not in _NUMERIC:
            _refuse_layer(function, l, L, W, b, rows)
        rows = W.shape[0]
        sizes.append(rows)
    if rows != 1:  # one output unit: the labels are one row
        W = params[f"W{L}"]
        raise ValueError(f"{function}: params['W{L}'] has shape {W.shape}; expected (1, {W.shape[1]}): "
                         "one output unit, as the labels are one row")
    return sizes


@functools.lru_cache(maxsize=None)
def _layer_keys(L):
    """({"W1", "b1", ..., "WL", "bL"}, (("W1", "b1"), ..., ("WL", "bL")))."""
    names = tuple((f"W{l}", f"b{l}") for l in range(1, L + 1))
    return frozenset(k for pair in names for k in pair), names


def _refuse_keys(function, params, layers):
    """The ValueError for params whose keys are not W1, b1, ..., WL, bL (L: ``layers``, else the
    highest layer number among the keys, so that a missing b2 is named as missing)."""
    numbers = [int(k[1:]) for k in params if isinstance(k, str) and k[:1] in ("W", "b") and k[1:].isdigit()]
    L = layers or max([1, *numbers])
    expected = [f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"]
    missing = [k for k in expected if k not in params]
    extra = [str(k) for k in params if k not in expected]
    problem = "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                        + ([f"unexpected {', '.join(extra)}"] if extra else []))
    raise ValueError(f"{function}: params holds {', '.join(map(str, params)) or 'no keys'} ({problem}); "
                     f"expected {', '.join(expected)}")


def _refuse_layer(function, l, L, W, b, rows):
    """The error for layer l's W or b: not an ndarray, a masked entry (``_plain``), a shape that does
    not chain, not numbers; none for another ndarray subclass of the right shape."""
    W, b = _plain(function, f"params['W{l}']", W), _plain(function, f"params['b{l}']", b)
    _check_array(function, f"params['W{l}']", W, f"(n_{l}, n_{l - 1})")
    if W.ndim != 2 or (rows is not None and W.shape[1] != rows):
        want = f"({1 if l == L else 'n_' + str(l)}, {rows if rows is not None else 'n_x'})"
        raise ValueError(f"{function}: params['W{l}'] has shape {W.shape}; expected {want}"
                         + (f": W{l - 1} has {rows} rows (units)" if rows is not None else ""))
    _check_array(function, f"params['b{l}']", b, (W.shape[0], 1))
    if b.shape != (W.shape[0], 1):
        raise ValueError(f"{function}: params['b{l}'] has shape {b.shape}; expected {(W.shape[0], 1)}, "
                         f"a column with one entry per row of W{l}")
    _check_numeric(function, f"params['W{l}']", W)
    _check_numeric(function, f"params['b{l}']", b)


def _check_forward(function, X, params, keep_prob, masks, layers=None):
    """params and X of matching shapes, X's examples by the models' rule (``check_examples``: at least one,
    finite), then the dropout arguments (``_check_dropout``). Returns X as ``check_examples`` takes it (a
    plain ndarray: a masked entry refused) and keep_prob as ``_check_keep_prob`` returns it."""
    sizes = _check_params(function, params, layers)
    n_x = params["W1"].shape[1]
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] != n_x:
        _check_array(function, "X", X, f"({n_x}, m)")
        hint = "; it looks transposed: pass X.T" if X.ndim == 2 and X.shape[1] == n_x else ""
        raise ValueError(f"{function}: X has shape {X.shape}; expected ({n_x}, m): W1 has {n_x} columns "
                         f"(features), one column of X per example{hint}")
    X, _ = check_examples(function, X)
    return X, _check_dropout(function, keep_prob, masks, sizes[:-1], X.shape[1])


def _check_keep_prob(function, keep_prob):
    """keep_prob a number in (0, 1]: 0 would divide by zero, above 1 scale units up. Returns it as the
    formulas are to divide by it (``models.as_operand``: as given, a Fraction as its float), so that
    ``check=False`` computes the same numbers."""
    if type(keep_prob) is float and 0 < keep_prob <= 1:  # the usual case, tested first
        return keep_prob
    value = keep_prob[()] if isinstance(keep_prob, np.ndarray) and keep_prob.ndim == 0 else keep_prob
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # (ag.dropout's rule: Fraction too)
        raise TypeError(f"{function}: keep_prob is {value!r}; expected a number in (0, 1]")
    if not 0 < value <= 1:
        raise ValueError(f"{function}: keep_prob is {value!r}; expected a number in (0, 1]")
    return as_operand(keep_prob)


def _check_mask_sizes(function, hidden_sizes, m, keep_prob):
    """``reference_dropout_masks``' arguments: hidden sizes (any iterable, ``models.check_sizes``, as
    ``initialize_reference`` takes layer_dims) and m ints >= 1, keep_prob as ``_check_keep_prob`` takes
    it: 0 or 2 would make all-False or all-True masks. Returns (the sizes as Python ints, keep_prob)."""
    sizes = check_sizes(function, "hidden_sizes", hidden_sizes, "expected a list or tuple (or any iterable) "
                        "of the hidden layers' sizes, ints >= 1, e.g. (20, 3)")
    for l, n in enumerate(sizes):
        check_count(function, f"hidden_sizes[{l}]", n, 1)
    check_count(function, "m", m, 1)
    return [int(n) for n in sizes], _check_keep_prob(function, keep_prob)


def _check_dropout(function, keep_prob, masks, hidden, m):
    """Masks are required when keep_prob < 1: this reference draws none itself (the course
    draws them inside the forward pass; here the caller draws them, e.g. with
    ``reference_dropout_masks``, so the engine can be given the same ones). Without them
    no unit would be dropped, silently. Given masks: one per hidden layer, each (n_l, m) of 0/1, or
    None, which says "no dropout on this layer" (not "draw one", as in three_layer and deep); a masked
    one with a masked entry is refused (``_plain``). Returns keep_prob (``_check_keep_prob``)."""
    keep_prob = _check_keep_prob(function, keep_prob)
    if masks is None:
        if keep_prob < 1:
            raise ValueError(f"{function}: keep_prob={keep_prob} but masks=None, so no dropout would be applied; "
                             f"masks are required when keep_prob < 1: pass masks=reference_dropout_masks("
                             f"{tuple(hidden)}, {m}, {keep_prob}), or keep_prob=1.0 for no dropout")
        return keep_prob
    if not isinstance(masks, (list, tuple)) or len(masks) != len(hidden):
        n = len(masks) if isinstance(masks, (list, tuple)) else None
        got = f"has {n} entr{'y' if n == 1 else 'ies'}" if n is not None else f"is {type(masks).__name__}"
        raise ValueError(f"{function}: masks {got}; expected a list of {len(hidden)}, one (n_l, m) 0/1 "
                         f"array per hidden layer, of shapes {[(n, m) for n in hidden]}")
    for l, (D, n) in enumerate(zip(masks, hidden), start=1):
        if D is None:
            continue
        if not (type(D) is np.ndarray and D.shape == (n, m)):
            D = _plain(function, f"masks[{l - 1}]", D)
            _check_array(function, f"masks[{l - 1}]", D, (n, m))
            raise ValueError(f"{function}: masks[{l - 1}] has shape {D.shape}; expected {(n, m)}, "
                             f"the shape of hidden layer {l}'s activations A{l}")
        _check_mask_values(function, f"masks[{l - 1}]", D)
    return keep_prob


def _check_mask_values(function, name, D):
    """A mask of 0 and 1 only, by ``ag.dropout``'s own check: the backward passes take the relu's
    slope from the dropped-out activations (``A > 0``), which a negative entry turns to 0, so any
    other value gives gradients that are not those of the forward pass, silently."""
    try:
        _check_mask(D, shape=D.shape, dtype=D.dtype)
    except DomainError as error:  # "dropout: mask must hold only 0 and 1, found ..."
        raise ValueError(f"{function}: {name}: {str(error).partition(': ')[2]} (as ag.dropout requires); "
                         "expected a 0/1 mask, e.g. from reference_dropout_masks") from None


def _check_cache(function, X, Y, cache, keep_prob):
    """The 14-tuple ``forward_propagation`` returns, then Y and X of the forward pass's shapes. Returns
    X and Y as ``_plain`` takes them, and keep_prob (``_check_keep_prob``)."""
    expected = "the 14-tuple forward_propagation returns (L_model_forward's caches go to L_model_backward)"
    if not (isinstance(cache, tuple) and len(cache) == 14 and isinstance(cache[3], np.ndarray)
            and isinstance(cache[11], np.ndarray)):
        got = f"{_kind(cache)} of {len(cache)} entries" if hasattr(cache, "__len__") else _kind(cache)
        raise ValueError(f"{function}: cache is a {got}; expected {expected}")
    keep_prob = _check_keep_prob(function, keep_prob)
    _same_keep_prob(function, cache, keep_prob)
    A3, W1 = cache[11], cache[3]
    Y = _check_labels(function, Y, A3.shape, "the shape of A3 in the cache")
    X = _plain(function, "X", X)
    _check_array(function, "X", X, (W1.shape[1], A3.shape[1]))
    if X.shape != (W1.shape[1], A3.shape[1]):
        raise ValueError(f"{function}: X has shape {X.shape}; expected {(W1.shape[1], A3.shape[1])}, "
                         "the X the cache's forward pass was given")
    return X, Y, keep_prob


def _check_caches(function, Y, caches, keep_prob):
    """The list ``L_model_forward`` returns: one (A_prev, W, D, A) per layer; then Y of AL's shape.
    Returns Y as ``_plain`` takes it, and keep_prob (``_check_keep_prob``)."""
    expected = ("the list L_model_forward returns, one (A_prev, W, D, A) per layer "
                "(forward_propagation's cache goes to backward_propagation)")
    if not isinstance(caches, (list, tuple)) or not caches \
            or not all(isinstance(c, tuple) and len(c) == 4 for c in caches):
        got = f"{_kind(caches)} of {len(caches)} entries" if hasattr(caches, "__len__") else _kind(caches)
        raise ValueError(f"{function}: caches is a {got}; expected {expected}")
    keep_prob = _check_keep_prob(function, keep_prob)
    _same_keep_prob(function, caches, keep_prob, "caches")
    Y = _check_labels(function, Y, caches[-1][3].shape, "the shape of AL in the caches")
    return Y, keep_prob


def _check_update(function, params, grads):
    """Every parameter a float ndarray with a real gradient "d" + key of its own shape (the loop
    tests only; ``_refuse_update`` says what is wrong)."""
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"{function}: params and grads are {type(params).__name__} and {type(grads).__name__}; "
                        "expected two dicts, {'W1': ...} and {'dW1': ...}")
    for key, p in params.items():
        g = grads.get("d" + key) if isinstance(key, str) else None
        if type(p) is not np.ndarray or type(g) is not np.ndarray or p.dtype.kind != "f" or g.shape != p.shape \
                or g.dtype.kind not in _NUMERIC:
            _refuse_update(function, params, grads)


def _refuse_update(function, params, grads):
    """The error for the first parameter ``_check_update`` cannot update: missing gradients
    (all named), a parameter that is not a float ndarray, a gradient of another shape or not real
    (complex: ``p -= ...`` cannot cast it in place), a masked entry in either (``_plain``); none for
    another ndarray subclass."""
    missing = [f"d{k}" for k in params if f"d{k}" not in grads]
    if missing:
        raise ValueError(f"{function}: grads has no {', '.join(missing)} (it holds "
                         f"{', '.join(map(str, grads)) or 'no keys'}); expected 'd' + key for every "
                         f"parameter: {', '.join('d' + str(k) for k in params)}")
    for key, p in params.items():
        p, g = _plain(function, f"params[{key!r}]", p), _plain(function, f"grads['d{key}']", grads[f"d{key}"])
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            what = f"an ndarray of dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
            raise TypeError(f"{function}: params[{key!r}] is {what}; expected a float ndarray, updated in place")
        if np.shape(g) != p.shape:
            raise ValueError(f"{function}: grads['d{key}'] has shape {np.shape(g)} but params[{key!r}] has "
                             f"shape {p.shape}; they must match")
        if not hasattr(g, "shape"):  # a list of the right shape: refused, as np.asarray would hide a typo
            raise TypeError(f"{function}: grads['d{key}'] is {type(g).__name__}; expected an ndarray of shape "
                            f"{p.shape}")
        if hasattr(g, "dtype"):  # complex: ``p -= ...`` cannot cast it into the float parameter in place
            _check_numeric(function, f"grads['d{key}']", g)
