"""Tensor: a NumPy array plus its place in the computational graph.

Operators and methods delegate to the op functions in :mod:`graphgrad.ops`, where each op's
forward and derivative live side by side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.errors import BackwardError, DTypeError

if TYPE_CHECKING:
    from graphgrad.ops.core import Node

_new = object.__new__


def _as_array(data: Any, dtype: Any = None, copy: bool = True, float_ints: bool = False) -> np.ndarray:
    """Convert user data to an array: Python floats become float32, NumPy dtypes are kept."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype, copy=copy if copy else None)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data, copy=copy if copy else None)
    arr = np.array(data)
    kind = arr.dtype.kind
    if kind == "f" or (float_ints and kind in "iu"):
        return arr.astype(np.float32)
    if kind not in "biuc":
        raise DTypeError(f"cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}")
    return arr


def _check_float(arr: np.ndarray) -> None:
    if arr.dtype.kind not in "fc":
        raise DTypeError(
            f"requires_grad=True needs a floating-point tensor, got dtype {arr.dtype}; "
            "convert first, e.g. graphgrad.tensor(data, dtype='float32')"
        )


class Tensor:
    """An n-dimensional array that records the ops applied to it, for backward.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``: Python numbers and lists become
    float32 (integers too when ``requires_grad=True``, else int64); NumPy arrays keep their dtype.
    """

    __slots__ = ("data", "grad", "_requires_grad", "_node", "_version", "_retain", "name", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__  # == is elementwise, identity is the hash (as in PyTorch)

    data: np.ndarray
    grad: Tensor | None
    name: str | None

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None
    ) -> None:
        arr = _as_array(data, dtype, copy=False, float_ints=requires_grad)
        if requires_grad:
            _check_float(arr)
        self.data = arr
        self.grad = None
        self._requires_grad = bool(requires_grad)
        self._node: Node | None = None
        self._version = 0
        self._retain = False
        self.name = name

    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        """A new constant tensor around ``data`` (no copy, no checks): the ops' fast path."""
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t._requires_grad = False
        t._node = None
        t._version = 0
        t._retain = False
        t.name = None
        return t

    # ----------------------------------------------------------------- properties
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value:
            _check_float(self.data)
        elif self._node is not None:
            raise BackwardError("requires_grad can only be switched off on a leaf; use .detach()")
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters, constants)."""
        return self._node is None

    @property
    def op(self) -> str | None:
        """Name of the op that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.op.name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:  # noqa: N802 (NumPy's name)
        return _ops.transpose(self)

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return self.data.__index__()

    def __bool__(self) -> bool:
        return bool(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self.data)):
            yield self[i]

    def astype(self, dtype: Any) -> Tensor:
        """Cast (differentiable between floating dtypes)."""
        return _ops.astype(self, dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ----------------------------------------------------------------- graph
    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        self._retain = True
        return self

    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires a gradient.

        ``grad`` is needed unless this tensor has one element. The graph's saved values are freed
        afterwards unless ``retain_graph``; ``create_graph`` records the backward pass itself, so
        the resulting gradients can be differentiated again.
        """
        from graphgrad.autograd.engine import backward

        backward([self], [grad], retain_graph=retain_graph or create_graph, create_graph=create_graph)

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- in place
    def _check_inplace(self, what: str) -> None:
        if STATE.enabled and self._requires_grad and self._node is None:
            raise BackwardError(
                f"{what} on a leaf tensor that requires a gradient; do it under graphgrad.no_grad()"
            )

    def bump_version(self) -> None:
        """Record that ``.data`` was changed in place, so graphs that saved it notice."""
        self._version += 1

    def _inplace(self, op: Any, other: Any) -> Tensor:
        """``self op= other``: in place when no graph records it, otherwise a new recorded op."""
        if STATE.enabled and (self._requires_grad or getattr(other, "_requires_grad", False)):
            self._check_inplace("an in-place operator")
            return op(self, other)
        result = op(self, other).data
        if result.dtype != self.data.dtype:
            raise DTypeError(
                f"in-place op would change dtype {self.data.dtype} to {result.dtype}; "
                "use the out-of-place form"
            )
        self.data[...] = result
        self._version += 1
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("item assignment")
        if STATE.enabled and (self._requires_grad or getattr(value, "_requires_grad", False)):
            _ops.setitem_(self, index, value)
            return
        self.data[_ops.plain_index(index)] = value.data if isinstance(value, Tensor) else value
        self._version += 1

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values in place (for parameter loading and updates)."""
        self._check_inplace("copy_")
        self.data[...] = src.data if isinstance(src, Tensor) else src
        self._version += 1
        return self

    def zero_(self) -> Tensor:
        return self.copy_(0)

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(_ops.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(_ops.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(_ops.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(_ops.divide, other)

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.divide(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.power(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.not_equal(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.greater_equal(self, other)

    # ----------------------------------------------------------------- elementwise methods
    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def clip(self, a_min: Any = None, a_max: Any = None) -> Tensor:
        return _ops.clip(self, a_min, a_max)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis=axis, keepdims=keepdims)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def permute(self, *axes: Any) -> Tensor:
        return self.transpose(*axes)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _ops.swapaxes(self, axis1, axis2)

    def flatten(self, start_axis: int = 0) -> Tensor:
        return _ops.flatten(self, start_axis)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis: Any) -> Tensor:
        return _ops.expand_dims(self, axis)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, shape)

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def dot(self, other: Any) -> Tensor:
        return _ops.dot(self, other)

    # ----------------------------------------------------------------- display
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extras = []
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"op={self._node.op.name}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


from graphgrad import ops as _ops  # noqa: E402  (ops import Tensor; bound after the class exists)
