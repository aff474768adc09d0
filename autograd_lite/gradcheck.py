"""Numerical gradient checking (central differences, SEEDS.md section 6)."""
from dataclasses import dataclass, field

import numpy as np

from . import tape
from .errors import GraphError
from .tensor import Tensor


@dataclass
class InputCheck:
    """Comparison for one input: its relative difference and worst entry."""
    index: int
    name: str
    shape: tuple
    difference: float
    worst_entry: tuple
    analytic: float
    numeric: float


@dataclass
class GradcheckResult:
    """Outcome of ``gradcheck``; ``passed`` is ``difference < threshold``."""
    difference: float
    threshold: float
    inputs: list = field(default_factory=list)

    @property
    def passed(self):
        return bool(self.difference < self.threshold)

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gradcheck {verdict}: difference {self.difference:.3e} (threshold {self.threshold:.0e})"]
        worst = max(self.inputs, key=lambda c: c.difference, default=None)
        for c in self.inputs:
            mark = "  <- worst" if c is worst and len(self.inputs) > 1 else ""
            lines.append(f"  input {c.index} {c.name} {c.shape}: difference {c.difference:.3e}, worst entry "
                         f"{c.worst_entry}: autodiff {c.analytic:.10g} vs numerical {c.numeric:.10g}{mark}")
        return "\n".join(lines)


def _relative_difference(analytic, numeric):
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denominator == 0 else float(np.linalg.norm(analytic - numeric) / denominator)


def numerical_gradient(f, inputs, eps=1e-7):
    """Central differences of scalar ``f(*inputs)`` for each input, in float64.

    Returns a list of ndarrays, one per input, of the inputs' shapes.
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]

    def evaluate():
        with tape.no_grad():
            return _scalar_output(f(*[Tensor(a) for a in arrays])).item()
    grads = []
    for x in arrays:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = evaluate()
            flat[i] = original - eps
            minus = evaluate()
            flat[i] = original
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _scalar_output(out):
    if not isinstance(out, Tensor) or out.size != 1:
        what = f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
        raise GraphError(f"gradcheck: f must return a single-element Tensor (a scalar), got {what}")
    return out


def gradcheck(f, inputs, eps=1e-7, threshold=1e-7):
    """Compare autodiff gradients of scalar ``f(*inputs)`` with central differences.

    Args:
        f: function of Tensors returning a single-element Tensor. Anything random
            in it (dropout) must be held fixed, e.g. by passing ``mask=``.
        inputs: sequence of arrays/Tensors (any shapes); all are differentiated.
        eps: finite-difference step.
        threshold: ``passed`` is ``difference < threshold``.
    Returns:
        GradcheckResult: ``.difference`` = ||g - g_num|| / (||g|| + ||g_num||) over
        all inputs flattened together, ``.passed``, ``.inputs`` per-input detail.
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    if not arrays:
        raise ValueError("gradcheck: no inputs given; expected at least one array to differentiate")
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = _scalar_output(f(*tensors))
    if out.requires_grad:
        out.backward()
    analytic = [t.grad if t.grad is not None else np.zeros_like(t.data) for t in tensors]
    numeric = numerical_gradient(f, arrays, eps)
    checks = []
    for i, (a, n, x) in enumerate(zip(analytic, numeric, inputs)):
        worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape) if a.size else ()
        checks.append(InputCheck(i, getattr(x, "name", None) or f"x{i}", a.shape,
                                 _relative_difference(a, n), tuple(int(k) for k in worst),
                                 float(a[worst]) if a.size else 0.0, float(n[worst]) if n.size else 0.0))
    difference = _relative_difference(np.concatenate([a.ravel() for a in analytic]),
                                      np.concatenate([n.ravel() for n in numeric]))
    return GradcheckResult(difference, threshold, checks)
