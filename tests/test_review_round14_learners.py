"""Round 14 review of the exercises as a learner meets them (adversarial round adv53).

9.  models.manual.compute_cost(A, Y.T) broadcast (1, m) against (m, 1) and summed an (m, m)
    matrix (20.69 for 0.6255); Y.ravel() gave IndexError. The hand-derived reference now refuses
    shapes that do not match, naming the function, the argument, its shape and the expected one.
10. manual.three_layer_step / deep_step (and the forward passes) with keep_prob < 1 and no masks
    applied no dropout at all. This reference draws no masks (its callers pass them, so that the
    engine can be given the same ones): masks are now required when keep_prob < 1. A step's
    refusal names the step and the function that refused: "deep_step (in L_model_forward): ...".
11. The manual backward passes failed inside NumPy ("shapes (3,1) and (6,6) not aligned", "not
    enough values to unpack", KeyError: 'dW1'): their inputs are checked at the entry points.
12. manual.update_parameters broadcast a (1, 1) db1 into b1 (20, 1), in place: refused.
14. data.load_catvnoncat(None) failed inside pathlib: the loaders name themselves and what they take.
4.  Training diverging on features of 1e200 said only "try a smaller learning rate": the message
    now names the largest |feature| and asks to rescale the features when it exceeds 1e3.
6.  deep.train(num_iterations=...), beta= with 'gd', lr=, betas= reached the optimizer and came
    back as "Optimizer.__init__() got an unexpected keyword argument": deep.train refuses them,
    naming the keyword, the optimizer and each optimizer's options.
And their review (adv54): copies of a parameter (Tensor(self) was refused), check=False inside the
regularized cost, deep.train with an optimizer taking **kwargs or a partial, a 0-d keep_prob.
Expected values are computed by hand in the comments; messages are the documented ones.
"""
import copy
import functools
import math
import re

import numpy as np
import pytest

import autograd_lite as ag
from models import TrainingDivergedError, check_finite, data, deep, diverging, manual


