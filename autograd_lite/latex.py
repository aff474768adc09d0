"""LaTeX terms: the small algebra ``formula`` and the op table (``ops.py``) write with.

A ``Term`` is a rendered subexpression with its binding strength, so an op's
``latex`` rule (``ops.py``) only says how it combines its inputs' terms and the
helpers here add exactly the parentheses the notation needs. Only constructs
that matplotlib's mathtext renders are used (``\\left( \\right)`` rather than
``\\big``, ``\\Vert`` rather than ``\\lVert``).
"""
import collections
import contextlib
import contextvars
import inspect
import numbers
import re

import numpy as np

# Binding strength of a rendered term: an operand weaker than its operator needs parentheses.
SUM, NEG, PRODUCT, PREFIX, ATOM = range(5)


class Term:
    """A rendered subexpression.

    prec: binding strength (SUM ... ATOM). kind: for products, 'scalar',
    'odot' or 'matmul' (products of different kinds do not associate).
    simple: a symbol, number or bracketed group that takes a superscript as is.
    name: (base, superscript) of a named tensor, so a transpose can write ``A^{[2]T}``.
    tail: the text of the open prefix term (``\\log x``) that ``text`` ends with, else None (a
    PREFIX term's is its whole text): a factor written after it would fall under the prefix, so
    ``product`` closes it first.
    """

    __slots__ = ("text", "prec", "kind", "simple", "name", "tail")

    def __init__(self, text, prec=ATOM, kind=None, simple=False, name=None, tail=None):
        self.text, self.prec, self.kind, self.simple, self.name = text, prec, kind, simple, name
        self.tail = text if tail is None and prec == PREFIX else tail


# How ``roman`` writes each character that LaTeX or mathtext would read as markup (or drop, as
# mathtext drops a plain space): a form each of LaTeX (with amsmath), MathJax and mathtext
# renders, braced where mathtext would read a following letter as part of the command (``\#b``).
# Every form starts with "\\" or "{", as no character kept as it is does: distinct names stay
# distinct, and no name prints as nothing.
ESCAPES = {"_": r"\_", "%": r"\%", "$": r"\$", "#": r"{\#}", "{": r"\{", "}": r"\}",
           "\\": r"{\backslash}", "^": r"{\wedge}", "~": r"{\sim}", " ": r"{\ }",
           "&": r"\text{\&}", '"': r'\text{"}', "`": r"\text{`}"}


def name_latex(name):
    """LaTeX for a tensor name: 'W1' -> 'W^{[1]}', 'X' -> 'X', 'cost' -> '\\mathrm{cost}'.

    A name made of letters then digits gets the digits as a bracketed
    superscript (the layer index, as in the course). A one-letter name is
    italic, but for 'e' and 'm', upright as longer names are: the formulas'
    own e (``e^{y}``, exp) and m (``\\frac{1}{m}``) would read the same.
    """
    match = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    letters, layer = (match.group(1), match.group(2)) if match else (name, None)
    # (upright, the letters the formulas use themselves: e of exp's e^{x}, m of the costs' 1/m)
    base = letters if re.fullmatch(r"[A-Za-z]", letters) and letters not in "em" else roman(letters)
    return base if layer is None else f"{base}^{{[{layer}]}}"


def roman(text):
    """``text`` upright, every character shown: LaTeX's special characters escaped (``ESCAPES``)
    and an unprintable one (a tab, a newline) as its code point, ``⟨U+0009⟩``."""
    return "\\mathrm{" + "".join(_roman_character(c) for c in text) + "}"


def _roman_character(c):
    if c in ESCAPES:
        return ESCAPES[c]
    if not c.isprintable():
        return f"{{\\langle}}U+{ord(c):04X}{{\\rangle}}"
    return c


def name_term(name):
    text = name_latex(name)
    base, _, sup = text.partition("^")
    return Term(text, simple=not sup, name=(base, sup[1:-1]) if sup else None)


