"""Round 18 (adv95): Adam's second moment at huge float32 gradients, hyperparameters checked when
set, wrong-type numbers named, and rates that are 0 in the dtype of the update. Expected values
come from the formulas evaluated in float64 (independent of autograd_lite), or from PyTorch as the
optional oracle."""
import decimal
import fractions

import numpy as np
import pytest

import autograd_lite as ag
from oracles import torch

B1, B2, EPS = 0.9, 0.999, 1e-8


def _adam_formula(p0, grads, lr, b1=B1, b2=B2, eps=EPS):
    """Adam by SEEDS' formula in float64, where none of the gradients here overflows."""
    p = p0.astype(np.float64)
    v, s = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = np.asarray(g, np.float64)
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g ** 2
        p = p - lr * (v / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
    return p


def _torch_adam(p0, grads, lr):
    """torch.optim.Adam's parameter after steps with ``grads`` (the oracle; skips without PyTorch)."""
    pt = torch.tensor(p0.copy(), requires_grad=True)
    opt = torch.optim.Adam([pt], lr=lr)
    for g in grads:
        pt.grad = torch.tensor(g)
        opt.step()
    return pt.detach().numpy()


def _run_adam(p0, grads, lr=0.1, **kwargs):
    p = ag.Tensor(p0.copy(), requires_grad=True)
    opt = ag.optim.Adam([p], lr=lr, **kwargs)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no step overflows on the way
        for g in grads:
            p.grad = np.asarray(g, p0.dtype)
            opt.step()
    return p, opt


# --- 1. a huge finite gradient: ((1 - b2) dp) dp and sqrt(s) / sqrt(1 - b2**t), as PyTorch ------
@pytest.mark.parametrize("dtype, g", [(np.float32, 2e19), (np.float32, 1e20), (np.float32, -5e20),
                                      (np.float64, 2e154), (np.float64, -4e155)])
def test_adam_moves_by_lr_at_a_gradient_whose_square_overflows(dtype, g):
    # first step: v_hat = g, s_hat = g**2, so p = 1 - lr g / (|g| + eps) (dp**2 alone is inf in the dtype)
    p, opt = _run_adam(np.array([1.0, 2.0], dtype), [[g, 0.0]])
    assert np.isfinite(opt.state[0]["s"]).all()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * g / (abs(g) + EPS), 2.0], rtol=1e-6)
    assert p.data[1] == 2.0


def test_adam_float32_keeps_moving_after_a_huge_gradient():
    grads = [[1e20], [1.0], [1.0], [-3.0], [1e19]]
    p, _ = _run_adam(np.array([1.0], np.float32), grads)
    np.testing.assert_allclose(p.data, _adam_formula(np.array([1.0]), grads, 0.1), rtol=1e-5)
    assert p.data[0] < 0.7  # the old order froze it at 1.0 from the first step on


def test_adam_float32_with_huge_gradients_matches_torch():
    rng = np.random.default_rng(18)
    p0 = rng.standard_normal(64).astype(np.float32)
    grads = [(rng.standard_normal(64) * 10.0 ** rng.uniform(-3, 20.5, 64)).astype(np.float32) for _ in range(12)]
    p, _ = _run_adam(p0, grads, lr=0.05)
    expected = _torch_adam(p0, grads, 0.05)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(p.data, expected, rtol=1e-5, atol=1e-6)


def test_adam_float64_matches_torch_over_many_steps():
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) * 10.0 ** rng.uniform(-3, 2, (4, 3)) for _ in range(40)]
    p, _ = _run_adam(p0, grads, lr=0.01)
    np.testing.assert_allclose(p.data, _torch_adam(p0, grads, 0.01), rtol=1e-12, atol=1e-14)


def test_adam_overflowing_where_torch_does_still_raises_before_any_change():
    # (1 - b2) g g = 1e-3 * 1e42 is beyond float32 (as in PyTorch): refused under errstate, nothing changed
    p = ag.Tensor(np.array([1.0], np.float32), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.1)
    p.grad = np.array([1e21], np.float32)
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        opt.step()
    assert p.data[0] == 1.0 and opt.state == [{}] and opt.t == 0


# --- 2. every hyperparameter is checked when set, with the constructor's message ------------------
SETTINGS = [("Adam", "beta1", 1.0), ("Adam", "beta2", -0.5), ("Adam", "beta2", 1.5), ("Adam", "eps", -1.0),
            ("Adam", "eps", float("nan")), ("Adam", "eps", 0.0), ("Adam", "lr", float("inf")),
            ("Momentum", "beta", 3.0), ("Momentum", "beta", float("nan")), ("GradientDescent", "lr", -0.1)]


