"""`graphgrad bench conv`: one CNN training step, graphgrad against hand-written NumPy (same process,
interleaved) and PyTorch eager (its own process), and the step's peak memory.

Two networks: LeNet-5 on 1x28x28 digits at batch 64 and a VGG-style block (two 3x3 convolutions
of width 32, max pooling, a linear classifier) on 3x32x32 images at batch 32. Each step is a
forward, softmax cross-entropy, backward and a plain SGD update, in float32, from the same
initial weights in all three (the first losses are checked to agree).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.benchmarks.peers import main_with_peer, run_peer

LEARNING_RATE = 0.01


@dataclass(frozen=True)
class Network:
    name: str
    factory: str  # a function of graphgrad.nn.models
    input_shape: tuple[int, int, int]
    batch: int

    def model(self) -> Any:
        from graphgrad.nn import models

        return getattr(models, self.factory)(self.input_shape, 10, rng=0)

    def batch_data(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(1)
        x = rng.standard_normal((self.batch, int(np.prod(self.input_shape)))).astype(np.float32)
        return x, rng.integers(0, 10, self.batch)


NETWORKS = (
    Network("LeNet-5 1x28x28 @64", "lenet5", (1, 28, 28), 64),
    Network("VGG block 3x32x32 @32", "vgg_block", (3, 32, 32), 32),
)


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[int]:
    """BLAS threads of this process set to ``threads`` (None: the library's default); yields the
    count BLAS really uses inside, which the results report (graphgrad and NumPy share it)."""
    from graphgrad import threads as blas_threads

    with contextlib.ExitStack() as stack:
        if threads is not None:
            stack.enter_context(blas_threads.use(threads))
        yield blas_threads.current()


def graphgrad_step(model: Any, x: Any, y: np.ndarray) -> Callable[[], float]:
    import graphgrad as gg
    from graphgrad import optim

    opt = optim.SGD(list(model.parameters()), lr=LEARNING_RATE)

    def step() -> float:
        loss = gg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.data)

    return step


def captured_step(net: Network, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """The graphgrad step captured (graphgrad.compile, as `graphgrad train` runs it), its plan
    recorded on two other batches; raises if the step could not be captured."""
    import graphgrad as gg
    from graphgrad.compile import capture

    model = net.model()
    opt = gg.optim.SGD(list(model.parameters()), lr=LEARNING_RATE)

    def step(x: Any, y: Any) -> Any:
        loss = gg.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture(step)
    rng = np.random.default_rng(2)
    for _ in range(2):  # two recordings on different data, then replays
        fn(gg.Tensor(rng.standard_normal(x.shape).astype(x.dtype)), gg.Tensor(rng.integers(0, 10, len(y))))
    if not fn.plans:
        raise AssertionError(f"{net.name}: the step was not captured")
    return functools.partial(fn, gg.Tensor(x), gg.Tensor(y))


def step_times(net: Network, rounds: int) -> dict[str, float]:
    """Median seconds per step of hand-written NumPy, graphgrad eager and graphgrad captured,
    interleaved in this process."""
    import graphgrad as gg
    from graphgrad.benchmarks.numpy_cnn import plan_from_model, train_step
    from graphgrad.benchmarks.timing import interleaved_medians
    from graphgrad.heap import reuse_freed_memory

    reuse_freed_memory()  # as a training run does (NumPy's step, in this process, too)

    x_np, y = net.batch_data()
    first_np = train_step(plan_from_model(net.model()), x_np, y, LEARNING_RATE)
    first_gg = graphgrad_step(net.model(), gg.Tensor(x_np), y)()
    if abs(first_np - first_gg) > 1e-4 * max(1.0, abs(first_np)):
        raise AssertionError(f"{net.name}: graphgrad loss {first_gg} differs from NumPy's {first_np}")
    plan = plan_from_model(net.model())
    medians = interleaved_medians(
        {"numpy": functools.partial(train_step, plan, x_np, y, LEARNING_RATE),
         "graphgrad": graphgrad_step(net.model(), gg.Tensor(x_np), y),
         "captured": captured_step(net, x_np, y)},
        rounds=rounds,
    )
    return {**medians, "ratio": medians["graphgrad"] / medians["numpy"],
            "captured_ratio": medians["captured"] / medians["numpy"], "first_loss": first_gg}


def peak_memory(net: Network) -> dict[str, float]:
    """Peak bytes traced during one graphgrad step against what the step must hold: parameters and
    their gradients, every layer's output (saved for backward), each convolution's columns, the batch."""
    import graphgrad as gg
    from graphgrad import nn
    from graphgrad.ops.conv import release_scratch

    x_np, y = net.batch_data()
    model = net.model()
    release_scratch()  # buffers kept from earlier steps were allocated before tracing: untraced
    tracemalloc.start()
    try:
        step = graphgrad_step(model, gg.Tensor(x_np), y)
        step()
        tracemalloc.reset_peak()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    params = sum(p.data.nbytes for p in model.parameters())
    activations = columns = 0
    h = gg.Tensor(x_np)
    with gg.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                columns += h.shape[1] * kh * kw * h.shape[0] * 4 * int(np.prod(m(h).shape[2:]))
            h = m(h)
            activations += h.data.nbytes
    budget = 2 * params + activations + columns + x_np.nbytes
    return {"peak_bytes": peak, "budget_bytes": budget, "ratio": peak / budget, "params_bytes": params,
            "activation_bytes": activations, "column_bytes": columns}


def torch_times(rounds: int, threads: int | None, keep_heap: bool = False) -> dict[str, Any]:
    """Median seconds per PyTorch eager step of every network (run in its own process); with
    ``keep_heap``, after the heap setting a graphgrad run makes (:mod:`graphgrad.heap`)."""
    import torch

    from graphgrad.benchmarks.timing import interleaved_medians
    from graphgrad.benchmarks.torch_models import to_torch

    heap = "glibc's defaults"
    if keep_heap:
        from graphgrad.heap import reuse_freed_memory

        heap = reuse_freed_memory()
    if threads is not None:
        torch.set_num_threads(threads)
    out: dict[str, Any] = {"version": torch.__version__, "threads": torch.get_num_threads(), "heap": heap,
                           "step_s": {}}
    for net in NETWORKS:
        model = to_torch(net.model())
        opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        x_np, y_np = net.batch_data()
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def step(model: Any = model, opt: Any = opt, x: Any = x, y: Any = y) -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out["step_s"][net.name] = interleaved_medians({"torch": step}, rounds=rounds)["torch"]
    return out


def torch_peer(rounds: int, threads: int | None, keep_heap: bool = False) -> dict[str, Any] | None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    args = ["--peer", "--rounds", str(rounds)] + ([] if threads is None else ["--threads", str(threads)])
    args += ["--keep-heap"] if keep_heap else []
    return run_peer("graphgrad.benchmarks.conv", args)  # type: ignore[no-any-return]


def run(rounds: int = 15, out: str | None = "bench/conv.json", threads: int | None = None) -> dict[str, Any]:
    """Every measurement: PyTorch before and after the in-process pairs (drift shows), the table, JSON."""
    from graphgrad.benchmarks.speed import machine

    results: dict[str, Any] = {"machine": machine(), "rounds": rounds, "threads": threads}
    results["load_average"] = [_load_average()]
    results["torch_before"] = torch_peer(rounds, threads)
    with thread_limit(threads) as used:
        results["numpy_threads"] = used
        results["steps"] = {net.name: step_times(net, rounds) for net in NETWORKS}
        results["memory"] = {net.name: peak_memory(net) for net in NETWORKS}
    results["torch_after"] = torch_peer(rounds, threads)
    results["torch_heap_kept"] = torch_peer(rounds, threads, keep_heap=True)
    results["load_average"].append(_load_average())
    print_table(results)
    if out:
        from graphgrad.io import atomic_write_text

        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        atomic_write_text(Path(out), json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}")
    return results


def _torch_median(results: dict[str, Any], name: str, keys: tuple[str, ...] = ("torch_before", "torch_after")
                  ) -> float | None:
    runs = [r["step_s"][name] for r in (results.get(k) for k in keys) if r and "step_s" in r]
    return statistics.median(runs) if runs else None


def _load_average() -> float | None:
    """The 1-minute load average (None where unknown): other work on the machine skews every time."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def threads_used(results: dict[str, Any]) -> str:
    """Which thread counts the measurements ran with, in words: each side's own, as it reported it."""
    torch_counts = sorted({r["threads"] for r in (results.get("torch_before"), results.get("torch_after"))
                           if r and "threads" in r})
    torch_text = "/".join(map(str, torch_counts)) if torch_counts else "n/a"
    chosen = "set by --threads" if results.get("threads") is not None else "each library's default"
    return (f"threads: graphgrad and NumPy {results.get('numpy_threads', '?')} (BLAS), "
            f"PyTorch {torch_text} ({chosen})")


def print_table(results: dict[str, Any]) -> None:
    print(f"CNN training step (float32, SGD), median ms per step; {threads_used(results)}")
    loads = [v for v in results.get("load_average", []) if v is not None]
    if loads:
        busy = " (a core's worth of other work was running before it started)" if loads[0] >= 1.0 else ""
        print(f"load average before and after: {', '.join(f'{v:.2f}' for v in loads)} "
              f"on {results['machine'].get('cpus')} CPUs{busy}")
    print(f"{'network':24} {'numpy':>8} {'graphgrad':>9} {'/numpy':>6} {'captured':>8} {'/numpy':>6} "
          f"{'torch':>8} {'torch/graphgrad':>15} {'torch, heap kept':>16} {'/graphgrad':>10}")
    for name, r in results["steps"].items():
        cols = ""
        for keys, (ms, ratio) in ((("torch_before", "torch_after"), (8, 14)), (("torch_heap_kept",), (16, 9))):
            t = _torch_median(results, name, keys)
            cols += f" {t * 1e3:{ms}.2f} {t / r['graphgrad']:{ratio}.2f}x" if t else f" {'n/a':>{ms}} {'':>{ratio + 1}}"
        print(f"{name:24} {r['numpy'] * 1e3:8.2f} {r['graphgrad'] * 1e3:9.2f} {r['ratio']:6.2f} "
              f"{r['captured'] * 1e3:8.2f} {r['captured_ratio']:6.2f}{cols}")
    print("(torch, heap kept: PyTorch after the heap setting a graphgrad training run makes; see graphgrad.heap)")
    print("peak memory of a step / (parameters + gradients + layer outputs + im2col columns + batch):")
    for name, m in results["memory"].items():
        peak, budget = m["peak_bytes"] / 2**20, m["budget_bytes"] / 2**20
        print(f"  {name:24} {peak:7.2f} MiB / {budget:7.2f} MiB = {m['ratio']:.2f}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per contender (median over them)")
    parser.add_argument("--out", default="bench/conv.json", help="where to write every number as JSON")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads of graphgrad and NumPy and PyTorch's threads (default: each "
                             "library's own setting; the table says which counts ran)")
    parser.add_argument("--quick", action="store_true", help="few rounds (a smoke run)")


def run_from_args(args: argparse.Namespace) -> int:
    if args.threads is not None and args.threads < 1:
        from graphgrad.errors import ConfigError

        raise ConfigError(f"bench conv: --threads must be a positive integer, got {args.threads}")
    run(rounds=3 if args.quick else args.rounds, out=args.out, threads=args.threads)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="graphgrad bench conv")
    add_arguments(parser)
    parser.add_argument("--keep-heap", action="store_true", help=argparse.SUPPRESS)  # the peer's second run
    main_with_peer(parser, argv, lambda args: torch_times(args.rounds, args.threads, args.keep_heap), run_from_args)


if __name__ == "__main__":
    main()
