"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacobian``, ``hessian``,
``hvp``, ``elementwise_grad``.

They wrap :func:`graphgrad.autograd.engine.backward` with ``inputs=``, so they return gradients
without touching any ``.grad``. A differentiated argument may be an array, a number, a tensor, or
a tuple, list or dict of them, nested (:mod:`graphgrad.autograd.pytree`); its gradient has the
same structure. Leaves that are arrays or numbers become fresh float tensors that require a
gradient. A leaf that already requires a gradient (it is part of an outer computation, e.g.
inside another ``grad``) is used as is. Whenever grad mode is on and the function's graph
reaches any tensor that requires a gradient besides the transform's own fresh inputs (a
differentiated argument from outside, another argument, a closed-over tensor), the backward pass
is recorded (``create_graph=True``), so the transforms nest: ``grad(grad(f))`` is the second
derivative, mixed partials and closures work, and ``gg.grad(f)(w)`` for a parameter ``w`` gives
a gradient that can itself be differentiated (a gradient penalty). Call them under ``no_grad()``
to get plain gradients without that graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphgrad.autograd.engine import backward, topological_order
from graphgrad.autograd.grad_mode import RECORD, enable_grad, get_mode
from graphgrad.autograd.pytree import TreeSpec, flatten, flatten_as, leaf_paths, unflatten
from graphgrad.errors import BackwardError, ConfigError, DTypeError, ShapeError
from graphgrad.tensor import Tensor

ArgNums = int | Sequence[int]


def as_differentiable(x: Any, where: str = "") -> tuple[Tensor, bool]:
    """``x`` as a tensor that requires a gradient, and whether it came from an outer graph.

    Tensors that already require one are kept (so nested transforms see the outer variable);
    other tensors, arrays and numbers are wrapped (sharing data). Integer and boolean data become
    float32, the library's default float; float arrays keep their dtype. Anything else (text,
    ``None``, objects) raises :class:`DTypeError` naming ``where``.
    """
    if isinstance(x, Tensor) and x.requires_grad:
        return x, True
    try:
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise DTypeError(f"{where or 'argument'}: cannot be read as an array of numbers ({exc})") from exc
    if data.dtype.kind not in "biufc":
        raise DTypeError(
            f"{where or 'argument'}: expected an array, a tensor or a number to differentiate, "
            f"got {type(x).__name__}" + (f" of dtype {data.dtype}" if type(x) is np.ndarray else "")
        )
    if data.dtype.kind not in "fc":
        data = data.astype(np.float32)
    elif not isinstance(x, (Tensor, np.ndarray, np.generic)) and data.dtype == np.float64:
        data = data.astype(np.float32)  # Python floats and lists: float32, as graphgrad.tensor does
    return Tensor(data, requires_grad=True), False


def _as_output(value: Any, where: str, path: str = "") -> Tensor:
    """``f``'s output (or one leaf of it, at ``path``) as a tensor; numbers and arrays are constants.
    Anything that is not numeric data (``None``, text, objects) raises :class:`DTypeError`, never a
    silent constant of zero gradient."""
    if isinstance(value, Tensor):
        return value
    what = f"output{path} is" if path else "f returned"
    try:
        data = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"{where}: {what} a {type(value).__name__}, not an array ({exc})") from exc
    if data.dtype.kind not in "biufc":
        raise DTypeError(f"{where}: {what} a {type(value).__name__}, not an array of numbers")
    return Tensor(data)


def _one_output(
    value: Any, where: str, need: str = "a one-element tensor (a scalar loss)", hint: bool = True
) -> Tensor:
    """``f``'s output when a transform needs a single tensor; a tuple, list or dict is refused by
    name (NumPy would read a tuple of tensors as a constant array: a silently zero gradient)."""
    if isinstance(value, (tuple, list, dict)):
        raise BackwardError(
            f"{where}: f returned a {type(value).__name__}; it must return {need}"
            + (". To return more, use has_aux=True and return (output, extra)" if hint else "")
        )
    return _as_output(value, where)


