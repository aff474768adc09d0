"""Review round 12 (adv27), transforms: inside another transform, ``ag.grad`` / ``ag.jacobian``
keep their argument's dtype (a recorded cast, which the outer transform differentiates), and
``ag.hvp``'s direction stays on the outer graph, as jvp's tangents and vjp's cotangents do.
Expected values come from torch.func (float32 and float64) or hand formulas."""
import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch

C64 = np.array([0.7, -1.3, 2.1])  # a float64 constant: f's value is float64 for a float32 x
X = np.array([0.5, -1.0, 2.0])
V = np.array([1.0, 0.5, -2.0])
DTYPES = [(np.float32, "float32", 1e-5), (np.float64, "float64", 1e-12)]  # (torch's dtype by name)


def _f(x):
    return ag.sum(ag.sin(x * C64) * x)


def _f_torch(x):
    return (torch.sin(x * torch.tensor(C64)) * x).sum()


def _close(got, expected, dtype, rtol):
    """``got`` has ``dtype`` and torch's ``expected`` values (torch gives the same dtype)."""
    expected = expected.detach().numpy()
    assert expected.dtype == dtype  # the oracle's own dtype, the one asked of autograd_lite
    assert np.asarray(got).dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


# --- nested gradients in their argument's dtype ---------------------------------------------------
@pytest.mark.parametrize("dtype, tdtype, rtol", DTYPES)
def test_jvp_of_grad_primal_and_tangent_in_input_dtype(dtype, tdtype, rtol):
    x, v = X.astype(dtype), V.astype(dtype)
    primal, tangent = ag.jvp(ag.grad(_f), (x,), (v,))
    tp, tt = torch.func.jvp(torch.func.grad(_f_torch), (torch.tensor(x),), (torch.tensor(v),))
    _close(primal, tp, dtype, rtol)
    _close(tangent, tt, dtype, rtol)


@pytest.mark.parametrize("dtype, tdtype, rtol", DTYPES)
def test_vjp_of_grad_value_and_pullback_in_input_dtype(dtype, tdtype, rtol):
    x, v = X.astype(dtype), V.astype(dtype)
    value, pull = ag.vjp(ag.grad(_f), x)
    tv, tpull = torch.func.vjp(torch.func.grad(_f_torch), torch.tensor(x))
    _close(value, tv, dtype, rtol)
    _close(pull(v)[0], tpull(torch.tensor(v))[0], dtype, rtol)


def test_inner_step_has_the_same_dtype_under_jvp_as_called_directly():
    x, v = X.astype(np.float32), V.astype(np.float32)
    step = lambda x: x - 0.1 * ag.grad(_f)(x)  # a MAML-style inner step
    assert step(x).dtype == np.float32
    primal, tangent = ag.jvp(step, (x,), (v,))
    step_torch = lambda x: x - 0.1 * torch.func.grad(_f_torch)(x)
    tp, tt = torch.func.jvp(step_torch, (torch.tensor(x),), (torch.tensor(v),))
    _close(primal, tp, np.float32, 1e-5)
    _close(tangent, tt, np.float32, 1e-5)


def test_jvp_of_jacobian_in_input_dtype():
    x, v = X.astype(np.float32), V.astype(np.float32)
    primal, tangent = ag.jvp(ag.jacobian(lambda x: x * C64), (x,), (v,))
    assert primal.dtype == tangent.dtype == np.float32  # as ag.jacobian(...)(x32) at top level
    np.testing.assert_array_equal(primal, np.diag(C64).astype(np.float32))  # d(x c)/dx = diag(c), by hand
    np.testing.assert_array_equal(tangent, np.zeros((3, 3), np.float32))  # constant in x


@pytest.mark.parametrize("dtype, tdtype, rtol", DTYPES)
def test_outer_derivatives_through_the_cast_match_torch(dtype, tdtype, rtol):
    x, v = X.astype(dtype), V.astype(dtype)
    xt, vt = torch.tensor(x), torch.tensor(v)
    got = ag.grad(lambda x: ag.sum(ag.jvp(ag.grad(_f), (x,), (v,))[1]))(x)
    expected = torch.func.grad(lambda x: torch.func.jvp(torch.func.grad(_f_torch), (x,), (vt,))[1].sum())(xt)
    _close(got, expected, dtype, rtol)
    third = ag.jacobian(ag.jacobian(ag.grad(_f)))(x)
    _close(third, torch.func.jacrev(torch.func.jacrev(torch.func.grad(_f_torch)))(xt), dtype, rtol)


def test_nested_grad_and_jacobian_are_tensors_in_input_dtype():
    x = X.astype(np.float32)
    inner = {}

    def outer(x):
        inner["grad"], inner["jacobian"] = ag.grad(_f)(x), ag.jacobian(ag.grad(_f))(x)
        return ag.sum(inner["grad"]) + ag.sum(inner["jacobian"])
    ag.grad(outer)(x)
    assert inner["grad"].dtype == inner["jacobian"].dtype == np.float32


