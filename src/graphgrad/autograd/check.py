"""Checking gradients: finite differences against the engine, and the seeds' slow methods.

``gradcheck`` compares backprop with float64 central differences, entry by entry or (fast mode)
along random directions: <u, J v> by differences against <J^T u, v> from the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.engine import backward
from graphgrad.autograd.grad_mode import no_grad
from graphgrad.errors import DTypeError, GradcheckError
from graphgrad.tensor import Tensor


def _as_inputs(inputs: Sequence[Any]) -> list[Tensor]:
    ts = []
    for i, x in enumerate(inputs):
        arr = np.asarray(x.data if isinstance(x, Tensor) else x)
        if arr.dtype != np.float64:
            raise DTypeError(f"gradcheck: input {i} has dtype {arr.dtype}; use float64 for finite differences")
        ts.append(Tensor(arr.copy(), requires_grad=True))
    return ts


def _pairing(out: Tensor, u: np.ndarray, f: Callable[..., Tensor], ts: list[Tensor]) -> Callable[[], float]:
    def value() -> float:
        with no_grad():
            return float(np.sum(np.asarray(f(*ts).data, dtype=np.float64) * u))

    return value


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    fast: bool = False,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check the engine's gradient of ``f`` at float64 ``inputs`` against central differences.

    A random upstream gradient ``u`` turns any output into the scalar <u, f(x)>. Exact mode
    perturbs every input entry; ``fast=True`` checks one random direction per input instead.
    On failure raises :class:`GradcheckError` (or returns False) with the worst entry per input.
    """
    ts = _as_inputs(inputs)
    rng = np.random.default_rng(seed)
    out = f(*ts)
    if not isinstance(out, Tensor) or not out._requires_grad:
        raise GradcheckError("gradcheck: f must return a Tensor that depends on its inputs")
    u = rng.standard_normal(out.shape)
    analytic = backward([out], [Tensor(u)], inputs=ts)
    grads = [np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64) for t, g in zip(ts, analytic)]
    value = _pairing(out, u, f, ts)

    problems = []
    if fast:
        dirs = [rng.standard_normal(t.shape) for t in ts]
        for t, d in zip(ts, dirs):
            t.data += eps * d
        plus = value()
        for t, d in zip(ts, dirs):
            t.data -= 2 * eps * d
        minus = value()
        for t, d in zip(ts, dirs):
            t.data += eps * d
        numeric = (plus - minus) / (2 * eps)
        engine = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
        if not abs(numeric - engine) <= atol + rtol * abs(numeric):
            problems.append(f"along a random direction: engine {engine:.10g}, finite differences {numeric:.10g}")
    else:
        for i, (t, g) in enumerate(zip(ts, grads)):
            numeric = np.zeros(t.shape)
            flat = t.data.reshape(-1)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + eps
                plus = value()
                flat[j] = old - eps
                minus = value()
                flat[j] = old
                numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
            err = np.abs(g - numeric) - (atol + rtol * np.abs(numeric))
            if err.size and (np.max(err) > 0 or not np.all(np.isfinite(g))):
                k = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
                idx = np.unravel_index(k, t.shape) if t.ndim else ()
                problems.append(
                    f"input {i} (shape {t.shape}) at index {tuple(int(a) for a in idx)}: engine "
                    f"{g.reshape(-1)[k]:.10g}, finite differences {numeric.reshape(-1)[k]:.10g}"
                )
    if problems:
        if raise_exception:
            raise GradcheckError("gradcheck failed: " + "; ".join(problems))
        return False
    return True
