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


# --- the course's variants, bit for bit against literal legacy NumPy code -------------------------
def _legacy_lecun(layer_dims, seed):
    """The L-layer exercise's initialization, written as the course writes it."""
    np.random.seed(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def _legacy_two_layer(n_x, n_h, n_y):
    """The 2-layer exercise's initialization, written as the course writes it."""
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def _legacy_he(layer_dims, seed):
    np.random.seed(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(2. / layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def _assert_bit_equal(params, reference):
    assert list(params) == list(reference)
    for key, value in reference.items():
        got = params[key].data
        assert got.shape == value.shape and got.dtype == value.dtype, key
        assert got.tobytes() == value.tobytes(), key


@pytest.fixture
def restore_global_numpy_state():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.parametrize("dims, seed", [([12288, 20, 7, 5, 1], 1), ([2, 20, 3, 1], 3), ([5, 4, 3], 1)])
def test_lecun_with_a_random_state_equals_the_legacy_seeded_randn_bit_for_bit(dims, seed,
                                                                               restore_global_numpy_state):
    params = ag.init.initialize(dims, "lecun", rng=np.random.RandomState(seed))
    _assert_bit_equal(params, _legacy_lecun(dims, seed))


def test_small_with_a_random_state_equals_the_two_layer_exercise_bit_for_bit(restore_global_numpy_state):
    params = ag.init.initialize([12288, 7, 1], "small", rng=np.random.RandomState(1))
    _assert_bit_equal(params, _legacy_two_layer(12288, 7, 1))


def test_he_with_a_random_state_equals_the_legacy_he_bit_for_bit(restore_global_numpy_state):
    params = ag.init.initialize([2, 10, 5, 1], "he", rng=np.random.RandomState(3))
    _assert_bit_equal(params, _legacy_he([2, 10, 5, 1], 3))


def test_a_random_state_leaves_numpys_global_stream_alone(restore_global_numpy_state):
    np.random.seed(5)
    expected = np.random.randn(3)
    np.random.seed(5)
    ag.init.initialize([4, 3], "lecun", rng=np.random.RandomState(1))
    np.testing.assert_array_equal(np.random.randn(3), expected)


@pytest.mark.parametrize("method, expected_std", [("lecun", 1 / np.sqrt(400)), ("small", 0.01)])
def test_empirical_std_of_the_course_variants(method, expected_std):
    W = ag.init.initialize([400, 500], method=method, rng=np.random.default_rng(2))["W1"].data
    assert abs(W.std() / expected_std - 1) < 0.01


# --- rng argument ---------------------------------------------------------------------------
def test_an_int_seed_is_a_fresh_default_rng_of_that_seed():
    a = ag.init.initialize([3, 4, 2], "xavier", rng=7)
    b = ag.init.initialize([3, 4, 2], "xavier", rng=7)
    reference = np.random.default_rng(7)
    W1 = reference.standard_normal((4, 3)) * np.sqrt(1 / 3)
    W2 = reference.standard_normal((2, 4)) * np.sqrt(1 / 4)
    for params in (a, b):
        assert params["W1"].data.tobytes() == W1.tobytes() and params["W2"].data.tobytes() == W2.tobytes()


def test_a_generator_is_used_as_is_and_advances():
    rng = np.random.default_rng(11)
    first = ag.init.initialize([3, 2], rng=rng)["W1"].data
    second = ag.init.initialize([3, 2], rng=rng)["W1"].data
    assert not np.array_equal(first, second)  # the stream moved on
    reference = np.random.default_rng(11)
    np.testing.assert_array_equal(first, reference.standard_normal((2, 3)) * np.sqrt(2 / 3))


def test_rng_none_uses_the_package_default_that_manual_seed_resets():
    from autograd_lite import rng as rng_module
    rng_module.manual_seed(4)
    a = ag.init.initialize([3, 2])["W1"].data
    rng_module.manual_seed(4)
    b = ag.init.initialize([3, 2])["W1"].data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(4).standard_normal((2, 3)) * np.sqrt(2 / 3))


@pytest.mark.parametrize("rng", ["1", 1.5, True, [1], np.random.default_rng, object()])
def test_bad_rng_is_a_type_error_naming_initialize(rng):
    with pytest.raises(TypeError, match=r"initialize: rng must be None, an int seed, a numpy\.random\.Generator "
                                        r"or a numpy\.random\.RandomState"):
        ag.init.initialize([3, 2], rng=rng)


def test_negative_seed_is_refused():
    with pytest.raises(ValueError, match=r"initialize: a seed must be >= 0, got -1"):
        ag.init.initialize([3, 2], rng=-1)


# --- arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["glorot", "HE", None, 1])
def test_unknown_method_lists_every_valid_one(method):
    with pytest.raises(ValueError) as info:
        ag.init.initialize([2, 1], method=method)
    message = str(info.value)
    assert f"unknown method {method!r}" in message
    for name in ("he", "xavier", "lecun", "small", "random_normal"):
        assert repr(name) in message


@pytest.mark.parametrize("dims", [5, None, "2,1", 3.0])
def test_layer_dims_that_are_not_a_sequence(dims):
    with pytest.raises(TypeError, match="initialize: layer_dims must be a sequence of layer sizes"):
        ag.init.initialize(dims)


@pytest.mark.parametrize("dims", [[3, True], [3, None], [3, "2"], [np.float64(2.0), 1]])
def test_layer_dims_entries_that_are_not_positive_ints(dims):
    with pytest.raises(ValueError, match="every size must be a positive int"):
        ag.init.initialize(dims)


def test_numpy_int_sizes_and_tuples_are_accepted():
    params = ag.init.initialize((np.int64(3), np.int32(2)), rng=0)
    assert params["W1"].shape == (2, 3) and params["b1"].shape == (2, 1)
