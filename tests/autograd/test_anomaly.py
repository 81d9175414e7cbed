"""detect_anomaly stops at the first op whose value or gradient is NaN, naming the op, shapes and line."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import AnomalyError


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        for number, line in enumerate(f, start=1):
            if marker in line and "_line_of" not in line:
                return number
    raise AssertionError(marker)


def test_forward_nan_names_op_shapes_and_line() -> None:
    x = gg.Tensor(np.array([[1.0, -1.0, 2.0]]), requires_grad=True)
    y = x * 2.0
    with gg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        z = gg.log(y)  # MARK-forward-nan
        gg.sum(z)  # never reached
    message = str(info.value)
    assert "'log'" in message and "NaN" in message
    assert "(1, 3)" in message
    assert f"test_anomaly.py:{_line_of('MARK-forward-nan')}" in message


def test_forward_inf_only_with_check_inf() -> None:
    x = gg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with gg.detect_anomaly(), np.errstate(divide="ignore"):
        y = gg.log(x)  # -inf is allowed by default
    assert np.isinf(y.data[0])
    with gg.detect_anomaly(check_inf=True), pytest.raises(AnomalyError, match=r"'log' produced inf.*\(2,\)"):
        with np.errstate(divide="ignore"):
            gg.log(x)


def test_backward_nan_names_op_and_creating_line() -> None:
    """(-2)^b is fine at b = 2, but d/db = (-2)^b log(-2) is NaN: stopped in backward at 'power'."""
    a = gg.Tensor(np.array([-2.0, 3.0]))
    b = gg.Tensor(np.array([2.0, 2.0]), requires_grad=True)
    with gg.detect_anomaly():
        p = a**b  # MARK-backward-nan
        loss = gg.sum(p * 1.5)
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert "backward of 'power'" in message and "NaN" in message
    assert "input 1" in message and "(2,)" in message
    assert f"test_anomaly.py:{_line_of('MARK-backward-nan')}" in message


def test_without_anomaly_mode_nan_passes_silently() -> None:
    a = gg.Tensor(np.array([-2.0]))
    b = gg.Tensor(np.array([2.0]), requires_grad=True)
    gg.sum(a**b).backward()
    assert np.isnan(b.grad.data[0])


def test_anomaly_mode_is_restored_on_exit() -> None:
    from graphgrad.autograd.grad_mode import STATE

    with pytest.raises(AnomalyError):
        with gg.detect_anomaly(check_inf=True):
            gg.log(gg.Tensor(np.array([-1.0])))
    assert not STATE.anomaly and not STATE.check_inf


def test_inf_masked_inside_a_gradient_rule_is_no_false_alarm() -> None:
    """d(a^b)/db computes log(a) = -inf at a = 0 and masks it with where(): the gradient is 0, not inf."""
    a = gg.Tensor(np.array([0.0, 2.0]))
    b = gg.Tensor(np.array([2.0, 3.0]), requires_grad=True)
    with gg.detect_anomaly(check_inf=True), np.errstate(divide="ignore"):
        gg.sum(a**b).backward()
    np.testing.assert_allclose(b.grad.data, [0.0, 8.0 * np.log(2.0)])


def test_nan_from_summing_fan_out_gradients_is_caught() -> None:
    """+inf and -inf from two consumers of x add up to NaN at x; no single rule returned NaN.

    (engine-bugs.md #2: the engine checks each rule's result, not the summed gradient.)
    """
    x = gg.Tensor(np.array([0.0]), requires_grad=True)
    with gg.detect_anomaly(), np.errstate(all="ignore"):
        y = x**0.5 - (x * 1.0) ** 0.5  # forward 0 - 0; backward +inf - inf
        with pytest.raises(AnomalyError, match="NaN"):
            gg.sum(y).backward()
