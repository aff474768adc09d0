"""Round 17, tester 88 (do the docs' claims hold?): findings 1, 2 and 6.

1. docs/math.md: a NaN input is not blocked by the gradient-selecting rules, "as in PyTorch". The
   max / min reductions gave NaN at every entry (a tie count of 0); PyTorch's max() gives the gradient
   to the NaN entries of the slice, shared among them (evenly_distribute_backward).
2. ag.save wrote an int beyond 2**53 that ag.load then refused: save now refuses it first.
6. float / int / format of a one-element tensor that is not 0-d: NumPy's bare message, now one naming
   the conversion, the shape and t.item().
Expected values are written by hand from PyTorch's documented rule (or the math); PyTorch itself is
the optional oracle of tests/oracles.py.
"""
import os
import warnings
import zipfile

import numpy as np
import pytest

import autograd_lite as ag
from oracles import torch

NAN = np.nan


def _grad_of(reduction, x, **kwargs):
    """The gradient of sum(reduction(x, **kwargs)) at x, failing on any warning (0/0 warned before)."""
    t = ag.Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ag.sum(reduction(t, **kwargs)).backward()
    return t.grad


# --- 1: max / min at a NaN ------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", [ag.max, ag.min])
@pytest.mark.parametrize("x,expected", [
    ([1.0, NAN, 3.0], [0.0, 1.0, 0.0]),  # the NaN is the result: it takes the gradient
    ([NAN, 1.0, NAN], [0.5, 0.0, 0.5]),  # two NaNs share it, as ties do
    ([NAN, NAN, NAN], [1 / 3, 1 / 3, 1 / 3]),
    ([NAN, -np.inf, np.inf], [1.0, 0.0, 0.0]),
])
def test_max_min_of_a_slice_with_nan_pass_the_gradient_to_its_nans(reduction, x, expected):
    np.testing.assert_array_equal(_grad_of(reduction, x), expected)


@pytest.mark.parametrize("reduction,expected", [(ag.max, [0.5, 0.0, 0.5]), (ag.min, [0.0, 1.0, 0.0])])
def test_max_min_ties_without_nan_still_share(reduction, expected):
    np.testing.assert_array_equal(_grad_of(reduction, [3.0, 1.0, 3.0]), expected)


