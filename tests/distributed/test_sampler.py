"""DistributedSampler: PyTorch's sharding semantics, checked as properties and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphgrad.data import DataLoader, TensorDataset
from graphgrad.data.sampler import DistributedSampler
from graphgrad.distributed import comm
from graphgrad.errors import ConfigError
from tests.distributed.mpi_harness import needs_sampler_argument


def shards(n: int, ranks: int, **kwargs: object) -> list[list[int]]:
    return [list(DistributedSampler(range(n), num_replicas=ranks, rank=r, **kwargs)) for r in range(ranks)]  # type: ignore[arg-type]


@given(n=st.integers(0, 40), ranks=st.integers(1, 6), drop_last=st.booleans(), shuffle=st.booleans(),
       epoch=st.integers(0, 3))
def test_shards_have_equal_length_and_cover_the_data(n: int, ranks: int, drop_last: bool, shuffle: bool,
                                                     epoch: int) -> None:
    parts = []
    for r in range(ranks):
        s = DistributedSampler(range(n), num_replicas=ranks, rank=r, shuffle=shuffle, seed=11, drop_last=drop_last)
        s.set_epoch(epoch)
        parts.append(s.indices())
    per_rank = n // ranks if drop_last else -(-n // ranks)
    assert all(len(p) == per_rank for p in parts)
    together = np.concatenate(parts)
    assert set(together.tolist()) <= set(range(n))
    if drop_last:
        assert len(set(together.tolist())) == len(together) == ranks * (n // ranks)  # disjoint, nothing repeated
    else:
        assert set(together.tolist()) == set(range(n))  # every example, padding repeats at most ranks - 1
        assert len(together) - n == (-n) % ranks
    # The shares interleave into the epoch's order: position i belongs to rank i % ranks.
    order = DistributedSampler(range(n), 1, 0, shuffle=shuffle, seed=11)
    order.set_epoch(epoch)
    merged = np.empty(ranks * per_rank, dtype=np.int64)
    for r, p in enumerate(parts):
        merged[r::ranks] = p
    assert np.array_equal(merged[: min(n, len(merged))], order.indices()[: min(n, len(merged))])


@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("n", [0, 1, 5, 12, 13])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_equal_pytorch(n: int, ranks: int, drop_last: bool) -> None:
    torch_data = pytest.importorskip("torch.utils.data")
    theirs = [list(torch_data.DistributedSampler(range(n), num_replicas=ranks, rank=r, shuffle=False,
                                                 drop_last=drop_last)) for r in range(ranks)]
    assert shards(n, ranks, shuffle=False, drop_last=drop_last) == theirs


def test_the_order_depends_on_seed_and_epoch_only() -> None:
    a = DistributedSampler(range(50), 2, 0, seed=1)
    b = DistributedSampler(range(50), 2, 1, seed=1)
    full = np.empty(50, dtype=np.int64)
    full[0::2], full[1::2] = a.indices(), b.indices()
    assert sorted(full.tolist()) == list(range(50)) and full.tolist() != list(range(50))  # shuffled
    assert np.array_equal(full, np.random.default_rng(1 + 0).permutation(50))  # seed + epoch, documented
    first = a.indices()
    a.set_epoch(1)
    assert not np.array_equal(a.indices(), first)
    a.set_epoch(0)
    assert np.array_equal(a.indices(), first)
    assert not np.array_equal(DistributedSampler(range(50), 2, 0, seed=2).indices(), first)


@pytest.mark.parametrize("ranks", [2, 3])
def test_rank_batches_together_are_the_single_process_batches(ranks: int) -> None:
    n, global_batch = 40, 6
    whole = DistributedSampler(range(n), 1, 0, seed=4).indices()
    local = global_batch // ranks
    mine = [DistributedSampler(range(n), ranks, r, seed=4).indices() for r in range(ranks)]
    for k in range(n // global_batch):
        together = sorted(i for m in mine for i in m[k * local : (k + 1) * local].tolist())
        assert together == sorted(whole[k * global_batch : (k + 1) * global_batch].tolist())


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError, match=r"^DistributedSampler: rank 2 is not in 0..1 for num_replicas=2$"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ConfigError, match="DistributedSampler: num_replicas must be an integer >= 1, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ConfigError, match="DistributedSampler: epoch must be an integer >= 0, got -1"):
        DistributedSampler(range(4), 1, 0).set_epoch(-1)


def test_without_mpi_the_sampler_is_rank_0_of_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "_world", comm.World(0, 1))
    s = DistributedSampler(range(7), shuffle=False)
    assert (s.rank, s.num_replicas, list(s)) == (0, 1, list(range(7)))
    assert repr(s) == ("DistributedSampler(rank 0 of 1, 7 of 7 examples, shuffle=False, seed=0, drop_last=False, "
                       "epoch=0)")


@needs_sampler_argument
def test_data_loader_takes_the_sampler_and_sets_its_epoch() -> None:
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    ds = TensorDataset(x, np.arange(10))
    loaders = [DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, r, seed=9)) for r in (0, 1)]  # type: ignore[call-arg]
    assert len(loaders[0]) == 3
    for epoch in (0, 1):
        expected = [DistributedSampler(ds, 2, r, seed=9) for r in (0, 1)]
        for e in expected:
            e.set_epoch(epoch)
        for loader, e in zip(loaders, expected):
            got = np.concatenate([yb.data for _, yb in loader])
            assert np.array_equal(got, e.indices())
    with pytest.raises(ConfigError, match="give shuffle=True or a sampler, not both"):
        DataLoader(ds, shuffle=True, sampler=DistributedSampler(ds, 1, 0))  # type: ignore[call-arg]


@needs_sampler_argument
def test_data_loader_with_a_sampler_resumes_mid_epoch_exactly() -> None:
    ds = TensorDataset(np.arange(30, dtype=np.float32).reshape(15, 2), np.arange(15))

    def loader() -> DataLoader:
        return DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 2, 1, seed=3))  # type: ignore[call-arg]

    original = loader()
    list(original)  # epoch 0
    it = iter(original)
    next(it)
    state = original.state_dict()
    rest = [yb.data.tolist() for _, yb in it] + [yb.data.tolist() for _, yb in original]
    resumed = loader()
    resumed.load_state_dict(state)
    assert [yb.data.tolist() for _, yb in resumed] + [yb.data.tolist() for _, yb in resumed] == rest
