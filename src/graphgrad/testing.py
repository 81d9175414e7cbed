"""Checks for an op's gradients: the ones the test suite runs on every built-in op, for your own.

:func:`check_op` runs them all on sample inputs; each is also a function of its own:

- :func:`check_first_order`: the gradient against float64 central differences, and no input
  changed by the op;
- :func:`check_create_graph`: a recorded backward (``create_graph=True``, the path that higher
  derivatives and ``jvp`` take) gives the plain backward's numbers;
- :func:`check_second_order`: the VJP map (x, v) -> J(x)^T v differentiated in x and in v against
  central differences, so a rule that is right only to first order, or that cuts the upstream
  gradient out of the graph, is caught;
- :func:`check_slow_methods`: ``naive_grad`` and ``path_sum_grad`` (the lecture notes' slow
  methods, which share only the local derivatives with backward) agree with backward;
- :func:`check_where_safe`: inside the branch ``where`` does not take, every input gets exactly
  zero gradient, at the given inputs and at any ``edges`` (points where the op overflows or is
  undefined).

Each raises :class:`graphgrad.errors.GradcheckError` naming the op, the check and the input.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.check import gradcheck, naive_grad, path_sum_grad
from graphgrad.autograd.engine import backward, topological_order
from graphgrad.autograd.grad_mode import enable_grad, no_grad
from graphgrad.errors import GradcheckError
from graphgrad.tensor import Tensor

__all__ = [
    "check_create_graph",
    "check_first_order",
    "check_op",
    "check_second_order",
    "check_slow_methods",
    "check_where_safe",
    "vjp_map",
]

OpFn = Callable[..., Tensor]


def _name(op: Any) -> str:
    return str(getattr(op, "name", None) or getattr(op, "__name__", None) or "op")


def _float64(args: Sequence[Any]) -> list[np.ndarray]:
    arrays = []
    for a in args:
        arr = np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
        arrays.append(arr)
    return arrays


def _output_shape(op: OpFn, arrays: Sequence[np.ndarray]) -> tuple[int, ...]:
    with no_grad():
        return tuple(op(*[Tensor(a) for a in arrays]).shape)


def _fail(op: OpFn, check: str, exc: Exception) -> GradcheckError:
    return GradcheckError(f"{_name(op)}: {check}: {exc}")


def check_first_order(
    op: OpFn, *args: Any, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4
) -> None:
    """Backward's gradient of ``op`` at ``args`` (made float64) against central differences, entry
    by entry; the op must leave its inputs unchanged."""
    arrays = _float64(args)
    originals = [a.copy() for a in arrays]
    try:
        gradcheck(op, arrays, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as exc:
        raise _fail(op, "first derivatives", exc) from None
    for k, (a, o) in enumerate(zip(arrays, originals)):
        if not np.array_equal(a, o, equal_nan=True):
            raise GradcheckError(f"{_name(op)}: input {k} was changed by the op (an op must not write into its inputs)")


def _leaf_grads(op: OpFn, arrays: Sequence[np.ndarray], v: np.ndarray, create_graph: bool) -> list[np.ndarray | None]:
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with enable_grad():
        found = backward([op(*xs)], [Tensor(v)], create_graph=create_graph, inputs=xs) or []
    return [None if g is None else np.asarray(g.data) for g in found]


def _upstream(op: OpFn, arrays: Sequence[np.ndarray], given: Any, seed: int) -> np.ndarray:
    """The upstream gradient to use: ``given``, or one drawn from a normal with ``seed``."""
    shape = _output_shape(op, arrays)
    if given is None:
        return np.random.default_rng(seed).standard_normal(shape)
    v = np.asarray(given, dtype=np.float64)
    if v.shape != shape:
        raise GradcheckError(f"{_name(op)}: the upstream gradient has shape {v.shape}, the output {shape}")
    return v


def check_create_graph(op: OpFn, *args: Any, v: Any = None, seed: int = 0) -> None:
    """A recorded backward gives the plain backward's gradients (same shapes, dtypes, numbers) for
    the upstream gradient ``v`` (default: random)."""
    arrays = _float64(args)
    v = _upstream(op, arrays, v, seed)
    plain = _leaf_grads(op, arrays, v, create_graph=False)
    recorded = _leaf_grads(op, arrays, v, create_graph=True)
    for k, (p, r) in enumerate(zip(plain, recorded)):
        if (p is None) != (r is None) or (
            p is not None and r is not None
            and (p.shape != r.shape or p.dtype != r.dtype or not np.allclose(r, p, rtol=1e-12, atol=1e-14))
        ):  # fmt: skip
            raise GradcheckError(
                f"{_name(op)}: create_graph: input {k} gets {r} from a recorded backward but {p} from a plain one"
            )


def vjp_map(op: OpFn) -> Callable[..., Tensor]:
    """(x_1, ..., x_n, v) -> the gradients of <v, op(x)> in every x_k, flattened and joined.

    Recorded, so it can be differentiated again in the x_k and in v. ``0 * x_k`` is added so that
    a gradient that does not depend on x (linear ops) is still a tensor of the graph, whose
    derivative in x must then be 0.
    """

    def grads(*args: Tensor) -> Tensor:
        from graphgrad.ops import concatenate

        *xs, v = args
        with enable_grad():
            y = op(*xs)
            gs = backward([y], [v], retain_graph=True, create_graph=True, inputs=list(xs))
            parts = [(x * 0.0 if g is None else g + x * 0.0).reshape(-1) for x, g in zip(xs, gs or [])]
            return parts[0] if len(parts) == 1 else concatenate(parts)

    return grads


def check_second_order(
    op: OpFn, *args: Any, v: Any = None, seed: int = 0, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4
) -> None:
    """The derivatives of the VJP map (x, v) -> J(x)^T v in x and in v against central differences,
    at the upstream gradient ``v`` (default: random): holds the rules to being written with
    differentiable graphgrad ops."""
    arrays = _float64(args)
    v = _upstream(op, arrays, v, seed)
    try:
        gradcheck(vjp_map(op), [*arrays, v], eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as exc:
        raise _fail(op, f"second derivatives (the upstream gradient is input {len(arrays)})", exc) from None


def _least_precise(out: Tensor) -> np.dtype:
    dtypes = [t.dtype for t in topological_order([out]) if t.dtype.kind == "f"]
    return min(dtypes, key=lambda d: d.itemsize)


def check_slow_methods(op: OpFn, *args: Any, w: Any = None, seed: int = 0) -> None:
    """``naive_grad`` and ``path_sum_grad`` of <w, op(x)> (``w`` default: random) give backward's gradient."""
    arrays = _float64(args)
    w = Tensor(_upstream(op, arrays, w, seed))

    def paired(*xs: Tensor) -> Tensor:
        return (op(*xs) * w).sum()

    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with enable_grad():
        out = paired(*xs)
    by_paths = path_sum_grad(out, xs)
    assert isinstance(by_paths, list)
    rtol = max(1e-10, 100 * float(np.finfo(_least_precise(out)).eps))
    found = backward([out], [None], inputs=xs) or []
    by_sweeps = naive_grad(paired, [a.copy() for a in arrays])
    for k, (x, g) in enumerate(zip(xs, found)):
        want = np.zeros(x.shape) if g is None else np.asarray(g.data)
        for method, got in (("naive_grad", by_sweeps[k]), ("path_sum_grad", by_paths[k])):
            if got.shape != want.shape or not np.allclose(got.data, want, rtol=rtol, atol=1e-12):
                raise GradcheckError(
                    f"{_name(op)}: {method} gives input {k} the gradient {got.data}, backward {want}"
                )


