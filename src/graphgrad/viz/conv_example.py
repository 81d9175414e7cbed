"""A tiny convolution to check by hand: the example of ``graphgrad explain --example conv``.

One 1x4x4 image ``x``, one 2x2 filter ``w`` and its bias ``b``::

    z[i, j] = b + w[0,0] x[i,j] + w[0,1] x[i,j+1] + w[1,0] x[i+1,j] + w[1,1] x[i+1,j+1]   (3x3)
    L = 1/2 * sum(z * z)

Backprop then gives ``dL/dz = z``, ``dL/dw[p, q] = sum_ij z[i, j] x[i+p, j+q]`` (the image's 2x2
windows weighted by the upstream gradient), ``dL/db = sum(z)`` and ``dL/dx[r, s] = sum of
z[i, j] w[r-i, s-j]`` over the windows that contain pixel (r, s): the gradient "spread back" through
the filter. Small integers, so every number on the page can be checked on paper.
"""

from __future__ import annotations

import numpy as np

from graphgrad.ops.conv import conv2d
from graphgrad.tensor import Tensor

TITLE = ("one 1x4x4 image x, one 2x2 filter w with bias b: z = conv2d(x, w) + b (3x3), "
         "L = ½ sum(z²)")

X = np.array([[1.0, 2.0, 0.0, 1.0],
              [0.0, 1.0, 3.0, 2.0],
              [2.0, 0.0, 1.0, 1.0],
              [1.0, 3.0, 0.0, 2.0]])
W = np.array([[1.0, 0.0],
              [0.0, -1.0]])  # a diagonal-difference filter: z = x[i,j] - x[i+1,j+1] + b
B = 0.5


def build() -> tuple[Tensor, dict[str, Tensor]]:
    """The loss ``L`` and the tensors that get a gradient (``x``, ``w``, ``b``), float64."""
    x = Tensor(X.reshape(1, 1, 4, 4), requires_grad=True, name="x")
    w = Tensor(W.reshape(1, 1, 2, 2), requires_grad=True, name="w")
    b = Tensor(np.array([B]), requires_grad=True, name="b")
    z = conv2d(x, w, b)
    z.name = "z"
    loss = (z * z).sum() * 0.5
    loss.name = "L"
    return loss, {"x": x, "w": w, "b": b}
