"""Layers, losses, initializers and regularizers: PyTorch-style building blocks on graphgrad ops.

``model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))`` finds its parameters
from attributes; ``nn.CrossEntropyLoss()(model(x), y)`` gives a scalar to ``backward()``.
``nn.functional`` holds the same operations as plain functions; ``nn.init`` the initializers;
``nn.utils`` gradient clipping; ``nn.l2_penalty`` the L2 loss term (see its module for how it
differs from an optimizer's ``weight_decay``).
"""

from __future__ import annotations

from graphgrad.nn import functional, init, utils
from graphgrad.nn.activation import (
    ELU,
    GELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from graphgrad.nn.container import ModuleDict, ModuleList, Sequential
from graphgrad.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from graphgrad.nn.dropout import Dropout, Dropout1d, Dropout2d
from graphgrad.nn.embedding import Embedding
from graphgrad.nn.linear import Flatten, Identity, Linear, Unflatten
from graphgrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SquareLoss,
)
from graphgrad.nn.module import IncompatibleKeys, Module
from graphgrad.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from graphgrad.nn.parameter import Parameter
from graphgrad.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from graphgrad.nn.regularization import l2_penalty

__all__ = [
    "functional",
    "init",
    "utils",
    "Module",
    "Parameter",
    "IncompatibleKeys",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "Linear",
    "Identity",
    "Flatten",
    "Unflatten",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Embedding",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "GELU",
    "ELU",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "SiLU",
    "ReLU6",
    "Hardtanh",
    "Hardsigmoid",
    "Hardswish",
    "Mish",
    "SquareLoss",
    "MSELoss",
    "L1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "l2_penalty",
]
