"""autograd_lite: a small tape-based automatic differentiation engine over NumPy.

Write a cost once as an expression of Tensors; ``cost.backward()`` fills every
``.grad``. See README.md and shared/spec/API.md for the public surface.
"""
from .tensor import Tensor, as_tensor  # first: the other modules build on it
from .errors import AnomalyError, GraphError, InplaceModificationError, ShapeError
from .primitive import Primitive, primitive
from .tape import detect_anomaly, enable_grad, is_grad_enabled, no_grad, scope
from .ops import (abs, add, broadcast_to, concatenate, divide, exp, log, matmul, max, maximum, mean,
                  minimum, multiply, negative, power, relu, reshape, sigmoid, sqrt, square, stack,
                  subtract, sum, tanh, transpose, where)
from .functional import binary_cross_entropy, dropout, l2_penalty, manual_seed
from .transforms import grad, hvp, value_and_grad
from .gradcheck import GradcheckResult, gradcheck, numerical_gradient

__version__ = "0.1.0"
