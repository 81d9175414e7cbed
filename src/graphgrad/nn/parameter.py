"""Parameter: a tensor that a Module owns and an optimizer updates."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.tensor import Tensor, _as_array


class Parameter(Tensor):
    """A floating-point leaf tensor with ``requires_grad=True``, found by ``Module.parameters()``.

    Integer data becomes float32; a Tensor or NumPy array is wrapped without a copy (as PyTorch's
    ``nn.Parameter(t)`` shares ``t``'s storage).
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None) -> None:
        arr = _as_array(data, dtype, copy=False, float_ints=True)
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float32)
        super().__init__(arr, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
