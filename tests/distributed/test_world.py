"""The distributed API in a world of one process (no launcher, or no mpi4py), and its pure parts."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.distributed import comm as world_module
from graphgrad.distributed.consistency import describe, first_difference
from graphgrad.distributed.ddp import DistributedDataParallel
from graphgrad.distributed.reducer import make_buckets
from graphgrad.errors import ConfigError
from tests.distributed.mpi_harness import SRC, needs_sampler_argument

LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS")
INSTALL = "pip install 'graphgrad[mpi]'"


@pytest.fixture
def fresh_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """No world joined yet, no launcher variables, and mpi4py not importable."""
    monkeypatch.setattr(world_module, "_world", None)
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `from mpi4py import MPI` now raises ImportError


def test_without_mpi4py_a_plain_process_is_a_world_of_one(fresh_world: None) -> None:
    from graphgrad import distributed as dist

    w = dist.init()
    assert (w.rank, w.size, w.comm, dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, None, 0, 1, True)
    assert dist.init() is w
    dist.barrier()
    a = np.arange(4.0)
    assert dist.all_reduce(a) is a and np.array_equal(a, np.arange(4.0))
    assert np.array_equal(dist.broadcast(a), np.arange(4.0))
    assert dist.all_gather_json({"x": [1, 2]}) == [{"x": [1, 2]}]


def test_started_by_a_launcher_without_mpi4py_says_what_to_install(fresh_world: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(ConfigError) as info:
        world_module.init()
    assert str(info.value) == (
        "this program was started as 4 processes (by mpiexec, srun or similar), but MPI support is not "
        f"installed, so each process would train alone; install it with: {INSTALL}")
    assert world_module.init(mpi=False).size == 1  # asked for explicitly: each process alone


def test_asking_for_mpi_without_mpi4py_says_what_to_install(fresh_world: None) -> None:
    with pytest.raises(ConfigError, match=r"^MPI support needs mpi4py and an MPI library; install them with: "
                       r"pip install 'graphgrad\[mpi\]'$"):
        world_module.init(mpi=True)


def test_an_mpiexec_of_another_mpi_library_is_refused() -> None:
    # mpi4py's MPI sees a world of 1 while the launcher variables say 2: the classic mix-up.
    pytest.importorskip("mpi4py")
    env = dict(os.environ, PMI_SIZE="2", PYTHONPATH=SRC)
    code = "from graphgrad import distributed as d\ntry:\n    d.init()\nexcept Exception as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60).stdout
    assert out.startswith("the launcher started 2 processes but MPI sees each as a world of 1")


def test_all_reduce_and_broadcast_check_their_arguments(fresh_world: None) -> None:
    with pytest.raises(ConfigError, match="all_reduce: unknown op 'mean'; valid ops: sum, max, min"):
        world_module.all_reduce(np.zeros(2), op="mean")
    with pytest.raises(ConfigError, match="broadcast needs a writable C-contiguous NumPy array, got list"):
        world_module.broadcast([1.0])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="all_reduce needs a writable C-contiguous"):
        world_module.all_reduce(np.zeros((3, 4))[:, ::2])


def test_abort_in_a_world_of_one_exits_after_one_line(fresh_world: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        world_module.abort("disk full\nmore detail", code=3)
    assert info.value.code == 3
    assert capsys.readouterr().err == "graphgrad: disk full\n"


def small_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))


def test_ddp_in_a_world_of_one_is_the_model_under_its_own_names(fresh_world: None) -> None:
    model = small_model()
    ddp = DistributedDataParallel(model)
    assert ddp.module is model and ddp.reducer is None
    x = gg.Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    assert np.array_equal(ddp(x).data, model(x).data)
    assert list(ddp.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in ddp.named_parameters()] == list(ddp.state_dict())
    assert all(a is b for a, b in zip(ddp.parameters(), model.parameters()))
    other = small_model()
    other[0].weight.data[...] = 7.0
    ddp.load_state_dict(other.state_dict())
    assert np.all(model[0].weight.data == 7.0)
    ddp.eval()
    assert not model.training and not model[0].training
    with ddp.no_sync():
        nn.functional.cross_entropy(ddp(x), gg.Tensor(np.zeros(5, dtype=np.int64))).backward()
    assert model[0].weight.grad is not None


def test_ddp_checks_its_arguments(fresh_world: None) -> None:
    with pytest.raises(ConfigError, match="DistributedDataParallel wraps a Module, got list"):
        DistributedDataParallel([small_model()])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="bucket_cap_mb must be a positive number, got 0"):
        DistributedDataParallel(small_model(), bucket_cap_mb=0)


def test_first_difference_names_what_differs_in_words() -> None:
    a = describe(small_model())
    assert first_difference(a, describe(small_model()), 1) is None
    wider = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    assert first_difference(a, describe(wider), 2) == (
        "parameter '0.weight' has shape (4, 3) on rank 0 but (5, 3) on rank 2")
    doubled = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.ReLU(), nn.Linear(4, 2))
    assert first_difference(a, describe(doubled), 1) == (
        "parameter '0.weight' has dtype float32 on rank 0 but float64 on rank 1")
    frozen = small_model()
    frozen[2].bias.requires_grad = False
    assert first_difference(a, describe(frozen), 1) == (
        "parameter '2.bias' is trained on rank 0 but frozen (requires_grad=False) on rank 1")
    renamed = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert first_difference(a, describe(renamed), 1) == (
        "entry 2 is parameter '2.weight' on rank 0 but parameter '1.weight' on rank 1")
    shorter = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
    assert first_difference(a, describe(shorter), 1) == (
        "rank 0 has 4 parameters and buffers, rank 1 has 3: parameter '2.bias' exists only on rank 0")
    assert first_difference(describe(shorter), a, 3) == (
        "rank 3 has 4 parameters and buffers, rank 0 has 3: parameter '2.bias' exists only on rank 3")


def test_buckets_follow_reverse_parameter_order_size_cap_and_dtype() -> None:
    model = nn.Sequential(nn.Linear(10, 20, rng=0), nn.ReLU(), nn.Linear(20, 5, rng=0), nn.ReLU(),
                          nn.Linear(5, 3, rng=0, dtype=np.float64))
    named = list(model.named_parameters())
    # bytes: 0.weight 800, 0.bias 80, 2.weight 400, 2.bias 20 (float32); 4.weight 120, 4.bias 24 (float64)
    buckets = make_buckets(named, cap_bytes=450)
    assert [b.names for b in buckets] == [["4.bias", "4.weight"], ["2.bias", "2.weight"], ["0.bias"], ["0.weight"]]
    assert [b.buffer.dtype for b in buckets] == [np.float64, np.float32, np.float32, np.float32]
    assert [b.buffer.size for b in buckets] == [18, 105, 20, 200]
    one = make_buckets(named, cap_bytes=10**6)
    assert [b.names for b in one] == [["4.bias", "4.weight"], ["2.bias", "2.weight", "0.bias", "0.weight"]]


@needs_sampler_argument
def test_prepare_splits_the_global_batch_over_the_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphgrad.data import DataLoader, TensorDataset
    from graphgrad.distributed import prepare, shard_loader

    data = TensorDataset(np.zeros((20, 3), dtype=np.float32), np.zeros(20, dtype=np.int64))
    monkeypatch.setattr(world_module, "_world", world_module.World(0, 1))
    ddp, loader = prepare(small_model(), DataLoader(data, batch_size=6, shuffle=True), seed=1)
    assert isinstance(ddp, DistributedDataParallel) and loader.batch_size == 6 and len(loader) == 4
    # Three ranks: each takes every third example of each global batch of 6; together they see
    # exactly the batches of one process (same order for any number of ranks).
    numbered = TensorDataset(np.arange(20, dtype=np.float32)[:, None], np.zeros(20, dtype=np.int64))
    whole = [xb.data[:, 0].tolist() for xb, _ in shard_loader(DataLoader(numbered, batch_size=6, shuffle=True),
                                                               seed=1)]
    parts = []
    for rank in range(3):
        monkeypatch.setattr(world_module, "_world", world_module.World(rank, 3))
        third = shard_loader(DataLoader(numbered, batch_size=6, shuffle=True), seed=1)
        assert third.batch_size == 6 and len(third) == 4  # global batches: 6, 6, 6, then 2
        parts.append([xb.data[:, 0].tolist() for xb, _ in third])
    assert [len(p) for p in parts[2]] == [2, 2, 2, 0]  # the last batch of 2 leaves rank 2 an empty part
    for k, batch in enumerate(whole):
        assert sorted(batch) == sorted(parts[0][k] + parts[1][k] + parts[2][k])
        assert parts[1][k] == batch[1::3]
    assert sorted(sum(whole, [])) == list(range(20))
    with pytest.raises(ConfigError, match=r"^batch size 32 cannot be split evenly over 3 ranks; choose a multiple"):
        shard_loader(DataLoader(data, batch_size=32), seed=1)
