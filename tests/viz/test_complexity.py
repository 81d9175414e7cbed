"""`graphgrad bench complexity` on tiny sizes: the graphs, the three methods agreeing, the fits, the output."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from graphgrad.autograd.check import naive_grad, path_sum_grad
from graphgrad.benchmarks import complexity
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor


@pytest.mark.parametrize("family", ["wide", "deep"])
def test_three_methods_agree_on_the_benchmark_graphs(family):
    rng = np.random.default_rng(1)
    f, values = complexity.wide_graph(3, rng) if family == "wide" else complexity.deep_graph(4, rng)
    ins = [Tensor(v.copy(), requires_grad=True) for v in values]
    out = f(*ins)
    paths = path_sum_grad(out, ins)
    out.backward()
    naive = naive_grad(f, [v.copy() for v in values])
    for t, p, n in zip(ins, paths, naive):
        np.testing.assert_allclose(p.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(n.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_graph_sizes_grow_as_designed():
    rng = np.random.default_rng(0)
    sizes = []
    for depth in (2, 3, 4):
        f, values = complexity.deep_graph(depth, rng)
        sizes.append(complexity.graph_size(f(*[Tensor(v, requires_grad=True) for v in values])))
    assert sizes[2] - sizes[1] == sizes[1] - sizes[0] > 0  # linear in depth (paths double per level)
    f, values = complexity.wide_graph(4, rng)
    assert len(values) == 4 * 4 + 4  # every weight is an input


def test_fits_recover_known_rates():
    sizes = [10.0, 20.0, 40.0, 80.0]
    assert complexity.fit_power(sizes, [s**2 * 1e-6 for s in sizes]) == pytest.approx(2.0)
    assert complexity.fit_base([1.0, 2.0, 3.0], [3.0, 6.0, 12.0]) == pytest.approx(2.0)


def test_command_prints_table_and_saves_plot(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    complexity.add_arguments(parser)
    args = parser.parse_args(["--widths", "2,3", "--depths", "2,3", "--out", str(tmp_path)])
    assert complexity.run_from_args(args) == 0
    out = capsys.readouterr().out
    assert "nodes+edges" in out and "wide width=3" in out and "deep depth=3" in out
    for name in ("wide backprop k", "wide naive k", "deep path_sum c"):
        assert name in out
    assert (tmp_path / "complexity.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match="at least two"):
        complexity.run_from_args(parser.parse_args(["--widths", "3"]))
