"""Optimizers against SEEDS.md section 5's update rules, two steps computed by hand."""
import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite.errors import InplaceModificationError

P0 = np.array([[0.5, -1.0], [2.0, 0.25]])
G1 = np.array([[0.1, -0.2], [0.3, 0.0]])
G2 = np.array([[-0.4, 0.5], [0.05, 1.0]])


def two_steps(optimizer_cls, **kwargs):
    """Run two steps with the fixed gradients G1 then G2 set on a single parameter."""
    p = ag.Tensor(P0, requires_grad=True, name="p")
    opt = optimizer_cls([p], **kwargs)
    for g in (G1, G2):
        p.grad = g.copy()
        opt.step()
    return p.data


def test_gradient_descent_two_steps():
    lr = 0.1
    expected = P0 - lr * G1
    expected = expected - lr * G2
    np.testing.assert_allclose(two_steps(ag.optim.GradientDescent, lr=lr), expected, rtol=0, atol=1e-15)


def test_momentum_two_steps():
    lr, beta = 0.1, 0.9
    v1 = (1 - beta) * G1                 # v starts at 0
    p1 = P0 - lr * v1
    v2 = beta * v1 + (1 - beta) * G2
    p2 = p1 - lr * v2
    np.testing.assert_allclose(two_steps(ag.optim.Momentum, lr=lr, beta=beta), p2, rtol=0, atol=1e-15)


def test_adam_two_steps_with_bias_correction():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    v1, s1 = (1 - b1) * G1, (1 - b2) * G1 ** 2
    p1 = P0 - lr * (v1 / (1 - b1)) / (np.sqrt(s1 / (1 - b2)) + eps)          # t = 1
    v2, s2 = b1 * v1 + (1 - b1) * G2, b2 * s1 + (1 - b2) * G2 ** 2
    p2 = p1 - lr * (v2 / (1 - b1 ** 2)) / (np.sqrt(s2 / (1 - b2 ** 2)) + eps)  # t = 2
    got = two_steps(ag.optim.Adam, lr=lr, beta1=b1, beta2=b2, eps=eps)
    np.testing.assert_allclose(got, p2, rtol=1e-14, atol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # With bias correction the first step moves each entry by about lr * sign(g).
    p = ag.Tensor(P0, requires_grad=True)
    p.grad = G1.copy()
    ag.optim.Adam([p], lr=0.01).step()
    moved = P0 - p.data
    np.testing.assert_allclose(moved[G1 != 0], 0.01 * np.sign(G1[G1 != 0]), rtol=1e-6)
    assert moved[G1 == 0].tolist() == [0.0]


def test_dict_params_and_skipping_params_without_grad():
    params = {"W1": ag.Tensor(P0, requires_grad=True), "b1": ag.Tensor(np.zeros((2, 1)), requires_grad=True)}
    params["W1"].grad = G1.copy()
    opt = ag.optim.GradientDescent(params, lr=1.0)
    opt.step()
    np.testing.assert_array_equal(params["W1"].data, P0 - G1)
    np.testing.assert_array_equal(params["b1"].data, np.zeros((2, 1)))
    assert params["b1"]._version == 0 and params["W1"]._version == 1


def test_zero_grad_resets_every_grad():
    ps = [ag.Tensor(P0, requires_grad=True), ag.Tensor(P0, requires_grad=True)]
    (ps[0] * ps[1]).sum().backward()
    assert all(p.grad is not None for p in ps)
    ag.optim.Momentum(ps, lr=0.1).zero_grad()
    assert all(p.grad is None for p in ps)


def test_step_from_backward_then_stale_graph_is_caught():
    w = ag.Tensor(P0, requires_grad=True, name="w")
    cost = (w * w).sum()
    opt = ag.optim.GradientDescent([w], lr=0.1)
    cost.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad, 2 * P0)
    opt.step()
    np.testing.assert_array_equal(w.data, P0 - 0.1 * (2 * P0))
    with pytest.raises(InplaceModificationError):
        cost.backward()


@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
def test_no_parameters(cls):
    with pytest.raises(ValueError, match=f"{cls.__name__}: no parameters"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="no parameters"):
        cls({}, lr=0.1)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning rate lr must be"):
        ag.optim.GradientDescent([ag.Tensor(P0, requires_grad=True)], lr=lr)


