"""Round 11 review (adv20): NumPy's copy protocol, gradient checks at the ends of the float range,
optimizer dtypes, None in pytrees, nested dict matching, refused ufunc methods, rate checks and
init's layer_dims. Expected values come from PyTorch, NumPy's own ndarray behaviour, or hand
formulas; never from autograd_lite itself."""
import math
from fractions import Fraction

import numpy as np
import pytest

import autograd_lite as ag

schedules = ag.optim.lr_schedule


# --- 1. np.array(t) is a copy; np.asarray(t) shares, as for an ndarray ---------------------
def test_np_array_of_a_tensor_is_a_copy_and_the_graph_keeps_its_gradient():
    torch = pytest.importorskip("torch")
    t = ag.Tensor(np.array([1.0, 2.0, 3.0]))
    snapshot = np.array(t)                      # NumPy: copy=True by default
    snapshot[0] = 99.0
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
    c = np.asarray(t, copy=True)
    c[:] = 0.0
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 3.0])
    same_dtype = np.array(t, dtype=np.float64)  # a dtype equal to the tensor's still copies
    assert not np.shares_memory(same_dtype, t.data)
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = ag.sum(w * w)
    with ag.no_grad():
        start = np.array(w)                     # the usual way to take a snapshot of a parameter
        start -= 1.0
    y.backward()
    wt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (wt * wt).sum().backward()
    np.testing.assert_array_equal(w.data, wt.detach().numpy())
    np.testing.assert_array_equal(w.grad, wt.grad.numpy())


