"""Learning-rate schedules: plain callables ``epoch -> lr``.

Set an optimizer's ``lr`` from one before each epoch (epochs counted from 0)::

    schedule = ag.optim.lr_schedule.step(0.1, decay_rate=1.0, time_interval=1000)
    for epoch in range(num_epochs):
        opt.lr = schedule(epoch)
        ...

``exponential`` is the decay ``lr0 / (1 + decay_rate * epoch)`` (it shrinks like
1/epoch; the name is the usual one for it); ``step`` applies the same decay in
stairs, once every ``time_interval`` epochs, so a long run does not stall on a
learning rate that decays every epoch.
"""
import math
import numbers

__all__ = ["exponential", "step"]


def _real(op, name, value, *, positive):
    """``value`` as a float: a finite real number, > 0 (``positive``) or >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{op}: {name} must be > 0, got {value!r}")
    if not positive and not value >= 0:
        raise ValueError(f"{op}: {name} must be >= 0, got {value!r}")
    return value


def exponential(lr0, decay_rate):
    """The schedule ``epoch -> lr0 / (1 + decay_rate * epoch)``.

    Args:
        lr0: learning rate at epoch 0, finite and > 0.
        decay_rate: finite and >= 0 (0 keeps ``lr0``).
    Returns:
        a callable taking the epoch (a number >= 0, counted from 0) and returning the
        learning rate as a float.
    """
    op = "lr_schedule.exponential"
    lr0, decay_rate = _real(op, "lr0", lr0, positive=True), _real(op, "decay_rate", decay_rate, positive=False)

    def schedule(epoch):
        epoch = _real(op, "epoch", epoch, positive=False)
        return float(lr0 / (1 + decay_rate * epoch))

    schedule.__doc__ = f"epoch -> {lr0!r} / (1 + {decay_rate!r} * epoch)"
    return schedule


def step(lr0, decay_rate, time_interval):
    """The schedule ``epoch -> lr0 / (1 + decay_rate * floor(epoch / time_interval))``.

    Args:
        lr0: learning rate at epoch 0, finite and > 0.
        decay_rate: finite and >= 0 (0 keeps ``lr0``).
        time_interval: number of epochs between two decays, finite and > 0.
    Returns:
        a callable taking the epoch (a number >= 0, counted from 0) and returning the
        learning rate as a float; constant over each interval of ``time_interval`` epochs.
    """
    op = "lr_schedule.step"
    lr0, decay_rate = _real(op, "lr0", lr0, positive=True), _real(op, "decay_rate", decay_rate, positive=False)
    time_interval = _real(op, "time_interval", time_interval, positive=True)

    def schedule(epoch):
        epoch = _real(op, "epoch", epoch, positive=False)
        return float(lr0 / (1 + decay_rate * math.floor(epoch / time_interval)))

    schedule.__doc__ = f"epoch -> {lr0!r} / (1 + {decay_rate!r} * floor(epoch / {time_interval!r}))"
    return schedule
