"""The models, optimizers and schedulers a step reaches through Python variables, as plan guards.

A plan calls the optimizer object it recorded. A step that reads its optimizer (or model, or
scheduler) through a closure variable, a global, a dict or an attribute would use a new object
once that variable is rebound (``holder["opt"] = Adam(...)``); the plan would not. At record time
:func:`reached` walks what the step function can read (its closure cells and the globals it names,
functions, dicts, lists, tuples and plain objects found there, a few levels deep) and returns a
:class:`Path` to each such object; the plan replays only while every path still leads to the same
object, and the step is recorded again otherwise.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import partial as functools_partial
from typing import Any

from graphgrad.nn.module import Module
from graphgrad.optim import lr_scheduler
from graphgrad.optim.optimizer import Optimizer

DEPTH = 4
"""Containers and functions followed from the step function before giving up."""
WIDTH = 64
"""Entries of one container or object looked at (a dataset's list is not walked)."""

_GONE = object()  # what a path leads to once a name, key or attribute no longer exists


class Path:
    """A way from a root object to a value: steps ``("cell",)``, ``("closure", i)``, ``("item", key)``,
    ``("attr", name)``. ``target`` follows it now (:data:`_GONE` if it breaks)."""

    __slots__ = ("root", "steps")

    def __init__(self, root: Any, steps: tuple[tuple[Any, ...], ...]) -> None:
        self.root, self.steps = root, steps

    @property
    def target(self) -> Any:
        value = self.root
        try:
            for step in self.steps:
                kind = step[0]
                if kind == "cell":
                    value = value.cell_contents
                elif kind == "closure":
                    value = value.__closure__[step[1]].cell_contents
                elif kind == "item":
                    value = value[step[1]]
                else:
                    value = getattr(value, step[1])
        except (LookupError, AttributeError, ValueError, TypeError):
            return _GONE
        return value

    def __eq__(self, other: object) -> bool:  # one per recording: the same guard if the same way
        return isinstance(other, Path) and other.root is self.root and other.steps == self.steps

    def __hash__(self) -> int:
        return hash((id(self.root), self.steps))

    def __repr__(self) -> str:
        return f"<Path {self.steps}>"


def reached(fn: Callable[..., Any]) -> list[tuple[Path, Any]]:
    """Each (path, object) for the optimizers, modules and schedulers ``fn`` can reach (see module doc)."""
    kinds = (Optimizer, Module, lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    found: list[tuple[Path, Any]] = []
    seen: set[int] = set()

    def visit(value: Any, root: Any, steps: tuple[tuple[Any, ...], ...], depth: int) -> None:
        if isinstance(value, kinds):
            found.append((Path(root, steps), value))
            return
        if depth >= DEPTH or id(value) in seen or isinstance(value, (type, types.ModuleType, str, bytes)):
            return
        seen.add(id(value))
        if isinstance(value, types.MethodType):
            visit(value.__self__, root, steps + (("attr", "__self__"),), depth + 1)
            visit(value.__func__, root, steps + (("attr", "__func__"),), depth + 1)
        elif isinstance(value, (types.FunctionType, functools_partial)):
            walk_function(value, root, steps, depth)
        elif isinstance(value, dict):
            for key in list(value)[:WIDTH]:
                if isinstance(key, (str, int)):
                    visit(value[key], root, steps + (("item", key),), depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value[:WIDTH]):
                visit(item, root, steps + (("item", i),), depth + 1)
        elif hasattr(value, "__dict__") and not callable(value):
            for name in list(vars(value))[:WIDTH]:
                visit(getattr(value, name, None), root, steps + (("attr", name),), depth + 1)

    def walk_function(f: Any, root: Any, steps: tuple[tuple[Any, ...], ...], depth: int) -> None:
        if isinstance(f, functools_partial):
            visit(f.func, root, steps + (("attr", "func"),), depth + 1)
            visit(f.args, root, steps + (("attr", "args"),), depth + 1)
            return
        for i, cell in enumerate(f.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # a cell not yet filled
                continue
            visit(value, root, steps + (("closure", i),), depth + 1)
        names = f.__globals__
        for name in f.__code__.co_names:
            if name in names:
                visit(names[name], names, (("item", name),), depth + 1)

    if isinstance(fn, (types.FunctionType, types.MethodType, functools_partial)):
        visit(fn, fn, (), 0)
    return found

