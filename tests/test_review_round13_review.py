"""Review round 13, a review of the round's own fixes: values computed from a comparison under ag.compile and
copied past every NumPy hook (np.array(n), np.int64(n), np.asarray(n).item(), str(n)) are recomputed or the call
runs eagerly, never frozen; Python's number protocols on them (round, math.trunc) work as in eager code;
formula shows concatenate's and stack's axis; del t.name unnames a tensor. Oracle: the eager engine."""
import math
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def _eager_vs_compiled(f, first, then):
    cf = ag.compile(f)
    cf(ag.Tensor(first, requires_grad=True))               # the tracing call
    te = ag.Tensor(then, requires_grad=True)
    tc = ag.Tensor(then, requires_grad=True)
    ye = f(te)
    ag.sum(ye).backward()
    yc = cf(tc)
    ag.sum(yc).backward()
    return ye.data, te.grad, yc.data, tc.grad


# F1: np.array(...) of a single-element value computed from a comparison is frozen on replay.
@pytest.mark.parametrize("f", [
    lambda x: x * np.array((x > 0).sum()),
    lambda x: x * np.array((x > 0).sum(), dtype=float),
    lambda x: x * np.array(np.mean(x > 0)),
    lambda x: x * np.array((x > 0).sum(axis=0)),          # shape (1,) for a (3, 1) input
], ids=["array(sum)", "array(sum,float)", "array(mean)", "array(sum(0))(1,)"])
def test_np_array_copy_of_comparison_scalar_recomputed_on_replay(f):
    first = np.ones((3, 1))
    then = np.array([[1.], [-1.], [-1.]])
    ye, ge, yc, gc = _eager_vs_compiled(f, first, then)
    np.testing.assert_array_equal(yc, ye)
    np.testing.assert_array_equal(gc, ge)


# F1b: str()/format() of such a scalar keep the traced value (should be a guard or run eagerly).
@pytest.mark.parametrize("f", [
    lambda x: x * float(str(np.mean(x > 0))),
    lambda x: x * float(format(np.mean(x > 0), ".3f")),
], ids=["str", "format"])
def test_text_of_comparison_scalar_not_frozen(f):
    ye, ge, yc, gc = _eager_vs_compiled(f, np.ones(3), np.array([1., -1., -1.]))
    np.testing.assert_array_equal(yc, ye)
    np.testing.assert_array_equal(gc, ge)


# F2: Python-number protocols of a comparison scalar crash under ag.compile (eager runs).
@pytest.mark.parametrize("f", [
    lambda x: x * round(np.mean(x > 0), 2),
    lambda x: x * round(np.mean(x > 0)),
    lambda x: x * math.trunc(np.mean(x > 0) * 3),
    lambda x: x * float((np.mean(x > 0) * 3).is_integer()),
    lambda x: x * np.mean(x > 0).as_integer_ratio()[0],
], ids=["round2", "round", "trunc", "is_integer", "as_integer_ratio"])
def test_number_protocols_of_comparison_scalar_under_compile(f):
    x = ag.Tensor(np.array([1., -1., 2.]))
    expected = f(x).data
    np.testing.assert_array_equal(ag.compile(f)(x).data, expected)


# F3: formula shows concatenate's / stack's axis (a parameter off its default).
def test_formula_shows_concatenate_axis():
    x = ag.Tensor(np.ones((2, 2)), requires_grad=True, name="x")
    f0 = ag.formula(ag.sum(ag.concatenate([x, 2 * x], axis=0)[0]))
    f1 = ag.formula(ag.sum(ag.concatenate([x, 2 * x], axis=1)[0]))
    assert f0 != f1
    assert ag.formula(ag.stack([x, 2 * x], axis=0)) != ag.formula(ag.stack([x, 2 * x], axis=1))


# F4: `del t.name` unnames the tensor, as before a94c92f.
def test_del_tensor_name():
    t = ag.Tensor(np.ones(2), name="W1")
    del t.name
    assert t.name is None


# F6: same-type NumPy scalar conversions and .item() of an asarray copy are frozen on replay.
@pytest.mark.parametrize("f", [
    lambda x: x * np.int64((x > 0).sum()),
    lambda x: x * np.bool_(np.all(x > 0)),
    lambda x: x * np.asarray(np.mean(x > 0)).item(),
], ids=["int64(count)", "bool_(all)", "asarray(mean).item()"])
def test_same_type_scalar_conversion_not_frozen(f):
    ye, ge, yc, gc = _eager_vs_compiled(f, np.ones(4), np.array([1., -1., -1., 2.]))
    np.testing.assert_array_equal(yc, ye)
    np.testing.assert_array_equal(gc, ge)


# --- a plain view or the repr of a comparison's scalar (adv40): recomputed or guarded, never frozen ---------
def _eager_vs_compiled_over_calls(fn, dtype):
    step = ag.compile(fn)
    for x in ([1.0, 2.0, -3.0, 4.0], [1.0, -2.0, -3.0, -4.0], [-1.0, -2.0, 3.0, 4.0]):
        x = np.array(x, dtype)
        w1, w2 = ag.Tensor(np.ones(4, dtype), requires_grad=True), ag.Tensor(np.ones(4, dtype), requires_grad=True)
        compiled, eager = step(w1, x), fn(w2, ag.Tensor(x))
        compiled.backward()
        eager.backward()
        assert compiled.dtype == eager.dtype
        np.testing.assert_array_equal(compiled.data, eager.data)
        np.testing.assert_array_equal(w1.grad, w2.grad)


@pytest.mark.parametrize("fn", [
    lambda w, x: ag.sum(w * x) * (np.mean(x > 0).view(np.ndarray) + 1),
    lambda w, x: ag.sum(ag.leaky_relu(w * x, np.mean(x > 0).view(np.ndarray)[()] * 0.5)),
    lambda w, x: ag.sum(ag.clip(w * x, -(np.mean(x > 0).view(np.ndarray) + 0.1), np.mean(x > 0).view(np.ndarray) + 0.1)),
    lambda w, x: ag.sum(w * x) * (float(repr(np.mean(x > 0))[len("np.float64("):-1]) + 1),
], ids=["view", "view as a parameter", "view as clip's bounds", "repr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_plain_view_or_the_repr_of_a_comparisons_scalar_is_not_frozen(fn, dtype):
    _eager_vs_compiled_over_calls(fn, dtype)


def test_a_number_equal_to_a_comparisons_scalar_by_chance_runs_that_call_eagerly_only():
    """x * 0.0 beside an error rate of 0 on the tracing call looks like a copy of it (adv40): that call
    runs eagerly, the next traces again and is replayed from then on, each result eager's."""
    def cost(w, x):
        return ag.sum(w * x) + ag.sum(w) * 0.0 + ag.sum(w) * np.mean(x < 0)

    step = ag.compile(cost)
    inputs = [[1.0, 2.0], [1.0, -2.0], [-1.0, 2.0], [3.0, -4.0]]  # error rates 0 (the collision), then 0.5
    with pytest.warns(RuntimeWarning, match="this call ran it eagerly, the next traces it again"):
        step(ag.Tensor(np.ones(2), requires_grad=True), np.array(inputs[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in inputs[1:]:
            w1, w2 = ag.Tensor(np.ones(2), requires_grad=True), ag.Tensor(np.ones(2), requires_grad=True)
            compiled, eager = step(w1, np.array(x)), cost(w2, np.array(x))
            compiled.backward()
            eager.backward()
            assert compiled.item() == eager.item()
            np.testing.assert_array_equal(w1.grad, w2.grad)
    assert step.recordings == 2 and step.replays == 2
