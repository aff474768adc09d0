"""ag.compile: the replayed tape gives the eager engine's values and gradients,
draws fresh dropout masks, re-records on new shapes, and refuses misuse."""
import numpy as np
import pytest

import autograd_lite as ag
# the benchmark's L-layer cost expression, with layers as ag.linear or written W @ A + b
from bench.workloads import network_cost as net_cost, written_network_cost
from models import manual, three_layer, deep

LAYERS = [2, 20, 3, 1]


def _params(seed=0, dims=LAYERS):
    rng = np.random.default_rng(seed)
    return {k: ag.Tensor(v.data) for k, v in ag.init.initialize(dims, "he", rng).items()}


def _leaves(arrays):
    return {k: ag.Tensor(v.data, requires_grad=True, name=k) for k, v in arrays.items()}


def _array(m=211, seed=1, n_x=2):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_x, m)), (rng.random((1, m)) < 0.5).astype(float)


def _step(fn, params, X, Y, lambd, keep_prob, rng):
    for p in params.values():
        p.grad = None
    cost = fn(params, X, Y, lambd, keep_prob, rng)
    cost.backward()
    return cost.item(), {k: p.grad.copy() for k, p in params.items()}


@pytest.mark.parametrize("cost_fn", [net_cost, written_network_cost], ids=["linear", "written"])
@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86), (0.7, 0.86)])
def test_replay_matches_eager_cost_and_gradients_over_several_steps(lambd, keep_prob, cost_fn):
    start = _params()
    eager_params, replay_params = _leaves(start), _leaves(start)
    X, Y = _array()
    step = ag.compile(cost_fn)
    eager_rng, replay_rng = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(4):  # the first call records, the others replay
        c_eager, g_eager = _step(cost_fn, eager_params, X, Y, lambd, keep_prob, eager_rng)
        c_replay, g_replay = _step(step, replay_params, X, Y, lambd, keep_prob, replay_rng)
        assert abs(c_eager - c_replay) <= 1e-12
        for k in g_eager:
            np.testing.assert_allclose(g_replay[k], g_eager[k], rtol=0, atol=1e-12)
        with ag.no_grad():  # same update for both, so the next step starts from new values
            for k in eager_params:
                eager_params[k].data = eager_params[k].data - 0.3 * g_eager[k]
                replay_params[k].data = replay_params[k].data - 0.3 * g_replay[k]
    assert step.recordings == 1


def test_replayed_gradients_equal_the_hand_derived_backward_with_given_masks():
    # Reference: models.manual's hand-written backprop (SEEDS.md sections 2-3), masks as arguments.
    params = _leaves(_params(3))
    X, Y = _array(seed=4)
    rng = np.random.default_rng(5)
    lambd, keep_prob = 0.7, 0.86

    def cost(X, Y, D1, D2):
        A1 = ag.dropout(ag.relu(params["W1"] @ X + params["b1"]), keep_prob, mask=D1)
        A2 = ag.dropout(ag.relu(params["W2"] @ A1 + params["b2"]), keep_prob, mask=D2)
        A3 = ag.sigmoid(params["W3"] @ A2 + params["b3"])
        return ag.binary_cross_entropy(A3, Y) + ag.l2_penalty(
            [params["W1"], params["W2"], params["W3"]], lambd, Y.shape[1])

    step = ag.compile(cost)
    for _ in range(3):
        masks = [(rng.random((n, X.shape[1])) < keep_prob).astype(float) for n in (20, 3)]
        for p in params.values():
            p.grad = None
        step(X, Y, *masks).backward()
        raw = {k: p.data for k, p in params.items()}
        A3, cache = manual.forward_propagation(X, raw, keep_prob, masks)
        expected = manual.backward_propagation(X, Y, cache, lambd, keep_prob)
        for k, p in params.items():
            np.testing.assert_allclose(p.grad, expected["d" + k], rtol=1e-10, atol=1e-14)
    assert step.recordings == 1


def test_each_replay_draws_fresh_masks_from_the_same_generator_stream():
    x = ag.Tensor(np.ones((4, 50)), requires_grad=True)
    keep_prob = 0.6
    step = ag.compile(lambda x, rng: ag.dropout(x, keep_prob, rng=rng).sum())
    rng, twin = np.random.default_rng(11), np.random.default_rng(11)
    seen = []
    for _ in range(4):
        x.grad = None
        out = step(x, rng)
        out.backward()
        mask = twin.random((4, 50)) < keep_prob  # what eager dropout draws next from the same stream
        assert out.item() == pytest.approx(mask.sum() / keep_prob, abs=1e-12)
        np.testing.assert_array_equal(x.grad, mask / keep_prob)
        seen.append(mask)
    assert not all(np.array_equal(seen[0], m) for m in seen[1:])


