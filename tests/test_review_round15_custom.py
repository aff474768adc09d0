"""Round 15 (adv68): primitives of your own, and an input edited while an op's forward runs.

- a compiled replay calls a custom ``vjp_all`` through ``Primitive.apply_vjps``, as eager code does:
  on read-only ``g``, ``out`` and inputs (``custom.run_rule``), so one writing into ``g`` is refused on
  every call, not only the traced one (a replay silently doubled another input's gradient);
- a ``vjp_all`` returning another number of gradients than the op has inputs is a GraphError naming
  the op and both counts, eagerly and in replays (``conform.gradient_list``): too few dropped an input's
  gradient silently eagerly and was a bare IndexError in a replay;
- a ``jvp_all``'s tangent is checked as a ``defjvp`` rule's is (``conform.conform_tangent``): complex,
  masked, str and wrongly shaped results are refused naming the op, None is no tangent (it was NaN);
- an op's epoch is read before its forward runs (``Primitive.__call__`` and a compiled replay), so an
  input edited in place while the forward runs (another thread, or the forward itself) is refused at
  backward() (the value used the old input, the gradient the new one);
- under create_graph, a VJP calling an ndarray method a Tensor lacks (``g.astype``, ``a.copy()``) is
  refused naming the op and its VJP, as ``np.copy(a)`` there is (it was a bare AttributeError);
- the advice for a Tensor passed by keyword names its place among the forward's positional
  parameters (``cube(x=t)``: ``cube(x)``; it said ``cube(x, x)``, which passes it as ``factor`` too).

Every expected value comes from torch.autograd.Function, a closed form or central differences, never
from autograd_lite itself.
"""
import threading

import numpy as np
import pytest

import autograd_lite as ag

from oracles import torch

A0, B0 = np.array([0.1, 0.2, 0.3]), np.array([4.0, 5.0, 6.0])


def _mul(vjp_all=None):
    """A fresh custom ``mul(a, b) = a * b`` ((n,), (n,) -> (n,)), its vjp_all set if given."""
    @ag.primitive
    def mul(a, b):
        return a * b
    mul.vjp_all = vjp_all
    return mul


def _torch_mul():
    """The reference: the same op as a torch.autograd.Function with its own backward (made on first
    use: torch is an optional oracle)."""

    class TorchMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a
    return TorchMul


def _torch_grads(a0, b0, c0):
    """Gradients of sum(exp(mul(a, b) + c)) by torch, for a, b, c of shape (n,)."""
    a, b, c = (torch.tensor(v, requires_grad=True) for v in (a0, b0, c0))
    torch.exp(_torch_mul().apply(a, b) + c).sum().backward()
    return a.grad.numpy(), b.grad.numpy(), c.grad.numpy()


def _leaves(*values):
    return [ag.Tensor(v, requires_grad=True) for v in values]


# 1. a replay runs a custom vjp_all as eager code does --------------------------------------------
def test_replay_refuses_a_vjp_all_writing_into_g_on_every_call():
    def writes(g, out, a, b):
        g *= 2  # g is also c's gradient (add hands it on to both)
        return [g * b, g * a]
    mul = _mul(writes)
    step = ag.compile(lambda a, b, c: ag.sum(ag.exp(mul(a, b) + c)) * 1.0)
    for _ in range(3):
        a, b, c = _leaves(A0, B0, np.zeros(3))
        with pytest.raises(ValueError, match="mul: its VJP writes into an array it was given"):
            step(a, b, c).backward()
    assert step.replays == 2


def test_replayed_custom_vjp_all_matches_torch_function():
    mul = _mul(lambda g, out, a, b: [g * b, g * a])
    step = ag.compile(lambda a, b, c: ag.sum(ag.exp(mul(a, b) + c)))
    c0 = np.array([0.5, -1.0, 0.0])
    for _ in range(3):
        a, b, c = _leaves(A0, B0, c0)
        step(a, b, c).backward()
        for got, want in zip((a.grad, b.grad, c.grad), _torch_grads(A0, B0, c0)):
            np.testing.assert_allclose(got, want, rtol=1e-14)
    assert step.replays == 2


