"""Programs the MPI tests start with ``mpiexec -n N python mpi_workers.py <name> <folder>``.

Each rank writes what it computed to ``<folder>`` (NumPy .npz without pickle, or JSON); the tests
compare that with a single-process computation made with the same functions below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import graphgrad as gg
from graphgrad import distributed as dist
from graphgrad import nn, optim
from graphgrad.data.sampler import DistributedSampler
from graphgrad.errors import ConfigError

GLOBAL_BATCH = 12  # divisible by 2 and 3 ranks: equal local batches


def make_model(seed: int, dtype: Any, hidden: int = 16, dropout: float = 0.0) -> nn.Module:
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = [nn.Linear(8, hidden, rng=rng, dtype=dtype), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout, rng=seed))
    layers += [nn.Linear(hidden, hidden, rng=rng, dtype=dtype), nn.ReLU(), nn.Linear(hidden, 3, rng=rng, dtype=dtype)]
    return nn.Sequential(*layers)


def make_data(dtype: Any, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 8)).astype(dtype), rng.integers(0, 3, n)


def make_optimizer(name: str, params: Any) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def train(model: nn.Module, opt: optim.Optimizer, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> None:
    """One optimizer step per batch of row indices, mean cross-entropy loss."""
    for rows in batches:
        loss = nn.functional.cross_entropy(model(gg.Tensor(x[rows])), gg.Tensor(y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def global_batches(n_steps: int) -> list[np.ndarray]:
    return [np.arange(k * GLOBAL_BATCH, (k + 1) * GLOBAL_BATCH) for k in range(n_steps)]


def local_batches(n_steps: int, rank: int, size: int) -> list[np.ndarray]:
    return [rows[rank::size] for rows in global_batches(n_steps)]


def save(folder: Path, w: dist.World, arrays: dict[str, np.ndarray], tag: str = "") -> None:
    np.savez(folder / f"{tag}rank{w.rank}.npz", **arrays)


def equal_step(folder: Path) -> None:
    """float64 with SGD and float32 with Adam; each rank starts from different weights (DDP
    must give every rank rank 0's) and trains on its share of each global batch."""
    w = dist.init()
    for dtype, opt_name in ((np.float64, "sgd"), (np.float32, "adam")):
        model = make_model(100 + w.rank, dtype)
        ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001)
        x, y = make_data(dtype)
        train(ddp, make_optimizer(opt_name, ddp.parameters()), x, y, local_batches(5, w.rank, w.size))
        save(folder, w, ddp.state_dict(), tag=np.dtype(dtype).name)


def bitwise(folder: Path) -> None:
    """Many Adam steps with dropout (each rank draws its own masks): ranks must stay identical."""
    w = dist.init()
    model = make_model(100, np.float32, hidden=32, dropout=0.3)
    model[2].rng = np.random.default_rng(1000 + w.rank)  # different dropout masks on each rank
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.002)
    x, y = make_data(np.float32, n=GLOBAL_BATCH * 25)
    train(ddp, make_optimizer("adam", ddp.parameters()), x, y, local_batches(25, w.rank, w.size))
    save(folder, w, ddp.state_dict())


class Marker(nn.Module):
    """Identity whose backward notes in ``trace`` that backward has reached it."""

    op: Any = None

    def __init__(self, trace: list[str]) -> None:
        super().__init__()
        self.trace = trace
        if Marker.op is None:
            from graphgrad.ops.core import Op

            def vjp(g: gg.Tensor, out: gg.Tensor, x: gg.Tensor) -> gg.Tensor:
                trace.append("backward reached the first layer")
                return g

            Marker.op = Op("test_marker", lambda a: a.copy(), (vjp,))

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return Marker.op(x)


def overlap(folder: Path) -> None:
    """The order of events in one backward, with one bucket per layer."""
    w = dist.init()
    rng = np.random.default_rng(3)
    trace: list[str] = []
    model = nn.Sequential(nn.Linear(8, 64, rng=rng), Marker(trace), nn.ReLU(), nn.Linear(64, 64, rng=rng),
                          nn.ReLU(), nn.Linear(64, 3, rng=rng))
    # 3 buckets: layer 3 with the bias of layer 2, the weight of layer 2, layer 1
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.005)
    assert ddp.reducer is not None
    ddp.reducer.trace = trace
    x, y = make_data(np.float32)
    out = {}
    for label, context in (("sync", None), ("no_sync", ddp.no_sync())):
        trace.clear()
        if context is None:
            nn.functional.cross_entropy(ddp(gg.Tensor(x[:4])), gg.Tensor(y[:4])).backward()
        else:
            with context:
                nn.functional.cross_entropy(ddp(gg.Tensor(x[:4])), gg.Tensor(y[:4])).backward()
        out[label] = list(trace)
    out["buckets"] = [b.names for b in ddp.reducer.buckets]
    (folder / f"rank{w.rank}.json").write_text(json.dumps(out))


