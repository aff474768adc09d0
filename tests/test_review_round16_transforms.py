"""Round 16 (adv74): the functional transforms.

- A vjp_fn made at top level is linear in its cotangent inside another transform (JAX, torch.func).
- torch.func's no_grad rule for every transform: a transform called under no_grad() inside another
  computes its own values right (never a zero tangent) and gives constants for the outer one.
- An inner transform in another thread on the outer transform's values is refused (JAX, torch.func).
- Results are fresh writable arrays (HIPS autograd); argnums iterators are read once; jvp obeys
  detect_anomaly; a top-level transform of a Tensor that requires grad warns; an in-place change of a
  nested transform's argument is named by the transform and the argument.
Expected values come from the math (f(x) = x^3 and friends), never from autograd_lite itself.
"""
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import autograd_lite as ag

X0 = np.array([1.0, 2.0])


def _cube_sum(a):
    return (a ** 3).sum()


# --- finding 1: vjp_fn from a top-level vjp, called inside another transform ----------------------------
def test_a_top_level_vjp_fn_is_differentiable_in_its_cotangent():
    _, vjp_fn = ag.vjp(lambda a: a ** 3, X0)
    c0 = np.array([0.5, -1.0])
    # vjp_fn(c) = 3 x^2 * c: its Jacobian in c is diag(3 x^2), the gradient of <vjp_fn(c), c> is 6 x^2 c
    np.testing.assert_allclose(ag.jacobian(lambda c: vjp_fn(c)[0])(c0), np.diag(3 * X0 ** 2))
    np.testing.assert_allclose(ag.grad(lambda c: (vjp_fn(c)[0] * c).sum())(c0), 6 * X0 ** 2 * c0)
    np.testing.assert_allclose(vjp_fn(c0)[0], 3 * X0 ** 2 * c0)  # still ndarrays at top level


# --- findings 2 and 3: one no_grad rule for every transform ---------------------------------------------
def _inner_under_no_grad(inner, post, x0=X0):
    """d/dx post(inner(x), x) with inner called under no_grad() inside ag.grad."""
    def outer(x):
        with ag.no_grad():
            r = inner(x)
        return post(r, x)
    return ag.grad(outer)(x0)


def _dot(r, x):
    return (r * x).sum()


def _rows_dot(r, x):
    return (r.sum(0) * x).sum()


# inner(x) as a constant c: d/dx sum(c * x) = c, i.e. 3 x^2 for the first derivatives of x^3, 6 x for the
# second ones (hvp along ones, and the row sums of the Hessian diag(6x))
@pytest.mark.parametrize("inner, post, expected", [
    (lambda x: ag.grad(_cube_sum)(x), _dot, 3 * X0 ** 2),
    (lambda x: ag.value_and_grad(_cube_sum)(x)[1], _dot, 3 * X0 ** 2),
    (lambda x: ag.jacobian(lambda a: a ** 3)(x), _rows_dot, 3 * X0 ** 2),
    (lambda x: ag.vjp(lambda a: a ** 3, x)[1](np.ones(2))[0], _dot, 3 * X0 ** 2),
    (lambda x: ag.vjp(lambda a: (a ** 3, a * 0), x)[1]((np.ones(2), np.ones(2)))[0], _dot, 3 * X0 ** 2),
    (lambda x: ag.jvp(lambda a: a ** 3, (x,), (np.ones(2),))[1], _dot, 3 * X0 ** 2),
    (lambda x: ag.hvp(_cube_sum)(x, np.ones(2)), _dot, 6 * X0),
    (lambda x: ag.hessian(_cube_sum)(x), _rows_dot, 6 * X0),
], ids=["grad", "value_and_grad", "jacobian", "vjp", "vjp-two-outputs", "jvp", "hvp", "hessian"])
def test_a_transform_under_no_grad_inside_another_is_a_right_constant(inner, post, expected):
    np.testing.assert_allclose(_inner_under_no_grad(inner, post), expected)


