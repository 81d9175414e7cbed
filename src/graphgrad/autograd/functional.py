"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jacobian``, ``hvp``.

They wrap :func:`graphgrad.autograd.engine.backward` with ``inputs=``, so they return gradients
without touching any ``.grad``. Arguments that are arrays or numbers become fresh float tensors
that require a gradient. An argument that already requires a gradient (it is part of an outer
computation, e.g. inside another ``grad``) is used as is. Whenever grad mode is on and the
function's graph reaches any tensor that requires a gradient besides the transform's own fresh
inputs (a differentiated argument from outside, another argument, a closed-over tensor), the
backward pass is recorded (``create_graph=True``), so the transforms nest: ``grad(grad(f))`` is
the second derivative, mixed partials and closures work, and ``gg.grad(f)(w)`` for a parameter
``w`` gives a gradient that can itself be differentiated (a gradient penalty). Call them under
``no_grad()`` to get plain gradients without that graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphgrad.autograd.engine import backward, topological_order
from graphgrad.autograd.grad_mode import RECORD, enable_grad, get_mode
from graphgrad.errors import BackwardError, ShapeError
from graphgrad.tensor import Tensor

ArgNums = int | Sequence[int]


def as_differentiable(x: Any) -> tuple[Tensor, bool]:
    """``x`` as a tensor that requires a gradient, and whether it came from an outer graph.

    Tensors that already require one are kept (so nested transforms see the outer variable);
    other tensors, arrays and numbers are wrapped (sharing data). Integer and boolean data become
    float32, the library's default float; float arrays keep their dtype.
    """
    if isinstance(x, Tensor) and x.requires_grad:
        return x, True
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind not in "fc":
        data = data.astype(np.float32)
    elif not isinstance(x, (Tensor, np.ndarray, np.generic)) and data.dtype == np.float64:
        data = data.astype(np.float32)  # Python floats and lists: float32, as graphgrad.tensor does
    return Tensor(data, requires_grad=True), False


def _as_output(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


def _argnums(argnums: ArgNums, nargs: int, where: str) -> tuple[tuple[int, ...], bool]:
    nums: tuple[int, ...]
    if isinstance(argnums, (int, np.integer)):
        nums, single = (int(argnums),), True
    else:
        nums, single = tuple(int(a) for a in argnums), False
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"{where}: argnums {argnums} out of range for a function called with {nargs} arguments")
    return tuple(a % nargs for a in nums), single


def _grads_of(
    out: Tensor, xs: Sequence[Tensor], create_graph: bool, seed: Tensor | None = None, retain_graph: bool = False
) -> list[Tensor]:
    """d<seed, out>/dx for each x; zeros where ``out`` does not depend on x."""
    if not out.requires_grad:
        found: list[Tensor | None] = [None] * len(xs)
    else:
        found = backward(  # type: ignore[assignment]
            [out], [seed], retain_graph=retain_graph or create_graph, create_graph=create_graph, inputs=list(xs)
        )
    return [Tensor(np.zeros_like(x.data)) if g is None else g for x, g in zip(xs, found)]


def _prepare(args: tuple, nums: tuple[int, ...]) -> tuple[list[Any], list[Tensor], set[int]]:
    """The arguments with the differentiated ones made tensors, those tensors, and the ids of the
    ones made here (fresh leaves that nothing outside the transform can see)."""
    args_list = list(args)
    xs = []
    fresh = set()
    for a in nums:
        t, outer = as_differentiable(args_list[a])
        if not outer:
            fresh.add(id(t))
        args_list[a] = t
        xs.append(t)
    return args_list, xs, fresh


def _outer_graph(out: Tensor, fresh: set[int]) -> bool:
    """Whether the backward of ``out`` must be recorded: grad mode is on and ``out``'s graph reaches a
    tensor that requires a gradient other than the transform's fresh inputs (closures, other
    arguments, outer variables), so an outer computation may differentiate the result."""
    if not get_mode() & RECORD or not out.requires_grad:
        return False
    return any(t._node is None and id(t) not in fresh for t in topological_order([out]))


