"""models.deep: mini-batch partition, training with each optimizer, errors."""

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
    with pytest.raises(ValueError, match="deep.train: unknown init 'zeros'"):
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


# --- the course's random streams and learning-rate schedules ------------------------------------
def course_he_init(layer_dims, seed):
    """The course's optimization notebook's He initialization, as it writes it (legacy global seed)."""
    np.random.seed(seed)
    return {key: value for l in range(1, len(layer_dims)) for key, value in (
        (f"W{l}", np.random.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(2. / layer_dims[l - 1])),
        (f"b{l}", np.zeros((layer_dims[l], 1))))}


def course_mini_batches(X, Y, size, seed):
    """The course's random_mini_batches: np.random.seed(seed), one permutation, consecutive cuts."""
    np.random.seed(seed)
    permutation = list(np.random.permutation(X.shape[1]))
    X, Y = X[:, permutation], Y[:, permutation]
    return [(X[:, k:k + size], Y[:, k:k + size]) for k in range(0, X.shape[1], size)]


def test_separate_seeds_for_init_and_shuffles_reproduce_the_course_loop():
    """The course's optimization notebook: np.random.seed(3) for He weights, then before each
    epoch seed = seed + 1 (from 10) and a reshuffle with that seed. deep.train expresses it
    as init_rng=RandomState(3), shuffle_seed=11; the reference loop is plain NumPy with the
    hand-derived gradients of models.manual."""
    X, Y = data.load_football()[:2]
    dims, lr, epochs = [2, 5, 2, 1], 0.05, 4
    params, costs = deep.train(X, Y, dims, learning_rate=lr, num_epochs=epochs, mini_batch_size=64,
                               init_rng=np.random.RandomState(3), shuffle_seed=11, rng=123, cost_every=1)
    reference = course_he_init(dims, 3)
    expected_costs, seed = [], 10
    for _ in range(epochs):
        seed = seed + 1
        batches = course_mini_batches(X, Y, 64, seed)
        total = sum(manual.deep_step(reference, Xb, Yb, lr) * Xb.shape[1] for Xb, Yb in batches)
        expected_costs.append(total / X.shape[1])
    np.testing.assert_allclose(costs, expected_costs, rtol=1e-12)
    for key, value in reference.items():
        np.testing.assert_allclose(params[key].data, value, rtol=1e-10, atol=1e-14)
    # A callable gives the seed of each epoch; the same schedule written as one:
    again, costs_again = deep.train(X, Y, dims, learning_rate=lr, num_epochs=epochs, mini_batch_size=64,
                                    init_rng=np.random.RandomState(3), shuffle_seed=lambda epoch: 11 + epoch,
                                    cost_every=1)
    assert costs_again == costs


def test_init_rng_alone_fixes_the_weights_and_rng_the_shuffles():
    X, Y = data.load_football()[:2]
    run = lambda init_rng, rng: deep.train(X, Y, [2, 4, 1], learning_rate=0.1, num_epochs=2, mini_batch_size=50,
                                           init_rng=init_rng, rng=rng, cost_every=1)[1]
    same_init_other_shuffles = run(np.random.RandomState(1), 5), run(np.random.RandomState(1), 6)
    assert run(np.random.RandomState(1), 5) == run(np.random.RandomState(1), 5)  # fully seeded: repeatable
    assert same_init_other_shuffles[0] != same_init_other_shuffles[1]  # the shuffles follow rng
    # rng alone feeds both: an int seed, a Generator and a RandomState are all accepted.
    assert run(None, 7) == run(None, 7)
    assert run(None, np.random.default_rng(7)) == run(None, 7)
    run(None, np.random.RandomState(7))


def test_lr_schedule_sets_the_rate_before_each_epoch():
    """Full-batch gradient descent with lr = schedule(epoch), against the hand-derived step with
    the same rates (models.manual), and the rates the optimizer saw."""
    X, Y = data.load_football()[:2]
    schedule = lambda epoch: 0.5 / (1 + 0.3 * epoch)  # lr0 / (1 + decay_rate * epoch), written out
    params, costs = deep.train(X, Y, [2, 3, 1], num_epochs=5, lr_schedule=schedule, init_rng=np.random.RandomState(2),
                               init="he", cost_every=1)
    reference = course_he_init([2, 3, 1], 2)
    expected = [manual.deep_step(reference, X, Y, 0.5 / (1 + 0.3 * epoch)) for epoch in range(5)]
    np.testing.assert_allclose(costs, expected, rtol=1e-12)
    for key, value in reference.items():
        np.testing.assert_allclose(params[key].data, value, rtol=1e-10, atol=1e-14)


def test_lr_schedule_from_ag_optim():
    """ag.optim.lr_schedule.exponential / step drive deep.train; the rates are their formulas."""
    X, Y = data.load_football()[:2]
    seen = []
    for schedule, formula in ((ag.optim.lr_schedule.exponential(0.2, 1.0), lambda e: 0.2 / (1 + 1.0 * e)),
                              (ag.optim.lr_schedule.step(0.2, 1.0, 2), lambda e: 0.2 / (1 + 1.0 * (e // 2)))):
        recorder = lambda epoch, schedule=schedule: seen.append((epoch, schedule(epoch))) or schedule(epoch)
        deep.train(X, Y, [2, 1], num_epochs=4, lr_schedule=recorder, rng=0)
        assert [epoch for epoch, _ in seen] == [0, 1, 2, 3]
        np.testing.assert_allclose([lr for _, lr in seen], [formula(e) for e in range(4)], rtol=1e-15)
        seen.clear()


@pytest.mark.parametrize("bad, match", [(lambda e: 0.0, r"lr_schedule\(0\) returned 0.0"),
                                        (lambda e: float("nan"), r"lr_schedule\(0\) returned nan"),
                                        (0.1, "lr_schedule must be a callable")])
def test_bad_lr_schedule(bad, match):
    X, Y = data.load_football()[:2]
    with pytest.raises((ValueError, TypeError), match=match):
        deep.train(X, Y, [2, 1], num_epochs=2, lr_schedule=bad)


def test_bad_shuffle_seed():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match="shuffle_seed gave -1 for epoch 0"):
        deep.train(X, Y, [2, 1], num_epochs=1, mini_batch_size=10, shuffle_seed=-1)
    with pytest.raises(ValueError, match="shuffle_seed gave 'a' for epoch 0"):
        deep.train(X, Y, [2, 1], num_epochs=1, mini_batch_size=10, shuffle_seed=lambda e: "a")


def test_bad_rng_is_a_type_error():
    X, Y = data.load_football()[:2]
    with pytest.raises(TypeError, match="rng must be None, an int seed"):
        deep.train(X, Y, [2, 1], num_epochs=1, rng="seed")


def test_zero_examples_and_strings_are_clear_errors():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match=r"deep.train: X has shape \(2, 0\): zero examples"):
        deep.train(np.zeros((2, 0)), np.zeros((1, 0)), [2, 1])
    with pytest.raises(TypeError, match="deep.train: Y has dtype <U3; expected numeric labels"):
        deep.train(X, np.where(Y == 1, "cat", "dog"), [2, 1])
    with pytest.raises(TypeError, match="deep.train: X has dtype <U.*expected numbers"):
        deep.train(X.astype(str), Y, [2, 1])
