"""The baseline: one CNN training step written out by hand in NumPy, as a competent NumPy
programmer would, so that graphgrad's ratio to it measures graphgrad's overhead, not a strawman.

Convolutions are im2col (one copy of a strided window view) and one matmul; images are kept as
(C, H, W, N) arrays so that the copies run over long contiguous stretches and every matmul covers
the whole batch; the columns are copied and multiplied a band of output rows at a time (while in
cache) into buffers kept from step to step (fresh pages cost as much as the copy); the weight
gradient reuses the forward's columns. The input gradient is, where that copies less, a full
correlation of the output gradient with the flipped kernel (the same banded im2col and matmul),
else col2im: one matmul and one strided addition per kernel offset. 2x2 max pooling is an
elementwise maximum of the four strided quarter views, and its gradient goes back through one
comparison per quarter (an entry equal to its window's maximum gets it; ties, which random data
does not have, would share it). ReLU and its gradient work in place. Softmax cross-entropy and
the SGD update as in the MLP baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from graphgrad.benchmarks.numpy_mlp import cross_entropy_grad

Layer = list[Any]


def plan_from_model(model: Any) -> list[Layer]:
    """The layers of a graphgrad Sequential (Unflatten, Conv2d with stride 1, ReLU, MaxPool2d(2),
    Flatten, Linear) as ``[kind, arrays...]`` with copies of its weights."""
    from graphgrad import nn

    plan: list[Layer] = []
    for m in model:
        if isinstance(m, nn.Unflatten):
            plan.append(["images", m.unflattened_size])
        elif isinstance(m, nn.Conv2d):
            assert m.stride == (1, 1) and m.groups == 1 and m.padding[0] == m.padding[1] and m.bias is not None
            k = m.kernel_size[0]
            assert m.kernel_size == (k, k) and m.dilation == (1, 1) and int(m.padding[0]) < k
            plan.append(["conv", m.weight.data.copy(), m.bias.data.copy(), int(m.padding[0]), {}])
        elif isinstance(m, nn.ReLU):
            plan.append(["relu"])
        elif isinstance(m, nn.MaxPool2d):
            assert m.kernel_size == 2 and m.stride == 2
            plan.append(["pool"])
        elif isinstance(m, nn.Flatten):
            plan.append(["flatten"])
        elif isinstance(m, nn.Linear):
            assert m.bias is not None
            plan.append(["linear", m.weight.data.copy(), m.bias.data.copy()])
        else:
            raise TypeError(f"the NumPy baseline has no {type(m).__name__}")
    return plan


BAND_BYTES = 2 << 20
"""Columns are built this many bytes at a time, each band multiplied while it is in cache."""


def _windows(x: np.ndarray, k: int, pad: int) -> np.ndarray:
    """The (C, k, k, OH, OW, N) windows of a (C, H, W, N) image batch padded by ``pad`` zeros."""
    c, h, w, n = x.shape
    if pad:
        xp = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=x.dtype)
        xp[:, pad : pad + h, pad : pad + w] = x
    else:
        xp = x
    oh, ow = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    s = xp.strides
    return as_strided(xp, (c, k, k, oh, ow, n), (s[0], s[1], s[2], s[1], s[2], s[3]), writeable=False)


def _buffer(buffers: dict[str, np.ndarray], name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The layer's buffer ``name`` of this shape, made once and reused at every step."""
    a = buffers.get(name)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = buffers[name] = np.empty(shape, dtype=dtype)
    return a


def _correlate(x: np.ndarray, kernel: np.ndarray, k: int, pad: int, buffers: dict[str, np.ndarray],
               keep: bool) -> tuple[np.ndarray, np.ndarray]:
    """``kernel`` (O, C*k*k) times the columns of the (C, H, W, N) images ``x``: (O, OH*OW*N), a band of
    output rows at a time; the columns go to the layer's whole column buffer (``keep``: the weight
    gradient reads them) or to one band buffer; returns the product and the column buffer."""
    win = _windows(x, k, pad)
    c, _, _, oh, ow, n = win.shape
    out = np.empty((kernel.shape[0], oh * ow * n), dtype=x.dtype)
    rows = max(1, BAND_BYTES // (c * k * k * ow * n * x.itemsize))
    cols = _buffer(buffers, "columns" if keep else "band", (c, k, k, oh if keep else min(rows, oh), ow, n), x.dtype)
    for first in range(0, oh, rows):
        last = min(oh, first + rows)
        part = cols[:, :, :, first:last] if keep else cols[:, :, :, : last - first]
        np.copyto(part, win[:, :, :, first:last])
        np.matmul(kernel, part.reshape(c * k * k, -1), out=out[:, first * ow * n : last * ow * n])
    return out, cols.reshape(c * k * k, -1)


def _col2im(cols: np.ndarray, shape: tuple[int, ...], k: int, pad: int) -> np.ndarray:
    c, h, w, n = shape
    oh, ow = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    out = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=cols.dtype)
    parts = cols.reshape(c, k, k, oh, ow, n)
    for i in range(k):
        for j in range(k):
            out[:, i : i + oh, j : j + ow] += parts[:, i, j]
    return out[:, pad : pad + h, pad : pad + w]


