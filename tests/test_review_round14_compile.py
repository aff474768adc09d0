"""Review round 14 (adv49): ag.compile with your own primitives (their checks on every replay, rules
redefined after tracing), replayed views (version counters), random streams shared with other threads,
other threads' in-place edits during a trace, and what step.replays counts. No sleeps: threads are
interleaved with Events. Oracles: eager execution, hand-derived values, NumPy's generators."""
import copy
import threading
import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided, sliding_window_view

import autograd_lite as ag

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# --- Finding 1: custom VJPs get writable g / inputs in a replay's backward -------------------------

def _pausing_identity(reached, resume):
    """An identity primitive that, once, in the thread named "paused", signals ``reached`` and
    waits for ``resume``: another thread acts at that point of the call. (The thread's name and a
    lock, which key no trace: a threading.local flag would, as a setting the function reads.)"""
    once = threading.Lock()

    @ag.primitive
    def sync(x):
        if threading.current_thread().name == "paused" and once.acquire(blocking=False):
            reached.set()
            assert resume.wait(10)
        return x.copy()
    return sync.defvjp(lambda g, out, x: g)


def _writes_into_g():
    @ag.primitive
    def dbl(x):
        return 2 * x

    def dbl_vjp(g, out, x):
        g *= 2
        return g
    dbl.defvjp(dbl_vjp)
    return dbl


def test_f1_vjp_writing_into_g_is_refused_on_replay_as_eagerly():
    dbl, c = _writes_into_g(), np.array([1.0, 10.0, 100.0])
    f = lambda x: ag.sum((dbl(x * 1.0) + x * 1.0) * c)
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dbl"):  # oracle: eager refuses (documented)
        f(ag.Tensor(x, requires_grad=True)).backward()
    step = ag.compile(f)
    with pytest.raises(ValueError, match="dbl"):  # tracing call (eager engine)
        step(ag.Tensor(x, requires_grad=True)).backward()
    t = ag.Tensor(x, requires_grad=True)
    r = step(t)
    with pytest.raises(ValueError, match="dbl"):  # replay: must be refused too, not a wrong .grad
        r.backward()
    assert t.grad is None or np.array_equal(t.grad, 3 * c)


def test_f1_vjp_writing_into_its_input_never_changes_the_argument():
    @ag.primitive
    def sq(x):
        return x ** 2

    def sq_vjp(g, out, x):
        x *= 0.5
        return 4 * g * x
    sq.defvjp(sq_vjp)
    step = ag.compile(lambda x: ag.sum(sq(x)))
    with pytest.raises(ValueError):
        step(ag.Tensor(np.ones(3), requires_grad=True)).backward()
    t = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    r = step(t)
    with pytest.raises(ValueError, match="sq"):
        r.backward()
    assert np.array_equal(t.data, [1.0, 2.0, 3.0])


# --- Finding 2: a replayed view result does not share its source's version counter ----------------

def _rev():
    @ag.primitive
    def rev(x):
        return x[::-1]
    rev.defvjp(lambda g, out, x: g[::-1])
    return rev


@pytest.mark.parametrize("kind", ["custom", "T", "reshape"])
def test_f2_inplace_edit_through_replayed_view_is_caught(kind):
    rev = _rev()
    fn = {"custom": lambda x: rev(x), "T": lambda x: x.T, "reshape": lambda x: ag.reshape(x, (3,))}[kind]
    step = ag.compile(fn)
    step(ag.Tensor(np.ones(3), requires_grad=True))  # trace
    for call in (fn, step):  # oracle: eager; then the replay
        x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        r = call(x)
        y = ag.sum(x * x)
        if kind == "custom":  # your forward's view of an input comes back read-only: refused at once
            with ag.no_grad(), pytest.raises(ag.GraphError, match="read-only"):
                r += 1.0
            continue
        with ag.no_grad():
            r += 1.0
        with pytest.raises(ag.InplaceModificationError):
            y.backward()
    assert step.replays >= 1


# --- Finding 4: replacing a custom primitive's VJP or forward is not seen by the trace -------------

