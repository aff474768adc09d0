"""Assertions for tests (pytest and unittest alike)."""
from .gradcheck import compare_gradients

__all__ = ["assert_gradients_close"]


def assert_gradients_close(actual, expected, threshold=1e-7):
    """Raise AssertionError, whose message is ``compare_gradients``' report, unless the
    relative difference of ``actual`` and ``expected`` (arrays or matching pytrees, e.g.
    autodiff's and hand-derived ``{"W1": dW1, ...}``) is below ``threshold``.
    Returns the comparison when it passes."""
    comparison = compare_gradients(actual, expected, threshold)
    if not comparison.passed:
        raise AssertionError(str(comparison))
    return comparison
