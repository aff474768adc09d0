"""Adversarial review, round 7 (eager engine): transforms composed with forward mode and
``vjp``, and the errors of misused transforms.

Expected values come from HIPS autograd, PyTorch, central differences or hand
derivations, never from autograd_lite itself."""
import threading

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import make_jvp, make_vjp

import autograd_lite as ag

RNG = np.random.default_rng(20260707)
X = RNG.uniform(-1.5, 1.5, size=3)
V = RNG.normal(size=3)
W = RNG.normal(size=3)


def _f_ag(y):
    return ag.sin(y) * y ** 2 + ag.sum(ag.exp(y))


def _f_np(y):
    return anp.sin(y) * y ** 2 + anp.sum(anp.exp(y))


# --- 1. jvp and vjp inside another transform are differentiated (they gave 0) -----------------
NESTED = {
    # name: (autograd_lite, HIPS autograd reference), both functions of x
    "grad_of_jvp_tangent": (lambda x: ag.grad(lambda x: ag.sum(ag.jvp(_f_ag, (x,), (V,))[1] * W))(x),
                            lambda x: autograd.grad(lambda x: anp.sum(make_jvp(_f_np)(x)(V)[1] * W))(x)),
    "grad_of_jvp_value": (lambda x: ag.grad(lambda x: ag.sum(ag.jvp(_f_ag, (x,), (V,))[0] * W))(x),
                          lambda x: autograd.grad(lambda x: anp.sum(_f_np(x) * W))(x)),
    "grad_of_vjp_cotangent": (lambda x: ag.grad(lambda x: ag.sum(ag.vjp(_f_ag, x)[1](V)[0] * W))(x),
                              lambda x: autograd.grad(lambda x: anp.sum(make_vjp(_f_np)(x)[0](V) * W))(x)),
    "grad_of_vjp_value": (lambda x: ag.grad(lambda x: ag.sum(ag.vjp(_f_ag, x)[0] * W))(x),
                          lambda x: autograd.grad(lambda x: anp.sum(_f_np(x) * W))(x)),
    "jacobian_of_jvp": (lambda x: ag.jacobian(lambda x: ag.jvp(_f_ag, (x,), (V,))[1])(x),
                        lambda x: autograd.jacobian(lambda x: make_jvp(_f_np)(x)(V)[1])(x)),
    "jvp_of_jvp": (lambda x: ag.jvp(lambda x: ag.jvp(_f_ag, (x,), (V,))[1], (x,), (W,))[1],
                   lambda x: make_jvp(lambda x: make_jvp(_f_np)(x)(V)[1])(x)(W)[1]),
    # the direction itself depends on the outer variable: d/dx of <J(x) x, w> and of <J(x)^T x^2, w>
    "grad_of_jvp_along_x": (lambda x: ag.grad(lambda x: ag.sum(ag.jvp(_f_ag, (x,), (x,))[1] * W))(x),
                            lambda x: autograd.grad(lambda x: anp.sum(make_jvp(_f_np)(x)(x)[1] * W))(x)),
    "grad_of_vjp_of_x_squared": (
        lambda x: ag.grad(lambda x: ag.sum(ag.vjp(_f_ag, x)[1](x * x)[0] * W))(x),
        lambda x: autograd.grad(lambda x: anp.sum(make_vjp(_f_np)(x)[0](x * x) * W))(x)),
}


@pytest.mark.parametrize("name", sorted(NESTED))
def test_jvp_and_vjp_nested_in_a_transform_match_hips_autograd(name):
    ours, reference = NESTED[name]
    np.testing.assert_allclose(ours(X), reference(X), rtol=1e-12, atol=1e-12)


def test_nested_jvp_keeps_float32():
    x32 = X.astype(np.float32)
    got = ag.grad(lambda x: ag.sum(ag.jvp(_f_ag, (x,), (V,))[1] * W))(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, NESTED["grad_of_jvp_tangent"][1](x32.astype(np.float64)), rtol=1e-4)


def test_nested_jvp_is_decided_per_thread():
    # one thread is inside ag.grad (its jvp records on the outer graph) while another calls
    # jvp at top level (plain ndarrays): neither sees the other's nesting depth
    inside, resume, out = threading.Event(), threading.Event(), {}

    def nested():
        def f(x):
            inside.set()
            resume.wait(timeout=10)
            return ag.sum(ag.jvp(lambda y: y ** 3, (x,), (np.ones(3),))[1])
        out["nested"] = ag.grad(f)(X)

    def top_level():
        inside.wait(timeout=10)
        out["top"] = ag.jvp(lambda y: y ** 3, (X,), (np.ones(3),))[1]
        resume.set()
    threads = [threading.Thread(target=nested), threading.Thread(target=top_level)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_allclose(out["nested"], 6 * X, rtol=1e-14)          # d/dx sum(3 x^2)
    assert type(out["top"]) is np.ndarray
    np.testing.assert_allclose(out["top"], 3 * X ** 2, rtol=1e-14)


# --- 2. misused transforms: errors that say what was expected -------------------------------
def test_jvp_refuses_an_array_as_primals_naming_the_tuple_it_expected():
    # tuple(array) would have passed each entry as an argument of its own
    with pytest.raises(TypeError, match=r"jvp: primals must be a tuple .* got a ndarray"):
        ag.jvp(lambda x: x * 2.0, X, V)
    with pytest.raises(TypeError, match=r"jvp: tangents must be a tuple .* got a ndarray"):
        ag.jvp(lambda x: x * 2.0, (X,), V)


def test_hvp_with_two_argnums_says_it_takes_one_argument():
    with pytest.raises(ValueError, match=r"hvp: argnums must name one argument, got \(0, 1\)"):
        ag.hvp(lambda x, y: ag.sum(x * y), argnums=(0, 1))(X, X, V)
    # a one-element tuple still names one argument: d^2/dy^2 of sum(x y^2) is 2 x, times v
    np.testing.assert_allclose(ag.hvp(lambda x, y: ag.sum(x * y ** 2), argnums=(1,))(X, X, V), 2 * X * V,
                               rtol=1e-14)


# --- 3. gradcheck of a function that uses a transform inside ---------------------------------
@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_passes_a_function_that_takes_a_gradient_inside(fast):
    # d/dx sum(3 x^2) = 6 x: f is right, so gradcheck must pass (the inner gradient was a
    # constant to gradcheck's own backward pass: "autodiff 0 vs numerical 7.2", FAILED)
    def f(x):
        return ag.sum(ag.grad(lambda y: ag.sum(y ** 3))(x))
    result = ag.gradcheck(f, [X], fast=fast)
    assert result.passed, str(result)
    np.testing.assert_allclose(ag.grad(f)(X), 6 * X, rtol=1e-14)


# --- 4. formulas: infinite and NaN constants in LaTeX --------------------------------------
def test_formula_writes_infinity_and_nan_as_latex():
    # Python's 'inf' / 'nan' are not LaTeX (mathtext shows them as the letters i-n-f)
    x = ag.Tensor(np.ones(3), requires_grad=True, name="x")
    assert ag.formula(x + np.inf) == "x + \\infty"
    assert ag.formula(x * -np.inf) == "x \\cdot (-\\infty)"
    assert ag.formula(x * np.nan) == "x \\cdot \\mathrm{NaN}"
    assert ag.formula(ag.clip(x, 0)) == "\\mathrm{clip}(x, 0, \\infty)"   # the missing bound
