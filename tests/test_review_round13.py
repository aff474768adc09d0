"""Review round 13: hostile arguments of the joining ops and of a tensor's name, each refused
naming the op and what it expects. Expected values come from NumPy."""
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
    with pytest.raises(TypeError, match=rf"{join.__name__}: expected a list or tuple of tensors, got a \w+ "
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
    with pytest.raises(TypeError, match=rf"{join.__name__}: tensors must be a list or tuple of tensors, got int 5"):
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
