"""Exception types raised by autograd_lite.

Each subclasses the built-in exception a user would catch anyway
(``ValueError`` for bad values and shapes, ``TypeError`` for bad types,
``RuntimeError`` for misuse of the graph), so ``except ValueError`` keeps
working while tests and callers can be precise.
"""


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation (both shapes are named)."""


class GraphError(RuntimeError):
    """Misuse of the recorded graph: freed graph, nothing to differentiate, bad seed."""


class InplaceModificationError(RuntimeError):
    """A tensor saved for backward was modified in place after it was recorded."""


class AnomalyError(FloatingPointError):
    """Anomaly mode found a NaN or inf in an op's output or gradient."""


class DomainError(ValueError):
    """An input value the op does not accept (labels other than 0/1, probabilities
    outside [0, 1], a mask holding other values than 0 and 1, ...)."""
