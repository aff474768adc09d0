"""Round 10 review of the core and of ag.compile: each test failed before its fix.

Compiled results are compared with the same function run eagerly (``step.fn``) or with a
hand formula; the Tensor behaviours with PyTorch's.
"""
import copy
import gc
import pickle
import types
import warnings

import numpy as np
import pytest

import autograd_lite as ag

_EAGER = pytest.warns(RuntimeWarning, match="eagerly")


# --- ag.compile -----------------------------------------------------------------------------
def test_keyword_arguments_reach_the_function_in_the_order_given():
    A, B = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])

    def f(x, **kw):
        first, second = list(kw.values())
        return ag.sum(first * 2.0 + second) * x

    step = ag.compile(f)
    for _ in range(2):
        assert step(1.0, z=A, y=B).item() == 2 * 6 + 60  # hand formula: 2 * sum(A) + sum(B)
        assert step(1.0, y=B, z=A).item() == 2 * 60 + 6


def test_backward_inside_the_function_runs_it_eagerly_on_every_call():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    X = np.array([0.5, 1.0, 2.0])

    def train_step(X):
        cost = ag.sum(W * X)
        cost.backward()
        return cost

    step = ag.compile(train_step)
    with _EAGER:
        for _ in range(3):
            W.grad = None
            step(X)
            np.testing.assert_array_equal(W.grad, X)  # d/dW sum(W * X) = X


def test_zero_grad_inside_the_function_happens_on_every_call():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    X = np.array([0.5, 1.0, 2.0])

    def cost(X):
        W.zero_grad()  # W.grad is already None when traced: only the write itself tells
        return ag.sum(W * X)

    step = ag.compile(cost)
    W.grad = None
    with _EAGER:
        for _ in range(3):
            step(X).backward()
    np.testing.assert_array_equal(W.grad, X)


def test_an_optimizer_step_inside_the_function_runs_it_eagerly():
    W = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = ag.optim.GradientDescent([W], lr=0.5)

    def train_step(X):
        opt.zero_grad()
        cost = ag.sum(W * X)
        cost.backward()
        opt.step()
        return cost

    step, X = ag.compile(train_step), np.array([1.0, 2.0])
    with _EAGER:
        for _ in range(3):
            step(X)
    np.testing.assert_array_equal(W.data, [1.0 - 3 * 0.5, -2.0 - 3 * 1.0])  # three steps of W -= 0.5 X


def test_a_tensor_the_function_stores_on_its_object_is_fresh_after_every_call():
    rng = np.random.default_rng(0)

    class Net:
        def __init__(self):
            self.W = ag.Tensor(rng.normal(size=(2, 3)), requires_grad=True)

        def cost(self, X):
            self.A = ag.tanh(self.W @ X)
            return ag.sum(self.A)

    net = Net()
    step = ag.compile(net.cost)
    with _EAGER:
        for _ in range(3):
            X = rng.normal(size=(3, 4))
            step(X)
            np.testing.assert_array_equal(net.A.data, np.tanh(net.W.data @ X))


_LAST = []


def test_a_tensor_the_function_keeps_in_a_global_list_is_the_latest_calls():
    def cost(x):
        y = x * 2.0
        _LAST.append(y)
        return y.sum()

    step = ag.compile(cost)
    with _EAGER:
        for k in range(3):
            step(np.full(2, float(k)))
            np.testing.assert_array_equal(_LAST[-1].data, [2.0 * k, 2.0 * k])
    assert len(_LAST) == 3


def test_a_kept_tensor_is_seen_when_the_objects_holding_it_are_frozen():
    kept = {}  # (gc.freeze hides frozen objects from gc.get_referrers; the check must not rely on it)

    def cost(x):
        kept["y"] = y = x * 3.0
        return y.sum()

    step = ag.compile(cost)
    gc.collect()
    gc.freeze()
    try:
        with _EAGER:
            for k in range(2):
                step(np.full(2, float(k)))
                np.testing.assert_array_equal(kept["y"].data, [3.0 * k, 3.0 * k])
    finally:
        gc.unfreeze()


