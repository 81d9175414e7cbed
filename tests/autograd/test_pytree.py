"""The nested-argument module: flatten and unflatten are inverse, paths name each leaf, and a
second structure is read along a known one with errors that say where it differs."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphgrad.autograd.pytree import flatten, flatten_as, leaf_paths, map_leaves, unflatten

Pair = namedtuple("Pair", ["w", "b"])

leaves = st.one_of(st.integers(-5, 5).map(np.array), st.floats(-1, 1).map(lambda v: np.array([v, v])))
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text("abc", min_size=1, max_size=2), inner, max_size=3),
    ),
    max_leaves=8,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))


@given(trees)
def test_unflatten_inverts_flatten(tree: Any) -> None:
    found, spec = flatten(tree)
    assert len(found) == spec.num_leaves == len(leaf_paths(spec))
    assert _same(unflatten(spec, found), tree)
    assert flatten_as(spec, tree, "t") == found


def test_paths_use_indexing_syntax_and_leaf_order() -> None:
    tree = {"w": [np.ones(2), np.zeros(3)], "b": (np.ones(1),), "s": 2.0}
    found, spec = flatten(tree)
    assert leaf_paths(spec) == ["['w'][0]", "['w'][1]", "['b'][0]", "['s']"]
    assert found[1].shape == (3,) and found[3] == 2.0
    assert spec.describe() == "{'w': [*, *], 'b': (*,), 's': *}"


def test_named_tuples_and_dict_subclasses_come_back_as_themselves() -> None:
    tree = OrderedDict(p=Pair(np.ones(2), 3.0))
    rebuilt = unflatten(flatten(tree)[1], [np.zeros(2), 4.0])
    assert type(rebuilt) is OrderedDict and type(rebuilt["p"]) is Pair
    assert rebuilt["p"].b == 4.0


def test_a_list_of_plain_numbers_is_one_array_leaf() -> None:
    found, spec = flatten({"x": [1.0, 2.0], "m": [[1, 2], [3, 4]], "mixed": [np.ones(1), 2.0], "empty": []})
    assert found == [[1.0, 2.0], [[1, 2], [3, 4]], np.ones(1), 2.0]
    assert spec.describe() == "{'x': *, 'm': *, 'mixed': [*, *], 'empty': []}"


def test_flatten_as_reads_along_the_spec_and_names_where_it_differs() -> None:
    spec = flatten({"w": np.ones(2), "b": (np.ones(1), np.ones(1))})[1]
    assert flatten_as(spec, {"b": (1.0, [2.0]), "w": [1.0, 2.0]}, "t") == [[1.0, 2.0], 1.0, [2.0]]
    with pytest.raises(ValueError, match=r"^t\['b'\]: expected a tuple of 2 entries, got 3$"):
        flatten_as(spec, {"w": 1.0, "b": (1.0, 2.0, 3.0)}, "t")
    with pytest.raises(ValueError, match=r"^t: expected the keys \['w', 'b'\], got \['w'\]$"):
        flatten_as(spec, {"w": 1.0}, "t")
    with pytest.raises(ValueError, match=r"^t\['b'\]: expected a tuple shaped \(\*, \*\), got list$"):
        flatten_as(spec, {"w": 1.0, "b": [1.0, 2.0]}, "t")


def test_map_leaves_pairs_leaves_of_same_structures_and_refuses_others() -> None:
    out = map_leaves(lambda a, b: a + b, {"a": [1, np.ones(2)]}, {"a": [2, np.ones(2)]})
    assert out["a"][0] == 3 and np.array_equal(out["a"][1], [2.0, 2.0])
    with pytest.raises(ValueError, match="structures differ"):
        map_leaves(lambda a, b: a, (np.ones(1), np.ones(1)), [np.ones(1), np.ones(1)])
    with pytest.raises(ValueError, match=r"holds 2 leaves, got 1"):
        unflatten(flatten((np.ones(1), np.ones(1)))[1], [1])
