"""Checking gradients: finite differences against the engine, and the lecture notes' slow methods.

``gradcheck`` compares backprop with float64 central differences, entry by entry or (fast mode)
along random directions: <u, J v> by differences against <J^T u, v> from the engine.

``naive_grad`` and ``path_sum_grad`` compute the same gradients the slow ways the lecture notes
start from, before they introduce backprop. They exist to teach (their costs are the point) and
to test the engine against two independent methods that share only the local derivatives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.engine import backward, input_gradients, topological_order
from graphgrad.autograd.functional import as_differentiable
from graphgrad.autograd.grad_mode import enable_grad, no_grad
from graphgrad.errors import BackwardError, DTypeError, GradcheckError
from graphgrad.tensor import Tensor

__all__ = ["gradcheck", "naive_grad", "path_sum_grad"]


# ---------------------------------------------------------------------------- gradcheck
def _as_inputs(inputs: Sequence[Any]) -> list[Tensor]:
    ts = []
    for i, x in enumerate(inputs):
        arr = np.asarray(x.data if isinstance(x, Tensor) else x)
        if arr.dtype != np.float64:
            raise DTypeError(f"gradcheck: input {i} has dtype {arr.dtype}; use float64 for finite differences")
        ts.append(Tensor(arr.copy(), requires_grad=True))
    return ts


def _pairing(u: np.ndarray, f: Callable[..., Tensor], ts: list[Tensor]) -> Callable[[], float]:
    """<u, f(x)> at the tensors' current values, without recording a graph."""

    def value() -> float:
        with no_grad():
            return float(np.sum(np.asarray(f(*ts).data, dtype=np.float64) * u))

    return value


