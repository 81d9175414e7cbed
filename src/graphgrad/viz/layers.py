"""Which layer made which tensors: record a model's layer calls, so a view draws one node per layer.

A layer (a module without sub-modules: ``Conv2d``, ``BatchNorm2d``, ``ReLU``, ``Linear``...) may
record several ops (batch norm in evaluation: subtract, scale, shift); the graph alone cannot tell where one
layer ends and the next begins. :func:`record_layers` wraps every layer's ``forward`` while the
model runs and notes each call's inputs and output; :func:`layer_groups` then gives every tensor
made inside a call (walking back from its output to its inputs) to that call::

    with record_layers(model) as layers:
        loss = F.cross_entropy(model(x), y)
    gg.explain(loss, module=model, layers=layers)      # or draw(..., layers=layers)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor

# the op a layer stands for, where its class name or its single recorded op would not say it
LAYER_OPS = {
    "BatchNorm1d": "batch_norm", "BatchNorm2d": "batch_norm", "LayerNorm": "layer_norm", "Flatten": "flatten",
    "Unflatten": "unflatten", "AdaptiveAvgPool2d": "adaptive_avg_pool2d", "Dropout": "dropout",
}


@dataclass
class LayerCall:
    """One call of one layer: its path in the model (``"3"``, ``"features.0"``), class, tensors."""

    path: str
    layer: str  # the module's class name
    inputs: tuple[Tensor, ...]
    output: Tensor
    parameters: frozenset[int]  # ids of the layer's own parameters

    def op(self, n_ops: int, single_op: str | None) -> str:
        """The op this call stands for: ``conv2d``, ``batch_norm``, ``relu``, ``linear``..."""
        if self.layer in LAYER_OPS:
            return LAYER_OPS[self.layer]
        if n_ops == 1 and single_op:
            return single_op
        return self.layer.lower()


@dataclass
class LayerCalls:
    """The layer calls of one forward pass, in the order they finished."""

    calls: list[LayerCall] = field(default_factory=list)


def _leaf_layers(model: Any) -> list[tuple[str, Any]]:
    if not hasattr(model, "named_modules"):
        raise ConfigError(f"record_layers: expected a graphgrad Module, got {type(model).__name__}")
    return [(path, m) for path, m in model.named_modules() if next(iter(m.named_children()), None) is None]


@contextmanager
def record_layers(model: Any) -> Iterator[LayerCalls]:
    """Record every call of ``model``'s layers made inside the ``with`` block (nothing else changes)."""
    layers = LayerCalls()
    patched: list[tuple[Any, Any]] = []  # (module, its own 'forward' attribute before, or None)

    def wrap(path: str, module: Any) -> Any:
        forward = module.forward
        own = frozenset(id(p) for _, p in module.named_parameters())

        def recorded(*args: Any, **kwargs: Any) -> Any:
            out = forward(*args, **kwargs)
            if isinstance(out, Tensor):
                inputs = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, Tensor))
                layers.calls.append(LayerCall(path, type(module).__name__, inputs, out, own))
            return out

        return recorded

    try:
        for path, module in _leaf_layers(model):
            patched.append((module, vars(module).get("forward")))
            module.forward = wrap(path, module)
        yield layers
    finally:
        for module, before in patched:
            if before is None:
                del module.forward
            else:
                module.forward = before


@dataclass
class Group:
    """The tensors of one layer call that a view draws as one node."""

    call: LayerCall
    op: str
    members: list[Tensor]  # the output last; ops, and the leaves used only inside (constants)


def layer_groups(order: Sequence[Tensor], layers: LayerCalls, parameters_inside: bool) -> list[Group]:
    """The groups of the graph ``order`` (inputs first): each recorded call whose output is in it.

    A call's group is its output and everything it was computed from back to the call's inputs,
    less what an earlier call already holds. The layer's parameters are in the group when
    ``parameters_inside`` (a collapsed drawing), else they stay nodes of their own.
    """
    rank = {id(t): i for i, t in enumerate(order)}
    taken: set[int] = set()
    groups: list[Group] = []
    for call in layers.calls:
        out = call.output
        if id(out) not in rank or id(out) in taken or out._node is None:
            continue
        stop = {id(t) for t in call.inputs} | taken
        members: dict[int, Tensor] = {}
        stack = [out]
        while stack:
            t = stack.pop()
            if id(t) in members or id(t) in stop:
                continue
            if t._node is None and id(t) in call.parameters and not parameters_inside:
                continue
            if t._node is None and t._requires_grad and id(t) not in call.parameters:
                continue  # a variable from outside the layer: not the layer's to hide
            members[id(t)] = t
            if t._node is not None:
                stack.extend(t._node.inputs or ())
        ops = [t for t in members.values() if t._node is not None]
        single = ops[0]._node.op.name if len(ops) == 1 and ops[0]._node is not None else None
        ordered = sorted(members.values(), key=lambda t: rank[id(t)])
        taken.update(members)
        groups.append(Group(call, call.op(len(ops), single), ordered))
    return groups


def passed_names(layers: LayerCalls | None, names: dict[int, str]) -> dict[int, str]:
    """``id(output) -> name`` for layer outputs that recorded no op (a reshape of data that needs
    no gradient, e.g. ``Unflatten`` on the input images): they keep the name of their input."""
    out: dict[int, str] = {}
    for call in layers.calls if layers else ():
        if call.output._node is None and not call.output.name and len(call.inputs) == 1:
            src = call.inputs[0]
            name = names.get(id(src)) or out.get(id(src)) or src.name
            if name:
                out[id(call.output)] = name
    return out


def label(call: LayerCall, op: str) -> str:
    """A layer node's name: its path in the model and its op (``"3 relu"``; the op alone at the top)."""
    return f"{call.path} {op}" if call.path else op
