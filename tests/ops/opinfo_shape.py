"""OpInfo entries of the shape family."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes


@st.composite
def joinable_shapes(draw: st.DrawFn, n: int = 3) -> list[tuple[int, ...]]:
    """``n`` shapes that agree on every axis but the last (concatenate along axis -1)."""
    base = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    return [base + (draw(st.integers(1, 3)),) for _ in range(n)]


def _repeats(x: gg.Tensor) -> np.ndarray:
    """Row indices with repeats (and a negative one) for ``x``'s first axis."""
    return np.array([0, 0, -1, x.shape[0] // 2])


def _mask(x: gg.Tensor) -> np.ndarray:
    return np.arange(x.size).reshape(x.shape) % 3 != 1


def _weighted(parts: list[gg.Tensor]) -> gg.Tensor:
    """Join parts with distinct weights, so a gradient landing in the wrong part shows."""
    return gg.concatenate([p * (i + 1.0) for i, p in enumerate(parts)], axis=-1)


ONE_DIM_UP = same_shapes(1, min_dims=1)
TWO_DIMS_UP = same_shapes(1, min_dims=2)

OPINFOS = [
    OpInfo("reshape", lambda x: gg.reshape(x, (-1,))),
    OpInfo("transpose", gg.transpose),
    OpInfo("broadcast_to", lambda x: gg.broadcast_to(x, (2,) + x.shape)),
    OpInfo("expand_dims", lambda x: gg.expand_dims(x, 0)),
    OpInfo("squeeze", lambda x: gg.squeeze(gg.expand_dims(x, 0))),
    OpInfo("flatten", gg.flatten),
    OpInfo("swapaxes", lambda x: gg.swapaxes(x, 0, -1) if x.ndim else x * 1.0),
    OpInfo("getitem", lambda x: x[..., :1] if x.ndim else x[()]),
    OpInfo("getitem[repeated ints]", lambda x: x[_repeats(x)], shapes=ONE_DIM_UP),
    OpInfo("getitem[list]", lambda x: x[[0, 0, 0]], shapes=ONE_DIM_UP),
    OpInfo("getitem[tensor index]", lambda x: x[gg.Tensor(_repeats(x))], shapes=ONE_DIM_UP),
    OpInfo("getitem[bool mask]", lambda x: x[_mask(x)], shapes=ONE_DIM_UP),
    OpInfo("getitem[mixed]", lambda x: x[_repeats(x), ..., 1:], shapes=TWO_DIMS_UP, sample=[(3, 4)]),
    OpInfo(
        "getitem[two int arrays]",
        lambda x: x[np.array([0, 0, -1]), np.array([[0], [-1]])],
        shapes=TWO_DIMS_UP,
        sample=[(3, 4)],
    ),
    OpInfo("concatenate", lambda a, b, c: gg.concatenate([a, b, c], axis=-1), nargs=3, shapes=joinable_shapes()),
    OpInfo(
        "concatenate[axis None]",
        lambda a, b: gg.concatenate([a, b * 2.0], axis=None),
        nargs=2,
        shapes=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3).flatmap(
            lambda s: hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3).map(lambda t: [s, t])
        ),
    ),
    OpInfo("stack", lambda a, b, c: gg.stack([a, b * 2.0, c], axis=-1), nargs=3, shapes=same_shapes(3)),
    OpInfo("stack[axis 0]", lambda a, b: gg.stack([a, b * 2.0]), nargs=2, shapes=same_shapes(2)),
    OpInfo("split", lambda x: _weighted(gg.split(x, [1, 2], axis=-1)), shapes=ONE_DIM_UP),
    OpInfo("split[sections]", lambda x: _weighted(gg.split(x, x.shape[-1], axis=-1)), shapes=ONE_DIM_UP),
    OpInfo("pad", lambda x: gg.pad(x, 1, constant_values=0.5), shapes=ONE_DIM_UP),
    OpInfo("pad[pairs]", lambda x: gg.pad(x, [(1, 2)] + [(0, 1)] * (x.ndim - 1)), shapes=ONE_DIM_UP),
    OpInfo("pad[edge]", lambda x: gg.pad(x, (2, 1), mode="edge"), shapes=ONE_DIM_UP),
    OpInfo("pad[reflect]", lambda x: gg.pad(x, 2, mode="reflect"), shapes=ONE_DIM_UP),
    OpInfo("pad[symmetric]", lambda x: gg.pad(x, (1, 2), mode="symmetric"), shapes=ONE_DIM_UP),
    OpInfo("pad[wrap]", lambda x: gg.pad(x, 3, mode="wrap"), shapes=ONE_DIM_UP),
]
