"""Round 19 (adv107 #3): Graphviz reads HTML entities even in plain labels, so a name holding one
(``W&#49;``) was drawn as another name (``W1``); names, scopes and edge labels are drawn as written."""
import html
import re
import shutil
import subprocess

import numpy as np
import pytest

import autograd_lite as ag

pytest.importorskip("graphviz")


def _drawn_texts(t):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    svg = subprocess.run(["dot", "-Tsvg"], input=ag.to_dot(t).source, capture_output=True, text=True,
                         check=True).stdout
    return [html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_entities_in_names_and_scopes_are_drawn_as_written():
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="W&#49;")
    y = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="A&lt;b&gt; & c")
    with ag.scope("s&amp;t"):
        z = ag.sum(x * y)
    texts = _drawn_texts(z)
    assert {"W&#49;", "A&lt;b&gt; & c", "s&amp;t"} <= set(texts)
    assert "W1" not in texts and "A<b>" not in texts


def test_entity_free_source_for_plain_names():
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="W1")
    assert "&amp;" not in ag.to_dot(ag.sum(x * x)).source
