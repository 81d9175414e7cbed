"""DataLoader: every example once per epoch, reshuffled each epoch, seeded, exact resume; datasets and splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split
from graphgrad.errors import ConfigError, DataError, ShapeError


def ids_dataset(n=23):
    """Features encode the example index, so batches reveal the order."""
    x = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 3))
    return TensorDataset(x, np.arange(n))


def epoch_order(loader):
    return np.concatenate([yb.data for _, yb in loader])


def test_each_epoch_covers_every_example_once_in_a_new_order():
    loader = DataLoader(ids_dataset(23), batch_size=5, shuffle=True, generator=0)
    orders = [epoch_order(loader) for _ in range(4)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(23))
    assert len({tuple(o) for o in orders}) == 4  # all four epochs differ
    assert not np.array_equal(orders[0], np.arange(23))


def test_same_seed_same_order_and_generator_object_accepted():
    a = DataLoader(ids_dataset(), batch_size=4, shuffle=True, generator=7)
    b = DataLoader(ids_dataset(), batch_size=4, shuffle=True, generator=np.random.default_rng(7))
    c = DataLoader(ids_dataset(), batch_size=4, shuffle=True, generator=8)
    for _ in range(3):
        oa, ob, oc = epoch_order(a), epoch_order(b), epoch_order(c)
        assert np.array_equal(oa, ob)
        assert not np.array_equal(oa, oc)


def test_first_epoch_order_is_the_generators_permutation():
    loader = DataLoader(ids_dataset(10), batch_size=3, shuffle=True, generator=3)
    assert np.array_equal(epoch_order(loader), np.random.default_rng(3).permutation(10))


def test_batches_sizes_len_and_drop_last():
    ds = ids_dataset(23)
    keep = DataLoader(ds, batch_size=5)
    assert len(keep) == 5
    assert [yb.shape[0] for _, yb in keep] == [5, 5, 5, 5, 3]
    assert np.array_equal(epoch_order(keep), np.arange(23))  # no shuffle: dataset order
    drop = DataLoader(ds, batch_size=5, shuffle=True, drop_last=True, generator=0)
    assert len(drop) == 4
    sizes = [yb.shape[0] for _, yb in drop]
    assert sizes == [5, 5, 5, 5]
    order = epoch_order(drop)
    assert len(set(order.tolist())) == 20


def test_batch_size_one_is_per_example_sgd():
    loader = DataLoader(ids_dataset(6), batch_size=1, shuffle=True, generator=1)
    batches = list(loader)
    assert len(loader) == len(batches) == 6
    assert all(xb.shape == (1, 3) and yb.shape == (1,) for xb, yb in batches)
    assert sorted(int(yb.data[0]) for _, yb in batches) == list(range(6))


def test_batch_dtypes_and_tensor_type():
    xb, yb = next(iter(DataLoader(ids_dataset(), batch_size=4)))
    assert isinstance(xb, gg.Tensor) and isinstance(yb, gg.Tensor)
    assert xb.dtype == np.float32  # float64 features become float32
    assert yb.dtype == np.int64
    assert not xb.requires_grad
    kept = TensorDataset(np.zeros((4, 2)), np.arange(4, dtype=np.int32), keep_float64=True)
    xb, yb = next(iter(DataLoader(kept, batch_size=4)))
    assert xb.dtype == np.float64 and yb.dtype == np.int64
    half = TensorDataset(np.zeros((4, 2), dtype=np.float16))
    (xb,) = next(iter(DataLoader(half, batch_size=2)))
    assert xb.dtype == np.float16


def test_tensor_dataset_checks_first_dims_and_indexes():
    with pytest.raises(ShapeError, match=r"first dimension.*array 0: \(5, 2\), array 1: \(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ShapeError, match="scalar"):
        TensorDataset(np.float64(1.0))
    ds = TensorDataset(gg.Tensor(np.arange(6.0).reshape(3, 2)), [0, 1, 2])
    x1, y1 = ds[1]
    assert x1.data.tolist() == [2.0, 3.0] and int(y1.data) == 1
    assert len(ds) == 3


class SquaresDataset(Dataset):
    """A dataset without arrays: examples computed on access (exercises the generic collate path)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([float(i), float(i * i)]), i


def test_generic_dataset_goes_through_collate_with_same_rules():
    loader = DataLoader(SquaresDataset(), batch_size=3, shuffle=True, generator=2)
    batches = list(loader)
    assert len(batches) == 3
    xs = np.concatenate([xb.data for xb, _ in batches])
    ys = np.concatenate([yb.data for _, yb in batches])
    assert xs.dtype == np.float32 and ys.dtype == np.int64
    assert np.array_equal(xs[:, 1], ys.astype(np.float32) ** 2)
    assert sorted(ys.tolist()) == list(range(7))
    single = default_collate([np.ones(2), np.zeros(2)])
    assert isinstance(single, gg.Tensor) and single.shape == (2, 2)


def test_generic_and_fast_paths_give_identical_batches():
    class Plain(Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.x[i], self.y[i]

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((17, 4)), rng.integers(0, 3, 17)
    fast = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=5)
    slow = DataLoader(Plain(x, y), batch_size=4, shuffle=True, generator=5)
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert np.array_equal(fx.data, sx.data) and np.array_equal(fy.data, sy.data)


