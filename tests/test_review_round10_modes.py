"""Review round 10 (adversarial round 15): the mode managers across threads, generators,
reuse and decoration, as PyTorch's; draw writing only the file asked for; save/load paths
and ``expected`` shapes refused with clear errors.

Expected values come from PyTorch's documented behaviour or plain reasoning, never from
autograd_lite itself. Threads use forced interleavings (threading.Event), never sleep."""
import threading

import numpy as np
import pytest

import autograd_lite as ag
from oracles import needs_dot

MODES = {  # maker, and whether its mode is on in this thread
    "no_grad": (ag.no_grad, lambda: not ag.is_grad_enabled()),
    "enable_grad": (ag.enable_grad, ag.is_grad_enabled),
    "detect_anomaly": (ag.detect_anomaly, ag.is_anomaly_enabled),
    "scope": (lambda: ag.scope("block"), lambda: ag.Tensor(1.0)._scope == ("block",)),
}
PARAMS = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    yield
    ag.set_grad_enabled(True)  # a failing test must not leave recording off for the next


def _run_in_thread(target):
    """Start ``target`` in a new thread; returns (thread, dict its result or error lands in)."""
    out = {}

    def body():
        try:
            out["result"] = target()
        except BaseException as error:  # re-raised by the test in the main thread
            out["error"] = error

    thread = threading.Thread(target=body)
    thread.start()
    return thread, out


def _joined(thread, out):
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("result")


# --- 1. an exit sets the mode of the thread that exits, never another's ----------------------
def test_generator_finished_in_another_thread_does_not_switch_recording_on_inside_this_threads_no_grad():
    x = ag.Tensor(np.ones(2), requires_grad=True)

    def gen():
        with ag.no_grad():
            yield 1
        yield ag.is_grad_enabled()

    g = gen()
    next(g)                                   # this thread enters the generator's no_grad
    entered, finished = threading.Event(), threading.Event()

    def other():
        entered.wait()
        inside_step = next(g)                 # the other thread leaves the generator's no_grad
        finished.set()
        return inside_step, ag.is_grad_enabled()

    thread, out = _run_in_thread(other)
    with ag.no_grad():                        # this thread's own no_grad block
        entered.set()
        assert finished.wait(10)
        y = x * 2
        enabled_inside = ag.is_grad_enabled()
    # torch: the exit sets the exiting thread's mode to what the entry saw (on), this one untouched
    assert _joined(thread, out) == (True, True)
    assert enabled_inside is False and y.requires_grad is False


@pytest.mark.parametrize("kind", list(MODES))
def test_one_mode_object_shared_by_two_threads_restores_each_threads_own_mode(kind):
    make, is_on = MODES[kind]
    shared = make()
    off_first = kind == "enable_grad"         # so that entering it changes something
    ag.set_grad_enabled(not off_first)
    a_inside, b_inside, b_exit = threading.Event(), threading.Event(), threading.Event()

    def other():                              # enters after this thread, exits after it too
        ag.set_grad_enabled(not off_first)
        a_inside.wait()
        with shared:
            b_inside.set()
            b_exit.wait()
            still_on = is_on()
        return still_on, is_on()

    thread, out = _run_in_thread(other)
    before = is_on()
    with shared:
        a_inside.set()
        assert b_inside.wait(10)
        assert is_on()
    assert is_on() == before                  # this exit restored this thread's entry, not b's
    b_exit.set()
    assert _joined(thread, out) == (True, False)   # b stayed on after a left, then got its own back


def test_set_grad_enabled_made_in_one_thread_restores_the_entering_threads_mode():
    off = ag.set_grad_enabled(False)          # switches this thread off at once, as PyTorch's
    assert ag.is_grad_enabled() is False

    def other():
        with off:
            inside = ag.is_grad_enabled()
        return inside, ag.is_grad_enabled()

    assert _joined(*_run_in_thread(other)) == (False, True)   # that thread was on before its `with`
    assert ag.is_grad_enabled() is False      # this thread's mode is its own to restore
    with off:
        pass
    assert ag.is_grad_enabled() is True       # the first `with` here restores the mode before the call


