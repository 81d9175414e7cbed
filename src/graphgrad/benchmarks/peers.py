"""Peers in their own process: a library whose thread pool would slow NumPy's (PyTorch, JAX) is timed
by running a benchmark module again as a child process that prints its numbers as one JSON line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any


def run_peer(module: str, args: list[str]) -> Any:
    """``python -m module args`` in a child process: the JSON of its last printed line, or
    ``{"error": <its last line on stderr>}`` when it failed."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main_with_peer(parser: argparse.ArgumentParser, argv: list[str] | None,
                   peer: Callable[[argparse.Namespace], Any], run: Callable[[argparse.Namespace], Any]) -> None:
    """A benchmark's ``main``: with the hidden ``--peer`` (how :func:`run_peer` calls it back), print
    ``peer(args)`` as one JSON line; else ``run(args)``."""
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        print(json.dumps(peer(args)))
    else:
        run(args)
