"""The expression behind a tensor as LaTeX, in the course's notation.

``formula(cost)`` for the study's regularized cost gives

    -\\frac{1}{m}\\sum\\left(Y\\log A^{[3]} + (1 - Y)\\log(1 - A^{[3]})\\right)
    + \\frac{\\lambda}{2m}\\left(\\Vert W^{[1]}\\Vert^2 + ... \\right)

Named tensors stand for themselves (``A3`` -> ``A^{[3]}``) unless
``expand=True``; the composite ops print as their textbook terms. Only
constructs that matplotlib's mathtext renders are used (``\\left( \\right)``
rather than ``\\big``, ``\\Vert`` rather than ``\\lVert``).
"""
import collections
import re

from . import latex as tex
from .convert import flag
from .latex import name_latex  # (part of this module's surface too)
from .viz import rule_error, value_inputs, walk_graph

# The longest formula written, in characters of LaTeX: past it the text is no longer read (nor
# rendered by mathtext), and a graph whose rules repeat their inputs' text could otherwise grow
# without bound before anything was returned.
MAX_CHARACTERS = 5_000_000
SEPARATOR = ";\\quad "  # between the definitions of shared subexpressions and the formula


def formula(t, expand=False):
    """LaTeX text of the expression that produced ``t`` (wrap it in ``$...$`` to render).

    Args:
        t: Tensor of any shape whose graph is still recorded (draw before
            ``backward()``, or run it with ``retain_graph=True``).
        expand: a bool (another value is a TypeError). False keeps every named
            tensor other than ``t`` itself as its name (A3 -> A^{[3]}); True expands
            down to the leaves.
    Returns:
        str. Leaves print as their names (W1 -> W^{[1]}, X -> X), unnamed
        scalars as their values (one that adds axes by broadcasting with its
        shape, [2]_{1\\times 1}), unnamed arrays as \\mathrm{const} with their
        shape, unnamed parameters as \\theta_k; a second dropout mask of a layer,
        or labels beside a tensor named Y, numbered (D^{[1]}_{(2)}). An op output
        used more than once whose text is long enough that naming it makes the formula shorter is
        written once, as a definition before the formula (``y_{1} = \\sin x + x;\\quad
        y_{1} \\odot y_{1}``), named ``y_{k}`` (by its own name when it has one that
        no other tensor of the graph has, under ``expand=True``); a graph without
        reuse prints without definitions. A symbol that two of the printed ops give
        different values (two L2 penalties' lambda, a penalty's m against the
        cross-entropy's) prints as those values: one lambda, a penalty's m of 1000 against the
        cross-entropy's 64, gives ``\\frac{\\lambda}{2 \\cdot 1000}``.
    Raises:
        GraphError when the graph was freed by backward(); ValueError when the
        text would exceed ``MAX_CHARACTERS``, naming the number of tensors.
    """
    expand = flag(expand, "formula(expand=...)")  # ("False" would be truthy: every name expanded)

    def expanded(n):
        return expand or n is t or not n.name

    nodes = walk_graph(t, "formula", expand=expanded)
    ops = [n for n in nodes if n._prim is not None and expanded(n)]
    # How many renderings still need each term: a term is dropped once its last consumer has
    # used it, so memory follows the live terms, not the whole graph (a long chain stays linear).
    pending = collections.Counter(id(p) for n in ops for p in n._parents)
    uses = collections.Counter(id(p) for n in ops for p in value_inputs(n))  # (the ones written out)
    shared = _Shared(nodes, len(nodes))
    terms, unnamed_parameters, widening = {}, 0, _widening_constants(ops)
    with tex.symbols_of(ops, {name_latex(n.name) for n in nodes if n.name}):  # (2 lambdas, 2 masks print apart)
        for n in nodes:
            if n.name and (n._prim is None or not expanded(n)):
                term = tex.name_term(n.name)
            elif n._prim is not None:
                # (None: an input drawings leave out)
                term = _op_term(n, [terms.get(id(p)) for p in n._parents])
                for p in n._parents:
                    pending[id(p)] -= 1
                    if not pending[id(p)]:
                        shared.live -= len(terms.pop(id(p), _EMPTY).text)
                term = shared.define(n, term, uses[id(n)])
            elif n.requires_grad:
                unnamed_parameters += 1
                term = tex.Term(f"\\theta_{{{unnamed_parameters}}}")
            else:
                term = _constant_term(n, id(n) in widening)
            shared.add(term)
            terms[id(n)] = term
    return "".join(d + SEPARATOR for d in shared.definitions) + terms[id(t)].text


_EMPTY = tex.Term("")