def test_nested_jvp_float64_tangent_cast_to_the_primal_dtype():
    # f32 keeps float32; the tangent x * C64 is float64 and depends on x: it is cast to the
    # primal's dtype, as a top-level tangent is (torch.func.jvp requires equal dtypes: .float())
    x = X.astype(np.float32)
    f32 = lambda x: ag.sum(ag.sin(x) * x)
    inner = {}

    def outer(x):
        inner["tangent"] = ag.jvp(f32, (x,), (x * C64,))[1]
        return inner["tangent"]
    got = ag.grad(outer)(x)
    f32_torch = lambda x: (torch.sin(x) * x).sum()
    expected = torch.func.grad(lambda x: torch.func.jvp(f32_torch, (x,), ((x * torch.tensor(C64)).float(),))[1])(
        torch.tensor(x))
    assert inner["tangent"].dtype == np.float32
    _close(got, expected, np.float32, 1e-5)


def test_nested_vjp_cotangent_cast_to_output_dtype():
    # the cotangent x * C64 is float64 for f32's float32 output: cast to it, as at top level
    x = X.astype(np.float32)
    f32 = lambda x: ag.sin(x) * x
    inner = {}

    def outer(x):
        inner["pulled"] = ag.vjp(f32, x)[1](x * C64)[0]
        return ag.sum(inner["pulled"])
    got = ag.grad(outer)(x)
    assert inner["pulled"].dtype == np.float32
    f32_torch = lambda x: torch.sin(x) * x
    expected = torch.func.grad(lambda x: torch.func.vjp(f32_torch, x)[1]((x * torch.tensor(C64)).float())[0].sum())(
        torch.tensor(x))
    _close(got, expected, np.float32, 1e-5)


# --- hvp's direction on the outer graph -----------------------------------------------------------
def test_grad_of_hvp_with_the_direction_depending_on_x():
    # hvp(y**4)(x, x) = 12 x**2 * x = 12 x**3; d/dx = 36 x**2 = 144 at x = 2 (by hand)
    assert ag.grad(lambda x: ag.hvp(lambda y: y ** 4)(x, x))(2.0) == pytest.approx(144.0, rel=1e-12)


def test_jvp_over_hvp_matches_hand_formula():
    # F = sum(sin(x) x): F'' = 2 cos x - x sin x (diagonal); h(x) = F''(x) x**2,
    # h'(x) = (-3 sin x - x cos x) x**2 + 2 x F''(x)
    x = np.array([0.3, 1.1])
    d2 = 2 * np.cos(x) - x * np.sin(x)
    expected = (-3 * np.sin(x) - x * np.cos(x)) * x ** 2 + 2 * x * d2
    got = ag.jvp(lambda x: ag.hvp(lambda y: ag.sum(ag.sin(y) * y))(x, x * x), (x,), (np.ones(2),))[1]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype, tdtype, rtol", DTYPES)
def test_jacobian_of_hvp_with_the_direction_depending_on_x_matches_torch(dtype, tdtype, rtol):
    x = X.astype(dtype)
    got = ag.jacobian(lambda x: ag.hvp(_f)(x, x * x))(x)
    expected = torch.func.jacrev(lambda x: torch.func.jvp(torch.func.grad(_f_torch), (x,), (x * x,))[1])(
        torch.tensor(x))
    _close(got, expected, dtype, rtol)


def test_grad_with_respect_to_the_direction_alone_is_the_hessian_row_sum():
    # sum(H(x) w) is linear in w: its gradient is H^T 1 (the oracle: torch's Hessian)
    got = ag.grad(lambda w: ag.sum(ag.hvp(_f)(X, w)))(V)
    expected = torch.func.hessian(_f_torch)(torch.tensor(X)).sum(0)
    _close(got, expected, np.float64, 1e-12)


def test_hvp_pytree_direction_depending_on_x_matches_torch():
    p = {"a": np.array([0.4, -0.9]), "b": np.array(1.3)}
    f = lambda p: ag.sum(ag.sin(p["a"]) * p["b"]) + p["b"] ** 3
    got = ag.grad(lambda p: ag.sum(ag.hvp(f)(p, {"a": p["a"] * p["b"], "b": p["b"] ** 2})["a"]))(p)
    f_torch = lambda a, b: (torch.sin(a) * b).sum() + b ** 3
    hvp_a = lambda a, b: torch.func.jvp(torch.func.grad(f_torch, argnums=(0, 1)), (a, b), (a * b, b ** 2))[1][0]
    expected = torch.func.grad(lambda a, b: hvp_a(a, b).sum(), argnums=(0, 1))(
        torch.tensor(p["a"]), torch.tensor(p["b"]))
    _close(got["a"], expected[0], np.float64, 1e-12)
    _close(got["b"], expected[1], np.float64, 1e-12)
