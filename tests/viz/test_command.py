"""`graphgrad explain` logic: printed value, gradients and table; page and drawing; user errors."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from graphgrad.errors import ConfigError
from graphgrad.viz import mlp_matrix
from graphgrad.viz.command import add_explain_arguments, add_report_arguments, run_explain, run_report


def run(argv):
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    return run_explain(parser.parse_args(argv))


def report(argv):
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    return run_report(parser.parse_args(argv))


def test_expression(tmp_path, capsys):
    page, svg = tmp_path / "f.html", tmp_path / "f.svg"
    assert run(["x*(y**2+z)", "--at", "x=1,y=2,z=3", "--html", str(page), "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "value: 7" in out
    assert "d/dx = 7" in out and "d/dy = 4" in out and "d/dz = 1" in out
    assert "grad_table[node]" in out
    text = page.read_text()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert svg.read_text().splitlines()[1].startswith("<svg")  # after the line saying graphgrad wrote it


@pytest.mark.parametrize(("option", "suffix"), [("--html", ".html"), ("--svg", ".svg"), ("--svg", ".png")])
def test_drawings_replace_their_own_files_never_a_users(tmp_path, capsys, option, suffix):
    if suffix == ".png":
        pytest.importorskip("matplotlib")
    users = tmp_path / f"mine{suffix}"
    users.write_bytes(b"\x89PNG\r\n\x1a\n the user's picture" if suffix == ".png" else b"<svg>the user's</svg>")
    before = users.read_bytes()
    with pytest.raises(ConfigError, match="exists and was not written by graphgrad"):
        run(["x*y", "--at", "x=1,y=2", option, str(users)])
    assert users.read_bytes() == before
    ours = tmp_path / f"ours{suffix}"
    for _ in range(2):  # the second call replaces what the first wrote
        assert run(["x*y", "--at", "x=1,y=2", option, str(ours)]) == 0
    assert ours.stat().st_size > 100


def test_a_folder_is_not_a_file_name(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        run(["x", "--at", "x=1", "--svg", str(tmp_path)])


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
        (["--example", "mlp", "--run", "r"], "not both --example and --run"),
        (["--example", "mlp", "--batch-size", "3"], "--batch-size goes with --run"),
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


def test_example_mlp_says_what_it_is_without_jargon(capsys):
    assert run(["--example", "mlp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("a 2-2-1 sigmoid network with square loss")
    assert "seed" not in out.lower()


def test_example_mlp_matrix(tmp_path, capsys):
    page = tmp_path / "m.html"
    assert run(["--example", "mlp-matrix", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    printed = out.split("d/dhidden.weight = (shape 3x2)")[1].split("d/dhidden.bias")[0]
    rows = [[float(v) for v in line.strip().strip("[]").split()] for line in printed.strip().splitlines()]
    loss, model = mlp_matrix.build()
    loss.backward()
    assert np.allclose(rows, model.hidden.weight.grad.data, rtol=1e-5, atol=0)  # every entry, 6 digits
    assert "hidden(x)" in out and "output(h)" in out
    text = page.read_text()
    assert "\u2202L/\u2202hidden.weight = (\u2202L/\u2202hidden(x))\u1d40 \u00b7 x" in text


def test_run_explains_one_mini_batch(cli_run, tmp_path, capsys):
    page = tmp_path / "b.html"
    assert run(["--run", str(cli_run), "--batch-size", "5", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "one mini-batch of 5 training examples through the 2-8-2 relu network" in out
    assert "d/d0.weight" in out and "a1 " in out and "h1 " in out
    assert "\u2202L/\u22020.weight = (\u2202L/\u2202a1)\u1d40 \u00b7 x" in page.read_text()


def test_run_of_a_cnn_explains_one_step_per_layer_and_draws_it(cnn_run, tmp_path, capsys):
    page, svg = tmp_path / "cnn.html", tmp_path / "cnn.svg"
    assert run(["--run", str(cnn_run), "--batch-size", "3", "--html", str(page), "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "one mini-batch of 3 training examples through the CNN (1x8x8 images, 10 outputs)" in out
    forward = out.split("Forward pass")[1].split("Backward pass")[0]
    rows = [line.split()[:3] for line in forward.splitlines()[3:] if line.strip()]
    ops = [" ".join(r[1:3]) for r in rows if not r[1][0].isdigit() or "." not in r[1]]
    assert ops[:2] == ["x data", "y data"]
    layers = ["1 conv2d", "2 batch_norm", "3 relu", "4 conv2d", "5 batch_norm", "6 relu", "7 max_pool2d",
              "8 conv2d", "9 batch_norm", "10 relu", "11 conv2d", "12 batch_norm", "13 relu", "14 max_pool2d",
              "15 adaptive_avg_pool2d", "16 flatten", "17 linear"]
    assert ops[2:] == layers + ["L cross_entropy"]  # the default CNN: no hidden layers after the pooling
    assert "d/d2.weight" in out and "d/d17.bias" in out
    text = svg.read_text()
    assert all(f">{name}<" in text for name in layers) and "normalize" not in text
    assert "shape 3\u00d732\u00d78\u00d78" in text  # the first convolution's output


def test_report_command(cli_run, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert report([str(cli_run), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="not a folder"):
        report([str(tmp_path / "nope")])
