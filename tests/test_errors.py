"""The error catalogue of issue 3: every bad input raises a specific exception
whose message names the operation, the shapes or values involved, and what
was expected. One test per entry (parametrized over its variants)."""
import operator
import re

import numpy as np
import pytest

import autograd_lite as ag


def _leaf(*shape):
    return ag.Tensor(np.ones(shape), requires_grad=True)


# --- shapes ------------------------------------------------------------------
def test_matmul_shape_mismatch_names_op_and_both_shapes():
    with pytest.raises(ag.ShapeError, match=re.escape(
            "matmul (@): shapes (2, 3) and (4, 5) cannot be multiplied (3 columns vs 4 rows)")):
        _leaf(2, 3) @ np.ones((4, 5))


@pytest.mark.parametrize("bias_shape", [(2, 5), (3, 1, 1)])
def test_linear_bias_that_does_not_fit_the_product_names_all_shapes(bias_shape):
    with pytest.raises(ag.ShapeError, match=re.escape(
            f"linear: bias of shape {bias_shape} does not broadcast to the shape (3, 5) of weights (3, 4) "
            "@ inputs (4, 5); expected e.g. (3, 1)")):
        ag.linear(_leaf(3, 4), np.ones((4, 5)), np.ones(bias_shape))


def test_linear_weights_and_inputs_that_cannot_be_multiplied_name_both_shapes():
    with pytest.raises(ag.ShapeError, match=re.escape(
            "linear (weights @ inputs): shapes (3, 4) and (5, 2) cannot be multiplied (4 columns vs 5 rows)")):
        ag.linear(_leaf(3, 4), np.ones((5, 2)), np.ones((3, 1)))


@pytest.mark.parametrize("symbol, name, apply", [("+", "add", operator.add), ("-", "subtract", operator.sub),
                                                 ("*", "multiply", operator.mul),
                                                 ("/", "divide", operator.truediv)])
@pytest.mark.parametrize("tensor_on_left", [True, False])
def test_broadcasting_mismatch_names_op_both_shapes_and_axis(symbol, name, apply, tensor_on_left):
    a, b = _leaf(2, 3), np.ones((4, 1, 2))
    left, right = (a, b) if tensor_on_left else (b, a)
    shapes = "(2, 3) and (4, 1, 2)" if tensor_on_left else "(4, 1, 2) and (2, 3)"
    with pytest.raises(ag.ShapeError) as caught:
        apply(left, right)
    message = str(caught.value)
    assert message.startswith(f"{name} ({symbol}): shapes {shapes} do not broadcast")
    sizes = "3 vs 2: operand 1 has 3, operand 2 has 2" if tensor_on_left else "2 vs 3: operand 1 has 2, operand 2 has 3"
    assert f"axis -1 has sizes {sizes}" in message and "equal or 1" in message


def test_shape_errors_are_value_errors():
    with pytest.raises(ValueError):
        _leaf(2, 3) + np.ones(4)


# --- backward() misuse ----------------------------------------------------------
def test_backward_on_non_scalar_without_grad():
    with pytest.raises(ag.GraphError, match=re.escape(
            "backward(): output of shape (2, 3) is not a scalar; pass grad= of shape (2, 3)")):
        (_leaf(2, 3) * 2).backward()


def test_backward_with_grad_of_wrong_shape():
    with pytest.raises(ag.ShapeError, match=re.escape(
            "backward(): grad has shape (3, 2) but the output has shape (2, 3); they must match")):
        (_leaf(2, 3) * 2).backward(np.ones((3, 2)))


def test_backward_through_freed_graph():
    x = _leaf(2, 3)
    cost = (x * x).sum()
    cost.backward()
    with pytest.raises(ag.GraphError, match=r"backward through a freed graph: op 'sum'.*retain_graph=True"):
        cost.backward()


def test_backward_on_tensor_that_does_not_require_grad():
    with pytest.raises(ag.GraphError, match=r"backward\(\): this tensor does not require grad"):
        (ag.Tensor(np.ones(3)) * 2).sum().backward()


def test_backward_of_a_result_computed_under_no_grad():
    with ag.no_grad():
        cost = (_leaf(3) * 2).sum()
    with pytest.raises(ag.GraphError, match=r"does not require grad.*no_grad\(\)"):
        cost.backward()


