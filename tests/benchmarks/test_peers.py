"""The peers compute the same step as the hand-written NumPy baseline (else their times mean nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from graphgrad.benchmarks.mlp_configs import CONFIGS, LEARNING_RATE
from graphgrad.benchmarks.numpy_mlp import init_mlp, train_step


def test_jax_step_matches_numpy_for_three_steps() -> None:
    pytest.importorskip("jax")
    from graphgrad.benchmarks.jax_peer import make_step

    config = CONFIGS[0]
    layers = init_mlp(list(config.sizes), np.random.default_rng(0))
    x, y = config.batch_data()
    step = make_step(layers, x, y)
    mine = [(w.copy(), b.copy()) for w, b in layers]
    for _ in range(3):  # the losses agree after updates too, so the update is the same SGD
        expected = train_step(mine, x, y, LEARNING_RATE)
        assert float(step()) == pytest.approx(expected, rel=1e-5)


def test_contention_options_are_checked() -> None:
    import argparse

    from graphgrad.benchmarks import contention
    from graphgrad.errors import ConfigError

    parser = argparse.ArgumentParser()
    contention.add_arguments(parser)
    with pytest.raises(ConfigError, match=r"--repeats: must be a positive integer, got 0"):
        contention.run_from_args(parser.parse_args(["--repeats", "0"]))
