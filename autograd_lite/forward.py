"""Forward mode: Jacobian-vector products from each primitive's JVP rule.

``jvp(f, primals, tangents)`` evaluates ``f`` once, recording its ops as usual, and
carries the tangents along the recorded ops in the order they ran: each op's
tangent is the sum of its JVP rules (``Primitive.jvps``, beside the VJPs in the op
table) over the inputs that carry a tangent. No backward pass is involved, so the
cost is one evaluation plus one JVP per op, whatever the size of the output.
Ops with many inputs (``concatenate``) may give ``jvp_all(tangents, out, *inputs,
**params)`` instead, ``tangents`` holding None for inputs without one.

Forward and reverse mode refuse the same things. Each node is checked as ``backward``
checks it (``diagnostics.check_usable``): a graph freed by a backward() inside f, or a
value changed in place after an op read it, is an error, since a JVP would read the new
value. An input without a JVP rule is refused by name; one the op declares not
differentiable (None for its JVP and its VJP: labels, a mask, where's condition) takes
a zero tangent (jvp wants one per primal) but refuses a non-zero one, whose derivative
exists and is not 0, where reverse mode refuses a gradient. Under ``detect_anomaly()`` the
first tangent holding NaN or inf raises ``AnomalyError``, as the first such gradient does.
"""
import numpy as np

from . import custom
from .conform import conform_tangent
from .diagnostics import check_usable, describe, raise_if_not_finite
from .errors import GraphError
from .modes import clock, current
from .tensor import Tensor


def _rule_error(prim, i, parents):
    shape = parents[i].shape
    return GraphError(f"forward mode (jvp): op '{prim.name}' has no JVP rule for input {i} (shape {shape}); "
                      f"give it one with {prim.name}.defjvp(...) beside its defvjp, or use reverse mode "
                      "(ag.grad, ag.vjp)")


def node_tangent(node, tangents):
    """The tangent of op output ``node`` given its inputs' tangents (None: zero)."""
    prim, parents, params = node._prim, node._parents, node._params or {}
    inputs, out = [p._array for p in parents], node._array
    jvp_all = prim.jvp_all
    if jvp_all is not None:  # (its result checked as a defjvp rule's is: conform_tangent; None: no tangent)
        result = jvp_all(tangents, out, *inputs, **params) if getattr(prim, "builtin", True) else \
            custom.run_rule(prim, jvp_all, "JVP", tangents, out, inputs, params)
        if result is None:
            return None
        result = conform_tangent(result, None, out, prim)
    else:
        rules = getattr(prim, "jvps", None)
        if rules is None:
            raise _rule_error(prim, next(i for i, t in enumerate(tangents) if t is not None), parents)
        result = None
        for i, t in enumerate(tangents):
            rule = rules[i] if i < len(rules) else None
            if t is None or rule is None and _not_carried(node, i, t):
                continue
            contribution = rule(t, out, *inputs, **params) if getattr(prim, "builtin", True) else \
                custom.run_rule(prim, rule, "JVP", t, out, inputs, params)
            if contribution is not None:  # checked as VJPs' gradients are: a wrong shape or complex is refused
                contribution = conform_tangent(contribution, inputs[i], out, prim, i)
                result = contribution if result is None else result + contribution
        if result is None:
            return None
    # (each checked tangent is a real array of out's dtype whose shape broadcasts to out's, so their sum is)
    return result if result.shape == out.shape else np.broadcast_to(result, out.shape)


def _not_carried(node, i, tangent):
    """True for a zero ``tangent`` reaching input ``i`` of ``node``, whose op has no JVP rule there but
    declares it not differentiable (None for its JVP and its VJP: a mask, labels, a condition): jvp
    takes a tangent for every primal, so a zero one there contributes nothing. Raise for a non-zero
    one, which reverse mode would refuse as a gradient there (dropping it would give a wrong
    derivative), and where the rule is missing (only a VJP given: reverse mode refuses that too)."""
    prim, parents = node._prim, node._parents
    rules, vjps = prim.jvps, getattr(prim, "vjps", ())
    if i >= len(rules) and i >= len(vjps) or i < len(vjps) and vjps[i] is not None or \
            getattr(prim, "vjp_all", None) is not None:
        raise _rule_error(prim, i, parents)
    if np.any(tangent != 0):
        own = "" if getattr(prim, "builtin", True) else \
            f"; if it is differentiable there, give it a rule with {prim.name}.defjvp and .defvjp"
        raise GraphError(f"forward mode (jvp): {describe(node)} is not differentiable with respect to input "
                         f"{i} (shape {parents[i].shape}), which a non-zero tangent reaches (reverse mode refuses "
                         "a gradient there too); pass a zero tangent for it, or keep it out of the primals "
                         f"(a constant f closes over){own}")
    return True


def in_order(roots, oldest=1):
    """Tensors leading to ``roots``, each after all its inputs (iterative: any depth); none older than
    the ``_seq`` ``oldest`` (higher is older: its inputs are older still, so it cannot lead to a newer one)."""
    order, visited = [], set()
    for root in roots:
        if not isinstance(root, Tensor) or id(root) in visited or root._seq > oldest:
            continue
        visited.add(id(root))
        stack = [(root, iter(root._parents or ()))]
        while stack:
            node, pending = stack[-1]
            for p in pending:
                if id(p) not in visited and p._seq <= oldest:
                    visited.add(id(p))
                    stack.append((p, iter(p._parents or ())))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def push_forward(roots, seeds):
    """Tangents of every tensor in ``roots`` (a list; None where no tangent reaches it)
    given ``seeds`` = {leaf: tangent} on the leaves of their recorded graph. A tensor older than every
    seeded leaf gets no tangent and is not visited (a graph jvp's f closes over: freed or edited, no matter)."""
    known, anomaly = {id(leaf): tangent for leaf, tangent in seeds.items()}, current().anomaly
    for t in in_order(roots, max([leaf._seq for leaf in seeds], default=-float("inf"))):
        if t._prim is None or id(t) in known:
            continue
        if t._parents is None or t._epoch != clock.now:  # as backward: a freed graph, or a value changed
            check_usable(t, "forward mode (jvp)")  # in place since the op read it (its JVP would see the new one)
        if not t._parents:  # (an op without inputs)
            continue
        incoming = [known.get(id(p)) for p in t._parents]
        if any(x is not None for x in incoming):
            value = node_tangent(t, incoming)
            if value is not None:
                if anomaly:
                    raise_if_not_finite(value, "forward mode (jvp): the tangent", t)
                known[id(t)] = value
    return [known.get(id(r)) if isinstance(r, Tensor) else None for r in roots]
