"""requires_grad switched on inside a function, round 21: a tensor keeps where it was made (``born``)
when it first requires grad and moves on graphs, so what a transform or a trace closes over stays
told apart from what the function made (adv126 #3, #4)."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def test_switching_a_closed_over_tensor_on_and_off_does_not_get_round_the_transform_refusal():
    buffer = ag.Tensor(np.zeros(2))

    def f(x):
        buffer.requires_grad_(True)  # (its first time: it moves on graphs, yet was made before the call)
        buffer.requires_grad_(False)
        buffer.__iadd__(x * 1.0)
        return (x * x).sum()
    with pytest.raises(ag.GraphError, match=r"'\+=' inside a transform .* on a tensor its f closes over"):
        ag.grad(f)(np.array([1.0, 2.0]))
    assert buffer.is_leaf and not buffer.requires_grad
    np.testing.assert_array_equal(buffer.data, [0.0, 0.0])  # (refused before the write)


@pytest.mark.parametrize("used_before", [False, True], ids=["first used after", "used before too"])
def test_a_closed_over_constant_made_to_require_grad_inside_a_compiled_function_matches_eager(used_before):
    def make():
        c = ag.Tensor(np.array([3.0, 4.0]))

        def g(x):
            before = (x * c).sum() if used_before else 0.0  # c a constant here, in eager code ...
            c.requires_grad_(True)
            return (x * c).sum() + before  # ... and a variable here
        return c, g
    (c, g), (c_eager, g_eager) = make(), make()
    compiled = ag.compile(g)
    for call in range(3):  # (the first call makes c require grad; later ones find it so from the start)
        x, x_eager = (ag.Tensor(np.array([1.0, 2.0]) + call, requires_grad=True) for _ in range(2))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, y_eager = compiled(x), g_eager(x_eager)
        messages = [str(w.message) for w in caught]
        assert not any("another thread" in m for m in messages), messages
        if call == 0 and not used_before:  # (taken as captured from its first use on: run eagerly, saying why)
            assert any("require grad (requires_grad_(True)) while it runs" in m for m in messages), messages
        c.grad = c_eager.grad = None
        y.backward()
        y_eager.backward()
        np.testing.assert_array_equal(y.data, y_eager.data)
        np.testing.assert_array_equal(x.grad, x_eager.grad)
        np.testing.assert_array_equal(c.grad, c_eager.grad)
    # eager's own numbers, by hand: the first call's c gets x's value from its use after requires_grad_ alone
    assert y_eager.data == (2 if used_before else 1) * (3.0 * 3 + 4.0 * 4)
    np.testing.assert_array_equal(c_eager.grad, [(2 if used_before else 1) * 3.0, (2 if used_before else 1) * 4.0])


def test_a_leaf_keeps_its_place_in_creation_order_for_closed_over_checks_after_switching():
    w = ag.Tensor(np.array([1.0, 2.0]))
    w.requires_grad_(True)  # (first time: moved on graphs, as PyTorch's new AccumulateGrad)
    loss = (w * w).sum()
    w.requires_grad_(False)
    w.requires_grad_(True)  # (back on: the graph recorded meanwhile still reaches it)
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_requires_grad_true_on_an_op_output_that_requires_grad_changes_nothing():
    # (adv131 A) as PyTorch's: h already requires grad, so the graph recorded before keeps reaching x
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    loss = (h * 3.0).sum()
    h.requires_grad_(True)
    h.requires_grad = True
    loss.backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_a_variable_made_to_require_grad_again_inside_a_nested_transform_keeps_its_derivatives():
    def f(x):
        r = ag.sum(ag.sin(x) * x * x)
        x.requires_grad_(True)  # (x, the transform's variable, requires grad already: a no-op)
        return r
    x = np.array([0.3, -1.2])
    # d2/dx2 of sin(x) x^2, entry by entry: (2 - x^2) sin(x) + 4 x cos(x)
    expected = np.diag((2 - x ** 2) * np.sin(x) + 4 * x * np.cos(x))
    np.testing.assert_allclose(ag.hessian(f)(x), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ag.grad(f)(x), 2 * x * np.sin(x) + x ** 2 * np.cos(x), rtol=1e-14)


def test_a_leaf_made_to_require_grad_while_it_does_is_not_moved():
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    w.requires_grad_(True)
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])
