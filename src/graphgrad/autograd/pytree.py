"""Nested arguments: tuples, lists and dicts of arrays, flattened to a list of leaves and rebuilt.

The function transforms take and return such structures (JAX calls them pytrees): a model's
parameters as ``{"w": w, "b": b}``, a list of layers, a tuple of outputs. :func:`flatten` turns
one into its leaves and a :class:`TreeSpec` that :func:`unflatten` uses to put leaves back in the
same places. A leaf is anything but a tuple, list or dict, with one exception: a (nested) list or
tuple of plain Python numbers is one array, as NumPy reads it (``grad(f)([1.0, 2.0])`` passes
``f`` one tensor). Dicts keep their insertion order; named tuples are rebuilt as the same named
tuple. :func:`flatten_as` reads a second structure (a tangent, a cotangent) along a known spec,
and :func:`leaf_paths` gives each leaf's path in Python's indexing syntax (``"['w'][1]"``), so an
error can say which leaf is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TreeSpec", "flatten", "flatten_as", "leaf_paths", "map_leaves", "unflatten"]

_NUMBER = (bool, int, float, complex)


@dataclass(frozen=True)
class TreeSpec:
    """The shape of a nested structure: ``kind`` is ``"leaf"``, ``"tuple"``, ``"list"`` or ``"dict"``;
    ``keys`` are a dict's keys (in order); ``node_type`` rebuilds a tuple subclass (named tuples)
    or a dict subclass (``OrderedDict``, ``defaultdict`` with its ``default_factory``)."""

    kind: str
    children: tuple[TreeSpec, ...] = ()
    keys: tuple[Any, ...] = ()
    node_type: type | None = None
    default_factory: Any = None  # a defaultdict's, so the rebuilt one behaves the same

    @property
    def num_leaves(self) -> int:
        return 1 if self.kind == "leaf" else sum(c.num_leaves for c in self.children)

    def describe(self) -> str:
        """The structure in brief, leaves as ``*``: ``{'w': *, 'b': (*, *)}``."""
        if self.kind == "leaf":
            return "*"
        inner = [c.describe() for c in self.children]
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {s}" for k, s in zip(self.keys, inner)) + "}"
        if self.kind == "list":
            return "[" + ", ".join(inner) + "]"
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"


LEAF = TreeSpec("leaf")


def flatten(tree: Any) -> tuple[list[Any], TreeSpec]:
    """The leaves of ``tree`` in order (depth first) and the spec that rebuilds it."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _numbers_only(seq: Any) -> bool:
    """A non-empty (nested) list or tuple holding only Python numbers: an array in NumPy's reading."""
    if isinstance(seq, _NUMBER):
        return True
    if isinstance(seq, (tuple, list)) and not hasattr(seq, "_fields"):
        return len(seq) > 0 and all(_numbers_only(v) for v in seq)
    return False


def _flatten(tree: Any, leaves: list[Any]) -> TreeSpec:
    if isinstance(tree, dict):
        keys = tuple(tree)
        factory = tree.default_factory if isinstance(tree, defaultdict) else None
        return TreeSpec("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys, type(tree), factory)
    if isinstance(tree, (tuple, list)) and not _numbers_only(tree):
        kind = "list" if isinstance(tree, list) else "tuple"
        return TreeSpec(kind, tuple(_flatten(v, leaves) for v in tree), (), type(tree))
    leaves.append(tree)
    return LEAF


def unflatten(spec: TreeSpec, leaves: Sequence[Any]) -> Any:
    """``tree`` with the structure ``spec`` and the given ``leaves`` in place of the old ones."""
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"unflatten: {spec.describe()} holds {spec.num_leaves} leaves, got {len(leaves)}")
    return _build(spec, iter(leaves))


def _build(spec: TreeSpec, it: Any) -> Any:
    if spec.kind == "leaf":
        return next(it)
    values = [_build(c, it) for c in spec.children]
    t: Any = spec.node_type
    if spec.kind == "dict":
        built = dict(zip(spec.keys, values))
        if t is None or t is dict:
            return built
        return t(spec.default_factory, built) if issubclass(t, defaultdict) else t(built)
    if spec.kind == "list":
        return values if t is None or t is list else t(values)
    if t is None or t is tuple:
        return tuple(values)
    if hasattr(t, "_fields"):  # a named tuple: positional fields
        return t(*values)
    return t(values)


def flatten_as(spec: TreeSpec, tree: Any, name: str) -> list[Any]:
    """The leaves of ``tree`` read along ``spec``: where ``spec`` has a container, ``tree`` must have
    the same kind with the same length or keys; where ``spec`` has a leaf, anything goes (a list of
    numbers for an array leaf, say). Raises ``ValueError`` naming ``name`` and the path that differs."""
    leaves: list[Any] = []
    _flatten_as(spec, tree, name, leaves)
    return leaves


def _flatten_as(spec: TreeSpec, tree: Any, path: str, leaves: list[Any]) -> None:
    if spec.kind == "leaf":
        leaves.append(tree)
        return
    want = {"dict": dict, "list": list, "tuple": tuple}[spec.kind]
    if not isinstance(tree, want) or (spec.kind != "dict" and isinstance(tree, dict)):
        raise ValueError(f"{path}: expected a {spec.kind} shaped {spec.describe()}, got {type(tree).__name__}")
    if spec.kind == "dict":
        if set(tree) != set(spec.keys):
            raise ValueError(f"{path}: expected the keys {list(spec.keys)}, got {list(tree)}")
        for k, child in zip(spec.keys, spec.children):
            _flatten_as(child, tree[k], f"{path}[{k!r}]", leaves)
        return
    if len(tree) != len(spec.children):
        raise ValueError(f"{path}: expected a {spec.kind} of {len(spec.children)} entries, got {len(tree)}")
    for i, (child, value) in enumerate(zip(spec.children, tree)):
        _flatten_as(child, value, f"{path}[{i}]", leaves)


def leaf_paths(spec: TreeSpec, prefix: str = "") -> list[str]:
    """Each leaf's path in indexing syntax, in leaf order: ``["[0]", "['w']", "['b'][1]"]``."""
    if spec.kind == "leaf":
        return [prefix]
    keys = spec.keys if spec.kind == "dict" else range(len(spec.children))
    paths: list[str] = []
    for k, child in zip(keys, spec.children):
        paths.extend(leaf_paths(child, f"{prefix}[{k!r}]"))
    return paths


def map_leaves(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``tree`` with each leaf ``x`` replaced by ``fn(x, *matching leaves of rest)``; the trees in
    ``rest`` must have ``tree``'s structure."""
    leaves, spec = flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_spec = flatten(r)
        if r_spec != spec:
            raise ValueError(f"map_leaves: structures differ: {spec.describe()} and {r_spec.describe()}")
        others.append(r_leaves)
    return unflatten(spec, [fn(x, *(o[i] for o in others)) for i, x in enumerate(leaves)])
