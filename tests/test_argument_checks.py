"""Issue-12 argument checks that gave a wrong number or a raw Python error before: each case
fails loudly now, naming the operation and what was expected."""
import numpy as np
import pytest

import autograd_lite as ag


def test_l2_penalty_refuses_an_infinite_number_of_examples():
    W = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"l2_penalty: m \(the number of examples\) must be a finite number > 0, "
                                         r"got inf"):
        ag.l2_penalty([W], 0.7, float("inf"))  # it used to return 0


def test_dropout_takes_an_int_seed_like_a_generator_of_that_seed():
    a = np.ones((30, 40))
    seeded = ag.dropout(a, 0.8, rng=0).data
    np.testing.assert_array_equal(seeded, ag.dropout(a, 0.8, rng=np.random.default_rng(0)).data)
    assert not np.array_equal(seeded, ag.dropout(a, 0.8, rng=1).data)  # the seed is used, not ignored


def test_dropout_takes_the_courses_legacy_stream():
    a = np.ones((20, 211))
    expected = (np.random.RandomState(1).rand(20, 211) < 0.86) / 0.86  # np.random.seed(1); rand(...)
    np.testing.assert_array_equal(ag.dropout(a, 0.86, rng=np.random.RandomState(1)).data, expected)


@pytest.mark.parametrize("rng", ["1", 1.5, True, object()])
def test_dropout_refuses_an_rng_of_another_kind(rng):
    with pytest.raises(TypeError, match=r"dropout: rng must be None, an int seed, a numpy.random.Generator "
                                        r"or a numpy.random.RandomState"):
        ag.dropout(np.ones((2, 2)), 0.5, rng=rng)


def test_cross_entropy_with_zero_examples_says_so():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: no examples \(predictions of shape \(1, 0\)\)"):
        ag.binary_cross_entropy(np.zeros((1, 0)), np.zeros((1, 0)))


def test_cross_entropy_with_string_labels_says_what_labels_must_be():
    with pytest.raises(TypeError, match=r"^binary_cross_entropy \(labels\): data of dtype <U1 \(ndarray\) is not "
                                        r"numeric; expected numbers"):
        ag.binary_cross_entropy(np.full((1, 2), 0.5), np.array([["a", "b"]]))


def test_a_huge_python_int_is_a_number():
    t = ag.Tensor(10 ** 30)
    assert t.dtype == np.float64 and t.item() == 1e30
