"""What ``graphgrad evaluate`` reports and saves: per-class tables and a confusion matrix for
classes, RMSE / MAE / R^2 in the target's units for regression.

Files go to ``<run>/evaluation/<name>/`` (``name``: ``test`` or the evaluated file's stem):
``metrics.json``, and for classification ``per_class.csv``, ``confusion_matrix.csv`` and
``confusion_matrix.png``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from graphgrad.errors import CheckpointError
from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text
from graphgrad.train.csv_safety import safe_cell


def folder_name(data: str | None) -> str:
    """``test`` for the run's test split, else the file's stem with only safe characters and no
    leading dot (a file named ``...csv`` must not make the folder ``..``, the run folder itself)."""
    if data is None:
        return "test"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(data).stem).lstrip(".") or "data"


def format_report(report: dict[str, Any]) -> list[str]:
    """Lines for the terminal."""
    n, where = report["n"], report["data"]
    if report["task"] != "classification":
        return [f"RMSE {report['rmse']:.6g}  MAE {report['mae']:.6g}  R^2 {report['r2']:.4f}  "
                f"(in the units of {report['target']!r}) on {n} examples ({where})"]
    names = report["class_names"]
    width = max([5, *(len(str(c)) for c in names)])
    lines = [f"accuracy {report['accuracy']:.2%}  balanced accuracy {report['balanced_accuracy']:.2%}  "
             f"loss {report['loss']:.4f}  on {n} examples ({where})",
             f"{'class':<{width}}  precision  recall  f1      support"]
    for k, name in enumerate(names):
        lines.append(f"{name:<{width}}  {report['precision'][k]:9.3f}  {report['recall'][k]:6.3f}  "
                     f"{report['f1'][k]:6.3f}  {report['support'][k]:7d}")
    return lines


def write_evaluation(run_dir: Path, name: str, report: dict[str, Any]) -> Path:
    """Save the report's files; returns their folder. A link that leads the folder out of the run
    (to a folder of the user's) is refused: files are written only inside the run."""
    folder = run_dir / "evaluation" / name
    for path in (folder.parent, folder):
        if path.is_symlink() and not path.resolve().is_relative_to(run_dir.resolve()):
            raise CheckpointError(f"{path}: a link to {path.resolve()}, outside the run folder; refusing to "
                                  "write the evaluation there")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "metrics.json", json.dumps(report, indent=1) + "\n")
    if report["task"] != "classification":
        return folder
    names = [str(c) for c in report["class_names"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["class", "precision", "recall", "f1", "support"])
    for k, c in enumerate(names):
        w.writerow([safe_cell(c), f"{report['precision'][k]:.6g}", f"{report['recall'][k]:.6g}",
                    f"{report['f1'][k]:.6g}", report["support"][k]])
    atomic_write_text(folder / "per_class.csv", buf.getvalue())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["true \\ predicted", *(safe_cell(c) for c in names)])
    for c, row in zip(names, report["confusion_matrix"]):
        w.writerow([safe_cell(c), *row])
    atomic_write_text(folder / "confusion_matrix.csv", buf.getvalue())
    plot_confusion(report["confusion_matrix"], names, folder / "confusion_matrix.png")
    return folder


def plot_confusion(matrix: list[list[int]], names: list[str], path: Path) -> None:
    """The confusion matrix as a PNG heat map with the counts written in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.asarray(matrix)
    size = min(12.0, 2.5 + 0.5 * len(names))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    try:
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), labels=names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if len(names) <= 30:
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    ax.text(j, i, str(m[i, j]), ha="center", va="center",
                            color="white" if m[i, j] > m.max() / 2 else "black", fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