# --- dropout ------------------------------------------------------------------------
@pytest.mark.parametrize("keep_prob", [0, 0.0, -0.5, 1.5, float("nan")])
def test_dropout_keep_prob_outside_unit_interval(keep_prob):
    with pytest.raises(ValueError, match=re.escape(f"dropout: keep_prob must be a finite number in (0, 1], "
                                                   f"got {keep_prob!r}")):
        ag.dropout(_leaf(2, 3), keep_prob, mask=np.ones((2, 3)))


@pytest.mark.parametrize("keep_prob, kind", [(True, "bool"), ("0.5", "str"), (np.array([0.5]), "numpy.ndarray")])
def test_dropout_keep_prob_of_another_type_is_refused_naming_it(keep_prob, kind):
    # (adv138 #1) True is in (0, 1] as a number: the reason is its type, as lr's check says
    with pytest.raises(ValueError, match=rf"dropout: keep_prob must be a finite number, got .* \(type {kind}.*\), "
                                         "which is not taken as a number here"):
        ag.dropout(_leaf(2, 3), keep_prob, mask=np.ones((2, 3)))


def test_dropout_mask_of_wrong_shape():
    with pytest.raises(ag.ShapeError, match=re.escape(
            "dropout: mask has shape (3, 2) but the input has shape (2, 3); they must match")):
        ag.dropout(_leaf(2, 3), 0.5, mask=np.ones((3, 2)))


@pytest.mark.parametrize("bad", [2.0, 0.5, -1.0, float("nan")])
def test_dropout_mask_with_values_other_than_0_1(bad):
    mask = np.ones((2, 3))
    mask[1, 2] = bad
    expected = r"dropout: mask must hold only 0 and 1, found values such as \["
    with pytest.raises(ValueError, match=expected) as caught:
        ag.dropout(_leaf(2, 3), 0.5, mask=mask)
    assert str(bad) in str(caught.value)


# --- l2_penalty -------------------------------------------------------------------
@pytest.mark.parametrize("lambd", [-0.1, float("inf"), float("nan")])
def test_l2_penalty_negative_or_non_finite_lambd(lambd):
    with pytest.raises(ValueError, match=re.escape(f"l2_penalty: lambd must be a finite number >= 0, "
                                                   f"got {lambd!r}")):
        ag.l2_penalty([_leaf(2, 2)], lambd, 4)


@pytest.mark.parametrize("m", [0, -3, 0.0, float("nan"), float("inf")])
def test_l2_penalty_non_positive_m(m):
    with pytest.raises(ValueError, match=re.escape(f"l2_penalty: m (the number of examples) must be a finite "
                                                   f"number > 0, got {m!r}")):
        ag.l2_penalty([_leaf(2, 2)], 0.7, m)


@pytest.mark.parametrize("name, args", [("lambd", (None, 4)), ("m (the number of examples)", (0.7, True)),
                                        ("m (the number of examples)", (0.7, "4"))])
def test_l2_penalty_numbers_of_another_type_are_refused_naming_it(name, args):
    with pytest.raises(ValueError, match=re.escape(f"l2_penalty: {name} must be a finite number, got ") +
                       r".*which is not taken as a number here"):
        ag.l2_penalty([_leaf(2, 2)], *args)


def test_l2_penalty_without_weights():
    with pytest.raises(ValueError, match="l2_penalty: no weights given; expected at least one"):
        ag.l2_penalty([], 0.7, 4)


# --- binary_cross_entropy ---------------------------------------------------------------
@pytest.mark.parametrize("bad", [0.5, 2.0, -1.0])
def test_bce_labels_outside_0_1(bad):
    labels = np.array([[0.0, 1.0, bad]])
    expected = f"binary_cross_entropy: labels must be 0 or 1, found [{bad}]"
    with pytest.raises(ValueError, match=re.escape(expected)):
        ag.binary_cross_entropy(ag.sigmoid(_leaf(1, 3)), labels)


def test_bce_labels_of_wrong_shape():
    with pytest.raises(ag.ShapeError, match=re.escape(
            "binary_cross_entropy: labels have shape (3, 1) but predictions have shape (1, 3)")):
        ag.binary_cross_entropy(ag.sigmoid(_leaf(1, 3)), np.ones((3, 1)))


def test_bce_predictions_that_are_not_probabilities():
    expected = r"predictions must lie in \[0, 1\].*found values in \[-1\.0, 1\.0\].*sigmoid"
    with pytest.raises(ValueError, match=expected):
        ag.binary_cross_entropy(ag.Tensor([[-1.0, 1.0]]), np.array([[0.0, 1.0]]))


