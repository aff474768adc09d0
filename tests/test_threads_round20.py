"""Round 20: a leaf set to require grad after ops used it gets nothing through them (as in PyTorch: it
was a constant there), so no partial gradient; an optimizer's step and checkpoint read and write under
the lock backward() writes .grad under, so neither sees half of another thread's backward or step."""
import numpy as np

import autograd_lite as ag
from autograd_lite import modes, optim


def test_a_leaf_made_to_require_grad_after_it_was_used_gets_no_partial_gradient():
    x = ag.Tensor(np.array([1.0, 1.0]))
    c = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * c).sum() + (x * x).sum()  # (x a constant in both terms)
    x.requires_grad_(True)
    y.backward()
    assert x.grad is None  # (not [1, 2], the part through x * c alone)
    np.testing.assert_array_equal(c.grad, [1.0, 1.0])
    z = (x * c).sum() + (x * x).sum()  # (recorded now: x requires grad)
    z.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])  # c + 2 x, by hand


def test_the_attribute_form_too():
    x = ag.Tensor(np.array([2.0]))
    w = ag.Tensor(np.array([3.0]), requires_grad=True)
    y = (x * w).sum()
    x.requires_grad = True
    y.backward()
    assert x.grad is None and w.grad == 2.0


def test_step_state_dict_and_load_state_dict_hold_the_grad_lock(monkeypatch):
    held = []
    for name in ("_prepare", "_commit"):
        real = getattr(optim.Optimizer, name)
        monkeypatch.setattr(optim.Optimizer, name, lambda self, *a, _real=real: (
            held.append(modes.grad_lock._is_owned()), _real(self, *a))[1])
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = ag.optim.Adam([w], 0.1)
    (w * w).sum().backward()
    opt.step()
    assert held == [True, True]
    real_complete = optim.Optimizer._complete
    seen = []
    monkeypatch.setattr(optim.Optimizer, "_complete", lambda self, s: seen.append(modes.grad_lock._is_owned())
                        or real_complete(self, s))
    state = opt.state_dict()
    assert seen == [True]
    opt.load_state_dict(state)
    assert not modes.grad_lock._is_owned()


def test_save_copies_each_array_under_the_lock_a_step_commits_under_and_reads_the_mapping_outside(
        tmp_path, monkeypatch):
    import collections.abc
    from autograd_lite import serialization
    copies = []

    class Recording:
        def __enter__(self):
            copies.append("copy")

        def __exit__(self, *exc):
            return False
    monkeypatch.setattr(serialization, "grad_lock", Recording())

    class Store(collections.abc.Mapping):  # (a store whose reads take a lock of its own: never under grad_lock)
        def __init__(self):
            self.items_ = {"W": np.ones(3), "b": np.zeros(1)}

        def __getitem__(self, key):
            assert not modes.grad_lock._is_owned()
            return self.items_[key]

        def __iter__(self):
            return iter(self.items_)

        def __len__(self):
            return len(self.items_)
    ag.save(Store(), tmp_path / "m.npz")
    assert copies == ["copy", "copy"]


def test_a_leaf_switched_off_and_on_again_keeps_its_place_on_graphs():
    W = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (W * W).sum()
    W.requires_grad_(False)
    W.requires_grad_(True)  # (a helper freezing W for a moment)
    loss.backward()
    np.testing.assert_array_equal(W.grad, [2.0, 4.0])  # 2 W, as PyTorch gives
