"""Review round 15 (adv63): models.deep refuses bad arguments up front, naming the function, the
argument, the value and what was expected, where it ignored them, took them silently or failed late
with a bare error.

1. deep.forward / deep.cost take exactly L-1 masks, a list or tuple: a third mask for a net with two
   hidden layers was ignored (every mask applied one layer off), one mask was a bare IndexError, a
   generator a bare TypeError.
2. A nested-list X (and Y) is converted once, as deep.predict takes it: deep.train,
   random_mini_batches and deep.cost with L2 failed with a bare AttributeError.
3. shuffle_seed is None, a non-bool int whose every epoch's seed stays in NumPy's range
   [0, 2**32 - 1] (checked before any work), or a callable of the epoch whose seed is checked each
   epoch, naming it: 2**32 - 2 with 3 epochs stopped at epoch 2 with NumPy's bare message, "3" was
   a bare TypeError, True was taken as the seed 1.
4. deep.cost refuses a lambd that is not a finite number >= 0 (ag.l2_penalty's rule) before its
   ``if lambd:``: None, False, [], "" and np.array([0.0]) meant "no L2", a 2-element array was
   NumPy's bare "truth value ... is ambiguous".
5. deep.train refuses an optimizer that is not a str, an lr_schedule that cannot take the epoch,
   and a bad mini_batch_size, lambd or keep_prob by its own name before any work, num_epochs=0
   included; a schedule's 0-d array rate is taken, as learning_rate takes one.

Every reference is plain NumPy: the forward pass, the cost, and gradient descent with the He
initialization and the per-epoch shuffle written out (the course's formulas, SEEDS.md sections 2, 3, 5).
"""
import re

import numpy as np
import pytest

import autograd_lite as ag
from models import deep


def _data(n=3, m=10, seed=0):
    rs = np.random.RandomState(seed)
    return rs.randn(n, m), (rs.rand(1, m) > .5).astype(float)