def number_latex(value):
    """A scalar as LaTeX, the shortest text that reads back as the same value (Python's and
    NumPy's repr): 0.5 -> '0.5', 2.0 -> '2', 1.0000001 -> '1.0000001', 1e-08 ->
    '1\\times 10^{-8}', inf -> '\\infty', nan -> '\\mathrm{NaN}' (Python's 'inf' and 'nan'
    are not LaTeX). A NumPy float keeps its own precision (float32 0.1 -> '0.1')."""
    if isinstance(value, (numbers.Integral, np.bool_)):
        return str(int(value))
    if not isinstance(value, np.floating):
        value = float(value)
    if np.isnan(value):
        return "\\mathrm{NaN}"
    if np.isinf(value):
        return "\\infty" if value > 0 else "-\\infty"
    mantissa, _, exponent = str(value).partition("e")  # str of a float is its shortest round-trip repr
    mantissa = mantissa[:-2] if mantissa.endswith(".0") else mantissa
    return mantissa if not exponent else f"{mantissa}\\times 10^{{{int(exponent)}}}"


def number_term(value):
    """A scalar constant as a term: '1\\times 10^{-8}' is a product (so a power of it is
    written '(1\\times 10^{-8})^{x}', never the double superscript '1\\times 10^{-8}^{x}'),
    a negative number binds as a negation, any other number is a simple symbol."""
    text = number_latex(value)
    if text.startswith("-"):
        return Term(text, NEG)
    if "\\times" in text:
        return Term(text, PRODUCT, "scalar")
    return Term(text, simple=True)


# The symbols (\\lambda, m) that the formula being written gives more than one value: ``symbol`` writes
# them as numbers there; and the data its symbols stand for so far (``data_symbol``). (Context
# variables: formulas written in other threads keep their own.)
_NUMBERED = contextvars.ContextVar("autograd_lite_numbered_symbols", default=frozenset())
_DATA = contextvars.ContextVar("autograd_lite_data_symbols", default=None)


@contextlib.contextmanager
def symbols_of(nodes, names=()):
    """While a formula of the op outputs ``nodes`` is written: a symbol that their ops declare
    (an op's ``symbols(node)`` -> {symbol: value}, e.g. the L2 penalty's {'\\lambda': 0.7, 'm': 211})
    with two or more values among them is written by ``symbol`` as its values, so that two
    penalties of different strength, or a penalty over another m than the cross-entropy's, do
    not print as one cost. ``names``: the LaTeX of the tensor names the formula may print, which
    ``data_symbol`` keeps its symbols apart from."""
    values = collections.defaultdict(set)
    for node in nodes:
        declared = getattr(node._prim, "symbols", None)
        for name, value in (declared(node) if declared else {}).items():
            values[name].add(value)
    token = _NUMBERED.set(frozenset(name for name, seen in values.items() if len(seen) > 1))
    data = _DATA.set((frozenset(names), collections.defaultdict(list)))
    try:
        yield
    finally:
        _DATA.reset(data)
        _NUMBERED.reset(token)


def symbol(name, value):
    """``name`` (a symbol, e.g. '\\lambda'), or ``value`` as ``number_latex`` writes it where the
    formula being written gives ``name`` more than one value (``symbols_of``)."""
    return number_latex(value) if name in _NUMBERED.get() else name


def data_symbol(symbol, data):
    """``symbol`` (e.g. 'D^{[1]}', a dropout mask; 'Y', unnamed labels) for the array ``data`` in the formula
    being written (``symbols_of``), numbered ``symbol_{(k)}`` where it would read as other data: a
    tensor printed by that name, or other values given the symbol before (two masks of one layer),
    as two lambdas print apart. The same values get the same symbol."""
    state = _DATA.get()
    if state is None:  # (a rule called outside a formula: nothing to tell apart)
        return symbol
    names, seen = state
    given = seen[symbol]
    found = next((k for k, earlier in enumerate(given) if np.array_equal(earlier, data)), None)
    if found is None:
        found = len(given)
        given.append(data)
    number = found + (symbol in names)
    return symbol if number == 0 else f"{symbol}_{{({number + 1})}}"