@pytest.mark.parametrize("inner, post", [(lambda x: ag.grad(_cube_sum)(x), _dot),
                                         (lambda x: ag.jacobian(lambda a: a ** 3)(x), _rows_dot)])
def test_the_no_grad_rule_does_not_depend_on_the_dtype(inner, post):
    x32 = X0.astype(np.float32)
    got = _inner_under_no_grad(inner, post, x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, 3 * X0 ** 2, rtol=1e-6)


def test_jvp_under_no_grad_inside_another_transform_gives_the_tangent():
    def g(x):
        with ag.no_grad():
            return ag.jvp(lambda a: a ** 3, (x,), (np.ones(2),))[1]
    np.testing.assert_allclose(ag.jvp(g, (X0,), (np.ones(2),))[0], 3 * X0 ** 2)  # was [0, 0]
    seen = []

    def h(x):
        with ag.no_grad():
            seen.append(ag.jvp(lambda a: a ** 3, (x,), (np.ones(2),))[1])
        return (x * x).sum()
    np.testing.assert_allclose(ag.grad(h)(X0), 2 * X0)
    np.testing.assert_allclose(np.asarray(seen[0]), 3 * X0 ** 2)


def test_a_no_grad_block_inside_f_is_a_constant_for_the_transform():
    def f(x):
        with ag.no_grad():
            c = x * x
        return (c * x).sum()
    np.testing.assert_allclose(ag.grad(f)(X0), X0 ** 2)  # d/dx sum(c x) with c held constant


# --- finding 4: an inner transform in another thread -----------------------------------------------------
def test_an_inner_transform_in_a_worker_thread_on_the_outer_variable_is_refused():
    g = ag.grad(_cube_sum)
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ag.GraphError, match=r"^grad: argument 0 depends on a variable of a transform "
                                                r"running in another thread \('MainThread'\)"):
            ag.jacobian(lambda x: pool.submit(g, x * 2).result())(X0)
        with pytest.raises(ag.GraphError, match=r"^grad: f's value depends on a variable of a transform"):
            ag.grad(lambda x: pool.submit(ag.grad(lambda y: (x * y ** 2).sum()), np.ones(2)).result().sum())(X0)


def test_a_worker_threads_own_transform_is_unaffected_by_an_outer_one_elsewhere():
    started, release, results = threading.Event(), threading.Event(), []

    def outer_f(x):
        started.set()
        assert release.wait(10)
        return _cube_sum(x)

    worker = threading.Thread(target=lambda: results.append(ag.grad(outer_f)(X0)))
    worker.start()
    try:
        assert started.wait(10)
        # the worker's transform is open; this thread's own one is independent of it
        np.testing.assert_allclose(ag.grad(_cube_sum)(np.array([3.0])), [27.0])
    finally:
        release.set()
        worker.join()
    np.testing.assert_allclose(results[0], 3 * X0 ** 2)


# --- finding 5: fresh writable arrays --------------------------------------------------------------------
def test_gradients_of_several_arguments_share_no_memory():
    ga, gb = ag.grad(lambda a, b: ((a + b) * X0).sum(), (0, 1))(X0, X0)
    ga *= 100
    np.testing.assert_array_equal(gb, X0)
    d = ag.grad(lambda p: ((p["a"] + p["b"]) * X0).sum())({"a": X0, "b": X0})
    for k in d:
        d[k] *= 0.5
    np.testing.assert_array_equal(d["a"], 0.5 * X0)
    np.testing.assert_array_equal(d["b"], 0.5 * X0)


def test_vjp_and_jvp_results_are_not_the_callers_arrays():
    ct, kept = np.array([10.0, 20.0]), np.array([5.0, 6.0])
    pulled = ag.vjp(lambda a: a.reshape(2), X0)[1](ct)[0]
    assert not np.shares_memory(pulled, ct)
    values, _ = ag.jvp(lambda a: (a * 2, kept), (X0,), (np.ones(2),))
    assert not np.shares_memory(values[1], kept)
    np.testing.assert_array_equal(values[1], kept)