def test_f4_defvjp_again_is_seen_by_compile():
    @ag.primitive
    def scale(x):
        return x * 3.0
    scale.defvjp(lambda g, out, x: g * 2.0)
    f = lambda x: ag.sum(scale(x))
    step = ag.compile(f)
    step(ag.Tensor(np.ones(3), requires_grad=True)).backward()
    scale.defvjp(lambda g, out, x: g * 3.0)
    t, te = ag.Tensor(np.ones(3), requires_grad=True), ag.Tensor(np.ones(3), requires_grad=True)
    step(t).backward()
    f(te).backward()
    assert np.array_equal(te.grad, [3.0, 3.0, 3.0])  # oracle: eager, hand-derived d(3x)/dx
    assert np.array_equal(t.grad, te.grad)


def test_f4_forward_reassigned_is_seen_by_compile():
    q = ag.Primitive(lambda x: x * 2.0, "q")
    q.defvjp(lambda g, out, x: g * 2.0)
    f = lambda x: ag.sum(q(x))
    step = ag.compile(f)
    step(ag.Tensor(np.ones(3), requires_grad=True))
    q.forward = lambda x: x * 5.0
    assert f(ag.Tensor(np.ones(3))).item() == 15.0  # oracle: eager
    assert step(ag.Tensor(np.ones(3), requires_grad=True)).item() == 15.0


def test_f6_replays_counts_no_eager_runs():
    step = ag.compile(lambda x, idx: ag.sum(x[idx]))
    x, idx = np.arange(4.0), np.array([0, 2])
    for _ in range(3):
        step(x, idx)  # an integer array argument: documented to run eagerly
    assert step.replays == 0  # nothing was replayed


def test_a_retrace_after_a_draw_never_hands_out_another_threads_numbers_again():
    a_drew, b_drew = threading.Event(), threading.Event()
    sync = _pausing_identity(a_drew, b_drew)  # after dropout's draw: let thread B draw, once

    def f(x, rng):
        d = sync(ag.dropout(x, 0.5, rng=rng))
        return ag.sum(d * 2.0) if float(ag.sum(x)) > 0 else ag.sum(d * 3.0)  # a guard after the draw

    g = np.random.default_rng(123)
    step = ag.compile(f)
    step(ag.Tensor(np.ones(3)), g)
    step(ag.Tensor(np.ones(3)), g)
    stream = copy.deepcopy(g).random(12)
    out = {}

    def thread_a():
        out["A"] = step(ag.Tensor(-np.ones(3)), g).item()  # replay draws, its guard fails: traced anew

    def thread_b():
        try:
            assert a_drew.wait(10)
            out["B"] = g.random(3)
        finally:
            b_drew.set()
    ta, tb = threading.Thread(target=thread_a, name="paused"), threading.Thread(target=thread_b)
    ta.start(); tb.start(); ta.join(20); tb.join(20)
    np.testing.assert_array_equal(out["B"], stream[3:6])  # B drew after the replay's spent draw
    assert out["A"] == np.sum(-1.0 * (stream[6:9] < 0.5) / 0.5 * 3.0)  # the new trace drew the next ones
    np.testing.assert_array_equal(g.random(3), stream[9:12])  # each number handed out once


def test_a_failed_replay_alone_rewinds_its_draw_so_the_new_trace_draws_what_eager_code_would():
    def f(x, rng):
        d = ag.dropout(x, 0.5, rng=rng)
        return ag.sum(d * 2.0) if float(ag.sum(x)) > 0 else ag.sum(d * 3.0)
    g, eager_g = np.random.default_rng(7), np.random.default_rng(7)
    step = ag.compile(f)
    for x in (np.ones(3), np.ones(3), -np.ones(3), -np.ones(3), np.ones(3)):
        assert step(ag.Tensor(x), g).item() == f(ag.Tensor(x), eager_g).item()


def test_your_forward_writing_into_a_constant_is_refused_eagerly_and_compiled():
    @ag.primitive
    def bump(c):
        c += 1.0
        return c * 1.0
    bump.defvjp(lambda g, out, c: g)
    f = lambda x: ag.sum(x * bump(np.full(3, 2.0)))
    for call in (f, ag.compile(f), ag.compile(f)):
        with pytest.raises(ValueError, match="bump: its forward writes into an array it was given"):
            call(ag.Tensor(np.ones(3)))
    same = ag.primitive(lambda x: x, name="same")  # an output that is its input stays writable
    x = ag.Tensor([1.0, 2.0])
    y = same(x)
    y.data[0] = 5.0
    assert x.data[0] == 5.0


