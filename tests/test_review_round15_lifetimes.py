"""Review round 15 (adv65): what a compiled function keeps alive after an error, or once it runs eagerly.
References are independent: the uncompiled function (tracemalloc, exception context), weakref + gc."""
import gc
import tracemalloc
import warnings
import weakref

import numpy as np

import autograd_lite as ag


def _error_of(f, *args):
    try:
        f(*args)
    except ValueError as e:
        return e
    raise AssertionError("expected a ValueError")


def _pinned_mb(f, *args):
    """MB still allocated while the ValueError raised by f(*args) is held."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        err = _error_of(f, *args)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del err
    return (after - before) / 2 ** 20


def _chain(X):
    h = X
    for _ in range(10):
        h = ag.tanh(h * 1.01)
    if h.shape[1] > 5:
        raise ValueError("refused by the user's own check")
    return h.sum()


# finding 1
def test_an_error_while_tracing_pins_no_more_than_the_uncompiled_call():
    X = np.random.default_rng(0).random((1, 200_000))  # 1.5 MB per intermediate
    eager = _pinned_mb(_chain, X)
    compiled = _pinned_mb(ag.compile(_chain), X)
    assert compiled <= eager + 2 * X.nbytes / 2 ** 20, (eager, compiled)


def _guarded(X):
    h = ag.exp(X * 2.0)
    if float(h.sum()) > 3.0 * X.size:
        raise ValueError("too large")
    return ag.tanh(h).sum()


def _refused(X, y):
    z = ag.mean(ag.exp(ag.tanh(X * 2.0)), axis=1, keepdims=True).T
    return ag.binary_cross_entropy_with_logits(z, y)


# finding 2
def test_an_error_after_a_changed_guard_has_the_context_the_uncompiled_call_gives():
    X0, X1 = np.zeros((1, 1000)), np.ones((1, 1000))
    step = ag.compile(_guarded)
    step(X0)
    assert _error_of(_guarded, X1).__context__ is None  # the oracle
    assert _error_of(step, X1).__context__ is None


def test_an_error_after_a_refused_replay_has_the_context_the_uncompiled_call_gives():
    X = np.ones((1, 1000))
    step = ag.compile(_refused)
    step(X, np.array([[1.0]]))
    bad = np.array([[2.0]])
    assert _error_of(_refused, X, bad).__context__ is None  # the oracle
    assert _error_of(step, X, bad).__context__ is None


def test_a_refused_replay_pins_no_more_than_the_uncompiled_call():
    X = np.ones((1, 200_000))
    step = ag.compile(_refused)
    step(X, np.array([[1.0]]))
    bad = np.array([[2.0]])
    assert _pinned_mb(step, X, bad) <= _pinned_mb(_refused, X, bad) + X.nbytes / 2 ** 20


# finding 3
def test_an_eager_only_compiled_function_frees_the_objects_its_traces_held():
    class Model:
        def __init__(self):
            self.W = ag.Tensor(np.ones((10, 3)), requires_grad=True)

        @ag.compile
        def cost(self, X):
            return (X @ self.W).sum()

    refs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(20):
            m = Model()
            m.cost(np.ones((2, 10))).backward()
            refs.append(weakref.ref(m))
            del m
    assert Model.cost._eager_only
    gc.collect()
    assert [r() is None for r in refs] == [True] * 20
