"""Size-0 inputs for every reduction and every loss, following PyTorch.

A reduction over nothing is its identity where it has one (sum 0, prod 1, logsumexp -inf), NaN for
the mean-like ones (mean, var, std; PyTorch's value), and an error where there is no answer (max,
min, argmax of nothing: PyTorch raises, graphgrad raises one of its own errors). A reduction whose
output is itself empty is fine for every op. Losses: ``"mean"`` of no terms is NaN, ``"sum"`` is 0,
``"none"`` is empty. Backward never raises and gives the input an empty gradient of its shape.
The rule is written out here (no PyTorch needed); a second test compares with PyTorch itself.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor
from graphgrad.errors import GraphgradError

NAN = math.nan
REDUCTIONS: dict[str, float | None] = {
    "sum": 0.0,
    "mean": NAN,
    "prod": 1.0,
    "max": None,
    "min": None,
    "var": NAN,
    "std": NAN,
    "logsumexp": -math.inf,
    "argmax": None,
    "argmin": None,
}
"""Each reduction's value over an empty slice; None: there is none, the op raises."""

GRID: list[tuple[tuple[int, ...], Any, bool]] = [
    ((0,), None, False),
    ((0, 3), None, False),
    ((0, 3), 0, False),
    ((0, 3), 1, False),
    ((3, 0), 0, False),
    ((3, 0), 1, False),
    ((3, 0), 1, True),
    ((2, 0, 3), (0, 2), True),
]
"""(shape, axis, keepdims): whole-tensor reductions, empty slices with a non-empty output, and the reverse."""

_KNOWN_REDUCTIONS: dict[str, str] = {}  # reduction -> why an empty slice fails (strict xfail); empty: none


def empty_slices(shape: tuple[int, ...], axis: Any) -> bool:
    """True when the reduction has output entries that reduce over nothing."""
    out = np.sum(np.empty(shape), axis=axis)
    return np.size(out) > 0


def reduction_cases() -> list[Any]:
    params = []
    for name in REDUCTIONS:
        for shape, axis, keepdims in GRID:
            if name.startswith("arg") and (isinstance(axis, tuple) or keepdims):
                continue  # argmax/argmin take one axis
            reason = _KNOWN_REDUCTIONS.get(name) if empty_slices(shape, axis) else None
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(
                pytest.param(name, shape, axis, keepdims, id=f"{name}-{shape}-axis={axis}-{keepdims}", marks=marks)
            )
    return params


