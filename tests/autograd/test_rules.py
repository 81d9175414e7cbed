"""One rule per op, one function that applies them, thread-local grad mode (issue 8, section 7).

- every registered op declares its rules once, as a tuple (variadic ops declare one rule and
  say so); no rule reads the grad mode;
- ``input_gradients`` is the one function that applies a node's rules: unbroadcast, dtype cast,
  ``None`` where no gradient is needed, run in the caller's grad mode;
- where an op declares a raw-array fast path, both paths give the same gradients (every such op
  of the registry has a sample here, so a new one fails until it is added);
- grad mode is per thread; tests make their ops with ``register=False``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.engine import input_gradients
from graphgrad.errors import BackwardError, GraphFreedError, InplaceError
from graphgrad.ops.core import REGISTRY, Op

RNG = np.random.default_rng(11)


def test_every_op_declares_a_tuple_of_rules() -> None:
    for name, op in REGISTRY.items():
        if op.vjps is None:
            continue
        assert isinstance(op.vjps, tuple), name
        assert op.array_vjps is None or isinstance(op.array_vjps, tuple), name
        if op.variadic:
            assert len(op.vjps) == 1, name
    assert REGISTRY["stack"].variadic and REGISTRY["concatenate"].variadic


def _rule_sources(op: Op) -> list[str]:
    rules = [r for r in (op.vjps or ()) + (op.array_vjps or ()) if r is not None]
    rules = [r.func if isinstance(r, functools.partial) else r for r in rules]  # a rule bound to parameters
    return [inspect.getsource(r) for r in rules]


def test_no_rule_branches_on_the_grad_mode() -> None:
    for name, op in REGISTRY.items():
        for source in _rule_sources(op):
            for word in ("STATE", "is_grad_enabled", "enabled"):
                assert word not in source, f"a rule of {name!r} reads the grad mode ({word})"


def test_tests_never_register_ops() -> None:
    before = dict(REGISTRY)
    op = Op("test_only_double", lambda a: a * 2.0, (lambda g, out, a: g * 2.0,), register=False)
    assert "test_only_double" not in REGISTRY and REGISTRY == before
    x = gg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    op(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


# ---------------------------------------------------------------- input_gradients
def test_input_gradients_unbroadcasts_casts_and_marks_missing_ones() -> None:
    a = gg.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    b = gg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)  # float64, broadcast along axis 0
    c = gg.Tensor(np.ones(3))  # needs no gradient
    out = a * b + c
    g = gg.Tensor(np.ones(out.shape))
    ga, gb = input_gradients(out._node.inputs[0], g)  # the product node
    assert ga.shape == (2, 3) and ga.dtype == np.float32
    assert gb.shape == (3,) and gb.dtype == np.float64
    np.testing.assert_array_equal(gb.data, [2.0, 2.0, 2.0])
    assert input_gradients(out, g)[1] is None  # c


def test_input_gradients_runs_in_the_callers_grad_mode() -> None:
    x = gg.Tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = gg.sin(x)
    g = gg.Tensor(np.ones(2))
    with gg.no_grad():
        (plain,) = input_gradients(y, g)
    assert not plain.requires_grad
    with gg.enable_grad():
        (recorded,) = input_gradients(y, g)
    assert recorded.requires_grad  # cos(x) recorded: differentiable again
    recorded.sum().backward()
    np.testing.assert_allclose(x.grad.data, -np.sin([0.5, 1.5]))


def test_input_gradients_refuses_leaves_freed_graphs_and_changed_inputs() -> None:
    x = gg.Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(BackwardError, match="leaf"):
        input_gradients(x, gg.Tensor(np.ones(1)))
    y = gg.exp(x)
    with gg.no_grad():
        x += 1.0
    with pytest.raises(InplaceError, match="'exp'"):
        input_gradients(y, gg.Tensor(np.ones(1)))
    z = x * 2.0
    z.backward(np.ones(1))
    with pytest.raises(GraphFreedError):
        input_gradients(z, gg.Tensor(np.ones(1)))


# ---------------------------------------------------------------- array fast paths
FAST_PATH_SAMPLES: dict[str, list[Callable[[], tuple[Callable[..., gg.Tensor], list[np.ndarray]]]]] = {
    "linear": [
        lambda: (gg.linear, [RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal(4)]),
        lambda: (gg.linear, [RNG.standard_normal((2, 5, 3)), RNG.standard_normal((4, 3))]),
        lambda: (gg.linear, [RNG.standard_normal(3), RNG.standard_normal((4, 3)), RNG.standard_normal(4)]),
    ],
    "cross_entropy": [
        lambda: (lambda z: gg.cross_entropy(z, np.array([0, 2, 1, 2])), [RNG.standard_normal((4, 3))]),
        lambda: (
            lambda z: gg.cross_entropy(z, np.array([0, -100, 1, 2]), weight=np.array([1.0, 2.0, 0.5]),
                                       label_smoothing=0.2, reduction="sum"),
            [RNG.standard_normal((4, 3))],
        ),  # fmt: skip
        lambda: (
            lambda z, q: gg.cross_entropy(z, q, reduction="none", label_smoothing=0.1, weight=np.array([1.0, 3.0])),
            [RNG.standard_normal((3, 2)), RNG.dirichlet([1, 1], 3)],
        ),
    ],
    "binary_cross_entropy_with_logits": [
        lambda: (gg.binary_cross_entropy_with_logits, [RNG.standard_normal((3, 2)), RNG.uniform(0, 1, (3, 2))]),
        lambda: (
            lambda x, y, w: gg.binary_cross_entropy_with_logits(x, y, pos_weight=w, reduction="none"),
            [RNG.standard_normal((3, 2)), RNG.uniform(0, 1, (3, 2)), RNG.uniform(0.5, 2, 2)],
        ),
    ],
    "multiply": [
        lambda: (gg.multiply, [RNG.standard_normal((3, 4)), RNG.standard_normal((1, 4))]),
        lambda: (gg.multiply, [RNG.standard_normal(()), RNG.standard_normal(())]),  # 0-d: NumPy scalars
        lambda: (gg.multiply, [np.array([0.0, 1.5, -2.0]), np.array([3.0, 0.0, np.inf])]),  # zeros, an inf
    ],
    "normalize_affine": [  # training batch norm: weight and bias; weight alone
        lambda: (lambda x, w, b: gg.nn.functional.batch_norm(x, None, None, w, b, training=True),
                 [RNG.standard_normal((4, 3, 2, 2)), RNG.standard_normal(3), RNG.standard_normal(3)]),
        lambda: (lambda x, w: gg.nn.functional.batch_norm(x, None, None, w, None, training=True),
                 [RNG.standard_normal((5, 2)), RNG.standard_normal(2)]),
        lambda: (lambda x, w, b: gg.nn.functional.batch_norm(x, None, None, w, b, training=True),  # an inf weight
                 [RNG.standard_normal((4, 3, 2, 2)), np.array([1.0, np.inf, -2.0]), RNG.standard_normal(3)]),
    ],
    "relu": [
        lambda: (gg.relu, [RNG.standard_normal((4, 5))]),
        lambda: (gg.relu, [RNG.standard_normal(()).astype(np.float32)]),
    ],
    "prod": [
        lambda: (lambda x: gg.prod(x, axis=1), [RNG.standard_normal((3, 4))]),
        lambda: (lambda x: gg.prod(x, keepdims=True), [np.array([[0.0, 2.0], [3.0, 0.5]])]),
        lambda: (lambda x: gg.prod(x, axis=(0, 2)), [RNG.standard_normal((2, 3, 2))]),
    ],
    "conv2d_input_grad": [  # a transposed convolution: both rules, sharing the incoming gradient's columns
        lambda: (lambda x, w: gg.nn.functional.conv_transpose2d(x, w, stride=2, padding=1),
                 [RNG.standard_normal((2, 4, 5, 5)), RNG.standard_normal((4, 3, 3, 3))]),
        lambda: (lambda x, w: gg.nn.functional.conv_transpose2d(x, w, stride=(1, 2), groups=2, dilation=2),
                 [RNG.standard_normal((2, 4, 5, 6)), RNG.standard_normal((4, 1, 3, 2))]),
    ],
}


def test_every_op_with_a_fast_path_has_samples_here() -> None:
    declared = {name for name, op in REGISTRY.items() if op.array_vjps is not None}
    assert declared == set(FAST_PATH_SAMPLES), "add samples for the new fast path"


def _gradients(f: Callable[..., gg.Tensor], arrays: list[np.ndarray], recording: bool) -> list[Any]:
    """Every node's input gradients, applied one node at a time with or without recording."""
    xs = [gg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*xs)
    g = gg.Tensor(RNG.standard_normal(out.shape))
    with gg.enable_grad() if recording else gg.no_grad():
        return [None if r is None else r.data for r in input_gradients(out, g)]


