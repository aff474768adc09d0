"""Optimizers: gradient descent, momentum and Adam.

Each takes the parameters (an iterable of Tensors, or a mapping name -> Tensor: a dict as
``ag.init.initialize`` and ``ag.load`` return, or any other ``collections.abc.Mapping``), reads
their ``.grad`` after ``backward()`` and updates them in ``step()``: ``p -= delta`` on the
parameter's own array when it is writable (as hand-written NumPy does: no new array per step, and the
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

``state_dict()`` and ``load_state_dict(state)`` checkpoint an optimizer: a flat dict of numbers and
arrays (which ``ag.save`` writes and ``ag.load`` reads back), from which a fresh optimizer over the
same parameters continues bit for bit as the uninterrupted run would (see ``Optimizer.state_dict``).
"""
import functools
import math
import numbers
import operator
from collections.abc import Mapping

import numpy as np

from . import lr_schedule
from .convert import listed, number_held
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
        self.name, self.slot, self.label = name, "_" + name, self.label or name

    def __get__(self, opt, owner=None):
        return self if opt is None else getattr(opt, self.slot)

    def __set__(self, opt, value):
        setattr(opt, self.slot, self.checked(type(opt).__name__, value))

    def checked(self, op, value):
        """``value`` as the float this setting takes, or the ValueError naming ``op`` and the setting."""
        return _check_rate(op, self.label, value, self.upper_open)


@functools.cache
def _settings(kind):
    """Every ``_Setting`` of optimizer class ``kind`` (``lr`` first), one per attribute name."""
    return tuple({name: value for cls in reversed(kind.__mro__) for name, value in vars(cls).items()
                  if isinstance(value, _Setting)}.values())


@functools.cache
def _rates(kind):
    """The ``_Setting`` rates (> 0) of optimizer class ``kind``: ``(slot, label)`` pairs."""
    return tuple((s.slot, s.label) for s in _settings(kind) if s.upper_open is None)


def _narrowed(array, dtype, what, remedy):
    """``array`` cast to ``dtype`` (itself if it has it), or a ValueError (``what`` names the array,
    ``remedy`` says what to do) if the cast makes a finite value infinite: the one rule for a
    gradient cast to its parameter's dtype and a loaded moment cast to its working dtype."""
    with np.errstate(over="ignore"):  # (refused below, naming the array, not warned of by NumPy)
        narrowed = array.astype(dtype, copy=False)
    if narrowed is not array and (np.isfinite(array) & ~np.isfinite(narrowed)).any():
        largest = np.abs(array[np.isfinite(array)]).max()  # (finite only: np.max of a NaN beside it is NaN)
        raise ValueError(f"{what} is {array.dtype} with values beyond {dtype}'s range (largest finite magnitude "
                         f"{largest:.4g}, {dtype} holds at most {np.finfo(dtype).max:.4g}); cast to {dtype}, it "
                         f"would be inf. {remedy}")
    return narrowed


def _count(op, name, value, least):
    """``value`` as an int if it is a whole real number >= ``least`` (``ag.load`` gives a step count
    back as a 0-d float64 array, so 5.0 is 5), else a ValueError naming ``op`` and ``name``."""
    held = number_held(value)
    whole = not isinstance(held, bool) and isinstance(held, numbers.Real)
    if whole and not isinstance(held, numbers.Integral):
        whole = math.isfinite(held) and float(held).is_integer()
    if not (whole and least <= int(held) <= 2 ** 53):  # (beyond, ag.save could not write it as a float64)
        raise ValueError(f"{op}: {name} must be a whole number from {least} to 2**53, got {value!r:.60}")
    return int(held)


def _plain(value):
    """A Tensor (``ag.load`` gives Tensors back) as its array; anything else as it is."""
    return value.data if isinstance(value, Tensor) else value


