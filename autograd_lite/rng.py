"""Random streams: the one place that turns an ``rng`` argument into a generator.

Everything that draws random numbers (dropout masks, initializations, mini-batch
shuffles) takes ``rng`` as

- ``None``: the package's default ``numpy.random.Generator`` (``manual_seed`` re-seeds it);
- an int seed: a fresh ``numpy.random.default_rng(seed)``, so the same seed gives the same draws;
- a ``numpy.random.Generator``: used as is (its state advances);
- a ``numpy.random.RandomState``: used as is. This is NumPy's legacy stream, the one behind
  ``np.random.seed(1); np.random.rand(...)``; the course's published runs depend on it.

Both generator kinds offer ``random(shape)`` (uniform in [0, 1)) and
``standard_normal(shape)``, which is all the package draws with. For a
``RandomState`` those are exactly ``np.random.rand(*shape)`` and
``np.random.randn(*shape)`` of the legacy global functions.
"""
import numbers
import os

import numpy as np

_default = np.random.default_rng()
if hasattr(os, "register_at_fork"):  # NumPy holds a generator's lock through a whole draw, the GIL released:
    # a child forked while another thread drew from the default stream would find it locked for good
    os.register_at_fork(after_in_child=lambda: _default.bit_generator.lock._at_fork_reinit())


def manual_seed(seed):
    """Re-seed the default generator used wherever ``rng`` is None (an int >= 0)."""
    global _default
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: expected an int seed >= 0, got {seed!r}")
    _default = as_generator(seed, "manual_seed")  # (a negative seed: the ValueError of rng=-1)


def as_generator(rng, op="rng"):
    """``rng`` (None, int seed, Generator or RandomState) as an object with ``random``
    and ``standard_normal``; anything else is a ``TypeError`` naming ``op``."""
    if rng is None:
        return _default
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{op}: a seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{op}: rng must be None, an int seed, a numpy.random.Generator or a "
                    f"numpy.random.RandomState, got {type(rng).__name__}")
