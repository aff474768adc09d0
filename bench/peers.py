"""Peer libraries on the same workloads: HIPS autograd, MyGrad, PyTorch (CPU, eager).

Each factory has the signature of ``bench.workloads.FACTORIES`` entries and
raises ``Unavailable`` when its library is not installed. Every peer trains
in float64, draws fresh dropout masks each step from a NumPy Generator and
uses the workload's update rule (PyTorch its own ``torch.optim.Adam``).
"""
import numpy as np

from .workloads import Unavailable, dropout_masks, numpy_updater


def _import(name):
    try:
        return __import__(name)
    except ImportError as error:
        raise Unavailable(f"{name} is not installed ({error})") from None


def _cost_expression(lib, params, X, Y, masks, workload, relu, sigmoid, linear=None):
    """The regularized cost in any NumPy-like library ``lib`` (needs matmul, log, sum, square).
    ``linear(W, A, b)``: the library's fused ``W @ A + b`` where it has one."""
    linear = linear or (lambda W, A, b: lib.matmul(W, A) + b)
    L = len(params) // 2
    m = Y.shape[1]
    A = X
    for l in range(1, L):
        A = relu(linear(params[f"W{l}"], A, params[f"b{l}"]))
        if masks is not None:
            A = A * masks[l - 1] / workload.keep_prob
    A = sigmoid(linear(params[f"W{L}"], A, params[f"b{L}"]))
    cost = -lib.sum(Y * lib.log(A) + (1 - Y) * lib.log(1 - A)) / m
    if workload.lambd:
        squares = sum(lib.sum(lib.square(params[f"W{l}"])) for l in range(1, L + 1))
        cost = cost + workload.lambd / (2 * m) * squares
    return cost


def make_autograd(problem, seed):
    """HIPS autograd: ``value_and_grad`` of the cost over a dict of ndarrays."""
    _import("autograd")
    import autograd.numpy as anp
    from autograd import value_and_grad

    w = problem.workload
    params = {k: v.copy() for k, v in problem.params.items()}
    update = numpy_updater(w, params)
    rng, batches = np.random.default_rng(seed), problem.batch_cycle()

    def cost(p, X, Y, masks):
        return _cost_expression(anp, p, X, Y, masks, w, lambda z: anp.maximum(z, 0.0),
                                lambda z: 1 / (1 + anp.exp(-z)))
    cost_and_grad = value_and_grad(cost)

    def step():
        X, Y = next(batches)
        value, grads = cost_and_grad(params, X, Y, dropout_masks(rng, w, Y.shape[1]))
        update({"d" + k: g for k, g in grads.items()})
        return float(value)
    return step


def make_mygrad(problem, seed):
    """MyGrad: Tensors with ``backward()``; updates applied to the underlying arrays."""
    mg = _import("mygrad")
    import mygrad.nnet as nnet

    w = problem.workload
    arrays = {k: v.copy() for k, v in problem.params.items()}
    update = numpy_updater(w, arrays)
    rng, batches = np.random.default_rng(seed), problem.batch_cycle()

    def step():
        X, Y = next(batches)
        params = {k: mg.Tensor(v, copy=False) for k, v in arrays.items()}
        masks = dropout_masks(rng, w, Y.shape[1])
        cost = _cost_expression(mg, params, X, Y, masks, w, nnet.relu, nnet.sigmoid)
        cost.backward()
        grads = {"d" + k: t.grad for k, t in params.items()}
        value = cost.item()
        cost.null_grad()
        update(grads)
        return value
    return step


def make_torch(problem, seed):
    """PyTorch eager on CPU in float64, layers as ``torch.addmm`` (its fused ``b + W @ A``, as
    ``nn.Linear`` uses), ``torch.optim.SGD`` / ``Adam``."""
    torch = _import("torch")
    w = problem.workload
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in problem.params.items()}
    optimizer = (torch.optim.SGD if w.optimizer == "gd" else torch.optim.Adam)(list(params.values()), lr=w.lr)
    rng = np.random.default_rng(seed)
    tensors = [(torch.from_numpy(X), torch.from_numpy(Y)) for X, Y in problem.batches]
    index = iter(range(10 ** 12))

    def step():
        X, Y = tensors[next(index) % len(tensors)]
        masks = dropout_masks(rng, w, Y.shape[1])
        masks = None if masks is None else [torch.from_numpy(d) for d in masks]
        cost = _cost_expression(torch, params, X, Y, masks, w, torch.relu, torch.sigmoid,
                                lambda W, A, b: torch.addmm(b, W, A))
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        return cost.item()
    return step


FACTORIES = {"autograd": make_autograd, "mygrad": make_mygrad, "torch": make_torch}
