"""Primitives of your own, round 21 (adv140): a rule's result it may still hold (a workspace it reuses, a
weakly cached buffer) is copied, as a forward's is; a forward returning a Tensor that requires grad is
refused by name rather than losing that tensor's gradient; odd VJP results are refused or read as arrays.
Expected values are the derivatives written here (d/dx x^2 = 2x)."""
import weakref

import numpy as np
import pytest

import autograd_lite as ag

A, B = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])


def _square_with_a_workspace():
    workspace = np.zeros(3)

    @ag.primitive
    def square(x):
        return x * x
    square.defvjp(lambda g, out, x: np.multiply(g, 2 * x, out=workspace))
    square.defjvp(lambda t, out, x: np.multiply(t, 2 * x, out=workspace))
    return square


def test_a_vjp_reusing_its_workspace_gives_each_input_its_own_gradient():
    square = _square_with_a_workspace()
    np.testing.assert_array_equal(ag.grad(lambda a: ag.sum(square(a * 10) + square(a)))(A), 2 * 101 * A)
    x, y = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    ag.sum(square(x) + square(y)).backward()
    np.testing.assert_array_equal(x.grad, 2 * A)
    np.testing.assert_array_equal(y.grad, 2 * B)


def test_a_vjp_reusing_its_workspace_replays_right():
    square = _square_with_a_workspace()
    compiled = ag.compile(lambda x, y: ag.sum(square(x) + square(y)))
    for k in range(3):
        x, y = ag.Tensor(A + k, requires_grad=True), ag.Tensor(B + k, requires_grad=True)
        compiled(x, y).backward()
        np.testing.assert_array_equal(x.grad, 2 * (A + k))
        np.testing.assert_array_equal(y.grad, 2 * (B + k))
    assert compiled.replays == 2


def test_a_jvp_reusing_its_workspace_gives_each_tangent_its_own():
    square = _square_with_a_workspace()
    _, tangent = ag.jvp(lambda a, b: square(a) + square(b), (A, B), (np.ones(3), np.ones(3)))
    np.testing.assert_array_equal(tangent, 2 * (A + B))
    _, tangent = ag.jvp(lambda a, b: square(a) * square(b), (A, B), (np.ones(3), np.ones(3)))
    np.testing.assert_array_equal(tangent, 2 * A * B ** 2 + 2 * B * A ** 2)


def test_a_weakly_cached_gradient_buffer_does_not_become_a_grad_that_changes_later():
    cache = weakref.WeakValueDictionary()

    @ag.primitive
    def square(x):
        return x * x

    def vjp(g, out, x):
        buffer = cache.get(x.shape)
        if buffer is None:
            buffer = cache[x.shape] = np.empty(x.shape)
        return np.multiply(g, 2 * x, out=buffer)
    square.defvjp(vjp)
    a, b = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    ag.sum(square(a)).backward()
    ag.sum(square(b)).backward()  # (its rule writes into the cached buffer again)
    np.testing.assert_array_equal(a.grad, 2 * A)
    np.testing.assert_array_equal(b.grad, 2 * B)


def test_a_forward_returning_a_tensor_that_requires_grad_is_refused_by_name():
    x0 = np.array([1.0, 1.0])

    def loss(W):
        @ag.primitive
        def layer(x):
            return x @ W  # (closes over W, the differentiated variable)
        layer.defvjp(lambda g, out, x: g @ W.data.T)
        return ag.sum(layer(x0))
    with pytest.raises(ag.GraphError, match=r"layer: its forward returned a Tensor that requires grad \(\(2,\)"):
        ag.grad(loss)(np.array([[1.0, 2.0], [3.0, 4.0]]))
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)

    @ag.primitive
    def layer(x):
        return x @ W
    layer.defvjp(lambda g, out, x: g @ W.data.T)
    with ag.no_grad():  # (nothing recorded: its value is what is asked for)
        np.testing.assert_array_equal(layer(x0).data, [2.0, 2.0])


@pytest.mark.parametrize("result, expected", [(lambda x: memoryview(np.full(2, 3.0)), [3.0, 3.0]),
                                              (lambda x: [2.0, 5.0], [2.0, 5.0])])
def test_a_vjp_returning_a_buffer_or_a_list_is_read_as_an_array(result, expected):
    @ag.primitive
    def f(x):
        return x * 1.0
    f.defvjp(lambda g, out, x: result(x))
    np.testing.assert_array_equal(ag.grad(lambda x: ag.sum(f(x)))(np.ones(2)), expected)


