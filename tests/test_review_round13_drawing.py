"""Review 37 (drawings and formulas): operands marked on the edges (F1), a prefix function closed
before the next factor (F2), a graph recorded before an in-place update refused (F3), the
parameters that change a value shown (F6), bad primitive names and latex rules (F7).
Expected texts are written by hand."""
import re

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import latex as tex


def _leaf(name, shape=(2, 2), offset=1.0):
    return ag.Tensor(np.arange(np.prod(shape), dtype=float).reshape(shape) + offset, requires_grad=True, name=name)


# F2: a prefix function followed by another factor is closed ------------------------------------
@pytest.mark.parametrize("build, expected", [
    (lambda x, y, z, s: (y * ag.log(x)) * z, r"y \odot (\log x) \odot z"),
    (lambda x, y, z, s: ag.log(x) * z, r"(\log x) \odot z"),
    (lambda x, y, z, s: y * ag.log(x), r"y \odot \log x"),               # nothing follows: stays open
    (lambda x, y, z, s: (y @ ag.sin(x)) @ z, r"y (\sin x) z"),
    (lambda x, y, z, s: (s * ag.sum(x)) * z, r"s \cdot \left(\sum x\right) \cdot z"),
    (lambda x, y, z, s: y * (z * ag.cos(x)) * s, r"y \odot z \odot (\cos x) \cdot s"),
])
def test_a_prefix_function_inside_a_product_is_closed_before_the_next_factor(build, expected):
    x, y, z = _leaf("x"), _leaf("y", offset=5), _leaf("z", offset=9)
    s = ag.Tensor(2.0, requires_grad=True, name="s")
    assert ag.formula(build(x, y, z, s)) == expected


def test_a_dropout_of_a_product_ending_in_a_prefix_term_closes_it():
    x, y = _leaf("x"), _leaf("A1", offset=5)
    mask = np.array([[1.0, 0.0], [1.0, 1.0]])
    out = ag.dropout(y * ag.log(x), 0.5, mask=mask)
    assert ag.formula(out) == r"\frac{A^{[1]} \odot (\log x) \odot D}{0.5}"


def test_a_prefix_term_made_by_a_user_rule_is_closed_too():
    # a Term of precedence PREFIX written by hand (no tail given) is open at its end, as \log x is
    p = ag.Primitive(lambda a: np.log(a), "ln", latex=lambda t, node: tex.Term(r"\ln " + t[0].text, tex.PREFIX))
    p.defvjp(lambda g, out, a: g / a)
    x, y = _leaf("x"), _leaf("y")
    assert ag.formula(p(x) * y) == r"(\ln x) \odot y"
