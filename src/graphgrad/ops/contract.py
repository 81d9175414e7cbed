"""Contractions: einsum, tensordot, inner, kron, cross.

einsum is one op over any number of operands; its gradient for an operand is another einsum of
the upstream gradient with the other operands, written back to that operand's subscripts. An
index repeated in the operand (a diagonal, ``'ii->i'``) is written with a fresh index tied to it
by an identity matrix, and an index summed away in that operand alone (``'ij->i'``) comes back by
a vector of ones, so every subscript string NumPy accepts (ellipsis, implicit output, the
interleaved operand/sublist form) has its rule. While the engine applies rules, einsum (like
matmul) makes a product term with a zero factor 0, so a zero gradient stays exactly zero. tensordot,
inner, kron and cross are built the way NumPy builds them (transpose + reshape + matmul, broadcast
products, componentwise products).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphgrad.errors import ShapeError
from graphgrad.ops.arrange import moveaxis
from graphgrad.ops.core import Op, _constant, lift, lift_pair
from graphgrad.ops.core import eye as _eye
from graphgrad.ops.linalg import annihilating_contraction, matmul
from graphgrad.ops.shape import getitem, reshape, stack, transpose
from graphgrad.tensor import Tensor

__all__ = ["einsum", "tensordot", "inner", "kron", "cross"]
NON_DIFFERENTIABLE: tuple[str, ...] = ()

_LETTERS = string.ascii_letters
_MAX_OPERANDS = 64  # NumPy's limit on einsum operands


# ------------------------------------------------------------------ einsum
def _sublist_letters(sublist: Sequence[Any]) -> str:
    """NumPy's interleaved form: label 0-25 is 'A'-'Z', 26-51 is 'a'-'z', Ellipsis is '...'."""
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, (int, np.integer)) and 0 <= int(s) < 52:
            out.append(chr(ord("A") + int(s)) if s < 26 else chr(ord("a") + int(s) - 26))
        else:
            raise ShapeError(f"einsum: subscript {s!r} in a sublist must be an int in [0, 52) or Ellipsis")
    return "".join(out)


def _canonical(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> str:
    """``subscripts`` with the ellipsis spelled out as letters and the output made explicit.

    Ellipsis axes align from the right across operands (they broadcast), and come first in an
    implicit output, followed by the indices that appear once, sorted, as NumPy defines it.
    """
    s = subscripts.replace(" ", "")
    lhs, arrow, out = s.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum: {len(terms)} operand subscripts in {subscripts!r} for {len(shapes)} operands")
    bad = {c for c in lhs.replace("...", "").replace(",", "") + out.replace("...", "") if c not in _LETTERS}
    if bad or "->" in out:
        raise ShapeError(f"einsum: invalid subscripts {subscripts!r} (letters, ',', '...' and one '->' only)")
    free = [c for c in _LETTERS if c not in s]
    spans = []
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        span = len(shape) - named if "..." in term else 0
        if span < 0 or ("..." not in term and named != len(shape)):
            raise ShapeError(f"einsum: subscripts {term!r} do not fit an operand of shape {shape}")
        spans.append(span)
    width = max(spans, default=0)
    if width > len(free):
        raise ShapeError(f"einsum: too many axes for the 52 index letters in {subscripts!r}")
    ellipsis = "".join(free[:width])
    terms = [t.replace("...", ellipsis[width - n :]) for t, n in zip(terms, spans)]
    if arrow:
        if width and "..." not in out:
            raise ShapeError(
                f"einsum: the ellipsis axes of {subscripts!r} must appear in the output ('...' after '->')"
            )
        out = out.replace("...", ellipsis)
    else:
        joined = "".join(terms)
        out = ellipsis + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ellipsis))
    return ",".join(terms) + "->" + out


def _einsum_forward(*arrays: np.ndarray, subscripts: str, optimize: Any) -> np.ndarray:
    return np.einsum(subscripts, *arrays, optimize=optimize)


def _annihilating_einsum(*arrays: np.ndarray, subscripts: str, optimize: Any) -> np.ndarray:
    """The rule mode's einsum: a product term with a zero factor is 0 (see ``annihilating_contraction``)."""
    return annihilating_contraction(lambda *xs: np.einsum(subscripts, *xs, optimize=optimize), *arrays)


def _einsum_rule(k: int, g: Tensor, out: Tensor, *operands: Tensor, subscripts: str, optimize: Any) -> Tensor:
    """d out / d operand k, contracted with g: an einsum from g and the other operands to operand k's indices."""
    lhs, target = subscripts.split("->")
    terms = lhs.split(",")
    own = terms[k]
    shape = operands[k].shape
    inputs = [g] + [t for i, t in enumerate(operands) if i != k]
    labels = [target] + [t for i, t in enumerate(terms) if i != k]
    seen = set("".join(labels))
    spare = iter(c for c in _LETTERS if c not in subscripts)
    result = []
    for pos, c in enumerate(own):
        if c in result:  # a repeated index: a fresh one, tied to it by the identity
            fresh = next(spare)
            inputs.append(_eye(shape[pos], g.data.dtype))
            labels.append(c + fresh)
            result.append(fresh)
            continue
        if c not in seen:  # summed in this operand alone: every entry gets the same gradient
            inputs.append(_constant(1, g.data.dtype, (shape[pos],)))
            labels.append(c)
            seen.add(c)
        result.append(c)
    return _einsum(*inputs, subscripts=",".join(labels) + "->" + "".join(result), optimize=optimize)


