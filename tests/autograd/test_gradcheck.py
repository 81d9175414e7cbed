"""gradcheck itself: passes correct rules, catches a wrong one and reports the worst entry."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import DTypeError, GradcheckError
from tests.autograd.helpers import private_op

# d(x^2)/dx written wrongly as 3x: wrong everywhere except 0, worst where |x| is largest
_bad_square = private_op("test_bad_square", np.square, (lambda g, out, a: g * a * 3.0,))
_good_square = private_op("test_good_square", np.square, (lambda g, out, a: g * a * 2.0,))


def test_gradcheck_passes_a_correct_rule() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.5, -0.25, 0.75]])
    assert gg.gradcheck(_good_square, [x])
    assert gg.gradcheck(_good_square, [x], fast=True)
    assert gg.gradcheck(lambda a, b: gg.sum(a @ b) * a[0, 0], [x, x.T.copy()])


def test_gradcheck_catches_wrong_rule_and_reports_worst_entry() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.5, -3.0, 0.75]])  # worst entry at (1, 1): |x| = 3
    with pytest.raises(GradcheckError) as info:
        gg.gradcheck(lambda a: _bad_square(a).sum(), [x])
    message = str(info.value)
    assert "input 0" in message and "(2, 3)" in message
    assert "6 of 6 entries differ" in message
    assert "index (1, 1)" in message
    engine, numeric = (float(v) for v in re.findall(r"engine (\S+), finite differences (\S+)", message)[0])
    assert engine / numeric == pytest.approx(1.5, rel=1e-6)  # 3x against 2x, times gradcheck's random u


def test_gradcheck_reports_only_the_failing_input() -> None:
    x, y = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    with pytest.raises(GradcheckError) as info:
        gg.gradcheck(lambda a, b: _bad_square(b) * a, [x, y])
    assert "input 1" in str(info.value) and "input 0" not in str(info.value)


def test_fast_mode_catches_wrong_rule() -> None:
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(GradcheckError, match=r"input 0 .*random direction"):
        gg.gradcheck(_bad_square, [x], fast=True)
    assert gg.gradcheck(_bad_square, [x], fast=True, raise_exception=False) is False


def test_gradcheck_wants_float64_and_does_not_mutate_inputs() -> None:
    with pytest.raises(DTypeError, match="float64"):
        gg.gradcheck(_good_square, [np.ones(2, dtype=np.float32)])
    x = np.array([1.0, 2.0])
    gg.gradcheck(_good_square, [x])
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_gradcheck_flags_nan_gradient() -> None:
    nan_rule = private_op("test_nan_rule", np.square, (lambda g, out, a: g * np.nan,))
    with pytest.raises(GradcheckError, match="engine nan"):
        gg.gradcheck(nan_rule, [np.array([1.0, 2.0])])
