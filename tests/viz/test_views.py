"""DOT / SVG / PNG views of f = x (y^2 + z): nodes, labels, values, local derivatives, well-formed XML."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.errors import ConfigError, GraphFreedError
from graphgrad.viz import build_view, draw, to_dot, to_svg
from graphgrad.viz.layout import layout

SVG = "{http://www.w3.org/2000/svg}"


def seed_f():
    x = gg.Tensor(np.array(1.0), requires_grad=True, name="x")
    y = gg.Tensor(np.array(2.0), requires_grad=True, name="y")
    z = gg.Tensor(np.array(3.0), requires_grad=True, name="z")
    g = y**2 + z
    g.name = "g"
    f = x * g
    f.name = "f"
    return f, (x, y, z)


def test_view_nodes_values_and_local_derivatives():
    f, _ = seed_f()
    view = build_view(f)
    by_name = {n.name: n for n in view.nodes}
    assert {"x", "y", "z", "g", "f", "2"} <= set(by_name)
    assert by_name["g"].value == "7" and by_name["f"].value == "7" and by_name["x"].value == "1"
    assert by_name["g"].op == "add" and by_name["f"].op == "multiply" and by_name["x"].op is None
    local = {(view.nodes[e.src].name, view.nodes[e.dst].name): e.local for e in view.edges}
    # df/dx = g = 7, df/dg = x = 1, dg/dz = 1, d(y^2)/dy = 2y = 4
    assert local[("x", "f")] == 7.0 and local[("g", "f")] == 1.0 and local[("z", "g")] == 1.0
    power = next(n for n in view.nodes if n.op == "power")
    assert local[("y", power.name)] == 4.0
    assert local[("2", power.name)] is None  # a constant: backprop never differentiates it


def test_dot_has_nodes_labels_values_and_edge_labels():
    f, _ = seed_f()
    dot = to_dot(f)
    assert dot.startswith("digraph graphgrad {") and dot.rstrip().endswith("}")
    assert 'label="f = multiply\\nvalue 7"' in dot
    assert 'label="g = add\\nvalue 7"' in dot
    assert 'label="x\\nvalue 1"' in dot
    assert dot.count("->") == 6
    assert '[label="7"]' in dot and '[label="4"]' in dot


def test_gradients_show_after_backward_with_retained_graph():
    f, (x, y, z) = seed_f()
    f.backward(retain_graph=True)
    view = build_view(f)
    grads = {n.name: n.grad for n in view.nodes}
    assert grads["x"] == "7" and grads["y"] == "4" and grads["z"] == "1"


def test_freed_graph_is_a_clear_error():
    f, _ = seed_f()
    f.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        to_dot(f)


def test_svg_is_well_formed_and_carries_every_label(tmp_path):
    f, _ = seed_f()
    root = ET.fromstring(to_svg(f))
    assert root.tag == SVG + "svg"
    groups = [g for g in root.iter(SVG + "g") if "node" in g.get("class", "").split()]
    assert len(groups) == 7  # x, y, 2, y**2, z, g, f
    texts = {(t.text or "") + "".join(c.tail or "" for c in t) for t in root.iter(SVG + "text")}  # not hover titles
    assert {"f = multiply", "g = add", "x", "value 7", "value 4", "7", "4"} <= texts
    hover = {t.text for t in root.iter(SVG + "title")}
    assert "local derivative \u2202(f)/\u2202(x) = 7.0" in hover and "value = 7.0" in hover
    path = draw(f, tmp_path / "f.svg")
    ET.parse(path)  # parses as XML


def test_png_is_written(tmp_path):
    f, _ = seed_f()
    path = draw(f, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="svg, png"):
        draw(f, tmp_path / "f.gif")


def test_array_values_are_summarized():
    w = gg.Tensor(np.array([[1.0, -2.0], [3.0, 4.0]]), requires_grad=True, name="W")
    v = gg.Tensor(np.array([1.0, 1.0]), name="v")
    out = gg.sum(w @ v)
    view = build_view(out)
    node = next(n for n in view.nodes if n.name == "W")
    assert node.value == "min \u22122 mean 1.5 max 4" and node.shape == (2, 2)
    assert "shape 2\u00d72" in node.lines()
    assert all(e.local is None for e in view.edges if view.nodes[e.src].name == "W")


class TinyModule:
    """Just enough of nn.Module for the views: named_parameters()."""

    def __init__(self, rng):
        self.params = {
            "fc1.weight": gg.Tensor(rng.standard_normal((3, 2)), requires_grad=True),
            "fc1.bias": gg.Tensor(rng.standard_normal(3), requires_grad=True),
            "fc2.weight": gg.Tensor(rng.standard_normal((1, 3)), requires_grad=True),
        }

    def named_parameters(self):
        return iter(self.params.items())

    def __call__(self, x):
        p = self.params
        h = gg.exp(p["fc1.weight"] @ x + p["fc1.bias"])
        return gg.sum(p["fc2.weight"] @ h)


def test_module_collapses_into_boxes_unless_expanded():
    model = TinyModule(np.random.default_rng(0))
    out = model(gg.Tensor(np.array([0.5, -1.0])))
    collapsed = build_view(out, module=model)
    boxes = {n.name: n for n in collapsed.nodes if n.kind == "module"}
    assert set(boxes) == {"fc1", "fc2"}
    assert len(boxes["fc1"].members) == 4  # weight, bias, matmul, add
    names = {n.name for n in collapsed.nodes}
    assert "exp(fc1(data_1))" in names and "fc1.weight" not in names
    expanded = build_view(out, module=model, expand=True)
    names = {n.name for n in expanded.nodes}
    assert {"fc1.weight", "fc1.bias", "fc2.weight"} <= names and not any(n.kind == "module" for n in expanded.nodes)
    partly = build_view(out, module=model, expand=["fc1"])
    assert "fc1.weight" in {n.name for n in partly.nodes}
    assert [n.name for n in partly.nodes if n.kind == "module"] == ["fc2"]
    layout(collapsed)  # still acyclic


def test_big_graph_uses_fast_layout_and_stays_well_formed():
    x = gg.Tensor(np.array(0.5), requires_grad=True, name="x")
    t = x
    for _ in range(700):
        t = gg.exp(t * 0.5) * 0.5  # 1400 ops, 2800 constant boxes
    start = time.perf_counter()
    view = build_view(t)
    assert len(view.nodes) > 3000
    lay = layout(view)
    assert lay.engine == "fast"
    xs = [b.x for b in lay.boxes]
    assert len(lay.boxes) == len(view.nodes) and max(xs) > min(xs)
    ET.fromstring(to_svg(t))
    assert time.perf_counter() - start < 30  # thousands of nodes in seconds (about 1 s here)


def overlapping(lay):
    boxes = lay.boxes
    return [
        (i, j)
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if abs(boxes[i].x - boxes[j].x) < (boxes[i].w + boxes[j].w) / 2 - 0.5
        and abs(boxes[i].y - boxes[j].y) < (boxes[i].h + boxes[j].h) / 2 - 0.5
    ]


@pytest.mark.parametrize("engine", ["grandalf", "fast"])
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_boxes_never_overlap(engine, rankdir):
    from graphgrad.viz import seed_network

    view = build_view(seed_network.build()[0])
    lay = layout(view, rankdir=rankdir, engine=engine)
    assert lay.engine == engine
    assert overlapping(lay) == []
    # inputs come before the root along the flow
    axis = (lambda b: b.x) if rankdir == "LR" else (lambda b: b.y)
    root = lay.boxes[view.root]
    assert all(axis(b) < axis(root) for i, b in enumerate(lay.boxes) if i != view.root)
