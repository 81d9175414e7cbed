"""The conv family's own rules: helper ops' gradients, the tie rule, saved columns, buffers, errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.check import gradcheck
from graphgrad.autograd.engine import backward
from graphgrad.errors import ConfigError, DataError, DTypeError, InplaceError, ShapeError
from graphgrad.ops import conv as C
from graphgrad.ops.core import REGISTRY

RNG = np.random.default_rng(0)


def _geometry(x_shape, w_shape, stride=(2, 1), padding=((1, 1), (0, 2)), dilation=(1, 2), groups=2):
    return C._geometry(x_shape, w_shape[2:], w_shape[0], stride, padding, dilation, groups, "test")


# ------------------------------------------------------------------ the helper ops, each input
@pytest.mark.parametrize("stride, padding", [((2, 1), ((1, 1), (0, 2))), ((1, 1), ((1, 3), (0, 2)))],
                         ids=["col2im", "full-correlation"])
def test_conv_input_and_weight_grad_ops_have_correct_gradients_in_both_inputs(stride, padding) -> None:
    """The two adjoint ops are differentiated directly (first and second order), in both inputs,
    along both ways of computing the input gradient (stride 2: col2im; stride 1: a correlation,
    here with a bottom padding beyond the kernel's reach, which crops the gradient)."""
    x_shape, w_shape = (2, 4, 6, 7), (4, 2, 3, 2)
    geo = _geometry(x_shape, w_shape, stride=stride, padding=padding)
    gy = RNG.standard_normal(geo.out_shape)
    w, x = RNG.standard_normal(w_shape), RNG.standard_normal(x_shape)
    gradcheck(lambda g, w: C._conv_input_grad(g, w, geo=geo), [gy, w])
    gradcheck(lambda x, g: C._conv_weight_grad(x, g, geo=geo), [x, gy])
    # second order through a nonlinearity, so that every rule of every op is reached
    gradcheck(lambda g, w: gg.tanh(C._conv_input_grad(g, w, geo=geo)).sum() * 1.0, [gy, w])
    gradcheck(lambda x, g: gg.tanh(C._conv_weight_grad(x, g, geo=geo)), [x, gy], fast=True)


def test_conv_ops_are_adjoint() -> None:
    """<g, conv(x, w)> = <conv_input_grad(g, w), x> = <conv_weight_grad(x, g), w>."""
    x_shape, w_shape = (3, 4, 9, 8), (6, 2, 3, 3)
    geo = _geometry(x_shape, w_shape)
    x, w, gy = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(geo.out_shape)
    t = [gg.Tensor(a) for a in (x, w, gy)]
    y = C._conv(t[0], t[1], geo=geo)
    a = float((gy * y.data).sum())
    b = float((C._conv_input_grad(t[2], t[1], geo=geo).data * x).sum())
    c = float((C._conv_weight_grad(t[0], t[2], geo=geo).data * w).sum())
    assert a == pytest.approx(b, rel=1e-12) and a == pytest.approx(c, rel=1e-12)


@pytest.mark.parametrize("padding, dilation, groups", [
    (((1, 1), (1, 1)), (1, 1), 1), (((0, 0), (0, 0)), (2, 1), 2), (((2, 0), (3, 1)), (1, 2), 4),
    (((4, 1), (0, 5)), (2, 2), 1),  # beyond the kernel's reach on three sides: cropped
])
def test_full_correlation_equals_col2im_at_stride_one(padding, dilation, groups) -> None:
    """The stride-1 input gradient (im2col of the gradient, one matmul) is the adjoint col2im
    computes, in float64 and float32."""
    x_shape, w_shape = (3, 4, 7, 6), (8, 4 // groups, 3, 2)
    geo = C._geometry(x_shape, w_shape[2:], w_shape[0], (1, 1), padding, dilation, groups, "test")
    gy, w = RNG.standard_normal(geo.out_shape), RNG.standard_normal(w_shape)
    np.testing.assert_allclose(C._full_correlation(gy, w, geo)[0], C._col2im(gy, w, geo), rtol=1e-12, atol=1e-12)
    got, _ = C._full_correlation(gy.astype(np.float32), w.astype(np.float32), geo)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, C._col2im(gy, w, geo), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, way", [
    ((2, 4, 6, 7), (4, 2, 3, 2), (1, 1), ((1, 3), (0, 2)), "correlation"),  # the gradcheck case above
    ((2, 32, 8, 8), (32, 32, 3, 3), (1, 1), ((1, 1), (1, 1)), "correlation"),  # VGG: 'same', C in = C out
    ((2, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), "col2im"),  # LeNet's second: 'valid', widening
    ((2, 3, 8, 8), (32, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), "col2im"),  # few channels in
    ((2, 8, 8, 8), (8, 8, 3, 3), (2, 2), ((1, 1), (1, 1)), "phases"),  # strided, as many channels out as in
    ((2, 64, 16, 16), (32, 64, 4, 4), (2, 2), ((1, 1), (1, 1)), "phases"),  # half as many out: DCGAN's discriminator
    ((2, 32, 16, 16), (64, 32, 4, 4), (2, 2), ((1, 1), (1, 1)), "col2im"),  # twice as many: its generator's
    ((2, 8, 8, 8), (32, 8, 3, 3), (2, 2), ((1, 1), (1, 1)), "col2im"),  # strided, widening 4x
    ((2, 8, 8, 8), (8, 8, 2, 2), (2, 2), ((0, 0), (0, 0)), "col2im"),  # one tap a phase
    ((2, 8, 9, 9), (8, 8, 3, 3), (3, 3), ((0, 0), (0, 0)), "col2im"),  # one tap a phase
])
def test_input_gradient_takes_the_way_that_moves_less_memory(monkeypatch, x_shape, w_shape, stride, padding, way):
    geo = C._geometry(x_shape, w_shape[2:], w_shape[0], stride, padding, (1, 1), x_shape[1] // w_shape[1], "test")
    taken = []
    monkeypatch.setattr(C, "_full_correlation", lambda *a: (taken.append("correlation"), None))
    monkeypatch.setattr(C, "_phase_correlation", lambda *a: taken.append("phases"))
    monkeypatch.setattr(C, "_col2im", lambda *a: taken.append("col2im"))
    C._input_grad_forward(np.zeros(geo.out_shape), np.zeros(w_shape), geo=geo)
    assert taken == [way]


PHASE_GEOMETRIES = [  # (N, C, H, W) of the convolution's input, (O, C / G, KH, KW), stride, padding, dilation
    ((2, 4, 7, 6), (6, 4, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ((2, 4, 9, 8), (6, 2, 4, 3), (3, 2), ((2, 0), (1, 2)), (1, 1)),  # groups 2, padding on some sides
    ((3, 3, 8, 7), (2, 3, 2, 3), (2, 3), ((0, 1), (0, 0)), (2, 1)),  # stride 2 with dilation 2: empty phases
    ((1, 2, 11, 10), (4, 2, 3, 5), (3, 2), ((4, 1), (2, 3)), (2, 3)),  # padding beyond the reach; odd sizes
    ((2, 6, 6, 6), (6, 1, 4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # depthwise
    ((2, 2, 5, 7), (3, 2, 1, 2), (3, 3), ((0, 0), (0, 0)), (1, 1)),  # kernel smaller than the stride
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", PHASE_GEOMETRIES)
def test_phase_correlation_equals_col2im(x_shape, w_shape, stride, padding, dilation) -> None:
    """The strided input gradient a phase at a time is the adjoint col2im computes, in float64 and
    float32, band by band too; positions no tap reaches (empty phases, the input's edges) get 0."""
    geo = C._geometry(x_shape, w_shape[2:], w_shape[0], stride, padding, dilation, x_shape[1] // w_shape[1], "t")
    gy, w = RNG.standard_normal(geo.out_shape), RNG.standard_normal(w_shape)
    want = C._col2im(gy, w, geo)
    np.testing.assert_allclose(C._phase_correlation(gy, w, geo), want, rtol=1e-12, atol=1e-12)
    got = C._phase_correlation(gy.astype(np.float32), w.astype(np.float32), geo)
    assert got.dtype == np.float32 and got.shape == x_shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_phase_correlation_in_bands_and_with_an_empty_batch(monkeypatch) -> None:
    geo = C._geometry((2, 4, 9, 8), (4, 3), 6, (3, 2), ((2, 0), (1, 2)), (1, 1), 2, "t")
    gy, w = RNG.standard_normal(geo.out_shape), RNG.standard_normal((6, 2, 4, 3))
    whole = C._phase_correlation(gy, w, geo)
    monkeypatch.setattr(C, "_BLOCK_BYTES", 1)
    np.testing.assert_allclose(C._phase_correlation(gy, w, geo), whole, rtol=1e-12, atol=1e-12)
    empty = C._geometry((0, 4, 9, 8), (4, 3), 6, (3, 2), ((2, 0), (1, 2)), (1, 1), 2, "t")
    assert C._phase_correlation(np.zeros(empty.out_shape), w, empty).shape == (0, 4, 9, 8)


def test_phase_correlation_keeps_zero_times_inf_exactly_zero() -> None:
    """The zero-annihilating products (backward's rules): an infinite weight meets zero gradients
    in the first rows, whose input positions get exactly zero, as col2im gives."""
    geo = C._geometry((1, 2, 8, 7), (4, 3), 3, (2, 2), ((1, 1), (1, 0)), (1, 1), 1, "test")
    w = RNG.standard_normal((3, 2, 4, 3))
    w[1, 0, 2, 1] = np.inf
    gy = RNG.standard_normal(geo.out_shape)
    gy[:, :, :2] = 0.0
    with np.errstate(invalid="ignore"):
        got = C._phase_correlation(gy, w, geo, zero_safe=True)
        want = C._col2im(gy, w, geo, zero_safe=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert (got[:, :, :2] == 0.0).all() and not np.isfinite(got).all()


@pytest.mark.parametrize("band_bytes", [1, 3000], ids=["one row per band", "bands with a shorter last one"])
def test_columns_built_in_bands_give_the_same_values_and_gradients(monkeypatch, band_bytes) -> None:
    x = RNG.standard_normal((2, 4, 7, 6))
    w = RNG.standard_normal((6, 2, 3, 2))
    u = RNG.standard_normal((2, 6, 7, 6))

    def run() -> list[np.ndarray]:
        xt, wt = gg.Tensor(x, requires_grad=True), gg.Tensor(w, requires_grad=True)
        y = C.conv2d(xt, wt, padding=((1, 1)), dilation=(1, 2), groups=2)[..., :6]
        y = C.conv2d(y, gg.Tensor(np.ones((6, 1, 1, 1))), groups=6)  # a stride-1 correlation to differentiate
        y.backward(u)
        return [y.data, xt.grad.data, wt.grad.data]

    whole = run()
    monkeypatch.setattr(C, "_BLOCK_BYTES", band_bytes)
    for a, b in zip(run(), whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_forward_keeps_columns_for_the_weight_gradient_only_when_one_band_holds_them(monkeypatch) -> None:
    """Larger column matrices are built again band by band by the weight gradient (never written out
    whole), with the same gradient."""
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 5)))
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    u = RNG.standard_normal((2, 4, 6, 5))
    grads = []
    for band_bytes, kept in [(C._BLOCK_BYTES, True), (2 * 27 * 5 * 8, False)]:  # all rows in a band; 2 rows
        monkeypatch.setattr(C, "_BLOCK_BYTES", band_bytes)
        y = C.conv2d(x, w, padding=1)
        assert (y._node.params["saved"].value is not None) == kept
        w.grad = None
        y.backward(u)
        grads.append(w.grad.data)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)


def test_banded_correlation_keeps_zero_times_inf_exactly_zero(monkeypatch) -> None:
    """The zero-annihilating product (backward's rules) holds band by band: an infinite weight
    meets only zero gradients in the first rows, which get exactly zero, as col2im gives."""
    geo = C._geometry((1, 2, 6, 5), (3, 3), 2, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, "test")
    w = RNG.standard_normal((2, 2, 3, 3))
    w[1, 0, 2, 2] = np.inf
    gy = RNG.standard_normal(geo.out_shape)
    gy[:, :, :3] = 0.0
    monkeypatch.setattr(C, "_BLOCK_BYTES", 1)
    with np.errstate(invalid="ignore"):
        got, _ = C._full_correlation(gy, w, geo, zero_safe=True)
        want = C._col2im(gy, w, geo, zero_safe=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert (got[:, :, :2] == 0.0).all() and not np.isfinite(got).all()


def test_column_buffers_are_reused_and_bounded(monkeypatch) -> None:
    C.release_scratch()
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    C.conv2d(x, w, padding=1).sum().backward()
    kept = list(C._SCRATCH.free)
    assert kept and all(a.base is None for a in kept)
    C.conv2d(x, w, padding=1).sum().backward()  # the same shapes: the same buffers again
    assert {id(a) for a in C._SCRATCH.free} == {id(a) for a in kept}
    for size in range(6, 6 + 2 * C._Scratch.KEEP):  # many shapes: only the latest few are kept
        C.conv2d(gg.Tensor(RNG.standard_normal((1, 3, size, size))), w).sum().backward()
    assert len(C._SCRATCH.free) == C._Scratch.KEEP
    monkeypatch.setattr(C._Scratch, "KEEP_BYTES", 3 * kept[0].nbytes)  # and only so many bytes
    C.conv2d(x, w, padding=1).sum().backward()
    assert sum(a.nbytes for a in C._SCRATCH.free) <= 3 * kept[0].nbytes
    C.release_scratch()
    assert C._SCRATCH.free == []


def test_reused_column_buffers_never_reach_results() -> None:
    """Gradients of one step stay as they were while later steps reuse the column buffers."""
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    C.conv2d(x, w, padding=1).sum().backward()
    first = (x.grad, w.grad)
    copies = [g.data.copy() for g in first]
    for _ in range(3):
        x.grad = w.grad = None
        x.data[...] = RNG.standard_normal(x.shape)
        C.conv2d(x, w, padding=1).sum().backward()
    for g, copy in zip(first, copies):
        np.testing.assert_array_equal(g.data, copy)


@pytest.mark.parametrize("kernel, stride", [(3, 1), (2, 2)])
def test_pool_scatter_and_gather_are_adjoint_with_correct_gradients(kernel: int, stride: int) -> None:
    x = RNG.standard_normal((2, 3, 5, 5))
    geo = C._pool_args(gg.Tensor(x), kernel, stride, 1, 1, False, "max_pool2d")
    y = C._max_pool_forward(x, geo=geo)
    where = gg.Tensor(x)  # where the maxima are: no gradient flows into it
    g = RNG.standard_normal(y.shape)
    gradcheck(lambda g: C._pool_scatter(g, where, geo=geo) * 1.0, [g])
    gradcheck(lambda v: C._pool_gather(v, where, geo=geo) * 1.0, [x])
    scattered = C._pool_scatter(gg.Tensor(g), where, geo=geo).data
    gathered = C._pool_gather(gg.Tensor(x), where, geo=geo).data
    np.testing.assert_array_equal(gathered, y)
    assert float((scattered * x).sum()) == pytest.approx(float((g * gathered).sum()), rel=1e-12)


def test_embedding_backward_op_gradient() -> None:
    index = np.array([[0, 2, 2], [1, 0, 3]])
    g = RNG.standard_normal((2, 3, 4))
    gradcheck(lambda g: C._embedding_backward(g, index=index, rows=5, padding_idx=2) * 1.0, [g])
    gradcheck(lambda g: C._embedding_backward(g, index=index, rows=5, padding_idx=None) * 1.0, [g])


@pytest.mark.parametrize("axes", [(0, 2, 3), (2, 3)])
def test_normalize_helper_ops_have_correct_gradients_in_every_input(axes) -> None:
    x = RNG.standard_normal((3, 2, 4, 3)) * 2 + 1
    moments = C._Moments()
    xh = C._normalize_forward(x, axes=axes, eps=1e-3, moments=moments)
    g = RNG.standard_normal(x.shape)
    rstd = moments.rstd
    gradcheck(lambda g, xh, r: C._normalize_backward(g, xh, r, axes=axes), [g, xh, rstd])
    gradcheck(lambda g, xh, r: gg.tanh(C._normalize_backward(g, xh, r, axes=axes)), [g, xh, rstd], fast=True)
    fresh = C._Moments()  # nothing cached: computes rstd itself
    gradcheck(lambda x: C._rstd(x, axes=axes, eps=1e-3, moments=fresh), [x])
    gradcheck(lambda x: gg.tanh(C._rstd(x, axes=axes, eps=1e-3, moments=fresh)), [x], fast=True)
    np.testing.assert_allclose(C._rstd(gg.Tensor(x), axes=axes, eps=1e-3, moments=fresh).data, rstd, rtol=1e-13)


def test_every_conv_family_op_is_registered_once() -> None:
    names = {"conv2d", "conv2d_input_grad", "conv2d_weight_grad", "max_pool2d", "max_pool2d_scatter",
             "max_pool2d_gather", "embedding", "embedding_backward", "normalize", "normalize_backward",
             "normalize_rstd", "normalize_affine"}
    assert names <= set(REGISTRY)


# ------------------------------------------------------------------ max pooling ties
def test_max_pool_tie_gives_the_whole_gradient_to_the_first_maximum_in_row_major_order() -> None:
    x = gg.Tensor(np.array([[[[1.0, 3.0, 0.0, 2.0],
                              [3.0, 3.0, 2.0, 2.0]]]]), requires_grad=True)
    y = C.max_pool2d(x, 2)
    np.testing.assert_array_equal(y.data, [[[[3.0, 2.0]]]])
    y.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 10.0, 0.0, 20.0], [0.0, 0.0, 0.0, 0.0]]]])


def test_overlapping_max_pool_windows_add_their_gradients() -> None:
    x = gg.Tensor(np.array([[[[0.0, 5.0, 0.0, 0.0]]]]), requires_grad=True)
    y = C.max_pool2d(x, (1, 2), stride=1)  # the 5 is the max of two windows; the last window ties
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 2.0, 1.0, 0.0]]]])


