"""Review of the round-16 transform rework (adv79): cross-thread refusal of every Tensor a transform
takes or closes over, the user's graph left usable, an interrupt-safe registry of running transforms,
argnums fixed when the transform is made, hvp naming itself. Expected values from the math (JAX
refuses the cross-thread cases with UnexpectedTracerError and fixes argnums at creation;
torch.func.grad leaves the user's graph usable)."""
import sys
import threading
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import transforms as T
from autograd_lite.modes import current

X = np.array([1.0, 2.0])


def _outer_with_worker(make, worker):
    """ag.grad(f)(X) where f publishes make(x), lets ``worker`` run in thread 'worker-B', waits for it."""
    box = {}
    go, done = threading.Event(), threading.Event()

    def f(x):
        box.update(make(x))
        go.set()
        done.wait()
        if "err" in box:
            raise box["err"]
        return (ag.as_tensor(box["res"]) * x).sum()

    def w():
        go.wait()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warning instead of the refusal fails the test
                box["res"] = worker(box)
        except Exception as e:  # handed to the main thread
            box["err"] = e
        done.set()
    t = threading.Thread(target=w, name="worker-B")
    t.start()
    try:
        return ag.grad(f)(X)
    finally:
        t.join()


# finding 1: every Tensor a transform in another thread takes or closes over is checked ---------------
def test_the_vjp_fn_of_a_running_transform_works_in_its_own_thread():
    # d/dx sum(3 x^2 * x) = 9 x^2 (the control of the next test)
    make = lambda x: ag.vjp(lambda y: y ** 3, x)[1]
    np.testing.assert_allclose(ag.grad(lambda x: (make(x)(np.ones(2))[0] * x).sum())(X), 9 * X ** 2)


def test_the_vjp_fn_of_a_running_transform_called_in_another_thread_is_refused():
    make = lambda x: {"fn": ag.vjp(lambda y: y ** 3, x)[1]}  # was [3, 12] silently, not 9 x^2
    with pytest.raises(ag.GraphError, match=r"^vjp: vjp_fn .*another thread \('MainThread'\)"):
        _outer_with_worker(make, lambda b: b["fn"](np.ones(2))[0])


def _jvp_no_grad(b):
    with ag.no_grad():
        return ag.jvp(lambda y: y ** 2, (np.ones(2),), (b["y"],))[1]


@pytest.mark.parametrize("worker, message", [
    (_jvp_no_grad, r"^jvp: the tangent"),
    (lambda b: ag.jvp(lambda y: y ** 2, (np.ones(2),), (b["y"],))[1], r"^jvp: the tangent"),
    (lambda b: ag.hvp(lambda y: (y ** 3).sum())(np.ones(2), b["y"]), r"^hvp: the direction v"),
    (lambda b: ag.vjp(lambda y: y ** 2, np.ones(2))[1](b["y"])[0], r"^vjp: the cotangent"),
    (lambda b: ag.grad(lambda y: ag.jvp(lambda z: z ** 2, (y,), (b["y"],))[1].sum())(np.ones(2)),
     r"^jvp: the tangent"),  # (linked to a transform of worker-B's own)
], ids=["jvp-no_grad", "jvp", "hvp", "vjp-cotangent", "jvp-inside-grad"])
def test_what_goes_with_the_arguments_is_refused_as_an_argument_is(worker, message):
    with pytest.raises(ag.GraphError, match=message + r".*another thread \('MainThread'\)"):
        _outer_with_worker(lambda x: {"y": x * 2.0}, worker)


def test_independent_values_in_another_thread_are_not_refused():
    # d/dx sum(2 v * x) with v = ones: 2 (a tangent that does not depend on the running transform)
    np.testing.assert_allclose(_outer_with_worker(lambda x: {"y": np.ones(2)}, _jvp_no_grad), [2.0, 2.0])


# finding 2: a top-level transform leaves the user's graph usable -------------------------------------
@pytest.mark.parametrize("call", [
    lambda w: ag.grad(lambda x: (x * w).sum())(np.ones(2)),
    lambda w: ag.grad(lambda x, w: (x * w).sum())(np.ones(2), w),
    lambda w: ag.value_and_grad(lambda x: (x * w).sum())(np.ones(2)),
    lambda w: ag.hvp(lambda x: (x * x * w).sum())(np.ones(2), np.ones(2)),
], ids=["grad-closure", "grad-nondiff-arg", "value_and_grad", "hvp"])
def test_a_top_level_transform_leaves_the_users_graph_usable(call):
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.exp(p) * 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call(w)
    w.sum().backward()
    np.testing.assert_allclose(p.grad, 2 * np.exp([1.0, 2.0]))  # d/dp sum(2 exp(p))


