"""OpInfo entries of the conv family: convolution (transposed too), pooling, normalization, embedding.

Each op's settings (stride, padding, groups...) are fixed per entry; the drawn shapes are made to
fit them. The ``ref`` forwards loop over output pixels and kernel entries in plain NumPy: slow,
independent of the im2col in graphgrad. Entries for ops with kinks (max pooling) add a fixed
ramp so that Hypothesis's repeated values do not tie; ``avoid`` skips the rest of the near ties.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graphgrad.ops import conv as C
from tests.ops.opinfo import OpInfo, fixed, has_ties, operand

CONV_OPS = ("conv2d", "conv2d_input_grad", "conv2d_weight_grad")
POOL_OPS = ("conv2d", "conv2d_input_grad")  # pooling convolves with a constant window: no weight gradient
NORMALIZE_OPS = ("normalize", "normalize_backward", "normalize_rstd")


# ------------------------------------------------------------------ references (loops)
def _pad(x: np.ndarray, ph: tuple[int, int], pw: tuple[int, int], value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), ph, pw), constant_values=value)


def ref_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1, padding: Any = 0,
               dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """Direct cross-correlation: one dot product per output pixel and channel."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    o, cg, kh, kw = w.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        ph, pw = (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    else:
        p = (padding, padding) if isinstance(padding, int) else padding
        ph, pw = (p[0], p[0]), (p[1], p[1])
    xp = _pad(x, ph, pw)
    n, _, hp, wp = xp.shape
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg : (g + 1) * cg, i * sh : i * sh + dh * kh : dh, j * sw : j * sw + dw * kw : dw]
                out[:, oc, i, j] = np.sum(patch * w[oc], axis=(1, 2, 3)) + (0.0 if b is None else b[oc])
    return out