@pytest.mark.parametrize("f, slope", [(lambda a: a.sum(), 1.0), (lambda a: a.mean(), 1 / 3)])
def test_the_gradient_of_a_reduction_is_writable(f, slope):
    g = ag.grad(f)(np.array([1.0, 2.0, 3.0]))
    expected = np.full(3, slope)
    g -= 0.1  # a gradient step in place, as with HIPS autograd's arrays
    np.testing.assert_allclose(g, expected - 0.1)


# --- finding 6: detect_anomaly covers forward mode -------------------------------------------------------
def test_jvp_under_detect_anomaly_raises_on_an_infinite_tangent():
    with ag.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(ag.AnomalyError, match=r"^forward mode \(jvp\): the tangent of op 'sqrt'.* produced inf"):
            ag.jvp(ag.sqrt, (np.array([0.0, 1.0]),), (np.ones(2),))
        _, tangent = ag.jvp(ag.sqrt, (np.array([4.0, 1.0]),), (np.ones(2),))  # finite: no error
    np.testing.assert_allclose(tangent, [0.25, 0.5])


# --- finding 7: argnums --------------------------------------------------------------------------------
def test_argnums_given_as_an_iterator_is_read_once():
    gf = ag.grad(lambda a, b: (a * b).sum(), argnums=iter((0, 1)))
    y = np.array([3.0, 4.0])
    for _ in range(2):
        ga, gb = gf(X0, y)
        np.testing.assert_array_equal(ga, y)
        np.testing.assert_array_equal(gb, X0)
    np.testing.assert_array_equal(ag.jacobian(lambda a, b: a * b, argnums=(i for i in [1]))(X0, y)[0],
                                  np.diag(X0))


@pytest.mark.parametrize("argnums", [{0, 1}, {0: "a", 1: "b"}])
def test_argnums_without_an_order_is_refused(argnums):
    with pytest.raises(TypeError, match=r"^grad: argnums must be an int or a tuple of ints .* no order"):
        ag.grad(lambda a, b: (a * b).sum(), argnums=argnums)


# --- finding 8: a Tensor that requires grad given to a top-level transform -------------------------------
def test_a_top_level_transform_of_a_tensor_that_requires_grad_warns():
    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.warns(UserWarning, match=r"^grad: argument 0 is a Tensor that requires grad"):
        g = ag.grad(_cube_sum)(W * 2)
    np.testing.assert_allclose(g, 12 * W.data ** 2)
    with pytest.warns(UserWarning, match=r"^vjp: the cotangent is a Tensor that requires grad"):
        ag.vjp(lambda a: a ** 3, X0)[1](W * 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ag.grad(_cube_sum)(W.detach())
        with ag.no_grad():
            ag.grad(_cube_sum)(W * 2)
        # a leaf (a model's parameter: ag.grad(cost)(params)) is taken as its value, as the call asks
        np.testing.assert_allclose(ag.grad(_cube_sum)(W), 3 * W.data ** 2)


def test_inside_an_outer_transform_the_dependence_is_kept():
    # d/dw sum(w * grad(sum a^3)(2w)) = d/dw sum(12 w^3) = 36 w^2
    np.testing.assert_allclose(ag.grad(lambda w: (w * ag.grad(_cube_sum)(w * 2)).sum())(X0), 36 * X0 ** 2)


# --- finding 9: an in-place change of a nested transform's argument ---------------------------------------
def test_an_in_place_change_of_a_nested_argument_names_the_transform_and_argument():
    def inner(p):
        with ag.no_grad():
            p["y"] += 1.0
        return (p["y"] ** 2).sum()
    x = X0.copy()
    with pytest.raises(ag.InplaceModificationError,
                       match=r"^grad: f changed its argument 0, leaf 'y' in place .* inside another transform"):
        ag.grad(lambda x: (ag.grad(inner)({"y": x})["y"] * x).sum())(x)
    np.testing.assert_array_equal(x, X0)  # the caller's array is untouched
    np.testing.assert_allclose(ag.grad(inner)({"y": X0})["y"], 2 * (X0 + 1))  # at top level it works
