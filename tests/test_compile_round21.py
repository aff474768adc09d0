"""ag.compile, round 21 (adv131 B, adv132): a compiled function returning a sigmoid's output gives
binary_cross_entropy the logits as eager code does, and an index holding Ellipsis keys the trace by
value. Expected values: eager runs of the same function, and the formulas written here."""
import math
import warnings

import numpy as np
import pytest

import autograd_lite as ag

X = np.array([[-40.0, 40.0, 0.5]])
Y = np.array([[1.0, 0.0, 1.0]])


def _forward(W, X):
    return ag.sigmoid(W @ X)


@pytest.mark.parametrize("grad", [True, False])
def test_the_cost_of_a_compiled_forward_pass_is_eagers_on_every_call(grad):
    compiled = ag.compile(_forward)
    for call in range(4):
        W, W_eager = (ag.Tensor([[1.0 + 0.1 * call]], requires_grad=grad) for _ in range(2))
        cost, cost_eager = (ag.binary_cross_entropy(f(w, X), Y) for f, w in ((compiled, W), (_forward, W_eager)))
        assert cost.item() == cost_eager.item()
        if grad:
            cost.backward()
            cost_eager.backward()
            np.testing.assert_array_equal(W.grad, W_eager.grad)
    assert compiled.replays == 3
    # by hand at W = 1: the two saturated examples cost |z| + log1p(exp(-|z|)) each; dW = sum((a - y) x) / m
    W = ag.Tensor([[1.0]], requires_grad=True)
    cost = ag.binary_cross_entropy(compiled(W, X), Y)
    cost.backward()
    a = 1 / (1 + np.exp(-X))
    expected = (2 * (40 + math.log1p(math.exp(-40))) + math.log1p(math.exp(-0.5))) / 3
    assert cost.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(W.grad, [[np.sum((a - Y) * X) / 3]], rtol=1e-12)


def test_a_compiled_sigmoid_of_an_array_argument_costs_as_eager():
    compiled = ag.compile(lambda z: ag.sigmoid(z))
    y = np.array([[1.0, 0.0]])
    for _ in range(3):
        z, z_eager = np.array([[-40.0, 40.0]]), np.array([[-40.0, 40.0]])
        a, a_eager = compiled(z), ag.sigmoid(z_eager)
        assert ag.binary_cross_entropy(a, y).item() == ag.binary_cross_entropy(a_eager, y).item() == (
            40 + math.log1p(math.exp(-40)))  # (exact, from the logits)
        z[...] = z_eager[...] = 0.0  # (the caller reuses its buffer: a's cost is as it was, as eager's)
        assert ag.binary_cross_entropy(a, y).item() == ag.binary_cross_entropy(a_eager, y).item() == (
            40 + math.log1p(math.exp(-40)))
    assert compiled.replays == 2


def test_a_compiled_result_used_inside_and_returned_replays_as_eager():
    def f(W, X):
        a = ag.sigmoid(W @ X)
        return a * (1.0 + 0.0 * ag.sum(a))  # (not the sigmoid's output itself: a mul makes the result)
    compiled = ag.compile(f)
    for call in range(3):
        W, W_eager = (ag.Tensor([[1.0]], requires_grad=True) for _ in range(2))
        out, out_eager = compiled(W, X), f(W_eager, X)
        np.testing.assert_array_equal(out.data, out_eager.data)
        ag.sum(out).backward()
        ag.sum(out_eager).backward()
        np.testing.assert_array_equal(W.grad, W_eager.grad)


@pytest.mark.parametrize("how", ["global", "argument"])
def test_an_index_holding_ellipsis_replays(how):
    x0 = np.random.default_rng(0).normal(size=(4, 5, 3))
    index = np.index_exp[..., 1]
    compiled = ag.compile((lambda t: ag.sum(t[index] ** 2)) if how == "global" else
                          (lambda t, ix: ag.sum(t[ix] ** 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no "run eagerly" warning)
        for i in range(3):
            t = ag.Tensor(x0 + i, requires_grad=True)
            out = compiled(t) if how == "global" else compiled(t, (Ellipsis, 1))
            out.backward()
            assert out.item() == pytest.approx(np.sum((x0 + i)[..., 1] ** 2), rel=1e-14)
            expected = np.zeros_like(x0)
            expected[..., 1] = 2 * (x0 + i)[..., 1]
            np.testing.assert_array_equal(t.grad, expected)
    assert compiled.replays == 2


def test_a_compiled_cost_under_no_grad_follows_its_inputs():
    # (adv136 #1) an unrecorded sigmoid's logits are the traced call's own value, recomputed on every replay
    def cost(W, X, Y):
        return ag.binary_cross_entropy(ag.sigmoid(W @ X), Y)
    compiled = ag.compile(cost)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 6)) * 10, (rng.random((1, 6)) > 0.5) * 1.0
    W = ag.Tensor(rng.standard_normal((1, 3)), requires_grad=True)
    for _ in range(4):
        with ag.no_grad():
            z = W.data @ X
            exact = float(np.mean(np.logaddexp(0, z) - Y * z))  # softplus(z) - y z, by hand
            assert compiled(W, X, Y).item() == cost(W, X, Y).item() == pytest.approx(exact, rel=1e-12)
            W *= 2.0
    assert compiled.replays == 3


@pytest.mark.parametrize("inner, outer", [(ag.no_grad, ag.enable_grad), (ag.enable_grad, ag.no_grad)])
def test_a_final_sigmoid_keeps_the_grad_mode_it_ran_in_inside_the_function(inner, outer):
    # (adv136 #2) no_grad (or enable_grad) around the sigmoid inside f holds on every replay
    def f(x):
        z = x * 2.0 if inner is ag.no_grad else None  # (recorded outside the block; inside it for enable_grad)
        with inner():
            return ag.sigmoid(x * 2.0 if z is None else z)
    compiled = ag.compile(f)
    for _ in range(3):
        x, x_eager = (ag.Tensor([0.1, -0.4, 0.3], requires_grad=True) for _ in range(2))
        with outer():
            out, out_eager = compiled(x), f(x_eager)
        assert out.requires_grad == out_eager.requires_grad == (inner is ag.enable_grad)
        np.testing.assert_array_equal(out.data, out_eager.data)
    assert compiled.replays == 2
