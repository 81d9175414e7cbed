"""Data parallelism over real MPI ranks: each test starts ``mpiexec -n N`` (about a second).

The workers (mpi_workers.py) write what each rank computed; the assertions compare it with a
single-process computation made here with the same model, data and optimizer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.distributed.mpi_harness import needs_sampler_argument, run_ok, run_workers
from tests.distributed.mpi_workers import (
    GLOBAL_BATCH,
    global_batches,
    make_data,
    make_model,
    make_optimizer,
    prepared_run,
    train,
)


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return dict(f)


def single_process(dtype: type, optimizer: str, batches: list[np.ndarray], n: int = 60) -> dict[str, np.ndarray]:
    """Rank 0's starting weights trained in one process on the whole global batches."""
    model = make_model(100, dtype)
    x, y = make_data(dtype, n)
    train(model, make_optimizer(optimizer, model.parameters()), x, y, batches)
    return model.state_dict()


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def assert_bitwise_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), f"ranks differ in {k}"


@pytest.mark.parametrize("ranks", [2, 3])
def test_ddp_steps_equal_single_process_steps_on_the_whole_batch(tmp_path: Path, ranks: int) -> None:
    # Every rank starts from different weights; DDP gives them rank 0's. Each rank takes every
    # ranks-th row of each global batch of 12; 5 steps. float64 (SGD + momentum) must agree with
    # one process to rounding (1e-12); float32 (Adam) to 1e-6 (summation order; measured 3e-8).
    run_ok("equal_step", tmp_path, ranks)
    for dtype, optimizer, tolerance in ((np.float64, "sgd", 1e-12), (np.float32, "adam", 1e-6)):
        name = np.dtype(dtype).name
        results = [load(tmp_path / f"{name}rank{r}.npz") for r in range(ranks)]
        reference = single_process(dtype, optimizer, global_batches(5))
        assert all(v.dtype == dtype for v in results[0].values())
        assert max_difference(results[0], reference) <= tolerance
        assert max_difference(results[0], single_process(dtype, optimizer, global_batches(4))) > 1e-4  # it trained
        for other in results[1:]:
            assert_bitwise_equal(results[0], other)


def test_ranks_stay_bitwise_equal_after_many_steps_with_different_dropout_masks(tmp_path: Path) -> None:
    run_ok("bitwise", tmp_path)
    assert_bitwise_equal(load(tmp_path / "rank0.npz"), load(tmp_path / "rank1.npz"))


def test_buckets_start_while_backward_is_still_running(tmp_path: Path) -> None:
    run_ok("overlap", tmp_path)
    for rank in (0, 1):
        events = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert events["buckets"] == [["5.bias", "5.weight", "3.bias"], ["3.weight"], ["0.bias", "0.weight"]]
        # The last layers' Allreduces start before backward reaches the first layer; the first
        # layer's bucket starts after; all are averaged once, at the end.
        assert events["sync"] == ["start 0", "start 1", "backward reached the first layer", "start 2", "averaged"]
        assert events["no_sync"] == ["backward reached the first layer"]  # nothing sent under no_sync


