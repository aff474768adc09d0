"""models.three_layer: exact reproduction of SEEDS.md section 4's table on the real
data, the recorded costs, prediction, and the input / divergence errors."""
import re

import numpy as np
import pytest

import autograd_lite as ag
from models import TrainingDivergedError, data, manual, three_layer

# Typed in from SEEDS.md section 4 (never produced by this code):
# (lambd, keep_prob) -> train accuracy, test accuracy, costs at iterations 0, 10,000, 20,000.
PUBLISHED = {
    "no regularization": ((0.0, 1.0), 0.9478672985781991, 0.915,
                          (0.6557412523481002, 0.16329987525724204, 0.13851642423234922)),
    "L2, lambd = 0.7": ((0.7, 1.0), 0.9383886255924171, 0.93,
                        (0.6974484493131264, 0.2684918873282238, 0.26809163371273004)),
    "dropout, keep_prob = 0.86": ((0.0, 0.86), 0.9289099526066351, 0.95,
                                  (0.6543912405149825, 0.0610169865749056, 0.060582435798513114)),
}
CORRECT = {"no regularization": (200, 183), "L2, lambd = 0.7": (198, 186), "dropout, keep_prob = 0.86": (196, 190)}


@pytest.fixture(scope="module")
def football(real_data):
    return data.load_football(real_data("football.npz"))


@pytest.fixture(scope="module", params=list(PUBLISHED))
def reference_run(request, football):
    """One full 30,000-iteration run per model, shared by the tests below."""
    (lambd, keep_prob), *_ = PUBLISHED[request.param]
    params, costs = three_layer.train(football[0], football[1], lambd=lambd, keep_prob=keep_prob,
                                      init="reference")
    return request.param, params, costs


def test_reproduces_published_accuracies_exactly(reference_run, football):
    model, params, _ = reference_run
    train_X, train_Y, test_X, test_Y = football
    _, train_accuracy, test_accuracy, _ = PUBLISHED[model]
    train_correct = int((three_layer.predict(params, train_X) == train_Y).sum())
    test_correct = int((three_layer.predict(params, test_X) == test_Y).sum())
    assert (train_correct, test_correct) == CORRECT[model]
    assert np.mean(three_layer.predict(params, train_X) == train_Y) == train_accuracy
    assert np.mean(three_layer.predict(params, test_X) == test_Y) == test_accuracy


def test_reproduces_published_costs(reference_run):
    model, _, costs = reference_run
    published = PUBLISHED[model][3]
    assert len(costs) == 30
    assert costs[0] == published[0]  # before any update: no BLAS drift yet, so exact
    for got, expected in zip((costs[10], costs[20]), published[1:]):
        assert abs(got - expected) < 1e-8
        assert got == pytest.approx(expected, rel=1e-9)


def test_first_cost_is_taken_before_the_update():
    X, Y = data.load_football()[:2]
    _, costs = three_layer.train(X, Y, num_iterations=1001)
    assert len(costs) == 2
    A3, _ = manual.forward_propagation(X, manual.initialize_reference())
    assert costs[0] == manual.compute_cost(A3, Y)
    assert costs[1] < costs[0]


def test_l2_and_dropout_together_and_generator_inits():
    X, Y = data.load_football()[:2]
    _, costs = three_layer.train(X, Y, num_iterations=2000, lambd=0.7, keep_prob=0.86)
    assert len(costs) == 2 and np.isfinite(costs).all() and costs[1] < costs[0]
    runs = [three_layer.train(X, Y, num_iterations=1001, keep_prob=0.86, init="he",
                              rng=np.random.default_rng(8))[1] for _ in range(2)]
    assert runs[0] == runs[1]  # same seed, same weights and masks
    plain = three_layer.train(X, Y, num_iterations=1, init="he", rng=np.random.default_rng(8))[1]
    assert plain[0] != runs[0][0]  # the dropout run's first cost saw a dropped-out forward pass


