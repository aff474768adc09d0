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
from .latex import name_latex  # noqa: F401  (part of this module's surface)
from .viz import walk_graph


def formula(t, expand=False):
    """LaTeX text of the expression that produced ``t`` (wrap it in ``$...$`` to render).

    Args:
        t: Tensor of any shape whose graph is still recorded (draw before
            ``backward()``, or run it with ``retain_graph=True``).
        expand: False keeps every named tensor other than ``t`` itself as its
            name (A3 -> A^{[3]}); True expands down to the leaves.
    Returns:
        str. Leaves print as their names (W1 -> W^{[1]}, X -> X), unnamed
        scalars as their values, unnamed arrays as \\mathrm{const} with their
        shape, unnamed parameters as \\theta_k.
    Raises:
        GraphError when the graph was freed by backward().
    """
    def expanded(n):
        return expand or n is t or not n.name

    nodes = walk_graph(t, "formula", expand=expanded)
    # How many renderings still need each term: a term is dropped once its last consumer has
    # used it, so memory follows the live terms, not the whole graph (a long chain stays linear).
    pending = collections.Counter(id(p) for n in nodes if n._prim is not None and expanded(n) for p in n._parents)
    terms, unnamed_parameters = {}, 0
    for n in nodes:
        if n.name and (n._prim is None or not expanded(n)):
            term = tex.name_term(n.name)
        elif n._prim is not None:
            inputs = [terms.get(id(p)) for p in n._parents]  # None: an input drawings leave out
            term = _rule_term(n._prim, inputs, n) if n._prim.latex else tex.function(n._prim.name, *inputs)
            for p in n._parents:
                pending[id(p)] -= 1
                if not pending[id(p)]:
                    terms.pop(id(p), None)
        elif n.requires_grad:
            unnamed_parameters += 1
            term = tex.Term(f"\\theta_{{{unnamed_parameters}}}")
        elif n.size == 1:
            term = tex.number_term(n._array.reshape(())[()])  # a NumPy scalar: its dtype's own shortest repr
        else:
            term = tex.Term("\\mathrm{const}_{" + "\\times ".join(str(k) for k in n.shape) + "}")
        terms[id(n)] = term
    return terms[id(t)].text


def _rule_term(prim, inputs, node):
    """What op ``prim``'s ``latex`` rule writes for ``node``, as a Term. A str is taken too: a single
    symbol (x, 2, 0.5, \\alpha) as an atom, anything else as a sum, parenthesized wherever it is an operand
    (a rule's str cannot say how it binds, so it is read as binding weakest)."""
    term = prim.latex(inputs, node)
    if isinstance(term, str):
        single = re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+|\d+(\.\d+)?", term.strip())  # ('xy' is x times y)
        return tex.Term(term, simple=True) if single else tex.Term(term, tex.SUM)
    if not isinstance(term, tex.Term):
        raise TypeError(f"formula: the latex rule of op '{prim.name}' returned {type(term).__name__} "
                        f"{term!r:.60}; expected a str or an autograd_lite.latex.Term")
    return term