def test_max_pool_propagates_nan() -> None:
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    assert np.isnan(C.max_pool2d(gg.Tensor(x), 2).data).all()


# ------------------------------------------------------------------ saved columns
@pytest.mark.parametrize("x_needs_grad", [False, True], ids=["kept columns", "made with the input gradient"])
def test_saved_weight_gradient_operands_are_used_once_and_made_again_after_retain_graph(x_needs_grad) -> None:
    """Without an input gradient the forward keeps x's columns for the weight's; with one (a
    correlation here) it keeps none: the input gradient leaves the weight's behind, taken once."""
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=x_needs_grad)
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = C.conv2d(x, w, padding=1)
    saved = y._node.params["saved"]
    assert saved.joint == x_needs_grad and C._by_correlation(y._node.params["geo"])
    assert (saved.value is None) == x_needs_grad
    if not x_needs_grad:
        assert saved.value.shape == (1, 27, 72)
    y.sum().backward(retain_graph=True)
    assert saved.value is None and saved.extra is None
    first = w.grad.data.copy()
    w.grad = None
    y.sum().backward()
    np.testing.assert_allclose(w.grad.data, first, rtol=1e-13)


@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups", [
    ((2, 4, 7, 6), (6, 2, 3, 2), (1, 1), (1, 2), 2),
    ((3, 4, 6, 6), (4, 1, 3, 3), 1, (1, 1), 4),  # depthwise
    ((2, 3, 7, 6), (5, 3, 3, 2), (4, 5), (2, 2), 1),  # left and right beyond the kernel's reach: cropped
    ((2, 8, 5, 5), (8, 8, 1, 1), 0, (1, 1), 1),  # 1x1
])
@pytest.mark.parametrize("band_bytes", [None, 1], ids=["one band", "a band per row"])
def test_weight_gradient_made_with_the_input_gradient_equals_the_one_made_alone(
        monkeypatch, x_shape, w_shape, padding, dilation, groups, band_bytes) -> None:
    """The correlation's columns times x give the weight gradient the forward's columns of x give,
    in every geometry the correlation serves, band by band too; x's column bands are then never
    built in the backward."""
    if band_bytes is not None:
        monkeypatch.setattr(C, "_BLOCK_BYTES", band_bytes)
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    u = RNG.standard_normal(C.conv2d(x, w, padding=padding, dilation=dilation, groups=groups).shape)

    def weight_grad(x_needs_grad: bool) -> np.ndarray:
        xt, wt = gg.Tensor(x, requires_grad=x_needs_grad), gg.Tensor(w, requires_grad=True)
        y = C.conv2d(xt, wt, padding=padding, dilation=dilation, groups=groups)
        assert y._node.params["saved"].joint == x_needs_grad
        built = []
        bands = C._column_bands
        monkeypatch.setattr(C, "_column_bands", lambda a, *r: built.append(a) or bands(a, *r))
        y.backward(u)
        monkeypatch.setattr(C, "_column_bands", bands)
        if x_needs_grad:
            assert built and all(a is not xt.data for a in built)  # only the output gradient's columns
        return wt.grad.data

    np.testing.assert_allclose(weight_grad(True), weight_grad(False), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_dtype, w_dtype", [(np.float32, np.float64), (np.float64, np.float32)])
def test_weight_gradient_made_with_the_input_gradient_across_dtypes(x_dtype, w_dtype) -> None:
    x, w = RNG.standard_normal((2, 3, 5, 5)).astype(x_dtype), RNG.standard_normal((4, 3, 3, 3)).astype(w_dtype)
    grads = []
    for x_needs_grad in (True, False):
        xt, wt = gg.Tensor(x, requires_grad=x_needs_grad), gg.Tensor(w, requires_grad=True)
        y = C.conv2d(xt, wt, padding=1)
        assert y._node.params["saved"].joint == x_needs_grad
        (y * y).sum().backward()
        assert wt.grad.dtype == w_dtype
        grads.append(wt.grad.data)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-5)


