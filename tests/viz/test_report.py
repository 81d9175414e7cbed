"""graphgrad report: the page of a real run, what it says about missing columns, and what it never overwrites."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from graphgrad.errors import CheckpointError, ConfigError
from graphgrad.viz._page import MARKER
from graphgrad.viz.report import REPORT_FILE, _curves, read_run, render_report, stop_epochs, write_report


def embedded(page: str, element_id: str):
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_report_of_a_real_train_run(cli_run):
    path = write_report(cli_run)
    assert path == cli_run / REPORT_FILE
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n" + MARKER)
    for chart in ("chart-loss", "chart-accuracy", "chart-lr"):
        assert f'id="{chart}"' in page
    ticks = set(re.findall(r'class="tick x-tick"[^>]*>([^<]+)<', page))
    assert ticks == {"1", "2"}  # whole epochs only
    rows = json.loads((cli_run / "metrics.json").read_text())
    for prefix in ("weight_norm/", "grad_norm/"):
        if any(k.startswith(prefix) for k in rows[0]):
            assert f'id="chart-{prefix[:-1]}"' in page
        else:
            assert f"no {prefix}&lt;parameter&gt; column" in page  # said, not hidden
    boundary = embedded(page, "boundary-data")  # moons has 2 features
    assert boundary["epochs"][-1] == 2 and len(boundary["points"]) > 100
    assert len(boundary["classes"][-1]) > 0
    step_page = embedded(page, "step-page")
    assert "graphgrad explain" in step_page and "one mini-batch of 16 training examples" in step_page
    # self-contained: no external resource
    assert "<script src" not in page and "<link" not in page
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert "seed" not in re.sub(r"<[^>]+>", "", page).lower().replace("--seed", "")


def test_history_columns_are_drawn_or_said_missing():
    rows = [{"epoch": e, "lr": 0.1 / e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5 + e / 20,
             "val_accuracy": 0.5 + e / 25, "weight_norm/0.weight": 2.0 + e, "weight_norm/0.bias": 0.5 * e,
             "grad_norm/0.weight": 1.0 / e} for e in range(1, 7)]
    state = {"callbacks": {"early_stopping": {"best_epoch": 3, "stopped_epoch": 6}}}
    html = _curves({"state": state, "history": rows})
    for chart in ("chart-loss", "chart-accuracy", "chart-lr", "chart-weight_norm", "chart-grad_norm"):
        assert f'id="{chart}"' in html
    assert "best epoch 3" in html and "stopped 6" in html
    assert "0.weight, epoch 4: 6.0" in html and "0.bias" in html and "not recorded" not in html
    without = [{k: v for k, v in r.items() if k not in ("lr", "grad_norm/0.weight")} for r in rows]
    html = _curves({"state": {}, "history": without})
    assert "<b>learning rate</b>: not recorded" in html and "<b>gradient norm per parameter</b>: not recorded" in html
    assert 'id="chart-weight_norm"' in html
    assert stop_epochs({"best": {"epoch": 4}}) == (4, None)


def test_report_of_a_run_with_boundaries_per_epoch(recorded_run):
    page = render_report(recorded_run)
    boundary = embedded(page, "boundary-data")
    epochs = boundary["epochs"]
    run = read_run(recorded_run)
    assert epochs == list(range(0, len(run["history"]) + 1))
    maps = [np.frombuffer(__import__("base64").b64decode(c), np.uint8) for c in boundary["classes"]]
    assert all(m.size == boundary["resolution"] ** 2 for m in maps) and set(np.concatenate(maps)) <= {0, 1, 2}
    assert not np.array_equal(maps[0], maps[-1])
    assert "One map per epoch" in page


def test_never_overwrites_a_file_graphgrad_did_not_write(cli_run, tmp_path):
    mine = tmp_path / "report.html"
    mine.write_text("<html>my own notes</html>")
    with pytest.raises(ConfigError, match="was not written by graphgrad"):
        write_report(cli_run, mine)
    assert mine.read_text() == "<html>my own notes</html>"
    out = write_report(cli_run, tmp_path / "again.html")
    assert write_report(cli_run, out) == out  # its own page may be replaced
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(cli_run, tmp_path / "missing" / "r.html")
    with pytest.raises(ConfigError, match="is a folder"):
        write_report(cli_run, tmp_path)


def test_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        read_run(tmp_path / "nothing")
    with pytest.raises(CheckpointError):
        read_run(tmp_path)