def test_no_sync_accumulates_locally_then_averages_the_sum(tmp_path: Path) -> None:
    run_ok("accumulate", tmp_path)
    model = make_model(100, np.float64)
    x, y = make_data(np.float64)
    from graphgrad import Tensor, nn

    for rows in global_batches(3):  # sum over micro-batches of the gradient of the global mean loss
        nn.functional.cross_entropy(model(Tensor(x[rows])), Tensor(y[rows])).backward()
    reference = {name: p.grad.data for name, p in model.named_parameters()}
    grads = [load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    local = [load(tmp_path / f"localrank{r}.npz") for r in (0, 1)]
    assert max_difference(grads[0], reference) <= 1e-12
    assert_bitwise_equal(grads[0], grads[1])
    assert max_difference(local[0], local[1]) > 1e-3  # under no_sync each rank kept its own gradient


def test_sampler_shards_are_disjoint_cover_the_data_and_keep_global_batches(tmp_path: Path) -> None:
    run_ok("sampler", tmp_path)
    shards = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for key in shards[0]:
        n, drop_last = int(key.split("-")[0]), key.split("-")[1] == "True"
        a, b = shards[0][key], shards[1][key]
        assert len(a) == len(b) == (n // 2 if drop_last else -(-n // 2))
        if n % 2 == 0 or drop_last:
            assert not set(a) & set(b)
        assert set(a) | set(b) == set(range(n)) or drop_last and len(set(a) | set(b)) == n - n % 2
    assert shards[0]["11-False-0"] != shards[0]["11-False-1"]  # a new order each epoch
    # Training on the shards equals training one process on the epoch's order in global batches.
    from graphgrad.data.sampler import DistributedSampler

    whole = DistributedSampler(range(60), num_replicas=1, rank=0, shuffle=True, seed=3)
    whole.set_epoch(2)
    order = whole.indices()
    batches = [order[k : k + GLOBAL_BATCH] for k in range(0, 60, GLOBAL_BATCH)]
    reference = single_process(np.float64, "sgd", batches)
    assert max_difference(load(tmp_path / "rank0.npz"), reference) <= 1e-12


def test_unused_parameters_are_averaged_when_declared(tmp_path: Path) -> None:
    run_ok("unused", tmp_path)
    result = load(tmp_path / "rank0.npz")
    reference = single_process(np.float64, "sgd", global_batches(2))
    spare = {k: result.pop(k) for k in list(result) if k.startswith("spare.")}
    assert np.abs(result.pop("offset")).max() < 1e-12  # softmax ignores a shift: zero gradient
    assert max_difference({k.removeprefix("body."): v for k, v in result.items()}, reference) <= 1e-12
    import graphgrad.nn as nn

    untouched = nn.Linear(2, 2, rng=0, dtype=np.float64)  # zero gradient, momentum SGD: unchanged
    assert np.array_equal(spare["spare.weight"], untouched.weight.data)


@needs_sampler_argument
def test_prepare_on_two_ranks_equals_prepare_on_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_ok("prepared", tmp_path)
    from graphgrad.distributed import comm

    monkeypatch.setattr(comm, "_world", comm.World(0, 1))
    reference = prepared_run().state_dict()
    results = [load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    assert max_difference(results[0], reference) <= 1e-12
    assert_bitwise_equal(results[0], results[1])


def finished_quickly(proc_start: float, limit: float = 30) -> None:
    assert time.perf_counter() - proc_start < limit, "the job took too long to end"


def test_parameter_without_gradient_is_reported_at_the_next_forward(tmp_path: Path) -> None:
    start = time.perf_counter()
    proc = run_workers("unused_refused", tmp_path, timeout=60)
    finished_quickly(start)
    assert proc.returncode != 0
    assert ("DistributedDataParallel: the last backward gave no gradient to parameters 'spare.weight', "
            "'spare.bias', so that step's gradients were not averaged over the ranks; pass "
            "find_unused_parameters=True") in proc.stderr


def test_models_that_differ_across_ranks_are_refused(tmp_path: Path) -> None:
    start = time.perf_counter()
    proc = run_workers("mismatch", tmp_path, timeout=60)
    finished_quickly(start)
    assert proc.returncode != 0
    assert ("DistributedDataParallel: the model on rank 1 differs from rank 0's: parameter '0.weight' has "
            "shape (16, 8) on rank 0 but (17, 8) on rank 1; every rank must build the same model") in proc.stderr


@pytest.mark.parametrize("kind", ["bug", "config"])
def test_a_failing_rank_ends_the_whole_job_within_seconds(tmp_path: Path, kind: str) -> None:
    # Rank 0 waits in Allreduce forever; rank 1 raises. Without abort-on-error, this hangs.
    start = time.perf_counter()
    proc = run_workers("crash", tmp_path, 2, kind, timeout=60)
    finished_quickly(start)
    assert proc.returncode != 0
    if kind == "bug":
        assert "Traceback" in proc.stderr and "raise ValueError" in proc.stderr
        assert "graphgrad: rank 1 of 2: ValueError: boom on purpose; stopping all ranks" in proc.stderr
    else:  # the user's mistake: one line, no traceback
        assert "Traceback" not in proc.stderr
        assert ("graphgrad: rank 1 of 2: ConfigError: invalid lr 0 (must be positive); stopping all ranks"
                in proc.stderr)


@needs_sampler_argument
def test_validation_with_batch_norm_gives_the_same_numbers_on_every_rank(tmp_path: Path) -> None:
    """Early stopping and schedules decide on each rank from its own validation numbers: with
    batch norm, whose running statistics each rank updates from its own part, they must agree."""
    run_ok("batchnorm_validation", tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["val_loss"] == ranks[1]["val_loss"]
    assert ranks[0]["buffers"] == ranks[1]["buffers"]