@pytest.mark.parametrize("name, attr, value", SETTINGS)
def test_a_hyperparameter_set_between_steps_is_refused_as_the_constructor_refuses_it(name, attr, value):
    cls = getattr(ag.optim, name)
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(ValueError) as made:
        cls([p], **{"lr": 0.1, attr: value})
    opt = cls([p], lr=0.1)
    before = getattr(opt, attr)
    with pytest.raises(ValueError) as changed:
        setattr(opt, attr, value)
    assert str(changed.value) == str(made.value) and str(made.value).startswith(f"{name}: ")
    assert attr in str(changed.value) and getattr(opt, attr) == before


def test_adam_betas_and_eps_changed_between_steps_follow_the_formula():
    g1, g2 = np.array([0.5, -0.25]), np.array([0.125, 1.0])
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.1)
    p.grad = g1.copy()
    opt.step()
    opt.beta1, opt.beta2, opt.eps = np.array(0.5), 0.99, 1e-3  # (a 0-d array is the number it holds)
    assert (type(opt.beta1), opt.beta1, opt.beta2, opt.eps) == (float, 0.5, 0.99, 1e-3)
    p.grad = g2.copy()
    opt.step()
    v1, s1 = 0.1 * g1, 0.001 * g1 ** 2
    p1 = np.array([1.0, 2.0]) - 0.1 * (v1 / 0.1) / (np.sqrt(s1 / 0.001) + 1e-8)
    v2, s2 = 0.5 * v1 + 0.5 * g2, 0.99 * s1 + 0.01 * g2 ** 2
    p2 = p1 - 0.1 * (v2 / (1 - 0.5 ** 2)) / (np.sqrt(s2 / (1 - 0.99 ** 2)) + 1e-3)
    np.testing.assert_allclose(p.data, p2, rtol=1e-14)


def test_momentum_beta_changed_between_steps_follows_the_formula():
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = ag.optim.Momentum([p], lr=0.5)
    for beta, g in ((0.9, g1), (0.0, g2)):  # beta 0: v = dp, the step is plain gradient descent
        opt.beta = beta
        p.grad = g.copy()
        opt.step()
    v1 = 0.1 * g1
    np.testing.assert_allclose(p.data, np.array([1.0, 2.0]) - 0.5 * v1 - 0.5 * g2, rtol=0, atol=1e-15)


# --- 3. a number of another type: refused naming its type and the types taken --------------------
WRONG_TYPES = [(ag.Tensor(0.1), "autograd_lite.Tensor of shape () and dtype float64", "0.1"),
               (ag.Tensor([0.1]), "autograd_lite.Tensor of shape (1,) and dtype float64", "0.1"),
               (decimal.Decimal("0.1"), "decimal.Decimal", "0.1"),
               (True, "bool", "1.0"),
               (np.array([0.1]), "numpy.ndarray of shape (1,) and dtype float64", "0.1"),
               (np.array([0.1, 0.2]), "numpy.ndarray of shape (2,) and dtype float64", None),
               ("0.1", "str", "0.1"),
               (None, "NoneType", None)]
EXPECTED_TYPES = "expected an int, float, Fraction, NumPy real scalar or 0-d real ndarray"


def _refusal(call):
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("value, type_text, as_float", WRONG_TYPES)
def test_a_rate_of_another_type_is_refused_naming_its_type(value, type_text, as_float):
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Adam([p], 0.1)
    schedule = ag.optim.lr_schedule.step(0.1, 1.0, 10)
    for where, call in [("GradientDescent: learning rate lr", lambda: ag.optim.GradientDescent([p], value)),
                        ("Adam: learning rate lr", lambda: setattr(opt, "lr", value)),
                        ("Adam: beta1", lambda: setattr(opt, "beta1", value)),
                        ("Momentum: beta", lambda: ag.optim.Momentum([p], 0.1, beta=value)),
                        ("lr_schedule.step: epoch", lambda: schedule(value))]:
        message = _refusal(call)
        assert message.startswith(f"{where} must be a finite number, got ")
        assert f"(type {type_text}), which is not taken as a number here: {EXPECTED_TYPES}" in message
        assert (f" gives {as_float}: pass that if it is the number meant" in message) == (as_float is not None)
    assert (opt.lr, opt.beta1) == (0.1, 0.9)


def test_a_torch_tensor_rate_is_refused_naming_its_type():
    # torch.optim takes a Tensor lr (and reads it at each step); here numbers are numbers, as for keep_prob
    p = ag.Tensor(np.ones(2), requires_grad=True)
    message = _refusal(lambda: ag.optim.GradientDescent([p], torch.tensor(0.5)))
    assert "(type torch.Tensor of shape () and dtype torch.float32)" in message
    assert EXPECTED_TYPES in message and "float(x) gives 0.5" in message


