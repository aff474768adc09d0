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
import sys

from .convert import number_held

__all__ = ["exponential", "step"]


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _type_named(value):
    """``value``'s type as a refusal names it: ``str``, ``torch.Tensor of shape ()``, ..."""
    kind = type(value)
    package = kind.__module__.partition(".")[0]
    named = kind.__qualname__ if package == "builtins" else f"{package}.{kind.__qualname__}"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    return named if shape is None else f"{named} of shape {tuple(shape)} and dtype {dtype}"


def _not_a_number(op, name, value):
    """The ValueError for a ``value`` of a type not taken as a number (a Tensor, a one-element
    array, a ``Decimal``, a bool, a str): what it is, what is taken, and the number its own
    conversion (``float(x)``, else ``x.item()`` of a one-element array) gives, if any."""
    hint = ""
    for how, convert in (("float(x)", float), ("x.item()", lambda x: x.item())):
        try:
            hint = f" ({how} gives {convert(value)!r}: pass that if it is the number meant)"
            break
        except Exception:  # (whatever the object's own conversion raises: then no hint from it)
            continue
    return ValueError(f"{op}: {name} must be a finite number, got {_shown(value)} (type {_type_named(value)}), which "
                      "is not taken as a number here: expected an int, float, Fraction, NumPy real scalar or 0-d real "
                      "ndarray" + hint)


def _real(op, name, value, *, positive, below=None):
    """``float(value)`` if ``value`` is a real number that is finite as a float (10**400 is not)
    and > 0 (``positive``), >= 0, or in [0, ``below``); else ValueError naming ``op``, ``name``
    and the range, or for a value of another type (a Tensor, a one-element array, a ``Decimal``, a
    bool), that type and the ones taken. The one check of rates, betas, epochs and schedule
    arguments (optim too)."""
    wanted = f"in [0, {below:g})" if below is not None else "> 0" if positive else ">= 0"
    value = number_held(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _not_a_number(op, name, value)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int or Fraction beyond the largest float: every formula here would fail
        raise ValueError(f"{op}: {name} must be a finite number {wanted}, at most "
                         f"{sys.float_info.max:.4g} (the largest float), got {_shown(value)}") from None
    if not finite:
        raise ValueError(f"{op}: {name} must be a finite number, got {_shown(value)}")
    if not (value > 0 if positive else value >= 0) or below is not None and not value < below:
        raise ValueError(f"{op}: {name} must be {wanted}, got {_shown(value)}")
    # A Python float, so the formulas compute in float64: a NumPy float32 would make them float32
    # (NumPy 2 promotion), losing digits and overflowing/underflowing far inside the float range.
    return float(value)


def _evaluated(op, formula, epoch, term):
    """``formula()`` as a float > 0. An epoch so large that ``term`` overflows (floor(inf), an int
    beyond 1.8e308) or the rate underflows to 0.0 (which every optimizer refuses) is a ValueError
    naming it, not an OverflowError from inside the formula."""
    try:
        lr = float(formula())
    except OverflowError:
        lr = None
    if lr is None or not lr > 0:
        raise ValueError(f"{op}: epoch {_shown(epoch)} is out of range: expected {term} a finite float (at most "
                         f"{sys.float_info.max:.4g}) and the learning rate > 0 (got {'an overflow' if lr is None else lr})")
    return lr


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
        return _evaluated(op, lambda: lr0 / (1 + decay_rate * epoch), epoch, "decay_rate * epoch")

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
    if float(time_interval) < sys.float_info.min:  # 5e-324: epoch / time_interval is inf from epoch 1 on
        raise ValueError(f"{op}: time_interval must be >= {sys.float_info.min!r} (the smallest normal float; "
                         f"epoch / time_interval would overflow), got {time_interval!r}")

    def schedule(epoch):
        epoch = _real(op, "epoch", epoch, positive=False)
        return _evaluated(op, lambda: lr0 / (1 + decay_rate * math.floor(epoch / time_interval)), epoch,
                          "floor(epoch / time_interval)")

    schedule.__doc__ = f"epoch -> {lr0!r} / (1 + {decay_rate!r} * floor(epoch / {time_interval!r}))"
    return schedule
