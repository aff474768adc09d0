"""Pytrees: nested dicts, lists and tuples whose leaves are arrays, Tensors or numbers.

Every transform (``grad``, ``jvp``, ``jacobian``, ...) and checker (``gradcheck``,
``compare_gradients``) flattens its arguments with ``flatten`` and rebuilds its
results in the same structure with ``unflatten``, as JAX does. A list or tuple of
plain numbers (``[1.0, 2.0]``, ``[[1, 2], [3, 4]]``) is one array-like leaf, as
``np.array`` reads it; a container holding any array, Tensor, dict or namedtuple is a
tree. A namedtuple is a record, never an array: it is a node whatever it holds
(``P(w=1.0, b=2.0)`` has two leaves and comes back as a ``P``), as in JAX and torch.
A tree matched against another's structure (``match``: jvp's tangents, vjp's cotangent,
hvp's direction, compare_gradients' expected tree) takes that structure: a list or tuple
of numbers is a node where the structure has one (``[[1, 2], [3, 4]]`` against two
array leaves) and one array where it has a leaf.
Leaves are named by their path: the dict key (``"W1"``), an index (``"[0]"``), joined
with dots for nesting (``"layers[1].W"``). ``None`` is an empty subtree, as in JAX: it
has no leaves and comes back as ``None`` (``{"W": W, "b": None}``, a layer without bias,
gives gradients ``{"W": dW, "b": None}``). Trees are matched against each other by dict
key, so two dicts of the same keys in another insertion order have the same structure.
An OrderedDict or a defaultdict (with its factory) comes back as itself, as in JAX; another
subclass of dict, list or tuple (a namedtuple aside) is refused, naming it: results could
not come back as one, and it would reach the function as a plain dict or list.
"""
import collections
import functools
import numbers

import numpy as np

__all__ = ["flatten", "unflatten", "leaf_names", "tree_map"]


class TreeDef:
    """The structure of a pytree: ``kind`` is 'leaf', 'none' (None: no leaves), 'dict', 'list'
    or 'tuple' (a namedtuple keeps its class in ``cls``); ``keys`` the dict keys; ``children``
    TreeDefs; ``count`` the number of leaves."""
    __slots__ = ("kind", "keys", "children", "cls", "count")

    def __init__(self, kind, keys=(), children=(), cls=None):
        self.kind, self.keys, self.children, self.cls = kind, tuple(keys), tuple(children), cls
        self.count = 1 if kind == "leaf" else sum(c.count for c in children)

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind and self.keys == other.keys
                and self.children == other.children)

    def __hash__(self):
        return hash((self.kind, self.keys, self.children))

    def __repr__(self):
        if self.kind in ("leaf", "none"):
            return "*" if self.kind == "leaf" else "None"
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if self.kind == "list" else f"({inner}{',' if len(self.children) == 1 else ''})"


def _is_namedtuple(x):
    # (collections.namedtuple and typing.NamedTuple classes both have _fields)
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _is_array_like_list(x):
    # [1.0, 2.0] or [[1, 2], [3, 4]]: numbers only, at any depth, in plain lists and tuples
    return all(isinstance(v, numbers.Number) or (isinstance(v, (list, tuple)) and not _is_namedtuple(v)
                                                 and _is_array_like_list(v)) for v in x)


def is_container(x):
    """True for a dict or a namedtuple, or a list/tuple that is a tree rather than one array-like leaf."""
    if isinstance(x, dict) or _is_namedtuple(x):  # a record's fields are named: never one array
        return True
    return isinstance(x, (list, tuple)) and not (len(x) and _is_array_like_list(x))


def _dict_maker(x):
    """What rebuilds the dict ``x`` from (key, value) pairs: None for a dict, its class for an
    OrderedDict, a defaultdict with the same factory (as JAX keeps both); another subclass of dict is
    refused, as results could not come back as one."""
    if type(x) is dict:
        return None
    if type(x) is collections.OrderedDict:
        return collections.OrderedDict
    if type(x) is collections.defaultdict:
        return functools.partial(collections.defaultdict, x.default_factory)
    raise _not_rebuildable(x, "dict")


