"""Review round 11 (adversarial round 17): custom primitives' outputs and JVPs, NumPy scalars beside
float32 tensors, and the errors of bad indices and axes. Oracles: PyTorch, hand-derived values."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _step(dtype):
    """A straight-through step: forward (x > 0) as ``dtype``, VJP and JVP pass the gradient through."""
    step = ag.primitive(lambda x: (x > 0).astype(dtype), name=f"step_{np.dtype(dtype).name}")
    step.defvjp(lambda g, out, x: g)
    step.defjvp(lambda t, out, x: t)
    return step


# --- finding 1: a forward returning ints or bools -------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_dtype", [np.int64, np.int8, np.uint8, bool])
def test_int_or_bool_forward_takes_the_inputs_float_dtype(dtype, out_dtype):
    x = ag.Tensor(np.array([-1.0, 0.5, 2.0], dtype), requires_grad=True)
    y = _step(out_dtype)(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.data, [0, 1, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_dtype", [np.int64, bool])
def test_straight_through_gradients_are_not_truncated(dtype, out_dtype):
    # hand values: under the STE rule d/dx sum(c * step(x)) = c everywhere
    step = _step(out_dtype)
    x0 = np.array([-1.0, 0.5, 2.0], dtype)
    x = ag.Tensor(x0, requires_grad=True)
    (step(x) * 0.3).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad, [0.3] * 3, rtol=1e-6)
    g = ag.grad(lambda t: ag.sum(step(t) * -0.3))(x0)
    np.testing.assert_allclose(g, [-0.3] * 3, rtol=1e-6)
    _, tangent = ag.jvp(lambda t: step(t) * 0.3, (x0,), (np.ones(3, dtype),))
    assert tangent.dtype == dtype
    np.testing.assert_allclose(tangent, [0.3] * 3, rtol=1e-6)


def test_straight_through_matches_torch():
    torch = pytest.importorskip("torch")

    class Step(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            return g

    x0 = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    w0 = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    xt = torch.tensor(x0, requires_grad=True)
    (Step.apply(xt) * torch.tensor(w0)).square().sum().backward()
    x = ag.Tensor(x0, requires_grad=True)
    (_step(bool)(x) * w0).square().sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6)


def test_int_forward_with_inputs_of_two_float_dtypes_promotes_as_numpy():
    both = ag.primitive(lambda a, b: (a > b).astype(np.int32), name="greater_int")
    a = ag.Tensor(np.ones(2, np.float32))
    b = ag.Tensor(np.zeros(2, np.float64))
    assert both(a, b).dtype == np.float64  # np.result_type(float32, float64)
    assert both(a, a).dtype == np.float32


def test_python_int_and_float_results_of_a_forward():
    count = ag.primitive(lambda x: 3, name="count")
    assert count(ag.Tensor(np.ones(2, np.float32))).dtype == np.float32
    assert count(ag.Tensor(np.ones(2))).item() == 3.0
    half = ag.primitive(lambda x: np.float32(0.5), name="half")
    out = half(ag.Tensor(np.ones(2)))
    assert out.shape == () and out.dtype == np.float32  # a float keeps its precision


@pytest.mark.parametrize("result, dtype", [(lambda x: x + 1j, "complex128"),
                                           (lambda x: np.array(["a", "b"]), "<U1"),
                                           (lambda x: np.array([object(), None]), "object")])
def test_complex_string_or_object_forward_is_refused_naming_the_op(result, dtype):
    bad = ag.primitive(result, name="badforward")
    with pytest.raises(TypeError, match="badforward") as e:
        bad(ag.Tensor(np.ones(2), requires_grad=True))
    assert dtype in str(e.value) and "expected" in str(e.value)


def test_builtin_ops_still_return_their_input_dtype():
    x = ag.Tensor(np.array([[1.5, -2.0], [0.0, 3.0]], np.float32), requires_grad=True)
    for y in (ag.relu(x), ag.abs(x), x[x.data > 0], ag.where(x.data > 0, x, 0), ag.max(x, axis=0),
              ag.dropout(x, 0.5, rng=0), ag.clip(x, -1, 1)):
        assert y.dtype == np.float32


# --- finding 2: NumPy scalars beside a float32 tensor ------------------------------------------
_SCALARS = [np.float64(2.5), np.sqrt(2.0), np.float32(1.5), np.float16(0.5), np.int64(3), np.int8(-2),
            np.bool_(True), np.mean(np.arange(4.0))]
_BINARY = [("mul", lambda a, s: a * s), ("rmul", lambda a, s: s * a), ("div", lambda a, s: a / s),
           ("rsub", lambda a, s: s - a), ("add", lambda a, s: a + s)]


@pytest.mark.parametrize("scalar", _SCALARS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("name, f", _BINARY, ids=[n for n, _ in _BINARY])
def test_numpy_scalar_takes_the_tensors_dtype_as_torch(scalar, name, f):
    torch = pytest.importorskip("torch")
    x0 = np.array([1.0, -2.0, 3.5], np.float32)
    xt = torch.tensor(x0, requires_grad=True)
    yt = f(xt, scalar)
    x = ag.Tensor(x0, requires_grad=True)
    y = f(x, scalar)
    assert str(yt.dtype) == "torch.float32" and y.dtype == np.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-6)
    (yt * yt).sum().backward()
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-5)


def test_numpy_scalars_in_where_maximum_and_power_keep_float32_as_torch():
    torch = pytest.importorskip("torch")
    x0 = np.array([1.0, -2.0, 3.5], np.float32)
    t = torch.tensor(x0)
    x = ag.Tensor(x0)
    pairs = [(ag.where(x0 > 0, x, np.float64(0)), torch.where(t > 0, t, np.float64(0))),
             (ag.maximum(x, np.float64(0)), torch.maximum(t, torch.as_tensor(np.float64(0)))),
             (x ** np.float64(2), t ** np.float64(2)),
             (np.multiply(x, np.float64(2)), t * np.float64(2))]
    for ours, theirs in pairs:
        assert theirs.dtype == torch.float32 and ours.dtype == np.float32
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch wraps NumPy's result for an ndarray
def test_scalars_with_a_float64_tensor_and_arrays_keep_numpys_promotion_as_torch():
    torch = pytest.importorskip("torch")
    t32, t64 = torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64)
    x32, x64 = ag.Tensor(np.ones(2, np.float32)), ag.Tensor(np.ones(2))
    assert (t64 * np.float32(2)).dtype == torch.float64 and (x64 * np.float32(2)).dtype == np.float64
    # arrays, 0-d ones too, carry their dtype: torch's operator gives NumPy's float64 for them
    for array in (np.array(2.0), np.array([2.0, 3.0])):
        assert (t32 * array).dtype == torch.float64 and (x32 * array).dtype == np.float64


def test_complex_numpy_scalar_is_refused():
    with pytest.raises(TypeError, match="complex"):
        ag.Tensor(np.ones(2, np.float32)) * np.complex128(1 + 1j)


# --- finding 3: custom JVPs checked as VJPs are ---------------------------------------------------
def test_jvp_of_the_wrong_shape_is_refused_naming_op_input_and_shapes():
    cube = ag.primitive(lambda x: x ** 3, name="cube")
    cube.defvjp(lambda g, out, x: np.sum(g * 3 * x ** 2))
    cube.defjvp(lambda t, out, x: np.sum(t * 3 * x ** 2))
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ag.ShapeError, match="cube"):
        ag.grad(lambda a: ag.sum(cube(a)))(x)
    with pytest.raises(ag.ShapeError) as e:
        ag.jvp(cube, (x,), (np.ones(3),))
    assert all(s in str(e.value) for s in ("cube", "input 0", "()", "(3,)"))


def test_jvp_larger_than_the_output_is_refused():
    total = ag.primitive(lambda x: np.sum(x), name="total")
    total.defjvp(lambda t, out, x: t)  # forgot to sum
    with pytest.raises(ag.ShapeError, match=r"total.*\(3,\)"):
        ag.jvp(total, (np.ones(3),), (np.ones(3),))


def test_complex_jvp_is_refused_naming_the_op():
    ccube = ag.primitive(lambda x: x ** 3, name="ccube")
    ccube.defjvp(lambda t, out, x: t * 3 * x ** 2 + 1j)
    with pytest.raises(TypeError, match="ccube.*complex128"):
        ag.jvp(ccube, (np.array([1.0, 2.0, 3.0]),), (np.ones(3),))


def test_broadcast_tangents_of_builtin_and_custom_ops_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 1)), rng.standard_normal((3, 4))
    ta, tb = rng.standard_normal((3, 1)), rng.standard_normal((3, 4))
    scale = ag.primitive(lambda x, y: x * y, name="scale")
    scale.defjvp(lambda t, out, x, y: t * y, lambda t, out, x, y: t * x)

    def ours(x, y):
        return ag.where(x.data > 0, x, y) + scale(x, y) - x / (1 + y * y)

    def theirs(x, y):
        return torch.where(x > 0, x, y) + x * y - x / (1 + y * y)

    _, tangent = ag.jvp(ours, (a, b), (ta, tb))
    _, expected = torch.func.jvp(theirs, (torch.tensor(a), torch.tensor(b)), (torch.tensor(ta), torch.tensor(tb)))
    np.testing.assert_allclose(tangent, expected.numpy(), rtol=1e-12)
    # only the (3, 1) input carries a tangent: its contributions broadcast to (3, 4)
    _, tangent = ag.jvp(lambda x: ag.add(x, b) * scale(x, b), (a,), (ta,))
    _, expected = torch.func.jvp(lambda x: (x + torch.tensor(b)) * (x * torch.tensor(b)), (torch.tensor(a),),
                                 (torch.tensor(ta),))
    np.testing.assert_allclose(tangent, expected.numpy(), rtol=1e-12)


def test_float32_jvp_stays_float32():
    x0 = np.array([1.0, 2.0], np.float32)
    _, tangent = ag.jvp(lambda x: ag.exp(x) * 2.0, (x0,), (np.ones(2, np.float32),))
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, 2 * np.exp(x0), rtol=1e-6)


# --- finding 4: errors of indices and axes --------------------------------------------------------
def test_float_index_array_error_names_the_dtype():
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError) as e:
        x[np.array([0.5])]
    expected = str(e.value).split("; expected")[-1]
    assert "getitem" in str(e.value) and "(2, 3)" in str(e.value)
    assert "integer or boolean" in expected and "float64" in expected and "at most" not in expected


def test_boolean_mask_of_the_wrong_length_names_the_length_wanted():
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError) as e:
        x[np.array([True, False, True])]
    assert "(2, 3)" in str(e.value) and "mask of length 2 along axis 0" in str(e.value).split("; expected")[-1]
    with pytest.raises(IndexError) as e:
        x[:, np.array([True, False])]
    assert "mask of length 3 along axis 1" in str(e.value).split("; expected")[-1]


def test_other_index_errors_keep_their_hints():
    x = ag.Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match=r"expected integers in \[-3, 2\] along axis 1"):
        x[0, 5]
    with pytest.raises(IndexError, match="expected at most 2 indices"):
        x[0, 0, 0]


@pytest.mark.parametrize("call", [lambda x: ag.sum(x, axis=1.0), lambda x: ag.mean(x, 1.0),
                                  lambda x: x.sum(axis=(0, 1.0)), lambda x: ag.max(x, axis="1"),
                                  lambda x: ag.softmax(x, axis=1.0), lambda x: ag.logsumexp(x, 1.0)],
                         ids=["sum", "mean", "sum-tuple", "max", "softmax", "logsumexp"])
def test_non_integer_axis_names_the_op_the_shape_and_the_valid_axes(call):
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError) as e:
        call(x)
    message = str(e.value)
    assert "(2, 3)" in message and "axis=" in message and "[-2, 1]" in message
    assert message.split(":")[0] in ("sum", "mean", "max", "softmax", "logsumexp")


def test_a_typeerror_inside_a_custom_forward_passes_as_it_is():
    def forward(x):
        return len(3)  # a bug: the user's own TypeError and traceback

    buggy = ag.primitive(forward, name="buggy")
    with pytest.raises(TypeError, match="has no len"):
        buggy(ag.Tensor(np.ones(2)))


# --- numbers in comparisons and in-place updates, ddof without degrees of freedom, NaN at kinks ---
@pytest.mark.parametrize("number", [np.float64(0.1), np.array(0.1), 0.1])
def test_a_comparison_with_a_number_uses_the_tensors_dtype_in_both_orders_as_torch(number):
    """x32 > s in float32, as x32 - s is (0.1f > 0.1 is true in float64, false in float32)."""
    torch = pytest.importorskip("torch")
    values = np.array([0.1, 0.2, 0.05], np.float32)
    x, t = ag.Tensor(values), torch.tensor(values)
    s = float(number)
    cases = {"x > s": (x > number, t > s), "s < x": (number < x, s < t), "x == s": (x == number, t == s),
             "s >= x": (number >= x, s >= t), "x <= s": (x <= number, t <= s)}
    for name, (ours, theirs) in cases.items():
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy(), err_msg=name)
    if np.ndim(number) == 0 and not isinstance(number, np.ndarray):  # (a 0-d array subtracts in its own dtype)
        np.testing.assert_array_equal(np.asarray(x > number), np.asarray((x - number).data > 0))


def test_an_in_place_update_by_a_numpy_scalar_is_computed_in_the_tensors_dtype_as_torch():
    torch = pytest.importorskip("torch")
    values = np.array([0.1, 0.3], np.float32)
    x, t = ag.Tensor(values), torch.tensor(values)
    with ag.no_grad():
        x -= np.float64(0.1)
        x *= np.float64(3.0)
    t -= 0.1
    t *= 3.0
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.data, t.numpy())


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("shape, ddof", [((1, 3), 1), ((2, 3), 2), ((2, 3), 3)])
def test_var_and_std_without_degrees_of_freedom_follow_numpy_and_torch(name, shape, ddof):
    """ddof >= N: NumPy's nan or inf (with its warning), not an error; where N - ddof is 0 the
    gradient is PyTorch's (nan, or +-inf from 2 (x - mean) / 0)."""
    torch = pytest.importorskip("torch")
    values = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape) ** 2
    x = ag.Tensor(values, requires_grad=True)
    with pytest.warns(RuntimeWarning):
        out = getattr(ag, name)(x, axis=0, ddof=ddof)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(out.data, getattr(np, name)(values, axis=0, ddof=ddof))
        ag.sum(out).backward()
    if shape[0] - ddof == 0:
        t = torch.tensor(values, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(torch, name)(t, dim=0, correction=ddof).sum().backward()
        np.testing.assert_array_equal(x.grad, t.grad.numpy())


@pytest.mark.parametrize("op", ["relu", "maximum", "minimum"])
def test_a_nan_input_passes_the_gradient_at_kinks_as_torch(op):
    """relu(NaN), maximum(NaN, y): PyTorch's masks (x <= 0, x < y) are false at NaN, so g passes."""
    torch = pytest.importorskip("torch")
    a, b = np.array([np.nan, 2.0, -1.0, 0.0]), np.array([0.0, np.nan, 3.0, 0.0])
    x, y = ag.Tensor(a, requires_grad=True), ag.Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    if op == "relu":
        ag.sum(ag.relu(x)).backward()
        torch.relu(tx).sum().backward()
        np.testing.assert_array_equal(x.grad, tx.grad.numpy())
        return
    ag.sum(getattr(ag, op)(x, y)).backward()
    getattr(torch, op)(tx, ty).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(y.grad, ty.grad.numpy())
