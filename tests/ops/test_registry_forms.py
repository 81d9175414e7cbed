"""Tensor methods and operators against the function forms they stand for.

``x.sum()``, ``a + b``, ``a @ b``, ``x[i]``, ``x.T``... must give what ``gg.sum(x)``, ``gg.add(a, b)``,
``gg.matmul(a, b)``, ``gg.getitem(x, i)``, ``gg.transpose(x)`` give: the same values, dtype, op in
the graph and gradients. Every Tensor method named like an op and every arithmetic, comparison and
indexing operator the Tensor class defines must appear in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from graphgrad import Tensor


@dataclass(frozen=True)
class Form:
    """``method(*xs)`` (a method or operator) and ``function(*xs)`` (the op function) must agree.

    ``uses`` names the Tensor attributes the method form goes through (for the completeness check).
    """

    name: str
    method: Callable[..., Any]
    function: Callable[..., Any]
    uses: tuple[str, ...]
    nargs: int = 1
    domain: tuple[float, float] = (-3.0, 3.0)
    min_dims: int = 0
    max_dims: int = 3


def _unary(name: str, domain: tuple[float, float] = (-3.0, 3.0)) -> Form:
    return Form(f"x.{name}()", lambda x: getattr(x, name)(), getattr(gg, name), (name,), domain=domain)


def _reduction(name: str, **kw: Any) -> list[Form]:
    """``x.<name>()`` over everything and ``x.<name>(axis=-1, keepdims=True, **kw)``."""
    return [
        Form(f"x.{name}()", lambda x: getattr(x, name)(), getattr(gg, name), (name,)),
        Form(
            f"x.{name}(axis=-1, keepdims=True{', ' if kw else ''}{', '.join(f'{k}={v}' for k, v in kw.items())})",
            lambda x: getattr(x, name)(axis=-1, keepdims=True, **kw),
            lambda x: getattr(gg, name)(x, axis=-1, keepdims=True, **kw),
            (name,),
            min_dims=1,
        ),
    ]


POSITIVE = (0.5, 3.0)


def _left(x: Tensor) -> np.ndarray:
    """A fixed array that can multiply ``x`` from the left."""
    k = x.shape[-2]
    return np.linspace(-1.0, 2.0, 2 * k).reshape(2, k)


FORMS = [
    # elementwise methods
    *[_unary(n) for n in ("exp", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu")],
    _unary("log1p", (-0.9, 3.0)),
    *[_unary(n, POSITIVE) for n in ("log", "sqrt")],
    Form("x.round()", lambda x: x.round(), gg.round, ("round",)),
    Form("x.round(1)", lambda x: x.round(1), lambda x: gg.round(x, 1), ("round",)),
    Form("x.clip(-1, 1)", lambda x: x.clip(-1.0, 1.0), lambda x: gg.clip(x, -1.0, 1.0), ("clip",)),
    Form("x.astype(float32)", lambda x: x.astype(np.float32), lambda x: gg.astype(x, np.float32), ("astype",)),
    Form("x.float()", lambda x: x.float(), lambda x: gg.astype(x, np.float32), ("float",)),
    Form(
        "x.double()", lambda x: x.float().double(), lambda x: gg.astype(gg.astype(x, "float32"), "float64"), ("double",)
    ),
    # reductions
    *[f for n in ("sum", "mean", "prod", "max", "min", "var", "std", "logsumexp") for f in _reduction(n)],
    *_reduction("var", ddof=0),
    *_reduction("std", ddof=0),
    Form("x.argmax()", lambda x: x.argmax(), gg.argmax, ("argmax",)),
    Form("x.argmin(axis=-1)", lambda x: x.argmin(axis=-1), lambda x: gg.argmin(x, axis=-1), ("argmin",), min_dims=1),
    Form("x.cumsum()", lambda x: x.cumsum(), gg.cumsum, ("cumsum",)),
    Form("x.cumsum(axis=-1)", lambda x: x.cumsum(axis=-1), lambda x: gg.cumsum(x, axis=-1), ("cumsum",), min_dims=1),
    Form("x.cumprod()", lambda x: x.cumprod(), gg.cumprod, ("cumprod",)),
    Form("x.cumprod(axis=0)", lambda x: x.cumprod(axis=0), lambda x: gg.cumprod(x, axis=0), ("cumprod",), min_dims=1),
    Form("x.trace()", lambda x: x.trace(), gg.trace, ("trace",), min_dims=2),
    Form("x.trace(1, 1, 0)", lambda x: x.trace(1, 1, 0), lambda x: gg.trace(x, 1, 1, 0), ("trace",), min_dims=2),
    Form("x.argsort()", lambda x: x.argsort(), gg.argsort, ("argsort",), min_dims=1),
    Form("x.argsort(axis=None)", lambda x: x.argsort(axis=None), lambda x: gg.argsort(x, axis=None), ("argsort",)),
    # shape methods
    Form("x.reshape(-1)", lambda x: x.reshape(-1), lambda x: gg.reshape(x, (-1,)), ("reshape",)),
    Form("x.reshape((1, -1))", lambda x: x.reshape((1, -1)), lambda x: gg.reshape(x, (1, -1)), ("reshape",)),
    Form("x.reshape(1, -1)", lambda x: x.reshape(1, -1), lambda x: gg.reshape(x, (1, -1)), ("reshape",)),
    Form("x.T", lambda x: x.T, gg.transpose, ("T",)),
    Form("x.transpose()", lambda x: x.transpose(), gg.transpose, ("transpose",)),
    Form(
        "x.transpose(1, 0)",
        lambda x: x.transpose(1, 0),
        lambda x: gg.transpose(x, (1, 0)),
        ("transpose",),
        min_dims=2,
        max_dims=2,
    ),
    Form(
        "x.permute(1, 0)",
        lambda x: x.permute(1, 0),
        lambda x: gg.transpose(x, (1, 0)),
        ("permute",),
        min_dims=2,
        max_dims=2,
    ),
    Form("x.swapaxes(0, -1)", lambda x: x.swapaxes(0, -1), lambda x: gg.swapaxes(x, 0, -1), ("swapaxes",), min_dims=1),
    Form("x.flatten()", lambda x: x.flatten(), gg.flatten, ("flatten",)),
    Form("x.flatten(1)", lambda x: x.flatten(1), lambda x: gg.flatten(x, 1), ("flatten",), min_dims=2),
    Form("x.squeeze()", lambda x: x.expand_dims(0).squeeze(), lambda x: gg.squeeze(gg.expand_dims(x, 0)), ("squeeze",)),
    Form("x.expand_dims(0)", lambda x: x.expand_dims(0), lambda x: gg.expand_dims(x, 0), ("expand_dims",)),
    Form(
        "x.broadcast_to",
        lambda x: x.broadcast_to((2, *x.shape)),
        lambda x: gg.broadcast_to(x, (2, *x.shape)),
        ("broadcast_to",),
    ),
    Form("x.ravel()", lambda x: x.ravel(), gg.ravel, ("ravel",)),
    Form("x.repeat(2)", lambda x: x.repeat(2), lambda x: gg.repeat(x, 2), ("repeat",)),
    Form(
        "x.repeat(2, axis=-1)", lambda x: x.repeat(2, axis=-1), lambda x: gg.repeat(x, 2, -1), ("repeat",), min_dims=1
    ),
    Form("x.diagonal()", lambda x: x.diagonal(), gg.diagonal, ("diagonal",), min_dims=2),
    Form(
        "x.diagonal(-1, 1, 0)",
        lambda x: x.diagonal(-1, 1, 0),
        lambda x: gg.diagonal(x, -1, 1, 0),
        ("diagonal",),
        min_dims=2,
    ),
    Form("x.take([0, -1])", lambda x: x.take([0, -1]), lambda x: gg.take(x, [0, -1]), ("take",), min_dims=1),
    Form(
        "x.take([1, 0], axis=-1, mode=wrap)",
        lambda x: x.take([1, 0], axis=-1, mode="wrap"),
        lambda x: gg.take(x, [1, 0], axis=-1, mode="wrap"),
        ("take",),
        min_dims=1,
    ),
    # linear algebra
    Form(
        "a.matmul(b)",
        lambda a, b: a.matmul(b.T),
        lambda a, b: gg.matmul(a, gg.transpose(b)),
        ("matmul",),
        2,
        min_dims=2,
    ),
    Form("a @ b", lambda a, b: a @ b.T, lambda a, b: gg.matmul(a, gg.transpose(b)), ("__matmul__",), 2, min_dims=2),
    Form(
        "array @ x",
        lambda x: _left(x) @ x,
        lambda x: gg.matmul(_left(x), x),
        ("__rmatmul__",),
        min_dims=2,
    ),
    Form("a.dot(b)", lambda a, b: a.dot(b.T), lambda a, b: gg.dot(a, gg.transpose(b)), ("dot",), 2, min_dims=2),
    # arithmetic operators
    Form("a + b", lambda a, b: a + b, gg.add, ("__add__",), 2),
    Form("a - b", lambda a, b: a - b, gg.subtract, ("__sub__",), 2),
    Form("a * b", lambda a, b: a * b, gg.multiply, ("__mul__",), 2),
    Form("a / b", lambda a, b: a / b, gg.divide, ("__truediv__",), 2, domain=POSITIVE),
    Form("a ** b", lambda a, b: a**b, gg.power, ("__pow__",), 2, domain=POSITIVE),
    Form("a % b", lambda a, b: a % b, gg.remainder, ("__mod__",), 2, domain=POSITIVE),
    Form("2 % x", lambda x: 2.0 % x, lambda x: gg.remainder(2.0, x), ("__rmod__",), domain=POSITIVE),
    Form("2 + x", lambda x: 2.0 + x, lambda x: gg.add(2.0, x), ("__radd__",)),
    Form("2 - x", lambda x: 2.0 - x, lambda x: gg.subtract(2.0, x), ("__rsub__",)),
    Form("2 * x", lambda x: 2.0 * x, lambda x: gg.multiply(2.0, x), ("__rmul__",)),
    Form("2 / x", lambda x: 2.0 / x, lambda x: gg.divide(2.0, x), ("__rtruediv__",), domain=POSITIVE),
    Form("2 ** x", lambda x: 2.0**x, lambda x: gg.power(2.0, x), ("__rpow__",)),
    Form("array + x", lambda x: np.float64(2.0) + x, lambda x: gg.add(np.float64(2.0), x), ("__radd__",)),
    Form("-x", lambda x: -x, gg.negative, ("__neg__",)),
    Form("+x", lambda x: +x, lambda x: x, ("__pos__",)),
    Form("abs(x)", lambda x: abs(x), gg.abs, ("__abs__",)),
    # comparisons
    Form("a == b", lambda a, b: a == b, gg.equal, ("__eq__",), 2),
    Form("a != b", lambda a, b: a != b, gg.not_equal, ("__ne__",), 2),
    Form("a < b", lambda a, b: a < b, gg.less, ("__lt__",), 2),
    Form("a <= b", lambda a, b: a <= b, gg.less_equal, ("__le__",), 2),
    Form("a > b", lambda a, b: a > b, gg.greater, ("__gt__",), 2),
    Form("a >= b", lambda a, b: a >= b, gg.greater_equal, ("__ge__",), 2),
    # indexing
    Form("x[0]", lambda x: x[0], lambda x: gg.getitem(x, 0), ("__getitem__",), min_dims=1),
    Form(
        "x[..., ::-1]",
        lambda x: x[..., ::-1],
        lambda x: gg.getitem(x, (Ellipsis, slice(None, None, -1))),
        ("__getitem__",),
        min_dims=1,
    ),
    Form("x[[0, 0]]", lambda x: x[[0, 0]], lambda x: gg.getitem(x, np.array([0, 0])), ("__getitem__",), min_dims=1),
    Form("x[x > 0]", lambda x: x[x > 0], lambda x: gg.getitem(x, gg.greater(x, 0.0)), ("__getitem__",), min_dims=1),
    Form(
        "list(x)",
        lambda x: gg.stack(list(x)),
        lambda x: gg.stack([gg.getitem(x, i) for i in range(x.shape[0])]),
        ("__iter__",),
        min_dims=1,
    ),
]

OPERATOR_DUNDERS = {
    f"__{name}__"
    for base in (
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "matmul",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
    )
    for name in (base, "r" + base)
} | {f"__{n}__" for n in ("neg", "pos", "abs", "invert", "eq", "ne", "lt", "le", "gt", "ge", "getitem", "iter")}
"""Operators that stand for an op (in-place operators are the engine's tests)."""


def _shapes(form: Form) -> st.SearchStrategy:
    if form.nargs == 1:
        return hnp.array_shapes(min_dims=form.min_dims, max_dims=form.max_dims, min_side=1, max_side=3).map(
            lambda s: [s]
        )
    if form.min_dims >= 2:  # a @ b.T: two matrices of one shape
        return hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=3).map(lambda s: [s, s])
    return hnp.mutually_broadcastable_shapes(num_shapes=form.nargs, min_dims=0, max_dims=3, max_side=3).map(
        lambda r: list(r.input_shapes)
    )