def test_a_weight_gradient_left_for_other_operands_is_dropped_not_used() -> None:
    geo = C._geometry((2, 3, 5, 5), (3, 3), 4, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, "test")
    x, w = RNG.standard_normal((2, 3, 5, 5)), RNG.standard_normal((4, 3, 3, 3))
    gy, other = RNG.standard_normal(geo.out_shape), RNG.standard_normal(geo.out_shape)
    saved = C._ConvSaved(True)
    C._input_grad_forward(gy, w, x, geo=geo, saved=saved)
    assert saved.extra is not None
    got = C._weight_grad_forward(x, other, geo=geo, saved=saved)
    assert saved.extra is None
    np.testing.assert_allclose(got, C._weight_grad_forward(x, other, geo=geo), rtol=1e-12)
    C._input_grad_forward(gy, w, x, geo=geo, saved=saved)
    np.testing.assert_allclose(C._weight_grad_forward(x, gy, geo=geo, saved=saved),
                               C._weight_grad_forward(x, gy, geo=geo), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2])
def test_a_transposed_convolution_builds_the_incoming_gradients_columns_once(monkeypatch, stride) -> None:
    """Its input's rule (a convolution of the incoming gradient v) leaves v's columns for its
    weight's rule (v's columns times the input): built once in the backward, same gradients."""
    x, w = RNG.standard_normal((2, 4, 5, 5)), RNG.standard_normal((4, 3, 3, 3))
    u = RNG.standard_normal(C.conv_transpose2d(x, w, stride=stride, padding=1).shape)

    def grads(share: bool) -> tuple[list[np.ndarray], int]:
        xt, wt = gg.Tensor(x, requires_grad=True), gg.Tensor(w, requires_grad=True)
        y = C.conv_transpose2d(xt, wt, stride=stride, padding=1)
        assert isinstance(y._node.params["share"], C._SharedColumns)
        if not share:
            y._node.params["share"] = None
        built = []
        bands = C._column_bands
        monkeypatch.setattr(C, "_column_bands", lambda a, *r: built.append(a) or bands(a, *r))
        y.backward(u)
        monkeypatch.setattr(C, "_column_bands", bands)
        return [xt.grad.data, wt.grad.data], len(built)

    (shared, once), (alone, twice) = grads(True), grads(False)
    assert (once, twice) == (1, 2)
    for a, b in zip(shared, alone):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_columns_left_for_another_incoming_gradient_are_dropped_not_used() -> None:
    geo = C._geometry((2, 3, 7, 7), (3, 3), 4, (2, 2), ((1, 1), (1, 1)), (1, 1), 1, "test")
    v, other = RNG.standard_normal((2, 3, 7, 7)), RNG.standard_normal((2, 3, 7, 7))
    gy, w = RNG.standard_normal(geo.out_shape), RNG.standard_normal((4, 3, 3, 3))
    share = C._SharedColumns()
    rules = REGISTRY["conv2d_input_grad"].array_vjps
    np.testing.assert_allclose(rules[0](v, None, gy, w, geo=geo, share=share), C._conv_forward(v, w, geo=geo),
                               rtol=1e-12)
    assert share.v is v and share.columns is not None
    got = rules[1](other, None, gy, w, geo=geo, share=share)
    assert share.v is None and share.columns is None
    np.testing.assert_allclose(got, C._weight_grad_forward(other, gy, geo=geo), rtol=1e-12, atol=1e-12)
    rules[0](v, None, gy, w, geo=geo, share=share)
    np.testing.assert_allclose(rules[1](v, None, gy, w, geo=geo, share=share),
                               C._weight_grad_forward(v, gy, geo=geo), rtol=1e-12, atol=1e-12)


