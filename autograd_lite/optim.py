"""Optimizers: gradient descent, momentum and Adam.

Each takes the parameters (an iterable of Tensors, or a dict name -> Tensor as
``ag.init.initialize`` returns), reads their ``.grad`` after ``backward()`` and
updates them in ``step()``: ``p -= delta`` on the parameter's own array when it
is writable (as hand-written NumPy does: no new array per step, and the
parameter keeps its dtype), else into a new array. Either way the parameter's
version counter is bumped, so a graph recorded before the step and reused after
it is caught at ``backward()`` instead of giving a wrong gradient. Running
moments (momentum, Adam) live in arrays of their own, two per moment: a step
writes the new moment into the spare one and swaps them when it commits.
Parameters whose ``.grad`` is None (not reached by the last backward) are left
alone, and their step count (Adam's bias correction) does not advance.

A step runs in two phases. The first checks every gradient (a real floating
array of its parameter's shape) and computes every parameter's update without
changing any parameter, running moment or step count, so an error there (a
refused gradient, a ``FloatingPointError`` under ``np.errstate(over="raise")``,
an interrupt) leaves the optimizer and its parameters as they were. The second
commits, parameter after parameter: its moments and step count, then
``p -= delta``. Should that fail part-way (the subtraction overflowing under
``np.errstate``, an interrupt), the parameters before it keep their new values,
and every parameter the commit reached, the failing one included, has its
version bumped, so a graph recorded before the step is still refused.
A gradient of another float dtype is cast to the parameter's (refused if that makes
a value infinite), so the update and the running moments are all in the parameter's
dtype, with one exception: a float16 parameter keeps its running moments, and
computes its update, in float32 (a float16 square is 0 below 0.004 and infinite
above 256, which would make Adam's step infinite or NaN), and each step rounds the
new value to float16 once. A parameter whose dtype (or shape) changed since its
moments were made is refused: make a new optimizer. As in PyTorch, NaN or
infinite gradient *values* are not refused (that would cost a pass over every
array per step); ``ag.detect_anomaly()`` finds where they come from.

The hyperparameters (``lr``; ``beta`` of Momentum; ``beta1``, ``beta2`` and ``eps``
of Adam) may be changed between steps (``ag.optim.lr_schedule`` gives the usual
decays for ``lr``); each is checked when set, by the constructor's rule and message.
A rate (``lr``, ``eps``) so small that it is 0 in the dtype a parameter's update is
computed in (below 1.4e-45 for float32 and float16 parameters) is refused by the
step's first phase, before anything changes.
"""
import functools
import math

import numpy as np

from . import lr_schedule
from .convert import listed
from .modes import grad_lock, mark_modified, note_grad_write
from .tensor import Tensor

__all__ = ["Optimizer", "GradientDescent", "Momentum", "Adam", "lr_schedule"]


def _check_rate(op, name, value, upper_open=None):
    """``value`` as a float: a finite real number, > 0 for a rate, in [0, upper_open) for a beta
    (the schedules' rule, ``lr_schedule._real``)."""
    return float(lr_schedule._real(op, name, value, positive=upper_open is None, below=upper_open))


class _Setting:
    """A hyperparameter of an optimizer (``opt.lr``, ``opt.beta1``, ...), checked by ``_check_rate``
    whenever it is set, in the constructor or between steps, so both give the same error. A rate
    (``upper_open`` None) must be > 0, a beta in [0, ``upper_open``). Kept as ``_<name>`` on the
    optimizer, which the steps read."""

    def __init__(self, label=None, upper_open=None):
        self.label, self.upper_open = label, upper_open

    def __set_name__(self, owner, name):
        self.slot, self.label = "_" + name, self.label or name

    def __get__(self, opt, owner=None):
        return self if opt is None else getattr(opt, self.slot)

    def __set__(self, opt, value):
        setattr(opt, self.slot, _check_rate(type(opt).__name__, self.label, value, self.upper_open))


@functools.cache
def _rates(kind):
    """The ``_Setting`` rates (> 0) of optimizer class ``kind``: ``(slot, label)`` pairs."""
    settings = {name: value for cls in reversed(kind.__mro__) for name, value in vars(cls).items()
                if isinstance(value, _Setting)}
    return tuple((s.slot, s.label) for s in settings.values() if s.upper_open is None)


