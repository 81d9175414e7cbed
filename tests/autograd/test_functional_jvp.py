"""``jvp`` (forward mode, built from two reverse passes): against float64 finite differences,
against ``jacobian(f) @ t``, and against ``torch.func.jvp``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from graphgrad.errors import DTypeError, ShapeError

A = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1], [2.0, 0.0, 1.0]])


def mixing(x: gg.Tensor) -> gg.Tensor:
    """Elementwise, reduction, matrix product and softmax: entries of x mix."""
    return gg.sin(x) * x.sum() + gg.softmax(A @ gg.tanh(x), axis=-1)


def two_args(x: gg.Tensor, W: gg.Tensor) -> gg.Tensor:
    return gg.logsumexp(W * x, axis=1) + gg.linalg.det(W + 3.0 * np.eye(3))


def finite_difference(f: Callable[..., Any], xs: list[np.ndarray], ts: list[np.ndarray], eps: float = 1e-6) -> Any:
    """(f(x + eps t) - f(x - eps t)) / (2 eps) in float64."""
    with gg.no_grad():
        plus = f(*[gg.Tensor(x + eps * t) for x, t in zip(xs, ts)]).data
        minus = f(*[gg.Tensor(x - eps * t) for x, t in zip(xs, ts)]).data
    return (plus - minus) / (2 * eps)


vectors = hnp.arrays(np.float64, (3,), elements=st.floats(-2, 2, allow_nan=False, width=64))


@settings(max_examples=15, deadline=None)
@given(x=vectors, t=vectors)
def test_jvp_matches_finite_differences_and_the_jacobian(x: np.ndarray, t: np.ndarray) -> None:
    value, tangent = gg.jvp(mixing, (x,), (t,))
    with gg.no_grad():
        np.testing.assert_allclose(value.data, mixing(gg.Tensor(x)).data, rtol=1e-14)
    np.testing.assert_allclose(tangent.data, finite_difference(mixing, [x], [t]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tangent.data, gg.jacobian(mixing)(x).data @ t, rtol=1e-12, atol=1e-13)
    assert not value.requires_grad and not tangent.requires_grad


def test_jvp_of_several_matrix_arguments_against_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x, W = rng.standard_normal(3), rng.standard_normal((3, 3))
    tx, tW = rng.standard_normal(3), rng.standard_normal((3, 3))
    _, tangent = gg.jvp(two_args, (x, W), (tx, tW))
    np.testing.assert_allclose(tangent.data, finite_difference(two_args, [x, W], [tx, tW]), rtol=1e-6, atol=1e-8)
    Jx, JW = gg.jacobian(two_args, argnums=(0, 1))(x, W)
    np.testing.assert_allclose(tangent.data, Jx.data @ tx + np.einsum("oij,ij->o", JW.data, tW), rtol=1e-12)


def test_jvp_agrees_with_torch_func_jvp() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    tx, tW = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))

    def ours(a: gg.Tensor, b: gg.Tensor) -> gg.Tensor:
        return gg.exp(gg.tanh(a @ b)) / (1.0 + (a**2).sum(axis=1, keepdims=True))

    def theirs(a: Any, b: Any) -> Any:
        return torch.exp(torch.tanh(a @ b)) / (1.0 + (a**2).sum(dim=1, keepdim=True))

    value, tangent = gg.jvp(ours, (x, W), (tx, tW))
    t_value, t_tangent = torch.func.jvp(
        theirs, (torch.from_numpy(x), torch.from_numpy(W)), (torch.from_numpy(tx), torch.from_numpy(tW))
    )
    np.testing.assert_allclose(value.data, t_value.numpy(), rtol=1e-13)
    np.testing.assert_allclose(tangent.data, t_tangent.numpy(), rtol=1e-12, atol=1e-14)


def test_jvp_with_structured_primals_and_outputs() -> None:
    """Dict primals, a tuple output holding a dict: tangents in, tangents out, same structures."""
    x = {"w": np.array([0.5, -1.0]), "b": [np.array(2.0), np.array(-0.5)]}
    t = {"w": np.array([1.0, 0.25]), "b": [np.array(0.1), np.array(-2.0)]}

    def f(p: dict) -> tuple:
        s = (p["w"] ** 2).sum()
        return p["w"] * p["b"][0], {"s": s * p["b"][1]}

    value, tangent = gg.jvp(f, (x,), (t,))
    w, b0, b1 = x["w"], 2.0, -0.5
    tw, tb0, tb1 = t["w"], 0.1, -2.0
    np.testing.assert_allclose(value[0].data, w * b0)
    np.testing.assert_allclose(tangent[0].data, tw * b0 + w * tb0)  # product rule
    s = (w**2).sum()
    assert tangent[1]["s"].item() == pytest.approx(2 * (w * tw).sum() * b1 + s * tb1)
    assert isinstance(tangent, tuple) and set(tangent[1]) == {"s"}


def test_jvp_has_aux_and_an_output_that_ignores_the_input() -> None:
    x = np.array([1.0, 2.0])
    f = lambda a: ((a * 3.0, gg.Tensor(np.ones(2))), "note")  # noqa: E731
    value, tangent, aux = gg.jvp(f, (x,), (np.ones(2),), has_aux=True)
    np.testing.assert_allclose(tangent[0].data, [3.0, 3.0])
    np.testing.assert_array_equal(tangent[1].data, [0.0, 0.0])  # constant output: zero tangent
    assert aux == "note"


def test_jvp_of_the_identity_and_of_a_linear_map() -> None:
    t = np.array([0.3, -0.7])
    _, same = gg.jvp(lambda a: a, (np.array([1.0, 2.0]),), (t,))
    np.testing.assert_array_equal(same.data, t)
    _, lin = gg.jvp(lambda a: A[:2, :2] @ a, (np.array([1.0, 2.0]),), (t,))
    np.testing.assert_allclose(lin.data, A[:2, :2] @ t)


def test_jvp_nests_under_grad() -> None:
    """d/dx of the directional derivative <grad f(x), t> is H t: here f = sum x^3, H = diag(6x)."""
    x, t = np.array([0.5, -1.5, 2.0]), np.array([1.0, 2.0, -1.0])

    def directional(a: gg.Tensor) -> gg.Tensor:
        return gg.jvp(lambda u: (u**3).sum(), (a,), (t,))[1]

    np.testing.assert_allclose(gg.grad(directional)(x).data, 6 * x * t, rtol=1e-13)
    # and the tangent itself may carry the gradient: d/dt <J, t> = J
    g = gg.grad(lambda tt: gg.jvp(lambda u: (u**3).sum(), (x,), (tt,))[1])(t)
    np.testing.assert_allclose(g.data, 3 * x**2, rtol=1e-13)


def test_jvp_errors_name_the_leaf() -> None:
    x = {"w": np.ones(3), "b": [np.ones(2)]}
    msg = r"^jvp: tangents\[0\]\['b'\]\[0\] has shape \(3,\), primals\[0\]\['b'\]\[0\] has shape \(2,\)$"
    with pytest.raises(ShapeError, match=msg):
        gg.jvp(lambda p: p["w"].sum(), (x,), ({"w": np.ones(3), "b": [np.ones(3)]},))
    with pytest.raises(ShapeError, match=r"^jvp: tangents\[0\]: expected the keys \['w', 'b'\], got \['w'\]$"):
        gg.jvp(lambda p: p["w"].sum(), (x,), ({"w": np.ones(3)},))
    with pytest.raises(ShapeError, match=r"jvp: primals and tangents must be tuples"):
        gg.jvp(lambda a: a, np.ones(2), np.ones(2))
    with pytest.raises(DTypeError, match=r"^jvp: argument 0\['b'\]\[0\]: expected an array, a tensor or a number"):
        gg.jvp(lambda p: p["w"].sum(), ({"w": np.ones(3), "b": ["text"]},), (x,))


def test_jvp_is_nan_safe_through_where_and_keeps_float32() -> None:
    x, t = np.array([-1.0, 2.0, 0.0]), np.ones(3)
    with np.errstate(all="ignore"):  # log's forward meets 0 and -1 in the branch that is discarded
        _, tangent = gg.jvp(lambda a: gg.where(a > 0, gg.log(a), 0.0), (x,), (t,))
    np.testing.assert_array_equal(tangent.data, [0.0, 0.5, 0.0])
    x32 = np.array([0.5, 1.5], dtype=np.float32)
    value, tangent = gg.jvp(lambda a: gg.exp(a) * 2.0, (x32,), (np.ones(2, dtype=np.float32),))
    assert value.dtype == tangent.dtype == np.float32
    np.testing.assert_allclose(tangent.data, 2 * np.exp(x32), rtol=1e-6)
