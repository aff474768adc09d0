"""The expression behind a tensor as LaTeX, in the course's notation.

``formula(cost)`` for the study's regularized cost gives

    -\\frac{1}{m}\\sum\\left(Y\\log A^{[3]} + (1 - Y)\\log(1 - A^{[3]})\\right)
    + \\frac{\\lambda}{2m}\\left(\\Vert W^{[1]}\\Vert^2 + ... \\right)

Named tensors stand for themselves (``A3`` -> ``A^{[3]}``) unless
``expand=True``; the composite ops print as their textbook terms. Only
constructs that matplotlib's mathtext renders are used (``\\left( \\right)``
rather than ``\\big``, ``\\Vert`` rather than ``\\lVert``).
"""
import re

import numpy as np

from .viz import walk_graph

# Binding strength of a rendered term: an operand weaker than its operator needs parentheses.
SUM, NEG, PRODUCT, PREFIX, ATOM = range(5)


class _Term:
    """A rendered subexpression.

    prec: binding strength (SUM ... ATOM). kind: for products, 'scalar',
    'odot' or 'matmul' (products of different kinds do not associate).
    simple: a symbol, number or bracketed group that takes a superscript as is.
    name: (base, superscript) of a named tensor, so a transpose can write ``A^{[2]T}``.
    """

    __slots__ = ("text", "prec", "kind", "simple", "name")

    def __init__(self, text, prec=ATOM, kind=None, simple=False, name=None):
        self.text, self.prec, self.kind, self.simple, self.name = text, prec, kind, simple, name


_ESCAPES = {"_": r"\_", "#": r"\#", "%": r"\%", "$": r"\$"}


def name_latex(name):
    """LaTeX for a tensor name: 'W1' -> 'W^{[1]}', 'X' -> 'X', 'cost' -> '\\mathrm{cost}'.

    A name made of letters then digits gets the digits as a bracketed
    superscript (the layer index, as in the course).
    """
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    letters, layer = (match.group(1), match.group(2)) if match else (name, None)
    base = letters if re.fullmatch(r"[A-Za-z]", letters) else _roman(letters)
    return base if layer is None else f"{base}^{{[{layer}]}}"


def _roman(text):
    """``text`` upright, with the characters mathtext cannot take dropped or escaped."""
    kept = "".join(_ESCAPES.get(c, c) for c in text if c.isalnum() or c in _ESCAPES or c in " .,:;'!?+-=/()[]")
    return "\\mathrm{" + kept + "}"


def _name_term(name):
    text = name_latex(name)
    base, _, sup = text.partition("^")
    return _Term(text, simple=not sup, name=(base, sup[1:-1]) if sup else None)


def number_latex(value):
    """A scalar as LaTeX: 0.5 -> '0.5', 1e-08 -> '1\\times 10^{-8}'."""
    text = f"{float(value):.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}\\times 10^{{{int(exponent)}}}"
    return text


def _parens(term, tall=False):
    """``term`` inside parentheses, tall ones around fractions and sums (or when asked)."""
    if tall or "\\frac" in term.text or "\\sum" in term.text:
        return _Term(f"\\left({term.text}\\right)", simple=True)
    return _Term(f"({term.text})", simple=True)


def _at_least(term, prec):
    return term if term.prec >= prec else _parens(term)


def _operand_of_product(term, kind, left):
    """Parenthesize a factor unless it binds tighter than, or associates with, the product."""
    if term.prec == PRODUCT and term.kind != kind and "scalar" not in (term.kind, kind):
        return _parens(term)
    if term.prec == PREFIX and left:  # '\log a \odot b' would read as '\log(a \odot b)'
        return _parens(term)
    return _at_least(term, PRODUCT)


def _right_of_sum(term, prec):
    term = _at_least(term, prec)
    return _parens(term) if term.text.startswith("-") else term


def _call(function, *arguments):
    return _Term(f"{function}(" + ", ".join(a.text for a in arguments) + ")")


def _prefix(operator, term):
    """'\\log x' for a symbol or bracketed group, '\\log(x + y)' otherwise."""
    if term.simple or term.name is not None:
        return _Term(f"{operator} {term.text}", PREFIX)
    return _Term(f"{operator}({term.text})")


def _superscript(term, script):
    """``term^{script}``; a base that already carries a superscript gets parentheses."""
    if term.name is not None:
        base, sup = term.name
        if script == "T":
            return _Term(f"{base}^{{{sup}T}}")
    if not term.simple:
        term = _parens(term)
    return _Term(f"{term.text}^{{{script}}}")


def _product(x, y, kind):
    x, y = _operand_of_product(x, kind, True), _operand_of_product(y, kind, False)
    if kind == "odot":
        joiner = " \\odot "
    elif y.text[:1].isdigit() or kind == "scalar" and not x.text[:1].isdigit():
        joiner = " \\cdot "
    else:
        joiner = " "
    return _Term(x.text + joiner + y.text, PRODUCT, kind)


def _axis_subscript(params):
    axis = (params or {}).get("axis")
    return "" if axis is None else f"_{{\\mathrm{{axis}}={axis}}}"


