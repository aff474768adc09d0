"""The benchmark workloads and one training step per implementation.

A workload fixes a network, its data and its update rule. Every
implementation gets its own copy of the same initial parameters and builds
a ``step()`` closure doing one full training step: forward, cost, backward
and parameter update. Implementations are registered in ``FACTORIES`` (this
module: hand-written NumPy and autograd_lite) and ``bench.peers`` (other
libraries); a factory raises ``Unavailable`` when it cannot run here.
"""
from dataclasses import dataclass

import numpy as np

import autograd_lite as ag
from models import data, manual


class Unavailable(Exception):
    """The implementation cannot run here (library not installed, ...)."""


@dataclass(frozen=True)
class Workload:
    """A network and its training setup.

    layer_dims: [n_x, n_1, ..., n_L]; m: examples per step; lambd: L2
    strength (0: none); keep_prob: dropout on hidden layers (1: none);
    optimizer: "gd" or "adam"; lr: learning rate.
    """
    name: str
    layer_dims: tuple
    m: int
    lambd: float
    keep_prob: float
    optimizer: str
    lr: float
    description: str


WORKLOADS = {
    "football": Workload("football", (2, 20, 3, 1), 211, 0.7, 0.86, "gd", 0.3,
                         "[2,20,3,1], m=211, L2 0.7 + dropout 0.86, gradient descent"),
    "football_l2": Workload("football_l2", (2, 20, 3, 1), 211, 0.7, 1.0, "gd", 0.3,
                            "[2,20,3,1], m=211, L2 0.7 alone, gradient descent"),
    "football_dropout": Workload("football_dropout", (2, 20, 3, 1), 211, 0.0, 0.86, "gd", 0.3,
                                 "[2,20,3,1], m=211, dropout 0.86 alone, gradient descent"),
    "cat": Workload("cat", (12288, 20, 7, 5, 1), 209, 0.7, 1.0, "gd", 0.0075,
                    "[12288,20,7,5,1], m=209, L2 0.7, gradient descent"),
    "minibatch": Workload("minibatch", (784, 128, 64, 1), 64, 0.0, 1.0, "adam", 1e-3,
                          "[784,128,64,1], batches of 64, Adam"),
}


@dataclass
class Problem:
    """Data and initial parameters shared by every implementation of a workload.

    batches: list of (X (n_x, m), Y (1, m)) float64 pairs, used in turn;
    params: {"W1": ndarray, "b1": ndarray, ...} (copy before use); source: data origin.
    """
    workload: Workload
    batches: list
    params: dict
    source: str

    def batch_cycle(self):
        """Endless iterator over the batches, in order."""
        while True:
            yield from self.batches


def make_problem(workload, seed=0):
    """Data (the real data sets when present, else random of the same shape) and
    He-initialized parameters for ``workload``."""
    rng = np.random.default_rng(seed)
    n_x, m = workload.layer_dims[0], workload.m
    source, folder = "random", data.data_folder()
    if workload.name.startswith("football") and folder is not None and (folder / "football.npz").is_file():
        X, Y = data.load_football(folder / "football.npz")[:2]
        batches, source = [(X, Y)], "football.npz"
    elif workload.name == "cat" and folder is not None and (folder / "catvnoncat.npz").is_file():
        X, Y = data.load_catvnoncat(folder / "catvnoncat.npz")[:2]
        batches, source = [(X, Y)], "catvnoncat.npz"
    else:
        batches = [(rng.standard_normal((n_x, m)), (rng.random((1, m)) < 0.5).astype(np.float64))
                   for _ in range(1 if workload.optimizer == "gd" else 8)]
    params = {k: t.data.copy() for k, t in ag.init.initialize(list(workload.layer_dims), "he", rng).items()}
    return Problem(workload, batches, params, source)


def dropout_masks(rng, workload, m):
    """Fresh inverted-dropout masks for the hidden layers (None when keep_prob is 1)."""
    if workload.keep_prob == 1:
        return None
    return [(rng.random((n, m)) < workload.keep_prob).astype(np.float64) for n in workload.layer_dims[1:-1]]


def numpy_updater(workload, params):
    """``update(grads)`` applying the workload's rule to the ndarray parameters in the
    dict ``params``, for implementations that compute gradients as ndarrays.

    grads: {"dW1": ndarray, ...}. Gradient descent is ``manual.update_parameters``
    (in place); Adam is ``ag.optim.Adam`` (models.manual writes no Adam) over Tensors
    sharing the arrays, whose new values are put back into ``params`` (no copy).
    """
    if workload.optimizer == "gd":
        return lambda grads: manual.update_parameters(params, grads, workload.lr, check=False)
    holders = {k: ag.as_tensor(v).requires_grad_() for k, v in params.items()}
    adam = ag.optim.Adam(holders, workload.lr)

    def update(grads):
        for k, t in holders.items():
            t.grad = grads["d" + k]
        adam.step()
        for k, t in holders.items():
            params[k] = t.data
    return update


# --- hand-written NumPy (models.manual) -------------------------------------------------
def make_manual(problem, seed):
    """The hand-written step: ``manual.deep_step`` / ``three_layer_step`` for gradient
    descent; the manual L-layer forward/backward plus Adam otherwise."""
    w = problem.workload
    params = {k: v.copy() for k, v in problem.params.items()}
    rng, batches = np.random.default_rng(seed), problem.batch_cycle()
    if w.optimizer == "gd":
        hand_step = manual.three_layer_step if w.layer_dims == tuple(manual.LAYERS_3) else manual.deep_step

        def step():
            X, Y = next(batches)
            return hand_step(params, X, Y, w.lr, w.lambd, w.keep_prob, dropout_masks(rng, w, Y.shape[1]),
                             check=False)  # (the course's step: no argument checks, as the course has none)
        return step
    update = numpy_updater(w, params)

    def step():
        X, Y = next(batches)
        AL, caches = manual.L_model_forward(X, params, w.keep_prob, dropout_masks(rng, w, Y.shape[1]), check=False)
        cost = (manual.compute_cost_with_regularization(AL, Y, params, w.lambd, check=False) if w.lambd
                else manual.compute_cost(AL, Y, check=False))
        update(manual.L_model_backward(Y, caches, w.lambd, w.keep_prob, check=False))
        return cost
    return step


