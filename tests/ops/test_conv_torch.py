"""The conv family against PyTorch (float64): forward values and gradients over grids of settings.

Each case runs the op on the same random inputs in both libraries, backpropagates the same random
upstream gradient, and compares the output and every input's gradient.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from graphgrad.ops import conv as C

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # PyTorch's own note


def agree(ours: Callable[..., Any], theirs: Callable[..., Any], arrays: Sequence[np.ndarray], seed: int = 0,
          tol: float = 1e-10) -> None:
    """Same output and same gradients of <u, f(inputs)> for every input, u random."""
    ts = [gg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = ours(*ts), theirs(*tt)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=tol, atol=tol)
    u = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(u)
    yt.backward(torch.tensor(u))
    for i, (a, b) in enumerate(zip(ts, tt)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=tol, atol=tol, err_msg=f"gradient of input {i}")


RNG = np.random.default_rng(0)


def second_order_agrees(ours: Callable[..., Any], theirs: Callable[..., Any], x: np.ndarray, w: np.ndarray,
                        weight_too: bool) -> None:
    """The input gradient of <u, f(x, w)> (recorded), then the gradient of its squared norm with
    respect to x (and w), equal in both libraries."""
    xs, ws = gg.Tensor(x, requires_grad=True), gg.Tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = ours(xs, ws)
    u = RNG.standard_normal(y.shape)
    (gx,) = backward([y], [gg.Tensor(u)], retain_graph=True, create_graph=True, inputs=[xs])
    (gxt,) = torch.autograd.grad((theirs(xt, wt) * torch.tensor(u)).sum(), xt, create_graph=True)
    np.testing.assert_allclose(gx.data, gxt.detach().numpy(), rtol=1e-10, atol=1e-10)
    (gx * gx).sum().backward()
    (gxt * gxt).sum().backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-9)
    if weight_too:
        np.testing.assert_allclose(ws.grad.data, wt.grad.numpy(), rtol=1e-9, atol=1e-9)

CONV2D_GRID = [
    # (N, C, H, W), (O, kH, kW), stride, padding, dilation, groups, bias
    *[((2, 4, 9, 8), (6, kh, kw), s, p, d, g, i % 2 == 0)
      for i, ((kh, kw), s, p, d, g) in enumerate(itertools.product(
          [(1, 1), (3, 3), (2, 3)], [1, 2, (2, 1)], [0, 1, (2, 0)], [1, (1, 2)], [1, 2]))],
    ((2, 4, 9, 8), (6, 3, 3), 1, "valid", 1, 1, True),
    ((3, 6, 7, 7), (6, 3, 3), 1, 1, 1, 6, True),          # depthwise
    ((3, 6, 7, 7), (12, 3, 3), 2, 1, 1, 6, False),        # depthwise, channel multiplier 2
    ((1, 3, 10, 10), (4, 4, 4), 1, "same", 1, 1, True),   # even kernel: the extra padding at the end
    ((1, 3, 10, 10), (4, 3, 2), 1, "same", (2, 3), 1, True),
    ((2, 1, 28, 28), (6, 5, 5), 1, 0, 1, 1, True),        # LeNet's first layer
    # stride 1: the input gradient is a full correlation of the output gradient
    ((2, 4, 9, 8), (6, 3, 3), 1, 1, 2, 2, True),          # dilation 2 and groups
    ((2, 6, 8, 9), (6, 3, 2), 1, (2, 1), (2, 3), 3, False),
    ((2, 4, 8, 8), (4, 2, 4), 1, "same", 1, 2, True),     # 'same' with even kernels
    ((2, 3, 8, 7), (4, 4, 2), 1, "same", 2, 1, False),
    ((2, 3, 6, 6), (4, 3, 3), 1, 3, 1, 1, True),          # padding beyond the kernel's reach
    ((2, 32, 8, 8), (32, 3, 3), 1, 1, 1, 1, True),        # the VGG block's second layer, smaller
]


@pytest.mark.parametrize("case", CONV2D_GRID, ids=[str(i) for i in range(len(CONV2D_GRID))])
def test_conv2d_matches_torch(case: tuple[Any, ...]) -> None:
    xshape, (o, kh, kw), stride, padding, dilation, groups, bias = case
    arrays = [RNG.standard_normal(xshape), RNG.standard_normal((o, xshape[1] // groups, kh, kw))]
    if bias:
        arrays.append(RNG.standard_normal(o))
    kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    agree(lambda *t: C.conv2d(*t, **kw_args), lambda *t: F.conv2d(*t, **kw_args), arrays)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 1), (3, 2, 2, 2), (1, 1, 1, 4), (1, "valid", 3, 2),
])
def test_conv1d_matches_torch(stride: int, padding: Any, dilation: int, groups: int) -> None:
    arrays = [RNG.standard_normal((3, 4, 13)), RNG.standard_normal((8, 4 // groups, 3)), RNG.standard_normal(8)]
    kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    agree(lambda *t: C.conv1d(*t, **kw_args), lambda *t: F.conv1d(*t, **kw_args), arrays)


def test_unbatched_inputs_match_torch() -> None:
    agree(lambda x, w: C.conv2d(x, w, padding=1), lambda x, w: F.conv2d(x, w, padding=1),
          [RNG.standard_normal((3, 6, 5)), RNG.standard_normal((2, 3, 3, 3))])
    agree(lambda x, w: C.conv1d(x, w), lambda x, w: F.conv1d(x, w),
          [RNG.standard_normal((3, 6)), RNG.standard_normal((2, 3, 2))])
    agree(lambda x: C.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2), [RNG.standard_normal((3, 6, 5))])
    agree(lambda x: C.avg_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), [RNG.standard_normal((3, 6, 5))])


POOL_GRID = list(itertools.product([2, 3, (2, 3)], [None, 1, 2, (1, 2)], [0, 1], [False, True]))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOL_GRID)
def test_max_pool2d_matches_torch(kernel: Any, stride: Any, padding: int, ceil_mode: bool) -> None:
    kw_args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    agree(lambda x: C.max_pool2d(x, **kw_args), lambda x: F.max_pool2d(x, **kw_args),
          [RNG.standard_normal((2, 3, 9, 8))])


@pytest.mark.parametrize("dilation", [2, (1, 2)])
def test_dilated_max_pool2d_matches_torch(dilation: Any) -> None:
    agree(lambda x: C.max_pool2d(x, 3, 1, 1, dilation), lambda x: F.max_pool2d(x, 3, 1, 1, dilation),
          [RNG.standard_normal((2, 3, 9, 8))])


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOL_GRID)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(
    kernel: Any, stride: Any, padding: int, ceil_mode: bool, count_include_pad: bool
) -> None:
    kw_args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=count_include_pad)
    agree(lambda x: C.avg_pool2d(x, **kw_args), lambda x: F.avg_pool2d(x, **kw_args),
          [RNG.standard_normal((2, 3, 9, 8))])


def test_avg_pool2d_divisor_override_matches_torch() -> None:
    agree(lambda x: C.avg_pool2d(x, 3, 2, 1, divisor_override=4),
          lambda x: F.avg_pool2d(x, 3, 2, 1, divisor_override=4), [RNG.standard_normal((2, 3, 9, 8))])


@pytest.mark.parametrize("size", [1, (1, 1), (3, 2), (None, 4), (9, 8),
                                  2, (4, 3), (None, 5), (5, None), (12, 10)])  # blocks of unequal sizes, overlapping
def test_adaptive_avg_pool2d_matches_torch(size: Any) -> None:
    agree(lambda x: C.adaptive_avg_pool2d(x, size), lambda x: F.adaptive_avg_pool2d(x, size),
          [RNG.standard_normal((2, 3, 9, 8))])


@pytest.mark.parametrize("size", [(2, 3), 2, (7, 4)])
def test_adaptive_avg_pool2d_keeps_inf_and_nan_in_their_blocks_as_torch(size: Any) -> None:
    x = RNG.standard_normal((2, 3, 5, 5))
    x[0, 0, 0, 0], x[1, 2, 4, 4], x[1, 1, 2, 2] = np.nan, np.inf, -np.inf
    want = F.adaptive_avg_pool2d(torch.tensor(x), size).numpy()
    got = C.adaptive_avg_pool2d(x, size).data
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.isfinite(got).sum() > got.size // 2  # the other blocks stay finite


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 5, 2)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_torch(shape: tuple[int, ...], training: bool, affine: bool) -> None:
    stats = [RNG.standard_normal(3), RNG.uniform(0.5, 2.0, 3)]
    ours_stats, their_stats = [s.copy() for s in stats], [torch.tensor(s) for s in stats]
    arrays = [RNG.standard_normal(shape) * 2 + 1]
    if affine:
        arrays += [RNG.standard_normal(3), RNG.standard_normal(3)]
    agree(lambda x, *wb: C.batch_norm(x, *ours_stats, *wb, training=training, momentum=0.3, eps=1e-3),
          lambda x, *wb: F.batch_norm(x, *their_stats, *wb, training=training, momentum=0.3, eps=1e-3), arrays)
    for ours, theirs in zip(ours_stats, their_stats):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_batch_norm_running_statistics_after_steps_match_torch() -> None:
    """Ten training steps on different batches, then evaluation with the running statistics."""
    ours = [gg.Tensor(np.zeros(4)), gg.Tensor(np.ones(4))]
    theirs = [torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)]
    for _ in range(10):
        x = RNG.standard_normal((6, 4, 3, 3)) * RNG.uniform(0.5, 3, (1, 4, 1, 1)) + RNG.standard_normal((1, 4, 1, 1))
        C.batch_norm(gg.Tensor(x), *ours, training=True)
        F.batch_norm(torch.tensor(x), *theirs, training=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-12)
    x = RNG.standard_normal((5, 4, 2, 2))
    agree(lambda t: C.batch_norm(t, *ours), lambda t: F.batch_norm(t, *theirs), [x])


@pytest.mark.parametrize("shape, normalized", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4), (2, 3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(shape: tuple[int, ...], normalized: tuple[int, ...], affine: bool) -> None:
    arrays = [RNG.standard_normal(shape) * 3 - 1]
    if affine:
        arrays += [RNG.standard_normal(normalized), RNG.standard_normal(normalized)]
    agree(lambda x, *wb: C.layer_norm(x, normalized, *wb, eps=1e-4),
          lambda x, *wb: F.layer_norm(x, normalized, *wb, eps=1e-4), arrays)


@pytest.mark.parametrize("padding_idx", [None, 0, 2, -1])
def test_embedding_matches_torch(padding_idx: int | None) -> None:
    index = np.array([[0, 2, 2, 4], [4, 1, 2, 0], [3, 3, 3, 3]])
    agree(lambda w: C.embedding(index, w, padding_idx=padding_idx),
          lambda w: F.embedding(torch.tensor(index), w, padding_idx=padding_idx), [RNG.standard_normal((5, 3))])


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d", "batch_norm"])
def test_second_order_matches_torch(op: str) -> None:
    """Gradient of (the squared norm of the input gradient) with respect to every input."""
    x = RNG.standard_normal((2, 4, 6, 5))
    w = RNG.standard_normal((3, 4, 3, 2))
    ours = {
        "conv2d": lambda x, w: gg.tanh(C.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2))),
        "max_pool2d": lambda x, w: C.max_pool2d(x * x, 3, 2, 1),
        "avg_pool2d": lambda x, w: C.avg_pool2d(x * x, 3, 2, 1, count_include_pad=False),
        "batch_norm": lambda x, w: C.batch_norm(x, None, None, w[0, :, 0, 0], None, training=True),
    }[op]
    theirs = {
        "conv2d": lambda x, w: torch.tanh(F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2))),
        "max_pool2d": lambda x, w: F.max_pool2d(x * x, 3, 2, 1),
        "avg_pool2d": lambda x, w: F.avg_pool2d(x * x, 3, 2, 1, count_include_pad=False),
        "batch_norm": lambda x, w: F.batch_norm(x, None, None, w[0, :, 0, 0], None, training=True),
    }[op]
    second_order_agrees(ours, theirs, x, w, weight_too=op in ("conv2d", "batch_norm"))


# ------------------------------------------------------------------ transposed convolution, group norm
def _both_refuse(pair: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> bool:
    return any(o >= s and o >= d for o, s, d in zip(pair, stride, dilation))


def _as_pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


CONV_TRANSPOSE2D_GRID = [
    # (N, C, H, W), (O, kH, kW), stride, padding, output_padding, dilation, groups, bias
    *[((2, 4, 5, 4), (6, kh, kw), s, p, op, d, 1 + i % 2, i % 3 != 0)
      for i, ((kh, kw), s, p, op, d) in enumerate(itertools.product(
          [(1, 1), (3, 3), (2, 3)], [1, 2, (2, 3)], [0, 1, (2, 0)], [0, 1, (1, 0)], [1, (2, 1)]))
      if not _both_refuse(_as_pair(op), _as_pair(s), _as_pair(d))
      and all((h - 1) * st - 2 * pp + dd * (k - 1) + oo + 1 >= 1 for h, k, st, pp, oo, dd in zip(
          (5, 4), (kh, kw), _as_pair(s), _as_pair(p), _as_pair(op), _as_pair(d)))],
    ((2, 6, 5, 5), (6, 3, 3), 2, 1, 1, 1, 6, True),       # depthwise
    ((2, 6, 5, 5), (12, 3, 3), 2, 1, 0, 1, 6, False),     # depthwise, channel multiplier 2
    ((2, 3, 4, 4), (2, 3, 3), 1, 0, 1, 2, 1, True),       # output_padding past the padding: a zero row and column
    ((2, 3, 4, 4), (2, 2, 3), (1, 2), (0, 1), (2, 1), 3, 1, True),  # output_padding 2 past padding 0
    ((1, 2, 3, 3), (3, 4, 4), 2, 3, 1, 1, 1, True),       # padding beyond the kernel's reach (cropped)
    ((2, 8, 4, 4), (4, 4, 4), 2, 1, 0, 1, 1, True),       # the DCGAN upsampling layer, smaller
    ((1, 2, 1, 1), (3, 5, 5), 1, 0, 0, 1, 1, False),      # one pixel spreads the kernel
]


@pytest.mark.parametrize("case", CONV_TRANSPOSE2D_GRID, ids=[str(i) for i in range(len(CONV_TRANSPOSE2D_GRID))])
def test_conv_transpose2d_matches_torch(case: tuple[Any, ...]) -> None:
    xshape, (o, kh, kw), stride, padding, output_padding, dilation, groups, bias = case
    arrays = [RNG.standard_normal(xshape), RNG.standard_normal((xshape[1], o // groups, kh, kw))]
    if bias:
        arrays.append(RNG.standard_normal(o))
    kw_args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    agree(lambda *t: C.conv_transpose2d(*t, **kw_args), lambda *t: F.conv_transpose2d(*t, **kw_args), arrays)


PHASES_GRID = [  # transposed convolutions whose output is made a phase at a time (strides 2 and 3)
    # (N, C, H, W), (O, kH, kW), stride, padding, output_padding, dilation, groups
    ((2, 4, 5, 4), (6, 4, 4), 2, 1, 0, 1, 1),      # an upsampling layer widening its channels
    ((3, 4, 5, 6), (4, 3, 3), 2, 1, 1, 1, 2),      # output_padding, groups
    ((2, 4, 4, 5), (6, 5, 4), (3, 2), (2, 1), (2, 1), 1, 1),  # stride 3, odd sizes
    ((2, 4, 5, 5), (4, 3, 5), 3, 0, 1, 2, 2),      # stride 3 with dilation 2
    ((2, 2, 5, 4), (2, 3, 3), 2, (0, 2), 1, 2, 1),  # stride 2 with dilation 2: half the phases get no tap
    ((1, 2, 3, 3), (3, 4, 4), 2, 3, 1, 1, 1),      # padding beyond the kernel's reach (cropped)
    ((2, 6, 4, 4), (6, 4, 4), 2, 1, 0, 1, 6),      # depthwise
    ((2, 4, 3, 5), (4, 4, 4), 3, 1, 2, 3, 1),      # output_padding 2 past padding 1; dilation 3: one phase
]


@pytest.mark.parametrize("case", PHASES_GRID, ids=[str(i) for i in range(len(PHASES_GRID))])
def test_conv_transpose2d_by_phases_matches_torch(case: tuple[Any, ...]) -> None:
    """Forward, both gradients (the incoming gradient's columns shared by the two rules) and the
    bias's; each case is one the phases serve."""
    xshape, (o, kh, kw), stride, padding, output_padding, dilation, groups = case
    arrays = [RNG.standard_normal(xshape), RNG.standard_normal((xshape[1], o // groups, kh, kw)),
              RNG.standard_normal(o)]
    kw_args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    y = C.conv_transpose2d(gg.Tensor(arrays[0], requires_grad=True), arrays[1], **kw_args)
    node = y._node if y._node.op.name == "conv2d_input_grad" else y._node.inputs[0]._node
    assert C._by_phases(node.params["geo"]) and not C._by_correlation(node.params["geo"])
    agree(lambda *t: C.conv_transpose2d(*t, **kw_args), lambda *t: F.conv_transpose2d(*t, **kw_args), arrays)
    second_order_agrees(lambda x, w: gg.tanh(C.conv_transpose2d(x, w, **kw_args)),
                        lambda x, w: torch.tanh(F.conv_transpose2d(x, w, **kw_args)), arrays[0], arrays[1],
                        weight_too=True)


def test_conv_transpose2d_grid_covers_every_setting() -> None:
    """The grid above is not thinned out by its filters: each setting appears with every other kind."""
    cases = CONV_TRANSPOSE2D_GRID
    assert len(cases) > 100
    assert {c[4] for c in cases} >= {0, 1, (1, 0), (2, 1)} and {c[6] for c in cases} >= {1, 2, 6}
    assert any(_as_pair(c[4])[0] > _as_pair(c[3])[0] for c in cases)  # output_padding past the padding


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 2, 2, 2, 2), (1, 0, 1, 2, 4), (2, 0, 1, 3, 2), (4, 1, 3, 1, 1),
])
def test_conv_transpose1d_matches_torch(stride: int, padding: int, output_padding: int, dilation: int,
                                        groups: int) -> None:
    arrays = [RNG.standard_normal((3, 4, 6)), RNG.standard_normal((4, 8 // groups, 3)), RNG.standard_normal(8)]
    kw_args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    agree(lambda *t: C.conv_transpose1d(*t, **kw_args), lambda *t: F.conv_transpose1d(*t, **kw_args), arrays)


def test_unbatched_transposed_convolutions_match_torch() -> None:
    agree(lambda x, w: C.conv_transpose2d(x, w, stride=2, padding=1), lambda x, w: F.conv_transpose2d(x, w, stride=2,
          padding=1), [RNG.standard_normal((3, 4, 5)), RNG.standard_normal((3, 2, 3, 3))])
    agree(lambda x, w, b: C.conv_transpose1d(x, w, b, 2, output_padding=1),
          lambda x, w, b: F.conv_transpose1d(x, w, b, 2, output_padding=1),
          [RNG.standard_normal((3, 6)), RNG.standard_normal((3, 2, 2)), RNG.standard_normal(2)])


@pytest.mark.parametrize("output_padding, stride, dilation, padding", [(1, 1, 1, 0), (2, 2, 1, 1), (2, 2, 2, 2)])
def test_conv_transpose2d_refuses_the_output_padding_torch_refuses(output_padding: int, stride: int, dilation: int,
                                                                   padding: int) -> None:
    from graphgrad.errors import ConfigError

    x, w = np.ones((1, 2, 4, 4)), np.ones((2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, stride, padding, output_padding, 1, dilation)
    with pytest.raises(ConfigError, match=r"conv_transpose2d: output_padding \(\d, \d\) must be smaller than the "
                                          r"stride \(\d, \d\) or the dilation"):
        C.conv_transpose2d(x, w, None, stride, padding, output_padding, 1, dilation)


GROUP_NORM_GRID = [
    ((4, 6), 2), ((4, 6), 3), ((3, 6, 5), 1), ((3, 6, 5), 3), ((2, 6, 4, 3), 2), ((2, 6, 4, 3), 6),
    ((2, 8, 3, 2, 2), 4), ((1, 4, 7, 7), 2),
]


@pytest.mark.parametrize("shape, groups", GROUP_NORM_GRID)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape: tuple[int, ...], groups: int, affine: bool) -> None:
    arrays = [RNG.standard_normal(shape) * 2 + 1]
    if affine:
        arrays += [RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])]
    agree(lambda x, *wb: C.group_norm(x, groups, *wb, eps=1e-3),
          lambda x, *wb: F.group_norm(x, groups, *wb, eps=1e-3), arrays)


def test_group_norm_with_one_channel_per_group_and_no_positions_is_zero_as_torch() -> None:
    """Each group a single number: centered to exactly 0 in both libraries; the gradient passes only
    through the bias (the values in both are rounding noise of 1/sqrt(eps) times 0)."""
    x, w, b = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal(4)
    agree(lambda *t: C.group_norm(t[0], 4, t[1], t[2]), lambda *t: F.group_norm(t[0], 4, t[1], t[2]), [x, w, b],
          tol=1e-7)


@pytest.mark.parametrize("op", ["conv_transpose2d", "conv_transpose2d[output_padding past padding]", "group_norm"])
def test_second_order_of_the_new_ops_matches_torch(op: str) -> None:
    """Gradient of (the squared norm of the input gradient) with respect to input and weight."""
    x = RNG.standard_normal((2, 4, 5, 4))
    w = RNG.standard_normal((4, 3, 3, 2)) if op.startswith("conv") else RNG.standard_normal(4)
    settings = {"conv_transpose2d": dict(stride=(2, 1), padding=1, output_padding=(1, 0)),
                "conv_transpose2d[output_padding past padding]": dict(groups=2, dilation=2, output_padding=1)}
    if op == "group_norm":
        ours, theirs = (lambda x, w: C.group_norm(x * x, 2, w)), (lambda x, w: F.group_norm(x * x, 2, w))
    else:
        ours = lambda x, w: gg.tanh(C.conv_transpose2d(x, w, **settings[op]))  # noqa: E731
        theirs = lambda x, w: torch.tanh(F.conv_transpose2d(x, w, **settings[op]))  # noqa: E731
    if "past" in op:
        w = w[:, :2]  # (4, 2, 3, 2): two groups of two channels each
    second_order_agrees(ours, theirs, x, w, weight_too=True)