def _two(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def ref_conv_transpose2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
                         padding: Any = 0, output_padding: Any = 0, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """Direct transposed convolution by its definition: every input pixel adds its value times the
    kernel onto the output window it spreads to (row i * stride + ki * dilation - padding), groups
    apart; then the rows past the padding's crop (output_padding) and the bias."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = _two(stride), _two(padding), _two(output_padding), _two(dilation)
    n, cin, h, width = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    reach_h, reach_w = (h - 1) * sh + dh * (kh - 1) + 1, (width - 1) * sw + dw * (kw - 1) + 1
    full = np.zeros((n, og * groups, reach_h + oph, reach_w + opw))
    for g in range(groups):
        xs, ws = x[:, g * cg : (g + 1) * cg], w[g * cg : (g + 1) * cg]
        for i in range(h):
            for j in range(width):
                for ki in range(kh):
                    for kj in range(kw):
                        spread = xs[:, :, i, j] @ ws[:, :, ki, kj]  # (N, out channels of group g)
                        full[:, g * og : (g + 1) * og, i * sh + ki * dh, j * sw + kj * dw] += spread
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (width - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    out = full[:, :, ph : ph + oh, pw : pw + ow]
    return out if b is None else out + b[:, None, None]


def ref_group_norm(x: np.ndarray, groups: int, w: np.ndarray | None = None, b: np.ndarray | None = None,
                   eps: float = 1e-5) -> np.ndarray:
    grouped = x.reshape(x.shape[0], groups, -1)
    mu, var = grouped.mean(axis=2, keepdims=True), grouped.var(axis=2, keepdims=True)
    out = ((grouped - mu) / np.sqrt(var + eps)).reshape(x.shape)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        out = out * w.reshape(shape)
    return out if b is None else out + b.reshape(shape)

def ref_pool(x: np.ndarray, k: int, s: int, p: int, reduce: Any, fill: float, ceil_mode: bool = False,
             dilation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``reduce`` over each window of the padded input; also each window's count of input entries."""
    n, c, h, w = x.shape
    reach = dilation * (k - 1) + 1

    def size(length: int) -> int:
        span = length + 2 * p - reach
        if not ceil_mode:
            return span // s + 1
        m = -(-span // s) + 1
        return m - 1 if (m - 1) * s >= length + p else m

    oh, ow = size(h), size(w)
    xp = _pad(x, (p, p + s), (p, p + s), fill)
    inside = _pad(np.ones((1, 1, h, w)), (p, p + s), (p, p + s))
    padded = _pad(np.ones((1, 1, h + 2 * p, w + 2 * p)), (0, s), (0, s))
    out = np.zeros((n, c, oh, ow))
    counts = np.zeros((2, oh, ow))
    for i in range(oh):
        for j in range(ow):
            rows, cols = slice(i * s, i * s + reach, dilation), slice(j * s, j * s + reach, dilation)
            out[:, :, i, j] = reduce(xp[:, :, rows, cols], axis=(2, 3))
            counts[:, i, j] = inside[0, 0, rows, cols].sum(), padded[0, 0, rows, cols].sum()
    return out, counts


def ref_max_pool(x: np.ndarray, k: int, s: int, p: int = 0, ceil_mode: bool = False, dilation: int = 1) -> np.ndarray:
    return ref_pool(x, k, s, p, np.max, -np.inf, ceil_mode, dilation)[0]


def ref_avg_pool(x: np.ndarray, k: int, s: int, p: int = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> np.ndarray:
    total, counts = ref_pool(x, k, s, p, np.sum, 0.0, ceil_mode)
    return total / counts[1 if count_include_pad else 0]


def ref_adaptive_avg_pool(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """PyTorch's blocks: output (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH), columns alike."""
    h, w = x.shape[-2:]
    out = np.empty((*x.shape[:-2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = math.floor(i * h / oh), math.ceil((i + 1) * h / oh)
            c0, c1 = math.floor(j * w / ow), math.ceil((j + 1) * w / ow)
            out[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return out


def ref_batch_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(shape) + b.reshape(shape)


def ref_layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


# ------------------------------------------------------------------ shapes
@st.composite
def conv_shapes(draw: st.DrawFn, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
                bias: bool = True, depthwise: bool = False, dims: int = 2) -> list[tuple[int, ...]]:
    """x, weight (and bias) shapes that fit a convolution with these settings; small (gradcheck)."""
    n = draw(st.integers(1, 2))
    cg = 1 if depthwise else draw(st.integers(1, 2))
    if depthwise:
        groups = draw(st.integers(1, 3))  # the channels: one group each
    og = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    spatial = tuple(max(1, dilation * (k - 1) + 1 - 2 * padding) + draw(st.integers(0, 2)) for k in kernel)
    shapes = [(n, cg * groups, *spatial), (og * groups, cg, *kernel)]
    return shapes + [(og * groups,)] if bias else shapes



@st.composite
def conv_transpose_shapes(
    draw: st.DrawFn, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1, groups: int = 1,
    bias: bool = True, dims: int = 2,
) -> list[tuple[int, ...]]:
    """x, weight (in, out / groups, *kernel) (and bias) shapes whose transposed output is not empty."""
    n, cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    # the output (size - 1) * stride - 2 padding + dilation (k - 1) + output_padding + 1 is at least 1
    least = [1 + max(0, -(-(2 * padding - dilation * (k - 1) - output_padding) // stride)) for k in kernel]
    spatial = tuple(m + draw(st.integers(0, 2)) for m in least)
    shapes = [(n, cg * groups, *spatial), (cg * groups, og, *kernel)]
    return shapes + [(og * groups,)] if bias else shapes

@st.composite
def image_shapes(draw: st.DrawFn, min_side: int = 1, max_side: int = 5) -> list[tuple[int, ...]]:
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return [(n, c, draw(st.integers(min_side, max_side)), draw(st.integers(min_side, max_side)))]


@fixed
def _ramp(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """Distinct fixed offsets: drawn inputs with repeated values do not tie after adding them."""
    return (np.arange(math.prod(shape)) * 0.737 % 5.0).reshape(shape).astype(dtype)


def _ramped(x: Any) -> Any:
    return x + operand(_ramp(x.shape, x.dtype), x)


def _pool_square_grad(x: Any) -> Any:
    """d/dx sum(max_pool2d(x)^2): the pooled maxima doubled, scattered back to where they were.

    Its own derivative runs the scatter's rule, the gather op (second order of max pooling)."""
    import graphgrad as gg

    y = _ramped(x)
    return gg.grad(lambda z: (C.max_pool2d(z, 2) ** 2).sum())(y)


def ref_pool_square_grad(x: np.ndarray) -> np.ndarray:
    y = _ramped(x)
    out = np.zeros_like(y)
    n, c, h, w = y.shape
    for i in range(n):
        for j in range(c):
            for r in range(0, h - 1, 2):
                for q in range(0, w - 1, 2):
                    window = y[i, j, r:r + 2, q:q + 2]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    out[i, j, r + a, q + b] = 2.0 * window[a, b]
    return out


def _no_flat_channel(xs: list[np.ndarray], axes: tuple[int, ...]) -> bool:
    """Skip inputs whose variance over ``axes`` is near 0 (the normalization's steep region)."""
    return bool(np.any(xs[0].var(axis=axes) < 0.05))


@fixed
def _tokens(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed (2, 3) indices into an embedding of ``shape``: rows 0 and 1 are picked twice."""
    return np.array([[0, 1, 0], [shape[0] - 1, 1, 2]]) % shape[0]


@fixed
def _kept(shape: tuple[int, ...]) -> np.ndarray:
    """True for the tokens that are not the padding index 0 (a column per token)."""
    return (_tokens(shape) != 0)[..., None]


@fixed
def _running(which: str) -> np.ndarray:
    """batch_norm[eval]'s running mean or variance."""
    return np.array([0.5, -1.0, 2.0] if which == "mean" else [0.3, 1.5, 2.0])


def _conv_entry(name: str, stride: int = 1, padding: Any = 0, dilation: int = 1, groups: int = 1,
                bias: bool = True, depthwise: bool = False) -> OpInfo:
    pad_int = 0 if isinstance(padding, str) else padding

    def fn(x: Any, w: Any, b: Any = None) -> Any:
        g = x.shape[1] if depthwise else groups
        return C.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=g)

    def ref(x: np.ndarray, w: np.ndarray, *bias: np.ndarray) -> np.ndarray:  # bias given only when nargs is 3
        g = x.shape[1] if depthwise else groups
        return ref_conv2d(x, w, bias[0] if bias else None, stride, padding, dilation, g)

    shapes = conv_shapes(stride, pad_int, dilation, groups, bias, depthwise)
    sample = [(2, 3 if depthwise else 2 * groups, 5, 4), (6 if depthwise else 2 * groups, 1 if depthwise else 2, 3, 2)]
    return OpInfo(name, fn, nargs=3 if bias else 2, shapes=shapes, ref=ref, covers=CONV_OPS,
                  sample=sample + [(sample[1][0],)] * bias)



def _conv_transpose_entry(name: str, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1,
                          groups: int = 1, bias: bool = True, covers: tuple[str, ...] = CONV_OPS) -> OpInfo:
    settings = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)

    def fn(x: Any, w: Any, b: Any = None) -> Any:
        return C.conv_transpose2d(x, w, b, **settings)

    def ref(x: np.ndarray, w: np.ndarray, *bias: np.ndarray) -> np.ndarray:
        return ref_conv_transpose2d(x, w, bias[0] if bias else None, **settings)

    sample = [(2, 2 * groups, 4, 3), (2 * groups, 2, 3, 2)]
    return OpInfo(name, fn, nargs=3 if bias else 2, ref=ref, covers=covers,
                  shapes=conv_transpose_shapes(stride, padding, output_padding, dilation, groups, bias),
                  sample=sample + [(2 * groups,)] * bias)


def _group_norm_entry(name: str, groups: int, spatial: int, affine: bool) -> OpInfo:
    """Input (N, C, *spatial) with C = groups * (1 to 3); with ``affine`` also weight and bias (C,)."""

    def draw_shapes(s: tuple[int, ...]) -> list[tuple[int, ...]]:
        x = (s[0], groups * s[1], *s[2:])
        return [x, (x[1],), (x[1],)] if affine else [x]

    sizes = st.tuples(st.integers(1, 3), st.integers(1, 3), *[st.integers(1, 3)] * spatial)
    sample = (2, 2 * groups, *(3,) * spatial)
    return OpInfo(
        name,
        (lambda x, w, b: C.group_norm(x, groups, w, b)) if affine else (lambda x: C.group_norm(x, groups)),
        nargs=3 if affine else 1,
        shapes=sizes.map(draw_shapes),
        avoid=lambda xs: bool(np.any(xs[0].reshape(xs[0].shape[0], groups, -1).var(axis=2) < 0.05)),
        sample=[sample, (sample[1],), (sample[1],)] if affine else [sample],
        ref=lambda x, *wb: ref_group_norm(x, groups, *wb),
        covers=NORMALIZE_OPS,
    )

OPINFOS = [
    _conv_entry("conv2d"),
    _conv_entry("conv2d[stride 2, padding 1, no bias]", stride=2, padding=1, bias=False),
    _conv_entry("conv2d[dilation 2, groups 2]", dilation=2, groups=2),
    _conv_entry("conv2d[depthwise]", depthwise=True, padding=1),
    _conv_entry("conv2d[same]", padding="same", dilation=2),
    OpInfo(
        "conv1d",
        lambda x, w, b: C.conv1d(x, w, b, stride=2, padding=1),
        nargs=3,
        shapes=conv_shapes(stride=2, padding=1, dims=1),
        sample=[(2, 3, 7), (4, 3, 3), (4,)],
        ref=lambda x, w, b: ref_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1))[:, :, 0],
        covers=CONV_OPS,
    ),
    _conv_transpose_entry("conv_transpose2d"),
    _conv_transpose_entry("conv_transpose2d[stride 2, padding 1, output_padding 1, no bias]", stride=2, padding=1,
                          output_padding=1, bias=False),
    _conv_transpose_entry("conv_transpose2d[stride 3, dilation 2, groups 2]", stride=3, dilation=2, groups=2),
    _conv_transpose_entry("conv_transpose2d[output_padding past the padding]", dilation=2, output_padding=1,
                          covers=CONV_OPS + ("pad",)),
    OpInfo(
        "conv_transpose1d",
        lambda x, w, b: C.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
        nargs=3,
        shapes=conv_transpose_shapes(stride=2, padding=1, output_padding=1, dims=1),
        sample=[(2, 3, 5), (3, 4, 3), (4,)],
        ref=lambda x, w, b: ref_conv_transpose2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (0, 1))[:, :, 0],
        covers=CONV_OPS,
    ),
    OpInfo(
        "max_pool2d",
        lambda x: C.max_pool2d(_ramped(x), 2),
        shapes=image_shapes(min_side=2),
        avoid=lambda xs: has_ties(xs[0] + _ramp(xs[0].shape)),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_max_pool(x + _ramp(x.shape).astype(x.dtype), 2, 2),
        covers=("max_pool2d", "max_pool2d_scatter"),
    ),
    OpInfo(
        "max_pool2d[gradient of the squared pool]",
        _pool_square_grad,
        shapes=image_shapes(min_side=2),
        avoid=lambda xs: has_ties(xs[0] + _ramp(xs[0].shape)),
        sample=[(2, 3, 6, 5)],
        ref=ref_pool_square_grad,
        covers=("max_pool2d_scatter", "max_pool2d_gather"),
    ),
    OpInfo(
        "max_pool2d[overlapping, padding, ceil]",
        lambda x: C.max_pool2d(_ramped(x), 3, 2, 1, ceil_mode=True),
        shapes=image_shapes(min_side=2),
        avoid=lambda xs: has_ties(xs[0] + _ramp(xs[0].shape)),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_max_pool(x + _ramp(x.shape).astype(x.dtype), 3, 2, 1, ceil_mode=True),
        covers=("max_pool2d", "max_pool2d_scatter"),
    ),
    OpInfo(
        "max_pool2d[dilation 2, stride 1]",
        lambda x: C.max_pool2d(_ramped(x), 2, 1, dilation=2),
        shapes=image_shapes(min_side=3),
        avoid=lambda xs: has_ties(xs[0] + _ramp(xs[0].shape)),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_max_pool(x + _ramp(x.shape).astype(x.dtype), 2, 1, dilation=2),
        covers=("max_pool2d", "max_pool2d_scatter"),
    ),
    OpInfo(
        "avg_pool2d",
        lambda x: C.avg_pool2d(x, 2),
        shapes=image_shapes(min_side=2),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_avg_pool(x, 2, 2),
        covers=POOL_OPS,
    ),
    OpInfo(
        "avg_pool2d[padding, exclude pad, ceil]",
        lambda x: C.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        shapes=image_shapes(min_side=2),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_avg_pool(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        covers=POOL_OPS,
    ),
    OpInfo(
        "avg_pool2d[padding, include pad]",
        lambda x: C.avg_pool2d(x, 3, 1, 1),
        shapes=image_shapes(min_side=1),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: ref_avg_pool(x, 3, 1, 1),
        covers=POOL_OPS,
    ),
    OpInfo(
        "adaptive_avg_pool2d",
        lambda x: C.adaptive_avg_pool2d(x, 1),
        shapes=image_shapes(),
        sample=[(2, 3, 6, 5)],
        ref=lambda x: x.mean(axis=(2, 3), keepdims=True),
        covers=("mean",),
    ),
    OpInfo(
        "adaptive_avg_pool2d[2x1 blocks]",
        lambda x: C.adaptive_avg_pool2d(x, (x.shape[2] // 2, None)),
        shapes=st.tuples(st.integers(1, 2), st.integers(1, 2), st.sampled_from([2, 4]), st.integers(1, 3)).map(
            lambda s: [s]),
        sample=[(2, 3, 4, 5)],
        ref=lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3]).mean(axis=3),
        covers=POOL_OPS,
    ),
    OpInfo(
        "adaptive_avg_pool2d[unequal blocks]",
        lambda x: C.adaptive_avg_pool2d(x, (3, 2)),
        shapes=image_shapes(min_side=1),
        sample=[(2, 3, 5, 7)],
        ref=lambda x: ref_adaptive_avg_pool(x, 3, 2),
        covers=("mean", "concatenate"),
    ),
    OpInfo(
        "batch_norm",
        lambda x, w, b: C.batch_norm(x, None, None, w, b, training=True),
        nargs=3,
        shapes=st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2)).map(
            lambda s: [s, (s[1],), (s[1],)]),
        avoid=lambda xs: _no_flat_channel(xs, (0, 2, 3)),
        sample=[(4, 3, 2, 2), (3,), (3,)],
        ref=ref_batch_norm,
        covers=NORMALIZE_OPS + ("normalize_affine",),
    ),
    OpInfo(
        "batch_norm[eval, 2-D]",
        lambda x, w, b: C.batch_norm(x, operand(_running("mean"), x), operand(_running("var"), x), w, b),
        nargs=3,
        shapes=st.integers(1, 4).map(lambda n: [(n, 3), (3,), (3,)]),
        sample=[(4, 3), (3,), (3,)],
        ref=lambda x, w, b: (x - [0.5, -1.0, 2.0]) / np.sqrt(np.array([0.3, 1.5, 2.0]) + 1e-5) * w + b,
        covers=("subtract", "multiply"),
    ),
    OpInfo(
        "layer_norm",
        lambda x, w, b: C.layer_norm(x, w.shape, w, b),
        nargs=3,
        shapes=st.tuples(st.integers(1, 3), st.integers(2, 4), st.integers(1, 3)).map(
            lambda s: [s, s[1:], s[1:]]),
        avoid=lambda xs: _no_flat_channel(xs, (1, 2)),
        sample=[(2, 3, 4), (3, 4), (3, 4)],
        ref=ref_layer_norm,
        covers=NORMALIZE_OPS,
    ),
    _group_norm_entry("group_norm", groups=2, spatial=2, affine=True),
    _group_norm_entry("group_norm[one group, no affine, 1-D]", groups=1, spatial=1, affine=False),
    _group_norm_entry("group_norm[a group per channel, 2-D]", groups=3, spatial=0, affine=True),
    OpInfo(
        "embedding",
        lambda w: C.embedding(operand(_tokens(w.shape), w), w),
        shapes=st.tuples(st.integers(1, 5), st.integers(1, 3)).map(lambda s: [s]),
        sample=[(5, 3)],
        ref=lambda w: w[_tokens(w.shape)],
        covers=("embedding", "embedding_backward"),
    ),
    OpInfo(  # the padding row's lookups are masked out: by design they get no gradient, so no finite difference
        "embedding[padding_idx]",
        lambda w: C.embedding(operand(_tokens(w.shape), w), w, padding_idx=0) * operand(_kept(w.shape), w),
        shapes=st.tuples(st.integers(1, 5), st.integers(1, 3)).map(lambda s: [s]),
        sample=[(5, 3)],
        ref=lambda w: w[_tokens(w.shape)] * (_tokens(w.shape) != 0)[..., None],
        covers=("embedding", "embedding_backward"),
    ),
]
