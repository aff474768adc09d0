"""Tensor: a NumPy array that remembers how it was computed. ``ops.py`` installs its operators
and array methods (``+``, ``-=``, ``@``, ``.sum()``, ``.T``); ``numpy_api.py`` the NumPy protocol
(``np.sum(t)``, ``np.asarray(t)``) and the values out (``t.item()``, ``float(t)``)."""

import numpy as np

from . import tape
from .convert import Label, is_scalar_number, new_data, own_memory, to_float_array
from .diagnostics import backward_flags, data_to_wrap, get_grad, requires_grad_of, set_grad, set_requires_grad
from .errors import GraphError, ShapeError
from .modes import current, mark_modified, share_version


class Tensor:
    """An n-dimensional float array recorded on the tape.

    Args:
        data: array-like of any shape; ints and bools become float64, float32 stays
            float32. The array is copied.
        requires_grad: whether ``backward()`` should fill ``.grad``.
        name: label used in drawings, formulas and error messages (e.g. "W1").
    """

    # Fields every op output sets are slots; rarely set ones default on the class, so only a
    # tensor that sets one (a leaf's .grad, a name, a shared version counter) gets a __dict__.
    __slots__ = ("_array", "_requires_grad", "_prim", "_parents", "_params", "_epoch", "_seq", "_scope",
                 "_grad", "__dict__", "__weakref__")
    __array_priority__ = 1000
    __hash__ = object.__hash__  # by identity, although == compares elementwise
    name = Label()  # (a str or None, checked when set)
    _retain = False   # retain_grad() was called
    _vc = None        # VersionCounter, made at the first in-place change (shared with views)
    _site = None      # the user's source line, recorded only in anomaly mode

    def __init__(self, data, requires_grad=False, name=None):
        _fill(self, to_float_array(data_to_wrap(data)), current().scope)
        set_requires_grad(self, requires_grad, "Tensor(requires_grad=...)")
        if name is not None:
            self.name = name
        tracer = current().tracer
        if tracer is not None and isinstance(data, (Tensor, np.ndarray)):
            tracer.copy_of(data, self)  # ag.compile converts it again on every replay

    @classmethod
    def _wrap(cls, array, scope=None):
        """A tensor outside the graph around ``array``: no copy, no checks."""
        return _fill(object.__new__(cls), array, current().scope if scope is None else scope)

    # --- the array ---------------------------------------------------------
    @property
    def data(self):
        """The underlying numpy.ndarray (shared, not a copy)."""
        return self._read()

    @data.setter
    def data(self, value):
        # Every assignment (``t.data -= lr * g`` ends here too) is an in-place change: it bumps
        # the version counter shared with t's views, so a stale graph is caught at backward().
        self._array = new_data(value, self._array)  # (a float array of t's shape, see new_data)
        mark_modified((self,))

    def _read(self):
        """The data, read out of the graph: while ``ag.compile`` traces, a guard on its value."""
        if current().tracer is not None:
            current().tracer.guard(self)
        return self._array

    shape = property(lambda self: self._array.shape, doc="Shape tuple of the data.")
    ndim = property(lambda self: self._array.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self._array.dtype, doc="NumPy dtype of the data.")
    size = property(lambda self: self._array.size, doc="Number of elements.")
    _version = property(lambda self: 0 if self._vc is None else self._vc.version,
                        doc="How many in-place changes the data (or a view of it) has had.")
    is_leaf = property(lambda self: self._prim is None, doc="True unless an op recorded this tensor.")

    def __repr__(self):
        extras = "".join([f", name={self.name!r}" if self.name else "",
                          f", op={self._prim.name}" if self._prim is not None else "",
                          ", requires_grad=True" if self.requires_grad else ""])
        return f"Tensor({np.array2string(self._read(), prefix='Tensor(')}{extras})"

    def detach(self):
        """A new leaf sharing the data (and its version counter), cut from the graph."""
        t = Tensor._wrap(self._array)
        share_version(self, t)
        if current().tracer is not None:
            current().tracer.copy_of(self, t)  # ag.compile repeats it on every replay
        return t

    # --- gradients ---------------------------------------------------------
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Args:
            grad: seed of self's shape; may be omitted for a single-element tensor (1.0).
            retain_graph: keep the graph so backward() can run through it again (None: create_graph).
            create_graph: record the backward pass too (.grad stays an ndarray; ag.grad nests).
        """
        retain_graph, create_graph = backward_flags(retain_graph, create_graph)
        if not self.requires_grad:
            raise GraphError("backward(): this tensor does not require grad and has no graph "
                             "(no input had requires_grad=True, or it was computed under no_grad())")
        if grad is None:
            if self._array.size != 1:
                raise GraphError(f"backward(): output of shape {self.shape} is not a scalar; pass "
                                 f"grad= of shape {self.shape} (only a single-element output gets the seed 1.0)")
            # a 0-d output's seed is a NumPy scalar: VJPs that scale by it do scalar arithmetic
            seed = self._array.dtype.type(1) if self.ndim == 0 else np.ones_like(self._array)
        else:
            seed = to_float_array(grad, "backward(grad=...)")
            if seed.shape != self.shape:
                raise ShapeError(f"backward(): grad has shape {seed.shape} but the output has shape "
                                 f"{self.shape}; they must match")
        tape.backward(self, Tensor._wrap(np.asarray(seed)) if create_graph else seed,
                      retain_graph=retain_graph, create_graph=create_graph)

    def retain_grad(self):
        """Also fill ``.grad`` of this non-leaf tensor on backward()."""
        if not self.requires_grad:
            raise GraphError("retain_grad(): this tensor does not require grad, so backward() gives it no gradient")
        self._retain = True
        return self

    def zero_grad(self):
        """Reset ``.grad`` to None."""
        self.grad = None

    grad = property(get_grad, set_grad, doc="dL/d(self) after backward(): an ndarray of its shape, or None.")
    requires_grad = property(requires_grad_of, set_requires_grad, doc="Whether backward() fills .grad (a bool).")

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place (True on any tensor, False on leaves only); returns self."""
        set_requires_grad(self, requires_grad, "requires_grad_()")
        return self


def _fill(t, array, scope):
    """``t`` (new) as a tensor outside the graph holding ``array``: every field set in one frame."""
    t._array, t._scope, t._seq, t._requires_grad = array, scope, tape.next_seq(), False
    t._prim = t._parents = t._params = t._grad = None
    t._epoch = 0
    return t


def as_tensor(value, like_dtype=None, what="as_tensor"):
    """``value`` as a Tensor (no copy for float ndarrays, unless its entries share memory: ``own_memory``).
    Python and NumPy scalars (``np.sqrt(2.0)``), bool and int arrays take ``like_dtype`` when given (they
    carry no float precision of their own), so ``2 * t32``, ``t32 / np.float64(3)`` and ``t32 * mask`` stay
    float32, as in PyTorch. ``what``: who converts it (an op's label), named if it cannot be converted."""
    if isinstance(value, Tensor):
        return value
    if type(value) is np.ndarray and value.dtype.kind == "f":
        return Tensor._wrap(own_memory(value))
    exact = is_scalar_number(value) or isinstance(value, np.ndarray) and value.dtype.kind in "biu"
    t = Tensor._wrap(to_float_array(value, what, copy=False, dtype=like_dtype if exact else None))
    if isinstance(value, np.ndarray) and current().tracer is not None:
        current().tracer.copy_of(value, t)  # a converted copy: ag.compile converts it on every replay
    return t
