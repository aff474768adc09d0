"""Round 16, the engine's core.

- (adv76, finding 3) repr() and str() of a Tensor read its values, so under ag.compile they guard the
  trace as float(t), t.item() and f"{t}" do: code branching on the printed text is replayed only while
  that text would be the same (it kept the traced branch);
- (adv73, left by its fixer) a primitive of your own whose forward returns a writable array whose
  entries share memory (as_strided) gives a tensor of its own memory, as a user's array is taken:
  an in-place update wrote several entries into one place;
- (adv78, finding 1) windows over a strided view (sliding_window_view of a matrix's column) share
  memory though the bytes they span look ample: copied too, as PyTorch's has_internal_overlap tells.
Expected values by hand or by NumPy on independent entries."""
import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided, sliding_window_view

import autograd_lite as ag


@pytest.mark.parametrize("show", [repr, str])
def test_a_branch_on_the_printed_value_follows_the_value(show):
    W = ag.Tensor(np.array([0.5, -0.2]), requires_grad=True)

    def cost(x):
        h = W * x
        return (h * 2).sum() if "-" not in show(h.sum()) else (h * h).sum()

    step = ag.compile(cost)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (a guard that changes may re-trace, warning once)
        for x, expected in [([1.0, 1.0], 2 * (0.5 - 0.2)), ([-1.0, 1.0], 0.25 + 0.04), ([1.0, 1.0], 0.6),
                            ([-1.0, 1.0], 0.29), ([2.0, 1.0], 2 * (1.0 - 0.2))]:
            assert float(step(ag.Tensor(np.array(x)))) == pytest.approx(expected, rel=1e-15)


def test_a_custom_forward_returning_overlapping_entries_gives_a_tensor_of_its_own_memory():
    @ag.primitive
    def tile3(x):
        buf = np.array(x, copy=True)
        return as_strided(buf, shape=(3,) + buf.shape, strides=(0,) + buf.strides)  # 3 rows, one memory
    tile3.defvjp(lambda g, out, x: g.sum(axis=0))
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = tile3(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    z = y.detach()
    z -= np.eye(3, 2)
    np.testing.assert_array_equal(z.data, [[0.0, 2.0], [1.0, 1.0], [1.0, 2.0]])


V = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def _column_windows():
    A = np.arange(12.0).reshape(4, 3)
    return A, sliding_window_view(A[:, 0], 2, writeable=True)  # (3, 2), strides (24, 24): rows overlap


@pytest.mark.parametrize("take", ["as_tensor", "data", "primitive"])
def test_windows_over_a_matrix_column_get_memory_of_their_own(take):
    A, windows = _column_windows()
    old = np.array(windows)
    if take == "as_tensor":
        t = ag.as_tensor(windows)
    elif take == "data":
        t = ag.Tensor(np.zeros((3, 2)))
        t.data = windows
    else:
        t = ag.primitive(lambda x: sliding_window_view(np.array(x)[:, 0], 2, writeable=True))(A)  # (its own copy)
    assert not np.shares_memory(t.data, A)
    t -= V
    np.testing.assert_array_equal(t.data, old - V)  # NumPy's math on independent entries
    np.testing.assert_array_equal(A[:, 0], [0.0, 3.0, 6.0, 9.0])  # the user's array untouched


def test_an_optimizer_step_on_column_windows_leaves_the_users_array():
    A, windows = _column_windows()
    t = ag.as_tensor(windows)
    old = np.array(t.data)
    t.requires_grad = True
    (t * ag.Tensor(V)).sum().backward()  # gradient V
    ag.optim.GradientDescent([t], lr=1.0).step()
    np.testing.assert_array_equal(t.data, old - V)
    np.testing.assert_array_equal(A[:, 0], [0.0, 3.0, 6.0, 9.0])


def test_plain_views_are_still_shared():
    A = np.arange(12.0).reshape(4, 3)
    for view in (A, A.T, A[:, ::2], A[::2], A[1:, 1:]):
        assert np.shares_memory(ag.as_tensor(view).data, A)
