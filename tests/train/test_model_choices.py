"""What ``--activation`` and ``--channels`` choose: every activation name builds PyTorch's function,
for the MLP and the CNN; ``--channels`` sets the CNN's stages, is saved with the run and rebuilt by
``evaluate`` / ``predict`` / ``load_run``, and a bad value is one line naming the option."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from graphgrad import nn
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor
from graphgrad.train import load_run
from graphgrad.train.config import TrainConfig
from graphgrad.train.registry import ACTIVATIONS, MODEL_SIZES, MODELS
from tests.cliproc import gg, one_line_error
from tests.test_cli_runs import small_csv
from tests.train.test_cnn_run_faults import _bars as bars

# the name a user types -> PyTorch's function of that name (an oracle written elsewhere)
TORCH_NAMES = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "gelu",
               "elu": "elu", "softplus": "softplus", "silu": "silu", "mish": "mish", "relu6": "relu6",
               "hardtanh": "hardtanh", "hardsigmoid": "hardsigmoid", "hardswish": "hardswish"}


def test_every_nn_activation_is_offered():
    assert set(ACTIVATIONS) == set(TORCH_NAMES)


@pytest.mark.parametrize("name", sorted(TORCH_NAMES))
def test_each_activation_name_computes_pytorchs_function_of_that_name(name):
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 161)  # kinks at -3, -1, 0, 1, 3 and 6 included
    ours = ACTIVATIONS[name]()(Tensor(x)).data
    theirs = getattr(torch.nn.functional, TORCH_NAMES[name])(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)


def _build(model: str, **settings: object) -> nn.Module:
    config = TrainConfig(model=model, **settings)  # type: ignore[arg-type]
    config.validate()
    shape = (1, 8, 8) if model == "cnn" else (5,)
    return MODELS[model](shape, 3, config, {"init": np.random.default_rng(0), "dropout": np.random.default_rng(1)})


@pytest.mark.parametrize("name", ["silu", "mish", "hardswish", "relu6", "hardtanh", "hardsigmoid"])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_new_activations_follow_every_hidden_layer_and_convolution(model, name):
    net = _build(model, activation=name, hidden=[6, 4])
    kinds = [type(m) for m in net.modules()]
    expected = 2 + (4 if model == "cnn" else 0)  # two hidden layers, two convolutions per stage
    assert kinds.count(ACTIVATIONS[name]) == expected
    assert sum(k in ACTIVATIONS.values() for k in kinds) == expected  # and no other activation


@pytest.mark.parametrize("channels", [[8], [4, 8, 16], [32, 64]])
def test_channels_are_the_cnns_stages_and_its_size_is_counted(channels):
    net = _build("cnn", channels=channels)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [k for k in channels for _ in range(2)]
    assert convs[0].in_channels == 1
    config = TrainConfig(model="cnn", channels=channels)
    assert MODEL_SIZES["cnn"]((1, 8, 8), 3, config) == sum(math.prod(p.shape) for p in net.parameters())


def test_channels_default_to_small_cnns():
    assert TrainConfig(model="cnn").channels == [32, 64]
    assert TrainConfig().channels == []  # the MLP has no convolutions
    assert TrainConfig.from_dict({"model": "cnn", "channels": "16, 32"}).channels == [16, 32]  # TOML text


@pytest.mark.parametrize(("value", "fragment"), [
    ("0,64", "invalid channels '0,64' (channel counts must be > 0)"),
    ("32,x", "invalid channels '32,x' (channel counts separated by commas, e.g. 32,64)"),
    ("none", "invalid channels [] (--model cnn needs at least one stage, e.g. 32,64)"),
    ("-8", "invalid channels '-8' (channel counts must be > 0)"),
])
def test_bad_channels_are_one_line_naming_the_option(value, fragment, tmp_path):
    one_line_error(gg("train", "--model", "cnn", "--channels", value, "--quiet", "--out", tmp_path / "r"), fragment)
    assert not (tmp_path / "r").exists()


def test_channels_with_the_mlp_are_refused_saying_why(tmp_path):
    one_line_error(gg("train", "--channels", "16", "--quiet", "--out", tmp_path / "r"),
                   "--channels sets the convolution stages of --model cnn; the mlp has none")
    with pytest.raises(ConfigError, match="--channels sets the convolution stages of --model cnn"):
        TrainConfig.from_dict({"channels": [16]})


def test_the_help_lists_the_activations_and_channels():
    r = gg("train", "--help")
    text = " ".join(r.out.split())
    assert "silu, mish, relu6, hardtanh, hardsigmoid, hardswish" in text
    assert "--channels SIZES" in text and "default: 32,64" in text


def _test_loss(run: Path) -> float:
    return float(json.loads((run / "summary.json").read_text())["test"]["loss"])


@pytest.mark.parametrize(("model", "settings"), [
    ("mlp", ["--hidden", "16", "--activation", "mish"]),
    ("cnn", ["--channels", "8,16", "--activation", "hardswish"]),
])
def test_a_run_saved_with_a_new_choice_rebuilds_it_everywhere(model, settings, tmp_path):
    if model == "cnn":
        x, y = bars(90)
        np.savez(tmp_path / "data.npz", X=x, y=y)
        data = tmp_path / "data.npz"
    else:
        data = small_csv(tmp_path / "data.csv")
    run = tmp_path / "run"
    r = gg("train", "--model", model, "--data", data, *settings, "--epochs", "2", "--quiet", "--threads", "1",
           "--out", run)
    assert r.code == 0, r.err
    loaded = load_run(run)
    activation = ACTIVATIONS[settings[-1]]
    assert any(isinstance(m, activation) for m in loaded.model.modules())
    if model == "cnn":
        assert [m.out_channels for m in loaded.model.modules() if isinstance(m, nn.Conv2d)] == [8, 8, 16, 16]
        assert json.loads((run / "state.json").read_text())["state"]["config"]["channels"] == [8, 16]
    ev = gg("evaluate", run)  # the rebuilt model gives the loss training measured on the test split
    assert ev.code == 0, ev.err
    evaluated = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert evaluated["loss"] == pytest.approx(_test_loss(run), rel=1e-5)
    pr = gg("predict", run, "--data", data, "--output", tmp_path / "p.csv")
    assert pr.code == 0, pr.err
    expected = loaded.predict(str(data))
    rows = (tmp_path / "p.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == [str(v) for v in expected]


def test_channels_too_wide_for_memory_are_refused_naming_them(tmp_path):
    r = gg("train", "--model", "cnn", "--channels", "100000,100000", "--quiet", "--out", tmp_path / "r")
    config = TrainConfig(model="cnn", channels=[100000, 100000])
    count = MODEL_SIZES["cnn"]((1, 8, 8), 10, config)
    one_line_error(r, f"--channels 100000,100000: the model has {count:,} parameters", "GB, this machine has")
    assert not (tmp_path / "r").exists()
