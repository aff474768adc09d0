"""ag.compile and values nested deeper than the compile key follows (8 levels): a value that can
change there (a list, a dict, an object) makes the call run eagerly with a warning, where it was
keyed by identity and a change inside it replayed the old value; an immutable one (numbers,
strings, tuples of them) is keyed by value and replayed. Expected values: the eager function."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _nested(leaf, levels):
    for _ in range(levels):
        leaf = [leaf]
    return leaf


def _innermost(holder, levels):
    for _ in range(levels):
        holder = holder[0]
    return holder


def _cost(x, cfg):
    return (x * _innermost(cfg, 10)[0]).sum()


def test_a_list_nested_deep_and_changed_in_place_gives_the_new_value():
    x = ag.Tensor(np.arange(3.0), requires_grad=True)
    cfg = _nested([2.0], 10)
    step = ag.compile(_cost)
    with pytest.warns(RuntimeWarning, match="nested more than 8 levels deep"):
        first = step(x, cfg).item()
    _innermost(cfg, 10)[0] = 5.0  # (in place: the same lists, by identity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        second = step(x, cfg)
    assert first == 6.0
    assert second.item() == 15.0  # eager: (0 + 1 + 2) * 5
    second.backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0, 5.0])


def test_a_deep_tuple_of_numbers_is_keyed_by_value_and_replayed():
    x = ag.Tensor(np.arange(3.0))
    step = ag.compile(lambda x, cfg: (x * _innermost(cfg, 10)[0]).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        two, three = _nested_tuple(2.0), _nested_tuple(3.0)  # (the containers above: by identity too)
        values = [step(x, cfg).item() for cfg in (two, two, three, three)]
    assert values == [6.0, 6.0, 9.0, 9.0]
    assert step.replays == 2 and step.recordings == 2


def _nested_tuple(leaf):
    leaf = (leaf,)
    for _ in range(10):
        leaf = (leaf,)
    return leaf


def test_a_deep_object_changed_in_place_gives_the_new_value():
    class Box:
        def __init__(self, scale):
            self.scale = scale

    box = Box(2.0)
    cfg = _nested(box, 10)
    x = ag.Tensor(np.ones(2))
    step = ag.compile(lambda x, cfg: x.sum() * _innermost(cfg, 10).scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first = step(x, cfg).item()
        box.scale = 7.0
        second = step(x, cfg).item()
    assert (first, second) == (4.0, 14.0)
