"""Review round 12, holes left by its fixes: a user primitive of a NumPy ufunc with more than 3 inputs
(scipy's hyp2f1) works again; float16 var and std over more than 65,504 entries; a masked array as an
index, saved, or checked by gradcheck is refused; an op's signature shows its inputs positional-only;
``masked_array * t`` says to put the tensor first. Expected values come from PyTorch (float64), NumPy on
plain arrays or hand formulas."""
import inspect
import os
import warnings

import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch

# --- 1. a user primitive of a ufunc with more than 3 inputs ---------------------------------------------


def _hyp2f1_primitive():
    special = pytest.importorskip("scipy.special")
    # d/dz 2F1(a, b; c; z) = a b / c 2F1(a + 1, b + 1; c + 1; z); a, b, c constants here
    return special, ag.primitive(special.hyp2f1).defvjp(
        None, None, None, lambda g, out, a, b, c, z: g * a * b / c * special.hyp2f1(a + 1, b + 1, c + 1, z))


def test_a_user_primitive_of_a_four_input_ufunc_computes_and_differentiates():
    _, hyp2f1 = _hyp2f1_primitive()
    z = ag.Tensor([0.1, 0.5], requires_grad=True)
    y = hyp2f1(1.0, 2.0, 3.0, z)
    y.sum().backward()
    # by hand: 2F1(1, 2; 3; z) = -2 (z + log(1 - z)) / z ** 2, and its derivative in z
    zs = np.array([0.1, 0.5])
    np.testing.assert_allclose(y.data, -2 * (zs + np.log1p(-zs)) / zs ** 2, rtol=1e-13)
    np.testing.assert_allclose(z.grad, -2 * ((1 - 1 / (1 - zs)) / zs ** 2 - 2 * (zs + np.log1p(-zs)) / zs ** 3),
                               rtol=1e-9)


def test_a_four_input_ufunc_names_its_inputs_and_refuses_out_by_position():
    _, hyp2f1 = _hyp2f1_primitive()
    z, buf = ag.Tensor([0.1, 0.5], requires_grad=True), np.zeros(2)
    assert str(inspect.signature(hyp2f1)) == "(x1, x2, x3, x4, /)"
    assert hyp2f1.arity is None  # (the fast path passes 1 to 3 inputs unchecked; 4 go through check_call)
    with pytest.raises(TypeError, match=r"^hyp2f1\(x1, x2, x3, x4, /\): takes 4 inputs, got 5; NumPy's out= "
                                        r"given by position does not apply"):
        hyp2f1(1.0, 2.0, 3.0, z, buf)
    np.testing.assert_array_equal(buf, [0.0, 0.0])
    with pytest.raises(TypeError, match=r"^hyp2f1\(x1, x2, x3, x4, /\): takes 4 inputs, got 3$"):
        hyp2f1(1.0, 2.0, z)
    with pytest.raises(TypeError, match="unexpected keyword argument out="):
        hyp2f1(1.0, 2.0, 3.0, z, out=buf)
    np.testing.assert_array_equal(buf, [0.0, 0.0])


def test_a_three_input_ufunc_keeps_x_y_z_and_the_fast_path():
    special = pytest.importorskip("scipy.special")
    betainc = ag.primitive(special.betainc)
    assert str(inspect.signature(betainc)) == "(x, y, z, /)" and betainc.arity == 3
    x = np.array([0.2, 0.7])
    np.testing.assert_array_equal(betainc(2.0, 3.0, x).data, special.betainc(2.0, 3.0, x))


def test_a_python_forward_declared_by_its_doc_is_not_told_about_numpys_out():
    double = ag.Primitive(lambda x: 2 * x, "double", doc="double(x): twice x")
    x = ag.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^double\(x, /\): takes 1 input, got 2$"):
        double(x, x)
    with pytest.raises(TypeError, match=r"^exp\(x, /\): takes 1 input, got 2; NumPy's out= given by position"):
        ag.exp(x, np.zeros(2))  # (a built-in op's is)


# --- 2. float16 var and std over 70,000 entries ---------------------------------------------------------
N = 70_000
X16 = np.random.default_rng(0).standard_normal(N).astype(np.float16)  # the sum of squares passes 65,504
ULP = 2.0 ** -10  # float16's relative spacing