def _index_latex(index):
    parts = index if isinstance(index, tuple) else (index,)

    def one(part):
        if isinstance(part, slice):
            text = ":".join("" if v is None else str(v) for v in (part.start, part.stop))
            return text + ("" if part.step is None else f":{part.step}")
        if part is Ellipsis or isinstance(part, (np.ndarray, list)):
            return "\\ldots"
        return "\\mathrm{new}" if part is None else str(part)
    return ", ".join(one(p) for p in parts)


def _mask_name(x):
    """The dropout mask of layer l is D^{[l]}, read from the name of the layer's A^{[l]}."""
    match = re.fullmatch(r"[A-Za-z]+(\d+)", x.name or "")
    return f"D^{{[{match.group(1)}]}}" if match else "D"


def _render_op(t, args, input_terms):
    """LaTeX term of op output ``t`` from its inputs' terms ``args``."""
    name, params = t._prim.name, t._params or {}
    shapes = [p.shape for p in t._parents]
    if name == "add":
        return _Term(f"{args[0].text} + {_right_of_sum(args[1], SUM).text}", SUM)
    if name == "subtract":
        return _Term(f"{args[0].text} - {_right_of_sum(args[1], PRODUCT).text}", SUM)
    if name == "negative":
        return _Term("-" + _at_least(args[0], PRODUCT).text, NEG)
    if name == "multiply":
        scalar = any(int(np.prod(s)) == 1 for s in shapes)
        return _product(args[0], args[1], "scalar" if scalar else "odot")
    if name == "matmul":
        return _product(args[0], args[1], "matmul")
    if name == "linear":
        return _Term(f"{_product(args[0], args[1], 'matmul').text} + {_right_of_sum(args[2], SUM).text}", SUM)
    if name == "divide":
        return _Term(f"\\frac{{{args[0].text}}}{{{args[1].text}}}")
    if name in ("power", "square"):
        exponent = args[1].text if name == "power" else "2"
        return _superscript(args[0], exponent)
    if name == "sqrt":
        return _Term(f"\\sqrt{{{args[0].text}}}", simple=True)
    if name == "exp":
        return _Term(f"e^{{{args[0].text}}}")
    if name == "log":
        return _prefix("\\log", args[0])
    if name == "abs":
        return _Term(f"|{args[0].text}|", simple=True)
    if name == "sum":
        return _prefix("\\sum" + _axis_subscript(params), args[0])
    if name == "transpose" and params.get("axes") is None:
        return _superscript(args[0], "T")
    if name == "broadcast_to":
        return args[0]  # broadcasting is implicit in the notation
    if name == "getitem":
        base = args[0] if args[0].simple else _parens(args[0])
        return _Term(f"{base.text}_{{[{_index_latex(params['index'])}]}}")
    if name == "dropout":
        x = _operand_of_product(args[0], "odot", True)
        return _Term(f"\\frac{{{x.text} \\odot {_mask_name(input_terms[0])}}}"
                     f"{{{number_latex(params['keep_prob'])}}}")
    if name == "l2_penalty":
        norms = [_Term(f"\\Vert {a.text}\\Vert^2") for a in args]
        total = norms[0] if len(norms) == 1 else _parens(_Term(" + ".join(n.text for n in norms), SUM),
                                                         tall=True)
        return _Term(f"\\frac{{\\lambda}}{{2m}}{total.text}", PRODUCT, "scalar")
    if name == "binary_cross_entropy":
        a, y = args[0], args[1]
        y_tensor = input_terms[1]
        if y_tensor._prim is None and not y_tensor.name and not y_tensor.requires_grad:
            y = _Term("Y", simple=True)  # labels passed as a plain array
        y_factor = y if y.prec == ATOM else _parens(y)
        one_minus_y = _parens(_Term(f"1 - {_right_of_sum(y, PRODUCT).text}", SUM))
        one_minus_a = _Term(f"1 - {_right_of_sum(a, PRODUCT).text}", SUM)
        log_a = _prefix("\\log", a)
        inner = (f"{y_factor.text}{log_a.text} + "
                 f"{one_minus_y.text}\\log({one_minus_a.text})")
        return _Term(f"-\\frac{{1}}{{m}}\\sum\\left({inner}\\right)", NEG)
    labels = {"relu": "\\mathrm{ReLU}", "sigmoid": "\\sigma", "tanh": "\\tanh", "maximum": "\\max",
              "minimum": "\\min", "max": "\\max" + _axis_subscript(params),
              "mean": "\\mathrm{mean}" + _axis_subscript(params)}
    function = labels.get(name) or _roman(name)
    return _call(function, *args)


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
    nodes = walk_graph(t, "formula", expand=lambda n: expand or n is t or not n.name)
    terms, unnamed_parameters = {}, 0
    for n in nodes:
        if n.name and (n._prim is None or not (expand or n is t)):
            term = _name_term(n.name)
        elif n._prim is not None:
            term = _render_op(n, [terms[id(p)] for p in n._parents], list(n._parents))
        elif n.requires_grad:
            unnamed_parameters += 1
            term = _Term(f"\\theta_{{{unnamed_parameters}}}")
        elif n.size == 1:
            text = number_latex(n._data.item())
            term = _Term(text, NEG) if text.startswith("-") else _Term(text, simple=True)
        else:
            term = _Term("\\mathrm{const}_{" + "\\times ".join(str(k) for k in n.shape) + "}")
        terms[id(n)] = term
    return terms[id(t)].text