def parens(term, tall=False):
    """``term`` inside parentheses, tall ones around fractions and sums (or when asked)."""
    if tall or "\\frac" in term.text or "\\sum" in term.text:
        return Term(f"\\left({term.text}\\right)", simple=True)
    return Term(f"({term.text})", simple=True)


def at_least(term, prec):
    return term if term.prec >= prec else parens(term)


def operand_of_product(term, kind, left):
    """Parenthesize a factor unless it binds tighter than, or associates with, the product; a
    left factor ending in an open prefix term has that term closed ('\\log a \\odot b' would read
    as '\\log(a \\odot b)', and so would 'y \\odot \\log a \\odot b')."""
    if term.prec == PRODUCT and term.kind != kind and "scalar" not in (term.kind, kind):
        return parens(term)
    if left and term.tail is not None:
        closed = parens(Term(term.tail))
        if term.tail == term.text:  # the prefix term itself
            return closed
        return Term(term.text[:-len(term.tail)] + closed.text, term.prec, term.kind)
    return at_least(term, PRODUCT)


def right_of_sum(term, prec):
    term = at_least(term, prec)
    return parens(term) if term.text.startswith("-") else term


def call(function, *arguments):
    return Term(f"{function}(" + ", ".join(a.text for a in arguments) + ")")


def prefix(operator, term):
    """'\\log x' for a symbol or bracketed group, '\\log(x + y)' otherwise."""
    if term.simple or term.name is not None:
        return Term(f"{operator} {term.text}", PREFIX)
    return Term(f"{operator}({term.text})")


def superscript(term, script):
    """``term^{script}``; a base that already carries a superscript gets parentheses."""
    if term.name is not None:
        base, sup = term.name
        if script == "T":
            return Term(f"{base}^{{{sup}T}}")
    if not term.simple:
        term = parens(term)
    return Term(f"{term.text}^{{{script}}}")


def product(x, y, kind):
    """``x`` times ``y``: kind 'odot' (elementwise), 'matmul' or 'scalar' (one factor a scalar).

    A scalar factor does not change what the other factor is: ``(A \\odot B) \\cdot 2`` is
    still an elementwise product to a matrix product around it, so a scalar product takes
    the kind of its first operand that is an elementwise or matrix product, and the
    parentheses between those two kinds survive it: ``(A \\odot B \\cdot 2) W``.
    """
    joined = kind
    if kind == "scalar":
        kind = next((t.kind for t in (x, y) if t.prec == PRODUCT and t.kind != "scalar"), "scalar")
    x, y = operand_of_product(x, kind, True), operand_of_product(y, kind, False)
    if joined == "odot":
        joiner = " \\odot "
    elif y.text[:1].isdigit() or joined == "scalar" and not x.text[:1].isdigit():
        joiner = " \\cdot "
    else:
        joiner = " "
    return Term(x.text + joiner + y.text, PRODUCT, kind, tail=y.tail)  # (y, the last factor, stays open)


def params_subscript(node, *keys):
    """'_{\\mathrm{axis}=0, \\mathrm{ddof}=1}': the parameters ``keys`` that op output ``node`` was
    called with, each unless at its default in the op's declared call (var(x) and var(x, ddof=0)
    print alike, var(x, ddof=1) does not); '' when none is left."""
    shown = [f"{roman(key)}={value_latex(value)}" for key, value in off_default(node, keys)]
    return "_{" + ", ".join(shown) + "}" if shown else ""


def off_default(node, keys):
    """(key, value) of each parameter among ``keys`` that op output ``node`` was called with, unless at its
    default in the op's declared call (one without a default is always shown; one the call does not
    declare, unless None): the one rule of which parameters formulas and drawings show, so that
    softmax(x, axis=None) (default 0) or a keyword's False where True is the default is never dropped."""
    declared, params = _declared(node), node._params or {}
    return [(key, params[key]) for key in keys if key in params
            and not _equal(params[key], declared[key].default if key in declared else None)]


