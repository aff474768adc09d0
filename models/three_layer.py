"""The regularization study's network [2, 20, 3, 1] (docs/math.md, "The regularization study"), on autograd_lite.

The cost is written once, as an expression of Tensors::

    J = binary_cross_entropy(A3, Y) + l2_penalty([W1, W2, W3], lambd, m)

with inverted dropout on the hidden activations when keep_prob < 1. Every
gradient comes from ``J.backward()``; nothing here differentiates by hand
(``models.manual`` does, as the reference the tests compare with).
"""
import numpy as np

import autograd_lite as ag
from autograd_lite.rng import as_generator

from . import (check_count, check_examples, check_finite, check_initial_cost, check_lambd, check_learning_rate,
               check_masks, diverging, manual, predict_params, progress_range)

__all__ = ["LAYER_DIMS", "INITS", "initialize", "forward", "cost", "train", "predict"]

LAYER_DIMS = manual.LAYERS_3
INITS = ("reference", "he", "xavier", "random_normal")


def _named(t, name):
    t.name = name
    return t


def _check_init(caller, init):
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"{caller}: unknown init {init!r:.60}; expected one of {INITS}")


def initialize(init="reference", rng=None):
    """Parameters of the [2, 20, 3, 1] net as Tensors that require grad.

    Args:
        init: "reference" (the exercise's own: legacy seed 3, randn / sqrt(n_prev)),
            or "he" / "xavier" / "random_normal" (``ag.init.initialize``, drawing from rng).
        rng: None (the package's default generator), an int seed >= 0, a
            numpy.random.Generator or a numpy.random.RandomState; checked for every
            init, drawn from by the non-reference ones ("reference" has its own seed).
    Returns:
        dict {"W1": (20, 2), "b1": (20, 1), "W2": (3, 20), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}.
    Raises:
        ValueError: an unknown init, a negative seed. TypeError: an rng of another kind.
    """
    _check_init("three_layer.initialize", init)
    # Checked even where unused, so a wrong rng is an error whatever the init, never silently ignored.
    rng = as_generator(rng, "three_layer.initialize")
    if init != "reference":
        return ag.init.initialize(LAYER_DIMS, method=init, rng=rng)
    return {k: ag.Tensor(v, requires_grad=True, name=k) for k, v in manual.initialize_reference().items()}


