"""Parameter initialization for fully connected nets.

``W[l]`` has shape ``(n_l, n_{l-1})`` and is drawn from a standard normal, then
scaled by the method's rule; ``b[l]`` is zeros of shape ``(n_l, 1)`` (no draws for
biases). Weights are drawn in layer order from one stream, so a seeded
``numpy.random.RandomState`` reproduces the classic exercises exactly: for
``"lecun"`` with ``np.random.RandomState(1)`` the weights equal, bit for bit, those of
``np.random.seed(1)`` followed by ``np.random.randn(n_l, n_prev) / np.sqrt(n_prev)``
for each layer.
"""
import numbers
from collections.abc import Sequence

import numpy as np

from .lr_schedule import _shown
from .rng import as_generator
from .tensor import Tensor

__all__ = ["initialize", "METHODS"]

# method -> W[l] from the standard-normal draw ``z`` of shape (n_l, n_{l-1}) and n_{l-1}.
# Each is written with the very operations of the course's code (``randn(...) * 0.01``,
# ``randn(...) / np.sqrt(n_prev)``), since multiplying by 1/sqrt(n) instead of dividing
# by sqrt(n) rounds differently in the last bit.
METHODS = {
    "he": lambda z, n_prev: z * np.sqrt(2 / n_prev),         # std sqrt(2 / n_prev), for ReLU layers
    "xavier": lambda z, n_prev: z * np.sqrt(1 / n_prev),     # std sqrt(1 / n_prev)
    "lecun": lambda z, n_prev: z / np.sqrt(n_prev),          # std 1 / sqrt(n_prev): the L-layer exercise
    "small": lambda z, n_prev: z * 0.01,                     # std 0.01: the 2-layer exercise
    "random_normal": lambda z, n_prev: z * 10.0,             # std 10: deliberately too large
}


# NumPy's largest array, in bytes: a weight past it (a size of 10**400) got NumPy's own error, naming
# neither initialize nor the size
_LARGEST_ARRAY = np.iinfo(np.intp).max


def _check_array_sizes(dims):
    """A ValueError naming the first W[l] whose n_l x n_{l-1} float64 entries NumPy cannot hold in one
    array (b[l], n_l x 1, is no larger)."""
    for l in range(1, len(dims)):
        if dims[l] * dims[l - 1] * 8 > _LARGEST_ARRAY:
            shown = ", ".join(map(_shown, dims))
            raise ValueError(f"initialize: layer_dims [{shown}] makes W{l} of shape ({_shown(dims[l])}, "
                             f"{_shown(dims[l - 1])}), which would hold more than NumPy's largest array "
                             f"({_LARGEST_ARRAY} bytes of float64 entries); expected smaller layer sizes")


def initialize(layer_dims, method="he", rng=None):
    """Weights and zero biases of a fully connected net.

    Args:
        layer_dims: list or tuple [n_x, n_1, ..., n_L] of at least two positive ints (any
            ordered sequence, or a 1-d integer ndarray; a set or dict is refused).
        method: how W[l] of shape (n_l, n_{l-1}) is scaled from a standard-normal draw z:
            "he" ``z * sqrt(2 / n_{l-1})``, "xavier" ``z * sqrt(1 / n_{l-1})``,
            "lecun" ``z / sqrt(n_{l-1})``, "small" ``z * 0.01``,
            "random_normal" ``z * 10``.
        rng: None (the package's default generator, see ``ag.manual_seed``), an int seed,
            a ``numpy.random.Generator`` or a ``numpy.random.RandomState`` (the legacy
            stream of ``np.random.seed``/``np.random.randn``). Weights are drawn in layer
            order with ``rng.standard_normal((n_l, n_{l-1}))``.
    Returns:
        dict {"W1": Tensor (n_1, n_x), "b1": Tensor (n_1, 1), ..., "bL": ...},
        every Tensor float64 with requires_grad=True and named after its key.
    Raises:
        ValueError: unknown method (the valid ones are listed) or bad layer_dims (a size
            that is not a positive int, or a W[l] too large for a NumPy array).
        TypeError: layer_dims not an ordered sequence (a set, a dict, a str, a generator), or
            an rng of another kind.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"initialize: unknown method {method!r}; expected one of {sorted(METHODS)}")
    # an ordered sequence only: a set or a dict iterates in an order that is not the layers'
    if isinstance(layer_dims, (str, bytes)) or not isinstance(layer_dims, (Sequence, np.ndarray)):
        raise TypeError(f"initialize: layer_dims must be a sequence of layer sizes in layer order (a list or "
                        f"tuple of positive ints such as [2, 20, 3, 1]), got {type(layer_dims).__name__} "
                        f"{layer_dims!r}")
    dims = list(layer_dims)
    if len(dims) < 2:
        raise ValueError(f"initialize: layer_dims {dims} has {len(dims)} entries; expected at least 2 "
                         "([n_x, n_1, ...]: the input size and one layer)")
    bad = [n for n in dims if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n <= 0]
    if bad:
        raise ValueError(f"initialize: layer_dims {dims} holds {bad}; every size must be a positive int")
    dims = [int(n) for n in dims]
    _check_array_sizes(dims)
    generator = as_generator(rng, "initialize")
    scale = METHODS[method]
    params = {}
    for l in range(1, len(dims)):
        W = scale(generator.standard_normal((dims[l], dims[l - 1])), dims[l - 1])
        params[f"W{l}"] = Tensor(W, requires_grad=True, name=f"W{l}")
        params[f"b{l}"] = Tensor(np.zeros((dims[l], 1)), requires_grad=True, name=f"b{l}")
    return params