def test_a_vjp_returning_a_ragged_list_is_refused_naming_the_op():
    @ag.primitive
    def f(x):
        return x * 1.0
    f.defvjp(lambda g, out, x: [[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=r"f: the gradient for input 0 is no array: .*inhomogeneous"):
        ag.grad(lambda x: ag.sum(f(x)))(np.ones(2))


def test_a_comparison_given_as_a_keyword_parameter_replays():
    # (adv140 #4) the tracer's stand-in for x > 0 was taken for a container the forward might change
    @ag.primitive
    def masked(x, m=None):
        return x * m
    masked.defvjp(lambda g, out, x, m=None: g * m)
    compiled = ag.compile(lambda x: ag.sum(masked(x, m=(x > 0)) * x))
    for v in (np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, 3.0]), np.array([1.0, 2.0, -3.0])):
        x = ag.Tensor(v, requires_grad=True)
        out = compiled(x)
        out.backward()
        assert out.item() == float(np.sum((v > 0) * v * v))
        np.testing.assert_array_equal(x.grad, 2 * (v > 0) * v)  # d/dx of m x^2 with m held
    assert compiled.replays == 2


# --- adv142: every form of a result a rule or forward may still hold is copied -------------------------
def _two_input_product(form):
    """x * y through a primitive whose VJPs write into one shared workspace and return it in ``form``."""
    workspace = np.empty(3)

    @ag.primitive
    def product(x, y):
        return x * y

    def vjp(g, other):
        return form(np.multiply(g, other, out=workspace))
    product.defvjp(lambda g, out, x, y: vjp(g, y), lambda g, out, x, y: vjp(g, x))
    return product


FORMS = {"broadcast view": lambda w: np.broadcast_to(w, (3,)), "read-only view": lambda w: w.view(),
         "matrix row": lambda w: np.asarray(np.asmatrix(w))[0], "memoryview": memoryview,
         "masked array": lambda w: np.ma.masked_array(w, copy=False)}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("compiled", [False, True])
def test_a_workspace_returned_in_any_form_gives_each_input_its_own_gradient(form, compiled):
    product = _two_input_product(form)
    cost = lambda x, y: ag.sum(product(x, y))  # noqa: E731
    fn = ag.compile(cost) if compiled else cost
    for _ in range(3 if compiled else 1):
        x, y = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
        fn(x, y).backward()
        np.testing.assert_array_equal(x.grad, B)
        np.testing.assert_array_equal(y.grad, A)


@pytest.mark.parametrize("sequence", [list, tuple, iter, lambda items: (v for v in items)],
                         ids=["list", "tuple", "iterator", "generator"])
def test_a_vjp_all_returning_views_of_one_workspace_gives_each_input_its_own(sequence):
    workspace = np.empty((2, 3))

    @ag.primitive
    def product(x, y):
        return x * y

    def vjp_all(g, out, x, y):
        np.multiply(g, y, out=workspace[0])
        np.multiply(g, x, out=workspace[1])
        return sequence([workspace[0], workspace[1]])
    product.vjp_all = vjp_all
    x, y = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    ag.sum(product(x, y) + product(y, x)).backward()  # (the second call rewrites the workspace)
    np.testing.assert_array_equal(x.grad, 2 * B)
    np.testing.assert_array_equal(y.grad, 2 * A)


def test_a_forward_returning_a_buffer_or_a_tensor_it_keeps_gives_an_output_of_its_own():
    workspace, constant = np.empty(3), ag.Tensor(np.array([1.0, 2.0, 3.0]))

    @ag.primitive
    def exp_into(x):
        return memoryview(np.exp(x, out=workspace))
    exp_into.defvjp(lambda g, out, x: g * out)

    @ag.primitive
    def constant_of(x):
        return constant
    constant_of.defvjp(lambda g, out, x: np.zeros_like(x))
    x, y = ag.Tensor(np.zeros(3), requires_grad=True), ag.Tensor(np.ones(3), requires_grad=True)
    ag.sum(exp_into(x) + exp_into(y)).backward()
    np.testing.assert_array_equal(x.grad, np.exp(np.zeros(3)))
    np.testing.assert_array_equal(y.grad, np.exp(np.ones(3)))
    out = constant_of(np.zeros(3))
    constant.data = np.array([7.0, 8.0, 9.0])
    np.testing.assert_array_equal(out.data, [1.0, 2.0, 3.0])


