"""Round 17 (adv90 #3): complex(t) is a conversion of its own, as float(t) and int(t) are;
expected values from NumPy's own conversions of an array of the same shape."""
import warnings

import numpy as np
import pytest

import autograd_lite as ag


def test_complex_of_a_0d_tensor_is_numpys_number():
    assert complex(ag.Tensor(2.5)) == complex(np.array(2.5)) == 2.5 + 0j


@pytest.mark.parametrize("shape", [(1, 1), (1,), (2,)])
def test_complex_of_a_tensor_that_is_not_0d_names_complex_and_the_shape(shape):
    with pytest.raises(TypeError):
        complex(np.full(shape, 2.5))  # (the oracle: NumPy refuses it too)
    with pytest.raises(TypeError, match=rf"^complex\(\): tensor of shape \({shape[0]},"):
        complex(ag.Tensor(np.full(shape, 2.5)))


def test_a_dicts_tuple_keys_are_walked_for_names_once_not_on_every_call(monkeypatch):
    # (adv92 #2: a dict keyed by (i, j) walked every key on every compiled call: 14 ms a call for 10,000)
    from autograd_lite import compile_key
    walked = []
    real = compile_key._mention_all
    monkeypatch.setattr(compile_key, "_mention_all", lambda values: walked.append(values) or real(values))
    table = {(i, j, "round17 tuple-key name"): float(i * j) for i in range(30) for j in range(30)}
    x = ag.Tensor(np.arange(3.0), requires_grad=True)
    step = ag.compile(lambda x, table: (x * table[(2, 3, "round17 tuple-key name")]).sum())
    for _ in range(3):
        np.testing.assert_array_equal(step(x, table).data, 18.0)
    assert sum(keys is not None and len(keys) == 900 for keys in walked) == 1
    assert "round17 tuple-key name" in compile_key.MENTIONED


@pytest.mark.parametrize("names", [np.array(["W1", "W2"]), np.array([b"W1", b"W2"]), np.array(["W1", "W2"], object)])
def test_a_compiled_call_given_an_array_of_names_runs_as_eager_code_does(names):
    # (adv92: a str ndarray argument was refused by a compiled call, "as_tensor: data of dtype <U2 is
    # not numeric", where calling the function itself works); expected: the math, 2 * sum(W2)
    params = {"W1": ag.Tensor(np.ones(2), requires_grad=True), "W2": ag.Tensor(np.arange(3.0), requires_grad=True)}

    def cost(params, names):
        name = names[1].decode() if isinstance(names[1], bytes) else str(names[1])
        return (params[name] * 2.0).sum()
    step = ag.compile(cost)
    for call in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = step(params, names)
        assert ["no numbers" in str(w.message) for w in caught] == ([True] if call == 0 else [])  # (said once)
        assert float(out) == 6.0
        params["W2"].grad = None
        out.backward()
        np.testing.assert_array_equal(params["W2"].grad, [2.0, 2.0, 2.0])
