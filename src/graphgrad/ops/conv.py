"""Convolution, pooling, normalization and embedding: the ops of image and token models.

**Convolution** is one im2col and one matmul. The padded input is viewed as its sliding windows
(a strided view, no copy), that view is copied once into a matrix of columns (one column per
output pixel, one row per kernel entry), and the kernel matrix multiplies it. Its derivative
needs two more ops, and the three close under differentiation: with
``T(x, w, g) = <g, conv2d(x, w)>`` (linear in each argument),

- ``conv2d(x, w)``            is dT/dg; its rules are the other two ops;
- ``conv2d_input_grad(g, w)`` is dT/dx (a transposed convolution: at stride 1 a full correlation of
  ``g`` with the flipped kernel, itself an im2col and one matmul; at a larger stride s the same a
  phase at a time (the input positions of each residue mod s get their own taps of the kernel);
  else the columns ``w^T g``, added back onto the windows they came from, one kernel offset at a
  time: whichever moves less);
- ``conv2d_weight_grad(x, g)`` is dT/dw (the columns of x times g).

So every rule is one of these ops, and second derivatives work to any order. Columns are copied
and multiplied a band of output rows at a time (each band while it is in cache) into a band buffer
reused from call to call, not allocated afresh. Where one band holds all the columns, an ordinary
training step keeps the forward's for the weight gradient; larger ones the weight gradient builds
again band by band (cheaper than writing them out to memory and reading them back, and the step's
memory stays at a band, not the whole matrix).
``conv1d`` is ``conv2d`` on images of height 1. Inside, images are laid out ``(C, H, W, N)`` (the
batch innermost), so the column copies and col2im's additions run over long contiguous stretches
and one matmul covers the whole batch; outputs are ``(N, C, H, W)`` views of that layout, and
every op here accepts any memory layout. Loops run over kernel offsets (KH*KW), never over
pixels or images. ``conv_transpose2d`` (and ``conv_transpose1d``) *is* ``conv2d_input_grad``, for
the convolution whose input has the transposed output's shape: no op of its own.

**Pooling**: ``max_pool2d`` picks the largest entry of each window; at a tie the *first* largest
entry in row-major window order (top row first, then left to right) gets the whole gradient, as
in PyTorch on CPU; a NaN in a window makes its output NaN. Where a gradient will be needed the
forward keeps which offset held each maximum, for one backward (as convolution keeps its columns);
a second backward through a retained graph finds the maxima again from the input.
``avg_pool2d`` is a depthwise convolution with a constant kernel (divided by the window's count of
entries), and ``adaptive_avg_pool2d`` is a mean or an ``avg_pool2d``: one mechanism, no rules of their own.

**Normalization** (``batch_norm`` in training, ``layer_norm``, ``group_norm``) is one ``normalize`` node whose rule
is one ``normalize_backward`` node; their rules are graphgrad expressions, so derivatives of every
order work; while the engine applies rules, ``normalize_backward``'s products annihilate (a zero
gradient stays zero where the forward overflowed). Training ``batch_norm`` with a weight or bias is
one ``normalize_affine`` node (normalize, scale, shift): its backward makes no product array (the
weight joins ``normalize_backward``'s per-channel scale, the weight's and bias's gradients are
per-channel dot products and sums). ``batch_norm`` in training updates the running
statistics in place, outside the graph, as a buffer update that a captured step repeats (an
effect); in evaluation it is plain arithmetic with the running statistics.

**Embedding** is a row lookup; repeated indices accumulate their gradients, and the row
``padding_idx`` gets none.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from graphgrad.autograd.grad_mode import STATE
from graphgrad.errors import ConfigError, DataError, DTypeError, ShapeError
from graphgrad.ops import elementwise as ew
from graphgrad.ops.core import Op, _constant, host, lift
from graphgrad.ops.linalg import annihilating_contraction
from graphgrad.ops.nn import _Saved
from graphgrad.ops.reduce import BLAS_FLOATS, sum_array, sum_of_products
from graphgrad.ops.reduce import mean as _mean
from graphgrad.ops.reduce import sum as _sum
from graphgrad.ops.shape import concatenate, pad, reshape
from graphgrad.tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "embedding",
]

Pair = tuple[int, int]


# ------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class Geometry:
    """Where the windows of a 2-D convolution or pooling lie; the ops of one layer share it.

    ``in_shape`` is the input's (N, C, H, W), ``kernel`` (KH, KW), ``padding`` the
    ((top, bottom), (left, right)) rows and columns added around the input, ``out_hw`` the
    output's (OH, OW), ``out_channels`` the output's C.
    """

    in_shape: tuple[int, int, int, int]
    kernel: Pair
    out_channels: int
    stride: Pair
    padding: tuple[Pair, Pair]
    dilation: Pair
    groups: int
    out_hw: Pair

    @property
    def padded_hw(self) -> Pair:
        (t, b), (left, r) = self.padding
        return self.in_shape[2] + t + b, self.in_shape[3] + left + r

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.in_shape[0], self.out_channels, *self.out_hw)


def _pair(value: Any, name: str, op: str, minimum: int = 1) -> Pair:
    """An int or a pair of ints as a pair, each at least ``minimum``."""
    items = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise ConfigError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ConfigError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def _out_size(size: int, k: int, s: int, before: int, after: int, d: int, ceil_mode: bool) -> tuple[int, int]:
    """Output length along one axis and the extra padding at the end that ceil mode needs.

    In ceil mode a last, partial window is kept if it starts inside the input or the padding
    before it (PyTorch's rule); the entries it reaches beyond the padding are the extra.
    """
    span = size + before + after - d * (k - 1) - 1
    if span < 0:
        return 0, 0
    if not ceil_mode:
        return span // s + 1, 0
    n = -(-span // s) + 1
    if (n - 1) * s >= size + before:
        n -= 1
    extra = max(0, (n - 1) * s + d * (k - 1) + 1 - (size + before + after))
    return n, extra


def _geometry(
    x_shape: tuple[int, ...], kernel: Pair, out_channels: int, stride: Pair, padding: tuple[Pair, Pair],
    dilation: Pair, groups: int, op: str, ceil_mode: bool = False,
) -> Geometry:
    sizes = []
    pads = []
    for axis in range(2):
        n, extra = _out_size(x_shape[2 + axis], kernel[axis], stride[axis], *padding[axis], dilation[axis], ceil_mode)
        if n <= 0:
            reach = dilation[axis] * (kernel[axis] - 1) + 1
            raise ShapeError(
                f"{op}: a kernel reaching {reach} entries (kernel {kernel}, dilation {dilation}) does not fit "
                f"the input of shape {tuple(x_shape)} padded by {padding}"
            )
        sizes.append(n)
        pads.append((padding[axis][0], padding[axis][1] + extra))
    shape = tuple(int(v) for v in x_shape)
    return Geometry(shape, kernel, out_channels, stride, (pads[0], pads[1]), dilation, groups,  # type: ignore[arg-type]
                    (sizes[0], sizes[1]))


# ------------------------------------------------------------------ im2col and col2im (arrays)
# Inside these ops images are laid out (C, H, W, N): channels first, the batch innermost. Then the
# columns come out of one copy with long contiguous runs (a window row of every image at once),
# the matmul's output is already in this layout, and col2im adds long runs too. Tensors are
# handed out as (N, C, H, W) views of it; the ops accept any layout.
def _chwn(a: np.ndarray) -> np.ndarray:
    """An (N, C, H, W) array seen as (C, H, W, N) (a view; a copy only where the caller copies)."""
    return a.transpose(1, 2, 3, 0)


def _nchw(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 0, 1, 2)


def _padded(x: np.ndarray, geo: Geometry, fill: float = 0.0) -> np.ndarray:
    """The input as (C, Hp, Wp, N), surrounded by ``fill``."""
    (t, b), (left, r) = geo.padding
    if not (t or b or left or r):
        return _chwn(x)
    n, c, h, w = x.shape
    hp, wp = geo.padded_hw
    out = np.empty((c, hp, wp, n), dtype=x.dtype)
    out[:, t : t + h, left : left + w, :] = _chwn(x)
    for border in (out[:, :t], out[:, t + h :], out[:, t : t + h, :left], out[:, t : t + h, left + w :]):
        border.fill(fill)  # only the border: filling the whole first costs a pass over it
    return out


def _windows(xp: np.ndarray, geo: Geometry) -> np.ndarray:
    """The read-only view (C, KH, KW, OH, OW, N) of every window of the padded (C, Hp, Wp, N) input."""
    c, _, _, n = xp.shape
    s0, s1, s2, s3 = xp.strides
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    shape = (c, *geo.kernel, *geo.out_hw, n)
    strides = (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3)
    if not xp.flags.c_contiguous:  # a view of the caller's array (nothing padded)
        return as_strided(xp, shape, strides, writeable=False)
    win = np.ndarray(shape, xp.dtype, buffer=xp, strides=strides)  # as as_strided, a third of its cost
    win.flags.writeable = False
    return win


class _Scratch(threading.local):
    """Column matrices of earlier calls, kept for reuse: a fresh array of many megabytes comes
    straight from the operating system, and touching its pages the first time costs as much as
    filling them. Only this module's own temporaries come here, given back (:meth:`give`) once
    nothing can read them again; per thread, and only the ``KEEP`` most recently given, of at most
    ``KEEP_BYTES`` together (a network's layers, not every shape ever seen: memory held between
    steps stays small next to what a step needs)."""

    KEEP = 8
    KEEP_BYTES = 256 << 20

    def __init__(self) -> None:
        self.free: list[np.ndarray] = []

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        for i in range(len(self.free) - 1, -1, -1):
            a = self.free[i]
            if a.shape == shape and a.dtype == dtype:
                return self.free.pop(i)
        return np.empty(shape, dtype=dtype)

    def give(self, a: np.ndarray) -> None:
        if a.flags.c_contiguous and a.base is None and a.nbytes <= self.KEEP_BYTES:
            self.free.append(a)
            while len(self.free) > self.KEEP or sum(f.nbytes for f in self.free) > self.KEEP_BYTES:
                del self.free[0]


_SCRATCH = _Scratch()


def release_scratch() -> None:
    """Let go of the column buffers kept for reuse (this thread's): memory back, or a measurement
    of a step's peak that sees them allocated."""
    _SCRATCH.free.clear()


def _as_matrices(cols: np.ndarray, groups: int) -> np.ndarray:
    """Columns laid out as windows (C, KH, KW, rows, OW, N), or a band of rows of such an array, as
    one matrix per group (G, Cg*KH*KW, rows*OW*N): a view, never a copy."""
    c, kh, kw, rows, ow, n = cols.shape
    return np.reshape(cols, (groups, c // groups * kh * kw, rows * ow * n), copy=False)


_BLOCK_BYTES = 8 << 20
"""Columns are built this many bytes at a time, each band multiplied while it is still in the shared
cache. Smaller bands (2 MiB) were 2-4% slower with two threads on a 2-core VM with 32 MiB of L3 (the
products of small layers split into pieces too small for both threads) and no faster with one."""


def _column_bands(x: np.ndarray, geo: Geometry, keep: bool = False) -> Iterator[tuple[slice, np.ndarray]]:
    """The columns of ``x`` a band of output rows at a time, each band copied right before the
    caller multiplies it (still in cache): pairs (the band's columns among all OH*OW*N, the band
    as (G, Cg*KH*KW, rows*OW*N)), every band in one scratch array, or, with ``keep`` and only when
    one band holds them all, the whole column matrix, which the caller may keep (give it back to
    ``_SCRATCH`` when done). More than a band's columns are never kept: they would leave the cache
    for memory, and writing and reading them back costs more than building the bands again."""
    win = _windows(_padded(x, geo), geo)
    c, kh, kw, oh, ow, n = win.shape
    rows = max(1, _BLOCK_BYTES // max(1, c * kh * kw * ow * n * win.dtype.itemsize))
    band = _SCRATCH.take((c, kh, kw, min(rows, oh), ow, n), win.dtype)
    for first in range(0, oh, rows):
        last = min(oh, first + rows)
        part = band[:, :, :, : last - first]
        np.copyto(part, win[:, :, :, first:last])
        yield slice(first * ow * n, last * ow * n), _as_matrices(part, geo.groups)
    if not (keep and rows >= oh):
        _SCRATCH.give(band)


def _correlate(x: np.ndarray, kernels: np.ndarray, geo: Geometry, *, keep: bool = False, zero_safe: bool = False,
               each_band: Callable[[slice, np.ndarray], None] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``kernels`` (G, Og, Cg*KH*KW) times the columns of ``x``: (G, Og, OH*OW*N), a band of columns
    at a time (:func:`_column_bands`); with ``keep``, also the column matrix where one band held it
    (for the weight gradient), else None. ``each_band(span, band)`` sees every band while it is
    still in cache (the input gradient's correlation makes the weight gradient there)."""
    oh, ow, n = *geo.out_hw, geo.in_shape[0]
    out = np.empty((geo.groups, kernels.shape[1], oh * ow * n), dtype=np.result_type(kernels, x))
    band = None
    for span, band in _column_bands(x, geo, keep):
        _product_into(kernels, band, out[:, :, span], zero_safe)
        if each_band is not None:
            each_band(span, band)
    whole = keep and band is not None and band.shape[2] == oh * ow * n
    return out, band if whole else None


class _ProductSum:
    """A sum of matrix products, one per band of columns, into ``total``: the first product is
    written there, each later one into one spare array and added on."""

    def __init__(self, total: np.ndarray, zero_safe: bool) -> None:
        self.total, self.zero_safe = total, zero_safe
        self.part: np.ndarray | None = None
        self.empty = True

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        if self.empty:
            _product_into(a, b, self.total, self.zero_safe)
            self.empty = False
            return
        if self.part is None:
            self.part = np.empty_like(self.total)
        _product_into(a, b, self.part, self.zero_safe)
        self.total += self.part


_COL2IM_ROWS = 64
"""At least this many rows of columns per matmul of col2im: BLAS stays efficient, memory small."""


def _col2im(gy: np.ndarray, w: np.ndarray, geo: Geometry, zero_safe: bool = False) -> np.ndarray:
    """The adjoint of im2col applied to the columns ``w^T gy``, a few kernel offsets at a time: each
    chunk's columns (one matmul of at least ``_COL2IM_ROWS`` rows, into one buffer reused by every
    chunk: fresh memory costs page faults) are added onto their window positions of every image
    at once, so the full column matrix (KH*KW times the input) never exists. Returns (N, C, H, W).

    With a stride s, the padded input is kept as s*s phases (rows and columns of each residue mod
    s, each phase contiguous), written into the input once at the end: a kernel offset's columns
    land on one phase at consecutive positions, so each addition runs over rows of images, not a
    batch of entries at a time (strided col2im 5-12% faster on one core at batch 32, 27-38% at
    batch 4-8, where the runs were that short)."""
    n, c, h, width = geo.in_shape
    (kh, kw), (oh, ow) = geo.kernel, geo.out_hw
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (t, _), (left, _) = geo.padding
    g, cg = geo.groups, c // geo.groups
    dtype = np.result_type(gy, w)
    rows = _channel_rows(gy, g).astype(dtype, copy=False)  # (G, Og, OH*OW*N)
    per_offset = np.ascontiguousarray(w.reshape(g, w.shape[0] // g, cg, kh * kw).transpose(0, 3, 2, 1), dtype=dtype)
    hp, wp = geo.padded_hw
    mh, mw = -(-hp // sh), -(-wp // sw)
    phases = np.zeros((sh, sw, g, cg, mh, mw, n), dtype=dtype)
    chunk = min(kh * kw, max(1, -(-_COL2IM_ROWS // cg)))
    buffer = np.empty((g, chunk * cg, rows.shape[2]), dtype=dtype)
    for first in range(0, kh * kw, chunk):
        last = min(first + chunk, kh * kw)
        cols = _matmul(per_offset[:, first:last].reshape(g, (last - first) * cg, -1), rows,
                       out=buffer[:, : (last - first) * cg], zero_safe=zero_safe)
        cols = cols.reshape(g, last - first, cg, oh, ow, n)
        for k in range(first, last):
            y, x = divmod(k, kw)
            y, x = y * dh, x * dw  # where the offset's window starts in the padded input
            phases[y % sh, x % sw, :, :, y // sh : y // sh + oh, x // sw : x // sw + ow] += cols[:, k - first]
    if (sh, sw) == (1, 1):
        return _nchw(phases.reshape(c, hp, wp, n)[:, t : t + h, left : left + width])
    out = np.empty((c, h, width, n), dtype=dtype)
    for a in range(min(sh, h)):
        for b in range(min(sw, width)):
            dest = out[:, a::sh, b::sw]
            (qa, pa), (qb, pb) = divmod(t + a, sh), divmod(left + b, sw)
            np.copyto(dest, phases[pa, pb].reshape(c, mh, mw, n)[:, qa : qa + dest.shape[1], qb : qb + dest.shape[2]])
    return _nchw(out)


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *, zero_safe: bool = False) -> np.ndarray:
    """``a @ b`` over a leading group axis; one group as a 2-D product (NumPy's stacked matmul skips
    BLAS for small matrices, up to 10x slower). ``zero_safe``: a zero factor annihilates inf and
    NaN (the backward products, so ``where``'s untaken branch gets exactly zero)."""
    if zero_safe:  # the same product (into ``out``), checked; redone only where 0 * inf made a NaN
        return annihilating_contraction(lambda x, y: _matmul(x, y, out), a, b)  # type: ignore[no-any-return]
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0], out=None if out is None else out[0])[None]
    return np.matmul(a, b, out=out)


def _product_into(a: np.ndarray, b: np.ndarray, dest: np.ndarray, zero_safe: bool) -> None:
    """``dest[...] = a @ b`` (:func:`_matmul`), written in place."""
    got = _matmul(a, b, out=dest, zero_safe=zero_safe)
    if not np.may_share_memory(got, dest):  # zero_safe redid a product with a NaN in a new array
        dest[...] = got


def _channel_rows(a: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, H, W) as (G, C/G, H*W*N): channels as rows, each group its own matrix."""
    n, c, h, w = a.shape
    return _chwn(a).reshape(groups, c // groups, h * w * n)


def _from_channel_rows(a: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    n, c, h, w = shape
    return _nchw(a.reshape(c, h, w, n))


# ------------------------------------------------------------------ the three convolution ops
class _ConvSaved(_Saved):
    """What one convolution's forward and backward share. ``value``: the forward's columns of x,
    kept for the weight gradient where one band holds them. ``joint``: the input gradient will be a
    correlation of the output gradient, whose columns, times x, also give the weight gradient
    (no columns of x are then kept or built again); it leaves that in ``extra`` as (output
    gradient, x, weight gradient) for the weight's rule, which takes it if its operands are the
    same arrays."""

    __slots__ = ("joint",)

    def __init__(self, joint: bool) -> None:
        super().__init__()
        self.joint = joint

    def take_weight_grad(self, x: np.ndarray, gy: np.ndarray) -> np.ndarray | None:
        made, self.extra = self.extra, None
        if made is not None and made[0] is gy and made[1] is x:
            return made[2]  # type: ignore[no-any-return]
        return None


def _conv_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, geo: Geometry, saved: _ConvSaved | None = None,
    zero_safe: bool = False,
) -> np.ndarray:
    g = geo.groups
    keep = saved is not None and not saved.joint
    out, cols = _correlate(x, w.reshape(g, w.shape[0] // g, -1), geo, keep=keep, zero_safe=zero_safe)
    if keep:
        saved.value = cols  # type: ignore[union-attr]  # the weight gradient's operand, kept for one backward
    if b is not None:
        out += b.reshape(g, -1, 1)
    return _from_channel_rows(out, geo.out_shape)


def _conv_grad_x(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, *,
                 geo: Geometry, saved: Any = None) -> Tensor:
    if saved is not None and saved.joint:
        return _conv_input_grad(g, w, x, geo=geo, saved=saved)  # the weight gradient made alongside
    return _conv_input_grad(g, w, geo=geo)


def _conv_grad_w(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor | None = None, *,
                 geo: Geometry, saved: Any = None) -> Tensor:
    return _conv_weight_grad(x, g, geo=geo, saved=saved)


def _conv_grad_b(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, *,
                 geo: Geometry, saved: Any = None) -> Tensor:
    return _sum(g, axis=(0, 2, 3))


_conv = Op("conv2d", _conv_forward, (_conv_grad_x, _conv_grad_w, _conv_grad_b),
           zero_safe_forward=functools.partial(_conv_forward, zero_safe=True))
"""As a rule (the input gradient of a transposed convolution, second derivatives) its products
annihilate, as the other two ops': a zero gradient stays zero against an inf weight."""


def _by_correlation(geo: Geometry) -> bool:
    """Whether the input gradient is a full correlation (else col2im), by whichever of two equal
    computations moves less memory. A full correlation (im2col of the gradient, one matmul in the
    forward's orientation, nothing added back) needs stride 1 and copies
    out_channels * KH*KW * H*W * N entries; col2im writes and adds back
    in_channels * KH*KW * OH*OW * N, an entry of which costs about two copied ones (a strided
    read-add-write, and several smaller products than the correlation's one). So the correlation
    where its columns are at most twice col2im's (a 'same' convolution of as many channels out as
    in, VGG's, or of twice as many), else col2im (a first layer of few channels, a 'valid'
    convolution widening its channels, strides)."""
    (_, c, h, width), (oh, ow) = geo.in_shape, geo.out_hw
    return geo.stride == (1, 1) and geo.out_channels * h * width <= 2 * c * oh * ow


def _by_phases(geo: Geometry) -> bool:
    """Whether a strided input gradient is made by phases (:func:`_phase_correlation`), else by
    col2im: where its columns are at most col2im's (no more channels out than in) and a phase has
    on average more than one kernel tap (with one, a phase's correlation is a bare copy and more,
    smaller products than col2im's). Measured (CPU time, one core; two threads alike): 10-20%
    faster there at batch 8-32, 20-70% with groups; with twice as many channels out as in the two
    were even on one core and col2im 4-11% faster on two, and with 4-20 times as many col2im was
    1.7-3.7x faster (a phase's products have as many rows as channels in: few)."""
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    return geo.stride != (1, 1) and geo.out_channels <= geo.in_shape[1] and kh * kw > sh * sw


def _input_grad_forward(gy: np.ndarray, w: np.ndarray, x: np.ndarray | None = None, *, geo: Geometry,
                        saved: _ConvSaved | None = None, share: Any = None, zero_safe: bool = False) -> np.ndarray:
    """dT/dx (:func:`_by_correlation`, then :func:`_by_phases` say how). Given the forward's input
    ``x`` and its :class:`_ConvSaved`, a correlation also makes the weight gradient and leaves it
    there. ``share`` is for the rules (:class:`_SharedColumns`)."""
    if not _by_correlation(geo):
        if _by_phases(geo):
            return _phase_correlation(gy, w, geo, zero_safe)
        return _col2im(gy, w, geo, zero_safe)
    dx, dw = _full_correlation(gy, w, geo, zero_safe, None if saved is None else x)
    if dw is not None:
        saved.extra = (gy, x, dw)  # type: ignore[union-attr]
    return dx


def _full_correlation(gy: np.ndarray, w: np.ndarray, geo: Geometry, zero_safe: bool = False,
                      x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The input gradient of a stride-1 convolution as a convolution itself: the output gradient,
    padded by the kernel's reach less the forward's padding on each side, correlated with the
    kernel flipped in space and with its in and out channels swapped (per group). A side padded
    beyond the kernel's reach crops the gradient instead (those outputs saw only padding).

    With the forward's input ``x``, also the weight gradient (in the input gradient's dtype): the
    gradient's column at input position q and kernel offset k is the output gradient where
    offset k' = flipped(k) of that output's window lands on q, so the columns times x's channel
    rows are the weight gradient, flipped; each band is multiplied twice while in cache. Returns
    (input gradient, weight gradient or None)."""
    c, (kh, kw), g = geo.in_shape[1], geo.kernel, geo.groups
    og = geo.out_channels // g
    rows, cols, transposed = _transposed(geo)
    gy = gy[:, :, rows, cols]
    dtype = np.result_type(gy, w)
    flipped = w.reshape(g, og, c // g, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    flipped = flipped.astype(dtype, copy=False).reshape(g, c // g, -1)  # (G, Cg, Og*KH*KW), one copy
    each_band = products = None
    if x is not None:
        x_rows = _channel_rows(x, g).astype(dtype, copy=False)  # (G, Cg, H*W*N)
        products = _ProductSum(np.empty((g, og * kh * kw, c // g), dtype=dtype), zero_safe)

        def each_band(span: slice, band: np.ndarray) -> None:
            products.add(band, x_rows[:, :, span].transpose(0, 2, 1))

    out, _ = _correlate(gy.astype(dtype, copy=False), flipped, transposed, zero_safe=zero_safe, each_band=each_band)
    dx = _from_channel_rows(out, geo.in_shape)
    if products is None:
        return dx, None
    dw = np.empty((geo.out_channels, c // g, kh, kw), dtype=dtype)  # (O, Cg, KH, KW), unflipped
    flipped_dw = products.total.reshape(g, og, kh, kw, c // g)[:, :, ::-1, ::-1].transpose(0, 1, 4, 2, 3)
    np.copyto(dw.reshape(g, og, c // g, kh, kw), flipped_dw)
    return dx, dw


@functools.lru_cache(maxsize=256)
def _transposed(geo: Geometry) -> tuple[slice, slice, Geometry]:
    """For :func:`_full_correlation`: the rows and columns of the output gradient it reads, and the
    geometry of its correlation (one per layer, found once)."""
    n, c, h, width = geo.in_shape
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    reach = (dh * (kh - 1), dw * (kw - 1))
    pads = [(reach[a] - geo.padding[a][0], reach[a] - geo.padding[a][1]) for a in range(2)]
    out_hw = geo.out_hw
    crop = [slice(max(0, -before), out_hw[a] - max(0, -after)) for a, (before, after) in enumerate(pads)]
    shape = (n, geo.out_channels, crop[0].stop - crop[0].start, crop[1].stop - crop[1].start)
    transposed = Geometry(shape, geo.kernel, c, (1, 1),
                          ((max(0, pads[0][0]), max(0, pads[0][1])), (max(0, pads[1][0]), max(0, pads[1][1]))),
                          geo.dilation, geo.groups, (h, width))
    return crop[0], crop[1], transposed


# A strided convolution's input gradient by phases: the input rows o = r, r + s, r + 2s, ... (one
# phase r per residue mod the stride s) are reached only by the kernel taps k with o + padding - d*k
# a multiple of s, and those taps read the output gradient at consecutive positions. So each
# phase (one per pair of row and column residues) is a stride-1 correlation of the undilated
# gradient with its own taps of the flipped kernel: im2col copies with long contiguous runs and
# one matmul, then one strided write of the phase's entries, where col2im adds every kernel
# offset's columns (as many entries again) and its products come in chunks of a few offsets.
@dataclass(frozen=True)
class _AxisPhase:
    """One residue ``r`` of one axis: the input positions ``r::s`` (``count`` of them) get the
    flipped taps ``taps`` of the kernel (``count_taps`` of them, ``step`` apart on the gradient),
    read from the gradient's positions ``start`` to ``stop`` (exclusive; beyond its ends: zeros)."""

    positions: slice
    count: int
    taps: slice
    count_taps: int
    step: int
    start: int
    stop: int


def _axis_phases(size: int, k: int, s: int, before: int, d: int) -> list[_AxisPhase]:
    """The phases of one axis of a convolution whose input has ``size`` entries, with kernel ``k``,
    stride ``s``, padding ``before`` and dilation ``d``: tap t of output position i reads input
    position o = s*i - before + d*t, so i = (o + before - d*t) / s where that is a whole number."""
    phases = []
    for r in range(min(s, size)):
        count = -(-(size - r) // s)
        taps = [t for t in range(k) if (r + before - d * t) % s == 0]
        if not taps:
            phases.append(_AxisPhase(slice(r, None, s), count, slice(0, 0), 0, 1, 0, 0))
            continue
        apart = taps[1] - taps[0] if len(taps) > 1 else 1  # s / gcd(s, d)
        step = d * apart // s
        start = (r + before - d * taps[-1]) // s  # the last tap, flipped to the front
        flipped = slice(taps[-1], taps[0] - 1 if taps[0] else None, -apart)
        phases.append(_AxisPhase(slice(r, None, s), count, flipped, len(taps), step, start,
                                 start + step * (len(taps) - 1) + count))
    return phases


@functools.lru_cache(maxsize=256)
def _phases(geo: Geometry) -> tuple[tuple[Pair, Pair], tuple[tuple[_AxisPhase, _AxisPhase, Geometry | None], ...]]:
    """For :func:`_phase_correlation` (one per layer, found once): the span of the output gradient
    every phase reads together, (start, stop) per axis, and per phase its row and column phases
    and the geometry of its correlation over that span's padded copy (None: no tap lands there)."""
    n, c, h, width = geo.in_shape
    rows = _axis_phases(h, geo.kernel[0], geo.stride[0], geo.padding[0][0], geo.dilation[0])
    cols = _axis_phases(width, geo.kernel[1], geo.stride[1], geo.padding[1][0], geo.dilation[1])
    spans = []
    for axis in (rows, cols):
        reached = [p for p in axis if p.count_taps]
        spans.append((min((p.start for p in reached), default=0), max((p.stop for p in reached), default=0)))
    phases: list[tuple[_AxisPhase, _AxisPhase, Geometry | None]] = []
    for ph in rows:
        for pw in cols:
            if not (ph.count_taps and pw.count_taps):
                phases.append((ph, pw, None))
                continue
            shape = (n, geo.out_channels, ph.stop - ph.start, pw.stop - pw.start)
            phases.append((ph, pw, Geometry(shape, (ph.count_taps, pw.count_taps), c, (1, 1), ((0, 0), (0, 0)),
                                            (ph.step, pw.step), geo.groups, (ph.count, pw.count))))
    return (spans[0], spans[1]), tuple(phases)


def _phase_correlation(gy: np.ndarray, w: np.ndarray, geo: Geometry, zero_safe: bool = False) -> np.ndarray:
    """The input gradient, a phase at a time (:func:`_phases`): the output gradient is copied once
    (padded with zeros where phases read beyond it), each phase is a stride-1 correlation of a
    window of that copy with its taps of the flipped kernel, written onto its strided positions."""
    n, c, h, width = geo.in_shape
    g, og, cg = geo.groups, geo.out_channels // geo.groups, c // geo.groups
    (oh, ow), dtype = geo.out_hw, np.result_type(gy, w)
    spans, phases = _phases(geo)
    (top, bottom), (left, right) = spans
    padded = np.zeros((geo.out_channels, bottom - top, right - left, n), dtype=dtype)
    inside = [slice(max(0, a), min(size, b)) for (a, b), size in zip(spans, (oh, ow))]
    if inside[0].start < inside[0].stop and inside[1].start < inside[1].stop:
        padded[:, inside[0].start - top : inside[0].stop - top, inside[1].start - left : inside[1].stop - left] = \
            _chwn(gy[:, :, inside[0], inside[1]])
    kernel = w.reshape(g, og, cg, *geo.kernel)
    out = np.empty((c, h, width, n), dtype=dtype)
    for ph, pw, phase_geo in phases:
        dest = out[:, ph.positions, pw.positions]
        if phase_geo is None:
            dest.fill(0.0)
            continue
        taps = kernel[:, :, :, ph.taps, pw.taps].transpose(0, 2, 1, 3, 4).astype(dtype, copy=False)
        window = padded[:, ph.start - top : ph.stop - top, pw.start - left : pw.stop - left]
        made, _ = _correlate(_nchw(window), taps.reshape(g, cg, -1), phase_geo, zero_safe=zero_safe)
        np.copyto(dest, made.reshape(dest.shape))
    return _nchw(out)


class _SharedColumns:
    """What the two rules of one transposed convolution share in an ordinary backward: both need
    the columns of the incoming gradient ``v`` (the input's gradient is the convolution of ``v``,
    the weight's is ``v``'s columns times the input), so the input's rule, which runs first, leaves
    them here (where one band holds them) and the weight's takes them, only for the very same
    ``v``, instead of building them again."""

    __slots__ = ("v", "columns")

    def __init__(self) -> None:
        self.v: np.ndarray | None = None
        self.columns: np.ndarray | None = None

    def __repr__(self) -> str:
        return "<shared columns>"


def _input_grad_rule_gy(v: np.ndarray, out: np.ndarray, gy: np.ndarray, w: np.ndarray, x: np.ndarray | None = None,
                        *, geo: Geometry, saved: Any = None, share: _SharedColumns | None = None) -> np.ndarray:
    """The array rule of ``conv2d_input_grad`` for ``gy``: ``conv2d(v, w)`` (products annihilating,
    as while the engine applies rules), its columns left in ``share``."""
    kept = None if share is None else _ConvSaved(False)
    dgy = _conv_forward(v, w, geo=geo, saved=kept, zero_safe=True)
    if kept is not None and kept.value is not None:
        share.v, share.columns = v, kept.value  # type: ignore[union-attr]
    return dgy


def _input_grad_rule_w(v: np.ndarray, out: np.ndarray, gy: np.ndarray, w: np.ndarray, x: np.ndarray | None = None,
                       *, geo: Geometry, saved: Any = None, share: _SharedColumns | None = None) -> np.ndarray:
    """The array rule of ``conv2d_input_grad`` for ``w``: the weight gradient of ``conv2d(v, w)``,
    from the columns of ``v`` the other rule left in ``share`` if they are this ``v``'s."""
    kept = None
    if share is not None:
        if share.v is v:
            kept = _ConvSaved(False)
            kept.value = share.columns
        share.v = share.columns = None
    return _weight_grad_forward(v, gy, geo=geo, saved=kept, zero_safe=True)


_conv_input_grad: Op
_conv_weight_grad: Op
_conv_input_grad = Op(
    "conv2d_input_grad",
    _input_grad_forward,
    (  # the forward's input x, where given, only lends the weight gradient its rows: no gradient
        lambda v, out, gy, w, x=None, *, geo, saved=None, share=None: _conv(v, w, geo=geo),
        lambda v, out, gy, w, x=None, *, geo, saved=None, share=None: _conv_weight_grad(v, gy, geo=geo),
        None,
    ),
    array_vjps=(_input_grad_rule_gy, _input_grad_rule_w, None),
    zero_safe_forward=functools.partial(_input_grad_forward, zero_safe=True),
)


def _weight_grad_forward(
    x: np.ndarray, gy: np.ndarray, *, geo: Geometry, saved: _ConvSaved | None = None, zero_safe: bool = False
) -> np.ndarray:
    """dT/dw: the one the input gradient made alongside (:class:`_ConvSaved`), else the output
    gradient's channel rows times the columns of ``x``, those the forward kept (one band's worth),
    else built again band by band, each band's product added up."""
    made = None if saved is None else saved.take_weight_grad(x, gy)
    if made is not None:
        return made
    g, rows = geo.groups, _channel_rows(gy, geo.groups)
    kept = None if saved is None else saved.take()
    bands = [(slice(None), kept)] if kept is not None else _column_bands(x, geo)
    # made in the weight's shape, not reshaped from the product's: a gradient that is a view of
    # another array is copied before it is handed out as ``.grad``
    out = np.empty((geo.out_channels, geo.in_shape[1] // g, *geo.kernel), dtype=np.result_type(rows, x))
    products = _ProductSum(out.reshape(g, geo.out_channels // g, -1), zero_safe)
    for span, cols in bands:
        products.add(rows[:, :, span], cols.transpose(0, 2, 1))
    if kept is not None:
        _SCRATCH.give(kept.base if kept.base is not None else kept)  # the forward's columns: ours alone
    return out


_conv_weight_grad = Op(
    "conv2d_weight_grad",
    _weight_grad_forward,
    (
        lambda u, out, x, gy, *, geo, saved=None: _conv_input_grad(gy, u, geo=geo),
        lambda u, out, x, gy, *, geo, saved=None: _conv(x, u, geo=geo),
    ),
    zero_safe_forward=functools.partial(_weight_grad_forward, zero_safe=True),
)


# ------------------------------------------------------------------ conv2d, conv1d
def _float_input(x: Any, op: str, name: str = "input") -> Tensor:
    x = lift(x)
    if x.data.dtype.kind != "f":
        raise DTypeError(f"{op}: {name} needs a floating-point dtype, got {x.dtype}")
    return x


def resolve_padding(padding: Any, kernel: Pair, dilation: Pair, stride: Pair, op: str) -> tuple[Pair, Pair]:
    """``padding`` as ((top, bottom), (left, right)); ``"same"`` puts an odd total's extra at the end."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ConfigError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        if stride != (1, 1):
            raise ConfigError(f"{op}: padding='same' needs stride 1 (got stride {stride}); give the padding as numbers")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return (totals[0] // 2, totals[0] - totals[0] // 2), (totals[1] // 2, totals[1] - totals[1] // 2)
    ph, pw = _pair(padding, "padding", op, minimum=0)
    return (ph, ph), (pw, pw)


def conv2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Tensor:
    """2-D cross-correlation, PyTorch's ``conv2d``: ``(N, C, H, W)`` (or ``(C, H, W)``) images and a
    ``(O, C / groups, KH, KW)`` weight give ``(N, O, OH, OW)``.

    ``stride``, ``dilation``: an int or a pair. ``padding``: zeros around the input, an int, a pair,
    ``"valid"`` (none) or ``"same"`` (output as large as the input; stride 1; an odd total goes one
    more at the bottom / right, as PyTorch). ``groups`` splits the channels into that many
    independent convolutions (``groups = C``: depthwise). ``bias``: ``(O,)`` or None.
    """
    op = "conv2d"
    x = _float_input(input, op)
    w = _float_input(weight, op, "weight")
    if w.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D (out_channels, in_channels / groups, kH, kW), got shape {w.shape}")
    if x.ndim == 3:  # one unbatched image
        y = conv2d(reshape(x, (1, *x.shape)), w, bias, stride, padding, dilation, groups)
        return reshape(y, y.shape[1:])
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ConfigError(f"{op}: groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    out_c, in_per_group, kh, kw = w.shape
    if x.shape[1] != in_per_group * groups or out_c % groups:
        raise ShapeError(
            f"{op}: input of shape {x.shape} and weight of shape {w.shape} with groups={groups} do not fit: the "
            f"input needs {in_per_group * groups} channels (weight.shape[1] * groups) and out_channels {out_c} "
            f"must be divisible by groups"
        )
    if kh < 1 or kw < 1 or out_c < 1:
        raise ShapeError(f"{op}: weight of shape {w.shape} has an empty axis")
    stride_p = _pair(stride, "stride", op)
    dilation_p = _pair(dilation, "dilation", op)
    pads = resolve_padding(padding, (kh, kw), dilation_p, stride_p, op)
    geo = _geometry(x.shape, (kh, kw), out_c, stride_p, pads, dilation_p, groups, op)
    inputs = [x, w]
    if bias is not None:
        b = _float_input(bias, op, "bias")
        if b.shape != (out_c,):
            raise ShapeError(f"{op}: bias must have shape ({out_c},) for weight of shape {w.shape}, got {b.shape}")
        inputs.append(b)
    saved = _ConvSaved(x._requires_grad and _by_correlation(geo)) if STATE.enabled and w._requires_grad else None
    return _conv(*inputs, geo=geo, saved=saved)


def conv1d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Tensor:
    """1-D cross-correlation, PyTorch's ``conv1d``: ``(N, C, L)`` (or ``(C, L)``) and a
    ``(O, C / groups, K)`` weight give ``(N, O, OL)``; the arguments as :func:`conv2d` (ints).

    Computed as :func:`conv2d` on images of height 1.
    """
    op = "conv1d"
    x = _float_input(input, op)
    w = _float_input(weight, op, "weight")
    if w.ndim != 3:
        raise ShapeError(f"{op}: weight must be 3-D (out_channels, in_channels / groups, k), got shape {w.shape}")
    if x.ndim not in (2, 3):
        raise ShapeError(f"{op}: input must be (N, C, L) or (C, L), got shape {x.shape}")

    def one(value: Any, name: str) -> Any:
        if isinstance(value, str):
            return value
        items = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
        if len(items) != 1:
            raise ConfigError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
        return items[0]

    pad = one(padding, "padding")
    x4 = reshape(x, (*x.shape[:-1], 1, x.shape[-1]))
    w4 = reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))
    pad2 = pad if isinstance(pad, str) else (0, pad)
    y = conv2d(x4, w4, bias, (1, one(stride, "stride")), pad2, (1, one(dilation, "dilation")), groups)
    return reshape(y, (*y.shape[:-2], y.shape[-1]))


# ------------------------------------------------------------------ transposed convolution
def conv_transpose2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    groups: int = 1, dilation: Any = 1,
) -> Tensor:
    """2-D transposed convolution, PyTorch's ``conv_transpose2d``: ``(N, C, H, W)`` (or ``(C, H, W)``)
    and a ``(C, O / groups, KH, KW)`` weight give ``(N, O, OH, OW)`` with
    ``OH = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1`` (OW alike).

    It is the input gradient of the :func:`conv2d` that maps ``(N, O, OH, OW)`` to the input's shape
    with this weight, so it is that op (``conv2d_input_grad``), whose own derivatives are a
    convolution and a weight gradient. ``stride``, ``padding``, ``output_padding``, ``dilation``: an
    int or a pair; ``output_padding`` (smaller than the stride or the dilation) adds rows and
    columns at the bottom and right. ``bias``: ``(O,)`` or None.
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, dims=2)


def conv_transpose1d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    groups: int = 1, dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution, PyTorch's ``conv_transpose1d``: ``(N, C, L)`` (or ``(C, L)``) and a
    ``(C, O / groups, K)`` weight give ``(N, O, OL)``; the arguments as :func:`conv_transpose2d`
    (ints or 1-tuples). Computed on images of height 1."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, dims=1)


_LAYOUTS = {1: ("(N, C, L) or (C, L)", "(in_channels, out_channels / groups, k)"),
            2: ("(N, C, H, W) or (C, H, W)", "(in_channels, out_channels / groups, kH, kW)")}


def _per_axis(value: Any, name: str, op: str, dims: int, minimum: int) -> tuple[int, ...]:
    """An int, or a tuple of ``dims`` ints, as ``dims`` ints of at least ``minimum``."""
    if dims == 2:
        return _pair(value, name, op, minimum)
    items = (value,) if isinstance(value, (int, np.integer)) else value
    if isinstance(items, str) or len(tuple(items)) != 1:
        raise ConfigError(f"{op}: {name} must be an int or a 1-tuple, got {value!r}")
    return (_pair(tuple(items)[0], name, op, minimum)[0],)


def _conv_transpose(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any, groups: Any,
                    dilation: Any, dims: int) -> Tensor:
    """:func:`conv_transpose2d` and :func:`conv_transpose1d`: arguments checked (errors in the caller's
    terms), then ``conv2d_input_grad`` on 4-D views, then the bias."""
    op = f"conv_transpose{dims}d"
    x = _float_input(input, op)
    w = _float_input(weight, op, "weight")
    if w.ndim != dims + 2:
        raise ShapeError(f"{op}: weight must be {dims + 2}-D {_LAYOUTS[dims][1]}, got shape {w.shape}")
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{op}: input must be {_LAYOUTS[dims][0]}, got shape {x.shape}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ConfigError(f"{op}: groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    cin, out_per_group, kernel = w.shape[0], w.shape[1], w.shape[2:]
    if x.shape[-dims - 1] != cin or cin % groups:
        raise ShapeError(
            f"{op}: input of shape {x.shape} and weight of shape {w.shape} with groups={groups} do not fit: the "
            f"input needs {cin} channels (weight.shape[0]) and in_channels {cin} must be divisible by groups"
        )
    if min(w.shape[1:]) < 1:
        raise ShapeError(f"{op}: weight of shape {w.shape} has an empty axis")
    settings = [_per_axis(value, name, op, dims, minimum) for value, name, minimum in (
        (stride, "stride", 1), (padding, "padding", 0), (output_padding, "output_padding", 0),
        (dilation, "dilation", 1))]
    out_c = out_per_group * groups
    if bias is not None:
        b = _float_input(bias, op, "bias")
        if b.shape != (out_c,):
            raise ShapeError(f"{op}: bias must have shape ({out_c},) for weight of shape {w.shape} and "
                             f"groups={groups}, got {b.shape}")
    unbatched = x.ndim == dims + 1
    batched = reshape(x, (1, *x.shape)) if unbatched else x
    # 1-D: images of height 1 (kernel height 1, stride 1, no padding, dilation 1)
    x4 = reshape(batched, (*batched.shape[:2], 1, batched.shape[2])) if dims == 1 else batched
    w4 = reshape(w, (cin, out_per_group, 1, *kernel)) if dims == 1 else w
    front = ((1,), (0,), (0,), (1,)) if dims == 1 else ((), (), (), ())
    s2, p2, o2, d2 = (f + v for f, v in zip(front, settings))
    geo, extra = _transposed_geometry(x4.shape, w4.shape, s2, p2, o2, d2, groups, op, dims)
    both = STATE.enabled and x4._requires_grad and w4._requires_grad  # both rules will run: they share columns
    y = _conv_input_grad(x4, w4, geo=geo, share=_SharedColumns() if both else None)
    if extra != (0, 0):
        y = pad(y, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    if bias is not None:
        y = y + reshape(b, (out_c, 1, 1))
    shape = y.shape[int(unbatched) : 2] + y.shape[4 - dims :]
    return y if shape == y.shape else reshape(y, shape)


def transposed_size(size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int) -> int:
    """The length of a transposed convolution's output along one axis (PyTorch's formula)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _transposed_geometry(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any, output_padding: Any,
    dilation: Any, groups: int, op: str, dims: int,
) -> tuple[Geometry, Pair]:
    """The geometry of the forward convolution whose input gradient is this transposed convolution
    (4-D shapes, pairs), and the rows and columns of zeros still to add at the bottom and right.

    The forward convolution's input has the transposed output's shape, padded by ``padding`` at
    the top and left and by ``padding - output_padding`` at the bottom and right, so that its
    windows give back exactly the transposed input's H x W. Where ``output_padding`` exceeds
    ``padding`` (possible with dilation larger than the stride), the rows past the last window's
    reach receive nothing: they are the zeros left to add. Errors show the last ``dims`` axes."""
    n, _, h, width = x_shape
    cin, og, kh, kw = w_shape
    sizes, extra = [], []
    for axis, (size, k) in enumerate(((h, kh), (width, kw))):
        s, p, d, o = stride[axis], padding[axis], dilation[axis], output_padding[axis]
        where = ("height", "width")[axis] if dims == 2 else "length"
        if o >= s and o >= d:
            raise ConfigError(f"{op}: output_padding {output_padding[2 - dims:]} must be smaller than the stride "
                              f"{stride[2 - dims:]} or the dilation {dilation[2 - dims:]} (along the {where})")
        out = transposed_size(size, k, s, p, d, o)
        if out <= 0:
            raise ShapeError(
                f"{op}: input of shape {x_shape[:2] + x_shape[4 - dims:]} with weight of shape "
                f"{w_shape[:2] + w_shape[4 - dims:]}, stride {stride[2 - dims:]}, padding {padding[2 - dims:]}, "
                f"output_padding {output_padding[2 - dims:]} and dilation {dilation[2 - dims:]} gives an output "
                f"{where} {out}; it must be at least 1")
        sizes.append(out - max(0, o - p))
        extra.append(max(0, o - p))
    pads = ((padding[0], padding[0] - (output_padding[0] - extra[0])),
            (padding[1], padding[1] - (output_padding[1] - extra[1])))
    forward_input = (n, og * groups, sizes[0], sizes[1])
    geo = _geometry(forward_input, (kh, kw), cin, stride, pads, dilation, groups, op)
    assert geo.out_hw == (h, width), (geo, x_shape)
    return geo, (extra[0], extra[1])


# ------------------------------------------------------------------ max pooling
# Where a gradient will be needed the forward also notes which kernel offset held each window's
# maximum, for one backward (as convolution keeps its columns); a backward that finds them gone
# (a retained graph's second pass, the gather and scatter ops' own rules) finds the maxima again
# from the input, which the graph holds anyway.
def _window_max(x: np.ndarray, geo: Geometry, offsets: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Each window's largest entry (C, OH, OW, N) and, if asked, which kernel offset (row-major)
    held it: the first one at a tie. One pass per kernel offset over every window at once."""
    win = _windows(_padded(x, geo, -np.inf), geo)
    kh, kw = geo.kernel
    best = win[:, 0, 0].copy()
    # offsets only grow along the loop, so "strictly larger here" is a maximum of offsets
    offset = np.zeros(best.shape if offsets else (), dtype=np.uint8 if kh * kw < 256 else np.intp)
    larger, marked = np.empty(offset.shape, dtype=bool), np.empty_like(offset)
    for k in range(1, kh * kw):
        cand = win[:, k // kw, k % kw]
        if offsets:
            np.greater(cand, best, out=larger)  # strictly larger: the first maximum stays
            np.multiply(larger, offset.dtype.type(k), out=marked)
            np.maximum(offset, marked, out=offset)
        np.maximum(best, cand, out=best)  # NaN propagates
    return best, offset if offsets else None


def _max_pool_forward(x: np.ndarray, *, geo: Geometry, saved: _Saved | None = None) -> np.ndarray:
    best, saved_offsets = _window_max(x, geo, offsets=saved is not None)
    if saved is not None:
        saved.value = saved_offsets
    return _nchw(best)


def _offsets(x: np.ndarray, geo: Geometry, saved: _Saved | None = None) -> np.ndarray:
    """Which kernel offset holds each window's maximum: the forward's, else found again."""
    offset = None if saved is None else saved.take()
    if offset is None:
        offset = _window_max(x, geo, offsets=True)[1]
    assert offset is not None
    return offset


def _gather_forward(v: np.ndarray, x: np.ndarray, *, geo: Geometry) -> np.ndarray:
    """Each window's entry of ``v`` where ``x``'s window has its maximum: (N, C, OH, OW)."""
    offset = _offsets(x, geo)
    win = _windows(_padded(v, geo), geo)
    kw = geo.kernel[1]
    out = np.zeros(offset.shape, dtype=v.dtype)
    for k in range(geo.kernel[0] * kw):
        np.copyto(out, win[:, k // kw, k % kw], where=offset == k)
    return _nchw(out)


def _scatter_forward(g: np.ndarray, x: np.ndarray, *, geo: Geometry, saved: _Saved | None = None) -> np.ndarray:
    """The adjoint of :func:`_gather_forward` in ``v``: each entry of ``g`` added where ``x``'s window
    has its maximum (overlapping windows that pick one entry add up); (N, C, H, W). Where windows
    cannot overlap (stride at least the kernel's reach) each offset's entries are written, not added."""
    offset = _offsets(x, geo, saved)
    n, c, h, w = geo.in_shape
    (kh, kw), (oh, ow) = geo.kernel, geo.out_hw
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    (t, _), (left, _) = geo.padding
    disjoint = sh > dh * (kh - 1) and sw > dw * (kw - 1)
    tiled = disjoint and geo.dilation == (1, 1) and geo.padded_hw == (oh * sh, ow * sw) and geo.stride == geo.kernel
    out = (np.empty if tiled else np.zeros)((c, *geo.padded_hw, n), dtype=g.dtype)  # tiled: every entry written
    gc = np.ascontiguousarray(_chwn(g))  # one copy if g comes (N, C, H, W) (from a Flatten), not KH*KW strided reads
    picked = np.empty(offset.shape, dtype=bool)
    part = np.empty(offset.shape, dtype=g.dtype)  # each product into contiguous memory, then placed:
    for k in range(kh * kw):  # 2-3x faster than the product written straight into the strided view
        i, j = divmod(k, kw)
        view = out[:, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
        np.equal(offset, k, out=picked)
        np.multiply(gc, picked, out=part)
        if disjoint:
            np.copyto(view, part)
        else:
            view += part
    return _nchw(out[:, t : t + h, left : left + w])


# gather and scatter are linear in their first input; the pooling input ``x`` only says where the
# maxima are (a piecewise constant choice: no gradient)
_pool_scatter: Op
_pool_gather = Op(
    "max_pool2d_gather",
    _gather_forward,
    (lambda u, out, v, x, *, geo: _pool_scatter(u, x, geo=geo), None),
)
_pool_scatter = Op(
    "max_pool2d_scatter",
    _scatter_forward,
    (lambda v, out, g, x, *, geo, saved=None: _pool_gather(v, x, geo=geo), None),
)
_max_pool = Op(
    "max_pool2d",
    _max_pool_forward,
    (lambda g, out, x, *, geo, saved=None: _pool_scatter(g, x, geo=geo, saved=saved),),
)


def _pool_args(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool, op: str
) -> Geometry:
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size", op)
    stride_p = kernel if stride is None else _pair(stride, "stride", op)
    pad = _pair(padding, "padding", op, minimum=0)
    dilation_p = _pair(dilation, "dilation", op)
    for p, k, d in zip(pad, kernel, dilation_p):
        if 2 * p > d * (k - 1) + 1:
            raise ConfigError(f"{op}: padding {padding} must be at most half the kernel size {kernel_size}")
    c = x.shape[1]
    return _geometry(x.shape, kernel, c, stride_p, ((pad[0], pad[0]), (pad[1], pad[1])), dilation_p, c, op,
                     ceil_mode=bool(ceil_mode))


def _batched(x: Tensor) -> tuple[Tensor, bool]:
    """A (C, H, W) image as a batch of one (and whether it was), as PyTorch accepts."""
    if x.ndim == 3:
        return reshape(x, (1, *x.shape)), True
    return x, False


def max_pool2d(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False
) -> Tensor:
    """The largest entry of each window, PyTorch's ``max_pool2d`` (``stride`` defaults to the kernel).

    ``padding`` (at most half the kernel) pads with -inf. At a tie the first largest entry in
    row-major window order gets the whole gradient. A NaN in a window makes its output NaN.
    """
    op = "max_pool2d"
    x, unbatched = _batched(_float_input(input, op))
    geo = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, op)
    y = _max_pool(x, geo=geo, saved=_Saved() if STATE.enabled and x._requires_grad else None)
    return reshape(y, y.shape[1:]) if unbatched else y


# ------------------------------------------------------------------ average pooling
def _window_counts(geo: Geometry, inside: tuple[Pair, Pair]) -> np.ndarray:
    """How many entries of each window lie in the input extended by ``inside`` padding: (OH, OW)."""
    h, w = geo.in_shape[2:]
    (t, _), (left, _) = geo.padding
    mask = np.zeros((1, *geo.padded_hw, 1))
    mask[0, t - inside[0][0] : t + h + inside[0][1], left - inside[1][0] : left + w + inside[1][1]] = 1.0
    return _windows(mask, geo).sum(axis=(1, 2))[0, :, :, 0]


@functools.lru_cache(maxsize=64)
def _average_kernel(
    geo: Geometry, count_include_pad: bool, divisor: int | None, dtype: np.dtype
) -> tuple[Tensor, Tensor | None]:
    """The depthwise kernel of an average pooling and, where windows hold different counts, the
    (OH, OW) factors that divide each by its own: read-only constants, one per geometry, so that
    a captured step sees the same tensors at every call."""
    c, (kh, kw) = geo.in_shape[1], geo.kernel
    scale: Any = None
    if divisor is not None:
        value = 1.0 / divisor
    else:
        pad = geo.padding[0][0], geo.padding[1][0]
        inside = ((pad[0], pad[0]), (pad[1], pad[1])) if count_include_pad else ((0, 0), (0, 0))
        counts = _window_counts(geo, inside)
        value = 1.0 / counts[0, 0]
        if not (counts == counts[0, 0]).all():
            value, scale = 1.0, (1.0 / counts).astype(dtype)
    kernel = np.full((c, 1, kh, kw), value, dtype=dtype)
    for a in (kernel, scale):
        if a is not None:
            a.flags.writeable = False
    return Tensor._wrap(kernel), None if scale is None else Tensor._wrap(scale)


def avg_pool2d(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window, PyTorch's ``avg_pool2d`` (``stride`` defaults to the kernel).

    Padding adds zeros; ``count_include_pad`` counts them in the divisor (else only the input's
    entries are counted); ``divisor_override`` replaces the divisor. Computed as a depthwise
    :func:`conv2d` with a constant kernel, so its gradient is the convolution's.
    """
    op = "avg_pool2d"
    x, unbatched = _batched(_float_input(input, op))
    geo = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, op)
    divisor = None if divisor_override is None else _pair(divisor_override, "divisor_override", op)[0]
    weight, scale = _average_kernel(geo, bool(count_include_pad), divisor, x.dtype)
    y = _conv(x, weight, geo=geo, saved=None)
    if scale is not None:
        y = ew.multiply(y, scale)
    return reshape(y, y.shape[1:]) if unbatched else y


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """PyTorch's ``adaptive_avg_pool2d``: output cell (i, j) averages input rows
    ``floor(i*H/OH)`` to ``ceil((i+1)*H/OH)`` (exclusive) and the columns alike, so neighbouring
    cells' blocks may differ in size or overlap where the output size does not divide the input's.

    ``output_size``: an int or a pair (``None`` in it keeps that axis). 1 is the mean over H and W
    (global average pooling); a size that divides H and W an :func:`avg_pool2d` with kernel =
    stride = input / output; any other size (larger than the input too) the mean of each block,
    rows then columns.
    """
    op = "adaptive_avg_pool2d"
    x = _float_input(input, op)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    h, w = x.shape[-2:]
    single = output_size is None or isinstance(output_size, (int, np.integer))
    items = (output_size, output_size) if single else tuple(output_size)
    if len(items) != 2:
        raise ConfigError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if items[0] is None else items[0]), (w if items[1] is None else items[1])
    oh, ow = _pair((oh, ow), "output_size", op)
    if (oh, ow) == (1, 1):
        return _mean(x, axis=(-2, -1), keepdims=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    return _block_means(_block_means(x, -2, oh), -1, ow)


def _block_means(x: Tensor, axis: int, out: int) -> Tensor:
    """Adaptive pooling along one axis: block i is entries floor(i*n/out) to ceil((i+1)*n/out)
    (exclusive), each averaged on its own, so an inf or NaN stays in the blocks that hold it (a
    product with an averaging matrix would spread it over every block: 0 * inf is NaN)."""
    n = x.shape[axis]
    if out == n:
        return x
    index: list[Any] = [slice(None)] * x.ndim
    blocks = []
    for i in range(out):
        index[axis] = slice(i * n // out, -(-(i + 1) * n // out))
        blocks.append(_mean(x[tuple(index)], axis=axis, keepdims=True))
    return concatenate(blocks, axis=axis)


# ------------------------------------------------------------------ normalization
class _Moments:
    """The statistics a normalization's forward computed, for whoever needs them once: the
    running-statistics update takes ``mean`` and ``var`` (kept only if ``stats``); ``normalize``'s
    rule takes ``rstd`` (kept only if ``keep_rstd``; recomputed if gone); batch norm's scale and
    shift (``normalize_affine``) keep the centered input ``x - mean`` and ``rstd`` for ``readers``
    rules (the input's and the weight's, those that need a gradient), let go by the last (recomputed
    if gone); its input's rule hands the per-channel sums of the gradient it computes on to the
    ``sum_readers`` rules after it (the weight's and the bias's). Taken, not just read, so that a
    finished step leaves its holder empty, as a captured step's recordings must agree."""

    __slots__ = ("stats", "keep_rstd", "readers", "sum_readers", "mean", "var", "rstd", "centered", "left", "sums",
                 "sums_left")

    def __init__(self, stats: bool = False, keep_rstd: bool = True, readers: int = 0, sum_readers: int = 0) -> None:
        self.stats, self.keep_rstd, self.readers, self.sum_readers = stats, keep_rstd, readers, sum_readers
        self.mean: np.ndarray | None = None
        self.var: np.ndarray | None = None
        self.rstd: np.ndarray | None = None
        self.centered: np.ndarray | None = None
        self.left = 0  # the readers of ``centered`` and ``rstd`` still to come
        self.sums: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (g, sum g, sum g (x - mean))
        self.sums_left = 0

    def __repr__(self) -> str:
        return "<moments>"


def _sum_over(a: np.ndarray, axes: tuple[int, ...], b: np.ndarray | None = None) -> np.ndarray:
    """The sum of ``a`` (of ``a * b`` if given, without that product array) over ``axes``, kept: one
    BLAS product per sum where the layout allows (see :func:`sum_array`); NumPy's sum for other
    dtypes, float16 accumulated in float32 as NumPy's mean does."""
    if a.dtype in BLAS_FLOATS and a.size:
        return sum_array(a, axes, keepdims=True) if b is None else sum_of_products(a, b, axes)
    return np.sum(a if b is None else a * b, axis=axes, keepdims=True,  # type: ignore[no-any-return]
                  dtype=np.result_type(a.dtype, np.float32))


def _mean_over(a: np.ndarray, axes: tuple[int, ...], b: np.ndarray | None = None) -> np.ndarray:
    """The mean of ``a`` (of ``a * b``) over ``axes``, kept, from :func:`_sum_over`; NumPy's mean of
    an empty slice (NaN, as NumPy warns)."""
    n = math.prod(a.shape[i] for i in axes)
    if not n:
        return np.mean(a if b is None else a * b, axis=axes, keepdims=True)  # type: ignore[no-any-return]
    return (_sum_over(a, axes, b) / np.asarray(n, dtype=a.dtype)).astype(a.dtype, copy=False)  # type: ignore[no-any-return]


def _centered(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, ...]:
    """``x - mean``, the mean, the biased variance and ``1 / sqrt(var + eps)`` over ``axes``: the
    forward and a recomputation of rstd share it, so both give the same bits."""
    mean = _mean_over(x, axes)
    out = x - mean
    var = _mean_over(out, axes, out)
    return out, mean, var, 1.0 / np.sqrt(var + eps)


def _normalize_forward(x: np.ndarray, *, axes: tuple[int, ...], eps: float, moments: _Moments) -> np.ndarray:
    out, mean, var, rstd = _centered(x, axes, eps)
    out *= rstd
    if moments.stats:
        moments.mean, moments.var = mean, var
    if moments.keep_rstd:
        moments.rstd = rstd
    return out


def _rstd_forward(x: np.ndarray, *, axes: tuple[int, ...], eps: float, moments: _Moments) -> np.ndarray:
    rstd, moments.rstd = moments.rstd, None
    if rstd is not None:
        return rstd  # the forward's value for this very input (backward checks its version)
    return _centered(x, axes, eps)[3]


def _rstd_rule(u: Tensor, out: Tensor, x: Tensor, *, axes: tuple[int, ...], eps: float, moments: _Moments) -> Tensor:
    # d rstd / dx_i = -rstd^3 (x_i - mean) / n, with rstd = (var + eps)^(-1/2)
    n = math.prod(x.shape[a] for a in axes)
    centered = x - _mean(x, axis=axes, keepdims=True)
    return centered * (u * out * out * out * (-1.0 / n))


def _projected(g: np.ndarray, v: np.ndarray, along: np.ndarray, mean_g: np.ndarray, scale: Any) -> np.ndarray:
    """``(g - mean_g - v along) scale`` in one new array: the projection ``P(g)`` of
    ``normalize_backward`` (``v`` xhat and ``along`` mean(g xhat), or ``v`` the centered input and
    ``along`` rstd^2 mean(g (x - mean))) times per-channel numbers."""
    out = v * along
    out += mean_g
    np.subtract(g, out, out=out)
    out *= scale
    return out


def _normalize_backward_forward(
    g: np.ndarray, xh: np.ndarray, rstd: np.ndarray, *, axes: tuple[int, ...]
) -> np.ndarray:
    return _projected(g, xh, _mean_over(g, axes, xh), _mean_over(g, axes), rstd)


def _nb_grad_g(v: Tensor, out: Tensor, g: Tensor, xh: Tensor, rstd: Tensor, *, axes: tuple[int, ...]) -> Tensor:
    return _normalize_backward(v, xh, rstd, axes=axes)  # P(g) = g - mean(g) - xh mean(g xh) is symmetric


def _nb_grad_xh(v: Tensor, out: Tensor, g: Tensor, xh: Tensor, rstd: Tensor, *, axes: tuple[int, ...]) -> Tensor:
    inner = v * _mean(g * xh, axis=axes, keepdims=True) + g * _mean(v * xh, axis=axes, keepdims=True)
    return -(inner * rstd)


def _nb_grad_rstd(v: Tensor, out: Tensor, g: Tensor, xh: Tensor, rstd: Tensor, *, axes: tuple[int, ...]) -> Tensor:
    return _sum(v * out, axis=axes, keepdims=True) / rstd  # out = rstd P(g)


def _normalize_backward_zero_safe(
    g: np.ndarray, xh: np.ndarray, rstd: np.ndarray, *, axes: tuple[int, ...]
) -> np.ndarray:
    """``normalize_backward`` while the engine applies rules: its products annihilate (``0 * x = 0``),
    so a zero gradient stays exactly zero where the forward overflowed (``where``'s untaken branch)."""
    out = _normalize_backward_forward(g, xh, rstd, axes=axes)
    if ew._clean(out):
        return out  # no NaN: no zero met an inf, so the products needed no annihilating
    return _normalize_backward_annihilating(g, xh, rstd, axes=axes)


def _normalize_backward_annihilating(
    g: np.ndarray, xh: np.ndarray, rstd: np.ndarray, *, axes: tuple[int, ...]
) -> np.ndarray:
    times = ew.annihilating_multiply
    out = g - g.mean(axis=axes, keepdims=True)
    out -= times(xh, times(g, xh).mean(axis=axes, keepdims=True))
    return times(out, rstd, out=out)  # type: ignore[no-any-return]


_normalize_backward = Op("normalize_backward", _normalize_backward_forward, (_nb_grad_g, _nb_grad_xh, _nb_grad_rstd),
                         zero_safe_forward=_normalize_backward_zero_safe)
_rstd = Op("normalize_rstd", _rstd_forward, (_rstd_rule,))
_normalize = Op(
    "normalize",
    _normalize_forward,
    (lambda g, out, x, **params: _normalize_backward(g, out, _rstd(x, **params), axes=params["axes"]),),
)
"""``(x - mean) / sqrt(var + eps)`` over ``axes`` as one node. Its rule is ``rstd * P(g)`` with the
projection ``P(g) = g - mean(g) - xh mean(g xh)``: one op (``normalize_backward``) whose own rules,
like ``rstd``'s, are graphgrad expressions, so every derivative order works."""


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    """A (C,) tensor shaped to broadcast against (N, C, ...) of ``ndim`` axes."""
    return reshape(t, _channel_shape(ndim, t.shape[0]))


def _channel_shape(ndim: int, c: int) -> tuple[int, ...]:
    """The shape of C per-channel numbers that broadcasts against (N, C, ...) of ``ndim`` axes."""
    return (1, c) + (1,) * (ndim - 2)


def _normalize_affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, axes: tuple[int, ...], eps: float, moments: _Moments
) -> np.ndarray:
    # (x - mean) * (rstd w) + b: the weight joins rstd (C numbers), so the normalized input is never
    # an array of its own; the centered one is kept for the rules, which need nothing else
    centered, mean, var, rstd = _centered(x, axes, eps)
    if moments.stats:
        moments.mean, moments.var = mean, var
    if moments.readers:
        moments.centered, moments.rstd, moments.left = centered, rstd, moments.readers
    shape = _channel_shape(x.ndim, w.shape[0])
    scale, shift = rstd * w.reshape(shape), b.reshape(shape)
    if np.result_type(centered, scale, shift) != centered.dtype:
        return centered * scale + shift  # type: ignore[no-any-return]
    out = np.multiply(centered, scale, out=centered if not moments.readers else None)  # in place: no rule reads it
    out += shift
    return out


def _kept_centered(
    x: np.ndarray, axes: tuple[int, ...], eps: float, moments: _Moments
) -> tuple[np.ndarray, np.ndarray]:
    """The forward's ``x - mean`` and ``rstd`` (the node's version check vouches that ``x`` is
    unchanged), let go by their last reader; recomputed if gone."""
    centered, rstd = moments.centered, moments.rstd
    if centered is None or rstd is None:
        centered, _, _, rstd = _centered(x, axes, eps)
        return centered, rstd
    moments.left -= 1
    if moments.left <= 0:
        moments.centered = moments.rstd = None
    return centered, rstd


def _shared_sums(g: np.ndarray, moments: _Moments) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-channel ``sum(g)`` and ``sum(g (x - mean))`` the input's rule computed for this very
    gradient, if it did; let go by the last rule that takes them."""
    kept = moments.sums
    if kept is None or kept[0] is not g:
        return None
    moments.sums_left -= 1
    if moments.sums_left <= 0:
        moments.sums = None
    return kept[1], kept[2]


def _na_grad_x_array(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray, *,
                     axes: tuple[int, ...], eps: float, moments: _Moments) -> np.ndarray:
    # d(xh w + b)/dx = w rstd P(g) with P(g) = g - mean(g) - xh mean(g xh) and xh = centered rstd:
    # xh mean(g xh) = centered (rstd^2 mean(g centered)), C numbers times the kept centered input
    centered, rstd = _kept_centered(x, axes, eps, moments)
    sum_g, sum_gc = _sum_over(g, axes), _sum_over(g, axes, centered)
    if moments.sum_readers:
        moments.sums, moments.sums_left = (g, sum_g, sum_gc), moments.sum_readers
    n = np.asarray(math.prod(x.shape[i] for i in axes), dtype=x.dtype)
    scale = rstd * w.reshape(_channel_shape(x.ndim, w.shape[0]))
    mean_g, along = (sum_g / n).astype(x.dtype, copy=False), (rstd * rstd * (sum_gc / n)).astype(x.dtype, copy=False)
    if not (np.isfinite(mean_g).all() and np.isfinite(along).all() and np.isfinite(scale).all()):
        # an inf or NaN in g, in the input or in the weight (finite sums of products mean finite
        # factors): the products annihilate, so a zero gradient stays zero where the forward overflowed
        return _normalize_backward_annihilating(g, centered * rstd, scale, axes=axes)
    return _projected(g, centered, along, mean_g, scale)


def _na_grad_w_array(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray, *,
                     axes: tuple[int, ...], eps: float, moments: _Moments) -> np.ndarray:
    centered, rstd = _kept_centered(x, axes, eps, moments)
    shared = _shared_sums(g, moments)
    dots = (_sum_over(g, axes, centered) if shared is None else shared[1]) * rstd  # per channel sum(g xh)
    if not ew._clean(dots):  # a zero gradient met an overflowed xhat: products annihilate, as multiply's rule
        dots = np.sum(ew.annihilating_multiply(g, centered * rstd), axis=axes, keepdims=True)
    return dots.reshape(w.shape)


def _na_grad_b_array(g: np.ndarray, out: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray, *,
                     axes: tuple[int, ...], eps: float, moments: _Moments) -> np.ndarray:
    shared = _shared_sums(g, moments)
    return (_sum_over(g, axes) if shared is None else shared[0]).reshape(b.shape)


def _recorded_xhat(x: Tensor, axes: tuple[int, ...], eps: float, moments: _Moments) -> tuple[Tensor, Tensor]:
    """xhat and rstd as graph nodes, for rules that are themselves differentiated (the kept arrays are
    let go: a recorded rule recomputes)."""
    moments.centered = moments.rstd = moments.sums = None
    fresh = _Moments()
    xh = _normalize(x, axes=axes, eps=eps, moments=fresh)
    return xh, _rstd(x, axes=axes, eps=eps, moments=fresh)


def _na_grad_x(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, *,
               axes: tuple[int, ...], eps: float, moments: _Moments) -> Tensor:
    xh, rstd = _recorded_xhat(x, axes, eps, moments)
    return _normalize_backward(g, xh, rstd * _channel_view(w, x.ndim), axes=axes)


def _na_grad_w(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, *,
               axes: tuple[int, ...], eps: float, moments: _Moments) -> Tensor:
    return _sum(g * _recorded_xhat(x, axes, eps, moments)[0], axis=axes)


def _na_grad_b(g: Tensor, out: Tensor, x: Tensor, w: Tensor, b: Tensor, *,
               axes: tuple[int, ...], eps: float, moments: _Moments) -> Tensor:
    return _sum(g, axis=axes)


_normalize_affine = Op(
    "normalize_affine",
    _normalize_affine_forward,
    (_na_grad_x, _na_grad_w, _na_grad_b),
    array_vjps=(_na_grad_x_array, _na_grad_w_array, _na_grad_b_array),
)
"""Training batch norm with its (C,) weight and bias as one node: ``normalize(x) * w + b`` over
``axes`` (all but the channel axis 1). Its rules need no product array: dx is ``normalize_backward``
with the weight folded into rstd, dw a per-channel dot product of g with the centered input (kept
by the forward, as rstd) times rstd, db a per-channel sum of g; the two sums are computed once, by
the input's rule. Recorded (``create_graph``), the same rules are graphgrad expressions over
``normalize`` and ``normalize_rstd``, so every derivative order works."""


class _RunningUpdate:
    """One training ``batch_norm`` call's update of its running statistics from the batch's
    (``moments``): run right after the forward, as an effect that a captured step repeats."""

    __slots__ = ("running_mean", "running_var", "momentum", "count", "moments")

    def __init__(self, running_mean: Any, running_var: Any, momentum: float, count: int, moments: _Moments) -> None:
        self.running_mean, self.running_var, self.moments = running_mean, running_var, moments
        # numbers as given (the count an int): a captured step sees the same update at every call
        self.momentum, self.count = float(momentum), count

    def __repr__(self) -> str:
        return "<running statistics update>"


def _update_running(update: _RunningUpdate) -> None:
    moments = update.moments
    mean, var, moments.mean, moments.var = moments.mean, moments.var, None, None
    assert mean is not None and var is not None, "batch_norm: the forward left no batch statistics"
    if update.running_mean is not None:
        _buffer_update(update.running_mean, mean.reshape(-1), update.momentum)
    if update.running_var is not None:
        unbiased = var.reshape(-1) * (update.count / (update.count - 1))
        _buffer_update(update.running_var, unbiased, update.momentum)


def _buffer_update(buffer: Any, value: np.ndarray, momentum: float) -> None:
    """``buffer = (1 - momentum) * buffer + momentum * value`` in place (a Tensor or an ndarray)."""
    arr = buffer.data if isinstance(buffer, Tensor) else buffer
    arr *= 1.0 - momentum
    arr += momentum * value.astype(arr.dtype, copy=False)
    if isinstance(buffer, Tensor):
        buffer.bump_version()


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value.data if isinstance(value, Tensor) else value))


def batch_norm(
    input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
    training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:
    """PyTorch's ``batch_norm`` over the channel axis 1 of ``(N, C)`` or ``(N, C, ...)`` input.

    Training: normalize with the batch's mean and biased variance (the gradient flows through
    both), and, when given, update ``running_mean`` / ``running_var`` in place with
    ``(1 - momentum) * running + momentum * batch`` (the unbiased variance, as PyTorch); the
    update is not part of the graph. Evaluation: normalize with the running statistics.
    ``weight`` and ``bias`` ((C,), or None) scale and shift the result.
    """
    op = "batch_norm"
    x = _float_input(input, op)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must be (N, C) or (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
        if value is not None and _shape_of(value) != (c,):
            raise ShapeError(
                f"{op}: {name} must have shape ({c},) for input of shape {x.shape}, got {_shape_of(value)}")
    if training:
        axes = (0, *range(2, x.ndim))
        count = x.data.size // max(c, 1)
        if count <= 1:
            raise ShapeError(f"{op}: training needs more than one value per channel, got input of shape {x.shape}")
        tracked = running_mean is not None or running_var is not None
        needs_dx = STATE.enabled and x._requires_grad
        if weight is None and bias is None:
            moments = _Moments(stats=tracked, keep_rstd=needs_dx)
            y = _normalize(x, axes=axes, eps=float(eps), moments=moments)
        else:
            # a missing weight or bias: one constant at every call (a captured step needs the same tensor)
            w = _constant(1.0, x.dtype, (c,)) if weight is None else lift(weight, x)
            b = _constant(0.0, x.dtype, (c,)) if bias is None else lift(bias, x)
            needs_dw, needs_db = STATE.enabled and w._requires_grad, STATE.enabled and b._requires_grad
            readers = int(needs_dx) + int(needs_dw)  # the rules that read x - mean
            moments = _Moments(stats=tracked, readers=readers, sum_readers=(int(needs_dw) + int(needs_db)) * needs_dx)
            y = _normalize_affine(x, w, b, axes=axes, eps=float(eps), moments=moments)
        if tracked:
            host(_update_running, _RunningUpdate(running_mean, running_var, momentum, count, moments))
        return y
    if running_mean is None or running_var is None:
        raise ConfigError(f"{op}: evaluation (training=False) needs running_mean and running_var")
    mean = _channel_view(lift(running_mean, x).astype(x.dtype), x.ndim)
    var = _channel_view(lift(running_var, x).astype(x.dtype), x.ndim)
    y = (x - mean) * ew.reciprocal(ew.sqrt(var + eps))
    if weight is not None:
        y = y * _channel_view(lift(weight, x), x.ndim)
    if bias is not None:
        y = y + _channel_view(lift(bias, x), x.ndim)
    return y


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """PyTorch's ``layer_norm``: normalize over the last ``len(normalized_shape)`` axes with their
    mean and biased variance, then scale by ``weight`` and shift by ``bias`` (of that shape)."""
    op = "layer_norm"
    x = _float_input(input, op)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(
        int(n) for n in normalized_shape)
    k = len(shape)
    if k == 0 or k > x.ndim or x.shape[x.ndim - k:] != shape:
        raise ShapeError(f"{op}: normalized_shape {shape} must be the last axes of the input's shape {x.shape}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and _shape_of(value) != shape:
            raise ShapeError(f"{op}: {name} must have shape {shape}, got {_shape_of(value)}")
    moments = _Moments(keep_rstd=STATE.enabled and x._requires_grad)
    y = _normalize(x, axes=tuple(range(x.ndim - k, x.ndim)), eps=float(eps), moments=moments)
    if weight is not None:
        y = y * lift(weight, x)
    if bias is not None:
        y = y + lift(bias, x)
    return y



def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """PyTorch's ``group_norm``: the channels of ``(N, C, ...)`` input split into ``num_groups``
    groups of C / num_groups; each example's group is normalized over its channels and all
    positions with their mean and biased variance, then scaled by ``weight`` and shifted by
    ``bias`` (per channel, ``(C,)``). Layer norm's ``normalize`` on the input seen as (N, G, rest)."""
    op = "group_norm"
    x = _float_input(input, op)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must be (N, C) or (N, C, ...), got shape {x.shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise ConfigError(f"{op}: num_groups must be a positive integer, got {num_groups!r}")
    c = x.shape[1]
    if c % num_groups:
        raise ConfigError(f"{op}: the {c} channels of the input of shape {x.shape} must be divisible by "
                          f"num_groups {num_groups}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and _shape_of(value) != (c,):
            raise ShapeError(f"{op}: {name} must have shape ({c},) for input of shape {x.shape}, "
                             f"got {_shape_of(value)}")
    grouped = reshape(x, (x.shape[0], int(num_groups), math.prod(x.shape[1:]) // num_groups))  # -1 fails on N = 0
    moments = _Moments(keep_rstd=STATE.enabled and x._requires_grad)
    y = reshape(_normalize(grouped, axes=(2,), eps=float(eps), moments=moments), x.shape)
    if weight is not None:
        y = y * _channel_view(lift(weight, x), x.ndim)
    if bias is not None:
        y = y + _channel_view(lift(bias, x), x.ndim)
    return y


# ------------------------------------------------------------------ embedding
def _embedding_forward(w: np.ndarray, *, index: np.ndarray, padding_idx: int | None) -> np.ndarray:
    return w[index]


def _embedding_backward_forward(
    g: np.ndarray, *, index: np.ndarray, rows: int, padding_idx: int | None
) -> np.ndarray:
    dim = g.shape[-1]
    out = np.zeros((rows, dim), dtype=g.dtype)
    np.add.at(out, index.reshape(-1), g.reshape(-1, dim))  # a row looked up twice gets both gradients
    if padding_idx is not None:
        out[padding_idx] = 0.0
    return out


def _embedding_backward_rule(v: Tensor, out: Tensor, g: Tensor, *, index: np.ndarray, rows: int,
                             padding_idx: int | None) -> Tensor:
    picked = _embedding(v, index=index, padding_idx=padding_idx)
    if padding_idx is None:
        return picked
    keep = (index != padding_idx)[..., None].astype(g.data.dtype)
    return ew.multiply(picked, Tensor._wrap(keep))


_embedding_backward = Op("embedding_backward", _embedding_backward_forward, (_embedding_backward_rule,))
_embedding = Op(
    "embedding",
    _embedding_forward,
    (lambda g, out, w, *, index, padding_idx: _embedding_backward(
        g, index=index, rows=w.shape[0], padding_idx=padding_idx),),
)


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any shape), as
    PyTorch's ``embedding``: the result has shape ``input.shape + (dim,)``.

    A row picked several times gets the sum of their gradients; the row ``padding_idx`` (negative
    counts from the end) gets no gradient.
    """
    op = "embedding"
    w = _float_input(weight, op, "weight")
    if w.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.shape}")
    index = input.data if isinstance(input, Tensor) else np.asarray(input)
    if index.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be integers, got dtype {index.dtype}")
    rows = w.shape[0]
    if index.size and (index.min() < 0 or index.max() >= rows):
        bad = index.min() if index.min() < 0 else index.max()
        raise DataError(f"{op}: index {bad} is out of range for {rows} embeddings (0..{rows - 1})")
    if padding_idx is not None:
        if not -rows <= int(padding_idx) < rows:
            raise ConfigError(f"{op}: padding_idx {padding_idx} is out of range for {rows} embeddings")
        padding_idx = int(padding_idx) % rows
    return _embedding(w, index=index, padding_idx=padding_idx)