def test_no_columns_are_shared_unless_both_rules_run() -> None:
    x, w = RNG.standard_normal((2, 4, 5, 5)), RNG.standard_normal((4, 3, 3, 3))
    for x_grad, w_grad in [(True, False), (False, True)]:
        y = C.conv_transpose2d(gg.Tensor(x, requires_grad=x_grad), gg.Tensor(w, requires_grad=w_grad), stride=2)
        assert y._node.params["share"] is None


def test_saved_maxima_are_used_once_and_found_again_after_retain_graph() -> None:
    # ties (a ReLU's zeros) decide the gradient: the saved offsets and the refound ones must agree
    x = gg.Tensor(np.maximum(RNG.standard_normal((2, 3, 6, 6)), 0.0), requires_grad=True)
    y = C.max_pool2d(x, 2)
    saved = y._node.params["saved"]
    assert saved.value is not None and saved.value.shape == (3, 3, 3, 2)
    (y * gg.Tensor(RNG.standard_normal(y.shape))).sum().backward(retain_graph=True)
    assert saved.value is None
    first = x.grad.data.copy()
    x.grad = None
    (y * gg.Tensor(RNG.standard_normal(y.shape))).sum().backward()
    assert C.max_pool2d(gg.Tensor(x.data), 2)._node is None  # no gradient wanted: nothing saved
    assert ((first != 0) == (x.grad.data != 0)).all()  # the same entries of each window picked
    assert (np.count_nonzero(first.reshape(2, 3, 3, 2, 3, 2), axis=(3, 5)) == 1).all()


