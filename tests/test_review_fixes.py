"""Review fixes: nested transforms over a closed-over outer variable, NumPy's functions
bound by their own signatures, value reads that guard ag.compile, save's missing folder.

Expected values come from HIPS autograd, NumPy on plain arrays, PyTorch, central
differences or hand derivations, never from autograd_lite itself."""
import os

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import autograd_lite as ag

RNG = np.random.default_rng(20261129)
X = RNG.uniform(0.5, 2.0, size=3)
V = RNG.normal(size=3)


# --- 1. nested transforms: the inner variable is a new node, the closure keeps the outer one ---
def _closure_second(grad, total):
    # inner grad = 2 x y; at y = x: 2 x^2; d/dx of its sum: 4 x (aliasing y with x gave 6 x)
    return grad(lambda x: total(grad(lambda y: total(x * y ** 2))(x)))


def _closure_third(grad, total):
    return grad(lambda x: total(grad(lambda y: total(grad(lambda z: total(x * y * z ** 3))(y * x)))(x)))


def _closure_value_and_grad(value_and_grad, total):
    def outer(x):
        value, g = value_and_grad(lambda y: total(x ** 2 * y ** 3))(x)
        return value + total(g * x)
    return outer


@pytest.mark.parametrize("build", [_closure_second, _closure_third])
def test_nested_grad_over_a_closed_over_variable_matches_hips_autograd(build):
    expected = build(autograd.grad, anp.sum)(X)
    np.testing.assert_allclose(build(ag.grad, ag.sum)(X), expected, rtol=1e-12)
    np.testing.assert_allclose(_closure_second(ag.grad, ag.sum)(np.array([3.0])), [12.0], rtol=1e-14)


def test_nested_value_and_grad_over_a_closed_over_variable_matches_hips_autograd():
    def hips(x):
        inner = lambda y: anp.sum(x ** 2 * y ** 3)
        return inner(x) + anp.sum(autograd.grad(inner)(x) * x)
    ours = ag.grad(_closure_value_and_grad(ag.value_and_grad, ag.sum))(X)
    np.testing.assert_allclose(ours, autograd.grad(hips)(X), rtol=1e-12)


def test_nested_jacobian_hessian_and_hvp_over_a_closed_over_variable_match_hips_autograd():
    ours_jac = lambda x: ag.sum(ag.jacobian(lambda y: x * ag.sin(y))(x))
    hips_jac = lambda x: anp.sum(autograd.jacobian(lambda y: x * anp.sin(y))(x))
    np.testing.assert_allclose(ag.grad(ours_jac)(X), autograd.grad(hips_jac)(X), rtol=1e-12)
    ours_hess = lambda x: ag.sum(ag.hessian(lambda y: ag.sum(x * y ** 3))(x))
    hips_hess = lambda x: anp.sum(autograd.hessian(lambda y: anp.sum(x * y ** 3))(x))
    np.testing.assert_allclose(ag.grad(ours_hess)(X), autograd.grad(hips_hess)(X), rtol=1e-12)
    ours_hvp = lambda x: ag.sum(ag.hvp(lambda y: ag.sum(x * y ** 3))(x, V))
    hips_hvp = lambda x: anp.sum(autograd.hessian_vector_product(lambda y: anp.sum(x * y ** 3))(x, V))
    np.testing.assert_allclose(ag.grad(ours_hvp)(X), autograd.grad(hips_hvp)(X), rtol=1e-12)


def test_nested_grad_of_one_outer_tensor_passed_as_two_arguments_keeps_them_apart():
    # d/db of a b^2 = 2 a b; at a = b = x: 2 x^2, d/dx of its sum 4 x (one shared node gave 6 x)
    ours = ag.grad(lambda x: ag.sum(ag.grad(lambda a, b: ag.sum(a * b ** 2), argnums=(0, 1))(x, x)[1]))(X)
    hips = autograd.grad(lambda x: anp.sum(autograd.grad(lambda a, b: anp.sum(a * b ** 2), 1)(x, x)))(X)
    np.testing.assert_allclose(ours, hips, rtol=1e-12)
    np.testing.assert_allclose(ours, 4 * X, rtol=1e-12)