@pytest.mark.parametrize("kwargs, name", [({"beta": 1.0}, "beta"), ({"beta": -0.1}, "beta")])
def test_bad_momentum_beta(kwargs, name):
    with pytest.raises(ValueError, match=rf"Momentum: {name} must be in \[0, 1\)"):
        ag.optim.Momentum([ag.Tensor(P0, requires_grad=True)], lr=0.1, **kwargs)


@pytest.mark.parametrize("kwargs, name", [({"beta1": 1.0}, "beta1"), ({"beta2": 1.5}, "beta2"),
                                          ({"beta1": float("nan")}, "beta1")])
def test_bad_adam_betas(kwargs, name):
    with pytest.raises(ValueError, match=f"Adam: {name} must be"):
        ag.optim.Adam([ag.Tensor(P0, requires_grad=True)], lr=0.1, **kwargs)


def test_non_tensor_parameter():
    with pytest.raises(TypeError, match="parameter 0 is a ndarray; expected a Tensor"):
        ag.optim.GradientDescent([P0], lr=0.1)


def test_gradient_descent_on_read_only_data_makes_a_new_array():
    frozen = P0.copy()
    frozen.flags.writeable = False
    p = ag.Tensor(P0, requires_grad=True)
    p.data = frozen  # e.g. an array memory-mapped read-only
    p.grad = G1.copy()
    ag.optim.GradientDescent([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, P0 - 0.1 * G1)
    np.testing.assert_array_equal(frozen, P0)  # left alone
    assert p._version == 2  # the assignment above, then the step


def test_gradient_descent_keeps_a_float32_parameter_float32():
    p = ag.Tensor(P0.astype(np.float32), requires_grad=True)
    p.grad = G1.copy()  # float64
    ag.optim.GradientDescent([p], lr=0.1).step()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.data, (P0 - 0.1 * G1).astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
def test_every_optimizer_updates_the_parameters_own_array_and_bumps_its_version(cls):
    p = ag.Tensor(P0.copy(), requires_grad=True)
    array = p.data
    opt = cls([p], lr=0.1)
    for step, g in enumerate((G1, G2), start=1):
        p.grad = g.copy()
        opt.step()
        assert p.data is array and p._version == step
    assert not np.array_equal(array, P0)


@pytest.mark.parametrize("cls", [ag.optim.Momentum, ag.optim.Adam])
def test_moment_optimizers_keep_float32_and_fall_back_on_read_only_data(cls):
    p = ag.Tensor(P0.astype(np.float32), requires_grad=True)
    p.grad = G1.astype(np.float32)
    cls([p], lr=0.1).step()
    assert p.dtype == np.float32
    frozen = P0.copy()
    frozen.flags.writeable = False
    q = ag.Tensor(P0, requires_grad=True)
    q.data = frozen
    q.grad = G1.copy()
    opt = cls([q], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(frozen, P0)  # left alone
    expected = two_steps(cls, lr=0.1)  # the same first step on a writable parameter, then a second
    q.grad = G2.copy()
    opt.step()
    np.testing.assert_array_equal(q.data, expected)


def test_a_gradient_of_the_wrong_shape_is_refused_naming_the_parameter_before_any_update():
    ok, bad = ag.Tensor(P0, requires_grad=True), ag.Tensor(P0, requires_grad=True)
    ok.grad, bad.grad = G1.copy(), np.ones((1, 2))
    opt = ag.optim.Adam([ok, bad], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: parameter 1 has shape \(2, 2\) but its .grad has shape \(1, 2\)"):
        opt.step()
    np.testing.assert_array_equal(ok.data, P0)  # nothing moved: the step is all or nothing
    np.testing.assert_array_equal(bad.data, P0)
    assert opt.t == 0 and ok._version == 0


def test_a_parameter_that_changed_shape_is_refused_by_its_running_moments():
    p = ag.Tensor(P0, requires_grad=True)
    opt = ag.optim.Momentum([p], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    p.data, p.grad = np.ones((3, 2)), np.ones((3, 2))
    with pytest.raises(ValueError, match=r"Momentum: parameter 0 changed shape from \(2, 2\) to \(3, 2\)"):
        opt.step()