def _case(m=6):
    """A fixed 3-layer case: X (2, m), Y (1, m) 0/1 and the study's initialization."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    return X, Y, manual.initialize_reference()


def _copy(params):
    """A deep copy of a dict of ndarrays (the steps update theirs in place)."""
    return {k: v.copy() for k, v in params.items()}


# --- 9. the cost refuses labels of another shape -----------------------------------------------
def test_compute_cost_hand_value_and_refused_label_shapes():
    A = np.array([[0.8, 0.4]])
    Y = np.array([[1., 0.]])
    # -(log 0.8 + log(1 - 0.4)) / 2 = (0.2231435513 + 0.5108256238) / 2 = 0.7339691751 / 2
    assert manual.compute_cost(A, Y) == pytest.approx(0.36698458755, abs=1e-10)
    with pytest.raises(ValueError, match=re.escape(
            "compute_cost: Y has shape (2, 1); expected (1, 2), the shape of A; it looks transposed: pass Y.T")):
        manual.compute_cost(A, Y.T)
    with pytest.raises(ValueError, match=re.escape(
            "compute_cost: Y has shape (2,); expected (1, 2), the shape of A; reshape it with Y.reshape(1, -1)")):
        manual.compute_cost(A, Y.ravel())


def test_compute_cost_refuses_predictions_as_a_column():
    # A (2, 1) with Y (2, 1) used to give m = 1: the sum of both terms, not their mean.
    with pytest.raises(ValueError, match=re.escape("compute_cost: A has shape (2, 1); expected (1, m)")):
        manual.compute_cost(np.array([[0.8], [0.4]]), np.array([[1.], [0.]]))
    with pytest.raises(TypeError, match=re.escape("compute_cost: Y is list; expected an ndarray of shape (1, 2)")):
        manual.compute_cost(np.array([[0.8, 0.4]]), [[1., 0.]])


def test_compute_cost_with_regularization_refuses_column_labels_and_bad_params():
    X, Y, P = _case()
    A3, _ = manual.forward_propagation(X, P)
    with pytest.raises(ValueError, match=re.escape(
            "compute_cost_with_regularization: Y has shape (6, 1); expected (1, 6), the shape of A")):
        manual.compute_cost_with_regularization(A3, Y.T, P, 0.7)
    del P["b2"]
    with pytest.raises(ValueError, match=re.escape(
            "compute_cost_with_regularization: params holds W1, b1, W2, W3, b3 (missing b2); "
            "expected W1, b1, W2, b2, W3, b3")):
        manual.compute_cost_with_regularization(A3, Y, P, 0.7)


# --- 10. keep_prob < 1 needs masks --------------------------------------------------------------
@pytest.mark.parametrize("function, forward", [("three_layer_step", "forward_propagation"),
                                               ("deep_step", "L_model_forward")])
def test_a_step_with_keep_prob_below_1_and_no_masks_is_refused_before_any_update(function, forward):
    X, Y, P = _case()
    params = _copy(P)
    with pytest.raises(ValueError, match=re.escape(
            f"{function} (in {forward}): keep_prob=0.5 but masks=None, so no dropout would be applied; masks are required "
            "when keep_prob < 1: pass masks=reference_dropout_masks((20, 3), 6, 0.5), or keep_prob=1.0 "
            "for no dropout")):
        getattr(manual, function)(params, X, Y, 0.1, keep_prob=0.5)
    for key in P:
        np.testing.assert_array_equal(params[key], P[key])


@pytest.mark.parametrize("function", ["forward_propagation", "L_model_forward"])
def test_a_forward_pass_with_keep_prob_below_1_needs_masks_of_the_right_count_and_shapes(function):
    X, _, P = _case()
    forward = getattr(manual, function)
    with pytest.raises(ValueError, match=re.escape(f"{function}: keep_prob=0.8 but masks=None")):
        forward(X, P, 0.8)
    with pytest.raises(ValueError, match=re.escape(
            f"{function}: masks has 1 entry; expected a list of 2, one (n_l, m) 0/1 array per hidden layer, "
            "of shapes [(20, 6), (3, 6)]")):
        forward(X, P, 0.8, [np.ones((20, 6))])
    with pytest.raises(ValueError, match=re.escape(
            f"{function}: masks[1] has shape (6, 3); expected (3, 6), the shape of hidden layer 2's activations A2")):
        forward(X, P, 0.8, [np.ones((20, 6)), np.ones((6, 3))])
    with pytest.raises(ValueError, match=re.escape(f"{function}: keep_prob is 0; expected a number in (0, 1]")):
        forward(X, P, 0, [np.ones((20, 6)), np.ones((3, 6))])


def test_masks_of_ones_at_keep_prob_one_half_double_the_hidden_activations():
    # Hand check of what the masks do: all kept, A1 = relu(Z1) / 0.5, so Z2 = 2 W2 relu(Z1) + b2 (b2 = 0).
    X, _, P = _case()
    _, cache = manual.forward_propagation(X, P, 0.5, [np.ones((20, 6)), None])
    Z1, A1, Z2 = cache[0], cache[2], cache[5]
    np.testing.assert_array_equal(A1, np.maximum(0, Z1) / 0.5)
    np.testing.assert_allclose(Z2, 2 * P["W2"] @ np.maximum(0, Z1), rtol=1e-14)


def test_forward_pass_names_a_transposed_X_and_a_flat_bias():
    X, _, P = _case()
    with pytest.raises(ValueError, match=re.escape(
            "forward_propagation: X has shape (6, 2); expected (2, m): W1 has 2 columns (features), one column "
            "of X per example; it looks transposed: pass X.T")):
        manual.forward_propagation(X.T, P)
    P["b1"] = P["b1"].ravel()
    with pytest.raises(ValueError, match=re.escape(
            "L_model_forward: params['b1'] has shape (20,); expected (20, 1), a column with one entry per row of W1")):
        manual.L_model_forward(X, P)


# --- 11. the backward passes check their inputs ---------------------------------------------------
def test_backward_propagation_names_column_labels_a_foreign_cache_and_another_X():
    X, Y, P = _case()
    _, cache = manual.forward_propagation(X, P)
    with pytest.raises(ValueError, match=re.escape(
            "backward_propagation: Y has shape (6, 1); expected (1, 6), the shape of A3 in the cache; "
            "it looks transposed: pass Y.T")):
        manual.backward_propagation(X, Y.T, cache)
    _, caches = manual.L_model_forward(X, P)
    with pytest.raises(ValueError, match=re.escape(
            "backward_propagation: cache is a list of 3 entries; expected the 14-tuple forward_propagation "
            "returns (L_model_forward's caches go to L_model_backward)")):
        manual.backward_propagation(X, Y, caches)
    with pytest.raises(ValueError, match=re.escape(
            "backward_propagation: X has shape (2, 5); expected (2, 6), the X the cache's forward pass was given")):
        manual.backward_propagation(X[:, :5], Y, cache)


def test_L_model_backward_names_the_three_layer_cache_and_column_labels():
    X, Y, P = _case()
    _, cache = manual.forward_propagation(X, P)
    with pytest.raises(ValueError, match=re.escape(
            "L_model_backward: caches is a tuple of 14 entries; expected the list L_model_forward returns, one "
            "(A_prev, W, D, A) per layer (forward_propagation's cache goes to backward_propagation)")):
        manual.L_model_backward(Y, cache)
    _, caches = manual.L_model_forward(X, P)
    with pytest.raises(ValueError, match=re.escape(
            "L_model_backward: Y has shape (6, 1); expected (1, 6), the shape of AL in the caches")):
        manual.L_model_backward(Y.T, caches)


@pytest.mark.parametrize("function", ["three_layer_step", "deep_step"])
@pytest.mark.parametrize("lambd, cost", [(0.0, "compute_cost"), (0.7, "compute_cost_with_regularization")])
def test_a_step_names_column_labels_and_changes_nothing(function, lambd, cost):
    X, Y, P = _case()
    params = _copy(P)
    with pytest.raises(ValueError, match=re.escape(
            f"{function} (in {cost}): Y has shape (6, 1); expected (1, 6), the shape of A; it looks transposed: "
            "pass Y.T")):
        getattr(manual, function)(params, X, Y.T, 0.1, lambd)
    for key in P:
        np.testing.assert_array_equal(params[key], P[key])


def test_a_step_names_a_flat_bias_through_its_forward_pass():
    X, Y, P = _case()
    P["b3"] = np.zeros(1)
    with pytest.raises(ValueError, match=re.escape(
            "deep_step (in L_model_forward): params['b3'] has shape (1,); expected (1, 1)")):
        manual.deep_step(P, X, Y, 0.1)


def test_the_checks_leave_the_reference_numbers_alone():
    # The two references still agree to the bit with dropout and L2 (their checks compute nothing).
    X, Y, P = _case()
    masks = manual.reference_dropout_masks((20, 3), 6, 0.8)
    A3, cache = manual.forward_propagation(X, P, 0.8, masks)
    AL, caches = manual.L_model_forward(X, P, 0.8, masks)
    np.testing.assert_array_equal(A3, AL)
    three, general = manual.backward_propagation(X, Y, cache, 0.7, 0.8), manual.L_model_backward(Y, caches, 0.7, 0.8)
    for key in three:
        np.testing.assert_array_equal(three[key], general[key])


# --- 11/12. update_parameters -------------------------------------------------------------------
def test_update_parameters_hand_value():
    params = {"W1": np.array([[1., 2.]]), "b1": np.array([[0.5]])}
    manual.update_parameters(params, {"dW1": np.array([[0.5, -1.]]), "db1": np.array([[2.]])}, 0.1)
    np.testing.assert_allclose(params["W1"], [[0.95, 2.1]], rtol=0, atol=1e-15)   # 1 - 0.05, 2 + 0.1
    np.testing.assert_allclose(params["b1"], [[0.3]], rtol=0, atol=1e-15)         # 0.5 - 0.2


def test_update_parameters_names_missing_gradients():
    params = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    with pytest.raises(ValueError, match=re.escape(
            "update_parameters: grads has no dW1, db1 (it holds W1, b1); expected 'd' + key for every "
            "parameter: dW1, db1")):
        manual.update_parameters(params, {"W1": np.ones((1, 2)), "b1": np.ones((1, 1))}, 0.1)


@pytest.mark.parametrize("db1", [np.ones((1, 1)), np.ones(20)], ids=["(1, 1)", "(20,)"])
def test_update_parameters_refuses_a_gradient_of_another_shape_and_changes_nothing(db1):
    X, Y, P = _case()
    _, cache = manual.forward_propagation(X, P)
    grads = manual.backward_propagation(X, Y, cache)
    grads["db1"] = db1
    params = _copy(P)
    with pytest.raises(ValueError, match=re.escape(
            f"update_parameters: grads['db1'] has shape {db1.shape} but params['b1'] has shape (20, 1); "
            "they must match")):
        manual.update_parameters(params, grads, 1.0)
    for key in P:
        np.testing.assert_array_equal(params[key], P[key])


def test_update_parameters_refuses_a_parameter_it_could_not_update_in_place():
    # p -= ... on a float rebinds the loop variable: the dict would keep its old value, silently.
    with pytest.raises(TypeError, match=re.escape(
            "update_parameters: params['b1'] is float; expected a float ndarray, updated in place")):
        manual.update_parameters({"b1": 0.5}, {"db1": 1.0}, 0.1)


# --- 14. the loaders name themselves ------------------------------------------------------------
def test_load_catvnoncat_of_none_names_the_loader_and_what_it_takes():
    with pytest.raises(TypeError, match=re.escape(
            "load_catvnoncat: path is None (NoneType); expected an .npz file or the folder holding "
            "train_catvnoncat.h5 and test_catvnoncat.h5, as a str or pathlib.Path; there is no synthetic "
            "cat set (the cat job finds the data through --data or AUTOGRAD_LITE_DATA)")):
        data.load_catvnoncat(None)
    with pytest.raises(ValueError, match=re.escape("load_catvnoncat: path is ''; expected an .npz file")):
        data.load_catvnoncat("")


def test_load_football_and_find_data_name_a_non_path():
    with pytest.raises(TypeError, match=re.escape(
            "load_football: path is 5 (int); expected an .npz or the course's data.mat file, as a str or "
            "pathlib.Path (None: the synthetic stand-in)")):
        data.load_football(5)
    with pytest.raises(TypeError, match=re.escape("find_data: option is 3.0 (float); expected a data file")):
        data.find_data(3.0, data.FOOTBALL_FILES)


# --- 4. divergence from the features' scale names the features ----------------------------------
def _params_with_inf():
    """One parameter holding inf, as after a diverged update."""
    return {"W1": ag.Tensor(np.array([[np.inf, 1.]]), requires_grad=True)}


def test_check_finite_names_large_features():
    X = np.array([[2e4, -3.], [1., 0.5]])
    with pytest.raises(TrainingDivergedError, match=re.escape(
            "check: parameter W1 (1, 2) holds inf after the update of epoch 4 (cost 0.5); training diverged, "
            "the features are far from unit scale (largest |feature| 2e+04), and the gradients grow with "
            "them: rescale the features (e.g. to mean 0 and standard deviation 1), or try a much smaller "
            "learning rate")):
        check_finite("check", "epoch 4", 0.5, _params_with_inf(), X)


@pytest.mark.parametrize("X", [None, np.array([[1e3, -3.]])], ids=["no X", "largest 1e3"])
def test_check_finite_keeps_the_learning_rate_advice_for_features_of_moderate_size(X):
    with pytest.raises(TrainingDivergedError) as info:
        check_finite("check", "epoch 4", 0.5, _params_with_inf(), X)
    assert str(info.value).endswith("training diverged, try a smaller learning rate")


def test_a_cost_refused_after_updates_names_large_features():
    with pytest.raises(TrainingDivergedError, match=re.escape("(largest |feature| 5e+10)")):
        with diverging("check", "epoch 2", _params_with_inf(), np.array([[5e10]]), updated=True):
            raise ag.DomainError("binary_cross_entropy: predictions hold NaN")


def test_deep_train_on_huge_features_names_them():
    X, Y, _, _ = data.synthetic_football()
    X = X * 1e200
    largest = float(np.max(np.abs(X)))
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        deep.train(X, Y, [2, 5, 1], num_epochs=3, rng=0)
    message = str(info.value)
    assert f"largest |feature| {largest:.3g}" in message and "rescale the features" in message, message


# --- 6. deep.train's keywords -----------------------------------------------------------------
OPTIONS = "(the optimizer's options: 'gd' takes no options; 'momentum' takes beta; 'adam' takes beta1, beta2, eps)"


@pytest.mark.parametrize("keywords, message", [
    ({"num_iterations": 2}, "unexpected keyword num_iterations=2 with optimizer='gd': deep.train counts num_epochs "
                            "(passes over the data; three_layer.train counts num_iterations): pass num_epochs=2"),
    ({"beta": 0.9}, "unexpected keyword beta=0.9 with optimizer='gd': beta= is an option of optimizer 'momentum', "
                    "not of 'gd'"),
    ({"optimizer": "momentum", "beta1": 0.9}, "unexpected keyword beta1=0.9 with optimizer='momentum': beta1= is "
                                              "an option of optimizer 'adam', not of 'momentum'"),
    ({"lr": 0.1}, "unexpected keyword lr=0.1 with optimizer='gd': deep.train's learning rate is learning_rate=0.1"),
    ({"optimizer": "adam", "betas": (0.9, 0.99)},
     "unexpected keyword betas=(0.9, 0.99) with optimizer='adam': betas= is PyTorch's spelling: with "
     "optimizer='adam' pass beta1=0.9, beta2=0.999"),
    ({"gamma": 1}, "unexpected keyword gamma=1 with optimizer='gd': neither deep.train nor optimizer 'gd' takes 'gamma'"),
], ids=["num_iterations", "beta with gd", "beta1 with momentum", "lr", "betas", "unknown"])
def test_deep_train_refuses_a_keyword_naming_it_and_the_optimizers_options(keywords, message):
    X, Y, _, _ = data.synthetic_football()
    with pytest.raises(TypeError) as info:
        deep.train(X, Y, [2, 5, 1], num_epochs=1, rng=0, **keywords)
    assert str(info.value) == f"deep.train: {message} {OPTIONS}"


def test_deep_train_still_passes_each_optimizers_own_options():
    # Momentum with beta=0: v = dp, the plain gradient step; one epoch's cost is the same either way.
    X, Y, _, _ = data.synthetic_football()
    gd = deep.train(X, Y, [2, 5, 1], num_epochs=2, rng=0)[0]
    momentum = deep.train(X, Y, [2, 5, 1], optimizer="momentum", beta=0.0, num_epochs=2, rng=0)[0]
    for key in gd:
        np.testing.assert_allclose(momentum[key].data, gd[key].data, rtol=1e-14)
    _, costs = deep.train(X, Y, [2, 5, 1], optimizer="adam", beta1=0.8, beta2=0.99, eps=1e-7, num_epochs=1, rng=0)
    assert len(costs) == 1 and math.isfinite(costs[0])


# --- review of the fixes above (adv54) ------------------------------------------------------------
# 1 -------------------------------------------------------------------------------------------
def test_1_deepcopy_and_copy_of_a_parameter_give_a_new_leaf():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    W.grad = np.full((2, 2), 3.0)
    for twin in (copy.deepcopy(W), copy.copy(W)):
        assert twin is not W and twin.requires_grad and twin.name == "W" and twin.is_leaf
        np.testing.assert_array_equal(twin.data, W.data)
        np.testing.assert_array_equal(twin.grad, W.grad)


def test_1_deepcopy_of_a_params_dict_and_of_an_optimizer():
    params = ag.init.initialize([2, 3, 1], rng=np.random.default_rng(0))
    best = copy.deepcopy(params)
    assert all(best[k].requires_grad for k in params)
    copy.deepcopy(ag.optim.Adam(params, 0.1))


# 2 -------------------------------------------------------------------------------------------
def _count_checks(monkeypatch):
    calls = []
    for name in [n for n in dir(manual) if n.startswith(("_check", "_refuse"))]:
        f = getattr(manual, name)
        monkeypatch.setattr(manual, name, lambda *a, _f=f, _n=name, **k: (calls.append(_n), _f(*a, **k))[1])
    return calls


def test_2_compute_cost_with_regularization_check_false_runs_no_check(monkeypatch):
    calls = _count_checks(monkeypatch)
    X = np.random.default_rng(0).normal(size=(2, 6))
    manual.compute_cost_with_regularization(manual.sigmoid(X[:1]), (X[:1] > 0).astype(float),
                                            manual.initialize_reference(), 0.7, check=False)
    assert calls == []


@pytest.mark.parametrize("step", ["three_layer_step", "deep_step"])
def test_2_a_regularized_step_with_check_false_runs_no_check(monkeypatch, step):
    calls = _count_checks(monkeypatch)
    X = np.random.default_rng(0).normal(size=(2, 6))
    getattr(manual, step)(manual.initialize_reference(), X, (X[:1] > 0).astype(float), 0.1, lambd=0.7,
                          check=False)
    assert calls == []


# 3 -------------------------------------------------------------------------------------------
class _MyAdam(ag.optim.Adam):
    def __init__(self, params, lr, **kw):
        super().__init__(params, lr, **kw)


@pytest.mark.parametrize("name, entry, options", [
    ("myadam", _MyAdam, {"beta1": 0.5}),
    ("adam_b05", functools.partial(ag.optim.Adam, beta1=0.5), {"eps": 1e-7}),
])
def test_3_deep_train_passes_options_to_a_registered_optimizer(monkeypatch, name, entry, options):
    monkeypatch.setitem(deep.OPTIMIZERS, name, entry)
    X = np.random.default_rng(0).normal(size=(2, 5))
    deep.train(X, (X[:1] > 0).astype(float), [2, 3, 1], optimizer=name, num_epochs=1, **options)


# 4 -------------------------------------------------------------------------------------------
def test_4_tensor_of_a_traced_input_warns_naming_as_tensor():
    with pytest.warns(UserWarning, match=r"ag\.as_tensor"):  # a constant copy: no gradient flows, as torch.tensor(t)
        g = ag.grad(lambda x: ag.sum(ag.Tensor(x) ** 2))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])


# 5 -------------------------------------------------------------------------------------------
def test_5_manual_accepts_a_zero_d_array_keep_prob_as_before():
    P = manual.initialize_reference()
    X = np.random.default_rng(0).normal(size=(2, 6))
    A, _ = manual.forward_propagation(X, P, np.array(1.0), None)
    np.testing.assert_array_equal(A, manual.forward_propagation(X, P, 1.0, None)[0])


def test_5_a_str_keep_prob_is_a_type_error():
    P = manual.initialize_reference()
    with pytest.raises(TypeError, match="keep_prob"):
        manual.forward_propagation(np.zeros((2, 3)), P, "0.8", None)
