"""Anomaly mode: inside ``ag.detect_anomaly()`` the first op whose forward
output or backward gradient holds NaN/inf raises ``ag.AnomalyError`` naming the
op, its input shapes and the user's source line; outside, nothing raises."""
import inspect
import os

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import tape

THIS_FILE = os.path.basename(__file__)

# NumPy warns about log(0) and 0/0 before anomaly mode raises; the warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:(divide by zero|invalid value):RuntimeWarning")


def _next_line():
    """The caller's next source line number (where the op under test is written)."""
    return inspect.currentframe().f_back.f_lineno + 1


def _assert_names_site(error, line):
    assert f"{THIS_FILE}:{line}" in str(error.value)


def _assert_reports(error, stage_and_op, shapes, bad, line):
    """The message names the stage and op, the input shapes, NaN or inf, and the user's line."""
    message = str(error.value)
    assert message.startswith(stage_and_op)
    assert f"from inputs of shape {shapes}" in message and message.endswith(f"produced {bad}")
    _assert_names_site(error, line)


def test_log_of_zero_raises_naming_op_shapes_and_line():
    x = ag.Tensor(np.array([[1.0, 0.0, 2.0]]), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError) as error:
        line = _next_line()
        ag.log(x)
    _assert_reports(error, "forward of op 'log'", "(1, 3)", "inf", line)


def test_zero_over_zero_raises_naming_divide_and_both_shapes():
    a = ag.Tensor(np.zeros((2, 1)), requires_grad=True)
    b = ag.Tensor(np.array([0.0, 1.0, 2.0]))
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError) as error:
        line = _next_line()
        a / b
    _assert_reports(error, "forward of op 'divide'", "(2, 1), (3,)", "NaN", line)


def test_anomaly_errors_are_floating_point_errors():
    with ag.detect_anomaly(), pytest.raises(FloatingPointError):
        ag.log(ag.Tensor([0.0], requires_grad=True))


def test_site_is_the_users_line_even_through_methods_and_composites():
    x = ag.Tensor(np.zeros((2, 2)), requires_grad=True)
    with ag.detect_anomaly(), pytest.raises(ag.AnomalyError) as error:
        line = _next_line()
        (x / x.sum()).mean()  # divide is called from Tensor.__truediv__, inside the package
    assert "op 'divide'" in str(error.value)
    _assert_names_site(error, line)


def test_nan_only_in_backward_is_caught_in_backward():
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with ag.detect_anomaly():
        line = _next_line()
        root = ag.sqrt(x)  # sqrt(0) = 0 is finite; its derivative 1 / (2 sqrt(0)) is not
        cost = root.sum()
        with pytest.raises(ag.AnomalyError) as error:
            cost.backward()
    _assert_reports(error, "backward (input 0) of op 'sqrt'", "(2,)", "inf", line)


def test_backward_anomaly_is_attributed_to_the_op_that_made_it():
    # sum, add and multiply pass finite gradients down; only sqrt's is infinite.
    x = ag.Tensor(np.zeros((2, 2)), requires_grad=True)
    with ag.detect_anomaly():
        cost = (ag.sqrt(x) * 3 + 1).sum()
        with pytest.raises(ag.AnomalyError, match=r"^backward \(input 0\) of op 'sqrt'"):
            cost.backward()


def test_nothing_raises_outside_anomaly_mode():
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(all="ignore"):
        assert np.isneginf(ag.log(x).data[0])
        assert np.isnan((x / x).data[0])
        ag.sqrt(x).sum().backward()
    assert np.isinf(x.grad[0]) and x.grad[1] == pytest.approx(0.25)


def test_finite_computation_runs_unchanged_in_anomaly_mode():
    x = ag.Tensor(np.array([1.0, 4.0]), requires_grad=True)
    with ag.detect_anomaly():
        ag.sqrt(x).sum().backward()
    np.testing.assert_allclose(x.grad, [0.5, 0.25])  # 1 / (2 sqrt(x))


def test_mode_is_restored_after_an_error_and_when_nested():
    with pytest.raises(ag.AnomalyError):
        with ag.detect_anomaly():
            ag.log(ag.Tensor([0.0], requires_grad=True))
    assert not ag.is_anomaly_enabled()
    with ag.detect_anomaly():
        with ag.detect_anomaly():
            pass
        assert ag.is_anomaly_enabled()
    assert not ag.is_anomaly_enabled()
