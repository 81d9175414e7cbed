"""``graphgrad report RUN``: a whole training run on one self-contained page.

The page shows what the run recorded, epoch by epoch: loss and accuracy (or R²) curves for the
training and validation splits with the early-stopping epoch marked, the learning rate, each
parameter's weight and gradient norm (where the run recorded them; "not recorded" otherwise), the
decision boundary with the data points and a slider over epochs for classification on 2 features,
and, one click away, the step-through of one mini-batch's forward and backward pass
(:mod:`graphgrad.viz.run_batch`), embedded in the same file. No network, no external script.
"""

from __future__ import annotations

import base64
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from graphgrad.errors import ConfigError, GraphgradError
from graphgrad.io import atomic_write_text, load_checkpoint
from graphgrad.io.atomic import check_replaceable
from graphgrad.train.run_dir import REPORT_FILE
from graphgrad.viz._page import page, script_json, starts_with_marker
from graphgrad.viz.boundary import RESOLUTION, Boundaries, class_map, grid_bounds, load_boundaries
from graphgrad.viz.numbers import fmt
from graphgrad.viz.plots import PALETTE, Series, line_chart

MAX_POINTS = 800  # data points drawn over the decision boundary
CHART_W, CHART_H = 412, 250

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:12px 18px;color:#1b1f24;background:#fafafa}
h1{font-size:21px;margin:0 0 6px}
h2{font-size:17px;margin:18px 0 6px}
table.facts{border-collapse:collapse;font-size:14px}
table.facts td{padding:2px 14px 2px 0;vertical-align:top}
table.facts td:first-child{color:#555}
.top{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:14px;align-items:start}
.charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px}
.chart .plot{fill:#fff;stroke:#d0d7de}
.chart .grid{stroke:#eef0f2}
.chart .axis{stroke:#555}
.chart .tick,.chart .legend,.chart .axis-label{font-size:11px;fill:#333}
.chart .chart-title{font-size:13px;font-weight:bold;fill:#1b1f24}
.chart .mark{stroke:#b3261e;stroke-dasharray:4 3;stroke-width:1.5}
.chart .mark-label{font-size:11px;fill:#b3261e}
.chart .empty{font-size:13px;fill:#777}
.missing{color:#777;font-style:italic;background:#fff;border:1px dashed #bbb;border-radius:6px;padding:10px;
 width:380px}
#boundary-box{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
#boundary{border:1px solid #d0d7de;background:#fff;image-rendering:auto}
#boundary-controls{display:flex;gap:8px;align-items:center;margin:6px 0}
#boundary-panel{width:464px}
#boundary-controls{flex-wrap:wrap}
#epoch-slider{width:200px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:6px;border:1px solid #333;margin:0 4px 0 10px;
 vertical-align:-1px}
#open-step{font-size:15px;padding:6px 14px}
#step-frame{width:100%;height:1000px;border:1px solid #d0d7de;background:#fff;margin-top:8px}
.note{color:#555;font-size:13px;max-width:870px;margin:4px 0}
#boundary-panel .note{max-width:460px}
"""

SCRIPT = r"""
(function(){
const el = document.getElementById('boundary-data');
if (el) {
  const B = JSON.parse(el.textContent);
  const canvas = document.getElementById('boundary');
  const ctx = canvas.getContext('2d');
  const slider = document.getElementById('epoch-slider');
  const label = document.getElementById('epoch-label');
  const decode = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
  const maps = B.classes.map(decode), conf = B.confidence.map(decode);
  const rgb = c => [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
  const colors = B.colors.map(rgb);
  const n = B.resolution, W = canvas.width, H = canvas.height;
  const [x0, x1, y0, y1] = B.bounds;
  const off = document.createElement('canvas'); off.width = n; off.height = n;
  const octx = off.getContext('2d');
  const floor = 1 / B.colors.length;
  function draw(k){
    const img = octx.createImageData(n, n);
    for (let i = 0; i < n * n; i++){
      const c = colors[maps[k][i]] || [128, 128, 128];
      const p = conf[k][i] / 255, a = 0.25 + 0.55 * Math.max(0, (p - floor) / (1 - floor));
      for (let j = 0; j < 3; j++) img.data[4 * i + j] = Math.round(255 + (c[j] - 255) * a);
      img.data[4 * i + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, W, H);
    for (const [x, y, c] of B.points){
      const px = (x - x0) / (x1 - x0) * W, py = (y1 - y) / (y1 - y0) * H;
      ctx.beginPath(); ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = B.colors[c] || '#888'; ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = '#1b1f24'; ctx.stroke();
    }
    const e = B.epochs[k];
    const last = B.epochs[B.epochs.length - 1];
    label.textContent = e === 0 ? 'before training (epoch 0)' : 'after epoch ' + e + ' of ' + last;
    canvas.dataset.epoch = e;
  }
  slider.max = B.epochs.length - 1;
  slider.value = B.epochs.length - 1;
  slider.addEventListener('input', () => draw(Number(slider.value)));
  draw(B.epochs.length - 1);
}
const open = document.getElementById('open-step');
if (open) open.addEventListener('click', () => {
  const section = document.getElementById('step-section');
  section.hidden = false;
  const frame = document.getElementById('step-frame');
  const html = () => JSON.parse(document.getElementById('step-page').textContent);
  if (!frame.getAttribute('srcdoc')) frame.setAttribute('srcdoc', html());
  section.scrollIntoView({block: 'start'});
});
})();
"""


# ----------------------------------------------------------------------------- reading the run
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's state (no tensors), history rows (metrics.json, else the checkpoint's) and summary."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"report: {str(run_dir)!r} is not a folder (give a run folder, what train --out wrote)")
    state = load_checkpoint(run_dir, groups=[]).state
    history = _read_json(run_dir / "metrics.json")  # the run's history file, every column it recorded
    if not isinstance(history, list) or not history:
        history = state.get("history")
    rows = [r for r in (history or []) if isinstance(r, dict) and isinstance(r.get("epoch"), (int, float))]
    summary = _read_json(run_dir / "summary.json")
    return {"state": state, "history": rows, "summary": summary if isinstance(summary, dict) else None}


def stop_epochs(state: dict[str, Any]) -> tuple[int | None, int | None]:
    """(best epoch whose weights the run kept, epoch at which early stopping ended it), where known."""
    es = (state.get("callbacks") or {}).get("early_stopping") or {}
    best = es.get("best_epoch") or (state.get("best") or {}).get("epoch")
    stopped = es.get("stopped_epoch") or state.get("stopped_epoch")
    return (int(best) if best else None), (int(stopped) if stopped else None)


def _column(rows: list[dict[str, Any]], key: str) -> list[float]:
    out = []
    for r in rows:
        v = r.get(key)
        out.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
    return out


def _recorded(rows: list[dict[str, Any]], key: str) -> bool:
    return any(math.isfinite(v) for v in _column(rows, key))


# ----------------------------------------------------------------------------- sections
def _facts(run_dir: Path, run: dict[str, Any]) -> str:
    state, rows, summary = run["state"], run["history"], run["summary"]
    config, meta = state.get("config") or {}, state.get("metadata") or {}
    sizes = [meta.get("n_features"), *(config.get("hidden") or []), meta.get("n_outputs")]
    best, stopped = stop_epochs(state)
    planned = state.get("epochs") or config.get("epochs")
    ran = len(rows)
    if stopped:
        end = f"stopped early after epoch {stopped} of {planned}; weights of epoch {best} kept"
    elif best:
        end = f"ran {ran} of {planned} epochs; weights of the best epoch {best} kept"
    else:
        end = f"ran {ran} of {planned} epochs" + ("" if state.get("finished", True) else " (not finished)")
    facts = [
        ("data", f"{meta.get('source', '?')} ({meta.get('task', '?')}; {meta.get('n_features', '?')} features)"),
        ("network", f"{'-'.join(str(s) for s in sizes)}, {config.get('activation', '?')}"
         + (f", dropout {config['dropout']}" if config.get("dropout") else "")),
        ("training", f"{config.get('optimizer', '?')}, learning rate {config.get('lr', '?')}, schedule "
         f"{config.get('schedule') or 'none'}, batch size {config.get('batch_size', '?')}"),
        ("epochs", end),
    ]
    if summary and isinstance(summary.get("test"), dict):
        test = ", ".join(f"{k} {fmt(v, 4)}" for k, v in summary["test"].items() if isinstance(v, (int, float)))
        facts.append(("test split", test))
    rows_html = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return f'<table class="facts">{rows_html}</table>'


def _marks(state: dict[str, Any]) -> list[tuple[float, str]]:
    best, stopped = stop_epochs(state)
    marks: list[tuple[float, str]] = []
    if best:
        marks.append((best, f"best epoch {best}"))
    if stopped and stopped != best:
        marks.append((stopped, f"stopped {stopped}"))
    return marks


def _split_chart(rows: list[dict[str, Any]], metric: str, title: str, marks: list[tuple[float, str]]) -> str:
    epochs = _column(rows, "epoch")
    series = [Series(label, epochs, _column(rows, f"{split}_{metric}"), dashed=split == "val")
              for split, label in (("train", "training"), ("val", "validation"))
              if _recorded(rows, f"{split}_{metric}")]
    if not series:
        return _missing(title, f"train_{metric} / val_{metric}")
    return line_chart(title, series, metric, marks, css_id=f"chart-{metric}", width=CHART_W, height=CHART_H)


def _missing(title: str, columns: str) -> str:
    return (f'<div class="missing"><b>{escape(title)}</b>: not recorded (this run\'s history has no '
            f"{escape(columns)} column)</div>")


def _norm_chart(rows: list[dict[str, Any]], prefix: str, title: str, marks: list[tuple[float, str]]) -> str:
    keys = sorted({k for r in rows for k in r if k.startswith(prefix)})
    keys = [k for k in keys if _recorded(rows, k)]
    if not keys:
        return _missing(title, f"{prefix}<parameter>")
    epochs = _column(rows, "epoch")
    series = [Series(k[len(prefix):], epochs, _column(rows, k)) for k in keys]
    return line_chart(title, series, "L2 norm", marks, log_y=True, css_id=f"chart-{prefix.rstrip('/')}",
                      width=CHART_W, height=CHART_H)


def _lr_chart(rows: list[dict[str, Any]], marks: list[tuple[float, str]]) -> str:
    if not _recorded(rows, "lr"):
        return _missing("learning rate", "lr")
    series = [Series("lr", _column(rows, "epoch"), _column(rows, "lr"))]
    return line_chart("learning rate", series, "learning rate", marks, css_id="chart-lr", width=CHART_W,
                      height=CHART_H)


def _curves(run: dict[str, Any]) -> str:
    rows, state = run["history"], run["state"]
    if not rows:
        return '<p class="missing">This run has no recorded epochs yet.</p>'
    marks = _marks(state)
    quality = "accuracy" if (_recorded(rows, "train_accuracy") or _recorded(rows, "val_accuracy")) else "r2"
    charts = [
        _split_chart(rows, "loss", "loss", marks),
        _split_chart(rows, quality, "accuracy" if quality == "accuracy" else "R\u00b2", marks),
        _lr_chart(rows, marks),
        _norm_chart(rows, "weight_norm/", "weight norm per parameter", marks),
        _norm_chart(rows, "grad_norm/", "gradient norm per parameter", marks),
    ]
    return '<div class="charts">' + "".join(charts) + "</div>"


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def _boundary_data(run_dir: Path, run: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The boundary maps and points for the page, and a note on where they come from."""
    from graphgrad.train.config import TrainConfig
    from graphgrad.train.experiment import load_model, prepare_data

    meta = run["state"].get("metadata") or {}
    if meta.get("task") != "classification" or meta.get("n_features") != 2:
        return None, ""
    saved = load_boundaries(run_dir)
    config = TrainConfig.from_dict(run["state"]["config"], source=f"{run_dir}/state.json")
    x, y = prepare_data(config).train
    if saved is None:
        model, _, _ = load_model(run_dir)
        bounds = grid_bounds(x)
        classes, conf = class_map(model, bounds, RESOLUTION)
        epoch = len(run["history"])
        saved = Boundaries(bounds, np.array([epoch]), classes[None], conf[None])
        note = ("This run did not record a boundary per epoch (it was trained without the decision-boundary "
                "recorder), so only its saved final weights are shown.")
    else:
        note = "One map per epoch, recorded while the run trained; the slider moves through them."
    keep = np.linspace(0, len(x) - 1, min(len(x), MAX_POINTS)).astype(int)
    names = meta.get("target_names") or []
    ncls = max(int(meta.get("n_outputs") or 2), 2)
    data = {
        "bounds": list(saved.bounds), "resolution": int(saved.classes.shape[1]),
        "epochs": [int(e) for e in saved.epochs],
        "classes": [_b64(c) for c in saved.classes], "confidence": [_b64(c) for c in saved.confidence],
        "colors": [PALETTE[k % len(PALETTE)] for k in range(ncls)],
        "names": [str(n) for n in names],
        "points": [[round(float(x[i, 0]), 4), round(float(x[i, 1]), 4), int(y[i])] for i in keep],
    }
    return data, note


def _boundary_section(run_dir: Path, run: dict[str, Any]) -> tuple[str, str]:
    data, note = _boundary_data(run_dir, run)
    if data is None:
        return "", ""
    legend = "".join(f'<span class="swatch" style="background:{c}"></span>{escape(n)}'
                     for c, n in zip(data["colors"], data["names"] or [str(k) for k in range(len(data["colors"]))]))
    html = (
        '<div id="boundary-panel"><h2>Decision boundary</h2>'
        f'<p class="note">The model\'s predicted class over the plane of the two (standardized) features, '
        f"darker where it is more confident, with the training points. {escape(note)}</p>"
        '<div id="boundary-controls"><label for="epoch-slider">epoch</label>'
        '<input id="epoch-slider" type="range" min="0" max="0" value="0" aria-label="epoch">'
        f'<span id="epoch-label"></span><span>{legend}</span></div>'
        '<div id="boundary-box"><canvas id="boundary" width="460" height="460"></canvas></div></div>'
    )
    return html, f'<script type="application/json" id="boundary-data">{script_json(data)}</script>'


def _step_section(run_dir: Path) -> tuple[str, str]:
    from graphgrad.viz.html import render_page
    from graphgrad.viz.run_batch import explain_run

    try:
        ex = explain_run(run_dir)
    except GraphgradError as e:
        return f'<h2>One mini-batch, step by step</h2><p class="missing">Not available: {escape(str(e))}</p>', ""
    button = ('<h2>One mini-batch, step by step</h2>'
              f'<p class="note">{escape(ex.title)}.</p>'
              '<button id="open-step" type="button">Step through the forward and backward pass of one mini-batch'
              "</button>"
              '<div id="step-section" hidden><iframe id="step-frame" title="one mini-batch, step by step">'
              "</iframe></div>")
    return button, f'<script type="application/json" id="step-page">{script_json(render_page(ex))}</script>'


def render_report(run_dir: str | os.PathLike[str]) -> str:
    """The report page of the run in ``run_dir``, as a string."""
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    boundary, boundary_data = _boundary_section(run_dir, run)
    step, step_data = _step_section(run_dir)
    body = [
        f"<h1>Training run {escape(run_dir.resolve().name)}</h1>",
        _facts(run_dir, run),
        '<div class="top"><div><h2>Curves per epoch</h2>',
        '<p class="note">Hover a point for its exact value. Dashed: validation split. A red line marks the '
        "epoch whose weights early stopping kept (and where it stopped training).</p>",
        _curves(run),
        "</div>",
        boundary,
        "</div>",
        step,
        boundary_data,
        step_data,
    ]
    return page(f"{run_dir.name} - graphgrad report", CSS, body, SCRIPT)


def write_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report (default ``RUN/report.html``) atomically; never over a file graphgrad did not write."""
    path = Path(out) if out is not None else Path(run_dir) / REPORT_FILE
    if out is not None:
        check_replaceable(path, "report --out", starts_with_marker)
    text = render_report(run_dir)  # checks the run folder first
    check_replaceable(path, "report --out" if out is not None else "report", starts_with_marker)
    atomic_write_text(path, text)
    return path


__all__ = ["REPORT_FILE", "read_run", "render_report", "stop_epochs", "write_report"]
