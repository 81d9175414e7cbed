"""`graphgrad bench distributed`: data-parallel training speed over MPI, and what it predicts.

The command starts ``mpiexec -n 1`` and ``mpiexec -n 2`` runs of this module (one BLAS thread
per rank, so ranks do not fight over cores) and measures, with the global batch fixed:

- examples per second of a training step (forward, cross-entropy, backward with gradients
  averaged over the ranks, SGD with momentum) for the default MLP and for 784-1024-1024-10;
- the fraction of the step each rank spends blocked in MPI for gradients, with the Allreduces
  overlapping backward and with all of them started after backward;
- Allreduce time for 4 B to 64 MiB (latency, and bus bandwidth ``size * 2 (n-1) / n / time``).

From the measured compute time it then projects the efficiency of the large MLP at 8, 64 and
512 ranks under ring allreduce on 10 and 100 Gbit/s networks (:func:`ring_allreduce_seconds`,
:func:`efficiency`; the formula is in docs/distributed.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.io.atomic import atomic_write_text

MODELS = (("64-256-128-10 @32", (64, 256, 128, 10), 32), ("784-1024-1024-10 @256", (784, 1024, 1024, 10), 256))
LARGE = MODELS[1]
PROJECTION_BATCH = 256  # examples per rank per step in the projection (weak scaling)
PROJECTION_RANKS = (8, 64, 512)
# name: (bandwidth in bytes/s, latency per message in s); the latencies are assumptions (see docs)
LINKS = {"10 Gbit/s": (10e9 / 8, 20e-6), "100 Gbit/s": (100e9 / 8, 5e-6)}
BUCKET_CAP_MB = 4.0
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ------------------------------------------------------------------ the model (pure functions)
def ring_allreduce_seconds(nbytes: float, ranks: int, bandwidth: float, latency: float, messages: int = 1) -> float:
    """Ring allreduce of ``nbytes`` sent as ``messages`` buckets: ``2 (p-1)`` latency-bound rounds
    per bucket, and every rank sends and receives ``2 (p-1)/p`` of the data."""
    if ranks <= 1:
        return 0.0
    return messages * 2 * (ranks - 1) * latency + 2 * (ranks - 1) / ranks * nbytes / bandwidth


def efficiency(compute_s: float, comm_s: float, hidden_s: float = 0.0, tail_s: float = 0.0) -> float:
    """Throughput per rank relative to one rank: ``compute / (compute + exposed communication)``.

    Without overlap all of ``comm_s`` is exposed. With overlap, up to ``hidden_s`` (the backward
    time) runs behind backward, but never the last bucket's Allreduce (``tail_s``), which can only
    start when backward has finished.
    """
    exposed = max(comm_s - hidden_s, min(tail_s, comm_s)) if hidden_s else comm_s
    return compute_s / (compute_s + max(0.0, exposed))


def bucket_bytes(sizes: tuple[int, ...], bucket_cap_mb: float = BUCKET_CAP_MB) -> list[int]:
    """Bytes of each gradient bucket of a float32 MLP with these layer sizes, in sending order."""
    from graphgrad import nn
    from graphgrad.distributed.reducer import make_buckets

    layers = [nn.Linear(a, b, rng=0) for a, b in zip(sizes[:-1], sizes[1:])]
    buckets = make_buckets(list(nn.Sequential(*layers).named_parameters()), int(bucket_cap_mb * 1e6))
    return [b.buffer.nbytes for b in buckets]


def projection(compute_s: float, backward_s: float, buckets: list[int],
               ranks: tuple[int, ...] = PROJECTION_RANKS) -> list[dict[str, Any]]:
    """Efficiency at ``ranks`` on each of :data:`LINKS`, without and with overlap of backward,
    for gradients sent as ``buckets`` (bytes each, in sending order)."""
    rows = []
    for link, (bandwidth, latency) in LINKS.items():
        for p in ranks:
            comm = ring_allreduce_seconds(sum(buckets), p, bandwidth, latency, len(buckets))
            tail = ring_allreduce_seconds(buckets[-1], p, bandwidth, latency)
            rows.append({"link": link, "ranks": p, "allreduce_s": comm, "last_bucket_s": tail,
                         "efficiency_no_overlap": efficiency(compute_s, comm),
                         "efficiency_overlap": efficiency(compute_s, comm, backward_s, tail)})
    return rows


# ------------------------------------------------------------------ measurements (run under mpiexec)
def _same_count(dist: Any, step: Callable[[], object], min_block_s: float) -> int:
    """Steps per timed block, chosen on rank 0 and shared: every rank must make the same calls."""
    t0 = time.perf_counter()
    step()
    n = np.array([max(1, int(min_block_s / max(time.perf_counter() - t0, 1e-7)))], dtype=np.int64)
    return int(dist.broadcast(n)[0])


def _train_step_timing(dist: Any, sizes: tuple[int, ...], batch: int, rounds: int, overlap: bool) -> dict[str, float]:
    import graphgrad as gg
    from graphgrad import nn, optim

    w = dist.world()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)[w.rank :: w.size]
    y = rng.integers(0, sizes[-1], batch)[w.rank :: w.size]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b, rng=i)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    ddp = dist.DistributedDataParallel(nn.Sequential(*layers), bucket_cap_mb=BUCKET_CAP_MB, overlap=overlap)
    opt = optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    xt, yt = gg.Tensor(x), gg.Tensor(y)

    def step() -> None:
        loss = nn.functional.cross_entropy(ddp(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    n = _same_count(dist, step, 0.05)
    times, comm = [], []
    for _ in range(rounds):
        dist.barrier()
        before = ddp.reducer.comm_seconds if ddp.reducer else 0.0
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        times.append((time.perf_counter() - t0) / n)
        comm.append(((ddp.reducer.comm_seconds if ddp.reducer else 0.0) - before) / n)
    step_s = statistics.median(times)
    return {"step_s": step_s, "examples_per_s": batch / step_s, "comm_s": statistics.median(comm),
            "comm_fraction": statistics.median(c / t for c, t in zip(comm, times))}


def _allreduce_timing(dist: Any, rounds: int, sizes: list[int]) -> dict[str, dict[str, float]]:
    out = {}
    w = dist.world()
    for nbytes in sizes:
        buf = np.ones(max(1, nbytes // 4), dtype=np.float32)
        n = _same_count(dist, partial(dist.all_reduce, buf), 0.02)
        samples = []
        for _ in range(rounds):
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(n):
                dist.all_reduce(buf)
            samples.append((time.perf_counter() - t0) / n)
        t = statistics.median(samples)
        out[str(nbytes)] = {"seconds": t, "bus_gb_per_s": nbytes * 2 * (w.size - 1) / w.size / t / 1e9}
    return out


def worker(rounds: int, quick: bool) -> dict[str, Any]:
    """Everything one ``mpiexec -n N`` run measures; rank 0's numbers are returned."""
    from graphgrad import distributed as dist

    w = dist.init()
    result: dict[str, Any] = {"ranks": w.size, "models": {}}
    for name, sizes, batch in MODELS:
        modes = (True, False) if w.size > 1 else (True,)
        result["models"][name] = {("overlap" if o else "no_overlap"): _train_step_timing(dist, sizes, batch, rounds, o)
                                  for o in modes}
    if w.size == 1:
        from graphgrad.benchmarks.mlp_configs import MLPConfig
        from graphgrad.benchmarks.speed import backward_forward_ratio

        name, sizes, _ = LARGE
        at = _train_step_timing(dist, sizes, PROJECTION_BATCH, rounds, True)
        result["projection_compute"] = {"batch": PROJECTION_BATCH, **at}
        result["backward_forward"] = backward_forward_ratio(MLPConfig(name, sizes, PROJECTION_BATCH), rounds)
        half = _train_step_timing(dist, sizes, LARGE[2] // 2, rounds, True)
        result["large_half_batch_step_s"] = half["step_s"]
    else:
        top = 20 if quick else 26
        result["allreduce"] = _allreduce_timing(dist, rounds, [2**k for k in range(2, top + 1, 2)])
    return result


# ------------------------------------------------------------------ the command
def find_mpiexec() -> str | None:
    """The mpiexec next to this Python (the MPICH wheel's), else one on PATH; None without mpi4py."""
    import importlib.util

    if importlib.util.find_spec("mpi4py") is None:
        return None
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _launch(mpiexec: str, ranks: int, rounds: int, quick: bool) -> dict[str, Any]:
    env = dict(os.environ, **SINGLE_THREAD)
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "graphgrad.benchmarks.distributed", "--worker",
               "--rounds", str(rounds)] + (["--quick"] if quick else [])
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"mpiexec -n {ranks} benchmark failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(one: dict[str, Any], two: dict[str, Any]) -> dict[str, Any]:
    """The projection from the 1-rank compute time, and a check of the model against the 2-rank run."""
    buckets = bucket_bytes(LARGE[1])
    compute = one["projection_compute"]["step_s"]
    ratio = one["backward_forward"]["ratio"]
    backward = compute * ratio / (1 + ratio)  # optimizer time counted as forward: a slight underestimate
    latency = two["allreduce"]["4"]["seconds"] / 2  # a 2-rank ring: 2 rounds
    largest = max(two["allreduce"], key=int)
    bandwidth = int(largest) / two["allreduce"][largest]["seconds"]  # a 2-rank ring sends size bytes
    comm = ring_allreduce_seconds(sum(buckets), 2, bandwidth, latency, len(buckets))
    return {"model_bytes": sum(buckets), "buckets": buckets, "compute_s_per_example": compute / PROJECTION_BATCH,
            "compute_s": compute, "backward_s": backward, "rows": projection(compute, backward, buckets),
            "check_2_ranks": {"predicted_no_overlap_step_s": one["large_half_batch_step_s"] + comm,
                              "measured_no_overlap_step_s": two["models"][LARGE[0]]["no_overlap"]["step_s"],
                              "local_latency_s": latency, "local_bandwidth_bytes_per_s": bandwidth}}