def _made_by_op(p):
    """Whether ``p`` is the output of a recorded op rather than a leaf."""
    is_leaf = getattr(type(p), "is_leaf", None)  # a public flag, should the Tensor grow one
    if is_leaf is not None:
        return not p.is_leaf
    return getattr(p, "_prim", None) is not None


class Optimizer:
    """Base class: holds the parameters and their per-parameter state, and runs
    the loop over them; subclasses only give the update of one parameter.

    Args:
        params: iterable of Tensors, or dict name -> Tensor (any shapes). Each must be
            a leaf (made by ``ag.Tensor``, not the output of an op) and appear once.
        lr: learning rate, finite and > 0; may be changed between steps (``opt.lr = ...``),
            checked as here. A real number: an int, float, ``Fraction``, NumPy real scalar or
            0-d real ndarray (not a Tensor, a one-element array, a ``Decimal`` or a bool, as
            elsewhere in the package: pass ``float(x)``). An lr that is 0 in the dtype of a
            parameter's update (below 1.4e-45 for float32) is refused at the step.
    Attributes:
        params: the list of parameters; ``state``: one dict per parameter
            (its running arrays and, for Adam, its own step count ``"t"``);
        t: number of ``step()`` calls that got to commit their updates (a step refused or
            failing before it changed anything does not count).
    """

    def __init__(self, params, lr):
        kind = type(self).__name__
        if isinstance(params, dict):
            names, params = [repr(k) for k in params], list(params.values())
        else:
            if isinstance(params, Tensor):
                raise TypeError(f"{kind}: params is a single Tensor; expected a list of Tensors "
                                "or a dict name -> Tensor (write [p])")
            params = listed(params, f"{kind}: params", "a list of Tensors or a dict name -> Tensor")
            names = [repr(p.name) if isinstance(p, Tensor) and p.name else None for p in params]
        self._names = names
        if not params:
            raise ValueError(f"{kind}: no parameters given; expected at least one Tensor "
                             "(a list of Tensors or a dict name -> Tensor)")
        seen = {}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{kind}: {self._label(i)} is a {type(p).__name__}; expected a Tensor "
                                "with requires_grad=True")
            if not p.requires_grad:  # (backward() never fills its .grad: it would silently stay as it is)
                raise ValueError(f"{kind}: {self._label(i)} (shape {p.shape}) does not require grad, so no "
                                 "step would ever change it; make it with requires_grad=True (or call "
                                 "p.requires_grad_()), or leave it out to keep it fixed")
            if _made_by_op(p):
                raise ValueError(f"{kind}: {self._label(i)} is the output of an op, not a leaf Tensor; "
                                 "an optimizer updates leaves (made by ag.Tensor or ag.init.initialize), "
                                 "since an op output is recomputed from them")
            first = seen.setdefault(id(p), i)
            if first != i:
                raise ValueError(f"{kind}: {self._label(i)} is the same Tensor as {self._label(first)}; "
                                 "each parameter must be listed once (else it would be updated twice "
                                 "per step)")
        self.params = params
        self.lr = lr
        self.t = 0
        self.state = [{} for _ in params]

    def _label(self, i):
        """How errors name parameter ``i``: its index, and its key for a dict (in a list, its name if it has one)."""
        return f"parameter {i}" if self._names[i] is None else f"parameter {i} ({self._names[i]})"

    lr = _Setting("learning rate lr")  # a float > 0; may be set between steps, checked when set

    def step(self):
        """Update every parameter that has a gradient (version bumped), in two phases (see the
        module's docstring): every update is computed before anything changes, so a step refused
        or failing there leaves the parameters, their running moments and step counts as they
        were; a failure while committing leaves the parameters before it updated, and every
        parameter the commit reached has its version bumped.

        Raises:
            TypeError: a ``.grad`` (or a parameter's data) that is not a real floating array
                (complex, int, bool, str, object, ...), or a parameter whose dtype changed since
                its running moments were made, naming the parameter.
            ValueError: a ``.grad`` whose shape differs from its parameter's, a ``.grad`` of a
                wider dtype holding finite values beyond the parameter's dtype (cast, they would
                be inf), or a parameter whose shape changed since its running moments were made.
            FloatingPointError: under ``np.errstate``/``np.seterr`` set to raise, an update that
                overflows (before any change) or a parameter that overflows when it is updated.
        """
        self._commit(self._prepare())

    def _prepare(self):
        """Phase 1 of ``step``: ``(p, state, delta, new_data, staged)`` for every parameter with a
        gradient, changing no parameter, running moment or step count (only spare and scratch
        arrays, whose old values nothing reads)."""
        updates = []
        for p, state in zip(self.params, self.state):
            dp = p._grad
            if dp is None:
                continue
            data = p._array
            # The cheap checks inline (the parameter's own dtype, shapes; never the values); the
            # slow path casts a grad of another float dtype to the parameter's, or explains what is wrong.
            if (type(dp) is not np.ndarray or dp.dtype is not data.dtype or dp.shape != data.shape
                    or state and (state["shape"] != dp.shape or state["dtype"] is not dp.dtype)):
                dp = self._checked_grad(p, dp, state)
            if dp.dtype.itemsize < 8:  # (a float64 holds every rate accepted: only narrower work can round one to 0)
                self._check_rates_fit(p, _working_dtype(dp))
            delta, staged = self._delta(dp, state)
            # Read-only data (an array memory-mapped read-only) gets a new array, made here so that
            # an overflow in it, too, comes before anything changes.
            new_data = None if data.flags.writeable else (data - delta).astype(data.dtype, copy=False)
            updates.append((p, state, delta, new_data, staged))
        return updates

    def _commit(self, updates):
        """Phase 2 of ``step``: each parameter's new state, then its new values. Every parameter
        reached is marked modified even when an error or an interrupt stops the loop, since a
        graph recorded before the step would otherwise be walked with the new values unnoticed."""
        self.t += 1
        reached = []
        try:
            for p, state, delta, new_data, staged in updates:
                reached.append(p)  # before the write: NumPy writes all of it before raising FloatingPointError
                if staged:
                    state.update(staged)
                    state["shape"], state["dtype"] = delta.shape, p._array.dtype
                if new_data is None:
                    data = p._array
                    data -= delta  # in place, keeping data's dtype
                else:
                    p._array = new_data  # read-only data replaced, as the Tensor.data setter would
        finally:
            mark_modified(reached)  # one clock tick for them all, as the Tensor.data setter does

    def _checked_grad(self, p, dp, state):
        """``p.grad`` as an ndarray of p's shape and dtype, or an error naming the parameter.

        A real floating grad of another dtype (float32 on a float64 parameter) is cast to the
        parameter's: PyTorch refuses it when assigned, but here ``.grad`` accepts it and backward()
        then refuses to add into it, so the step is where it is made consistent (float32 -> float64
        is exact: the step equals PyTorch's on the same grad converted to float64); a finite value
        the cast would make infinite is refused. The update and the running moments are then in the
        parameter's dtype (float32 for float16: ``_working_dtype``)."""
        kind = type(self).__name__
        label = self._label(next(i for i, q in enumerate(self.params) if q is p))
        if p._array.dtype.kind != "f":
            raise TypeError(f"{kind}: {label} holds data of dtype {p._array.dtype}; expected a real "
                            "floating array (it was set through .data?)")
        try:
            dp = np.asarray(dp)
        except Exception as error:  # an object NumPy cannot even convert
            raise TypeError(f"{kind}: the .grad of {label} is a {type(p.grad).__name__}, not an array "
                            f"({error}); expected a real floating ndarray of shape {p.shape}") from None
        if dp.dtype.kind != "f":
            what = "complex" if dp.dtype.kind == "c" else f"dtype {dp.dtype}"
            raise TypeError(f"{kind}: the .grad of {label} is {what} ({type(p.grad).__name__}); expected "
                            f"a real floating ndarray of shape {p.shape} (as backward() gives)")
        if dp.shape != p.shape:
            raise ValueError(f"{kind}: {label} has shape {p.shape} but its .grad has shape "
                             f"{dp.shape}; they must match")
        if state and state["shape"] != dp.shape:
            raise ValueError(f"{kind}: {label} changed shape from {state['shape']} to {dp.shape} "
                             "since the last step, so its running moments no longer apply; make a new "
                             "optimizer for the new parameters")
        if state and state["dtype"] != p._array.dtype:  # (the moments would round every later grad)
            raise TypeError(f"{kind}: {label} changed dtype from {state['dtype']} to {p._array.dtype} since "
                            f"the last step, so its running moments, made for a {state['dtype']} parameter, no "
                            "longer apply; make a new optimizer for the new parameters")
        with np.errstate(over="ignore"):  # (refused below, naming the parameter, not warned of by NumPy)
            narrowed = dp.astype(p._array.dtype, copy=False)
        if narrowed is not dp and (np.isfinite(dp) & ~np.isfinite(narrowed)).any():
            largest = np.abs(dp[np.isfinite(dp)]).max()  # (finite only: np.max of a NaN beside it is NaN)
            raise ValueError(f"{kind}: the .grad of {label} is {dp.dtype} with values beyond {p._array.dtype}'s "
                             f"range (largest finite magnitude {largest:.4g}, {p._array.dtype} holds at most "
                             f"{np.finfo(p._array.dtype).max:.4g}); cast to the parameter's dtype, it would "
                             "be inf. Scale the cost down, or keep the parameter in a wider dtype")
        return narrowed

    def _check_rates_fit(self, p, dtype):
        """Refuse a rate (lr, eps) that is 0 in ``dtype``, the one ``p``'s update is computed in:
        there a learning rate of 0 never moves the parameter, and an eps of 0 makes a zero gradient
        entry 0 / 0 = NaN, as the values 0 the constructor refuses would."""
        smallest = float(np.finfo(dtype).smallest_subnormal)
        for slot, label in _rates(type(self)):
            value = getattr(self, slot)
            if value <= smallest / 2:  # (rounds to 0, half by ties-to-even; no cast: a huge lr would warn)
                kind, where = type(self).__name__, self._label(next(i for i, q in enumerate(self.params) if q is p))
                raise ValueError(f"{kind}: {label} = {value!r} rounds to 0 in {dtype}, the dtype in which {where} "
                                 f"(a {p._array.dtype} parameter) is updated, so it would act as the 0 that "
                                 f"{label} > 0 refuses; use at least {smallest:.4g} ({dtype}'s smallest positive "
                                 "number), or keep the parameter in float64")

    def zero_grad(self):
        """Reset every parameter's ``.grad`` to None (before the next backward)."""
        note_grad_write()
        with grad_lock:  # once per call: not between another thread's backward reading a .grad and adding to it
            for p in self.params:
                p._grad = None

    def _delta(self, dp, state):
        """Phase 1 for one parameter: ``(delta, staged)``, what to subtract from it and the entries
        its ``state`` takes at the commit (None: no state), from its gradient ``dp``. ``state`` must
        be left as it is, but for its spare and scratch arrays (see ``_running``)."""
        raise NotImplementedError

    @staticmethod
    def _running(state, keys, dp):
        """The arrays ``keys`` of one parameter's ``state``, of ``dp``'s shape and dtype (which
        ``step`` has made the parameter's, so the moments never round a later grad to another
        dtype; float32 for a float16 parameter, see the module's docstring): new zeros on its first
        step (an empty state), which only the commit stores, so a failed first step leaves the
        state empty. The commit also sets ``state["shape"]`` and ``state["dtype"]``, the parameter's
        shape and dtype they were made for."""
        if state:
            return [state[key] for key in keys]
        return [np.zeros_like(dp, dtype=_working_dtype(dp)) for _ in keys]

    def __repr__(self):
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


