"""The two classic "from scratch" exercises rebuilt on autograd_lite.

- ``three_layer``: the regularization study's [2, 20, 3, 1] network.
- ``deep``: the L-layer network with mini-batches, initializations and optimizers.
- ``manual``: the hand-derived NumPy reference the tests compare against.
- ``data``: the data loaders (this project's .npz files and the course's .mat / .h5 files).
- ``football``, ``cat``: the jobs; ``cli``: the ``autograd-lite`` command that runs them.

In a checkout this package is ``models`` (``python -m models.football``); installed
with pip it is ``autograd_lite_models`` (README, "Install and layout"), so nothing generic
named ``models`` lands in site-packages. The math behind every module is in
docs/math.md.

This module holds the checks both models share.
"""
import numbers
from contextlib import contextmanager

import numpy as np

import autograd_lite as ag
from autograd_lite import DomainError
from autograd_lite.convert import plain_array
from autograd_lite.functional import _is_number
from autograd_lite.lr_schedule import _real

__all__ = ["TrainingDivergedError", "InitialCostError", "check_examples", "check_count", "check_lambd",
           "check_learning_rate", "check_layer_dims", "check_sizes", "as_operand", "check_masks", "check_finite",
           "check_initial_cost", "diverging", "layer_count", "predict_params", "progress_range"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a NaN or inf cost or parameter; the message names the
    iteration and the first non-finite parameter (lower the learning rate)."""


class InitialCostError(FloatingPointError):
    """The first cost, taken at the starting parameters before any update, is NaN or inf (or
    cannot be computed): no learning rate has acted yet, so the data's scale is at fault (the
    first forward pass overflows); the message names the largest |feature|. Not a
    TrainingDivergedError: a smaller learning rate cannot help."""


def check_examples(model, X, Y=None, n_x=None):
    """Validate the orientation and sizes of inputs (examples are columns).

    Args:
        model: name used in messages, e.g. "three_layer.train".
        X: (n_x, m) ndarray; Y: None or (1, m); n_x: expected number of features (None: any).
    Returns:
        (X, Y) as the ndarrays checked (``np.asarray``: a nested list becomes an array here, once,
        so a caller reading ``X.shape`` or indexing columns takes what predict takes); Y None if not given.
    Raises:
        TypeError: X or Y not numeric (strings, objects), or a masked array with a masked entry
            (``plain_array``, the Tensor's rule: ``np.asarray`` would hand over the hidden values).
        ValueError: zero examples, X not 2-D, rows that look like examples, a wrong feature count,
            Y not (1, m) or a different number of examples than X, labels other than 0 and 1,
            NaN/inf in X.
    """
    X = np.asarray(plain_array(X, f"{model}: X"))
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{model}: X has dtype {X.dtype}; expected numbers (float, int or bool features)")
    if X.ndim != 2:
        raise ValueError(f"{model}: X has shape {X.shape}; expected a 2-D array ({n_x or 'n_x'}, m) "
                         "with one column per example")
    if n_x is not None and X.shape[0] != n_x:
        hint = (" It looks transposed (its rows look like examples): examples must be columns, pass X.T."
                if X.shape[1] == n_x else "")
        raise ValueError(f"{model}: X has shape {X.shape}; expected ({n_x}, m): {n_x} features, "
                         f"examples as columns.{hint}")
    if X.shape[1] == 0:
        raise ValueError(f"{model}: X has shape {X.shape}: zero examples; expected at least one column")
    if not np.isfinite(X).all():
        raise ValueError(f"{model}: X holds NaN or inf; expected finite features")
    if Y is None:
        return X, None
    Y = np.asarray(plain_array(Y, f"{model}: Y"))
    if Y.dtype.kind not in "fiub":
        raise TypeError(f"{model}: Y has dtype {Y.dtype}; expected numeric labels 0 or 1 "
                        "(map class names to 0/1 first)")
    m = X.shape[1]
    if Y.ndim != 2 or Y.shape[0] != 1:
        hint = (" It looks transposed: examples must be columns, pass Y.T."
                if Y.ndim == 2 and Y.shape[1] == 1 else " Reshape it with Y.reshape(1, -1).")
        raise ValueError(f"{model}: Y has shape {Y.shape}; expected (1, {m}), one column per example.{hint}")
    if Y.shape[1] != m:
        raise ValueError(f"{model}: X has {m} examples (columns) but Y has {Y.shape[1]}; "
                         "they must match (examples are columns in both)")
    if not ((Y == 0) | (Y == 1)).all():
        raise ValueError(f"{model}: Y holds values other than 0 and 1, such as "
                         f"{Y[(Y != 0) & (Y != 1)][:3].tolist()}; expected labels 0 or 1")
    return X, Y


def layer_count(model, params, layers=None):
    """L, the number of layers of ``params``, refused unless its keys are exactly W1, b1, ..., WL,
    bL (``layers`` of them when given) and W_L has one row (one output unit, as the labels are one
    row): a layer left out or added would otherwise be skipped unseen (with none left, predict
    would return the input itself), and a wider last layer would predict several rows."""
    if not isinstance(params, dict):
        raise TypeError(f"{model}: params is {type(params).__name__}; expected a dict W1, b1, ..., WL, bL")
    numbers = [int(key[1:]) for key in params if isinstance(key, str) and key[:1] in ("W", "b") and key[1:].isdigit()]
    L = max([1, *numbers])
    expected = [f"{kind}{l}" for l in range(1, (layers or L) + 1) for kind in "Wb"]
    missing = [key for key in expected if key not in params]
    extra = [str(key) for key in params if key not in expected]
    if missing or extra:
        found = ", ".join(str(key) for key in params) or "no keys"
        problem = " and ".join(([f"is missing {', '.join(missing)}"] if missing else [])
                               + ([f"has unexpected keys {', '.join(extra)}"] if extra else []))
        wanted = ", ".join(expected) + f" (the {layers}-layer network)" if layers else \
            "W1, b1, ..., WL, bL: a weight and a bias for each layer, numbered from 1"
        raise ValueError(f"{model}: params {problem} (it holds {found}); expected {wanted}")
    shape = getattr(params[f"W{L}"], "shape", None)
    if shape is not None and len(shape) == 2 and shape[0] != 1:
        raise ValueError(f"{model}: params['W{L}'] has shape {tuple(shape)}; expected (1, {shape[1]}): one output "
                         "unit, as the labels are one row")
    return L


def predict_params(model, params, layers=None):
    """``params`` (Tensors or ndarrays) as Tensors for a forward pass at test time, refused with a
    ValueError naming ``model`` unless their keys pass ``layer_count``, their shapes ``manual``'s rule
    (W_l chained, b_l (n_l, 1): a (1, m) bias would be broadcast per example, silently) and every value
    is finite (a diverged model's NaN compares False with 0.5: class 0 everywhere, without a word).
    A bias of one entry per unit that broadcasts to (n_l, 1) (a float, 0-d, or (1,) for one unit)
    passes as that column (``_as_column``): adding it is exact."""
    layer_count(model, params, layers)
    tensors = {key: ag.as_tensor(value) for key, value in params.items()}
    from .manual import _check_params  # (here, not at the top: manual imports this module's checks)
    _check_params(model, {key: _as_column(key, t.data, tensors) for key, t in tensors.items()}, layers)
    bad = next((key for key, t in tensors.items() if not np.isfinite(t.data).all()), None)
    if bad is not None:
        raise ValueError(f"{model}: params[{bad!r}] holds NaN or inf; expected finite parameters (did "
                         "training diverge?)")
    return tensors


def _as_column(key, data, tensors):
    """Bias ``key``'s ``data`` seen as the (n_l, 1) column it broadcasts to, when it holds one entry per
    unit and broadcasting it against that column gives the column itself (every axis 1 or equal, read
    from the right): it then adds each unit's own number to every example. Anything else (a weight;
    a (1, m) or (n_l,) bias, which would grow to (n_l, m) or (n_l, n_l); one number for several units,
    likely another layer's) as it is, for manual's shape rule to refuse."""
    W = tensors.get("W" + key[1:]) if key[:1] == "b" else None
    if W is None or W.data.ndim != 2 or data.ndim > 2 or data.size != W.data.shape[0]:
        return data
    column = (W.data.shape[0], 1)
    if all(n in (1, c) for n, c in zip(data.shape[::-1], column[::-1])):
        return np.broadcast_to(data, column)
    return data


def check_masks(model, params, masks, layers=None):
    """L, the number of layers (``layer_count``, ``layers`` of them when given), once ``masks`` is
    known to be None or a list or tuple of exactly L-1, one per hidden layer, as
    ``manual.L_model_forward`` requires: an extra one (e.g. for the input layer) was ignored
    silently, every mask applied one layer off, and too few was a bare IndexError (or a bare
    unpacking error). Otherwise a ValueError naming ``model``, the count given and the expected
    shapes. Their shapes and values ``ag.dropout`` checks; it also takes Tensors, so the rest of
    manual's rule (ndarrays only) does not apply here."""
    L = layer_count(model, params, layers)
    if masks is None or (isinstance(masks, (list, tuple)) and len(masks) == L - 1):
        return L
    n = len(masks) if isinstance(masks, (list, tuple)) else None
    got = f"has {n} entr{'y' if n == 1 else 'ies'}" if n is not None else f"is {type(masks).__name__}"
    shapes = ", ".join(f"({params[f'W{l}'].shape[0]}, m)" for l in range(1, L))
    raise ValueError(f"{model}: masks {got}; expected a list of {L - 1}, one 0/1 array per hidden layer, "
                     f"of shapes [{shapes}]")


def check_count(model, name, value, minimum):
    """Raise ValueError unless ``value`` is an int >= ``minimum`` (iterations, epochs, sizes)."""
    if not _is_count(value, minimum):
        raise ValueError(f"{model}: {name} must be an int >= {minimum}, got {value!r}")


def _is_count(value, minimum):
    """The one rule of counts and sizes: an integer (Python's, NumPy's; not a bool) >= ``minimum``."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral) and value >= minimum


def as_operand(value):
    """A checked number (learning rate, keep_prob) as the formulas are to compute with it: a Python
    int or float, a NumPy number or a 0-d array as given, since its type decides NumPy's promotion
    (``np.float64(0.86)`` makes float32 data float64, a Python float leaves it float32) and a
    checked call must compute the very numbers ``check=False`` does; another real (a ``Fraction``)
    as its float, which NumPy would otherwise compute with as Python objects."""
    return value if isinstance(value, (int, float, np.number, np.ndarray)) else float(value)


def check_learning_rate(model, learning_rate, *, zero=False):
    """``learning_rate`` as the formulas take it (``as_operand``), or a ValueError unless it is a finite
    number > 0 (>= 0 with ``zero``): the optimizers' own rule (``lr_schedule._real``), applied before
    any weight is drawn and under the model's name. ``zero`` is for a single update, where 0 is the
    no-op ``torch.optim.SGD(lr=0)`` also takes; a training run at 0 would learn nothing, so the train
    functions keep refusing it."""
    _real(model, "learning_rate", learning_rate, positive=not zero)
    return as_operand(learning_rate)


def check_sizes(model, name, sizes, expected):
    """``sizes`` (any iterable: a list, a tuple, an ndarray, a range, a generator) as a list, or a
    TypeError naming ``model``, ``name`` and ``expected`` (a str is refused: its characters are no
    sizes). Its entries the caller checks by ``_is_count`` and then takes as Python ints."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"{model}: {name} is {type(sizes).__name__} {sizes!r:.60}; {expected}")
    return list(sizes)


def check_layer_dims(model, layer_dims, *, one_output=True):
    """``layer_dims`` as a list [n_x, n_1, ..., n_L] of at least two positive Python ints, checked here
    so that an empty or malformed one is refused by name, not met as an IndexError further on; with
    ``one_output`` (a model trained on one row of 0/1 labels) n_L must be 1. Python ints, since NumPy
    computes ``np.sqrt`` of a uint8 in float16 (of an int16 in float32): the course's
    ``randn / sqrt(n)`` would be scaled by a rounded root."""
    expected = ("expected [n_x, n_1, ..., 1]: at least 2 positive ints, the input size first and 1 output unit last"
                if one_output else "expected [n_x, n_1, ..., 1] (or another output size n_L last): at least 2 "
                "positive ints, the input size first")
    dims = check_sizes(model, "layer_dims", layer_dims, expected)
    bad = [n for n in dims if not _is_count(n, 1)]
    if len(dims) < 2 or bad or (one_output and dims[-1] != 1):
        problem = (f"has {len(dims)} entr{'y' if len(dims) == 1 else 'ies'}" if len(dims) < 2 else f"holds {bad}" if bad
                   else f"ends in {dims[-1]} output units (the labels are one row)")
        raise ValueError(f"{model}: layer_dims {dims} {problem}; {expected}")
    return [int(n) for n in dims]


def check_lambd(model, lambd):
    """Raise ValueError unless the L2 strength ``lambd`` is a finite number >= 0: ``ag.l2_penalty``'s
    rule (its ``_is_number``), so a model refuses what the penalty would. Call it before any
    ``if lambd:``, which takes None, False, [] or "" silently for "no L2" and fails on a 2-element
    array with NumPy's bare "truth value ... is ambiguous"."""
    if not (_is_number(lambd) and lambd >= 0):
        raise ValueError(f"{model}: lambd must be a finite number >= 0, got {lambd!r}")


# Features beyond this magnitude are far from the unit scale the initializations assume: the
# gradients scale with them, so training can diverge at any learning rate a learner would try.
LARGE_FEATURE = 1e3


def _divergence_advice(X):
    """What to try after training diverged: a smaller learning rate, unless the features are
    far from unit scale (largest |feature| above LARGE_FEATURE), which the message then names
    first, since the gradient of W1 grows with X and no usual learning rate makes up for that."""
    if X is None:
        return "try a smaller learning rate"
    feature = float(np.max(np.abs(np.asarray(getattr(X, "data", X))), initial=0.0))
    if not feature > LARGE_FEATURE:
        return "try a smaller learning rate"
    return (f"the features are far from unit scale (largest |feature| {feature:.3g}), and the gradients "
            "grow with them: rescale the features (e.g. to mean 0 and standard deviation 1), "
            "or try a much smaller learning rate")


def check_finite(model, step, cost, params, X=None):
    """Stop training at the first NaN/inf in the cost or a parameter.

    Args:
        model: name used in the message; step: where training is, e.g. "iteration 12";
        cost: float; params: dict name -> Tensor, checked in order;
        X: the features (None: not known), for the advice when they are far from unit scale.
    Raises:
        TrainingDivergedError: naming the step and the first non-finite parameter; with the
            largest |feature| and "rescale the features" when it exceeds LARGE_FEATURE.
    """
    for name, p in params.items():
        if not np.isfinite(p.data).all():
            bad = "NaN" if np.isnan(p.data).any() else "inf"
            raise TrainingDivergedError(
                f"{model}: parameter {name} {p.shape} holds {bad} after the update of {step} "
                f"(cost {cost}); training diverged, {_divergence_advice(X)}")
    if not np.isfinite(cost):
        raise TrainingDivergedError(f"{model}: the cost is {cost} at {step} while every "
                                    "parameter is finite; check the data for NaN/inf")


def _initial_cost_error(model, step, what, X, params):
    """The InitialCostError for the cost at ``step`` (the first, before any update): ``what``
    says what became of the cost; the message gives the scales of the data and the starting
    parameters, the two things the cost depends on at that point."""
    X = np.asarray(getattr(X, "data", X))
    feature = float(np.max(np.abs(X), initial=0.0))
    largest = max(float(np.max(np.abs(p.data), initial=0.0)) for p in params.values())
    return InitialCostError(
        f"{model}: the cost at {step} {what} at the starting parameters, before any update, so no "
        f"learning rate is involved: the first forward pass already overflows (largest |feature| "
        f"{feature:.3g}, largest |starting parameter| {largest:.3g}); expected features of moderate size: "
        "rescale them, e.g. to mean 0 and standard deviation 1")


def check_initial_cost(model, step, cost, X, params):
    """The first cost of a run is taken at the starting parameters, before any update: NaN or
    inf there comes from the data (finite, but too large for the forward pass), never from the
    learning rate, which has not acted yet.

    Args:
        model: name used in the message; step: e.g. "iteration 0"; cost: float;
        X: the features (all of them, for their largest magnitude); params: dict name -> Tensor.
    Raises:
        InitialCostError: the cost is NaN or inf, naming the largest |feature|.
    """
    if not np.isfinite(cost):
        raise _initial_cost_error(model, step, f"is {cost}", X, params)


@contextmanager
def diverging(model, step, params, X=None, updated=True):
    """Around a training step's cost. The labels are checked before training, so the cost
    refusing its predictions (NaN once the parameters have grown without bound) is the
    training diverging: a TrainingDivergedError naming the step, not the cost's DomainError.
    Before any update (``updated`` false) the parameters are the starting ones and the learning
    rate has not acted: then it is the data's scale, an InitialCostError naming X's largest entry."""
    try:
        yield
    except DomainError as error:
        if not updated:  # finite starting parameters and data, yet predictions the cost refuses: NaN
            raise _initial_cost_error(model, step, "cannot be computed (its predictions are NaN)", X,
                                      params) from error
        bad = next((name for name, p in params.items() if not np.isfinite(p.data).all()), None)
        largest = max(float(np.max(np.abs(p.data), initial=0.0)) for p in params.values())
        state = f"parameter {bad} holds NaN or inf" if bad else f"largest |parameter| {largest:.3g}"
        raise TrainingDivergedError(f"{model}: the cost at {step} cannot be computed ({error}); training "
                                    f"diverged ({state}), {_divergence_advice(X)}") from error


def progress_range(n, progress):
    """range(n), wrapped in a tqdm bar on stderr when ``progress`` is true (a str: the bar's label)."""
    if not progress:
        return range(n)
    from tqdm import tqdm  # only when asked: importing tqdm costs time
    return tqdm(range(n), desc=progress if isinstance(progress, str) else None, mininterval=0.5)