def test_jvp_and_vjp_inside_grad_differentiate_their_own_argument_only():
    seen = {}

    def outer(x):
        seen["jvp"] = ag.jvp(lambda y: x * y ** 2, (x,), (V,))[1]
        seen["vjp"] = ag.vjp(lambda y: x * y ** 2, x)[1](V)[0]
        return ag.sum(x ** 2)
    ag.grad(outer)(X)
    # d(x y^2)/dy = 2 x y at y = x (the closure's x is a constant here): 2 x^2 times the direction
    np.testing.assert_allclose(seen["jvp"].data, 2 * X ** 2 * V, rtol=1e-14)
    np.testing.assert_allclose(seen["vjp"].data, 2 * X ** 2 * V, rtol=1e-14)


# --- 4. save into a folder that does not exist --------------------------------------------
@pytest.mark.parametrize("as_path", [str, lambda p: p])
def test_save_into_a_missing_folder_names_the_path_given_and_the_folder(tmp_path, as_path):
    target = as_path(tmp_path / "missing" / "params.npz")
    with pytest.raises(FileNotFoundError) as caught:
        ag.save({"W": np.ones((2, 3))}, target)
    message = str(caught.value)
    assert repr(str(target)) in message and "does not exist" in message and ".tmp" not in message
    assert repr(os.path.realpath(tmp_path / "missing")) in message and caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


# --- 2. NumPy's functions on Tensors, bound by NumPy's own signatures ----------------------
A = np.array([[-2.3, -0.4, 0.7], [1.6, 0.2, -1.4]])      # distinct entries, none near the clip bounds
B = RNG.normal(size=(3, 4))
C = RNG.normal(size=(5, 2))

DISPATCHED = {
    "sum_positional_keepdims": lambda a: np.sum(a, 0, None, None, True),
    "sum_keywords": lambda a: np.sum(a, axis=1, keepdims=True),
    "sum_axes_initial_none": lambda a: np.sum(a, (0, 1), None, None, False, None),
    "mean_positional_keepdims": lambda a: np.mean(a, 1, None, None, True),
    "mean_keywords": lambda a: np.mean(a, axis=0, where=True),
    "max_positional_keepdims": lambda a: np.max(a, 0, None, True),
    "amax_keywords": lambda a: np.amax(a, axis=1, keepdims=True),
    "min_positional_keepdims": lambda a: np.min(a, 1, None, True, None),
    "amin_keywords": lambda a: np.amin(a, axis=0),
    "var_positional_ddof_keepdims": lambda a: np.var(a, 0, None, None, 1, True),
    "var_correction": lambda a: np.var(a, 1, correction=1),
    "std_keywords": lambda a: np.std(a, axis=1, ddof=1, keepdims=True),
    "std_positional": lambda a: np.std(a, None, None, None, 0, True),
    "dot_positional_out_none": lambda a: np.dot(a, B, None),
    "dot_left_constant": lambda a: np.dot(C, a),
    "where": lambda a: np.where(a > 0, a, 0.5 * a),
    "clip_positional": lambda a: np.clip(a, -1, 1, None),
    "clip_keywords": lambda a: np.clip(a, a_min=-1, a_max=None),
    "clip_min_max": lambda a: np.clip(a, min=-1.0, max=1.0),
    "transpose_positional": lambda a: np.transpose(a, (1, 0)),
    "transpose_keyword": lambda a: np.transpose(np.reshape(a, (1, 2, 3)), axes=(2, 0, 1)),
    "reshape_order_positional": lambda a: np.reshape(a, (3, 2), "F"),
    "reshape_order_keyword": lambda a: np.reshape(a, shape=(3, 2), order="F"),
    "reshape_f_flat": lambda a: np.reshape(a, -1, "F"),
    "reshape_f_3d": lambda a: np.reshape(np.reshape(a, (3, 2)), (1, 3, 2), order="F").reshape(2, 3),
    "reshape_c": lambda a: np.reshape(a, (3, -1), "C"),
    "squeeze_positional": lambda a: np.squeeze(np.expand_dims(a, 0), 0),
    "squeeze_keyword": lambda a: np.squeeze(np.expand_dims(a, 2), axis=2),
    "expand_dims_axes": lambda a: np.expand_dims(a, (0, 2)),
    "concatenate_positional": lambda a: np.concatenate([a, 2 * a], 1),
    "concatenate_axis_none": lambda a: np.concatenate((a, a[:, :2]), None),
    "concatenate_keyword_none": lambda a: np.concatenate([a, a], axis=None, out=None, dtype=None),
    "stack_positional": lambda a: np.stack([a, 3 * a], 1),
    "stack_keyword": lambda a: np.stack([a, a], axis=-1, casting="same_kind"),
    "broadcast_to_positional": lambda a: np.broadcast_to(a, (4, 2, 3), False),
    "broadcast_to_keyword": lambda a: np.broadcast_to(a, shape=(2, 2, 3)),
    "add_reduce_positional": lambda a: np.add.reduce(a, 1),
    "add_reduce_default_axis": lambda a: np.add.reduce(a),
    "maximum_reduce_keepdims": lambda a: np.maximum.reduce(a, 0, None, None, keepdims=True),
    "minimum_reduce_keyword": lambda a: np.minimum.reduce(a, axis=1),
}