def _working_dtype(dp):
    """The dtype a parameter's update and running moments are computed in: its own (``dp``'s), but
    float32 for float16, whose squares are 0 below 0.004 and infinite above 256 (module docstring)."""
    return np.dtype(np.float32) if dp.dtype.itemsize == 2 else dp.dtype


class GradientDescent(Optimizer):
    """Plain gradient descent: ``p -= lr * dp``. Updated in place, an array taken from
    ``.data`` or ``.detach()`` before the step sees the new values (copy it to keep the old
    ones).

    Args:
        params: iterable of Tensors or dict name -> Tensor.
        lr: learning rate, > 0.
    """

    def _delta(self, dp, state):  # (a new array: the step changes nothing before its commit)
        return self._lr * (dp if dp.dtype.itemsize > 2 else dp.astype(_working_dtype(dp))), None


class Momentum(Optimizer):
    """Momentum: ``v = beta v + (1 - beta) dp;  p -= lr v`` (v starts at zero).

    Args:
        params: iterable of Tensors or dict name -> Tensor.
        lr: learning rate, > 0.
        beta: momentum coefficient in [0, 1); may be set between steps (``opt.beta = ...``),
            checked as here.
    """

    beta = _Setting(upper_open=1)  # checked when set, as lr is

    def __init__(self, params, lr, beta=0.9):
        super().__init__(params, lr)
        self.beta = beta

    def _delta(self, dp, state):
        # The new v goes into the spare array; the commit swaps the two.
        v, v_new = self._running(state, ("v", "v_spare"), dp)
        dp = dp if dp.dtype is v.dtype else dp.astype(v.dtype)
        np.multiply(v, self.beta, out=v_new)
        v_new += (1 - self.beta) * dp
        return self._lr * v_new, {"v": v_new, "v_spare": v}


