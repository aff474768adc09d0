"""Checking gradients: against central differences (``gradcheck``, ``gradgradcheck``,
``numerical_gradient``) and against gradients derived by hand (``compare_gradients``).

The measure is the relative difference ||a - b|| / (||a|| + ||b||) (0 when both are
zero), over everything and per leaf; a check passes when both are below the threshold,
each counting only where its disagreement ||a - b|| is larger than the noise of the
comparison (``_fails_alone``, ``_pooled_counts``). Inputs may be arrays, Tensors or pytrees of them (a
dict of parameters); leaves are named by their dict keys in reports.
"""
import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from . import lr_schedule, pytree, tape
from .convert import flag, function_arg, to_float_array
from .errors import GraphError
from .modes import no_grad
from .rng import as_generator
from .tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "numerical_gradient", "compare_gradients", "GradcheckResult",
           "GradientComparison"]


@dataclass
class InputCheck:
    """Comparison for one input leaf: its relative difference and worst entry (in fast
    mode ``worst_entry`` is () and the values are the directional derivatives); ``error``
    ||autodiff - numerical|| over the leaf and ``bound`` the part of it that the finite
    differences and rounding cannot resolve (``_fails_alone``). ``difference`` and ``numeric`` are
    over 2 eps (docs/math.md, "Gradient checking"); ``error``, ``bound`` and ``judged``, the leaf's relative difference
    that the verdict reads, are over the step each entry actually took (``_taken``: x +- eps rounds to
    float64), the same but for rounding where |x| is small; ``unchecked`` the entries whose step
    rounds to 0 (x + eps == x), which fail the leaf (gradgradcheck: only when that is all of them);
    ``unmeasured`` whether its verdict would rest on a bound that f's rounding makes too large to
    tell its gradient from a wrong one (``_unmeasured``): noted, and the pooled difference's noise
    is then not excused."""
    index: int
    name: str
    shape: tuple
    difference: float
    worst_entry: tuple
    analytic: float
    numeric: float
    error: float
    bound: float
    judged: float = None
    unchecked: list = field(default_factory=list)
    unmeasured: bool = False

    def __post_init__(self):
        if self.judged is None:  # (a record built by hand: no rounded steps)
            self.judged = self.difference


@dataclass
class Kink:
    """An entry where f's one-sided difference slopes disagree (f may have no derivative there):
    input ``index`` (leaf ``name``), ``entry`` (() in fast mode: along its direction), and the
    slopes (f(x) - f(x - eps)) / eps (``left``) and (f(x + eps) - f(x)) / eps (``right``).
    ``crossed``: found instead by the differences at eps and 3 eps not being a smooth f's, where
    the disagreement exceeds what a smooth f's measured truncation explains (``_judged``)."""
    index: int
    name: str
    entry: tuple
    left: float
    right: float
    crossed: bool = False


@dataclass
class GradcheckResult:
    """Outcome of ``gradcheck``; ``passed``: ``judged < threshold`` or within its noise
    (``_pooled_counts``), and no input leaf fails on its own (``_fails_alone``). ``difference`` is
    over 2 eps (docs/math.md, "Gradient checking"), ``judged`` over the steps taken (None: the same), as the leaves'
    (``InputCheck``). ``kinks``: the entries where f seems to have no derivative (a list of
    ``Kink``; the verdict ignores them). ``forward``: the forward-mode check (a result of mode
    "forward", JVPs against the differences; None when ``modes`` leaves it out), which must pass too
    unless it could not run (``skipped``: why, e.g. an op without a JVP rule; a check of forward mode
    alone then fails, having checked nothing)."""
    difference: float
    threshold: float
    inputs: list = field(default_factory=list)
    mode: str = "full"
    kinks: list = field(default_factory=list)
    judged: float = None
    own_dtype: list = field(default_factory=list)
    forward: object = None
    skipped: str = None

    def __post_init__(self):
        if self.judged is None:
            self.judged = self.difference

    @property
    def passed(self):
        return (_verdict(self.judged, self.threshold, self.inputs) and not any(c.failed for c in self.own_dtype)
                and (self.forward is None or self.forward.passed or self.forward.skipped is not None))

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        what = {"full": "", "fast": " (fast: one random direction per input)",
                "forward": " (forward mode: one random direction per input)",
                "second order": " (second order: Hessian-vector product vs differences of the gradient)"}[self.mode]
        if self.skipped is not None:
            return f"gradcheck{what} {verdict}: nothing checked: {self.skipped}"
        difference = _shown(self.difference, self.threshold)[0] + _taken_shown(self, self.threshold)
        autodiff = "JVP" if self.mode == "forward" else "autodiff"
        note = _headline_note(self.judged, self.threshold, self.inputs, lambda c: f"input {c.index} {c.name}",
                              f"||{autodiff} - numerical||")
        if any(c.failed for c in self.own_dtype):
            note += "; autodiff's gradient at the inputs' own dtype differs from the float64 one (below)"
        if self.forward is not None and not self.forward.passed and self.forward.skipped is None:
            note += "; forward mode's check fails (below)"
        lines = [f"gradcheck{what} {verdict}: difference {difference} (threshold {self.threshold!r}){note}"]
        worst = _worst(self.inputs, self.threshold)
        for c in self.inputs:
            mark = "  <- worst" if c is worst and len(self.inputs) > 1 else ""
            where = "along the direction: " if self.mode in ("fast", "forward") else f"worst entry {c.worst_entry}: "
            shown = _shown(c.difference, self.threshold)[0] + _taken_shown(c, self.threshold)
            flag = _flag(c, self.threshold, f"||{autodiff} - numerical||")
            lines.append(f"  input {c.index} {c.name} {c.shape}: difference {shown}, {where}{autodiff} "
                         f"{c.analytic:.10g} vs numerical {c.numeric:.10g}{flag}{mark}")
        return "\n".join(lines + _step_lines(self) + _unmeasured_lines(self) + _dtype_lines(self.own_dtype)
                         + _forward_lines(self.forward) + _kink_lines(self.kinks, self.mode, len(self.inputs)))


def _forward_lines(forward):
    """The report's lines on the forward-mode check (``GradcheckResult.forward``), indented under the
    reverse-mode one: its own report but for its kinks (f's, which the reverse check's cautions name),
    or why it could not run (which the verdict excuses there)."""
    if forward is None:
        return []
    if forward.skipped is not None:
        return [f"  forward mode not checked (the verdict rests on reverse mode): {forward.skipped}"]
    return [f"  {line}" for line in str(replace(forward, kinks=[])).splitlines()]


def _dtype_lines(checks):
    """The report's lines on autodiff's gradient at the inputs' own dtype against the float64 one
    the check ran on (``DtypeCheck``): one per compared leaf, two with a note for one that differs."""
    lines = []
    for c in checks:
        compared = (f"  input {c.index} {c.name}: autodiff's gradient at its own dtype {c.dtype} vs float64's: "
                    f"difference {_shown(c.difference, c.threshold)[0]} (threshold {c.threshold:.3g})")
        if not c.failed:
            lines.append(f"{compared}, every entry within {c.allowed:.3g}")
            continue
        shown = ", ".join(map(str, c.entries[:_KINKS_SHOWN])) + (" ..." if len(c.entries) > _KINKS_SHOWN else "")
        off = (f"  {len(c.entries)} {'entry' if len(c.entries) == 1 else 'entries'} off by more than "
               f"{c.allowed:.3g} ({shown}); " if c.entries else "  ")
        lines += [compared, f"{off}worst entry {c.worst_entry}: {c.own:.10g} at {c.dtype} vs {c.float64:.10g} "
                  "at float64  FAIL"]
    if any(c.failed for c in checks):
        lines += ["  note: the check ran on float64 copies of the inputs; at the dtype f really runs in, its",
                  "  gradient overflows, branches on the dtype or loses its digits there"]
    return lines


def _unmeasured_lines(result):
    """The report's notes on the leaves the differences could not measure (``_unmeasured``), with
    why and what to do (second order: the differences are of f's gradient)."""
    second = result.mode == "second order"
    value, what, offset = (("f's gradient", "its second derivatives are", "a large linear term of f") if second
                           else ("f's value", "its gradient is", "the constant from f"))
    lines = []
    for c in result.inputs:
        if c.unmeasured:
            size = c.error / c.judged  # (||autodiff|| + ||numerical||, as the relative difference divides)
            lines += [f"  note: input {c.index} {c.name} could not be measured: its noise bound {c.bound:.2e} is "
                      "not below a third of", f"  ||autodiff|| + ||numerical|| = {size:.2e}: the rounding of "
                      f"{value} swamps this leaf's change over 2 eps", f"  ({value} large next to it, or this "
                      f"leaf's part tiny), so nothing says {what} right here, and",
                      "  the difference over all leaves is not excused as noise; for a measurement pass a larger "
                      f"eps, or subtract {offset}"]
    return lines


def _taken_shown(checked, threshold):
    """For a result or leaf whose difference over 2 eps and ``judged`` (over the steps taken, which
    the verdict reads) fall on two sides of ``threshold``: the latter, as the report adds it."""
    if (checked.difference < threshold) == (checked.judged < threshold):
        return ""
    return f" ({_shown(checked.judged, threshold)[0]} over the steps taken)"


def _step_lines(result):
    """The report's notes on the steps taken: where x +- eps rounds so much that a difference over
    2 eps and over the step taken fall on two sides of the threshold (``_taken_shown``), and, per
    leaf, the entries whose step rounds to 0 (``InputCheck.unchecked``), which fail it. (Second
    order: the step is eps v, the verdict compares along the displacement taken, and a leaf lists
    its entries only when none of them moved.)"""
    second = result.mode == "second order"
    step, what = ((" v", "the leaf is not displaced at all and its second derivatives") if second else
                  ("", "the step taken is 0 and the gradient there"))
    verdict = "compares autodiff along the displacement taken" if second else "divides by the step each entry took"
    lines = []
    if any(_taken_shown(c, result.threshold) for c in [result] + result.inputs):
        lines += [f"  note: x +- eps{step} rounds to float64 at these |x|, so the steps taken are not 2 eps{step}",
                  f"  and the differences over 2 eps are off; the verdict {verdict}"]
    for c in result.inputs:
        if c.unchecked:
            shown = ", ".join(str(e) for e in c.unchecked[:_KINKS_SHOWN])
            more = f" and {len(c.unchecked) - _KINKS_SHOWN} more" if len(c.unchecked) > _KINKS_SHOWN else ""
            count = f"{len(c.unchecked)} {'entry' if len(c.unchecked) == 1 else 'entries'}"
            where = f"input {c.index} {c.name}: x + eps{step} rounds to x at {count} ({shown}{more})"
            lines += [f"  note: {where}: eps{' |v|' if second else ''} is under half a unit of x there, so",
                      f"  {what} cannot be checked (FAIL); pass a larger eps",
                      "  (1e-7 |x| or more)"]
    return lines


_KINKS_SHOWN = 5  # (a report names the first few; result.kinks holds them all)


