"""Copies and pickles of a leaf keep the attributes its user set and its Tensor subclass, as PyTorch's do."""
import copy
import pickle

import numpy as np
import pytest

import autograd_lite as ag


class Param(ag.Tensor):
    """A parameter class of the user's (module level: pickle finds it by name)."""


class _Slotted(ag.Tensor):
    __slots__ = ("extra",)


@pytest.mark.parametrize("copier", [copy.deepcopy, copy.copy, lambda t: pickle.loads(pickle.dumps(t))],
                         ids=["deepcopy", "copy", "pickle"])
def test_a_copy_keeps_the_subclass_and_the_users_attributes(copier):
    t = Param(np.ones(2), requires_grad=True, name="W")
    t.weight_decay, t.tags = 0.1, ["decayed"]
    t.grad = np.full(2, 3.0)
    c = copier(t)
    assert type(c) is Param and c.name == "W" and c.requires_grad and c.weight_decay == 0.1
    assert c.tags == ["decayed"]
    np.testing.assert_array_equal(c.grad, [3.0, 3.0])
    assert not np.shares_memory(c.data, t.data)


def test_a_deepcopy_copies_the_attributes_deeply():
    t = ag.Tensor([1.0])
    t.meta = {"seen": [1]}
    c = copy.deepcopy(t)
    c.meta["seen"].append(2)
    assert t.meta == {"seen": [1]} and c.meta == {"seen": [1, 2]}


def test_a_subclass_with_slots_of_its_own_is_refused_by_name():
    with pytest.raises(TypeError, match=r"copy: a _Slotted \(a Tensor subclass with __slots__ of its own\)"):
        copy.deepcopy(_Slotted([1.0]))


def test_a_pickle_made_before_attributes_were_kept_still_loads():
    from autograd_lite.numpy_api import _leaf
    t = _leaf(np.ones(2), True, "W", None)  # (the four fields older pickles hold)
    assert type(t) is ag.Tensor and t.name == "W" and t.requires_grad


def test_copy_copy_shares_the_attributes_as_a_shallow_copy_does():
    w = ag.Tensor(np.ones(2), requires_grad=True)
    w.cache = ag.Tensor(np.ones(2), requires_grad=True) * 2  # (an op's output, which deepcopy refuses)
    c = copy.copy(w)
    assert c.cache is w.cache and c is not w


def test_a_leaf_whose_attribute_refers_to_itself_pickles_and_deepcopies():
    s = ag.Tensor(np.ones(2), requires_grad=True)
    s.me = s
    for c in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert c.me is c and c is not s