def test_a_masked_array_keyword_is_read_only_to_the_forward():
    @ag.primitive
    def scale(x, s=None):
        s *= 2.0  # (writes into its keyword array)
        return x * np.asarray(s)
    scale.defvjp(lambda g, out, x, s=None: g * np.asarray(s))
    mask = np.ma.masked_array(np.ones(3))
    with pytest.raises(ValueError, match="scale: its forward writes into an array it was given"):
        scale(np.ones(3), s=mask)
    np.testing.assert_array_equal(mask.data, np.ones(3))


def test_a_comparison_in_a_list_keyword_and_an_array_subclass_keyword_written_into():
    @ag.primitive
    def masked(x, masks=None):
        return x * masks[0]
    masked.defvjp(lambda g, out, x, masks=None: g * masks[0])
    inputs = (np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, 3.0]), np.array([1.0, 2.0, -3.0]))
    in_a_tuple = ag.compile(lambda x: ag.sum(masked(x, masks=(x > 0,)) * x))
    in_a_list = ag.compile(lambda x: ag.sum(masked(x, masks=[x > 0]) * x))
    with pytest.warns(RuntimeWarning, match="a list, dict or object holding a value computed from the inputs"):
        for v in inputs:  # (in a tuple it replays; in a list, which a replay would pass again, it runs eagerly)
            assert in_a_tuple(ag.Tensor(v)).item() == float(np.sum((v > 0) * v * v))
            assert in_a_list(ag.Tensor(v)).item() == float(np.sum((v > 0) * v * v))
    assert in_a_tuple.replays == 2 and in_a_list.replays == 0  # (adv142 #4)

    class Counts(np.ndarray):
        pass

    @ag.primitive
    def bump(x, state=None):
        state += 1  # (writes into the subclass keyword it is given)
        return x * float(state.sum())
    bump.defvjp(lambda g, out, x, state=None: g)
    f = lambda x: ag.sum(bump(x, state=np.zeros(1).view(Counts)))  # noqa: E731 (a fresh state each call)
    compiled = ag.compile(f)
    with pytest.warns(RuntimeWarning, match="whose contents its forward changes"):
        values = [compiled(ag.Tensor(np.ones(3))).item() for _ in range(3)]
    assert values == [3.0, 3.0, 3.0]  # (adv142 #3: eager's, the call run eagerly)


# --- adv143: results of other libraries, keyword arrays in rules, comparisons held by objects ----------------
def _kept_as(form):
    """half of x^2 through a primitive whose forward, VJP and JVP return one kept buffer each in ``form``."""
    out_buffer, grad_buffer, tangent_buffer = np.zeros(3), np.zeros(3), np.zeros(3)

    @ag.primitive
    def half_square(x):
        return form(np.multiply(x, x / 2, out=out_buffer))
    half_square.defvjp(lambda g, out, x: form(np.multiply(g, x, out=grad_buffer)))
    half_square.defjvp(lambda t, out, x: form(np.multiply(t, x, out=tangent_buffer)))
    return half_square


OTHER_FORMS = {"the buffer's memoryview": lambda w: w.data,
               "an __array_interface__ object": lambda w: type("Buffer", (), {
                   "__array_interface__": w.__array_interface__, "_keep": w})()}


@pytest.mark.parametrize("form", OTHER_FORMS.values(), ids=OTHER_FORMS.keys())
def test_buffers_of_other_kinds_a_rule_keeps_are_copied(form):
    half_square = _kept_as(form)
    a, b = ag.Tensor(A, requires_grad=True), ag.Tensor(B, requires_grad=True)
    first, second = half_square(a), half_square(b)
    np.testing.assert_array_equal(first.data, A * A / 2)  # (the second call wrote into the forward's buffer)
    ag.sum(first + second).backward()
    np.testing.assert_array_equal(a.grad, A)
    np.testing.assert_array_equal(b.grad, B)
    _, tangent = ag.jvp(lambda x: half_square(x) + half_square(10 * x), (A,), (np.ones(3),))
    np.testing.assert_array_equal(tangent, 101 * A)


def test_a_torch_tensor_a_rule_keeps_or_returns_is_read_as_an_array():
    torch = pytest.importorskip("torch")
    buffer = np.zeros(3)

    @ag.primitive
    def double(x):
        return torch.from_numpy(np.multiply(x, 2.0, out=buffer))  # (shares the kept buffer)
    double.defvjp(lambda g, out, x: torch.from_numpy(2 * g))  # (a fresh tensor, summed with another path's)
    x = ag.Tensor(A, requires_grad=True)
    y, _ = double(x), double(ag.Tensor(B))
    np.testing.assert_array_equal(y.data, 2 * A)
    (ag.sum(y * y) + ag.sum(ag.exp(x))).backward()
    np.testing.assert_allclose(x.grad, 8 * A + np.exp(A), rtol=1e-15)  # d/dx (2x)^2 + e^x


