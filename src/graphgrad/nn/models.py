"""Ready-made convolutional networks for small images: built from nn layers, documented layer by layer.

- :func:`small_cnn`: the default CNN for digit-sized images (8x8 up to 28x28, one or a few
  channels). It takes rows of ``C*H*W`` pixels (what CSV and the built-in datasets give) or images.
- :func:`lenet5`: LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, for 28x28 digits.
- :func:`vgg_block`: one VGG-style block (two 3x3 convolutions, then 2x2 max pooling) and a
  linear classifier: a benchmark of wider convolutions on 32x32 colour images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.nn.activation import ReLU
from graphgrad.nn.container import Sequential
from graphgrad.nn.conv import Conv2d
from graphgrad.nn.dropout import Dropout
from graphgrad.nn.linear import Flatten, Linear, Unflatten
from graphgrad.nn.module import Module
from graphgrad.nn.normalization import BatchNorm2d
from graphgrad.nn.pooling import AdaptiveAvgPool2d, MaxPool2d

__all__ = ["small_cnn", "lenet5", "vgg_block"]


def _image_shape(input_shape: Sequence[int], where: str) -> tuple[int, int, int]:
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) <= 0:
        raise ConfigError(f"{where}: input_shape must be (channels, height, width) or (height, width), "
                          f"got {tuple(input_shape)}")
    return shape  # type: ignore[return-value]


def _generator(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def small_cnn(
    input_shape: Sequence[int] = (1, 8, 8), n_classes: int = 10, rng: Any = None, channels: Sequence[int] = (32, 64),
    dropout: float = 0.0, batch_norm: bool = True, dtype: Any = np.float32, hidden: Sequence[int] = (),
    activation: Callable[[], Module] = ReLU, dropout_rng: Any = None,
) -> Sequential:
    """A small CNN: ``[Conv 3x3 -> BatchNorm -> ReLU] x 2 -> MaxPool 2`` per stage, then global
    average pooling and one linear layer (after ``hidden`` fully connected layers, if any).

    Layers, with ``channels=(32, 64)`` on 1x8x8 digits::

        Unflatten   (N, 64) -> (N, 1, 8, 8)      rows of pixels become images
        stage 1     conv 1->32, conv 32->32      3x3, padding 1: the size stays 8x8
                    max pool 2                   -> (N, 32, 4, 4)
        stage 2     conv 32->64, conv 64->64     -> (N, 64, 4, 4), pooled to (N, 64, 2, 2)
        AdaptiveAvgPool2d(1), Flatten            -> (N, 64)
        [Dropout], Linear 64 -> n_classes        the logits

    Why this shape: 3x3 convolutions with padding 1 keep the small images' borders (an 8x8 digit
    has strokes at its edge); two of them per stage see 5x5 neighbourhoods before each pooling
    halves the size; batch normalization lets Adam's default learning rate train it in a few
    epochs without tuning; global average pooling keeps the classifier to ``channels[-1]*n``
    weights, so the net has ~66k parameters and does not memorize 1,300 training images.
    A stage is added per entry of ``channels``; the pooling of a stage is skipped once the
    images are 1 pixel high or wide. ``hidden`` inserts ``Linear -> activation [-> Dropout]``
    layers of those sizes between the pooled features and the logits (what ``--hidden`` does for
    an MLP). ``activation`` (a module class such as ``ReLU``) follows every convolution and hidden
    layer. ``dropout`` > 0 drops pooled features and hidden units before each linear layer.
    ``rng`` (a Generator or a seed) draws every initial weight, ``dropout_rng`` (default: ``rng``)
    the dropout masks.
    """
    c, h, w = _image_shape(input_shape, "small_cnn")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ConfigError(f"small_cnn: n_classes must be a positive integer, got {n_classes!r}")
    if not channels or any(int(k) <= 0 for k in channels):
        raise ConfigError(f"small_cnn: channels must be positive integers, one per stage, got {channels!r}")
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in hidden):
        raise ConfigError(f"small_cnn: hidden must be positive layer sizes, got {hidden!r}")
    gen = _generator(rng)
    drop_gen = gen if dropout_rng is None else _generator(dropout_rng)
    layers: list[Module] = [Unflatten(1, (c, h, w))]
    width = c
    for k in channels:
        k = int(k)
        for cin in (width, k):
            layers.append(Conv2d(cin, k, 3, padding=1, bias=not batch_norm, rng=gen, dtype=dtype))
            layers += [BatchNorm2d(k, dtype=dtype), activation()] if batch_norm else [activation()]
        if min(h, w) >= 2:
            layers.append(MaxPool2d(2))
            h, w = h // 2, w // 2
        width = k
    layers += [AdaptiveAvgPool2d(1), Flatten()]
    for size in (*hidden, None):
        if dropout > 0:
            layers.append(Dropout(dropout, rng=drop_gen))
        if size is None:
            break
        layers += [Linear(width, int(size), rng=gen, dtype=dtype), activation()]
        width = int(size)
    layers.append(Linear(width, int(n_classes), rng=gen, dtype=dtype))
    return Sequential(*layers)


def lenet5(input_shape: Sequence[int] = (1, 28, 28), n_classes: int = 10, rng: Any = None,
           dtype: Any = np.float32) -> Sequential:
    """LeNet-5 with ReLU and max pooling: conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> 120 -> 84
    -> n_classes. The first convolution pads by 2 so that 28x28 digits map as the original 32x32
    did (16 feature maps of 5x5 before the classifier)."""
    c, h, w = _image_shape(input_shape, "lenet5")
    gen = _generator(rng)
    side_h, side_w = (h // 2 - 4) // 2, (w // 2 - 4) // 2
    if min(side_h, side_w) < 1:
        raise ConfigError(f"lenet5: images of {h}x{w} are too small; it needs at least 12x12")
    return Sequential(
        Unflatten(1, (c, h, w)),
        Conv2d(c, 6, 5, padding=2, rng=gen, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5, rng=gen, dtype=dtype), ReLU(), MaxPool2d(2),
        Flatten(),
        Linear(16 * side_h * side_w, 120, rng=gen, dtype=dtype), ReLU(),
        Linear(120, 84, rng=gen, dtype=dtype), ReLU(),
        Linear(84, n_classes, rng=gen, dtype=dtype),
    )


def vgg_block(input_shape: Sequence[int] = (3, 32, 32), n_classes: int = 10, width: int = 32, rng: Any = None,
              dtype: Any = np.float32) -> Sequential:
    """Conv 3x3 (``width``) -> ReLU -> conv 3x3 (``width``) -> ReLU -> max pool 2 -> linear."""
    c, h, w = _image_shape(input_shape, "vgg_block")
    gen = _generator(rng)
    return Sequential(
        Unflatten(1, (c, h, w)),
        Conv2d(c, width, 3, padding=1, rng=gen, dtype=dtype), ReLU(),
        Conv2d(width, width, 3, padding=1, rng=gen, dtype=dtype), ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(width * (h // 2) * (w // 2), n_classes, rng=gen, dtype=dtype),
    )