def test_a_function_that_keeps_nothing_is_still_replayed():
    step = ag.compile(lambda x, w: ag.relu(x @ w).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(3):
            x = np.full((2, 3), k - 1.0)
            assert step(x, np.ones((3, 1))).item() == 6.0 * max(k - 1.0, 0.0)  # two rows of relu(3 (k - 1))
    assert step.recordings == 1 and step.replays == 2


def test_returning_an_argument_returns_that_tensor_on_every_call():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    step = ag.compile(lambda x: x)
    for _ in range(3):
        assert step(W) is W


def test_an_optimizers_settings_read_inside_key_the_trace():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    opt = ag.optim.Adam([W], lr=0.1)
    X = np.array([0.5, 1.0, 2.0])

    def cost(X):
        return ag.sum(W * X) * opt.lr / (1.0 + opt.t)

    step = ag.compile(cost)
    assert step(X).item() == pytest.approx(4.5 * 0.1)  # sum(W * X) = 4.5
    opt.lr = 0.5
    assert step(X).item() == pytest.approx(4.5 * 0.5)
    W.grad = np.zeros(3)
    opt.step()
    assert step(X).item() == pytest.approx(4.5 * 0.5 / 2)


def test_a_model_holding_its_compiled_step_deep_copies_and_pickles():
    model = _Model()
    X = np.arange(3.0)
    assert model.step(X).item() == 8.0  # [1, 2, 3] . [0, 1, 2]
    best = copy.deepcopy(model)
    best.W.data = np.ones(3)
    assert best.step(X).item() == 3.0 and model.step(X).item() == 8.0
    again = pickle.loads(pickle.dumps(model))
    assert again.step(X).item() == 8.0 and again.step.fn.__self__ is again


class _Model:
    def __init__(self):
        self.W = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        self.step = ag.compile(self.cost)

    def cost(self, X):
        return ag.sum(self.W * X)


def test_a_deep_copy_of_an_argument_inside_is_recomputed_on_every_call():
    W = ag.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    step = ag.compile(lambda X: ag.sum(W * copy.deepcopy(X)))
    for X in (np.array([0.1, 0.2, 0.3]), np.array([0.5, -0.4, 0.9])):
        W.grad = None
        assert step(X).item() == pytest.approx(float(W.data @ X))
        step(X).backward()
        np.testing.assert_array_equal(W.grad, X)


# --- Tensor -------------------------------------------------------------------------------
def test_deepcopy_of_a_leaf_copies_data_grad_and_flags_as_torch():
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    w.grad = np.array([0.5, 0.5])
    for twin in (copy.deepcopy(w), copy.copy(w)):
        assert twin is not w and twin.requires_grad and twin.name == "w" and twin.is_leaf
        np.testing.assert_array_equal(twin.data, w.data)
        np.testing.assert_array_equal(twin.grad, w.grad)
        twin.data[0], twin.grad[0] = 9.0, 9.0
        assert w.data[0] == 1.0 and w.grad[0] == 0.5


def test_deepcopy_of_an_op_output_is_refused_as_torch():
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(ag.GraphError, match="op's output"):
        copy.deepcopy(ag.tanh(w))
    with pytest.raises(ag.GraphError, match="op's output"):
        copy.copy(ag.tanh(w))


def test_a_preset_grad_of_another_dtype_is_refused_naming_both():
    x = ag.Tensor(np.ones(3, np.float32), requires_grad=True)
    x.grad = np.zeros(3)  # float64: PyTorch refuses a .grad of another dtype
    with pytest.raises(ag.ShapeError, match="float64.*expected \\(3,\\) float32"):
        (x * x).sum().backward()
    assert x.grad.dtype == np.float64  # a refused backward writes nothing
    z = ag.Tensor(np.ones(3), requires_grad=True)
    z.grad = np.zeros(3, complex)
    with pytest.raises(ag.ShapeError, match="complex128"):
        (z * z).sum().backward()


def test_a_name_that_is_not_a_string_is_refused():
    with pytest.raises(TypeError, match="name must be a str.*int 5"):
        ag.Tensor([1.0, 2.0], name=5)


def test_retain_grad_on_a_tensor_without_grad_is_refused_as_torch():
    with pytest.raises(ag.GraphError, match="retain_grad"):
        ag.Tensor([1.0, 2.0]).retain_grad()
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    with ag.no_grad():
        made = w * 2
    with pytest.raises(ag.GraphError, match="retain_grad"):
        made.retain_grad()


# --- names read by value: a module or class used whole, globals() ----------------------------
class _Settings:
    scale = 1.0


_SETTINGS_MODULE = types.ModuleType("round10_settings")
_SETTINGS_MODULE.scale = 1.0
_GLOBAL_SCALE = 1.0


@pytest.mark.parametrize("read", [
    lambda: getattr(_SETTINGS_MODULE, "scale"),
    lambda: vars(_SETTINGS_MODULE)["scale"],
    lambda: getattr(_Settings, "scale"),
    lambda: globals()["_GLOBAL_SCALE"],
], ids=["getattr_module", "vars_module", "getattr_class", "globals"])
def test_a_value_read_by_a_computed_name_keys_the_trace(read):
    global _GLOBAL_SCALE
    X = np.arange(3.0)
    step = ag.compile(lambda X: ag.sum(ag.as_tensor(X) * read()))
    try:
        for scale in (1.0, 5.0, 2.0):
            _SETTINGS_MODULE.scale = _Settings.scale = _GLOBAL_SCALE = scale
            assert step(X).item() == 3.0 * scale  # sum([0, 1, 2]) * scale
    finally:
        _SETTINGS_MODULE.scale = _Settings.scale = _GLOBAL_SCALE = 1.0


def test_a_module_or_class_bound_to_a_local_name_keys_the_trace():
    def cost(X):
        settings, kind = _SETTINGS_MODULE, _Settings
        return ag.sum(ag.as_tensor(X) * settings.scale * kind.scale)

    step, X = ag.compile(cost), np.arange(3.0)
    try:
        for scale in (1.0, 5.0):
            _SETTINGS_MODULE.scale = _Settings.scale = scale
            assert step(X).item() == 3.0 * scale * scale
    finally:
        _SETTINGS_MODULE.scale = _Settings.scale = 1.0