def _argnums(argnums: ArgNums, nargs: int, where: str) -> tuple[tuple[int, ...], bool]:
    def is_int(a: Any) -> bool:
        return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))

    nums: tuple[int, ...]
    if is_int(argnums):
        nums, single = (int(argnums),), True  # type: ignore[arg-type]
    elif isinstance(argnums, (tuple, list)) and all(is_int(a) for a in argnums):
        nums, single = tuple(int(a) for a in argnums), False
    else:
        raise ConfigError(f"{where}: argnums must be an int or a sequence of ints, got {argnums!r}")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ConfigError(f"{where}: argnums {argnums} out of range for a function called with {nargs} arguments")
    resolved = tuple(a % nargs for a in nums)
    twice = sorted({a for a in resolved if resolved.count(a) > 1})
    if twice:
        raise ConfigError(
            f"{where}: argnums {tuple(argnums)} names argument {', '.join(map(str, twice))} twice; name each "  # type: ignore[arg-type]
            "argument once"
        )
    return resolved, single


def _grads_of(
    outs: Sequence[Tensor],
    xs: Sequence[Tensor],
    create_graph: bool,
    seeds: Sequence[Tensor | None] | None = None,
    retain_graph: bool = False,
) -> list[Tensor]:
    """d(sum_k <seed_k, out_k>)/dx for each x; zeros where no output depends on x."""
    seeds = [None] * len(outs) if seeds is None else seeds
    live = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    if not live:
        found: list[Tensor | None] = [None] * len(xs)
    else:
        found = backward(  # type: ignore[assignment]
            [o for o, _ in live], [s for _, s in live], retain_graph=retain_graph or create_graph,
            create_graph=create_graph, inputs=list(xs),
        )
    return [Tensor(np.zeros_like(x.data)) if g is None else g for x, g in zip(xs, found)]


@dataclass
class _Args:
    """The call's arguments with the differentiated leaves made tensors.

    ``xs`` are those tensors, in order; ``specs[i]`` is argument ``nums[i]``'s structure, whose
    leaves are ``xs[starts[i]:starts[i + 1]]``; ``fresh`` holds the ids of the tensors made here
    (leaves that nothing outside the transform can see).
    """

    values: list[Any]
    nums: tuple[int, ...]
    xs: list[Tensor]
    specs: list[TreeSpec]
    starts: list[int]
    fresh: set[int]

    def regroup(self, flat: Sequence[Any], single: bool) -> Any:
        """Per-leaf values (one per ``xs``) back in the arguments' structures: one structure for a
        single ``argnums``, a tuple of them for a sequence."""
        groups = [unflatten(s, flat[a:b]) for s, a, b in zip(self.specs, self.starts, self.starts[1:])]
        return groups[0] if single else tuple(groups)

    def paths(self, where: str) -> list[str]:
        """Each of ``xs`` named as the user wrote it: ``argument 0['w'][1]``."""
        return [f"{where}argument {a}{p}" for a, s in zip(self.nums, self.specs) for p in leaf_paths(s)]


def _prepare(args: Sequence[Any], nums: tuple[int, ...], where: str) -> _Args:
    values = list(args)
    xs: list[Tensor] = []
    specs: list[TreeSpec] = []
    starts = [0]
    fresh: set[int] = set()
    for a in nums:
        leaves, spec = flatten(values[a])
        tensors = []
        for leaf, path in zip(leaves, leaf_paths(spec)):
            t, outer = as_differentiable(leaf, f"{where}: argument {a}{path}")
            if not outer:
                fresh.add(id(t))
            tensors.append(t)
        values[a] = unflatten(spec, tensors)
        xs.extend(tensors)
        specs.append(spec)
        starts.append(len(xs))
    return _Args(values, nums, xs, specs, starts, fresh)


def _outer_graph(outs: Sequence[Tensor], fresh: set[int]) -> bool:
    """Whether the backward of ``outs`` must be recorded: grad mode is on and their graph reaches a
    tensor that requires a gradient other than the transform's fresh inputs (closures, other
    arguments, outer variables), so an outer computation may differentiate the result."""
    if not get_mode() & RECORD:
        return False
    live = [o for o in outs if o.requires_grad]
    return bool(live) and any(t._node is None and id(t) not in fresh for t in topological_order(live))