def _kink_lines(kinks, mode, directions):
    """The report's cautions about ``kinks``: the first few of each kind, each with its one-sided
    slopes (``directions``: fast mode's count, one per input leaf)."""
    seen = [k for k in kinks if not k.crossed]
    crossed = [k for k in kinks if k.crossed]
    return (_kind_lines(seen, mode, directions, ["f may not be differentiable (a kink) at {count}: its one-sided",
                                                  "slopes disagree there, and a central difference measures only "
                                                  "their mean", "(the verdict ignores this):"])
            + _kind_lines(crossed, mode, directions, [
                "f seems to have a kink within 3 eps of x at {count}: its differences at eps",
                "and 3 eps are not a smooth f's, so they cannot measure the truncation, and the",
                "disagreement there is allowed for (a wrong gradient may pass there; check at a smaller eps):"]))


def _kind_lines(kinks, mode, directions, text):
    """One caution of ``_kink_lines``: ``text``'s lines (the first holding ``{count}``), then the
    first few ``kinks``."""
    if not kinks:
        return []
    count = f"{len(kinks)} {'entry' if len(kinks) == 1 else 'entries'}" if mode == "full" else \
        f"{len(kinks)} of the {directions} directions checked"
    lines = [f"  caution: {text[0].format(count=count)}"] + [f"  {line}" for line in text[1:]]
    for k in kinks[:_KINKS_SHOWN]:
        where = f"entry {k.entry}" if mode == "full" else "along its direction"
        lines.append(f"    input {k.index} {k.name} {where}: slope {k.left:.6g} from the left, "
                     f"{k.right:.6g} from the right")
    if len(kinks) > _KINKS_SHOWN:
        lines.append(f"    ... and {len(kinks) - _KINKS_SHOWN} more (result.kinks lists them all)")
    return lines


def _fails_alone(leaf, threshold):
    """Whether ``leaf`` (an ``InputCheck`` or ``LeafComparison``) fails the check on its own: its
    relative difference is at or above ``threshold`` and its disagreement ``error`` is above
    ``bound``, what the comparison's own noise can make it (finite differences' error, rounding
    at the scale of all the leaves together). A leaf whose gradient is ~0 on both sides (a bias
    that no example reaches, 1e-12 next to 1e3) has a relative difference near 1 made of that
    noise alone, which says nothing about its gradient. (An infinite bound, from an inf or nan
    value, excuses nothing. A leaf the differences could not measure, ``InputCheck.unmeasured``, is
    excused too, as the differences cannot tell it from a wrong one: the verdict then rests on the
    difference over all leaves, which its noise may no longer excuse, ``_pooled_counts``.)"""
    return not (leaf.judged < threshold or leaf.error <= leaf.bound < math.inf)


def _not_counted(leaf, threshold):
    """Whether ``leaf``'s difference is at or above ``threshold`` but is the comparison's noise
    (its error within its bound), so it does not count."""
    return not leaf.judged < threshold and not _fails_alone(leaf, threshold)


def _pooled_noise(leaves):
    """||a - b|| over all leaves and its noise bound, the norm of the leaves' bounds: every leaf's
    error within its bound puts the pooled error within this one."""
    return _norm([c.error for c in leaves]), _norm([c.bound for c in leaves])


def _pooled_counts(difference, threshold, leaves):
    """Whether the relative difference over all leaves fails the check: at or above ``threshold``
    with the pooled error above its noise bound (``_pooled_noise``). The noise a leaf's bound
    excuses (a gradient ~0 next to f's rounding) is noise in the pooled difference too: near a
    minimum, where every gradient is ~0, it is noise alone. (A result built without leaves has
    no noise to allow, and one with an unmeasured leaf none it can trust.)"""
    if difference < threshold or not leaves or any(c.unmeasured for c in leaves):
        return not difference < threshold
    error, bound = _pooled_noise(leaves)
    return not error <= bound < math.inf


def _verdict(difference, threshold, leaves):
    """A check's verdict: the relative difference over all leaves below ``threshold`` or within
    its noise (``_pooled_counts``), and no leaf failing on its own (a small gradient wrong by 2x
    hides in the pooled difference)."""
    return not _pooled_counts(difference, threshold, leaves) and not any(_fails_alone(c, threshold) for c in leaves)


def _worst(leaves, threshold):
    """The leaf a report points to: one holding inf or nan (a nan difference) first, else the
    largest difference among the leaves that count (a zero gradient's noise, ``_not_counted``,
    is no lead), else among all; None for no leaves."""
    counted = [c for c in leaves if not _not_counted(c, threshold)] or leaves
    return max(counted, key=lambda c: (math.isnan(c.judged), 0.0 if math.isnan(c.judged) else c.judged),
               default=None)


def _headline_note(difference, threshold, leaves, label, error):
    """The headline's note: the leaves that fail on their own (``label(leaf)``) when they alone
    fail the check, and why a pooled difference over the threshold does not count (``error``: how
    the report names ||a - b||), else ''."""
    failing = [c for c in leaves if _fails_alone(c, threshold)]
    note = ""
    if not difference < threshold and not _pooled_counts(difference, threshold, leaves):
        pooled, bound = _pooled_noise(leaves)
        note = f"; not counted: {error} = {pooled:.2e} over all leaves, within the noise bound {bound:.2e}"
    if failing and not _pooled_counts(difference, threshold, leaves):
        named = ", ".join(f"{label(c)} {_shown(c.judged, threshold)[0]}" for c in failing[:3])
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        note += f"; on its own, over the threshold: {named}{more}"
    return note


def _flag(leaf, threshold, error):
    """A report row's flag: FAIL for a leaf failing on its own, for one whose difference is the
    comparison's noise the reason it does not count (``error``: how the report names it), else ''."""
    if leaf.judged < threshold:
        return ""
    if _fails_alone(leaf, threshold):
        return "  FAIL"
    unmeasured = "; could not be measured: see the note" if leaf.unmeasured else ""
    return f"  (not counted: {error} = {leaf.error:.2e}, within the noise bound {leaf.bound:.2e}{unmeasured})"


def _shown(difference, threshold):
    """``difference`` and ``threshold`` as a report prints them, agreeing with the verdict
    ``difference < threshold``: the threshold exactly (repr: 1.4e-05, not 1e-05), the difference
    to four digits unless those would put it on the other side of the threshold (then exactly)."""
    shown = f"{difference:.3e}"
    if (float(shown) < threshold) != (difference < threshold):
        shown = repr(difference)
    return shown, repr(threshold)