def test_fast_path_is_used_for_tensor_datasets_and_subsets():
    class Guard(TensorDataset):  # a subclass may override __getitem__, so it takes the generic path
        pass

    ds = ids_dataset(10)
    for d in (ds, Subset(ds, [9, 8, 7])):
        loader = DataLoader(d, batch_size=2)
        assert loader._fast is not None
    assert DataLoader(Guard(np.zeros((3, 1))), batch_size=2)._fast is None
    sub = Subset(Subset(ds, np.arange(10)[::-1]), [0, 2, 4])
    assert epoch_order(DataLoader(sub, batch_size=2)).tolist() == [9, 7, 5]


def test_bad_batch_size_and_generator_are_config_errors():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
            DataLoader(ids_dataset(), batch_size=bad)
    with pytest.raises(ConfigError, match="generator must be"):
        DataLoader(ids_dataset(), shuffle=True, generator="seed")


def run_epochs(loader, n_epochs):
    return [[yb.data.tolist() for _, yb in loader] for _ in range(n_epochs)]


@pytest.mark.parametrize("stop_after", [0, 1, 3, 5])
def test_resume_mid_epoch_gives_identical_remaining_batches_and_later_epochs(stop_after):
    reference = DataLoader(ids_dataset(23), batch_size=4, shuffle=True, generator=11)
    expected = run_epochs(reference, 4)  # 6 batches per epoch

    loader = DataLoader(ids_dataset(23), batch_size=4, shuffle=True, generator=11)
    list(loader)  # epoch 1 complete
    it = iter(loader)
    seen = [next(it)[1].data.tolist() for _ in range(stop_after)]
    state = json.loads(json.dumps(loader.state_dict()))  # must survive JSON
    assert state["batches_yielded"] == stop_after and state["epoch"] == 2

    restored = DataLoader(ids_dataset(23), batch_size=4, shuffle=True, generator=999)
    restored.load_state_dict(state)
    assert restored.state_dict() == state  # checkpointing again before iterating loses nothing
    rest = [yb.data.tolist() for _, yb in restored]
    assert seen + rest == expected[1]
    assert run_epochs(restored, 2) == expected[2:]
    assert restored.epoch == 4


def test_state_saved_after_last_batch_equals_state_after_the_loop():
    a = DataLoader(ids_dataset(9), batch_size=3, shuffle=True, generator=4)
    it = iter(a)
    for _ in range(3):
        next(it)
    inside = a.state_dict()
    with pytest.raises(StopIteration):
        next(it)
    assert a.state_dict() == inside
    assert inside["in_epoch"] is False and inside["batches_yielded"] == 0
    b = DataLoader(ids_dataset(9), batch_size=3, shuffle=True, generator=0)
    b.load_state_dict(inside)
    assert run_epochs(b, 2) == run_epochs(a, 2)


def test_resume_without_shuffle_and_state_checks():
    loader = DataLoader(ids_dataset(10), batch_size=3)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    other = DataLoader(ids_dataset(10), batch_size=3)
    other.load_state_dict(state)
    assert [yb.data.tolist() for _, yb in other] == [[3, 4, 5], [6, 7, 8], [9]]
    with pytest.raises(DataError, match="num_examples: saved 10, this loader 11"):
        DataLoader(ids_dataset(11), batch_size=3).load_state_dict(state)
    with pytest.raises(DataError, match="batch_size: saved 3, this loader 2"):
        DataLoader(ids_dataset(10), batch_size=2).load_state_dict(state)
    with pytest.raises(DataError, match=r"missing keys \['rng_state'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "rng_state"})


def test_mt19937_generator_state_round_trips_through_json():
    gen = np.random.Generator(np.random.MT19937(5))
    loader = DataLoader(ids_dataset(12), batch_size=5, shuffle=True, generator=gen)
    it = iter(loader)
    next(it)
    state = json.loads(json.dumps(loader.state_dict()))
    rest = [yb.data.tolist() for _, yb in it]
    restored = DataLoader(ids_dataset(12), batch_size=5, shuffle=True,
                          generator=np.random.Generator(np.random.MT19937(0)))
    restored.load_state_dict(state)
    assert [yb.data.tolist() for _, yb in restored] == rest
    with pytest.raises(ConfigError, match="'MT19937'.*'PCG64'"):
        DataLoader(ids_dataset(12), batch_size=5, shuffle=True, generator=0).load_state_dict(state)


def test_random_split_counts_fractions_disjoint_and_seeded():
    ds = ids_dataset(10)
    parts = random_split(ds, [6, 3, 1], generator=0)
    assert [len(p) for p in parts] == [6, 3, 1]
    all_idx = np.concatenate([p.indices for p in parts])
    assert sorted(all_idx.tolist()) == list(range(10))
    again = random_split(ds, [6, 3, 1], generator=0)
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))
    frac = random_split(ds, [0.5, 0.25, 0.25], generator=1)
    assert [len(p) for p in frac] == [6, 2, 2]  # floors 5, 2, 2; the leftover example goes to the first
    assert int(parts[1][0][1].data) == int(parts[1].indices[0])
    with pytest.raises(ConfigError, match=r"sum to 9, the dataset has 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ConfigError, match="fractions summing to 1"):
        random_split(ds, [0.5, 0.2])