def test_generated_backward_calls_a_custom_vjp_all_through_apply_vjps():
    mul = _mul(lambda g, out, a, b: [g * b, g * a])
    step = ag.compile(lambda a, b: ag.sum(mul(a, b)))
    step(*_leaves(A0, B0)).backward()
    assert ".apply_vjps(" in step.generated and ".vjp_all(" not in step.generated


# 2. a vjp_all's count of gradients ---------------------------------------------------------------
def test_vjp_all_with_too_few_gradients_is_refused_eagerly():
    mul = _mul(lambda g, out, a, b: [g * b])
    a, b = _leaves(A0, B0)
    with pytest.raises(ag.GraphError, match=r"mul: its vjp_all returned 1 gradient\(s\) for 2 input\(s\)"):
        ag.sum(mul(a, b)).backward()
    assert a.grad is None and b.grad is None  # refused before any write


def test_vjp_all_with_too_many_gradients_is_refused_eagerly():
    mul = _mul(lambda g, out, a, b: [g * b, g * a, g])
    with pytest.raises(ag.GraphError, match=r"mul: its vjp_all returned 3 gradient\(s\) for 2 input\(s\)"):
        ag.sum(mul(*_leaves(A0, B0))).backward()


def test_vjp_all_with_too_few_gradients_is_refused_by_ag_grad():
    mul = _mul(lambda g, out, a, b: [g * b])
    with pytest.raises(ag.GraphError, match=r"mul: its vjp_all returned 1 gradient\(s\) for 2 input\(s\)"):
        ag.grad(lambda a, b: ag.sum(mul(a, b)), argnums=(0, 1))(A0, B0)


def test_vjp_all_with_too_few_gradients_is_refused_on_every_compiled_call():
    mul = _mul(lambda g, out, a, b: [g * b])
    step = ag.compile(lambda a, b: ag.sum(mul(a, b)))
    for _ in range(3):  # the traced call, then replays (a bare IndexError there before)
        with pytest.raises(ag.GraphError, match=r"mul: its vjp_all returned 1 gradient\(s\) for 2 input\(s\)"):
            step(*_leaves(A0, B0)).backward()
    assert step.replays == 2


def test_vjp_all_returning_no_iterable_is_a_type_error_naming_the_op():
    mul = _mul(lambda g, out, a, b: None)
    with pytest.raises(TypeError, match="mul: its vjp_all returned NoneType; expected a list of 2 gradient"):
        ag.sum(mul(*_leaves(A0, B0))).backward()


def test_vjp_all_counts_inputs_that_need_no_gradient():
    """One entry per input, None for the constant b: a's gradient is b (closed form)."""
    mul = _mul(lambda g, out, a, b: [g * b, None])
    a = ag.Tensor(A0, requires_grad=True)
    ag.sum(mul(a, B0)).backward()
    np.testing.assert_array_equal(a.grad, B0)


# 3. a jvp_all's tangent is checked as a defjvp rule's is ----------------------------------------
TA, TB = np.full(3, 0.5), np.ones(3)


def _jvp_of(jvp_all):
    mul = _mul(lambda g, out, a, b: [g * b, g * a])
    mul.jvp_all = jvp_all
    return ag.jvp(mul, (A0, B0), (TA, TB))[1]


def test_jvp_all_matches_the_closed_form():
    np.testing.assert_allclose(_jvp_of(lambda ts, out, a, b: ts[0] * b + ts[1] * a), TA * B0 + TB * A0, rtol=1e-15)


def test_jvp_all_complex_tangent_is_refused_naming_the_op():
    with pytest.raises(TypeError, match="mul: its jvp_all's tangent has dtype complex128"):
        _jvp_of(lambda ts, out, a, b: ts[0] * b + ts[1] * a + 1j)


