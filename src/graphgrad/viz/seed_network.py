"""The lecture notes' running example (seed 001): a 2-2-1 sigmoid network with square loss, fixed numbers.

    z1 = sigma(w^h_01 + w^h_11 x1 + w^h_21 x2)     z2 = sigma(w^h_02 + w^h_12 x1 + w^h_22 x2)
    y  = sigma(w^o_01 + w^o_11 z1 + w^o_21 z2)      L  = 1/2 (y - y*)^2

Every weight is its own scalar tensor, so the graph has one node per number and every edge a
local derivative, as in the lecture's drawings. ``graphgrad explain --example mlp`` shows it.
"""

from __future__ import annotations

import numpy as np

import graphgrad
from graphgrad.tensor import Tensor

X = {"x1": 1.0, "x2": 0.5}
TARGET = 1.0
WEIGHTS = {  # w^h_ij: input i (0 = bias) to hidden unit j; w^o_i1: hidden i (0 = bias) to the output
    "wh_01": 0.1, "wh_11": 0.4, "wh_21": -0.2,
    "wh_02": -0.3, "wh_12": 0.2, "wh_22": 0.5,
    "wo_01": 0.2, "wo_11": 0.6, "wo_21": -0.4,
}


def sigmoid(s: Tensor) -> Tensor:
    """The engine's sigmoid when it has one, else 1 / (1 + e^-s) from basic ops."""
    fn = getattr(graphgrad, "sigmoid", None)
    return fn(s) if fn is not None else 1.0 / (1.0 + graphgrad.exp(-s))


def build(weights: dict[str, float] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss L and the weight tensors (float64, named as in ``WEIGHTS``)."""
    w = {k: Tensor(np.array(v), requires_grad=True, name=k) for k, v in (weights or WEIGHTS).items()}
    x1 = Tensor(np.array(X["x1"]), name="x1")
    x2 = Tensor(np.array(X["x2"]), name="x2")
    s1 = w["wh_01"] + w["wh_11"] * x1 + w["wh_21"] * x2
    s1.name = "s1"
    z1 = sigmoid(s1)
    z1.name = "z1"
    s2 = w["wh_02"] + w["wh_12"] * x1 + w["wh_22"] * x2
    s2.name = "s2"
    z2 = sigmoid(s2)
    z2.name = "z2"
    so = w["wo_01"] + w["wo_11"] * z1 + w["wo_21"] * z2
    so.name = "s_o"
    y = sigmoid(so)
    y.name = "y"
    diff = y - Tensor(np.array(TARGET), name="y*")
    diff.name = "y - y*"
    loss = 0.5 * diff**2
    loss.name = "L"
    return loss, w


def hand_gradients(weights: dict[str, float] | None = None) -> dict[str, float]:
    """Seed 001's formulas: dL/dw^o_i1 = (y - y*) y(1-y) z_i, dL/dw^h_ij = (y - y*) y(1-y) w^o_j1 z_j(1-z_j) x_i."""
    w = weights or WEIGHTS
    sig = lambda s: 1.0 / (1.0 + np.exp(-s))  # noqa: E731
    x = [1.0, X["x1"], X["x2"]]
    z = [1.0]
    for j in (1, 2):
        z.append(sig(sum(w[f"wh_{i}{j}"] * x[i] for i in range(3))))
    y = sig(sum(w[f"wo_{i}1"] * z[i] for i in range(3)))
    delta = (y - TARGET) * y * (1 - y)
    grads = {f"wo_{i}1": delta * z[i] for i in range(3)}
    for j in (1, 2):
        for i in range(3):
            grads[f"wh_{i}{j}"] = delta * w[f"wo_{j}1"] * z[j] * (1 - z[j]) * x[i]
    return grads