def _torch64(fn):
    """fn's value and gradient in PyTorch float64, on the float16 values."""
    x = torch.tensor(X16.astype(np.float64), requires_grad=True)
    value = fn(x)
    value.backward()
    return value.item(), x.grad.numpy()


@pytest.mark.parametrize("name", ["var", "std"])
def test_float16_var_and_std_over_70000_entries_match_torch_float64(name):
    expected_value, expected_grad = _torch64(lambda x: getattr(x, name)(correction=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        value = getattr(ag, name)(ag.Tensor(X16))
        grad = ag.grad(getattr(ag, name))(X16)
    assert value.dtype == np.float16 and grad.dtype == np.float16
    np.testing.assert_allclose(float(value.data), expected_value, rtol=ULP)
    # the gradients, about 1e-6, are float16 subnormals: spacing 2 ** -24 there
    np.testing.assert_allclose(grad.astype(np.float64), expected_grad, rtol=ULP, atol=2.0 ** -24)
    assert np.count_nonzero(grad) > N // 2  # (an inf std gave 0 everywhere)


def test_float16_std_compiled_matches_eager_on_trace_and_replay():
    compiled, eager = ag.compile(lambda t: ag.std(t)), ag.grad(ag.std)(X16)
    for _ in range(3):  # the first call traces, the next replay
        x = ag.Tensor(X16, requires_grad=True)
        y = compiled(x)
        y.backward()
        assert y.data == ag.std(ag.Tensor(X16)).data and np.isfinite(float(y.data))
        np.testing.assert_array_equal(x.grad, eager)


def test_float16_var_jvp_has_a_finite_primal_and_torchs_tangent():
    direction = X16[::-1].copy()
    primal, tangent = ag.jvp(ag.var, (X16,), (direction,))
    x = torch.tensor(X16.astype(np.float64))
    expected = torch.func.jvp(lambda v: v.var(correction=0), (x,), (torch.tensor(direction.astype(np.float64)),))
    np.testing.assert_allclose(float(primal), expected[0].item(), rtol=ULP)
    np.testing.assert_allclose(float(tangent), expected[1].item(), rtol=ULP, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", [{}, {"axis": 1}, {"axis": 0, "keepdims": True, "ddof": 1}])
def test_float32_and_float64_var_and_std_are_numpys_bit_for_bit(dtype, params):
    # float64 is NumPy's own; float32 NumPy's float64 evaluation rounded once (round 15, adv66:
    # NumPy's float32 sum of squares overflowed where the answer fits)
    data = np.random.default_rng(1).standard_normal((300, 7)).astype(dtype)
    for name in ("var", "std"):
        value = getattr(ag, name)(ag.Tensor(data), **params).data
        assert value.dtype == dtype
        expected = getattr(np, name)(data, dtype=np.float64, **params).astype(dtype)
        np.testing.assert_array_equal(value, expected)


# --- 3-5. a masked array with a masked entry as an index, saved, or checked -------------------------------
MASKED = np.ma.array([0, 3, 1], mask=[0, 0, 1])


@pytest.mark.parametrize("index", [MASKED, (MASKED,), (slice(None), MASKED)])
def test_a_masked_index_is_refused_naming_getitem(index):
    x = ag.Tensor(np.arange(8.0).reshape(2, 4) if type(index) is tuple and len(index) == 2 else np.arange(4.0),
                  requires_grad=True)
    with pytest.raises(TypeError, match=r"^getitem \(an index\): a numpy.ma.MaskedArray of shape \(3,\) with 1 "
                                        "masked entry"):
        x[index]


def test_a_masked_index_without_a_masked_entry_picks_as_its_data():
    x = ag.Tensor(np.arange(4.0), requires_grad=True)
    y = x[np.ma.array([0, 3, 3], mask=[0, 0, 0])]
    y.sum().backward()
    np.testing.assert_array_equal(y.data, np.arange(4.0)[[0, 3, 3]])
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0, 2.0])


def test_save_refuses_a_masked_array_naming_the_parameter_and_writes_nothing(tmp_path):
    path = str(tmp_path / "m.npz")
    with pytest.raises(TypeError, match=r"^save: parameter 'w': a numpy.ma.MaskedArray of shape \(3,\) with 1 "
                                        "masked entry"):
        ag.save({"b": np.zeros(2), "w": np.ma.array([1.0, 2.0, 99.0], mask=[0, 0, 1])}, path)
    assert os.listdir(tmp_path) == []


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (NumPy's, on making a matrix)
def test_save_stores_an_unmasked_masked_array_and_a_matrix_as_plain_arrays(tmp_path):
    path = str(tmp_path / "p.npz")
    ag.save({"m": np.ma.array([1.0, 2.0, 3.0], mask=[0, 0, 0]), "w": np.matrix([[1.0, 2.0], [3.0, 4.0]])}, path)
    loaded = ag.load(path)
    assert type(loaded["w"].data) is np.ndarray and loaded["w"].shape == (2, 2)
    np.testing.assert_array_equal(loaded["w"].data, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(loaded["m"].data, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("check", [
    lambda m: ag.gradcheck(lambda a: ag.sum(a * a), (m,)),
    lambda m: ag.numerical_gradient(lambda a: ag.sum(a * a), [m]),
    lambda m: ag.gradgradcheck(lambda a: ag.sum(a * a * a), (m,)),
    lambda m: ag.compare_gradients(m, np.ones(3)),
    lambda m: ag.compare_gradients({"W": np.ones(3)}, {"W": m}),
])
def test_the_gradient_checks_refuse_a_masked_input(check):
    with pytest.raises(TypeError, match=r"^(gradcheck|numerical_gradient|gradgradcheck|compare_gradients): "
                                        r"input '\w+': a numpy.ma.MaskedArray of shape \(3,\) with 1 masked entry"):
        check(np.ma.array([1.0, 2.0, -5.0], mask=[0, 0, 1]))


def test_gradcheck_takes_an_unmasked_masked_array_as_its_data():
    m = np.ma.array([1.0, 2.0, -5.0], mask=[0, 0, 0])
    assert ag.gradcheck(lambda a: ag.sum(a * a), (m,)).passed
    np.testing.assert_allclose(ag.numerical_gradient(lambda a: ag.sum(a * a), [m])[0], [2.0, 4.0, -10.0],
                               rtol=1e-7)


# --- 6. inputs are positional-only in an op's signature ----------------------------------------------------
@pytest.mark.parametrize("name, call", [
    ("exp", {"x": None}), ("add", {"y": 1.0}), ("sum", {"x": None}), ("reshape", {"x": None, "shape": (2,)}),
])
def test_the_signature_binds_no_input_by_keyword_as_the_call_refuses(name, call):
    t = ag.Tensor(np.ones(2))
    keywords = {key: t if value is None else value for key, value in call.items()}
    op, positional = getattr(ag, name), [] if "x" in keywords else [t]
    with pytest.raises(TypeError):
        inspect.signature(op).bind(*positional, **keywords)
    with pytest.raises(TypeError, match=f"^{name}: unexpected keyword argument"):
        op(*positional, **keywords)


def test_the_signature_binds_what_the_call_takes():
    t = ag.Tensor([[1.0, 2.0], [3.0, 4.0]])
    inspect.signature(ag.sum).bind(t, axis=0, keepdims=True)
    inspect.signature(ag.reshape).bind(t, shape=(4,))
    np.testing.assert_array_equal(ag.sum(t, axis=0, keepdims=True).data, [[4.0, 6.0]])
    np.testing.assert_array_equal(ag.reshape(t, shape=(4,)).data, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(ag.reshape(t, (4,)).data, [1.0, 2.0, 3.0, 4.0])
    kinds = [p.kind for p in inspect.signature(ag.reshape).parameters.values()]
    assert kinds == [inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD]


# --- 7. a masked array on the left of an operator ----------------------------------------------------------
@pytest.mark.parametrize("operation", [lambda m, t: m * t, lambda m, t: m + t, lambda m, t: m < t])
def test_masked_array_on_the_left_says_to_put_the_tensor_first(operation):
    t = ag.Tensor(np.arange(3.0), requires_grad=True)
    with pytest.raises(TypeError, match=r"numpy.ma masked array.*put the tensor first \(t \* m\) or pass plain "
                                        r"arrays"):
        operation(np.ma.array([1.0, 2.0, 3.0], mask=[0, 0, 0]), t)


def test_the_advised_order_keeps_the_gradient():
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 0, 0])
    t = ag.Tensor(np.arange(3.0), requires_grad=True)
    reference = torch.arange(3.0, dtype=torch.float64, requires_grad=True)
    (t * m).sum().backward()
    (reference * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(t.grad, reference.grad.numpy())


# --- the compiled path sees a traced comparison used as an index (the masked-index check must not hide it)
def test_a_boolean_mask_index_still_recomputed_on_every_replay():
    step = ag.compile(lambda x: ag.square(x[x > 0]).sum())
    for values in ([1.0, 2.0, 3.0], [1.0, -2.0, -3.0], [-1.0, 2.0, -3.0]):
        assert step(np.array(values)).item() == sum(v * v for v in values if v > 0)


# --- an op output's requires_grad set False by hand; flags that are not bools ---------------------
def test_setting_an_op_outputs_requires_grad_false_is_refused_as_pytorch_does():
    w = ag.Tensor([1.0], requires_grad=True)
    y = w * 2.0
    for set_false in (lambda: setattr(y, "requires_grad", False), lambda: y.requires_grad_(False)):
        with pytest.raises(ag.GraphError, match=r"False on an op's output \(op 'multiply'.*detach\(\)"):
            set_false()
    assert y.requires_grad  # unchanged: the graph through y still carries w's gradient
    (y * 3.0 + w).sum().backward()
    np.testing.assert_array_equal(w.grad, [7.0])
    w.grad = None
    z = (w * 2.0).detach() * 3.0 + w  # what detach() gives: y a constant
    z.sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0])


@pytest.mark.parametrize("call, what", [
    (lambda: ag.Tensor([1.0], requires_grad="no"), r"Tensor\(requires_grad=...\)"),
    (lambda: ag.Tensor([1.0]).requires_grad_("no"), r"requires_grad_\(\)"),
    (lambda: setattr(ag.Tensor([1.0]), "requires_grad", "no"), r"Tensor\.requires_grad"),
    (lambda: setattr(ag.Tensor([1.0]), "requires_grad", None), r"Tensor\.requires_grad"),
    (lambda: setattr(ag.Tensor([1.0]), "requires_grad", 1), r"Tensor\.requires_grad"),
    (lambda: ag.set_grad_enabled("no"), "set_grad_enabled"),
    (lambda: ag.set_grad_enabled(None), "set_grad_enabled"),
    (lambda: ag.dropout(ag.Tensor([1.0]), 0.5, training="no"), r"dropout\(training=...\)"),
    (lambda: ag.Tensor([1.0], requires_grad=np.array([True, False])), r"Tensor\(requires_grad=...\)"),
])
def test_a_flag_that_is_not_a_bool_is_refused_naming_it(call, what):
    with pytest.raises(TypeError, match=rf"^{what}: expected True or False"):
        call()


def test_numpy_bools_are_flags():
    assert ag.Tensor([1.0], requires_grad=np.True_).requires_grad is True
    with ag.set_grad_enabled(np.False_):
        assert not ag.is_grad_enabled()


@pytest.mark.parametrize("call, op", [
    (lambda x: ag.logsumexp(x, axis=True), "logsumexp"), (lambda x: ag.sum(x, axis=True), "sum"),
    (lambda x: ag.mean(x, True), "mean"), (lambda x: ag.var(x, axis=(0, True)), "var"),
    (lambda x: ag.softmax(x, axis=True), "softmax"), (lambda x: ag.transpose(x, axes=(True, 0)), "transpose")])
def test_a_bool_axis_is_refused_naming_the_op(call, op):
    # True is the int 1 to NumPy: logsumexp(axis=True) reduced axis 1 while sum refused it
    with pytest.raises(TypeError, match=rf"^{op}: ax[ie]s=.*True.* for an input of shape \(2, 3\)"):
        call(ag.Tensor(np.ones((2, 3)), requires_grad=True))


@pytest.mark.parametrize("check", [ag.gradcheck, ag.numerical_gradient])
def test_a_bool_finite_difference_step_is_refused(check):
    with pytest.raises(ValueError, match=rf"^{check.__name__}: eps must be a finite number, got True \(type bool"):
        check(lambda a: (a * a).sum(), [np.ones(2)], eps=True)


# --- hostile arguments named by the operation they reach ---------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: ag.grad(None), r"^grad: expected a function to differentiate, got NoneType None"),
    (lambda: ag.hessian(5), r"^hessian: expected a function"),
    (lambda: ag.jvp(None, (1.0,), (1.0,)), r"^jvp: expected a function"),
    (lambda: ag.gradcheck(None, [np.ones(2)]), r"^gradcheck: expected a function"),
    (lambda: ag.numerical_gradient(3, [np.ones(2)]), r"^numerical_gradient: expected a function"),
    (lambda: ag.grad(lambda x: (x * x).sum(), argnums=1.0)(np.ones(2)), r"^grad: argnums must be an int or a tuple"),
    (lambda: ag.grad(lambda x: (x * x).sum(), argnums="0")(np.ones(2)), r"^grad: argnums must be an int or a tuple"),
    (lambda: ag.grad(lambda x: (x * x).sum(), argnums=None)(np.ones(2)), r"^grad: argnums must be an int or a tuple"),
    (lambda: ag.optim.GradientDescent(None, 0.1), r"^GradientDescent: params must be a list of Tensors"),
    (lambda: ag.l2_penalty(None, 0.1, 4), r"^l2_penalty: weights must be a list of tensors"),
    (lambda: ag.Tensor(np.ones(3)) < None, r"^less \(<\): cannot compare an array of shape \(3,\).* with NoneType None"),
    (lambda: ag.Tensor(np.ones(3)) == "a", r"^equal \(==\): cannot compare .* with str 'a'"),
])
def test_a_hostile_argument_is_refused_naming_the_operation(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_argnums_as_a_list_of_ints_still_works():
    gx, gy = ag.grad(lambda x, y: (x * y).sum(), argnums=[0, 1])(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(gx, [3.0, 4.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])


@pytest.mark.parametrize("call, op, given", [
    (lambda x: ag.var(x, ddof=None), "var", "ddof=None"),
    (lambda x: ag.reshape(x, "a"), "reshape", "shape='a'"),
    (lambda x: ag.broadcast_to(x, (2.0, 3)), "broadcast_to", r"shape=\(2.0, 3\)"),
])
def test_a_parameter_numpy_cannot_take_is_named_with_the_ops_call(call, op, given):
    with pytest.raises(TypeError, match=rf"^{op}: .*\(inputs of shape \(2, 3\), {given}\); expected {op}\(x, /"):
        call(ag.Tensor(np.ones((2, 3)), requires_grad=True))


def test_an_axis_too_large_for_numpy_is_named_with_the_ops_call():
    with pytest.raises(OverflowError, match=r"^sum: .*axis=9223372036854775808\); expected sum\(x, /"):
        ag.sum(ag.Tensor(np.ones((2, 3))), axis=2 ** 63)


# --- what the refusals above must leave alone ----------------------------------------------------------
def test_a_user_primitives_own_error_keeps_its_message_and_frame():
    def scaled(x, scale=1.0):
        if not isinstance(scale, float):
            raise TypeError("scale must be a float")
        return x * scale
    op = ag.Primitive(scaled, doc="scaled(x, scale=1.0): x times scale.")
    with pytest.raises(TypeError, match="^scale must be a float$") as info:
        op(ag.Tensor([1.0]), scale=2)
    assert info.traceback[-1].name == "scaled"


def test_numpys_own_error_from_a_user_primitive_of_a_ufunc_stays_numpys():
    with pytest.raises(np._core._exceptions._UFuncNoLoopError):
        ag.Primitive(np.gcd)(ag.Tensor([4.0]), ag.Tensor([6.0]))


@pytest.mark.parametrize("argnums", [range(2), np.arange(2), [0, 1], (np.int64(0), 1)])
def test_argnums_as_any_sequence_of_ints(argnums):
    gx, gy = ag.grad(lambda x, y: (x * y).sum(), argnums=argnums)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(gx, [3.0, 4.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])


@pytest.mark.parametrize("make", [lambda ps: ag.optim.Adam(ps, 0.1), lambda ps: ag.l2_penalty(ps, 0.1, 4)])
def test_an_error_inside_the_users_own_generator_stays_its_own(make):
    def parameters():
        yield ag.Tensor([1.0], requires_grad=True)
        raise TypeError("my generator broke")
    with pytest.raises(TypeError, match="^my generator broke$"):
        make(parameters())