def test_jvp_all_masked_tangent_is_refused_naming_the_op():
    masked = lambda ts, out, a, b: np.ma.masked_array(np.full(3, 999.0), mask=[1, 0, 0])
    with pytest.raises(TypeError, match="mul: its jvp_all: a numpy.ma.MaskedArray"):
        _jvp_of(masked)


def test_jvp_all_str_tangent_is_refused_naming_the_op():
    with pytest.raises(TypeError, match="mul: its jvp_all's tangent has dtype <U1"):
        _jvp_of(lambda ts, out, a, b: np.array(["x"] * 3))


def test_jvp_all_none_is_no_tangent():
    """As a defjvp rule's None: a zero tangent (it was NaN)."""
    np.testing.assert_array_equal(_jvp_of(lambda ts, out, a, b: None), np.zeros(3))


def test_jvp_all_tangent_of_another_shape_is_a_shape_error_naming_the_op():
    with pytest.raises(ag.ShapeError, match=r"mul: its jvp_all gives a tangent of shape \(4,\), but the output "
                                            r"has shape \(3,\)"):
        _jvp_of(lambda ts, out, a, b: np.ones(4))


def test_jvp_all_tangent_broadcasting_to_the_output_is_taken():
    """A (1,) tangent of 2 along a (3,) output: the closed form 2 everywhere."""
    np.testing.assert_array_equal(_jvp_of(lambda ts, out, a, b: np.array([2.0])), np.full(3, 2.0))


# 4. an input edited while the forward runs ------------------------------------------------------
def _pausing_mul(pause_in):
    """A custom mul whose forward, in the thread named ``pause_in``, waits for another thread's edit."""
    in_forward, edited = threading.Event(), threading.Event()

    @ag.primitive
    def mul(a, b):
        r = a * b
        if threading.current_thread().name == pause_in:
            in_forward.set()
            edited.wait(10)
        return r
    mul.defvjp(lambda g, out, a, b: g * b, lambda g, out, a, b: g * a)
    return mul, in_forward, edited