M = [[1.0, NAN, 3.0], [NAN, 2.0, NAN], [4.0, 4.0, 1.0]]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [1, -1, (1,)])
def test_max_along_an_axis_passes_each_rows_gradient_to_its_nans(axis, keepdims):
    # row 0: its NaN; row 1: its two NaNs share; row 2: the tie of 4s shares
    expected = [[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]
    np.testing.assert_array_equal(_grad_of(ag.max, M, axis=axis, keepdims=keepdims), expected)


def test_min_along_axis_0_and_over_all_axes_with_nans():
    np.testing.assert_array_equal(_grad_of(ag.min, M, axis=0), [[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    third = 1 / 3  # over everything: the three NaNs of M share
    np.testing.assert_array_equal(_grad_of(ag.min, M, axis=(0, 1)), [[0, third, 0], [third, 0, third], [0, 0, 0]])


def test_max_method_and_numpy_spellings_follow_the_same_rule():
    for spell in (lambda t: t.max(1), lambda t: np.amax(t, axis=1), lambda t: np.maximum.reduce(t, axis=1)):
        np.testing.assert_array_equal(_grad_of(spell, M), [[0, 1, 0], [0.5, 0, 0.5], [0.5, 0.5, 0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_max_at_nan_keeps_the_dtype(dtype):
    t = ag.Tensor(np.array([1.0, NAN, 3.0], dtype=dtype), requires_grad=True)
    ag.max(t).backward()
    assert t.grad.dtype == dtype
    np.testing.assert_array_equal(t.grad, [0.0, 1.0, 0.0])


def test_max_jvp_at_nan_is_the_nan_entries_tangent_as_the_vjp_says():
    # one rule for both modes: d max = the mean of the NaN entries' tangents (PyTorch's forward mode
    # gives NaN here, its reverse mode [0, 1, 0]; autograd_lite keeps jvp and vjp consistent)
    tangent = np.array([10.0, 20.0, 30.0])
    _, dy = ag.jvp(ag.max, (np.array([1.0, NAN, 3.0]),), (tangent,))
    assert float(dy) == 20.0
    _, dy = ag.jvp(ag.min, (np.array([NAN, 1.0, NAN]),), (tangent,))
    assert float(dy) == 20.0  # (10 + 30) / 2
    _, dy = ag.jvp(lambda x: ag.max(x, 1), (np.array(M),), (np.arange(9.0).reshape(3, 3),))
    np.testing.assert_array_equal(dy, [1.0, 4.0, 6.5])


def test_max_at_nan_second_order_under_create_graph():
    # f = max(x * c) at x = [1, nan, 3], c = [2, 5, 7]: df/dx = [0, c1, 0], so d(sum df/dx)/dc = [0, 1, 0]
    x, c = np.array([1.0, NAN, 3.0]), np.array([2.0, 5.0, 7.0])

    def df_dx(c):
        return ag.grad(lambda x: ag.max(x * c))(x)

    np.testing.assert_array_equal(df_dx(c), [0.0, 5.0, 0.0])
    np.testing.assert_array_equal(ag.grad(lambda c: ag.sum(df_dx(c)))(c), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_at_nan_against_pytorch(name):
    rng = np.random.default_rng(17)
    for _ in range(20):
        x = rng.normal(size=6)
        x[rng.random(6) < 0.4] = NAN
        x[rng.integers(6)] = NAN if rng.random() < 0.5 else x[0]  # a NaN or a tie
        xt = torch.tensor(x, requires_grad=True)
        getattr(torch, name)(xt).backward()  # the full reduction: ties and NaNs share evenly
        np.testing.assert_allclose(_grad_of(getattr(ag, name), x), xt.grad.numpy(), rtol=1e-15)


def test_max_along_axis_with_one_nan_per_row_against_pytorch():
    # torch.max(x, dim) sends each row's gradient to one index: with one NaN per row and no ties it is ours
    x = np.array([[1.0, NAN, 3.0], [NAN, 2.0, 0.0], [4.0, -1.0, NAN]])
    xt = torch.tensor(x, requires_grad=True)
    torch.max(xt, 1).values.sum().backward()
    np.testing.assert_array_equal(_grad_of(ag.max, x, axis=1), xt.grad.numpy())


# --- 2: save refuses what load refuses ------------------------------------------------------------
@pytest.mark.parametrize("value", [np.array([2**53 + 1]), np.array([[0, -(2**53) - 1]]),
                                   np.array([2**64 - 1], dtype=np.uint64)])
def test_save_refuses_an_int_float64_would_round_before_writing(tmp_path, value):
    path = tmp_path / "ckpt.npz"
    good = {"W": np.ones((2, 2)), "step": np.array([7])}
    ag.save(good, path)
    before = path.read_bytes()
    inexact = next(v for v in value.ravel().tolist() if abs(v) > 2**53)
    with pytest.raises(ValueError) as info:
        ag.save({"W": np.zeros((2, 2)), "step": value}, path)
    message = str(info.value)
    assert message.startswith("save: parameter 'step' holds the integer ")
    assert str(inexact) in message and "cannot hold exactly" in message and "nothing was written" in message
    assert path.read_bytes() == before  # the good checkpoint is untouched
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # and no temporary is left
    np.testing.assert_array_equal(ag.load(path)["step"].data, [7.0])


def test_save_writes_no_file_for_an_inexact_int(tmp_path):
    with pytest.raises(ValueError, match="9007199254740993"):
        ag.save({"step": np.array([2**53 + 1])}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("big", [2**53, -(2**53), 2**60])
def test_save_keeps_ints_float64_holds_exactly(tmp_path, big):
    path = tmp_path / "ok.npz"
    ag.save({"step": np.array([big])}, path)
    assert ag.load(path)["step"].data[0] == float(big) == big


def test_load_still_refuses_an_inexact_int_in_a_file_with_a_manifest(tmp_path):
    # a file an earlier save wrote (the archive writer itself, past save's new check)
    from autograd_lite import serialization
    path = tmp_path / "old.npz"
    with open(path, "wb") as file:
        serialization._write_archive(file, {"seed": np.array([2**64 - 1], dtype=np.uint64)})
    with np.load(path) as npz:  # the file holds the integer exactly
        assert int(npz["seed"][0]) == 2**64 - 1
    with pytest.raises(ValueError, match=r"old\.npz'?: parameter 'seed' holds the integer 18446744073709551615, "
                                         "which float64"):
        ag.load(path)


def test_load_still_refuses_an_inexact_int_written_by_numpy(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, step=np.array([2**53 + 1]))
    assert zipfile.is_zipfile(path)
    with pytest.raises(ValueError) as info:
        ag.load(path, require_manifest=False)
    assert str(info.value) == (f"load: {os.fspath(path)!r}: parameter 'step' holds the integer 9007199254740993, "
                               "which float64, a Tensor's dtype, cannot hold exactly; read such a file with np.load")


# --- 6: float / int / format of a one-element tensor that is not 0-d -----------------------------
@pytest.mark.parametrize("shape,index", [((1, 1), "t[0, 0]"), ((1,), "t[0]"), ((1, 1, 1), "t[0, 0, 0]")])
@pytest.mark.parametrize("label,convert", [("float()", float), ("int()", int),
                                           ("format(t, '.4f')", lambda t: f"{t:.4f}")])
def test_one_element_tensor_not_0d_conversion_names_shape_and_item(shape, index, label, convert):
    t = ag.Tensor(np.full(shape, 0.693))
    with pytest.raises(TypeError):
        convert(np.full(shape, 0.693))  # NumPy (>= 2.4, the project's floor) refuses this shape too
    with pytest.raises(TypeError) as info:
        convert(t)
    message = str(info.value)
    assert message.startswith(f"{label}: tensor of shape {shape} is not 0-d")
    assert "t.item()" in message and index in message and "t.squeeze()" in message


def test_conversions_that_numpy_allows_still_work():
    J = ag.Tensor([[0.693]])
    assert f"{J}" == str(np.array([[0.693]])) and J.item() == 0.693
    assert float(J.squeeze()) == 0.693 and int(J[0, 0]) == 0 and f"{J[0, 0]:.2f}" == "0.69"


def test_conversion_of_more_elements_keeps_its_message():
    t = ag.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"^float\(\): tensor of shape \(3,\) has 3 elements; expected one"):
        float(t)
    with pytest.raises(TypeError, match=r"^format\(t, '\.4f'\): tensor of shape \(3,\) has 3 elements"):
        f"{t:.4f}"
