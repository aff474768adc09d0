"""models.deep: mini-batch partition, training with each optimizer, errors."""
from pathlib import Path

import numpy as np
import pytest

import autograd_lite as ag
from models import TrainingDivergedError, data, deep, manual


@pytest.mark.parametrize("m, size, expected", [(150, 64, [64, 64, 22]), (128, 64, [64, 64]),
                                               (5, 64, [5]), (7, 1, [1] * 7)])
def test_mini_batches_partition_every_example_once(m, size, expected):
    rng = np.random.default_rng(0)
    X = np.vstack([np.arange(m), -np.arange(m)]).astype(float)  # column j carries its own index j
    Y = (np.arange(m) % 2).astype(float).reshape(1, m)
    batches = deep.random_mini_batches(X, Y, size, rng)
    assert [b[0].shape for b in batches] == [(2, k) for k in expected]
    assert [b[1].shape for b in batches] == [(1, k) for k in expected]
    seen = np.concatenate([b[0][0] for b in batches]).astype(int)
    assert sorted(seen.tolist()) == list(range(m))  # each example exactly once
    for X_batch, Y_batch in batches:  # columns of X and Y were shuffled together
        np.testing.assert_array_equal(X_batch[1], -X_batch[0])
        np.testing.assert_array_equal(Y_batch[0], X_batch[0] % 2)


def test_mini_batches_are_shuffled_by_the_generator():
    X, Y = np.arange(100.0).reshape(1, 100), np.zeros((1, 100))
    first = deep.random_mini_batches(X, Y, 100, np.random.default_rng(1))[0][0]
    again = deep.random_mini_batches(X, Y, 100, np.random.default_rng(1))[0][0]
    other = deep.random_mini_batches(X, Y, 100, np.random.default_rng(2))[0][0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, X) and not np.array_equal(first, other)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_mini_batch_size(size):
    with pytest.raises(ValueError, match="random_mini_batches: mini_batch_size must be an int >= 1"):
        deep.random_mini_batches(np.zeros((2, 4)), np.zeros((1, 4)), size)


@pytest.mark.parametrize("optimizer, lr", [("gd", 0.3), ("momentum", 0.3), ("adam", 0.01)])
def test_each_optimizer_learns_the_synthetic_set(optimizer, lr):
    train_X, train_Y, test_X, test_Y = data.load_football()
    params, costs = deep.train(train_X, train_Y, [2, 8, 4, 1], optimizer=optimizer, learning_rate=lr,
                               num_epochs=200, mini_batch_size=64, rng=np.random.default_rng(3),
                               cost_every=50)
    assert len(costs) == 4 and costs[-1] < 0.6 * costs[0]
    assert np.mean(deep.predict(params, test_X) == test_Y) > 0.8


def test_l2_dropout_and_optimizer_options():
    X, Y = data.load_football()[:2]
    params, costs = deep.train(X, Y, [2, 6, 1], optimizer="adam", learning_rate=0.01, num_epochs=3,
                               mini_batch_size=50, lambd=0.5, keep_prob=0.8, beta1=0.8,
                               rng=np.random.default_rng(0), cost_every=1)
    assert len(costs) == 3 and np.isfinite(costs).all()
    assert list(params) == ["W1", "b1", "W2", "b2"]


def test_cat_images_learn_with_full_batch(real_data):
    path = real_data("catvnoncat.npz")
    train_x, train_y, _, _ = data.load_catvnoncat(path)
    _, costs = deep.train(train_x, train_y, [12288, 7, 1], learning_rate=0.0075, num_epochs=3,
                          cost_every=2, rng=np.random.default_rng(1))
    assert len(costs) == 2 and costs[1] < costs[0]


def test_unknown_optimizer_and_init():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        deep.train(X, Y, [2, 1], optimizer="sgd")
    with pytest.raises(ValueError, match="unknown method 'zeros'"):
        deep.train(X, Y, [2, 1], init="zeros")


def test_orientation_errors():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match="looks transposed.*examples must be columns"):
        deep.train(X.T, Y, [2, 3, 1], num_epochs=1)
    with pytest.raises(ValueError, match="X has 211 examples .* but Y has 210"):
        deep.train(X, Y[:, 1:], [2, 3, 1], num_epochs=1)
    params = ag.init.initialize([2, 3, 1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="examples must be columns"):
        deep.predict(params, X.T)


def test_bad_counts():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match="deep.train: num_epochs must be an int >= 0, got -1"):
        deep.train(X, Y, [2, 1], num_epochs=-1)
    with pytest.raises(ValueError, match="cost_every must be an int >= 1, got 0"):
        deep.train(X, Y, [2, 1], cost_every=0)


def test_full_batch_cost_is_the_cost_itself():
    X, Y = data.load_football()[:2]
    params, costs = deep.train(X, Y, [2, 3, 1], num_epochs=1, rng=np.random.default_rng(4))
    initial = ag.init.initialize([2, 3, 1], rng=np.random.default_rng(4))
    AL, _ = manual.L_model_forward(X, {k: v.data for k, v in initial.items()})
    assert costs == [manual.compute_cost(AL, Y)]


def test_divergence_is_reported():
    X, Y = data.load_football()[:2]
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match=r"parameter W\d .* epoch \d+"):
        deep.train(X, Y, [2, 3, 1], learning_rate=1e300, num_epochs=20, rng=np.random.default_rng(0))