def _central_difference(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("call", DISPATCHED.values(), ids=DISPATCHED.keys())
def test_numpy_functions_on_tensors_honour_every_argument_as_numpy_does(call):
    expected = call(A)
    got = call(ag.Tensor(A))
    assert isinstance(got, ag.Tensor) and got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=1e-13, atol=1e-15)
    weights = np.random.default_rng(7).normal(size=np.shape(expected))
    numeric = _central_difference(lambda x: float(np.sum(call(x) * weights)), A)
    np.testing.assert_allclose(ag.grad(lambda t: ag.sum(call(t) * weights))(A), numeric, rtol=1e-6, atol=1e-8)


def test_reshape_in_fortran_order_matches_torch_values_and_gradients():
    torch = pytest.importorskip("torch")
    weights = np.random.default_rng(8).normal(size=(3, 2))
    x = torch.tensor(A, requires_grad=True)
    # Fortran order written in torch: C order over the reversed axes
    (x.T.reshape(2, 3).T * torch.tensor(weights)).sum().backward()
    ours = ag.grad(lambda t: ag.sum(np.reshape(t, (3, 2), order="F") * weights))(A)
    np.testing.assert_allclose(ours, x.grad.numpy(), rtol=1e-15)


REFUSED = [
    (lambda a: np.sum(a, 0, np.float32), "sum", "dtype"),
    (lambda a: np.sum(a, 0, None, np.zeros(3)), "sum", "out"),
    (lambda a: np.sum(a, initial=1.0), "sum", "initial"),
    (lambda a: np.sum(a, where=None), "sum", "where"),
    (lambda a: np.mean(a, where=np.ones((2, 3), bool)), "mean", "where"),
    (lambda a: np.max(a, 0, None, False, 5.0), "max", "initial"),
    (lambda a: np.amin(a, out=np.zeros(3), axis=0), "amin", "out"),
    (lambda a: np.var(a, mean=np.zeros((1, 3))), "var", "mean"),
    (lambda a: np.std(a, dtype=np.float32), "std", "dtype"),
    (lambda a: np.dot(a, B, np.zeros((2, 4))), "dot", "out"),
    (lambda a: np.clip(a, -1, 1, np.zeros((2, 3))), "clip", "out"),
    (lambda a: np.clip(a, -1, 1, casting="unsafe"), "clip", "casting"),
    (lambda a: np.reshape(a, (3, 2), "A"), "reshape", "order"),
    (lambda a: np.reshape(a, (3, 2), copy=True), "reshape", "copy"),
    (lambda a: np.concatenate([a, a], 0, None, dtype=np.float32), "concatenate", "dtype"),
    (lambda a: np.stack([a, a], 0, np.zeros((2, 2, 3))), "stack", "out"),
    (lambda a: np.broadcast_to(a, (2, 2, 3), True), "broadcast_to", "subok"),
    (lambda a: np.add.reduce(a, 0, np.float32), "add.reduce", "dtype"),
    (lambda a: np.maximum.reduce(a, 0, initial=9.0), "maximum.reduce", "initial"),
    (lambda a: np.argmax(a, out=a), "argmax", "out"),
]


