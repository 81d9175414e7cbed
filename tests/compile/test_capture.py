"""A captured step replays the eager step bit for bit, refuses what it cannot replay, re-traces on new shapes."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.compile import CaptureError, capture
from graphgrad.ops import core

STEPS = 100


def _model(dropout: float = 0.0, seed: int = 0) -> nn.Module:
    layers: list[Any] = [nn.Linear(12, 16, rng=seed + 1), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=np.random.default_rng(seed + 7)))
    layers += [nn.Linear(16, 16, rng=seed + 2), nn.Tanh(), nn.Linear(16, 4, rng=seed + 3)]
    return nn.Sequential(*layers)


def _batches(n: int = STEPS, batch: int = 8, seed: int = 0) -> list[tuple[gg.Tensor, gg.Tensor]]:
    rng = np.random.default_rng(seed)
    return [(gg.Tensor(rng.standard_normal((batch, 12)).astype(np.float32)), gg.Tensor(rng.integers(0, 4, batch)))
            for _ in range(n)]


OPTIMIZERS: dict[str, Callable[[Any], optim.Optimizer]] = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "sgd momentum nesterov decay": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam decay": lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3),
    "adamw": lambda p: optim.AdamW(p, lr=1e-2, weight_decay=1e-2),
    "rmsprop centered momentum decay": lambda p: optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True,
                                                                 weight_decay=1e-3),
    "adagrad decay": lambda p: optim.Adagrad(p, lr=1e-2, lr_decay=1e-3, weight_decay=1e-3),
}


def _run(make_opt: Callable[[Any], optim.Optimizer], captured: bool, dropout: float = 0.0, l2: float = 0.0,
         scheduler_in_step: bool = False, fallback: bool = False) -> tuple[list[bytes], nn.Module, Any]:
    model = _model(dropout)
    opt = make_opt(model.parameters())
    sched = optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.7)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        total = loss + nn.l2_penalty(model, l2) if l2 else loss
        opt.zero_grad()
        total.backward()
        opt.step()
        if scheduler_in_step:
            sched.step()
        return loss

    run = capture(step, fallback=fallback) if captured else step
    losses = []
    for i, (x, y) in enumerate(_batches()):
        losses.append(run(x, y).data.tobytes())
        if not scheduler_in_step and i % 10 == 9:
            sched.step()  # an epoch-style schedule outside the step
    return losses, model, run


def _state_bytes(model: nn.Module, opt_state: Any = None) -> list[bytes]:
    out = []
    for p in model.parameters():
        out += [p.data.tobytes(), p.grad.data.tobytes()]
    return out


def _dropout_states(model: nn.Module) -> list[Any]:
    return [m.rng.bit_generator.state for m in model.modules() if isinstance(m, nn.Dropout)]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_captured_equals_eager_bit_for_bit_over_100_steps(name: str, dropout: float) -> None:
    eager_losses, eager_model, _ = _run(OPTIMIZERS[name], captured=False, l2=1e-3, dropout=dropout)
    losses, model, run = _run(OPTIMIZERS[name], captured=True, l2=1e-3, dropout=dropout)
    assert run.plans, "the step should have been captured"
    assert losses == eager_losses
    assert _state_bytes(model) == _state_bytes(eager_model)
    assert _dropout_states(model) == _dropout_states(eager_model)  # exact resume needs the generator too


@pytest.mark.parametrize("name", ["sgd momentum nesterov decay", "adam decay"])
def test_scheduler_stepped_inside_the_step_is_replayed(name: str) -> None:
    eager_losses, eager_model, _ = _run(OPTIMIZERS[name], captured=False, scheduler_in_step=True, dropout=0.2)
    losses, model, run = _run(OPTIMIZERS[name], captured=True, scheduler_in_step=True, dropout=0.2)
    assert run.plans
    assert losses == eager_losses
    assert _state_bytes(model) == _state_bytes(eager_model)


def test_dropout_draws_a_fresh_mask_at_every_replay_from_the_layers_generator() -> None:
    eager_losses, eager_model, _ = _run(OPTIMIZERS["adam decay"], captured=False, dropout=0.5)
    losses, model, run = _run(OPTIMIZERS["adam decay"], captured=True, dropout=0.5)
    assert run.refused is None and run.plans
    masks = [ins for plan in run.plans.values() for ins in plan.instructions if ins.what == "_dropout_mask"]
    assert len(masks) == 1
    assert len(set(losses)) == len(losses)  # every step saw another mask (and other data)
    assert losses == eager_losses
    generator = next(m.rng for m in model.modules() if isinstance(m, nn.Dropout))
    eager_generator = next(m.rng for m in eager_model.modules() if isinstance(m, nn.Dropout))
    assert generator.bit_generator.state == eager_generator.bit_generator.state
    assert generator.random() == eager_generator.random()  # and they go on drawing the same numbers


@pytest.mark.parametrize("rng", [5, "generator"])
def test_functional_dropout_with_a_seed_or_a_generator_is_replayed_as_eager(rng: Any) -> None:
    """A seed gives the same mask at every call (eager and replayed); a generator a fresh one."""

    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05)
        source = np.random.default_rng(3) if rng == "generator" else rng

        def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
            h = nn.functional.dropout(model[0](x), 0.4, rng=source)
            for layer in list(model)[1:]:
                h = layer(h)
            loss = nn.functional.cross_entropy(h, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = capture(step) if captured else step
        return [fn(x, y).data.tobytes() for x, y in _batches(30)] + _state_bytes(model), fn

    eager, _ = run(False)
    replayed, fn = run(True)
    assert fn.plans
    assert replayed == eager


def test_switching_to_eval_and_back_records_the_other_mode() -> None:
    """Dropout's training flag is a guard of the plan: eval() makes the step record again, in eval mode."""

    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = _model(dropout=0.5)
        opt = optim.SGD(model.parameters(), lr=0.05)
        step = _plain_step(model, opt)
        fn = capture(step) if captured else step
        out = []
        for i, (x, y) in enumerate(_batches(40)):
            model.train(i % 20 < 10)  # 10 steps in training mode, 10 in eval mode, twice
            out.append(fn(x, y).data.tobytes())
        return out + _state_bytes(model) + [repr(_dropout_states(model)).encode()], fn

    eager, _ = run(False)
    replayed, fn = run(True)
    assert fn.plans and fn.refused is None
    assert replayed == eager