def relative_difference(a, b):
    """||a - b|| / (||a|| + ||b||) in float64 for arrays a, b of one shape (or broadcastable);
    0.0 when both are zero, nan (a failed check) when either holds inf or nan.

    Both are divided by max(|a|, |b|) first: the ratio is unchanged, and no square in the
    norms underflows (gradients near 1e-170 would give 0/0) or overflows (near 1e155, inf/inf)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))  # nan propagates
    if not np.isfinite(scale):  # an inf or nan entry: no gradient to pass
        return math.nan
    if scale == 0:
        return 0.0
    a, b = a / scale, b / scale
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


_relative_difference = relative_difference

# A value computed in floating point is taken to be within this many units of roundoff of its
# exact value: the noise bound of a leaf (``_fails_alone``). The unit is float64's, 2 ** -53.
_ROUNDING_UNITS = 8
_UNIT = np.finfo(np.float64).eps / 2


def _norm(x):
    """||x||_2 in float64, as ``relative_difference`` scales it (no square under- or overflows);
    inf or nan when x holds one."""
    x = np.asarray(x, dtype=np.float64)
    scale = np.max(np.abs(x), initial=0.0)
    if not np.isfinite(scale) or scale == 0:
        return float(scale)
    return float(scale * np.linalg.norm(x / scale))


def _disagreements(first, second, bounds, floors=None):
    """The relative difference of the arrays ``first`` and ``second`` (leaf by leaf of one shape)
    over all leaves, and per leaf ``(difference, error, bound)``: its relative difference, its
    ||first - second||, and ``bounds``' entry plus ``floors``' (the rounding of the leaf's values).
    By default that floor is the rounding of values at the scale of all the leaves,
    ``_ROUNDING_UNITS`` float64 units of ||first|| + ||second|| (a gradient that is 0 computed as
    a residue of larger terms)."""
    a = np.concatenate([np.ravel(x) for x in first]) if first else np.zeros(0)
    b = np.concatenate([np.ravel(x) for x in second]) if second else np.zeros(0)
    if floors is None:
        floors = [_ROUNDING_UNITS * _UNIT * (_norm(a) + _norm(b))] * len(first)
    with np.errstate(over="ignore", invalid="ignore"):  # (inf - inf: a nan error, which fails)
        rows = [(relative_difference(x, y), _norm(np.subtract(x, y)), float(bound + floor))
                for x, y, bound, floor in zip(first, second, bounds, floors)]
    return relative_difference(a, b), rows


def _zero_level(unit):
    """The fraction of the pooled norm below which a value rounded to ``unit`` may be a zero
    gradient computed as a residue of larger terms (``_zero_bounds``): eps ** 0.75 in float64
    (1.8e-12), 1e4 below the smallest real gradient ratio a factor-2 error must be caught at (a
    bias gradient 1e-8 of the weights', adv83's b1). A narrower float has no such room: with
    features left unscaled (x 1e6) a real bias gradient is ~4 float32 units of the pooled norm
    (adv87), so there the level is the rounding itself, ``_ROUNDING_UNITS`` units."""
    return (2 * unit) ** 0.75 if unit <= _UNIT else _ROUNDING_UNITS * unit


def _zero_bounds(first, second, levels, pooled=None):
    """Per leaf, the bound below which its disagreement does not count beyond rounding at the
    pooled scale: ||a|| + ||e|| for a leaf whose each side is at most its level (``levels``: per
    leaf a pair, ``_zero_level`` of each side's unit) times ``pooled``, by default ||all a|| +
    ||all e||, else 0. Such a leaf counts as a zero gradient: an exact 0 computed as a sum over m
    examples of terms up to the other leaves' size carries ~sqrt(m) to m units of their rounding,
    which no fixed count of units covers. A float64 side above its level shows a real gradient,
    whatever the other side's dtype."""
    if pooled is None:
        pooled = (_norm(np.concatenate([np.ravel(x) for x in first] or [np.zeros(0)]))
                  + _norm(np.concatenate([np.ravel(x) for x in second] or [np.zeros(0)])))
    return [_norm(a) + _norm(e) if _norm(a) <= first_level * pooled and _norm(e) <= second_level * pooled else 0.0
            for a, e, (first_level, second_level) in zip(first, second, levels)]


def _resolution(values, eps, scale, bend=0.0):
    """The error a central difference (f(x + h) - f(x - h)) / (2 h) may carry, as a norm over
    entries: its ``_noise`` (``values``, per entry the larger |f(x + h)|, |f(x - h)|, rounded, over
    ``eps``, the half step h taken: per entry or one number; ``bend``, ``_bend``) plus the
    truncation eps ** 2 |f3| / 6, with f3 taken to be at most ``scale`` (``_f_scale``) in size."""
    return _norm(_noise(values, eps, bend) + eps ** 2 * scale)


def _noise(values, half, bend):
    """Per entry, the error of a central difference over a step taken of ``half`` either way that
    no gradient explains: f's values (per entry the larger |f| of the two, ``values``) rounded to
    ``_ROUNDING_UNITS`` units each, over ``half``, plus ``bend`` (``_bend``: its midpoint off x)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # (a step of 0: an inf or nan part, no bound)
        return _ROUNDING_UNITS * _UNIT * np.abs(values) / half + bend


def _taken(x, step):
    """Per entry of ``x``, the step a central difference over ``step`` (a number, or per entry) takes,
    h = (x + step) - (x - step) with x +- step rounded to float64, and its one-sided parts ``(right,
    left)`` = ((x + step) - x, x - (x - step)) (all exact, by Sterbenz, wherever x is large enough
    for x +- step to round). h is off 2 step by up to a unit of x (4% at |x| = 1e8, step 1e-7), and
    0 where x + step rounds to x; right and left differ only where x +- step round to grids of two
    sizes (x within step of a power of 2), so the step's midpoint is off x (``_bend``)."""
    with np.errstate(invalid="ignore"):  # (an inf x: a nan step, nothing measured)
        plus, minus = x + step, x - step
        return plus - minus, (plus - x, x - minus)


def _bend(values, center, sides, offset, scale):
    """Per entry, how far a central difference over the step taken is off f'(x) for the step's
    midpoint being ``offset`` off x: f'' times that, f'' measured by the change of the one-sided
    slopes from f(x) = ``center`` to f's ``(plus, minus)`` ``values`` over the one-sided steps taken,
    ``sides`` (``_taken``; their rounding included), where both moved, else taken to be at most
    ``scale`` (``_f_scale``: one side rounded to x leaves f'' unseen)."""
    right, left = (np.asarray(side, dtype=np.float64) for side in sides)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        curvature = 2 * np.abs((values[0] - center) / right - (center - values[1]) / left) / (right + left)
        return np.where(offset > 0, offset * np.where((right > 0) & (left > 0), curvature, scale), 0.0)


def _over_taken(values, taken):
    """The central difference from f's ``(plus, minus)`` values over the steps ``taken`` (h of
    ``_taken``); nan where h is not > 0 (x + step rounded to x: nothing was measured)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(taken > 0, (np.asarray(values[0]) - values[1]) / taken, np.nan)


def _unchecked(x, eps):
    """The entries (index tuples) of ``x`` where x + eps rounds to x, so no step is taken there."""
    return [tuple(int(k) for k in e) for e in np.argwhere(np.atleast_1d(_taken(x, eps)[0] == 0))
            ] if np.ndim(x) else ([()] if _taken(x, eps)[0] == 0 else [])


def _f_scale(center, slope_scale):
    """The scale assumed for f's derivatives near x (the unit an absolute eps assumes for x):
    max(1, |f(x)|, f's largest slope)."""
    return max(1.0, abs(center), slope_scale)


def _worst_entry(a, b):
    """``(index, a[index], b[index])`` where |a - b| is largest (a nan or inf entry counts as
    largest); ``((), 0.0, 0.0)`` for empty arrays of one shape."""
    if not a.size:
        return (), 0.0, 0.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: nan, which argmax picks first
        worst = np.unravel_index(np.argmax(np.abs(a - b)), a.shape)
    return tuple(int(k) for k in worst), float(a[worst]), float(b[worst])


def _check_eps(eps, op):
    """``eps`` as a float: a finite number > 0, taken as the optimizers' ``lr`` is (``lr_schedule._real``: a
    0-d real array or a Fraction is the number it holds; an int beyond the largest float names the range)."""
    return lr_schedule._real(op, "eps", eps, positive=True)


def _check_threshold(threshold, op):
    """``threshold`` as a float, by the rule of ``_check_eps``: NaN or a negative one would fail every check."""
    return lr_schedule._real(op, "threshold", threshold, positive=True)


def _leaf_array(x, op, name):
    """Input leaf ``x`` (named ``name`` in errors) as the float64 array the checks compute on."""
    return _float64(_own_float(x, op, name))


def _own_float(x, op, name):
    """Input leaf ``x`` as a float array of its own precision (ints and bools as float64), by the
    package's conversion, which refuses by the leaf's name a masked array with a masked entry, complex
    numbers, strings and ragged lists (an np.matrix is its ndarray)."""
    return to_float_array(x, f"{op}: input '{name}'", copy=False)


def _float64(array):
    # C order: the finite differences move one entry at a time through reshape(-1), which is a
    # view only of a C-ordered array (of a transposed one, W.T, a copy that f never sees)
    return np.array(array, dtype=np.float64, order="C")


class _Flat:
    """``inputs`` (a sequence of arrays/Tensors/pytrees) flattened to float64 leaves with names
    (``arrays``), and the same leaves at their own dtypes (``native``)."""

    def __init__(self, inputs, op):
        if isinstance(inputs, (dict, np.ndarray, Tensor)) or not isinstance(inputs, (list, tuple)):
            raise TypeError(f"{op}: inputs must be a list or tuple of f's arguments (each an array, a Tensor or "
                            f"a pytree), got {type(inputs).__name__}; wrap a single one as [x]")
        if not inputs:
            raise ValueError(f"{op}: no inputs given; expected at least one array to differentiate")
        self.defs, self.names, self.arrays, self.counts, self.native = [], [], [], [], []
        for i, x in enumerate(inputs):
            leaves, treedef = pytree.flatten(x)
            paths = pytree.leaf_names(treedef)
            for leaf, path in zip(leaves, paths):
                name = path or getattr(leaf, "name", None) or f"x{i}"
                if len(inputs) > 1 and path:
                    name = f"x{i}.{path}" if not path.startswith("[") else f"x{i}{path}"
                self.names.append(name)
                self.arrays.append(_leaf_array(leaf, op, name))
                # (the leaf at its own dtype: the float64 copy cast back is exact)
                self.native.append(self.arrays[-1].astype(np.asarray(getattr(leaf, "_array", leaf)).dtype))
            self.defs.append(treedef)
            self.counts.append(len(leaves))
        if not self.arrays:  # (each input None or an empty container, which have no leaves)
            raise ValueError(f"{op}: the inputs hold no arrays (only None or empty containers); expected at "
                             "least one array to differentiate")

    def args(self, arrays, make=Tensor):
        out, start = [], 0
        for treedef, n in zip(self.defs, self.counts):
            out.append(pytree.unflatten(treedef, [make(a) for a in arrays[start:start + n]]))
            start += n
        return out


def _scalar_output(out, op, plain=False):
    """``out`` if it is a single-element Tensor, else GraphError naming ``op``. With ``plain`` (f
    evaluated outside any transform) a single-element ndarray or NumPy scalar is a value too:
    there ``ag.hvp``, ``ag.jvp`` and ``ag.vjp`` inside f give ndarrays, where ``ag.grad``'s
    evaluation (``_autodiff``) gets Tensors from them."""
    if isinstance(out, (Tensor, np.ndarray, np.generic) if plain else Tensor) and out.size == 1:
        return out
    what = (f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else
            f"an ndarray of shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__)
    raise GraphError(f"{op}: f must return a single-element Tensor (a scalar), got {what}")


def _value(f, flat, arrays, op):
    """f's value at ``arrays`` as a Python float, for the determinism check and the differences."""
    with no_grad():
        return _scalar_output(f(*flat.args(arrays)), op, plain=True).item()


def _check_deterministic(f, flat, op):
    """Evaluate f twice at the unperturbed inputs and refuse a function whose value changes.

    Central differences (f(x + eps) - f(x - eps)) / (2 eps) of a function that draws fresh
    randomness per call (dropout masks) measure the noise divided by eps (~1e6), not the
    gradient, so every entry would fail with no hint why; two evaluations find that cheaply.
    Returns f's (first) value there, the centre of the one-sided differences.
    """
    first, second = _value(f, flat, flat.arrays, op), _value(f, flat, flat.arrays, op)
    if first == second or (math.isnan(first) and math.isnan(second)):
        return first
    # A last-bit wobble (a multi-threaded BLAS summing in another order) is not randomness;
    # dropout moves the value by percents. 1e-12 separates the two with room on both sides.
    if abs(first - second) <= 1e-12 * max(abs(first), abs(second)):
        return first
    raise ValueError(f"{op}: f is not deterministic: it gave {first!r} and then {second!r} at the same "
                     "inputs, so finite differences would measure its randomness, not its gradient. Hold "
                     "anything random fixed, e.g. dropout masks: pass masks=/mask=, or rng=<int seed> so "
                     "every call draws the same masks (or set the seed inside f)")


def _autodiff(f, flat, arrays=None, dtype=np.float64):
    """Autodiff's gradient of f for every leaf of ``flat`` (at ``arrays``, by default its float64
    copies), as arrays of ``dtype`` (None: the gradients' own)."""
    from .transforms import _evaluate

    tensors = [Tensor(a, requires_grad=True) for a in (flat.arrays if arrays is None else arrays)]
    # evaluated as ag.grad evaluates f, so that transforms inside f (ag.grad, ag.jvp) record
    # their results on this graph instead of returning constants
    out = _scalar_output(_evaluate(f, flat.args(tensors, make=lambda t: t), {}), "gradcheck")
    found = tape.backward(out, np.ones_like(out._array), inputs=tensors) if out.requires_grad else [None] * len(tensors)
    return [np.zeros_like(t._array) if g is None else np.asarray(getattr(g, "_array", g), dtype=dtype)
            for g, t in zip(found, tensors)]


@dataclass
class DtypeCheck:
    """gradcheck's comparison, for input leaf ``index`` (``name``) of an input narrower than float64,
    of autodiff's gradient at the inputs' own dtypes (``dtype``: the narrowest float among them) with
    the float64 one the check ran on: their relative ``difference``, the worst entry and the two
    values there (``own``, ``float64``), and whether it ``failed``: the difference at or above
    ``threshold``, beyond that dtype's rounding, or any entry off by more than ``allowed``
    (``entries`` lists those: ``_entries_off``)."""
    index: int
    name: str
    dtype: str
    difference: float
    worst_entry: tuple
    own: float
    float64: float
    threshold: float
    failed: bool
    allowed: float = math.inf
    entries: list = field(default_factory=list)


# By itemsize: a factor 2 is 1/3, a sign flip 1; a correct float32 gradient cancelling by 1e6 differed
# from the float64 one by 2e-3, a float16 one by 6e-2 (the sums' order alone moves them that much).
_OWN_DTYPE = {4: 0.1, 2: 0.3}


def _own_dtype(f, flat, analytic):
    """The ``DtypeCheck`` records of gradcheck's inputs narrower than float64 ([] when there are
    none), after one UserWarning naming them: the check itself runs on float64 copies (central
    differences in float32 cannot resolve eps = 1e-7), which would hide a gradient wrong only at the
    dtype f really runs in (an overflow to inf or nan, a VJP branching on the dtype).

    So autodiff's gradient is also taken at the inputs' own dtypes and compared with the float64
    one by ``compare_gradients`` (its rounding and zero-gradient allowances for that dtype), with a
    threshold of 0.1 for float32 and 0.3 for float16 (``_OWN_DTYPE``): those mistakes differ by a
    factor 2 or more or are inf or nan (which fail), while a correct gradient that is a sum cancelling
    to a small value (a bias after some training) differs between float32 and float64 by as much as
    its sums' order makes it, 1e-3 and more, and in float16 by several percent. A leaf whose float64 gradient holds inf or nan is left to the main
    check, which fails it."""
    narrow = [(name, a.dtype) for name, a in zip(flat.names, flat.native)
              if a.dtype.kind == "f" and a.dtype.itemsize < 8]
    if not narrow:
        return []
    warnings.warn(f"gradcheck: {', '.join(f'{n!r} ({d})' for n, d in narrow)} checked on float64 copies "
                  "(differences in a narrower float cannot resolve eps); autodiff's gradient at the inputs' own "
                  "dtype is compared with the float64 one too", UserWarning, stacklevel=3)
    dtype = min((d for _, d in narrow), key=lambda d: d.itemsize)
    threshold = _OWN_DTYPE[dtype.itemsize]
    own = _autodiff(f, flat, _at_own_dtype(flat, 0), None)
    kept = [i for i, a in enumerate(analytic) if np.all(np.isfinite(a))]
    with np.errstate(invalid="ignore", over="ignore"):  # (inf - inf: a nan difference, which fails)
        comparison = compare_gradients([own[i] for i in kept], [analytic[i] for i in kept], threshold)
    failed = [_fails_alone(c, threshold) for c in comparison.leaves]
    if not comparison.passed and not any(failed):  # (only the pooled difference fails: name the worst)
        failed = [c is comparison.worst for c in comparison.leaves]
    off = _entries_off(f, flat, own, analytic, kept, np.finfo(dtype).eps / 2)
    return [DtypeCheck(i, flat.names[i], str(dtype), c.difference, c.worst_entry, c.actual, c.expected, threshold,
                       bad or bool(entries), allowed, entries)
            for i, c, bad, (allowed, entries) in zip(kept, comparison.leaves, failed, off)]


# The own-dtype inputs are moved by this many units of their dtype (at each leaf's largest |x|) to
# see how much the gradient's rounding moves: enough that f's intermediate values round anew.
_JITTER = 16
# An entry counts as off where its own-dtype error is beyond this many times that movement.
_MOVES = 8


def _at_own_dtype(flat, units):
    """The inputs at their own dtypes, each float leaf narrower than float64 moved by ``units`` of
    its dtype at its largest |x| (1 for a zero leaf) and rounded to it; integer leaves as float64."""
    moved = []
    for a, x in zip(flat.native, flat.arrays):
        narrow = a.dtype.kind == "f" and a.dtype.itemsize < 8
        step = units * np.spacing(a.dtype.type(np.max(np.abs(x), initial=0.0) or 1.0)) if narrow else 0
        moved.append((a + step).astype(a.dtype) if a.dtype.kind == "f" else x)
    return moved


def _entries_off(f, flat, own, analytic, kept, unit):
    """Per leaf of ``kept``, ``(allowed, entries)``: the entries whose own-dtype gradient (``own``)
    is off the float64 one (``analytic``) by more than ``allowed``, ``_ROUNDING_UNITS`` units of the
    dtype (``unit``) at the leaf's largest |gradient| plus ``_MOVES`` times the most that error moves
    when the narrow inputs move by +-``_JITTER`` units of their dtype (both sides recomputed there).

    The pooled threshold misses a gradient 20% off, or one entry of 1000 with its sign flipped. A
    fixed count of units cannot tell those from rounding: a correct gradient that is a sum cancelling
    to 1e-9 after training is off in float32 by percents, its sign even. But rounding errors come
    out anew at inputs moved so slightly, while a wrong rule's error (e.g. 0.2 g) moves with g, by
    ~1e-6 of itself: so an entry stands out only against a leaf whose error stays put."""
    moves = []
    for units in (_JITTER, -_JITTER):
        moved = _at_own_dtype(flat, units)
        there = _autodiff(f, flat, [_float64(a) for a in moved])
        moves.append([_autodiff(f, flat, moved, None)[i] - there[i] for i in kept])
    result = []
    with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan error: left to the pooled check)
        for k, i in enumerate(kept):
            error = np.subtract(own[i], analytic[i], dtype=np.float64)
            moved = max(np.max(np.abs(m[k] - error), initial=0.0) for m in moves)
            allowed = float(_MOVES * moved + _ROUNDING_UNITS * unit * np.max(np.abs(analytic[i]), initial=0.0))
            # (and half the dtype's digits off the entry itself: a sum cancelling in float32 keeps fewer
            # digits than its terms' units say, a 20% error or a flipped sign keeps none)
            off = (np.abs(error) > allowed) & (np.abs(error) > np.sqrt(unit) * np.abs(analytic[i]))
            result.append((allowed, [tuple(int(j) for j in e) for e in np.argwhere(off)]))
    return result


def numerical_gradient(f, inputs, eps=1e-7):
    """Central differences of scalar ``f(*inputs)`` for each input, in float64.

    Args:
        f: function returning a single-element Tensor; inputs: list of arrays, Tensors
            or pytrees (every leaf is differentiated); eps: the step (> 0).
    Returns:
        a list with one entry per input, in its structure: ndarrays of the leaves' shapes.
    """
    function_arg(f, "numerical_gradient")
    eps = _check_eps(eps, "numerical_gradient")
    flat = _Flat(inputs, "numerical_gradient")
    return flat.args(_differences(f, flat, eps, "numerical_gradient"), make=lambda a: a)


def _differences(f, flat, eps, op):
    """The central differences of f for every entry of every leaf of ``flat``, as float64 arrays of
    the leaves' shapes; errors name ``op``, the function the user called."""
    return [(plus - minus) / (2 * eps) for plus, minus in _shifted_values(f, flat, eps, op)]


def _shifted_values(f, flat, eps, op):
    """Per leaf of ``flat``, ``(plus, minus)``: float64 arrays of its shape holding f's value with
    that entry moved by +eps and by -eps (the others as given)."""
    return [_leaf_values(f, flat, x, eps, op) for x in flat.arrays]


def _leaf_values(f, flat, x, eps, op):
    """``(plus, minus)`` for the leaf ``x`` of ``flat`` alone (``_shifted_values``)."""
    plus, minus = np.zeros_like(x), np.zeros_like(x)
    xf, pf, mf = x.reshape(-1), plus.reshape(-1), minus.reshape(-1)
    for i in range(xf.size):
        original = xf[i]
        xf[i] = original + eps
        pf[i] = _value(f, flat, flat.arrays, op)
        xf[i] = original - eps
        mf[i] = _value(f, flat, flat.arrays, op)
        xf[i] = original
    return plus, minus


# The measured truncation compares D(eps) with D(3 eps), not D(2 eps): doubling a step doubles
# every term of f that is linear in it exactly, so a rounding residue there would repeat, scaled.
_WIDER = 3
# The margin on the measured truncation. D(h) = f' + c2 h^2 + c4 h^4 + ..., so (D(3 eps) - D(eps)) / 8
# is c2 eps^2 + 10 c4 eps^4 where D(eps) is off by c2 eps^2 + c4 eps^4: where the two terms oppose
# (sin, tanh, a Gaussian) the estimate falls short of the error. 4 covers |c4 eps^2 / c2| up to 1/13,
# and a kink crossed at 3/4 of the step, which the even differences cannot see (``_unsmooth``).
_MARGIN = 4
# The share of the even differences' departure from a smooth f (``_unsmooth``, over eps) a leaf's
# bound allows: a kink of slope jump J crossed at s eps from x (0 <= s <= 1) puts D(eps) off by
# J (1 - s) / 2 and the departure at J |4 s - 3| eps; with ``_MARGIN`` on the J s / 24 that the
# measured truncation then sees, 1/6 covers every s, 1/2 with room for two kinks crossed at once.
_CROSSED = 0.5


def _measured_parts(index, wider, numeric, steps):
    """The finite differences' error for leaf ``index`` with the truncation measured rather than
    assumed (Richardson), per entry (or one direction's floats) in two parts: ``smooth``, D(eps)'s
    noise (``steps.taken``, each difference over the step taken) plus its truncation (D(h) = f' +
    h^2 f3 / 6 + ..., so D(3 eps) - D(eps) is eight times it, give or take both differences' noise
    and steps rounded off the 1 : 3 ratio, which at such |x| leave no truncation to speak of;
    ``_MARGIN`` times the part beyond that noise), and ``crossed``, what a kink crossed within 3 eps adds
    (``_CROSSED`` of ``_unsmooth`` over eps; 0 for a smooth f). ``wider``: f's ``(plus, minus)`` at
    x +- 3 eps, ``numeric`` D(eps), ``steps`` the ``_Steps``."""
    values, eps = steps.values[index], steps.eps
    (_, rounding), (wide, rounding3) = steps.taken(index, eps, values), steps.taken(index, _WIDER * eps, wider)
    moved = np.abs(wide - numeric)
    # (D(3 eps) - D(eps) within both differences' rounding may be rounding alone: only what is
    # surely truncation gets the margin, so no rounding is counted _MARGIN times over)
    truncation = moved + (_MARGIN - 1) * np.maximum(moved - rounding - rounding3, 0.0)
    smooth = rounding + (truncation + rounding + rounding3) / (_WIDER ** 2 - 1)
    return smooth, _CROSSED * _unsmooth(values, wider, steps, steps.sizes[index]) / eps


def _unsmooth(values, wider, steps, size):
    """How far f's even differences e(h) = (f(x + h) + f(x - h)) / 2 - f(x) at eps (``values``) and
    3 eps (``wider``) are from a smooth f's, per entry, beyond their rounding: a smooth f has
    e(h) = f'' h^2 / 2 + f4 h^4 / 24, so e(3 eps) - 9 e(eps) is 3 f4 eps^4, while a kink crossed within
    the step adds a term linear in eps (J (4 s - 3) eps for one of slope jump J at s eps). The rounding
    is f's values' and the moved inputs': x + h rounds by up to a unit of x (``size``: |x| per entry,
    or ``(||x||, ||gradient||)`` of a direction's leaf), which moves f by the slope times that."""
    center, eps = steps.center, steps.eps

    def even(pair):
        return (np.asarray(pair[0]) + pair[1]) / 2 - center

    def largest(pair):
        return np.maximum(np.abs(pair[0]), np.abs(pair[1]))
    with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan value: a nan part, no bound)
        slope = np.maximum(np.maximum(largest((values[0] - center, values[1] - center)) / eps,
                                      largest((wider[0] - center, wider[1] - center)) / (_WIDER * eps)),
                           0.0 if steps.entries else size[1])
        moved = (size if steps.entries else size[0]) * slope * (1 + _WIDER ** 2)
        departure = np.abs(even(wider) - _WIDER ** 2 * even(values))
        rounding = _ROUNDING_UNITS * _UNIT * (largest(wider) + _WIDER ** 2 * largest(values)
                                              + (_WIDER ** 2 - 1) * abs(center) + moved)
        return np.maximum(departure - rounding, 0.0)


@dataclass
class _Steps:
    """How ``_judged`` measures a doubtful leaf: f's ``(plus, minus)`` per leaf at +-eps
    (``values``), ``shifted(index, step)`` giving them at +-step, ``center`` f(x), the leaves'
    ``names``, their ``sizes`` (``_unsmooth``), ``taken(index, step, values)`` a leaf's central
    difference over the step taken from f's ``(plus, minus)`` at +-step and per entry its noise
    (``_noise``), whether a leaf's values are per entry (``entries``; else one direction, fast
    mode), and ``pooled`` the norm a zero gradient is small against (None: both sides' over all
    leaves, ``_zero_bounds``)."""
    values: list
    shifted: object
    eps: float
    center: float
    names: list
    sizes: list
    taken: object
    entries: bool = True
    pooled: float = None


def _judged(analytic, numeric, bounds, threshold, steps):
    """``_disagreements`` of ``analytic`` and ``numeric`` (per leaf, its differences D(eps)), with the
    bounds of doubtful leaves measured from f's values at +-3 eps (``steps``, a ``_Steps``): two more
    evaluations per entry (per direction, fast mode) of those leaves alone; also the ``Kink`` records
    of the entries where a kink crossed within 3 eps is what the measured bound allows for.

    A leaf the assumed ``bounds`` (``_resolution``) would excuse gets the smaller of that and its
    measured bound (``_measured_parts``): the assumed truncation grows with |f| whatever f's
    curvature, so at eps = 1e-3 next to a large f it excused a small gradient wrong by 2. Either keeps
    the pooled rounding floor of ``_disagreements``. A leaf whose both sides are below eps ** 0.75 of
    the pooled norm (``_zero_bounds``, as ``compare_gradients``) counts as a zero gradient, wholly
    excused, only where the differences do not resolve it (``_unresolved``): a residue of larger
    terms rounded in f's intermediate terms, which f's values do not show (0 next to gradients of 4:
    a linear layer at zero init with centred targets), while a small gradient they resolve is checked."""
    difference, rows = _disagreements(analytic, numeric, bounds)
    zero = _zero_bounds(analytic, numeric, [(_zero_level(_UNIT),) * 2] * len(analytic), steps.pooled)
    doubtful = [i for i, (d, error, bound) in enumerate(rows) if d >= threshold and (error <= bound or zero[i])]
    if not doubtful:
        return difference, rows, []
    bounds, crossed = list(bounds), []
    for i in doubtful:
        wider = steps.shifted(i, _WIDER * steps.eps)
        smooth, kinked = _measured_parts(i, wider, numeric[i], steps)
        crossed += _crossed(i, np.abs(np.subtract(analytic[i], numeric[i])) > smooth, kinked, steps)
        bounds[i] = min(bounds[i], _norm(smooth + kinked))
        bounds[i] += zero[i] if _unresolved(i, numeric[i], wider, steps) else 0.0
    return (*_disagreements(analytic, numeric, bounds), crossed)


def _crossed(index, beyond, kinked, steps):
    """The ``Kink`` records (``crossed``) of leaf ``index``'s entries whose disagreement is ``beyond``
    (a mask) what a smooth f's measured truncation explains, where its even differences show a kink
    crossed within 3 eps (``kinked`` > 0): the bound allows for the kink, and the report says so."""
    plus, minus = (np.asarray(v) for v in steps.values[index])
    with np.errstate(invalid="ignore", over="ignore"):
        left, right = (steps.center - minus) / steps.eps, (plus - steps.center) / steps.eps
        mask = beyond & (kinked > 0)
    at = zip(*np.nonzero(mask)) if np.ndim(mask) else ([()] if mask else [])
    return [Kink(index, steps.names[index], tuple(int(k) for k in e) if steps.entries else (), float(left[e]),
                 float(right[e]), crossed=True) for e in at]


def _unresolved(index, narrow, wider, steps):
    """Whether central differences D(eps) (``narrow``) and D(3 eps) (from ``wider``, f's values
    there) of leaf ``index`` fail to resolve a value: both are 0 (f's values do not move), or they
    disagree (by at least 2 ** -10 of D(eps)) in a way no smooth f's truncation explains.

    Two steps cannot tell the two apart: a truncation c eps ** 2 fits any pair. So a third is taken
    (two more evaluations per entry, of such a leaf alone), at eps / 3, where truncation predicts
    D(eps / 3) = D(eps) - (D(3 eps) - D(eps)) / 9 up to the eps ** 4 term and each difference's
    rounding at f's values (the eps ** 4 term misses it by 1/64 of D(3 eps) - D(eps) once it is
    1/64 of the eps ** 2 term), while a residue's noise, which grows as the step shrinks (3x here),
    misses it by about its own size. Each difference is over the step taken, with its noise
    (``steps.taken``)."""
    wide, noise3 = steps.taken(index, _WIDER * steps.eps, wider)
    if not np.any(narrow) and not np.any(wide):
        return True
    if _norm(np.subtract(wide, narrow)) < 2.0 ** -10 * _norm(narrow):
        return False  # (a residue's two draws of noise agree that well once in ~3000)
    step = steps.eps / _WIDER
    fine, noise = steps.taken(index, step, steps.shifted(index, step))
    predicted = narrow - (wide - narrow) / _WIDER ** 2
    allowed = (_norm(noise + steps.taken(index, steps.eps, steps.values[index])[1] + noise3)
               + 2.0 ** -6 * _norm(np.subtract(wide, narrow)) + 2.0 ** -10 * _norm(narrow))
    return not _norm(np.subtract(fine, predicted)) <= allowed


def _kinked(plus, minus, center, eps, slope_scale, sides=None):
    """Where the one-sided slopes (center - minus) / eps and (plus - center) / eps (arrays) disagree
    by more than a derivative's can: a mask, with those slopes. ``sides``: the steps x + eps and
    x - eps actually took, ``(right, left)`` (x +- eps rounds; a step of 0 gives no slope, no kink).

    For a smooth f they differ by f'' eps; at a kink (|x| at 0, a tie in max) by a jump that does
    not shrink with eps. Three values cannot tell c |x| from (c / eps) x ** 2, so a scale is assumed,
    the unit an absolute eps already assumes for x. A disagreement is a kink where it is (1) over
    a tenth of the larger slope: a smooth f of slope s differs by about s eps / d (d its distance to
    a singularity), where its central difference is off by (eps / d) ** 2 and fails first; (2) over
    eps ** (1/3) max(1, |f|, f's largest slope) (4.6e-3 at eps = 1e-7): at a point of zero slope,
    as a minimum, f'' up to eps ** (-2/3) that (46,000) is read as curvature; and (3) over 64 times
    f's rounding error over eps."""
    right_step, left_step = (eps, eps) if sides is None else sides
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # an inf or nan value: no slope, no kink
        left, right = (center - minus) / left_step, (plus - center) / right_step
        jump = np.abs(right - left)
        largest = np.maximum(np.maximum(np.abs(plus), np.abs(minus)), abs(center))
        floor = eps ** (1 / 3) * _f_scale(center, slope_scale)
        mask = ((jump > 0.1 * np.maximum(np.abs(left), np.abs(right))) & (jump > floor)
                & (jump > 64 * np.finfo(np.float64).eps * largest / np.minimum(left_step, right_step)))
    return mask, left, right


def _kinks(values, center, eps, names, sides, entries=True):
    """The ``Kink`` records of every leaf's ``(plus, minus)`` values around f's value ``center``
    (``sides``: per leaf, the steps taken to them, ``_kinked``; ``entries``: each value is an
    entry's; else one direction per leaf, fast mode)."""
    if not math.isfinite(center):
        return []
    scale = _largest_slope(values, eps)
    found = []
    for index, ((plus, minus), name, side) in enumerate(zip(values, names, sides)):
        mask, left, right = _kinked(np.asarray(plus), np.asarray(minus), center, eps, scale, side)
        for at in zip(*np.nonzero(mask)) if np.ndim(mask) else ([()] if mask else []):
            entry = tuple(int(k) for k in at) if entries else ()
            found.append(Kink(index, name, entry, float(left[at]), float(right[at])))
    return found


def _largest_slope(values, eps):
    """The largest finite |f(x + eps) - f(x - eps)| / (2 eps) over the ``(plus, minus)`` of ``values``."""
    with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan slope is left out of the scale)
        slopes = [np.abs(np.asarray(plus) - minus) / (2 * eps) for plus, minus in values]
    return max(float(np.max(s[np.isfinite(s)], initial=0.0)) for s in slopes)


def _records(analytic, numeric, rows, bounds, names, shapes, unchecked, unmeasured, entries=True):
    """``.difference`` of ``analytic`` and ``numeric`` (the differences over 2 eps, docs/math.md, "Gradient checking")
    and an ``InputCheck`` per leaf: its difference and worst entry from those, its judged difference,
    error and bound from the verdict's ``rows`` (``_disagreements`` over the steps taken), ``shapes``,
    ``unchecked`` (per leaf its entries whose step is 0) and ``unmeasured`` (per leaf a flag,
    ``_unmeasured``). Without ``entries`` (fast mode) a leaf's values are floats along its direction."""
    difference, formula = _disagreements(analytic, numeric, bounds)
    return difference, [InputCheck(i, name, shape, d, *(_worst_entry(a, n) if entries else ((), a, n)), error,
                                   bound, judged_difference, missed, swamped)
                         for i, (a, n, name, shape, (d, _, _), (judged_difference, error, bound), missed, swamped)
                         in enumerate(zip(analytic, numeric, names, shapes, formula, rows, unchecked, unmeasured))]


# A leaf's noise bound must be below the error a gradient wrong by a factor 2 makes (2 g against g:
# ||g|| out of ||2 g|| + ||g||) for its agreement within that bound to say the gradient is right.
_MEASURED = 1 / 3
# The bound is loose (several rounding units where one or two act): differences agreeing with autodiff
# to a tenth of ||autodiff|| + ||numerical|| measured the leaf all the same (a bias 4.4e-9 matched to 1%).
_AGREED = 0.1


def _unmeasured(analytic, numeric, rows, threshold, pooled=None):
    """Per leaf, whether the differences could not measure its gradient: its verdict would rest on
    its noise bound (its difference at or above ``threshold``, its error within the bound of
    ``rows``) while that bound is at least ``_MEASURED`` of ||autodiff|| + ||numerical||, so a
    gradient of the wrong sign or wrong by a factor 2 would be within it too (f = 1e9 + g(x): f's
    rounding over eps swamps g's change, and the differences are 0 or noise). A zero gradient (its
    autodiff side at most eps ** 0.75 of ``pooled``, by default twice autodiff's norm over all
    leaves, as fast mode's ``_Steps.pooled``: a bias no example reaches, a residue ~1e-17) is what
    the bound is for, and is not flagged. (Autodiff's side alone: the differences may be noise.) Nor
    is a leaf whose differences agree with autodiff within ``_AGREED``: measured, the bound loose."""
    if pooled is None:
        pooled = 2 * _norm(np.concatenate([np.ravel(a) for a in analytic]))
    zero = _zero_level(_UNIT) * pooled
    return [not d < threshold and error <= bound and bound >= _MEASURED * (_norm(a) + _norm(n)) and _norm(a) > zero
            and error >= _AGREED * (_norm(a) + _norm(n)) for a, n, (d, error, bound) in zip(analytic, numeric, rows)]


def _checked(analytic, numeric, judged, bounds, threshold, steps, shapes, unchecked):
    """gradcheck's comparison: ``.difference`` of ``analytic`` and ``numeric`` (the differences over
    2 eps, docs/math.md, "Gradient checking"), and the verdict's of ``analytic`` and ``judged`` (over the steps taken),
    with doubtful leaves measured (``_judged``, ``steps``); returns both, an ``InputCheck`` per leaf
    (``_records``) and the kinks found crossed."""
    verdict_difference, rows, crossed = _judged(analytic, judged, bounds, threshold, steps)
    unmeasured = _unmeasured(analytic, judged, rows, threshold, steps.pooled)
    difference, checks = _records(analytic, numeric, rows, bounds, steps.names, shapes, unchecked, unmeasured,
                                  steps.entries)
    return difference, verdict_difference, checks, crossed


_MODES = ("rev", "fwd")
# The default seed of the random directions. Not 0: inputs drawn from default_rng(0).standard_normal(x.shape)
# were then the direction itself, along which a quadratic form's or a normalization's wrong rule agrees (adv130).
_DIRECTIONS_SEED = 0x67726164  # ("grad")


def _check_modes(modes):
    """``modes`` as a tuple of the distinct modes of ``_MODES`` it names (in that order), at least one;
    a str alone is a TypeError ("rev" would read as its letters), another name a ValueError."""
    if not isinstance(modes, (tuple, list)):
        raise TypeError(f"gradcheck: modes must be a tuple or list of 'rev' and/or 'fwd' (as HIPS autograd's "
                        f"check_grads), got {type(modes).__name__} {modes!r}; e.g. modes=('rev',)")
    unknown = [m for m in modes if not isinstance(m, str) or m not in _MODES]
    if unknown or not modes:
        raise ValueError(f"gradcheck: modes must name 'rev' (reverse mode, VJPs) and/or 'fwd' (forward mode, "
                         f"JVPs), at least one, got {tuple(modes)!r}" + (f": {unknown!r} unknown" if unknown else ""))
    return tuple(m for m in _MODES if m in modes)


def gradcheck(f, inputs, eps=1e-7, threshold=None, fast=False, rng=None, modes=("rev",)):
    """Compare autodiff gradients of scalar ``f(*inputs)`` with central differences.

    Args:
        f: function returning a single-element Tensor. Anything random in it (dropout)
            must be held fixed, e.g. by passing ``mask=``; f is evaluated twice at
            ``inputs`` first, and a ValueError says so when the two values differ.
        inputs: list/tuple of f's arguments, each an array, a Tensor or a pytree of
            them (a dict of parameters); every leaf is differentiated, in float64.
        eps: finite-difference step > 0, a number as an optimizer's ``lr`` (so is ``threshold``).
        threshold: ``passed`` is ``difference < threshold`` (or ||autodiff - numerical||
            over all leaves within the norm of their noise bounds, as where every gradient
            is ~0 next to f's rounding) with no input leaf failing on its own (its
            difference at or above it, its error above its noise bound);
            default 1e-7, or 1e-5 with fast.
        fast: True or False (another value is a TypeError). True: compare, per input
            leaf, the derivative along one random unit direction u (<grad, u> from one backward pass) with (f(x + eps u) - f(x - eps u)) / (2 eps):
            two evaluations per leaf instead of two per entry (HIPS autograd's
            ``check_grads``, PyTorch's fast mode); a leaf the assumed truncation would
            excuse costs two more, at x +- 3 eps u, as in full mode (``_judged``), so the
            verdict is as strict as full mode's along those directions.
        rng: seed / Generator / RandomState for the directions (fast mode, "fwd"); None: ``_DIRECTIONS_SEED``.
        modes: "rev" (the VJPs, as above) and/or "fwd" (the JVPs along fast mode's directions,
            judged as it is, at ``threshold`` or else 1e-5: ``.forward``, ``_forward``); default
            "rev" alone, as PyTorch's (``check_forward_ad=False``): a directional check of a function
            whose slope is rounding (a constant f) cannot be judged. "fwd" alone takes no VJP and
            returns the forward check itself (docs/api.md, "Gradient checking").
    Returns:
        GradcheckResult: ``.difference`` over all leaves together (docs/math.md, "Gradient checking"),
        ``.passed``, ``.inputs`` per-leaf detail (named by dict keys), ``.judged`` (each difference over
        the step it took, ``_taken``), ``.unchecked`` (entries whose step rounds to 0), ``.error`` and
        ``.bound`` (the differences' error bound, ``_resolution``; a truncation measured at 3 eps,
        ``_judged``), ``.kinks`` (entries where the one-sided differences disagree: |x| at 0, ties in
        max; not counted), ``.own_dtype`` (inputs narrower than float64 are checked on float64 copies,
        with a UserWarning, and at their own dtype too, ``_own_dtype``), ``.forward`` (the JVPs) and
        ``str()`` a readable report. What each means and its limits: docs/api.md, "Gradient checking".
    Raises:
        ValueError: f gives two different values at ``inputs`` (fresh dropout masks per call).
    """
    function_arg(f, "gradcheck")
    fast = flag(fast, "gradcheck(fast=...)")  # ("False" is truthy: it would run the weaker check)
    modes = _check_modes(modes)
    eps = _check_eps(eps, "gradcheck")
    flat = _Flat(inputs, "gradcheck")
    given, threshold = threshold, _check_threshold((1e-5 if fast else 1e-7) if threshold is None else threshold,
                                                   "gradcheck")
    center = _check_deterministic(f, flat, "gradcheck")
    along = _Along(f, flat, as_generator(_DIRECTIONS_SEED if rng is None else rng, "gradcheck"))
    # (one directional difference is noisier than a full check's: the forward check's default is fast mode's)
    forward_threshold = threshold if given is not None else 1e-5
    if "rev" not in modes:
        return _forward(f, flat, center, eps, forward_threshold, along)
    analytic = _autodiff(f, flat)
    own = _own_dtype(f, flat, analytic)
    result = (_fast(f, flat, analytic, center, eps, threshold, along) if fast
              else _full(f, flat, analytic, center, eps, threshold))
    result.own_dtype = own
    if "fwd" in modes:
        result.forward = _forward(f, flat, center, eps, forward_threshold, along, analytic)
    return result


def _full(f, flat, analytic, center, eps, threshold):
    """gradcheck's full mode: every entry's central difference against ``analytic``; ``center`` is
    f(x). A leaf the assumed truncation would excuse has it measured (``_judged``). The verdict
    divides each entry's difference by the step it took (``_taken``)."""
    values = _shifted_values(f, flat, eps, "gradcheck")
    numeric = [(plus - minus) / (2 * eps) for plus, minus in values]
    scale = _f_scale(center, _largest_slope(values, eps))

    def shifted(i, step):
        return _leaf_values(f, flat, flat.arrays[i], step, "gradcheck")

    def taken(i, step, pair):  # (each entry moves alone, by its own rounded step)
        difference, largest, half, bend = _entries_taken(flat.arrays[i], step, pair, center, scale)
        return difference, _noise(largest, half, bend)
    steps = _Steps(values, shifted, eps, center, flat.names, [np.abs(x) + _WIDER * eps for x in flat.arrays], taken)
    parts = [_entries_taken(x, eps, pair, center, scale) for x, pair in zip(flat.arrays, values)]
    judged = [difference for difference, *_ in parts]
    bounds = [_resolution(largest, half, scale, bend) for _, largest, half, bend in parts]
    difference, verdict, checks, crossed = _checked(analytic, numeric, judged, bounds, threshold, steps,
                                                    [x.shape for x in flat.arrays],
                                                    [_unchecked(x, eps) for x in flat.arrays])
    sides = [_taken(x, eps)[1] for x in flat.arrays]
    return GradcheckResult(difference, threshold, checks, judged=verdict,
                           kinks=_merged(_kinks(values, center, eps, flat.names, sides), crossed))


def _entries_taken(x, step, pair, center, scale):
    """Full mode, per entry of leaf ``x`` moved alone by +-``step``: its central difference over the
    step taken (``_over_taken``) from f's ``(plus, minus)`` ``pair``, the larger |f| of the two, the
    half step taken, and what its midpoint being off x adds (``_bend``)."""
    h, sides = _taken(x, step)
    return (_over_taken(pair, h), np.maximum(np.abs(pair[0]), np.abs(pair[1])), h / 2,
            _bend(pair, center, sides, np.abs(sides[0] - sides[1]) / 2, scale))


class _Along:
    """Per input leaf of ``flat``, one random unit direction u (``directions``, drawn from ``generator``),
    and f's ``(plus, minus)`` at x +- step u for leaf i alone (``along(i, step)``), kept: fast mode
    and the forward check difference f along the same directions, so neither evaluates it twice."""

    def __init__(self, f, flat, generator):
        self.f, self.flat, self.values, self.directions = f, flat, {}, []
        for x in flat.arrays:
            u = generator.standard_normal(x.shape)
            norm = np.linalg.norm(u)
            self.directions.append(u / norm if norm else u)

    def __call__(self, i, step):
        if (i, step) not in self.values:
            shifted, moved = list(self.flat.arrays), []
            for s in (step, -step):
                shifted[i] = self.flat.arrays[i] + s * self.directions[i]
                moved.append(_value(self.f, self.flat, shifted, "gradcheck"))
            self.values[i, step] = tuple(moved)
        return self.values[i, step]


def _fast(f, flat, analytic, center, eps, threshold, along):
    """gradcheck's fast mode: per leaf, <analytic, u> against (f(x + eps u) - f(x - eps u)) / (2 eps)
    along its direction u (``along``, an ``_Along``), judged by ``_directional``."""
    def slope(i, direction):
        return float(np.sum(analytic[i] * direction))
    slopes = [slope(i, u) for i, u in enumerate(along.directions)]
    return _directional(flat, along, slopes, slope, analytic, center, eps, threshold, "fast")


_ROUNDED_SLOPE = 16 * np.finfo(np.float64).eps  # (of |f|: a JVP below it is f's rounding, see _forward)


def _jvp_slope(f, flat):
    """``slope(i, direction)``: forward mode's derivative of f along ``direction`` on leaf i, the
    other leaves held as constants (so a zero tangent never reaches an op without a JVP rule)."""
    from .transforms import jvp

    def slope(i, direction):
        def on_leaf(leaf):
            return f(*flat.args([leaf if k == i else Tensor(a) for k, a in enumerate(flat.arrays)],
                                make=lambda t: t))
        with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan tangent: a nan difference)
            return float(np.ravel(jvp(on_leaf, (flat.arrays[i],), (direction,))[1])[0])
    return slope