# --- 2. decorating a generator function: every step under the mode -------------------------
def test_no_grad_decorating_a_generator_function_covers_its_body():
    x = ag.Tensor(np.ones(2), requires_grad=True)

    @ag.no_grad()
    def evaluate():
        yield ag.is_grad_enabled(), (x * 2).requires_grad

    assert next(evaluate()) == (False, False)   # as @torch.no_grad() on a generator


def test_a_decorated_generator_gives_the_caller_its_mode_back_between_steps():
    @ag.no_grad()
    def steps():
        received = yield ag.is_grad_enabled()
        try:
            yield received, ag.is_grad_enabled()
        except KeyError:
            yield "caught", ag.is_grad_enabled()
        return "done"

    g = steps()
    assert next(g) is False
    assert ag.is_grad_enabled() is True        # the caller records between steps
    assert g.send("sent") == ("sent", False)
    assert g.throw(KeyError("k")) == ("caught", False)
    assert ag.is_grad_enabled() is True
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"


def test_closing_a_decorated_generator_runs_its_cleanup_under_the_mode():
    seen = []

    @ag.enable_grad()
    def steps():
        try:
            yield
        finally:
            seen.append(ag.is_grad_enabled())

    with ag.no_grad():
        g = steps()
        next(g)
        g.close()
        assert ag.is_grad_enabled() is False
    assert seen == [True]


@pytest.mark.parametrize("kind", list(MODES))
def test_every_mode_decorates_a_plain_function_and_a_generator(kind):
    make, is_on = MODES[kind]
    if kind == "enable_grad":
        ag.set_grad_enabled(False)

    @make()
    def plain():
        return is_on()

    @make()
    def steps():
        yield is_on()
        yield is_on()

    assert plain() is True and not is_on()
    assert list(steps()) == [True, True] and not is_on()


# --- 3. set_grad_enabled as a decorator ---------------------------------------------------
def test_set_grad_enabled_as_a_decorator_works_and_restores_the_mode():
    @ag.set_grad_enabled(False)
    def evaluate():
        return ag.is_grad_enabled()

    assert ag.is_grad_enabled() is True   # torch: decorating restores the previous mode
    assert evaluate() is False
    assert ag.is_grad_enabled() is True


def test_set_grad_enabled_true_decorates_inside_no_grad_and_keeps_the_function_call_form():
    with ag.no_grad():
        @ag.set_grad_enabled(True)
        def train_step():
            return ag.is_grad_enabled()
        assert ag.is_grad_enabled() is False
        assert train_step() is True
        assert ag.is_grad_enabled() is False
    ag.set_grad_enabled(False)                 # docs/api.md: as a plain call it switches at once
    assert ag.is_grad_enabled() is False
    with ag.set_grad_enabled(True):
        assert ag.is_grad_enabled() is True
    assert ag.is_grad_enabled() is False


# --- 4. reuse and re-entry ----------------------------------------------------------------
@pytest.mark.parametrize("make", [ag.no_grad, ag.enable_grad, ag.detect_anomaly])
def test_a_mode_object_can_be_entered_twice(make):
    cm = make()
    with cm:
        pass
    with cm:   # torch.no_grad() objects are reusable
        pass


def test_a_reused_no_grad_object_restores_what_each_entry_saw():
    evaluation = ag.no_grad()
    with evaluation:
        with ag.enable_grad():
            with evaluation:                   # nested reuse of the same object
                assert ag.is_grad_enabled() is False
            assert ag.is_grad_enabled() is True   # the inner exit restores what its entry saw
        assert ag.is_grad_enabled() is False
    assert ag.is_grad_enabled() is True
    with ag.no_grad():
        with ag.enable_grad() as nothing:      # as PyTorch's, `as` binds None
            assert nothing is None
        with evaluation:
            pass
        assert ag.is_grad_enabled() is False   # the second use saw "off", so it leaves it off


