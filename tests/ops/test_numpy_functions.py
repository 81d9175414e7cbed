"""NumPy's functions on tensors return tensors with gradients (issue 8, section 2).

``np.sum(t)`` used to raise TypeError (an unexpected ``out``); now every NumPy function or ufunc
that graphgrad has under the same name runs as graphgrad's op, and the others either return
NumPy's result or refuse clearly when that would drop a gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import DTypeError

X = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]])

CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("sum", lambda t: np.sum(t)),
    ("sum axis", lambda t: np.sum(t, axis=0, keepdims=True)),
    ("sum positional axis", lambda t: np.sum(t, 1)),
    ("mean", lambda t: np.mean(t)),
    ("mean axis", lambda t: np.mean(t, axis=-1)),
    ("max", lambda t: np.max(t)),
    ("amax", lambda t: np.amax(t, axis=1)),
    ("min", lambda t: np.min(t, axis=0)),
    ("prod", lambda t: np.prod(t, axis=1)),
    ("var", lambda t: np.var(t, ddof=1)),
    ("std", lambda t: np.std(t, axis=0)),
    ("where", lambda t: np.where(X > 0, t, 0.0)),
    ("reshape", lambda t: np.reshape(t, (3, 2))),
    ("transpose", lambda t: np.transpose(t)),
    ("concatenate", lambda t: np.concatenate([t, t * 2.0], axis=1)),
    ("stack", lambda t: np.stack([t, t])),
    ("clip", lambda t: np.clip(t, -1.2, 1.2)),
    ("dot", lambda t: np.dot(t, X.T)),
    ("exp ufunc", lambda t: np.exp(t)),
    ("tanh ufunc", lambda t: np.tanh(t)),
    ("abs ufunc", lambda t: np.abs(t)),
    ("maximum ufunc", lambda t: np.maximum(t, 0.1)),
    ("array * tensor", lambda t: X * t),
    ("array - tensor", lambda t: X - t),
    ("array @ tensor", lambda t: X.T @ t),
    ("numpy scalar * tensor", lambda t: np.float64(3.0) * t),
]


@pytest.mark.parametrize(("name", "f"), CASES, ids=[c[0] for c in CASES])
def test_numpy_function_gives_the_tensor_op_and_its_gradient(name: str, f: Callable[[Any], Any]) -> None:
    t = gg.Tensor(X.copy(), requires_grad=True)
    out = f(t)
    assert isinstance(out, gg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, f(X.copy()), rtol=1e-12)  # same values as NumPy's
    out.sum().backward()
    eps = 1e-6
    numeric = np.zeros_like(X)
    for i in np.ndindex(X.shape):
        d = np.zeros_like(X)
        d[i] = eps
        numeric[i] = (np.sum(f(X + d)) - np.sum(f(X - d))) / (2 * eps)
    np.testing.assert_allclose(t.grad.data, numeric, rtol=1e-6, atol=1e-8)


def test_functions_graphgrad_lacks_return_numpys_result() -> None:
    t = gg.Tensor(X.copy())
    assert np.allclose(t, X) and np.shape(t) == (2, 3)
    np.testing.assert_array_equal(np.floor(t), np.floor(X))
    np.testing.assert_array_equal(np.cumsum(t), np.cumsum(X))


def test_a_function_that_would_drop_a_gradient_is_refused() -> None:
    t = gg.Tensor(X.copy(), requires_grad=True)
    with pytest.raises(DTypeError, match="numpy.cumsum has no graphgrad op"):
        np.cumsum(t)
    with pytest.raises(DTypeError, match="numpy.floor"):
        np.floor(t)
    with gg.no_grad():
        np.testing.assert_array_equal(np.cumsum(t), np.cumsum(X))  # no gradient wanted: fine
    assert np.isfinite(t).all()  # a boolean result carries no gradient anyway


def test_unsupported_numpy_arguments_are_named() -> None:
    t = gg.Tensor(X.copy())
    with pytest.raises(TypeError, match="initial"):
        np.sum(t, initial=1.0)
    with pytest.raises(TypeError, match="out"):
        np.sum(t, out=np.zeros(()))


def test_dtype_argument_casts_the_result() -> None:
    t = gg.Tensor(X.astype(np.float32))
    assert np.sum(t, dtype=np.float64).dtype == np.float64


def test_ndarray_in_place_with_a_tensor_operand_writes_the_array() -> None:
    a = X.copy()
    a += gg.Tensor(np.ones((2, 3)))
    assert isinstance(a, np.ndarray)
    np.testing.assert_array_equal(a, X + 1)