def _forward(f, flat, center, eps, threshold, along, analytic=None):
    """gradcheck's forward-mode check (HIPS autograd's ``check_grads(modes=["fwd"])``, PyTorch's
    ``check_forward_ad``): per leaf, the JVP along its direction u (``along``) against the same central
    differences fast mode takes, judged by ``_directional`` at ``threshold``; the scales a zero gradient
    is small against come from reverse mode's ``analytic`` when it was taken, else from the JVPs.
    Differences, not the VJP (<1, J u> = <J^T 1, u>), are the reference: they check forward mode
    whether or not the VJP is right. A JVP that cannot be taken (an op without a JVP rule, a
    non-zero tangent reaching an input the op declares not differentiable) gives a result that
    ``skipped`` the check, saying why."""
    jvp_slope, level = _jvp_slope(f, flat), _ROUNDED_SLOPE * abs(float(center))
    # (a JVP within the rounding of f's own value is 0: the residue a constant f leaves, 3e-17 next to
    # f = 3, is no slope the differences could confirm, and reverse mode's exact 0 passes there)
    slope = lambda i, u: (lambda s: 0.0 if abs(s) <= level else s)(jvp_slope(i, u))
    try:
        slopes = [slope(i, u) for i, u in enumerate(along.directions)]
    except GraphError as error:
        return GradcheckResult(math.nan, threshold, mode="forward", skipped=str(error))
    return _directional(flat, along, slopes, slope, analytic, center, eps, threshold, "forward")