def test_no_columns_are_kept_without_a_weight_gradient() -> None:
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=True)
    y = C.conv2d(x, RNG.standard_normal((4, 3, 3, 3)))
    assert y._node.params["saved"] is None
    with gg.no_grad():
        assert C.conv2d(x, gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True))._node is None


def test_changing_the_input_after_conv_is_caught() -> None:
    x = gg.Tensor(RNG.standard_normal((1, 2, 4, 4)))
    w = gg.Tensor(RNG.standard_normal((3, 2, 3, 3)), requires_grad=True)
    y = C.conv2d(x, w)
    x += 1.0
    with pytest.raises(InplaceError, match="conv2d"):
        y.sum().backward()


def test_float32_stays_float32() -> None:
    x = gg.Tensor(RNG.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = gg.Tensor(np.zeros(4, np.float32), requires_grad=True)
    y = C.max_pool2d(C.conv2d(x, w, b, padding=1), 2)
    y = C.avg_pool2d(y, 2, padding=1, count_include_pad=False)
    y.sum().backward()
    assert y.dtype == np.float32
    assert {t.grad.dtype for t in (x, w, b)} == {np.dtype(np.float32)}


# ------------------------------------------------------------------ batch norm buffers
def test_batch_norm_updates_running_statistics_outside_the_graph() -> None:
    x = gg.Tensor(RNG.standard_normal((8, 3)) * 2 + 1, requires_grad=True)
    mean, var = gg.Tensor(np.zeros(3)), gg.Tensor(np.ones(3))
    y = C.batch_norm(x, mean, var, training=True, momentum=0.25)
    batch = x.data
    np.testing.assert_allclose(mean.data, 0.25 * batch.mean(0), rtol=1e-13)
    np.testing.assert_allclose(var.data, 0.75 + 0.25 * batch.var(0, ddof=1), rtol=1e-13)
    assert not mean.requires_grad and mean._node is None and mean._version == 1
    y.sum().backward()  # the buffers are not inputs of the graph: changing them does not matter
    np.testing.assert_allclose(x.grad.data, 0.0, atol=1e-12)  # normalized columns sum to a constant


def test_batch_norm_needs_more_than_one_value_per_channel_to_train() -> None:
    with pytest.raises(ShapeError, match="more than one value per channel"):
        C.batch_norm(gg.Tensor(np.ones((1, 3))), None, None, training=True)
    with pytest.raises(ConfigError, match="needs running_mean and running_var"):
        C.batch_norm(gg.Tensor(np.ones((2, 3))), None, None)


# ------------------------------------------------------------------ batch norm's fused scale and shift
_NEEDS_GRAD = {"all": (True, True, True), "input only": (True, False, False),
               "weight and bias only": (False, True, True)}


@pytest.mark.parametrize("needs", sorted(_NEEDS_GRAD))
@pytest.mark.parametrize("weight, bias", [(True, True), (True, False), (False, True)])
def test_training_batch_norm_with_weight_or_bias_matches_torch_whichever_inputs_need_gradients(
        weight: bool, bias: bool, needs: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((4, 3, 5, 2)) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3)]
    given = (True, weight, bias)
    ours = [gg.Tensor(a, requires_grad=r) if g else None for a, r, g in zip(arrays, _NEEDS_GRAD[needs], given)]
    theirs = [torch.tensor(a, requires_grad=r) if g else None for a, r, g in zip(arrays, _NEEDS_GRAD[needs], given)]
    stats = [np.zeros(3), np.ones(3)]
    their_stats = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    y = C.batch_norm(ours[0], *stats, ours[1], ours[2], training=True, momentum=0.3, eps=1e-3)
    yt = torch.nn.functional.batch_norm(theirs[0], *their_stats, theirs[1], theirs[2], training=True, momentum=0.3,
                                        eps=1e-3)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    u = rng.standard_normal(y.shape)
    y.backward(u)
    yt.backward(torch.tensor(u))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a is not None and a.requires_grad:
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-11, atol=1e-11, err_msg=f"input {i}")
    for a, b in zip(stats, their_stats):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-13)


