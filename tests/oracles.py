"""Oracles that only some machines have (PyTorch): imported on first use, so a test that uses one
absent here skips, naming it, while the rest of its file runs (the suite's own differential tests use
HIPS autograd, which the test extras install)."""
import importlib

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
