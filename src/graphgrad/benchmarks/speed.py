"""`graphgrad bench speed`: graphgrad eager and captured against hand-written NumPy (same process,
interleaved), PyTorch eager (its own process, before and after) and ``jax.jit`` (its own process),
each peer as a ratio to its own process's NumPy step; plus memory, a scalar chain and the default
training run against scikit-learn. Prints a table and writes a JSON file of every number."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import graphgrad as gg
from graphgrad.benchmarks.mlp_configs import CONFIGS, LEARNING_RATE, MLPConfig
from graphgrad.benchmarks.numpy_mlp import init_mlp, train_step
from graphgrad.benchmarks.peers import run_peer
from graphgrad.benchmarks.timing import interleaved_medians
from graphgrad.io.atomic import atomic_write_text


def graphgrad_mlp(config: MLPConfig, momentum: float = 0.0) -> tuple[Any, Any]:
    """A graphgrad Sequential with the baseline's initial weights, and its SGD optimizer."""
    from graphgrad import nn, optim

    mods: list[Any] = []
    layers = init_mlp(list(config.sizes), np.random.default_rng(0))
    for i, (w, b) in enumerate(layers):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data[...] = w
        assert lin.bias is not None
        lin.bias.data[...] = b
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(nn.ReLU())
    model = nn.Sequential(*mods)
    return model, optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=momentum)


def graphgrad_step(model: Any, opt: Any, x: gg.Tensor, y: gg.Tensor) -> Callable[[], Any]:
    def step() -> Any:
        loss = gg.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def captured_step(config: MLPConfig) -> tuple[Callable[[], Any], Any]:
    """The same step captured (graphgrad.compile), its plan recorded on two batches; and the step."""
    from graphgrad.compile import capture

    model, opt = graphgrad_mlp(config)

    def step(x: gg.Tensor, y: gg.Tensor) -> Any:
        loss = gg.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture(step)
    other_x, other_y = config.batch_data(seed=1)
    fn(gg.Tensor(other_x), gg.Tensor(other_y))  # the two recordings must see different data
    x_np, y_np = config.batch_data()
    fn(gg.Tensor(x_np), gg.Tensor(y_np))
    if not fn.plans:
        raise AssertionError(f"{config.name}: the step was not captured")
    return functools.partial(fn, gg.Tensor(x_np), gg.Tensor(y_np)), fn


def mlp_ratios(rounds: int) -> dict[str, dict[str, float]]:
    """Median step time of NumPy, graphgrad eager and graphgrad captured per config, interleaved here."""
    out = {}
    for config in CONFIGS:
        x_np, y_np = config.batch_data()
        layers = init_mlp(list(config.sizes), np.random.default_rng(0))
        model, opt = graphgrad_mlp(config)
        x, y = gg.Tensor(x_np), gg.Tensor(y_np)
        first_np = train_step([(w.copy(), b.copy()) for w, b in layers], x_np, y_np, LEARNING_RATE)
        first_gg = float(graphgrad_step(*graphgrad_mlp(config), x, y)().item())
        if abs(first_np - first_gg) > 1e-4 * max(1.0, abs(first_np)):
            raise AssertionError(f"{config.name}: graphgrad loss {first_gg} differs from NumPy's {first_np}")
        captured, _ = captured_step(config)
        medians = interleaved_medians(
            {
                "numpy": functools.partial(train_step, layers, x_np, y_np, LEARNING_RATE),
                "graphgrad": graphgrad_step(model, opt, x, y),
                "captured": captured,
            },
            rounds=rounds,
        )
        out[config.name] = {**medians, "ratio": medians["graphgrad"] / medians["numpy"],
                            "captured_ratio": medians["captured"] / medians["numpy"]}
    return out