def test_default_generator_masks_follow_manual_seed():
    step = ag.compile(lambda x: ag.dropout(x, 0.5).sum())
    x = np.ones((3, 40))
    ag.manual_seed(3)
    first = [step(x).item() for _ in range(3)]
    ag.manual_seed(3)
    again = [step(x).item() for _ in range(3)]
    expected_rng = np.random.default_rng(3)
    expected = [(expected_rng.random((3, 40)) < 0.5).sum() / 0.5 for _ in range(3)]
    assert first == again == pytest.approx(expected, abs=1e-12)


def test_a_short_training_run_is_identical_compiled_or_not():
    X, Y = _array(m=211, seed=2)
    runs = [three_layer.train(X, Y, learning_rate=0.3, num_iterations=1001, lambd=0.7, keep_prob=0.86,
                              init="he", rng=np.random.default_rng(9), compiled=compiled)
            for compiled in (False, True)]
    (eager_params, eager_costs), (replay_params, replay_costs) = runs
    np.testing.assert_allclose(replay_costs, eager_costs, rtol=0, atol=1e-12)
    for k in eager_params:
        np.testing.assert_allclose(replay_params[k].data, eager_params[k].data, rtol=0, atol=1e-12)


def test_deep_training_with_minibatches_and_adam_is_identical_compiled_or_not():
    X, Y = _array(m=150, seed=3, n_x=6)
    runs = [deep.train(X, Y, [6, 5, 3, 1], optimizer="adam", learning_rate=0.01, num_epochs=5,
                       mini_batch_size=64, lambd=0.2, keep_prob=0.9, rng=np.random.default_rng(4),
                       cost_every=1, compiled=compiled) for compiled in (False, True)]
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=0, atol=1e-12)
    for k in runs[0][0]:
        np.testing.assert_allclose(runs[1][0][k].data, runs[0][0][k].data, rtol=0, atol=1e-12)


def test_new_shapes_or_dtypes_record_again_and_old_ones_are_kept():
    W = ag.Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    step = ag.compile(lambda X: ag.tanh(W @ X).mean())
    for m, dtype in [(5, np.float64), (7, np.float64), (5, np.float64), (5, np.float32), (7, np.float64)]:
        X = np.random.default_rng(m).standard_normal((4, m)).astype(dtype)
        W.grad = None
        out = step(X)
        out.backward()
        # d/dW mean(tanh(W X)) = (1 - tanh^2(W X)) X^T / (3 m), by hand
        T = np.tanh(W.data @ X)
        tolerance = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(W.grad, (1 - T ** 2) @ X.T / (3 * m), rtol=tolerance)
        assert out.item() == pytest.approx(T.mean(), rel=1e-6)
    assert step.recordings == 3


def test_a_captured_parameter_changing_shape_records_again():
    params = {"W": ag.Tensor(np.ones((2, 3)), requires_grad=True)}
    step = ag.compile(lambda p, x: (p["W"] @ x).sum())
    assert step(params, np.ones(3)).item() == 6.0
    params["W"] = ag.Tensor(np.ones((4, 3)), requires_grad=True)  # a new parameter in the same dict
    assert step(params, np.ones(3)).item() == 12.0
    assert step.recordings == 2


def test_static_arguments_key_the_trace():
    W = ag.Tensor([1.0, 2.0], requires_grad=True)
    step = ag.compile(lambda x, scale: (W * x * scale).sum())
    assert step(np.ones(2), 2.0).item() == 6.0
    assert step(np.ones(2), 3.0).item() == 9.0
    assert step(np.ones(2), 2.0).item() == 6.0
    assert step.recordings == 2


