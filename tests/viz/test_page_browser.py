"""The pages in a real headless browser (Debian's chromium driven by Playwright), at 1400x1000.

Skipped, with a message, only when no browser (or no Playwright to drive it) can be found;
`.ci/install-browser.sh` installs both on CI. Every test takes screenshots; set
GRAPHGRAD_SCREENSHOTS=DIR to keep them (they go to the test's temporary folder otherwise).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.viz import expr, mlp_matrix, seed_network
from graphgrad.viz.report import write_report

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}


def _browser() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def page_of():
    browser_path = _browser()
    if browser_path is None:
        pytest.skip("no chromium found (run .ci/install-browser.sh as root to install one)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("chromium found but the playwright package is missing (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=ARGS)

        def open_page(path: Path):
            page = browser.new_page(viewport=VIEWPORT)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            return page, errors, requests

        yield open_page
        browser.close()


def shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    keep = os.environ.get("GRAPHGRAD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def _state(page):
    return page.evaluate(
        """() => ({
            current: [...document.querySelectorAll('#graph .node.current')].map(g => g.dataset.name),
            filled: [...document.querySelectorAll('#grad-table tbody tr.filled')].map(
                tr => [tr.children[1].textContent, tr.children[3].textContent]),
            label: document.getElementById('step-label').textContent,
            caption: document.getElementById('caption').innerText,
        })"""
    )


def _on_screen(page, name: str) -> bool:
    """The node's box lies inside both the window and the graph's frame."""
    return page.evaluate(
        """name => {
            const g = [...document.querySelectorAll('#graph .node')].find(n => n.dataset.name === name);
            const r = g.getBoundingClientRect(), f = document.getElementById('graph').getBoundingClientRect();
            return r.width > 0 && r.left >= f.left && r.right <= f.right && r.top >= f.top && r.bottom <= f.bottom
                && r.right <= window.innerWidth && r.bottom <= window.innerHeight;
        }""",
        name,
    )


def _go(page, step: int) -> None:
    page.evaluate("n => { const s = document.getElementById('slider'); s.value = n; "
                  "s.dispatchEvent(new Event('input')); }", step)


def test_expression_page_steps_through_forward_and_backward(page_of, tmp_path):
    out, _ = expr.build("x*(y**2+z)", {"x": 1, "y": 2, "z": 3})
    ex = gg.explain(out, title="f = x (y^2 + z)")
    page, errors, requests = page_of(ex.to_html(tmp_path / "f.html"))
    state = _state(page)
    ops = [s for s in ex.forward if s.op is not None]
    assert sorted(state["current"]) == ["x", "y", "z"]  # step 1: the inputs, all at once
    assert state["filled"] == [] and state["label"] == f"1 / {1 + len(ops) + len(ex.backward)} (forward)"
    for s in ops:
        page.click("#next")
        state = _state(page)
        assert state["current"] == [s.name] and state["filled"] == []
    for k, step in enumerate(ex.backward):
        page.keyboard.press("ArrowRight")
        state = _state(page)
        assert state["current"] == [step.name]
        assert [row[0] for row in state["filled"]] == [s.name for s in ex.backward[: k + 1]]
    assert dict(state["filled"]) == {"x*(y**2+z)": "1", "x": "7", "y**2+z": "1", "y**2": "1", "y": "4", "z": "1"}
    assert f"\u2202L/\u2202{ex.backward[-1].name}" in state["caption"]  # the last step: y
    page.keyboard.press("ArrowLeft")
    assert len(_state(page)["filled"]) == len(ex.backward) - 1
    page.click("#first")
    assert _state(page)["filled"] == []
    assert errors == []
    assert all(url.startswith("file://") for url in requests)  # nothing from the network


def test_network_page_fits_the_window_with_legend_numbers_and_zoom(page_of, tmp_path):
    loss, _ = seed_network.build()
    ex = gg.explain(loss, title="a 2-2-1 sigmoid network with square loss")
    page, errors, _ = page_of(ex.to_html(tmp_path / "mlp.html"))
    assert _on_screen(page, "L") and _on_screen(page, "x1") and _on_screen(page, "x2")
    shot(page, tmp_path, "mlp-start")
    legend = page.inner_text("#legend")
    assert "local derivative" in legend and "on an arrow" in legend
    assert "seed" not in page.inner_text("body").lower()
    # the backward step of y - y*: 0.5 · (−0.83), the full value on hover
    page.click("#to-backward")
    assert _state(page)["current"] == ["L"]
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    row = page.locator("#grad-table tbody tr.current")
    assert row.locator("td").nth(1).inner_text() == "y - y*"
    assert row.locator("td.sum").inner_text() == "0.5 \u00b7 (\u22120.83)"
    title = row.locator("td.sum .num").nth(1).get_attribute("title")
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731  (by hand: d(u^2)/du = 2u at u = y - y*)
    y = sig(0.2 + 0.6 * sig(0.1 + 0.4 * 1 - 0.2 * 0.5) - 0.4 * sig(-0.3 + 0.2 * 1 + 0.5 * 0.5))
    assert float(title) == pytest.approx(2 * (y - 1.0), rel=1e-12) and len(title) > 10
    shot(page, tmp_path, "mlp-backward")
    # zoom in (button), pan (drag), fit again
    box = page.evaluate("() => document.querySelector('#graph svg').getAttribute('viewBox')")
    page.click("#zoom-in")
    zoomed = [float(v) for v in page.evaluate("() => document.querySelector('#graph svg').getAttribute('viewBox')")
              .split()]
    assert zoomed[2] < [float(v) for v in box.split()][2]
    g = page.locator("#graph").bounding_box()
    page.mouse.move(g["x"] + 300, g["y"] + 200)
    page.mouse.down()
    page.mouse.move(g["x"] + 400, g["y"] + 250)
    page.mouse.up()
    panned = [float(v) for v in page.evaluate("() => document.querySelector('#graph svg').getAttribute('viewBox')")
              .split()]
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2] == zoomed[2]
    shot(page, tmp_path, "mlp-zoomed")
    page.click("#zoom-fit")
    assert page.evaluate("() => document.querySelector('#graph svg').getAttribute('viewBox')") == box
    assert errors == []


def test_matrix_step_of_the_2_3_2_network_shows_the_formula_and_the_numbers(page_of, tmp_path):
    loss, model = mlp_matrix.build()
    ex = gg.explain(loss, module=model, title=mlp_matrix.TITLE)
    page, errors, _ = page_of(ex.to_html(tmp_path / "mm.html"))
    assert _on_screen(page, "L") and _on_screen(page, "x")
    assert "shape 4\u00d72" in page.inner_text("#graph")  # tensors with their shapes
    shot(page, tmp_path, "mlp-matrix-start")
    # by hand, with NumPy: dL/dW1 = (dL/dA1)^T X
    x, y, p = mlp_matrix.X, mlp_matrix.Y, mlp_matrix.PARAMETERS
    a1 = x @ p["hidden.weight"].T + p["hidden.bias"]
    h = 1 / (1 + np.exp(-a1))
    z = h @ p["output.weight"].T + p["output.bias"]
    soft = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    dz = (soft - np.eye(2)[y]) / len(y)
    da1 = (dz @ p["output.weight"]) * h * (1 - h)
    dw1 = da1.T @ x
    forward_steps = 1 + sum(s.op is not None for s in ex.forward)
    k = next(i for i, s in enumerate(ex.backward) if s.name == "hidden.weight")
    _go(page, forward_steps + k)
    caption = page.inner_text("#caption")
    assert "\u2202L/\u2202hidden.weight = (\u2202L/\u2202hidden(x))\u1d40 \u00b7 x" in caption
    tables = page.locator("#caption .step:not([hidden]) table.heatmap")
    assert tables.count() == 3  # (dL/dA1)^T, x, and the result

    def cells(i):
        return np.array([float(c.get_attribute("title")) for c in tables.nth(i).locator(".num").all()])

    np.testing.assert_allclose(cells(0).reshape(3, 4), da1.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cells(1).reshape(4, 2), x)
    np.testing.assert_allclose(cells(2).reshape(3, 2), dw1, rtol=1e-12, atol=1e-15)
    shown = [c.inner_text() for c in tables.nth(2).locator(".num").all()]
    assert shown[0] == "\u22120.0884" and shown[2] == "0.0739"  # 3 significant digits, true minus
    shot(page, tmp_path, "mlp-matrix-hidden-weight")
    assert errors == []


def test_names_cannot_break_the_page(page_of, tmp_path):
    x = gg.Tensor(np.array(2.0), requires_grad=True, name="</script><!--<script>alert(1)//")
    y = x * x
    y.name = "<b>&amp;"
    page, errors, _ = page_of(gg.explain(y).to_html(tmp_path / "evil.html"))
    page.click("#to-backward")
    page.keyboard.press("ArrowRight")
    assert "</script><!--<script>alert(1)//" in page.inner_text("#grad-table")
    assert page.evaluate("() => JSON.parse(document.getElementById('steps').textContent).length") == 4
    assert errors == []


def test_report_page_slider_moves_the_boundary_and_one_click_opens_the_step_through(page_of, recorded_run,
                                                                                     tmp_path):
    page, errors, requests = page_of(write_report(recorded_run, tmp_path / "report.html"))
    shot(page, tmp_path, "report-last-epoch")
    for chart in ("#chart-loss", "#chart-accuracy", "#chart-lr"):
        assert page.locator(chart).is_visible()
    epochs = page.evaluate("() => JSON.parse(document.getElementById('boundary-data').textContent).epochs")
    canvas = page.locator("#boundary")
    last = canvas.evaluate("c => c.toDataURL()")
    assert canvas.get_attribute("data-epoch") == str(epochs[-1])
    page.evaluate("() => { const s = document.getElementById('epoch-slider'); s.value = 1; "
                  "s.dispatchEvent(new Event('input')); }")
    assert canvas.get_attribute("data-epoch") == "1" and "after epoch 1" in page.inner_text("#epoch-label")
    assert canvas.evaluate("c => c.toDataURL()") != last  # the boundary moved
    shot(page, tmp_path, "report-epoch-1")
    page.click("#open-step")
    frame = page.frame_locator("#step-frame")
    frame.locator("#to-backward").click()
    assert "backward" in frame.locator("#step-label").inner_text()
    assert frame.locator("#grad-table tbody tr.filled").count() == 1
    page.wait_for_timeout(100)
    shot(page, tmp_path, "report-step-through")
    assert errors == []
    assert all(url.startswith(("file://", "about:srcdoc", "data:")) for url in requests)


def test_cnn_run_page_draws_every_layer_inside_the_window(page_of, cnn_run, tmp_path):
    from graphgrad.viz.run_batch import explain_run

    ex = explain_run(cnn_run, batch_size=4)
    page, errors, requests = page_of(ex.to_html(tmp_path / "cnn.html"))
    shot(page, tmp_path, "cnn-run-start")
    drawn = page.evaluate("() => [...document.querySelectorAll('#graph .node')].map(g => g.dataset.name)")
    assert drawn == [n.name for n in ex.view.nodes if n.kind != "const"]
    assert {"x", "1 conv2d", "2 batch_norm", "3 relu", "7 max_pool2d", "16 flatten", "17 linear", "L"} <= set(drawn)
    assert len([n for n in drawn if "." not in n]) == 20  # x, y, 17 layers, L: one node per layer
    assert all(_on_screen(page, name) for name in drawn)
    # the first backward steps: L, then the last layer, one row per node in the gradient table
    page.click("#to-backward")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    assert _state(page)["current"] == [ex.backward[2].name]
    filled = [row[0] for row in _state(page)["filled"]]  # "17 linear (4×10)": the name and the shape
    assert [f.rsplit(" (", 1)[0] for f in filled] == [s.name for s in ex.backward[:3]] == ["L", "17 linear",
                                                                                          "17.weight"]
    assert filled[1] == "17 linear (4×10)"
    page.click("#zoom-in")
    shot(page, tmp_path, "cnn-run-backward")
    assert errors == []
    assert all(url.startswith("file://") for url in requests)