def accumulate(folder: Path) -> None:
    """Three micro-batches: two backward calls under no_sync, the third one averages the sum."""
    w = dist.init()
    ddp = dist.DistributedDataParallel(make_model(100, np.float64), bucket_cap_mb=0.001)
    x, y = make_data(np.float64)
    batches = local_batches(3, w.rank, w.size)
    with ddp.no_sync():
        for rows in batches[:2]:
            nn.functional.cross_entropy(ddp(gg.Tensor(x[rows])), gg.Tensor(y[rows])).backward()
    local = {name: p.grad.data.copy() for name, p in ddp.named_parameters()}
    rows = batches[2]
    nn.functional.cross_entropy(ddp(gg.Tensor(x[rows])), gg.Tensor(y[rows])).backward()
    save(folder, w, {name: p.grad.data for name, p in ddp.named_parameters()})
    save(folder, w, local, tag="local")


def sampler(folder: Path) -> None:
    """Each rank's indices (default world from MPI), for several settings and epochs; and a
    float64 epoch of DDP training on the sampler's shares of global batches."""
    w = dist.init()
    result: dict[str, Any] = {}
    for n in (10, 11, 13):
        for drop_last in (False, True):
            s = DistributedSampler(range(n), shuffle=True, seed=5, drop_last=drop_last)
            for epoch in (0, 1):
                s.set_epoch(epoch)
                result[f"{n}-{drop_last}-{epoch}"] = s.indices().tolist()
    (folder / f"rank{w.rank}.json").write_text(json.dumps(result))
    x, y = make_data(np.float64, n=60)
    s = DistributedSampler(range(len(x)), shuffle=True, seed=3)
    s.set_epoch(2)
    mine = s.indices()
    local = GLOBAL_BATCH // w.size
    batches = [mine[k : k + local] for k in range(0, len(mine), local)]
    ddp = dist.DistributedDataParallel(make_model(100, np.float64))
    train(ddp, make_optimizer("sgd", ddp.parameters()), x, y, batches)
    save(folder, w, ddp.state_dict())


class WithSpare(nn.Module):
    """The test model plus a layer its forward never calls, and a shift of the logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = make_model(100, np.float64)
        self.spare = nn.Linear(2, 2, rng=0, dtype=np.float64)
        self.offset = nn.Parameter(np.zeros(3))  # its gradient comes from sum(): a read-only view

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        return self.body(x) + self.offset.sum()


def prepared_run(epochs: int = 2) -> nn.Module:
    """Two epochs through distributed.prepare: the trainer's path, in whatever world this is."""
    from graphgrad.data import DataLoader, TensorDataset

    x, y = make_data(np.float64, n=62)  # last global batch: 2 examples, 1 per rank
    loader = DataLoader(TensorDataset(x, y), batch_size=GLOBAL_BATCH, shuffle=True)
    ddp, mine = dist.prepare(make_model(100, np.float64), loader, seed=21)
    opt = make_optimizer("sgd", ddp.parameters())
    for _ in range(epochs):
        for xb, yb in mine:
            loss = nn.functional.cross_entropy(ddp(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return ddp.module


def prepared(folder: Path) -> None:
    w = dist.init()
    save(folder, w, prepared_run().state_dict())


def unused(folder: Path) -> None:
    """A parameter that no forward uses: with find_unused_parameters the step completes."""
    w = dist.init()
    model = WithSpare()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001, find_unused_parameters=True)
    x, y = make_data(np.float64)
    train(ddp, make_optimizer("sgd", ddp.parameters()), x, y, local_batches(2, w.rank, w.size))
    save(folder, w, ddp.state_dict())


def unused_refused(folder: Path) -> None:
    """The same model without find_unused_parameters: the second forward must refuse."""
    w = dist.init()
    model = WithSpare()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001)
    x, y = make_data(np.float64)
    train(ddp, make_optimizer("sgd", ddp.parameters()), x, y, local_batches(2, w.rank, w.size))


def mismatch(folder: Path) -> None:
    """Rank 1 builds a wider first layer."""
    w = dist.init()
    dist.DistributedDataParallel(make_model(0, np.float32, hidden=16 + w.rank))


def crash(folder: Path) -> None:
    """Rank 1 fails (kind from argv) while rank 0 waits in a collective forever."""
    w = dist.init()
    kind = sys.argv[3]
    if w.rank == 1:
        if kind == "config":
            raise ConfigError("invalid lr 0 (must be positive)")
        raise ValueError("boom on purpose")
    while True:
        dist.all_reduce(np.zeros(1))


def batchnorm_validation(folder: Path) -> None:
    """Trainer with batch norm: each rank's last training forward updates its running statistics
    from its own part of the batch; the validation numbers must still be the same on every rank."""
    from graphgrad.data import DataLoader, TensorDataset
    from graphgrad.train.trainer import Trainer

    w = dist.init()
    x, y = make_data(np.float32, n=90)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(8, 8, rng=rng), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3, rng=rng))
    ddp, loader = dist.prepare(model, DataLoader(TensorDataset(x[:60], y[:60]), batch_size=10, shuffle=True), seed=0)
    trainer = Trainer(ddp, optim.SGD(ddp.parameters(), lr=0.1), nn.functional.cross_entropy, loader,
                      epochs=2, val_data=(x[60:], y[60:]))
    history = trainer.fit()
    buffers = {name: float(np.asarray(b.data).sum()) for name, b in model.named_buffers()}
    (folder / f"rank{w.rank}.json").write_text(
        json.dumps({"val_loss": [row["val_loss"] for row in history], "buffers": buffers}))


if __name__ == "__main__":
    globals()[sys.argv[1]](Path(sys.argv[2]))
