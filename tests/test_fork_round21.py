"""A child forked while another thread draws from the package's default random stream can draw from it
(adv129): NumPy holds the generator's lock through a whole draw, which the child would inherit held."""
import threading

import numpy as np

import autograd_lite as ag
from autograd_lite import rng
from lock_state import held_by_another_thread
from test_review_round12_lifecycle import TIMEOUT, _in_child, needs_fork


def _draw_in_the_child():
    mask_kept = ag.dropout(ag.Tensor(np.ones((4, 5))), 0.5)  # rng=None: the default stream
    weights = ag.init.initialize([3, 2], "he")  # (initialize draws from it too)
    compiled = ag.compile(lambda x: ag.dropout(x, 0.5).sum())
    return {"dropout": set(mask_kept.data.ravel().tolist()) <= {0.0, 2.0}, "init": list(weights["W1"].shape),
            "compiled": float(compiled(ag.Tensor(np.zeros(3))).item())}


@needs_fork
def test_a_child_forked_while_another_thread_holds_the_default_streams_lock_can_draw():
    holding, release = threading.Event(), threading.Event()
    lock = rng._default.bit_generator.lock

    def drawing():  # (as a draw does: the lock held while NumPy fills the array)
        with lock:
            holding.set()
            release.wait(TIMEOUT)
    thread = threading.Thread(target=drawing, daemon=True)
    thread.start()
    try:
        assert holding.wait(TIMEOUT)
        assert held_by_another_thread(lock)  # the interleaving the test is about
        report = _in_child(_draw_in_the_child)
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert report == {"dropout": True, "init": [2, 3], "compiled": 0.0}  # (kept units scaled by 1 / 0.5)
