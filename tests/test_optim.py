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


def test_a_parameter_cannot_change_shape_under_its_running_moments():
    p = ag.Tensor(P0, requires_grad=True)
    opt = ag.optim.Momentum([p], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    with pytest.raises(ag.ShapeError, match=r"Tensor.data: the new value has shape \(3, 2\); expected \(2, 2\)"):
        p.data = np.ones((3, 2))
    assert p.shape == (2, 2)


# --- Adam's bias correction counts each parameter's own steps (as PyTorch) ---------------------
def _adam_by_hand(p0, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    """Adam over the gradients one parameter actually received, t = 1, 2, ... (independent code)."""
    p, v, s = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        p = p - lr * (v / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    return p


def test_adam_corrects_a_parameter_whose_first_gradient_arrives_at_step_6_with_t_1():
    early, late = ag.Tensor(P0, requires_grad=True), ag.Tensor(P0, requires_grad=True)
    opt = ag.optim.Adam([early, late], lr=0.01)
    early_grads = [G1 * (k + 1) for k in range(6)]
    for k in range(6):
        early.grad = early_grads[k].copy()
        late.grad = G2.copy() if k == 5 else None
        opt.step()
    np.testing.assert_allclose(late.data, _adam_by_hand(P0, [G2]), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(early.data, _adam_by_hand(P0, early_grads), rtol=1e-14, atol=1e-15)
    # First Adam step of a parameter: about lr * sign(g) per entry (with t = 6 it would be ~1/6 of that).
    moved = P0 - late.data
    np.testing.assert_allclose(moved[G2 != 0], 0.01 * np.sign(G2[G2 != 0]), rtol=1e-6)
    assert opt.state[1]["t"] == 1 and opt.state[0]["t"] == 6 and opt.t == 6


def test_adam_step_count_pauses_while_a_parameter_has_no_gradient():
    p = ag.Tensor(P0, requires_grad=True)
    other = ag.Tensor(np.ones(3), requires_grad=True)
    opt = ag.optim.Adam([p, other], lr=0.05)
    schedule = [G1, None, None, G2, None, G1]
    for g in schedule:
        p.grad = None if g is None else g.copy()
        other.grad = np.ones(3)
        opt.step()
    received = [g for g in schedule if g is not None]
    np.testing.assert_allclose(p.data, _adam_by_hand(P0, received, lr=0.05), rtol=1e-14, atol=1e-15)
    assert opt.state[0]["t"] == 3 and opt.state[1]["t"] == 6


# --- parameter lists ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
def test_a_parameter_listed_twice_is_refused_naming_both_indices(cls):
    W, b = ag.Tensor(P0, requires_grad=True), ag.Tensor(np.zeros((2, 1)), requires_grad=True)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: parameter 2 is the same Tensor as parameter 0; "
                                         "each parameter must be listed once"):
        cls([W, b, W], lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 1 \('b1'\) is the same Tensor as parameter 0 \('W1'\)"):
        cls({"W1": W, "b1": W}, lr=0.1)


def test_equal_but_distinct_tensors_are_not_duplicates():
    a, b = ag.Tensor(P0, requires_grad=True), ag.Tensor(P0, requires_grad=True)
    a.grad, b.grad = G1.copy(), G1.copy()
    ag.optim.GradientDescent([a, b], lr=1.0).step()
    np.testing.assert_array_equal(a.data, P0 - G1)
    np.testing.assert_array_equal(b.data, P0 - G1)  # stepped once each


@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
def test_an_op_output_is_refused_as_a_parameter(cls):
    W = ag.Tensor(P0, requires_grad=True)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: parameter 1 is the output of an op, not a leaf"):
        cls([W, W * 2.0], lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 0 \('scaled'\) is the output of an op"):
        cls({"scaled": W.T}, lr=0.1)


def test_a_single_tensor_instead_of_a_list_is_refused():
    with pytest.raises(TypeError, match=r"params is a single Tensor; expected a list"):
        ag.optim.Adam(ag.Tensor(P0, requires_grad=True), lr=0.1)


# --- all or nothing ------------------------------------------------------------------------------
BAD_GRADS = {
    "complex": (P0 + 1j).astype(np.complex128),
    "int": np.ones((2, 2), dtype=np.int64),
    "bool": np.ones((2, 2), dtype=bool),
    "str": np.full((2, 2), "x"),
    "object": np.full((2, 2), None, dtype=object),
}


@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
@pytest.mark.parametrize("what", list(BAD_GRADS))
def test_a_non_float_gradient_is_refused_before_any_parameter_changes(cls, what):
    first, second, third = (ag.Tensor(P0, requires_grad=True) for _ in range(3))
    opt = cls({"W1": first, "W2": second, "W3": third}, lr=0.1)
    first.grad, second.grad, third.grad = G1.copy(), BAD_GRADS[what], G2.copy()
    with pytest.raises(TypeError, match=rf"{cls.__name__}: the \.grad of parameter 1 \('W2'\) is .*expected "
                                        r"a real floating ndarray of shape \(2, 2\)"):
        opt.step()
    for p in (first, second, third):
        np.testing.assert_array_equal(p.data, P0)
        assert p._version == 0
    assert opt.t == 0 and all(not state for state in opt.state)
    # Fixing the gradient lets the very same optimizer take an ordinary first step.
    second.grad = G2.copy()
    opt.step()
    np.testing.assert_array_equal(second.data, two_steps_first(cls, G2))


def test_a_list_as_a_gradient_is_refused_when_set_before_any_step():
    """A list is no ndarray: the .grad setter refuses it, naming the tensor (as PyTorch's does),
    so no optimizer ever sees it."""
    second = ag.Tensor(P0, requires_grad=True, name="W2")
    with pytest.raises(TypeError, match=r"'W2'.*\.grad = list .*expected None or a float ndarray of shape \(2, 2\)"):
        second.grad = [["a", "b"], ["c", "d"]]
    assert second.grad is None


def two_steps_first(cls, g):
    """One step from P0 with gradient g on a fresh parameter (the reference for a first step)."""
    p = ag.Tensor(P0, requires_grad=True)
    p.grad = g.copy()
    cls([p], lr=0.1).step()
    return p.data


def test_complex_gradient_is_named_complex():
    p = ag.Tensor(P0, requires_grad=True)
    p.grad = P0 + 1j
    with pytest.raises(TypeError, match=r"Momentum: the \.grad of parameter 0 is complex"):
        ag.optim.Momentum([p], lr=0.1).step()


def test_a_parameter_cannot_be_given_int_data():
    bad = ag.Tensor(P0, requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor.data: the new value has dtype int64; expected a float dtype"):
        bad.data = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(bad.data, P0)


def test_nan_gradients_are_not_refused_as_in_pytorch():
    # torch.optim does not scan gradient values; a NaN gradient gives a NaN parameter.
    p = ag.Tensor(P0, requires_grad=True)
    p.grad = np.array([[np.nan, 0.0], [0.0, 0.0]])
    ag.optim.GradientDescent([p], lr=0.1).step()
    assert np.isnan(p.data[0, 0]) and np.array_equal(p.data.ravel()[1:], P0.ravel()[1:])


# --- hyperparameters -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -float("inf"), -1e-3, 0.0, None, "0.1"])
def test_lr_set_between_steps_is_checked_and_a_refused_value_leaves_the_old_one(cls, lr):
    opt = cls([ag.Tensor(P0, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: learning rate lr must be .*got {re_repr(lr)}"):
        opt.lr = lr
    assert opt.lr == 0.1


def re_repr(value):
    import re
    return re.escape(repr(value))


def test_lr_changed_between_steps_is_used_by_the_next_step():
    p = ag.Tensor(P0, requires_grad=True)
    opt = ag.optim.GradientDescent([p], lr=0.1)
    p.grad = G1.copy()
    opt.step()
    opt.lr = 0.5
    p.grad = G2.copy()
    opt.step()
    np.testing.assert_allclose(p.data, P0 - 0.1 * G1 - 0.5 * G2, rtol=0, atol=1e-15)
    assert opt.lr == 0.5 and "lr=0.5" in repr(opt)


@pytest.mark.parametrize("kwargs, text", [({"beta": float("nan")}, "beta must be a finite number"),
                                          ({"beta": float("inf")}, "beta must be a finite number"),
                                          ({"beta": 1.0}, r"beta must be in \[0, 1\), got 1.0")])
def test_momentum_beta_outside_0_1(kwargs, text):
    with pytest.raises(ValueError, match=f"Momentum: {text}"):
        ag.optim.Momentum([ag.Tensor(P0, requires_grad=True)], lr=0.1, **kwargs)


@pytest.mark.parametrize("kwargs, text", [({"beta2": -0.1}, r"beta2 must be in \[0, 1\), got -0.1"),
                                          ({"beta1": 1}, r"beta1 must be in \[0, 1\), got 1"),
                                          ({"eps": 0.0}, "eps must be > 0, got 0.0"),
                                          ({"eps": -1e-8}, "eps must be > 0"),
                                          ({"eps": float("nan")}, "eps must be a finite number, got nan"),
                                          ({"eps": float("inf")}, "eps must be a finite number")])
def test_adam_betas_and_eps(kwargs, text):
    with pytest.raises(ValueError, match=f"Adam: {text}"):
        ag.optim.Adam([ag.Tensor(P0, requires_grad=True)], lr=0.1, **kwargs)


def test_beta_zero_is_allowed_and_momentum_with_beta_zero_is_gradient_descent():
    p, q = ag.Tensor(P0, requires_grad=True), ag.Tensor(P0, requires_grad=True)
    p.grad, q.grad = G1.copy(), G1.copy()
    ag.optim.Momentum([p], lr=0.1, beta=0.0).step()
    ag.optim.GradientDescent([q], lr=0.1).step()
    np.testing.assert_array_equal(p.data, q.data)


# --- learning-rate schedules -----------------------------------------------------------------------
def test_exponential_schedule_values():
    schedule = ag.optim.lr_schedule.exponential(0.5, decay_rate=1.0)
    assert [schedule(e) for e in (0, 1, 3)] == [0.5, 0.25, 0.125]
    assert ag.optim.lr_schedule.exponential(0.5, 0.0)(1000) == 0.5
    assert ag.optim.lr_schedule.exponential(0.2, 0.5)(2) == 0.2 / 2.0


def test_step_schedule_is_constant_over_each_interval():
    schedule = ag.optim.lr_schedule.step(0.5, decay_rate=0.3, time_interval=100)
    assert schedule(0) == schedule(99) == 0.5
    assert schedule(100) == schedule(199) == 0.5 / 1.3
    assert schedule(250) == 0.5 / (1 + 0.3 * 2)
    assert ag.optim.lr_schedule.step(1.0, 1.0, 2.5)(5) == 1.0 / 3  # floor(5 / 2.5) = 2


@pytest.mark.parametrize("make, text", [
    (lambda s: s.exponential(0, 1), "lr_schedule.exponential: lr0 must be > 0, got 0"),
    (lambda s: s.exponential(float("nan"), 1), "lr0 must be a finite number"),
    (lambda s: s.exponential(0.1, -1), "decay_rate must be >= 0, got -1"),
    (lambda s: s.exponential(0.1, "1"), "decay_rate must be a finite number, got '1'"),
    (lambda s: s.step(0.1, 1, 0), "lr_schedule.step: time_interval must be > 0, got 0"),
    (lambda s: s.step(0.1, 1, float("inf")), "time_interval must be a finite number"),
    (lambda s: s.step(-0.1, 1, 10), "lr0 must be > 0"),
    (lambda s: s.exponential(0.1, 1)(-1), "lr_schedule.exponential: epoch must be >= 0, got -1"),
    (lambda s: s.step(0.1, 1, 10)(None), "lr_schedule.step: epoch must be a finite number, got None"),
])
def test_schedule_arguments_are_checked(make, text):
    with pytest.raises(ValueError, match=re_repr_text(text)):
        make(ag.optim.lr_schedule)


def re_repr_text(text):
    import re
    return re.escape(text)


def test_a_schedule_drives_an_optimizers_lr():
    p = ag.Tensor(P0, requires_grad=True)
    opt = ag.optim.GradientDescent([p], lr=1.0)
    schedule = ag.optim.lr_schedule.exponential(0.1, 1.0)
    expected = P0.copy()
    for epoch in range(3):
        opt.lr = schedule(epoch)
        p.grad = G1.copy()
        opt.step()
        expected = expected - 0.1 / (1 + epoch) * G1
    np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-15)
    assert ag.optim.lr_schedule.exponential.__doc__ and ag.optim.lr_schedule.step.__doc__
