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
"""
import numpy as np

LAYERS_3 = [2, 20, 3, 1]  # the regularization study's network


# --- the exercise's initialization and dropout masks (docs/math.md, "Inverted dropout") ---------------
def initialize_reference(layer_dims=LAYERS_3):
    """The study's initialization: legacy global seed 3, then per layer
    ``W = randn(n_l, n_{l-1}) / sqrt(n_{l-1})`` and ``b = zeros((n_l, 1))``.

    Returns:
        dict of float64 ndarrays {"W1": (n_1, n_0), "b1": (n_1, 1), ...}.
    """
    np.random.seed(3)
    params = {}
    for l in range(1, len(layer_dims)):
        params[f"W{l}"] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        params[f"b{l}"] = np.zeros((layer_dims[l], 1))
    return params


def reference_dropout_masks(hidden_sizes, m, keep_prob):
    """The exercise's masks: legacy global seed 1, then ``rand(n_l, m) < keep_prob``
    for each hidden layer in order. Re-seeding means every call returns the same masks.

    Args:
        hidden_sizes: sizes of the hidden layers, e.g. (20, 3).
        m: number of examples.
        keep_prob: probability of keeping a unit.
    Returns:
        list of boolean (n_l, m) arrays, one per hidden layer.
    """
    np.random.seed(1)
    return [np.random.rand(n, m) < keep_prob for n in hidden_sizes]


# --- activations and cost ------------------------------------------------------------------
def relu(Z):
    """max(0, Z) elementwise."""
    return np.maximum(0, Z)


def sigmoid(Z):
    """1 / (1 + exp(-Z)) elementwise."""
    with np.errstate(over="ignore"):  # exp(-Z) -> inf for Z << 0 gives the right 0
        return 1 / (1 + np.exp(-Z))


def compute_cost(A, Y):
    """Cross-entropy as the published study writes it: the NaN-skipping sum drops
    the 0 * log(0) terms where A is exactly 0 or 1.

    Args:
        A: (1, m) predicted probabilities; Y: (1, m) labels 0/1.
    Returns:
        float.
    """
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    return 1. / m * np.nansum(logprobs)


def compute_cost_with_regularization(A, Y, params, lambd):
    """Cross-entropy plus ``(lambd / (2m)) * sum_l sum(W[l] ** 2)`` (biases not penalized).

    Args:
        A, Y: (1, m); params: dict with "W1".."WL"; lambd: >= 0.
    Returns:
        float.
    """
    m = Y.shape[1]
    weights = [params[f"W{l}"] for l in range(1, len(params) // 2 + 1)]
    l2 = 1. / m * lambd / 2 * sum(np.sum(np.square(W)) for W in weights)
    return compute_cost(A, Y) + l2


# --- the 3-layer network, line by line as docs/math.md writes it -----------------------------
def forward_propagation(X, params, keep_prob=1.0, masks=None):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, inverted dropout on
    the two hidden layers when ``masks = (D1, D2)`` is given.

    Args:
        X: (n_x, m); params: W1, b1, W2, b2, W3, b3; keep_prob: in (0, 1];
        masks: None, or (D1 (n_1, m), D2 (n_2, m)) of 0/1.
    Returns:
        A3 (1, m) and the cache for ``backward_propagation``.
    """
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
    return A3, cache


def backward_propagation(X, Y, cache, lambd=0.0, keep_prob=1.0):
    """The hand-derived backward pass (docs/math.md) with the L2 terms and inverted dropout (same masks).

    Args:
        X: (n_x, m); Y: (1, m); cache from ``forward_propagation``;
        lambd: L2 strength (0: none); keep_prob: as in the forward pass.
    Returns:
        dict of gradients {"dW1", "db1", ..., "dW3", "db3"} with the parameters' shapes.
    """
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


def update_parameters(params, grads, learning_rate):
    """Gradient descent in place: ``p -= learning_rate * dp`` for every parameter.

    Args:
        params: dict of ndarrays (updated in place); grads: {"d" + key: ndarray}.
    """
    for key, p in params.items():
        p -= learning_rate * grads["d" + key]


def three_layer_step(params, X, Y, learning_rate, lambd=0.0, keep_prob=1.0, masks=None):
    """One full-batch training step of the study as written by hand: forward,
    cost, backward, update (params updated in place).

    Args:
        params: dict of ndarrays W1..b3; X: (2, m); Y: (1, m);
        masks: (D1, D2) when keep_prob < 1 (e.g. ``reference_dropout_masks``).
    Returns:
        the cost before the update (float), as the exercise prints it.
    """
    A3, cache = forward_propagation(X, params, keep_prob, masks)
    cost = compute_cost_with_regularization(A3, Y, params, lambd) if lambd else compute_cost(A3, Y)
    grads = backward_propagation(X, Y, cache, lambd, keep_prob)
    update_parameters(params, grads, learning_rate)
    return cost


# --- the general L-layer network (docs/math.md, "The L-layer network") -----------------------------------------
def L_model_forward(X, params, keep_prob=1.0, masks=None):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, inverted dropout on hidden
    layer l when ``masks[l - 1]`` is given.

    Args:
        X: (n_x, m); params: W1, b1, ..., WL, bL; keep_prob: in (0, 1];
        masks: None, or a list of L-1 entries, each an (n_l, m) 0/1 array or None.
    Returns:
        AL (1, m) and caches: per layer (A_prev, W, D or None, A).
    """
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
    return A, caches


def L_model_backward(Y, caches, lambd=0.0, keep_prob=1.0):
    """Backpropagation through ``L_model_forward``: dZL = AL - Y, then per layer
    ``dW = (1/m) dZ A_prev^T + (lambd/m) W``, ``dA_prev = W^T dZ`` (times the
    layer's mask / keep_prob), ``dZ_prev = dA_prev * (A_prev > 0)``.

    Args:
        Y: (1, m); caches from ``L_model_forward``; lambd, keep_prob: as in the forward pass.
    Returns:
        dict {"dW1", "db1", ..., "dWL", "dbL"}.
    """
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


def deep_step(params, X, Y, learning_rate, lambd=0.0, keep_prob=1.0, masks=None):
    """One gradient-descent step of the L-layer net by hand (params updated in place).

    Args:
        params: dict of ndarrays W1..bL; X: (n_x, m) (a mini-batch); Y: (1, m);
        masks: per hidden layer (n_l, m) 0/1 arrays when keep_prob < 1.
    Returns:
        the cost before the update (float).
    """
    AL, caches = L_model_forward(X, params, keep_prob, masks)
    cost = compute_cost_with_regularization(AL, Y, params, lambd) if lambd else compute_cost(AL, Y)
    grads = L_model_backward(Y, caches, lambd, keep_prob)
    update_parameters(params, grads, learning_rate)
    return cost
