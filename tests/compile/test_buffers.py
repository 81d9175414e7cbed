"""Buffer reuse in a plan: only dead arrays nobody else can see, bit-identical results, and what the
user holds from one replay is never written by the next."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim
from graphgrad.compile import capture
from graphgrad.compile.buffers import reuse
from graphgrad.compile.trace import CONST, SLOT, Instruction, store_grad

F32 = np.dtype(np.float32)


def _model(seed: int = 0) -> tuple[list[gg.Tensor], optim.Optimizer]:
    rng = np.random.default_rng(seed)
    w1 = gg.Tensor(rng.standard_normal((12, 16)).astype(np.float32) * 0.3, requires_grad=True)
    b1 = gg.Tensor(np.zeros(16, np.float32), requires_grad=True)
    w2 = gg.Tensor(rng.standard_normal((16, 3)).astype(np.float32) * 0.3, requires_grad=True)
    params = [w1, b1, w2]
    return params, optim.SGD(params, lr=0.05, momentum=0.9)


def _step(params: list[gg.Tensor], opt: optim.Optimizer) -> Any:
    w1, b1, w2 = params

    def step(x: gg.Tensor, y: gg.Tensor) -> tuple[gg.Tensor, gg.Tensor, gg.Tensor]:
        h = gg.tanh(x @ w1 + b1)  # made of primitive ops: plain NumPy ufunc calls in the plan
        pred = h @ w2
        err = pred - y
        loss = (err * err).mean() + 1e-3 * (w1 * w1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, pred, h

    return step


def _data(n: int = 100) -> list[tuple[gg.Tensor, gg.Tensor]]:
    rng = np.random.default_rng(1)
    return [(gg.Tensor(rng.standard_normal((8, 12)).astype(np.float32)),
             gg.Tensor(rng.standard_normal((8, 3)).astype(np.float32))) for _ in range(n)]


def test_reused_buffers_give_the_eager_bits_over_100_steps() -> None:
    runs = {}
    for captured in (False, True):
        params, opt = _model()
        step = _step(params, opt)
        fn = capture(step) if captured else step
        outs = [b"".join(t.data.tobytes() for t in fn(x, y)) for x, y in _data()]
        runs[captured] = outs + [p.data.tobytes() + p.grad.data.tobytes() for p in params]
        if captured:
            (plan,) = fn.plans.values()
            assert plan.source.count("out=s") >= 2  # the forward's add and tanh write into the matmul's array
    assert runs[True] == runs[False]


def test_what_a_replay_hands_out_is_never_written_by_the_next() -> None:
    params, opt = _model()
    fn = capture(_step(params, opt))
    data = _data(8)
    for x, y in data[:3]:
        fn(x, y)  # recorded twice, then replayed
    held = []
    for x, y in data[3:]:
        outs = fn(x, y)
        grads = [p.grad for p in params]
        held.append((outs, grads, [t.data.copy() for t in outs], [g.data.copy() for g in grads]))
    for outs, grads, out_values, grad_values in held:
        assert all(np.array_equal(t.data, v) for t, v in zip(outs, out_values))
        assert all(np.array_equal(g.data, v) for g, v in zip(grads, grad_values))
    arrays = [t.data for outs, grads, _, _ in held for t in list(outs) + grads]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)


def _ins(fn: Any, reads: list[int], out: int | None, **kwargs: Any) -> Instruction:
    return Instruction(fn, [(SLOT, s) for s in reads], {k: (CONST, v) for k, v in kwargs.items()}, out, "test", True)


def _types(n: int, shape: tuple[int, ...] = (4, 3)) -> dict[int, tuple[Any, ...]]:
    return {s: (shape, F32, (12, 4)) for s in range(n)}


def test_a_dead_ufunc_result_read_only_by_ufuncs_is_reused() -> None:
    # s1 = exp(s0); s2 = negative(s1); s3 = add(s2, s0): s1 is dead after s2, s2 dies in s3
    ins = [_ins(np.exp, [0], 1), _ins(np.negative, [1], 2), _ins(np.add, [2, 0], 3)]
    assert reuse(ins, _types(4), inputs={0}, returned={3}) == {1: 1, 2: 2}


@pytest.mark.parametrize(("why", "instructions", "returned"), [
    ("read by a non-ufunc (it may keep a view)",
     [_ins(np.exp, [0], 1), _ins(np.reshape, [1], 2), _ins(np.negative, [1], 3), _ins(np.exp, [0], 4)], {2, 3, 4}),
    ("stored as a .grad",
     [_ins(np.exp, [0], 1), Instruction(store_grad, [(CONST, None), (SLOT, 1)], {}, None, "store", False),
      _ins(np.exp, [0], 2)], {2}),
    ("returned to the user", [_ins(np.exp, [0], 1), _ins(np.negative, [0], 2)], {1, 2}),
    ("an argument", [_ins(np.negative, [0], 1)], {1}),
    ("made by a non-ufunc", [_ins(np.copy, [0], 1), _ins(np.negative, [1], 2)], {2}),
    ("a matmul cannot write over its own input", [_ins(np.exp, [0], 1), _ins(np.matmul, [1, 0], 2)], {2}),
    ("the receiver has where=", [_ins(np.exp, [0], 1), _ins(np.negative, [1], 2, where=True)], {2}),
])
def test_arrays_someone_else_may_see_are_never_reused(why: str, instructions: list[Instruction],
                                                     returned: set[int]) -> None:
    assert reuse(instructions, _types(5, (3, 3)), inputs={0}, returned=returned) == {}, why


def test_a_donor_of_another_layout_is_not_used() -> None:
    """A ufunc on transposed input makes an F-ordered array; a C-ordered donor would change what
    later reductions and products see (their summation order), so it is not offered."""
    c_order, f_order = ((3, 4), F32, (16, 4)), ((3, 4), F32, (4, 12))
    ins = [_ins(np.exp, [0], 1), _ins(np.negative, [1], 2), _ins(np.exp, [0], 3)]  # s1 dies in instruction 1
    assert reuse(ins, {0: f_order, 1: c_order, 2: f_order, 3: f_order}, inputs={0}, returned={2, 3}) == {}
    assert reuse(ins, {0: f_order, 1: c_order, 2: f_order, 3: c_order}, inputs={0}, returned={2, 3}) == {2: 1}
