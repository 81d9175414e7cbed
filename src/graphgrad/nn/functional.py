"""``graphgrad.nn.functional``: the nn primitives and activations under PyTorch's names.

Most are the same functions as ``graphgrad.<name>`` (they live in :mod:`graphgrad.ops`); the
activations PyTorch CNNs add (``silu``, ``relu6``, ``hardtanh``, ``hardsigmoid``, ``hardswish``,
``mish``) are composed of those ops in :mod:`graphgrad.nn.activation`, and the channel dropouts
(``dropout1d``, ``dropout2d``) share dropout's op. This module only gathers them where a PyTorch
user looks for them (``F.relu``, ``F.cross_entropy``...).
"""

from __future__ import annotations

from graphgrad.nn.activation import hardsigmoid, hardswish, hardtanh, mish, relu6, silu
from graphgrad.ops import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    gelu,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from graphgrad.ops.conv import (
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    embedding,
    group_norm,
    layer_norm,
    max_pool2d,
)
from graphgrad.ops.nn import dropout1d, dropout2d

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]
