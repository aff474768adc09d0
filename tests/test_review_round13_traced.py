"""Review round 13 (/tmp/adv36/FINDINGS.md, findings 1 and 2): a NumPy scalar computed from a comparison
(``np.mean(x > 0)``, ``(x > 0).sum()``, ``m[0]``) under ``ag.compile``.

While tracing, such a value is a ``TracedScalar`` (0-d, so that a replay recomputes it). It must act as the
NumPy scalar eager code gets: beside a float32 tensor it is float32 (finding 1: it made the result float64),
and ops take it as a parameter (finding 2: dropout, leaky_relu and l2_penalty refused it, naming an internal
type). Every compiled function is compared with eager over calls with changing inputs, float32 and float64:
values and gradients bit for bit, and dtypes. Deterministic: fixed inputs, no randomness.
"""
import numbers
import pickle
import warnings

import numpy as np
import pytest

import autograd_lite as ag

# np.mean(x > 0) changes between calls (2/3, 2/3, 1/3, 1, 2/3, 0), so a value taken as a constant shows
INPUTS = ([1.0, -2.0, 3.0], [2.0, 2.0, -3.0], [-1.0, -2.0, 3.0], [1.0, 2.0, 3.0], [0.5, -0.25, 4.0],
          [-1.0, -2.0, -3.0])
DTYPES = [np.float32, np.float64]


def compare_with_eager(f, dtype, inputs=INPUTS):
    """Call ``f`` eagerly and compiled on each input (the tracing call, then replays or new traces):
    the results, their dtypes and the gradients must be eager's. Returns the compiled function."""
    cf = ag.compile(f)
    for data in inputs:
        x = np.array(data, dtype)
        xe, xc = ag.Tensor(x, requires_grad=True), ag.Tensor(x, requires_grad=True)
        eager, compiled = f(xe), cf(xc)
        assert compiled.dtype == eager.dtype, f"compiled {compiled.dtype}, eager {eager.dtype} on {data}"
        np.testing.assert_array_equal(compiled.data, eager.data, err_msg=f"on {data}")
        eager.backward()
        compiled.backward()
        assert xc.grad.dtype == xe.grad.dtype
        np.testing.assert_array_equal(xc.grad, xe.grad, err_msg=f"gradient on {data}")
    return cf


# --- finding 1: the result keeps eager's dtype, the value recomputed on every replay -----------------
DTYPE_CASES = {  # (the pending tests' cases, and the reflected and NumPy-protocol forms)
    "x*np.mean(x>0)": lambda x: x * np.mean(x > 0),
    "x*(x>0).mean()": lambda x: x * (x > 0).mean(),
    "x*(x>0).astype(float).sum()": lambda x: x * (x > 0).astype(float).sum(),
    "x/np.sqrt(np.sum(x>0)+1)": lambda x: x / np.sqrt(np.sum(x > 0) + 1),
    "x*np.std(x>0)": lambda x: x * np.std(x > 0),
    "x*np.where(x>0,1.,2.)[0]": lambda x: x * np.where(x > 0, 1.0, 2.0)[0],
    "where(x>0,x,np.mean(x>0))": lambda x: ag.where(x > 0, x, np.mean(x > 0)),
    "maximum(x,np.mean(x>0))": lambda x: ag.maximum(x, np.mean(x > 0)),
    "clip(x,0,np.mean(x>0))": lambda x: ag.clip(x, 0, np.mean(x > 0)),
    "abs(x)**np.mean(x>0)": lambda x: ag.abs(x) ** np.mean(x > 0),
    "np.mean(x>0)*x": lambda x: np.mean(x > 0) * x,
    "np.sum(x>0)-x": lambda x: np.sum(x > 0) - x,
    "np.multiply(x,np.mean(x>0))": lambda x: np.multiply(x, np.mean(x > 0)),
    "x*(np.mean(x>0)*2+1)": lambda x: x * (np.mean(x > 0) * 2 + 1),
    "x*(x>0)[0]": lambda x: x * (x > 0)[0],
    "x*(x>0).astype(np.float32).mean()": lambda x: x * (x > 0).astype(np.float32).mean(),
    "x*np.mean(x>0).astype(np.float32)": lambda x: x * np.mean(x > 0).astype(np.float32),  # (a scalar's method)
    "x*(x>0).mean().copy()": lambda x: x * (x > 0).mean().copy(),
    "x*np.where(np.mean(x>0)>0.5,1.,2.)": lambda x: x * np.where(np.mean(x > 0) > 0.5, 1.0, 2.0),  # (0-d array)
}


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_numpy_scalar_from_a_comparison_takes_the_tensors_dtype_and_is_recomputed(name, dtype):
    body = DTYPE_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (replayable: no call runs eagerly)
        cf = compare_with_eager(lambda x: ag.sum(body(x)), dtype)
    assert cf.recordings == 1 and cf.replays == len(INPUTS) - 1  # recomputed on every replay, no new trace


