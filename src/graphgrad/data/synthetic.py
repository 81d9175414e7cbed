"""Synthetic 2-D classification problems, generated from a seed (for demos and tests)."""

from __future__ import annotations

import numpy as np


def moons(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's make_moons, noise 0.1)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=0.1, random_state=seed)
    return x, y


def circles(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one (scikit-learn's make_circles, noise 0.05, factor 0.5)."""
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=n_samples, noise=0.05, factor=0.5, random_state=seed)
    return x, y


def spirals(n_samples: int, seed: int, n_arms: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``n_arms`` interleaved spiral arms, one class each: radius grows with the angle, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_arms
    t = rng.uniform(0.0, 1.0, n_samples)  # position along the arm
    radius = 0.1 + 0.9 * t
    angle = 2.0 * np.pi * (1.5 * t + y / n_arms) + rng.normal(0.0, 0.15, n_samples)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x, y


def xor(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-1, 1]^2; class 1 when the coordinates have opposite signs (not linearly separable)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n_samples, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)
    return x, y


GENERATORS = {"moons": moons, "circles": circles, "spirals": spirals, "xor": xor}
