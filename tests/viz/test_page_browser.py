"""The explain page in a real headless browser (Debian's chromium driven by Playwright).

Skipped, with a message, only when no browser (or no Playwright to drive it) can be found;
`.ci/install-browser.sh` installs both on CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import graphgrad as gg
from graphgrad.viz import expr

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


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
        pages = []

        def open_page(path: Path):
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            pages.append(page)
            return page, errors, requests

        yield open_page
        browser.close()


def _state(page):
    return page.evaluate(
        """() => ({
            current: [...document.querySelectorAll('#graph .node.current')].map(g => g.dataset.name),
            filled: [...document.querySelectorAll('#grad-table tbody tr.filled')].map(
                tr => [tr.children[1].textContent, tr.children[3].textContent]),
            visibleNodes: [...document.querySelectorAll('#graph .node')].filter(g => {
                const r = g.getBoundingClientRect();
                return r.width > 0 && r.height > 0 && getComputedStyle(g).visibility !== 'hidden';
            }).map(g => g.dataset.name),
            label: document.getElementById('step-label').textContent,
        })"""
    )


def test_page_steps_through_forward_and_backward(page_of, tmp_path):
    out, _ = expr.build("x*(y**2+z)", {"x": 1, "y": 2, "z": 3})
    ex = gg.explain(out, title="f = x (y^2 + z)")
    path = ex.to_html(tmp_path / "f.html")
    page, errors, requests = page_of(path)
    state = _state(page)
    assert sorted(state["visibleNodes"]) == sorted(n.name for n in ex.view.nodes)  # every node shows
    assert state["current"] == ["x"] and state["filled"] == [] and state["label"].startswith("1 / 12")
    # through the forward pass: the highlighted node moves, no gradient row fills yet
    seen = []
    for _ in range(len(ex.forward) - 1):
        page.click("#next")
        state = _state(page)
        seen.append(state["current"][0])
        assert state["filled"] == []
    assert seen == [s.name for s in ex.forward[1:]]
    # the backward pass: each step highlights the next node and fills the next row with its gradient
    for k, step in enumerate(ex.backward):
        page.keyboard.press("ArrowRight")
        state = _state(page)
        assert state["current"] == [step.name]
        assert state["filled"] == [[s.name, s.total] for s in ex.backward[: k + 1]]
    assert state["filled"][-1] == ["z", "1"] and ["x", "7"] in state["filled"] and ["y", "4"] in state["filled"]
    page.keyboard.press("ArrowLeft")
    assert len(_state(page)["filled"]) == len(ex.backward) - 1
    page.click("#first")
    assert _state(page)["filled"] == []
    assert errors == []
    assert all(url.startswith("file://") for url in requests)  # nothing from the network


def test_seed_network_page_loads_without_errors(page_of, tmp_path):
    from graphgrad.viz import seed_network

    ex = gg.explain(seed_network.build()[0])
    page, errors, _ = page_of(ex.to_html(tmp_path / "mlp.html"))
    page.click("#to-backward")
    state = _state(page)
    assert state["current"] == ["L"] and state["filled"] == [["L", "1"]]
    assert len(state["visibleNodes"]) == len(ex.view.nodes)
    assert errors == []
