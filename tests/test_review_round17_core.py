"""Round 17 (adv90 #3): complex(t) is a conversion of its own, as float(t) and int(t) are;
expected values from NumPy's own conversions of an array of the same shape."""
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
