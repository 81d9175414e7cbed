"""conv_transpose2d, conv_transpose1d and group_norm: values worked out by hand and the errors
that name what is wrong (PyTorch comparisons are in test_conv_torch.py)."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ConfigError, DTypeError, ShapeError
from graphgrad.ops import conv as C


def test_a_stride_2_transposed_convolution_spreads_each_pixel_by_hand() -> None:
    """Input [[1, 2]] (1x1x1x2), kernel [[1, 10]] (1x1x1x2), stride 2: pixel j lands on columns 2j and
    2j + 1 as (x_j, 10 x_j): [1, 10, 2, 20]; output_padding 1 adds one column, padding 1 crops one
    on each side, and the bias adds to all."""
    x, w = np.array([[[[1.0, 2.0]]]]), np.array([[[[1.0, 10.0]]]])
    np.testing.assert_array_equal(C.conv_transpose2d(x, w, stride=(1, 2)).data, [[[[1, 10, 2, 20]]]])
    np.testing.assert_array_equal(C.conv_transpose2d(x, w, stride=(1, 2), output_padding=(0, 1)).data,
                                  [[[[1, 10, 2, 20, 0]]]])
    np.testing.assert_array_equal(C.conv_transpose2d(x, w, np.array([0.5]), (1, 2), (0, 1)).data, [[[[10.5, 2.5]]]])


def test_overlapping_windows_add_up_and_the_gradient_is_the_correlation_by_hand() -> None:
    """Stride 1, kernel [1, 1, 1] over [1, 2, 3]: each output sums the pixels whose window covers it,
    [1, 3, 6, 5, 3]; d sum(u * y) / dx_j = u_j + u_{j+1} + u_{j+2}, dw_k = sum_j u_{j+k} x_j."""
    x = gg.Tensor(np.array([[[1.0, 2.0, 3.0]]]), requires_grad=True)
    w = gg.Tensor(np.ones((1, 1, 3)), requires_grad=True)
    y = C.conv_transpose1d(x, w)
    np.testing.assert_array_equal(y.data, [[[1, 3, 6, 5, 3]]])
    u = np.array([[[1.0, 0.0, 2.0, 0.0, 1.0]]])
    y.backward(u)
    np.testing.assert_array_equal(x.grad.data, [[[3, 2, 3]]])
    np.testing.assert_array_equal(w.grad.data, [[[1 + 0 + 6, 0 + 4 + 0, 2 + 0 + 3]]])


def test_group_norm_by_hand() -> None:
    """Two groups of two channels, one position: group (1, 3) has mean 2 and variance 1, so it
    becomes (-1, 1) (eps 0); group (5, 5) is flat and becomes (0, 0); then weight and bias."""
    x = np.array([[1.0, 3.0, 5.0, 5.0]])
    np.testing.assert_allclose(C.group_norm(x, 2, eps=0.0 + 1e-12).data, [[-1, 1, 0, 0]], atol=1e-9)
    y = C.group_norm(x, 2, np.array([2.0, 2.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 7.0]), eps=1e-12)
    np.testing.assert_allclose(y.data, [[-2, 3, 0, 7]], atol=1e-9)


def test_group_norm_keeps_float32() -> None:
    y = C.group_norm(np.ones((2, 4, 3), np.float32) * np.arange(3, dtype=np.float32), 2,
                     np.ones(4, np.float32), np.zeros(4, np.float32))
    assert y.dtype == np.float32
    assert C.conv_transpose2d(np.ones((1, 2, 3, 3), np.float32), np.ones((2, 1, 2, 2), np.float32)).dtype == np.float32


X, W = np.ones((1, 2, 4, 4)), np.ones((2, 3, 3, 3))


@pytest.mark.parametrize("call, error, message", [
    (lambda: C.conv_transpose2d(X, np.ones((3, 3, 3, 3))), ShapeError,
     r"conv_transpose2d: input of shape \(1, 2, 4, 4\) and weight of shape \(3, 3, 3, 3\) with groups=1 do not "
     r"fit: the input needs 3 channels \(weight.shape\[0\]\)"),
    (lambda: C.conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((3, 1, 3, 3)), groups=2), ShapeError,
     "in_channels 3 must be divisible by groups"),
    (lambda: C.conv_transpose2d(X, np.ones((2, 3, 3))), ShapeError,
     r"weight must be 4-D \(in_channels, out_channels / groups, kH, kW\)"),
    (lambda: C.conv_transpose2d(np.ones((4, 4)), W), ShapeError, r"input must be \(N, C, H, W\) or \(C, H, W\)"),
    (lambda: C.conv_transpose2d(X, W, stride=0), ConfigError, "conv_transpose2d: stride must be at least 1"),
    (lambda: C.conv_transpose2d(X, W, padding=-1), ConfigError, "padding must be at least 0"),
    (lambda: C.conv_transpose2d(X, W, padding="same"), ConfigError, "padding must be an int or a pair of ints"),
    (lambda: C.conv_transpose2d(X, W, output_padding=-1), ConfigError, "output_padding must be at least 0"),
    (lambda: C.conv_transpose2d(X, W, stride=2, output_padding=(1, 2)), ConfigError,
     r"output_padding \(1, 2\) must be smaller than the stride \(2, 2\) or the dilation \(1, 1\) \(along the width\)"),
    (lambda: C.conv_transpose2d(X, W, dilation=0), ConfigError, "dilation must be at least 1"),
    (lambda: C.conv_transpose2d(X, W, groups=0), ConfigError, "groups must be a positive integer, got 0"),
    (lambda: C.conv_transpose2d(X, W, padding=4), ShapeError,
     r"conv_transpose2d: input of shape \(1, 2, 4, 4\) with weight of shape \(2, 3, 3, 3\), stride \(1, 1\), "
     r"padding \(4, 4\), output_padding \(0, 0\) and dilation \(1, 1\) gives an output height -2; "
     r"it must be at least 1"),
    (lambda: C.conv_transpose1d(np.ones((2, 5)), np.ones((2, 1, 2)), padding=3), ShapeError,
     r"conv_transpose1d: input of shape \(1, 2, 5\) with weight of shape \(2, 1, 2\), stride \(1,\), padding "
     r"\(3,\), output_padding \(0,\) and dilation \(1,\) gives an output length 0"),
    (lambda: C.conv_transpose2d(X, W, np.ones(2)), ShapeError,
     r"bias must have shape \(3,\) for weight of shape \(2, 3, 3, 3\) and groups=1, got \(2,\)"),
    (lambda: C.conv_transpose2d(np.ones((1, 2, 4, 4), int), W), DTypeError, "input needs a floating-point dtype"),
    (lambda: C.conv_transpose1d(np.ones((1, 2, 4)), np.ones((2, 3, 3)), stride=(1, 2)), ConfigError,
     "conv_transpose1d: stride must be an int or a 1-tuple"),
    (lambda: C.conv_transpose1d(np.ones((1, 2, 4)), np.ones((2, 3, 3)), output_padding=(1,)), ConfigError,
     r"conv_transpose1d: output_padding \(1,\) must be smaller than the stride \(1,\) or the dilation \(1,\) "
     r"\(along the length\)"),
    (lambda: C.conv_transpose1d(np.ones((1, 2, 4)), np.ones((2, 3, 3)), padding=-1), ConfigError,
     "conv_transpose1d: padding must be at least 0, got -1"),
    (lambda: C.conv_transpose1d(np.ones((1, 2, 4)), np.ones((2, 3, 3)), np.ones(2)), ShapeError,
     r"conv_transpose1d: bias must have shape \(3,\) for weight of shape \(2, 3, 3\)"),
    (lambda: C.conv_transpose1d(np.ones((1, 3, 4)), np.ones((2, 3, 3))), ShapeError,
     r"conv_transpose1d: input of shape \(1, 3, 4\) and weight of shape \(2, 3, 3\) with groups=1 do not fit"),
    (lambda: C.conv_transpose1d(np.ones((1, 2, 4)), W), ShapeError, "conv_transpose1d: weight must be 3-D"),
    (lambda: C.conv_transpose1d(np.ones((1, 1, 2, 4)), np.ones((2, 3, 3))), ShapeError,
     r"conv_transpose1d: input must be \(N, C, L\) or \(C, L\)"),
    (lambda: C.group_norm(np.ones((2, 6, 3)), 4), ConfigError,
     r"group_norm: the 6 channels of the input of shape \(2, 6, 3\) must be divisible by num_groups 4"),
    (lambda: C.group_norm(np.ones((2, 6)), 0), ConfigError, "num_groups must be a positive integer, got 0"),
    (lambda: C.group_norm(np.ones(6), 2), ShapeError, r"input must be \(N, C\) or \(N, C, ...\), got shape \(6,\)"),
    (lambda: C.group_norm(np.ones((2, 6)), 2, np.ones(3)), ShapeError,
     r"weight must have shape \(6,\) for input of shape \(2, 6\), got \(3,\)"),
    (lambda: C.group_norm(np.ones((2, 6)), 2, None, np.ones((6, 1))), ShapeError, r"bias must have shape \(6,\)"),
])
def test_bad_input_names_what_is_wrong(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_an_empty_batch_gives_an_empty_output_and_gradients() -> None:
    """PyTorch's shapes: (0, 3, 9, 9) from (0, 2, 4, 4) at stride 2; group norm keeps (0, 4, 3)."""
    x, w = gg.Tensor(np.ones((0, 2, 4, 4)), requires_grad=True), gg.Tensor(np.ones((2, 3, 3, 3)), requires_grad=True)
    y = C.conv_transpose2d(x, w, stride=2)
    assert y.shape == (0, 3, 9, 9)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 4, 4)
    np.testing.assert_array_equal(w.grad.data, np.zeros((2, 3, 3, 3)))
    x = gg.Tensor(np.ones((0, 4, 3)), requires_grad=True)
    y = C.group_norm(x, 2, np.ones(4), np.zeros(4))
    assert y.shape == (0, 4, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 4, 3)