def test_bce_prediction_above_one_on_a_positive_label():
    # -log(a) alone would be finite (and negative) here: the range is checked up front
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 1\].*found values in \[0\.5, 1\.5\]"):
        ag.binary_cross_entropy(ag.Tensor([[1.5, 0.5]]), np.array([[1.0, 0.0]]))


def test_bce_of_a_sigmoid_that_gave_nan():
    logits = ag.Tensor([[np.nan, 0.0]], requires_grad=True)
    with pytest.raises(ValueError, match=r"predictions hold NaN \(1 of 2 entries, the first at index \(0, 0\).*"
                                         r"ag.detect_anomaly"):  # (not 'apply sigmoid first': it came from one)
        ag.binary_cross_entropy(ag.sigmoid(logits), np.array([[1.0, 0.0]]))


# --- Tensor data ---------------------------------------------------------------------
@pytest.mark.parametrize("data, described", [(["a", "b"], "dtype <U1 (list)"),
                                             ([object()], "dtype object (list)"),
                                             ({"W": 1.0}, "dtype object (dict)"),
                                             (None, "dtype object (NoneType)")])
def test_tensor_of_non_numeric_data(data, described):
    with pytest.raises(TypeError, match=re.escape(f"Tensor: data of {described} is not numeric; "
                                                  "expected numbers")):
        ag.Tensor(data)


def test_tensor_of_ragged_lists():
    with pytest.raises(TypeError, match=r"Tensor: cannot make a numeric array from list"):
        ag.Tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("data", [[1 + 2j], np.ones(3, dtype=np.complex64)])
def test_tensor_of_complex_data(data):
    with pytest.raises(TypeError, match=r"Tensor: complex data \(dtype complex(64|128)\) is not supported; "
                                        r"expected real numbers"):
        ag.Tensor(data)


def test_backward_seed_of_strings():
    with pytest.raises(TypeError, match=r"backward\(grad=\.\.\.\): data of dtype <U1"):
        (_leaf(2) * 2).backward(["a", "b"])


# --- gradcheck and grad -----------------------------------------------------------------
def test_gradcheck_on_non_scalar_function():
    with pytest.raises(ag.GraphError, match=re.escape(
            "gradcheck: f must return a single-element Tensor (a scalar), got a Tensor of shape (3,)")):
        ag.gradcheck(lambda x: x * 2, [np.ones(3)])


def test_gradcheck_without_inputs():
    with pytest.raises(ValueError, match="gradcheck: no inputs given"):
        ag.gradcheck(lambda: ag.Tensor(1.0), [])


def test_grad_on_non_scalar_function():
    with pytest.raises(ag.GraphError, match=re.escape(
            "grad: f must return a single-element Tensor (a scalar cost), got a Tensor of shape (2, 2)")):
        ag.grad(lambda x: x * 2)(np.ones((2, 2)))


def test_grad_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"grad: argnums 2 is out of range for 1 positional arguments"):
        ag.grad(lambda x: (x * x).sum(), argnums=2)(np.ones(2))


# --- optimizers ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda p: ag.optim.GradientDescent(p, 0.1),
                                  lambda p: ag.optim.Momentum(p, 0.1),
                                  lambda p: ag.optim.Adam(p, 0.1)])
@pytest.mark.parametrize("params", [[], {}])
def test_optimizer_without_parameters(make, params):
    with pytest.raises(ValueError, match=r"(GradientDescent|Momentum|Adam): no parameters given; "
                                         r"expected at least one Tensor"):
        make(params)


@pytest.mark.parametrize("optimizer", ["GradientDescent", "Momentum", "Adam"])
@pytest.mark.parametrize("lr", [0, -0.01, float("nan"), float("inf")])
def test_optimizer_with_non_positive_or_non_finite_lr(optimizer, lr):
    with pytest.raises(ValueError, match=rf"{optimizer}: learning rate lr must be .*got {lr!r}"):
        getattr(ag.optim, optimizer)([_leaf(2)], lr)


# --- NumPy interop -------------------------------------------------------------------------
def test_numpy_conversion_of_a_tensor_that_requires_grad():
    with pytest.raises(TypeError, match="would silently drop its gradient; use t.data or t.detach()"):
        np.asarray(_leaf(2))


def test_non_differentiable_numpy_function_on_a_tensor():
    with pytest.raises(TypeError, match=r"numpy\.arccosh is not differentiable"):
        np.arccosh(_leaf(2) + 2)