def test_a_vjp_writing_into_a_keyword_array_is_refused_by_name():
    @ag.primitive
    def scale(x, s=None):
        return x * s

    def vjp(g, out, x, s=None):
        s *= 2  # (the forward's constant, which every later call reads)
        return g * s
    scale.defvjp(vjp)
    s = np.ones(3)
    with pytest.raises(ValueError, match="scale: its VJP writes into an array it was given"):
        ag.sum(scale(ag.Tensor(A, requires_grad=True), s=s)).backward()
    np.testing.assert_array_equal(s, np.ones(3))


def test_a_forward_returning_masked_entries_is_refused_by_name():
    @ag.primitive
    def masked_double(x):
        return np.ma.masked_array(x * 2, mask=[False, True, False])
    masked_double.defvjp(lambda g, out, x: 2 * g)
    with pytest.raises(TypeError, match=r"masked_double: its forward's result: a numpy\.ma\.MaskedArray .* 1 masked"):
        masked_double(ag.Tensor(A))


@pytest.mark.parametrize("holder", ["deque", "object", "np.asarray"])
def test_a_comparison_held_by_a_deque_an_object_or_taken_by_asarray_runs_eagerly(holder):
    import collections
    import types

    @ag.primitive
    def masked(x, m=None):
        return x * (m if holder == "np.asarray" else m[0] if holder == "deque" else m.mask)
    masked.defvjp(lambda g, out, x, m=None: g)

    def f(x):
        c = x > 0
        m = collections.deque([c]) if holder == "deque" else types.SimpleNamespace(mask=c) if holder == "object" \
            else np.asarray(c)
        return ag.sum(masked(x, m=m)) + ag.sum(ag.where(c, 0.0, 0.0))
    compiled = ag.compile(f)
    with pytest.warns(RuntimeWarning, match="calls like this one run it eagerly"):
        for v in ([1.0, -2.0], [-1.0, 2.0], [1.0, 2.0], [-1.0, -2.0]):
            assert compiled(ag.Tensor(v)).item() == float(np.sum(np.maximum(v, 0.0)))
    assert compiled.replays == 0


# --- adv144: what the keyword scan looks into, and what it must not stop --------------------------------
def test_a_config_object_holding_a_constant_array_still_replays():
    import types

    @ag.primitive
    def scaled(x, cfg=None):
        return x * cfg.scale
    scaled.defvjp(lambda g, out, x, cfg=None: g * cfg.scale)
    scale = np.array([2.0, 3.0])
    cfg = types.SimpleNamespace(scale=scale, xp=np)  # (a module in it is not looked into)
    compiled = ag.compile(lambda x: ag.sum(scaled(x + scale, cfg=cfg)))
    for v in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]):
        assert compiled(ag.Tensor(v)).item() == float(np.sum((np.array(v) + scale) * scale))
    assert compiled.replays == 2


@pytest.mark.parametrize("holder", ["slots", "callable", "partial", "deep"])
def test_a_comparison_in_a_slotted_callable_partial_or_deep_keyword_runs_eagerly(holder):
    import dataclasses
    import functools

    @dataclasses.dataclass(slots=True)
    class Slotted:
        mask: np.ndarray

    class Gate:
        def __init__(self, mask):
            self.mask = mask

        def __call__(self):
            return self.mask

    def wrap(c):
        if holder == "slots":
            return Slotted(c)
        if holder == "callable":
            return Gate(c)
        if holder == "partial":
            return functools.partial(np.multiply, c)
        nested = c
        for _ in range(10):
            nested = [nested]
        return nested

    def unwrap(m):
        if holder == "partial":
            return m.args[0]
        if holder == "deep":
            for _ in range(10):
                m = m[0]
            return m
        return m.mask

    @ag.primitive
    def masked(x, m=None):
        return x * unwrap(m)
    masked.defvjp(lambda g, out, x, m=None: g * unwrap(m))
    compiled = ag.compile(lambda x: ag.sum(masked(x, m=wrap(x > 0))))
    with pytest.warns(RuntimeWarning, match="calls like this one run it eagerly"):
        for v in ([1.0, -2.0], [-1.0, 2.0], [1.0, 2.0]):
            assert compiled(ag.Tensor(v)).item() == float(np.sum(np.maximum(v, 0.0)))


