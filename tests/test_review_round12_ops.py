"""Review round 12, the public ops: each built-in op has its own docstring and signature (not
NumPy's, which advertised out=, where=, dtype=), refuses keywords it does not take before its
forward runs, naming the op; the Tensor shortcuts take no argument; a masked operand or
comparison names the op. Expected values come from NumPy or hand formulas."""
import inspect
import pydoc
import re

import numpy as np
import pytest

import autograd_lite as ag

# The ops that carried NumPy's docstrings word for word or showed NumPy's signature
NUMPY_BACKED = {
    "abs": np.abs, "add": np.add, "broadcast_to": np.broadcast_to, "divide": np.true_divide, "exp": np.exp,
    "log": np.log, "maximum": np.maximum, "mean": np.mean, "minimum": np.minimum, "multiply": np.multiply,
    "negative": np.negative, "power": np.power, "reshape": np.reshape, "sqrt": np.sqrt, "square": np.square,
    "subtract": np.subtract, "sum": np.sum, "tanh": np.tanh, "transpose": np.transpose, "cos": np.cos,
    "sin": np.sin, "expm1": np.expm1, "log1p": np.log1p,
}


@pytest.mark.parametrize("name", sorted(NUMPY_BACKED) + ["matmul", "sigmoid", "relu", "max", "min"])
def test_each_builtin_op_has_its_own_docstring_opening_with_its_call(name):
    op = getattr(ag, name)
    doc = op.__doc__
    assert doc and doc.startswith(f"{name}(")
    assert doc != getattr(NUMPY_BACKED.get(name), "__doc__", None)
    assert "out :" not in doc and "Parameters\n" not in doc and "where=" not in doc  # none of NumPy's text
    assert "d/d" in doc or "gradient" in doc  # its derivative convention
    assert "shape" in doc.lower() or "elementwise" in doc  # and what its result's shape is


@pytest.mark.parametrize("name, expected", [  # inputs positional-only: the call takes none by keyword
    ("exp", "(x, /)"), ("cos", "(x, /)"), ("sin", "(x, /)"), ("expm1", "(x, /)"), ("log1p", "(x, /)"),
    ("add", "(x, y, /)"), ("power", "(x, p, /)"), ("matmul", "(a, b, /)"),
    ("sum", "(x, /, axis=None, keepdims=False)"), ("mean", "(x, /, axis=None, keepdims=False)"),
    ("reshape", "(x, /, shape)"), ("transpose", "(x, /, axes=None)"), ("broadcast_to", "(x, /, shape)"),
    ("var", "(x, /, axis=None, keepdims=False, ddof=0)"), ("leaky_relu", "(x, /, negative_slope=0.01)"),
    ("softmax", "(x, /, axis=0)"),
])
def test_inspect_signature_shows_the_ops_own_call(name, expected):
    assert str(inspect.signature(getattr(ag, name))) == expected


def test_help_shows_the_call_and_not_numpys_keywords():
    text = pydoc.render_doc(ag.exp)
    assert "exp(x): e ** x" in text and "out=None" not in text and "casting=" not in text
    assert "sum(x, axis=None, keepdims=False)" in pydoc.render_doc(ag.sum)


def test_a_user_primitive_keeps_its_forwards_doc_signature_and_keywords():
    @ag.primitive
    def scaled(x, scale=2.0):
        """scale * x."""
        return scale * x

    scaled.defvjp(lambda g, out, x, scale=2.0: g * scale)
    assert scaled.__doc__ == "scale * x." and str(inspect.signature(scaled)) == "(x, scale=2.0)"
    x = ag.Tensor([1.0, -2.0], requires_grad=True)
    y = scaled(x, scale=3.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [3.0, -6.0])
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


@pytest.mark.parametrize("call, op, keywords", [
    (lambda x, buf, mask: ag.exp(x, out=buf), "exp", "out="),
    (lambda x, buf, mask: ag.exp(x, where=mask), "exp", "where="),
    (lambda x, buf, mask: ag.add(x, 1.0, out=buf), "add", "out="),
    (lambda x, buf, mask: ag.multiply(x, x, where=mask, out=buf), "multiply", "where=, out="),
    (lambda x, buf, mask: ag.cos(x, dtype=np.float32), "cos", "dtype="),
    (lambda x, buf, mask: ag.sum(x, dtype=np.float32), "sum", "dtype="),
    (lambda x, buf, mask: ag.mean(x, axis=0, out=buf), "mean", "out="),
    (lambda x, buf, mask: ag.reshape(x, (4,), order="F"), "reshape", "order="),
    (lambda x, buf, mask: ag.sigmoid(x, out=buf), "sigmoid", "out="),
    (lambda x, buf, mask: ag.matmul(x, x, out=buf), "matmul", "out="),
])
def test_a_keyword_the_op_does_not_take_is_refused_naming_it_and_leaves_buffers_untouched(call, op, keywords):
    x = ag.Tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
    buf = np.full(4, 7.0)
    mask = np.array([True, False, True, False])
    with pytest.raises(TypeError) as caught:
        call(x, buf, mask)
    message = str(caught.value)
    assert message.startswith(f"{op}: unexpected keyword argument")
    assert keywords in message and "takes" in message
    np.testing.assert_array_equal(buf, np.full(4, 7.0))  # the forward never ran into it
    np.testing.assert_array_equal(mask, [True, False, True, False])


