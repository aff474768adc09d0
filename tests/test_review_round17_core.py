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