def print_table(results: dict[str, Any]) -> None:
    one, two = results["1"], results["2"]
    print(f"\n{'MLP, global batch':24} {'1 rank ex/s':>12} {'2 ranks ex/s':>13} {'speed-up':>9} "
          f"{'MPI wait, overlap':>18} {'MPI wait, after backward':>25}")
    for name, _, _ in MODELS:
        a = one["models"][name]["overlap"]
        b, c = two["models"][name]["overlap"], two["models"][name]["no_overlap"]
        speedup = b["examples_per_s"] / a["examples_per_s"]
        print(f"{name:24} {a['examples_per_s']:12.0f} {b['examples_per_s']:13.0f} {speedup:8.2f}x "
              f"{b['comm_fraction']:17.1%} {c['comm_fraction']:24.1%}")
    print(f"\n{'Allreduce, 2 ranks':>18} {'time':>10} {'bus GB/s':>9}")
    for nbytes, r in two["allreduce"].items():
        n = int(nbytes)
        size = f"{n} B" if n < 1024 else f"{n // 1024} KiB" if n < 2**20 else f"{n // 2**20} MiB"
        print(f"{size:>18} {r['seconds'] * 1e6:8.1f} us {r['bus_gb_per_s']:9.2f}")
    s = results["summary"]
    print(f"\nprojection for {LARGE[0].split(' @')[0]} ({s['model_bytes'] / 1e6:.2f} MB of float32 gradients), "
          f"{PROJECTION_BATCH} examples per rank per step, compute {s['compute_s_per_example'] * 1e6:.0f} us "
          f"per example on one thread:")
    print(f"{'network':>11} {'ranks':>6} {'allreduce ms':>13} {'last bucket ms':>15} {'efficiency':>11} "
          f"{'with overlap':>13}")
    for row in s["rows"]:
        print(f"{row['link']:>11} {row['ranks']:6d} {row['allreduce_s'] * 1e3:13.2f} "
              f"{row['last_bucket_s'] * 1e3:15.2f} {row['efficiency_no_overlap']:11.1%} "
              f"{row['efficiency_overlap']:13.1%}")
    c = s["check_2_ranks"]
    print(f"model check on this machine, 2 ranks, no overlap: predicted step "
          f"{c['predicted_no_overlap_step_s'] * 1e3:.1f} ms, measured {c['measured_no_overlap_step_s'] * 1e3:.1f} ms")


