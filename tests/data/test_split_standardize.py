"""Stratified splits keep class proportions; the Standardizer uses training statistics only."""

from __future__ import annotations

import json

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.data import Standardizer, stratified_split
from graphgrad.errors import ConfigError, DataError, ShapeError


def labels():
    # 3 classes with 100 / 60 / 40 members, shuffled
    y = np.repeat([0, 1, 2], [100, 60, 40])
    return np.random.default_rng(0).permutation(y)


def test_stratified_split_is_disjoint_covering_and_keeps_proportions():
    y = labels()
    s = stratified_split(y, test_size=0.2, val_size=0.1, seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (140, 20, 40)
    both = np.concatenate([s.train, s.val, s.test])
    assert sorted(both.tolist()) == list(range(200))
    for part, frac in ((s.test, 0.2), (s.val, 0.1)):
        counts = np.bincount(y[part], minlength=3)
        assert counts.tolist() == [int(100 * frac), int(60 * frac), int(40 * frac)]
    assert np.bincount(y[s.train]).tolist() == [70, 42, 28]
    assert all(np.all(np.diff(p) > 0) for p in s)  # sorted, no repeats


def test_stratified_split_seeded_and_rounding_exact_total():
    y = np.repeat([0, 1, 2], [7, 5, 3])  # quotas 2.1 / 1.5 / 0.9 for test_size 0.3
    a = stratified_split(y, test_size=0.3, seed=1)
    b = stratified_split(y, test_size=0.3, seed=1)
    c = stratified_split(y, test_size=0.3, seed=2)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)
    assert len(a.test) == round(0.3 * 15) == 4 and len(a.val) == 0
    counts = np.bincount(y[a.test], minlength=3)
    assert counts.sum() == 4 and np.all(np.abs(counts - np.array([2.1, 1.5, 0.9])) < 1)


def test_stratified_split_keeps_one_example_per_class_in_train():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    s = stratified_split(y, test_size=0.4, val_size=0.4, seed=0)
    assert 1 in y[s.train] and 0 in y[s.train]


def test_float_targets_get_a_plain_random_split():
    y = np.linspace(0, 1, 50)
    s = stratified_split(y, test_size=0.2, seed=0)
    assert len(s.test) == 10 and len(s.train) == 40
    assert sorted(np.concatenate(s).tolist()) == list(range(50))


def test_stratified_split_bad_sizes():
    with pytest.raises(ConfigError, match=r"test_size must be a fraction in \[0, 1\), got 1.5"):
        stratified_split(labels(), test_size=1.5)
    with pytest.raises(ConfigError, match="test_size \\+ val_size must be < 1"):
        stratified_split(labels(), test_size=0.6, val_size=0.5)
    with pytest.raises(DataError, match="empty"):
        stratified_split([], test_size=0.2)


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal([1.0, -2.0, 5.0], [2.0, 0.5, 3.0], size=(50, 3)).astype(np.float32)
    test = train[:10] * 10 + 100
    st = Standardizer().fit(train)
    np.testing.assert_allclose(st.mean, train.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(st.std, train.astype(np.float64).std(axis=0))
    z = st.transform(test)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, (test - st.mean) / st.std, rtol=1e-5)
    zt = st.transform(train)
    np.testing.assert_allclose(zt.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(zt.std(axis=0), 1, atol=1e-5)
    assert abs(z.mean()) > 10  # the test data is not re-centred on its own statistics
    np.testing.assert_allclose(st.inverse_transform(z), test, rtol=1e-5)


def test_standardizer_zero_variance_tensor_input_and_json_state():
    x = np.array([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]])
    st = Standardizer()
    out = st.fit_transform(gg.Tensor(x))
    assert isinstance(out, gg.Tensor) and out.dtype == np.float64
    np.testing.assert_allclose(out.data[:, 1], 0.0)  # constant feature: centred, not divided by 0
    np.testing.assert_allclose(out.data[:, 0], np.array([-1, 0, 1]) / np.sqrt(2 / 3))
    state = json.loads(json.dumps(st.state_dict()))
    assert state == {"mean": [2.0, 3.0], "std": [np.sqrt(2 / 3), 1.0]}
    again = Standardizer.from_state_dict(state)
    np.testing.assert_array_equal(again.transform(x), st.transform(x))


def test_standardizer_errors():
    with pytest.raises(DataError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    st = Standardizer().fit(np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="fitted on 2 features, got an array with 3"):
        st.transform(np.zeros((1, 3)))
    with pytest.raises(DataError, match=r"non-finite value nan at row 1, feature 0"):
        Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(DataError, match="std > 0"):
        Standardizer.from_state_dict({"mean": [0.0], "std": [0.0]})