def _directional(flat, along, slopes, slope, gradients, center, eps, threshold, mode):
    """A directional check (fast mode, the forward check): per leaf, autodiff's ``slopes`` along its
    direction u against f's central difference along u (``along``); ``center`` is f(x). A leaf the
    assumed truncation would excuse has it measured as the full mode does (``_judged``), from
    f(x +- 3 eps u): two more evaluations for that leaf alone. The verdict judges each difference
    along the displacement taken (``_taken``: x +- eps u rounds per entry), with autodiff's
    ``slope(i, direction)`` along the rounding. ``gradients``: reverse mode's, the scale a zero
    gradient is small against (a direction may miss most of them), else None (the slopes')."""
    directions = along.directions
    unchecked = [_unchecked(x, eps) for x in flat.arrays]

    def moved(i, step, pair):
        # f moved along t = (x + step u) - (x - step u), not 2 step u, so the difference over 2 step
        # is f's slope along t / (2 step): less autodiff's along t / (2 step) - u, it is the slope
        # along u but for (f' - autodiff) along that rounding, a share of an error as small as it;
        # returned with what the displacement's midpoint being off x adds (``_bend``, along u)
        x, u = flat.arrays[i], directions[i]
        t, (right, left) = _taken(x, step * u)
        with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan: a nan difference, no bound)
            rounded = slope(i, t / (2 * step) - u)
            sides = (float(np.sum(right * u)), float(np.sum(left * u)))
            bend = _bend(pair, center, sides, _norm(right - left) / 2, scale)
        return (math.nan if unchecked[i] else (pair[0] - pair[1]) / (2 * step) - rounded), bend, sides

    def taken(i, step, pair):
        difference, bend, _ = moved(i, step, pair)
        return difference, _noise(max(abs(pair[0]), abs(pair[1])), step, bend)
    values = [along(i, eps) for i in range(len(flat.arrays))]
    numeric = [(plus - minus) / (2 * eps) for plus, minus in values]
    scale = _f_scale(center, _largest_slope(values, eps))
    parts = [moved(i, eps, pair) for i, pair in enumerate(values)]
    bounds = [_resolution(max(abs(plus), abs(minus)), eps, scale, bend) for (plus, minus), (_, bend, _) in
              zip(values, parts)]
    reference = gradients if gradients is not None else [np.array(s) for s in slopes]
    pooled = 2 * _norm(np.concatenate([np.ravel(a) for a in reference]))
    sizes = [(_norm(x) + _WIDER * eps, _norm(a)) for x, a in zip(flat.arrays, reference)]
    steps = _Steps(values, along, eps, center, flat.names, sizes, taken, False, pooled)
    difference, verdict, checks, crossed = _checked(slopes, numeric, [judged for judged, *_ in parts], bounds,
                                                    threshold, steps, [x.shape for x in flat.arrays], unchecked)
    return GradcheckResult(difference, threshold, checks, mode=mode, judged=verdict, kinks=_merged(
        _kinks(values, center, eps, flat.names, [sides for *_, sides in parts], entries=False), crossed))


