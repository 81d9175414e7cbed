"""OpInfo entries of the re-arranging family (arrange.py), each against NumPy's own function."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes

ANY = same_shapes(1, min_dims=0)
ONE_UP = same_shapes(1, min_dims=1)
TWO_UP = same_shapes(1, min_dims=2)
THREE = same_shapes(1, min_dims=3, max_dims=3)


def _counts(n: int) -> list[int]:
    """Per-element repeat counts for an axis of length n: 0, 1, 2, 0, 1, 2, ..."""
    return [i % 3 for i in range(n)]


OPINFOS = [
    OpInfo("ravel", gg.ravel, shapes=ANY, ref=np.ravel),
    OpInfo("moveaxis", lambda x: gg.moveaxis(x, 0, -1), shapes=ONE_UP, ref=lambda a: np.moveaxis(a, 0, -1)),
    OpInfo(
        "moveaxis[several]",
        lambda x: gg.moveaxis(x, [0, -1], [-1, 0]),
        shapes=TWO_UP,
        ref=lambda a: np.moveaxis(a, [0, -1], [-1, 0]),
    ),
    OpInfo("repeat", lambda x: gg.repeat(x, 3), shapes=ANY, ref=lambda a: np.repeat(a, 3)),
    OpInfo("repeat[axis]", lambda x: gg.repeat(x, 2, axis=-1), shapes=ONE_UP, ref=lambda a: np.repeat(a, 2, axis=-1)),
    OpInfo(
        "repeat[counts]",
        lambda x: gg.repeat(x, _counts(x.shape[0]), axis=0),
        shapes=ONE_UP,
        ref=lambda a: np.repeat(a, _counts(a.shape[0]), axis=0),
    ),
    OpInfo("tile", lambda x: gg.tile(x, (2, 1, 3)), shapes=ANY, ref=lambda a: np.tile(a, (2, 1, 3))),
    OpInfo("tile[int]", lambda x: gg.tile(x, 2), shapes=ANY, ref=lambda a: np.tile(a, 2)),
    OpInfo("roll", lambda x: gg.roll(x, 2), shapes=ANY, ref=lambda a: np.roll(a, 2)),
    OpInfo(
        "roll[axes]",
        lambda x: gg.roll(x, (1, -3), axis=(0, -1)),
        shapes=TWO_UP,
        ref=lambda a: np.roll(a, (1, -3), axis=(0, -1)),
    ),
    OpInfo("flip", gg.flip, shapes=ANY, ref=np.flip),
    OpInfo("flip[axis]", lambda x: gg.flip(x, -1), shapes=ONE_UP, ref=lambda a: np.flip(a, -1)),
    OpInfo("flipud", gg.flipud, shapes=ONE_UP, ref=np.flipud),
    OpInfo("fliplr", gg.fliplr, shapes=TWO_UP, ref=np.fliplr),
    OpInfo("rot90", gg.rot90, shapes=TWO_UP, ref=np.rot90),
    OpInfo("rot90[k=2]", lambda x: gg.rot90(x, 2), shapes=TWO_UP, ref=lambda a: np.rot90(a, 2)),
    OpInfo(
        "rot90[k=-1, axes]",
        lambda x: gg.rot90(x, -1, axes=(-1, 0)),
        shapes=TWO_UP,
        ref=lambda a: np.rot90(a, -1, axes=(-1, 0)),
    ),
    OpInfo("atleast_1d", gg.atleast_1d, shapes=ANY, ref=np.atleast_1d),
    OpInfo("atleast_2d", gg.atleast_2d, shapes=ANY, ref=np.atleast_2d),
    OpInfo("atleast_3d", gg.atleast_3d, shapes=ANY, ref=np.atleast_3d),
]
