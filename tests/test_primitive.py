"""The public extension mechanism: user-defined primitives with their VJPs."""
import numpy as np
import pytest

import autograd_lite as ag


@ag.primitive
def cube(x):
    """x ** 3 elementwise."""
    return x ** 3


cube.defvjp(lambda g, out, x: g * 3 * x ** 2)


def test_readme_example_first_and_second_order():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    cube(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])
    assert ag.grad(ag.grad(lambda x: cube(x).sum()))(2.0) == 12.0


def test_custom_primitive_passes_gradcheck_with_broadcasting_and_params():
    @ag.primitive(name="scaled_softplus")
    def scaled_softplus(x, scale):
        return scale * np.log1p(np.exp(x))

    scaled_softplus.defvjp(lambda g, out, x, scale: g * scale / (1 + ag.exp(-x)))
    rng = np.random.default_rng(0)
    result = ag.gradcheck(lambda x, b: (scaled_softplus(x + b, scale=2.0) ** 2).sum(),
                          [rng.normal(size=(3, 4)), rng.normal(size=(3, 1))])
    assert result.passed, str(result)


def test_a_wrong_vjp_is_caught_by_gradcheck():
    @ag.primitive
    def broken_square(x):
        return x ** 2

    broken_square.defvjp(lambda g, out, x: g * x)  # missing the factor 2
    result = ag.gradcheck(lambda x: broken_square(x).sum(), [np.array([1.0, 2.0, 3.0])])
    assert not result.passed
    assert result.difference == pytest.approx(1 / 3, rel=1e-6)  # |g - 2g| / (|g| + |2g|)
    assert "FAILED" in str(result) and "worst entry" in str(result)


def test_input_without_vjp_is_reported_when_it_needs_a_gradient():
    @ag.primitive
    def scale_by(x, s):
        return x * s

    scale_by.defvjp(lambda g, out, x, s: g * s, None)
    x, s = ag.Tensor([1.0], requires_grad=True), ag.Tensor([2.0], requires_grad=True)
    scale_by(x, ag.Tensor([2.0])).sum().backward()
    assert x.grad[0] == 2.0
    with pytest.raises(ag.GraphError, match="not differentiable with respect to input 1"):
        scale_by(x, s).sum().backward()


def test_builtin_ops_are_primitives_of_the_same_kind():
    for op in (ag.add, ag.matmul, ag.relu, ag.sigmoid, ag.sum, ag.exp):
        assert isinstance(op, ag.Primitive)
    assert ag.sigmoid(np.array([0.0]))._prim is None  # nothing to differentiate: no node
    x = ag.Tensor([0.0], requires_grad=True)
    assert ag.sigmoid(x)._prim is ag.sigmoid


@pytest.mark.parametrize("n_inputs", [1, 2, 3, 4])
def test_each_rule_runs_only_for_inputs_that_need_a_gradient_whatever_the_number_of_inputs(n_inputs):
    # w0*x0 + w1*x1 + ...: d/dx_i = w_i, by hand; every input count takes the same route
    # to its rules (up to three inputs they are called with plain arguments)
    called = []

    def rule(i):
        def vjp(g, out, *xs):
            called.append(i)
            return g * (i + 1.0)
        return vjp

    weighted = ag.Primitive(lambda *xs: sum((i + 1.0) * x for i, x in enumerate(xs)), "weighted",
                            vjps=[rule(i) for i in range(n_inputs)])
    rng = np.random.default_rng(n_inputs)
    xs = [ag.Tensor(rng.normal(size=(2, 3)), requires_grad=i % 2 == 0) for i in range(n_inputs)]
    weighted(*xs).sum().backward()
    assert called == [i for i in range(n_inputs) if i % 2 == 0]
    for i, x in enumerate(xs):
        if i % 2 == 0:
            np.testing.assert_array_equal(x.grad, np.full((2, 3), i + 1.0))
        else:
            assert x.grad is None


@pytest.mark.parametrize("n_inputs", [1, 2, 3])
def test_a_missing_rule_is_named_for_every_number_of_inputs(n_inputs):
    rules = [lambda g, out, *xs: g] * (n_inputs - 1) + [None]
    op = ag.Primitive(lambda *xs: sum(xs), "partial", vjps=rules)
    xs = [ag.Tensor(np.ones(2), requires_grad=True) for _ in range(n_inputs)]
    with pytest.raises(ag.GraphError, match=f"not differentiable with respect to input {n_inputs - 1}"):
        op(*xs).sum().backward()
    short = ag.Primitive(lambda *xs: sum(xs), "short", vjps=rules[:-1])  # fewer rules than inputs
    with pytest.raises(ag.GraphError, match=f"not differentiable with respect to input {n_inputs - 1}"):
        short(*xs).sum().backward()