def test_np_asarray_shares_and_copy_false_follows_numpys_protocol():
    data = np.array([1.0, 2.0, 3.0])
    t = ag.Tensor(data.copy())
    assert np.shares_memory(np.asarray(t), t.data)             # as np.asarray(ndarray): no copy
    assert np.shares_memory(np.asarray(t, copy=False), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32  # a needed copy is made for copy=None
    with pytest.raises(ValueError):                             # what an ndarray does
        np.asarray(data, dtype=np.float32, copy=False)
    with pytest.raises(ValueError, match=r"copy=False.*float32 needs a copy"):
        np.asarray(t, dtype=np.float32, copy=False)


# --- 2. relative_difference is scaled: tiny and huge gradients are compared ----------------
@ag.primitive
def _cube_with_a_wrong_vjp(x):
    return x ** 3


_cube_with_a_wrong_vjp.defvjp(lambda g, out, x: g * 30 * x ** 2)   # 10x too large


@pytest.mark.parametrize("scale", [1.0, 1e-170, 1e154])
def test_gradcheck_fails_a_planted_wrong_gradient_at_any_magnitude(scale):
    r = ag.gradcheck(lambda x: ag.sum(_cube_with_a_wrong_vjp(x)) * scale, [np.array([1.0, 2.0])])
    assert not r.passed
    # autodiff 30 x^2 s against 3 x^2 s entry by entry: ||27 x^2|| / ||33 x^2|| = 9 / 11
    assert r.difference == pytest.approx(9 / 11, rel=1e-6)


@pytest.mark.parametrize("scale", [1e-170, 1e154, 1e300])
def test_gradcheck_passes_a_right_gradient_at_any_magnitude(scale):
    assert ag.gradcheck(lambda x: ag.sum(x ** 3) * scale, [np.array([1.0, 2.0])], threshold=1e-5).passed


def test_compare_gradients_by_hand_at_the_ends_of_the_float_range():
    tiny = ag.compare_gradients(np.array([1e-170, 2e-170]), np.array([3e-170, 6e-170]))
    assert tiny.difference == pytest.approx(0.5, rel=1e-12)           # ||(2, 4)|| / ||(4, 8)||
    assert not tiny.passed
    huge = ag.compare_gradients(np.array([1e155, 2e155]), np.array([1.01e155, 2.02e155]))
    assert huge.difference == pytest.approx(0.01 / 2.01, rel=1e-9)
    assert not huge.passed
    subnormal = ag.compare_gradients(np.array([5e-324]), np.array([1e-323]))
    assert subnormal.difference == pytest.approx(1 / 3, rel=1e-12)    # 1 against 2 in units of 5e-324
    assert ag.compare_gradients(np.zeros(3), np.zeros(3)).difference == 0.0
    with pytest.raises(AssertionError, match="DIFFER"):
        ag.testing.assert_gradients_close({"W": np.array([1e-170])}, {"W": np.array([2e-170])})


@pytest.mark.parametrize("actual, expected", [
    ([1.0, np.inf], [1.0, np.inf]), ([1.0, np.nan], [1.0, np.nan]), ([1.0, 2.0], [1.0, np.inf]),
    ([np.nan, 2.0], [1.0, 2.0]), ([1.0, 2.0], [np.nan, 2.0]), ([-np.inf], [np.inf])])
def test_an_inf_or_nan_gradient_never_passes(actual, expected):
    comparison = ag.compare_gradients(np.array(actual), np.array(expected))
    assert not comparison.passed
    assert math.isnan(comparison.difference)
    assert "FAIL" in str(comparison)


# --- 3. optimizers: a grad of another float dtype is cast to the parameter's ----------------
# Chosen over refusing it (PyTorch refuses the assignment): here the .grad setter accepts it,
# so the step makes the update consistent; float32 -> float64 is exact, so the result is
# PyTorch's on the same gradient converted to float64.
def test_adam_after_one_float32_grad_keeps_float64_moments_and_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x0, g0 = rng.standard_normal(5), rng.standard_normal(5).astype(np.float32)
    p = ag.Tensor(x0.copy(), requires_grad=True)
    opt = ag.optim.Adam([p], 0.01)
    p.grad = g0
    opt.step()
    for _ in range(50):
        opt.zero_grad()
        ag.sum(ag.sin(p) * 3.0).backward()
        opt.step()
    assert opt.state[0]["v"].dtype == opt.state[0]["s"].dtype == np.float64
    pt = torch.tensor(x0.copy(), requires_grad=True)
    ot = torch.optim.Adam([pt], 0.01)
    pt.grad = torch.tensor(g0.astype(np.float64))
    ot.step()
    for _ in range(50):
        ot.zero_grad()
        (torch.sin(pt) * 3.0).sum().backward()
        ot.step()
    np.testing.assert_allclose(p.data, pt.detach().numpy(), rtol=0, atol=1e-12)


def test_momentum_after_one_float32_grad_follows_the_float64_formula():
    g0, g1 = np.array([0.1, -0.3], dtype=np.float32), np.array([0.7, 0.2])
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = ag.optim.Momentum([p], lr=0.5, beta=0.9)
    p.grad = g0
    opt.step()
    p.grad = g1
    opt.step()
    v1 = 0.1 * g0.astype(np.float64)             # v = beta v + (1 - beta) g, in float64
    v2 = 0.9 * v1 + 0.1 * g1
    np.testing.assert_allclose(p.data, np.array([1.0, 2.0]) - 0.5 * v1 - 0.5 * v2, rtol=0, atol=1e-16)
    assert opt.state[0]["v"].dtype == np.float64


def test_a_float32_parameter_with_a_float64_grad_keeps_float32_moments():
    p = ag.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    opt = ag.optim.Adam([p], lr=0.1)
    p.grad = np.array([0.5, -0.25])
    opt.step()
    assert p.dtype == np.float32 and opt.state[0]["v"].dtype == np.float32
    # first Adam step: v_hat = g, s_hat = g^2, so p -= lr * g / (|g| + eps) = lr * sign(g)
    np.testing.assert_allclose(p.data, [0.9, 2.1], rtol=1e-6)


# --- 4. None in a pytree is an empty subtree, as in JAX ------------------------------------
def test_grad_over_a_dict_holding_none_returns_none_in_its_place():
    g = ag.grad(lambda p: ag.sum(p["W"] ** 2))({"W": np.array([1.0, 2.0]), "b": None})
    assert set(g) == {"W", "b"} and g["b"] is None
    np.testing.assert_allclose(g["W"], [2.0, 4.0])          # d/dW sum(W^2) = 2 W
    value, (gw, gnone) = ag.value_and_grad(lambda layers: ag.sum(layers[0] * 3.0))([np.array([1.0]), None])
    assert value == 3.0 and gnone is None
    np.testing.assert_allclose(gw, [3.0])


def test_none_in_pytree_helpers_and_checkers():
    tree = {"W": np.ones(2), "b": None, "layers": [None, (np.zeros(1), None)]}
    leaves, treedef = ag.pytree.flatten(tree)
    assert len(leaves) == 2 and ag.pytree.leaf_names(treedef) == ["W", "layers[1][0]"]
    rebuilt = ag.pytree.unflatten(treedef, leaves)
    assert rebuilt["b"] is None and rebuilt["layers"][0] is None and rebuilt["layers"][1][1] is None
    doubled = ag.pytree.tree_map(lambda x: 2 * x, tree)
    assert doubled["b"] is None
    np.testing.assert_array_equal(doubled["W"], [2.0, 2.0])
    assert ag.compare_gradients({"W": np.ones(2), "b": None}, {"W": np.ones(2), "b": None}).passed
    with pytest.raises(ValueError, match="structure"):      # None does not match an array
        ag.compare_gradients({"W": np.ones(2), "b": None}, {"W": np.ones(2), "b": np.zeros(1)})
    assert ag.gradcheck(lambda p: ag.sum(p["W"] ** 2), [{"W": np.array([1.0, 2.0]), "b": None}]).passed
    with pytest.raises(ValueError, match="no arrays"):
        ag.gradcheck(lambda p: ag.Tensor(1.0), [None])


def test_a_leaf_that_is_not_numeric_is_named_by_its_path():
    with pytest.raises(TypeError, match=r"grad: argument 0, leaf 'layers\[1\].b': .*not numeric"):
        ag.grad(lambda p: ag.sum(p["W"]))({"W": np.ones(2), "layers": [np.ones(1), {"b": "zero"}]})


# --- 5. dicts are matched by key at every level ---------------------------------------------
def test_compare_gradients_matches_nested_dict_keys_by_name():
    actual = {"layer1": {"W": np.ones(2), "b": np.zeros(1)}, "layer2": [{"x": np.ones(1), "y": np.ones(3)}]}
    expected = {"layer2": [{"y": np.ones(3), "x": np.ones(1)}], "layer1": {"b": np.zeros(1), "W": np.ones(2)}}
    comparison = ag.compare_gradients(actual, expected)
    assert comparison.passed
    assert [leaf.name for leaf in comparison.leaves] == ["layer1.W", "layer1.b", "layer2[0].x", "layer2[0].y"]
    wrong = dict(expected, layer1={"b": np.zeros(1), "W": np.array([1.0, 3.0])})
    assert ag.compare_gradients(actual, wrong).worst.name == "layer1.W"
    with pytest.raises(ValueError, match="structure"):      # other keys are still refused
        ag.compare_gradients(actual, dict(expected, layer1={"c": np.zeros(1), "W": np.ones(2)}))


def test_hvp_and_jvp_take_a_direction_dict_in_another_key_order():
    params = {"W": np.array([1.0, 2.0]), "b": np.array([3.0])}

    def f(p):
        return ag.sum(p["W"] ** 2) + ag.sum(p["b"] ** 3)
    h = ag.hvp(f)(params, {"b": np.array([1.0]), "W": np.array([1.0, -1.0])})
    np.testing.assert_allclose(h["W"], [2.0, -2.0])          # d2/dW2 = 2 I
    np.testing.assert_allclose(h["b"], [18.0])               # d2/db2 = 6 b = 18
    _, tangent = ag.jvp(f, (params,), ({"b": np.array([1.0]), "W": np.array([1.0, 0.0])},))
    np.testing.assert_allclose(tangent, 2 * 1.0 + 3 * 3.0 ** 2)   # <2 W, e1> + 3 b^2


# --- 6. refused ufunc methods name the method and a correct rewrite ------------------------
@pytest.mark.parametrize("call, method, wrong", [
    (lambda t: np.multiply.outer(t, t), "numpy.multiply.outer", "use ag.multiply"),
    (lambda t: np.add.accumulate(t), "numpy.add.accumulate", "use ag.add"),
    (lambda t: np.maximum.accumulate(t), "numpy.maximum.accumulate", "use ag.maximum"),
    (lambda t: np.add.reduceat(t, [0, 1]), "numpy.add.reduceat", "use ag.add"),
    (lambda t: np.add.at(t, [0], 1.0), "numpy.add.at", "use ag.add"),
    (lambda t: np.multiply.reduce(t), "numpy.multiply.reduce", "use ag.multiply"),
])
def test_ufunc_method_errors_name_the_method_not_the_plain_op(call, method, wrong):
    t = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(t)
    message = str(info.value)
    assert message.startswith(f"{method} is not supported on autograd_lite Tensors")
    assert wrong not in message


def test_the_suggested_outer_rewrite_computes_the_outer_product():
    a, b = ag.Tensor(np.array([1.0, 2.0, 3.0])), ag.Tensor(np.array([4.0, 5.0]))
    with pytest.raises(TypeError, match=r"ag\.multiply\(a\[:, None\], b\[None, :\]\)"):
        np.multiply.outer(a, b)
    np.testing.assert_array_equal(ag.multiply(a[:, None], b[None, :]).data, np.multiply.outer(a.data, b.data))
    with pytest.raises(TypeError, match="no cumsum"):
        np.add.accumulate(a)


# --- 7. rates and schedules: out-of-range values are ValueErrors naming the argument -------
@pytest.mark.parametrize("call, text", [
    (lambda: schedules.exponential(0.1, 0.5)(10 ** 400), "lr_schedule.exponential: epoch must be a finite number"),
    (lambda: schedules.exponential(10 ** 400, 0.5), r"lr0 must be a finite number > 0, at most 1.798e\+308"),
    (lambda: schedules.step(0.1, Fraction(10 ** 400), 3), r"decay_rate must be a finite number >= 0, at most"),
    (lambda: ag.optim.GradientDescent([ag.Tensor([1.0], requires_grad=True)], 10 ** 400),
     r"GradientDescent: learning rate lr must be a finite number > 0, at most"),
    (lambda: ag.optim.Adam([ag.Tensor([1.0], requires_grad=True)], 0.1, beta1=10 ** 400),
     r"Adam: beta1 must be a finite number in \[0, 1\), at most"),
    (lambda: schedules.step(0.1, 1.0, 5e-324), r"lr_schedule.step: time_interval must be >= 2\.2250738585072014e-308"),
    (lambda: schedules.step(0.1, 1.0, 1e-10)(1e300), r"lr_schedule.step: epoch 1e\+300 is out of range"),
    (lambda: schedules.exponential(0.1, 1e200)(1e200), r"epoch 1e\+200 is out of range.*got 0.0"),
    # ints are computed as floats (as NumPy scalars are): 1e200 * 1e200 is inf, so the rate is 0.0
    (lambda: schedules.exponential(0.1, 10 ** 200)(10 ** 200), "epoch .* is out of range.*got 0.0"),
])
def test_out_of_range_rates_are_value_errors_naming_the_argument(call, text):
    with pytest.raises(ValueError, match=text):
        call()


def test_schedules_at_the_edges_of_the_accepted_ranges():
    import sys
    smallest = sys.float_info.min
    assert schedules.step(0.1, 1.0, smallest)(0) == 0.1                       # floor(0) = 0 decays
    assert schedules.step(0.2, 1.0, 2)(Fraction(9, 2)) == 0.2 / 3             # floor(4.5 / 2) = 2
    assert schedules.exponential(0.2, 1.0)(10 ** 300) == 0.2 / (1 + 1e300)
    assert ag.optim.GradientDescent([ag.Tensor([1.0], requires_grad=True)], 10 ** 300).lr == 1e300


# --- 8. initialize takes an ordered sequence only ------------------------------------------
@pytest.mark.parametrize("dims", [{2, 20, 3, 1}, {2: "input", 20: "hidden", 1: "output"},
                                  (n for n in (2, 3)), frozenset({2, 3})])
def test_initialize_refuses_unordered_layer_dims(dims):
    with pytest.raises(TypeError, match=r"layer_dims must be a sequence of layer sizes in layer order .*got "
                                        rf"{type(dims).__name__}"):
        ag.init.initialize(dims, "he", rng=0)


@pytest.mark.parametrize("dims", [(2, 3, 1), np.array([2, 3, 1]), range(2, 5)])
def test_initialize_accepts_ordered_sequences(dims):
    expected = np.random.default_rng(0)   # he: z * sqrt(2 / n_prev), layer by layer from one stream
    params = ag.init.initialize(dims, "he", rng=0)
    sizes = list(dims)
    for l in range(1, len(sizes)):
        w = expected.standard_normal((sizes[l], sizes[l - 1])) * np.sqrt(2 / sizes[l - 1])
        np.testing.assert_array_equal(params[f"W{l}"].data, w)


# --- round 21, finding 2: hvp over None (an empty subtree) mirrors grad ---------------------
# JAX semantics: an argument with no leaves has a derivative with no leaves, its own structure.
def test_hvp_over_none_or_a_tree_of_nones_returns_that_structure():
    x = np.array([1.0, 2.0])
    assert ag.hvp(lambda a, b: ag.sum(a ** 3), argnums=1)(x, None, None) is None
    assert ag.hvp(lambda p: ag.sum(ag.Tensor([1.0])))({"b": None}, {"b": None}) == {"b": None}
    assert ag.hvp(lambda p: ag.sum(ag.Tensor([1.0])))((None, [None]), (None, [None])) == (None, [None])


def test_hvp_with_a_none_leaf_beside_an_array_is_the_hand_formula():
    w, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -4.0])
    got = ag.hvp(lambda p: ag.sum(p["w"] ** 3))({"w": w, "b": None}, {"w": v, "b": None})
    assert set(got) == {"w", "b"} and got["b"] is None
    np.testing.assert_allclose(got["w"], 6 * w * v, rtol=1e-15)     # d2/dw2 sum(w^3) = diag(6 w)


