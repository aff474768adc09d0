"""Review round 11 (adv24), engine core: concurrent backward() into a shared leaf, recorded
``t op= w``, version counters shared by two threads at once, what ``.grad`` accepts, pickle of
op outputs, and ints beyond int64 in a list. Thread interleavings are forced with sys.settrace
line tracing and threading.Event (no sleeps); expected values come from torch or by hand."""
import copy
import importlib
import inspect
import pickle
import sys
import threading

import numpy as np
import pytest

import autograd_lite as ag
from lock_state import held_by_another_thread

from oracles import torch

tape = importlib.import_module("autograd_lite.tape")
modes = importlib.import_module("autograd_lite.modes")


class _Pause:
    """Pauses the thread whose trace function is ``self.tracer`` at the start of the one line of
    ``func``'s source that begins with ``line`` (before any of that line runs), the first time it gets
    there, until ``resume`` is set. Line events, not opcode events: on Python 3.12 and 3.13 setting
    ``frame.f_trace_opcodes`` in the call event brings no opcode events at all (adv80), so a pause
    placed on an opcode was never reached there; line events come on 3.11 to 3.13 alike."""

    def __init__(self, func, line):
        lines, first = inspect.getsourcelines(func)
        numbers = [first + i for i, text in enumerate(lines) if text.strip().startswith(line)]
        self.where = f"{func.__module__}.{func.__qualname__}, line {line!r}"
        assert len(numbers) == 1, f"{self.where}: {len(numbers)} lines begin so, not one"
        self.code, self.lineno = func.__code__, numbers[0]
        # stopped: the traced thread paused here, or ended (then paused stays unset)
        self.paused, self.resume, self.stopped = threading.Event(), threading.Event(), threading.Event()

    def tracer(self, frame, event, arg):
        return self._local if frame.f_code is self.code else None

    def _local(self, frame, event, arg):
        if event == "line" and frame.f_lineno == self.lineno and not self.paused.is_set():
            self.paused.set()
            self.stopped.set()
            assert self.resume.wait(10), f"paused at {self.where}: the other thread never let it go on"
        return self._local


def _interleave(first, second, pause):
    """Run ``first`` in a thread that ``pause`` stops and, while it is stopped, ``second`` in another.
    Fails, naming the pause point, if ``first`` ends without reaching it: nothing was interleaved."""
    errors = []

    def a():
        sys.settrace(pause.tracer)
        try:
            first()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            sys.settrace(None)
            pause.stopped.set()  # (also when the pause point was missed: b need not wait out a timeout)

    def b():
        try:
            assert pause.stopped.wait(10), f"the traced thread neither reached {pause.where} nor ended"
            if pause.paused.is_set():
                second()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            pause.resume.set()

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start(); tb.start(); ta.join(); tb.join()
    assert pause.paused.is_set(), (f"{first!r} ended without reaching {pause.where} on Python "
                                   f"{sys.version.split()[0]}: nothing was interleaved")
    assert not errors, errors


# --- 1. concurrent backward() into a shared leaf ------------------------------------------------
def _while_a_backward_is_adding(loss, other):
    """Run ``loss.backward()`` paused just before it stores its sum into a ``.grad``; meanwhile
    start ``other`` in a third thread (it blocks on the lock ``loss``'s backward holds, so it
    cannot finish while that one is paused), then let the backward go on; wait for ``other``."""
    pause = _Pause(tape._write_grads, "t._grad = own")
    started, done = threading.Event(), threading.Event()

    def run_other():
        started.set()
        other()
        done.set()

    def second():
        assert held_by_another_thread(modes.grad_lock)  # paused inside the lock: other cannot add or reset before the store
        threading.Thread(target=run_other).start()
        assert started.wait(10)

    _interleave(loss.backward, second, pause)
    assert done.wait(10)


def test_concurrent_backward_on_a_shared_leaf_loses_no_gradient():
    # The second backward() adds after the first one's store: 0 + 3 + 5.
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.grad = np.zeros(2)
    la, lb = (x * 3.0).sum(), (x * 5.0).sum()
    _while_a_backward_is_adding(la, lb.backward)
    # by hand (no oracle needed, so the interleaving is checked where PyTorch is absent too)
    np.testing.assert_array_equal(x.grad, [8.0, 8.0])


