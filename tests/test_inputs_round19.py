"""Round 19 (adv110): a masked index nested in a list or tuple is refused as a top-level one is (its
hidden values picked entries), for reading and for item assignment; backward()'s flags are bools
(retain_graph=None is create_graph's value, as in PyTorch); a .grad differing only in byte order adds
as NumPy adds it; a few methods name themselves or take what NumPy takes."""
import numpy as np
import pytest

import autograd_lite as ag

MASKED = np.ma.array([0, 2], mask=[False, True])


@pytest.mark.parametrize("index", [MASKED, [MASKED], (MASKED,), [[MASKED]],
                                   np.ma.array([True, False, True], mask=[0, 0, 1])])
def test_a_masked_index_is_refused_at_any_depth_for_reading_and_writing(index):
    x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"getitem \(an index\): a numpy\.ma\.MaskedArray .* 1 masked entry"):
        x[index]
    u = ag.Tensor(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match=r"t\[index\] = value \(the index\): a numpy\.ma\.MaskedArray"):
        u[index] = 0.0
    np.testing.assert_array_equal(u.data, [1.0, 2.0, 3.0])


def test_a_masked_index_without_masked_entries_is_its_data():
    unmasked = np.ma.array([0, 2], mask=[False, False])
    x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    ag.sum(x[[unmasked]]).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
    u = ag.Tensor(np.array([1.0, 2.0, 3.0]))
    u[unmasked] = 9.0
    np.testing.assert_array_equal(u.data, [9.0, 2.0, 9.0])


@pytest.mark.parametrize("keyword, value", [("retain_graph", "no"), ("create_graph", "yes"),
                                            ("retain_graph", np.array([1, 1])), ("create_graph", None)])
def test_backward_flags_must_be_bools(keyword, value):
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=rf"backward\({keyword}=\.\.\.\): expected True or False"):
        (x * x).sum().backward(**{keyword: value})
    assert x.grad is None


def test_retain_graph_none_follows_create_graph_as_in_pytorch():
    x = ag.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=None)  # create_graph False: the graph is freed
    with pytest.raises(ag.GraphError, match="freed"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=None, create_graph=True)  # kept, as PyTorch keeps it
    z.backward(retain_graph=None)
    np.testing.assert_array_equal(x.grad, 2 * 3 * np.array([1.0, 2.0]))


@pytest.mark.parametrize("param_order, grad_order", [(">f8", "<f8"), ("<f8", ">f8")])
def test_a_grad_of_the_other_byte_order_is_added_to(param_order, grad_order):
    p = ag.Tensor(np.arange(3.0).astype(param_order), requires_grad=True)
    p.grad = np.ones(3, grad_order)
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad, 1.0 + 2 * np.arange(3.0))


def test_methods_take_what_numpy_takes_and_name_themselves():
    x = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.transpose(None).shape == (3, 2)  # NumPy: reversed axes
    assert ag.Tensor([1.0, 2.0]).transpose(np.int64(0)).shape == (2,)
    assert x.reshape(np.int64(6)).shape == (6,)
    with pytest.raises(TypeError, match=r"^swapaxes: axes 0, 1\.5 for a tensor of shape \(2, 3\); expected ints"):
        x.swapaxes(0, 1.5)
    with pytest.raises(TypeError, match=r"^sigmoid\(x, /\): takes 1 input, got 2"):
        ag.sigmoid(x, 1)
