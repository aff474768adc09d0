"""Round 18 (adv97): primitives of your own.

- ``ag.compile``: a forward that changes a list, tuple or dict given as a keyword parameter (a fresh
  ``state={"m": np.zeros(3)}`` it adds into) makes the call run eagerly with a warning
  (``custom._note_changed``): the trace held that dict, and each replay started from what the last one
  left ([3, 6, 9] where eager code gives [3, 3, 3]);
- a forward's result is the output's own (``custom.run_forward``): adopted when nothing else refers to
  it (``conform.alone``), else copied, so a forward returning a workspace it keeps (``np.multiply(x, x,
  out=BUF)``) no longer makes every output of the op one array (an earlier output changed by a later
  call, and a VJP reading ``out`` wrong);
- a ValueError of a forward of yours that is not NumPy's refusal of the shapes (``math.sqrt`` of a
  negative) passes as it is, with its traceback into the forward (it was a ShapeError "cannot apply to
  shapes", raised from None); NumPy's shape refusal stays a ShapeError, now raised from NumPy's error;
- ``vjp_all`` returns a list or tuple (or an iterator): a dict (whose keys were taken as gradients), a
  set (its own order) or an array are refused naming the op and the type;
- ``ag.primitive`` names a ``functools.partial`` by its function and refuses a forward that is not
  callable, or has no name, with a TypeError; ``defvjp``/``defjvp`` refuse a rule that is not callable
  or cannot take ``(g, out, *inputs)`` at once, naming the op and the input; a rule whose signature
  cannot take the call it gets at backward() is a TypeError naming the op, the rule and that call.

Expected values come from closed forms (by hand) and central differences, never from autograd_lite.
"""
import functools
import math
import traceback
import warnings

import numpy as np
import pytest

import autograd_lite as ag


# 1. ag.compile and a container parameter the forward changes ---------------------------------------
def _accumulator():
    @ag.primitive
    def acc(x, state=None):
        state["m"] += x  # (into an array in its dict parameter)
        return x * state["m"]
    acc.defvjp(lambda g, out, x, state=None: g * 2 * x)  # d(x * (0 + x))/dx = 2x, as f makes m anew
    return acc


def test_compile_forward_changing_a_dict_parameter_runs_eagerly_with_a_warning():
    acc = _accumulator()
    step = ag.compile(lambda x: acc(x, state={"m": np.zeros(3)}).sum())
    with pytest.warns(RuntimeWarning, match=r"acc.*keyword parameter 'state'.*forward changes"):
        first = step(ag.Tensor(np.ones(3)))
    got = [first.item()] + [step(ag.Tensor(np.ones(3))).item() for _ in range(2)]
    assert got == [3.0, 3.0, 3.0]  # sum(1 * (0 + 1)) on every call, by hand


