"""The transforms on arguments that are tuples, lists and dicts of arrays: gradients come back in
the same structure, argnums picks whole structures, and errors name the bad leaf's path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.check import gradcheck
from graphgrad.errors import DTypeError, ShapeError

RNG = np.random.default_rng(4)
X = RNG.standard_normal((5, 3))
Y = RNG.standard_normal(5)


def mlp_loss(params: dict[str, Any], x: Any, y: Any) -> gg.Tensor:
    """Two layers as a dict holding a list of (W, b) tuples."""
    h = x
    for W, b in params["layers"][:-1]:
        h = gg.tanh(h @ W + b)
    W, b = params["layers"][-1]
    return gg.mean(((h @ W + b).reshape(-1) - y) ** 2) + params["decay"] * (W**2).sum()


def init() -> dict[str, Any]:
    r = np.random.default_rng(0)
    return {"layers": [(r.standard_normal((3, 4)), r.standard_normal(4)), (r.standard_normal((4, 1)), np.zeros(1))],
            "decay": np.float64(0.01)}


def test_grad_of_nested_parameters_has_their_structure_and_matches_finite_differences() -> None:
    params = init()
    g = gg.grad(mlp_loss)(params, X, Y)
    assert set(g) == {"layers", "decay"} and isinstance(g["layers"], list) and isinstance(g["layers"][0], tuple)
    leaves = [params["layers"][0][0], params["layers"][0][1], params["layers"][1][0], params["layers"][1][1]]
    flat = [g["layers"][0][0], g["layers"][0][1], g["layers"][1][0], g["layers"][1][1]]

    def as_leaves(W1: gg.Tensor, b1: gg.Tensor, W2: gg.Tensor, b2: gg.Tensor) -> gg.Tensor:
        return mlp_loss({"layers": [(W1, b1), (W2, b2)], "decay": params["decay"]}, X, Y)

    gradcheck(as_leaves, leaves)  # the flat function is right...
    for leaf, got in zip(leaves, flat):  # ...and the structured gradient is the flat one, leaf by leaf
        assert got.shape == leaf.shape and got.dtype == np.float64
    want = gg.grad(as_leaves, argnums=(0, 1, 2, 3))(*leaves)
    for got, w in zip(flat, want):
        np.testing.assert_array_equal(got.data, w.data)
    assert g["decay"].item() == pytest.approx((params["layers"][1][0] ** 2).sum())


def test_argnums_picks_structures_and_value_and_grad_keeps_the_value() -> None:
    params = init()
    value, (gp, gx) = gg.value_and_grad(mlp_loss, argnums=(0, 1))(params, X, Y)
    with gg.no_grad():
        assert value.item() == pytest.approx(mlp_loss(params, X, Y).item())
    assert gx.shape == X.shape and isinstance(gp["layers"][1], tuple)


def test_grad_of_a_named_tuple_is_that_named_tuple() -> None:
    from collections import namedtuple

    Affine = namedtuple("Affine", ["w", "b"])
    g = gg.grad(lambda p: (p.w * 2.0 + p.b).sum())(Affine(np.ones(3), np.float64(1.0)))
    assert type(g) is Affine and g.b.item() == 3.0 and g.w.tolist() == [2.0, 2.0, 2.0]


def test_vjp_with_tuple_output_and_dict_primal() -> None:
    p = {"a": np.array([1.0, 2.0]), "c": np.array(3.0)}
    (u, s), vjp_fn = gg.vjp(lambda q: (q["a"] * q["c"], q["a"].sum()), p)
    (g,) = vjp_fn((np.array([1.0, -1.0]), 2.0))
    np.testing.assert_allclose(g["a"].data, np.array([1.0, -1.0]) * 3.0 + 2.0)
    assert g["c"].item() == pytest.approx(1.0 * 1.0 - 1.0 * 2.0)
    msg = r"^vjp: the cotangent\[1\] has shape \(2,\), the output of f\[1\] has shape \(\)$"
    with pytest.raises(ShapeError, match=msg):
        vjp_fn((np.ones(2), np.ones(2)))
    with pytest.raises(ShapeError, match=r"^vjp: the cotangent: expected a tuple of 2 entries, got 3$"):
        vjp_fn((np.ones(2), 1.0, 1.0))


def test_jacobian_of_structured_inputs_and_outputs() -> None:
    p = {"w": np.array([1.0, 2.0, 3.0]), "s": np.array(2.0)}
    J = gg.jacobian(lambda q: {"y": q["w"] * q["s"], "n": (q["w"] ** 2).sum()})(p)
    np.testing.assert_allclose(J["y"]["w"].data, 2.0 * np.eye(3))
    np.testing.assert_allclose(J["y"]["s"].data, p["w"])
    np.testing.assert_allclose(J["n"]["w"].data, 2 * p["w"])
    assert J["n"]["s"].shape == ()


def test_hvp_with_dict_arguments() -> None:
    p = {"w": np.array([1.0, -2.0]), "b": np.array(0.5)}
    v = {"w": np.array([0.3, 0.1]), "b": np.array(-1.0)}
    Hv = gg.hvp(lambda q: (q["w"] ** 3).sum() * q["b"], p, v)
    # H = [[diag(6 w b), 3 w^2], [3 w^2^T, 0]]
    np.testing.assert_allclose(Hv["w"].data, 6 * p["w"] * 0.5 * v["w"] + 3 * p["w"] ** 2 * -1.0)
    assert Hv["b"].item() == pytest.approx(float((3 * p["w"] ** 2) @ v["w"]))
    with pytest.raises(ShapeError, match=r"^hvp: the direction\['w'\] has shape \(3,\), x\['w'\] has shape \(2,\)$"):
        gg.hvp(lambda q: q["w"].sum(), p, {"w": np.ones(3), "b": np.ones(())})


def test_a_bad_leaf_is_named_by_its_path() -> None:
    with pytest.raises(DTypeError, match=r"^grad: argument 1\['w'\]\[1\]: expected an array, a tensor or a number"):
        gg.grad(lambda x, p: p["w"][0].sum(), argnums=1)(1.0, {"w": [np.ones(2), "oops"]})
    with pytest.raises(DTypeError, match=r"^vjp: argument 0\[0\]: expected an array, a tensor or a number"):
        gg.vjp(lambda t: t[1], (None, np.ones(2)))


def test_a_list_of_numbers_stays_one_array() -> None:
    g = gg.grad(lambda a: (a * a).sum())([1.0, 2.0, 3.0])
    assert isinstance(g, gg.Tensor) and g.tolist() == [2.0, 4.0, 6.0]
