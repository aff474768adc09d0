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
epoch to its seed; every seed must lie in NumPy's range [0, 2**32 - 1]).
"""
import inspect
import numbers

import numpy as np

import autograd_lite as ag
from autograd_lite.functional import _is_number
from autograd_lite.rng import as_generator

from . import (check_count, check_examples, check_finite, check_initial_cost, check_lambd, check_layer_dims,
               check_learning_rate, check_masks, diverging, manual, predict_params, progress_range)

__all__ = ["OPTIMIZERS", "random_mini_batches", "forward", "cost", "train", "predict"]

OPTIMIZERS = {"gd": ag.optim.GradientDescent, "momentum": ag.optim.Momentum, "adam": ag.optim.Adam}

MAX_SEED = 2**32 - 1  # np.random.RandomState takes seeds in [0, 2**32 - 1]


def random_mini_batches(X, Y, mini_batch_size=64, rng=None):
    """Shuffle the columns of X and Y with one permutation, then cut consecutive
    batches; the last may be smaller, no example is dropped.

    Args:
        X: (n_x, m); Y: (1, m): arrays, or nested lists (converted once, as ``predict`` takes them);
        mini_batch_size: int >= 1; rng: None (the package's default generator), an int seed, a
            numpy.random.Generator or a numpy.random.RandomState; the
            permutation is ``rng.permutation(m)``, so ``np.random.RandomState(s)``
            gives the course's ``np.random.seed(s); np.random.permutation(m)``.
    Returns:
        list of (X_batch (n_x, k), Y_batch (1, k)) ndarrays, k = mini_batch_size except
        possibly the last; together they hold every example exactly once.
    Raises:
        ValueError, TypeError: as ``check_examples``; mini_batch_size not an int >= 1; rng of another kind.
    """
    check_count("random_mini_batches", "mini_batch_size", mini_batch_size, 1)
    X, Y = check_examples("random_mini_batches", X, Y)
    rng = as_generator(rng, "random_mini_batches")
    m = X.shape[1]
    permutation = rng.permutation(m)
    X_shuffled, Y_shuffled = X[:, permutation], Y[:, permutation]
    return [(X_shuffled[:, k:k + mini_batch_size], Y_shuffled[:, k:k + mini_batch_size])
            for k in range(0, m, mini_batch_size)]


def forward(params, X, keep_prob=1.0, masks=None, rng=None):
    """The forward pass, recorded on the tape, layer l inside ``ag.scope(f"layer{l}")``.

    Args:
        params: dict of Tensors W1, b1, ..., WL, bL; X: (n_x, m) Tensor, array or nested list;
        keep_prob: dropout keep probability on every hidden layer (1: none);
        masks: None (masks drawn from rng), or a list (or tuple) of exactly L-1 0/1
            arrays or Tensors (n_l, m), one per hidden layer (an entry None: drawn from rng;
            in ``manual.L_model_forward`` a None entry means no dropout on that layer);
        rng: as ``random_mini_batches``.
    Returns:
        AL, a (1, m) Tensor.
    Raises:
        ValueError: params not W1, b1, ..., WL, bL; masks not a list of L-1 (a mask of
            the wrong shape or not 0/1: ``ag.dropout`` names it).
    """
    L = check_masks("deep.forward", params, masks)
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
        params: dict of Tensors; X: (n_x, m) (a Tensor, array or nested list); Y: (1, m) labels 0/1;
        lambd: a finite number >= 0; keep_prob, masks, rng: as ``forward``.
    Returns:
        scalar Tensor J.
    Raises:
        ValueError: lambd not a finite number >= 0, params or masks as ``forward`` refuses them (these
            three before anything is recorded); bad X or Y as the ops refuse them.
    """
    check_lambd("deep.cost", lambd)  # before ``if lambd:`` below, which would take None or [] as 0
    check_masks("deep.cost", params, masks)  # (forward checks them too, naming itself when called alone)
    AL = forward(params, X, keep_prob, masks, rng)
    Y = Y if isinstance(Y, ag.Tensor) else ag.Tensor(Y, name="Y")
    with ag.scope("cost"):
        J = ag.binary_cross_entropy(AL, Y)
        if lambd:
            weights = [params[f"W{l}"] for l in range(1, len(params) // 2 + 1)]
            J = J + ag.l2_penalty(weights, lambd, AL.shape[1])  # m from AL: X may be a list
    J.name = "J"
    return J


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # (np.bool_ is not Integral)


def _epoch_seed(shuffle_seed, epoch):
    """The seed of epoch ``epoch``'s shuffle: ``shuffle_seed + epoch`` for an int (checked by
    ``_check_shuffle_seed``), ``shuffle_seed(epoch)`` for a callable; refused, naming the epoch,
    unless an int in [0, MAX_SEED] (NumPy's own error would name neither train nor the epoch)."""
    # (int(): a NumPy uint32 seed plus the epoch would wrap around to 0 instead of passing 2**32 - 1)
    seed = shuffle_seed(epoch) if callable(shuffle_seed) else int(shuffle_seed) + epoch
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        how = f"shuffle_seed({epoch})" if callable(shuffle_seed) else f"{shuffle_seed} + epoch {epoch}"
        raise ValueError(f"deep.train: shuffle_seed gave {seed!r} for epoch {epoch} ({how}); expected an int "
                         "seed in [0, 2**32 - 1], NumPy's seed range")
    return int(seed)


def _check_epoch_function(name, function, gives):
    """``function`` callable with one argument, the epoch, checked on its signature before any work
    (``lambda: 0.1`` would otherwise be a bare TypeError at epoch 0, after initialization)."""
    if not callable(function):
        raise TypeError(f"deep.train: {name} must be a callable epoch -> {gives}, got "
                        f"{type(function).__name__} {function!r:.60}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # (no signature to read, e.g. some builtins: the call will tell)
        return
    try:
        signature.bind(0)
    except TypeError as error:
        shown = getattr(function, "__name__", type(function).__name__) + str(signature)  # e.g. <lambda>()
        raise TypeError(f"deep.train: {name} {shown} cannot be called with one argument, the epoch "
                        f"({error}); expected a callable epoch -> {gives}") from None


def _check_shuffle_seed(shuffle_seed, num_epochs):
    """None, a callable epoch -> seed (its seeds are checked each epoch, by ``_epoch_seed``), or an
    int s whose every seed s + e lies in NumPy's range: s itself is checked first (True + 0 would be
    the seed 1, "3" + 0 a bare TypeError), then the first and last epochs' seeds, which bound the rest."""
    if shuffle_seed is None:
        return
    if callable(shuffle_seed):
        _check_epoch_function("shuffle_seed", shuffle_seed, "int seed")
        return
    if not _is_int(shuffle_seed):
        raise ValueError(f"deep.train: shuffle_seed is {type(shuffle_seed).__name__} {shuffle_seed!r:.60}; "
                         "expected None, an int seed in [0, 2**32 - 1] or a callable epoch -> int seed")
    for epoch in (0, num_epochs - 1) if num_epochs > 1 else (0,):
        _epoch_seed(shuffle_seed, epoch)


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


def _check_train_arguments(X, Y, layer_dims, optimizer, learning_rate, num_epochs, mini_batch_size, init,
                           lambd, keep_prob, cost_every, lr_schedule, shuffle_seed, optimizer_options):
    """Refuse ``train``'s bad arguments before any work, each by name, even when num_epochs is 0
    (the later uses would refuse them under another function's name, or never).

    Returns:
        (X, Y) as ndarrays (a nested list converted here, once).
    """
    if not isinstance(optimizer, str):  # (a list would be a bare "unhashable type" from the lookup below)
        raise TypeError(f"deep.train: optimizer is {type(optimizer).__name__} {optimizer!r:.60}; expected "
                        f"one of {sorted(OPTIMIZERS)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"deep.train: unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
    _check_optimizer_options(optimizer, optimizer_options)
    if not isinstance(init, str) or init not in ag.init.METHODS:
        raise ValueError(f"deep.train: unknown init {init!r:.60}; expected one of {sorted(ag.init.METHODS)}")
    check_learning_rate("deep.train", learning_rate)
    dims = check_layer_dims("deep.train", layer_dims)
    X, Y = check_examples("deep.train", X, Y, n_x=dims[0])
    check_count("deep.train", "num_epochs", num_epochs, 0)
    check_count("deep.train", "cost_every", cost_every, 1)
    if mini_batch_size is not None:
        check_count("deep.train", "mini_batch_size", mini_batch_size, 1)
    check_lambd("deep.train", lambd)
    manual._check_keep_prob("deep.train", keep_prob)  # the reference's rule, the one ag.dropout applies
    if lr_schedule is not None:
        _check_epoch_function("lr_schedule", lr_schedule, "learning rate")
    _check_shuffle_seed(shuffle_seed, num_epochs)
    return X, Y


def _scheduled_lr(lr_schedule, epoch):
    """``lr_schedule(epoch)`` as a float, refused unless a finite number > 0 (a 0-d array counts, as
    for learning_rate): a schedule decaying to 0 or overflowing would stall or wreck training silently."""
    lr = lr_schedule(epoch)
    if not (_is_number(lr) and lr > 0):
        raise ValueError(f"deep.train: lr_schedule({epoch}) returned {lr!r}; expected a finite "
                         "learning rate > 0")
    return float(lr)


def _shuffle_stream(rng, shuffle_seed, epoch):
    """Epoch ``epoch``'s shuffling stream: the run's rng, or a RandomState of the epoch's own seed."""
    return rng if shuffle_seed is None else np.random.RandomState(_epoch_seed(shuffle_seed, epoch))


def _train_epoch(cost_fn, params, opt, batches, X, epoch, batched, lambd, keep_prob, rng):
    """One pass over ``batches`` [(X_batch (n_x, k), Y_batch (1, k)), ...], one update each.

    Returns:
        the epoch's cost: full batch, the cost itself (unrounded); else the mean of the batches'
        costs weighted by their sizes, each taken before that batch's update.
    """
    batch_costs = []
    for X_batch, Y_batch in batches:
        updated = epoch > 0 or len(batch_costs) > 0  # (before the first step: the starting parameters)
        with diverging("deep.train", f"epoch {epoch}", params, X, updated):
            J = cost_fn(params, X_batch, Y_batch, lambd, keep_prob, rng=rng)
        batch_costs.append(J.item())
        if not updated:  # at the starting parameters: a NaN/inf here is the data's, not the learning rate's
            first = f"epoch {epoch}" + (" (its first mini-batch)" if batched else "")
            check_initial_cost("deep.train", first, batch_costs[-1], X, params)
        opt.zero_grad()
        J.backward()
        opt.step()
    if len(batches) == 1:
        return batch_costs[0]
    return sum(c * b[0].shape[1] for c, b in zip(batch_costs, batches)) / X.shape[1]


def train(X, Y, layer_dims, optimizer="gd", learning_rate=0.0075, num_epochs=3300, mini_batch_size=None,
          init="he", lambd=0.0, keep_prob=1.0, rng=None, init_rng=None, shuffle_seed=None, lr_schedule=None,
          cost_every=100, print_cost=False, progress=False, compiled=False, **optimizer_options):
    """Train the L-layer net.

    Args:
        X: (n_x, m), examples as columns, numeric (a nested list is converted once); Y: (1, m) labels 0/1.
        layer_dims: [n_x, n_1, ..., 1], at least 2 positive ints.
        optimizer: "gd", "momentum" or "adam"; ``optimizer_options`` go to it (beta for momentum;
            beta1, beta2, eps for Adam; gd takes none).
        learning_rate: > 0, every epoch's unless ``lr_schedule``, a callable epoch -> rate (e.g.
            ``ag.optim.lr_schedule.exponential(lr0, decay_rate)``), sets it before each epoch (from 0).
        num_epochs: passes over the data; mini_batch_size: None (full batch) or an int >= 1.
        init: an ``ag.init.initialize`` method: "he", "xavier", "random_normal", "small", "lecun".
        lambd: L2 strength, a finite number >= 0; keep_prob: dropout on hidden layers, in (0, 1].
        rng, init_rng, shuffle_seed: the random streams (the module's docstring). rng: None, an int
            seed, a numpy Generator or RandomState; init_rng: the weights' own (None: rng);
            shuffle_seed: None (rng shuffles), an int s (epoch e: ``RandomState(s + e).permutation(m)``,
            the course's notebook is ``shuffle_seed=11``) or a callable epoch -> seed; seeds in [0, 2**32 - 1].
        cost_every: record the cost every this many epochs (from 0); print_cost: also print it;
        progress: tqdm bar on stderr (a str: its label); compiled: replay tapes (``ag.compile``), same results.
    Returns:
        (params, costs): dict of Tensors W1..bL; every ``cost_every`` epochs the epoch's cost (full batch:
        before the epoch's update, as the course prints it; else the batches' costs, each before its
        update, averaged weighted by batch size).
    Raises (all but the last two before any work, naming deep.train, the argument and the value):
        TypeError: non-numeric X or Y, an rng of another kind, layer_dims not a sequence, optimizer not
            a str, keep_prob not a number, lr_schedule (or a callable shuffle_seed) not callable with one
            argument, a keyword neither train nor the optimizer takes (num_iterations=, lr=, betas=, ...).
        ValueError: zero examples, bad shapes or orientation, unknown optimizer or init, bad layer_dims,
            num_epochs / cost_every / mini_batch_size not an int in range, lambd not a finite number >= 0,
            keep_prob outside (0, 1], shuffle_seed not an int keeping every epoch's seed in [0, 2**32 - 1];
            later, naming the epoch: a schedule or a callable shuffle_seed giving a bad value.
        InitialCostError, TrainingDivergedError (FloatingPointErrors): a NaN/inf cost at the starting
            parameters (names the largest |feature|), or after updates (names the epoch and the parameter).
    """
    X, Y = _check_train_arguments(X, Y, layer_dims, optimizer, learning_rate, num_epochs, mini_batch_size, init,
                                  lambd, keep_prob, cost_every, lr_schedule, shuffle_seed, optimizer_options)
    # One stream for everything not seeded separately: an int seed becomes one generator here,
    # not a fresh one per use (which would repeat the same draws for weights and shuffles).
    rng = as_generator(rng, "deep.train")
    init_stream = rng if init_rng is None else as_generator(init_rng, "deep.train (init_rng)")
    params = ag.init.initialize(layer_dims, method=init, rng=init_stream)
    opt = OPTIMIZERS[optimizer](params, learning_rate, **optimizer_options)
    full_batch = [(ag.Tensor(X, name="X"), ag.Tensor(Y, name="Y"))]
    cost_fn = ag.compile(cost) if compiled else cost
    costs = []
    for epoch in progress_range(num_epochs, progress):
        if lr_schedule is not None:
            opt.lr = _scheduled_lr(lr_schedule, epoch)
        batches = full_batch if mini_batch_size is None else random_mini_batches(
            X, Y, mini_batch_size, _shuffle_stream(rng, shuffle_seed, epoch))
        epoch_cost = _train_epoch(cost_fn, params, opt, batches, X, epoch, mini_batch_size is not None, lambd,
                                  keep_prob, rng)
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
        ValueError: params missing a key or holding others, shapes that do not chain (a bias not
            (n_l, 1)), NaN or inf in params (``predict_params``); X of the wrong shape.
        TypeError: params not a dict, non-numeric X, a masked array with a masked entry.
    """
    params = predict_params("deep.predict", params)
    check_examples("deep.predict", X, n_x=params["W1"].shape[1])
    with ag.no_grad():
        AL = forward(params, X)
    return (AL.data > 0.5).astype(np.int64)
