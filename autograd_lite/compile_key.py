"""What keys a trace of ``ag.compile`` (see ``replay.py``): ``call_key`` describes a call's
arguments, ``reachable`` what its function reaches besides them (closure, globals, objects,
helpers it calls), each value by what may change in it: numbers by value, Tensors and arrays
by identity (small arrays by value too; a replay checks the values of larger ones, see
``Tracer.watched``), containers, buffers and objects by what they hold (a config class or
module too), the user's code by identity. What it cannot see into (a queue) makes the call run
eagerly (``unkeyed``). Two calls with equal keys may share one trace.
"""
import _string
import abc
import argparse
import array
import collections
import collections.abc
import contextvars
import hashlib
import io
import mmap
import ctypes
import datetime
import dis
import enum
import functools
import inspect
import itertools
import logging
import math
import numbers
import queue
import site
import sys
import sysconfig
import threading
import types
import weakref

import numpy as np

from .tensor import Tensor


def call_key(args, kwargs):
    """Hashable key of a call: shapes and dtypes of inputs, values or identities of the rest.
    Keywords in the order given: a function taking ``**kwargs`` sees that order. Every string it
    sees (a keyword's name too) may name an attribute the function reads (``getattr(x, attr)``), so
    it is ``MENTIONED``; one first seen after a Tensor argument was described keys it anew."""
    known = len(MENTIONED)
    if kwargs and not MENTIONED.issuperset(kwargs):
        _mention_all(kwargs)
    key = tuple(map(describe, args, _TOP))
    if kwargs:
        key += tuple([(k, describe(v, True)) for k, v in kwargs.items()])
    arrays = [v for v in (args if not kwargs else (*args, *kwargs.values())) if isinstance(v, _ARRAY_KINDS)]
    if len(arrays) > 1:  # (which of them share memory, np.shares_memory(x.data, y.data): as when traced)
        key += (overlapping([getattr(v, "_array", v) for v in arrays]),)
    return key if len(MENTIONED) == known else call_key(args, kwargs)  # (step(x, "decay"): x.decay too)


def overlapping(arrays):
    """The pairs (i, j) of ``arrays`` whose memory may overlap (NumPy's bounds test: no element-wise search)."""
    pairs = []
    for i in range(len(arrays) - 1):
        for j in range(i + 1, len(arrays)):
            if np.may_share_memory(arrays[i], arrays[j]):
                pairs.append((i, j))
    return tuple(pairs)


