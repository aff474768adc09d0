"""The L-layer network (docs/math.md, "The L-layer network"), on autograd_lite.

[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, initialized by
``ag.init.initialize`` (he, xavier, random_normal, and the course's small and
lecun), trained on shuffled mini-batches with gradient descent, momentum or
Adam from ``ag.optim``, optionally with a learning-rate schedule. The cost is
written once, as in ``three_layer``: cross-entropy of the (dropped-out) forward
pass plus the L2 penalty on every weight; gradients come from ``backward()`` only.

Random streams. ``rng`` (None, an int seed, a ``numpy.random.Generator`` or
the legacy ``numpy.random.RandomState``) feeds every draw: the initial weights,
the shuffles and the dropout masks, in that order. The course's notebooks seed
these separately, which ``train`` expresses with ``init_rng`` (the weights'
own stream, e.g. ``np.random.RandomState(3)`` for ``np.random.seed(3)``) and
``shuffle_seed`` (each epoch's shuffle re-seeded, ``np.random.seed(s)`` then
``permutation(m)``: an int s means epoch e uses seed s + e, a callable maps the
epoch to its seed).
"""
import inspect
import math
import numbers

import numpy as np

import autograd_lite as ag
from autograd_lite.rng import as_generator

from . import check_count, check_examples, check_finite, check_initial_cost, diverging, layer_count, progress_range

__all__ = ["OPTIMIZERS", "random_mini_batches", "forward", "cost", "train", "predict"]

OPTIMIZERS = {"gd": ag.optim.GradientDescent, "momentum": ag.optim.Momentum, "adam": ag.optim.Adam}


def random_mini_batches(X, Y, mini_batch_size=64, rng=None):
    """Shuffle the columns of X and Y with one permutation, then cut consecutive
    batches; the last may be smaller, no example is dropped.

    Args:
        X: (n_x, m); Y: (1, m); mini_batch_size: int >= 1;
        rng: None (the package's default generator), an int seed, a
            numpy.random.Generator or a numpy.random.RandomState; the
            permutation is ``rng.permutation(m)``, so ``np.random.RandomState(s)``
            gives the course's ``np.random.seed(s); np.random.permutation(m)``.
    Returns:
        list of (X_batch (n_x, k), Y_batch (1, k)), k = mini_batch_size except
        possibly the last; together they hold every example exactly once.
    """
    check_count("random_mini_batches", "mini_batch_size", mini_batch_size, 1)
    check_examples("random_mini_batches", X, Y)
    rng = as_generator(rng, "random_mini_batches")
    m = X.shape[1]
    permutation = rng.permutation(m)
    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]
    return [(X_shuffled[:, k:k + mini_batch_size], Y_shuffled[:, k:k + mini_batch_size])
            for k in range(0, m, mini_batch_size)]


def forward(params, X, keep_prob=1.0, masks=None, rng=None):
    """The forward pass, recorded on the tape, layer l inside ``ag.scope(f"layer{l}")``.

    Args:
        params: dict of Tensors W1, b1, ..., WL, bL; X: (n_x, m) Tensor or array;
        keep_prob: dropout keep probability on every hidden layer (1: none);
        masks: None, or L-1 0/1 arrays (n_l, m), one per hidden layer; else
            masks are drawn from rng; rng: as ``random_mini_batches``.
    Returns:
        AL, a (1, m) Tensor.
    """
    L = layer_count("deep.forward", params)
    A = X if isinstance(X, ag.Tensor) else ag.Tensor(X, name="X")
    for l in range(1, L + 1):
        with ag.scope(f"layer{l}"):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            Z.name = f"Z{l}"
            A = ag.relu(Z) if l < L else ag.sigmoid(Z)
            A.name = f"A{l}"
            if l < L:
                A = ag.dropout(A, keep_prob, mask=None if masks is None else masks[l - 1], rng=rng)
    return A