def test_another_threads_in_place_edit_during_a_trace_leaves_the_trace_replayable():
    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    a_in, b_done = threading.Event(), threading.Event()
    sync = _pausing_identity(a_in, b_done)
    f = lambda x: ag.sum(sync(W * x))
    step = ag.compile(f)

    def thread_a():
        step(ag.Tensor(np.ones(2)))

    def thread_b():
        try:
            assert a_in.wait(10)
            with ag.no_grad():
                W.data -= 0.1  # an optimizer step of a trainer thread
        finally:
            b_done.set()
    ta, tb = threading.Thread(target=thread_a, name="paused"), threading.Thread(target=thread_b)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the function changes nothing in place: no warning
        ta.start(); tb.start(); ta.join(20); tb.join(20)
        for i in range(5):
            x = np.full(2, float(i))
            assert step(ag.Tensor(x)).item() == pytest.approx(i * (0.9 + 1.9))
    assert (step.recordings, step.replays) == (1, 5)


def test_a_failed_replay_with_the_default_stream_draws_what_eager_code_would():
    f = lambda x: ag.sum(ag.dropout(x, 0.5)) * (1.0 if float(ag.sum(x)) > 0 else 2.0)  # rng=None
    xs = [np.ones(4), np.ones(4), -np.ones(4), -np.ones(4), np.ones(4)]
    ag.manual_seed(3)
    eager = [f(ag.Tensor(x)).item() for x in xs]
    ag.manual_seed(3)
    step = ag.compile(f)
    assert [step(ag.Tensor(x)).item() for x in xs] == eager
    assert step.replays >= 1


# Finding 2: _rewind must not hand another thread's numbers out again
def test_failed_replay_never_hands_out_another_threads_draws_again():
    g = np.random.default_rng(123)
    shape = (64,)
    in_replay, b_done = threading.Event(), threading.Event()

    @ag.primitive
    def gate(x):
        if (x > 100).any() and not in_replay.is_set():
            in_replay.set()
            assert b_done.wait(30)
            raise ValueError("gate refuses this call")
        return x * 1.0
    gate.defvjp(lambda gr, out, x: gr)

    def f(x):
        h1 = ag.dropout(x, 0.5, rng=g)
        p = gate(h1)
        h2 = ag.dropout(x, 0.5, rng=g)
        return h2 + p * 0.0

    step = ag.compile(f)
    x = np.ones(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step(x)
        step(x)
    assert step.replays == 1
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("out", step(x * 1000).data.copy()))
    t.start()
    assert in_replay.wait(30)
    b_draws = g.random(shape)        # another thread's draws, while A's replay is stopped
    b_done.set()
    t.join(30)
    a_mask2 = res["out"] != 0
    assert not np.array_equal(a_mask2, b_draws < 0.5), "B's numbers were handed out to A again"


# Finding 3: a broadcast view of the input stays read-only, as NumPy makes it
def test_broadcast_to_output_stays_read_only_as_numpy_gives_it():
    bt = ag.primitive(lambda x: np.broadcast_to(x, (3,) + x.shape), name="bt")
    x = ag.Tensor(np.arange(5.0))
    y = bt(x)
    assert y.data.flags.writeable == np.broadcast_to(np.arange(5.0), (3, 5)).flags.writeable  # False
    with pytest.raises(ValueError):
        y.data[0, 0] = 100.0
    assert np.array_equal(x.data, np.arange(5.0))


# Finding 4: read-only strided views of the input are legitimate outputs
@pytest.mark.parametrize("fn", [lambda x: sliding_window_view(x, 3),
                                lambda x: as_strided(x, (3, 3), (8, 8), writeable=False)])
def test_forward_returning_a_read_only_strided_view_works(fn):
    p = ag.primitive(fn, name="windows")
    out = p(ag.Tensor(np.arange(5.0)))
    assert np.array_equal(out.data, fn(np.arange(5.0)))


# Finding 6: vjp_all / jvp_all of your own primitive get read-only g (as defvjp's rules do)
def test_custom_vjp_all_writing_into_g_does_not_change_other_gradients():
    p = ag.Primitive(lambda x, y: x * y, "mulall")

    def vall(g, out, x, y):
        gy = g * x
        g *= y
        return [g, gy]
    p.vjp_all = vall
    x = ag.Tensor(np.array([2.0]), requires_grad=True)
    y = ag.Tensor(np.array([3.0]), requires_grad=True)
    u = ag.exp(y)
    L = ag.sum(3.0 * (u + p(x, y)))
    try:
        L.backward()
    except ValueError as error:  # refused, naming the op: acceptable
        assert "mulall" in str(error)
        return
    assert np.allclose(y.grad, 3 * 2.0 + 3 * np.exp(3.0))  # hand-derived


