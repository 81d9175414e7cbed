"""Every op graphgrad differentiates, one module per family; the public ones are listed here."""

from graphgrad.ops.core import REGISTRY, Op, apply, lift
from graphgrad.ops.elementwise import (
    add,
    astype,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    multiply,
    negative,
    not_equal,
    power,
    subtract,
    where,
)
from graphgrad.ops.linalg import matmul
from graphgrad.ops.reduce import mean, sum
from graphgrad.ops.shape import (
    broadcast_to,
    expand_dims,
    flatten,
    getitem,
    plain_index,
    reshape,
    setitem_,
    squeeze,
    swapaxes,
    transpose,
)

NON_DIFFERENTIABLE = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
"""Public ops whose outputs carry no gradient (booleans, indices)."""

__all__ = [
    "add", "astype", "broadcast_to", "divide", "equal", "exp", "expand_dims", "flatten", "getitem",
    "greater", "greater_equal", "less", "less_equal", "log", "matmul", "mean", "multiply",
    "negative", "not_equal", "power", "reshape", "squeeze", "subtract", "sum", "swapaxes",
    "transpose", "where",
]  # fmt: skip

_INTERNAL = (REGISTRY, Op, apply, lift, plain_index, setitem_)