@pytest.mark.parametrize("value", [np.array(0.25), np.float32(0.25), fractions.Fraction(1, 4), 0.25])
def test_the_types_the_message_names_are_taken(value):
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Adam([p], value, beta1=value, eps=value)
    assert (opt.lr, opt.beta1, opt.eps) == (0.25, 0.25, 0.25)
    assert ag.optim.lr_schedule.exponential(value, 1.0)(value) == 0.25 / 1.25


def test_a_non_finite_number_keeps_its_message():
    p = ag.Tensor(np.ones(2), requires_grad=True)
    message = _refusal(lambda: ag.optim.GradientDescent([p], float("nan")))
    assert message == "GradientDescent: learning rate lr must be a finite number, got nan"


# --- 4. a rate that is 0 in the dtype of the update: refused at the step, before any change ------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_an_eps_that_is_0_in_float32_is_refused_at_the_step_before_any_change(dtype):
    # float16 works in float32 too; 1e-50 is 0 there, and a zero gradient entry would be 0 / 0 = NaN
    ok = ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)  # float64: 1e-50 is usable there
    p = ag.Tensor(np.array([1.0, 2.0], dtype), requires_grad=True, name="w")
    opt = ag.optim.Adam([ok, p], lr=0.1, eps=1e-50)
    ok.grad, p.grad = np.array([1.0, 0.0]), np.array([0.0, 1.0], dtype)
    message = _refusal(opt.step)
    smallest = f"{np.finfo(np.float32).smallest_subnormal:.4g}"
    assert message.startswith("Adam: eps = 1e-50 rounds to 0 in float32, the dtype in which parameter 1 ('w') "
                              f"(a {np.dtype(dtype)} parameter) is updated")
    assert f"use at least {smallest}" in message and smallest == "1.401e-45"
    assert ok.data.tolist() == [3.0, 4.0] and p.data.tolist() == [1.0, 2.0]
    assert opt.state == [{}, {}] and opt.t == 0 and (ok._version, p._version) == (0, 0)
    opt.eps = 1.5e-45  # the smallest float32 > 0, rounded: the step goes through, no NaN
    with np.errstate(invalid="raise", divide="raise"):
        opt.step()
    np.testing.assert_allclose(p.data.astype(np.float64), [1.0, 1.9], rtol=1e-3)
    np.testing.assert_allclose(ok.data, _adam_formula(np.array([3.0, 4.0]), [[1.0, 0.0]], 0.1, eps=1e-50), rtol=1e-15)


def test_an_eps_set_between_steps_to_0_in_float32_is_refused_at_the_next_step():
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.1)
    p.grad = np.array([0.5, 0.0], np.float32)
    opt.step()
    data, state = p.data.copy(), {k: np.copy(v) for k, v in opt.state[0].items() if k in ("v", "s", "t")}
    opt.eps = 1e-46
    assert "eps = 1e-46 rounds to 0 in float32" in _refusal(opt.step)
    np.testing.assert_array_equal(p.data, data)
    assert all(np.array_equal(opt.state[0][k], v) for k, v in state.items()) and opt.t == 1


@pytest.mark.parametrize("name", ["GradientDescent", "Momentum", "Adam"])
def test_an_lr_that_is_0_in_float32_is_refused_at_the_step(name):
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = getattr(ag.optim, name)([p], lr=1e-50)
    p.grad = np.array([1.0, 1.0], np.float32)
    message = _refusal(opt.step)
    assert message.startswith(f"{name}: learning rate lr = 1e-50 rounds to 0 in float32") and "1.401e-45" in message
    assert p.data.tolist() == [1.0, 2.0] and opt.t == 0


def test_a_tiny_rate_on_a_float64_parameter_is_used_as_given():
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = ag.optim.GradientDescent([p], lr=1e-300)
    p.grad = np.array([1e300, 0.0])
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 1e-300 * 1e300, 2.0], rtol=1e-15)


def test_the_bound_is_where_float32_rounds_to_0():
    half = float(np.finfo(np.float32).smallest_subnormal) / 2  # 2**-150: ties-to-even rounds it to 0
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.1, eps=half)
    p.grad = np.array([0.0, 1.0], np.float32)
    assert f"eps = {half!r} rounds to 0 in float32" in _refusal(opt.step)
    opt.eps = np.nextafter(half, 1.0)  # rounds up to 2**-149: > 0, so the zero gradient entry stays put
    with np.errstate(invalid="raise", divide="raise"):
        opt.step()
    np.testing.assert_allclose(p.data, [1.0, 1.9], rtol=1e-6)


def test_a_large_rate_on_a_float32_parameter_is_not_cast_by_the_check():
    p = ag.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = ag.optim.GradientDescent([p], lr=1e30)
    p.grad = np.array([1.0, 0.0], np.float32)
    with np.errstate(over="raise"):
        opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 1e30, 2.0], rtol=1e-6)