def forward(params, X, keep_prob=1.0, masks=None, rng=None):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, recorded on the tape.

    Args:
        params: dict of Tensors W1..b3; X: (2, m) Tensor, array or nested list;
        keep_prob: dropout keep probability on both hidden layers (1: no dropout);
        masks: None (drawn from rng) or a list or tuple of exactly two 0/1 masks, D1 (20, m) and
            D2 (3, m) (an entry None: drawn from rng, so [None, None] is the same as None; in
            ``manual.forward_propagation`` a None entry means no dropout on that layer);
        rng: where fresh masks are drawn from (as ``initialize``).
    Returns:
        A3, a (1, m) Tensor.
    Raises:
        ValueError: params not exactly W1..b3; masks not a list or tuple of two, naming
            three_layer.forward, the count and the expected shapes (a mask of the wrong shape
            or not 0/1: ``ag.dropout`` names it).
    """
    check_masks("three_layer.forward", params, masks, layers=3)
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    D1, D2 = masks if masks is not None else (None, None)
    X = X if isinstance(X, ag.Tensor) else ag.Tensor(X, name="X")
    with ag.scope("layer1"):
        Z1 = _named(W1 @ X + b1, "Z1")
        A1 = ag.dropout(_named(ag.relu(Z1), "A1"), keep_prob, mask=D1, rng=rng)
    with ag.scope("layer2"):
        Z2 = _named(W2 @ A1 + b2, "Z2")
        A2 = ag.dropout(_named(ag.relu(Z2), "A2"), keep_prob, mask=D2, rng=rng)
    with ag.scope("layer3"):
        Z3 = _named(W3 @ A2 + b3, "Z3")
        return _named(ag.sigmoid(Z3), "A3")


def cost(params, X, Y, lambd=0.0, keep_prob=1.0, masks=None, rng=None):
    """THE cost of the study, one expression: cross-entropy of the (dropped-out)
    forward pass, plus the L2 penalty on W1, W2, W3 when lambd > 0.

    Args:
        params: dict of Tensors; X: (2, m) (a Tensor, array or nested list); Y: (1, m) labels 0/1;
        lambd: L2 strength, a finite number >= 0 (``models.check_lambd``); keep_prob, masks, rng:
            as ``forward``.
    Returns:
        scalar Tensor J (call ``J.backward()`` for every parameter's gradient).
    Raises:
        ValueError: lambd not a finite number >= 0 (None, False, [] and arrays of several entries
            included), params or masks as ``forward`` refuses them, each naming three_layer.cost
            before anything is recorded; bad X or Y as the ops refuse them.
    """
    check_lambd("three_layer.cost", lambd)  # before ``if lambd:`` below, which would take None or [] as 0
    check_masks("three_layer.cost", params, masks, layers=3)  # (forward checks them too, under its own name)
    A3 = forward(params, X, keep_prob, masks, rng)
    Y = Y if isinstance(Y, ag.Tensor) else ag.Tensor(Y, name="Y")
    with ag.scope("cost"):
        J = ag.binary_cross_entropy(A3, Y)
        # Left out at lambd == 0 so the plain cost is bit-identical to the exercise's.
        if lambd:
            weights = [params["W1"], params["W2"], params["W3"]]
            J = J + ag.l2_penalty(weights, lambd, A3.shape[1])  # m from A3: X may be a list
    return _named(J, "J")


def train(X, Y, learning_rate=0.3, num_iterations=30000, lambd=0.0, keep_prob=1.0, init="reference",
          rng=None, print_cost=False, progress=False, compiled=False):
    """Full-batch gradient descent on ``cost`` (``ag.optim.GradientDescent``).

    Args:
        X: (2, m) numeric features, examples as columns (m >= 1); Y: (1, m) labels 0/1 (nested
            lists are converted once).
        learning_rate: > 0; num_iterations: >= 0; lambd: L2 strength, a finite number >= 0;
        keep_prob: in (0, 1], dropout on both hidden layers when < 1 (L2 and
            dropout may be combined).
        init: "reference" reproduces the published study: its initialization and,
            when keep_prob < 1, its masks (legacy seed 1, ``rand(20, m)`` then
            ``rand(3, m)``). Other inits draw weights and fresh masks every
            iteration from ``rng`` (None: the package's default generator; an int
            seed, a numpy.random.Generator or a numpy.random.RandomState), which is
            checked for "reference" too.
        print_cost: print the cost every 10,000 iterations, as the exercise did.
        progress: show a tqdm bar on stderr; a string is used as the bar's label.
        compiled: replay the tape recorded on the first iteration (``ag.compile``)
            instead of recording every iteration; same results, faster.
    Returns:
        (params, costs): dict of Tensors W1..b3, and the cost every 1,000
        iterations (entry k taken before the update of iteration 1000 k).
    Raises (all but the last two before any work, naming three_layer.train, the argument and the value):
        TypeError: non-numeric X or Y (strings), an rng of another kind, keep_prob not a number.
        ValueError: zero examples, bad shapes or orientation of X / Y, bad init or num_iterations,
            lambd not a finite number >= 0, keep_prob outside (0, 1].
        InitialCostError (a FloatingPointError): the cost of iteration 0, at the starting
            parameters, is NaN/inf (features too large for the forward pass); names the
            largest |feature|.
        TrainingDivergedError (a FloatingPointError): a NaN/inf cost or parameter after
            updates; names the iteration and the parameter.
    """
    X, Y = check_examples("three_layer.train", X, Y, n_x=LAYER_DIMS[0])  # (arrays: a nested list converted)
    check_count("three_layer.train", "num_iterations", num_iterations, 0)
    check_learning_rate("three_layer.train", learning_rate)
    _check_init("three_layer.train", init)
    check_lambd("three_layer.train", lambd)
    manual._check_keep_prob("three_layer.train", keep_prob)  # the reference's rule, ag.dropout's
    # One stream for the weights and then the masks (an int seed becomes one generator here);
    # checked for every init, "reference" included, which draws nothing from it.
    rng = as_generator(rng, "three_layer.train")
    params = initialize(init, rng)
    masks = None
    if init == "reference" and keep_prob < 1:
        # The exercise re-seeds the global generator before every dropout forward
        # pass, so its masks are the same each iteration: drawing them once is identical.
        masks = manual.reference_dropout_masks(LAYER_DIMS[1:-1], X.shape[1], keep_prob)
    X, Y = ag.Tensor(X, name="X"), ag.Tensor(Y, name="Y")
    optimizer = ag.optim.GradientDescent(params, learning_rate)
    cost_fn = ag.compile(cost) if compiled else cost
    costs = []
    for i in progress_range(num_iterations, progress):
        with diverging("three_layer.train", f"iteration {i}", params, X, updated=i > 0):
            J = cost_fn(params, X, Y, lambd, keep_prob, masks, rng)
        value = J.item()
        if i == 0:  # at the starting parameters: a NaN/inf here is the data's, not the learning rate's
            check_initial_cost("three_layer.train", "iteration 0", value, X, params)
        if i % 1000 == 0:
            costs.append(value)
        if print_cost and i % 10000 == 0:
            print(f"Cost after iteration {i}: {value}")
        optimizer.zero_grad()
        J.backward()
        optimizer.step()
        check_finite("three_layer.train", f"iteration {i}", value, params, X)
    return params, costs


def predict(params, X):
    """Class 1 where A3 > 0.5 (strictly), no dropout.

    Args:
        params: dict of Tensors or ndarrays W1..b3; X: (2, m).
    Returns:
        (1, m) int64 array of 0/1.
    Raises:
        ValueError: params not exactly W1..b3 with one output unit, shapes that do not chain (a bias
            not (n_l, 1)), NaN or inf in params (``predict_params``); X of the wrong shape.
        TypeError: non-numeric X, a masked array with a masked entry.
    """
    params = predict_params("three_layer.predict", params, layers=3)
    check_examples("three_layer.predict", X, n_x=LAYER_DIMS[0])
    with ag.no_grad():
        A3 = forward(params, X)
    return (A3.data > 0.5).astype(np.int64)
