"""Every script in examples/ runs (small settings) and prints the numbers the seeds promise."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def number_after(label: str, text: str) -> float:
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
    assert match, f"{label!r} not in output:\n{text}"
    return float(match.group(1))


def test_chain_rule(tmp_path):
    out = run("chain_rule.py", "--out", str(tmp_path))
    assert "forward:  g = y^2 + z = 7    f = x g = 7" in out
    assert "backward: df/dx = 7    df/dy = 4    df/dz = 1" in out
    assert "by hand:  df/dx = g = 7    df/dy = 2xy = 4    df/dz = x = 1" in out
    ET.parse(tmp_path / "chain_rule.svg")
    assert "grad_table" in (tmp_path / "chain_rule.html").read_text()
    other = run("chain_rule.py", "--x", "2", "--y", "-1", "--z", "0.5")
    assert "backward: df/dx = 1.5    df/dy = -4    df/dz = 2" in other


def test_two_layer(tmp_path):
    out = run("two_layer.py", "--out", str(tmp_path))
    assert "L = 0.086021" in out
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()
            if re.match(r"w[ho]_\d\d ", line)}
    assert len(rows) == 9
    for name, (engine, hand, _diff) in rows.items():
        assert engine == pytest.approx(hand, abs=1e-8), name
    assert rows["wo_01"][0] == pytest.approx(-0.1006826, abs=1e-7)
    assert number_after("largest difference:", out) < 1e-12
    ET.parse(tmp_path / "two_layer.svg")


def test_matrix_backprop():
    out = run("matrix_backprop.py", "--sizes", "3,4,2", "--lam", "0.1", "--seed", "3")
    hand = number_after("J: by hand", out)
    engine = number_after("engine", out)
    assert hand == pytest.approx(engine, rel=1e-12)
    assert number_after("largest difference:", out) < 1e-12
    assert out.count("layer ") == 2


def test_sgd_minibatch():
    out = run("sgd_minibatch.py", "--epochs", "12", "--batch-size", "4", "--n", "48", "--hidden", "8")
    assert number_after("max difference", out) < 1e-12  # batch gradient == mean of per-example ones
    assert "12 batches of size 4 per epoch" in out
    first = number_after("epoch   0  loss", out)
    last = number_after("epoch  12  loss", out)
    assert last < first


def test_regularization(tmp_path):
    out = run("regularization.py", "--epochs", "60", "--hidden", "16", "--out", str(tmp_path))
    rows = {}
    for line in out.splitlines()[1:7]:
        parts = line.rsplit(maxsplit=4)
        rows[parts[0]] = [float(v) for v in parts[1:]]
    assert list(rows) == ["none", "L2 (lambda=2e-3)", "dropout (p=0.2)", "early stopping",
                          "step lr (x0.3 / 100 ep)", "exp lr (x0.99 / ep)"]
    for name, (epochs, train, best, final) in rows.items():
        assert 0 < train and 0 < best <= final and epochs <= 60, name
    # early stopping restores its best weights: its final validation loss is its best one
    assert rows["early stopping"][3] == rows["early stopping"][2]
    assert (tmp_path / "regularization.png").read_bytes()[:4] == b"\x89PNG"