def _directional(value: Callable[[], float], t: Tensor, d: np.ndarray, eps: float) -> float:
    """Central difference of ``value`` along ``d`` in input ``t`` (restored afterwards)."""
    original = t.data.copy()
    t.data += eps * d
    plus = value()
    t.data[...] = original - eps * d
    minus = value()
    t.data[...] = original
    return (plus - minus) / (2 * eps)


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
    perturbs every input entry (2 forward passes per entry) and reports the worst entry of each
    input that fails; ``fast=True`` checks one random direction v per input instead
    (<u, J v> by differences against <J^T u, v> from one backward: 2 forward passes per input).
    On failure raises :class:`GradcheckError` (or returns False when ``raise_exception=False``).
    """
    ts = _as_inputs(inputs)
    rng = np.random.default_rng(seed)
    out = f(*ts)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise GradcheckError("gradcheck: f must return a Tensor that depends on its inputs")
    u = rng.standard_normal(out.shape)
    analytic = backward([out], [Tensor(u.astype(out.data.dtype))], inputs=ts) or []
    grads = [np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64) for t, g in zip(ts, analytic)]
    value = _pairing(u, f, ts)

    problems = []
    for i, (t, g) in enumerate(zip(ts, grads)):
        if fast:
            d = rng.standard_normal(t.shape)
            numeric = _directional(value, t, d, eps)
            engine = float(np.sum(g * d))
            if not abs(numeric - engine) <= atol + rtol * abs(numeric):
                problems.append(
                    f"input {i} (shape {t.shape}) along a random direction: engine <J^T u, v> = {engine:.10g}, "
                    f"finite differences <u, J v> = {numeric:.10g}"
                )
            continue
        numeric_grad = np.zeros(t.shape)
        flat = numeric_grad.reshape(-1)
        for j in range(flat.size):
            d = np.zeros(t.shape)
            d.reshape(-1)[j] = 1.0
            flat[j] = _directional(value, t, d, eps)
        excess = np.abs(g - numeric_grad) - (atol + rtol * np.abs(numeric_grad))
        bad = ~(excess <= 0)  # NaN on either side counts as bad
        if bad.any():
            k = int(np.argmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf).reshape(-1)))
            idx = tuple(int(a) for a in np.unravel_index(k, t.shape)) if t.ndim else ()
            problems.append(
                f"input {i} (shape {t.shape}): {int(bad.sum())} of {bad.size} entries differ; worst at index "
                f"{idx}: engine {g.reshape(-1)[k]:.10g}, finite differences {flat[k]:.10g}"
            )
    if problems:
        if raise_exception:
            raise GradcheckError("gradcheck failed: " + "; ".join(problems))
        return False
    return True


# ---------------------------------------------------------------------------- the graph, read slowly
class _LocalJacobians:
    """Each node's Jacobian with respect to each of its inputs, computed once and cached.

    Seed 001's "caching partial derivatives": row i of the local Jacobians of node t is what the
    engine's :func:`input_gradients` gives for the one-hot upstream gradient e_i (the same rules,
    unbroadcast and all, that backward applies). Stored densely as float64 ``(t.size,
    input.size)`` matrices, which is why these methods are for graphs of scalars and small tensors.
    ``rule_calls`` counts the nodes' rule applications (one per row).
    """

    def __init__(self) -> None:
        self._cache: dict[int, tuple[np.ndarray | None, ...]] = {}
        self.rule_calls = 0

    def __call__(self, t: Tensor) -> tuple[np.ndarray | None, ...]:
        cached = self._cache.get(id(t))
        if cached is not None:
            return cached
        node = t._node
        assert node is not None and node.inputs is not None
        jacs = [np.zeros((t.data.size, p.data.size)) if p.requires_grad else None for p in node.inputs]
        for i in range(t.data.size):
            onehot = np.zeros(t.shape, dtype=t.data.dtype)
            onehot.reshape(-1)[i] = 1
            with no_grad():
                rows = input_gradients(t, Tensor(onehot))
            self.rule_calls += 1
            for jac, row in zip(jacs, rows):
                if jac is not None and row is not None:
                    jac[i] = np.asarray(row.data, dtype=np.float64).reshape(-1)
        result = tuple(jacs)
        self._cache[id(t)] = result
        return result


def _scalar_output(output: Any, where: str) -> Tensor:
    if not isinstance(output, Tensor):
        raise BackwardError(f"{where}: expected a Tensor, got {type(output).__name__}")
    if output.data.size != 1:
        raise BackwardError(
            f"{where}: the output has shape {output.shape}; these methods differentiate a one-element "
            "tensor (reduce it first, e.g. .sum())"
        )
    return output


# ---------------------------------------------------------------------------- naive: one sweep per input
def naive_grad(f: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """Gradient of the one-element ``f(*inputs)`` by the lecture notes' naive method: forward mode, one input at a time.

    For every scalar entry x_j of every input, one sweep through the recorded graph in
    topological order carries dv/dx_j forward to every node v (the chain rule per input, as seed
    000 does it before backprop). Each node's local Jacobians come from its VJP rules, computed
    once and cached, so the cost is ~ (nodes + edges) x (number of input scalars): quadratic in
    the size of the graph when every weight is an input, where backprop is linear.
    Inputs that are arrays or numbers become tensors that require a gradient. Returns one tensor
    per input, of its shape and dtype.
    """
    xs = [as_differentiable(x)[0] for x in inputs]
    with enable_grad():
        out = _scalar_output(f(*xs), "naive_grad")
    if not out.requires_grad:
        return [Tensor(np.zeros_like(x.data)) for x in xs]
    order = topological_order([out])
    local = _LocalJacobians()
    results = []
    for x in xs:
        flat = np.zeros(x.data.size)
        for j in range(flat.size):
            tangents: dict[int, np.ndarray] = {}
            for t in order:
                if t is x:
                    seed = np.zeros(x.data.size)
                    seed[j] = 1.0
                    tangents[id(t)] = seed
                    continue
                if t._node is None or any(t is other for other in xs):
                    continue  # another input or leaf: its derivative with respect to x_j is 0
                total = None
                for jac, p in zip(local(t), t._node.inputs):  # type: ignore[arg-type]
                    tp = tangents.get(id(p))
                    if jac is None or tp is None:
                        continue
                    term = jac @ tp
                    total = term if total is None else total + term
                if total is not None:
                    tangents[id(t)] = total
            final = tangents.get(id(out))
            flat[j] = 0.0 if final is None else float(final[0])
        results.append(Tensor(flat.reshape(x.shape).astype(x.data.dtype)))
    return results


# ---------------------------------------------------------------------------- path sum: every path
def path_sum_grad(
    output: Tensor, inputs: Sequence[Tensor] | None = None, max_paths: int = 1_000_000
) -> list[Tensor] | dict[Tensor, Tensor]:
    """d output / d input as the sum, over every path from the input to ``output``, of the product of
    the local derivatives on the path's edges (seed 003's formula before dynamic programming).

    Paths are enumerated one by one, so the cost is the number of paths times their length:
    exponential in depth when nodes are shared (a chain of n diamonds has 2^n paths), which is
    the waste that backprop removes by summing at each node once. Local Jacobians are cached per
    node. With ``inputs``, returns one gradient per input (zeros where no path leads there); with
    ``inputs=None``, a dict from every leaf that requires a gradient to its gradient. Reads the
    recorded graph without freeing it or touching ``.grad``. Raises :class:`BackwardError` after
    ``max_paths`` paths.
    """
    output = _scalar_output(output, "path_sum_grad")
    if not output.requires_grad:
        raise BackwardError(f"path_sum_grad: the output (shape {output.shape}) does not require a gradient")
    order = topological_order([output])
    targets = [t for t in order if t._node is None] if inputs is None else list(inputs)
    slot = {id(t): i for i, t in enumerate(targets)}
    totals = [np.zeros(t.data.size) for t in targets]
    local = _LocalJacobians()
    paths = 0
    stack: list[tuple[Tensor, np.ndarray]] = [(output, np.ones(1))]  # (node, product along the path so far)
    while stack:
        t, product = stack.pop()
        i = slot.get(id(t))
        if i is not None:
            totals[i] += product
        node = t._node
        if node is None:
            paths += 1
            if paths > max_paths:
                raise BackwardError(
                    f"path_sum_grad: more than {max_paths} paths from the leaves to the output; the path "
                    "sum is exponential in depth (that is its lesson). Use backward() for this graph"
                )
            continue
        for jac, p in zip(local(t), node.inputs):  # type: ignore[arg-type]
            if jac is not None:
                stack.append((p, product @ jac))
    grads = [Tensor(total.reshape(t.shape).astype(t.data.dtype)) for t, total in zip(targets, totals)]
    if inputs is None:
        return dict(zip(targets, grads))
    return grads