def _run_while_edited(call, S, in_forward, edited):
    """``call()`` in thread 'A' while another thread does S += 10 inside its forward; what backward gave."""
    result = {}

    def run():
        try:
            call().backward()
            result["backward"] = "ran"
        except ag.InplaceModificationError as error:
            result["refused"] = str(error)

    def edit():
        in_forward.wait(10)
        S.__iadd__(10.0)  # in place through the Tensor: the tape counts the edit
        edited.set()
    threads = [threading.Thread(target=run, name="A"), threading.Thread(target=edit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def test_input_edited_by_another_thread_during_the_forward_is_refused():
    S, w = ag.Tensor(np.array([1.0, 2.0, 3.0])), ag.Tensor(np.ones(3), requires_grad=True)
    mul, in_forward, edited = _pausing_mul("A")
    result = _run_while_edited(lambda: ag.sum(mul(w, S)), S, in_forward, edited)
    assert "input 1 (shape (3,)) was modified in place" in result["refused"]


def test_input_edited_by_another_thread_during_a_replay_is_refused():
    S = ag.Tensor(np.array([1.0, 2.0, 3.0]))
    mul, in_forward, edited = _pausing_mul("A")
    step = ag.compile(lambda w, s: ag.sum(mul(w, s)))
    for _ in range(2):
        step(ag.Tensor(np.ones(3), requires_grad=True), S).backward()
    w = ag.Tensor(np.ones(3), requires_grad=True)
    result = _run_while_edited(lambda: step(w, S), S, in_forward, edited)
    assert step.replays == 2 and "was modified in place" in result["refused"]


def test_input_edited_by_the_forward_itself_is_refused():
    S = ag.Tensor(np.array([1.0, 2.0, 3.0]))

    @ag.primitive
    def mul(a, b):
        S.__iadd__(10.0)  # a side effect on its own input
        return a * b
    mul.defvjp(lambda g, out, a, b: g * b, lambda g, out, a, b: g * a)
    y = ag.sum(mul(ag.Tensor(np.ones(3), requires_grad=True), S))
    with pytest.raises(ag.InplaceModificationError, match="input 1"):
        y.backward()


def test_input_edited_before_the_op_is_not_refused():
    """The gradient of sum(w * S) is S as the op read it (closed form), after an earlier edit."""
    S, w = ag.Tensor(np.array([1.0, 2.0, 3.0])), ag.Tensor(np.ones(3), requires_grad=True)
    mul, _, _ = _pausing_mul(pause_in=None)
    S.__iadd__(10.0)
    ag.sum(mul(w, S)).backward()
    np.testing.assert_array_equal(w.grad, [11.0, 12.0, 13.0])


# 5. under create_graph, an ndarray method a Tensor lacks ----------------------------------------
@pytest.mark.parametrize("rule", [lambda g, out, a: g.astype(np.float64) * 3 * a ** 2,
                                  lambda g, out, a: g * 3 * a.copy() ** 2,
                                  lambda g, out, a: g.conj() * 3 * a ** 2,
                                  lambda g, out, a: g * 3 * a.round(20) ** 2],
                         ids=["astype", "copy", "conj", "round"])
def test_vjp_calling_an_ndarray_method_under_create_graph_is_refused_naming_the_op(rule):
    @ag.primitive
    def cube(a):
        return a ** 3
    cube.defvjp(rule)
    x0 = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(ag.grad(lambda x: ag.sum(cube(x)))(x0), 3 * x0 ** 2, rtol=1e-15)  # first order
    with pytest.raises(AttributeError, match=r"cube: its VJP cannot be differentiated again \(under create_graph"):
        ag.hessian(lambda x: ag.sum(ag.sin(cube(x))))(x0)


def test_attribute_error_on_no_tensor_under_create_graph_is_raised_as_it_is():
    """Only a Tensor's missing method is the rule's way of computing: a bug elsewhere stays the user's."""
    @ag.primitive
    def cube(a):
        return a ** 3
    cube.defvjp(lambda g, out, a: g * 3 * a ** 2 * object().scale)
    with pytest.raises(AttributeError, match="^'object' object has no attribute 'scale'$"):
        ag.hessian(lambda x: ag.sum(cube(x)))(np.array([0.5, 2.0]))


# 6. the advice for a Tensor passed by keyword ---------------------------------------------------
@ag.primitive
def _cube(x, factor=1.0, *, shift=0.0):
    return x ** 3 * factor + shift


_cube.defvjp(lambda g, out, x, factor=1.0, shift=0.0: g * 3 * x ** 2 * factor)


def test_input_by_keyword_is_advised_by_position_in_its_place():
    t = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError) as info:
        _cube(x=t)
    message = str(info.value)
    assert "keyword parameter 'x' is a Tensor" in message
    assert "pass it by position, as input 0 of the op: _cube(x);" in message and "_cube(x, x)" not in message
    ag.sum(_cube(t)).backward()  # the advice followed: the gradient is 3 x^2 (closed form)
    np.testing.assert_array_equal(t.grad, [3.0, 12.0])


def test_positional_parameter_by_keyword_is_advised_with_the_inputs_before_it():
    t = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"as input 1 of the op: _cube\(x, factor, shift=\.\.\.\)"):
        _cube(t, factor=t, shift=1.0)


def test_keyword_only_parameter_holding_a_tensor_is_advised_to_become_an_input():
    t = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="make it an input: a positional parameter of _cube's forward"):
        _cube(t, shift=t)


def test_tensor_inside_a_keyword_list_is_advised_to_become_an_input():
    t = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="'factor' holds a Tensor .* make each tensor it holds an input"):
        _cube(t, factor=[t])
