"""Review round 15 (adv59): what a learner runs. The README's Python blocks run, in order, as a
reader pastes them; ``three_layer`` refuses parameters of another network instead of answering
from its first three layers (the reference: a plain NumPy forward pass)."""
import pathlib
import re
import shutil

import numpy as np
import pytest

import autograd_lite as ag
from models import three_layer

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
# Blocks that show a line of a larger program, not a program: named by their first line
FRAGMENTS = ("J = ag.binary_cross_entropy(A3, Y)", "step = ag.compile(cost)")


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="README's blocks draw the graph with ag.draw, which needs Graphviz's dot: not installed")
def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (they draw files into the working folder)
    monkeypatch.delenv("AUTOGRAD_LITE_DATA", raising=False)  # (the text says: the synthetic stand-in)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    skipped, namespace = [], {}
    for number, block in enumerate(blocks):
        if block.startswith(FRAGMENTS):
            skipped.append(block.split("(")[0])
            continue
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    assert len(skipped) == len(FRAGMENTS)  # a new fragment is listed on purpose
    assert set(namespace["grads"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}


def _numpy_predict(params, X):
    """Independent reference: the L-layer forward pass in plain NumPy (ReLU hidden, sigmoid out)."""
    L = len(params) // 2
    A = X
    for l in range(1, L + 1):
        Z = params[f"W{l}"].data @ A + params[f"b{l}"].data
        A = np.maximum(Z, 0) if l < L else 1 / (1 + np.exp(-Z))
    return (A > 0.5).astype(np.int64)


X = np.random.default_rng(0).normal(size=(2, 6))


def test_the_reference_forward_pass_agrees_with_three_layer_predict_on_its_own_network():
    params = ag.init.initialize([2, 20, 3, 1], rng=0)
    np.testing.assert_array_equal(three_layer.predict(params, X), _numpy_predict(params, X))


@pytest.mark.parametrize("function", ["predict", "forward", "cost"])
def test_three_layer_refuses_a_fourth_layer(function):
    params = ag.init.initialize([2, 20, 3, 1, 1], rng=0)
    call = {"predict": lambda: three_layer.predict(params, X), "forward": lambda: three_layer.forward(params, X),
            "cost": lambda: three_layer.cost(params, X, np.ones((1, 6)))}[function]
    with pytest.raises(ValueError, match=r"three_layer\.\w+: params has unexpected keys W4, b4 .*expected W1, b1, "
                                         r"W2, b2, W3, b3 \(the 3-layer network\)"):
        call()


@pytest.mark.parametrize("function", ["predict", "forward", "cost"])
def test_three_layer_names_the_missing_layer(function):
    params = ag.init.initialize([2, 5, 1], rng=0)
    call = {"predict": lambda: three_layer.predict(params, X), "forward": lambda: three_layer.forward(params, X),
            "cost": lambda: three_layer.cost(params, X, np.ones((1, 6)))}[function]
    with pytest.raises(ValueError, match=r"three_layer\.\w+: params is missing W3, b3"):
        call()


def test_three_layer_refuses_a_last_layer_of_several_units():
    params = ag.init.initialize([2, 20, 5, 3], rng=0)
    with pytest.raises(ValueError, match=r"three_layer.predict: params\['W3'\] has shape \(3, 5\); expected \(1, 5\)"):
        three_layer.predict(params, X)