def _not_rebuildable(x, kind):
    return TypeError(f"pytree: a {type(x).__name__} (a subclass of {kind}) cannot be rebuilt in the results, "
                     f"which keep the arguments' structure; pass a plain {kind} ({kind}(x)), or a namedtuple "
                     "for named fields")


def flatten(tree):
    """``(leaves, treedef)``: the leaves in order (dicts in their own key order)."""
    leaves = []

    def walk(x):
        if x is None:
            return TreeDef("none")
        if isinstance(x, dict):
            keys = list(x)
            return TreeDef("dict", keys, [walk(x[k]) for k in keys], _dict_maker(x))
        if is_container(x):
            kind = "list" if isinstance(x, list) else "tuple"
            if type(x) is not list and type(x) is not tuple and not _is_namedtuple(x):
                raise _not_rebuildable(x, kind)
            cls = type(x) if kind == "tuple" and type(x) is not tuple else None
            return TreeDef(kind, (), [walk(v) for v in x], cls)
        leaves.append(x)
        return TreeDef("leaf")
    return leaves, walk(tree)


def unflatten(treedef, leaves):
    """The tree of ``treedef``'s structure holding ``leaves`` (an iterable, in flatten's order, as
    many as the structure has: ``len(leaf_names(treedef))``, else a ValueError, as JAX's)."""
    leaves = list(leaves)
    it = iter(leaves)

    def build(d):
        if d.kind == "leaf":
            return next(it)
        if d.kind == "none":
            return None
        children = [build(c) for c in d.children]
        if d.kind == "dict":
            return dict(zip(d.keys, children)) if d.cls is None else d.cls(zip(d.keys, children))
        if d.kind == "list":
            return children
        return d.cls(*children) if d.cls is not None else tuple(children)
    try:
        tree = build(treedef)
    except StopIteration:
        tree = it  # (too few: the count below says so)
    if tree is it or next(it, it) is not it:
        raise ValueError(f"pytree.unflatten: got {len(leaves)} leaves for a structure of "
                         f"{len(leaf_names(treedef))}; expected one per leaf, in flatten's order")
    return tree


def leaf_names(treedef, prefix=""):
    """The path of every leaf, in flatten's order: 'W1', '[0]', 'layers[1].W'."""
    if treedef.kind in ("leaf", "none"):
        return [prefix] if treedef.kind == "leaf" else []
    names = []
    for i, child in enumerate(treedef.children):
        if treedef.kind == "dict":
            key = str(treedef.keys[i])
            step = f"{prefix}.{key}" if prefix else key
        else:
            step = f"{prefix}[{i}]"
        names.extend(leaf_names(child, step))
    return names


def tree_map(fn, tree, *rest):
    """``fn`` applied leaf by leaf to ``tree`` (and to trees of the same structure in ``rest``)."""
    leaves, treedef = flatten(tree)
    others = [match(treedef, r, "tree_map") for r in rest]
    return unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])


def match(treedef, tree, op, what="argument"):
    """The leaves of ``tree``, which must have ``treedef``'s structure, in ``treedef``'s order
    (ValueError naming both structures). Dicts are matched by key, in any order. ``treedef``
    decides where the leaves are: a list or tuple of numbers is a node where it has a node
    (``[[1, 2], [3, 4]]`` against two array leaves) and one array where it has a leaf."""
    leaves = []

    def walk(d, x):
        if d.kind == "leaf":
            leaves.append(x)
            return x is not None and not is_container(x)
        if d.kind == "none":
            return x is None
        if d.kind == "dict":
            return (isinstance(x, dict) and set(x) == set(d.keys)
                    and all(walk(c, x[k]) for k, c in zip(d.keys, d.children)))
        kind = "list" if isinstance(x, list) else "tuple" if isinstance(x, tuple) else None
        return kind == d.kind and len(x) == len(d.children) and all(walk(c, v) for c, v in zip(d.children, x))
    if not walk(treedef, tree):
        raise ValueError(f"{op}: the {what} has structure {flatten(tree)[1]!r}; expected {treedef!r}")
    return leaves


def shape_of(leaf):
    """The shape tuple of a pytree leaf: a Tensor's or an array's (``np.shape``), () for a number."""
    return np.shape(leaf.data if hasattr(leaf, "_array") else leaf)
