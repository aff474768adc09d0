"""The L-layer network of SEEDS.md section 5, on autograd_lite.

[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, initialized by
``ag.init.initialize`` (He / Xavier / random_normal), trained on shuffled
mini-batches with gradient descent, momentum or Adam from ``ag.optim``. The
cost is written once, as in ``three_layer``: cross-entropy of the (dropped-out)
forward pass plus the L2 penalty on every weight; gradients come from
``backward()`` only.
"""
import numpy as np

import autograd_lite as ag

from . import check_count, check_examples, check_finite, progress_range

__all__ = ["OPTIMIZERS", "random_mini_batches", "forward", "cost", "train", "predict"]

OPTIMIZERS = {"gd": ag.optim.GradientDescent, "momentum": ag.optim.Momentum, "adam": ag.optim.Adam}


def random_mini_batches(X, Y, mini_batch_size=64, rng=None):
    """Shuffle the columns of X and Y with one permutation, then cut consecutive
    batches; the last may be smaller, no example is dropped.

    Args:
        X: (n_x, m); Y: (1, m); mini_batch_size: int >= 1;
        rng: numpy.random.Generator (a new default one when None).
    Returns:
        list of (X_batch (n_x, k), Y_batch (1, k)), k = mini_batch_size except
        possibly the last; together they hold every example exactly once.
    """
    check_count("random_mini_batches", "mini_batch_size", mini_batch_size, 1)
    check_examples("random_mini_batches", X, Y)
    rng = np.random.default_rng() if rng is None else rng
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
            masks are drawn from rng; rng: numpy.random.Generator.
    Returns:
        AL, a (1, m) Tensor.
    """
    L = len(params) // 2
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


def train(X, Y, layer_dims, optimizer="gd", learning_rate=0.0075, num_epochs=3300, mini_batch_size=None,
          init="he", lambd=0.0, keep_prob=1.0, rng=None, cost_every=100, print_cost=False, progress=False,
          compiled=False, **optimizer_options):
    """Train the L-layer net.

    Args:
        X: (n_x, m), examples as columns; Y: (1, m) labels 0/1.
        layer_dims: [n_x, n_1, ..., 1].
        optimizer: "gd", "momentum" or "adam"; ``optimizer_options`` go to it
            (beta for momentum; beta1, beta2, eps for Adam).
        learning_rate: > 0. num_epochs: passes over the data.
        mini_batch_size: None for full batch, else an int (reshuffled every epoch).
        init: "he", "xavier" or "random_normal".
        lambd: L2 strength >= 0; keep_prob: dropout on hidden layers, in (0, 1].
        rng: numpy.random.Generator for weights, shuffles and masks (new default one when None).
        cost_every: record the cost every this many epochs (from epoch 0).
        print_cost: also print it; progress: tqdm bar on stderr (a str: its label).
        compiled: replay recorded tapes (``ag.compile``, one per batch shape) instead
            of recording every step; same results, faster.
    Returns:
        (params, costs): dict of Tensors W1..bL; the epoch's cost every ``cost_every``
        epochs, the mean over its mini-batches weighted by their sizes, each batch's
        cost taken before that batch's update.
    Raises:
        ValueError: bad shapes or orientation, unknown optimizer or init, bad counts.
        TrainingDivergedError: a NaN/inf cost or parameter (names the epoch and the parameter).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"deep.train: unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
    check_examples("deep.train", X, Y, n_x=layer_dims[0])
    check_count("deep.train", "num_epochs", num_epochs, 0)
    check_count("deep.train", "cost_every", cost_every, 1)
    rng = np.random.default_rng() if rng is None else rng
    params = ag.init.initialize(layer_dims, method=init, rng=rng)
    opt = OPTIMIZERS[optimizer](params, learning_rate, **optimizer_options)
    m = X.shape[1]
    full_batch = [(ag.Tensor(X, name="X"), ag.Tensor(Y, name="Y"))]
    cost_fn = ag.compile(cost) if compiled else cost
    costs = []
    for epoch in progress_range(num_epochs, progress):
        batches = full_batch if mini_batch_size is None else random_mini_batches(X, Y, mini_batch_size, rng)
        batch_costs = []
        for X_batch, Y_batch in batches:
            J = cost_fn(params, X_batch, Y_batch, lambd, keep_prob, rng=rng)
            batch_costs.append(J.item())
            opt.zero_grad()
            J.backward()
            opt.step()
        # Full batch: the cost itself, unrounded; else the mean weighted by batch sizes.
        epoch_cost = batch_costs[0] if len(batches) == 1 else sum(
            c * b[0].shape[1] for c, b in zip(batch_costs, batches)) / m
        check_finite("deep.train", f"epoch {epoch}", epoch_cost, params)
        if epoch % cost_every == 0:
            costs.append(epoch_cost)
            if print_cost:
                print(f"Cost after epoch {epoch}: {epoch_cost}")
    return params, costs


def predict(params, X):
    """Class 1 where AL > 0.5 (strictly), no dropout.

    Args:
        params: dict of Tensors or ndarrays W1..bL; X: (n_x, m).
    Returns:
        (1, m) int64 array of 0/1.
    """
    check_examples("deep.predict", X, n_x=params["W1"].shape[1])
    with ag.no_grad():
        AL = forward({k: ag.as_tensor(v) for k, v in params.items()}, X)
    return (AL.data > 0.5).astype(np.int64)
