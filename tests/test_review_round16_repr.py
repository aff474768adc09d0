"""Round 16 (adv76, finding 3): repr() and str() of a Tensor read its values, so under ag.compile they
guard the trace as float(t), t.item() and f"{t}" do: code branching on the printed text is replayed only
while that text would be the same (it kept the traced branch). Expected values by hand."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


@pytest.mark.parametrize("show", [repr, str])
def test_a_branch_on_the_printed_value_follows_the_value(show):
    W = ag.Tensor(np.array([0.5, -0.2]), requires_grad=True)

    def cost(x):
        h = W * x
        return (h * 2).sum() if "-" not in show(h.sum()) else (h * h).sum()

    step = ag.compile(cost)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (a guard that changes may re-trace, warning once)
        for x, expected in [([1.0, 1.0], 2 * (0.5 - 0.2)), ([-1.0, 1.0], 0.25 + 0.04), ([1.0, 1.0], 0.6),
                            ([-1.0, 1.0], 0.29), ([2.0, 1.0], 2 * (1.0 - 0.2))]:
            assert float(step(ag.Tensor(np.array(x)))) == pytest.approx(expected, rel=1e-15)
