"""Optimizers and save, round 20 (second pass): a params list changed in place is refused (its state is kept
by position), hand-filled states with internal keys, moments as NumPy subclasses and scalars, step counts a
file can hold; save's failed rename and load's MemoryError named as what they are."""
import errno
import os
import re

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import serialization


def _leaf(values):
    return ag.Tensor(np.array(values, dtype=float), requires_grad=True)


@pytest.mark.parametrize("kind", [ag.optim.GradientDescent, ag.optim.Momentum, ag.optim.Adam])
@pytest.mark.parametrize("change", ["append", "replace", "remove"])
def test_a_params_list_changed_in_place_is_refused_before_anything_changes(kind, change):
    a, b = _leaf([1.0, 1.0]), _leaf([1.0, 1.0])
    opt = kind([a, b], 0.1)
    (a * a + b * b).sum().backward()
    opt.step()
    c = _leaf([1.0, 1.0])
    {"append": lambda: opt.params.append(c), "replace": lambda: opt.params.__setitem__(1, c),
     "remove": lambda: opt.params.pop()}[change]()
    before = [p.data.copy() for p in (a, b, c)]
    for call in (opt.step, opt.state_dict, lambda: opt.load_state_dict({})):
        with pytest.raises(ValueError, match=f"{kind.__name__}.*params list was changed after it was made"):
            call()
    for p, old in zip((a, b, c), before):
        np.testing.assert_array_equal(p.data, old)


def test_a_hand_filled_state_with_internal_keys_is_completed():
    p = _leaf(np.ones((3, 2)))
    opt = ag.optim.Momentum([p], lr=0.1)
    opt.state[0].update(v=np.full((3, 2), 0.5), shape=(3, 2), dtype=p.data.dtype)
    p.grad = np.ones((3, 2))
    opt.step()  # v = 0.9 * 0.5 + 0.1 * 1 = 0.55, p = 1 - 0.1 * 0.55, by hand
    np.testing.assert_allclose(p.data, np.full((3, 2), 1 - 0.055), rtol=1e-15)


@pytest.mark.parametrize("wrap", [
    lambda v, tmp: np.load(_saved(v, tmp), mmap_mode="r"),
    lambda v, tmp: np.asmatrix(v),
], ids=["np.memmap", "np.matrix"])
def test_moments_of_a_numpy_array_subclass_load(wrap, tmp_path):
    p = _leaf(np.zeros((3, 2)))
    opt = ag.optim.Momentum([p], lr=0.1)
    p.grad = np.ones((3, 2))
    opt.step()
    state = opt.state_dict()
    state["0.v"] = wrap(state["0.v"], tmp_path)
    q = _leaf(p.data)
    fresh = ag.optim.Momentum([q], lr=0.1)
    fresh.load_state_dict(state)
    for t, o in ((p, opt), (q, fresh)):
        t.grad = np.ones((3, 2))
        o.step()
    np.testing.assert_array_equal(q.data, p.data)


def _saved(v, tmp):
    np.save(tmp / "v.npy", v)
    return tmp / "v.npy"


def test_a_numpy_scalar_moment_of_a_0d_parameter_loads():
    p = ag.Tensor(np.array(2.0), requires_grad=True)
    opt = ag.optim.Momentum([p], lr=0.1)
    p.grad = np.array(1.0)
    opt.step()
    state = opt.state_dict()
    state["0.v"] = half = state["0.v"] * 0.5  # (a NumPy scalar, as arithmetic on a 0-d array gives)
    assert isinstance(half, np.float64)
    fresh = ag.optim.Momentum([ag.Tensor(np.array(2.0), requires_grad=True)], lr=0.1)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.state_dict()["0.v"], half)


def test_a_torch_tensor_moment_is_named_in_full():
    torch = pytest.importorskip("torch")
    p = _leaf([0.0, 0.0])
    opt = ag.optim.Momentum([p], lr=0.1)
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    state["0.v"] = torch.zeros(2)
    with pytest.raises(TypeError, match=r"'0.v' of parameter 0 is a torch.Tensor; expected a real floating ndarray"):
        ag.optim.Momentum([_leaf([0.0, 0.0])], lr=0.1).load_state_dict(state)


@pytest.mark.parametrize("key, value", [("t", 10 ** 20), ("0.t", 1e300)])
def test_a_step_count_no_file_can_hold_is_refused(key, value):
    p = _leaf([1.0, 1.0])
    opt = ag.optim.Adam([p], lr=0.1)
    p.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    state[key] = value
    with pytest.raises(ValueError, match=r"must be a whole number from \d to 2\*\*53"):
        opt.load_state_dict(state)


def test_a_failed_rename_is_one_error_naming_save_and_the_path(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    ag.save({"W": np.zeros(3)}, path)

    def busy(source, target):
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), source, None, target)
    monkeypatch.setattr(serialization.os, "replace", busy)
    with pytest.raises(OSError, match=rf"save: cannot write '{re.escape(str(path))}': renaming the written temp") as caught:
        ag.save({"W": np.ones(3)}, path)
    assert caught.value.errno == errno.EBUSY and caught.value.filename == str(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(ag.load(path)["W"].data, np.zeros(3))  # the old file as it was
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary left


def test_memory_running_out_while_loading_is_a_memory_error(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    ag.save({"W": np.zeros(3)}, path)

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate")
    monkeypatch.setattr(serialization.np, "empty", no_memory)
    with pytest.raises(MemoryError):
        ag.load(path)