def _numpy_params(dims, seed=0):
    """He-scaled weights and small biases drawn with NumPy only."""
    rs = np.random.RandomState(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rs.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        params[f"b{l}"] = rs.randn(dims[l], 1) * .1
    return params


def _tensors(arrays):
    return {k: ag.Tensor(v, requires_grad=True) for k, v in arrays.items()}


def _ref_forward(P, X, masks=None, keep_prob=1.0):
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, inverted dropout on hidden layer l with masks[l - 1]."""
    L = len(P) // 2
    A = X
    for l in range(1, L + 1):
        Z = P[f"W{l}"] @ A + P[f"b{l}"]
        if l == L:
            return 1 / (1 + np.exp(-Z))
        A = np.maximum(Z, 0)
        if masks is not None:
            A = A * masks[l - 1] / keep_prob


def _ref_cost(P, X, Y, lambd=0.0):
    A = _ref_forward(P, X)
    m = X.shape[1]
    cross_entropy = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return cross_entropy + lambd / (2 * m) * sum(np.sum(P[f"W{l}"] ** 2) for l in range(1, len(P) // 2 + 1))


def _ref_gd(X, Y, dims, lr, epochs, init_seed, mini_batch_size=None, shuffle_seed=None):
    """Gradient descent: He weights from RandomState(init_seed) (randn(n_l, n_prev) * sqrt(2 / n_prev), zero
    biases), epoch e's shuffle RandomState(shuffle_seed + e).permutation(m) cut into consecutive batches."""
    rs = np.random.RandomState(init_seed)
    P = {}
    for l in range(1, len(dims)):
        P[f"W{l}"] = rs.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        P[f"b{l}"] = np.zeros((dims[l], 1))
    L, m = len(dims) - 1, X.shape[1]
    for epoch in range(epochs):
        if mini_batch_size is None:
            batches = [(X, Y)]
        else:
            perm = np.random.RandomState(shuffle_seed + epoch).permutation(m)
            batches = [(X[:, perm][:, k:k + mini_batch_size], Y[:, perm][:, k:k + mini_batch_size])
                       for k in range(0, m, mini_batch_size)]
        for Xb, Yb in batches:
            As, A, k = [Xb], Xb, Xb.shape[1]
            for l in range(1, L + 1):
                Z = P[f"W{l}"] @ A + P[f"b{l}"]
                A = np.maximum(Z, 0) if l < L else 1 / (1 + np.exp(-Z))
                As.append(A)
            dZ, G = A - Yb, {}
            for l in range(L, 0, -1):
                G[f"W{l}"] = dZ @ As[l - 1].T / k
                G[f"b{l}"] = dZ.sum(axis=1, keepdims=True) / k
                dZ = (P[f"W{l}"].T @ dZ) * (As[l - 1] > 0)
            P = {key: value - lr * G[key] for key, value in P.items()}
    return P


def _assert_params(params, expected):
    assert set(params) == set(expected)
    for key in expected:
        np.testing.assert_allclose(params[key].data, expected[key], rtol=1e-12, atol=1e-15)


def _refused_before_any_work(error, message, **kwargs):
    """deep.train(**kwargs) raises ``error`` with exactly ``message`` and has not drawn the weights yet."""
    X, Y = _data()
    init_rng = np.random.RandomState(2)
    before = init_rng.get_state()[1].copy()
    kwargs = {"num_epochs": 1, "rng": 0, **kwargs}
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        deep.train(X, Y, [3, 4, 1], init_rng=init_rng, **kwargs)
    np.testing.assert_array_equal(init_rng.get_state()[1], before)


# --- 1. the number of dropout masks ---------------------------------------------------------------------
def _masks(count, m=6, seed=1):
    rs = np.random.RandomState(seed)
    return [(rs.rand(4, m) < 0.5).astype(float) for _ in range(count)]


@pytest.mark.parametrize("masks, got", [(_masks(1), "has 1 entry"), (_masks(3), "has 3 entries"),
                                        (_masks(0), "has 0 entries"), ((m for m in _masks(2)), "is generator"),
                                        (np.stack(_masks(2)), "is ndarray")],
                         ids=["1", "3", "0", "generator", "stacked array"])
@pytest.mark.parametrize("function", ["forward", "cost"])
def test_a_mask_count_other_than_the_hidden_layers_is_refused_naming_the_expected_count(function, masks, got):
    X, Y = _data(4, 6)
    P = _tensors(_numpy_params([4, 4, 4, 1]))
    message = (f"deep.{function}: masks {got}; expected a list of 2, one 0/1 array per hidden layer, "
               "of shapes [(4, m), (4, m)]")
    call = (lambda: deep.forward(P, X, 0.5, masks=masks)) if function == "forward" else (
        lambda: deep.cost(P, X, Y, keep_prob=0.5, masks=masks))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()
    assert all(p.grad is None for p in P.values())


@pytest.mark.parametrize("kind", [list, tuple, lambda ms: [ag.Tensor(m) for m in ms]],
                         ids=["list", "tuple", "Tensors"])
def test_two_masks_for_two_hidden_layers_match_numpy(kind):
    X, _ = _data(4, 6)
    arrays = _numpy_params([4, 4, 4, 1])
    masks = _masks(2)
    expected = _ref_forward(arrays, X, masks, 0.5)
    AL = deep.forward(_tensors(arrays), X, 0.5, masks=kind(masks))
    np.testing.assert_allclose(AL.data, expected, rtol=1e-13)


def test_a_net_without_hidden_layers_takes_an_empty_list_of_masks_and_refuses_one():
    X, _ = _data(4, 6)
    arrays = _numpy_params([4, 1])
    np.testing.assert_allclose(deep.forward(_tensors(arrays), X, 0.5, masks=[]).data, _ref_forward(arrays, X),
                               rtol=1e-13)
    with pytest.raises(ValueError, match=re.escape("deep.forward: masks has 1 entry; expected a list of 0")):
        deep.forward(_tensors(arrays), X, 0.5, masks=[np.ones((1, 6))])


# --- 2. nested lists --------------------------------------------------------------------------------------
def test_train_on_nested_lists_equals_numpy_gradient_descent():
    X, Y = _data()
    params, _ = deep.train(X.tolist(), Y.tolist(), [3, 4, 1], learning_rate=0.1, num_epochs=3,
                           init_rng=np.random.RandomState(2), rng=0)
    _assert_params(params, _ref_gd(X, Y, [3, 4, 1], 0.1, 3, 2))


def test_train_on_nested_lists_with_mini_batches_equals_numpy_gradient_descent():
    X, Y = _data(m=11)
    params, _ = deep.train(X.tolist(), Y.tolist(), [3, 4, 1], learning_rate=0.1, num_epochs=3, mini_batch_size=4,
                           init_rng=np.random.RandomState(2), shuffle_seed=7, rng=0)
    _assert_params(params, _ref_gd(X, Y, [3, 4, 1], 0.1, 3, 2, mini_batch_size=4, shuffle_seed=7))


def test_random_mini_batches_on_nested_lists_gives_arrays_of_one_permutation():
    X, Y = _data()
    batches = deep.random_mini_batches(X.tolist(), Y.tolist(), 4, np.random.RandomState(0))
    perm = np.random.RandomState(0).permutation(10)
    assert all(type(Xb) is np.ndarray and type(Yb) is np.ndarray for Xb, Yb in batches)
    assert [Xb.shape for Xb, _ in batches] == [(3, 4), (3, 4), (3, 2)]
    np.testing.assert_array_equal(np.concatenate([Xb for Xb, _ in batches], axis=1), X[:, perm])
    np.testing.assert_array_equal(np.concatenate([Yb for _, Yb in batches], axis=1), Y[:, perm])


def test_cost_with_l2_on_nested_lists_equals_numpy():
    X, Y = _data()
    arrays = _numpy_params([3, 4, 1])
    J = deep.cost(_tensors(arrays), X.tolist(), Y.tolist(), lambd=0.7)
    assert J.item() == pytest.approx(_ref_cost(arrays, X, Y, 0.7), rel=1e-12)


# --- 3. shuffle_seed -----------------------------------------------------------------------------------
_RANGE = "expected an int seed in [0, 2**32 - 1], NumPy's seed range"
_KINDS = "expected None, an int seed in [0, 2**32 - 1] or a callable epoch -> int seed"


@pytest.mark.parametrize("seed, num_epochs, message", [
    (2**32 - 2, 3, f"shuffle_seed gave 4294967296 for epoch 2 (4294967294 + epoch 2); {_RANGE}"),
    (2**32, 0, f"shuffle_seed gave 4294967296 for epoch 0 (4294967296 + epoch 0); {_RANGE}"),
    (-1, 3, f"shuffle_seed gave -1 for epoch 0 (-1 + epoch 0); {_RANGE}"),
    (np.uint32(2**32 - 1), 2, f"shuffle_seed gave 4294967296 for epoch 1 (4294967295 + epoch 1); {_RANGE}"),
    ("3", 3, f"shuffle_seed is str '3'; {_KINDS}"),
    (True, 3, f"shuffle_seed is bool True; {_KINDS}"),
    (1.0, 3, f"shuffle_seed is float 1.0; {_KINDS}"),
], ids=["int reaching 2**32 at the last epoch", "2**32, no epochs", "negative", "uint32 not wrapping around", "str",
        "bool", "float"])
def test_a_bad_shuffle_seed_is_refused_before_any_work(seed, num_epochs, message):
    _refused_before_any_work(ValueError, f"deep.train: {message}", num_epochs=num_epochs, mini_batch_size=4,
                             shuffle_seed=seed)


def test_a_shuffle_seed_function_taking_no_epoch_is_refused_before_any_work():
    X, Y = _data()
    message = ("deep.train: shuffle_seed <lambda>() cannot be called with one argument, the epoch (too many "
               "positional arguments); expected a callable epoch -> int seed")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        deep.train(X, Y, [3, 4, 1], num_epochs=1, rng=0, mini_batch_size=4, shuffle_seed=lambda: 3)


@pytest.mark.parametrize("bad", [2**32, -1, True, 3.0])
def test_a_shuffle_seed_function_giving_a_bad_seed_is_refused_naming_the_epoch(bad):
    X, Y = _data()
    message = f"deep.train: shuffle_seed gave {bad!r} for epoch 1 (shuffle_seed(1)); {_RANGE}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        deep.train(X, Y, [3, 4, 1], num_epochs=3, rng=0, mini_batch_size=4,
                   shuffle_seed=lambda epoch: 5 if epoch == 0 else bad)


