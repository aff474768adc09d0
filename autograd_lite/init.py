"""Parameter initialization for fully connected nets (SEEDS.md section 5)."""
import numbers

import numpy as np

from .tensor import Tensor

__all__ = ["initialize", "METHODS"]

# Scale of W[l] = randn(n_l, n_{l-1}) * scale(n_{l-1}).
METHODS = {
    "he": lambda n_prev: np.sqrt(2 / n_prev),
    "xavier": lambda n_prev: np.sqrt(1 / n_prev),
    "random_normal": lambda n_prev: 10.0,  # deliberately too large: shows why scale matters
}


def initialize(layer_dims, method="he", rng=None):
    """Weights and zero biases of a fully connected net.

    Args:
        layer_dims: [n_x, n_1, ..., n_L], at least two positive ints.
        method: "he" (std sqrt(2 / n_{l-1})), "xavier" (std sqrt(1 / n_{l-1}))
            or "random_normal" (std 10).
        rng: numpy.random.Generator (``np.random.default_rng()`` when None).
    Returns:
        dict {"W1": Tensor (n_1, n_x), "b1": Tensor (n_1, 1), ..., "bL": ...},
        every Tensor float64 with requires_grad=True and named after its key.
    """
    if method not in METHODS:
        raise ValueError(f"initialize: unknown method {method!r}; expected one of {sorted(METHODS)}")
    dims = list(layer_dims)
    if len(dims) < 2:
        raise ValueError(f"initialize: layer_dims {dims} has {len(dims)} entries; expected at least 2 "
                         "([n_x, n_1, ...]: the input size and one layer)")
    bad = [n for n in dims if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0]
    if bad:
        raise ValueError(f"initialize: layer_dims {dims} holds {bad}; every size must be a positive int")
    rng = np.random.default_rng() if rng is None else rng
    scale = METHODS[method]
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = Tensor(rng.standard_normal((dims[l], dims[l - 1])) * scale(dims[l - 1]),
                                 requires_grad=True, name=f"W{l}")
        params[f"b{l}"] = Tensor(np.zeros((dims[l], 1)), requires_grad=True, name=f"b{l}")
    return params
