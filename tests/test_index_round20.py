"""getitem, round 20: an index of any array-like kind (not only ndarray or list) is copied into the node, so
reusing its buffer before backward() changes nothing (the gradient by hand: the picked entries' weights)."""
import array

import numpy as np
import pytest

import autograd_lite as ag


class _ArrayLike:
    """An index NumPy reads through ``__array__``, whose buffer the caller keeps."""

    def __init__(self, values):
        self.values = np.array(values)

    def __array__(self, dtype=None, copy=None):
        return self.values


@pytest.mark.parametrize("make, reuse", [
    (lambda: array.array("q", [0, 1]), lambda idx: idx.__setitem__(slice(None), array.array("q", [3, 3]))),
    (lambda: memoryview(np.array([0, 1])), lambda idx: np.asarray(idx).__setitem__(slice(None), 3)),
    (lambda: _ArrayLike([0, 1]), lambda idx: idx.values.__setitem__(slice(None), 3)),
    (lambda: _ArrayLike([True, True, False, False]), lambda idx: idx.values.__setitem__(slice(None), [0, 0, 1, 1])),
], ids=["array.array", "memoryview", "__array__", "__array__ mask"])
def test_an_index_buffer_reused_before_backward_changes_nothing(make, reuse):
    t = ag.Tensor(np.arange(4.0), requires_grad=True)
    idx = make()
    out = t[idx]
    np.testing.assert_array_equal(out.data, [0.0, 1.0])
    reuse(idx)
    (out * np.array([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(t.grad, [1.0, 10.0, 0.0, 0.0])