# --- the leanest hand-written NumPy ------------------------------------------------------
def lean_step(params, X, Y, lr, lambd, keep_prob, masks):
    """One gradient-descent step of the L-layer net in as few NumPy calls as we could write:
    the same math as ``manual`` (cost included), with (A - Y) / m scaled once, biases added
    and masks applied in place, and parameters updated in place. Returns the cost."""
    L, m = len(params) // 2, Y.shape[1]
    activations, A = [X], X
    for l in range(1, L):
        A = np.dot(params[f"W{l}"], A)
        A += params[f"b{l}"]
        np.maximum(A, 0.0, out=A)
        if masks is not None:
            A *= masks[l - 1]
            A /= keep_prob
        activations.append(A)
    Z = np.dot(params[f"W{L}"], A)
    Z += params[f"b{L}"]
    AL = 1.0 / (1.0 + np.exp(-Z))
    cost = -np.sum(np.log(np.where(Y == 1, AL, 1.0 - AL))) / m
    if lambd:
        cost += lambd / (2 * m) * sum(np.sum(np.square(params[f"W{l}"])) for l in range(1, L + 1))
    dZ = (AL - Y) / m
    for l in range(L, 0, -1):
        W, A_prev = params[f"W{l}"], activations[l - 1]
        dW = np.dot(dZ, A_prev.T)
        if lambd:
            dW += lambd / m * W
        db = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dA = np.dot(W.T, dZ)
            if masks is not None:
                dA *= masks[l - 2]
                dA /= keep_prob
            dZ = dA * (A_prev > 0)
        W -= lr * dW
        params[f"b{l}"] -= lr * db
    return cost


def make_lean(problem, seed):
    """The leanest hand-written step (``lean_step``), for gradient-descent workloads."""
    w = problem.workload
    if w.optimizer != "gd":
        raise Unavailable("the lean step is written for gradient descent only")
    params = {k: v.copy() for k, v in problem.params.items()}
    rng, batches = np.random.default_rng(seed), problem.batch_cycle()

    def step():
        X, Y = next(batches)
        return lean_step(params, X, Y, w.lr, w.lambd, w.keep_prob, dropout_masks(rng, w, Y.shape[1]))
    return step


# --- autograd_lite -------------------------------------------------------------------------
def written_linear(W, A, b):
    """A layer's affine map as docs/math.md writes it, ``W @ A + b``: two recorded ops."""
    return W @ A + b


def network_cost(params, X, Y, lambd, keep_prob, rng, linear=ag.linear):
    """The regularized cost of an L-layer net, written once as an expression.

    params: {"W1": Tensor, ...}; X: (n_x, m); Y: (1, m); linear: the layers' affine
    map, ``ag.linear`` (one recorded op, as ``torch.nn.Linear``) or ``written_linear``.
    Returns a scalar Tensor.
    """
    L = len(params) // 2
    A = X
    for l in range(1, L):
        A = ag.relu(linear(params[f"W{l}"], A, params[f"b{l}"]))
        if keep_prob < 1:
            A = ag.dropout(A, keep_prob, rng=rng)
    A = ag.sigmoid(linear(params[f"W{L}"], A, params[f"b{L}"]))
    cost = ag.binary_cross_entropy(A, Y)
    if lambd:
        cost = cost + ag.l2_penalty([params[f"W{l}"] for l in range(1, L + 1)], lambd, Y.shape[1])
    return cost


def written_network_cost(params, X, Y, lambd, keep_prob, rng):
    """``network_cost`` with every layer written ``W @ A + b`` (``written_linear``)."""
    return network_cost(params, X, Y, lambd, keep_prob, rng, linear=written_linear)


def _autograd_lite_step(problem, seed, cost_fn):
    w = problem.workload
    params = {k: ag.Tensor(v, requires_grad=True, name=k) for k, v in problem.params.items()}
    optimizer = (ag.optim.GradientDescent if w.optimizer == "gd" else ag.optim.Adam)(params, w.lr)
    rng, batches = np.random.default_rng(seed), problem.batch_cycle()

    def step():
        X, Y = next(batches)
        cost = cost_fn(params, X, Y, w.lambd, w.keep_prob, rng)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        return cost.item()
    step.params = params
    return step


def make_eager(problem, seed):
    """autograd_lite eager: the graph is recorded anew every step (layers as ``ag.linear``)."""
    return _autograd_lite_step(problem, seed, network_cost)


def make_eager_written(problem, seed):
    """autograd_lite eager with the layers written ``W @ A + b`` (two ops each, as in models/)."""
    return _autograd_lite_step(problem, seed, written_network_cost)


def make_replay(problem, seed):
    """autograd_lite replayed tape: ``ag.compile`` of the same cost function."""
    try:
        compiled = ag.compile(network_cost)
    except (ImportError, AttributeError) as error:
        raise Unavailable(f"ag.compile: {error}") from None
    return _autograd_lite_step(problem, seed, compiled)


FACTORIES = {"manual": make_manual, "lean": make_lean, "eager": make_eager, "eager_written": make_eager_written,
             "replay": make_replay}