@pytest.mark.parametrize("needs", sorted(_NEEDS_GRAD))
def test_training_batch_norm_lets_go_of_what_its_rules_kept_and_recomputes_the_same_bits(needs: str,
                                                                                         monkeypatch) -> None:
    """One node for normalize, scale and shift; its forward keeps x - mean and rstd for the rules, the
    last reader lets them go, and a second backward through the retained graph recomputes them."""
    rng = np.random.default_rng(8)
    x, w, b = (gg.Tensor(a, requires_grad=r) for a, r in zip(
        [rng.standard_normal((6, 3, 4, 4)), rng.standard_normal(3), rng.standard_normal(3)], _NEEDS_GRAD[needs]))
    y = C.batch_norm(x, None, None, w, b, training=True)
    assert y._node.op.name == "normalize_affine"
    moments = y._node.params["moments"]
    assert (moments.centered is not None) == (moments.rstd is not None) == (x.requires_grad or w.requires_grad)
    u = rng.standard_normal(y.shape)
    sums = []
    real_sum_over = C._sum_over
    monkeypatch.setattr(C, "_sum_over", lambda *a: sums.append(len(a)) or real_sum_over(*a))
    y.backward(u, retain_graph=True)
    assert moments.centered is None and moments.rstd is None and moments.sums is None
    # sum(g) and sum(g (x - mean)) once per backward, whichever rules run: the input's hands them on
    assert sorted(sums) == [2, 3]
    first = [t.grad.data.copy() for t in (x, w, b) if t.requires_grad]
    for t in (x, w, b):
        t.grad = None
    y.backward(u)
    assert moments.centered is None and moments.rstd is None
    for got, want in zip([t.grad.data for t in (x, w, b) if t.requires_grad], first):
        np.testing.assert_array_equal(got, want)


