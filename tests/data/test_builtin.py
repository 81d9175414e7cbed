"""Built-in datasets load with the right shapes, dtypes and task; unknown names list the valid ones."""

from __future__ import annotations

import numpy as np
import pytest

from graphgrad.data import DataLoader, dataset_names, load_dataset
from graphgrad.errors import ConfigError

EXPECTED = {  # name: (examples, features, task, classes)
    "digits": (1797, 64, "classification", 10),
    "iris": (150, 4, "classification", 3),
    "wine": (178, 13, "classification", 3),
    "breast_cancer": (569, 30, "classification", 2),
    "diabetes": (442, 10, "regression", 0),
    "moons": (1000, 2, "classification", 2),
    "circles": (1000, 2, "classification", 2),
    "spirals": (1000, 2, "classification", 3),
    "xor": (1000, 2, "classification", 2),
}


def test_dataset_names():
    assert dataset_names() == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_builtin_dataset_shapes_and_task(name):
    n, d, task, k = EXPECTED[name]
    b = load_dataset(name)
    assert b.name == name and b.task == task and b.n_classes == k
    assert b.X.shape == (n, d) and b.X.dtype == np.float32 and np.isfinite(b.X).all()
    assert b.y.shape == (n,) and len(b.feature_names) == d
    if task == "classification":
        assert b.y.dtype == np.int64 and len(b.target_names) == k
        assert sorted(np.unique(b.y).tolist()) == list(range(k))  # every class present
    else:
        assert b.y.dtype == np.float32 and b.target_names == []
    xb, yb = next(iter(DataLoader(b.to_dataset(), batch_size=8)))
    assert xb.shape == (8, d)


def test_default_is_digits_and_names_are_forgiving():
    assert load_dataset().name == "digits"
    assert load_dataset("Breast-Cancer").name == "breast_cancer"
    assert load_dataset("iris").target_names == ["setosa", "versicolor", "virginica"]


def test_synthetic_datasets_follow_the_seed():
    for name in ("moons", "circles", "spirals", "xor"):
        a, b, c = load_dataset(name, seed=1), load_dataset(name, seed=1), load_dataset(name, seed=2)
        assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
        assert not np.array_equal(a.X, c.X)
    small = load_dataset("spirals", n_samples=30)
    assert small.X.shape == (30, 2) and np.bincount(small.y).tolist() == [10, 10, 10]


def test_xor_labels_follow_the_quadrants():
    b = load_dataset("xor", seed=3)
    assert np.array_equal(b.y, (b.X[:, 0] * b.X[:, 1] < 0).astype(np.int64))
    assert b.X.min() >= -1 and b.X.max() <= 1


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown dataset 'mnist'; valid names: digits, iris, wine, "
                                          r"breast_cancer, diabetes, moons, circles, spirals, xor"):
        load_dataset("mnist")
    with pytest.raises(ConfigError, match="n_samples applies to the synthetic datasets"):
        load_dataset("iris", n_samples=10)