class Adam(Optimizer):
    """Adam with bias correction, counted per parameter as PyTorch does::

        t = this parameter's own number of steps, this one included (1 on its first)
        v = b1 v + (1 - b1) dp;   s = b2 s + (1 - b2) dp**2
        v_hat = v / (1 - b1**t);  s_hat = s / (1 - b2**t)
        p -= lr * v_hat / (sqrt(s_hat) + eps)

    A parameter's ``t`` advances only on steps where it has a gradient, so one whose
    first gradient arrives at the optimizer's sixth step is corrected with t = 1 (a
    single global count would give t = 6 and shrink its first moves tenfold).

    Every step works in the parameter's own buffers (each moment and its spare, into
    which the step writes the new moment until it commits, and two scratch arrays): no
    new array of the parameter's size per step. The formula is evaluated in PyTorch's
    order, ``s = b2 s + ((1 - b2) dp) dp`` and ``sqrt(s_hat) = sqrt(s) / sqrt(1 - b2**t)``,
    so no intermediate overflows where PyTorch's does not: ``dp**2`` is inf from
    |dp| = 1.8e19 in float32 (1.3e154 in float64), and an infinite ``s`` would make this
    and every later update of the parameter 0.

    Args:
        params: iterable of Tensors or dict name -> Tensor.
        lr: learning rate, > 0.
        beta1, beta2: decay rates of the first and second moments, in [0, 1).
        eps: added to the denominator, finite and > 0.
        Each may be set between steps (``opt.eps = ...``), checked as here; an lr or eps that
        is 0 in the dtype of a parameter's update (below 1.4e-45 in float32, the dtype of a
        float32 or float16 parameter's) is refused at the step, before anything changes.
    """

    beta1, beta2, eps = _Setting(upper_open=1), _Setting(upper_open=1), _Setting()  # checked when set, as lr is

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _delta(self, dp, state):
        b1, b2 = self.beta1, self.beta2
        t = state.get("t", 0) + 1
        v, s, v_new, s_new, step, denominator = self._running(
            state, ("v", "s", "v_spare", "s_spare", "scratch", "scratch2"), dp)
        dp = dp if dp.dtype is v.dtype else dp.astype(v.dtype)
        np.multiply(v, b1, out=v_new)
        v_new += np.multiply(dp, 1 - b1, out=step)
        np.multiply(s, b2, out=s_new)
        # ((1 - b2) dp) dp, and sqrt(s) / sqrt(1 - b2**t): PyTorch's order, overflowing only where its does
        np.multiply(dp, 1 - b2, out=denominator)
        denominator *= dp
        s_new += denominator
        np.divide(v_new, 1 - b1 ** t, out=step)                              # v_hat
        np.sqrt(s_new, out=denominator)
        denominator /= math.sqrt(1 - b2 ** t)                                # sqrt(s_hat)
        denominator += self._eps
        step *= self._lr
        step /= denominator
        return step, {"t": t, "v": v_new, "s": s_new, "v_spare": v, "s_spare": s,
                      "scratch": step, "scratch2": denominator}