def test_a_reused_scope_nests_inside_the_scopes_open_at_each_entry():
    block = ag.scope("block")
    with block:
        with block:
            assert ag.Tensor(1.0)._scope == ("block", "block")
        assert ag.Tensor(1.0)._scope == ("block",)
    with ag.scope("net"), block:
        assert ag.Tensor(1.0)._scope == ("net", "block")
    assert ag.Tensor(1.0)._scope == ()


def test_an_exit_without_an_entry_is_named():
    with pytest.raises(RuntimeError, match=r"no_grad: __exit__ without a matching __enter__"):
        ag.no_grad().__exit__(None, None, None)
    assert ag.is_grad_enabled() is True


# --- 5. draw writes only the file asked for -----------------------------------------------


@needs_dot
def test_draw_leaves_an_unrelated_dot_source_file_alone(tmp_path):
    notes = tmp_path / "graph.gv"
    notes.write_text("digraph mine { a -> b }\n")
    x = ag.Tensor([1.0, 2.0], requires_grad=True, name="x")
    ag.draw((x * x).sum(), tmp_path / "graph.svg")
    assert (tmp_path / "graph.svg").read_bytes().startswith(b"<?xml")
    assert notes.read_text() == "digraph mine { a -> b }\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.gv", "graph.svg"]


@needs_dot
def test_draw_into_a_missing_folder_names_it_and_creates_nothing(tmp_path):
    x = ag.Tensor([1.0, 2.0], requires_grad=True, name="x")
    missing_folder = r"draw: cannot write .*graph\.svg.*folder .*missing.* does not exist"
    with pytest.raises(FileNotFoundError, match=missing_folder):
        ag.draw((x * x).sum(), tmp_path / "missing" / "graph.svg")
    assert list(tmp_path.iterdir()) == []


# --- 6. save/load paths and expected shapes -------------------------------------------------
def test_save_refuses_a_path_ending_in_a_separator(tmp_path):
    with pytest.raises(ValueError, match=r"save: the path .*new\.npz/' ends in a path separator"):
        ag.save(PARAMS, str(tmp_path / "new.npz") + "/")
    assert list(tmp_path.iterdir()) == []     # no file named new.npz either


def test_save_and_load_say_when_the_path_is_empty():
    with pytest.raises(ValueError, match="save: the path is empty; expected a file name"):
        ag.save(PARAMS, "")
    with pytest.raises(ValueError, match="load: the path is empty; expected a file name"):
        ag.load("")


def test_a_bytes_path_saves_and_loads(tmp_path):
    path = str(tmp_path / "params.npz").encode()
    assert ag.save(PARAMS, path) == path
    loaded = ag.load(path)
    assert list(loaded) == ["W1", "b1"]
    np.testing.assert_array_equal(loaded["W1"].data, np.ones((2, 3)))


def test_a_path_of_another_type_is_named():
    with pytest.raises(TypeError, match="save: path must be a str, bytes or os.PathLike naming a file, "
                                        "got int"):
        ag.save(PARAMS, 5)


def test_expected_with_an_int_for_a_shape_names_the_key(tmp_path):
    path = tmp_path / "params.npz"
    ag.save(PARAMS, path)
    with pytest.raises(TypeError, match=r"load: expected\['b1'\] is 2 \(int\); expected a shape tuple"):
        ag.load(path, expected={"W1": (2, 3), "b1": 2})
    with pytest.raises(TypeError, match="load: expected must be a mapping name -> shape tuple"):
        ag.load(path, expected=[(2, 3), (2, 1)])
    assert list(ag.load(path, expected={"W1": [2, 3], "b1": (np.int64(2), 1)})) == ["W1", "b1"]