def backward_forward_ratio(config: MLPConfig, rounds: int) -> dict[str, float]:
    """Median forward time (logits + loss) and backward time of one graphgrad step."""
    model, opt = graphgrad_mlp(config)
    x_np, y_np = config.batch_data()
    x, y = gg.Tensor(x_np), gg.Tensor(y_np)
    fwd, bwd = [], []
    for i in range(rounds + 3):
        t0 = time.perf_counter()
        loss = gg.nn.functional.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.zero_grad()
        if i >= 3:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    f, b = statistics.median(fwd), statistics.median(bwd)
    return {"forward_s": f, "backward_s": b, "ratio": b / f}


def peak_memory(config: MLPConfig) -> dict[str, float]:
    """Peak bytes traced during one SGD-with-momentum step against what a step must hold."""
    x_np, y_np = config.batch_data()
    tracemalloc.start()
    try:
        model, opt = graphgrad_mlp(config, momentum=0.9)
        x, y = gg.Tensor(x_np), gg.Tensor(y_np)
        step = graphgrad_step(model, opt, x, y)
        step()  # optimizer state now exists
        opt.zero_grad()
        tracemalloc.reset_peak()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    params = sum(p.data.nbytes for p in model.parameters())
    widths = config.sizes[1:]
    # saved activations: each linear's output and each ReLU's output, plus the logits' softmax
    activations = sum(config.batch * w * 4 * 2 for w in widths[:-1]) + 2 * config.batch * widths[-1] * 4
    inputs = x_np.nbytes + y_np.nbytes
    budget = params * 3 + activations + inputs  # parameters, gradients, momentum buffers
    return {"peak_bytes": peak, "budget_bytes": budget, "ratio": peak / budget}


