"""Review round 15 (adv71): three_layer.train takes keep_prob as ag.dropout does (a Fraction too);
pytrees keep an OrderedDict or a defaultdict and refuse, by name, a subclass they could not rebuild
(it reached f as a plain dict, where the user's p.W failed). References: torch, closed forms."""
from fractions import Fraction

import numpy as np
import pytest

import autograd_lite as ag
from models import three_layer as tl

from oracles import torch


def _torch_bce_at(params, X, Y):
    T = {k: torch.tensor(np.asarray(v.data if hasattr(v, "data") else v)) for k, v in params.items()}
    x, y = torch.tensor(X), torch.tensor(Y)
    a1 = torch.relu(T["W1"] @ x + T["b1"])
    a2 = torch.relu(T["W2"] @ a1 + T["b2"])
    a3 = torch.sigmoid(T["W3"] @ a2 + T["b3"])
    return torch.nn.functional.binary_cross_entropy(a3, y).item()


def test_three_layer_train_takes_a_fraction_keep_prob_as_cost_does():
    # keep_prob = Fraction(1) is 1: no dropout, so the cost of iteration 0 is the plain BCE at he-init params
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2, 10)); Y = (X[0:1] > 0).astype(float)
    start = tl.initialize("he", 0)  # train draws its params from the same generator first
    expected = _torch_bce_at(start, X, Y)
    tl.cost(start, X, Y, 0.0, Fraction(4, 5), rng=0)  # cost (ag.dropout) accepts a Fraction
    _, costs = tl.train(X, Y, num_iterations=1, keep_prob=Fraction(1), init="he", rng=0)
    assert costs[0] == pytest.approx(expected, rel=1e-12)


class AttrDict(dict):
    __getattr__ = dict.__getitem__


class Pair(tuple):
    pass


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian"])
def test_a_dict_or_tuple_subclass_is_refused_naming_it(transform):
    W = np.array([1.0, -2.0, 0.5])
    with pytest.raises(TypeError, match=r"pytree: a AttrDict \(a subclass of dict\) cannot be rebuilt"):
        getattr(ag, transform)(lambda p: ag.sum(p.W ** 2))(AttrDict(W=W))
    with pytest.raises(TypeError, match=r"pytree: a Pair \(a subclass of tuple\) cannot be rebuilt"):
        getattr(ag, transform)(lambda t: ag.sum(t[0] ** 3))(Pair((W, W)))


def test_an_ordered_dict_and_a_defaultdict_come_back_as_themselves():
    import collections
    W = np.array([1.0, -2.0, 0.5])
    f = lambda p: ag.sum(p["W"] ** 2)  # d/dW = 2 W
    ordered = ag.grad(f)(collections.OrderedDict(W=W))
    assert type(ordered) is collections.OrderedDict
    np.testing.assert_array_equal(ordered["W"], 2 * W)
    default = ag.grad(f)(collections.defaultdict(list, W=W))
    assert type(default) is collections.defaultdict and default.default_factory is list
    np.testing.assert_array_equal(default["W"], 2 * W)
