"""Review round 12, failure in the middle and fork: an optimizer step that fails part-way, and a
child process forked while another thread holds one of ``modes``' locks.

Expected values are hand formulas (NumPy, in the order of the documented update rules) or
PyTorch's; interleavings are forced with ``threading.Event`` and ``sys.settrace``, never sleeps.
A forked child reports through a pipe; ``signal.alarm`` only guards it, so that a regression
(a child waiting forever on a lock) fails the test instead of hanging the suite.
"""
import gc
import json
import os
import signal
import sys
import threading
import traceback
import warnings

import numpy as np
import pytest

import autograd_lite as ag
from lock_state import held_by_another_thread
from autograd_lite import modes, tape
from autograd_lite.errors import InplaceModificationError

OPTIMIZERS = [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam]
TIMEOUT = 20.0
B1, B2, EPS, BETA = 0.9, 0.999, 1e-8, 0.9


def _by_hand(cls, p, g, lr, memory):
    """One update of ``p`` by the documented rule of ``cls``, written out in NumPy in the order of
    the formulas; ``memory`` holds the running moments and t (updated)."""
    if cls is ag.optim.GradientDescent:
        return p - lr * g
    if cls is ag.optim.Momentum:
        memory["v"] = memory.get("v", 0.0) * BETA + (1 - BETA) * g
        return p - lr * memory["v"]
    t = memory["t"] = memory.get("t", 0) + 1
    memory["v"] = memory.get("v", 0.0) * B1 + g * (1 - B1)
    memory["s"] = memory.get("s", 0.0) * B2 + g * g * (1 - B2)
    return p - (memory["v"] / (1 - B1 ** t)) * lr / (np.sqrt(memory["s"] / (1 - B2 ** t)) + EPS)


def _snapshot(opt):
    """Every array and count the optimizer holds for its parameters, copied."""
    return [{key: np.array(value, copy=True) if isinstance(value, np.ndarray) else value
             for key, value in state.items() if key in ("v", "s", "t", "shape")} for state in opt.state]


def _assert_same_state(before, opt):
    after = _snapshot(opt)
    assert [sorted(s) for s in after] == [sorted(s) for s in before]
    for old, new in zip(before, after):
        for key in old:
            assert np.array_equal(old[key], new[key]), key


# --- 1. phase 1 (computing every update) fails: nothing changes -------------------------------------
@pytest.mark.parametrize("cls", OPTIMIZERS)
@pytest.mark.parametrize("steps_before", [0, 2])
def test_an_update_overflowing_before_any_change_leaves_everything_as_it_was(cls, steps_before):
    p1, p2 = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True), ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    opt = cls([p1, p2], lr=100.0)
    for _ in range(steps_before):
        p1.grad, p2.grad = np.array([0.5, -0.5]), np.array([0.25, 1.0])
        opt.step()
    data, versions, before = (p1.data.copy(), p2.data.copy()), (p1._version, p2._version), _snapshot(opt)
    loss = (p1 ** 3).sum()
    # 100 * 1e308 (GradientDescent), 100 * (0.1 * 1e308) (Momentum), 1e308**2 (Adam): all overflow.
    p1.grad, p2.grad = np.array([1.0, 1.0]), np.array([1e308, 1.0])
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        opt.step()
    assert np.array_equal(p1.data, data[0]) and np.array_equal(p2.data, data[1])
    assert (p1._version, p2._version) == versions and opt.t == steps_before
    _assert_same_state(before, opt)
    p1.grad = None
    loss.backward()  # nothing changed, so the graph recorded before the failed step is still right
    np.testing.assert_array_equal(p1.grad, 3 * data[0] ** 2)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_after_a_failed_first_phase_the_next_step_is_the_one_the_rule_gives(cls):
    p = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt, memory, expected = cls([p], lr=100.0), {}, np.array([1.0, 2.0])
    grads = [np.array([0.3, -0.7]), np.array([1e308, 0.0]), np.array([-0.2, 0.4]), np.array([0.1, 0.1])]
    for g in grads:
        p.grad = g.copy()
        if g[0] == 1e308:
            with pytest.raises(FloatingPointError), np.errstate(over="raise"):
                opt.step()
            continue  # as if this step never happened
        opt.step()
        expected = _by_hand(cls, expected, g, 100.0, memory)
        # The same operations as the documented formula, in its order: equal to the last bit.
        np.testing.assert_array_equal(p.data, expected)
    assert opt.t == 3 and opt.state[0].get("t", 3) == 3


