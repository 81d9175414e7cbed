"""The scaling model of `graphgrad bench distributed`, against values derived by hand."""

from __future__ import annotations

import pytest

from graphgrad.benchmarks.distributed import LINKS, bucket_bytes, efficiency, projection, ring_allreduce_seconds


def test_ring_allreduce_time_is_latency_rounds_plus_two_passes_over_the_data() -> None:
    # 4 ranks, 8 MB at 1 GB/s, 10 us per message: 2*3 rounds * 10 us + 2 * 3/4 * 8 ms = 12.06 ms
    assert ring_allreduce_seconds(8e6, 4, 1e9, 10e-6) == pytest.approx(0.01206)
    assert ring_allreduce_seconds(8e6, 4, 1e9, 10e-6, messages=2) == pytest.approx(0.01212)
    assert ring_allreduce_seconds(8e6, 1, 1e9, 10e-6) == 0.0


def test_efficiency_counts_only_communication_that_backward_does_not_hide() -> None:
    assert efficiency(0.080, 0.020) == pytest.approx(0.8)
    assert efficiency(0.080, 0.020, hidden_s=0.015) == pytest.approx(0.080 / 0.085)
    assert efficiency(0.080, 0.020, hidden_s=0.050) == 1.0
    # the last bucket starts after backward: never hidden
    assert efficiency(0.080, 0.020, hidden_s=0.050, tail_s=0.008) == pytest.approx(0.080 / 0.088)
    assert efficiency(0.080, 0.020, hidden_s=0.015, tail_s=0.002) == pytest.approx(0.080 / 0.085)


def test_bucket_bytes_of_the_large_mlp() -> None:
    # reverse order, 4 MB cap: [4.bias, 4.weight, 2.bias], [2.weight], [0.bias, 0.weight]
    assert bucket_bytes((784, 1024, 1024, 10)) == [4 * (10 + 10240 + 1024), 4 * 1024 * 1024, 4 * (1024 + 784 * 1024)]


def test_projection_rows_use_each_link_and_bucket_count() -> None:
    rows = projection(compute_s=0.1, backward_s=0.05, buckets=[4_000_000, 3_000_000], ranks=(8,))
    assert [(r["link"], r["ranks"]) for r in rows] == [(link, 8) for link in LINKS]
    bandwidth, latency = LINKS["10 Gbit/s"]
    comm = 2 * 2 * 7 * latency + 2 * 7 / 8 * 7e6 / bandwidth  # two buckets, 9.85 ms
    tail = 2 * 7 * latency + 2 * 7 / 8 * 3e6 / bandwidth  # 4.48 ms
    assert rows[0]["allreduce_s"] == pytest.approx(comm)
    assert rows[0]["last_bucket_s"] == pytest.approx(tail)
    assert rows[0]["efficiency_no_overlap"] == pytest.approx(0.1 / (0.1 + comm))
    assert rows[0]["efficiency_overlap"] == pytest.approx(0.1 / (0.1 + tail))


def test_the_benchmark_without_mpi_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from graphgrad.benchmarks import distributed

    monkeypatch.setattr(distributed, "find_mpiexec", lambda: None)
    assert distributed.run(out=None) == 2
    assert capsys.readouterr().err == ("graphgrad: bench distributed needs mpi4py and an MPI library with its "
                                       "mpiexec; install them with: pip install 'graphgrad[mpi]'\n")