def run(rounds: int = 7, out: str | None = "bench/distributed.json", quick: bool = False) -> int:
    mpiexec = find_mpiexec()
    if mpiexec is None:
        from graphgrad.distributed import INSTALL_HINT

        print(f"graphgrad: bench distributed needs mpi4py and an MPI library with its mpiexec; "
              f"install them with: {INSTALL_HINT}", file=sys.stderr)
        return 2
    from graphgrad.benchmarks.speed import machine

    print(f"graphgrad distributed benchmark: mpiexec -n 1 and -n 2, one BLAS thread per rank, {rounds} rounds "
          "(medians)")
    results: dict[str, Any] = {"machine": machine(), "rounds": rounds}
    results["1"] = _launch(mpiexec, 1, rounds, quick)
    results["2"] = _launch(mpiexec, 2, rounds, quick)
    results["summary"] = summarize(results["1"], results["2"])
    print_table(results)
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        atomic_write_text(out, json.dumps(results, indent=2))
        print(f"wrote {out}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=7, help="timed blocks per measurement (median over them)")
    parser.add_argument("--out", default="bench/distributed.json", help="where to write every number as JSON")
    parser.add_argument("--quick", action="store_true", help="few rounds, Allreduce up to 1 MiB (a smoke run)")


def run_from_args(args: argparse.Namespace) -> int:
    return run(rounds=2 if args.quick else args.rounds, out=args.out, quick=args.quick)


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m graphgrad.benchmarks.distributed")
    add_arguments(parser)
    parser.add_argument("--worker", action="store_true", help="(internal) measure inside an MPI job")
    args = parser.parse_args()
    if not args.worker:
        raise SystemExit(run_from_args(args))
    result = worker(args.rounds, args.quick)
    from graphgrad import distributed as dist

    if dist.is_main():
        print(json.dumps(result))


if __name__ == "__main__":
    _main()