def test_the_largest_shuffle_seed_reaching_2_to_the_32_minus_1_trains_as_numpy():
    X, Y = _data()
    seed = 2**32 - 3  # epochs 0, 1, 2 shuffle with 2**32 - 3, 2**32 - 2, 2**32 - 1
    params, _ = deep.train(X, Y, [3, 4, 1], learning_rate=0.1, num_epochs=3, mini_batch_size=4,
                           init_rng=np.random.RandomState(2), shuffle_seed=seed, rng=0)
    _assert_params(params, _ref_gd(X, Y, [3, 4, 1], 0.1, 3, 2, mini_batch_size=4, shuffle_seed=seed))
    again, _ = deep.train(X, Y, [3, 4, 1], learning_rate=0.1, num_epochs=3, mini_batch_size=4,
                          init_rng=np.random.RandomState(2), shuffle_seed=np.uint32(seed), rng=0)
    _assert_params(again, {k: v.data for k, v in params.items()})


# --- 4. lambd ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lambd", [np.array([0.7, 0.1]), None, False, [], "", np.array([0.0]), -0.5, float("nan"),
                                   float("inf"), 10**400],
                         ids=["2-array", "None", "False", "empty list", "empty str", "1-array of 0", "negative",
                              "nan", "inf", "beyond float"])
def test_cost_refuses_a_lambd_that_is_not_a_finite_number_at_least_0(lambd):
    X, Y = _data()
    P = _tensors(_numpy_params([3, 4, 1]))
    message = f"deep.cost: lambd must be a finite number >= 0, got {lambd!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        deep.cost(P, X, Y, lambd=lambd)
    assert all(p.grad is None for p in P.values())