_einsum = Op("einsum", _einsum_forward, (_einsum_rule,), variadic=True, zero_safe_forward=_annihilating_einsum)


def einsum(*operands: Any, optimize: Any = False) -> Tensor:
    """Einstein summation, as ``numpy.einsum``: ``einsum('ij,jk->ik', a, b)``.

    Any subscripts NumPy accepts: implicit output (``'ij,jk'``), ellipsis (``'...ij,...jk'``),
    repeated indices (``'ii->i'``, ``'ii'``), and the interleaved form ``einsum(a, [0, 1], b, [1, 2])``.
    ``optimize`` is passed on to NumPy (forward and gradients).
    """
    if not operands:
        raise ShapeError("einsum: needs subscripts and at least one operand")
    if isinstance(operands[0], str):
        subscripts, tensors = operands[0], [lift(t) for t in operands[1:]]
    else:
        pairs = list(operands)
        out = _sublist_letters(pairs.pop()) if len(pairs) % 2 else None
        tensors = [lift(t) for t in pairs[0::2]]
        subscripts = ",".join(_sublist_letters(s) for s in pairs[1::2]) + ("" if out is None else "->" + out)
    if not tensors or len(tensors) > _MAX_OPERANDS:
        raise ShapeError(f"einsum: needs 1 to {_MAX_OPERANDS} operands, got {len(tensors)}")
    canonical = _canonical(subscripts, [t.shape for t in tensors])
    try:
        return _einsum(*tensors, subscripts=canonical, optimize=optimize)
    except ShapeError as exc:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"einsum: operands of shapes {shapes} do not fit {subscripts!r}: {exc}") from None


# ------------------------------------------------------------------ tensordot, inner, kron
def _axes_list(axes: Any, ndim: int, which: str) -> list[int]:
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ShapeError(f"tensordot: axis {a} is out of range for operand {which} with {ndim} axes")
        out.append(int(a) % ndim)
    return out


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum products over ``axes`` of ``a`` and ``b``, as ``numpy.tensordot``.

    ``axes`` is N (the last N axes of ``a`` against the first N of ``b``) or a pair of axis lists.
    Built as NumPy builds it: transpose and reshape both to matrices, then one matrix product.
    """
    a, b = lift_pair(a, b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={n} does not fit shapes {a.shape} and {b.shape}")
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        first, second = axes
        axes_a, axes_b = _axes_list(first, a.ndim, "a"), _axes_list(second, b.ndim, "b")
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)):
        raise ShapeError(f"tensordot: axes {axes_a} of shape {a.shape} do not match axes {axes_b} of shape {b.shape}")
    keep_a = [i for i in range(a.ndim) if i not in axes_a]
    keep_b = [i for i in range(b.ndim) if i not in axes_b]
    inner_size = int(np.prod([a.shape[i] for i in axes_a]))
    am = reshape(transpose(a, keep_a + axes_a), (int(np.prod([a.shape[i] for i in keep_a])), inner_size))
    bm = reshape(transpose(b, axes_b + keep_b), (inner_size, int(np.prod([b.shape[i] for i in keep_b]))))
    return reshape(matmul(am, bm), tuple(a.shape[i] for i in keep_a) + tuple(b.shape[i] for i in keep_b))


def inner(a: Any, b: Any) -> Tensor:
    """Sum of products over the last axes: ``out[i..., j...] = sum(a[i..., :] * b[j..., :])``; 0-d multiplies."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: last axes of shapes {a.shape} and {b.shape} differ")
    return tensordot(a, b, axes=([-1], [-1]))


def kron(a: Any, b: Any) -> Tensor:
    """Kronecker product: block (i, j, ...) is ``a[i, j, ...] * b``, as ``numpy.kron``."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    spread_a = reshape(a, tuple(d for n in sa for d in (n, 1)))
    spread_b = reshape(b, tuple(d for n in sb for d in (1, n)))
    return reshape(spread_a * spread_b, tuple(x * y for x, y in zip(sa, sb)))


# ------------------------------------------------------------------ cross
def _components(t: Tensor) -> list[Tensor | None]:
    parts: list[Tensor | None] = [getitem(t, (Ellipsis, i)) for i in range(t.shape[-1])]
    return parts + [None] * (3 - len(parts))  # a 2-vector has z = 0


def _times(x: Tensor | None, y: Tensor | None) -> Tensor | None:
    return None if x is None or y is None else x * y


def _minus(x: Tensor | None, y: Tensor | None) -> Tensor:
    if y is None:
        assert x is not None
        return x
    return -y if x is None else x - y


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Tensor:
    """Cross product of 3-vectors (or 2-vectors, z = 0) along the given axes, broadcasting, as ``numpy.cross``.

    Two 2-vectors give the z component alone, as in NumPy.
    """
    a, b = lift_pair(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"cross: operands need a vector axis, got shapes {a.shape} and {b.shape}")
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ShapeError(
            f"cross: vectors must have 2 or 3 components, got {a.shape[-1]} and {b.shape[-1]} "
            f"(shapes {a.shape} and {b.shape} after moving the vector axes last)"
        )
    a0, a1, a2 = _components(a)
    b0, b1, b2 = _components(b)
    z = _minus(_times(a0, b1), _times(a1, b0))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return z
    x = _minus(_times(a1, b2), _times(a2, b1))
    y = _minus(_times(a2, b0), _times(a0, b2))
    out = stack([x, y, z], axis=-1)
    return moveaxis(out, -1, axisc)