def test_the_transform_still_gives_the_gradient_through_the_closure():
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ag.exp(p) * 2.0
    np.testing.assert_allclose(ag.grad(lambda x: (x * x * w).sum())(X), 2 * X * 2 * np.exp([1.0, 2.0]))


# finding 3: an interrupt anywhere in _evaluate leaves no running variables ----------------------------
def _evaluate_lines():
    code = T._evaluate.__code__
    return sorted({line for _, _, line in code.co_lines() if line and line > code.co_firstlineno})


@pytest.mark.parametrize("line", _evaluate_lines())
def test_an_interrupt_at_any_line_of_the_registration_leaves_no_running_variables(line):
    fired = []

    def tracer(frame, event, arg):
        if frame.f_code is not T._evaluate.__code__:
            return None

        def local(frame, event, arg):
            if event == "line" and frame.f_lineno == line and not fired:
                fired.append(1)
                raise KeyboardInterrupt
            return local
        return local
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        ag.grad(lambda x: (x * x).sum())(np.ones(3))
    except KeyboardInterrupt:
        pass  # (the traceback, which holds the frame, goes with this block)
    finally:
        sys.settrace(old)
    stale = dict(T._running)
    T._running.clear()  # (keep the other tests independent)
    current().grad_depth = 0
    assert fired and stale == {}


def test_an_entry_matches_its_own_tensors_only():
    # a Tensor of another thread's running transform is refused; an equal-valued new one is not
    variable = ag.Tensor(np.ones(2), requires_grad=True)
    other = ag.Tensor(np.ones(2), requires_grad=True)
    token = T._Token()  # (the entry stands for one an interrupt left behind)
    key = T.weakref.ref(token)
    T._running[key] = ((variable,), (-1, "A"))
    try:
        with pytest.raises(ag.GraphError, match=r"^grad: argument 0 .*\('A'\)"):
            ag.grad(lambda y: (y * 3.0).sum())(variable * 1.0)
        np.testing.assert_allclose(ag.grad(lambda y: (y * 3.0).sum())(other.detach()), [3.0, 3.0])
    finally:
        T._running.pop(key, None)


# finding 4: argnums read once, when the transform is made ---------------------------------------------
@pytest.mark.parametrize("make", [list, np.array], ids=["list", "ndarray"])
def test_argnums_is_read_when_the_transform_is_made(make):
    nums = make([0])
    g = ag.grad(lambda a, b: (2 * a + 3 * b).sum(), argnums=nums)
    nums[0] = 1
    (ga,) = g(np.ones(2), np.ones(2))
    np.testing.assert_allclose(ga, [2.0, 2.0])  # d/da of 2a + 3b


@pytest.mark.parametrize("bad, error", [("a", TypeError), (1.5, TypeError), (True, TypeError), (None, TypeError),
                                        ([], ValueError), ((0, 0), ValueError)])
@pytest.mark.parametrize("transform", [ag.grad, ag.value_and_grad, ag.jacobian, ag.hessian, ag.hvp])
def test_bad_argnums_are_refused_when_the_transform_is_made(transform, bad, error):
    with pytest.raises(error, match=rf"^{transform.__name__}: argnums"):
        transform(lambda a, b: (a * b).sum(), argnums=bad)


def test_argnums_out_of_range_is_refused_at_the_call():
    g = ag.grad(lambda a, b: (a * b).sum(), argnums=(0, -2))
    with pytest.raises(ValueError, match=r"^grad: argnums \(0, -2\) names the same argument twice"):
        g(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"^grad: argnums 2 is out of range for 2"):
        ag.grad(lambda a, b: (a * b).sum(), argnums=2)(np.ones(2), np.ones(2))


def test_hvp_refuses_two_argnums_when_made():
    with pytest.raises(ValueError, match=r"^hvp: argnums must name one argument"):
        ag.hvp(lambda a, b: (a * b).sum(), argnums=(0, 1))


# finding 5: hvp names itself -------------------------------------------------------------------------
def test_hvp_names_itself_for_an_in_place_change_of_its_argument():
    def f(y):
        with ag.no_grad():
            y *= 3.0
        return (y ** 2).sum()
    with pytest.raises(ag.InplaceModificationError, match=r"^hvp: f changed its argument 0"):
        ag.grad(lambda x: ag.hvp(f)(x, x).sum())(X)


def test_hvp_names_itself_when_warning_about_an_op_output_argument():
    p = ag.Tensor(X, requires_grad=True)
    with pytest.warns(UserWarning, match=r"^hvp: argument 0"):
        hv = ag.hvp(lambda y: (y ** 3).sum())(p * 2.0, np.ones(2))
    np.testing.assert_allclose(hv, 6 * (2 * X))  # d2/dy2 sum(y^3) . 1 = 6 y at y = 2 p
