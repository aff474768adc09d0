"""Oracles and programs that only some machines have (PyTorch, Graphviz's dot): PyTorch imported on
first use, so a test that uses it absent here skips, naming it, while the rest of its file runs (the
suite's own differential tests use HIPS autograd, which the test extras install)."""
import importlib
import shutil

import pytest


class OptionalModule:
    """Module ``name``, imported when one of its attributes is first read; absent: the test skips."""

    def __init__(self, name):
        self._name = name  # (dotted names too: "torch.nn.functional")

    def __getattr__(self, attr):
        if attr.startswith("_") or attr == "pytestmark":  # (pytest's collection probes every module global)
            raise AttributeError(attr)
        try:
            module = importlib.import_module(self._name)
        except ImportError:
            pytest.skip(f"{self._name} is not installed here: this test compares against it")
        return getattr(module, attr)


torch = OptionalModule("torch")

# Graphviz's dot renders drawings (README's command 2 installs no Graphviz): a test that runs it skips without it
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed here")
