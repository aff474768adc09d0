"""Property tests of the core: random broadcasting expressions and the
unbroadcast rule, autodiff against central differences (hypothesis)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as ag

SMOOTH_UNARY = [ag.tanh, ag.sigmoid, ag.square, lambda x: ag.exp(ag.tanh(x)), lambda x: ag.sqrt(1 + x * x)]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (2 + ag.tanh(b))]


@st.composite
def broadcast_expression(draw):
    """Two or three inputs of mutually broadcastable shapes and a random
    expression tree over them, returning (function, input arrays)."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=draw(st.integers(2, 3)),
                                                    max_dims=3, max_side=3)).input_shapes
    inputs = [draw(hnp.arrays(np.float64, s, elements=st.floats(-2, 2))) for s in shapes]
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 99)),
                          min_size=1, max_size=6))

    def f(*xs):
        values = list(xs)
        for unary, i, j in steps:
            if unary:
                values.append(SMOOTH_UNARY[i % len(SMOOTH_UNARY)](values[j % len(values)]))
            else:
                values.append(BINARY[i % len(BINARY)](values[j % len(values)], values[i % len(values)]))
        return sum(v.sum() for v in values[len(xs):]) + sum(x.sum() * 0.1 for x in xs)
    return f, inputs


@given(broadcast_expression())
def test_random_broadcasting_expressions_match_numerical_gradients(case):
    f, inputs = case
    result = ag.gradcheck(f, inputs, eps=1e-6)
    assert result.difference < 1e-6, str(result)


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
def test_gradient_of_a_broadcast_sum_counts_the_copies(shapes):
    # d/dx sum(x + y) = how many output elements each element of x reaches.
    x_shape, y_shape = shapes.input_shapes
    x = ag.Tensor(np.zeros(x_shape), requires_grad=True)
    (x + np.zeros(y_shape)).sum().backward()
    copies = np.prod(shapes.result_shape, dtype=int) // max(np.prod(x_shape, dtype=int), 1)
    assert x.grad.shape == x_shape
    np.testing.assert_array_equal(x.grad, np.full(x_shape, float(copies)))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=5),
                  elements=st.floats(-3, 3)),
       st.integers(1, 4))
def test_matmul_gradients_are_the_transposed_products(a, k):
    b = np.linspace(-1, 1, a.shape[1] * k).reshape(a.shape[1], k)
    seed = np.linspace(0.5, 2.0, a.shape[0] * k).reshape(a.shape[0], k)
    ta, tb = ag.Tensor(a, requires_grad=True), ag.Tensor(b, requires_grad=True)
    (ta @ tb).backward(seed)
    np.testing.assert_allclose(ta.grad, seed @ b.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad, a.T @ seed, rtol=1e-12, atol=1e-12)