def test_hvp_over_none_still_checks_f_and_the_direction():
    with pytest.raises(ag.GraphError, match="single-element"):
        ag.hvp(lambda p: ag.Tensor([1.0, 2.0]))(None, None)
    with pytest.raises(ValueError, match="direction v"):
        ag.hvp(lambda a, b: ag.sum(a), argnums=1)(np.ones(2), None, np.ones(2))


def test_every_transform_over_all_none_arguments_follows_jax():
    x = np.array([1.0, 2.0])
    f = lambda a, b: ag.sum(a ** 3)
    assert ag.grad(f, argnums=1)(x, None) is None
    value, g = ag.value_and_grad(f, argnums=1)(x, None)
    assert value == 9.0 and g is None                                  # 1 + 8
    value, (ga, gb) = ag.value_and_grad(f, argnums=(0, 1))(x, None)
    np.testing.assert_allclose(ga, 3 * x ** 2)                        # d/da sum(a^3)
    assert gb is None
    assert ag.jacobian(lambda a, b: a * 2, argnums=1)(x, None) is None
    assert ag.jacobian(lambda p: {"o": ag.Tensor([1.0, 2.0]) * 2})({"b": None}) == {"o": {"b": None}}
    assert ag.hessian(lambda p: ag.sum(ag.Tensor([1.0])))({"b": None}) == {"b": None}
    _, pull = ag.vjp(lambda p: ag.Tensor([1.0, 2.0]) * 2, None)
    assert pull(np.ones(2)) == (None,)
    out, tangent = ag.jvp(lambda p: ag.Tensor([1.0, 2.0]) * 2, (None,), (None,))
    np.testing.assert_array_equal(out, [2.0, 4.0])
    np.testing.assert_array_equal(tangent, [0.0, 0.0])                 # f does not depend on p