def _plain_step(
    model: nn.Module, opt: optim.Optimizer, **loss_options: Any
) -> Callable[[gg.Tensor, gg.Tensor], gg.Tensor]:
    """The usual step: cross-entropy (with ``loss_options``), zero_grad, backward, update."""

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y, **loss_options)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def _clip_step(model: nn.Module, opt: optim.Optimizer) -> Callable[[gg.Tensor, gg.Tensor], gg.Tensor]:
    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        opt.step()
        return loss

    return step


def _manual_sgd_step(model: nn.Module, opt: optim.Optimizer) -> Callable[[gg.Tensor, gg.Tensor], gg.Tensor]:
    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad.data  # NumPy on .data: invisible to a plan
        return loss

    return step


def _no_grad_update_step(model: nn.Module, opt: optim.Optimizer) -> Callable[[gg.Tensor, gg.Tensor], gg.Tensor]:
    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        with gg.no_grad():
            for p in model.parameters():
                p -= p.grad * 0.1  # an in-place operator
        return loss

    return step


@pytest.mark.parametrize(("make", "message"), [
    (_clip_step, r"the gradient of a tensor of shape \(4, 16\) changed before Optimizer\.step by code a plan does "
                 r"not record \(clip_grad_norm_"),
    (_manual_sgd_step, r"a tensor of shape \(16, 12\) changed by the end of the step by code a plan does not "
                       r"record"),
    (_no_grad_update_step, r"'-=' at test_capture.py:\d+ \(`p -= p.grad \* 0.1  # an in-place operator`\) changed "
                           r"a tensor in place"),
])
def test_changes_a_plan_would_not_replay_are_refused_and_the_fallback_is_exact(make: Any, message: str) -> None:
    def run(captured: bool, fallback: bool = False) -> tuple[list[bytes], Any]:
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.5)
        fn = capture(make(model, opt), fallback=fallback) if captured else make(model, opt)
        return [fn(x, y).data.tobytes() for x, y in _batches(20)] + _state_bytes(model), fn

    with pytest.raises(CaptureError, match="^capture: " + message):
        run(True)
    eager, _ = run(False)
    replayed, fn = run(True, fallback=True)
    assert fn.refused is not None and not fn.plans
    assert replayed == eager


