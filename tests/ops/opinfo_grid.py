"""OpInfo entries of the grid family (grid.py), against NumPy."""

from __future__ import annotations

import numpy as np

import graphgrad as gg
from tests.ops.opinfo import OpInfo, same_shapes


def _weighted(parts: tuple) -> object:
    flat = [p.reshape(-1) * (i + 1.0) for i, p in enumerate(parts)]
    return np.concatenate(flat) if isinstance(parts[0], np.ndarray) else gg.concatenate(flat)


VECTORS = same_shapes(1, min_dims=1, max_dims=1)

OPINFOS = [
    OpInfo("linspace", lambda s, e: gg.linspace(s, e, 5), nargs=2, ref=lambda s, e: np.linspace(s, e, 5)),
    OpInfo(
        "linspace[no endpoint, axis -1]",
        lambda s, e: gg.linspace(s, e, 4, endpoint=False, axis=-1),
        nargs=2,
        ref=lambda s, e: np.linspace(s, e, 4, endpoint=False, axis=-1),
    ),
    OpInfo(
        "meshgrid",
        lambda x, y: _weighted(gg.meshgrid(x, y)),
        nargs=2,
        shapes=VECTORS.flatmap(lambda a: VECTORS.map(lambda b: a + b)),
        ref=lambda x, y: _weighted(np.meshgrid(x, y)),
        sample=[(3,), (2,)],
    ),
    OpInfo(
        "meshgrid[ij, sparse]",
        lambda x, y, z: _weighted(gg.meshgrid(x, y, z, indexing="ij", sparse=True)),
        nargs=3,
        shapes=VECTORS.flatmap(lambda a: VECTORS.flatmap(lambda b: VECTORS.map(lambda c: a + b + c))),
        ref=lambda x, y, z: _weighted(np.meshgrid(x, y, z, indexing="ij", sparse=True)),
        sample=[(3,), (2,), (4,)],
    ),
]