def test_training_batch_norm_without_grad_keeps_nothing() -> None:
    x = gg.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    with gg.no_grad():
        y = C.batch_norm(x, None, None, gg.Tensor(np.ones(3), requires_grad=True), np.zeros(3), training=True)
    assert y._node is None and not y.requires_grad
    np.testing.assert_allclose(y.data, (x.data - x.data.mean(0)) / np.sqrt(x.data.var(0) + 1e-5), rtol=1e-12)


def test_training_batch_norm_in_the_convolutions_memory_layout_matches_float64() -> None:
    """float32 images laid out (C, H, W, N), as convolutions hand them over, at the digits model's size:
    the per-channel sums and dot products then run as BLAS products (no product arrays)."""
    rng = np.random.default_rng(9)
    x64 = rng.standard_normal((32, 8, 8, 8)) * 3 + 1
    w64, b64, u64 = rng.standard_normal(8), rng.standard_normal(8), rng.standard_normal((32, 8, 8, 8))

    def chwn(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.astype(np.float32).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)

    def grads(x, w, b, u):
        ts = [gg.Tensor(a, requires_grad=True) for a in (x, w, b)]
        y = C.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
        y.backward(u)
        return [y.data] + [t.grad.data for t in ts]

    got = grads(chwn(x64), w64.astype(np.float32), b64.astype(np.float32), chwn(u64))
    want = grads(x64, w64, b64, u64)
    assert all(g.dtype == np.float32 for g in got)
    for name, g, r in zip(["output", "dx", "dw", "db"], got, want):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-4 * np.abs(r).max(), err_msg=name)


