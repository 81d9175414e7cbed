"""One name-to-factory table per kind of choice a run makes: model, activation, optimizer, schedule.

Each table is the single list of valid names: :class:`~graphgrad.train.config.TrainConfig`
validates against it, ``graphgrad train --help`` prints it, and the run is built from it. Adding a
choice (e.g. a convolutional model) is one entry here.

A model factory receives ``(input_shape, n_outputs, config, rngs)``: the shape of one example
(``(n_features,)`` for tables, ``(channels, height, width)`` for images), the number of outputs
(classes, or 1 for regression), the run's settings and its random generators by purpose
(``rngs["init"]`` for weights, ``rngs["dropout"]`` for dropout masks). Inputs arrive flattened to
``(batch, prod(input_shape))``; a model that needs the image shape reshapes them itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad import nn, optim
from graphgrad.errors import ConfigError
from graphgrad.nn.models import small_cnn

if TYPE_CHECKING:
    from graphgrad.train.config import TrainConfig

ModelFactory = Callable[[tuple[int, ...], int, "TrainConfig", dict[str, np.random.Generator]], nn.Module]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "relu6": nn.ReLU6,
    "hardtanh": nn.Hardtanh,
    "hardsigmoid": nn.Hardsigmoid,
    "hardswish": nn.Hardswish,
}


def mlp(input_shape: tuple[int, ...], n_outputs: int, config: TrainConfig,
        rngs: dict[str, np.random.Generator]) -> nn.Module:
    """``Linear -> activation [-> Dropout]`` per hidden size, then ``Linear`` to the outputs."""
    activation = ACTIVATIONS[config.activation]
    layers: list[nn.Module] = []
    width = math.prod(input_shape)
    for size in config.hidden:
        layers += [nn.Linear(width, size, rng=rngs["init"]), activation()]
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout, rng=rngs["dropout"]))
        width = size
    layers.append(nn.Linear(width, n_outputs, rng=rngs["init"]))
    return nn.Sequential(*layers)


def mlp_parameter_count(input_shape: tuple[int, ...], n_outputs: int, config: TrainConfig) -> int:
    widths = [math.prod(input_shape), *config.hidden, n_outputs]
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def _image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        found = (f"this data has {math.prod(input_shape)} features per row and no image shape" if len(input_shape) == 1
                 else f"this data's examples have shape {'x'.join(map(str, input_shape))}")
        raise ConfigError(f"--model cnn needs images (channels, height, width); {found} (use an NPZ file with X of "
                          "shape (N, H, W) or (N, C, H, W), an IDX file, or --model mlp)")
    return input_shape  # type: ignore[return-value]


def cnn_parameter_count(input_shape: tuple[int, ...], n_outputs: int, config: TrainConfig) -> int:
    """Weights of :func:`cnn`: 3x3 kernels and batch-norm scale and shift per convolution, then the
    linear layers (refuses data without an image shape before anything is allocated or written)."""
    width, count = _image_shape(input_shape)[0], 0
    for k in config.channels:
        count += (width * k * 9 + 2 * k) + (k * k * 9 + 2 * k)
        width = k
    widths = [width, *config.hidden, n_outputs]
    return count + sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def cnn(input_shape: tuple[int, ...], n_outputs: int, config: TrainConfig,
        rngs: dict[str, np.random.Generator]) -> nn.Module:
    """:func:`graphgrad.nn.models.small_cnn` for images ``(channels, height, width)``: a stage of two
    3x3 convolutions with batch normalization per ``--channels`` entry (default 32 then 64 channels),
    each ending in 2x2 max pooling, global average pooling, then
    ``--hidden`` fully connected layers (``none``: straight to the outputs), ``--activation`` after
    every convolution and hidden layer, ``--dropout`` before every linear layer."""
    _image_shape(input_shape)
    return small_cnn(input_shape, n_outputs, rng=rngs["init"], channels=config.channels, hidden=config.hidden,
                     activation=ACTIVATIONS[config.activation], dropout=config.dropout, dropout_rng=rngs["dropout"])


MODELS: dict[str, ModelFactory] = {
    "mlp": mlp,
    "cnn": cnn,
}

# settings whose default depends on the model; an explicit value (option, TOML, a saved run) wins.
# The CNN's head is the documented small CNN's: pooled features straight to the classes; its
# stages are small_cnn's (32 then 64 channels). A model whose default has no channels has no
# convolutions: --channels is refused for it.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"hidden": [256, 128], "channels": []},
    "cnn": {"hidden": [], "channels": [32, 64]},
}

# optional: a model's parameter count from its settings, to refuse one that cannot fit in memory
# before allocating it
MODEL_SIZES: dict[str, Callable[[tuple[int, ...], int, TrainConfig], int]] = {
    "mlp": mlp_parameter_count,
    "cnn": cnn_parameter_count,
}


def _sgd(c: TrainConfig, params: list[Any]) -> optim.Optimizer:
    return optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


def _rmsprop(c: TrainConfig, params: list[Any]) -> optim.Optimizer:
    return optim.RMSprop(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


OPTIMIZERS: dict[str, Callable[[TrainConfig, list[Any]], optim.Optimizer]] = {
    "sgd": _sgd,
    "adam": lambda c, params: optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda c, params: optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": _rmsprop,
    "adagrad": lambda c, params: optim.Adagrad(params, lr=c.lr, weight_decay=c.weight_decay),
}

_sched = optim.lr_scheduler
SCHEDULES: dict[str, Callable[[TrainConfig, optim.Optimizer], Any]] = {
    "none": lambda c, o: None,
    "step": lambda c, o: _sched.StepLR(o, step_size=max(1, c.epochs // 3), gamma=0.1),
    "exp": lambda c, o: _sched.ExponentialLR(o, gamma=0.95),
    "cosine": lambda c, o: _sched.CosineAnnealingLR(o, T_max=c.epochs),
    "plateau": lambda c, o: _sched.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=3),
}

SCHEDULE_HELP = {
    "none": "constant", "step": "x0.1 every epochs/3", "exp": "x0.95 per epoch",
    "cosine": "cosine to 0 over the epochs", "plateau": "halve after 3 epochs without val-loss gain",
}