def _value_and_aux(result: Any, has_aux: bool, where: str) -> tuple[Any, Any]:
    """``f``'s result split into the differentiated output and, with ``has_aux``, the extra value."""
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ShapeError(
            f"{where}: with has_aux=True, f must return a pair (output, aux), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    return result[0], result[1]


def _output_leaves(result: Any, where: str) -> tuple[list[Tensor], TreeSpec]:
    """``f``'s output (a tensor, or a tuple, list or dict of them) as tensors and its structure."""
    leaves, spec = flatten(result)
    outs = [_as_output(leaf, where, path) for leaf, path in zip(leaves, leaf_paths(spec))]
    return outs, spec


def _seeds(spec: TreeSpec, outs: Sequence[Tensor], given: Any, name: str, against: str, where: str) -> list[Tensor]:
    """``given`` (a cotangent or tangent ``name`` with the structure ``spec``) as one tensor per leaf
    of ``outs`` (called ``against``), each checked against its leaf's shape; errors name the path."""
    try:
        leaves = flatten_as(spec, given, name)
    except ValueError as exc:
        raise ShapeError(f"{where}: {exc}") from exc
    seeds = []
    for leaf, o, path in zip(leaves, outs, leaf_paths(spec)):
        try:
            s = leaf if isinstance(leaf, Tensor) else Tensor(np.asarray(leaf, dtype=o.data.dtype))
        except (TypeError, ValueError) as exc:
            raise DTypeError(f"{where}: {name}{path} is a {type(leaf).__name__}, not an array ({exc})") from exc
        if s.shape != o.shape:
            raise ShapeError(f"{where}: {name}{path} has shape {s.shape}, {against}{path} has shape {o.shape}")
        seeds.append(s)
    return seeds


# ---------------------------------------------------------------------------- reverse mode
def value_and_grad(
    f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """``f`` -> a function returning ``(f(*args), gradient)`` from one forward and one backward.

    ``f`` must return a one-element tensor. The gradient has the structure of the differentiated
    argument (a tensor for an array; a dict of tensors for a dict of arrays...); a tuple
    ``argnums`` gives a tuple of those, in ``argnums`` order. With ``has_aux=True`` ``f`` returns
    ``(output, aux)``: only ``output`` is differentiated, and the value is ``(output, aux)`` (as JAX).
    """

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums, single = _argnums(argnums, len(args), "value_and_grad")
        prep = _prepare(args, nums, "grad")
        with enable_grad():
            result, aux = _value_and_aux(f(*prep.values, **kwargs), has_aux, "grad")
        out = _one_output(result, "grad")
        create_graph = _outer_graph([out], prep.fresh)
        if out.data.size != 1:
            raise BackwardError(
                f"grad: f returned a tensor of shape {out.shape}; it must return a one-element tensor "
                "(a scalar loss). For vector outputs use graphgrad.jacobian or graphgrad.vjp"
            )
        grads = _grads_of([out], prep.xs, create_graph)
        value = out if create_graph else out.detach()
        return ((value, aux) if has_aux else value), prep.regroup(grads, single)

    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``f`` -> a function returning the gradient of ``f`` with respect to argument(s) ``argnums``.

    ``graphgrad.grad(lambda x: (x ** 3).sum())(x)`` is ``3 x**2``; nest for higher derivatives.
    ``grad(loss)({"w": w, "b": b})`` is ``{"w": dloss/dw, "b": dloss/db}``.
    With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is ``(gradient, aux)``.
    """
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f


def elementwise_grad(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """``f`` -> the gradient of ``sum(f(*args))`` (HIPS autograd's ``elementwise_grad``).

    That is the vector-Jacobian product with a cotangent of ones: for an ``f`` that acts entry by
    entry (``tanh``, a polynomial), entry i of the result is ``f'(x_i)``, all derivatives from one
    backward pass (``elementwise_grad(gg.tanh)(x)`` is ``1 - tanh(x)**2``). For an ``f`` that mixes
    entries, entry i is the sum over outputs j of ``d f_j / d x_i``.
    """

    def summed(*args: Any, **kwargs: Any) -> Tensor:
        return _one_output(f(*args, **kwargs), "elementwise_grad", "one tensor", hint=False).sum()

    g = grad(summed, argnums)
    g.__name__ = f"elementwise_grad_{getattr(f, '__name__', 'f')}"
    return g


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` is the tuple of ``cotangent^T J`` for each primal.

    One forward now; each call of ``vjp_fn`` is one backward over the kept graph (call it as often
    as needed, e.g. once per row of a Jacobian). ``cotangent`` has the output's structure and
    shapes (a tuple of arrays for a function returning a tuple); each gradient has its primal's
    structure. With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is
    ``(output, vjp_fn, aux)``.
    """
    prep = _prepare(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        result, aux = _value_and_aux(f(*prep.values), has_aux, "vjp")
    outs, out_spec = _output_leaves(result, "vjp")
    create_graph = _outer_graph(outs, prep.fresh)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        seeds = _seeds(out_spec, outs, cotangent, "the cotangent", "the output of f", "vjp")
        grads = _grads_of(outs, prep.xs, create_graph, seeds, retain_graph=True)
        return prep.regroup(grads, single=False)  # type: ignore[no-any-return]

    value = unflatten(out_spec, outs if create_graph else [o.detach() for o in outs])
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """``f`` -> a function returning the Jacobian of ``f(*args)`` with respect to ``argnums``.

    Reverse mode: one backward per output entry (each with a one-hot seed), so the cost is
    ``out.size`` backward passes; for an array output and an array argument the result has
    shape ``out.shape + x.shape``. A tuple ``argnums`` gives a tuple of Jacobians; a structured
    argument gives its structure of blocks, a structured output the output's structure of those
    (as JAX's ``jacrev``). ``jacrev`` is another name for it.
    """

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _argnums(argnums, len(args), "jacobian")
        prep = _prepare(args, nums, "jacobian")
        with enable_grad():
            outs, out_spec = _output_leaves(f(*prep.values, **kwargs), "jacobian")
        create_graph = _outer_graph(outs, prep.fresh)
        blocks = []
        for j, out in enumerate(outs):
            last = j == len(outs) - 1
            rows: list[list[Tensor]] = [[] for _ in prep.xs]
            m = out.data.size
            for i in range(m):
                seed = np.zeros(out.shape, dtype=out.data.dtype if out.data.dtype.kind in "fc" else np.float32)
                seed.reshape(-1)[i] = 1
                keep = not (last and i == m - 1)
                grads = _grads_of([out], prep.xs, create_graph, [Tensor(seed)], retain_graph=keep)
                for r, g in zip(rows, grads):
                    r.append(g)
            jacs = [_assemble(r, out.shape, x.shape, x.data.dtype, create_graph) for r, x in zip(rows, prep.xs)]
            blocks.append(prep.regroup(jacs, single))
        return unflatten(out_spec, blocks)

    jacobian_f.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return jacobian_f


jacrev = jacobian


def _assemble(rows: list[Tensor], out_shape: tuple, in_shape: tuple, dtype: Any, create_graph: bool) -> Tensor:
    shape = tuple(out_shape) + tuple(in_shape)
    if not rows:
        return Tensor(np.zeros(shape, dtype=dtype))
    if create_graph:
        from graphgrad.ops import stack

        return stack(rows).reshape(shape)
    return Tensor(np.stack([r.data for r in rows]).reshape(shape))


def hessian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """``f`` -> a function returning the Hessian of the one-element ``f(*args)``: the Jacobian of its
    gradient, ``jacobian(grad(f))``.

    For an array argument of shape s the result has shape ``s + s`` (entry ``[i, j]`` is
    d^2 f / dx_i dx_j, for any number of axes). Structured arguments give nested blocks (as JAX's
    ``hessian``). Cost: one recorded backward, then ``x.size`` backward passes through it; for
    products with a few vectors, :func:`hvp` is cheaper.
    """
    h = jacobian(grad(f, argnums), argnums)
    h.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    return h


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """Hessian of ``f`` at ``x`` times ``v``, by double backward (no Hessian is formed).

    First backward (recorded, ``create_graph=True``) gives g(x) = grad f(x) as a graph; the
    second differentiates <g(x), v> with respect to x, which is H v. Cost: about three times a
    gradient. ``x`` may be a tensor or array (``f(x)``) or a tuple of them (``f(*x)``, the result
    a tuple); any argument may be a dict, list or tuple of arrays, and ``v`` has ``x``'s structure.
    """
    single = type(x) is not tuple  # a list (of numbers or arrays), dict or named tuple is one argument
    xs_in = (x,) if single else tuple(x)
    prep = _prepare(xs_in, tuple(range(len(xs_in))), "hvp")
    spec = prep.specs[0] if single else TreeSpec("tuple", tuple(prep.specs))
    vs = _seeds(spec, prep.xs, v, "the direction", "x", "hvp")
    with enable_grad():
        out = _one_output(f(*prep.values), "hvp", hint=False)
        if out.data.size != 1:
            raise BackwardError(f"hvp: f returned a tensor of shape {out.shape}; it must return a one-element tensor")
        grads = _grads_of([out], prep.xs, create_graph=True)
        inner = _pairing(grads, vs)
    results = _grads_of([inner], prep.xs, create_graph=_outer_graph([inner], prep.fresh))
    grouped = prep.regroup(results, single=False)
    return grouped[0] if single else grouped


def _pairing(grads: Sequence[Tensor], vs: Sequence[Tensor]) -> Tensor:
    """sum_k <grads_k, vs_k>, recorded (a zero tensor when ``grads`` is empty)."""
    inner: Tensor | None = None
    for g, vt in zip(grads, vs):
        term = (g * vt).sum()
        inner = term if inner is None else inner + term
    return inner if inner is not None else Tensor(np.zeros(()))


# ---------------------------------------------------------------------------- forward mode
def jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False
) -> tuple[Any, ...]:
    """``(f(*primals), J tangents)``: the Jacobian-vector product, forward mode (as JAX's ``jvp``).

    ``primals`` is the tuple of arguments; ``tangents`` has its structure and shapes (one
    direction per argument, each a dict/list/tuple where the argument is one). The result's
    second part has the output's structure. With ``has_aux=True`` ``f`` returns
    ``(output, aux)`` and the result is ``(output, tangent_out, aux)``.

    Built from two reverse passes (the double-vjp trick), so it needs no forward-mode rule per op:
    with a dummy cotangent u that requires a gradient, the recorded backward gives J^T u, a
    function linear in u; the gradient of <J^T u, t> with respect to u is J t. Cost: a forward
    and about three backward passes, whatever the number of inputs; every op's rule is
    differentiable in its cotangent (the registry checks it), so this holds for every op.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise ShapeError(
            f"jvp: primals and tangents must be tuples of arguments (jvp(f, (x,), (t,))), got "
            f"{type(primals).__name__} and {type(tangents).__name__}"
        )
    prep = _prepare(tuple(primals), tuple(range(len(primals))), "jvp")
    spec = TreeSpec("tuple", tuple(prep.specs))
    ts = _seeds(spec, prep.xs, tuple(tangents), "tangents", "primals", "jvp")
    with enable_grad():
        result, aux = _value_and_aux(f(*prep.values), has_aux, "jvp")
    outs, out_spec = _output_leaves(result, "jvp")
    live = [k for k, o in enumerate(outs) if o.requires_grad]
    dummies = [Tensor(np.zeros(outs[k].shape, dtype=outs[k].data.dtype), requires_grad=True) for k in live]
    fresh = prep.fresh | {id(u) for u in dummies}
    create_graph = _outer_graph(outs, prep.fresh) or any(t.requires_grad for t in ts)
    with enable_grad():
        pulled = _grads_of([outs[k] for k in live], prep.xs, True, dummies, retain_graph=True)  # J^T u
        inner = _pairing(pulled, ts)
    pushed = _grads_of([inner], dummies, create_graph or _outer_graph([inner], fresh))  # d<J^T u, t>/du
    tangent_out = [Tensor(np.zeros_like(o.data)) for o in outs]
    for k, g in zip(live, pushed):
        tangent_out[k] = g
    value = unflatten(out_spec, outs if create_graph else [o.detach() for o in outs])
    result_t = unflatten(out_spec, tangent_out)
    return (value, result_t, aux) if has_aux else (value, result_t)
