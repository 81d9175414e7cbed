"""A small schema check for JSON read back from disk (state.json may have been edited by hand).

A schema is written with Python values:

- a type: ``int`` (not bool), ``float`` (int accepted), ``str``, ``bool``, ``dict``, ``list``, or
  ``object`` (anything);
- a tuple of alternatives, where ``None`` stands for JSON null: ``(int, None)``;
- ``[item]``: a list whose every element matches ``item``;
- ``{key_type: value}`` with a type as its only key: a mapping whose every key and value match;
- ``{"name": schema, "?optional": schema}``: an object with those keys (others are allowed).

:func:`check_schema` raises :class:`~graphgrad.errors.CheckpointError` naming the path of the
first value that does not match. It walks with an explicit stack, and any value nested deeper
than ``MAX_DEPTH`` is refused, so a tampered file cannot exhaust the recursion limit later.
"""

from __future__ import annotations

from typing import Any

from graphgrad.errors import CheckpointError

MAX_DEPTH = 64


def _type_name(t: Any) -> str:
    return "null" if t is None else getattr(t, "__name__", str(t))


def _is(value: Any, t: Any) -> bool:
    if t is None:
        return value is None
    if t is object:
        return True
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, t)


def _describe(schema: Any) -> str:
    if isinstance(schema, tuple):
        return " or ".join(_describe(s) for s in schema)
    if isinstance(schema, list):
        return "a list"
    if isinstance(schema, dict):
        return "an object"
    return _type_name(schema)


def check_depth(value: Any, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse lists and objects nested deeper than ``max_depth`` (iteratively)."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, dict)):
            if depth >= max_depth:
                raise CheckpointError(f"{where}: nested more than {max_depth} levels deep")
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))


def check_schema(value: Any, schema: Any, where: str) -> None:
    """Raise CheckpointError unless ``value`` matches ``schema`` (see the module docstring)."""
    check_depth(value, where)
    stack: list[tuple[Any, Any, str]] = [(value, schema, "")]
    while stack:
        v, s, path = stack.pop()
        here = f"{where}{path}"
        if isinstance(s, tuple):
            matches = [alt for alt in s if _matches_shallow(v, alt)]
            if not matches:
                raise CheckpointError(f"{here}: expected {_describe(s)}, found {_found(v)}")
            stack.append((v, matches[0], path))
        elif isinstance(s, list):
            if not isinstance(v, list):
                raise CheckpointError(f"{here}: expected a list, found {_found(v)}")
            stack.extend((item, s[0], f"{path}[{i}]") for i, item in enumerate(v))
        elif isinstance(s, dict):
            if not isinstance(v, dict):
                raise CheckpointError(f"{here}: expected an object, found {_found(v)}")
            (first, item), = s.items() if len(s) == 1 else ((None, None),)
            if isinstance(first, type):
                for k, child in v.items():
                    if not _is(k, first):
                        raise CheckpointError(f"{here}: key {k!r} is not {_type_name(first)}")
                    stack.append((child, item, f"{path}.{k}"))
                continue
            for key, child_schema in s.items():
                optional = key.startswith("?")
                name = key[1:] if optional else key
                if name not in v:
                    if optional:
                        continue
                    raise CheckpointError(f"{here}: missing {name!r}")
                stack.append((v[name], child_schema, f"{path}.{name}"))
        elif not _is(v, s):
            raise CheckpointError(f"{here}: expected {_describe(s)}, found {_found(v)}")


def _matches_shallow(v: Any, s: Any) -> bool:
    if isinstance(s, list):
        return isinstance(v, list)
    if isinstance(s, dict):
        return isinstance(v, dict)
    return _is(v, s)


def _found(v: Any) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
