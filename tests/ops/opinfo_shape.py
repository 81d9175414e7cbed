"""OpInfo entries of the shape family."""

from __future__ import annotations

from typing import Any

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


def _weighted_ref(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([p * (i + 1.0) for i, p in enumerate(parts)], axis=-1)


def _assigned(x: Any, v: Any, index: Any) -> Any:
    """``x`` with ``index`` overwritten by ``v``: a copy first, so the input is not changed."""
    y = x * 1.0
    y[index] = v
    return y


def _row_and_value(shapes: list[tuple[int, ...]], rows: int) -> list[tuple[int, ...]]:
    """A base of a drawn shape and a value for ``rows`` of its rows."""
    s = shapes[0]
    return [s, (rows,) + s[1:] if rows else s[1:]]


ONE_DIM_UP = same_shapes(1, min_dims=1)
TWO_DIMS_UP = same_shapes(1, min_dims=2)
COPY_MODES = ("getitem", "reshape", "index_add")  # pad's copying modes gather from the flattened input

OPINFOS = [
    OpInfo("reshape", lambda x: gg.reshape(x, (-1,)), ref=lambda x: x.reshape(-1)),
    OpInfo("transpose", gg.transpose, ref=lambda x: x.T),
    OpInfo(
        "broadcast_to",
        lambda x: gg.broadcast_to(x, (2,) + x.shape),
        ref=lambda x: np.stack([x, x]),
    ),
    OpInfo("expand_dims", lambda x: gg.expand_dims(x, 0), ref=lambda x: x[None], covers=("reshape",)),
    OpInfo(
        "squeeze",
        lambda x: gg.squeeze(gg.expand_dims(x, 0)),
        ref=lambda x: x.reshape([n for n in x.shape if n != 1]),
        covers=("reshape",),
    ),
    OpInfo("flatten", gg.flatten, ref=lambda x: x.reshape(-1), covers=("reshape",)),
    OpInfo(
        "swapaxes",
        lambda x: gg.swapaxes(x, 0, -1) if x.ndim else x * 1.0,
        ref=lambda x: np.moveaxis(np.moveaxis(x, 0, -1), -2, 0) if x.ndim > 1 else x,
    ),
    OpInfo(
        "getitem",
        lambda x: x[..., :1] if x.ndim else x[()],
        ref=lambda x: x[..., :1] if x.ndim else x,
        covers=("getitem", "index_add"),
    ),
    OpInfo(
        "getitem[repeated ints]",
        lambda x: x[_repeats(x)],
        shapes=ONE_DIM_UP,
        ref=lambda x: np.stack([x[0], x[0], x[len(x) - 1], x[len(x) // 2]]),
        covers=("getitem", "index_add"),
    ),
    OpInfo("getitem[list]", lambda x: x[[0, 0, 0]], shapes=ONE_DIM_UP, ref=lambda x: np.stack([x[0]] * 3)),
    OpInfo(
        "getitem[tensor index]",
        lambda x: x[gg.Tensor(_repeats(x))],
        shapes=ONE_DIM_UP,
        ref=lambda x: np.stack([x[0], x[0], x[len(x) - 1], x[len(x) // 2]]),
    ),
    OpInfo(
        "getitem[bool mask]",
        lambda x: x[_mask(x)],
        shapes=ONE_DIM_UP,
        ref=lambda x: x.reshape(-1)[np.arange(x.size) % 3 != 1],
    ),
    OpInfo(
        "getitem[mixed]",
        lambda x: x[_repeats(x), ..., 1:],
        shapes=TWO_DIMS_UP,
        sample=[(3, 4)],
        ref=lambda x: np.stack([x[0], x[0], x[-1], x[len(x) // 2]])[..., 1:],
    ),
    OpInfo(
        "getitem[two int arrays]",
        lambda x: x[np.array([0, 0, -1]), np.array([[0], [-1]])],
        shapes=TWO_DIMS_UP,
        sample=[(3, 4)],
        ref=lambda x: np.stack([np.stack([x[r, c] for r in (0, 0, x.shape[0] - 1)]) for c in (0, x.shape[1] - 1)]),
    ),
    OpInfo(
        "setitem",
        lambda x, v: _assigned(x, v, 0),
        nargs=2,
        shapes=ONE_DIM_UP.map(lambda s: _row_and_value(s, 0)),
        sample=[(3, 4), (4,)],
        ref=lambda x, v: np.concatenate([v[None], x[1:]]),
        covers=("setitem", "multiply"),
    ),
    OpInfo(
        "setitem[slice, broadcast value]",
        lambda x, v: _assigned(x, v, (slice(None), slice(1, None))),
        nargs=2,
        shapes=TWO_DIMS_UP.map(lambda s: [s[0], (1,)]),
        sample=[(3, 4), (1,)],
        ref=lambda x, v: np.concatenate([x[:, :1], np.broadcast_to(v, x[:, 1:].shape)], axis=1),
        covers=("setitem", "multiply"),
    ),
    OpInfo(
        "setitem[repeated index]",
        lambda x, v: _assigned(x, v, [0, 0]),
        nargs=2,
        shapes=ONE_DIM_UP.map(lambda s: _row_and_value(s, 2)),
        sample=[(3, 4), (2, 4)],
        ref=lambda x, v: np.concatenate([v[1:], x[1:]]),  # NumPy keeps the last write
        covers=("setitem", "multiply"),
    ),
    OpInfo(
        "concatenate",
        lambda a, b, c: gg.concatenate([a, b, c], axis=-1),
        nargs=3,
        shapes=joinable_shapes(),
        ref=lambda a, b, c: np.concatenate([a, b, c], axis=-1),
    ),
    OpInfo(
        "concatenate[axis None]",
        lambda a, b: gg.concatenate([a, b * 2.0], axis=None),
        nargs=2,
        shapes=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3).flatmap(
            lambda s: hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3).map(lambda t: [s, t])
        ),
        ref=lambda a, b: np.concatenate([a.reshape(-1), 2.0 * b.reshape(-1)]),
        covers=("concatenate", "reshape", "multiply"),
    ),
    OpInfo(
        "stack",
        lambda a, b, c: gg.stack([a, b * 2.0, c], axis=-1),
        nargs=3,
        shapes=same_shapes(3),
        ref=lambda a, b, c: np.stack([a, 2.0 * b, c], axis=-1),
    ),
    OpInfo(
        "stack[axis 0]",
        lambda a, b: gg.stack([a, b * 2.0]),
        nargs=2,
        shapes=same_shapes(2),
        ref=lambda a, b: np.stack([a, 2.0 * b]),
    ),
    OpInfo(
        "split",
        lambda x: _weighted(gg.split(x, [1, 2], axis=-1)),
        shapes=ONE_DIM_UP,
        ref=lambda x: _weighted_ref([x[..., :1], x[..., 1:2], x[..., 2:]]),
        covers=("getitem", "concatenate"),
    ),
    OpInfo(
        "split[sections]",
        lambda x: _weighted(gg.split(x, x.shape[-1], axis=-1)),
        shapes=ONE_DIM_UP,
        ref=lambda x: _weighted_ref([x[..., i : i + 1] for i in range(x.shape[-1])]),
        covers=("getitem", "concatenate"),
    ),
    OpInfo(
        "pad",
        lambda x: gg.pad(x, 1, constant_values=0.5),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, 1, constant_values=0.5),
    ),
    OpInfo(
        "pad[pairs]",
        lambda x: gg.pad(x, [(1, 2)] + [(0, 1)] * (x.ndim - 1)),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, [(1, 2)] + [(0, 1)] * (x.ndim - 1)),
    ),
    OpInfo(
        "pad[edge]",
        lambda x: gg.pad(x, (2, 1), mode="edge"),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, (2, 1), mode="edge"),
        covers=COPY_MODES,
    ),
    OpInfo(
        "pad[reflect]",
        lambda x: gg.pad(x, 2, mode="reflect"),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, 2, mode="reflect"),
        covers=COPY_MODES,
    ),
    OpInfo(
        "pad[symmetric]",
        lambda x: gg.pad(x, (1, 2), mode="symmetric"),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, (1, 2), mode="symmetric"),
        covers=COPY_MODES,
    ),
    OpInfo(
        "pad[wrap]",
        lambda x: gg.pad(x, 3, mode="wrap"),
        shapes=ONE_DIM_UP,
        ref=lambda x: np.pad(x, 3, mode="wrap"),
        covers=COPY_MODES,
    ),
]