def _merged(seen, crossed):
    """The kinks the one-sided slopes show (``seen``), then those found ``crossed`` (``_judged``) at
    entries not among them."""
    known = {(k.index, k.entry) for k in seen}
    return seen + [k for k in crossed if (k.index, k.entry) not in known]


def gradgradcheck(f, inputs, eps=1e-6, threshold=1e-5, rng=None):
    """Second-order check (in the spirit of PyTorch's ``gradgradcheck``): for one random
    unit direction v over all input leaves, the Hessian-vector product from autodiff
    (the gradient of <grad f, v>, differentiating the VJPs themselves) against the
    central difference (grad f(x + eps v) - grad f(x - eps v)) / (2 eps).

    Same arguments as ``gradcheck``; returns a GradcheckResult (mode 'second order')
    whose per-leaf values are the worst entries of the two Hessian-vector products. Its
    ``.difference`` (and each leaf's, and ``.numeric``) is that formula's; the verdict's
    ``.judged``, ``.error`` and ``.bound`` are along the displacement actually taken, t = (x + eps v)
    - (x - eps v) per entry in float64 (x +- eps v rounds: 0.2% off 2 eps v at |x| = 1e8), as
    gradcheck's fast mode (``_Displaced``). An entry where x + eps v rounds to x is not displaced,
    which that comparison allows (t is the direction compared); a leaf none of whose entries moved
    has nothing measured and fails (``.unchecked`` lists them; the report asks for a larger eps).
    Each leaf's bound assumes its own scale (``_f_scale`` of its gradient and differences), never
    another leaf's. A leaf's gradient is taken to be rounded at its own size, or at the largest
    leaf's where it is a residue of terms at that size, which its differences over a 1000 times
    smaller step tell (two more gradients, only when a leaf is that small, ``_rounding_scales``).
    """
    function_arg(f, "gradgradcheck")
    eps, threshold = _check_eps(eps, "gradgradcheck"), _check_threshold(threshold, "gradgradcheck")
    flat = _Flat(inputs, "gradgradcheck")
    _check_deterministic(f, flat, "gradgradcheck")
    generator = as_generator(_DIRECTIONS_SEED if rng is None else rng, "gradgradcheck")
    directions = [generator.standard_normal(x.shape) for x in flat.arrays]
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in directions)) or 1.0
    directions = [v / norm for v in directions]
    gradient, hvp = _second_order(f, flat)
    analytic = hvp(directions)
    unchecked = [_unmoved(x, eps * v) for x, v in zip(flat.arrays, directions)]

    def displaced(step):
        return _Displaced(flat.arrays, directions, step, gradient, hvp)
    moved = displaced(eps)
    # (per leaf: a large gradient elsewhere says nothing of this leaf's third derivatives)
    scales = [_f_scale(own, np.max(np.abs(n), initial=0.0)) for own, n in zip(moved.own, moved.numeric)]
    rounded = _rounding_scales(moved, scales, displaced)
    bounds = [_resolution(np.full(n.shape, r), eps, scale, offsets * scale)
              for n, r, scale, offsets in zip(moved.numeric, rounded, scales, moved.offsets)]
    # (a leaf that took no step at all is unmeasured: a nan, which fails it)
    judged = [np.full(j.shape, np.nan) if missed else j for j, missed in zip(moved.judged, unchecked)]
    verdict, rows = _disagreements(analytic, judged, bounds)
    difference, checks = _records(analytic, moved.numeric, rows, bounds, flat.names,
                                  [x.shape for x in flat.arrays], unchecked,
                                  _unmeasured(analytic, judged, rows, threshold))
    return GradcheckResult(difference, threshold, checks, mode="second order", judged=verdict)