def _run(f: Callable[..., Any], arrays: list[np.ndarray], v_seed: int) -> tuple[Tensor, list[np.ndarray | None]]:
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*xs)
    if out.requires_grad:
        v = np.random.default_rng(v_seed).standard_normal(out.shape)
        out.backward(v)
    return out, [None if x.grad is None else x.grad.data for x in xs]


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_method_form_matches_function_form(form: Form, data: st.DataObject) -> None:
    shapes = data.draw(_shapes(form))
    elements = st.floats(*form.domain, allow_nan=False, width=64)
    arrays = [data.draw(hnp.arrays(np.float64, s, elements=elements)) for s in shapes]
    got, got_grads = _run(form.method, arrays, 0)
    want, want_grads = _run(form.function, arrays, 0)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.data, want.data)
    assert got.op == want.op, f"{form.name} recorded {got.op}, the function form {want.op}"
    for g, w in zip(got_grads, want_grads):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_array_equal(g, w)


def test_every_method_and_operator_is_in_the_table() -> None:
    """A method named like an op, or an operator Tensor defines, needs a row in FORMS."""
    in_table = {name for form in FORMS for name in form.uses}
    methods = {n for n in dir(Tensor) if not n.startswith("_") and n in gg.ops.__all__}
    operators = {n for n in vars(Tensor) if n in OPERATOR_DUNDERS}
    missing = sorted((methods | operators) - in_table)
    assert not missing, f"Tensor methods/operators without a form check: {missing}"
