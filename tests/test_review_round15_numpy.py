"""Review round 15 (adv56): comparisons, ``in`` and ``len`` say what is wrong in the project's words.
The reference is NumPy's own broadcasting rule (np.broadcast_shapes refuses the pair) and the message
contract every arithmetic op already meets (a ShapeError naming the op and both shapes)."""
import numpy as np
import pytest

import autograd_lite as ag


def _non_broadcasting():
    return np.ones((2, 3)), np.ones((3, 3))


@pytest.mark.parametrize("call, names", [
    (lambda t, o: t < o, ("less", "<")),
    (lambda t, o: t <= o, ("less_equal", "<=")),
    (lambda t, o: t > o, ("greater", ">")),
    (lambda t, o: t >= o, ("greater_equal", ">=")),
    (lambda t, o: t == o, ("equal", "==")),
    (lambda t, o: t != o, ("not_equal", "!=")),
    (lambda t, o: np.less(t, o), ("less", "<")),
    (lambda t, o: o > t, ("greater", ">", "less", "<")),
    (lambda t, o: t == ag.Tensor(o), ("equal", "==")),
])
def test_comparison_of_non_broadcasting_shapes_names_the_comparison_and_shapes(call, names):
    a, b = _non_broadcasting()
    with pytest.raises(ValueError):
        np.broadcast_shapes(a.shape, b.shape)  # the reference: NumPy refuses this pair
    with pytest.raises(ag.ShapeError) as info:
        call(ag.Tensor(a), b)
    message = str(info.value)
    assert any(n in message for n in names), message
    assert "(2, 3)" in message and "(3, 3)" in message, message


def test_comparison_of_non_broadcasting_shapes_under_compile_names_the_comparison():
    a, b = _non_broadcasting()
    f = ag.compile(lambda x, y: ag.sum(ag.where(x > y, x, 0.0)))
    with pytest.raises(ag.ShapeError) as info:
        f(ag.Tensor(a), ag.Tensor(b))
    assert "greater" in str(info.value) or ">" in str(info.value)


def test_contains_with_non_broadcasting_value_names_the_shapes():
    t = ag.Tensor(np.ones((2, 3)))
    with pytest.raises(ag.ShapeError) as info:
        np.ones(4) in t
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_len_of_a_0d_tensor_names_the_tensor():
    # as iter() of one does (ops._rows), and as PyTorch's "len() of a 0-d tensor"
    with pytest.raises(TypeError) as info:
        len(ag.Tensor(np.float64(3.0)))
    message = str(info.value)
    assert "0-d" in message and ("Tensor" in message or "tensor" in message), message


def test_the_comparison_error_says_which_axis_clashes():
    with pytest.raises(ag.ShapeError, match=r"^less \(<\): shapes \(2, 3\) and \(3, 3\) do not broadcast \(axis -2 "
                                           r"has sizes 2 vs 3: left has 2, right has 3; expected each axis"):
        ag.Tensor(np.ones((2, 3))) < np.ones((3, 3))
    with pytest.raises(TypeError, match=r"^len\(\) of a 0-d Tensor \(value 3\.0\)"):
        len(ag.Tensor(3.0))
    assert len(ag.Tensor(np.ones((4, 2)))) == 4