def owner(array):
    """The array at the end of ``array``'s chain of bases: the one owning the memory (NumPy keeps a view's
    ``base`` the owner), or one over memory of another kind (``np.frombuffer``: its base is no array)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


_ARRAY_KINDS = (np.ndarray, Tensor)
_TOP = itertools.repeat(True)  # describe(argument, top=True) for each argument, in map()
# Exact types, each told by one set lookup. A container's Tensors and arrays are keyed by identity
# without a call each; _PLAIN values are no Tensor, array or container (isinstance would also
# look up their __class__).
_ARRAYS, _CONTAINERS = frozenset([Tensor, np.ndarray]), frozenset([dict, list, tuple])
_TENSORS = frozenset([Tensor])
_SCALARS = frozenset([float, int, bool, str, type(None), type(Ellipsis)])  # (Ellipsis: np.index_exp[..., 1])
# (their subclasses too: OrderedDict, namedtuple, ChainMap, a mapping proxy, UserDict, WeakSet)
_SEQUENCES = (dict, list, tuple, collections.deque, collections.abc.Set, collections.abc.Mapping, array.array,
              collections.UserList, collections.abc.ValuesView)
# what holds its values as bytes, the user's subclasses too (a ctypes Structure's fields are no attributes)
_BUFFERS = (bytearray, memoryview, ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array,
            ctypes._Pointer)
# the library's plain holders of values (a threading.local: what this thread set on it)
_NAMESPACES = (types.SimpleNamespace, argparse.Namespace, threading.local)
_PLAIN = _SCALARS | {types.FunctionType, types.BuiltinFunctionType, np.random.Generator}


def describe(value, top=False, depth=0, seen=None):
    """``value`` as part of a key: numbers and strings by type and value; a Tensor or array
    by shape, dtype (and a Tensor's requires_grad, name and is_leaf) at the top level, else by
    identity (a small array by its values too); containers, and objects of the user's classes
    by their own attributes (``__dict__``, ``__slots__``), by what they hold (and their own
    identity below the top); the user's classes and modules by the data they hold and their code
    (``_namespace_key``), the user's functions by identity and what they reach, methods by function
    and object; buffers by their bytes; installed code's other objects as ``_library_key`` says. ``seen``, a
    dict, gets {id: object} of everything the key holds by identity (a trace keeps them alive,
    so no new object can take their ids), of the random generators in it and of the functions that
    found what its objects and functions reach (``_reach_of``: cached weakly, the trace keeps them)."""
    kind = type(value)
    if kind in _SCALARS:  # by type too: 1, 1.0 and True are equal keys otherwise; -0.0 by its sign
        if kind is str and value not in MENTIONED:  # (getattr(x, attr) with attr="decay" held here)
            _mention_text(value)
        return (kind, value) if value or kind is not float else (kind, value, math.copysign(1.0, value))
    if kind in _PROXIES:  # (first: isinstance reads a proxy's __class__, a dead one's raises)
        return _proxy_key(value, seen)
    if kind in _ARRAYS or kind not in _PLAIN and isinstance(value, (Tensor, np.ndarray)):
        return _array_key(value, kind, top, seen)
    if (kind in _CONTAINERS or kind not in _PLAIN and isinstance(value, _SEQUENCES)) and depth < 8:
        return _container_key(value, kind, top, depth, seen)
    if isinstance(value, str):  # (a str subclass, np.str_: getattr reads its characters)
        _mention_all((value,))
    if kind in _CODE or kind in _BOUND_BUILTINS and not isinstance(value.__self__, _UNCHANGING_OWNERS):
        return _code_key(value, depth, seen)
    if isinstance(value, weakref.ref):  # (not by value: its == compares the referents, Tensors too)
        return _weak_key(value, depth, seen)
    if isinstance(value, (np.random.Generator, np.random.RandomState, collections.abc.Iterator)):
        return ("id", _held(value, seen))  # (an iterator is refused by the tracer: a replay cannot advance it)
    if isinstance(value, np.floating) and not value:
        return (kind, value, math.copysign(1.0, value))
    if isinstance(value, (type, types.ModuleType, *_BUFFERS)):  # (a config class or module: cost(x, Hyper))
        return _buffer_key(value, seen) if isinstance(value, _BUFFERS) else _namespace_key(value, depth, seen)
    if isinstance(value, enum.Enum):  # (a constant, by identity: not its attributes or its class's tables)
        return (kind, _held(value, seen))
    # an object holding values, of the user's classes (a model, a layer) or a SimpleNamespace; a
    # library's other objects (a logger, a primitive, an optimizer) see _library_key
    expand = kind not in _PLAIN and depth < 8 and (kind in _NAMESPACES or not _library(kind))
    attributes = _attributes(value) if expand else None
    if attributes is not None:  # (with the values its class holds for it: cfg.scale set in the class body)
        pairs = [*attributes, *_class_data(kind)]  # (by name too: getattr(opts, "shift", 0.0) branches on it)
        own = tuple([describe(v, False, depth + 1, seen) for _, v in pairs])
        # an argument (a model), or an object a list or dict argument holds: what its methods reach
        # too (class attributes, globals, helpers; deeper objects are followed from their holder's)
        return (kind, _held(value, seen), tuple([k for k, _ in pairs]), own,
                _reach_of(value, True, seen)(seen, depth + 1) if top or depth == 1 else ())
    if depth < 8 and _library(kind):
        return _library_key(value, kind, depth, seen)
    if depth >= 8 and not _frozen(value):  # (by identity, a change inside it would go unseen)
        return _unkeyed(value, seen, f"reads a {kind.__qualname__} nested more than 8 levels deep in what it is "
                        "given or reaches, which the compile key does not follow, so a replay could not tell if "
                        "what it holds changed. Flatten it, or pass the values the function needs as arguments")
    try:  # (by value if hashable, the strings it holds mentioned, else by identity)
        key = (kind, value, hash(value))
        if isinstance(value, (tuple, frozenset)):
            _mention_all(value)
        return key
    except TypeError:
        return ("id", _held(value, seen))


def _container_key(value, kind, top, depth, seen):
    """``describe`` of a dict, list, tuple or other container: what it holds, its keys (a mapping's),
    and below the top its identity."""
    mapping = kind is dict or isinstance(value, collections.abc.Mapping)
    members = value.values() if kind is dict else list(value.values()) if mapping else value
    if _TENSORS.issuperset(map(type, members)):  # (a dict of parameters: no call per tensor)
        inner = tuple(map(id, members))
        if seen is not None:
            seen.update(zip(inner, members))
    else:
        inner = tuple([describe(v, False, depth + 1, seen) for v in members])
    keys = tuple(value) if mapping else None
    if mapping and not MENTIONED.issuperset(keys) and keys not in _KEYS_MENTIONED:  # (for k in cfg: getattr(x, k))
        _mention_all(keys)
        if len(_KEYS_MENTIONED) > 1024:  # (a bound, for programs whose keys never repeat)
            _KEYS_MENTIONED.clear()
        _KEYS_MENTIONED.add(keys)  # (their strings stay mentioned: {(i, j): v} is not walked on every call)
    return (kind, None if top else _held(value, seen), keys, inner)


def _namespace_key(holder, depth, seen):
    """A class or module used as a value (an argument, a default, a model's class attribute ``cfg =
    Hyper``; a class also as an entry of a list or dict argument): the user's by all the data it holds
    and its code, as a load of one used as a value keys it (``_follow_namespace``: the reach of the
    holder); installed code's (``np``) by identity, and so is one held deeper, a module in a container
    too: ``sys.modules`` holds every module of the program (whose data may run code when read, as
    matplotlib's ``rcParams`` imports pyplot)."""
    if depth > 0 and not isinstance(holder, type) or _library_code(holder):
        return (type(holder), holder)
    if depth >= 8:  # (by identity, a changed class attribute would go unseen)
        return _unkeyed(holder, seen, f"reads a class ({holder.__qualname__}) nested more than 8 levels deep in "
                        "what it is given or reaches, which the compile key does not follow, so a replay could "
                        "not tell if what it holds changed. Pass the values the function needs as arguments")
    if depth > 1:  # (its data, not its methods' reach: a class in a list in a dict, {"cfgs": [Hyper]})
        data = _class_data(holder)
        return (type(holder), holder, tuple([k for k, _ in data]),
                tuple([describe(v, False, depth + 1, seen) for _, v in data]))
    return (type(holder), holder, _reach_of(holder, True, seen)(seen, depth + 1))


def _library_key(value, kind, depth, seen):
    """An object of installed code that is no container, namespace, buffer or code: by value when
    its class compares by value (``_by_value``); by what it holds when the key can see all of it: a
    ContextVar by its value in this context, a buffer (an mmap) by a digest of its bytes, an object
    with a ``__dict__`` (a logger, a SciPy distribution) by its attributes, each described as any value
    is (numbers, containers, nested objects alike; a NumPy generator watched by the tracer). Where
    threads meet (a lock, an event) by identity; a file or stream it writes to by identity too, as a
    file the function reads is taken as traced. What holds state the key cannot read (a queue, a
    pipe, ``random.Random``, a torch tensor: state in C fields, the operating system or an array) is
    ``_Unkeyed``: a call reaching it runs eagerly, with a warning."""
    if kind is contextvars.ContextVar:
        return (kind, value, describe(_context_value(value), False, depth + 1, seen))
    if kind is slice:  # (unhashable before Python 3.12, yet a value)
        return (kind, *[describe(v, False, depth + 1, seen) for v in (value.start, value.stop, value.step)])
    if isinstance(value, (queue.Queue, queue.SimpleQueue)):
        return _unkeyed(value, seen, f"takes from a {kind.__name__} (or reads one): a replay could not take "
                        "from it again. Take the items outside and pass them in")
    if _by_value(kind) and _hashable(value) and _equals_itself(value):
        return (kind, value)
    if isinstance(value, logging.Logger):  # (code may branch on log.isEnabledFor(level): its level keys it)
        return ("logger", _held(value, seen), value.getEffectiveLevel(), value.disabled)
    if kind.__module__ in _SYNCHRONIZING or isinstance(value, io.IOBase):
        return ("id", _held(value, seen))
    try:  # (an mmap, another buffer)
        return _buffer_key(value, seen)
    except TypeError:
        pass
    hidden = _hidden_state(value, kind)
    own = _own_attribute(value, None) if hidden is None else None
    if kind.__module__.startswith("autograd_lite.") and own is not None:  # (a primitive, optimizer, schedule)
        return ("id", _held(value, seen)) if callable(value) else \
            (kind, _held(value, seen), tuple([(k, describe(v)) for k, v in own.items() if type(v) in _SCALARS]))
    if own is not None and not callable(value) and not any(
            isinstance(v, np.ndarray) and v.size > 16 for v in own.values()):  # (a large array: not watched here)
        return (kind, _held(value, seen), tuple(own), tuple([describe(v, False, depth + 1, seen) for v in own.values()]))
    return _unkeyed(value, seen, f"reads a {kind.__module__}.{kind.__qualname__} object, "
                    f"{hidden or 'which the compile key can hold only by identity (no value, container, buffer or object of plain attributes)'}"
                    ", so a replay could not tell if what it holds changed. Pass what the function needs from it "
                    "as arguments (arrays, numbers)")


def _frozen(value):
    """Whether ``value`` can never change: a number (NumPy's, a Fraction, a Decimal), string, bytes,
    dtype, Enum member, range, date or time, or a tuple (a namedtuple too), frozenset or slice of such
    at any depth (a loop, not recursion). Below the depth ``describe`` follows, only such a value is
    keyed (by value); anything else makes the call run eagerly."""
    pending = [(value,)]
    while pending:
        for v in pending.pop():
            if isinstance(v, (tuple, frozenset)):
                pending.append(v)
            elif isinstance(v, slice):
                pending.append((v.start, v.stop, v.step))
            elif not (type(v) in _SCALARS or isinstance(v, _CONSTANTS)):
                return False
    return True


_CONSTANTS = (numbers.Number, str, bytes, np.generic, np.dtype, enum.Enum, range, datetime.date, datetime.time,
              datetime.timedelta)


def _hashable(value):
    """Whether ``value`` hashes by value: not by its identity, as ``tqdm``'s ``__hash__`` does."""
    try:
        return hash(value) not in (id(value), object.__hash__(value))
    except TypeError:
        return False


def _equals_itself(value):
    try:  # (a bool: an array-like's == gives an array; NaN-like values fall to their attributes)
        return (value == value) is True
    except Exception:  # (any error of installed code's __eq__: not a value then)
        return False


@functools.lru_cache(maxsize=1024)
def _by_value(kind):
    """Whether objects of ``kind`` compare by value: it defines ``__eq__`` and ``__hash__`` other than
    object's, and its ``==`` gives a bool (not so torch.Tensor's, whose ``__hash__`` is its identity;
    tqdm's hash is its identity too: no ``__eq__``)."""
    if kind.__eq__ is object.__eq__ or kind.__hash__ in (object.__hash__, None):
        return False
    return not any(hasattr(kind, name) for name in _ARRAY_LIKE)


_ARRAY_LIKE = ("__array__", "__dlpack__", "__array_interface__")  # (a torch.Tensor: == gives an array)


def _hidden_state(value, kind):
    """Why ``value`` (of installed code) holds state its attributes do not show, or None: in C fields
    (``random.Random``, an mmap, a queue's lock-free deque), in an array (a torch.Tensor), in the
    operating system (a pipe's connection: ``fileno``)."""
    if any(hasattr(kind, name) for name in _ARRAY_LIKE):
        return "which holds an array the compile key cannot hold (pass it as a NumPy array)"
    if _c_fields(kind):
        return "which holds its state in C fields the compile key cannot read (a random generator, a queue)"
    if callable(getattr(value, "fileno", None)):
        return "which reads from the operating system (a pipe, a process's queue): a replay could not read again"
    return None


@functools.lru_cache(maxsize=1024)
def _c_fields(kind):
    """Whether objects of ``kind`` are bigger than a Python class's with its ``__slots__`` (which
    ``_attributes`` reads) makes them: a C type among its bases holds state of its own."""
    slots = sum(len((names,) if isinstance(names, str) else names)
                for names in (cls.__dict__.get("__slots__", ()) for cls in kind.__mro__[:-1]))
    return kind.__basicsize__ - 8 * slots > _PLAIN_SIZE


_PLAIN_SIZE = type("Plain", (), {}).__basicsize__  # (an object with a __dict__ and weak references)
# where threads meet (threading.Event, Condition, Semaphore, Thread, a lock, a pool, a future): by identity; their state
# changes as threads meet (a function setting an event would change its own key on every call)
_SYNCHRONIZING = frozenset(["threading", "_thread", "asyncio.locks", "multiprocessing.synchronize",
                            "concurrent.futures.thread", "concurrent.futures.process", "concurrent.futures._base",
                            "logging"])  # (and loggers, handlers: what they write is a side effect, as print's)


def _context_value(var):
    try:
        return var.get()
    except LookupError:  # (not set in this context, no default)
        return _UNSET


_UNSET = object()  # (a ContextVar not set in this context, without a default)


def _buffer_key(value, seen):
    """A buffer (bytearray, memoryview, ctypes data, mmap) by a digest of the bytes it holds now (not a
    copy: a trace keeps its key), an mmap by its read position too: writable, or a read-only view of
    memory written elsewhere, it may change in place. What holds an address (a ctypes pointer, a
    structure or array with one, ``c_void_p``, ``c_char_p``) is ``_Unkeyed``: its target is no part of
    its bytes. A closed mmap or released view by identity (a function cannot read it). TypeError for
    an object without a buffer."""
    if isinstance(value, _CTYPES) and _holds_address(type(value)):
        return _unkeyed(value, seen, "reads through a ctypes pointer, whose target the compile key cannot hold, "
                        "so a replay could not tell if it changed. Pass the values in as arguments")
    try:
        view = memoryview(value)
        position = value.tell() if isinstance(value, mmap.mmap) else None
    except ValueError:  # (closed, released)
        return ("id", _held(value, seen))
    with view:
        digest = hashlib.blake2b(view if view.c_contiguous else view.tobytes()).digest()
        return (type(value), view.format, view.shape, position, digest)


_CTYPES = (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._Pointer)


@functools.lru_cache(maxsize=256)
def _holds_address(ctype):
    """Whether a ctypes type holds an address: a pointer, ``c_void_p``/``c_char_p``/``c_wchar_p`` (or a
    function pointer), or a structure, union or array with one among its fields."""
    if issubclass(ctype, (ctypes._Pointer, ctypes._CFuncPtr)):
        return True
    if issubclass(ctype, ctypes._SimpleCData):
        return ctype._type_ in ("P", "z", "Z", "O")
    if issubclass(ctype, ctypes.Array):
        return _holds_address(ctype._type_)
    fields = [field[1] for cls in ctype.__mro__ for field in cls.__dict__.get("_fields_", ())]
    return any(_holds_address(field) for field in fields)


class _Unkeyed:
    """What the key cannot see into (a queue, an unhashable object of installed code), put among
    what it holds by identity with ``reason``: the tracer then runs the call eagerly (``unkeyed``)."""

    def __init__(self, value, reason):
        self.value, self.reason = value, reason


def _unkeyed(value, seen, reason):
    if seen is not None:
        marker = _Unkeyed(value, reason)
        seen[id(marker)] = marker
    return ("unkeyed", _held(value, seen))


def unkeyed(held):
    """Why a call whose key holds ``held`` (by identity: ``describe``'s ``seen``) cannot be replayed,
    or None: it takes or reads an iterator, which a replay could not advance, or what the key
    cannot see into (``_Unkeyed``)."""
    for v in held:
        if type(v) is _Unkeyed:
            return v.reason
        if type(v) not in _PROXIES and isinstance(v, collections.abc.Iterator) and not _written_only(v):
            return f"takes an iterator (a {type(v).__qualname__}, or reads one): a replay could not advance it"
    return None


def _written_only(stream):
    """Whether ``stream`` is a file or stream no one can read from (``sys.stderr``, a log file opened "w", a
    logger's handler's): writes to it are side effects a replay skips, as a ``print``'s."""
    try:
        return isinstance(stream, io.IOBase) and not stream.closed and not stream.readable()
    except (ValueError, OSError):  # (a stream whose readable() raises: taken as read)
        return False


_PROXIES = frozenset([weakref.ProxyType, weakref.CallableProxyType])
_CODE = frozenset([types.FunctionType, types.MethodType, functools.partial])
_BOUND_BUILTINS = frozenset([types.BuiltinMethodType, types.MethodWrapperType])  # (a C method bound to an object)
_UNCHANGING_OWNERS = (types.ModuleType, type, np.ufunc, types.NoneType)  # (len, dict.fromkeys, np.add.reduce)


def _proxy_key(proxy, seen):
    """A ``weakref.proxy``: its referent cannot be had from it, so the key cannot see what it holds
    (``_Unkeyed``); a dead one by identity (any use of it raises ReferenceError, as it does eagerly)."""
    try:
        referent = proxy.__class__
    except ReferenceError:  # (held in a tuple: what reads the key's objects would touch the proxy's __class__)
        return ("dead proxy", id(proxy), _held((proxy,), seen))
    return _unkeyed(proxy, seen, f"reads through a weakref.proxy to a {referent.__module__}.{referent.__qualname__} "
                    "object, whose referent the compile key cannot hold, so a replay could not tell if what it "
                    "holds changed. Pass the object itself")


def _array_key(value, kind, top, seen):
    """A Tensor or array: an argument by shape, dtype and class, as an input (a Tensor also by
    requires_grad, name, leafness and the attributes set on it: code may branch on x.name, x.is_leaf,
    getattr(x, "decay", 1.0); a captured one's name and attributes are checked on every replay, see
    ``Tracer.labelled``), else by identity, a small one by its values too (it may be read as a number:
    float(A))."""
    if top:
        if isinstance(value, Tensor):
            return ("T", value._array.shape, value._array.dtype, value.requires_grad, value.name,
                    value._prim is None, kind, tensor_fields(value, seen))
        return ("A", value.shape, value.dtype, kind)
    small = kind is not Tensor and not isinstance(value, Tensor) and value.size <= 16  # (a Tensor subclass's too)
    return (_held(value, seen), value.tobytes()) if small else _held(value, seen)


# What the engine keeps in a Tensor's ``__dict__`` (convert.Label's name, the version counter, retain_grad's
# flag, anomaly mode's source line, an unrecorded sigmoid's logits); anything else there is the user's
ENGINE_FIELDS = frozenset(["name", "_vc", "_retain", "_site", "_logits", "_born"])


def tensor_fields(t, seen=None):
    """The attributes the user set on Tensor ``t`` (``t.decay = 0.5``) that the user's code a compile key
    followed may read (``MENTIONED``: named in that code, or by a string a key held), each described for a
    key; () for none, told without a call per field (most tensors hold only the engine's fields, if any).
    Optimizer state kept on a parameter (``p.v = 0.9 * p.v + ...``) that no compiled code mentions changes
    no key."""
    own = t.__dict__
    if ENGINE_FIELDS.issuperset(own):
        return ()
    every = not _BY_NAME.isdisjoint(MENTIONED)  # (code reading p.__dict__ or vars(p) may read any of them)
    return tuple([(k, describe(v, False, 2, seen)) for k, v in own.items()
                  if k not in ENGINE_FIELDS and (every or k in MENTIONED or len(k) > _NAME_LIMIT)])


# The names the user's code that a reach followed mentions (``_mention``) and every string a key saw
# (``describe``: an argument, a default, a closure cell, a global, an object's field, a container's
# keys and values, a str subclass's or np.str_'s characters too), of every compiled function: only ever
# added to, so a name keys a trace from the time code that could read it was followed or a key held it
# (a name another function mentions keys more, never less). Code reading an object's __dict__ may read
# any. Only strings of at most _NAME_LIMIT characters are kept (a new log line on every call would
# otherwise be kept for good): a Tensor attribute of a longer name keys every trace (``tensor_fields``).
MENTIONED, _BY_NAME = set(), frozenset(["__dict__", "vars"])
_NAME_LIMIT = 64
_KEYS_MENTIONED = set()  # mappings' key tuples whose strings are in MENTIONED (tuple keys, int keys)


def _mention(code):
    """Add to ``MENTIONED`` what ``code`` (and the functions and comprehensions inside it) may read an
    attribute by: the names it loads (``p.decay``, co_names) and its string constants
    (``getattr(p, "decay", 1.0)``, ``("decay", "scale")``, ``"{0.decay}"``). A name made at run time
    is not seen."""
    MENTIONED.update(code.co_names)
    for const in code.co_consts:
        if type(const) is str:
            _mention_text(const)
        elif isinstance(const, (tuple, frozenset)):
            _mention_all(const)
        elif isinstance(const, types.CodeType):
            _mention(const)


def _mention_all(values):
    """Mention each string among ``values`` (a str subclass's characters too) and in the tuples and
    frozensets they hold at any depth (a dict's key ``("decay", "scale")``): hashable, so fixed once made."""
    pending = [values]  # (a loop, not recursion: a key nested a thousand tuples deep is no error)
    while pending:
        for value in pending.pop():
            if isinstance(value, str):
                text = str.__str__(value)  # (exactly its characters: a subclass's __str__ or __eq__ may differ)
                if text not in MENTIONED:
                    _mention_text(text)
            elif isinstance(value, (tuple, frozenset)):
                pending.append(value)


def _mention_text(text):
    """Add the string ``text`` to ``MENTIONED`` if it is at most ``_NAME_LIMIT`` characters long, and,
    for a format string, the attributes its fields read (``"{0.decay:{1.width}}".format(x, y)`` reads
    ``x.decay`` and ``y.width``)."""
    if len(text) <= _NAME_LIMIT:
        MENTIONED.add(text)
    if "{" in text:
        MENTIONED.update([name for name in _format_attributes(text) if len(name) <= _NAME_LIMIT])


def _format_attributes(text, depth=0):
    """The attribute names the replacement fields of format string ``text`` read, as ``str.format``
    parses them (``_string``, which ``string.Formatter`` uses), those of a nested format spec too;
    those before a malformed field (``str.format`` reads them before it raises). ``str.format`` reads
    fields nested two deep, ``string.Formatter`` three; a deeper one (``"{0:" * 1000``) is read by neither,
    yet a formatter of one's own might: then every attribute keys (``"__dict__"``, as ``vars(x)`` does)."""
    if depth == 3:
        return ["__dict__"]
    found = []
    try:
        for _, field, spec, _ in _string.formatter_parser(text):
            if field is not None:
                found += [name for is_attribute, name in _string.formatter_field_name_split(field)[1] if is_attribute]
            if spec and "{" in spec:
                found += _format_attributes(spec, depth + 1)
    except ValueError:  # (not a format string: "{" alone, "{0.}")
        pass
    return found


def _weak_key(ref, depth, seen):
    """A weak reference by what it refers to (a helper), but for a Tensor or array: the key cannot
    see one read through it, so the call runs eagerly with a warning (README), whichever weak
    reference finds it."""
    target = ref()
    opaque = isinstance(target, (Tensor, np.ndarray))
    return (type(ref), None if opaque else describe(target, False, depth + 1, seen))


def _class_data(kind):
    """(name, value) of each value the user's class ``kind`` (and its bases of the user's code) holds
    for its objects to read (``scale = 2.0`` in the class body): neither code nor a descriptor."""
    return [(name, member) for cls in kind.__mro__[:-1] if not _library(cls) for name, member in cls.__dict__.items()
            if not name.startswith("__") and not _fixed(member) and not hasattr(type(member), "__get__")]


def _held(value, seen):
    if seen is not None:
        seen[id(value)] = value
    return id(value)


def _code_key(value, depth, seen):
    """A function (what it reaches too, for the user's), method or partial given as a value."""
    if type(value) in _BOUND_BUILTINS:  # (cfg.get, items.__getitem__, big.sum: they read their object)
        return (type(value), value.__name__, describe(value.__self__, False, depth + 1, seen))
    if type(value) is functools.partial:  # (its bound values as arguments are: a config class by its data)
        parts = (value.func, *value.args, tuple(value.keywords), *value.keywords.values())
    elif type(value) is types.MethodType:  # (its object as an argument: by what its methods reach)
        parts = (value.__func__, value.__self__, _reach_of(value.__self__, True, seen)(seen, depth + 1))
    elif _library_code(value):
        return ("id", _held(value, seen))
    elif depth >= 8:  # (by identity, a global or closure it reads could change unseen)
        return _unkeyed(value, seen, f"calls a function ({getattr(value, '__qualname__', value)}) nested more "
                        "than 8 levels deep in what it is given or reaches, which the compile key does not follow, "
                        "so a replay could not tell if what it reads changed. Pass it closer to the top")
    else:
        return _function_key(value, depth, seen)
    return (type(value), tuple([describe(v, False, depth + 1, seen) for v in parts]))


def _function_key(fn, depth, seen):
    """A function of the user's given as a value: by identity and what it reaches; one already being
    described further up (a registry of functions that look each other up in it) by identity alone, as
    its reach is in the key there, so a cycle ends at once rather than at the depth limit."""
    active = _DESCRIBING.__dict__.setdefault("functions", set())
    if id(fn) in active:
        return ("fn", _held(fn, seen), "described above")
    active.add(id(fn))
    try:
        return ("fn", _held(fn, seen), _reach_of(fn, False, seen)(seen, depth=depth + 1))
    finally:
        active.discard(id(fn))


_DESCRIBING = threading.local()  # (this thread's functions being described: each call's key is made in one thread)


def _reach_of(value, methods, seen):
    """``reachable(value, methods)`` (all the methods of an object: an argument, a bound method's
    object; a function given as a value), found once per value (by identity: equal objects may hold
    different attributes) while a trace keyed by it lives. The reach holds ``value`` (its closure,
    what it found), so the cache holds both weakly, and ``seen`` (what a trace keeps) the reach:
    once the last trace holding ``value`` is gone (evicted, its compiled function deleted), both
    are freed; a call with ``value`` then traces anew anyway (a key holds it by identity)."""
    key = (id(value), methods)
    found = _REACHES.get(key)
    reach = found[1]() if found is not None and found[0]() is value else None
    if reach is None:
        reach, cache = reachable(value, methods), _REACHES
        try:  # (the callback holds the dict itself: at exit the module's names may be gone first)
            cache[key] = (weakref.ref(value, lambda _: cache.pop(key, None)), weakref.ref(reach))
        except TypeError:  # (no weak reference: found anew on each call)
            pass
    if seen is not None:
        seen[id(reach)] = reach
    return reach


_REACHES = {}  # (id(value), methods) -> (a weak reference to value, one to its reachable())


def reachable(fn, methods=False):
    """A function ``reached(seen=None, depth=0)`` listing what calling ``fn`` reaches besides its
    arguments, each described for the key (see ``describe``): the closure cells, default values
    and globals it loads, the attributes it reads straight off one of those (``mod.W``,
    ``Holder.scale``), the attributes a method or callable object reads off its own object, and
    the same for every function of the user's code it reaches (helpers it calls, methods,
    properties, methods of the objects it holds)."""
    plan = None  # see _plan: followed anew when what it found changed
    if isinstance(fn, types.FunctionType) and not _library_code(fn):  # (its own names now: a call's key
        _mention(fn.__code__)                                         # reads them before the plan is made)

    def reached(seen=None, depth=0):
        nonlocal plan
        now = plan  # (one read: another thread may follow anew meanwhile)
        found = None if now is None else now[0] + [find() for find in now[1]]
        if found is None or _code_in(found, now[2]) != now[4]:  # (a helper rebound, a layer added: what it reads differs)
            plan, found = _plan(fn, methods)
        # (functions it reaches were followed already: here they are keyed by identity; a partial a load
        # finds was followed too, so by its function's identity: _follow keyed its arguments)
        return tuple([("id", _held(v, seen)) if type(v) in _BY_IDENTITY or v is None or type(v) is tuple and _immutable(v)
                      else ("code", tuple([_held(f, seen) for f in v])) if type(v) is _Code
                      else (functools.partial, _held(v.func, seen)) if type(v) is functools.partial
                      else describe(v, type(v) is _Data, depth, seen) for v in found]) if found else ()
    return reached


def _plan(fn, methods):
    """What ``reachable(fn, methods)`` follows, and what that finds now: (the objects it holds, a
    finder for each load, the containers and objects it followed into, what all those found and held,
    and the identities of that, see ``_code_in``), and the list of what it found."""
    objects, loads = [], []
    (_follow_objects if methods else _follow)(fn, None, objects, loads, set())
    probes = [load[3].holder for load in loads if type(load[3]) is _Probe]
    unique = {}  # (one load per name and namespace: helpers of one module load the same globals)
    for name, attribute, cells, names in loads:
        if type(names) is not _Probe:  # (where: a closure's cells, a module's globals, an object's)
            where = id(cells) if name in cells else id(names)
            unique.setdefault((name, attribute, where), (name, attribute, cells, names))
    # (each load as a call finding what it reads now, on every call: a global or a field by one get)
    finders = [functools.partial(names.get, name) if attribute is None and name not in cells
               else functools.partial(_resolve, name, attribute, cells, names)
               for name, attribute, cells, names in unique.values()]
    found = objects + [find() for find in finders]
    # (the strings a reach keys by identity, in a function's defaults or a global tuple: describe sees no str in them)
    _mention_all([s for v in found if type(v) is tuple and _immutable(v) for s in v])
    # (found and the probes' members held: no id checked by _code_in is taken by a new object)
    held = ([v for v in found if type(v) not in _INERT], [_members(p) for p in probes])
    return (objects, finders, probes, held, _code_in(found, probes)), found


# what a reach keys by identity alone, without describe(): functions and code (followed already), a
# class's static and class methods and properties (their functions followed already, fixed once made:
# described, they were objects of C fields the key cannot read, and ran every call eagerly) and modules
# (every function loads one, as ag or np; describe would key it by identity too, slower)
_BY_IDENTITY = frozenset([types.FunctionType, types.CodeType, staticmethod, classmethod, property, types.ModuleType])


def _immutable(values):
    """Whether the tuple ``values`` (a function's defaults, ``(ag.linear,)``) holds only numbers, strings
    and what a reach keys by identity: it is then keyed by its own identity, exactly, as nothing in it
    can change in place (f.__defaults__ = ... makes a new tuple), without describe() on every call."""
    return all(type(v) in _BY_IDENTITY or type(v) in _SCALARS for v in values)


def _code_in(values, probes=()):
    """What decides which code a reach follows: the identities of ``values`` (what its loads find:
    functions, a namespace's functions, code objects, classes, modules, containers, objects; numbers,
    strings, Tensors and arrays are keyed but followed into by nobody) and, for each container or
    object of the user's classes it followed into (``probes``, see ``_follow_objects``), the
    identities of what it holds now (and an object's class). A helper rebound, code replaced
    (``f.__code__ = ...``), a layer of another class put into a model's list, a model rebound: what is
    reached is followed anew."""
    found = []
    for v in values:
        kind = type(v)
        if kind is _Code:
            found.extend(map(id, v))
        elif kind not in _INERT:
            found.append(id(v))
    return tuple(found), tuple([tuple(map(id, _members(p))) for p in probes]) if probes else ()


def _members(value):
    """What ``_follow_objects`` would follow into in ``value`` (a container, an object of the user's
    classes; its class first), but for values it never looks into (numbers, strings, Tensors, arrays):
    a list of parameters or a layer's weights replaced keep what is followed."""
    if isinstance(value, dict):
        members = value.values()
    elif isinstance(value, (list, tuple)):
        members = value
    else:
        own = _own_attribute(value, None)  # (no __slots__ on its classes: its __dict__ alone, cheaper)
        slotted = own is None or any("__slots__" in cls.__dict__ for cls in type(value).__mro__[:-1])
        members = own.values() if not slotted else [v for _, v in _attributes(value) or ()]
        return [type(value), *[v for v in members if type(v) not in _INERT and (type(v) not in _CONTAINERS or not _inert(v))]]
    return [v for v in members if type(v) not in _INERT and (type(v) not in _CONTAINERS or not _inert(v))]


def _inert(value):
    """Whether ``value`` holds no code now: a number, string, Tensor or array, or a dict, list or tuple
    of only those (a history of costs kept on a model may grow: no reach is followed anew for it)."""
    kind = type(value)
    return kind in _INERT or kind in _CONTAINERS and _INERT.issuperset(map(type, value.values() if kind is dict else value))


def _follow(fn, owner, objects, loads, visited):
    """Note in ``objects`` and ``loads`` what calling ``fn`` (bound to ``owner``) reads besides its
    arguments. The user's functions, classes and modules are keyed by identity and followed
    into; installed code (``_library_module``) is taken as it was when traced, like JAX's jit (which
    of it a name is bound to keys the trace, as any value a name holds does)."""
    if isinstance(fn, (staticmethod, classmethod, property)):  # (first: it may wrap a partial)
        fn = fn.__func__ if not isinstance(fn, property) else fn.fget
    if isinstance(fn, functools.partial):
        loads.extend([("args", None, {}, _Fields(fn)), ("keywords", None, {}, _Fields(fn))])  # (may be changed)
        _follow_values((fn.func, *fn.args, *fn.keywords.values()), objects, loads, visited)
        return
    if isinstance(fn, types.MethodType):
        owner, fn = fn.__self__, fn.__func__
    if not isinstance(fn, types.FunctionType) and callable(getattr(fn, "__wrapped__", None)):
        fn = fn.__wrapped__  # a compiled function (ag.compile) or a custom primitive: what it runs
    if not isinstance(fn, types.FunctionType):
        if isinstance(fn, (type, types.ModuleType)) or not callable(fn):
            return
        owner, fn = fn, getattr(type(fn), "__call__", None)  # a callable object
        if not isinstance(fn, types.FunctionType):
            return
    if _library_code(fn) or (fn, id(owner)) in visited:
        return
    visited.add((fn, id(owner)))
    own = None  # the owner's __dict__: the attributes the code reads off it key the trace
    if owner is not None and not isinstance(owner, type):
        own = _own_attribute(owner, None)
        if own is None:  # (__slots__: the object, by all its attributes)
            objects.append(owner)
        _follow_objects(owner, None, objects, loads, visited)
    code, names = fn.__code__, fn.__globals__
    _mention(code)  # (before it runs: a Tensor's attributes it names key the trace)
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    loads.extend(_code_loads(fn))
    _follow_values((*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()), objects, loads, visited)
    if fn.__defaults__ or fn.__kwdefaults__:  # (replaced, f.__defaults__ = ...: numbers and helpers alike)
        loads.extend([(field, None, {}, _Fields(fn)) for field in ("__defaults__", "__kwdefaults__")])
    self_name = code.co_varnames[0] if owner is not None and code.co_argcount else None
    for name, attribute in _loads(code, self_name):
        if attribute == "*":  # a load used as a value, not only read from (m = cfg; getattr(cfg, name))
            held = _resolve(name, None, cells, names) if name in cells or name in names else (
                names if name in _NAMESPACE_READERS else None)  # (globals(): the function's module's names)
            if held is names or isinstance(held, (type, types.ModuleType)) and not _library_code(held):
                _follow_namespace(held, objects, loads, visited)
        elif name == self_name:  # self.W keys the trace (not all of self: a list of costs on it may grow)
            _follow_self(owner, own, attribute, objects, loads, visited)
        elif name in cells or name in names:
            value = _resolve(name, None, cells, names)
            if attribute is None:
                # Keyed by what the name is bound to now, whatever it is (installed code's functions and
                # objects too): following into the value keys only what it holds, not which value the
                # name holds, so a global rebound to another partial, ag.tanh, class or module traces anew.
                loads.append((name, None, cells, names))
                if _fixed(value):
                    _follow(value, None, objects, loads, visited)
                else:  # helpers kept in a dict or list, methods of the objects it holds
                    _follow_objects(value, None, objects, loads, visited)
            else:  # obj.method(), obj.prop, mod.helper(x); a plain object's data is keyed with it
                _follow_chain(name, attribute, cells, names, objects, loads, visited)


def _follow_self(owner, own, attribute, objects, loads, visited):
    """What a method reads off its ``self`` (``owner``; ``own``: its ``__dict__``, None for __slots__)
    or a classmethod off its ``cls`` (``owner`` a class): ``attribute`` None when it is handed on
    whole (``loss(self, x)``, ``getattr(cls, name)``); all it holds keys the trace then."""
    if attribute is None:
        if isinstance(owner, type):
            _follow_namespace(owner, objects, loads, visited)
        elif own is not None:
            objects.append(owner)
    elif attribute == "__class__" and not isinstance(owner, type):  # (self.__class__.k: as type(self).k,
        if not _library(type(owner)):                               # all the data and code its class holds)
            _follow_namespace(type(owner), objects, loads, visited)
    elif "." not in attribute:  # (self.layer.W: self.layer keys it)
        if own is not None:
            loads.append((attribute, None, {}, own))
        _follow_attribute(owner, attribute, objects, loads, visited)
        _class_attribute(owner, attribute, loads)
        held = inspect.getattr_static(owner, attribute, None)
        if isinstance(held, types.ModuleType) and not _library_code(held):  # (self.cfg.lambd: all its data)
            _follow_namespace(held, objects, loads, visited)


def _follow_namespace(held, objects, loads, visited):
    """A class, module or globals dict used as a value (``getattr(Acts, name)(z)``): all the data it
    holds keys the trace, and its code (functions, static and class methods, partials, callable
    objects, classes) by identity, each followed: what they read keys it as a helper's does."""
    loads.extend([("*", None, {}, _Namespace(held)), ("code", None, {}, _Namespace(held))])
    for _, fn, bound in _namespace_code(held):
        if isinstance(fn, type) and not _library_code(fn):  # (Outer.Inner.lambd: a nested class's data too)
            _follow_objects(fn, None, objects, loads, visited)
        else:
            _follow(fn, held if bound else None, objects, loads, visited)


def _follow_chain(name, attribute, cells, names, objects, loads, visited):
    """Follow ``name.attribute`` (a chain such as "sub.lambd" through the user's modules and
    classes) read by the function: code is followed, a module's or class's value keys the trace."""
    head, _, last = attribute.rpartition(".")
    holder = _resolve(name, head or None, cells, names)  # (pkg.sub.lambd: the module pkg.sub)
    if head and not (_fixed(holder) and not _library_code(holder)):
        return  # (through an object: keyed with it; through installed code: taken as traced)
    _follow_attribute(holder, last, objects, loads, visited)
    if not _fixed(holder):
        _class_attribute(holder, last, loads)  # cfg.lambd, set in cfg's class
    # mod.W, Class.scale, pkg.sub.lambd, mod.helper: what the user's module or class binds the name to
    # now, whatever it is (a partial, ag.tanh); installed code's own names (ag.sum, np.exp) are as traced
    value = _resolve(name, attribute, cells, names)
    if _fixed(holder) and not (_library_code(holder) and _library_code(value)):
        loads.append((name, attribute, cells, names))


def _follow_objects(value, _, objects, loads, visited, depth=0):
    """Follow the functions in ``value`` (a container or an object of the user's classes, and
    those inside it, to a few levels) and the methods of its objects: code may reach them
    through a loop (``for layer in self.layers: layer.forward(x)``)."""
    if depth > 8 or ("object", id(value)) in visited:
        return
    visited.add(("object", id(value)))
    if depth == 0 and isinstance(value, (type, types.ModuleType)) and not _library_code(value):
        _follow_namespace(value, objects, loads, visited)  # (a config class or module held: all its data)
        return
    user = not _library(type(value)) and _attributes(value) is not None  # (an object of the user's classes)
    if _fixed(value) and not user:  # (a callable model holding layers: as an object, all its methods)
        _follow(value, None, objects, loads, visited)
        return
    if isinstance(value, (dict, list, tuple)) or user:  # (what it holds now: checked on each call)
        loads.append(("probe", None, {}, _Probe(value)))
    if isinstance(value, (dict, list, tuple)):
        members = value.values() if isinstance(value, dict) else value
    elif user:
        for cls in type(value).__mro__[:-1]:
            if not _library(cls):
                for name, member in cls.__dict__.items():
                    member = _method(member)
                    if isinstance(member, _METHODS):
                        loads.append(("class", name, {}, {"class": type(value)}))  # (replaced: followed anew)
                        _follow(member, _bound_to(member, value), objects, loads, visited)
        members = [v for _, v in _attributes(value)]
    else:
        return
    for member in list(members):
        _follow_objects(member, None, objects, loads, visited, depth + 1)


def _bound_to(member, obj):
    """What a class's ``member`` called off ``obj`` gets as its first argument: ``obj``, its class
    (a classmethod), nothing (a staticmethod)."""
    return type(obj) if isinstance(member, classmethod) else None if isinstance(member, staticmethod) else obj


def _class_attribute(owner, attribute, loads):
    """Key ``self.attribute`` when it is a class's value (``scale = 2.0``, a partial in the class
    body), not the object's own (keyed with the object) or a method (see ``_follow_objects``). In a
    classmethod (``owner`` the class) every ``cls.attribute``: the class's own ``__dict__`` is what it
    reads, code too (replaced: keyed by identity, followed anew)."""
    if isinstance(owner, type):
        loads.append(("class", attribute, {}, {"class": owner}))  # (found along owner's MRO anew)
        return
    if attribute in (_own_attribute(owner, None) or {}):
        return
    cls = next((c for c in type(owner).__mro__ if attribute in c.__dict__), None)
    if cls is not None and _class_value(cls.__dict__[attribute]):
        loads.append(("class", attribute, {}, {"class": type(owner)}))  # (found along the MRO anew)


# what a class holds as its objects' methods: _follow_objects follows each, and keys which one the class holds
_METHODS = (types.FunctionType, property, staticmethod, classmethod)


def _class_value(member):
    """Whether a class's ``member``, read off one of its objects, is a value the class holds for them
    (``scale = 2.0``; code too, as a global is: a partial, a callable object of the user's classes),
    keyed by what it holds, rather than a method (``_METHODS``, a compiled one: bound to the object,
    see ``_follow_objects``) or another descriptor of installed code (a slot, ``str.upper``). Told by
    type, not by a ``__get__`` alone: from Python 3.13 on a partial has one (which returns the partial)."""
    if isinstance(member, functools.partial):
        return True
    if isinstance(_method(member), _METHODS):
        return False
    return not hasattr(type(member), "__get__") or not _library(type(member))


def _follow_values(values, objects, loads, visited):
    """Values bound once (defaults, a partial's arguments): code is followed, what may change
    inside (containers, objects, arrays) is keyed; a number or string bound there cannot change."""
    for value in values:
        if isinstance(value, (type, types.ModuleType)):  # (hp=Hyper: its data too, see _follow_objects)
            _follow_objects(value, None, objects, loads, visited)
        elif _fixed(value):
            _follow(value, None, objects, loads, visited)
        elif type(value) not in _SCALARS:
            objects.append(value)


def _follow_attribute(obj, attribute, objects, loads, visited):
    """Follow ``obj.attribute`` when it is code (a method, property or function): found without
    running any descriptor, bound to ``obj`` unless it is a module's or class's own."""
    try:
        value = inspect.getattr_static(obj, attribute)
    except AttributeError:
        return
    own = _own_attribute(obj, None) or {}
    bound = not isinstance(obj, (type, types.ModuleType)) and attribute not in own
    if isinstance(value, functools.singledispatchmethod):  # (each method it may dispatch to, as a method)
        loads.extend(_code_loads(value.dispatcher))  # (a method registered later: a new key)
        for method in value.dispatcher.registry.values():
            _follow(method, obj if bound else None, objects, loads, visited)
    elif isinstance(_method(value), (types.FunctionType, property)) and bound:
        _follow(_method(value), obj, objects, loads, visited)
    elif isinstance(value, classmethod):
        _follow(value, obj if isinstance(obj, type) else type(obj), objects, loads, visited)
    elif _fixed(value) or isinstance(value, staticmethod):
        _follow(value, None, objects, loads, visited)


def _method(member):
    """A class's member as the function its objects call bound: a compiled method (``@ag.compile``
    in the class body binds like one, ``replay.CompiledFunction.__get__``) is the function it wraps."""
    wrapped = getattr(member, "__wrapped__", None)
    if type(member) is not types.FunctionType and type(wrapped) is types.FunctionType \
            and hasattr(type(member), "__get__") and not isinstance(member, (staticmethod, classmethod)):
        return wrapped
    return member


def _library_code(value):
    """Whether ``value`` is a module, class or callable of installed code (``_library_module``):
    taken as it was when traced, not looked into."""
    if not _fixed(value):
        return False
    if isinstance(value, types.ModuleType):
        return _library_module(value.__name__)
    if isinstance(value, type):
        return _library(value)
    module = getattr(value, "__module__", None)
    if not isinstance(module, str):  # (a function run by exec/eval with globals lacking __name__: the user's)
        return not isinstance(value, types.FunctionType) and _library(type(value))
    return _library_module(module)


def _library(kind):
    """Whether the class ``kind`` is installed code's (see ``_library_module``). A class statement run
    by exec/eval with globals lacking ``__name__`` makes a class claiming "builtins", which holds no
    class written in Python (a heap type): the user's own code."""
    module = getattr(kind, "__module__", None) or "builtins"
    if module == "builtins" and kind.__flags__ & _HEAP_TYPE:
        return False
    return _library_module(module)


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made at run time (a class statement), not a C type


@functools.lru_cache(maxsize=1024)
def _library_module(name):
    """Whether the module ``name`` is installed code (this package, the standard library,
    anything in site-packages: NumPy, pytest) rather than the user's own (a script, a notebook,
    a project's modules, even one named like a standard module)."""
    top = name.partition(".")[0]
    if top in ("autograd_lite", "numpy", "builtins") or top in sys.builtin_module_names:
        return True
    file = getattr(sys.modules.get(top), "__file__", None)
    return file is not None and file.startswith(_INSTALLED)


_INSTALLED = tuple({sysconfig.get_paths()[kind] for kind in ("stdlib", "platstdlib", "purelib", "platlib")}
                   | set(site.getsitepackages()) | {site.getusersitepackages()})


def _resolve(name, attribute, cells, names):
    """What a load of ``name`` (``.attribute``, a chain such as "sub.lambd") in the function finds
    now; None for an empty cell or a name neither the closure nor the globals hold (a builtin)."""
    if name in cells:
        try:
            value = cells[name].cell_contents
        except ValueError:  # an empty cell
            return None
    else:
        value = names.get(name)
    for part in attribute.split(".") if attribute is not None else ():
        if value is None:
            return None
        if isinstance(value, type):  # a class attribute: where the class's MRO finds it now (a base's too)
            value = next((c.__dict__[part] for c in value.__mro__ if part in c.__dict__), None)
        else:
            value = _own_attribute(value, part)
    return value


_NAMESPACE_READERS = ("globals", "vars", "locals", "eval", "exec")  # builtins that read names by value


class _Namespace:
    """The data a module, a class (with its bases of the user's code) or a globals dict holds, read
    as a load reads a global: code that reaches it by a computed name (``getattr(cfg, name)``,
    ``globals()[name]``, ``m = cfg; m.x``) may read any of it."""

    def __init__(self, holder):
        self.holder = holder

    def get(self, field):
        if field == "code":  # (its functions by identity: one replaced is followed anew, see _code_in)
            return _Code([fn for _, fn, _ in _namespace_code(self.holder)])
        if isinstance(self.holder, type):
            return _Data(_class_data(self.holder))
        items = (self.holder if isinstance(self.holder, dict) else vars(self.holder)).items()
        return _Data([(k, v) for k, v in items if not k.startswith("__") and not _fixed(v)])


class _Probe:
    """A container or object ``_follow_objects`` followed into (noted among the loads while following,
    then kept apart): what it holds decides what is followed, see ``_code_in``."""

    def __init__(self, holder):
        self.holder = holder


class _Data(dict):
    """The data a namespace holds (``_Namespace.get("*")``), made anew on each call: keyed by its
    names and what they hold, not by its own identity (which would differ on every call)."""


class _Code(tuple):
    """The code a namespace holds (``_Namespace.get("code")``, see ``_namespace_code``): keyed by
    identity, each followed (``_follow_namespace``) like a helper the function calls."""


def _namespace_code(holder):
    """(name, code, whether it is a classmethod) for each piece of code ``holder`` (a class with its
    bases of the user's code, a module, a globals dict) holds: functions, plain or as a staticmethod
    or classmethod, and any other callable or module (a partial, a callable object, a class, installed
    code's ``ag.tanh``, as a global load keys them): what a computed name (``getattr(Acts, name)(z)``)
    may call."""
    if isinstance(holder, type):
        members = {}
        for cls in reversed(holder.__mro__[:-1]):  # (a subclass's own first: it overrides)
            if not _library(cls):
                members.update(cls.__dict__)
    else:
        members = holder if isinstance(holder, dict) else vars(holder)
    found = []
    for name, member in list(members.items()):
        fn = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
        if _fixed(fn):
            found.append((name, fn, isinstance(member, classmethod)))
    return found


# what code never looks into for code (numbers, strings, Tensors, arrays, NumPy's scalars), and a
# namespace's data, made anew on each call: left out of _code_in
_INERT = _SCALARS | _ARRAYS | {_Data, complex} | (set(np.sctypeDict.values()) - {np.void, np.object_})


def _code_loads(fn):
    """The loads that key what calling function ``fn`` runs: its code (replaced in place by IPython's
    autoreload) and, for a ``functools.singledispatch`` function, the registry of functions it calls and
    the ABCs' registrations it dispatches by (``Base.register(Cfg)`` changes the function called)."""
    loads = [("__code__", None, {}, _Fields(fn))]
    if isinstance(getattr(fn, "registry", None), types.MappingProxyType) and callable(getattr(fn, "dispatch", None)):
        loads += [("registry", None, {}, _Fields(fn)), ("abc", None, {}, _ABC_REGISTRATIONS)]
    return loads


class _AbcRegistrations:
    """The ABCs' registrations as a value a load reads: ``abc.get_cache_token()``, changed by every register()."""

    @staticmethod
    def get(_name):
        return abc.get_cache_token()


_ABC_REGISTRATIONS = _AbcRegistrations()


class _Fields:
    """A function's (or a partial's) fields, read as a load reads a global: replaced or changed
    (``f.__defaults__ = (4.0,)``, ``p.keywords["s"] = 5.0``), they change the key."""

    def __init__(self, owner):
        self.owner = owner

    def get(self, field):
        return getattr(self.owner, field)


def _fixed(value):
    return callable(value) and not isinstance(value, Tensor) or isinstance(value, types.ModuleType)


def _attributes(obj):
    """(name, value) of each of ``obj``'s own attributes (``__dict__`` and ``__slots__``), None
    without any. By name too: code may branch on which are set (``hasattr``, ``getattr(o, n, 0.0)``),
    so a slot never set is left out (not taken as None)."""
    own = _own_attribute(obj, None)
    pairs = list(own.items()) if own is not None else []
    slotted = False
    for cls in type(obj).__mro__[:-1]:
        names = cls.__dict__.get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            slot = cls.__dict__.get(name)
            if isinstance(slot, types.MemberDescriptorType):
                slotted = True
                try:
                    pairs.append((name, slot.__get__(obj)))
                except AttributeError:  # a slot never set
                    pass
    return pairs if own is not None or slotted else None


def _own_attribute(obj, name):
    """``obj.name`` from the object's own ``__dict__`` (no property or ``__getattr__`` runs), or
    None; ``name`` None: that ``__dict__`` itself (None for an object without one)."""
    if isinstance(obj, threading.local):  # (this thread's: a threading.local, or a subclass's, holds one
        attributes = vars(obj)               # per thread; object.__getattribute__ finds another or none)
    else:
        try:
            attributes = object.__getattribute__(obj, "__dict__")
        except (AttributeError, TypeError):
            return None
    return attributes if name is None else attributes.get(name)


def _loads(code, self_name=None):
    """(name, None) for each global or closure variable ``code`` (or a function or comprehension
    inside it) loads, and (name, attribute) for each attribute chain read off one (attribute
    "sub.lambd" for ``mod.sub.lambd``); the same for the local ``self_name`` (a method's ``self``),
    whose (name, None) means ``self`` is used on its own (``loss(self, x)``), not only read from."""
    ops = list(_instructions(code))
    found = set()
    for i, op in enumerate(ops):
        if op.opname in _LOADS or op.opname == "LOAD_FAST" and op.argval == self_name:
            path = []  # a chain read off it, each step: mod.sub.lambd gives "sub" and "sub.lambd"
            for following in itertools.takewhile(lambda o: o.opname in ("LOAD_ATTR", "LOAD_METHOD"), ops[i + 1:]):
                path.append(following.argval)
                found.add((op.argval, ".".join(path)))
            following = ops[i + 1] if i + 1 < len(ops) else None
            stored = following is not None and following.opname in ("STORE_ATTR", "DELETE_ATTR")
            if op.argval != self_name or not (path or stored):  # (self on its own: handed to a helper)
                found.add((op.argval, None))
            if op.argval != self_name and not path:  # (a module or class used as a value: _Namespace)
                found.add((op.argval, "*"))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= set(_loads(const, self_name))
    return tuple(sorted(found, key=lambda pair: (pair[0], pair[1] or "")))


_Op = collections.namedtuple("_Op", "opname argval")


def _instructions(code):
    """``code``'s instructions, a newer Python's loads of locals as plain LOAD_FASTs: 3.13 fuses two
    (LOAD_FAST_LOAD_FAST, whose second is what a following LOAD_ATTR reads off), 3.14 borrows them
    (LOAD_FAST_BORROW); missed, ``self.scale`` would not key the trace. A zero-argument ``super()``
    as 3.12 on compile it: loading the ``__class__`` cell and the first argument (3.11 loads neither,
    so ``super().k`` would not key the trace)."""
    ops = list(dis.get_instructions(code))
    for op, following in itertools.zip_longest(ops, ops[1:]):
        if op.opname.startswith("LOAD_FAST"):
            yield from (_Op("LOAD_FAST", name) for name in (op.argval if isinstance(op.argval, tuple) else (op.argval,)))
            continue
        yield _Op(op.opname, op.argval)
        if op.argval == "super" and op.opname == "LOAD_GLOBAL" and "__class__" in code.co_freevars and \
                following is not None and following.opname == "PRECALL" and following.argval == 0 and code.co_argcount:
            yield from (_Op("LOAD_DEREF", "__class__"), _Op("LOAD_FAST", code.co_varnames[0]))


_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS", "LOAD_DEREF", "LOAD_CLASSDEREF")