@pytest.mark.parametrize("reset", ["zero_grad", "setter"])
def test_zero_grad_and_the_grad_setter_wait_for_a_backward_that_is_adding(reset):
    # A reset in another thread lands after the sum is stored, never between its read and store.
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.grad = np.ones(2)
    opt = ag.optim.GradientDescent([x], lr=0.1)
    _while_a_backward_is_adding((x * 3.0).sum(), opt.zero_grad if reset == "zero_grad" else x.zero_grad)
    assert x.grad is None  # not the stale sum [4, 4] stored after the reset


# --- 2. t op= w with w recorded ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("symbol", ["+", "-", "*", "/"])
def test_recorded_inplace_updates_the_array_and_gives_torchs_gradient(symbol, dtype):
    start, wv, seed = np.array([1.5, -2.0, 3.0]), np.array([0.5, 4.0, -1.25]), np.array([1.0, 2.0, -3.0])
    tdtype = torch.float64 if dtype is np.float64 else torch.float32
    w = ag.Tensor(wv.astype(dtype), requires_grad=True)
    v = ag.Tensor(start.astype(dtype))
    alias, array = v, v.data
    version = v._version
    exec(f"v {symbol}= w")
    wt = torch.tensor(wv, dtype=tdtype, requires_grad=True)
    vt = torch.tensor(start, dtype=tdtype)
    exec(f"vt {symbol}= wt")
    assert v is alias and v.data is array and v.dtype == dtype  # the same tensor, its own array changed
    np.testing.assert_allclose(array, vt.detach().numpy(), rtol=1e-6)
    assert v.requires_grad and not v.is_leaf and v._version == version + 1
    v.backward(seed.astype(dtype))
    vt.backward(torch.tensor(seed, dtype=tdtype))
    assert w.grad.dtype == dtype
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-6)


def test_recorded_inplace_then_further_ops_gives_torchs_gradient():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    v = ag.Tensor([3.0, 4.0])
    v *= w
    ((v * v).sum()).backward()
    wt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    vt = torch.tensor([3.0, 4.0], dtype=torch.float64)
    vt *= wt
    (vt * vt).sum().backward()
    np.testing.assert_allclose(w.grad, wt.grad.numpy())  # 2 * 9 * w = [18, 64]


def test_recorded_inplace_on_a_float32_tensor_with_a_float64_right_side_keeps_float32():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    v = ag.Tensor(np.float32([3.0, 4.0]))
    v += w
    assert v.dtype == np.float32
    np.testing.assert_array_equal(v.data, [4.0, 6.0])
    v.sum().backward()
    assert w.grad.dtype == np.float64
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_recorded_inplace_into_a_view_or_its_base_is_refused_and_changes_nothing():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    buf = ag.Tensor(np.zeros(3))
    v = buf[0:2]
    with pytest.raises(ag.GraphError, match=r"'\+=' .*shares its memory with a view or a detach\(\).*"
                                            r"write t = t \+ w"):
        v += w
    with pytest.raises(ag.GraphError, match=r"'-=' .*write t = t - w"):
        buf[0:2] -= w  # (the base of a view: its memory is shared as well)
    d = ag.Tensor(np.zeros(2))
    e = d.detach()
    with pytest.raises(ag.GraphError, match=r"'\*=' .*detach\(\)"):
        e *= w
    np.testing.assert_array_equal(buf.data, np.zeros(3))
    np.testing.assert_array_equal(d.data, np.zeros(2))
    assert not v.requires_grad and not buf.requires_grad and w.grad is None


def test_recorded_inplace_with_a_shape_that_grows_is_a_shape_error():
    w = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    v = ag.Tensor(np.zeros(2))
    with pytest.raises(ag.errors.ShapeError, match=r"'\+=': the right side has shape \(2, 2\).*\(2,\)"):
        v += w
    np.testing.assert_array_equal(v.data, [0.0, 0.0])
    assert not v.requires_grad


def test_inplace_under_no_grad_or_with_a_constant_stays_plain():
    w = ag.Tensor([1.0, 2.0], requires_grad=True)
    v = ag.Tensor([3.0, 4.0])
    with ag.no_grad():
        v += w
    v -= ag.Tensor([1.0, 1.0])
    np.testing.assert_array_equal(v.data, [3.0, 5.0])
    assert v.is_leaf and not v.requires_grad and v._version == 2


def test_a_graph_that_read_the_old_value_is_refused_after_a_recorded_inplace():
    x, w = ag.Tensor([1.0, 2.0], requires_grad=True), ag.Tensor([5.0, 6.0], requires_grad=True)
    v = ag.Tensor([3.0, 4.0])
    y = (x * v).sum()  # saved v's old value
    v += w
    with pytest.raises(ag.errors.InplaceModificationError):
        y.backward()


