"""One node per layer call: a CNN drawn as conv2d, batch_norm, relu, max_pool2d, flatten, linear nodes
named by their path, with shapes, and explained one layer at a time with gradients equal to backward's."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn.models import lenet5, small_cnn
from graphgrad.viz import build_view, explain, record_layers, to_dot, to_svg
from graphgrad.viz.layout import layout

LENET = ["x", "1 conv2d", "2 relu", "3 max_pool2d", "4 conv2d", "5 relu", "6 max_pool2d", "7 flatten", "8 linear",
         "9 relu", "10 linear", "11 relu", "12 linear", "y", "L"]


def _batch(n: int, features: int, seed: int = 0, dtype: type = np.float32) -> tuple[gg.Tensor, gg.Tensor]:
    rng = np.random.default_rng(seed)
    return (gg.Tensor(rng.normal(size=(n, features)).astype(dtype), name="x"),
            gg.Tensor(np.arange(n) % 3, name="y"))


def _loss(model: nn.Module, x: gg.Tensor, y: gg.Tensor) -> tuple[gg.Tensor, object]:
    with record_layers(model) as layers:
        loss = gg.cross_entropy(model(x), y)
    loss.name = "L"
    return loss, layers


def test_lenet_is_one_node_per_layer_named_by_path_and_op_with_its_output_shape():
    model = lenet5((1, 12, 12), 3, rng=0)
    x, y = _batch(2, 144)
    loss, layers = _loss(model, x, y)
    view = build_view(loss, module=model, layers=layers)
    assert [n.name for n in view.nodes] == LENET  # the input keeps its name through Unflatten
    shapes = {n.name: n.shape for n in view.nodes}
    assert shapes["x"] == (2, 1, 12, 12) and shapes["1 conv2d"] == (2, 6, 12, 12)
    assert shapes["6 max_pool2d"] == (2, 16, 1, 1) and shapes["7 flatten"] == (2, 16)
    assert shapes["12 linear"] == (2, 3) and shapes["L"] == ()
    conv = next(n for n in view.nodes if n.name == "1 conv2d")
    assert conv.lines()[:2] == ["1 conv2d", "shape 2\u00d76\u00d712\u00d712"]  # no "= conv2d" after the name
    assert conv.layer == "Conv2d" and conv.kind == "op"
    chain = [(view.nodes[e.src].name, view.nodes[e.dst].name) for e in view.edges]
    assert chain == list(zip(LENET[:-2], LENET[1:-2])) + [("12 linear", "L"), ("y", "L")]
    expanded = build_view(loss, module=model, layers=layers, expand=True)  # parameters as nodes of their own
    names = [n.name for n in expanded.nodes]
    assert len(names) == len(LENET) + 10 and {"1.weight", "1.bias", "12.weight"} <= set(names)
    assert [n.name for n in expanded.nodes if n.kind == "op"] == [n for n in LENET if n not in ("x", "y")]
    for text in (to_svg(loss, module=model, layers=layers), to_dot(loss, module=model, layers=layers)):
        assert all(name in text for name in LENET)
    ET.fromstring(to_svg(loss, module=model, layers=layers))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_is_one_node_in_training_and_in_evaluation(training):
    model = small_cnn((1, 6, 6), 3, rng=0, channels=(4,))
    model.train(training)
    x, y = _batch(5, 36)
    loss, layers = _loss(model, x, y)
    without = build_view(loss, module=model)  # no recorded layers: batch norm takes several boxes
    view = build_view(loss, module=model, layers=layers)
    # training: one op (normalize_affine) per layer; evaluation: subtract, scale, shift
    assert len(without.nodes) >= len(view.nodes) + (0 if training else 4)
    bns = [n for n in view.nodes if n.op == "batch_norm"]
    assert [n.name for n in bns] == ["2 batch_norm", "5 batch_norm"]
    assert all(n.shape == (5, 4, 6, 6) and (len(n.members) == 1) == training for n in bns)
    assert not any(n.op in ("normalize", "multiply", "add", "reshape") for n in view.nodes)
    ins = {view.nodes[e.src].name for e in view.edges if e.dst == bns[0].id}
    assert ins == {"1 conv2d"} and all(e.local is None for e in view.edges)
    expanded = build_view(loss, module=model, layers=layers, expand=True)
    bn = next(n for n in expanded.nodes if n.name == "2 batch_norm")
    assert {expanded.nodes[e.src].name for e in expanded.edges if e.dst == bn.id} == {"1 conv2d", "2.weight",
                                                                                       "2.bias"}
    layout(view)  # acyclic, drawable


def test_explain_steps_once_per_layer_and_agrees_with_backward():
    model = small_cnn((1, 6, 6), 3, rng=1, channels=(4,), hidden=(5,), dtype=np.float64)
    x, y = _batch(5, 36, dtype=np.float64)
    loss, layers = _loss(model, x, y)
    for call in layers.calls:
        if call.output._node is not None:
            call.output.retain_grad()
    ex = explain(loss, module=model, layers=layers)
    ops = [s.name for s in ex.forward if s.op is not None]
    assert ops == ["1 conv2d", "2 batch_norm", "3 relu", "4 conv2d", "5 batch_norm", "6 relu", "7 max_pool2d",
                   "8 adaptive_avg_pool2d", "9 flatten", "10 linear", "11 relu", "12 linear", "L"]
    bn = next(s for s in ex.forward if s.name == "2 batch_norm")
    assert bn.inputs == ["1 conv2d", "2.weight", "2.bias"]  # one op in training: its formula, in the layer's words
    assert bn.formula is not None and bn.formula.rhs.startswith("(1 conv2d − mean) / √(var + ε) · 2.weight + 2.bias")
    assert sorted(s.name for s in ex.backward) == sorted(
        [*ops, *(name for name, _ in model.named_parameters())])  # one step per node, none inside a layer
    step = next(s for s in ex.backward if s.name == "1 conv2d")
    assert [(t.consumer_name, t.op) for t in step.terms] == [("2 batch_norm", "batch_norm")]
    loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(ex.grads[name], p.grad.data, rtol=1e-10, atol=1e-13)
    for call in layers.calls:
        if call.output._node is not None:
            name = f"{call.path} {layers_op(ex, call.output)}"
            np.testing.assert_allclose(ex.grads[name], call.output.grad.data, rtol=1e-10, atol=1e-13)


def layers_op(ex, t):
    return ex.view.nodes[ex._vid[id(t)]].op


def test_paths_of_nested_modules_and_a_layer_called_twice():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(4, 4, rng=0), nn.ReLU())
            self.classifier = nn.Sequential(nn.Linear(4, 3, rng=1))

        def forward(self, x):
            h = self.features(x)
            return self.classifier(self.features(h) + h)  # the features twice, and an op of the model's own

    model = Net()
    x, y = _batch(2, 4)
    loss, layers = _loss(model, x, y)
    names = [n.name for n in build_view(loss, module=model, layers=layers).nodes]
    assert names == ["x", "features.0 linear", "features.1 relu", "features.0 linear #2", "features.1 relu #2",
                     "add_1", "classifier.0 linear", "y", "L"]  # the model's own op: a formula, too long here


def test_user_names_win_and_recording_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Tanh())
    assert "forward" not in vars(model[0])
    x, y = _batch(2, 4)
    with pytest.raises(ValueError, match="stop"), record_layers(model):
        model(x)
        raise ValueError("stop")
    assert all("forward" not in vars(m) for m in model.modules())  # restored after an error too
    with record_layers(model) as layers:
        h = model[0](x)
        h.name = "a1"
        out = model[1](h)
    names = [n.name for n in build_view(gg.sum(out), module=model, layers=layers).nodes]
    assert names == ["x", "a1", "1 tanh", "sum(1 tanh)"]