def test_the_refusal_says_what_the_op_takes_and_why_numpys_keywords_do_not_apply():
    x = ag.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"exp\(x, /\) takes no keyword arguments; NumPy's out= does not apply, "
                                        r"as the result is a new recorded Tensor"):
        ag.exp(x, out=np.zeros(2))
    with pytest.raises(TypeError, match=r"sum\(x, /, axis=None, keepdims=False\) takes the keywords axis, keepdims "
                                        r"only; NumPy's dtype= does not apply"):
        ag.sum(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"^where: .*every entry is computed|exp: unexpected keyword argument where="):
        ag.exp(x, where=True)


def test_calls_without_keywords_and_with_declared_keywords_are_unchanged():
    data = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    x = ag.Tensor(data, requires_grad=True)
    np.testing.assert_allclose(ag.exp(x).data, np.exp(data))
    np.testing.assert_allclose(ag.add(x, 2.0).data, data + 2.0)
    np.testing.assert_allclose(ag.sum(x, axis=1, keepdims=True).data, data.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(ag.sum(x, 0).data, data.sum(axis=0))  # a parameter by position, as NumPy
    np.testing.assert_allclose(ag.mean(x, axis=(0, 1)).data, data.mean())
    np.testing.assert_array_equal(ag.reshape(x, (3, 2)).data, data.reshape(3, 2))
    np.testing.assert_array_equal(ag.reshape(x, shape=(-1,)).data, data.ravel())
    np.testing.assert_array_equal(ag.transpose(x, axes=(1, 0)).data, data.T)
    np.testing.assert_allclose(ag.leaky_relu(x, negative_slope=0.1).data, np.where(data > 0, data, 0.1 * data))
    np.testing.assert_allclose(ag.var(x, 1, False, 1).data, data.var(axis=1, ddof=1))
    (ag.exp(x) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2.0 * np.exp(data))  # d/dx exp(x) = exp(x)
    with pytest.raises(TypeError, match=r"sum: takes 1 input\(s\) then the parameters \(axis, keepdims\)"):
        ag.sum(x, 0, True, 5)


@pytest.mark.parametrize("name, formula", [
    ("exp", np.exp), ("log", np.log), ("tanh", np.tanh), ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
    ("relu", lambda a: np.maximum(a, 0.0)), ("abs", np.abs),
])
def test_tensor_shortcuts_take_no_argument_and_have_docstrings(name, formula):
    data = np.array([0.5, 2.0, 3.0])
    t = ag.Tensor(data)
    np.testing.assert_allclose(getattr(t, name)().data, formula(data))
    with pytest.raises(TypeError, match=rf"Tensor\.{name}\(\) takes 1 positional argument but 2 were given"):
        getattr(t, name)(2)
    doc = getattr(ag.Tensor, name).__doc__
    assert f"ag.{name}(t)" in doc and f"{name}(x):" in doc and "shape" in doc
    assert list(inspect.signature(getattr(ag.Tensor, name)).parameters) == ["self"]


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "reshape", "transpose", "swapaxes", "var",
                                  "softmax", "flatten", "dot"])
def test_tensor_methods_have_docstrings_with_shapes(name):
    doc = getattr(ag.Tensor, name).__doc__
    assert doc and "shape" in doc and "Recorded ``ag.flatten``" not in doc


