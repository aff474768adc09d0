"""Error messages that name the op, the shapes and the user's line (shared by the engine)."""
import re
import sys

import numpy as np

from .errors import AnomalyError
from .modes import current


def user_site():
    """'file:line' of the innermost caller outside this package (for error messages)."""
    package_dir = __file__.rsplit("/", 1)[0]
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back
    return "<unknown>" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def describe(t, prim=None, parents=None):
    """Short description of a graph node for error messages."""
    prim, parents = prim or t._prim, parents or t._parents
    what = (f"op '{prim.name}'" if prim is not None else "leaf") + (f" named '{t.name}'" if t.name else "")
    shapes = " from inputs of shape " + ", ".join(str(p.shape) for p in parents) if parents else ""
    return f"{what} (output shape {t.shape}{shapes}{f', created at {t._site}' if t._site else ''})"


def raise_if_not_finite(array, stage, t, prim=None, parents=None):
    """Anomaly mode's check: raise ``AnomalyError`` if ``array`` holds NaN or inf."""
    if not np.all(np.isfinite(array)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise AnomalyError(f"{stage} of {describe(t, prim, parents)} produced {bad}")


def explain_failure(prim, parents, error):
    """Error message for a forward that NumPy refused with a ValueError (an axis out of range
    too); None for an error that already names an op ("dropout: ...") or has a type of its
    own (ShapeError, DomainError): it passes as it is."""
    tracer = current().tracer
    if tracer is not None:  # should the function catch it and go on, a replay would not raise it
        tracer.refusals.append(f"catches an error of op '{prim.name}' ({error}) while it runs: a replay "
                               "would take the other path; check the values before the op instead")
    if type(error) not in (ValueError, np.exceptions.AxisError) or _NAMES_AN_OP.match(str(error)):
        return None
    shapes = [p.shape for p in parents]
    listed = " and ".join(str(shape) for shape in shapes)
    if len(shapes) > 1 and "broadcast" in str(error):
        return (f"{prim.label}: shapes {listed} do not broadcast ({_clash(shapes)}; expected each axis, "
                "aligned from the right, to be equal or 1 in one of them)")
    return f"{prim.label}: cannot apply to shapes {listed}: {error}"


def _clash(shapes):
    """The first axis, counted from the right, where the shapes' sizes disagree."""
    for axis in range(1, max(len(s) for s in shapes) + 1):
        sizes = {s[-axis] for s in shapes if len(s) >= axis} - {1}
        if len(sizes) > 1:
            return f"axis {-axis} has sizes {' vs '.join(str(n) for n in sorted(sizes))}"
    return "their sizes disagree"


_NAMES_AN_OP = re.compile(r"[\w.]+( \([^)]*\))?: ")  # "l2_penalty: ...", "matmul (@): ..."
