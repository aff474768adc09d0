"""ag.compile, round 17 (adversarial findings adv84): each case failed before its fix, a compiled call
differing silently from the same call run eagerly, or warning with a wrong cause. Expected values
come from the math written out, or from the uncompiled function; never from the compiled path."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def _warnings_of(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args)
    return out, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


# --- 1. a tensor's .name and the attributes set on it key the trace wherever it is held -------------------
def test_name_of_a_tensor_in_a_dict_argument_keys_the_trace():
    W = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="W1")
    b = ag.Tensor(np.array([0.5, 0.5, 0.5]), requires_grad=True, name="b1")
    x = ag.Tensor(np.array([1.0, -1.0, 2.0]))

    def cost(params, x):
        pen = sum(ag.sum(p * p) for p in params.values() if p.name.startswith("W"))
        return ag.sum(x * params["a"] + params["c"]) + 0.5 * pen

    p = {"a": W, "c": b}
    step = ag.compile(cost)
    _quiet(step, p, x)
    b.name = "W2"                      # b is now penalized too
    J = _quiet(step, p, x)
    J.backward()
    # sum(x*W) = 1-2+6 = 5, sum(b) = 1.5, 0.5*(|W|^2 + |b|^2) = 0.5*(14 + 0.75)
    assert float(J.data) == 5.0 + 1.5 + 0.5 * 14.75
    np.testing.assert_array_equal(b.grad, 1.0 + b.data)


def test_name_of_a_closure_tensor_keys_the_trace():
    W = ag.Tensor(np.ones(3), requires_grad=True, name="a")

    def f(x):
        return ag.sum(x * W) if W.name == "a" else ag.sum(x + W)

    step = ag.compile(f)
    x = ag.Tensor(np.arange(3.0))
    _quiet(step, x)
    W.name = "b"
    assert float(_quiet(step, x).data) == 6.0          # sum(x + 1) = 0+1+2 + 3


def test_name_of_a_tensor_only_its_name_is_read_of_keys_the_trace():
    # u is never an op's input (no step reads it): only its name decides the branch
    u = ag.Tensor(np.ones(3), name="u")
    params = {"W": ag.Tensor(np.ones(3), name="W"), "u": u}

    def f(params, x):
        return ag.sum(x) * sum(1.0 for t in params.values() if t.name.startswith("W"))

    step = ag.compile(f)
    x = ag.Tensor(np.arange(3.0))
    assert float(_quiet(step, params, x).data) == 3.0
    u.name = "Wu"
    assert float(_quiet(step, params, x).data) == 6.0


def test_name_of_an_object_attribute_tensor_keys_a_bound_method():
    class Layer:
        def __init__(self):
            self.W = ag.Tensor(np.full(3, 2.0), requires_grad=True, name="W")

        def cost(self, x):
            return ag.sum(x * self.W) * (2.0 if self.W.name == "W" else 1.0)

    layer = Layer()
    step = ag.compile(layer.cost)
    x = ag.Tensor(np.ones(3))
    assert float(_quiet(step, x).data) == 12.0
    layer.W.name = "frozen"
    assert float(_quiet(step, x).data) == 6.0


def test_own_attribute_of_a_tensor_argument_keys_the_trace():
    def f(x):
        return ag.sum(x * x) * getattr(x, "decay", 1.0)

    step = ag.compile(f)
    x = ag.Tensor(np.arange(3.0), requires_grad=True)
    _quiet(step, x)
    x.decay = 0.5
    J = _quiet(step, x)
    J.backward()
    assert float(J.data) == 2.5                         # 0.5 * (0 + 1 + 4)
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 2.0])


def test_own_attribute_of_a_closure_tensor_set_changed_and_deleted_after_the_trace():
    V = ag.Tensor(np.ones(3), requires_grad=True)

    def g(x):
        return ag.sum(x * V) * getattr(V, "scale", 1.0)

    step = ag.compile(g)
    x = ag.Tensor(np.arange(3.0))                      # sum(x * 1) = 3
    got = []
    for scale in (None, 3.0, 4.0, 4.0, None):
        if scale is None:
            V.__dict__.pop("scale", None)
        else:
            V.scale = scale
        got.append(float(_quiet(step, x).data))
    assert got == [3.0, 9.0, 12.0, 12.0, 3.0]
    assert step.replays >= 1                           # the unchanged 4.0 replayed


def test_parameters_updated_in_place_still_replay():
    # an optimizer step gives each parameter a version counter (in its __dict__): not the user's
    params = {"W": ag.Tensor(np.array([1.0, -2.0]), requires_grad=True, name="W")}
    opt = ag.optim.GradientDescent(params, 0.5)
    step = ag.compile(lambda p, x: ag.sum(p["W"] * x))
    x = ag.Tensor(np.array([2.0, 3.0]))
    for _ in range(4):
        J = _quiet(step, params, x)
        opt.zero_grad()
        J.backward()
        opt.step()
    np.testing.assert_array_equal(params["W"].data, [1.0 - 4 * 1.0, -2.0 - 4 * 1.5])
    assert step.recordings == 1 and step.replays == 3


# --- 2. retain_grad() on a sigmoid output passed in with its logits -----------------------------------
_Y = np.array([[0.0, 1.0, 1.0, 0.0]])
_X = np.array([[1.0, 2.0, -1.0, 0.5]])


def _sigmoid_pair(w):
    W = ag.Tensor(np.array([[w]]), requires_grad=True)
    Z = W * _X
    return W, Z, ag.sigmoid(Z)


def test_retained_sigmoid_output_argument_gets_its_grad_on_replays():
    def cost(A, Z, Y):
        return ag.binary_cross_entropy(A, Y) + 0.0 * ag.sum(Z)

    step = ag.compile(cost)
    a = 1.0 / (1.0 + np.exp(-0.7 * _X))
    expected = (a - _Y) / (a * (1.0 - a)) / 4.0
    for _ in range(3):
        _, Z, A = _sigmoid_pair(0.7)
        A.retain_grad()
        _quiet(step, A, Z, _Y).backward()
        assert A.grad is not None
        np.testing.assert_allclose(A.grad, expected, rtol=1e-12)
    assert step.replays == 2


@pytest.mark.parametrize("retain_after_the_call", [False, True])
def test_retained_sigmoid_output_with_other_gradients_too(retain_after_the_call):
    # A gets dJ/dA from the cross-entropy (for its .grad alone) and from sum(A * A), which walks on
    def cost(A, Z, Y):
        return ag.binary_cross_entropy(A, Y) + ag.sum(A * A) + 0.5 * ag.sum(Z)

    step = ag.compile(cost)
    for w in (0.7, -0.3, 1.9):
        results = []
        for fn in (cost, step):
            W, Z, A = _sigmoid_pair(w)
            if not retain_after_the_call:
                A.retain_grad()
            J = _quiet(fn, A, Z, _Y)
            if retain_after_the_call:
                A.retain_grad()
            J.backward()
            results.append((J.item(), A.grad, W.grad))
        (J0, A0, W0), (J1, A1, W1) = results
        a = 1.0 / (1.0 + np.exp(-w * _X))
        np.testing.assert_allclose(A1, (a - _Y) / (a * (1.0 - a)) / 4.0 + 2.0 * a, rtol=1e-12)
        dz = (a - _Y) / 4.0 + 2.0 * a * a * (1.0 - a) + 0.5
        np.testing.assert_allclose(W1, [[np.sum(dz * _X)]], rtol=1e-12)
        assert J1 == J0 and np.array_equal(A1, A0) and np.array_equal(W1, W0)  # as eager, bit for bit
    assert step.replays == 2


def test_not_retained_sigmoid_output_argument_gets_no_grad():
    step = ag.compile(lambda A, Z, Y: ag.binary_cross_entropy(A, Y) + 0.0 * ag.sum(Z))
    for _ in range(2):
        W, Z, A = _sigmoid_pair(0.4)
        _quiet(step, A, Z, _Y).backward()
        assert A._grad is None
        a = 1.0 / (1.0 + np.exp(-0.4 * _X))
        np.testing.assert_allclose(W.grad, [[np.sum((a - _Y) / 4.0 * _X)]], rtol=1e-12)


# --- 3. a Tensor subclass ---------------------------------------------------------------------------
class _Scaled(ag.Tensor):
    def __mul__(self, other):
        return ag.Tensor.__mul__(self, other) * 10.0


def test_tensor_subclass_argument_does_not_replay_a_plain_tensors_trace():
    def cost(x, y):
        return ag.sum(x * y)

    step = ag.compile(cost)
    y = ag.Tensor(np.ones(3), requires_grad=True)
    _quiet(step, ag.Tensor(np.arange(3.0)), y)
    out, caught = _warnings_of(step, _Scaled(np.arange(3.0)), y)
    assert float(out.data) == 30.0
    assert any("Tensor subclass" in m and "_Scaled" in m for m in caught)
    assert float(_quiet(step, ag.Tensor(np.arange(3.0)), y).data) == 3.0   # and the other way round


def test_tensor_subclass_held_in_a_closure_or_a_dict_runs_eagerly():
    W = _Scaled(np.ones(3))
    x = ag.Tensor(np.arange(3.0))
    closure = ag.compile(lambda x: ag.sum(W * x))
    in_dict = ag.compile(lambda p, x: ag.sum(p["w"] * x))
    for _ in range(2):
        assert float(_quiet(closure, x).data) == 30.0
        assert float(_quiet(in_dict, {"w": _Scaled(np.arange(3.0))}, x).data) == 50.0   # 10 * (0+1+4)
    assert closure.replays == 0 and in_dict.replays == 0


# --- 4. class attributes read as self.__class__.k or super().k ---------------------------------------
class _Base:
    k = 1.0


class _Model(_Base):
    k = 100.0

    def cost_class(self, x):
        return ag.sum(x) * self.__class__.k

    def cost_super(self, x):
        return ag.sum(x) * super().k

    def cost_helper(self, x):
        return ag.sum(x) * self.helper()

    def helper(self):
        return self.__class__.k


@pytest.mark.parametrize("method, owner", [("cost_class", _Model), ("cost_super", _Base),
                                           ("cost_helper", _Model)])
def test_class_attribute_through_dunder_class_or_super_keys_the_trace(method, owner):
    old = owner.k
    try:
        m = _Model()
        step = ag.compile(getattr(m, method))
        x = ag.Tensor(np.array([1.0, 2.0, 3.0]))
        _quiet(step, x)
        owner.k = 7.0
        assert float(_quiet(step, x).data) == 42.0
        assert float(_quiet(step, x).data) == 42.0
        assert step.replays == 1
    finally:
        owner.k = old


# --- 5. x.detach() of an argument shares x's memory and version counter ------------------------------
def test_detach_of_an_argument_shares_memory_on_replays():
    step = ag.compile(lambda x: x.detach())
    for _ in range(3):
        x = ag.Tensor(np.arange(4.0), requires_grad=True)
        y = _quiet(step, x)
        assert np.shares_memory(x.data, y.data)        # Tensor.detach: "a new leaf sharing the data"
        with ag.no_grad():
            y += 10.0
        np.testing.assert_array_equal(x.data, [10.0, 11.0, 12.0, 13.0])
        assert x._version == 1
    assert step.replays == 2


def test_detach_of_a_captured_tensor_shares_its_memory_on_replays():
    W = ag.Tensor(np.zeros(2), requires_grad=True)
    step = ag.compile(lambda x: W.detach() if x.shape else x)
    for i in range(3):
        y = _quiet(step, ag.Tensor(np.ones(2)))
        with ag.no_grad():
            y += 1.0
        np.testing.assert_array_equal(W.data, [i + 1.0, i + 1.0])
        assert W._version == i + 1


# --- 6. the causes the warnings give -----------------------------------------------------------------
@pytest.mark.parametrize("passed", [True, False])
def test_global_random_state_as_dropout_rng_replays_exactly(passed):
    keep = 0.5
    if passed:
        step = ag.compile(lambda x, rng: ag.sum(ag.dropout(x, keep, rng=rng)))
    else:  # (named inside the function, not passed)
        step = ag.compile(lambda x, rng: ag.sum(ag.dropout(x, keep, rng=np.random.mtrand._rand)))
    np.random.seed(3)
    reference = np.random.RandomState(3)               # the same stream, drawn by hand
    for i in range(4):
        x = ag.Tensor(np.full((2, 3), i + 1.0), requires_grad=True)
        J, caught = _warnings_of(step, x, np.random.mtrand._rand)
        assert not caught
        J.backward()
        mask = reference.random_sample((2, 3)) < keep
        assert J.item() == np.sum(np.where(mask, (i + 1.0) / keep, 0.0))
        np.testing.assert_array_equal(x.grad, np.where(mask, 1.0 / keep, 0.0))
        assert np.random.rand() == reference.random_sample()   # the global stream is where eager's is
    assert step.replays == 3


def test_global_random_state_as_dropout_rng_beside_np_random_rand_warns_of_the_draw():
    step = ag.compile(lambda x, rng: ag.sum(ag.dropout(x, 0.5, rng=rng)) * np.random.rand())
    _, caught = _warnings_of(step, ag.Tensor(np.ones((2, 3))), np.random.mtrand._rand)
    assert any("draws random numbers with NumPy" in m for m in caught)


def test_sigmoid_output_without_its_logits_warning_names_the_logits():
    W = ag.Tensor(np.array([[0.5]]), requires_grad=True)
    A = ag.sigmoid(W * np.array([[1.0, -2.0]]))
    y = np.array([[1.0, 0.0]])
    out, caught = _warnings_of(ag.compile(lambda A, Y: ag.binary_cross_entropy(A, Y)), A, y)
    a = 1.0 / (1.0 + np.exp(-np.array([0.5, -1.0])))
    assert out.item() == pytest.approx(-(np.log(a[0]) + np.log(1.0 - a[1])) / 2.0, rel=1e-12)
    assert len(caught) == 1
    assert "binary_cross_entropy" in caught[0] and "logits" in caught[0] and "sigmoid's output" in caught[0]
    assert "Pass the tensor as an argument" not in caught[0]


# --- adv85 finding 4: an attribute no compiled code can read (optimizer state on a parameter) keys nothing --


def _momentum_loop(cost, steps):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 12))
    Y = (rng.random((1, 12)) < 0.5) * 1.0
    params = {"W": ag.Tensor(rng.standard_normal((1, 5)), requires_grad=True, name="W"),
              "b": ag.Tensor(np.zeros((1, 1)), requires_grad=True, name="b")}
    for p in params.values():
        p.velocity_r18 = np.zeros(p.shape)          # optimizer state the cost never reads
    costs = []
    for _ in range(steps):
        for p in params.values():
            p.grad = None
        J = cost(params, X, Y)
        J.backward()
        costs.append(float(J.data))
        for p in params.values():
            p.velocity_r18 = 0.9 * p.velocity_r18 + 0.1 * p.grad
            with ag.no_grad():
                p -= 0.5 * p.velocity_r18
    return costs, {k: p.data.copy() for k, p in params.items()}


def _logistic_cost(params, X, Y):
    return ag.binary_cross_entropy(ag.sigmoid(params["W"] @ X + params["b"]), Y)


def test_optimizer_state_kept_on_the_parameters_does_not_retrace():
    step = ag.compile(_logistic_cost)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # no "runs eagerly" warning either
        costs, params = _momentum_loop(step, 12)
    assert (step.recordings, step.replays) == (1, 11)
    eager_costs, eager_params = _momentum_loop(_logistic_cost, 12)   # the uncompiled function
    np.testing.assert_allclose(costs, eager_costs, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(params[k], eager_params[k], rtol=1e-12)


def test_an_attribute_a_helper_reads_still_keys_the_trace():
    def penalty(p):
        return p.decay_r18 * ag.sum(p * p)

    def cost(params, x):
        return ag.sum(params["W"] * x) + penalty(params["W"])

    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    W.decay_r18 = 1.0
    x = np.array([3.0, 4.0])
    step = ag.compile(cost)
    assert float(_quiet(step, {"W": W}, x).data) == 16.0     # 11 + 1 * 5
    W.decay_r18 = 2.0
    assert float(_quiet(step, {"W": W}, x).data) == 21.0     # 11 + 2 * 5
    W.unread_r18 = "anything"                                # named by no code: replays
    replays = step.replays
    assert float(_quiet(step, {"W": W}, x).data) == 21.0
    assert step.replays == replays + 1


def test_code_reading_a_tensors_dict_is_keyed_by_all_its_attributes():
    def cost(x):
        return ag.sum(x) * len(vars(x))

    x = ag.Tensor(np.ones(2), requires_grad=True)
    step = ag.compile(cost)
    first = float(_quiet(step, x).data)
    x.other_r18 = 1
    assert float(_quiet(step, x).data) == float(cost(x).data) == first + 2.0
