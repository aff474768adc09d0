"""Round 20 (adv122 #5, #6): gradcheck checks forward mode (JVPs) when asked, ``modes=("rev", "fwd")``, and
compares a narrow dtype's gradient with float64's entry by entry."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag

X2 = np.array([0.5, 1.5])


def _both_modes(*args, **kwargs):
    """``ag.gradcheck`` with forward mode checked too unless ``modes`` is given (its default is reverse alone)."""
    kwargs.setdefault("modes", ("rev", "fwd"))
    return ag.gradcheck(*args, **kwargs)


def _cube(jvp):
    c = ag.primitive(lambda x: x ** 3, name="cube20")
    c.defvjp(lambda g, out, x: g * 3 * x ** 2)
    c.defjvp(jvp)
    return c


# --- #6: forward mode ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"fast": True}, {"modes": ("fwd",)}, {"modes": ["rev", "fwd"]}])
def test_a_wrong_defjvp_fails(kwargs):
    c = _cube(lambda t, out, x: t * 2 * x ** 2)      # 2 x^2 for 3 x^2
    r = _both_modes(lambda x: ag.sum(c(x)), [X2], **kwargs)
    assert not r.passed, str(r)
    text = str(r)
    assert "forward mode" in text and "JVP" in text and "FAIL" in text, text
    forward = r if kwargs.get("modes") == ("fwd",) else r.forward
    assert forward.mode == "forward" and not forward.passed


def test_a_wrong_defjvp_passes_only_the_reverse_check_when_forward_mode_is_left_out():
    c = _cube(lambda t, out, x: t * 2 * x ** 2)
    r = _both_modes(lambda x: ag.sum(c(x)), [X2], modes=("rev",))
    assert r.passed and r.forward is None and "forward mode" not in str(r)


@pytest.mark.parametrize("fast", [False, True])
def test_a_correct_defjvp_passes_and_the_report_shows_the_forward_check(fast):
    c = _cube(lambda t, out, x: t * 3 * x ** 2)
    r = _both_modes(lambda x: ag.sum(c(x) * ag.sin(x)), [X2], fast=fast)
    assert r.passed, str(r)
    assert r.forward.passed and r.forward.threshold == 1e-5
    assert "gradcheck (forward mode: one random direction per input) passed" in str(r)


def _weighted_sum(jvp_all):
    @ag.primitive
    def wsum(a, b):
        return 2 * a + b * b
    wsum.defvjp(lambda g, out, a, b: 2 * g, lambda g, out, a, b: 2 * b * g)
    wsum.jvp_all = jvp_all
    return wsum


def test_jvp_all_wrong_fails_and_right_passes():
    def right(ts, out, a, b):
        return (0 if ts[0] is None else 2 * ts[0]) + (0 if ts[1] is None else 2 * b * ts[1])

    def wrong(ts, out, a, b):                        # drops b's factor 2
        return (0 if ts[0] is None else 2 * ts[0]) + (0 if ts[1] is None else b * ts[1])
    a, b = np.array([0.3, -1.0]), np.array([1.5, 0.7])
    for rule, ok in ((right, True), (wrong, False)):
        w = _weighted_sum(rule)
        r = _both_modes(lambda a, b: ag.sum(w(a, b)), [a, b])
        assert r.passed is ok and r.forward.passed is ok, str(r)
    r = _both_modes(lambda a, b: ag.sum(_weighted_sum(wrong)(a, b)), [a, b], modes=("fwd",))
    assert [c.judged >= r.threshold for c in r.inputs] == [False, True], str(r)   # b's JVP is the wrong one


RNG = np.random.default_rng(20)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 2))
LABELS = np.eye(3)[:, [0, 2, 1, 0]]
Y01 = (RNG.random((1, 4)) < 0.5).astype(float)
BUILT_IN = {
    "softmax": lambda a: ag.sum(ag.softmax(a, axis=0) * A),
    "log_softmax": lambda a: ag.sum(ag.log_softmax(a) * A),
    "logsumexp": lambda a: ag.sum(ag.logsumexp(a, axis=1) ** 2),
    "var_std": lambda a: ag.var(a) + ag.sum(ag.std(a, axis=0, ddof=1)),
    "cross_entropy": lambda a: ag.cross_entropy(a, LABELS),
    "bce": lambda a: ag.binary_cross_entropy(ag.sigmoid(a[:1]), Y01),
    "bce_logits": lambda a: ag.binary_cross_entropy_with_logits(a[1:2], Y01),
    "tanh_softplus": lambda a: ag.sum(ag.tanh(a) * ag.softplus(a)),
    "max_min": lambda a: ag.sum(ag.max(a, axis=0)) + ag.min(a),
    "expm1_log1p": lambda a: ag.sum(ag.expm1(a) + ag.log1p(a * a)),
    "matmul_transpose": lambda a: ag.sum((a @ B) ** 2) + ag.sum(ag.transpose(a) @ a),
    "stack_concat_reshape": lambda a: ag.sum(ag.concatenate([a, ag.stack([a[0], a[1], a[2]])], axis=1).reshape(-1)
                                             * np.arange(24.0)),
    "where_clip_maximum": lambda a: ag.sum(ag.where(A > 0, a, a * a) + ag.clip(a, -0.5, 0.5) + ag.maximum(a, 0.1)),
    "exp_log_sqrt_div": lambda a: ag.sum(ag.exp(a) / (1 + ag.sqrt(a * a + 1)) + ag.log(a * a + 1)),
    "relu_abs_mean": lambda a: ag.mean(ag.relu(a) * ag.abs(a)) + ag.l2_penalty([a], 0.7, 4),
    "dropout": lambda a: ag.sum(ag.dropout(a, 0.8, mask=(A > -0.3).astype(float)) ** 2),
}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_ops_jvp_passes(name):
    r = _both_modes(BUILT_IN[name], [A.copy()], fast=True)
    assert r.passed and r.forward is not None and r.forward.skipped is None, str(r)


def test_a_forward_check_inside_a_pytree_names_the_leaves():
    params = {"W": A, "b": np.array([[0.1], [-0.2], [0.3]])}
    r = _both_modes(lambda p: ag.sum(ag.tanh(p["W"] @ B + p["b"])), [params], modes=("fwd",))
    assert r.passed and [c.name for c in r.inputs] == ["W", "b"], str(r)


def test_a_missing_jvp_is_reported_not_raised():
    c = ag.primitive(lambda x: x ** 3, name="cube_no_jvp")
    c.defvjp(lambda g, out, x: g * 3 * x ** 2)
    r = _both_modes(lambda x: ag.sum(c(x)), [X2])
    assert r.passed and r.forward.skipped is not None, str(r)   # the reverse check ran: a note
    assert "forward mode not checked" in str(r) and "cube_no_jvp" in str(r)
    alone = _both_modes(lambda x: ag.sum(c(x)), [X2], modes=("fwd",))
    assert not alone.passed and "nothing checked" in str(alone) and "cube_no_jvp" in str(alone)


def test_forward_mode_alone_takes_no_vjp():
    c = ag.primitive(lambda x: x ** 3, name="cube_jvp_only")
    c.defjvp(lambda t, out, x: t * 3 * x ** 2)
    assert _both_modes(lambda x: ag.sum(c(x)), [X2], modes=("fwd",)).passed


def test_a_given_threshold_holds_for_the_forward_check_too():
    r = _both_modes(lambda x: ag.sum(ag.sin(x)), [X2], threshold=1e-6)
    assert r.passed and r.forward.threshold == 1e-6


@pytest.mark.parametrize("modes, error", [("rev", TypeError), (None, TypeError), ((), ValueError),
                                          (("bwd",), ValueError), (("rev", 1), ValueError)])
def test_bad_modes_are_refused_naming_gradcheck(modes, error):
    with pytest.raises(error, match="gradcheck: modes"):
        _both_modes(lambda x: ag.sum(x * x), [X2], modes=modes)


# --- #5: a gradient wrong only in the narrow dtype -------------------------------------------------
def _sin_with_vjp(vjp):
    s = ag.primitive(lambda x: np.sin(x), name="sin20")
    s.defvjp(vjp)
    s.defjvp(lambda t, out, x: t * np.cos(x))
    return s


def _checked(f, x, **kwargs):
    with pytest.warns(UserWarning, match="float64 copies"):
        return _both_modes(f, [x], **kwargs)


@pytest.mark.parametrize("fast", [False, True])
def test_a_float32_gradient_20_percent_off_fails(fast):
    s = _sin_with_vjp(lambda g, out, x: g * np.cos(x) * (1.2 if x.dtype == np.float32 else 1.0))
    x = np.random.default_rng(0).standard_normal(10).astype(np.float32)
    r = _checked(lambda x: ag.sum(s(x)), x, fast=fast)
    assert not r.passed and r.own_dtype[0].difference < 0.1, str(r)   # under the pooled threshold
    assert len(r.own_dtype[0].entries) == 10 and "own dtype float32" in str(r)


def test_one_float32_entry_of_1000_with_its_sign_flipped_fails():
    def vjp(g, out, x):
        c = np.cos(x)
        if x.dtype == np.float32:
            c = c.copy()
            c[3] = -c[3]
        return g * c
    s = _sin_with_vjp(vjp)
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    r = _checked(lambda x: ag.sum(s(x)), x, fast=True)
    assert not r.passed and r.own_dtype[0].entries == [(3,)], str(r)
    assert "1 entry off by more than" in str(r)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_correct_narrow_models_pass_and_the_report_shows_the_own_dtype_comparison(dtype):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((4, 64)).astype(dtype), (rng.random((1, 64)) < 0.5).astype(dtype)
    params = {"W1": (rng.standard_normal((5, 4)) * 0.5).astype(dtype), "b1": np.zeros((5, 1), dtype),
              "W2": (rng.standard_normal((1, 5)) * 0.5).astype(dtype), "b2": np.zeros((1, 1), dtype)}

    def f(p):
        return ag.binary_cross_entropy(ag.sigmoid(p["W2"] @ ag.tanh(p["W1"] @ X + p["b1"]) + p["b2"]), Y)
    for _ in range(20):                      # some training: the bias gradients cancel
        g = ag.grad(f)(params)
        params = {k: (params[k] - 0.5 * g[k]).astype(dtype) for k in params}
    r = _checked(f, params, fast=True)
    assert r.passed and all(not c.failed and not c.entries for c in r.own_dtype), str(r)
    assert str(r).count(f"own dtype {np.dtype(dtype).name} vs float64's") == 4


def test_a_correct_float32_elementwise_gradient_passes_entry_by_entry():
    s = _sin_with_vjp(lambda g, out, x: g * np.cos(x))
    x = np.random.default_rng(2).standard_normal(1000).astype(np.float32) * 30
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _both_modes(lambda x: ag.sum(s(x)), [x], fast=True)
    assert r.passed and not r.own_dtype[0].entries, str(r)


def test_a_constant_functions_forward_check_passes_where_its_reverse_check_does():
    x = np.random.RandomState(1075).randn(3, 4)
    f = lambda x: ag.sum(ag.softmax(x, axis=0))  # 3 for every x: its JVP is a rounding residue
    assert ag.gradcheck(f, [x]).passed and ag.gradcheck(f, [x], fast=True, rng=0).passed  # (the default: reverse)
    assert _both_modes(f, [x]).passed and _both_modes(f, [x], fast=True, rng=0).passed  # (forward mode too)


def test_a_float32_gradient_that_cancels_within_its_rounding_passes():
    rs = np.random.RandomState(30)
    x, y = rs.randn(3, 4).astype(np.float32), rs.randn(3, 4).astype(np.float32)
    with pytest.warns(UserWarning):
        result = ag.gradcheck(lambda x, y: ag.sum(x * ag.sum(y)), [x, y])  # d/dx = sum(y), cancelling
    assert result.passed, str(result)


def test_the_default_checks_reverse_mode_alone_as_pytorchs():
    c = _cube(lambda t, out, x: t * 2 * x ** 2)  # (a wrong JVP: only a forward check sees it)
    r = ag.gradcheck(lambda x: ag.sum(c(x)), [X2])
    assert r.passed and r.forward is None
    assert not ag.gradcheck(lambda x: ag.sum(c(x)), [X2], modes=("rev", "fwd")).passed
