"""Assertions for tests (pytest and unittest alike)."""
from .gradcheck import compare_gradients

__all__ = ["assert_gradients_close"]


def assert_gradients_close(actual, expected, threshold=None):
    """Raise AssertionError, whose message is ``compare_gradients``' report, unless the
    relative difference of ``actual`` and ``expected`` (arrays or matching pytrees, e.g.
    autodiff's and hand-derived ``{"W1": dW1, ...}`` (keys "W1"/"dW1" pair either way),
    leaves of matching shapes) is below ``threshold`` over all leaves and for each leaf on
    its own (a leaf whose disagreement is within rounding at the scale of all of them,
    a zero gradient computed as a residue, does not count; ``compare_gradients``).

    ``threshold`` None takes ``compare_gradients``' default for the dtypes compared:
    1e-7 for float64, 1.3e-6 when either side is float32 (torch.testing's float32
    tolerance; correct float32 gradients differ by ~1e-7). A given threshold is used as is.
    Returns the comparison when it passes."""
    comparison = compare_gradients(actual, expected, threshold)
    if not comparison.passed:
        raise AssertionError(str(comparison))
    return comparison
