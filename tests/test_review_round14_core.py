"""Review round 14 (adv44, adv45, adv46 #3, adv47 #3): comparison values read past NumPy's hooks
under ag.compile, primitives of your own (keyword Tensors, outputs that view an input, rules that
write into what they are given, a tuple for one gradient, a missing JVP), masked arrays in a list a
VJP returns, cross-entropy's axis in formulas, dropout's checks when it does nothing.
Oracles: NumPy, PyTorch, the course's hand-written step (models.manual), derivatives by hand."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from models import manual, three_layer

from oracles import torch

XS = [np.array([1., 1., 1., -1.]), np.array([1., -1., -1., -1.]), np.array([1., 1., -1., -1.]),
      np.array([-1., -1., -1., 2.])]


def _compiled_grads(f):
    step = ag.compile(f)
    grads = []
    for xv in XS:
        x = ag.Tensor(xv.copy(), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            step(x).sum().backward()
        grads.append(x.grad.copy())
    return grads


@pytest.mark.parametrize("f, expected", [
    (lambda x: x * (np.array(np.mean(x > 0)) + 1.0), lambda xv: np.mean(xv > 0) + 1.0),
    (lambda x: x * 2.0 if np.asarray(np.mean(x > 0)).item() > 0.5 else x * 3.0,
     lambda xv: 2.0 if np.mean(xv > 0) > 0.5 else 3.0),
    (lambda x: x * np.full(x.shape, np.mean(x > 0)), lambda xv: np.mean(xv > 0)),
    (lambda x: x * np.asarray(x > 0).mean(), lambda xv: np.mean(xv > 0)),
    (lambda x: x * float(np.asarray(x > 0).sum()), lambda xv: float(np.sum(xv > 0))),
], ids=["array_copy_then_arithmetic", "asarray_item_branch", "full", "asarray_of_mask_mean", "asarray_sum"])
def test_a_comparison_value_read_past_numpys_hooks_is_never_frozen(f, expected):
    for xv, g in zip(XS, _compiled_grads(f)):
        np.testing.assert_array_equal(g, np.full(4, expected(xv)))


def test_a_list_repeated_by_a_comparisons_count_is_pythons_repeat():
    for xv in XS:
        x = ag.Tensor(xv, requires_grad=True)
        out = ag.compile(lambda t: ag.stack([t] * (t > 0).sum() + (t > 0).sum() * [t]).sum())(x)
        assert out.item() == pytest.approx(2 * np.sum(xv > 0) * np.sum(xv))


@pytest.mark.parametrize("make", [lambda m: [m], lambda m: (m[0], m[1], m[2]),
                                  lambda m: type("Grads", (list,), {})([m])], ids=["list", "tuple", "list_subclass"])
def test_a_custom_vjps_masked_entries_in_a_list_are_refused(make):
    m = np.ma.masked_array([1., 2., 100.], mask=[0, 0, 1])

    @ag.primitive
    def f(a):
        return a * 2.0
    f.defvjp(lambda g, out, a: make(m))
    x = ag.Tensor(np.ones(3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(TypeError, match="f: the gradient for input 0: a numpy.ma.MaskedArray"):
            f(x).sum().backward()
    assert x.grad is None


def test_cross_entropys_axis_is_in_its_formula_off_its_default():
    z = ag.Tensor(np.array([[1., 2.], [3., 5.]]), requires_grad=True, name="z")
    lab = np.array([0, 1])
    t = torch.tensor(z.data)
    assert torch.nn.functional.cross_entropy(t.T, torch.tensor(lab)) != torch.nn.functional.cross_entropy(
        t, torch.tensor(lab))  # the two costs differ
    assert "axis" not in ag.formula(ag.cross_entropy(z, lab, axis=0))
    assert "\\mathrm{axis}=1" in ag.formula(ag.cross_entropy(z, lab, axis=1))


def _scale():
    @ag.primitive
    def scale(x, s=1.0):
        return x * s
    return scale.defvjp(lambda g, out, x, s=1.0: g * s)


def test_a_tensor_as_a_keyword_parameter_of_your_primitive_is_refused_naming_it():
    scale = _scale()
    with pytest.raises(TypeError, match="scale: keyword parameter 's' is a Tensor"):
        ag.grad(lambda s: ag.sum(scale(np.array([1.0, 2.0]), s=s)))(3.0)
    step = ag.compile(lambda x, s: ag.sum(scale(x, s=s)))
    with pytest.raises(TypeError, match="scale: keyword parameter 's'"):
        step(np.ones(3), np.full(3, 2.0))
    x = ag.Tensor([1.0, 2.0], requires_grad=True)  # an array there is a constant: d/dx = s
    scale(x, s=np.array([3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


@pytest.mark.parametrize("forward", [lambda x: x, lambda x: x[::-1], lambda x: x.reshape(1, 2)],
                         ids=["itself", "reversed_view", "reshaped_view"])
def test_an_in_place_edit_of_your_primitives_view_output_is_caught(forward):
    same = ag.primitive(forward, name="same")  # (no rule: the graph that backward walks is z's alone)
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    z = ag.sum(x * x)
    y = same(x)
    if forward(x.data) is x.data:  # the input itself: writable, sharing x's version counter
        with ag.no_grad():
            y += 1.0
        with pytest.raises(ag.InplaceModificationError):
            z.backward()
    else:  # another view of it comes back read-only: the edit is refused at once
        with ag.no_grad(), pytest.raises(ag.GraphError, match="read-only"):
            y += 1.0
        z.backward()
        np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_an_output_sharing_the_second_inputs_memory_shares_its_version():
    pick = ag.primitive(lambda a, b: b, name="pick").defvjp(lambda g, out, a, b: None, lambda g, out, a, b: g)
    a, b = ag.Tensor([1.0], requires_grad=True), ag.Tensor([2.0], requires_grad=True)
    z = ag.sum(b * b)
    y = pick(a, b)
    with ag.no_grad():
        y *= 0.0
    with pytest.raises(ag.InplaceModificationError):
        z.backward()


def test_a_vjp_returning_a_tuple_is_refused_naming_the_op():
    sq = ag.primitive(lambda x: x ** 2, name="sq").defvjp(lambda g, out, x: (g * 2 * x, g))
    with pytest.raises(ag.ShapeError, match=r"sq: the gradient for input 0 has shape \(2, 3\).*output 1 axis"):
        ag.grad(lambda x: ag.sum(sq(x)))(np.array([1.0, 2.0, 3.0]))
    step = ag.compile(lambda x: ag.sum(sq(x)))
    x = ag.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ag.ShapeError, match="sq: the gradient for input 0"):
        step(x).backward()


def _doubler(in_place):
    def vjp(g, out, x):
        if in_place:
            g *= 2
            return g
        return g * 2
    return ag.primitive(lambda x: 2 * x, name="dbl").defvjp(vjp)


def test_a_rule_writing_into_g_is_refused_naming_the_op_and_a_new_array_is_right():
    f = lambda dbl: lambda x: ag.sum((dbl(x * 1.0) + x * 1.0) ** 2)  # 9 x ** 2: add hands g on to both
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dbl: its VJP writes into an array it was given"):
        ag.grad(f(_doubler(True)))(x)
    np.testing.assert_allclose(ag.grad(f(_doubler(False)))(x), 18 * x)
    writes_x = ag.primitive(lambda x: 2 * x, name="w").defvjp(lambda g, out, x: x.__iadd__(1.0) * 0 + 2 * g)
    with pytest.raises(ValueError, match="w: its VJP writes"):
        ag.grad(lambda x: ag.sum(writes_x(x)))(x)
    writes_t = ag.primitive(lambda x: 2 * x, name="wt").defjvp(lambda t, out, x: t.__imul__(2.0))
    with pytest.raises(ValueError, match="wt: its JVP writes"):
        ag.jvp(writes_t, (x,), (np.ones(3),))


def test_forward_mode_refuses_an_input_without_any_rule_as_reverse_mode_does():
    mul = ag.primitive(lambda x, y: x * y, name="mul").defjvp(lambda t, out, x, y: t * y)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    with pytest.raises(ag.GraphError, match="op 'mul' has no JVP rule for input 1"):
        ag.jvp(mul, (x, y), (np.zeros(2), np.ones(2)))
    declared = ag.primitive(lambda x, y: x * y, name="mul2").defjvp(lambda t, out, x, y: t * y, None)
    with pytest.raises(ag.GraphError, match="op 'mul2'.* not differentiable with respect to input 1"):
        ag.jvp(declared, (x, y), (np.ones(2), np.ones(2)))  # None declared: a non-zero tangent is refused
    _, t = ag.jvp(declared, (x, y), (np.ones(2), np.zeros(2)))  # (round 15, adv57), a zero one passes
    np.testing.assert_array_equal(t, y)


def test_a_mask_given_at_keep_prob_one_is_applied_as_the_course_does():
    X = np.array([[0.5, -1.0, 2.0, 0.1], [1.5, 0.3, -0.7, 0.9]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    P = manual.initialize_reference()
    D1, D2 = np.zeros((20, 4), bool), np.ones((3, 4), bool)  # layer 1 dropped whole
    A3, cache = manual.forward_propagation(X, P, keep_prob=1.0, masks=(D1, D2))
    grads = manual.backward_propagation(X, Y, cache, keep_prob=1.0)
    T = {k: ag.Tensor(v, requires_grad=True, name=k) for k, v in P.items()}
    J = three_layer.cost(T, X, Y, keep_prob=1.0, masks=(D1, D2))
    J.backward()
    assert J.item() == pytest.approx(manual.compute_cost(A3, Y), rel=1e-12)
    for k in P:
        np.testing.assert_allclose(T[k].grad, grads["d" + k], rtol=1e-12, atol=1e-15, err_msg=k)


@pytest.mark.parametrize("kw", [dict(keep_prob=1.0), dict(keep_prob=0.5, training=False)])
def test_dropout_checks_rng_and_mask_even_when_it_does_nothing(kw):
    a = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match="dropout: rng must be"):
        ag.dropout(a, rng="not an rng", **kw)
    with pytest.raises(ValueError, match="dropout: a seed must be >= 0"):
        ag.dropout(a, rng=-3, **kw)
    with pytest.raises(TypeError, match="dropout: rng must be"):  # a given mask leaves rng unused
        ag.dropout(a, mask=np.ones((2, 3)), rng="not an rng", **kw)
    with pytest.raises(ag.ShapeError, match="dropout: mask has shape"):
        ag.dropout(a, mask=np.ones((7, 7)), **kw)
    with pytest.raises(ag.DomainError, match="dropout: mask must hold only 0 and 1"):
        ag.dropout(a, mask=np.full((2, 3), 7.0), **kw)
    dropped = ag.dropout(a, mask=np.zeros((2, 3)), **kw)
    if kw.get("training") is False:
        assert dropped is a
    else:  # applied: a * mask / keep_prob
        np.testing.assert_array_equal(dropped.data, np.zeros((2, 3)))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reducing_methods_take_numpys_arguments_by_position(name):
    a = np.arange(6.0).reshape(2, 3)
    t = ag.Tensor(a, requires_grad=True)
    with pytest.raises(TypeError):  # NumPy: dtype=True (sum, mean) or out=True (max, min)
        getattr(a, name)(0, True)
    with pytest.raises(TypeError, match=rf"Tensor.{name}\(\).*by position"):
        getattr(t, name)(0, True)
    kept = getattr(t, name)(1, keepdims=True)
    np.testing.assert_array_equal(kept.data, getattr(a, name)(1, keepdims=True))
    kept.sum().backward()
    expected = {"sum": np.ones((2, 3)), "mean": np.full((2, 3), 1 / 3),
                "max": np.array([[0, 0, 1], [0, 0, 1.]]), "min": np.array([[1, 0, 0], [1, 0, 0.]])}[name]
    np.testing.assert_array_equal(t.grad, expected)


@pytest.mark.parametrize("call, named", [(lambda x: ag.softmax(x, dim=1), "dim= is PyTorch's spelling, NumPy's is axis="),
                                         (lambda x: ag.sum(x, keepdim=True), "NumPy's is keepdims="),
                                         (lambda x: ag.var(x, unbiased=True), "NumPy's is ddof=")])
def test_an_ops_pytorch_keyword_names_numpys(call, named):
    with pytest.raises(TypeError, match=named):
        call(ag.Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("wrap", [lambda w: {"w": w}, lambda w: [[w]], lambda w: ([w],), lambda w: [w]],
                         ids=["dict", "nested_list", "tuple_of_list", "list"])
def test_a_tensor_held_in_a_keyword_container_is_refused(wrap):
    scale = ag.primitive(lambda x, factors=None: x * 2.0, name="scale2")
    w = ag.Tensor(5.0, requires_grad=True)
    with pytest.raises(TypeError, match="scale2: keyword parameter 'factors' (holds|is) a Tensor"):
        scale(ag.Tensor([1.0, 2.0]), factors=wrap(w))
    itself = []
    itself.append(itself)  # (a list holding itself is looked into once)
    np.testing.assert_array_equal(scale(ag.Tensor([1.0]), factors=itself).data, [2.0])


@pytest.mark.parametrize("make", [lambda: bytearray(b"ab"), lambda: __import__("collections").deque([1.0]),
                                  lambda: __import__("array").array("d", [1.0]), lambda: range(2)],
                         ids=["bytearray", "deque", "array", "range"])
def test_a_comparisons_count_times_any_sequence_is_what_numpys_int_gives(make):
    size = lambda r: float(r.sum()) if isinstance(r, np.ndarray) else float(len(r))  # (range: elementwise)
    step = ag.compile(lambda x: ag.sum(x) * size(np.sum(x > 0) * make()))
    for xv in XS:
        expected = np.sum(xv) * size(np.sum(xv > 0) * make())  # NumPy's int times the sequence
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert step(ag.Tensor(xv)).item() == pytest.approx(expected)


def test_ravels_refusal_names_ravel():
    with pytest.raises(TypeError, match=r"Tensor.ravel\(\): order='A'"):
        ag.Tensor(np.ones((2, 3))).ravel("A")


def test_a_tensor_made_from_a_tensor_that_requires_grad_warns_while_recording():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.warns(UserWarning, match=r"Tensor\(data\): data is a Tensor that requires grad \(op 'relu'"):
        copied = ag.Tensor(ag.relu(W @ W))  # a constant copy, as torch.tensor(t) makes (with its warning)
    assert not copied.requires_grad
    np.testing.assert_array_equal(copied.data, np.full((2, 2), 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ag.no_grad():
            assert not ag.Tensor(W).requires_grad  # a snapshot, as np.array(W) is there
        np.testing.assert_array_equal(ag.Tensor(W.detach()).data, np.ones((2, 2)))


def test_reading_an_op_outputs_grad_warns_as_pytorch_does():
    W = ag.Tensor(np.ones(2), requires_grad=True)
    rebound = W - 0.1 * np.ones(2)  # W = W - lr * W.grad makes W such a tensor
    with pytest.warns(UserWarning, match=r"\.grad of a tensor that is not a leaf \(op 'subtract'.*W -= lr \* W.grad"):
        assert rebound.grad is None
    kept = W * 2.0
    kept.retain_grad()
    kept.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(kept.grad, [1.0, 1.0])  # retained: no warning
        np.testing.assert_array_equal(W.grad, [2.0, 2.0])


def test_an_optimizer_refuses_a_parameter_that_does_not_require_grad_naming_it():
    W, b = ag.Tensor(np.ones((1, 2)), name="W"), ag.Tensor(np.ones(1), requires_grad=True)
    with pytest.raises(ValueError, match=r"GradientDescent: parameter 0 \('W'\) \(shape \(1, 2\)\) does not require grad"):
        ag.optim.GradientDescent([W, b], 0.1)
    with pytest.raises(ValueError, match=r"Adam: parameter 0 \('W'\)"):
        ag.optim.Adam({"W": W, "b": b}, 0.1)


def test_draw_names_itself_and_number_conversions_name_the_shape():
    with pytest.raises(TypeError, match="draw: expected a Tensor, got int"):
        ag.draw(3, "/nonexistent/x.svg")
    t = ag.Tensor(np.ones((2, 3)))
    for convert in (float, int):
        with pytest.raises(TypeError, match=rf"{convert.__name__}\(\): tensor of shape \(2, 3\) has 6 elements"):
            convert(t)
    with pytest.raises(TypeError, match=r"format\(t, '.3f'\): tensor of shape \(2, 3\)"):
        f"{t:.3f}"
    assert float(ag.Tensor(2.5)) == 2.5 and f"{ag.Tensor(2.5):.2f}" == "2.50"