def _step_interrupted_at_the_second_update(opt):
    """``opt.step()`` with a KeyboardInterrupt landing as it starts computing the second
    parameter's update (the first one's is computed, into its spare and scratch arrays)."""
    calls = []

    def interrupt_second_delta(frame, event, arg):
        if event == "call" and frame.f_code is type(opt)._delta.__code__:
            calls.append(frame)
            if len(calls) == 2:
                raise KeyboardInterrupt

    sys.settrace(interrupt_second_delta)
    try:
        with pytest.raises(KeyboardInterrupt):
            opt.step()
    finally:
        sys.settrace(None)
    assert len(calls) == 2


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_an_interrupt_while_the_second_update_is_computed_changes_nothing(cls):
    p1, p2 = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True), ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    opt = cls([p1, p2], lr=0.1)
    p1.grad, p2.grad = np.array([0.5, -0.5]), np.array([0.25, 1.0])
    opt.step()
    data, before = (p1.data.copy(), p2.data.copy()), _snapshot(opt)
    p1.grad, p2.grad = np.array([1.0, 1.0]), np.array([2.0, 2.0])
    _step_interrupted_at_the_second_update(opt)
    assert np.array_equal(p1.data, data[0]) and np.array_equal(p2.data, data[1])
    assert (p1._version, p2._version, opt.t) == (1, 1, 1)
    _assert_same_state(before, opt)


def test_a_read_only_parameter_overflowing_fails_before_any_change():
    writable = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    frozen = np.array([1.75e308, 0.0])
    frozen.flags.writeable = False  # e.g. memory-mapped read-only: the step makes a new array
    read_only = ag.Tensor(np.zeros(2), requires_grad=True)
    read_only.data = frozen
    opt = ag.optim.GradientDescent([writable, read_only], lr=1.0)
    writable.grad, read_only.grad = np.array([1.0, 1.0]), np.array([-1e308, 0.0])  # 1.75e308 + 1e308 overflows
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        opt.step()
    assert np.array_equal(writable.data, [1.0, 2.0]) and writable._version == 0 and opt.t == 0
    assert read_only.data is frozen and read_only._version == 1  # (the assignment above)
    read_only.grad = np.array([-1.0, 2.0])
    opt.step()  # and it still works: a new array, version bumped once
    np.testing.assert_array_equal(read_only.data, [1.75e308 + 1.0, -2.0])
    np.testing.assert_array_equal(writable.data, [0.0, 1.0])
    assert read_only.data is not frozen and read_only._version == 2 and writable._version == 1


# --- 2. phase 2 (committing) fails: the stale graph is still refused ---------------------------------
@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_a_graph_recorded_before_a_step_failing_while_it_commits_is_refused(cls):
    p1 = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    p2 = ag.Tensor(np.array([1.75e308, 1.0]), requires_grad=True)
    loss1, loss2 = (p1 ** 3).sum(), ag.sin(p2).sum()
    opt = cls([p1, p2], lr=1e308)
    # Every update is finite (GradientDescent 1e308, Momentum 1e307, Adam about lr = 1e308), but
    # 1.75e308 + p2's update overflows: NumPy writes p2 (inf) and then raises.
    p1.grad, p2.grad = np.array([1e-300, 1e-300]), np.array([-1.0, 0.0])
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        opt.step()
    np.testing.assert_array_equal(p1.data, _by_hand(cls, np.array([1.0, 2.0]), np.array([1e-300, 1e-300]), 1e308, {}))
    assert p2.data[0] == np.inf and (p1._version, p2._version, opt.t) == (1, 1, 1)
    if cls is ag.optim.Adam:
        assert [state["t"] for state in opt.state] == [1, 1]  # the failing parameter was committed too
    for loss in (loss1, loss2):
        with pytest.raises(InplaceModificationError):
            loss.backward()


class _InterruptedWrite(np.ndarray):
    """A parameter's array whose in-place subtraction is interrupted before it writes anything
    (a KeyboardInterrupt landing at that point of the commit)."""

    def __isub__(self, other):
        raise KeyboardInterrupt


def test_an_interrupt_while_the_step_commits_leaves_no_stale_graph_usable():
    p1, p2 = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True), ag.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    loss1, loss2 = (p1 ** 3).sum(), (p2 ** 3).sum()
    p2._array = p2._array.view(_InterruptedWrite)
    opt = ag.optim.Momentum([p1, p2], lr=0.5)
    p1.grad, p2.grad = np.array([1.0, -1.0]), np.array([1.0, 1.0])
    with pytest.raises(KeyboardInterrupt):
        opt.step()
    np.testing.assert_array_equal(p1.data, [1.0 - 0.5 * 0.1, 2.0 + 0.5 * 0.1])  # committed: p - lr (1 - beta) g
    np.testing.assert_array_equal(np.asarray(p2.data), [3.0, 4.0])
    assert (p1._version, p2._version) == (1, 1)  # every parameter the commit reached
    for loss in (loss1, loss2):
        with pytest.raises(InplaceModificationError):
            loss.backward()


