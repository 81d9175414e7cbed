"""`graphgrad bench contention`: does the default `graphgrad train` collapse when the CPU is busy?

BLAS threads on small matrices spin against any other busy process; a run that takes seconds on
a quiet machine once took ten times longer next to a busy one. This benchmark times the default
run (thread count measured by :mod:`graphgrad.threads`) against the same run pinned to one BLAS
thread and to every core (the old default), each as a whole ``graphgrad train`` command, with
``--busy`` processes spinning on the cores and without. Targets: under load, default <= 1.3x one
thread; quiet, default no slower than every core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graphgrad.threads import available

SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def busy(processes: int, seconds: float = 3600.0) -> Iterator[None]:
    """``processes`` Python processes spinning on the CPU for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)]) for _ in range(processes)]
    try:
        time.sleep(0.2)
        yield
    finally:
        for p in spinners:
            p.terminate()
        for p in spinners:
            p.wait()


def train_seconds(extra: list[str], epochs: int | None) -> float:
    """Wall time of one ``graphgrad train`` command (a fresh process, as a user runs it)."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "graphgrad", "train", "--quiet", "--out", f"{tmp}/run", *extra]
        if epochs is not None:
            argv += ["--epochs", str(epochs)]
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                                 "MKL_NUM_THREADS")}
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        return time.perf_counter() - t0


def measure(repeats: int, busy_processes: int, epochs: int | None) -> dict[str, Any]:
    """Median wall time of each variant, quiet and under load (variants interleaved per repeat)."""
    variants = {"default": [], "one thread": ["--threads", "1"], "every core": ["--threads", str(available())]}
    out: dict[str, Any] = {"cores": available(), "busy_processes": busy_processes, "epochs": epochs,
                           "load_before": os.getloadavg()[0]}
    for condition in ("quiet", "busy"):
        samples: dict[str, list[float]] = {name: [] for name in variants}
        with busy(busy_processes if condition == "busy" else 0):
            for _ in range(repeats):
                for name, extra in variants.items():
                    samples[name].append(train_seconds(extra, epochs))
        out[condition] = {name: statistics.median(v) for name, v in samples.items()}
        out[condition + "_samples"] = samples
    out["busy_default_over_one"] = out["busy"]["default"] / out["busy"]["one thread"]
    out["busy_every_core_over_one"] = out["busy"]["every core"] / out["busy"]["one thread"]
    out["quiet_default_over_every_core"] = out["quiet"]["default"] / out["quiet"]["every core"]
    return out


def print_table(r: dict[str, Any]) -> None:
    print(f"\n`graphgrad train`{'' if r['epochs'] is None else ' --epochs ' + str(r['epochs'])} wall seconds "
          f"(median), {r['cores']} cores, busy = {r['busy_processes']} spinning processes, "
          f"load average before {r['load_before']:.1f}")
    print(f"{'':12} {'default':>9} {'one thread':>11} {'every core':>11}")
    for condition in ("quiet", "busy"):
        c = r[condition]
        print(f"{condition:12} {c['default']:9.2f} {c['one thread']:11.2f} {c['every core']:11.2f}")
    print(f"busy: default / one thread = {r['busy_default_over_one']:.2f} (target <= 1.3); "
          f"every core / one thread = {r['busy_every_core_over_one']:.2f}")
    print(f"quiet: default / every core (the old default) = {r['quiet_default_over_every_core']:.2f} (target <= 1)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant per condition (median)")
    parser.add_argument("--busy", type=int, default=None, help="spinning processes under load (default: one per core)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of each run (default: train's default)")
    parser.add_argument("--out", default="bench/contention.json", help="where to write every number as JSON")


def run_from_args(args: argparse.Namespace) -> int:
    from graphgrad.errors import ConfigError

    for name in ("repeats", "busy", "epochs"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "busy" else 1):
            raise ConfigError(f"--{name}: must be a positive integer, got {value}")
    result = measure(args.repeats, available() if args.busy is None else args.busy, args.epochs)
    print_table(result)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, args.out)
        print(f"wrote {args.out}")
    return 0
