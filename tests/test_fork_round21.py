"""A child forked while another thread draws from the package's default random stream can draw from it
(adv129): NumPy holds the generator's lock through a whole draw, which the child would inherit held."""
import numpy as np

import autograd_lite as ag
from autograd_lite import rng
from test_review_round12_lifecycle import _fork_while_held, needs_fork


def _draw_in_the_child():
    mask_kept = ag.dropout(ag.Tensor(np.ones((4, 5))), 0.5)  # rng=None: the default stream
    weights = ag.init.initialize([3, 2], "he")  # (initialize draws from it too)
    compiled = ag.compile(lambda x: ag.dropout(x, 0.5).sum())
    return {"dropout": set(mask_kept.data.ravel().tolist()) <= {0.0, 2.0}, "init": list(weights["W1"].shape),
            "compiled": float(compiled(ag.Tensor(np.zeros(3))).item())}


@needs_fork
def test_a_child_forked_while_another_thread_holds_the_default_streams_lock_can_draw():
    # (the holder stands for a draw: NumPy holds the lock while it fills the array)
    report = _fork_while_held(rng._default.bit_generator.lock, _draw_in_the_child)
    assert report == {"dropout": True, "init": [2, 3], "compiled": 0.0}  # (kept units scaled by 1 / 0.5)
