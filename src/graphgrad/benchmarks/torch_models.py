"""The same network in PyTorch: a graphgrad ``Sequential`` of standard layers, rebuilt layer by layer
in ``torch.nn`` with the same names, weights and buffers (for peers in benchmarks and for tests).

Imported only where PyTorch is installed; graphgrad itself never needs it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphgrad import nn


def _layer(m: nn.Module, torch: Any) -> Any:
    tnn = torch.nn
    if isinstance(m, nn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                          bias=m.bias is not None, padding_mode=m.padding_mode)
    if isinstance(m, nn.Conv1d):
        return tnn.Conv1d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                          bias=m.bias is not None, padding_mode=m.padding_mode)
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        cls = tnn.ConvTranspose2d if isinstance(m, nn.ConvTranspose2d) else tnn.ConvTranspose1d
        return cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.output_padding, m.groups,
                   bias=m.bias is not None, dilation=m.dilation)
    if isinstance(m, nn.Linear):
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        cls = tnn.BatchNorm1d if isinstance(m, nn.BatchNorm1d) else tnn.BatchNorm2d
        return cls(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
    if isinstance(m, nn.GroupNorm):
        return tnn.GroupNorm(m.num_groups, m.num_channels, m.eps, m.affine, bias=m.bias is not None)
    if isinstance(m, nn.LayerNorm):
        return tnn.LayerNorm(m.normalized_shape, m.eps, m.elementwise_affine, bias=m.bias is not None)
    if isinstance(m, nn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        return tnn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return tnn.AdaptiveAvgPool2d(m.output_size)
    if isinstance(m, nn.Embedding):
        return tnn.Embedding(m.num_embeddings, m.embedding_dim, m.padding_idx)
    if isinstance(m, nn.Flatten):
        return tnn.Flatten(m.start_dim, m.end_dim)
    if isinstance(m, nn.Unflatten):
        return tnn.Unflatten(m.dim, m.unflattened_size)
    if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d)):
        return {nn.Dropout: tnn.Dropout, nn.Dropout1d: tnn.Dropout1d, nn.Dropout2d: tnn.Dropout2d}[type(m)](m.p)
    if isinstance(m, nn.LeakyReLU):
        return tnn.LeakyReLU(m.negative_slope)
    if isinstance(m, nn.ELU):
        return tnn.ELU(m.alpha)
    if isinstance(m, nn.GELU):
        return tnn.GELU(m.approximate)
    if isinstance(m, nn.Softplus):
        return tnn.Softplus(m.beta, m.threshold)
    if isinstance(m, nn.Hardtanh):
        return tnn.Hardtanh(m.min_val, m.max_val)
    simple = {nn.ReLU: tnn.ReLU, nn.Tanh: tnn.Tanh, nn.Sigmoid: tnn.Sigmoid, nn.Identity: tnn.Identity,
              nn.SiLU: tnn.SiLU, nn.Mish: tnn.Mish, nn.ReLU6: tnn.ReLU6, nn.Hardsigmoid: tnn.Hardsigmoid,
              nn.Hardswish: tnn.Hardswish}
    if type(m) in simple:
        return simple[type(m)]()
    raise TypeError(f"no PyTorch counterpart for {type(m).__name__}")


def to_torch(model: nn.Sequential) -> Any:
    """A ``torch.nn.Sequential`` with ``model``'s layers, weights and buffers (in their dtype)."""
    import numpy as np
    import torch

    out = torch.nn.Sequential(OrderedDict((name, _layer(m, torch)) for name, m in model.named_children()))
    state = {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}
    dtype = next(iter(state.values())).dtype if state else torch.float32
    out.to(dtype)
    out.load_state_dict(state)
    out.train(model.training)
    return out
