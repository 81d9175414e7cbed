"""One forward and backward pass of a trained run's model on one mini-batch of its own data.

The batch is the first ``batch_size`` rows of the run's training split (the split is fixed by the
run's seed, so the page shows the same examples every time), standardized as in training. The
model is in evaluation mode (dropout off) with the weights the run saved; the loss is the run's
own (cross-entropy for classes, mean squared error for numbers). Each layer call is one node
(batch norm too). An MLP's layer outputs are named as in the notes (``a1 = 0(x)``,
``h1 = relu(a1)``, ...); other models' by path and op (``1 conv2d``, ``2 batch_norm``); the
parameters keep their paths (``0.weight``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from graphgrad import nn
from graphgrad.errors import ConfigError
from graphgrad.tensor import Tensor
from graphgrad.viz.explain import Explanation, explain
from graphgrad.viz.layers import record_layers


def _forward_with_names(model: Any, x: Tensor) -> Tensor:
    """``model(x)``; for a Sequential, each layer's output is named as in the notes: ``a1`` after the
    first Linear layer, ``h1`` after its activation, and so on (the parameters keep their paths)."""
    if not isinstance(model, nn.Sequential) or any(
            not isinstance(layer, (nn.Linear, nn.Dropout)) and any(True for _ in layer.parameters())
            for layer in model):
        return model(x)  # not an MLP: the layers' own names (path and op)
    out, k = x, 0
    for layer in model:
        out = layer(out)
        if isinstance(layer, nn.Linear):
            k += 1
            out.name = f"a{k}"
        elif isinstance(layer, nn.Dropout):
            continue
        else:
            out.name = f"h{k}"
    return out


def explain_run(run_dir: str | os.PathLike[str], batch_size: int | None = None) -> Explanation:
    """The explanation of one mini-batch of the run in ``run_dir`` (see the module's docstring)."""
    from graphgrad.train.experiment import rebuild_splits
    from graphgrad.train.losses import build_loss
    from graphgrad.train.run import load_run

    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ConfigError(f"explain --batch-size: must be a positive integer, got {batch_size}")
    run = load_run(run_dir)
    model, config, meta = run.model, run.config, run.metadata
    x, y = rebuild_splits(run, run_dir, "its training examples cannot be rebuilt; put that file back").train
    n = min(batch_size or config.batch_size, len(x))
    xb = Tensor(x[:n], name="x")
    yb = Tensor(y[:n], name="y")
    loss_fn = build_loss(meta["task"], meta.get("class_weights"))
    with record_layers(model) as layers:
        loss = loss_fn(_forward_with_names(model, xb), yb)
    loss.name = "L"
    if config.model == "mlp":
        sizes = "-".join(str(s) for s in [meta["n_features"], *config.hidden, meta["n_outputs"]])
        network = f"{sizes} {config.activation} network"
    else:
        shape = "x".join(str(s) for s in meta["input_shape"])
        network = f"{config.model.upper()} ({shape} images, {meta['n_outputs']} outputs)"
    what = "cross-entropy" if meta["task"] == "classification" else "mean squared error"
    title = (f"run {Path(run_dir).name}: one mini-batch of {n} training examples through the "
             f"{network}, {what} loss")
    return explain(loss, module=model, title=title, layers=layers)
