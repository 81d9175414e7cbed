"""A captured step is the eager step bit for bit, for every op of the registry, on special values.

For each entry of the op table that drives the registry tests (``tests/ops/opinfo*``; together they
cover every op of ``graphgrad.ops.core.REGISTRY``), one step, ``loss = (op(*inputs) * weights * v).sum();
zero_grad(); backward(); SGD step``, with the op's inputs and the weights as parameters and ``v`` a
batch argument, is run captured and eagerly on twin parameters, over calls with fresh values: the
recordings and the replays must give the eager step's loss, gradients and updated parameters bit
for bit, on ordinary values, on inputs holding 0, inf, -inf and NaN at entries that move from call
to call, and with ``v`` zero where the forward overflowed (the step's loss is then NaN while the
rules' ``0 * inf = 0`` keeps the gradients finite: the plan must take each forward where eager
mode does). Entries with ``edges`` (inputs where the op overflows or is undefined) are run on
those too.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.compile import CaptureError, capture
from graphgrad.ops import core
from tests.ops.opinfo import OpInfo, all_opinfos, cases

OPINFOS = all_opinfos()
SPECIAL = (0.0, np.inf, -np.inf, np.nan)
LR = 0.1

_VALUES = "the op's forward or rule makes a tensor from the values in NumPy (a mask, a sign, an order)"


def _refusals(reason: str, op: str, *names: str) -> dict[str, tuple[str, str]]:
    """Entries refused because an instruction of ``op`` read a tensor made anew at each call."""
    return {name: (reason, f"({op}) read a different") for name in names}


REFUSED: dict[str, tuple[str, str]] = {
    # entry name -> (why capture refuses its step, what the CaptureError says: the op and what it read);
    # the step must raise it by its third call, never give numbers that eager mode does not
    "nll_loss": ("it reads its targets in Python (README, Captured step)", "nll_loss reads its targets"),
    "max_pool2d[gradient of the squared pool]": ("the entry differentiates with create_graph=True", "create_graph"),
    **{name: ("its rule takes another formula where a determinant is 0, a choice made in Python",
              f"{name.split('[')[0]}'s gradient") for name in ("det", "slogdet", "slogdet[negative det]")},
    **_refusals(_VALUES, "negative in remainder's gradient", "remainder", "remainder[negative divisor]", "mod"),
    **_refusals(_VALUES.replace("a tensor", "an index"), "getitem", "sort", "sort[axis 0]", "sort[None]",
                "partition"),
}
"""Entries whose step capture refuses, with the reason and the op the error names."""


class _Twin:
    """One copy of the step's parameters, optimizer and step function."""

    def __init__(self, info: OpInfo, shapes: list[tuple[int, ...]], out_shape: tuple[int, ...],
                 dtype: Any = np.float64) -> None:
        self.inputs = [nn.Parameter(np.zeros(s, dtype=dtype)) for s in shapes]
        self.weights = nn.Parameter(np.zeros(out_shape, dtype=dtype))
        self.params = [*self.inputs, self.weights]
        opt = optim.SGD(self.params, lr=LR)
        fn, inputs, weights = info.fn, self.inputs, self.weights

        def step(v: gg.Tensor) -> gg.Tensor:
            loss = (fn(*inputs) * weights * v).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        self.step = step

    def load(self, arrays: list[np.ndarray], weights: np.ndarray) -> None:
        """Fresh values, written into the parameters (as a loaded checkpoint would be)."""
        for p, a in zip(self.inputs, arrays):
            p.data[...] = a
        self.weights.data[...] = weights

    def state(self) -> list[bytes | None]:
        out: list[bytes | None] = []
        for p in self.params:
            out += [p.data.tobytes(), None if p.grad is None else p.grad.data.tobytes()]
        return out


def _forward(info: OpInfo, arrays: list[np.ndarray]) -> np.ndarray | None:
    """The op's output on ``arrays`` as float64 (None where it raises on them)."""
    with gg.no_grad(), np.errstate(all="ignore"):
        try:
            return np.asarray(info.fn(*[gg.Tensor(a.copy()) for a in arrays]).data, dtype=np.float64)
        except gg.errors.GraphgradError:
            return None


