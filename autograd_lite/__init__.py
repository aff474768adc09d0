"""autograd_lite: a small tape-based automatic differentiation engine over NumPy.

Write a cost once as an expression of Tensors; ``cost.backward()`` fills every
``.grad``. See README.md for the public surface.
"""
from .tensor import Tensor, as_tensor
from .errors import AnomalyError, DomainError, GraphError, InplaceModificationError, ShapeError
from .primitive import Primitive, primitive
from .modes import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, scope,
                    set_grad_enabled)
from .ops import (abs, add, broadcast_to, clip, concatenate, cos, divide, exp, expand_dims, expm1, leaky_relu,
                  linear, log, log1p, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, multiply,
                  negative, power, relu, reshape, sigmoid, sin, softmax, softplus, sqrt, square, squeeze, stack,
                  std, subtract, sum, tanh, transpose, var, where)
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, dropout,
                         l2_penalty, manual_seed)
from . import numpy_api  # noqa: F401  (np.sum(t), np.exp(t), ... and the Tensor methods)
from .transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .gradcheck import (GradcheckResult, GradientComparison, compare_gradients, gradcheck, gradgradcheck,
                        numerical_gradient)
from . import pytree, testing  # noqa: F401
# Bound eagerly (it is light): a lazy name would be shadowed by the submodule of the
# same name as soon as anything imports autograd_lite.formula.
from .formula import formula

__version__ = "0.1.0"

# Heavier parts load on first use, so `import autograd_lite` never imports
# matplotlib or graphviz: name -> (module, attribute or None for the module itself).
_LAZY = {
    "optim": ("optim", None),
    "init": ("init", None),
    "to_dot": ("viz", "to_dot"),
    "draw": ("viz", "draw"),
    "save": ("serialization", "save"),
    "load": ("serialization", "load"),
    "compile": ("replay", "compile"),
}


# The public names: the functions and classes above, the public submodules and the lazy ones (not the
# engine's own modules, which the imports above also bind here)
__all__ = sorted([name for name, value in globals().items() if not name.startswith("_") and (
    type(value) is not type(pytree) or name in ("pytree", "testing"))] + list(_LAZY))


def __dir__():  # (the lazy names too: dir(ag) and help() list what ag.<name> gives)
    return sorted(set(__all__) | {"__version__"})


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'autograd_lite' has no attribute {name!r}")
    import importlib
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    return module if attribute is None else getattr(module, attribute)
