"""Review round 13: hostile arguments of the joining ops and of a tensor's name, each refused
naming the op and what it expects. Expected values come from NumPy."""
import contextlib
import threading

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import ops


def _pair():
    rng = np.random.default_rng(0)
    return ag.Tensor(rng.standard_normal((2, 3)), requires_grad=True), ag.Tensor(rng.standard_normal((2, 3)))


@pytest.mark.parametrize("join", [ag.stack, ag.concatenate])
@pytest.mark.parametrize("container", [set, frozenset, lambda ts: dict.fromkeys(ts)])
def test_an_unordered_collection_of_tensors_is_refused(join, container):
    a, b = _pair()
    with pytest.raises(TypeError, match=rf"{join.__name__}: expected a list, tuple or generator of tensors, got a \w+ "
                                        r"\(no order to join them in\)"):
        join(container([a, b]))


@pytest.mark.parametrize("join", [ag.stack, ag.concatenate])
def test_a_generator_of_tensors_joins_in_its_order(join):
    a, b = _pair()
    out = join(t for t in [a, b])
    np.testing.assert_array_equal(out.data, getattr(np, join.__name__)([a.data, b.data]))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))


@pytest.mark.parametrize("join", [ag.stack, ag.concatenate])
def test_no_tensors_and_no_sequence_are_named(join):
    with pytest.raises(ValueError, match=rf"{join.__name__}: expected at least one tensor, got none"):
        join([])
    with pytest.raises(TypeError, match=rf"{join.__name__}: tensors must be a list, tuple or generator of tensors, got int 5"):
        join(5)