# --- 3. a view and a detach() made at once share one version counter --------------------------
def test_view_and_detach_made_concurrently_share_one_version_counter():
    # A (the view) is paused in share_version after reading base._vc (None), before taking the
    # lock; B's detach() makes the counter meanwhile; A must then take B's counter, not make its own.
    x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    base = x * 1.0
    box = {}
    pause = _Pause(modes.share_version, "with _clock_lock:")
    _interleave(lambda: box.__setitem__("view", base.reshape(3)),
                lambda: box.__setitem__("detached", base.detach()), pause)
    assert box["view"]._vc is base._vc is box["detached"]._vc
    loss = (box["view"] * box["view"]).sum()
    with ag.no_grad():
        box["detached"] -= 1.0  # changes the memory the multiply saved
    with pytest.raises(ag.errors.InplaceModificationError):
        loss.backward()


# --- 4. what .grad accepts ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["not a gradient", [0.0, 0.0], 0.5, {"a": 1}])
def test_grad_setter_refuses_what_is_no_array_naming_the_tensor(value):
    x = ag.Tensor([1.0, 2.0], requires_grad=True, name="W1")
    with pytest.raises(TypeError, match=rf"leaf named 'W1'.*\.grad = {type(value).__name__} .*expected None or "
                                        r"a float ndarray of shape \(2,\)"):
        x.grad = value
    assert x.grad is None


def test_grad_setter_refuses_a_tensor_that_requires_grad():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"\.grad = a Tensor that requires grad; expected None or an ndarray"):
        x.grad = ag.Tensor(np.zeros(2), requires_grad=True)
    assert x.grad is None


def test_grad_set_to_a_tensor_without_grad_is_its_array_and_stays_an_ndarray():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    zeros = ag.Tensor(np.zeros(2))
    x.grad = zeros
    assert x.grad is zeros.data
    for _ in range(3):
        (x * x).sum().backward()
    assert type(x.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])  # 3 * 2x
    np.testing.assert_array_equal(zeros.data, [0.0, 0.0])  # added out of place, as ever


def test_grad_of_a_0d_tensor_stays_a_0d_ndarray():
    x = ag.Tensor(2.0, requires_grad=True)
    x.grad = np.float64(1.0)  # a NumPy scalar: taken as a 0-d array
    assert type(x.grad) is np.ndarray and x.grad.shape == ()
    (x * x).backward()
    (x * x).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 9.0  # 1 + 4 + 4


# --- 5. pickle ----------------------------------------------------------------------------------
def test_pickle_of_an_op_output_is_refused_as_deepcopy_naming_the_op():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ag.GraphError, match=r"copy: this tensor is an op's output \(op 'multiply'"):
        copy.deepcopy(x * 2.0)
    with pytest.raises(ag.GraphError, match=r"pickle: this tensor is an op's output \(op 'sum'"):
        pickle.dumps((x * 2.0).sum())


def test_pickle_of_a_user_primitive_output_never_copies_the_graph():
    double = ag.primitive(np.add).defvjp(lambda g, out, a, b: g, lambda g, out, a, b: g)
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ag.GraphError, match="pickle"):
        pickle.dumps(double(x, x))


def test_pickle_of_a_leaf_keeps_data_dtype_requires_grad_name_and_grad():
    x = ag.Tensor(np.float32([1.0, 2.0]), requires_grad=True, name="W")
    x.grad = np.float32([3.0, 4.0])
    y = pickle.loads(pickle.dumps(x))
    assert y.is_leaf and y.requires_grad and y.name == "W" and y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [1.0, 2.0])
    np.testing.assert_array_equal(y.grad, [3.0, 4.0])
    assert y.grad.dtype == np.float32
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad, [5.0, 8.0])
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])  # the original is untouched


# --- 6. ints beyond int64 ---------------------------------------------------------------------
def test_a_list_holding_an_int_beyond_int64_converts_as_the_scalar_does():
    assert ag.Tensor(10**30).data == 1e30
    np.testing.assert_array_equal(ag.Tensor([10**30, 1]).data, np.array([10**30, 1], dtype=float))
    np.testing.assert_array_equal(ag.Tensor([[10**30], [2]]).data, [[1e30], [2.0]])
    assert ag.Tensor([1.5, 10**30]).dtype == np.float64


def test_an_int_beyond_float64_or_a_none_in_a_list_is_still_refused():
    with pytest.raises(TypeError, match="int too large to convert to float"):
        ag.Tensor([10**400, 1])
    with pytest.raises(TypeError, match="is not numeric"):
        ag.Tensor([None, 1])
