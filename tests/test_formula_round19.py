"""Round 19 (adv107 #4): a tensor named 'e' or 'm' printed as the formula's own e (exp's e^{y}) and m
(the costs' 1/m), so two different expressions printed alike; such names print upright."""
import numpy as np

import autograd_lite as ag


def test_a_tensor_named_e_raised_to_y_prints_apart_from_exp():
    e = ag.Tensor(np.full((1, 3), 0.5), requires_grad=True, name="e")
    y = ag.Tensor(np.full((1, 3), 2.0), requires_grad=True, name="y")
    power, exponential = ag.formula(ag.sum(e ** y)), ag.formula(ag.sum(ag.exp(y)))
    assert power == r"\sum(\mathrm{e}^{y})" and exponential == r"\sum(e^{y})"


def test_a_tensor_named_m_prints_apart_from_the_costs_m():
    m = ag.Tensor(3.0, requires_grad=True, name="m")
    A = ag.sigmoid(ag.Tensor(np.array([[0.1, 0.2]]), requires_grad=True))
    A.name = "A3"
    text = ag.formula(ag.binary_cross_entropy(A, ag.Tensor(np.array([[1.0, 0.0]]), name="Y")) * m)
    assert text.startswith(r"\left(-\frac{1}{m}\sum") and text.endswith(r"\cdot \mathrm{m}")


def test_other_one_letter_names_stay_italic():
    x = ag.Tensor([1.0, 2.0], requires_grad=True, name="x")
    assert ag.formula(ag.sum(x * x)) == r"\sum(x \odot x)"
