"""Containers: Sequential (a pipeline), ModuleList and ModuleDict (collections a model indexes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphgrad.errors import ConfigError
from graphgrad.nn.module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _check_module(value: Any, where: str) -> Module:
    if not isinstance(value, Module):
        raise ConfigError(f"{where} must be a Module, got {type(value).__name__}")
    return value


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (names ``"0"``, ``"1"``, ...)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._list: list[Module] = []
        for m in modules:
            self.append(m)

    def _items(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self._list):
            yield str(i), m

    def append(self, module: Module) -> ModuleList:
        self._list.append(_check_module(module, f"{type(self).__name__} item {len(self._list)}"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._list.insert(index, _check_module(module, f"{type(self).__name__} item"))

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self._list[index])
        try:
            return self._list[index]
        except IndexError:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {len(self)}") from None

    def __setitem__(self, index: int, module: Module) -> None:
        self._list[index] = _check_module(module, f"{type(self).__name__} item {index}")

    def __delitem__(self, index: int | slice) -> None:
        del self._list[index]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list)


class Sequential(ModuleList):
    """Modules applied in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 3))(x)``.

    Indexing, ``len`` and iteration work as on a list; a slice is again a Sequential.
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and not isinstance(modules[0], Module):
            raise ConfigError(
                f"Sequential takes modules as separate arguments, got one {type(modules[0]).__name__}; "
                "write Sequential(*layers)"
            )
        super().__init__(modules)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential(*self._list[index])
        return super().__getitem__(index)

    def forward(self, x: Any) -> Any:
        for module in self._list:
            x = module(x)
        return x


class ModuleDict(Module):
    """Named modules (string keys, insertion order) whose parameters the parent finds."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        self._dict: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _items(self) -> Iterator[tuple[str, Any]]:
        yield from self._dict.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, m in pairs:
            self[key] = m

    def __getitem__(self, key: str) -> Module:
        try:
            return self._dict[key]
        except KeyError:
            raise KeyError(f"{key!r} is not in this ModuleDict; its keys are {list(self._dict)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise ConfigError(f"ModuleDict keys must be non-empty strings without '.', got {key!r}")
        self._dict[key] = _check_module(module, f"ModuleDict[{key!r}]")

    def __delitem__(self, key: str) -> None:
        del self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def keys(self) -> Iterable[str]:
        return self._dict.keys()

    def values(self) -> Iterable[Module]:
        return self._dict.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._dict.items()
