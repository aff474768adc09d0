"""A learner's workflow (adv23): checking gradients by hand and by autodiff.

- compare_gradients' default threshold follows the dtypes: correct float32 gradients
  (against torch's float32 ones) pass; float64 keeps the course's 1e-7.
- "W1" pairs with "dW1" either way round; keys with no partner (the hand pass's dZ1)
  are the ones named.
- gradcheck refuses a function that is not deterministic (fresh dropout masks).
- The notebooks import the installed packages, so a copy runs outside the checkout.
Expected values come from torch or from the course's hand-written backward pass.
"""
import pathlib
import shutil

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite_models import manual, three_layer

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _two_layer_float32():
    """autodiff's and torch's float32 gradients of a 3000-20-1 net's cross-entropy
    (X (3000, 200)); returns ({"W1": (20, 3000), "W2": (1, 20)}, {"dW1": ..., "dW2": ...})."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, h, m = 3000, 20, 200
    X = rng.random((n, m)).astype(np.float32)
    Y = (rng.random((1, m)) > 0.5).astype(np.float32)
    W1 = (rng.standard_normal((h, n)) / np.sqrt(n)).astype(np.float32)
    W2 = (rng.standard_normal((1, h)) / np.sqrt(h)).astype(np.float32)
    T1, T2 = ag.Tensor(W1, requires_grad=True), ag.Tensor(W2, requires_grad=True)
    ag.binary_cross_entropy(ag.sigmoid(T2 @ ag.relu(T1 @ X)), Y).backward()
    t1, t2 = torch.tensor(W1, requires_grad=True), torch.tensor(W2, requires_grad=True)
    a = torch.sigmoid(t2 @ torch.relu(t1 @ torch.tensor(X)))
    torch.nn.functional.binary_cross_entropy(a, torch.tensor(Y)).backward()
    torch.testing.assert_close(torch.tensor(T1.grad), t1.grad)  # torch's float32 tolerances accept them
    return {"W1": T1.grad, "W2": T2.grad}, {"dW1": t1.grad.numpy(), "dW2": t2.grad.numpy()}


def test_correct_float32_gradients_pass_by_default():
    auto, reference = _two_layer_float32()
    assert auto["W1"].dtype == np.float32
    comparison = ag.testing.assert_gradients_close(auto, reference)
    # both right float32 results: their difference (near 1e-7, by the CPU's BLAS kernels) is float32's
    assert comparison.difference < 1.3e-6
    assert comparison.threshold == 1.3e-6 and "threshold 1.3e-06" in str(comparison)
    # the case the finding is about, made exact: 2.5e-7 apart, above float64's 1e-7, passes in float32
    g = auto["W2"].astype(np.float64)
    assert ag.compare_gradients(g.astype(np.float32), (g * (1 + 5e-7)).astype(np.float32)).passed
    assert not ag.compare_gradients(g, g * (1 + 5e-7)).passed
    # either side float32 is enough (the other float64)
    mixed = {k: v.astype(np.float64) for k, v in auto.items()}
    assert ag.compare_gradients(mixed, reference).threshold == 1.3e-6


def test_float32_default_still_catches_a_wrong_gradient():
    auto, reference = _two_layer_float32()
    wrong = dict(reference, dW2=reference["dW2"] * np.float32(1.001))  # 0.1 % off: a real bug
    with pytest.raises(AssertionError, match="W2"):
        ag.testing.assert_gradients_close(auto, wrong)


def test_float64_keeps_the_course_threshold_and_a_given_one_is_kept():
    g = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    off = g * (1 + 1e-6)  # relative difference 1e-6 / (2 + 1e-6) = 5e-7: over the course's 1e-7
    comparison = ag.compare_gradients(g, off)
    assert comparison.threshold == 1e-7 and not comparison.passed
    assert ag.compare_gradients(g.astype(np.float32), off.astype(np.float32)).passed
    assert ag.compare_gradients(g.astype(np.float32), g.astype(np.float32), threshold=1e-9).threshold == 1e-9
    assert not ag.compare_gradients(g, off, threshold=1e-7).passed
    assert ag.compare_gradients(ag.Tensor(g.astype(np.float32)), off).threshold == 1.3e-6


def _course_setting():
    """The regularization study's 3-layer net on 5 examples, L2 and dropout with fixed masks:
    autodiff's grads {"W1": ...} and the hand-written backward dict as the course's
    ``backward_propagation`` returns it: dW1 ... db3 and also dZ3, dA2, dZ2, dA1, dZ1
    ((n_l, m) intermediates; ``models.manual`` leaves them out, so zeros stand in)."""
    rng = np.random.default_rng(0)
    m = 5
    X = rng.standard_normal((2, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    P = manual.initialize_reference()
    masks = manual.reference_dropout_masks((20, 3), m, 0.8)
    auto = ag.grad(three_layer.cost)(P, X, Y, 0.7, 0.8, masks)
    A3, cache = manual.forward_propagation(X, P, keep_prob=0.8, masks=masks)
    hand = manual.backward_propagation(X, Y, cache, lambd=0.7, keep_prob=0.8)
    sizes = {1: 20, 2: 3, 3: 1}
    hand.update({f"d{kind}{l}": np.zeros((sizes[l], m)) for kind, l in
                 [("Z", 3), ("A", 2), ("Z", 2), ("A", 1), ("Z", 1)]})
    return P, auto, hand


def test_d_keys_pair_either_way_round():
    P, auto, hand = _course_setting()
    only_grads = {k: hand[k] for k in hand if k[1:] in P}
    assert set(only_grads) == {"d" + k for k in P}
    assert ag.compare_gradients(auto, only_grads).passed
    comparison = ag.testing.assert_gradients_close(only_grads, auto)  # the learner's order
    assert {c.name for c in comparison.leaves} == {"d" + k for k in P}
    broken = dict(only_grads, db1=only_grads["db1"] * 2)
    with pytest.raises(AssertionError, match="worst leaf: 'db1'"):
        ag.testing.assert_gradients_close(broken, auto)


@pytest.mark.parametrize("hand_first", [False, True])
def test_keys_without_a_partner_are_the_ones_named(hand_first):
    P, auto, hand = _course_setting()
    extra = sorted(k for k in hand if k[1:] not in P)  # the hand pass's dZ1, dA1, ... entries
    assert extra and all(k[1] in "ZA" for k in extra)
    pair = (hand, auto) if hand_first else (auto, hand)
    with pytest.raises(ValueError) as info:
        ag.compare_gradients(*pair)
    message = str(info.value)
    side = "only in actual" if hand_first else "only in expected"
    assert f"{side} {extra}" in message
    assert ("only in expected []" if hand_first else "only in actual []") in message
    for key in P:  # W1 has its dW1: never named as unmatched
        assert f"'{key}'" not in message and f"'d{key}'" not in message


def test_a_key_missing_on_the_hand_side_is_named():
    auto = {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))}
    with pytest.raises(ValueError, match=r"only in actual \['b1'\], only in expected \[\]"):
        ag.compare_gradients(auto, {"dW1": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"only in actual \[\], only in expected \['b1'\]"):
        ag.compare_gradients({"dW1": np.ones((2, 2))}, auto)


def _dropout_cost(**fixed):
    rng = np.random.default_rng(0)
    m = 5
    X = rng.standard_normal((2, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    return manual.initialize_reference(), lambda p: three_layer.cost(p, X, Y, 0.0, keep_prob=0.8, **fixed)


def test_gradcheck_refuses_fresh_dropout_masks():
    P, f = _dropout_cost()
    for check in (ag.gradcheck, lambda f, x: ag.gradcheck(f, x, fast=True), ag.gradgradcheck):
        with pytest.raises(ValueError, match="not deterministic.*dropout masks"):
            check(f, [P])


@pytest.mark.parametrize("fixed", ["rng", "masks"])
def test_gradcheck_passes_once_the_masks_are_fixed(fixed):
    kwargs = {"rng": 0} if fixed == "rng" else {"masks": manual.reference_dropout_masks((20, 3), 5, 0.8)}
    P, f = _dropout_cost(**kwargs)
    assert ag.gradcheck(f, [P]).passed


@pytest.mark.parametrize("name", ["regularization.ipynb", "deep_network.ipynb"])
def test_notebooks_use_the_installed_packages(name):
    source = (ROOT / "notebooks" / name).read_text()
    assert "StopIteration" not in source and "ROOT = next" not in source and "sys.path" not in source
    assert "from autograd_lite_models import" in source and "from models import" not in source


def test_a_copied_notebook_runs_its_setup_outside_the_checkout(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("AG_NOTEBOOK_OUT", str(tmp_path / "out"))
    copy = shutil.copy(ROOT / "notebooks" / "regularization.ipynb", tmp_path)
    notebook = nbformat.read(copy, as_version=4)
    notebook.cells = [c for c in notebook.cells if c.cell_type == "code"][:1] + [
        nbformat.v4.new_code_cell("print(ag.__name__, manual.__name__)")]
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert notebook.cells[-1].outputs[0]["text"].strip() == "autograd_lite autograd_lite_models.manual"
