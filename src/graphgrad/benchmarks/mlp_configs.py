"""The MLP shapes the speed benchmark measures (the networks the seeds are about)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MLPConfig:
    name: str
    sizes: tuple[int, ...]  # input, hidden..., output
    batch: int

    def batch_data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A fixed float32 input batch and integer class labels."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.batch, self.sizes[0])).astype(np.float32)
        y = rng.integers(0, self.sizes[-1], self.batch)
        return x, y


CONFIGS = (
    MLPConfig("64-32-10 @32", (64, 32, 10), 32),
    MLPConfig("784-256-10 @128", (784, 256, 10), 128),
    MLPConfig("784-512-256-10 @128", (784, 512, 256, 10), 128),
    MLPConfig("784-1024-1024-10 @256", (784, 1024, 1024, 10), 256),
    MLPConfig("32x20-10 @32 (deep)", (32,) + (32,) * 20 + (10,), 32),
)
LARGE = {"784-256-10 @128", "784-512-256-10 @128", "784-1024-1024-10 @256"}
LEARNING_RATE = 0.01