def test_custom_jvp_all_writing_into_its_tangent_does_not_change_other_tangents():
    p = ag.Primitive(lambda x, y: x * y, "m2")
    p.defvjp(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)

    def jall(ts, out, x, y):
        tx, _ = ts
        tx *= y
        return tx
    p.jvp_all = jall
    f = lambda a: ag.add(p(a, ag.Tensor(np.array([3.0]))), ag.exp(a))
    try:
        tangent = ag.jvp(f, (np.array([1.0]),), (np.array([1.0]),))[1]
    except ValueError as error:
        assert "m2" in str(error)
        return
    assert np.allclose(tangent, 3.0 + np.e)  # hand-derived


# Finding 7: an in-place write into .grad inside a compiled function is repeated or refused
def test_in_place_grad_write_inside_compiled_function_is_not_silently_dropped():
    W = ag.Tensor(np.ones(3), requires_grad=True)

    def f(x):
        W.grad[...] = 7.0
        return ag.sum(W * x)
    step = ag.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (a warning + eager run is fine)
        for _ in range(3):
            W.grad = np.zeros(3)
            step(ag.Tensor(np.ones(3)))
            assert np.array_equal(W.grad, np.full(3, 7.0))  # what eager f does


def test_reading_a_grad_inside_a_compiled_function_runs_it_eagerly():
    W = ag.Tensor([1.0, 2.0], requires_grad=True)
    f = lambda x: ag.sum(x * W.grad)
    step = ag.compile(f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for v in (1.0, 2.0, 3.0):
            W.grad = np.array([v, v])
            assert step(ag.Tensor([1.0, 1.0])).item() == 2 * v  # eager: x . W.grad
    assert any("reads a tensor's .grad" in str(w.message) for w in caught)


def test_your_forwards_input_returned_as_it_is_stays_writable_and_other_views_come_back_read_only():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3))
    assert ag.primitive(lambda x: x, name="same")(x).data is x.data
    for forward in (lambda x: x.T, lambda x: x[::-1], lambda x: np.diagonal(x), lambda x: np.broadcast_to(x, (2, 2, 3))):
        y = ag.primitive(forward, name="v")(x)
        np.testing.assert_array_equal(y.data, forward(x.data))
        assert not y.data.flags.writeable  # (NumPy gives x.T writable, np.diagonal not: no way to tell here)


def test_an_output_sharing_one_of_interleaved_inputs_shares_that_ones_version_counter():
    buf = np.arange(8.0)
    a, b = ag.Tensor(np.zeros(4)), ag.Tensor(np.zeros(4))
    a.data, b.data = buf[::2], buf[1::2]  # (one memory range, no entry in common)
    w = ag.Tensor(np.ones(4), requires_grad=True)
    L = ag.sum(w * b)
    y = ag.primitive(lambda a, b: b, name="second")(a, b)
    with ag.no_grad():
        y += 100.0
    with pytest.raises(ag.InplaceModificationError):
        L.backward()


def test_a_keyword_named_rng_on_your_primitive_is_a_parameter_like_any_other():
    p = ag.Primitive(lambda x, rng=None: x * 1.0, "noise")
    p.defvjp(lambda g, out, x, rng=None: g)
    f = lambda x: p(x, rng=None) * (1.0 if float(ag.sum(x)) > 0 else 2.0)  # a guard that fails once
    step = ag.compile(f)
    for v in (1.0, 1.0, -1.0):
        np.testing.assert_array_equal(step(ag.Tensor(np.full(3, v))).data, np.full(3, v) * (1.0 if v > 0 else 2.0))
    q = ag.Primitive(lambda x, rng: x * 1.0, "labelled")
    q.defvjp(lambda g, out, x, rng: g)
    step = ag.compile(lambda x: q(x, rng="pcg"))
    for _ in range(3):
        np.testing.assert_array_equal(step(ag.Tensor(np.ones(3))).data, np.ones(3))
    assert step.replays == 2