def declared_keywords(node):
    """The keyword parameters op output ``node`` was called with that its op's call declares (all of
    them when it takes ``**params``): what an op keeps for itself, as a compiled replay's saved
    values, is no parameter of the call."""
    declared = _declared(node)
    if any(p.kind is p.VAR_KEYWORD for p in declared.values()):
        return tuple(node._params or ())
    return tuple(key for key in node._params or () if key in declared)


def _declared(node):
    """The parameters (name -> inspect.Parameter) of op output ``node``'s declared call, else of its
    forward's."""
    signature = getattr(node._prim, "__signature__", None) or _signature_of(node._prim.forward)
    return signature.parameters if signature is not None else {}


def _signature_of(forward):
    """The forward's own signature (an op declared without a call of its own), None if it has none."""
    try:
        return inspect.signature(forward)
    except (TypeError, ValueError):  # (a builtin without a signature)
        return None


def _equal(value, default):
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # (an array compared entrywise)
        return False


def value_latex(value):
    """A parameter's value: a number as ``number_latex`` writes it, a tuple or list by its items,
    an array by its entries (``array_text``), anything else as its repr, upright."""
    if isinstance(value, (numbers.Number, np.number)) and not isinstance(value, (bool, np.bool_)):
        return number_latex(value)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(value_latex(v) for v in value) + ("," if len(value) == 1 and type(value) is tuple else "")
        return f"({inner})" if type(value) is tuple else f"[{inner}]"
    if isinstance(value, np.ndarray):
        return _index_text_latex(array_text(value))
    return roman(repr(value))


def array_text(a, threshold=32):
    """An index array (or list) by its entries, on one line as NumPy writes them: [0, 2],
    [[True, False], [False, True]]; one of more than ``threshold`` entries as NumPy summarizes
    it, its first and last three along each axis around '...'."""
    text = np.array2string(np.asarray(a), threshold=threshold, edgeitems=3, separator=", ",
                           max_line_width=10 ** 9)
    return re.sub(r"\[\s+", "[", re.sub(r"\s+", " ", text))  # (rows, and NumPy's padding, on one line)


def _index_text_latex(text):
    return re.sub(r"\b(True|False)\b", r"\\mathrm{\1}", text).replace("...", "\\ldots")


def slice_text(part):
    """A slice as Python writes it in an index: 0:1, :, ::2."""
    text = ":".join("" if v is None else str(v) for v in (part.start, part.stop))
    return text + ("" if part.step is None else f":{part.step}")


def index_latex(index):
    """``x[index]``'s subscript: 0, 1:3, \\ldots (an Ellipsis), \\mathrm{new} (None) and an index
    array or list by its entries ([0, 2]), so different indices print differently."""
    parts = index if isinstance(index, tuple) else (index,)

    def one(part):
        if isinstance(part, slice):
            return slice_text(part)
        if part is Ellipsis:
            return "\\ldots"
        if isinstance(part, (np.ndarray, list)):
            return _index_text_latex(array_text(part))
        return "\\mathrm{new}" if part is None else _index_text_latex(str(part))
    return ", ".join(one(p) for p in parts)


def mask_name(x):
    """The dropout mask of layer l is D^{[l]}, read from the name of the layer's A^{[l]}."""
    match = re.fullmatch(r"[A-Za-z]+(\d+)", x.name or "")
    return f"D^{{[{match.group(1)}]}}" if match else "D"


def function(name, *terms, node=None):
    """The generic rendering of an op without a rule of its own: ``\\mathrm{name}(a, b)``; given its
    output ``node``, with the keyword parameters its call declares that are off their defaults as
    a subscript (``\\mathrm{scale}_{\\mathrm{factor}=3}(x)``), as a built-in op shows its own."""
    script = "" if node is None else params_subscript(node, *declared_keywords(node))
    return call(roman(name) + script, *terms)