def test_no_grad_replays_the_forward_only():
    params = _leaves(_params())
    X, Y = _array()
    step = ag.compile(net_cost)
    recorded = step(params, X, Y, 0.7, 1.0, None)
    with ag.no_grad():
        value = step(params, X, Y, 0.7, 1.0, None)
        eager = net_cost(params, X, Y, 0.7, 1.0, None)
    assert not value.requires_grad and value._prim is None
    assert value.item() == recorded.item() == eager.item()
    replayed = step(params, X, Y, 0.7, 1.0, None)
    with ag.no_grad():  # later calls share nothing with an earlier result: it still backwards
        step(params, X[:, :5], Y[:, :5], 0.7, 1.0, None)
        step(params, X, Y, 0.7, 1.0, None)
    replayed.backward()
    replayed_grads = {k: p.grad for k, p in params.items()}
    for p in params.values():
        p.grad = None
    net_cost(params, X, Y, 0.7, 1.0, None).backward()
    for k, p in params.items():
        np.testing.assert_allclose(replayed_grads[k], p.grad, rtol=1e-12, atol=0)


def test_results_are_copies_that_later_calls_do_not_change():
    W = ag.Tensor([[1.0, 2.0]], requires_grad=True)
    step = ag.compile(lambda x: ag.sigmoid(W @ x))
    first = step(np.array([[1.0], [0.0]]))
    second = step(np.array([[1.0], [0.0]]))
    kept = first.data.copy()
    step(np.array([[0.0], [5.0]]))
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(second.data, kept)


def test_an_older_result_backwards_with_its_own_values_after_later_calls():
    W = ag.Tensor([1.0, 2.0], requires_grad=True)
    step = ag.compile(lambda x: (W * x * x).sum())
    step(np.ones(2))
    old = step(np.array([1.0, 2.0]))
    step(np.full(2, 3.0)).backward()
    W.grad = None
    old.backward()
    np.testing.assert_array_equal(W.grad, [1.0, 4.0])  # d/dW sum(W x^2) = x^2 of the older call


def test_updating_a_parameter_before_backward_is_caught_as_in_eager_mode():
    W = ag.Tensor([1.0, 2.0], requires_grad=True, name="W")
    step = ag.compile(lambda x: (W * x).sum())
    step(np.ones(2))
    out = step(np.ones(2))
    W.data = W.data - 1.0
    with pytest.raises(ag.InplaceModificationError, match="'W'"):
        out.backward()


def test_gradients_combine_with_eager_ops_and_seeds():
    W = ag.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    step = ag.compile(lambda x: ag.square(W * x))
    x = np.array([2.0, 1.0, 0.5])
    step(x)
    out = step(x)
    (out * np.array([1.0, 10.0, 100.0])).sum().backward()
    # d/dW sum(c * (W x)^2) = 2 c (W x) x
    np.testing.assert_allclose(W.grad, 2 * np.array([1.0, 10.0, 100.0]) * (W.data * x) * x, rtol=1e-12)


def test_user_primitives_and_other_ops_replay_through_their_own_vjps():
    @ag.primitive
    def cube(x):
        return x ** 3
    cube.defvjp(lambda g, out, x: g * 3 * x ** 2)
    W = ag.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    step = ag.compile(lambda x: ag.mean(cube(W.T.reshape(3, 2) * x) + ag.exp(W).sum(axis=0, keepdims=True).T))
    x = np.array([[0.5], [2.0], [-1.0]])
    for _ in range(3):
        W.grad = None
        step(x).backward()
    expected = ag.grad(lambda W: ag.mean(cube(W.T.reshape(3, 2) * x)
                                         + ag.exp(W).sum(axis=0, keepdims=True).T))(W.data)
    numeric = ag.numerical_gradient(lambda W: ag.mean(cube(W.T.reshape(3, 2) * x)
                                                       + ag.exp(W).sum(axis=0, keepdims=True).T), [W.data])[0]
    np.testing.assert_allclose(W.grad, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W.grad, numeric, rtol=1e-6)


def test_higher_order_and_anomaly_mode_run_the_function_eagerly():
    step = ag.compile(lambda x: (x ** 3).sum())
    assert ag.grad(ag.grad(step))(2.0) == pytest.approx(12.0)
    step(np.array([1.0]))
    with ag.detect_anomaly():
        with pytest.raises(ag.AnomalyError):
            step(np.array([np.nan]))


def test_bad_uses_raise_clear_errors():
    with pytest.raises(TypeError, match="expected a function"):
        ag.compile(3)
    with pytest.raises(ValueError, match="max_traces"):
        ag.compile(lambda x: x, max_traces=0)
    with pytest.raises(TypeError, match="must return one Tensor"):
        ag.compile(lambda x: 3.0)(np.ones(2))