def _keep_mask(gen: np.random.Generator, shape: tuple[int, ...], keep: float) -> np.ndarray:
    return (gen.random(shape, dtype=np.float32) < keep).astype(np.float32) / np.float32(keep)


def test_random_draws_through_core_drawn_are_replayed_fresh_each_call() -> None:
    """A random op whose mask comes from ``core.drawn`` is captured; replays draw new masks from the
    same generator in the same order, so 100 steps match eager mode bit for bit."""

    def run(captured: bool) -> tuple[list[bytes], nn.Module, Any]:
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        gen = np.random.default_rng(11)

        def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
            h = model[0](x)
            h = h * core.drawn(_keep_mask, gen, h.shape, 0.7)
            for layer in list(model)[1:]:
                h = layer(h)
            loss = nn.functional.cross_entropy(h, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = capture(step) if captured else step
        return [fn(x, y).data.tobytes() for x, y in _batches()], model, fn

    eager_losses, eager_model, _ = run(False)
    losses, model, fn = run(True)
    assert fn.plans
    assert len(set(losses)) > 90  # the masks really change from step to step
    assert losses == eager_losses
    assert _state_bytes(model) == _state_bytes(eager_model)


@pytest.mark.parametrize(("read", "what"), [
    (lambda t: t.item(), r"\.item\(\)"),
    (lambda t: float(t), r"float\(tensor\)"),
    (lambda t: bool(t > 1.0), r"bool\(tensor\) \(an if or while on a tensor\)"),
    (lambda t: t.tolist(), r"\.tolist\(\)"),
])
def test_values_read_into_python_during_capture_are_refused(read: Callable[[gg.Tensor], Any], what: str) -> None:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        read(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x, y = _batches(1)[0]
    with pytest.raises(CaptureError, match=r"^capture: " + what + r" at test_capture\.py:\d+ \(`.*`\) read a "
                                           r"tensor's value into Python while a step was being captured"):
        capture(step)(x, y)
    read(capture(step, fallback=True)(x, y))  # the fallback finished the step eagerly: values readable after


def test_a_branch_on_a_tensor_is_refused_naming_the_line() -> None:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        if loss > 10.0:
            loss = loss * 0.5
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    line = step.__code__.co_firstlineno + 2
    with pytest.raises(CaptureError) as info:
        capture(step)(*_batches(1)[0])
    assert str(info.value).startswith(f"capture: bool(tensor) (an if or while on a tensor) at test_capture.py:{line} "
                                      "(`if loss > 10.0:`) read a tensor's value into Python")


def test_new_shapes_and_dtypes_trace_again() -> None:
    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = _model()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        step = _plain_step(model, opt)
        fn = capture(step) if captured else step
        out = []
        for i, (x, y) in enumerate(_batches(30) + _batches(30, batch=5, seed=1)):
            if i % 3 == 0:
                x = gg.Tensor(x.data.astype(np.float64))  # float64 input: the linear layers upcast
            out.append(fn(x, y).data.tobytes())
        return out, fn

    eager, _ = run(False)
    captured, fn = run(True)
    assert captured == eager
    assert len(fn.plans) == 4  # batch 8 and 5, float32 and float64


def test_replay_makes_no_nodes_and_only_the_tensors_it_hands_out(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = _plain_step(model, opt)
    fn = capture(step)
    batches = _batches(4)
    for x, y in batches[:2]:
        fn(x, y)
    made: list[str] = []
    original_node = core.Node.__init__
    monkeypatch.setattr(core.Node, "__init__", lambda self, *a, **k: made.append("node") or original_node(self, *a,
                                                                                                           **k))
    grads = [p.grad for p in model.parameters()]
    gc.collect()
    before = sum(type(o) is gg.Tensor for o in gc.get_objects())
    loss = fn(*batches[2])
    after = sum(type(o) is gg.Tensor for o in gc.get_objects())
    assert made.count("node") == 0
    n_params = len(grads)
    assert after - before == n_params + 1  # each parameter's new .grad (the old ones are held here) and the loss
    assert all(p.grad is not g for p, g in zip(model.parameters(), grads))
    assert isinstance(loss, gg.Tensor) and loss.shape == ()


def test_running_statistics_changed_by_hand_outside_the_optimizer_are_refused() -> None:
    """BatchNorm's own update is captured (an effect); a change made by hand is not replayable."""
    model = nn.Sequential(nn.Linear(12, 16, rng=1), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4, rng=2))
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model[1].running_mean.data *= 0.5
        model[1].running_mean.bump_version()
        return loss

    watch = list(model.parameters()) + list(model.buffers())
    x, y = _batches(1)[0]
    with pytest.raises(CaptureError, match=r"changed a watched tensor .* in place outside the optimizer"):
        capture(step, watch=watch)(x, y)


def test_batch_norm_step_is_captured_at_its_second_call_and_replays_its_running_statistics() -> None:
    """The running-statistics update holds the batch's count, not a float computed from it anew at
    each call (which only a third recording could trust as a constant)."""

    def run(captured: bool) -> tuple[list[bytes], list[bytes]]:
        model = nn.Sequential(nn.Linear(12, 16, rng=1), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4, rng=2))
        step = _plain_step(model, optim.Adam(model.parameters(), lr=1e-2))
        fn = capture(step) if captured else step
        losses = []
        for i, (x, y) in enumerate(_batches(6)):
            losses.append(fn(x, y).data.tobytes())
            if captured and i == 1:
                assert fn.plans, "not captured at the second call"
        return losses, [b.data.tobytes() for b in model.buffers()]

    assert run(True) == run(False)


@pytest.mark.parametrize("given", ["weight", "bias"])
def test_functional_batch_norm_with_only_a_weight_or_only_a_bias_is_captured(given: str) -> None:
    """The missing one is a constant the same at every call (not a fresh array, which capture refuses)."""

    def run(captured: bool) -> list[bytes]:
        lin, head = nn.Linear(12, 16, rng=1), nn.Linear(16, 4, rng=2)
        p = gg.Tensor(np.full(16, 0.5, np.float32), requires_grad=True)
        running_mean, running_var = np.zeros(16, np.float32), np.ones(16, np.float32)
        opt = optim.Adam([*lin.parameters(), *head.parameters(), p], lr=1e-2)
        w, b = (p, None) if given == "weight" else (None, p)

        def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
            h = nn.functional.batch_norm(lin(x), running_mean, running_var, w, b, training=True)
            loss = nn.functional.cross_entropy(head(gg.relu(h)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = capture(step) if captured else step
        losses = [fn(x, y).data.tobytes() for x, y in _batches(6)]
        if captured:
            assert fn.plans and fn.refused is None
        return [*losses, running_mean.tobytes(), running_var.tobytes(), p.data.tobytes()]

    assert run(True) == run(False)


def test_optimizer_updates_are_written_per_parameter_and_follow_a_reloaded_state() -> None:
    """The plan calls the optimizer's own update per parameter while its groups are the recorded
    ones; after load_state_dict (new groups and state) it calls optimizer.step() again."""

    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = _model(dropout=0.2)
        opt = optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        step = _plain_step(model, opt)
        fn = capture(step) if captured else step
        out = []
        saved = None
        for i, (x, y) in enumerate(_batches(60)):
            if i == 20:
                saved = opt.state_dict()
            if i == 40:
                assert saved is not None
                saved["param_groups"][0]["lr"] = 3e-3
                opt.load_state_dict(saved)  # new groups (another learning rate), moments back to step 20's
            out.append(fn(x, y).data.tobytes())
        return out + _state_bytes(model), fn

    eager, _ = run(False)
    replayed, fn = run(True)
    (plan,) = fn.plans.values()
    assert "Optimizer.step, per parameter" in plan.source and "Optimizer.zero_grad, per parameter" in plan.source
    assert replayed == eager


@pytest.mark.parametrize(
    "loss_options",
    [{"weight": np.array([1.0, 2.0, 3.0], dtype=np.float32)}, {"ignore_index": 0}, {"ignore_index": -1},
     {"weight": np.array([0.5, 1.0, 4.0], dtype=np.float32), "ignore_index": 2, "label_smoothing": 0.1}],
    ids=["weight", "ignore a class", "ignore -1", "weight+ignore+smoothing"],
)
def test_cross_entropy_reads_every_batch_s_targets(loss_options: dict[str, Any]) -> None:
    """Class weights, ignored rows and the weighted mean's divisor come from each batch's targets:
    the first two batches (recorded) have the same targets, later ones differ, and some rows are
    ignored only later. A plan that froze the recorded targets' terms differs from eager here."""
    targets = [[1], [1], [2], [0], [2], [-1], [1]]

    def run(captured: bool) -> tuple[list[float], list[np.ndarray]]:
        rng = np.random.default_rng(0)
        model = nn.Sequential(nn.Linear(4, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2))
        opt = optim.SGD(model.parameters(), lr=0.1)
        step = _plain_step(model, opt, **loss_options)
        fn = capture(step) if captured else step
        losses = []
        for y in targets:
            if y == [-1] and loss_options.get("ignore_index") != -1:
                y = [2]
            x = gg.Tensor(rng.standard_normal((1, 4)).astype(np.float32))
            losses.append(float(fn(x, gg.Tensor(np.array(y))).data))
        if captured:
            assert fn.plans, "the step was not captured"
        return losses, [p.data.copy() for p in model.parameters()]

    eager, captured = run(False), run(True)
    np.testing.assert_array_equal(captured[0], eager[0])
    for a, b in zip(captured[1], eager[1]):
        np.testing.assert_array_equal(a, b)


def test_a_target_out_of_range_is_refused_at_replay_too() -> None:
    model = nn.Sequential(nn.Linear(4, 3, rng=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = _plain_step(model, opt)
    fn = capture(step)
    x = gg.Tensor(np.ones((2, 4), dtype=np.float32))
    for y in ([0, 1], [1, 2], [2, 0]):
        fn(x, gg.Tensor(np.array(y)))
    assert fn.plans
    with pytest.raises(gg.errors.DataError, match="target class 3 is out of range for 3 classes"):
        fn(x, gg.Tensor(np.array([0, 3])))


def test_nll_loss_is_refused_with_the_reason() -> None:
    model = nn.Sequential(nn.Linear(4, 3, rng=1))

    def step(x: gg.Tensor, y: gg.Tensor) -> gg.Tensor:
        loss = nn.functional.nll_loss(gg.log_softmax(model(x)), y)
        loss.backward()
        return loss

    with pytest.raises(CaptureError, match="nll_loss reads its targets in Python"):
        capture(step)(gg.Tensor(np.ones((2, 4), dtype=np.float32)), gg.Tensor(np.array([0, 1])))


class _AddInPlace(nn.Module):
    def forward(self, x: gg.Tensor) -> gg.Tensor:
        x += 1.0
        return x


@pytest.mark.parametrize("layer", [
    lambda: nn.ReLU(inplace=True),
    lambda: nn.LeakyReLU(0.1, inplace=True),
    lambda: nn.ELU(inplace=True),
    lambda: nn.Dropout(0.3, inplace=True, rng=np.random.default_rng(7)),
    _AddInPlace,
], ids=["relu", "leaky_relu", "elu", "dropout", "+="])
def test_a_step_with_an_in_place_change_a_gradient_flows_through_is_captured_bit_for_bit(layer: Any) -> None:
    """The copy of the old values and the write-back are part of the plan (else every call would
    record again and never replay)."""
    _captured_trains_as_eager(lambda: (nn.Linear(12, 16, rng=1), nn.BatchNorm1d(16), layer(), nn.Linear(16, 4, rng=2)))


def _captured_trains_as_eager(layers: Callable[[], tuple[nn.Module, ...]], steps: int = 6) -> None:
    """A model of ``layers()`` trained ``steps`` SGD steps eagerly and captured: the capture
    replays a plan and ends with the same parameters and buffers, bit for bit."""
    def run(captured: bool) -> tuple[list[bytes], Any]:
        model = nn.Sequential(*layers())
        step = _plain_step(model, optim.SGD(list(model.parameters()), lr=0.05, momentum=0.9))
        fn = capture(step) if captured else step
        for x, y in _batches(steps):
            fn(x, y)
        return _state_bytes(model), fn

    (want, _), (got, fn) = run(False), run(True)
    assert fn.plans and got == want


class _Clipped(nn.Module):
    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return gg.clip(x, -0.5, 0.5)


class _LearnedPower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.exponent = nn.Parameter(np.full(16, 2.0, dtype=np.float32))

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return gg.power(gg.relu(x), self.exponent)  # zero bases: the exponent's gradient is 0 there


@pytest.mark.parametrize("layer", [
    nn.LeakyReLU, nn.ELU, nn.Softplus, lambda: nn.Softplus(beta=4.0, threshold=1.0), _Clipped, _LearnedPower,
    nn.SiLU, nn.Mish, nn.ReLU6, nn.Hardsigmoid, nn.Hardswish, lambda: nn.Hardtanh(-0.5, 0.5),
    lambda: nn.Hardswish(inplace=True),
], ids=["leaky_relu", "elu", "softplus", "softplus, linear part reached", "clip", "power",
        "silu", "mish", "relu6", "hardsigmoid", "hardswish", "hardtanh", "hardswish inplace"])
def test_steps_whose_rules_compare_values_are_captured_bit_for_bit(layer: Any) -> None:
    """These rules choose per entry by comparing values; they compare with graphgrad's ops, which a
    plan repeats, rather than in NumPy (a fresh array each call: the step was refused)."""
    _captured_trains_as_eager(lambda: (nn.Linear(12, 16, rng=1), layer(), nn.Linear(16, 4, rng=2)))


def test_softplus_past_its_threshold_only_in_later_batches_gets_the_gradient_eager_gets() -> None:
    """The rule once chose in Python whether any entry was past the threshold: a plan recorded on
    batches with none replayed the smooth part's gradient for every later batch."""
    def run(captured: bool) -> list[bytes]:
        model = nn.Sequential(nn.Linear(12, 16, rng=1), nn.Softplus(beta=4.0, threshold=1.0), nn.Linear(16, 4, rng=2))
        step = _plain_step(model, optim.SGD(list(model.parameters()), lr=0.05))
        fn = capture(step) if captured else step
        for i, (x, y) in enumerate(_batches(8)):
            fn(gg.Tensor(x.data * (0.001 if i < 4 else 10.0)), y)  # past the threshold from the fifth on
        assert not captured or fn.plans
        return _state_bytes(model)

    assert run(True) == run(False)


class _TimesWeight(nn.Module):
    """Inputs times a weight holding a zero, by ``kind``: an inf input meets it in the forward."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(np.array([0.0, 2.0]))

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        w = self.weight
        if self.kind == "multiply":
            return x * w
        if self.kind == "matmul":
            return x @ w.reshape(2, 1)
        return nn.functional.conv2d(x.reshape(-1, 1, 1, 2), w.reshape(1, 1, 1, 2)).reshape(-1, 1)


@pytest.mark.parametrize("kind", ["multiply", "matmul", "conv2d"])
def test_a_forward_product_of_zero_and_inf_is_nan_in_the_plan_as_in_eager(kind: str) -> None:
    """Only the engine's rules take ``0 * inf = 0``; a step's forward computes as NumPy does. The
    recording once chose the rules' forward (its mode test read capture's bit as the rules'), so a
    plan hid the NaN eager gives, and with it the trainer's stop on a non-finite loss."""
    model = _TimesWeight(kind)
    opt = optim.SGD(list(model.parameters()), lr=0.0)

    def step(x: gg.Tensor) -> gg.Tensor:
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture(step)
    with np.errstate(invalid="ignore"):
        for i in range(5):
            x = gg.tensor(np.array([[np.inf, 1.0 + i], [1.0, 2.0]]))
            replayed = [fn(x).data.tobytes(), model.weight.grad.data.tobytes()]
            eager = [step(x).data.tobytes(), model.weight.grad.data.tobytes()]
            assert np.isnan(np.frombuffer(eager[0])).all()
            assert replayed == eager
    assert fn.plans


def test_a_refusal_inside_a_gradient_rule_names_the_op_the_step_called() -> None:
    """remainder's rule builds its quotient in NumPy from the values: the refusal says whose gradient
    ran the instruction that differed, not only the internal op (a negate)."""
    w = nn.Parameter(np.array([1.5, 2.5]))
    opt = optim.SGD([w], lr=0.0)

    def step(x: gg.Tensor) -> gg.Tensor:
        loss = gg.remainder(x, w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = capture(step)
    with pytest.raises(CaptureError, match=r"instruction \d+ \(\w+ in remainder's gradient\) read a different"):
        for i in range(4):
            fn(gg.tensor(np.array([3.0 + i, 1.0 + 2 * i])))