def train_step(plan: list[Layer], x: np.ndarray, y: np.ndarray, lr: float) -> float:
    """One SGD step on a batch of rows ``x``; updates ``plan``'s weights in place; returns the loss."""
    saved: list[Any] = []
    h: np.ndarray = x
    for layer in plan:
        kind = layer[0]
        if kind == "images":
            c, hh, ww = layer[1]
            h = h.reshape(-1, c, hh, ww).transpose(1, 2, 3, 0)
            saved.append(None)
        elif kind == "conv":
            w, b, pad, buffers = layer[1:]
            out, cols = _correlate(h, w.reshape(w.shape[0], -1), w.shape[2], pad, buffers, keep=True)
            saved.append((h.shape, cols))
            out += b[:, None]
            oh = h.shape[1] + 2 * pad - w.shape[2] + 1
            h = out.reshape(w.shape[0], oh, -1, h.shape[3])
        elif kind == "relu":
            np.maximum(h, 0, out=h)
            saved.append(h)
        elif kind == "pool":
            assert h.shape[1] % 2 == 0 and h.shape[2] % 2 == 0, "2x2 pooling of an odd size"
            quarters = [h[:, r::2, q::2] for r in (0, 1) for q in (0, 1)]
            pooled = np.maximum(quarters[0], quarters[1])
            np.maximum(pooled, quarters[2], out=pooled)
            np.maximum(pooled, quarters[3], out=pooled)
            saved.append((h, pooled))
            h = pooled
        elif kind == "flatten":
            saved.append(h.shape)
            h = h.transpose(3, 0, 1, 2).reshape(h.shape[3], -1)
        else:
            w, b = layer[1:]
            saved.append(h)
            h = h @ w.T
            h += b
    loss, d = cross_entropy_grad(h, y)
    lr32 = np.float32(lr)
    for i in range(len(plan) - 1, -1, -1):
        layer, s = plan[i], saved[i]
        kind = layer[0]
        if kind == "linear":
            w, b = layer[1:]
            grad_w, grad_b = d.T @ s, d.sum(axis=0)
            d = d @ w
            w -= lr32 * grad_w
            b -= lr32 * grad_b
        elif kind == "flatten":
            c, hh, ww, n = s
            d = d.reshape(n, c, hh, ww).transpose(1, 2, 3, 0)
        elif kind == "pool":
            h, pooled = s
            grad = np.empty_like(h)
            for r in (0, 1):
                for q in (0, 1):
                    np.multiply(d, h[:, r::2, q::2] == pooled, out=grad[:, r::2, q::2])
            d = grad
        elif kind == "relu":
            d *= s > 0  # every d here is this step's own array
        elif kind == "conv":
            w, b, pad, buffers = layer[1:]
            shape, cols = s
            o, c, k = w.shape[0], w.shape[1], w.shape[2]
            d2 = d.reshape(o, -1)
            grad_w = (d2 @ cols.T).reshape(w.shape)
            grad_b = d2.sum(axis=1)
            if i > 1:  # the first convolution's input is the data: no gradient needed
                if o * shape[1] * shape[2] <= c * d.shape[1] * d.shape[2]:  # the correlation copies less
                    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, -1)
                    d = _correlate(d, flipped, k, k - 1 - pad, buffers, keep=False)[0].reshape(shape)
                else:
                    d = _col2im(w.reshape(o, -1).T @ d2, shape, k, pad)
            w -= lr32 * grad_w
            b -= lr32 * grad_b
    return loss