def test_decorator_forms():
    @ag.compile
    def f(x):
        return (x * 2).sum()

    @ag.compile(max_traces=1)
    def g(x):
        return (x * 3).sum()
    assert f(np.ones(3)).item() == 6.0
    assert g(np.ones(3)).item() == 9.0 and g(np.ones(4)).item() == 12.0
    assert g(np.ones(3)).item() == 9.0 and g.recordings == 3


def test_benchmark_command_runs_and_writes_its_table(tmp_path, capsys):
    import json

    from bench.__main__ import main
    main(["--workloads", "football", "--impls", "manual", "eager", "replay", "--reps", "2", "--warmup", "1",
          "--block-seconds", "0.001", "--json", str(tmp_path / "b.json"),
          "--markdown", str(tmp_path / "b.md"), "--memory-steps", "50"])
    result = json.loads((tmp_path / "b.json").read_text())
    rows = {r["implementation"]: r for r in result["rows"]}
    assert set(rows) == {"manual", "eager", "replay"} and rows["manual"]["ratio"] == 1.0
    assert all(r["median_us"] > 0 and r["peak_mb"] >= 0 for r in rows.values())
    assert result["memory"]["steps"] == 50
    assert "| football | replay |" in (tmp_path / "b.md").read_text()
    assert "replay on football" in capsys.readouterr().out


def test_conditions_from_comparisons_are_recomputed_on_every_replay():
    # leaky ReLU written with where(x > 0, ...): the condition depends on the input
    step = ag.compile(lambda x: ag.where(x > 0, x, 0.1 * x).sum())
    for values in ([1.0, -2.0, 3.0], [-1.0, 2.0, -3.0], [4.0, 5.0, -6.0]):
        x = ag.Tensor(values, requires_grad=True)
        out = step(x)
        out.backward()
        v = np.array(values)
        assert out.item() == pytest.approx(np.sum(np.where(v > 0, v, 0.1 * v)), abs=1e-12)
        np.testing.assert_allclose(x.grad, np.where(v > 0, 1.0, 0.1), atol=1e-12)
    assert step.recordings == 1


def test_retained_graphs_and_retain_grad_on_a_compiled_result():
    W = ag.Tensor([1.0, -2.0], requires_grad=True)
    b = ag.Tensor(0.5, requires_grad=True)
    step = ag.compile(lambda x: ((W * x).sum() + b) ** 2)
    x = np.array([3.0, 1.0])
    step(x)
    out = step(x).retain_grad()
    out.backward(retain_graph=True)
    out.backward()  # gradients add up, as for any retained graph
    s = 1.0 * 3.0 - 2.0 * 1.0 + 0.5  # d/dW (W.x + b)^2 = 2 (W.x + b) x, by hand
    np.testing.assert_allclose(W.grad, 2 * 2 * s * x, rtol=1e-12)
    assert b.grad == pytest.approx(2 * 2 * s)
    assert out.grad == pytest.approx(2.0)
    with pytest.raises(ag.GraphError, match="freed"):
        out.backward()


def test_float32_replay_equals_eager_to_the_last_bit_even_with_saturated_predictions():
    # float32 takes the cross-entropy's other floor (log first, then -100); a large weight
    # saturates some sigmoids to exactly 0 or 1, so the floor is used.
    start = {k: ag.Tensor(v.data.astype(np.float32)) for k, v in _params().items()}
    start["W3"] = ag.Tensor(start["W3"].data * 400)
    X, Y = _array()
    X = X.astype(np.float32)
    eager_params, replay_params = _leaves(start), _leaves(start)
    step = ag.compile(net_cost)
    for _ in range(3):
        c_eager, g_eager = _step(net_cost, eager_params, X, Y, 0.7, 1.0, None)
        c_replay, g_replay = _step(step, replay_params, X, Y, 0.7, 1.0, None)
        assert c_eager == c_replay
        for k in g_eager:
            assert g_replay[k].dtype == np.float32
            np.testing.assert_array_equal(g_replay[k], g_eager[k])
    with ag.no_grad():
        a = ag.sigmoid(replay_params["W3"] @ ag.relu(replay_params["W2"] @ ag.relu(
            replay_params["W1"] @ X + replay_params["b1"]) + replay_params["b2"]) + replay_params["b3"]).data
    assert np.any(np.where(Y, a, 1 - a) == 0)  # some true label got probability 0: the floor was used
