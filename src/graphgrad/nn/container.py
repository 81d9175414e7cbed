"""Containers: Sequential (a pipeline), ModuleList and ModuleDict (collections a model indexes).

Each entry of a ModuleList or Sequential is named by its index (``"0"``, ``"1"``...) unless it has a
name of its own: a Sequential built from a dict (PyTorch's ``Sequential(OrderedDict(...))``) names
its layers by the keys, and those names are what ``state_dict`` keys, ``named_modules`` and the
repr show, and what ``seq.conv`` reads.
"""

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


def _check_name(key: Any, where: str) -> str:
    """A layer's name: it becomes part of dotted state_dict keys, so no '.' and not empty."""
    if not isinstance(key, str) or not key or "." in key:
        raise ConfigError(f"{where} keys must be non-empty strings without '.', got {key!r}")
    return key


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (names ``"0"``, ``"1"``, ...)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._list: list[Module] = []
        # each entry's own name, or None where its index names it; None for the whole list when no
        # entry has one (a plain list: every append stays O(1))
        self._names: list[str | None] | None = None
        for m in modules:
            self.append(m)

    def _name(self, i: int) -> str:
        own = None if self._names is None else self._names[i]
        return str(i) if own is None else own

    def _items(self) -> Iterator[tuple[str, Any]]:
        names = self._names
        for i, m in enumerate(self._list):
            own = None if names is None else names[i]
            yield (str(i) if own is None else own), m

    def _rename(self, names: list[str | None]) -> None:
        """Adopt ``names`` (one per entry, for a change about to be made), refusing a change after
        which two entries would have one name (an index and a name of one's own)."""
        seen: dict[str, int] = {}
        for i, own in enumerate(names):
            name = str(i) if own is None else own
            if name in seen:
                raise ConfigError(
                    f"{type(self).__name__}: after this change the entries at {seen[name]} and {i} would both be "
                    f"named {name!r} (an entry without a name of its own is named by its index); "
                    "build a new one instead, e.g. Sequential(*layers)"
                )
            seen[name] = i
        # names that all equal their indices are no names of their own
        self._names = None if all(own is None or own == str(i) for i, own in enumerate(names)) else names

    def _index(self, name: str) -> int | None:
        """The position of the entry called ``name``, or None."""
        names, entries = self.__dict__.get("_names"), self.__dict__.get("_list")
        if entries is None:  # (attributes set before __init__ made the list)
            return None
        if names is not None and name in names:
            return names.index(name)
        i = int(name) if name.isascii() and name.isdigit() else -1
        return i if 0 <= i < len(entries) and self._name(i) == name else None

    def __getattr__(self, name: str) -> Any:
        # only for names that are no ordinary attribute: ``seq.conv``, ``getattr(seq, "0")``
        i = self._index(name)
        if i is None:
            raise AttributeError(f"{type(self).__name__} has no attribute or entry {name!r}")
        return self._list[i]

    def __setattr__(self, name: str, value: Any) -> None:
        i = self._index(name)
        if i is None:
            super().__setattr__(name, value)
        else:  # ``seq.conv = Conv2d(...)`` replaces that layer (an attribute would shadow it)
            self[i] = value

    def append(self, module: Module) -> ModuleList:
        module = _check_module(module, f"{type(self).__name__} item {len(self._list)}")
        if self._names is not None:
            self._rename([*self._names, None])
        self._list.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        module = _check_module(module, f"{type(self).__name__} item")
        if self._names is not None:
            names = list(self._names)
            names.insert(index, None)
            self._rename(names)
        self._list.insert(index, module)

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
        if self._names is not None:
            names = list(self._names)
            del names[index]
            self._rename(names)
        del self._list[index]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list)


class Sequential(ModuleList):
    """Modules applied in order: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 3))(x)``.

    Indexing, ``len`` and iteration work as on a list. ``Sequential(OrderedDict([("conv", ...),
    ("relu", ...)]))`` (or a plain dict) names the layers by the keys, as in PyTorch: ``seq.conv``,
    state_dict keys ``conv.weight``; a layer appended later is named by its index. A slice is again
    a Sequential and keeps the names (``seq[1:]`` of a plain one holds ``"1"``, ``"2"``..., as in
    PyTorch). Unlike PyTorch, deleting a layer keeps the other layers' own names (PyTorch
    renumbers them all).
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        named = len(modules) == 1 and isinstance(modules[0], Mapping)
        if len(modules) == 1 and not named and not isinstance(modules[0], Module):
            raise ConfigError(
                f"Sequential takes modules as separate arguments or one dict of named modules, got one "
                f"{type(modules[0]).__name__}; write Sequential(*layers)"
            )
        if not named:
            super().__init__(modules)  # type: ignore[arg-type]  # (each is checked there)
            return
        super().__init__()
        layers: Mapping[str, Module] = modules[0]  # type: ignore[assignment]
        for key, m in layers.items():
            _check_name(key, "Sequential")
            if key in vars(self) or hasattr(type(self), key):
                raise ConfigError(f"Sequential: a layer cannot be named {key!r}, an attribute of Sequential")
            _check_module(m, f"Sequential[{key!r}]")
        self._rename(list(layers))
        self._list.extend(layers.values())

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return Sequential({name: m for name, m in list(self._items())[index]})
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
        self._dict[_check_name(key, "ModuleDict")] = _check_module(module, f"ModuleDict[{key!r}]")

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
