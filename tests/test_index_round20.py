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


def test_slice_bounds_of_0d_arrays_are_read_when_indexing():
    x = ag.Tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    lo, hi = np.array(0), np.array(2)
    y = x[lo:hi]
    lo += 2  # (the bounds change before backward(), as a loop's counters do)
    hi += 2
    (y * ag.Tensor([10.0, 20.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [10.0, 20.0, 0.0, 0.0, 0.0])


def test_slice_bounds_moving_one_at_a_time_in_a_loop():
    x = ag.Tensor(np.arange(5.0), requires_grad=True)
    i, total = np.array(0), 0.0
    for _ in range(3):
        total = total + x[i:i + 2].sum()  # windows [0:2], [1:3], [2:4]
        i += 1
    total.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 2.0, 1.0, 0.0])


class _Three:
    def __index__(self):
        return 3


@pytest.mark.parametrize("index, expected", [
    (_Three(), [0.0, 0.0, 0.0, 2.0, 0.0]),
    ((_Three(),), [0.0, 0.0, 0.0, 2.0, 0.0]),
    (slice(_Three(), None), [0.0, 0.0, 0.0, 2.0, 2.0]),
], ids=["object", "in a tuple", "as a slice bound"])
def test_an_index_object_with_dunder_index_is_its_int(index, expected):
    x = ag.Tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    (x[index] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, expected)
    _, tangent = ag.jvp(lambda v: (v[index] * 2).sum(), (np.arange(5.0),), (np.ones(5),))
    assert tangent == sum(expected)
