"""The NumPy protocol, round 20: keepdims takes only True or False on every route (a string such as
"False" would be taken for True), and a refused NumPy function names the recorded spelling to use."""
import numpy as np
import pytest

import autograd_lite as ag

X = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("call, op", [
    (lambda v: np.sum(ag.Tensor(X), axis=0, keepdims=v), "sum"),
    (lambda v: np.mean(ag.Tensor(X), axis=0, keepdims=v), "mean"),
    (lambda v: np.var(ag.Tensor(X), axis=0, keepdims=v), "var"),
    (lambda v: np.max(ag.Tensor(X), axis=0, keepdims=v), "max"),
    (lambda v: ag.Tensor(X).mean(axis=0, keepdims=v), "mean"),
    (lambda v: ag.Tensor(X).std(0, None, None, 0, v), "std"),
    (lambda v: ag.logsumexp(X, axis=0, keepdims=v), "logsumexp"),
    (lambda v: ag.sum(X, 0, v), "sum"),
])
@pytest.mark.parametrize("value", ["False", "no", None, 1])
def test_keepdims_that_is_not_a_bool_is_refused_naming_the_op(call, op, value):
    with pytest.raises(TypeError, match=rf"^{op}\(keepdims=...\): expected True or False"):
        call(value)


@pytest.mark.parametrize("value, shape", [(True, (1, 3)), (np.True_, (1, 3)), (False, (3,)), (np.False_, (3,))])
def test_keepdims_bools_keep_numpys_shapes(value, shape):
    assert np.sum(ag.Tensor(X), axis=0, keepdims=value).shape == np.sum(X, axis=0, keepdims=bool(value)).shape == shape
    assert ag.logsumexp(X, axis=0, keepdims=value).shape == shape
    _, tangent = ag.jvp(lambda v: ag.logsumexp(v, 0, keepdims=value), (X,), (np.ones_like(X),))
    np.testing.assert_allclose(tangent, np.ones(shape), rtol=1e-15)  # (softmax weights sum to 1)


@pytest.mark.parametrize("func, spelling", [
    (np.ravel, "ag.reshape"), (np.fabs, "ag.abs"), (np.reciprocal, "ag.divide"), (np.flip, r"t\[::-1\]"),
    (lambda t: np.float_power(t, 2), "ag.power"),
])
def test_a_refused_numpy_function_names_the_recorded_spelling(func, spelling):
    with pytest.raises(TypeError, match=f"not differentiable on autograd_lite Tensors; .*{spelling}"):
        func(ag.Tensor(X, requires_grad=True))