def _constant_term(n, widening):
    """An unnamed leaf without grad: a scalar by its value, an array as \\mathrm{const} with its shape.
    A one-element array that adds axes to a result (``widening``) is its value in brackets with its
    shape, [2]_{1\\times 1}: as a bare 2, a + [[2]] (shape (1, 3) for a of shape (3,)) printed as a + 2,
    and (a + [[2]])^T (a + [[2]]), an outer product, as the inner one."""
    shape = "\\times ".join(str(k) for k in n.shape)
    if n.size != 1:
        return tex.Term("\\mathrm{const}_{" + shape + "}")
    value = n._array.reshape(())[()]  # a NumPy scalar: its dtype's own shortest repr
    return tex.Term(f"[{tex.number_latex(value)}]_{{{shape}}}") if widening else tex.number_term(value)


def _widening_constants(ops):
    """The ids of the one-element leaves that an op of ``ops`` reads next to inputs of fewer axes (or
    none): broadcasting them adds axes to its result, so their shape is part of what they mean."""
    found = set()
    for n in ops:
        for p in n._parents:
            if p._prim is None and p.size == 1 and p.ndim > max((q.ndim for q in n._parents if q is not p),
                                                                default=0):
                found.add(id(p))
    return found


def _op_term(node, inputs):
    """Op output ``node`` written from its inputs' terms: by its op's ``latex`` rule, else as
    \\mathrm{name}_{params}(inputs), the keyword parameters its call declares shown unless at
    their defaults (``tex.params_subscript``), so f(x, k=2) and f(x, k=3) print apart."""
    prim = node._prim
    if prim.latex:
        return _rule_term(prim, inputs, node)
    return tex.function(prim.name, *inputs, node=node)


class _Shared:
    """The definitions of the shared subexpressions written so far, and the characters held.

    A term used more than once is written out where it is used only while that is shorter than
    naming it: a reused term written out in full doubled the text at every step of a loop that
    reads its running value twice (40 Newton steps ran out of memory), while named once it adds
    its own length only. ``live`` counts the characters of the terms still held, so the size
    check bounds what is held, not only the last term.
    """

    def __init__(self, nodes, size):
        self.definitions, self.size, self.live, self.defined, self.numbered = [], size, 0, 0, 0
        names = collections.Counter(n.name for n in nodes if n.name)
        self.unique = {name for name, count in names.items() if count == 1}

    def define(self, node, term, uses):
        """``term`` of ``node``, or a placeholder for it (its definition kept) when that is shorter."""
        if uses < 2:
            return term
        own = node.name in self.unique
        placeholder = tex.name_term(node.name) if own else tex.Term(f"y_{{{self.numbered + 1}}}", simple=True)
        overhead = 2 * len(placeholder.text) + len(" = ") + len(SEPARATOR)
        if (uses - 1) * len(term.text) <= overhead + (uses - 1) * len(placeholder.text):
            return term
        definition = f"{placeholder.text} = {term.text}"
        self.numbered += not own
        self.definitions.append(definition)
        self.defined += len(definition) + len(SEPARATOR)
        self._check(0)
        return placeholder

    def add(self, term):
        self._check(len(term.text))
        self.live += len(term.text)

    def _check(self, more):
        if self.defined + self.live + more > MAX_CHARACTERS:
            raise ValueError(
                f"formula: the expression of this graph ({self.size} tensors) would be over "
                f"{MAX_CHARACTERS:,} characters of LaTeX; name intermediate tensors (t.name = ...) so that "
                "they print by name (expand=False), print a smaller part of the graph, or draw it "
                "with ag.to_dot")


def _rule_term(prim, inputs, node):
    """What op ``prim``'s ``latex`` rule writes for ``node``, as a Term. A str is taken too: a single
    symbol (x, 2, 0.5, \\alpha) as an atom, anything else as a sum, parenthesized wherever it is an operand
    (a rule's str cannot say how it binds, so it is read as binding weakest)."""
    try:
        term = prim.latex(inputs, node)
    except Exception as error:  # (named, as a draw rule's failure is)
        raise rule_error(error, f"formula: the latex rule of op '{prim.name}' raised "
                                f"{type(error).__name__}: {error}") from error
    if isinstance(term, str):
        single = re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+|\d+(\.\d+)?", term.strip())  # ('xy' is x times y)
        return tex.Term(term, simple=True) if single else tex.Term(term, tex.SUM)
    if not isinstance(term, tex.Term):
        raise TypeError(f"formula: the latex rule of op '{prim.name}' returned {type(term).__name__} "
                        f"{term!r:.60}; expected a str or an autograd_lite.latex.Term")
    return term
