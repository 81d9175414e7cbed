"""Coverage keyed on the engine's own table of primitives, ``graphgrad.ops.core.REGISTRY``.

Every registered op (setitem and internal ops such as index_add included) must be exercised by
some OpInfo entry, and an entry's ``covers`` must be true: running the entry (forward, plain
backward and recorded backward) calls every op it claims.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import graphgrad
from graphgrad import Tensor
from graphgrad.autograd.engine import topological_order
from graphgrad.ops import core
from tests.ops.opinfo import OpInfo, all_opinfos, cases

OPINFOS = all_opinfos()


def import_every_op_module() -> None:
    """Import every module of ``graphgrad.ops``, so the registry holds every op there is."""
    for module in pkgutil.iter_modules(graphgrad.ops.__path__):
        importlib.import_module(f"graphgrad.ops.{module.name}")


@contextmanager
def ops_called(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The names of the registry ops whose forward runs inside the block."""
    seen: set[str] = set()

    def recording(name: str, forward: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            seen.add(name)
            return forward(*args, **kwargs)

        return run

    with monkeypatch.context() as m:
        for name, op in core.REGISTRY.items():
            m.setattr(op, "forward", recording(name, op.forward))
            if op.zero_safe_forward is not None:  # the forward backward's rules run
                m.setattr(op, "zero_safe_forward", recording(name, op.zero_safe_forward))
        yield seen


def graph_ops(out: Tensor) -> set[str]:
    """Op names of the recorded graph behind ``out``."""
    return {t.op for t in topological_order([out]) if t.op is not None}


def exercised(info: OpInfo, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Registry ops that run for ``info``: its forward, a plain backward and a recorded backward."""
    arrays = info.sample_inputs()
    found: set[str] = set()
    with ops_called(monkeypatch) as seen:
        if not info.differentiable:
            info.fn(*[Tensor(a) for a in arrays])
            return set(seen)
        for create_graph in (False, True):
            xs = [Tensor(a, requires_grad=True) for a in arrays]
            out = info.fn(*xs)
            found |= graph_ops(out)
            grads = graphgrad.autograd.engine.backward(
                [out], [Tensor(np.ones(out.shape))], retain_graph=True, create_graph=create_graph, inputs=xs
            )
            for g in grads or []:
                if g is not None and g.requires_grad:
                    found |= graph_ops(g)
        return found | seen


def test_every_registry_op_is_covered() -> None:
    import_every_op_module()
    covered = {name for info in OPINFOS for name in info.registry_ops}
    missing = sorted(set(core.REGISTRY) - covered)
    assert not missing, (
        f"registry ops that no OpInfo covers: {missing} (add an entry, or name them in an entry's "
        "covers=...; an op here that no module of graphgrad defines was registered by a test)"
    )


@pytest.mark.parametrize("info", cases(OPINFOS))
def test_entry_exercises_what_it_covers(info: OpInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    claimed = set(info.registry_ops)
    if info.covers:
        unknown = claimed - set(core.REGISTRY)
        assert not unknown, f"{info.name} covers ops the registry does not have: {sorted(unknown)}"
    claimed &= set(core.REGISTRY)  # a default name that is no primitive (squeeze...) claims nothing
    ran = exercised(info, monkeypatch)
    assert claimed <= ran, f"{info.name} claims {sorted(claimed - ran)} but runs only {sorted(ran)}"


def test_the_trace_sees_internal_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """index_add runs only inside getitem's rule, erfc only inside gelu's: the trace must see them."""
    getitem = next(i for i in OPINFOS if i.name == "getitem")
    assert {"getitem", "index_add"} <= exercised(getitem, monkeypatch)
    gelu = next(i for i in OPINFOS if i.name == "gelu")
    assert {"gelu", "erfc"} <= exercised(gelu, monkeypatch)
    assert exercised(gelu, monkeypatch).isdisjoint({"index_add", "getitem", "setitem"})