def _kind_spelled(value):
    """The class name a state_dict's ``"kind"`` entry spells (its UTF-8 bytes, as integers of any
    dtype: ``ag.load`` gives them back as float64), or None if it spells none."""
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "uif":
        return None
    if not ((value >= 0) & (value <= 255) & (value == np.round(value))).all():
        return None
    try:
        return bytes(value.astype(np.uint8)).decode("utf-8")
    except UnicodeDecodeError:
        return None


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
        params: iterable of Tensors, or mapping name -> Tensor (any shapes; a dict or any other
            ``collections.abc.Mapping``, such as ``types.MappingProxyType``). Each must be a leaf
            (made by ``ag.Tensor``, not the output of an op) and appear once.
        lr: learning rate, finite and > 0; may be changed between steps (``opt.lr = ...``),
            checked as here. A real number: an int, float, ``Fraction``, NumPy real scalar or
            0-d real ndarray (not a Tensor, a one-element array, a ``Decimal`` or a bool, as
            elsewhere in the package: pass ``float(x)``). An lr that is 0 in the dtype of a
            parameter's update (below 1.4e-45 for float32) is refused at the step.
    Attributes:
        params: the list of parameters; ``state``: one dict per parameter
            (its running arrays and, for Adam, its own step count ``"t"``), {} before its first
            step. An empty one may be filled by hand with the keys ``state_dict`` saves for it
            (``opt.state[0].update(t=5, v=v, s=s)``): the next ``step()`` or ``state_dict()``
            checks them as ``load_state_dict`` does and adds the rest (spare and scratch arrays);
        t: number of ``step()`` calls that got to commit their updates (a step refused or
            failing before it changed anything does not count).
    """

    _moments = ()       # the running arrays kept per parameter (of its shape, in its working dtype)
    _buffers = ()       # per parameter too: the spare and scratch arrays a step writes into
    _own_count = False  # whether each parameter keeps its own step count "t" (Adam's bias correction)

    def __init__(self, params, lr):
        kind = type(self).__name__
        if isinstance(params, Mapping):
            names, params = [repr(k) for k in params], list(params.values())
        else:
            if isinstance(params, Tensor):
                raise TypeError(f"{kind}: params is a single Tensor; expected a list of Tensors "
                                "or a mapping name -> Tensor (write [p])")
            params = listed(params, f"{kind}: params", "a list of Tensors or a mapping name -> Tensor")
            names = [repr(p.name) if isinstance(p, Tensor) and p.name else None for p in params]
        self._names = names
        if not params:
            raise ValueError(f"{kind}: no parameters given; expected at least one Tensor "
                             "(a list of Tensors or a mapping name -> Tensor)")
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
        self.params, self._made_with = params, tuple(params)
        self._state_size = len(self._saved) + len(self._buffers) + 2  # a stepped parameter's keys, "shape" and "dtype" too
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
            ValueError, TypeError: a ``state`` filled by hand that ``load_state_dict`` would refuse
                (a key missing or unexpected, an array of another shape or kind), naming the key.
        """
        self._check_params(type(self).__name__)
        with grad_lock:  # (not amid another thread's backward writing .grad, nor its state_dict reading state)
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
                    or state and (state.get("shape") != dp.shape or state.get("dtype") is not dp.dtype
                                  or len(state) != self._state_size)):
                if state and not self._complete(state):  # filled by hand: checked and completed before it is used
                    self._complete_hand_filled(state)
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
        return _narrowed(dp, p._array.dtype, f"{kind}: the .grad of {label}",
                         "Scale the cost down, or keep the parameter in a wider dtype")

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

    def state_dict(self):
        """A checkpoint of the optimizer: plain data (Python numbers and new NumPy arrays, never
        views of the live ones), a flat dict that ``ag.save`` writes as it is::

            "kind"        uint8 array (len(name),): the class name's UTF-8 bytes ("Adam")
            "num_params"  int: the number of parameters
            "t"           int: ``opt.t``
            "lr", ...     float: each hyperparameter by its attribute name (Momentum's "beta";
                          Adam's "beta1", "beta2", "eps")
            "<i>.t"       int: Adam's step count of parameter i (its bias correction)
            "<i>.v"       array of parameter i's shape: its running moment (Momentum, Adam)
            "<i>.s"       array of parameter i's shape: its second moment (Adam)

        in the dtype the optimizer works in for parameter i (its own; float32 for float16). A
        parameter that has not stepped yet has no ``"<i>..."`` entries. The parameters' values are
        not included: save them too (``ag.save(params, ...)``).

        Returns:
            dict str -> int, float or ndarray, as above; ``load_state_dict`` takes it back.
        """
        self._check_params(type(self).__name__ + ".state_dict")
        with grad_lock:  # (a state another thread's step() is committing: before or after it, never torn)
            for own in self.state:
                if own and not self._complete(own):
                    self._complete_hand_filled(own)
            state = {"kind": np.frombuffer(type(self).__name__.encode(), np.uint8).copy(),
                     "num_params": len(self.params), "t": self.t}
            state.update((s.name, getattr(self, s.slot)) for s in _settings(type(self)))
            for i, own in enumerate(self.state):
                if own:
                    state.update((f"{i}.{key}", own[key] if key == "t" else own[key].copy()) for key in self._saved)
        return state

    def load_state_dict(self, state):
        """Restore a checkpoint made by ``state_dict`` (directly, or through ``ag.save`` and
        ``ag.load``, whose Tensors are taken as their arrays): hyperparameters, step counts and
        running arrays, copied, so the next ``step()`` continues bit for bit as the optimizer that
        saved it would have. Restore the parameters' values separately.

        Everything is checked before anything changes (a refused state leaves the optimizer as it
        was): the same class (``"kind"``) and number of parameters, no key missing or unexpected,
        each hyperparameter by the constructor's rule, each step count a whole number (>= 1 for a
        parameter's own), each array a real floating ndarray of its parameter's shape, cast to the
        dtype the optimizer works in for that parameter (refused if a value would become infinite).

        Args:
            state: mapping str -> number or array (or 0-d / shaped Tensor), laid out as
                ``state_dict`` returns it.
        Raises:
            TypeError: ``state`` not a mapping; an array that is not a real floating ndarray.
            ValueError: another optimizer's state, another number of parameters, a missing or
                unexpected key, a refused hyperparameter or step count, an array of another
                shape or with values beyond the working dtype. Each names the optimizer and,
                for a parameter's entries, the parameter.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: state must be a mapping (as state_dict() or ag.load returns), "
                            f"got {type(state).__name__}")
        values = {key: _plain(value) for key, value in state.items()}
        self._check_params(where)
        self._check_layout(where, values)
        settings = [(s.slot, s.checked(where, values[s.name])) for s in _settings(type(self))]
        t = _count(where, "the step count 't'", values["t"], 0)
        owns = []
        for i in range(len(self.params)):
            entries = {key: values[f"{i}.{key}"] for key in self._saved if f"{i}.{key}" in values}
            owns.append(self._own_state(where, i, entries, f"{i}.{{}}".format))
        with grad_lock:  # (nothing below can fail: all or nothing; not amid another thread's step)
            for slot, value in settings:
                setattr(self, slot, value)
            self.t = t
            for own, new in zip(self.state, owns):
                own.clear()
                own.update(new)

    @property
    def _saved(self):
        """The keys of a parameter's state that ``state_dict`` saves: ``"t"`` (Adam's), then its moments."""
        return ("t",) * self._own_count + self._moments

    def _check_layout(self, where, values):
        """Refuse a state of another optimizer class or number of parameters, or with a key missing
        or unexpected at the top level (a parameter's own keys are ``_own_state``'s)."""
        kind = type(self).__name__
        spelled = _kind_spelled(values.get("kind"))
        if spelled != kind:
            what = ("has no 'kind' entry" if "kind" not in values else f"is {spelled}'s" if spelled
                    else f"has a 'kind' entry that spells no class name ({values['kind']!r:.60})")
            raise ValueError(f"{where}: the state {what}; expected what {kind}.state_dict() returns")
        top = ["kind", "num_params", "t"] + [s.name for s in _settings(type(self))]
        layout = f"{kind}.state_dict() has {', '.join(map(repr, top))}" + (
            f" and, for each parameter i that has stepped, {', '.join(f'<i>.{k}' for k in self._saved)}"
            if self._saved else "")
        missing = [key for key in top if key not in values]
        if missing:
            raise ValueError(f"{where}: the state lacks {', '.join(map(repr, missing))}; {layout}")
        count = _count(where, "the number of parameters 'num_params'", values["num_params"], 1)
        if count != len(self.params):
            raise ValueError(f"{where}: the state is of {count} parameters, but this {kind} has {len(self.params)}; "
                             "load it into an optimizer over the same parameters")
        owned = {f"{i}.{key}" for i in range(count) for key in self._saved}
        unexpected = [repr(key)[:60] for key in values if key not in top and key not in owned]
        if unexpected:
            raise ValueError(f"{where}: the state has unexpected {', '.join(unexpected)}; {layout}")

    def _own_state(self, where, i, entries, shown):
        """Parameter ``i``'s complete state (its saved entries, checked and copied, with its spare
        and scratch arrays, ``"shape"`` and ``"dtype"``) made from ``entries``, key -> value (a Tensor
        already taken as its array) for the keys of ``_saved`` present; {} when none is (a parameter that
        has not stepped). ``shown(key)`` is how a message names a key (``"0.v"`` in a state_dict)."""
        p, label, kind = self.params[i], self._label(i), type(self).__name__
        missing = [shown(key) for key in self._saved if key not in entries]
        unexpected = [shown(key) for key in entries if key not in self._saved]
        if unexpected or entries and missing:
            keeps = ", ".join(map(repr, map(shown, self._saved))) or "nothing (its only step count is opt.t)"
            wrong = (f"has unexpected {', '.join(map(repr, unexpected))}" if unexpected
                     else f"lacks {', '.join(map(repr, missing))}")
            raise ValueError(f"{where}: the state of {label} {wrong}; {kind} keeps {keeps} per parameter (all of "
                             "them, or none before its first step)")
        if not entries:
            return {}
        dtype = _working_dtype(p._array)
        own = {}
        if self._own_count:
            own["t"] = _count(where, f"the step count {shown('t')!r} of {label}", entries["t"], 1)
        for key in self._moments:
            value = entries[key]
            if isinstance(value, (np.ndarray, np.generic)):  # (an np.memmap, a NumPy scalar for a 0-d parameter)
                value = np.asarray(value)
            if type(value) is not np.ndarray or value.dtype.kind != "f":
                kind_of = type(value)  # (named in full, torch.Tensor, but for Python's own: a list)
                what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else f"a {kind_of.__qualname__}" \
                    if kind_of.__module__ == "builtins" else f"a {kind_of.__module__}.{kind_of.__qualname__}"
                raise TypeError(f"{where}: {shown(key)!r} of {label} is {what}; expected a real floating ndarray of "
                                f"the parameter's shape {p.shape} (cast to {dtype})")
            if value.shape != p.shape:
                raise ValueError(f"{where}: {shown(key)!r} of {label} has shape {value.shape}; expected the "
                                 f"parameter's shape {p.shape}")
            own[key] = np.array(_narrowed(value, dtype, f"{where}: {shown(key)!r} of {label}",
                                          f"Keep the parameter ({p.dtype}) in a wider dtype"), order="C")
        own.update((key, np.zeros_like(own[self._moments[0]])) for key in self._buffers)
        own["shape"], own["dtype"] = p.shape, p._array.dtype
        return own

    def _complete_hand_filled(self, state):
        """Check a parameter's state filled by hand (``opt.state[i].update(t=..., v=..., s=...)``, so
        without the keys a step adds) as ``load_state_dict`` checks a saved one, and complete it."""
        i = next(i for i, own in enumerate(self.state) if own is state)
        entries = {key: _plain(value) for key, value in state.items() if key not in self._buffers + ("shape", "dtype")}
        own = self._own_state(type(self).__name__, i, entries, "{}".format)
        state.clear()
        state.update(own)

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

    def _complete(self, state):
        """Whether a parameter's ``state`` holds every key a step reads (not one filled by hand)."""
        return state.keys() >= {"shape", "dtype", *self._moments, *self._buffers}

    def _check_params(self, where):
        """Refuse a ``params`` list changed in place since the optimizer was made: its state is kept
        by position, so an added, removed or replaced parameter would be skipped or take another's."""
        if len(self.params) != len(self._made_with) or not all(map(operator.is_, self.params, self._made_with)):
            raise ValueError(f"{where}: its params list was changed after it was made ({len(self._made_with)} "
                             f"parameters then, {len(self.params)} now, or one replaced); its running state is kept per "
                             "position, so make a new optimizer over the new parameters (opt.state_dict() carries "
                             "the state over when they are the same)")

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
        params: iterable of Tensors or mapping name -> Tensor.
        lr: learning rate, > 0.
    """

    def _delta(self, dp, state):  # (a new array: the step changes nothing before its commit)
        return self._lr * (dp if dp.dtype.itemsize > 2 else dp.astype(_working_dtype(dp))), None


class Momentum(Optimizer):
    """Momentum: ``v = beta v + (1 - beta) dp;  p -= lr v`` (v starts at zero).

    Args:
        params: iterable of Tensors or mapping name -> Tensor.
        lr: learning rate, > 0.
        beta: momentum coefficient in [0, 1); may be set between steps (``opt.beta = ...``),
            checked as here.
    """

    beta = _Setting(upper_open=1)  # checked when set, as lr is
    _moments, _buffers = ("v",), ("v_spare",)

    def __init__(self, params, lr, beta=0.9):
        super().__init__(params, lr)
        self.beta = beta

    def _delta(self, dp, state):
        # The new v goes into the spare array; the commit swaps the two.
        v, v_new = self._running(state, self._moments + self._buffers, dp)
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
        params: iterable of Tensors or mapping name -> Tensor.
        lr: learning rate, > 0.
        beta1, beta2: decay rates of the first and second moments, in [0, 1).
        eps: added to the denominator, finite and > 0.
        Each may be set between steps (``opt.eps = ...``), checked as here; an lr or eps that
        is 0 in the dtype of a parameter's update (below 1.4e-45 in float32, the dtype of a
        float32 or float16 parameter's) is refused at the step, before anything changes.
    """

    beta1, beta2, eps = _Setting(upper_open=1), _Setting(upper_open=1), _Setting()  # checked when set, as lr is
    _moments, _buffers, _own_count = ("v", "s"), ("v_spare", "s_spare", "scratch", "scratch2"), True

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _delta(self, dp, state):
        b1, b2 = self.beta1, self.beta2
        t = state.get("t", 0) + 1
        v, s, v_new, s_new, step, denominator = self._running(state, self._moments + self._buffers, dp)
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
