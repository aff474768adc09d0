"""Round 18 (adv100): a view handed on as a result takes the version counter of the input it really
views. A compiled function's result viewing one of two arguments interleaved in one buffer (a
matrix's two columns) took the first argument's, and a primitive of your own returning its second
input took the first's when the two overlapped: an edit through the result went unseen by a graph
that read the viewed input (a silently wrong gradient; eager code and PyTorch raise)."""
import warnings

import numpy as np

import autograd_lite as ag


def _second_T(a, b):
    return b.T


def test_compile_view_result_of_interleaved_argument_is_tracked():
    # PyTorch raises "modified by an inplace operation"; eager autograd_lite and the tracing call raise too
    cf = ag.compile(_second_T)
    outcomes = []
    for _ in range(3):
        D = np.arange(8.0).reshape(4, 2)
        a, b = ag.as_tensor(D[:, 0]), ag.as_tensor(D[:, 1])
        W = ag.Tensor(np.ones(4), requires_grad=True)
        y = (b * W).sum()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = cf(a, b)
        with ag.no_grad():
            r += 100.0
        try:
            y.backward()
            outcomes.append(W.grad.tolist())
        except ag.InplaceModificationError:
            outcomes.append("refused")
    for o in outcomes:
        assert o == "refused" or o == [1.0, 3.0, 5.0, 7.0], outcomes


def test_custom_primitive_returning_second_input_shares_its_counter():
    @ag.primitive
    def second(a, b):
        return b
    second.defvjp(lambda g, out, a, b: np.zeros_like(a), lambda g, out, a, b: g)
    base = np.arange(4.0)
    a, b = ag.as_tensor(base[0:3]), ag.as_tensor(base[1:4])
    W = ag.Tensor(np.ones(3), requires_grad=True)
    y = (b * W).sum()
    r = second(a, b)
    with ag.no_grad():
        r += 100.0
    try:
        y.backward()
    except ag.InplaceModificationError:
        return
    np.testing.assert_array_equal(W.grad, [1.0, 2.0, 3.0])

