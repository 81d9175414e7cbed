"""naive_grad and path_sum_grad work for every registered op (issue 8, section 6).

They apply each node's rules through the engine's ``input_gradients`` (one mechanism), so ops
with any number of inputs (stack, concatenate) and fused ops work like the rest. Each op's
output is paired with fixed random weights so that every output entry matters.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import backward
from tests.ops.opinfo import OpInfo, all_opinfos


def _inputs(info: OpInfo) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.uniform(*info.domain_of(i), s) for i, s in enumerate(info.sample_shapes())]


def _scalar(info: OpInfo):  # noqa: ANN202
    def f(*xs: gg.Tensor) -> gg.Tensor:
        out = info.fn(*xs)
        weights = np.random.default_rng(5).standard_normal(out.shape)
        return (out * weights).sum()

    return f


@pytest.mark.parametrize("info", all_opinfos(), ids=lambda i: i.name)
def test_naive_and_path_sum_agree_with_backward(info: OpInfo) -> None:
    arrays = _inputs(info)
    xs = [gg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = _scalar(info)(*xs)
    expected = backward([out], [None], retain_graph=True, inputs=xs) or []
    paths = gg.path_sum_grad(out, xs)
    naive = gg.naive_grad(_scalar(info), [a.copy() for a in arrays])
    # 1e-6: the methods sum the same local derivatives in other orders (float32 inside astype)
    for x, e, p, n in zip(xs, expected, paths, naive):
        want = np.zeros(x.shape) if e is None else e.data
        np.testing.assert_allclose(p.data, want, rtol=1e-6, atol=1e-12, err_msg=f"path_sum_grad, {info.name}")
        np.testing.assert_allclose(n.data, want, rtol=1e-6, atol=1e-12, err_msg=f"naive_grad, {info.name}")


def test_stack_and_concatenate_graphs_from_the_issue() -> None:
    def f(a: gg.Tensor, b: gg.Tensor) -> gg.Tensor:
        s = gg.stack([a, b * 2.0])
        c = gg.concatenate([s, s * s], axis=0)
        return (c * c).sum()

    a, b = np.array([0.5, -1.0]), np.array([1.5, 0.25])
    ta, tb = gg.Tensor(a.copy(), requires_grad=True), gg.Tensor(b.copy(), requires_grad=True)
    out = f(ta, tb)
    ga, gb = backward([out], [None], retain_graph=True, inputs=[ta, tb]) or []
    pa, pb = gg.path_sum_grad(out, [ta, tb])
    na, nb = gg.naive_grad(f, [a, b])
    for got in (pa, na):
        np.testing.assert_allclose(got.data, ga.data, rtol=1e-12)
    for got in (pb, nb):
        np.testing.assert_allclose(got.data, gb.data, rtol=1e-12)