def run_reduction(name: str, shape: tuple[int, ...], axis: Any, keepdims: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(value, input gradient for an all-ones upstream) of the reduction on a size-0 float64 tensor."""
    x = Tensor(np.zeros(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (mean of empty slice...) reaches the user
        out = getattr(gg, name)(x, axis=axis, keepdims=keepdims)
        if not out.requires_grad:
            return out.data, None
        out.backward(np.ones(out.shape))
    assert x.grad is not None, f"{name}: no gradient for the size-0 input"
    return out.data, x.grad.data


@pytest.mark.parametrize(("name", "shape", "axis", "keepdims"), reduction_cases())
def test_reduction_of_size0_input(name: str, shape: tuple[int, ...], axis: Any, keepdims: bool) -> None:
    expected_shape = np.sum(np.empty(shape), axis=axis, keepdims=keepdims).shape
    fill = REDUCTIONS[name]
    if empty_slices(shape, axis) and fill is None:
        with pytest.raises(GraphgradError, match=name):
            getattr(gg, name)(Tensor(np.zeros(shape)), axis=axis, keepdims=keepdims)
        return
    value, grad = run_reduction(name, shape, axis, keepdims)
    assert value.shape == expected_shape
    np.testing.assert_array_equal(value, np.full(expected_shape, NAN if fill is None else fill))
    if grad is not None:
        assert grad.shape == shape and grad.dtype == np.float64


def test_every_reduction_is_in_the_table() -> None:
    assert set(gg.ops.reduce.__all__) <= set(REDUCTIONS), sorted(set(gg.ops.reduce.__all__) - set(REDUCTIONS))


# ---------------------------------------------------------------------------- losses
def _classes(z: np.ndarray) -> np.ndarray:
    return np.zeros(z.shape[:-1], dtype=np.int64)


LOSSES: dict[str, tuple[Callable[..., Any], list[tuple[int, ...]]]] = {
    "cross_entropy": (lambda x, r: gg.cross_entropy(x, _classes(x.data), reduction=r), [(0, 3), (2, 0, 3)]),
    "cross_entropy[probabilities]": (
        lambda x, r: gg.cross_entropy(x, np.full(x.shape, 0.25), reduction=r),
        [(0, 4)],
    ),
    "nll_loss": (lambda x, r: gg.nll_loss(x, _classes(x.data), reduction=r), [(0, 3)]),
    "binary_cross_entropy_with_logits": (
        lambda x, r: gg.binary_cross_entropy_with_logits(x, np.zeros(x.shape), reduction=r),
        [(0,), (2, 0)],
    ),
    "binary_cross_entropy": (
        lambda x, r: gg.binary_cross_entropy(gg.sigmoid(x), np.zeros(x.shape), reduction=r),
        [(0,), (2, 0)],
    ),
    "mse_loss": (lambda x, r: gg.mse_loss(x, np.zeros(x.shape), reduction=r), [(0,), (2, 0)]),
    "l1_loss": (lambda x, r: gg.l1_loss(x, np.zeros(x.shape), reduction=r), [(0,), (2, 0)]),
}
"""Each loss of an input of the given size-0 shapes (targets built to fit)."""

_KNOWN_LOSSES: dict[str, str] = {}  # loss -> why its size-0 "mean" fails (strict xfail); empty: none


def loss_cases() -> list[Any]:
    params = []
    for name, (_, shapes) in LOSSES.items():
        for shape in shapes:
            for reduction in ("mean", "sum", "none"):
                reason = _KNOWN_LOSSES.get(name) if reduction == "mean" else None
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                params.append(pytest.param(name, shape, reduction, id=f"{name}-{shape}-{reduction}", marks=marks))
    return params


def run_loss(name: str, shape: tuple[int, ...], reduction: str) -> tuple[np.ndarray, np.ndarray]:
    x = Tensor(np.zeros(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = LOSSES[name][0](x, reduction)
        out.backward(np.ones(out.shape))
    assert x.grad is not None, f"{name}: no gradient for the size-0 input"
    return out.data, x.grad.data


@pytest.mark.parametrize(("name", "shape", "reduction"), loss_cases())
def test_loss_of_size0_input(name: str, shape: tuple[int, ...], reduction: str) -> None:
    value, grad = run_loss(name, shape, reduction)
    rows = shape if name.startswith(("binary", "mse", "l1")) else shape[:-1]
    expected = {"mean": np.array(NAN), "sum": np.array(0.0), "none": np.zeros(rows)}[reduction]
    assert value.shape == expected.shape and value.dtype == np.float64
    np.testing.assert_array_equal(value, expected)
    assert grad.shape == shape


def test_every_loss_is_in_the_table() -> None:
    losses = {n for n in gg.ops.nn.__all__ if n.endswith(("loss", "cross_entropy", "with_logits"))}
    assert losses <= {name.split("[")[0] for name in LOSSES}, sorted(losses - set(LOSSES))


# ---------------------------------------------------------------------------- against PyTorch
def _torch_reduction(torch: Any, name: str, x: Any, axis: Any, keepdims: bool) -> Any:
    dims = tuple(range(x.ndim)) if axis is None else axis
    if name in ("argmax", "argmin"):
        return getattr(torch, name)(x, dim=axis, keepdim=keepdims)
    if name == "prod":  # one axis at a time: torch.prod takes a single dim
        if axis is None:
            return torch.prod(x)
        for d in sorted(np.atleast_1d(axis).tolist(), reverse=True):
            x = torch.prod(x, dim=d, keepdim=keepdims)
        return x
    if name in ("var", "std"):
        return getattr(torch, name)(x, dim=dims, correction=0, keepdim=keepdims)
    if name in ("max", "min"):
        return getattr(torch, f"a{name}")(x, dim=dims, keepdim=keepdims)
    return getattr(torch, name)(x, dim=dims, keepdim=keepdims)


@pytest.mark.parametrize(("name", "shape", "axis", "keepdims"), reduction_cases())
def test_reduction_of_size0_input_against_torch(name: str, shape: tuple[int, ...], axis: Any, keepdims: bool) -> None:
    torch = pytest.importorskip("torch")
    t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns on var of nothing
            want = _torch_reduction(torch, name, t, axis, keepdims)
    except (RuntimeError, IndexError):
        with pytest.raises(GraphgradError):
            getattr(gg, name)(Tensor(np.zeros(shape)), axis=axis, keepdims=keepdims)
        return
    value, grad = run_reduction(name, shape, axis, keepdims)
    np.testing.assert_array_equal(value, want.detach().numpy())
    if want.requires_grad:
        want.backward(torch.ones_like(want))
        assert grad is not None and grad.shape == tuple(t.grad.shape)
        np.testing.assert_array_equal(grad, t.grad.numpy())


_TORCH_LOSSES: dict[str, Callable[..., Any]] = {
    "cross_entropy": lambda F, t, r: F.cross_entropy(t.movedim(-1, 1), _classes_t(t), reduction=r),
    "cross_entropy[probabilities]": lambda F, t, r: F.cross_entropy(t, t.detach() * 0 + 0.25, reduction=r),
    "nll_loss": lambda F, t, r: F.nll_loss(t, _classes_t(t), reduction=r),
    "binary_cross_entropy_with_logits": lambda F, t, r: F.binary_cross_entropy_with_logits(
        t, t.detach() * 0, reduction=r
    ),
    "binary_cross_entropy": lambda F, t, r: F.binary_cross_entropy(t.sigmoid(), t.detach() * 0, reduction=r),
    "mse_loss": lambda F, t, r: F.mse_loss(t, t.detach() * 0, reduction=r),
    "l1_loss": lambda F, t, r: F.l1_loss(t, t.detach() * 0, reduction=r),
}


def _classes_t(t: Any) -> Any:
    import torch

    return torch.zeros(t.shape[:-1], dtype=torch.long)


@pytest.mark.parametrize(("name", "shape", "reduction"), loss_cases())
def test_loss_of_size0_input_against_torch(name: str, shape: tuple[int, ...], reduction: str) -> None:
    torch = pytest.importorskip("torch")
    t = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    want = _TORCH_LOSSES[name](torch.nn.functional, t, reduction)
    want.backward(torch.ones_like(want))
    value, grad = run_loss(name, shape, reduction)
    np.testing.assert_array_equal(value, want.detach().numpy())
    assert grad.shape == tuple(t.grad.shape)
