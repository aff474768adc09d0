"""ag.init.initialize: shapes, scales from SEEDS.md section 5, errors."""
import numpy as np
import pytest

import autograd_lite as ag


def test_shapes_names_and_zero_biases():
    params = ag.init.initialize([5, 4, 3, 1], rng=np.random.default_rng(0))
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert params["W1"].shape == (4, 5) and params["W2"].shape == (3, 4) and params["W3"].shape == (1, 3)
    for l, n in [(1, 4), (2, 3), (3, 1)]:
        b = params[f"b{l}"]
        assert b.shape == (n, 1) and not b.data.any()
    for key, t in params.items():
        assert isinstance(t, ag.Tensor) and t.requires_grad and t.name == key and t.dtype == np.float64


@pytest.mark.parametrize("method, expected_std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(1 / 400)),
                                                  ("random_normal", 10.0)])
def test_empirical_std_of_a_large_layer(method, expected_std):
    W = ag.init.initialize([400, 500], method=method, rng=np.random.default_rng(1))["W1"].data
    # 200,000 draws: the sample std is within about 0.3% of the true one.
    assert abs(W.std() / expected_std - 1) < 0.01
    assert abs(W.mean()) < 0.01 * expected_std


def test_same_generator_seed_same_weights():
    a = ag.init.initialize([3, 2], rng=np.random.default_rng(7))["W1"].data
    b = ag.init.initialize([3, 2], rng=np.random.default_rng(7))["W1"].data
    np.testing.assert_array_equal(a, b)
    assert ag.init.initialize([3, 2])["W1"].shape == (2, 3)  # rng None: a fresh default generator


def test_unknown_method():
    with pytest.raises(ValueError, match=r"unknown method 'glorot'.*'he'"):
        ag.init.initialize([2, 1], method="glorot")


@pytest.mark.parametrize("dims, text", [([3], "expected at least 2"), ([], "expected at least 2"),
                                        ([3, 0], "positive int"), ([3, -2, 1], "positive int"),
                                        ([3, 2.5], "positive int")])
def test_bad_layer_dims(dims, text):
    with pytest.raises(ValueError, match=text):
        ag.init.initialize(dims)