def _second_order(f, flat):
    """``(gradient, hvp)`` of f over the leaves of ``flat``: ``gradient(*leaves)`` its gradients, and
    ``hvp(directions)`` autodiff's Hessian-vector products at the leaves' values (the gradient of
    <grad f, d>, one array per leaf, float64), ``directions`` one array per leaf."""
    from .transforms import grad

    count = len(flat.arrays)

    def flat_f(*leaves):
        return f(*flat.args(list(leaves), make=lambda t: t))
    gradient = grad(flat_f, tuple(range(count)))

    def hvp(directions):
        def directional(*leaves):
            gs = gradient(*leaves)
            total = (gs[0] * directions[0]).sum()
            for g, v in zip(gs[1:], directions[1:]):
                total = total + (g * v).sum()
            return total
        return [np.asarray(h, dtype=np.float64) for h in grad(directional, tuple(range(count)))(*flat.arrays)]
    return gradient, hvp


def _unmoved(x, step):
    """gradgradcheck's ``.unchecked`` of leaf ``x``: its entries (``_unchecked``) when x + ``step``
    (eps v) rounds to x at every one, so the leaf is not displaced at all, else []. An entry that
    alone takes no step is just not displaced along t, which the comparison along t allows (its v
    is under half a unit of x over eps, a share of the direction too small to matter)."""
    missed = _unchecked(x, step)
    return missed if missed and len(missed) == np.size(x) else []


class _Displaced:
    """gradgradcheck's differences of the gradient g over one ``step`` along ``directions`` v, per
    leaf: ``numeric`` (g(x + step v) - g(x - step v)) / (2 step), the formula; ``judged`` the same
    less autodiff's Hessian along t / (2 step) - v, where t = (x + step v) - (x - step v) is the
    displacement actually taken (``_taken``: x +- step v rounds to float64). g moved along t, so
    ``judged`` is H v but for (H - autodiff's) (t / (2 step) - v), a share of an error as small as
    the rounding, as gradcheck's fast mode judges a slope; ``own`` the larger |g| entry of the two
    sides; ``offsets`` per entry how far the displacement's midpoint is off x (``_taken``: x +- step
    v round to grids of two sizes near a power of 2; 0 elsewhere), which moves the entry's difference
    by g'' times it: the bound takes g'' to be at most the leaf's ``_f_scale``, as its truncation
    does, and charges it only to the entries that are off (not measured as ``_bend`` does:
    g's one-sided differences along the two unequal displacements differ by H times their
    difference, which would read as a curvature ~ H / step)."""

    def __init__(self, arrays, directions, step, gradient, hvp):
        self.step = step
        moves = [_taken(x, step * v) for x, v in zip(arrays, directions)]
        sides = [gradient(*[x + s * v for x, v in zip(arrays, directions)]) for s in (step, -step)]
        pairs = [(np.asarray(p, dtype=np.float64), np.asarray(m, dtype=np.float64)) for p, m in zip(*sides)]
        self.own = [max(np.max(np.abs(p), initial=0.0), np.max(np.abs(m), initial=0.0)) for p, m in pairs]
        with np.errstate(invalid="ignore", over="ignore"):  # (an inf or nan: a nan difference, no bound)
            rounded = hvp([t / (2 * step) - v for (t, _), v in zip(moves, directions)])
            self.numeric = [(p - m) / (2 * step) for p, m in pairs]
            self.judged = [n - r for n, r in zip(self.numeric, rounded)]
            self.offsets = [np.abs(right - left) / 2 for _, (right, left) in moves]


# A residue's central difference over a step this much smaller than eps grows this much (its
# rounding does not shrink with the step); not a power of 2, which could repeat the rounding exactly.
_FINER = 1000


def _rounding_scales(moved, scales, displaced):
    """Per leaf, the size at which gradgradcheck takes its gradient to be rounded: its own largest
    entry (``moved.own``, ``moved`` the ``_Displaced`` at eps; another leaf's larger gradient rounds
    apart), unless it is a residue of terms at the largest scale (a bias whose gradient is 0 by
    symmetry), within 2 ** -40 of the largest (8 units times sqrt(m) for a sum of m <= 1e6 terms
    rounding at random).

    A gradient computed on its own can be that small too (a leaf at its stationary point, y = 0 in
    y ** 2, whose gradient is O(eps)); rounded at the largest scale it would excuse a wrong second
    derivative. So a small leaf counts as a residue only where its differences say so: over a step
    ``_FINER`` times smaller (``displaced(step)``, two more gradients and a Hessian-vector product),
    a value it resolves gives the same derivative (each along the displacement taken) within both
    steps' rounding at its own size and their truncation (``_resolution`` at the leaf's ``scales``
    entry, with their midpoints' ``offsets``), while a residue's noise grows ``_FINER``-fold or
    changes."""
    own, eps = moved.own, moved.step
    largest = max(own, default=0.0)
    small = [i for i, g in enumerate(own) if g <= 2.0 ** -40 * largest]
    if not small:
        return own
    fine = displaced(eps / _FINER)
    rounded = list(own)
    for i in small:
        shape = moved.numeric[i].shape
        scale = scales[i]
        allowed = (_resolution(np.full(shape, own[i]), eps, scale, moved.offsets[i] * scale)
                   + _resolution(np.full(shape, fine.own[i]), fine.step, scale, fine.offsets[i] * scale))
        if _norm(fine.judged[i] - moved.judged[i]) > allowed:
            rounded[i] = largest
    return rounded