def check_where_safe(op: OpFn, *args: Any, edges: Sequence[Sequence[Any]] = ()) -> None:
    """``sum(where(True, 0, op(x)))`` gives every input a gradient of exactly 0 (never NaN), in a
    plain and a recorded backward, at ``args`` and at each case of ``edges`` (one value per input)."""
    from graphgrad.ops import where

    for case in [args, *edges]:
        arrays = _float64(case)
        for create_graph in (False, True):
            xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
            with warnings.catch_warnings(), np.errstate(all="ignore"), enable_grad():
                warnings.simplefilter("ignore", RuntimeWarning)  # the untaken branch may overflow: the point
                y = op(*xs)
                z = where(np.ones(y.shape, dtype=bool), Tensor(np.zeros(y.shape)), y)
                found = backward([z.sum()], [None], create_graph=create_graph, inputs=xs) or []
            for k, g in enumerate(found):
                if g is not None and np.any(g.data != 0):
                    mode = "a recorded" if create_graph else "a plain"
                    raise GradcheckError(
                        f"{_name(op)}: where: at {[a.tolist() for a in arrays]}, input {k} gets "
                        f"{np.asarray(g.data).tolist()} in {mode} backward through the branch where() did not take"
                    )


def check_op(
    op: OpFn,
    *args: Any,
    second_order: bool = True,
    edges: Sequence[Sequence[Any]] = (),
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    seed: int = 0,
) -> None:
    """Run every check above on ``op`` (a custom op, a built-in op or any function of tensors) at
    the sample inputs ``args`` (arrays or numbers, made float64; keep them away from kinks).

    ``second_order=False`` skips the second derivatives (for an op whose rules are not meant to be
    differentiated again); ``edges`` are extra inputs for the ``where`` check.
    """
    check_first_order(op, *args, eps=eps, atol=atol, rtol=rtol)
    check_create_graph(op, *args, seed=seed)
    if second_order:
        check_second_order(op, *args, seed=seed, eps=eps, atol=atol, rtol=rtol)
    check_slow_methods(op, *args, seed=seed)
    check_where_safe(op, *args, edges=edges)