@pytest.mark.parametrize(
    ("name", "k"), [(name, k) for name, makers in FAST_PATH_SAMPLES.items() for k in range(len(makers))]
)
def test_fast_path_and_graph_rules_agree(name: str, k: int) -> None:
    f, arrays = FAST_PATH_SAMPLES[name][k]()
    state = RNG.bit_generator.state
    fast = _gradients(f, arrays, recording=False)
    RNG.bit_generator.state = state  # the same upstream gradient for both
    graph = _gradients(f, arrays, recording=True)
    assert len(fast) == len(graph)
    for a, b in zip(fast, graph):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- grad mode per thread
def test_grad_mode_is_thread_local() -> None:
    seen: dict[str, bool] = {}
    ready, done = threading.Event(), threading.Event()

    def other() -> None:
        seen["start"] = gg.is_grad_enabled()  # a new thread starts with grad mode on
        ready.set()
        done.wait(5)
        x = gg.Tensor(np.ones(2), requires_grad=True)
        seen["records"] = (x * 2.0).requires_grad

    with gg.no_grad():
        thread = threading.Thread(target=other)
        thread.start()
        ready.wait(5)
        assert not gg.is_grad_enabled()
        done.set()
        thread.join(5)
    assert seen == {"start": True, "records": True}
    assert gg.is_grad_enabled()