def test_matmul_and_shape_of_have_docstrings_and_methods_still_compute():
    assert "(n, k) @ (k, m) give (n, m)" in ag.matmul.__doc__
    assert "shape" in ag.pytree.shape_of.__doc__
    assert ag.pytree.shape_of(ag.Tensor(np.zeros((2, 3)))) == (2, 3) and ag.pytree.shape_of(1.5) == ()
    data = np.arange(24.0).reshape(2, 3, 4)
    t = ag.Tensor(data)
    np.testing.assert_array_equal(t.swapaxes(0, 2).data, np.swapaxes(data, 0, 2))
    np.testing.assert_array_equal(t.transpose(1, 0, 2).data, data.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.reshape(4, 6).data, data.reshape(4, 6))
    np.testing.assert_array_equal(t.max(axis=1).data, data.max(axis=1))
    assert ag.Tensor.swapaxes.__qualname__ == "Tensor.swapaxes"


def _masked():
    return np.ma.masked_array([1.5, 2.0, -1.0], mask=[False, True, False])


@pytest.mark.parametrize("call, label", [
    (lambda t, m: ag.exp(m), "exp"),
    (lambda t, m: ag.add(t, m), "add (+)"),
    (lambda t, m: t * m, "multiply (*)"),
    (lambda t, m: ag.sigmoid(m), "sigmoid"),
    (lambda t, m: t > m, "greater (>)"),
    (lambda t, m: t == m, "equal (==)"),
    (lambda t, m: np.less(m, t), "less"),
])
def test_a_masked_operand_or_comparison_is_refused_naming_the_op(call, label):
    t = ag.Tensor([1.0, 1.0, 1.0], requires_grad=True)
    expected = rf"^{re.escape(label)}: a numpy.ma.MaskedArray of shape \(3,\) with 1 masked entry"
    with pytest.raises(TypeError, match=expected):
        call(t, _masked())


def test_a_masked_array_with_no_masked_entry_compares_as_its_data():
    t = ag.Tensor([1.0, 2.0, 3.0])
    m = np.ma.masked_array([1.5, 2.0, -1.0], mask=False)
    result = t > m
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, [False, False, True])


def test_the_grad_setter_still_takes_a_matrix_as_its_array_and_refuses_a_masked_entry():
    t = ag.Tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.warns(PendingDeprecationWarning):  # (NumPy's, on making a matrix)
        matrix = np.matrix([[3.0, 4.0]])
    t.grad = matrix
    assert type(t.grad) is np.ndarray
    np.testing.assert_array_equal(t.grad, [[3.0, 4.0]])
    with pytest.raises(TypeError, match=r"^Tensor.grad: a numpy.ma.MaskedArray"):
        t.grad = np.ma.masked_array([[3.0, 4.0]], mask=[[True, False]])


# --- NumPy's out= given by position (np.exp(x, buf)) ---------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x, buf: ag.exp(x, buf), lambda x, buf: ag.add(x, 1.0, buf), lambda x, buf: ag.sqrt(x, buf),
    lambda x, buf: ag.matmul(x, x, buf)])
@pytest.mark.parametrize("buffer", ["array", "tensor"])
def test_an_extra_positional_argument_is_refused_and_nothing_is_written(call, buffer):
    x = ag.Tensor([1.0, 4.0], requires_grad=True)
    buf = np.zeros(2) if buffer == "array" else ag.Tensor([5.0, 5.0])
    with pytest.raises(TypeError, match=r"takes \d inputs?, got \d; NumPy's out= given by position does not apply"):
        call(x, buf)
    np.testing.assert_array_equal(buf if buffer == "array" else buf.data, [0.0, 0.0] if buffer == "array" else [5.0, 5.0])


def test_too_few_inputs_for_a_built_in_op_names_its_call():
    with pytest.raises(TypeError, match=r"^add\(x, y, /\): takes 2 inputs, got 1$"):
        ag.add(ag.Tensor([1.0]))


def test_a_user_primitive_of_a_ufunc_takes_its_inputs_alone():
    sine = ag.primitive(np.sin).defvjp(lambda g, out, x: g * np.cos(x))
    x, buf = ag.Tensor([0.5, 1.0], requires_grad=True), np.zeros(2)
    assert str(inspect.signature(sine)) == "(x, /)"
    for call in (lambda: sine(x, buf), lambda: sine(x, out=buf)):
        with pytest.raises(TypeError, match="^sin"):
            call()
    np.testing.assert_array_equal(buf, [0.0, 0.0])
    sine(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.cos([0.5, 1.0]), rtol=1e-15)


def test_a_user_primitive_with_a_fixed_number_of_inputs_and_one_with_args():
    product = ag.primitive(lambda x, y: x * y).defvjp(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)
    total = ag.primitive(lambda *xs: np.sum(xs, axis=0)).defvjp(*[lambda g, out, *xs: g] * 4)
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    (product(x, 3.0) + total(x, x, x, x)).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])  # d/dx (3x + 4x)
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        product(x)