@pytest.mark.parametrize("lambd", [0, 0.0, np.float32(0.7), np.array(0.7), 7])
def test_cost_takes_every_finite_number_at_least_0_as_numpy_does(lambd):
    X, Y = _data()
    arrays = _numpy_params([3, 4, 1])
    J = deep.cost(_tensors(arrays), X, Y, lambd=lambd)
    tolerance = 1e-6 if isinstance(lambd, np.float32) else 1e-12  # (float32(0.7) is 0.7 to 7 digits)
    assert J.item() == pytest.approx(_ref_cost(arrays, X, Y, float(lambd)), rel=tolerance)


# --- 5. train's own checks ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, message", [
    (dict(optimizer=["gd"]), TypeError, "optimizer is list ['gd']; expected one of ['adam', 'gd', 'momentum']"),
    (dict(optimizer=None), TypeError, "optimizer is NoneType None; expected one of ['adam', 'gd', 'momentum']"),
    (dict(num_epochs=0, mini_batch_size="x"), ValueError, "mini_batch_size must be an int >= 1, got 'x'"),
    (dict(mini_batch_size=0), ValueError, "mini_batch_size must be an int >= 1, got 0"),
    (dict(mini_batch_size=True), ValueError, "mini_batch_size must be an int >= 1, got True"),
    (dict(num_epochs=0, lambd=-5), ValueError, "lambd must be a finite number >= 0, got -5"),
    (dict(lambd=None), ValueError, "lambd must be a finite number >= 0, got None"),
    (dict(num_epochs=0, keep_prob=7), ValueError, "keep_prob is 7; expected a number in (0, 1]"),
    (dict(keep_prob=0), ValueError, "keep_prob is 0; expected a number in (0, 1]"),
    (dict(keep_prob="0.5"), TypeError, "keep_prob is '0.5'; expected a number in (0, 1]"),
    (dict(lr_schedule=0.1), TypeError, "lr_schedule must be a callable epoch -> learning rate, got float 0.1"),
], ids=["unhashable optimizer", "optimizer None", "mbs str, 0 epochs", "mbs 0", "mbs True", "lambd<0, 0 epochs",
        "lambd None", "keep_prob 7, 0 epochs", "keep_prob 0", "keep_prob str", "schedule not callable"])
def test_train_refuses_bad_arguments_by_its_own_name_before_any_work(kwargs, error, message):
    _refused_before_any_work(error, f"deep.train: {message}", **kwargs)


class _Rates:  # a callable object whose __call__ takes no epoch
    def __call__(self):
        return 0.1


@pytest.mark.parametrize("schedule, shown, why", [
    (lambda: 0.1, "<lambda>()", "too many positional arguments"),
    (lambda epoch, rate: rate, "<lambda>(epoch, rate)", "missing a required argument: 'rate'"),
    (lambda *, epoch: 0.1, "<lambda>(*, epoch)", "too many positional arguments"),
    (_Rates(), "_Rates()", "too many positional arguments"),
], ids=["no parameter", "two parameters", "keyword only", "object"])
def test_train_refuses_a_schedule_that_cannot_take_the_epoch_before_any_work(schedule, shown, why):
    _refused_before_any_work(TypeError, f"deep.train: lr_schedule {shown} cannot be called with one argument, the "
                                        f"epoch ({why}); expected a callable epoch -> learning rate",
                             lr_schedule=schedule)


def test_a_schedule_taking_the_epoch_in_any_form_trains_as_numpy():
    """A 0-d array rate is the number it holds (as learning_rate=np.array(0.1) is); the epoch may come
    through *args, a parameter with a default, or a callable object's __call__."""
    X, Y = _data()
    expected = _ref_gd(X, Y, [3, 4, 1], 0.1, 3, 2)

    class Constant:
        def __call__(self, epoch):
            return 0.1

    schedules = (lambda epoch: np.array(0.1), lambda *args: 0.1, lambda epoch, scale=1: 0.1 * scale, Constant())
    for schedule in schedules:
        params, _ = deep.train(X, Y, [3, 4, 1], learning_rate=5.0, num_epochs=3, lr_schedule=schedule,
                               init_rng=np.random.RandomState(2), rng=0)
        _assert_params(params, expected)


def test_train_still_takes_good_arguments_as_numpy():
    """The new up-front checks refuse nothing valid: numpy ints, a 0-d keep_prob of 1, lambd 0."""
    X, Y = _data(m=11)
    params, _ = deep.train(X, Y, [3, 4, 1], learning_rate=0.1, num_epochs=np.int64(3),
                           mini_batch_size=np.int32(4), lambd=np.float64(0), keep_prob=np.array(1.0),
                           init_rng=np.random.RandomState(2), shuffle_seed=np.int64(7), rng=0)
    _assert_params(params, _ref_gd(X, Y, [3, 4, 1], 0.1, 3, 2, mini_batch_size=4, shuffle_seed=7))