def test_a_torch_result_raises_no_deprecation_warning():
    torch = pytest.importorskip("torch")

    @ag.primitive
    def double(x):
        return torch.from_numpy(x * 2.0)
    double.defvjp(lambda g, out, x: torch.from_numpy(2 * g))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        x = ag.Tensor(A, requires_grad=True)
        ag.sum(double(x)).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("result, named", [(lambda x: (v for v in x), "generator"), (lambda x: {"a": x}, "dict")])
def test_a_forward_returning_no_array_is_refused_naming_its_type(result, named):
    @ag.primitive
    def odd(x):
        return result(x)
    odd.defvjp(lambda g, out, x: g)
    with pytest.raises(TypeError, match=named):
        odd(ag.Tensor(A))


# --- adv145: closures, bound methods, mappings and iterators holding a comparison; buffer-protocol results ----
@pytest.mark.parametrize("holder", ["lambda", "bound method", "mapping proxy", "iterator", "dict key"])
def test_a_comparison_a_keyword_function_or_mapping_holds_runs_eagerly(holder):
    import itertools
    import types

    class Gate:
        def __init__(self, mask):
            self.mask = mask

        def get(self):
            return self.mask

        def __hash__(self):
            return 0

    def wrap(c):
        return {"lambda": lambda: c, "bound method": Gate(c).get,
                "mapping proxy": types.MappingProxyType({"m": c}), "iterator": itertools.repeat(c),
                "dict key": {Gate(c): None}}[holder]

    def unwrap(m):
        if holder in ("lambda", "bound method"):
            return m()
        if holder == "mapping proxy":
            return m["m"]
        if holder == "iterator":
            return next(m)
        return next(iter(m)).mask

    @ag.primitive
    def gated(x, m=None):
        return x * unwrap(m)
    gated.defvjp(lambda g, out, x, m=None: g)
    compiled = ag.compile(lambda x: ag.sum(gated(x, m=wrap(x > 0))))
    with pytest.warns(RuntimeWarning, match="calls like this one run it eagerly"):
        for v in ([1.0, -2.0], [-1.0, 2.0], [3.0, 4.0], [-3.0, -4.0]):
            assert compiled(ag.Tensor(v)).item() == float(np.sum(np.maximum(v, 0.0)))


@pytest.mark.parametrize("kind", ["array.array", "ctypes"])
def test_a_buffer_protocol_result_the_forward_keeps_is_copied(kind):
    import array
    import ctypes
    kept = array.array("d", [0.0] * 3) if kind == "array.array" else (ctypes.c_double * 3)()

    @ag.primitive
    def double(x):
        np.frombuffer(kept, dtype=np.float64)[:] = x * 2.0
        return kept
    double.defvjp(lambda g, out, x: 2 * g)
    first, _ = double(ag.Tensor(A)), double(ag.Tensor(B))
    np.testing.assert_array_equal(first.data, 2 * A)


# --- adv146: what the keyword scan must leave replaying, and never raise on -------------------------------
@pytest.mark.parametrize("holder", ["logger", "file", "attribute dict"])
def test_keywords_holding_loggers_files_or_attribute_dicts_still_replay(holder, tmp_path):
    import logging

    class Config(dict):
        __getattr__ = dict.__getitem__  # (a missing name is a KeyError, not an AttributeError)

    stream = open(tmp_path / "log.txt", "w")
    try:
        keyword = {"logger": logging.getLogger("adv146"), "file": stream, "attribute dict": Config(scale=2.0)}[holder]

        @ag.primitive
        def scale(x, k=None):
            return x * 2.0
        scale.defvjp(lambda g, out, x, k=None: g * 2.0)
        compiled = ag.compile(lambda x: ag.sum(scale(x, k=keyword)))
        for v in (1.0, 2.0, 3.0):
            assert compiled(ag.Tensor(np.full(3, v))).item() == 6.0 * v
        assert compiled.replays == 2
    finally:
        stream.close()


def test_a_forward_returning_bytes_is_refused_naming_bytes():
    @ag.primitive
    def to_bytes(x):
        return x.tobytes()
    to_bytes.defvjp(lambda g, out, x: g)
    with pytest.raises(TypeError, match=r"\(bytes\) is not numeric"):
        to_bytes(ag.Tensor(A))
