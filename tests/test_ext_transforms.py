"""Forward mode and the transforms on pytrees (issue 13): jvp == jacobian @ tangent for
every primitive, hessian symmetric and == jacobian of grad, JAX's shapes, pytrees in
and out, user primitives' defjvp, clear errors; issue 12's argnums / hvp refusals."""
import numpy as np
import pytest

import autograd_lite as ag
from tests.test_ops import CASES as OP_CASES


@pytest.mark.parametrize("name,fn,shapes,sample", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_every_primitive_has_a_jvp_equal_to_the_jacobian_times_the_tangent(name, fn, shapes, sample):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    xs = [sample(rng, s) for s in shapes]
    ts = [rng.normal(size=s) for s in shapes]
    out, tangent = ag.jvp(fn, xs, ts)
    np.testing.assert_allclose(out, fn(*[ag.Tensor(x) for x in xs]).data, rtol=1e-15)
    jac = ag.jacobian(fn, tuple(range(len(xs))))(*xs)
    expected = sum(np.tensordot(j, t, axes=t.ndim) for j, t in zip(jac, ts))
    np.testing.assert_allclose(tangent, expected, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    plus = fn(*[ag.Tensor(x + eps * t) for x, t in zip(xs, ts)]).data
    minus = fn(*[ag.Tensor(x - eps * t) for x, t in zip(xs, ts)]).data
    np.testing.assert_allclose(tangent, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-6)


def _cost(params, X):
    h = ag.tanh(params["layers"][0]["W"] @ X + params["layers"][0]["b"])
    return ag.mean(ag.softplus(params["out"] @ h)) + 0.1 * ag.sum(params["out"] ** 2)


@pytest.fixture
def tree():
    rng = np.random.default_rng(0)
    return ({"layers": [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=(3, 1))}],
             "out": rng.normal(size=(1, 3))}, rng.normal(size=(2, 5)))


def test_grad_and_value_and_grad_keep_the_structure(tree):
    params, X = tree
    g = ag.grad(_cost)(params, X)
    assert set(g) == {"layers", "out"} and isinstance(g["layers"], list)
    assert g["layers"][0]["W"].shape == (3, 2) and type(g["out"]) is np.ndarray
    value, g2 = ag.value_and_grad(_cost)(params, X)
    assert isinstance(value, float)
    assert ag.compare_gradients(g, g2).difference == 0.0
    assert ag.gradcheck(_cost, [params, X], eps=1e-6).difference < 1e-8


def test_jvp_equals_jacobian_times_tangent_on_pytrees(tree):
    params, X = tree
    rng = np.random.default_rng(1)
    tangent = ag.pytree.tree_map(lambda a: rng.normal(size=a.shape), params)

    def outputs(p):
        return {"z": p["out"] @ ag.tanh(p["layers"][0]["W"] @ X), "cost": _cost(p, X)}
    out, t_out = ag.jvp(outputs, (params,), (tangent,))
    assert set(out) == {"z", "cost"} and out["z"].shape == (1, 5) and t_out["cost"].shape == ()
    jac = ag.jacobian(outputs)(params)
    for key in ("z", "cost"):
        leaves = ag.pytree.flatten(jac[key])[0]
        tangents = ag.pytree.flatten(tangent)[0]
        expected = sum(np.tensordot(j, t, axes=t.ndim) for j, t in zip(leaves, tangents))
        np.testing.assert_allclose(t_out[key], expected, rtol=1e-10, atol=1e-12)
        assert jac[key]["layers"][0]["W"].shape == out[key].shape + (3, 2)


def test_jacobian_has_jax_shapes():
    x = np.arange(6.0).reshape(2, 3)
    jac = ag.jacobian(lambda x: ag.sum(x ** 2, 0))(x)
    assert jac.shape == (3, 2, 3)  # f_out.shape + x.shape
    for k in range(3):
        expected = np.zeros((2, 3))
        expected[:, k] = 2 * x[:, k]
        np.testing.assert_allclose(jac[k], expected)
    j0, j1 = ag.jacobian(lambda a, b: a * b, (0, 1))(np.ones(2), np.arange(2.0))
    np.testing.assert_allclose(j0, np.diag([0.0, 1.0]))
    np.testing.assert_allclose(j1, np.eye(2))


def test_hessian_is_symmetric_and_equals_the_jacobian_of_the_gradient(tree):
    params, X = tree
    h = ag.hessian(_cost)(params, X)
    hW_out = h["layers"][0]["W"]["out"]
    assert hW_out.shape == (3, 2, 1, 3)
    np.testing.assert_allclose(hW_out, h["out"]["layers"][0]["W"].transpose(2, 3, 0, 1), atol=1e-12)
    jg = ag.jacobian(ag.grad(_cost))(params, X)
    assert ag.compare_gradients(h, jg).difference < 1e-14
    x = np.array([0.3, -1.2, 0.7])
    f = lambda x: ag.sum(ag.sin(x) * ag.logsumexp(x)) + ag.var(x)  # noqa: E731
    H = ag.hessian(f)(x)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    for i in range(3):  # each column is a Hessian-vector product
        np.testing.assert_allclose(H @ np.eye(3)[i], ag.hvp(f)(x, np.eye(3)[i]), atol=1e-12)