def _value_and_aux(result: Any, has_aux: bool, where: str) -> tuple[Tensor, Any]:
    """``f``'s result split into the differentiated output and, with ``has_aux``, the extra value."""
    if not has_aux:
        return _as_output(result), None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ShapeError(
            f"{where}: with has_aux=True, f must return a pair (output, aux), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    return _as_output(result[0]), result[1]


def value_and_grad(
    f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """``f`` -> a function returning ``(f(*args), gradient)`` from one forward and one backward.

    ``f`` must return a one-element tensor. The gradient is one tensor for an int ``argnums``,
    a tuple of tensors (in ``argnums`` order) for a tuple. With ``has_aux=True`` ``f`` returns
    ``(output, aux)``: only ``output`` is differentiated, and the value is ``(output, aux)`` (as JAX).
    """

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums, single = _argnums(argnums, len(args), "value_and_grad")
        args_list, xs, fresh = _prepare(args, nums)
        with enable_grad():
            out, aux = _value_and_aux(f(*args_list, **kwargs), has_aux, "grad")
        create_graph = _outer_graph(out, fresh)
        if out.data.size != 1:
            raise BackwardError(
                f"grad: f returned a tensor of shape {out.shape}; it must return a one-element tensor "
                "(a scalar loss). For vector outputs use graphgrad.jacobian or graphgrad.vjp"
            )
        grads = _grads_of(out, xs, create_graph)
        value = out if create_graph else out.detach()
        return ((value, aux) if has_aux else value), (grads[0] if single else tuple(grads))

    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``f`` -> a function returning the gradient of ``f`` with respect to argument(s) ``argnums``.

    ``graphgrad.grad(lambda x: (x ** 3).sum())(x)`` is ``3 x**2``; nest for higher derivatives.
    With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is ``(gradient, aux)``.
    """
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` is the tuple of ``cotangent^T J`` for each primal.

    One forward now; each call of ``vjp_fn`` is one backward over the kept graph (call it as often
    as needed, e.g. once per row of a Jacobian). ``cotangent`` has the output's shape. With
    ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is ``(output, vjp_fn, aux)``.
    """
    args_list, xs, fresh = _prepare(primals, tuple(range(len(primals))))
    with enable_grad():
        out, aux = _value_and_aux(f(*args_list), has_aux, "vjp")
    create_graph = _outer_graph(out, fresh)

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        seed = cotangent if isinstance(cotangent, Tensor) else Tensor(np.asarray(cotangent, dtype=out.data.dtype))
        if seed.shape != out.shape:
            raise ShapeError(f"vjp: the cotangent has shape {seed.shape}, the output of f has shape {out.shape}")
        return tuple(_grads_of(out, xs, create_graph, seed, retain_graph=True))

    value = out if create_graph else out.detach()
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """``f`` -> a function returning the Jacobian of ``f(*args)`` with respect to ``argnums``.

    Reverse mode: one backward per output entry (each with a one-hot seed), so the cost is
    ``out.size`` backward passes; the result has shape ``out.shape + x.shape``. A tuple
    ``argnums`` gives a tuple of Jacobians.
    """

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _argnums(argnums, len(args), "jacobian")
        args_list, xs, fresh = _prepare(args, nums)
        with enable_grad():
            out = _as_output(f(*args_list, **kwargs))
        create_graph = _outer_graph(out, fresh)
        m = out.data.size
        rows: list[list[Tensor]] = [[] for _ in xs]
        for i in range(m):
            seed = np.zeros(out.shape, dtype=out.data.dtype if out.data.dtype.kind == "f" else np.float32)
            seed.reshape(-1)[i] = 1
            grads = _grads_of(out, xs, create_graph, Tensor(seed), retain_graph=i < m - 1)
            for r, g in zip(rows, grads):
                r.append(g)
        jacs = [_assemble(r, out.shape, x.shape, x.data.dtype, create_graph) for r, x in zip(rows, xs)]
        return jacs[0] if single else tuple(jacs)

    jacobian_f.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return jacobian_f


def _assemble(rows: list[Tensor], out_shape: tuple, in_shape: tuple, dtype: Any, create_graph: bool) -> Tensor:
    shape = tuple(out_shape) + tuple(in_shape)
    if not rows:
        return Tensor(np.zeros(shape, dtype=dtype))
    if create_graph:
        from graphgrad.ops import stack

        return stack(rows).reshape(shape)
    return Tensor(np.stack([r.data for r in rows]).reshape(shape))


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """Hessian of ``f`` at ``x`` times ``v``, by double backward (no Hessian is formed).

    First backward (recorded, ``create_graph=True``) gives g(x) = grad f(x) as a graph; the
    second differentiates <g(x), v> with respect to x, which is H v. Cost: about three times a
    gradient. ``x`` may be a tensor (``f(x)``) or a tuple of tensors (``f(*x)``, ``v`` a tuple of
    the same shapes, result a tuple).
    """
    single = not isinstance(x, (tuple, list))
    xs_in = (x,) if single else tuple(x)
    vs_in = (v,) if single else tuple(v)
    if len(vs_in) != len(xs_in):
        raise ShapeError(f"hvp: {len(xs_in)} inputs but {len(vs_in)} directions")
    xs = []
    fresh = set()
    for xi in xs_in:
        t, outer = as_differentiable(xi)
        xs.append(t)
        if not outer:
            fresh.add(id(t))
    vs = []
    for xi, vi in zip(xs, vs_in):
        vt = vi if isinstance(vi, Tensor) else Tensor(np.asarray(vi, dtype=xi.data.dtype))
        if vt.shape != xi.shape:
            raise ShapeError(f"hvp: direction of shape {vt.shape} for an input of shape {xi.shape}")
        vs.append(vt)
    with enable_grad():
        out = _as_output(f(*xs))
        if out.data.size != 1:
            raise BackwardError(f"hvp: f returned a tensor of shape {out.shape}; it must return a one-element tensor")
        grads = _grads_of(out, xs, create_graph=True)
        inner = None
        for g, vt in zip(grads, vs):
            term = (g * vt).sum()
            inner = term if inner is None else inner + term
    assert inner is not None
    results = _grads_of(inner, xs, create_graph=_outer_graph(inner, fresh))
    return results[0] if single else tuple(results)