def _with_special(arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each input with two entries (one for a single entry) set to 0, inf, -inf or NaN, at random places."""
    out = []
    for a in arrays:
        a = a.copy()
        flat = a.reshape(-1)
        if flat.size:
            where = rng.choice(flat.size, size=min(2, flat.size), replace=False)
            flat[where] = rng.choice(SPECIAL, size=where.size)
        out.append(a)
    return out


Call = tuple[list[np.ndarray], np.ndarray, np.ndarray]
"""The inputs' values, the weights and ``v`` of one call."""


def _calls(info: OpInfo, shapes: list[tuple[int, ...]], kinds: str, edges: list[list[np.ndarray]] | None,
           seed: int) -> list[Call]:
    """One call per letter of ``kinds``: ``o`` ordinary values, ``s`` special values at random places,
    ``w`` special values (or the next edge case) with ``v`` zero where the forward is not finite."""
    rng = np.random.default_rng(seed)
    ordinary = _forward(info, [rng.uniform(*info.domain_of(i), s) for i, s in enumerate(shapes)])
    assert ordinary is not None
    out: list[Call] = []
    edge_cases = itertools.cycle(edges or [[]])
    for kind in kinds:
        arrays = [rng.uniform(*info.domain_of(i), s) for i, s in enumerate(shapes)]
        if kind in "sw":
            arrays = next(edge_cases) if edges else _with_special(arrays, rng)
        y = _forward(info, arrays)
        weights = rng.uniform(0.5, 2.0, ordinary.shape)
        v = rng.uniform(-2.0, 2.0, ordinary.shape)
        if kind == "w" and y is not None:
            v[~np.isfinite(y)] = 0.0
        out.append((arrays, weights, v))
    return out


def _run(run: Callable[[gg.Tensor], gg.Tensor], twin: _Twin, call: Call) -> list[Any]:
    """One call: the loss's bits (or the error raised), then every parameter's value and gradient."""
    arrays, weights, v = call
    twin.load(arrays, weights)
    vt = gg.Tensor(v.copy())
    try:
        with np.errstate(all="ignore"):
            loss: Any = run(vt).data.tobytes()
    except CaptureError:
        raise
    except gg.errors.GraphgradError as exc:
        loss = f"{type(exc).__name__}: {exc}"
    assert vt.data.tobytes() == v.tobytes(), "the step wrote into its argument"
    return [loss, *twin.state()]


def _compare(info: OpInfo, shapes: list[tuple[int, ...]], calls: list[Call], dtype: Any = np.float64) -> Any:
    """Run ``calls`` captured and eagerly, the parameters in ``dtype``; assert the bits agree at every
    call; return the captured step."""
    out_shape = calls[0][1].shape
    eager, captured = _Twin(info, shapes, out_shape, dtype), _Twin(info, shapes, out_shape, dtype)
    fn = capture(captured.step)
    ran = 0  # calls that gave a loss (a forward that raises on special values, svd's, records nothing)
    for i, call in enumerate(calls):
        expected = _run(eager.step, eager, call)
        got = _run(fn, captured, call)
        assert got == expected, f"call {i} ({'replayed' if fn.plans else 'recorded'}) differs from eager"
        ran += isinstance(expected[0], bytes)
    assert fn.plans or ran < 3, "the step should have been captured"
    return fn


SEQUENCES = {"ordinary first": "oosowsw", "special first": "sswosw"}
"""Calls by kind (see :func:`_calls`): the plan is recorded on the first two (three where a value
made in Python must be confirmed) and replayed on the rest, special values moving between calls."""

CAPTURED = [info for info in OPINFOS if info.name not in REFUSED]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("sequence", list(SEQUENCES))
@pytest.mark.parametrize("info", cases(CAPTURED))
def test_captured_step_is_eager_bit_for_bit_on_special_values(info: OpInfo, sequence: str, dtype: Any) -> None:
    """Float32 too: the values a step meets differ (arctan2's underflowing radius was found there)."""
    shapes = info.sample_shapes()
    _compare(info, shapes, _calls(info, shapes, SEQUENCES[sequence], None, seed=1), dtype)


@pytest.mark.parametrize("info", cases([info for info in CAPTURED if info.edges]))
def test_captured_step_is_eager_bit_for_bit_where_the_op_overflows(info: OpInfo) -> None:
    """The entry's ``edges`` (exp(1000), 1 / 0, ...): first with ``v`` zero where the forward is not
    finite (the loss is NaN, the rules' products keep the gradients finite), then with ``v`` nonzero."""
    edges = info.edge_inputs()
    shapes = [a.shape for a in edges[0]]
    edges = [case for case in edges if [a.shape for a in case] == shapes]
    kinds = "oo" + "w" * len(edges) + "o" + "s" * len(edges)
    _compare(info, shapes, _calls(info, shapes, kinds, edges + edges, seed=3))


@pytest.mark.parametrize("info", cases([info for info in OPINFOS if info.name in REFUSED]))
def test_a_refused_step_raises_a_capture_error_naming_the_op(info: OpInfo) -> None:
    """Not a wrong number: the error, raised by the third call, says which op read what."""
    _, says = REFUSED[info.name]
    shapes = info.sample_shapes()
    with pytest.raises(CaptureError, match=re.escape(says)):
        _compare(info, shapes, _calls(info, shapes, "ooo", None, seed=0))


def test_every_registry_op_is_captured_by_some_entry_or_listed_as_refused() -> None:
    from tests.ops.test_registry_coverage import import_every_op_module

    import_every_op_module()
    captured = {op for info in CAPTURED for op in info.registry_ops}
    refused = {op for info in OPINFOS if info.name in REFUSED for op in info.registry_ops}
    assert set(core.REGISTRY) <= captured | refused, sorted(set(core.REGISTRY) - captured - refused)
    assert not set(REFUSED) - {info.name for info in OPINFOS}, "refusals name entries that do not exist"


class _Gate(nn.Module):
    """Features times a learned gate that starts shut on the first one (a product with a zero factor)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Parameter(np.array([0.0, 1.0, 1.0, 1.0], dtype=np.float32))

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return x * self.gate


def _diverging_trainer(compile: bool, bad: float) -> Any:
    """A classifier whose fourth batch holds ``bad`` in the feature that the gate multiplies by zero."""
    from graphgrad.data import DataLoader, TensorDataset
    from graphgrad.train.trainer import Trainer

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    x[:, 0] = 0.0  # the shut gate gets a zero gradient: it stays shut until the fourth batch
    x[3 * 8 + 2, 0] = bad
    y = rng.integers(0, 3, 48)
    model = nn.Sequential(_Gate(), nn.Linear(4, 3, rng=1))  # 0 * inf is NaN in eager mode; only rules take 0
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)
    return Trainer(model, opt, nn.functional.cross_entropy, loader, epochs=2, compile=compile, threads=1)


@pytest.mark.parametrize(("bad", "stop"), [
    (np.inf, "epoch 1, step 4 (batch 4 of 6)"),  # 0 * inf: NaN in the first forward that meets it
    (np.nan, "epoch 1, step 4 (batch 4 of 6)"),
    (3e38, "epoch 2, step 10 (batch 4 of 6)"),  # 0 * 3e38 is 0; the step's update makes the weight huge
], ids=["inf", "nan", "overflow"])
def test_trainer_stops_at_the_same_step_with_the_same_message_captured_or_not(bad: float, stop: str) -> None:
    """The trainer reads the replayed step's loss: a plan that hid a NaN would train past it."""
    from graphgrad.errors import TrainingDivergedError

    runs = []
    for compile in (False, True):
        trainer = _diverging_trainer(compile, bad)
        with pytest.raises(TrainingDivergedError) as caught, np.errstate(all="ignore"):
            trainer.fit()
        runs.append((str(caught.value), trainer.step, [p.data.tobytes() for p in trainer.model.parameters()]))
        assert trainer.compile_note == ("captured" if compile else "eager")
    assert f"the loss became nan at {stop}" in runs[0][0]
    assert runs[1] == runs[0]


@pytest.mark.parametrize("name", ["arctan2", "hypot", "norm", "norm[axis -1]", "norm[3, keepdims]"])
@pytest.mark.parametrize("tiny", [0.0, 1e-200], ids=["zero", "underflowing square"])
def test_a_rule_guarding_a_zero_denominator_is_replayed_for_batches_recorded_without_one(name: str,
                                                                                         tiny: float) -> None:
    """These rules replace a zero radius or norm by 1; they once chose in Python whether any was zero,
    so a plan recorded on ordinary batches divided by it at replay: 1e-200 / 0 = inf where eager
    mode gives 1e-200 (and a zero of the other sign at the origin)."""
    info = next(i for i in OPINFOS if i.name == name)
    shapes = info.sample_shapes()
    calls = _calls(info, shapes, "ooooo", None, seed=5)
    for arrays, _, _ in calls[2:]:
        for a in arrays:
            a.reshape(-1)[[0, 4]] = (tiny, -tiny)
            a[-1] = tiny  # a whole row: the norm over the last axis is (or underflows to) 0 there
    _compare(info, shapes, calls)


@pytest.mark.parametrize("reduce", [gg.nansum, gg.nanmean], ids=["nansum", "nanmean"])
def test_nan_reductions_recorded_on_batches_without_nan_skip_the_nan_of_later_ones(reduce: Any) -> None:
    """Their mask was read in NumPy: a plan recorded without NaN summed the NaN of a later batch
    (a NaN loss and weights where eager mode gives a number); an all-NaN row warns at replay too."""
    runs = []
    for captured in (False, True):
        w = nn.Parameter(np.linspace(0.5, 1.5, 6).reshape(2, 3))
        opt = optim.SGD([w], lr=0.1)

        def step(x: gg.Tensor, w: nn.Parameter = w, opt: optim.SGD = opt) -> gg.Tensor:
            loss = reduce(reduce(x * w, axis=-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = capture(step) if captured else step
        rng = np.random.default_rng(0)
        bits = []
        for i in range(6):
            x = rng.standard_normal((2, 3))
            x[0, 1] = np.nan if i >= 3 else x[0, 1]
            x[1] = np.nan if i == 5 else x[1]
            with pytest.warns(RuntimeWarning, match="Mean of empty slice") if i == 5 and reduce is gg.nanmean \
                    else contextlib.nullcontext():
                bits.append([fn(gg.Tensor(x)).data.tobytes(), w.data.tobytes(), w.grad.data.tobytes()])
        assert not captured or fn.plans
        runs.append(bits)
    assert np.isfinite(np.frombuffer(runs[0][3][0])).all()
    assert runs[1] == runs[0]
