"""Tensor: a NumPy array plus its place in the computational graph.

Operators and methods delegate to the op functions in :mod:`graphgrad.ops`, where each op's
forward and derivative live side by side.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphgrad.autograd.grad_mode import RECORD, get_mode
from graphgrad.errors import BackwardError, DTypeError, InplaceError, ShapeError

if TYPE_CHECKING:
    from graphgrad.ops.core import Node

_new = object.__new__

CAPTURE = 16
"""Mode bit: a step is being captured (:mod:`graphgrad.compile`): ops report to ``core.TRACER``,
and reading a tensor's value into Python is refused."""


def _value_read(what: str) -> None:
    from graphgrad.compile.trace import refuse_value_read

    refuse_value_read(what)


def _unrecorded_change(what: str) -> None:
    from graphgrad.compile.trace import refuse_unrecorded_change

    refuse_unrecorded_change(what)


def _traced(fn: Callable[..., Any], args: tuple[Any, ...], result: Any, what: str) -> None:
    """Report an array call the tensor made itself (a recorded in-place change's copy of the old
    values and its write-back) to the step being captured, so that a plan repeats it."""
    from graphgrad.compile.trace import active

    active().record(fn, args, {}, result, what)


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


class RemovableHandle:
    """What ``register_post_accumulate_grad_hook`` returns: ``.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks: dict[int, Callable[[Tensor], None]], key: int) -> None:
        self._hooks = hooks
        self._key = key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


_hook_keys = iter(range(sys.maxsize))


class Tensor:
    """An n-dimensional array that records the ops applied to it, for backward.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``: Python numbers and lists become
    float32 (integers too when ``requires_grad=True``, else int64); NumPy arrays keep their dtype.

    Tensors that share memory (``detach()``, and every op whose forward returns a NumPy view of
    its input: reshape, transpose, basic indexing...) share one version counter, ``_vc``: a
    one-element list bumped by every in-place change through any of them, so a graph that saved
    one of them notices a change made through another.
    """

    __slots__ = (
        "data", "grad", "_requires_grad", "_node", "_vc", "_retain", "_post_hooks", "name", "__weakref__"
    )  # fmt: skip
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
        # a tensor made around another tensor's memory is an alias of it: one version counter
        shares = isinstance(data, Tensor) and bool(np.may_share_memory(arr, data.data))
        self._vc: list[int] = data._vc if shares else [0]
        self._retain = False
        self._post_hooks: dict[int, Callable[[Tensor], None]] | None = None
        self.name = name

    @staticmethod
    def _wrap(data: np.ndarray) -> Tensor:
        """A new constant tensor around ``data`` (no copy, no checks): the ops' fast path."""
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t._requires_grad = False
        t._node = None
        t._vc = [0]
        t._retain = False
        t._post_hooks = None
        t.name = None
        return t

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (through any alias)."""
        return self._vc[0]

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

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set :attr:`requires_grad` and return this tensor (PyTorch's way to freeze one parameter)."""
        self.requires_grad = requires_grad
        return self

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
        if get_mode() & CAPTURE:
            _value_read(".item()")
        return self.data.item()

    def tolist(self) -> Any:
        if get_mode() & CAPTURE:
            _value_read(".tolist()")
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        if get_mode() & CAPTURE:
            _value_read("float(tensor)")
        return float(self.data)

    def __int__(self) -> int:
        if get_mode() & CAPTURE:
            _value_read("int(tensor)")
        return int(self.data)

    def __index__(self) -> int:
        if get_mode() & CAPTURE:
            _value_read("a tensor used as an index")
        return self.data.__index__()

    def __bool__(self) -> bool:
        if get_mode() & CAPTURE:
            _value_read("bool(tensor) (an if or while on a tensor)")
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
        """The same data (shared memory and version counter), cut from the graph."""
        t = Tensor._wrap(self.data)
        t._vc = self._vc
        return t

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A leaf's copy: its own memory and version counter, the same ``requires_grad``, a copy of
        ``.grad``. A tensor made by an op is refused, as in PyTorch: its copy would carry a copy of
        the graph, whose backward would fill copies of the leaves and leave the real ones at None."""
        if self._node is not None:
            raise BackwardError(
                f"copy.deepcopy of a tensor of shape {self.shape} made by '{self._node.op.name}' (not a leaf): "
                "its copy's backward would reach copies of the leaves, not the leaves; deep-copy x.detach() "
                "for the values, or copy the leaves and compute again"
            )
        cls = type(self)
        new = _new(cls)
        memo[id(self)] = new
        for klass in cls.__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if slot != "__weakref__" and hasattr(self, slot):
                    object.__setattr__(new, slot, copy.deepcopy(getattr(self, slot), memo))
        return new

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
        _engine.backward([self], [grad], retain_graph=retain_graph or create_graph, create_graph=create_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(self)`` each time a backward has accumulated this leaf's gradient into ``.grad``.

        PyTorch's hook of that name: it runs as soon as this leaf's gradient is complete, while
        backward goes on with the rest of the graph (so a data-parallel trainer can start sending
        it). Hooks run in the order registered; a backward that gives this leaf no gradient, or
        that returns gradients instead of accumulating them (``inputs=``), does not call them.
        """
        if not self._requires_grad:
            raise BackwardError("cannot register a hook on a tensor that does not require a gradient")
        if self._node is not None:
            raise BackwardError(
                f"post-accumulate-grad hooks can only be registered on leaf tensors; this one was made by "
                f"'{self._node.op.name}'"
            )
        if self._post_hooks is None:
            self._post_hooks = {}
        key = next(_hook_keys)
        self._post_hooks[key] = hook
        return RemovableHandle(self._post_hooks, key)

    # ----------------------------------------------------------------- in place
    # In-place operators change the array itself, as in NumPy: every alias sees the change and the
    # shared version counter moves. When a gradient flows through the change (grad mode on and this
    # tensor or the operand requires one), it is also recorded: the tensor keeps its identity and
    # becomes the output of the op, applied to a copy of its old value that keeps the old history.
    def _check_inplace(self, what: str) -> None:
        if get_mode() & RECORD and self._requires_grad and self._node is None:
            raise BackwardError(
                f"{what} on a leaf tensor that requires a gradient; do it under graphgrad.no_grad()"
            )

    def _check_writable(self, what: str) -> None:
        if not self.data.flags.writeable:
            raise InplaceError(
                f"{what} on a read-only tensor of shape {self.shape} (a broadcast view or a constant); "
                "change a copy instead (x = x * 1.0)"
            )

    def bump_version(self) -> None:
        """Record that ``.data`` was changed in place, so graphs that saved it (or an alias) notice."""
        self._vc[0] += 1

    def _records(self, other: Any) -> bool:
        """Whether a change of this tensor by ``other`` must be recorded: a gradient flows through it."""
        return bool(get_mode() & RECORD) and (
            self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
        )

    def _inplace(self, ufunc: np.ufunc, op: Callable[[Any, Any], Tensor], other: Any, symbol: str) -> Tensor:
        """``self symbol other`` (``+=``...) in place; recorded when a gradient flows through it."""
        if self._records(other):
            return self._record_in_place(lambda old: op(old, other), f"'{symbol}'")
        self._check_writable(f"'{symbol}'")
        if get_mode() & CAPTURE:
            _unrecorded_change(f"'{symbol}'")
        try:
            ufunc(self.data, other.data if isinstance(other, Tensor) else other, out=self.data)
        except TypeError as exc:  # NumPy's casting refusal, e.g. an int tensor /= 2
            raise DTypeError(f"'{symbol}' on a tensor of dtype {self.dtype}: {exc}") from None
        except ValueError as exc:
            raise ShapeError(f"'{symbol}' on a tensor of shape {self.shape}: {exc}") from None
        self._vc[0] += 1
        return self

    def _record_in_place(self, make: Callable[[Tensor], Tensor], what: str,
                         instead: str = "the out-of-place form (x = x + y)") -> Tensor:
        """Write ``make(old self)`` into this tensor's memory and make this tensor that op's output;
        ``instead``: what the user can write instead where that is refused."""
        self._check_inplace(what)
        self._check_writable(what)
        if _holders(self) > _UNALIASED_HOLDERS:
            raise InplaceError(
                f"{what} on a tensor of shape {self.shape} that shares its memory with another live tensor "
                "(a view such as reshape, transpose or x[i], or detach()) while a gradient is recorded: "
                f"that tensor's graph would not see the change. Use {instead}, or change a copy (x = x * 1.0)"
            )
        capturing = get_mode() & CAPTURE
        old = Tensor._wrap(self.data.copy())  # the old values, with the old history
        if capturing:
            _traced(np.copy, (self.data,), old.data, f"the values before {what}")
        old._requires_grad, old._node, old.name = self._requires_grad, self._node, self.name
        old._vc[0] = self._vc[0]
        new = make(old)
        if new.data.shape != self.data.shape:
            raise ShapeError(
                f"{what}: the result has shape {new.shape}, which does not fit this tensor's shape {self.shape}"
            )
        if new.data.dtype != self.data.dtype:
            if not np.can_cast(new.data.dtype, self.data.dtype, "same_kind"):
                raise DTypeError(f"{what}: cannot store a {new.dtype} result in a tensor of dtype {self.dtype}")
            new = new.astype(self.data.dtype)
        np.copyto(self.data, new.data)
        if capturing:
            _traced(np.copyto, (self.data, new.data), None, what)
        self._vc[0] += 1
        self._node, self._requires_grad = new._node, new._requires_grad
        if new._node is not None:
            new._node.out_version = self._vc[0]
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value`` in place (NumPy's semantics: a repeated index keeps the last write)."""
        index = _ops.plain_index(index)
        if self._records(value):
            self._record_in_place(lambda old: _ops.setitem(old, index, value), "item assignment")
            return
        self._check_writable("item assignment")
        if get_mode() & CAPTURE:
            _unrecorded_change("item assignment")
        self.data[index] = value.data if isinstance(value, Tensor) else value
        self._vc[0] += 1

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values in place (for parameter loading and updates); recorded like ``x[...] = src``."""
        if self._records(src):
            return self._record_in_place(lambda old: _ops.setitem(old, Ellipsis, src), "copy_")
        self._check_writable("copy_")
        if get_mode() & CAPTURE:
            _unrecorded_change("copy_")
        self.data[...] = src.data if isinstance(src, Tensor) else src
        self._vc[0] += 1
        return self

    def zero_(self) -> Tensor:
        return self.copy_(0)

    def _replace_with(self, make: Callable[[Tensor], Tensor], what: str) -> Tensor:
        """``make(self)`` written into this tensor, which is returned (PyTorch's ``inplace=True``):
        recorded like the in-place operators where a gradient flows through it."""
        if self._records(None):
            return self._record_in_place(make, what, "inplace=False")
        return self.copy_(make(self))

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, _ops.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, _ops.subtract, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, _ops.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, _ops.divide, other, "/=")

    def __ipow__(self, other: Any) -> Tensor:
        return self._inplace(np.power, _ops.power, other, "**=")

    def __imatmul__(self, other: Any) -> Tensor:
        return self._inplace(np.matmul, _ops.matmul, other, "@=")

    def __imod__(self, other: Any) -> Tensor:
        return self._inplace(np.remainder, _ops.remainder, other, "%=")

    # ----------------------------------------------------------------- NumPy's functions
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``np.exp(t)``, ``array + t``...: graphgrad's op of that name, so the gradient flows."""
        return _array_protocol.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.sum(t)``, ``np.mean(t, axis=0)``...: graphgrad's function of that name, so the gradient flows."""
        return _array_protocol.function(func, args, kwargs)

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

    def __mod__(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops.remainder(other, self)

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

    def round(self, decimals: int = 0) -> Tensor:
        return _ops.round(self, decimals)

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

    def cumsum(self, axis: int | None = None, dtype: Any = None) -> Tensor:
        return _ops.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis: int | None = None, dtype: Any = None) -> Tensor:
        return _ops.cumprod(self, axis=axis, dtype=dtype)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _ops.trace(self, offset, axis1, axis2)

    def argsort(self, axis: int | None = -1, kind: Any = None, *, stable: Any = None) -> Tensor:
        return _ops.argsort(self, axis=axis, kind=kind, stable=stable)

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

    def ravel(self) -> Tensor:
        return _ops.ravel(self)

    def repeat(self, repeats: Any, axis: int | None = None) -> Tensor:
        return _ops.repeat(self, repeats, axis)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _ops.diagonal(self, offset, axis1, axis2)

    def take(self, indices: Any, axis: int | None = None, mode: str = "raise") -> Tensor:
        return _ops.take(self, indices, axis=axis, mode=mode)

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def dot(self, other: Any) -> Tensor:
        return _ops.dot(self, other)

    # ----------------------------------------------------------------- display
    def __repr__(self) -> str:
        if get_mode() & CAPTURE:
            _value_read("printing a tensor (use graphgrad.compile.host(print, tensor) to print at every call)")
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


def _holders(t: Tensor) -> int:
    """How many references hold ``t``'s version counter (each alias of ``t`` adds one)."""
    return sys.getrefcount(t._vc)


_UNALIASED_HOLDERS = _holders(Tensor._wrap(np.empty(0)))


from graphgrad import array_protocol as _array_protocol  # noqa: E402
from graphgrad import ops as _ops  # noqa: E402  (ops import Tensor; bound after the class exists)
from graphgrad.autograd import engine as _engine  # noqa: E402  (imports Tensor too)
