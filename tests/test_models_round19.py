"""Round 19 (adv105): the models' training functions refuse a bad learning rate or init up front under
their own name and argument, before drawing any weight; a data file's out-of-range long double is
shown as stored."""
import numpy as np
import pytest

from models import data, deep, three_layer


@pytest.fixture
def football():
    return data.load_football()[:2]


@pytest.mark.parametrize("learning_rate, shown", [(0, "0"), (-0.3, "-0.3"), (float("nan"), "nan")])
def test_deep_train_names_learning_rate_before_drawing(football, learning_rate, shown):
    X, Y = football
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=rf"^deep\.train: learning_rate must be .*got {shown}"):
        deep.train(X, Y, [2, 3, 1], num_epochs=1, learning_rate=learning_rate, rng=rng)
    assert rng.bit_generator.state == before  # refused before any weight was drawn


@pytest.mark.parametrize("init", ["bogus", ["he"], None])
def test_deep_train_names_init_before_drawing(football, init):
    X, Y = football
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=r"^deep\.train: unknown init .*expected one of \['he', "):
        deep.train(X, Y, [2, 3, 1], num_epochs=1, init=init, rng=rng)
    assert rng.bit_generator.state == before


def test_three_layer_train_names_learning_rate_and_init(football):
    X, Y = football
    with pytest.raises(ValueError, match=r"^three_layer\.train: learning_rate must be .*> 0, got -0\.3"):
        three_layer.train(X, Y, learning_rate=-0.3, num_iterations=1)
    with pytest.raises(ValueError, match=r"^three_layer\.train: unknown init \['he'\]"):
        three_layer.train(X, Y, num_iterations=1, init=["he"])
    with pytest.raises(ValueError, match=r"^three_layer\.initialize: unknown init 'zeros'"):
        three_layer.initialize("zeros")


def test_long_double_beyond_float64_is_shown_as_stored(tmp_path):
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    X, Y, X_test, Y_test = data.load_football()
    X = X.astype(np.longdouble)
    X[0, 0] = np.longdouble("1e400")
    path = tmp_path / "wide.npz"
    np.savez(path, train_X=X, train_Y=Y, test_X=X_test, test_Y=Y_test)
    with pytest.raises(ValueError, match=r"holds 1e\+400 at index \(0, 0\), beyond float64's range"):
        data.load_football(path)
