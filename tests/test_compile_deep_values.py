"""ag.compile and values nested deeper than the compile key follows (8 levels): a value that can
change there (a list, a dict, an object) makes the call run eagerly with a warning, where it was
keyed by identity and a change inside it replayed the old value; an immutable one (numbers,
strings, tuples of them) is keyed by value and replayed. Expected values: the eager function."""
import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
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


SCALE = {"k": 2.0}


def _scale():
    return SCALE["k"]


def _times_scale(a):
    return a * SCALE["k"]


@pytest.mark.parametrize("leaf,levels", [(_scale, 8), (functools.partial(_times_scale, 1.0), 7)])
def test_a_deep_function_whose_global_changes_gives_the_new_value(leaf, levels):
    # (a function nested 8 deep, or a partial 7 deep whose function is 8 deep, was keyed by identity:
    # the global it reads was not followed)
    SCALE["k"] = 2.0
    x, cfg = ag.Tensor(np.arange(3.0)), _nested(leaf, levels)
    step = ag.compile(lambda x, cfg: x.sum() * _innermost(cfg, levels)())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first = step(x, cfg).item()
        SCALE["k"] = 5.0
        second = step(x, cfg).item()
    SCALE["k"] = 2.0
    assert (first, second) == (6.0, 15.0)


class _Act(enum.Enum):
    RELU = "relu"
    TANH = "tanh"


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("constant", [_Act.TANH, np.dtype("float32"), fractions.Fraction(1, 3),
                                      decimal.Decimal("0.5"), Point(1, 2.5), range(3), slice(1, 4),
                                      datetime.date(2026, 12, 1), np.str_("tanh"), np.float32(0.5)])
@pytest.mark.parametrize("levels", [7, 10])
def test_a_deep_constant_is_keyed_by_value_and_replayed(constant, levels):
    # (each such value was refused at depth 8 by the first version of this rule; an Enum member at 7 too,
    # through its class's tables)
    # (in tuples, which can never change either: lists 8 deep make the call eager themselves)
    x, cfg = ag.Tensor(np.arange(3.0)), constant
    for _ in range(levels):
        cfg = (cfg,)
    step = ag.compile(lambda x, cfg: x.sum() * (2.0 if _innermost(cfg, levels) == constant else 3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        values = [step(x, cfg).item() for _ in range(3)]
    assert values == [6.0] * 3 and step.replays == 2


def test_a_model_of_stages_and_blocks_whose_layers_hold_an_enum_replays():
    @dataclasses.dataclass
    class Cfg:
        act: _Act = _Act.TANH

    class Linear:
        def __init__(self, cfg):
            self.w, self.cfg = ag.Tensor(np.full((3, 3), 0.1), requires_grad=True), cfg

        def __call__(self, x):
            return ag.tanh(x @ self.w) if self.cfg.act is _Act.TANH else ag.relu(x @ self.w)

    cfg = Cfg()
    model = [[[Linear(cfg), Linear(cfg)] for _ in range(2)] for _ in range(2)]

    def cost(model, x):
        for stage in model:
            for block in stage:
                for layer in block:
                    x = layer(x)
        return x.sum()

    x = ag.Tensor(np.ones((2, 3)))
    step = ag.compile(cost)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        values = [step(model, x).item() for _ in range(3)]
    assert step.replays == 2
    np.testing.assert_allclose(values, cost(model, x).item(), rtol=1e-15)
    cfg.act = _Act.RELU  # (read through each layer's cfg: keyed, traced anew)
    assert step(model, x).item() == pytest.approx(cost(model, x).item(), rel=1e-15)


def test_a_class_two_levels_deep_is_keyed_by_its_data():
    class Hyper:
        k = 2.0

    x, cfg = ag.Tensor(np.arange(3.0)), {"cfgs": [Hyper]}
    step = ag.compile(lambda x, cfg: x.sum() * cfg["cfgs"][0].k)
    first = step(x, cfg).item()
    Hyper.k = 5.0
    assert (first, step(x, cfg).item()) == (6.0, 15.0)