def scalar_chain(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> dict[str, Any]:
    """Backward time per node of a chain of scalar multiplications, and its growth exponent; also the
    CPU time of this thread per node, which other jobs on a busy machine barely change."""
    per_node, cpu_per_node = {}, {}
    for n in sizes:
        x = gg.Tensor(np.float64(0.5), requires_grad=True)
        y = x
        for _ in range(n):
            y = y * 1.0000001
        t0, c0 = time.perf_counter(), time.thread_time()
        y.backward()
        per_node[n] = (time.perf_counter() - t0) / n
        cpu_per_node[n] = (time.thread_time() - c0) / n
        del y
    ns = np.array(sizes, dtype=float)
    totals = np.array([per_node[n] * n for n in sizes])
    exponent = float(np.polyfit(np.log(ns), np.log(totals), 1)[0])
    return {"seconds_per_node": {str(n): t for n, t in per_node.items()},
            "cpu_seconds_per_node": {str(n): t for n, t in cpu_per_node.items()}, "exponent": exponent}


def peer(module: str, rounds: int) -> dict[str, Any] | None:
    """Run a peer benchmark in its own process; None with a note when it is not installed."""
    package = module.rsplit("_", 1)[0].rsplit(".", 1)[-1]
    if importlib.util.find_spec(package) is None:
        return None
    return run_peer(module, ["--rounds", str(rounds)])  # type: ignore[no-any-return]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "graphgrad": gg.__version__,
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 (older NumPy: no dict config)
        pass
    return info


def _fmt_ms(s: float) -> str:
    return f"{s * 1e3:8.3f}"


def run(rounds: int = 15, out: str | None = "bench/results.json", chain_sizes: tuple[int, ...] = (
        10_000, 100_000, 1_000_000), skip_training: bool = False) -> dict[str, Any]:
    """Run every measurement, print the table, write the JSON; returns the results."""
    results: dict[str, Any] = {"machine": machine(), "rounds": rounds}
    print(f"graphgrad speed benchmark on {results['machine']['processor']}, {results['machine']['cpus']} CPUs")
    results["torch_before"] = peer("graphgrad.benchmarks.torch_peer", rounds)
    results["mlp"] = mlp_ratios(rounds)
    results["torch_after"] = peer("graphgrad.benchmarks.torch_peer", rounds)
    results["jax"] = peer("graphgrad.benchmarks.jax_peer", rounds)
    biggest = next(c for c in CONFIGS if c.name.startswith("784-1024-1024"))
    results["backward_forward"] = backward_forward_ratio(biggest, rounds)
    results["memory"] = {c.name: peak_memory(c) for c in CONFIGS}
    results["scalar_chain"] = scalar_chain(chain_sizes)
    if not skip_training:
        from graphgrad.benchmarks.training import default_run_vs_sklearn

        results["training"] = default_run_vs_sklearn()
    print_table(results)
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        atomic_write_text(out, json.dumps(results, indent=2))
        print(f"wrote {out}")
    return results


def _peer_ratio(runs: list[dict[str, Any] | None], name: str) -> float | None:
    """The median over a peer's runs of its step time / its own process's NumPy step time."""
    ratios = [r["ratio"][name] for r in runs if r and name in r.get("ratio", {})]
    return statistics.median(ratios) if ratios else None


def _cell(ratio: float | None) -> str:
    return f"{ratio:9.2f}" if ratio is not None else f"{'n/a':>9}"


def print_table(results: dict[str, Any]) -> None:
    torch_runs = [results.get("torch_before"), results.get("torch_after")]
    print("\nMLP training step (float32), time / hand-written NumPy's (each peer against its own process's NumPy)")
    print(f"{'network @ batch':28} {'numpy ms':>9} {'eager':>9} {'captured':>9} {'torch':>9} {'jax.jit':>9}")
    for name, r in results["mlp"].items():
        print(f"{name:28} {_fmt_ms(r['numpy']):>9} {_cell(r['ratio'])} {_cell(r.get('captured_ratio'))} "
              f"{_cell(_peer_ratio(torch_runs, name))} {_cell(_peer_ratio([results.get('jax')], name))}")
    for label, runs in (("PyTorch", torch_runs), ("JAX", [results.get("jax")])):
        errors = [r["error"] for r in runs if r and "error" in r]
        if not any(runs):
            print(f"{label}: not installed (pip install {'torch==2.13.0' if label == 'PyTorch' else 'jax[cpu]'})")
        elif errors:
            print(f"{label}: failed: {errors[0]}")
    bf = results["backward_forward"]
    print(f"\nbackward / forward, 784-1024-1024-10: {bf['ratio']:.2f} "
          f"(forward {_fmt_ms(bf['forward_s']).strip()} ms, backward {_fmt_ms(bf['backward_s']).strip()} ms)")
    print("\npeak memory of a step (SGD momentum) / (params + grads + momentum + activations + batch):")
    for name, m in results["memory"].items():
        peak, budget = m["peak_bytes"] / 2**20, m["budget_bytes"] / 2**20
        print(f"  {name:28} {peak:8.2f} MiB / {budget:8.2f} MiB = {m['ratio']:.2f}")
    chain = results["scalar_chain"]
    cpu = chain.get("cpu_seconds_per_node", {})
    per = ", ".join(f"{int(n):,}: {t * 1e6:.2f} us" + (f" (CPU {cpu[n] * 1e6:.2f})" if n in cpu else "")
                    for n, t in chain["seconds_per_node"].items())
    print(f"\nscalar chain backward per node: {per}; growth exponent {chain['exponent']:.2f}")
    if "training" in results:
        t = results["training"]
        print(f"\ndefault `graphgrad train` (digits): {t['graphgrad']}\nscikit-learn MLPClassifier: {t['sklearn']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per contender (median over them)")
    parser.add_argument("--out", default="bench/results.json", help="where to write every number as JSON")
    parser.add_argument("--quick", action="store_true", help="small chain and few rounds (a smoke run)")
    parser.add_argument("--skip-training", action="store_true", help="skip the default run vs scikit-learn")


def run_from_args(args: argparse.Namespace) -> int:
    if args.quick:
        run(rounds=3, out=args.out, chain_sizes=(1_000, 10_000), skip_training=args.skip_training)
    else:
        run(rounds=args.rounds, out=args.out, skip_training=args.skip_training)
    return 0
