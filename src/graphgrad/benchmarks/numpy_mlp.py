"""The baseline: one MLP training step written out by hand in NumPy.

Forward (linear + ReLU layers, softmax cross-entropy), backward and an SGD update, float32,
with the in-place tricks a careful person would use. graphgrad is measured against this.
"""

from __future__ import annotations

import numpy as np


def init_mlp(sizes: list[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights in PyTorch's layout (out, in) with uniform(-1/sqrt(in), 1/sqrt(in)) entries."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits and the activations backward needs (each layer's input)."""
    inputs = []
    h = x
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        z = h @ w.T
        z += b
        if i < len(layers) - 1:
            np.maximum(z, 0, out=z)
        h = z
    return h, inputs


def cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits (overwrites logits)."""
    n = logits.shape[0]
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    total = logits.sum(axis=1, keepdims=True)
    logits /= total
    rows = np.arange(n)
    loss = float(-np.mean(np.log(logits[rows, y])))
    logits[rows, y] -= 1.0
    logits *= np.float32(1.0 / n)
    return loss, logits


def train_step(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, y: np.ndarray, lr: float) -> float:
    """One SGD step on a batch; updates ``layers`` in place and returns the loss."""
    logits, inputs = forward(layers, x)
    loss, d = cross_entropy_grad(logits, y)
    lr32 = np.float32(lr)
    for i in range(len(layers) - 1, -1, -1):
        w, b = layers[i]
        h = inputs[i]
        grad_w = d.T @ h
        grad_b = d.sum(axis=0)
        if i > 0:
            d = d @ w
            d *= h > 0  # ReLU's derivative, from the layer's (post-activation) input
        grad_w *= lr32
        grad_b *= lr32
        w -= grad_w
        b -= grad_b
    return loss
