"""JAX as a peer: ``jax.jit`` of the same training step (forward, softmax cross-entropy, gradient,
SGD update), in its own process (XLA's threads and OpenBLAS's would slow each other down in one),
timed interleaved with this process's own hand-written NumPy step so the ratio is to the same
baseline as graphgrad's. Prints JSON medians per config."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

import numpy as np

from graphgrad.benchmarks.mlp_configs import CONFIGS, LEARNING_RATE
from graphgrad.benchmarks.numpy_mlp import init_mlp, train_step
from graphgrad.benchmarks.timing import record_against_numpy


def make_step(layers: list[tuple[np.ndarray, np.ndarray]], x_np: np.ndarray, y_np: np.ndarray) -> Any:
    """A closure running one jitted SGD step on its own copy of ``layers``; returns the loss."""
    import jax
    import jax.numpy as jnp

    def loss_fn(params: list[tuple[Any, Any]], x: Any, y: Any) -> Any:
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T + b
            if i < len(params) - 1:
                h = jnp.maximum(h, 0)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @functools.partial(jax.jit, donate_argnums=0)  # the old parameters' buffers are reused
    def sgd(params: list[tuple[Any, Any]], x: Any, y: Any) -> tuple[Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        new = [(w - LEARNING_RATE * gw, b - LEARNING_RATE * gb) for (w, b), (gw, gb) in zip(params, grads)]
        return new, loss

    state = {"params": [(jnp.asarray(w), jnp.asarray(b)) for w, b in layers]}
    x, y = jnp.asarray(x_np), jnp.asarray(y_np.astype(np.int32))

    def step() -> float:
        state["params"], loss = sgd(state["params"], x, y)
        return loss.block_until_ready()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    import jax

    results: dict[str, Any] = {"version": jax.__version__, "step_s": {}, "numpy_s": {}, "ratio": {}}
    for config in CONFIGS:
        layers = init_mlp(list(config.sizes), np.random.default_rng(0))
        x_np, y_np = config.batch_data()
        step = make_step(layers, x_np, y_np)
        first = float(step())
        expected = train_step([(w.copy(), b.copy()) for w, b in layers], x_np, y_np, LEARNING_RATE)
        if abs(first - expected) > 1e-4 * max(1.0, abs(expected)):
            raise AssertionError(f"{config.name}: JAX loss {first} differs from NumPy's {expected}")
        numpy_step = functools.partial(train_step, layers, x_np, y_np, LEARNING_RATE)
        record_against_numpy(results, config.name, step, numpy_step, args.rounds)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