# --- round 21, finding 3: schedules compute in float64 whatever real type they are given ----
def test_schedules_with_numpy_float32_arguments_compute_in_float64():
    lr = schedules.exponential(0.1, np.float32(0.5))(3)
    assert type(lr) is float and lr == 0.1 / (1 + 0.5 * 3)            # 0.04, not float32's 0.0399999991
    lr0 = float(np.float32(0.1))                                       # the float32's exact value
    assert schedules.exponential(np.float32(0.1), 1.0)(1e300) == lr0 / (1 + 1e300)
    assert schedules.exponential(np.float32(0.1), np.float32(0.25))(np.float32(2)) == lr0 / (1 + 0.25 * 2)
    interval = float(np.float32(1e-38))
    assert schedules.step(0.1, 1.0, np.float32(1e-38))(10) == 0.1 / (1 + math.floor(10 / interval))
    assert schedules.step(0.1, np.float16(0.5), np.int64(3))(np.int32(7)) == 0.1 / (1 + 0.5 * 2)


def test_schedule_range_checks_still_see_the_numpy_value():
    with pytest.raises(ValueError, match="lr0 must be > 0"):
        schedules.exponential(np.float32(0.0), 1.0)
    with pytest.raises(ValueError, match="decay_rate must be a finite number"):
        schedules.step(0.1, np.float32("inf"), 1.0)


def test_a_negative_seed_is_the_same_value_error_for_manual_seed_and_rng():
    """A negative int is the right type with a wrong value: ValueError both ways (NumPy's
    default_rng(-1) is a ValueError too); a float or bool seed stays a TypeError."""
    with pytest.raises(ValueError, match="manual_seed: a seed must be >= 0, got -1"):
        ag.manual_seed(-1)
    with pytest.raises(ValueError, match="dropout: a seed must be >= 0, got -1"):
        ag.dropout(np.ones((2, 2)), 0.5, rng=-1)
    for seed in (1.5, True, "1"):
        with pytest.raises(TypeError, match="manual_seed: expected an int seed >= 0"):
            ag.manual_seed(seed)
    ag.manual_seed(3)
    np.testing.assert_array_equal(ag.rng.as_generator(None).random(3), np.random.default_rng(3).random(3))