# ------------------------------------------------------------------ errors
X5, W3 = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))

@pytest.mark.parametrize("call, error, message", [
    (lambda: C.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3))), ShapeError, r"needs 2 channels"),
    (lambda: C.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2), ShapeError, "divisible by groups"),
    (lambda: C.conv2d(np.ones((1, 1, 2, 2)), W3), ShapeError,
     r"does not fit the input of shape \(1, 1, 2, 2\)"),
    (lambda: C.conv2d(X5, np.ones((1, 1, 3))), ShapeError, "weight must be 4-D"),
    (lambda: C.conv2d(np.ones((5, 5)), W3), ShapeError, r"input must be \(N, C, H, W\)"),
    (lambda: C.conv2d(X5, W3, stride=0), ConfigError, "stride must be at least 1"),
    (lambda: C.conv2d(X5, W3, stride=2, padding="same"), ConfigError,
     "padding='same' needs stride 1"),
    (lambda: C.conv2d(X5, W3, padding="full"), ConfigError, "'same' or 'valid'"),
    (lambda: C.conv2d(X5, W3, groups=0), ConfigError, "groups must be a positive"),
    (lambda: C.conv2d(X5, np.ones((2, 1, 3, 3)), np.ones(3)), ShapeError, r"bias must have shape \(2,\)"),
    (lambda: C.conv2d(np.ones((1, 1, 5, 5), int), np.ones((2, 1, 3, 3))), DTypeError, "floating-point"),
    (lambda: C.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 3)), stride=(1, 2)), ConfigError,
     "stride must be an int or a 1-tuple"),
    (lambda: C.max_pool2d(X5, 2, padding=2), ConfigError, "at most half the kernel"),
    (lambda: C.max_pool2d(np.ones((1, 1, 1, 5)), 2), ShapeError, "does not fit"),
    (lambda: C.avg_pool2d(X5, 2, divisor_override=0), ConfigError, "divisor_override must be at least 1"),
    (lambda: C.adaptive_avg_pool2d(X5, (2, 0)), ConfigError, r"output_size must be at least 1, got \(2, 0\)"),
    (lambda: C.layer_norm(np.ones((2, 3)), (2,)), ShapeError, "must be the last axes"),
    (lambda: C.batch_norm(np.ones((2, 3)), np.zeros(2), np.ones(3)), ShapeError, r"running_mean must have shape"),
    (lambda: C.embedding(np.array([0, 5]), np.ones((5, 2))), DataError, "index 5 is out of range for 5 embeddings"),
    (lambda: C.embedding(np.array([0.0]), np.ones((5, 2))), DTypeError, "indices must be integers"),
    (lambda: C.embedding(np.array([0]), np.ones((5, 2)), padding_idx=5), ConfigError, "padding_idx 5 is out of range"),
])
def test_bad_input_names_what_is_wrong(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_conv_of_a_tensor_needing_no_gradient_records_nothing() -> None:
    y = C.conv2d(W3, np.ones((1, 1, 2, 2)))
    assert y._node is None and not y.requires_grad
    np.testing.assert_array_equal(y.data, np.full((1, 1, 2, 2), 4.0))


def test_create_graph_gradient_of_weight_matches_plain_backward() -> None:
    x = gg.Tensor(RNG.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = gg.Tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = gg.tanh(C.conv2d(x, w, stride=2, padding=1))
    plain = backward([y], [gg.Tensor(np.ones(y.shape))], retain_graph=True, inputs=[x, w])
    recorded = backward([y], [gg.Tensor(np.ones(y.shape))], create_graph=True, inputs=[x, w])
    for a, b in zip(plain, recorded):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13)
    assert recorded[1].requires_grad