def test_the_tracing_call_itself_keeps_float32():
    """The reported case: float32 on the tracing call and on every replay (was float64)."""
    f = ag.compile(lambda x: ag.sum(x * x) * np.mean(x > 0))
    x = ag.Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    assert f(x).dtype == np.float32 and f(x).dtype == np.float32
    assert "convert(s4)  # () float32" in f.source  # (the scalar converted to the tensor's dtype: a replay step)


# --- finding 2: op parameters accept it, as eager code does --------------------------------------------
PARAM_CASES = {  # (the pending tests' cases)
    "dropout keep_prob": lambda x: ag.dropout(x, np.mean(x > -10) * 0.5, mask=np.ones(3)),
    "leaky_relu negative_slope": lambda x: ag.leaky_relu(x, np.mean(x > 0) * 0.1),
    "l2_penalty lambd": lambda x: ag.l2_penalty([x], np.mean(x > 0), 3),
    "l2_penalty m": lambda x: ag.l2_penalty([x], 0.7, np.sum(x > -10)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(PARAM_CASES))
def test_numpy_scalar_from_a_comparison_as_an_op_parameter(name, dtype):
    body = PARAM_CASES[name]
    with warnings.catch_warnings():
        # (np.ones(3) equals the all-True x > -10: the tracer's check for np.array(x > 0, dtype=float)
        # takes it for a copy of the comparison, and the call runs eagerly, with a warning)
        warnings.simplefilter("ignore")
        compare_with_eager(lambda x: ag.sum(body(x)), dtype)


def test_a_parameter_a_primitive_takes_is_recomputed_on_every_replay():
    """leaky_relu's slope reaches its forward: a replay passes the recomputed NumPy scalar (s3[()])."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cf = compare_with_eager(lambda x: ag.sum(ag.leaky_relu(x, np.mean(x > 0) * 0.1)), np.float32)
    assert cf.recordings == 1 and cf.replays == len(INPUTS) - 1
    assert "negative_slope=s3[()]" in cf.generated


@pytest.mark.parametrize("dtype", DTYPES)
def test_parameters_ops_read_as_numbers_are_guards(dtype):
    """dropout and l2_penalty read keep_prob, lambd and m as Python numbers (float(lambd)): guards, so a
    replay checks them, replays while they hold and traces anew when they change; never a stale value."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = compare_with_eager(lambda x: ag.l2_penalty([x], 0.7, np.sum(x > -10)), dtype)
        lambd = compare_with_eager(lambda x: ag.l2_penalty([x], np.mean(x > 0), 3), dtype)
        keep = compare_with_eager(
            lambda x: ag.sum(ag.dropout(x, np.mean(x > -10) * 0.5, mask=np.array([0.0, 1.0, 1.0]))), dtype)
    assert m.recordings == 1 and keep.recordings == 1  # (the same count every call: replayed)
    values = [np.mean(np.array(d) > 0) for d in INPUTS]
    assert lambd.recordings == 1 + sum(a != b for a, b in zip(values, values[1:]))  # traced anew on a change


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_flag_from_a_comparison(dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_with_eager(lambda x: ag.sum(ag.dropout(x, 0.5, mask=np.array([0.0, 1.0, 1.0]),
                                                       training=np.any(x > 0))), dtype)


PARAM_ERRORS = {
    "dropout keep_prob 1.5": lambda x: ag.dropout(x, np.mean(x > -10) * 1.5, mask=np.ones(3)),
    "dropout keep_prob 0": lambda x: ag.dropout(x, np.mean(x > 10), mask=np.ones(3)),
    "l2_penalty m 0": lambda x: ag.l2_penalty([x], 0.7, np.sum(x > 10)),
    "l2_penalty lambd < 0": lambda x: ag.l2_penalty([x], -np.mean(x > 0), 3),
    "leaky_relu bool slope": lambda x: ag.leaky_relu(x, np.any(x > 0)),
    "dropout training float": lambda x: ag.dropout(x, 0.5, mask=np.ones(3), training=np.mean(x > 0)),
}


@pytest.mark.parametrize("name", list(PARAM_ERRORS))
def test_a_refused_parameter_gives_eagers_error(name):
    """Values eager code refuses are refused alike, with eager's message: no internal type named."""
    body = PARAM_ERRORS[name]
    x = ag.Tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    with pytest.raises((ValueError, TypeError)) as eager:
        body(x)
    with pytest.raises(type(eager.value)) as compiled:
        ag.compile(lambda x: ag.sum(body(x)))(x)
    assert str(compiled.value) == str(eager.value)
    assert "Traced" not in str(compiled.value)


# --- what the engine does with the scalar besides converting it --------------------------------------
def test_a_comparison_with_it_compares_in_the_tensors_dtype():
    """Eager code compares x32 with a NumPy scalar in float32 (float32(1/3) > np.float64(1/3) is False
    there, True in float64); compiled alike, on every call (the scalar, read by the comparison, is a guard)."""
    x_tie = [float(np.float32(1 / 3)), -1.0, -1.0]  # np.mean(x > 0) is 1/3, and x[0] is float32(1/3)
    f = lambda x: ag.sum(ag.where(x > np.mean(x > 0), x, 0.0))
    for dtype in DTYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compare_with_eager(f, dtype, [x_tie, *INPUTS, x_tie])
    assert f(ag.Tensor(np.array(x_tie, np.float32))).item() == 0.0  # (the float32 comparison)


@pytest.mark.parametrize("dtype", DTYPES)
def test_compared_then_converted(dtype):
    """A scalar compared (a guard) and then converted (a replay step) in one call: both hold."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_with_eager(lambda x: ag.sum(ag.where(x > np.mean(x > 0), x, np.mean(x > 0))), dtype)
        compare_with_eager(lambda x: ag.sum(ag.where(x < (s := np.mean(x > 0)), x * ag.Tensor(s), s)), dtype)


def test_inside_the_function_it_reads_as_a_numpy_scalar():
    """Its type's name, repr, str, format, pickle and numbers ABCs are the NumPy scalar's."""
    seen = {}

    def f(x):
        s, n, b = np.mean(x > 0), np.sum(x > 0), np.any(x > 0)
        seen.update(names=[type(v).__name__ for v in (s, n, b)], reprs=[repr(v) for v in (s, n, b)],
                    text=f"{s} {s:.3f}", abcs=(isinstance(s, numbers.Real), isinstance(n, numbers.Integral),
                                               isinstance(b, numbers.Number)),
                    pickled=pickle.loads(pickle.dumps(n)))
        return ag.sum(x) * s

    x = ag.Tensor(np.array([1.0, -2.0, 3.0]))
    f(x)
    eager = dict(seen)
    ag.compile(f)(x)
    assert seen == eager
    assert seen["names"] == ["float64", "int64", "bool"] and seen["abcs"] == (True, True, False)


# --- NumPy's scalar types convert a 0-d array past every hook: such a call runs eagerly -----------------
@pytest.mark.parametrize("convert", [np.float32, np.float16, np.int32])  # (np.int64 of an int64: int(), a guard)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_numpy_scalar_type_applied_to_a_traced_value_runs_eagerly_with_a_warning(convert, dtype):
    def f(x):  # (the replay kept the traced 2/3: 0.333 and 0.666 gradients differed)
        return ag.sum(x) * convert((x > 0).sum() if convert is np.int32 else np.mean(x > 0))

    with pytest.warns(RuntimeWarning, match=rf"(converts a value computed from a comparison with NumPy's "
                                            rf"{np.dtype(convert)} type|a copy of a comparison's result).* use .*astype"):
        compare_with_eager(f, dtype)


@pytest.mark.parametrize("copier", [lambda m: __import__("copy").copy(m), lambda m: __import__("copy").deepcopy(m)])
def test_a_copy_of_a_comparison_is_recomputed_on_every_replay(copier):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (replayed, not run eagerly)
        cf = compare_with_eager(lambda x: ag.sum(x * copier(x > 0)) * copier(np.mean(x > 0)), np.float32)
    assert cf.recordings == 1
