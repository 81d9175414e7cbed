"""The per-epoch history of a run, saved as metrics.json, metrics.csv and a PNG of its curves.

Each row is one epoch: ``{"epoch": 3, "lr": 0.001, "train_loss": ..., "val_loss": ...}``. Files
are written atomically so a crash never leaves a half-written history next to a good checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text

METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
CURVES_PNG = "curves.png"


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols.extend(k for k in row if k not in cols)
    return cols


def write_history(run_dir: str | os.PathLike[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write ``metrics.json`` and ``metrics.csv`` (one row per epoch) into ``run_dir``."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / METRICS_JSON, json.dumps(list(rows), indent=1) + "\n")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / METRICS_CSV, buf.getvalue())


def plot_history(history: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Draw loss curves and accuracy (or R^2) curves, train and validation, of ``history`` (the
    rows of metrics.json) to the PNG file ``path``. Ticks mark whole epochs only."""
    if isinstance(history, (str, os.PathLike)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError("plot_history(history, path): the history rows come first, then the PNG path")
    rows = history
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in rows]
    quality = "accuracy" if any("train_accuracy" in r for r in rows) else "r2"
    panels = (("loss", "loss"), (quality, "accuracy" if quality == "accuracy" else "R^2"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    try:
        for ax, (metric, label) in zip(axes, panels):
            for split in ("train", "val"):
                key = f"{split}_{metric}"
                values = [r.get(key, math.nan) for r in rows]
                if any(v is not None and math.isfinite(v) for v in values):
                    ax.plot(epochs, values, marker="o", markersize=3, label="validation" if split == "val" else split)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.set_title(label)
            ax.legend()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