def test_compile_forward_changing_a_dict_parameter_gives_eagers_gradient():
    acc = _accumulator()
    step = ag.compile(lambda x: acc(x, state={"m": np.zeros(3)}).sum())
    x0 = np.array([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(3):
            x = ag.Tensor(x0, requires_grad=True)
            step(x).backward()
            np.testing.assert_allclose(x.grad, 2 * x0)  # d sum(x^2)/dx, by hand


def test_compile_forward_appending_to_a_list_parameter_runs_eagerly():
    @ag.primitive
    def logged(x, log=None):
        log.append(float(x.sum()))
        return x * 2.0
    logged.defvjp(lambda g, out, x, log=None: 2.0 * g)

    def f(x):
        log = []
        y = logged(x, log=log)
        return y.sum() * len(log)  # eager code: the op wrote one entry into this call's own list
    step = ag.compile(f)
    with pytest.warns(RuntimeWarning, match="keyword parameter 'log'"):
        first = step(ag.Tensor(np.ones(2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (once for calls like this one)
        assert [first.item(), step(ag.Tensor(np.ones(2))).item()] == [4.0, 4.0]  # 2 * (1 + 1) * 1, by hand


def test_compile_container_parameter_the_forward_only_reads_still_replays():
    @ag.primitive
    def affine(x, coef=None):
        return x * coef["a"] + coef["b"][0]
    affine.defvjp(lambda g, out, x, coef=None: g * coef["a"])
    step = ag.compile(lambda x: affine(x, coef={"a": np.array([2.0, 3.0]), "b": (np.ones(1),)}).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [step(ag.Tensor(np.array([1.0, 1.0]))).item() for _ in range(3)]
    assert values == [7.0, 7.0, 7.0]  # 2 + 3 + 2 * 1, by hand
    assert step.replays == 2


# 2. a forward's result is the output's own ------------------------------------------------------------
def _squarer(buf):
    @ag.primitive
    def sq(x):
        np.multiply(x, x, out=buf)
        return buf
    sq.defvjp(lambda g, out, x: g * 2 * np.sqrt(out))  # d(x^2)/dx = 2 sqrt(out) for x > 0
    sq.defjvp(lambda t, out, x: t * 2 * np.sqrt(out))
    return sq


def test_forward_returning_a_kept_buffer_does_not_share_it_between_outputs():
    sq = _squarer(np.zeros(3))
    a = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y1 = sq(a)
    y2 = sq(ag.Tensor(np.array([5.0, 5.0, 5.0])))
    np.testing.assert_array_equal(y1.data, [1.0, 4.0, 9.0])
    np.testing.assert_array_equal(y2.data, [25.0, 25.0, 25.0])
    y1.sum().backward()
    np.testing.assert_allclose(a.grad, [2.0, 4.0, 6.0])  # 2x, by hand


def test_forward_returning_a_view_of_a_kept_buffer_is_copied():
    buf = np.zeros(6)

    @ag.primitive
    def halves(x):
        np.multiply(x, 0.5, out=buf)
        return buf.reshape(2, 3)
    y1 = halves(ag.Tensor(np.arange(6.0)))
    halves(ag.Tensor(np.full(6, 8.0)))
    np.testing.assert_array_equal(y1.data, [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5]])


def test_compiled_replays_of_a_kept_buffer_keep_each_result():
    sq = _squarer(np.zeros(20))  # (over 16 entries: the compile key holds it by identity and checks its values)
    step = ag.compile(lambda x: sq(x) * 1.0)
    values = (1.0, 2.0, 3.0, 4.0)
    results = [step(ag.Tensor(np.full(20, v))) for v in values]
    assert step.replays == 0  # (each call changes an array it reaches, which a replay would read as traced)
    for v, y in zip(values, results):
        np.testing.assert_array_equal(y.data, np.full(20, v * v))
    x0 = np.linspace(1.0, 2.0, 20)
    for _ in range(3):  # (a backward after the next call: the VJP reads this call's out)
        x = ag.Tensor(x0, requires_grad=True)
        y = step(x)
        step(ag.Tensor(np.full(20, 7.0)))
        y.sum().backward()
        np.testing.assert_allclose(x.grad, 2 * x0)  # d sum(x^2)/dx, by hand


def test_forward_mode_through_a_kept_buffer():
    sq = _squarer(np.zeros(3))
    x0, t0 = np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0, 0.5])
    value, tangent = ag.jvp(lambda x: sq(x) + sq(2 * x), (x0,), (t0,))
    np.testing.assert_allclose(value, 5 * x0 ** 2)
    np.testing.assert_allclose(tangent, 10 * x0 * t0)  # d(5 x^2) = 10 x dx, by hand


@pytest.mark.parametrize("view", [False, True])
def test_a_fresh_result_is_adopted_without_a_copy(view):
    made = []

    @ag.primitive
    def double(x):
        result = (x * 2.0).reshape(-1) if view else x * 2.0
        made.append(id(result))  # (by id: a weak reference to it would make it copied, as a cache's is)
        return result
    y = double(ag.Tensor(np.array([1.0, 2.0])))
    assert made[0] == id(y.data)  # (a copy per call of every primitive of yours would cost its size again)


# 3. an error of your own forward ------------------------------------------------------------------------
@ag.primitive
def _msqrt(x):
    return np.array(math.sqrt(float(x)))


_msqrt.defvjp(lambda g, out, x: g / (2 * out))


def test_value_error_of_a_custom_forward_passes_as_it_is():
    with pytest.raises(ValueError, match="^math domain error$") as info:
        _msqrt(ag.Tensor(-1.0))
    assert not isinstance(info.value, ag.ShapeError)
    assert "_msqrt" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]


def test_value_error_of_a_custom_forward_under_compile_passes_as_it_is():
    step = ag.compile(lambda x: _msqrt(x) * 2.0)
    assert step(ag.Tensor(4.0)).item() == 4.0  # 2 sqrt(4)
    with pytest.raises(ValueError, match="^math domain error$"):
        step(ag.Tensor(-4.0))


def test_numpy_shape_refusal_in_a_custom_forward_stays_a_shape_error_raised_from_numpys():
    @ag.primitive
    def plus(x, y):
        return x + y
    with pytest.raises(ag.ShapeError, match=r"plus: shapes \(3,\) and \(4,\) do not broadcast") as info:
        plus(np.ones(3), np.ones(4))
    cause = info.value.__cause__
    assert type(cause) is ValueError and "broadcast" in str(cause)
    assert "plus" in [frame.name for frame in traceback.extract_tb(cause.__traceback__)]


def test_builtin_ops_shape_error_is_unchanged():
    with pytest.raises(ag.ShapeError, match=r"^sum: cannot apply to shapes \(2, 3\): axis 5") as info:
        ag.sum(ag.Tensor(np.ones((2, 3))), axis=5)
    assert info.value.__cause__ is None


# 4. vjp_all's result --------------------------------------------------------------------------------
def _mul(vjp_all):
    p = ag.primitive(lambda x, y: x * y, name="mul_d")
    p.vjp_all = vjp_all
    return p


@pytest.mark.parametrize("kind, result", [
    ("dict", lambda g, out, x, y: {0: g * y, 1: g * x}),
    ("set", lambda g, out, x, y: {float(g * y), float(g * x)}),
    ("ndarray", lambda g, out, x, y: np.array([g * y, g * x])),
])
def test_vjp_all_result_other_than_a_list_or_tuple_is_refused(kind, result):
    p = _mul(result)
    x, y = ag.Tensor(3.0, requires_grad=True), ag.Tensor(5.0, requires_grad=True)
    with pytest.raises(TypeError, match=f"mul_d: its vjp_all returned {kind}; expected a list of 2"):
        p(x, y).backward()


@pytest.mark.parametrize("result", [
    lambda g, out, x, y: (g * y, g * x),
    lambda g, out, x, y: (gi for gi in [g * y, g * x]),
])
def test_vjp_all_tuple_or_generator_is_taken_in_order(result):
    p = _mul(result)
    x, y = ag.Tensor(3.0, requires_grad=True), ag.Tensor(5.0, requires_grad=True)
    p(x, y).backward()
    assert (float(x.grad), float(y.grad)) == (5.0, 3.0)  # d(xy)/dx = y, d(xy)/dy = x


# 5. checks at definition and at the rule's call ----------------------------------------------------------
def _mulk(x, k):
    return x * k


def test_primitive_of_a_partial_takes_its_functions_name():
    p = ag.primitive(functools.partial(_mulk, k=2.0))
    assert p.name == "_mulk"
    p.defvjp(lambda g, out, x, **params: 2.0 * g)
    np.testing.assert_allclose(ag.grad(lambda z: p(z).sum())(np.ones(2)), [2.0, 2.0])


def test_primitive_of_a_non_callable_is_a_type_error():
    with pytest.raises(TypeError, match="the forward is int 5, not a function"):
        ag.primitive(5)
    with pytest.raises(TypeError, match="not a function"):
        ag.primitive(5, name="five")


def test_primitive_of_a_callable_object_needs_a_name():
    class Doubler:
        def __call__(self, x):
            return 2.0 * x
    with pytest.raises(TypeError, match="has no __name__.*pass name="):
        ag.primitive(Doubler())
    p = ag.primitive(Doubler(), name="doubler").defvjp(lambda g, out, x: 2.0 * g)
    np.testing.assert_allclose(ag.grad(lambda z: p(z).sum())(np.ones(3)), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("method, rule", [("defvjp", 2.0), ("defjvp", "x")])
def test_a_rule_that_is_not_callable_is_refused_at_definition(method, rule):
    q = ag.primitive(lambda x, y: x * y, name="qop")
    with pytest.raises(TypeError, match=rf"qop.{method}: the rule for input 1 is \w+ .*not a function"):
        getattr(q, method)(None, rule)


def test_a_rule_of_the_wrong_arity_is_refused_at_definition():
    r = ag.primitive(lambda x: 2 * x, name="rop")
    with pytest.raises(TypeError, match=r"rop.defvjp: the rule for input 0 <lambda>\(g\) cannot take 3 "
                                        r"positional arguments.*expected a function called as "
                                        r"vjp\(g, out, x, \*\*params\)"):
        r.defvjp(lambda g: 2 * g)


def test_rules_with_defaults_or_varargs_are_accepted():
    r = ag.primitive(lambda x, y: x * y, name="ok")
    r.defvjp(lambda g, out, *inputs: g * inputs[1], lambda g, out, x, y, extra=1.0: g * x * extra)
    gx, gy = ag.grad(lambda a, b: r(a, b).sum(), argnums=(0, 1))(np.array([3.0]), np.array([5.0]))
    assert (gx[0], gy[0]) == (5.0, 3.0)


def test_a_rule_that_cannot_take_the_keywords_is_named_at_backward():
    @ag.primitive
    def scale(x, factor=1.0):
        return x * factor
    scale.defvjp(lambda g, out, x: g)  # (forgets **params: the call passes factor=)
    with pytest.raises(TypeError, match=r"scale: its VJP for input 0 <lambda>\(g, out, x\) cannot take "
                                        r"3 positional arguments and the keyword factor.*expected a "
                                        r"function called as vjp\(g, out, x, factor=...\)"):
        ag.grad(lambda z: scale(z, factor=2.0).sum())(np.ones(2))


def test_a_vjp_all_that_is_not_callable_is_named_at_backward():
    p = ag.primitive(lambda x, y: x * y, name="mul_n")
    p.vjp_all = 3.0
    with pytest.raises(TypeError, match="mul_n: its vjp_all is float 3.0, not a function"):
        ag.grad(lambda a, b: p(a, b).sum())(np.ones(2), np.ones(2))


def test_a_type_error_inside_a_rule_of_the_right_signature_passes_as_it_is():
    def vjp(g, out, x):
        raise TypeError("my own refusal")
    p = ag.primitive(lambda x: 2 * x, name="own").defvjp(vjp)
    with pytest.raises(TypeError, match="^my own refusal$"):
        ag.grad(lambda z: p(z).sum())(np.ones(2))
