"""The package's surface: ``__all__`` and ``dir()`` list the public names (the lazy ones too), and
``from autograd_lite import *`` brings no engine module; save's failed rename says what happened."""
import errno
import os
import types

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import serialization

LAZY = ("compile", "save", "load", "draw", "to_dot", "optim", "init")


def test_all_and_dir_list_the_public_names_and_the_lazy_ones():
    for name in (*LAZY, "Tensor", "grad", "no_grad", "formula", "pytree", "testing"):
        assert name in ag.__all__ and name in dir(ag)
    for name in ag.__all__:
        assert getattr(ag, name) is not None


def test_star_import_brings_no_engine_module():
    namespace = {}
    exec("from autograd_lite import *", namespace)
    modules = {k for k, v in namespace.items() if isinstance(v, types.ModuleType)}
    assert modules == {"pytree", "testing", "optim", "init"}
    assert {"compile", "save", "load", "Tensor"} <= set(namespace)


def test_a_failed_rename_of_a_new_file_says_none_was_created(tmp_path, monkeypatch):
    path = tmp_path / "new.npz"

    def busy(source, target):
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), source, None, target)
    monkeypatch.setattr(serialization.os, "replace", busy)
    with pytest.raises(OSError, match="no file was created, and no temporary file remains"):
        ag.save({"W": np.ones(3)}, path)
    assert os.listdir(tmp_path) == []
