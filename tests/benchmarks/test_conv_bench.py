"""`graphgrad bench conv`'s pieces: the hand-written NumPy baseline trains exactly as graphgrad does
(so the ratio compares equal work), the captured step is the eager step, and the memory budget
adds up what a step must hold."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.benchmarks import conv as bench
from graphgrad.benchmarks.numpy_cnn import plan_from_model, train_step


@pytest.mark.parametrize("net", bench.NETWORKS, ids=[n.factory for n in bench.NETWORKS])
def test_numpy_baseline_takes_the_same_sgd_steps_as_graphgrad(net: bench.Network) -> None:
    x, y = net.batch_data()
    x, y = x[:8], y[:8]
    plan = plan_from_model(net.model())
    model = net.model()
    step = bench.graphgrad_step(model, gg.Tensor(x), y)
    for _ in range(3):
        want = step()
        got = train_step(plan, x, y, bench.LEARNING_RATE)
        assert got == pytest.approx(want, rel=1e-5)
    arrays = [a for layer in plan for a in layer[1:] if isinstance(a, np.ndarray)]
    params = [p.data for p in model.parameters()]
    assert len(arrays) == len(params)
    for a, p in zip(arrays, params):  # every weight and bias after three updates
        np.testing.assert_allclose(a, p, rtol=2e-4, atol=2e-6)


def test_captured_bench_step_updates_like_the_eager_step() -> None:
    net = bench.NETWORKS[0]
    x, y = net.batch_data()
    x, y = x[:4], y[:4]
    captured = bench.captured_step(net, x, y)
    model = net.model()
    rng = np.random.default_rng(2)  # the two batches the capture recorded on, then ours
    for _ in range(2):
        bench.graphgrad_step(model, gg.Tensor(rng.standard_normal(x.shape).astype(x.dtype)),
                             rng.integers(0, 10, len(y)))()
    assert float(captured().data) == bench.graphgrad_step(model, gg.Tensor(x), y)()


def test_peak_memory_budget_counts_parameters_layer_outputs_and_columns() -> None:
    net = bench.NETWORKS[0]  # LeNet-5 on 1x28x28 at batch 64
    x, y = net.batch_data()
    bench.graphgrad_step(net.model(), gg.Tensor(x), y)()  # column buffers kept for reuse, before tracing
    m = bench.peak_memory(net)
    params = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert m["params_bytes"] == 4 * params
    # columns: conv 1 has 1*5*5 rows and 28*28*64 columns, conv 2 6*5*5 rows and 10*10*64 columns
    assert m["column_bytes"] == 4 * (25 * 28 * 28 * 64 + 150 * 10 * 10 * 64)
    assert m["budget_bytes"] == 2 * m["params_bytes"] + m["activation_bytes"] + m["column_bytes"] + 64 * 784 * 4
    # the step holds about what it must, not several copies of it, and all it holds is counted
    assert 0.9 < m["ratio"] < 1.5


def test_cnn_digits_peer_trains_the_same_network_on_the_same_batches() -> None:
    pytest.importorskip("torch")
    from graphgrad.benchmarks.cnn_digits import train_graphgrad, train_torch

    ours, theirs = train_graphgrad(0, epochs=1), train_torch(0, epochs=1, threads=1)
    assert theirs["threads"] == 1
    assert ours["accuracy"] > 0.6 and abs(ours["accuracy"] - theirs["accuracy"]) < 0.05


def test_the_bench_sets_and_reports_the_blas_threads_it_ran_with() -> None:
    from graphgrad import threads

    before = threads.current()
    with bench.thread_limit(1) as used:
        assert used == 1 and threads.current() == 1
    assert threads.current() == before
    with bench.thread_limit(None) as used:
        assert used == before
    results = {"threads": None, "numpy_threads": 2, "torch_before": {"threads": 2}, "torch_after": {"threads": 2}}
    assert bench.threads_used(results) == "threads: graphgrad and NumPy 2 (BLAS), PyTorch 2 (each library's default)"
    results = {"threads": 1, "numpy_threads": 1, "torch_before": {"threads": 1}, "torch_after": None}
    assert bench.threads_used(results) == "threads: graphgrad and NumPy 1 (BLAS), PyTorch 1 (set by --threads)"


def test_a_thread_count_below_one_is_refused_before_anything_runs() -> None:
    import argparse

    from graphgrad.errors import ConfigError

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    with pytest.raises(ConfigError, match="bench conv: --threads must be a positive integer, got 0"):
        bench.run_from_args(parser.parse_args(["--threads", "0"]))


def test_the_table_states_the_threads_and_the_load_it_ran_under(capsys) -> None:
    step = {"numpy": 0.05, "graphgrad": 0.04, "ratio": 0.8, "captured": 0.045, "captured_ratio": 0.9}
    results = {"machine": {"cpus": 2}, "threads": 1, "numpy_threads": 1, "load_average": [0.5, 1.25],
               "torch_before": {"threads": 1, "step_s": {"VGG": 0.06}}, "torch_after": None,
               "steps": {"VGG": step}, "memory": {}}
    bench.print_table(results)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("threads: graphgrad and NumPy 1 (BLAS), PyTorch 1 (set by --threads)")
    assert lines[1] == "load average before and after: 0.50, 1.25 on 2 CPUs"  # quiet before it started
    results["load_average"] = [1.5, 2.0]
    bench.print_table(results)
    assert capsys.readouterr().out.splitlines()[1] == (
        "load average before and after: 1.50, 2.00 on 2 CPUs (a core's worth of other work was running before "
        "it started)")
    assert lines[3].split() == ["VGG", "50.00", "40.00", "0.80", "45.00", "0.90", "60.00", "1.50x", "n/a"]
    results["torch_heap_kept"] = {"threads": 1, "step_s": {"VGG": 0.03}}  # PyTorch after graphgrad's heap setting
    bench.print_table(results)
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row == ["VGG", "50.00", "40.00", "0.80", "45.00", "0.90", "60.00", "1.50x", "30.00", "0.75x"]


def test_the_pytorch_peer_can_run_with_the_heap_kept() -> None:
    pytest.importorskip("torch")
    out = bench.torch_peer(1, 1, keep_heap=True)
    assert out is not None and "error" not in out, out
    assert set(out["step_s"]) == {net.name for net in bench.NETWORKS} and out["threads"] == 1
    if platform.libc_ver()[0] == "glibc":
        assert out["heap"] == "applied"
