"""``graphgrad explain --example conv``: every value and gradient of a 2x2 filter over a 4x4 image,
checked against the hand derivation (values) and NumPy loops written from the definition."""

from __future__ import annotations

import numpy as np

from graphgrad.viz import conv_example
from graphgrad.viz.explain import explain
from tests.cliproc import gg

X, W, B = conv_example.X, conv_example.W, conv_example.B
Z_BY_HAND = np.array([[0.5, -0.5, -1.5],  # z[i,j] = x[i,j] - x[i+1,j+1] + 0.5
                      [0.5, 0.5, 2.5],
                      [-0.5, 0.5, -0.5]])


def loops() -> dict[str, np.ndarray]:
    """Forward and gradients from the definitions, one window at a time."""
    z = np.array([[B + sum(W[p, q] * X[i + p, j + q] for p in range(2) for q in range(2)) for j in range(3)]
                  for i in range(3)])
    gx, gw = np.zeros((4, 4)), np.zeros((2, 2))
    for i in range(3):
        for j in range(3):
            for p in range(2):
                for q in range(2):
                    gx[i + p, j + q] += z[i, j] * W[p, q]  # dL/dz = z, spread back through the filter
                    gw[p, q] += z[i, j] * X[i + p, j + q]
    return {"z": z, "x": gx, "w": gw, "b": np.array([z.sum()])}


def test_every_value_and_gradient_matches_the_hand_computation() -> None:
    ref = loops()
    assert np.array_equal(ref["z"], Z_BY_HAND)
    loss, tensors = conv_example.build()
    ex = explain(loss, title=conv_example.TITLE)
    values = {s.name: s.value_data for s in ex.forward}
    assert list(values) == ["x", "w", "b", "z", "z * z", "sum(z * z)", "L"]
    assert np.array_equal(values["z"].reshape(3, 3), Z_BY_HAND)
    assert np.array_equal(values["z * z"].reshape(3, 3), Z_BY_HAND ** 2)
    assert float(values["sum(z * z)"]) == 10.25 and float(values["L"]) == 5.125
    grads = ex.grads
    assert float(grads["L"]) == 1.0 and float(grads["sum(z * z)"]) == 0.5
    assert np.array_equal(grads["z * z"].reshape(3, 3), np.full((3, 3), 0.5))
    assert np.array_equal(grads["z"].reshape(3, 3), Z_BY_HAND)  # dL/dz = z: the two uses of z add up
    for name in ("x", "w", "b"):
        assert np.allclose(grads[name].reshape(ref[name].shape), ref[name], rtol=0, atol=1e-12), name
    assert float(grads["b"].sum()) == 1.5 and grads["w"].reshape(2, 2).tolist() == [[6.0, 6.5], [-0.5, -3.5]]
    loss.backward()  # the engine agrees with the explanation
    for name, t in tensors.items():
        assert t.grad is not None and np.allclose(t.grad.data, grads[name], atol=1e-12), name


def test_the_command_prints_each_gradient_in_full_and_writes_the_page(tmp_path) -> None:
    page = tmp_path / "conv.html"
    r = gg("explain", "--example", "conv", "--html", page)
    assert r.code == 0, r.err
    assert "value: 5.125" in r.out and "d/db = 1.5" in r.out
    printed = r.out.split("d/dx = (shape 1x1x4x4)")[1].split("d/dw")[0]
    rows = [[float(v) for v in line.strip().strip("[]").split()] for line in printed.strip().splitlines()]
    assert np.array_equal(np.array(rows), loops()["x"])
    html = page.read_text("utf-8")
    assert "conv2d" in html and "heatmap" in html  # the 4x4 image and the 3x3 map drawn as matrices