def test_vjp_returns_one_cotangent_per_primal_in_its_structure(tree):
    params, X = tree
    out, vjp_fn = ag.vjp(lambda p, x: p["out"] @ ag.tanh(p["layers"][0]["W"] @ x), params, X)
    assert out.shape == (1, 5)
    ct = np.arange(5.0).reshape(1, 5)
    dp, dx = vjp_fn(ct)
    assert dp["layers"][0]["W"].shape == (3, 2) and dx.shape == (2, 5)
    jac = ag.jacobian(lambda p: p["out"] @ ag.tanh(p["layers"][0]["W"] @ X))(params)
    np.testing.assert_allclose(dp["layers"][0]["W"], np.tensordot(ct, jac["layers"][0]["W"], axes=2), rtol=1e-12)
    again = vjp_fn(ct)  # callable repeatedly
    np.testing.assert_array_equal(again[1], dx)
    with pytest.raises(ag.ShapeError, match="vjp: the cotangent has shape \\(5,\\); expected \\(1, 5\\)"):
        vjp_fn(np.ones(5))


def test_jvp_runs_forward_not_backward(monkeypatch):
    from autograd_lite import tape

    def no_backward(*a, **k):
        raise AssertionError("jvp ran a backward pass")
    monkeypatch.setattr(tape, "backward", no_backward)
    out, t = ag.jvp(lambda x: ag.exp(x) @ x, (np.ones((2, 2)),), (np.eye(2),))
    expected = (np.exp(np.ones((2, 2))) * np.eye(2)) @ np.ones((2, 2)) + np.exp(np.ones((2, 2))) @ np.eye(2)
    np.testing.assert_allclose(t, expected)


def test_user_primitive_gets_defjvp_and_missing_rules_are_named():
    @ag.primitive
    def cube(x):
        return x ** 3
    cube.defvjp(lambda g, out, x: g * 3 * x ** 2)
    with pytest.raises(ag.GraphError, match="op 'cube' has no JVP rule.*cube.defjvp"):
        ag.jvp(lambda x: cube(x), (np.ones(2),), (np.ones(2),))
    cube.defjvp(lambda t, out, x: t * 3 * x ** 2)
    _, t = ag.jvp(lambda x: cube(x), (np.array([1.0, 2.0]),), (np.array([1.0, 0.5]),))
    np.testing.assert_allclose(t, [3.0, 6.0])


def test_forward_over_reverse_second_derivative():
    # jvp of grad: a Hessian-vector product in forward-over-reverse mode
    f = lambda x: ag.sum(ag.sin(x) * x)  # noqa: E731
    x, v = np.array([0.4, 1.3]), np.array([1.0, -2.0])
    _, hv = ag.jvp(ag.grad(f), (x,), (v,))
    np.testing.assert_allclose(hv, ag.hvp(f)(x, v), rtol=1e-12)


def test_mismatched_trees_and_shapes_are_refused():
    with pytest.raises(ValueError, match="jvp: 1 primals but 2 tangents"):
        ag.jvp(lambda x: x, (np.ones(2),), (np.ones(2), np.ones(2)))
    with pytest.raises(ag.ShapeError, match="jvp: the tangent.*has shape \\(3,\\); expected \\(2,\\)"):
        ag.jvp(lambda x: x, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="structure"):
        ag.jvp(lambda p: p["a"], ({"a": np.ones(2)},), ({"b": np.ones(2)},))


# --- issue 12: argument checks of the transforms ---------------------------------------------
def test_grad_refuses_duplicate_argnums():
    with pytest.raises(ValueError, match="argnums \\(0, 0\\) names the same argument twice"):
        ag.grad(lambda x, y: ag.sum(x * y), argnums=(0, 0))(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="names the same argument twice"):
        ag.grad(lambda x, y: ag.sum(x * y), argnums=(1, -1))(np.ones(2), np.ones(2))


def test_hvp_refuses_a_direction_of_another_shape():
    f = lambda x: ag.sum(x ** 3)  # noqa: E731
    with pytest.raises(ag.ShapeError, match="hvp: the direction v has shape \\(1,\\); expected \\(3,\\)"):
        ag.hvp(f)(np.ones(3), np.ones(1))
    with pytest.raises(ag.ShapeError, match="expected \\(3,\\)"):
        ag.hvp(f)(np.ones(3), 1.0)
    np.testing.assert_allclose(ag.hvp(f)(np.array([1.0, 2.0, 3.0]), np.ones(3)), [6.0, 12.0, 18.0])
    h = ag.hvp(lambda p: ag.sum(p["a"] ** 2) * ag.sum(p["b"]))({"a": np.ones(2), "b": np.ones(1)},
                                                             {"a": np.ones(2), "b": np.ones(1)})
    np.testing.assert_allclose(h["a"], [4.0, 4.0])
    np.testing.assert_allclose(h["b"], [4.0])
