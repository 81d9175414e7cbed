"""Embedding: a table of vectors looked up by integer index (tokens, categories)."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError
from graphgrad.nn import functional
from graphgrad.nn import init as nn_init
from graphgrad.nn.module import Module, positive_int
from graphgrad.nn.parameter import Parameter
from graphgrad.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """``weight[input]`` for integer ``input`` of any shape, as PyTorch's ``Embedding``.

    ``weight`` (num_embeddings, embedding_dim) starts as N(0, 1) drawn from ``rng``; the row
    ``padding_idx`` (if given) starts at zeros and gets no gradient. A row looked up several times
    in a batch gets the sum of their gradients.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, rng: Any = None,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -self.num_embeddings <= int(padding_idx) < self.num_embeddings:
                raise ConfigError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                  f"{self.num_embeddings} embeddings")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        nn_init.normal_(self.weight, rng=rng)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, input: Any) -> Tensor:
        return functional.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"
