"""The plan's own rewrites of a recorded step (plain SGD through a scratch array, constants made once)
replay the eager bits, fall back where their conditions stop holding, and hand the user nothing
a later replay writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.compile import capture, host
from graphgrad.compile.constants import fold
from graphgrad.compile.trace import CONST, SLOT, Instruction, store_grad
from tests.compile.test_capture import _plain_step

STEPS = 100


def _batches(dtype: Any, n: int = STEPS) -> list[tuple[gg.Tensor, gg.Tensor]]:
    rng = np.random.default_rng(3)
    return [(gg.Tensor(rng.standard_normal((8, 6)).astype(dtype)), gg.Tensor(rng.integers(0, 3, 8)))
            for _ in range(n)]


def _grad(p: gg.Tensor) -> np.ndarray:
    assert p.grad is not None
    return p.grad.data


def _model(dtype: Any) -> nn.Module:
    model = nn.Sequential(nn.Linear(6, 9, rng=1), nn.ReLU(), nn.Linear(9, 3, rng=2))
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    return model


def _train(captured: bool, dtype: Any, change: Callable[[int, optim.Optimizer], None]) -> tuple[list[bytes], Any]:
    model = _model(dtype)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=9, gamma=0.6)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()  # a new learning rate at every ninth replay
        return loss

    fn = capture(step) if captured else step
    out = []
    for i, (x, y) in enumerate(_batches(dtype)):
        change(i, opt)
        out.append(fn(x, y).data.tobytes())
    out += [p.data.tobytes() + _grad(p).tobytes() for p in model.parameters()]
    state = [(any(k is p for k in opt.state), opt.state.get(p)) for p in model.parameters()]
    return out + [repr(state).encode()], fn


def _no_change(i: int, opt: optim.Optimizer) -> None:
    pass


def _momentum_from_step_40(i: int, opt: optim.Optimizer) -> None:
    if i == 40:
        opt.param_groups[0]["momentum"] = 0.9  # the plain path no longer applies: SGD's own update
    if i == 70:
        opt.param_groups[0]["momentum"] = 0.0


def _state_cleared(i: int, opt: optim.Optimizer) -> None:
    if i in (20, 60):
        opt.state.clear()  # the next update makes each parameter's (empty) state again, as eager does


def _decay_and_maximize(i: int, opt: optim.Optimizer) -> None:
    if i == 30:
        opt.param_groups[0]["weight_decay"] = 1e-2
    if i == 50:
        opt.param_groups[0]["weight_decay"] = 0.0
        opt.param_groups[0]["maximize"] = True


def _numpy_lr_from_step_30(i: int, opt: optim.Optimizer) -> None:
    if i >= 30:  # a NumPy float64 learning rate (the scheduler's value) makes lr * g a float64 array in eager mode
        opt.param_groups[0]["lr"] = np.float64(opt.param_groups[0]["lr"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("change", [_no_change, _state_cleared, _momentum_from_step_40, _decay_and_maximize,
                                    _numpy_lr_from_step_30])
def test_plain_sgd_through_a_scratch_array_gives_the_eager_bits(dtype: Any, change: Any) -> None:
    eager, _ = _train(False, dtype, change)
    replayed, fn = _train(True, dtype, change)
    (plan,) = fn.plans.values()
    assert "plain SGD: p -= lr * g" in plan.source
    assert replayed == eager


def test_the_scratch_array_never_reaches_the_user() -> None:
    model = _model(np.float32)
    opt = optim.SGD(model.parameters(), lr=0.1)

    fn = capture(_plain_step(model, opt))
    held = []
    for x, y in _batches(np.float32, 8):
        loss = fn(x, y)
        grads = [_grad(p) for p in model.parameters()]
        held.append((loss, grads, loss.data.copy(), [g.copy() for g in grads]))
    (plan,) = fn.plans.values()
    scratch = [v for k, v in plan.replay.__globals__.items() if k.startswith("B") and isinstance(v, np.ndarray)]
    assert len(scratch) == 4  # one per parameter shape
    last = {s.shape: s for s in scratch}
    for p in model.parameters():  # the update went through the scratch array: it holds lr * g
        assert np.array_equal(last[p.data.shape], np.float32(0.1) * _grad(p))
    for loss, grads, value, grad_values in held:
        assert np.array_equal(loss.data, value)
        assert all(np.array_equal(g, v) for g, v in zip(grads, grad_values))
        for a in [loss.data, *grads] + [p.data for p in model.parameters()]:
            assert not any(np.shares_memory(a, s) for s in scratch)


def test_backward_s_first_gradient_is_made_once_and_read_only() -> None:
    model = _model(np.float32)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

    fn = capture(_plain_step(model, opt))
    for x, y in _batches(np.float32, 3):
        fn(x, y)
    (plan,) = fn.plans.values()
    assert "backward's first gradient, made once (read-only)" in plan.source
    (ones,) = [v for k, v in plan.replay.__globals__.items() if k.startswith("k") and isinstance(v, np.ndarray)]
    assert ones.shape == () and ones == 1 and not ones.flags.writeable


def _ins(fn: Any, reads: list[int], out: int | None, **kwargs: Any) -> Instruction:
    return Instruction(fn, [(SLOT, s) for s in reads], {k: (CONST, v) for k, v in kwargs.items()}, out, "test", True)


ONES = Instruction(np.ones, [(CONST, (2, 3))], {"dtype": (CONST, np.float32)}, 0, "ones", True)


def _rule(g: np.ndarray) -> np.ndarray:
    return g * 2.0


def test_a_creation_on_constants_read_only_by_rules_is_folded() -> None:
    (value,) = fold([ONES, _ins(_rule, [0], 1)], returned={1}).values()
    assert value.shape == (2, 3) and value.dtype == np.float32 and (value == 1).all()


@pytest.mark.parametrize(("why", "instructions", "returned"), [
    ("returned to the user", [ONES], {0}),
    ("stored as a .grad", [ONES, Instruction(store_grad, [(CONST, None), (SLOT, 0)], {}, None, "store", False)],
     set()),
    ("passed to an effect", [ONES, Instruction(print, [(SLOT, 0)], {}, None, "effect", False)], set()),
    ("handed on unchanged by a rule", [ONES, _ins(_rule, [0], 0)], set()),
    ("read by a call that writes an operand",
     [ONES, Instruction(np.add, [(SLOT, 0), (SLOT, 0)], {"out": (SLOT, 1)}, 1, "add", True)], {1}),
    ("made from a slot", [Instruction(np.ones, [(SLOT, 5)], {}, 0, "ones", True), _ins(_rule, [0], 1)], {1}),
])
def test_arrays_someone_may_write_or_hold_are_made_at_every_replay(why: str, instructions: list[Instruction],
                                                                   returned: set[int]) -> None:
    assert fold(instructions, returned) == {}, why


def test_a_parameter_given_an_array_of_another_dtype_gets_sgd_s_own_update() -> None:
    def run(captured: bool) -> list[bytes]:
        model = _model(np.float32)
        opt = optim.SGD(model.parameters(), lr=0.1)

        step = _plain_step(model, opt)
        fn = capture(step) if captured else step
        out = []
        for i, (x, y) in enumerate(_batches(np.float32, 12)):
            if i == 6:
                for p in model.parameters():
                    p.data = p.data.astype(np.float64)
            out.append(fn(x, y).data.tobytes())
        return out + [p.data.tobytes() + p.data.dtype.str.encode() for p in model.parameters()]

    assert run(True) == run(False)


def test_the_groups_are_checked_again_at_step_after_an_effect_that_may_change_them() -> None:
    """zero_grad's check of the optimizer's groups serves step() unless an effect ran in between:
    here a host callback reloads the optimizer with another learning rate (new group dicts) at the
    fifth call, and the plan follows eager."""

    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = _model(np.float32)
        opt = optim.SGD(model.parameters(), lr=0.1)
        calls = [0]

        def reload(loss: np.ndarray) -> None:
            calls[0] += 1
            if calls[0] == 5:
                state = opt.state_dict()
                state["param_groups"][0]["lr"] = 0.02
                opt.load_state_dict(state)

        def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            host(reload, loss)
            loss.backward()
            opt.step()
            return loss

        fn = capture(step) if captured else step
        out = [fn(x, y).data.tobytes() for x, y in _batches(np.float32, 12)]
        return out + [p.data.tobytes() for p in model.parameters()], fn

    eager, _ = run(False)
    replayed, fn = run(True)
    assert replayed == eager
    for plan in fn.plans.values():
        assert "Optimizer.step, per parameter" in plan.source and "groups checked at zero_grad" not in plan.source


def test_zero_grad_s_check_of_the_groups_serves_step() -> None:
    model = _model(np.float32)
    opt = optim.SGD(model.parameters(), lr=0.1)

    fn = capture(_plain_step(model, opt))
    for x, y in _batches(np.float32, 3):
        fn(x, y)
    (plan,) = fn.plans.values()
    assert "Optimizer.step, per parameter (groups checked at zero_grad)" in plan.source