@pytest.mark.parametrize("axis", [None, 1.0, "0", True])
def test_stack_takes_an_int_axis_only(axis):
    a, b = _pair()  # (None crashed with an AttributeError; True was axis 1)
    with pytest.raises(TypeError, match=rf"stack: axis={axis!r} for inputs of shape \(2, 3\); expected an int"):
        ag.stack([a, b], axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", False])
def test_concatenate_takes_an_int_or_none(axis):
    a, b = _pair()
    with pytest.raises(TypeError, match=r"concatenate: axis=.* for inputs of shape \(2, 3\); expected an int or "
                                        r"None \(flattened first\)"):
        ag.concatenate([a, b], axis=axis)
    np.testing.assert_array_equal(ag.concatenate([a, b], axis=None).data, np.concatenate([a.data, b.data], None))


@pytest.mark.parametrize("axis", [-3, -1, 2, np.int64(1)])
def test_stack_axes_as_numpy(axis):
    a, b = _pair()
    np.testing.assert_array_equal(ag.stack([a, b], axis=axis).data, np.stack([a.data, b.data], axis=axis))


def test_a_type_error_of_an_op_without_a_declared_call_still_names_the_op():
    a, b = _pair()  # (the private primitive, which takes its inputs unpacked, has no declared call)
    with pytest.raises(TypeError, match=r"^stack: .*\(inputs of shape \(2, 3\) and \(2, 3\), axis=None\)$"):
        ops._stack(a, b, axis=None)


@pytest.mark.parametrize("name", [5, b"W", ["W"]])
def test_a_name_set_after_construction_is_checked_as_the_constructor_checks_it(name):
    t = ag.Tensor(np.ones(2), name="W")
    with pytest.raises(TypeError, match=r"Tensor: name must be a str \(a label such as 'W1'\) or None, got "):
        t.name = name
    assert t.name == "W"  # (unchanged by the refused assignment)
    t.name = None
    assert t.name is None and repr(t) == "Tensor([1. 1.])"


# --- a masked entry held inside a list (np.array drops the mask: the hidden value counted) ----------
@pytest.mark.parametrize("way", ["Tensor", "as_tensor", "operand", "labels", "nested", "tuple"])
def test_a_masked_entry_inside_a_list_is_refused_on_every_way_in(way):
    m = np.ma.array([1.0, 7.0], mask=[False, True])
    x = ag.Tensor(np.full((1, 2), 0.5), requires_grad=True)
    calls = {"Tensor": lambda: ag.Tensor([m]), "as_tensor": lambda: ag.as_tensor([m]), "operand": lambda: x * [m],
             "labels": lambda: ag.binary_cross_entropy(x, [m]), "nested": lambda: ag.Tensor([[m]]),
             "tuple": lambda: ag.Tensor(([1.0, 2.0], m))}
    with pytest.raises(TypeError, match=r"a numpy\.ma\.MaskedArray of shape \(2,\) with 1 masked entry"):
        calls[way]()


def test_lists_without_masked_entries_convert_as_numpy_converts_them():
    values = [[1.0, 2], (3, np.float32(4.5))], np.ma.array([1.0, 2.0])
    np.testing.assert_array_equal(ag.Tensor(values[0]).data, np.array(values[0], dtype=float))
    np.testing.assert_array_equal(ag.Tensor([values[1]]).data, [[1.0, 2.0]])
    holds_itself = []
    holds_itself.append(holds_itself)  # (the scan ends; NumPy's own refusal names the op)
    with pytest.raises(TypeError, match=r"^Tensor: cannot make a numeric array from list"):
        ag.Tensor(holds_itself)


# --- an int beyond float64 as an operand names the op (a bare OverflowError did not) ------------------
@pytest.mark.parametrize("label, call", [
    ("multiply", lambda x: x * 10**400), ("power", lambda x: ag.power(x, 10**400)),
    ("maximum", lambda x: ag.maximum(x, 10**400)), ("where", lambda x: ag.where(x > 1, x, 10**400)),
    ("clip", lambda x: ag.clip(x, 0, 10**400)), ("greater", lambda x: x > 10**400),
    ("less_equal", lambda x: x <= -10**400)])
def test_an_int_beyond_float64_as_an_operand_is_refused_naming_the_op(label, call):
    x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(TypeError, match=rf"^{label}\b.*: cannot make a numeric array from int: int too large"):
        call(x)


def test_an_int_within_float64_still_takes_the_tensors_dtype():
    x = ag.Tensor(np.ones(2, np.float32))
    assert (x * 10**30).dtype == np.float32 and (x * 10**30).data[0] == np.float32(1e30)
    assert (x * 2**70).dtype == np.float32


# --- a transform's errors name the transform the user called --------------------------------------
@pytest.mark.parametrize("argnums, error, message", [
    (5, ValueError, r"^hessian: argnums 5 is out of range for 2 positional arguments"),
    (1.0, TypeError, r"^hessian: argnums must be an int or a tuple of ints"),
    ((0, 0), ValueError, r"^hessian: argnums \(0, 0\) names the same argument twice")])
def test_hessian_names_itself_in_its_argnums_errors(argnums, error, message):
    with pytest.raises(error, match=message):
        ag.hessian(lambda a, b: ag.sum(a * a * b), argnums=argnums)(np.ones(2), np.ones(2))


@pytest.mark.parametrize("transform", ["hessian", "value_and_grad", "grad"])
def test_a_non_scalar_function_is_named_by_the_transform_called(transform):
    with pytest.raises(ag.GraphError, match=rf"^{transform}: f must return a single-element Tensor"):
        getattr(ag, transform)(lambda a: a * 2)(np.ones(2))


def test_hessian_values_unchanged():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    h = ag.hessian(lambda a, b: ag.sum(a * a * b), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(h[0][0], np.diag(2 * b))  # d2/da2 of sum(a^2 b) = diag(2b)
    np.testing.assert_array_equal(h[0][1], np.diag(2 * a))
    np.testing.assert_array_equal(h[1][1], np.zeros((2, 2)))


# --- a mode object reused across threads: each exit restores what its own block's entry saw -----------
def _run(target):
    results = []
    thread = threading.Thread(target=lambda: results.append(target()))
    thread.start()
    thread.join()
    return results[0]


@pytest.mark.parametrize("make, outside", [(ag.no_grad, True), (ag.enable_grad, False)])
def test_a_generator_finished_in_another_thread_inside_the_same_object_leaves_that_threads_block_alone(make, outside):
    mode, read = make(), ag.is_grad_enabled

    def suspended():
        with mode:
            yield

    generator = suspended()

    def enter_in_a():  # thread A enters the generator's block from the opposite mode
        ag.set_grad_enabled(not outside)
        next(generator)

    def own_block_in_b():  # thread B, in its own block of the same object, finishes the generator
        ag.set_grad_enabled(outside)
        with mode:
            next(generator, None)  # the generator's exit gives B what its entry saw: not outside
            inside = read()
        return inside, read()

    _run(enter_in_a)
    assert _run(own_block_in_b) == (not outside, outside)


def test_an_exit_from_another_frame_takes_this_threads_entry():
    mode = ag.no_grad()

    def in_thread():
        with contextlib.ExitStack() as stack:  # (entered in enter_context's frame, exited in __exit__'s)
            stack.enter_context(mode)
            with mode:
                inner = ag.is_grad_enabled()
            inside = ag.is_grad_enabled()
        return inner, inside, ag.is_grad_enabled()

    assert _run(in_thread) == (False, False, True)


# --- expand_dims' axis: an int or a tuple of ints (no None), counted in the result's axes ------------
@pytest.mark.parametrize("axis, result_axes", [(True, 3), (None, 3), ((0, 1.5), 4)])
def test_expand_dims_names_what_its_axis_takes(axis, result_axes):
    x = ag.Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=rf"^expand_dims: axis=.* for an input of shape \(2, 3\) .*; expected an int or "
                                        rf"a tuple of ints \(counted in the result's {result_axes} axes\), each axis in "
                                        rf"\[{-result_axes}, {result_axes - 1}\]$"):
        ag.expand_dims(x, axis)
    assert ag.expand_dims(x, -3).shape == np.expand_dims(x.data, -3).shape == (1, 2, 3)


def test_a_reduction_still_takes_none():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3))
    assert ag.sum(x, axis=None).item() == 15.0
    with pytest.raises(TypeError, match=r"expected None, an int or a tuple of ints, each axis in \[-2, 1\]$"):
        ag.sum(x, axis=1.5)


def test_an_exit_stack_closed_in_a_third_thread_leaves_a_live_with_block_alone():
    """A's ExitStack entry closed by this thread takes A's entry, never thread B's live `with` block's."""
    mode, stack, inside, done, result = ag.no_grad(), contextlib.ExitStack(), threading.Event(), threading.Event(), {}

    def enter_in_a():
        ag.set_grad_enabled(False)
        stack.enter_context(mode)  # (its entry saw False)

    def own_block_in_b():
        with mode:  # (its entry saw True)
            inside.set()
            done.wait()
        result["b"] = ag.is_grad_enabled()

    _run(enter_in_a)
    b = threading.Thread(target=own_block_in_b)
    b.start()
    inside.wait()
    _run(stack.close)  # (closed in a third thread)
    done.set()
    b.join()
    assert result["b"] is True


@pytest.mark.parametrize("make", [ag.no_grad, ag.enable_grad, lambda: ag.set_grad_enabled(False)])
def test_a_mode_refuses_to_decorate_an_async_function(make):
    async def coroutine():
        return ag.is_grad_enabled()

    async def generator():
        yield ag.is_grad_enabled()

    for func in (coroutine, generator):
        with pytest.raises(TypeError, match=r"as a decorator of the async function .* would hold only while the "
                                            r"coroutine is made"):
            make()(func)
