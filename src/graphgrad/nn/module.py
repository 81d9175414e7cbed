"""Module: the base class of layers and models.

A module's parameters and sub-modules are found from its attributes, in the order they were
assigned: a :class:`Parameter`, a :class:`Module`, or a list / tuple / dict holding them (named
``"layers.0"``, ``"heads.key"``). So ``self.layers = [Linear(2, 3), Linear(3, 1)]`` works as well
as a :class:`ModuleList`. Buffers (non-trained state saved with the weights, e.g. running
statistics) are attributes declared with :meth:`Module.register_buffer`.

``state_dict()`` maps dotted names (``"0.weight"``) to NumPy copies; ``load_state_dict`` checks
every key and shape before changing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from graphgrad.autograd.grad_mode import get_mode, no_grad
from graphgrad.errors import CheckpointError, ConfigError
from graphgrad.nn.parameter import Parameter
from graphgrad.ops import core
from graphgrad.tensor import CAPTURE, Tensor

__all__ = ["Module", "IncompatibleKeys"]

_INTERNAL = frozenset({"training", "_buffers"})


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _walk(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(name, Parameter or Module) pairs in an attribute value, looking inside lists, tuples, dicts."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(f"{name}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield from _walk(f"{name}.{key}", item)


def _count(params: Iterator[Parameter]) -> int:
    return sum(p.data.size for p in params)


def positive_int(value: Any, name: str, layer: str) -> int:
    """A layer's size argument (features, channels, groups...), checked: a positive int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Module:
    """Base class: subclasses set their layers and parameters as attributes and define ``forward``."""

    training: bool = True  # class defaults: a subclass that forgets super().__init__() still works
    _buffers: dict[str, bool] = {}  # buffer name -> persistent (saved in state_dict); never mutated here

    def __init__(self) -> None:
        self.training = True
        self._buffers = {}

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if get_mode() & CAPTURE:
            _guard_settings(self)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ discovery
    def _items(self) -> Iterator[tuple[str, Any]]:
        """This module's own (name, Parameter or Module) pairs; containers override it."""
        for name, value in vars(self).items():
            if name not in _INTERNAL:
                yield from _walk(name, value)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules, each once, with their attribute names."""
        seen: set[int] = set()
        for name, value in self._items():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every sub-module below it, each once, depth first."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def _named_tensors(
        self, prefix: str = "", _path: frozenset[int] = frozenset()
    ) -> Iterator[tuple[str, Any, Module, str]]:
        """Every (full name, value, owner, attribute) of parameters and persistent buffers, shared
        ones under each name (as a state dict needs). A module that refers back to one of its
        ancestors (a cycle) is not entered again."""
        path = _path | {id(self)}
        for name, value in self._items():
            full = prefix + name
            if isinstance(value, Parameter):
                yield full, value, self, name
            elif id(value) not in path:
                yield from value._named_tensors(full + ".", path)
        for name, persistent in self._buffers.items():
            value = getattr(self, name, None)
            if persistent and value is not None:
                yield prefix + name, value, self, name

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in attribute order; a parameter shared by two layers
        appears once, under its first name. ``recurse=False``: this module's own parameters only."""
        dotted = prefix + "." if prefix else ""
        if recurse:
            pairs = ((name, value) for name, value, _, _ in self._named_tensors(dotted))
        else:
            pairs = ((dotted + name, value) for name, value in self._items())
        seen: set[int] = set()
        for name, value in pairs:
            if isinstance(value, Parameter) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ------------------------------------------------------------------ buffers
    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Keep ``value`` (a Tensor, an ndarray or None) as state that is saved but not trained."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"buffer name must be an identifier, got {name!r}")
        if value is not None and not isinstance(value, (Tensor, np.ndarray)):
            raise ConfigError(f"buffer {name!r} must be a Tensor, an ndarray or None, got {type(value).__name__}")
        if isinstance(value, Parameter):
            raise ConfigError(f"buffer {name!r} is a Parameter; assign it as an attribute instead")
        if "_buffers" not in vars(self):
            self._buffers = {}
        self._buffers[name] = persistent
        setattr(self, name, value)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for mod_name, module in self.named_modules(prefix.rstrip(".")):
            for name in module._buffers:
                value = getattr(module, name, None)
                if value is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), value

    def buffers(self) -> Iterator[Any]:
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and every sub-module."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget parameter gradients: ``None``, or fresh zeros (never written in place: may be shared)."""
        if get_mode() & CAPTURE:  # replayed at every call of a captured step, as the optimizer's
            return core.TRACER[0].effect(type(self).zero_grad, self, set_to_none)  # type: ignore[no-any-return]
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor._wrap(np.zeros_like(p.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module, then on this one (e.g. custom initialization)."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"0.weight": array, ...}``: copies of parameters and persistent buffers."""
        return {name: np.array(value.data if isinstance(value, Tensor) else value, copy=True)
                for name, value, _, _ in self._named_tensors()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, cast to their dtype.

        Values must be real numbers and shapes must match; with ``strict`` the keys must match
        exactly. Everything is checked before anything is written, and CheckpointError lists every
        missing, unexpected, mis-shaped and non-numeric key at once.
        """
        targets: dict[str, list[tuple[Any, Module, str]]] = {}
        for name, value, owner, attr in self._named_tensors():
            targets.setdefault(name, []).append((value, owner, attr))
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        mis_shaped, not_numbers = [], []
        for key, entries in targets.items():
            if key in state_dict:
                given_value = np.asarray(getattr(state_dict[key], "data", state_dict[key]))
                if given_value.dtype.kind not in "biuf":  # text, objects, complex: no real number to copy
                    not_numbers.append(f"{key}: checkpoint holds {given_value.dtype}")
                    continue
                given = given_value.shape
                if given != np.shape(entries[0][0].data if isinstance(entries[0][0], Tensor) else entries[0][0]):
                    mis_shaped.append(f"{key}: checkpoint {given}, model {tuple(entries[0][0].shape)}")
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mis_shaped:
            problems.append("shape mismatch for " + "; ".join(mis_shaped))
        if not_numbers:
            problems.append("; ".join(not_numbers) + ", not real numbers")
        if problems:
            raise CheckpointError(f"{type(self).__name__}.load_state_dict: " + ", ".join(problems))
        with no_grad():
            for key, entries in targets.items():
                if key not in state_dict:
                    continue
                src = state_dict[key]
                src = src.data if isinstance(src, Tensor) else np.asarray(src)
                for value, _, _ in entries:
                    if isinstance(value, Tensor):
                        value.data[...] = src
                        value.bump_version()
                    else:
                        value[...] = src
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The arguments shown inside ``Name(...)``; layers override it."""
        return ""

    def num_parameters(self) -> int:
        """How many numbers the parameters hold (shared parameters counted once)."""
        return _count(self.parameters())

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}(" + (self.extra_repr() if self.extra_repr() else "")]
        for name, child in children:
            text = repr(child).replace("\n", "\n  ")
            count = child.num_parameters()
            suffix = f"  # {count:,} params" if count and not list(child.children()) else ""
            lines.append(f"  ({name}): {text}{suffix}")
        lines.append(f")  # {self.num_parameters():,} parameters in total")
        return "\n".join(lines)


_SETTING_TYPES = (bool, int, float, str)


def _guard_settings(module: Module) -> None:
    """While a step is captured: its plan holds only while this module's mode (``training``) and
    settings (public numbers, flags and strings such as Dropout's ``p``) keep their values, since
    forward may branch on them; a change makes the step record again."""
    tracer = core.TRACER[0]
    for name, value in vars(module).items():
        if value.__class__ in _SETTING_TYPES and not name.startswith("_"):
            tracer.guard(module, name)