# --- autodiff against hand-derived gradients ------------------------------------------
@dataclass
class LeafComparison:
    """One leaf of ``compare_gradients``: its name (dict key or index path), shape,
    relative difference, the worst entry's index and the two values there; ``error``
    ||actual - expected|| over the leaf and ``bound`` what rounding at the scale of all
    the leaves can make it (``_fails_alone``)."""
    name: str
    shape: tuple
    difference: float
    worst_entry: tuple
    actual: float
    expected: float
    error: float
    bound: float
    unmeasured = False  # (no finite differences: nothing here is swamped by f's rounding)

    @property
    def judged(self):
        """The difference the verdict reads (``_fails_alone``): ``difference``, as no step rounds here."""
        return self.difference


@dataclass
class GradientComparison:
    """Outcome of ``compare_gradients``; ``passed``: ``difference < threshold`` or within its
    noise (``_pooled_counts``), and no leaf fails on its own (``_fails_alone``)."""
    difference: float
    threshold: float
    leaves: list = field(default_factory=list)

    @property
    def passed(self):
        return _verdict(self.difference, self.threshold, self.leaves)

    def __bool__(self):
        return self.passed

    @property
    def worst(self):
        """The leaf to look at first: one holding inf or nan, else the one with the largest
        relative difference among those that count (not a zero gradient's noise, ``_worst``);
        None if there are no leaves."""
        return _worst(self.leaves, self.threshold)

    def __str__(self):
        verdict = "match" if self.passed else "DIFFER"
        difference, threshold = _shown(self.difference, self.threshold)
        lines = [f"gradients {verdict}: relative difference {difference} over all "
                 f"{len(self.leaves)} leaves (threshold {threshold}; "
                 "||actual - expected|| / (||actual|| + ||expected||))"
                 + _headline_note(self.difference, self.threshold, self.leaves, lambda c: f"'{c.name}'",
                                  "||actual - expected||")]
        worst = self.worst
        width = max((len(c.name) for c in self.leaves), default=0)
        for c in self.leaves:
            mark = "  <- worst" if c is worst and len(self.leaves) > 1 else ""
            shown = _shown(c.difference, self.threshold)[0]  # (agrees with the FAIL flag)
            flag = _flag(c, self.threshold, "||actual - expected||")
            lines.append(f"  {c.name:<{width}} {str(c.shape):<12} difference {shown}{flag}, "
                         f"worst entry {c.worst_entry}: actual {c.actual:.10g} vs expected {c.expected:.10g}{mark}")
        if worst is not None and not self.passed:
            ratio = (f" (actual/expected = {worst.actual / worst.expected:.4g})" if worst.expected else "")
            lines.append(f"worst leaf: '{worst.name}' at {worst.worst_entry}{ratio}")
        return "\n".join(lines)


def _partner(key, keys):
    """The key of ``keys`` that ``key`` pairs with: itself, else "dW1" for "W1" or "W1" for
    "dW1" (autodiff's grads are keyed like the parameters, hand-derived ones "dW1")."""
    if key in keys:
        return key
    if isinstance(key, str):
        for other in (f"d{key}", key[1:] if key.startswith("d") else None):
            if other in keys:
                return other
    return None


def _paired_dicts(actual, expected):
    """``expected`` re-keyed like ``actual`` when both are dicts whose keys differ only by
    the "d" of hand-derived gradients, either way round ("W1" with "dW1", "dW1" with "W1").

    Raises:
        ValueError: a key on either side with no partner on the other; those keys (and
            only those: "dZ1" of a hand-written backward's cache, not "W1" that has "dW1")
            are named.
    """
    if not (isinstance(actual, dict) and isinstance(expected, dict)) or set(actual) == set(expected):
        return actual, expected
    # exact names pair first, so {"W1", "dW1"} against {"W1", "dW1"} is never cross-paired
    pairs = {k: k for k in actual if k in expected}
    for k in actual:
        if k not in pairs:
            other = _partner(k, set(expected) - set(pairs.values()))
            if other is not None:
                pairs[k] = other
    only_actual = [k for k in actual if k not in pairs]
    only_expected = [k for k in expected if k not in set(pairs.values())]
    if only_actual or only_expected:
        raise ValueError(f"compare_gradients: the keys differ: only in actual {sorted(map(str, only_actual))}, "
                         f"only in expected {sorted(map(str, only_expected))} (each other key has its partner; "
                         '"W1" pairs with "dW1" either way round). Leave out the keys that are not gradients '
                         "of the same leaves, e.g. {k: hand[k] for k in hand if k[1:] in params}")
    return actual, {k: expected[pairs[k]] for k in actual}


def _smallest_float(*arrays):
    """The itemsize of the float dtype with the fewest digits among ``arrays`` (``_own_float``'s); 8
    (float64's) when none has fewer (integers, float64 already, are exact)."""
    return min([a.dtype.itemsize for a in arrays] + [8])


def _leaf_pairs(names, actual, expected):
    """``compare_gradients``' leaves: per leaf, its two sides as float64 arrays of one shape (another
    shape is a ValueError naming the leaf) and the half machine epsilon of each side's own precision;
    and the fewest-digit itemsize over them all (``_default_threshold``)."""
    all_a, all_e, units, smallest = [], [], [], 8
    for name, a, e in zip(names, actual, expected):
        own = [_own_float(x, "compare_gradients", name) for x in (a, e)]
        units.append(tuple(np.finfo(f"f{_smallest_float(x)}").eps / 2 for x in own))
        smallest = min(smallest, _smallest_float(*own))
        a, e = _float64(own[0]), _float64(own[1])
        if a.shape != e.shape:
            raise ValueError(f"compare_gradients: leaf '{name}' has shape {a.shape} in actual but {e.shape} in "
                             "expected; they must match")
        all_a.append(a)
        all_e.append(e)
    return all_a, all_e, units, smallest


def _default_threshold(smallest):
    """The default threshold for gradients whose fewest-digit float has itemsize ``smallest``:
    1e-7 (the course's float64 bound, docs/math.md, "Gradient checking") unless a leaf holds fewer digits.

    Two correct float32 computations of one gradient already differ by ~1e-7 (float32's
    machine epsilon is 1.19e-7, and sums over thousands of terms add rounding), so 1e-7
    would flag right float32 gradients. The lower-precision defaults are the relative
    tolerances of ``torch.testing.assert_close`` for those dtypes (float32 1.3e-6, about
    eleven float32 ulps; float16 1e-3): the bound a reference autodiff library holds its
    own gradients to. Our measure divides by ||a|| + ||e||, about half of torch's per-entry
    |a - e| / |e|, so it is no stricter than torch's check."""
    return {2: 1e-3, 4: 1.3e-6}.get(smallest, 1e-7)


def _own_floors(first, second, units):
    """Per leaf, the rounding ``compare_gradients`` allows beyond a zero gradient's bound: no
    finite differences, so ``_ROUNDING_UNITS`` units of the leaf's less precise side (``units``:
    per leaf a pair) of its own ||a|| + ||e||. Not of the pooled norm: a leaf that is not a zero
    gradient (``_zero_bounds``) was computed from terms of its own size as far as the comparison
    can tell (a bias gradient of 0.25 next to weight gradients of 1e5, features left unscaled),
    and eight float32 units of the pooled norm would excuse it doubled (adv87)."""
    return [_ROUNDING_UNITS * max(u) * (_norm(a) + _norm(e)) for a, e, u in zip(first, second, units)]


def _warn_if_parameters(names, actual, expected):
    """A UserWarning where a side holds parameters, not gradients (tensors that require grad and have a
    ``.grad``: ``compare_gradients(hand, params)`` for ``{k: t.grad}``): their values are compared."""
    for side, leaves in (("actual", actual), ("expected", expected)):
        held = [n for n, t in zip(names, leaves)
                if isinstance(t, Tensor) and t.requires_grad and t.grad is not None]
        if held:
            warnings.warn(f"compare_gradients: {side} holds tensors that require grad and have a .grad "
                          f"({', '.join(held[:4])}{', ...' if len(held) > 4 else ''}): their values are compared, "
                          "not their gradients; pass {k: t.grad for k, t in params.items()} if the gradients are "
                          "meant", UserWarning, stacklevel=3)


def compare_gradients(actual, expected, threshold=None):
    """Compare gradients (e.g. autodiff's) with reference ones (e.g. derived by hand).

    Args:
        actual, expected: arrays, Tensors or pytrees of the same structure
            (``{"W1": dW1, ...}``); dict keys are matched by name at every level, in any
            order, and top-level keys "W1" on either side also match "dW1" on the other.
            Shapes must agree. None is an empty subtree, as in JAX (None against None).
        threshold: ``passed`` is ``difference < threshold`` (or the error over all leaves
            within the norm of their bounds) with no leaf failing on its own (its difference
            at or above it, ``.error`` above ``.bound``). None (default): 1e-7, the
            course's float64 bound; 1.3e-6 when either side holds float32 leaves (1e-3 for
            float16), torch.testing's float32 tolerance, since correct float32 gradients
            differ from each other by ~1e-7.
    Returns:
        GradientComparison: ``.difference`` (||a - e|| / (||a|| + ||e||) over every leaf
        together), ``.passed``, ``.leaves`` (per leaf: ``.name``, ``.shape``,
        ``.difference``, ``.worst_entry``, ``.actual``, ``.expected``, ``.error``
        ||a - e||, ``.bound`` 8 units of roundoff (of the leaf's less precise side) of
        the leaf's own ||a|| + ||e||, plus that whole sum for a zero gradient: a leaf
        whose each side is below its dtype's level times ||a|| + ||e|| over all leaves,
        eps ** 0.75 (1.8e-12) for float64, 8 units for float32 and float16 (``_zero_level``;
        a float64 side above it shows a real gradient whatever the other side's dtype)),
        ``.worst`` (a leaf holding inf or nan, else the largest difference that counts); its
        ``str()`` is a readable report naming that leaf.
    Raises:
        ValueError: the structures, keys or shapes differ (the error names them).
    """
    if threshold is not None:  # a threshold given is used as given (checked first)
        threshold = _check_threshold(threshold, "compare_gradients")
    actual, expected = _paired_dicts(actual, expected)
    a_leaves, a_def = pytree.flatten(actual)
    e_leaves = pytree.match(a_def, expected, "compare_gradients", "expected tree")
    names = [name or "x" for name in pytree.leaf_names(a_def)]
    _warn_if_parameters(names, a_leaves, e_leaves)
    all_a, all_e, units, smallest = _leaf_pairs(names, a_leaves, e_leaves)
    if threshold is None:
        threshold = _default_threshold(smallest)
    difference, rows = _disagreements(all_a, all_e, _zero_bounds(all_a, all_e, [tuple(map(_zero_level, u))
                                                                                 for u in units]),
                                      _own_floors(all_a, all_e, units))
    records = [LeafComparison(name, a.shape, d, *_worst_entry(a, e), error, bound)
               for name, a, e, (d, error, bound) in zip(names, all_a, all_e, rows)]
    return GradientComparison(difference, threshold, records)
