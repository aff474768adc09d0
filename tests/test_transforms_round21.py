"""Transforms, round 21 (adv137): jvp inside another transform, which runs as two recorded reverse passes,
takes a constant zero tangent as a constant input (where's condition, a given mask), as at top level, and
says why a primitive with a JVP rule alone is refused there. Expected values are formulas written here."""
import numpy as np
import pytest

import autograd_lite as ag

C, A = np.array([1.0, 0.0]), np.array([2.0, 3.0])


def _masked_square(c, a):
    return ag.where(c, a * a, 0.0)


def test_a_zero_tangent_on_wheres_condition_is_taken_inside_another_transform():
    np.testing.assert_array_equal(ag.jvp(_masked_square, (C, A), (np.zeros(2), np.ones(2)))[1], [4.0, 0.0])
    # J t at y = a s along y (t = 1) is c 2 y = 2 s c a, so d/ds of its sum is 2 sum(c a)
    outer = ag.grad(lambda s: ag.jvp(_masked_square, (C, A * s), (np.zeros(2), np.ones(2)))[1].sum())
    assert outer(1.0) == pytest.approx(2 * float(np.sum(C * A)), rel=1e-14)


@pytest.mark.parametrize("nesting", ["grad", "jvp"])
def test_a_zero_tangent_on_a_given_dropout_mask_is_taken_inside_another_transform(nesting):
    mask, x = np.array([1.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0])

    def tangent(s):  # J t of sum(mask * (x s)^2 / 0.5) along the x s input, t = 1: 4 sum(mask * x s)
        return ag.jvp(lambda m, y: ag.dropout(y * y, 0.5, mask=m).sum(), (mask, x * s), (np.zeros(3), np.ones(3)))[1]
    expected = 4 * float(np.sum(mask * x))  # d/ds at s = 1
    if nesting == "grad":
        assert ag.grad(tangent)(1.0) == pytest.approx(expected, rel=1e-14)
    else:
        value, derivative = ag.jvp(tangent, (1.0,), (1.0,))
        assert value == pytest.approx(expected, rel=1e-14) and derivative == pytest.approx(expected, rel=1e-14)


def test_a_primitive_with_a_jvp_rule_alone_is_refused_inside_another_transform_saying_why():
    @ag.primitive
    def my_sin(x):
        return np.sin(x)
    my_sin.defjvp(lambda t, out, x: t * np.cos(x))
    x, v = np.array([0.5, 1.0]), np.ones(2)
    np.testing.assert_allclose(ag.jvp(my_sin, (x,), (v,))[1], np.cos(x), rtol=1e-15)  # (top level: forward mode)
    with pytest.raises(ag.GraphError, match=r"jvp inside another transform runs as two reverse passes .* by a VJP "
                                            r"\(a primitive's defvjp; .*\): op 'my_sin'"):
        ag.jvp(lambda y: ag.jvp(my_sin, (y,), (v,))[1], (x,), (v,))


def test_a_nonzero_tangent_on_wheres_condition_is_still_refused_inside_another_transform():
    with pytest.raises(ag.GraphError, match=r"op 'where'.*not differentiable with respect to input 0"):
        ag.grad(lambda s: ag.jvp(_masked_square, (C, A * s), (np.ones(2), np.ones(2)))[1].sum())(1.0)


@pytest.mark.parametrize("zero", [np.zeros(2), ag.Tensor(np.zeros(2)), np.zeros(2, dtype=bool)],
                         ids=["array", "Tensor", "bool array"])
def test_every_constant_zero_tangent_form_is_taken_inside_another_transform(zero):
    # (adv139 #3) a Tensor of zeros that requires no grad is as constant as an array of zeros
    outer = ag.grad(lambda s: ag.jvp(_masked_square, (C, A * s), (zero, np.ones(2)))[1].sum())
    assert outer(1.0) == pytest.approx(2 * float(np.sum(C * A)), rel=1e-14)
