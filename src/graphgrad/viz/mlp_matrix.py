"""A 2-3-2 network in matrix form: the example of ``graphgrad explain --example mlp-matrix``.

A batch X of 4 examples with 2 features goes through ``hidden`` (Linear 2 -> 3), a sigmoid and
``output`` (Linear 3 -> 2); the loss is the mean softmax cross-entropy against the classes y.
The backward pass then takes the matrix steps of the notes: the gradient of a weight is the
upstream gradient times the layer's input (transposed), the gradient of a layer's input is the
upstream gradient times the weight, and an activation multiplies elementwise by its derivative.
Fixed, short numbers so every matrix on the page can be checked by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad import nn
from graphgrad.nn import functional as F
from graphgrad.tensor import Tensor

TITLE = "a 2-3-2 sigmoid network on a batch of 4 examples, mean cross-entropy loss (matrix form)"

X = np.array([[1.0, 0.5], [-0.5, 1.5], [0.3, -1.2], [2.0, 0.1]])
Y = np.array([0, 1, 1, 0])
PARAMETERS = {
    "hidden.weight": np.array([[0.5, -0.3], [0.8, 0.2], [-0.6, 0.4]]),
    "hidden.bias": np.array([0.1, -0.1, 0.0]),
    "output.weight": np.array([[0.7, -0.5, 0.3], [-0.4, 0.6, 0.2]]),
    "output.bias": np.array([0.05, -0.05]),
}


class TwoThreeTwo(nn.Module):
    """``output(h)``, ``h = sigmoid(hidden(x))``, with float64 parameters set from ``PARAMETERS``."""

    def __init__(self, parameters: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 3, dtype=np.float64)
        self.output = nn.Linear(3, 2, dtype=np.float64)
        self.load_state_dict({k: np.array(v, dtype=np.float64) for k, v in (parameters or PARAMETERS).items()})

    def forward(self, x: Any) -> Any:
        h = F.sigmoid(self.hidden(x))
        h.name = "h"  # the notes' name for a hidden layer's output
        return self.output(h)


def build() -> tuple[Tensor, nn.Module]:
    """The loss ``L`` (from data tensors named ``x`` and ``y``) and the model."""
    model = TwoThreeTwo()
    x = Tensor(X, name="x")
    y = Tensor(Y, name="y")
    loss = F.cross_entropy(model(x), y)
    loss.name = "L"
    return loss, model