# --- 3. the same values as PyTorch, step by step, a failed step in between changing nothing --------
@pytest.mark.parametrize("name", ["GradientDescent", "Adam"])
def test_steps_match_torch_with_a_failed_step_in_between(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    w0, b0, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((5, 4))
    W, b = ag.Tensor(w0.copy(), requires_grad=True), ag.Tensor(b0.copy(), requires_grad=True)
    Wt, bt = (torch.tensor(a.copy(), requires_grad=True) for a in (w0, b0))
    opt = getattr(ag.optim, name)([W, b], lr=0.05)
    opt_t = (torch.optim.SGD if name == "GradientDescent" else torch.optim.Adam)([Wt, bt], lr=0.05)
    for k in range(6):
        opt.zero_grad()
        opt_t.zero_grad()
        ag.sum(ag.tanh(ag.Tensor(x) @ W.T + b) ** 2).backward()
        (torch.tanh(torch.tensor(x) @ Wt.T + bt) ** 2).sum().backward()
        if k == 3:  # a step interrupted before any change: torch never saw it
            _step_interrupted_at_the_second_update(opt)
        opt.step()
        opt_t.step()
        np.testing.assert_allclose(W.data, Wt.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b.data, bt.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- 4. fork while another thread holds a lock of modes -----------------------------------------
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(body):
    """Fork; the child runs ``body()`` (a dict of what it saw) and sends it back through a pipe.
    Returns that dict, or fails naming what the child did (an error, or killed by the alarm)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12: fork with threads running
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(TIMEOUT))  # a child blocked on a lock is killed, not waited for forever
            try:
                report = body()
            except BaseException:  # noqa: BLE001 (any failure goes to the parent; the child never returns)
                report = {"error": traceback.format_exc()}
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert not os.WIFSIGNALED(status), f"the child was killed by signal {os.WTERMSIG(status)}: it hung"
    report = json.loads(text)
    assert "error" not in report, report.get("error")
    return report


def _backward_in_place_change_and_modes():
    """What a child of a forked training process does: backward, an in-place change caught at
    backward, a view, and the grad modes."""
    V = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (V * 3.0).sum().backward()
    stale = (V * V).sum()
    V.data = np.array([5.0, 6.0])  # mark_modified: takes the clock lock
    try:
        stale.backward()
        refused = False
    except InplaceModificationError:
        refused = True
    view = V.reshape(2, 1)  # share_version: takes the clock lock
    with ag.no_grad():  # a mode object: takes the lock of its saved entries
        inside = ag.is_grad_enabled()
    return {"grad": V.grad.tolist(), "refused": refused, "view_shares": view._vc is V._vc,
            "modes": [inside, ag.is_grad_enabled()]}


EXPECTED_CHILD = {"grad": [3.0, 3.0], "refused": True, "view_shares": True, "modes": [False, True]}


@needs_fork
def test_a_child_forked_while_another_thread_writes_grads_can_backward():
    inside, release = threading.Event(), threading.Event()
    check_grads = tape.check_grads.__code__  # called by _write_grads while it holds grad_lock
    done = {}

    def stop_inside_the_write(frame, event, arg):
        if event == "call" and frame.f_code is check_grads:
            inside.set()
            release.wait(TIMEOUT)

    def worker():
        sys.settrace(stop_inside_the_write)
        try:
            W = ag.Tensor(np.ones(2), requires_grad=True)
            (W * 2.0).sum().backward()
            done["grad"] = W.grad.tolist()
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        assert inside.wait(TIMEOUT)
        assert held_by_another_thread(modes.grad_lock)  # the interleaving the test is about
        report = _in_child(_backward_in_place_change_and_modes)
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert report == EXPECTED_CHILD
    assert done == {"grad": [2.0, 2.0]}  # the parent's thread finished its own backward


def _fork_while_held(lock, body):
    """``_in_child(body)`` while another thread holds ``lock`` (released once the child reported)."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with lock:
            held.set()
            release.wait(TIMEOUT)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    try:
        assert held.wait(TIMEOUT)
        return _in_child(body)
    finally:
        release.set()
        thread.join(TIMEOUT)


@needs_fork
@pytest.mark.parametrize("lock_name", ["grad_lock", "_clock_lock", "_saved_lock"])
def test_a_child_forked_while_another_thread_holds_a_lock_of_modes_works(lock_name):
    lock = getattr(modes, lock_name)
    assert _fork_while_held(lock, _backward_in_place_change_and_modes) == EXPECTED_CHILD
    assert not held_by_another_thread(lock)  # the parent's lock is the parent's: released by its holder


@needs_fork
def test_a_child_forked_while_another_thread_holds_a_compiled_functions_lock_can_call_it():
    step = ag.compile(lambda x: (x * 3.0).sum())
    assert step(np.ones(2)).item() == 6.0  # traced: a call with another shape traces, taking the lock
    report = _fork_while_held(step._lock, lambda: {"values": [step(np.ones(3)).item(), step(np.ones(2)).item()],
                                                   "recordings": step.recordings})
    assert report == {"values": [9.0, 6.0], "recordings": 2}


@needs_fork
def test_the_child_keeps_the_forking_threads_modes_and_not_the_other_threads():
    entered, release = threading.Event(), threading.Event()

    def other_thread():
        with ag.scope("worker"):
            entered.set()
            release.wait(TIMEOUT)

    def states_in_scope(name):
        return [o for o in gc.get_objects() if type(o) is modes.ThreadState and o.scope == (name,)]

    def child():
        gc.collect()
        seen = {}

        def fresh_thread():  # a thread started in the child begins with the defaults
            state = modes.current()
            seen["new"] = [state.grad_enabled, list(state.scope)]

        started = threading.Thread(target=fresh_thread)
        started.start()
        started.join()
        state = modes.current()
        return {"forking": [state.grad_enabled, list(state.scope)], "new": seen["new"],
                "other_thread_states": len(states_in_scope("worker"))}

    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    try:
        assert entered.wait(TIMEOUT)
        assert len(states_in_scope("worker")) == 1  # (so the child's count of 0 means something)
        with ag.no_grad(), ag.scope("main"):
            report = _in_child(child)
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert report == {"forking": [False, ["main"]], "new": [True, []], "other_thread_states": 0}


# --- 5. a finalizer run by the garbage collector inside a lock, calling back in -------------------
class _Finalized:
    """In a reference cycle, so only the collector frees it; its ``__del__`` runs ``call``."""

    def __init__(self, call):
        self.me, self.call = self, call

    def __del__(self):
        self.call()


def _collect_inside(code, lock, run):
    """Run ``run()`` in a thread with garbage pending, forcing a collection at the first line of
    ``code`` that runs while that thread holds ``lock`` (as an allocation there may trigger one).
    Returns whether it finished (a thread waiting on a lock it holds itself never does)."""
    fired, done = [], threading.Event()

    def tracer(frame, event, arg):
        if frame.f_code is not code:
            return None

        def local(frame, event, arg):
            if event == "line" and lock._is_owned() and not fired:
                fired.append(True)
                gc.collect()
            return local
        return local

    def body():
        gc.disable()
        _Finalized(run.finalizer)  # garbage now, freed by the collection forced above
        gc.enable()
        sys.settrace(tracer)
        try:
            run()
        finally:
            sys.settrace(None)
            done.set()

    threading.Thread(target=body, daemon=True).start()
    finished = done.wait(TIMEOUT)
    assert fired, "the collection was not forced inside the lock"
    return finished


def test_a_finalizer_calling_zero_grad_inside_backwards_grad_writes_does_not_hang():
    w, other = ag.Tensor(np.ones(3), requires_grad=True), ag.Tensor(np.ones(2), requires_grad=True)
    other.grad = np.ones(2)
    opt = ag.optim.GradientDescent([other], lr=0.1)
    run = lambda: ag.sum(w * 2.0).backward()  # noqa: E731
    run.finalizer = opt.zero_grad
    assert _collect_inside(tape._write_grads.__code__, modes.grad_lock, run)
    np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])
    assert other.grad is None


def test_a_finalizer_calling_a_compiled_function_while_it_records_does_not_hang():
    from autograd_lite import replay
    step, logged = ag.compile(lambda t: ag.sum(t * 2.0)), []
    assert step(np.ones(3)).item() == 6.0
    run = lambda: logged.append(step(np.ones(4)).item())  # noqa: E731 (a new shape: _record)
    run.finalizer = lambda: logged.append(step(np.ones(5)).item())
    assert _collect_inside(replay.CompiledFunction._record.__code__, step._lock, run)
    assert sorted(logged) == [8.0, 10.0]