@pytest.mark.parametrize("call,name,argument", REFUSED, ids=[f"{n}-{a}" for _, n, a in REFUSED])
def test_numpy_arguments_a_tensor_cannot_honour_are_refused_naming_them(call, name, argument):
    with pytest.raises(TypeError, match=rf"numpy\.{name} on a Tensor: .*{argument}"):
        call(ag.Tensor(A))


def test_numpy_arguments_that_conflict_are_refused_as_numpy_refuses_them():
    with pytest.raises(ValueError, match=r"numpy\.var on a Tensor: ddof=1 and correction=1"):
        np.var(ag.Tensor(A), ddof=1, correction=1)
    with pytest.raises(ValueError, match=r"numpy\.where on a Tensor: only x given"):
        np.where(ag.Tensor(A) > 0, ag.Tensor(A))
    with pytest.raises(ValueError, match=r"numpy\.clip on a Tensor: .*one pair"):
        np.clip(ag.Tensor(A), -1, None, min=-1.0)


# --- 3. value reads through NumPy are guards of ag.compile --------------------------------
REF = np.array([5.0, -3.0, 0.0])
INPUTS = [np.array([1.0, 2.0, 0.0]), REF, np.array([0.0, 0.0, 7.0]), np.array([-4.0, 6.0, 2.0]), REF,
          np.array([1.0, 2.0, 0.0])]
NOT_FINITE = [np.array([1.0, 2.0, 0.0]), np.array([np.inf, 2.0, 0.0]), np.array([1.0, np.nan, -np.inf]),
              np.array([1.0, 2.0, 0.0])]
READERS = {
    "argmax": lambda z: z[int(np.argmax(z))] * 1.0,
    "argmin": lambda z: z[int(np.argmin(z))] * 2.0,
    "argsort": lambda z: z[np.argsort(z, kind="stable")] * np.array([1.0, 2.0, 3.0]),
    "count_nonzero": lambda z: z * float(np.count_nonzero(z)),
    "allclose": lambda z: z * (2.0 if np.allclose(z, REF) else 3.0),
    "isclose": lambda z: z * np.isclose(z, REF),
    "array_equal": lambda z: z * (2.0 if np.array_equal(z, REF) else 3.0),
    "array_equiv": lambda z: z * (2.0 if np.array_equiv(REF, z) else 3.0),
    "array_str": lambda z: z * float(len(np.array_str(z))),
    "array_repr": lambda z: z * float(len(np.array_repr(z))),
    "array2string": lambda z: z * float(len(np.array2string(z, precision=2))),
    "sign": lambda z: z * np.sign(z),
    "signbit": lambda z: z * np.signbit(z),
}
NOT_FINITE_READERS = {
    "isfinite": lambda z: ag.where(np.isfinite(z), z, 0.0),
    "isinf": lambda z: ag.where(np.isinf(z), 0.0, z),
    "isnan": lambda z: ag.where(np.isnan(z), 0.0, ag.where(np.isinf(z), 1.0, z)),
}


def _compiled_follows_eager(reader, inputs):
    compiled = ag.compile(lambda z: ag.sum(reader(z)))
    for x in inputs:
        eager = ag.sum(reader(ag.Tensor(x)))
        np.testing.assert_array_equal(compiled(ag.Tensor(x)).data, eager.data)


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_numpy_value_reads_in_a_compiled_function_follow_changing_values(reader):
    _compiled_follows_eager(reader, INPUTS)


@pytest.mark.parametrize("reader", NOT_FINITE_READERS.values(), ids=NOT_FINITE_READERS.keys())
def test_numpy_finiteness_tests_in_a_compiled_function_follow_changing_values(reader):
    _compiled_follows_eager(reader, NOT_FINITE)