def test_predict_is_strictly_greater_than_one_half():
    params = {k: np.zeros_like(v) for k, v in manual.initialize_reference().items()}  # A3 = 0.5 exactly
    X = np.ones((2, 4))
    assert three_layer.predict(params, X).tolist() == [[0, 0, 0, 0]]
    params["b3"] = np.full((1, 1), 1e-12)
    prediction = three_layer.predict(params, X)
    assert prediction.shape == (1, 4) and prediction.dtype == np.int64 and prediction.tolist() == [[1] * 4]


def test_predict_accepts_trained_tensors():
    X, Y = data.load_football()[:2]
    params, _ = three_layer.train(X, Y, num_iterations=10)
    assert all(isinstance(p, ag.Tensor) for p in params.values())
    assert set(np.unique(three_layer.predict(params, X))) <= {0, 1}


def test_transposed_X_says_examples_are_columns():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match=r"X has shape \(211, 2\).*looks transposed.*examples must be columns"):
        three_layer.train(X.T, Y, num_iterations=1)
    with pytest.raises(ValueError, match="examples must be columns"):
        three_layer.predict(manual.initialize_reference(), X.T)


def test_transposed_Y_and_mismatched_counts():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match=r"Y has shape \(211, 1\).*examples must be columns"):
        three_layer.train(X, Y.T, num_iterations=1)
    with pytest.raises(ValueError, match="X has 211 examples .* but Y has 200"):
        three_layer.train(X, Y[:, :200], num_iterations=1)
    with pytest.raises(ValueError, match=r"expected \(2, m\)"):
        three_layer.train(np.vstack([X, X]), Y, num_iterations=1)


def test_unknown_init_and_bad_iterations():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match="unknown init 'zeros'"):
        three_layer.train(X, Y, num_iterations=1, init="zeros")
    with pytest.raises(ValueError, match="num_iterations must be an int >= 0, got 2.5"):
        three_layer.train(X, Y, num_iterations=2.5)


def test_divergence_names_iteration_and_parameter():
    X, Y = data.load_football()[:2]
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as error:
        three_layer.train(X, Y, learning_rate=1e300, num_iterations=50)
    message = str(error.value)
    assert isinstance(error.value, FloatingPointError)
    assert re.search(r"parameter W1 \(20, 2\) holds (NaN|inf) after the update of iteration \d+", message)
    assert "smaller learning rate" in message


def test_zero_examples_and_strings_are_clear_errors():
    X, Y = data.load_football()[:2]
    with pytest.raises(ValueError, match=r"three_layer.train: X has shape \(2, 0\): zero examples"):
        three_layer.train(np.zeros((2, 0)), np.zeros((1, 0)), num_iterations=1)
    with pytest.raises(TypeError, match="three_layer.train: Y has dtype <U.*expected numeric labels 0 or 1"):
        three_layer.train(X, np.where(Y == 1, "yes", "no"), num_iterations=1)
    with pytest.raises(TypeError, match="three_layer.train: X has dtype <U.*expected numbers"):
        three_layer.train(X.astype(str), Y, num_iterations=1)
    with pytest.raises(TypeError, match="three_layer.train: X has dtype object"):
        three_layer.train(X.astype(object), Y, num_iterations=1)


@pytest.mark.parametrize("rng", [7, np.random.default_rng(7), np.random.RandomState(7)])
def test_rng_of_every_kind(rng):
    """An int seed, a Generator and a RandomState all seed the non-reference inits and masks."""
    X, Y = data.load_football()[:2]
    params, costs = three_layer.train(X, Y, num_iterations=3, init="he", keep_prob=0.8, rng=rng)
    assert np.isfinite(costs).all()
    if isinstance(rng, int):  # an int seed is repeatable
        again, costs_again = three_layer.train(X, Y, num_iterations=3, init="he", keep_prob=0.8, rng=7)
        assert costs_again == costs
