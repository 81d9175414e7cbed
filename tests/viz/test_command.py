"""`graphgrad explain` logic: printed value, gradients and table; page and drawing; user errors."""

from __future__ import annotations

import argparse

import pytest

from graphgrad.errors import ConfigError
from graphgrad.viz.command import add_explain_arguments, run_explain


def run(argv):
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    return run_explain(parser.parse_args(argv))


def test_expression(tmp_path, capsys):
    page, svg = tmp_path / "f.html", tmp_path / "f.svg"
    assert run(["x*(y**2+z)", "--at", "x=1,y=2,z=3", "--html", str(page), "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "value: 7" in out
    assert "d/dx = 7" in out and "d/dy = 4" in out and "d/dz = 1" in out
    assert "grad_table[node]" in out
    text = page.read_text()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert svg.read_text().startswith("<svg")


def test_example_mlp(capsys):
    assert run(["--example", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "value: 0.0860211" in out
    assert "d/dwo_01 = -0.100683" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give an expression"),
        (["x", "--example", "mlp"], "not both"),
        (["--example", "mlp", "--at", "x=1"], "--at is for expressions"),
        (["x+1", "--at", "y=1"], "no value for x"),
        (["__import__('os')"], "column 1"),
        (["2*3"], "no variables"),
        (["x", "--at", "x=1", "--html", "/nonexistent-dir/p.html"], "does not exist"),
    ],
)
def test_user_errors_are_config_errors(argv, message):
    with pytest.raises(ConfigError, match=message):
        run(argv)