def cost(params, X, Y, lambd=0.0, keep_prob=1.0, masks=None, rng=None):
    """The cost, one expression: ``binary_cross_entropy(AL, Y) + l2_penalty([W1..WL], lambd, m)``
    (the L2 term only when lambd > 0).

    Args:
        params: dict of Tensors; X: (n_x, m); Y: (1, m) labels 0/1; lambd: >= 0;
        keep_prob, masks, rng: as ``forward``.
    Returns:
        scalar Tensor J.
    """
    AL = forward(params, X, keep_prob, masks, rng)
    Y = Y if isinstance(Y, ag.Tensor) else ag.Tensor(Y, name="Y")
    with ag.scope("cost"):
        J = ag.binary_cross_entropy(AL, Y)
        if lambd:
            weights = [params[f"W{l}"] for l in range(1, len(params) // 2 + 1)]
            J = J + ag.l2_penalty(weights, lambd, X.shape[1])
    J.name = "J"
    return J


def _epoch_seed(shuffle_seed, epoch):
    """The seed of epoch ``epoch``'s shuffle: ``shuffle_seed + epoch`` for an int,
    ``shuffle_seed(epoch)`` for a callable; checked to be an int >= 0."""
    seed = shuffle_seed(epoch) if callable(shuffle_seed) else shuffle_seed + epoch
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"deep.train: shuffle_seed gave {seed!r} for epoch {epoch}; expected an int seed >= 0")
    return int(seed)


def _check_layer_dims(model, layer_dims):
    """``layer_dims`` as a list [n_x, n_1, ..., 1] of at least two positive ints, checked here so
    that an empty or malformed one is refused by name, not met as an IndexError further on."""
    expected = "expected [n_x, n_1, ..., 1]: at least 2 positive ints, the input size first and 1 output unit last"
    if isinstance(layer_dims, (str, bytes)) or not hasattr(layer_dims, "__iter__"):
        raise TypeError(f"{model}: layer_dims is {type(layer_dims).__name__} {layer_dims!r}; {expected}")
    dims = list(layer_dims)
    bad = [n for n in dims if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n <= 0]
    if len(dims) < 2 or bad or dims[-1] != 1:
        problem = (f"has {len(dims)} entr{'y' if len(dims) == 1 else 'ies'}" if len(dims) < 2 else f"holds {bad}" if bad
                   else f"ends in {dims[-1]} output units (the labels are one row)")
        raise ValueError(f"{model}: layer_dims {dims} {problem}; {expected}")
    return dims


# Keywords a learner brings from three_layer.train, PyTorch or the course that train spells
# otherwise: what to write instead (they would reach the optimizer and be refused there, as
# "Optimizer.__init__() got an unexpected keyword argument", naming neither train nor the fix).
_SPELLINGS = {
    "num_iterations": "deep.train counts num_epochs (passes over the data; three_layer.train counts "
                      "num_iterations): pass num_epochs=",
    "iterations": "deep.train counts num_epochs: pass num_epochs=", "epochs": "pass num_epochs=",
    "lr": "deep.train's learning rate is learning_rate=", "batch_size": "pass mini_batch_size=",
    "seed": "deep.train's seed is rng=", "weight_decay": "the L2 strength is lambd=",
    "betas": "betas= is PyTorch's spelling: with optimizer='adam' pass beta1=0.9, beta2=0.999",
    "momentum": "momentum is an optimizer here: pass optimizer='momentum', beta=0.9",
}


def _optimizer_options(name):
    """The keywords optimizer ``name`` takes besides params and lr, read from its signature
    (so that the list in messages cannot drift from ag.optim)."""
    try:
        parameters = list(inspect.signature(OPTIMIZERS[name]).parameters.values())
    except (TypeError, ValueError):  # (no signature to read: whatever it takes)
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None  # (**kwargs: it says itself what it refuses)
    return [p.name for p in parameters if p.name not in ("params", "lr")
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_optimizer_options(optimizer, options):
    """Refuse a keyword ``train`` does not take and the chosen optimizer does not either, naming
    the keyword, the optimizer and which options each optimizer takes."""
    takes = {name: _optimizer_options(name) for name in OPTIMIZERS}
    for key in options:
        if takes[optimizer] is None or key in takes[optimizer]:
            continue
        owners = [name for name, keys in takes.items() if keys is not None and key in keys]
        hint = (_SPELLINGS[key] if key in _SPELLINGS else
                f"{key}= is an option of optimizer {' and '.join(map(repr, owners))}, not of {optimizer!r}" if owners
                else f"neither deep.train nor optimizer {optimizer!r} takes {key!r}")
        hint = hint + repr(options[key]) if hint.endswith("=") else hint  # "pass num_epochs=2"
        listing = "; ".join(f"{name!r} takes {', '.join(keys) or 'no options'}" for name, keys in takes.items()
                            if keys is not None)
        raise TypeError(f"deep.train: unexpected keyword {key}={options[key]!r} with optimizer={optimizer!r}: "
                        f"{hint} (the optimizer's options: {listing})")


def _check_train_arguments(X, Y, layer_dims, optimizer, num_epochs, cost_every, lr_schedule, shuffle_seed,
                           optimizer_options):
    """Refuse ``train``'s bad arguments before any work, each by name."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"deep.train: unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
    _check_optimizer_options(optimizer, optimizer_options)
    dims = _check_layer_dims("deep.train", layer_dims)
    check_examples("deep.train", X, Y, n_x=dims[0])
    check_count("deep.train", "num_epochs", num_epochs, 0)
    check_count("deep.train", "cost_every", cost_every, 1)
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(f"deep.train: lr_schedule must be a callable epoch -> learning rate, "
                        f"got {type(lr_schedule).__name__}")
    if shuffle_seed is not None and not callable(shuffle_seed):
        _epoch_seed(shuffle_seed, 0)  # an int >= 0


def _scheduled_lr(lr_schedule, epoch):
    """``lr_schedule(epoch)`` as a float, refused unless finite and > 0 (a schedule decaying
    to 0 or overflowing would otherwise stall or wreck training silently)."""
    lr = lr_schedule(epoch)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"deep.train: lr_schedule({epoch}) returned {lr!r}; expected a finite "
                         "learning rate > 0")
    return float(lr)


def train(X, Y, layer_dims, optimizer="gd", learning_rate=0.0075, num_epochs=3300, mini_batch_size=None,
          init="he", lambd=0.0, keep_prob=1.0, rng=None, init_rng=None, shuffle_seed=None, lr_schedule=None,
          cost_every=100, print_cost=False, progress=False, compiled=False, **optimizer_options):
    """Train the L-layer net.

    Args:
        X: (n_x, m), examples as columns, numeric; Y: (1, m) labels 0/1.
        layer_dims: [n_x, n_1, ..., 1], at least 2 positive ints.
        optimizer: "gd", "momentum" or "adam"; ``optimizer_options`` go to it
            (beta for momentum; beta1, beta2, eps for Adam; gd takes none). Any other
            keyword is a TypeError naming it and each optimizer's options.
        learning_rate: > 0 (the rate of every epoch unless ``lr_schedule`` is given).
        num_epochs: passes over the data.
        mini_batch_size: None for full batch, else an int (reshuffled every epoch).
        init: an ``ag.init.initialize`` method: "he", "xavier", "random_normal",
            "small" (randn * 0.01) or "lecun" (randn / sqrt(n_prev)).
        lambd: L2 strength >= 0; keep_prob: dropout on hidden layers, in (0, 1].
        rng: None (the package's default generator), an int seed, a
            numpy.random.Generator or a numpy.random.RandomState: the stream for
            the weights, the shuffles and the masks unless given separately below.
        init_rng: the weights' own stream (same kinds as rng); None: rng.
        shuffle_seed: None: shuffles draw from rng. An int s: epoch e's shuffle is
            ``np.random.RandomState(s + e).permutation(m)``, the course's
            ``np.random.seed(seed); permutation(m)`` with the seed raised by one per
            epoch (its optimization notebook starts at seed 10 and adds 1 before
            each epoch: ``shuffle_seed=11``). A callable: epoch -> seed.
        lr_schedule: None, or a callable epoch -> learning rate (e.g.
            ``ag.optim.lr_schedule.exponential(lr0, decay_rate)``); the optimizer's
            ``lr`` is set to ``lr_schedule(epoch)`` before each epoch, epochs from 0.
        cost_every: record the cost every this many epochs (from epoch 0).
        print_cost: also print it; progress: tqdm bar on stderr (a str: its label).
        compiled: replay recorded tapes (``ag.compile``, one per batch shape) instead
            of recording every step; same results, faster.
    Returns:
        (params, costs): dict of Tensors W1..bL; the epoch's cost every ``cost_every``
        epochs, the mean over its mini-batches weighted by their sizes, each batch's
        cost taken before that batch's update (full batch: the cost before the
        epoch's update, as the course prints it).
    Raises:
        TypeError: non-numeric X or Y (strings), an rng of another kind, layer_dims
            not a sequence, a keyword neither train nor the optimizer takes (e.g.
            num_iterations=, lr=, betas=, or beta= with "gd").
        ValueError: zero examples, bad shapes or orientation, unknown optimizer or
            init, bad layer_dims (fewer than 2 entries, a size that is not a positive
            int, an output layer other than 1), bad counts, a schedule or shuffle seed
            giving a bad value.
        InitialCostError (a FloatingPointError): the first cost, at the starting parameters,
            is NaN/inf (features too large for the forward pass); names the largest |feature|.
        TrainingDivergedError (a FloatingPointError): a NaN/inf cost or parameter after
            updates (names the epoch and the parameter).
    """
    _check_train_arguments(X, Y, layer_dims, optimizer, num_epochs, cost_every, lr_schedule, shuffle_seed,
                           optimizer_options)
    # One stream for everything not seeded separately: an int seed becomes one generator here,
    # not a fresh one per use (which would repeat the same draws for weights and shuffles).
    rng = as_generator(rng, "deep.train")
    init_stream = rng if init_rng is None else as_generator(init_rng, "deep.train (init_rng)")
    params = ag.init.initialize(layer_dims, method=init, rng=init_stream)
    opt = OPTIMIZERS[optimizer](params, learning_rate, **optimizer_options)
    m = X.shape[1]
    full_batch = [(ag.Tensor(X, name="X"), ag.Tensor(Y, name="Y"))]
    cost_fn = ag.compile(cost) if compiled else cost
    costs = []
    updated = False  # until the first step, the parameters are the starting ones
    for epoch in progress_range(num_epochs, progress):
        if lr_schedule is not None:
            opt.lr = _scheduled_lr(lr_schedule, epoch)
        if mini_batch_size is None:
            batches = full_batch
        else:
            shuffle = rng if shuffle_seed is None else np.random.RandomState(_epoch_seed(shuffle_seed, epoch))
            batches = random_mini_batches(X, Y, mini_batch_size, shuffle)
        batch_costs = []
        for X_batch, Y_batch in batches:
            with diverging("deep.train", f"epoch {epoch}", params, X, updated):
                J = cost_fn(params, X_batch, Y_batch, lambd, keep_prob, rng=rng)
            batch_costs.append(J.item())
            if not updated:  # at the starting parameters: a NaN/inf here is the data's, not the learning rate's
                first = f"epoch {epoch}" + ("" if mini_batch_size is None else " (its first mini-batch)")
                check_initial_cost("deep.train", first, batch_costs[-1], X, params)
            opt.zero_grad()
            J.backward()
            opt.step()
            updated = True
        # Full batch: the cost itself, unrounded; else the mean weighted by batch sizes.
        epoch_cost = batch_costs[0] if len(batches) == 1 else sum(
            c * b[0].shape[1] for c, b in zip(batch_costs, batches)) / m
        check_finite("deep.train", f"epoch {epoch}", epoch_cost, params, X)
        if epoch % cost_every == 0:
            costs.append(epoch_cost)
            if print_cost:
                print(f"Cost after epoch {epoch}: {epoch_cost}")
    return params, costs


def predict(params, X):
    """Class 1 where AL > 0.5 (strictly), no dropout.

    Args:
        params: dict of Tensors or ndarrays W1, b1, ..., WL, bL (exactly these keys); X: (n_x, m).
    Returns:
        (1, m) int64 array of 0/1.
    Raises:
        ValueError: params missing a key or holding others; X of the wrong shape.
        TypeError: params not a dict, non-numeric X.
    """
    layer_count("deep.predict", params)
    check_examples("deep.predict", X, n_x=params["W1"].shape[1])
    with ag.no_grad():
        AL = forward({k: ag.as_tensor(v) for k, v in params.items()}, X)
    return (AL.data > 0.5).astype(np.int64)
