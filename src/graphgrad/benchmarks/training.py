"""The default `graphgrad train` run against scikit-learn's MLPClassifier on the same split."""

from __future__ import annotations

import time
import warnings
from typing import Any


def default_run_vs_sklearn(seed: int = 0) -> dict[str, Any]:
    """Wall time and test accuracy of the default run and of MLPClassifier with equal settings."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from graphgrad.train.config import TrainConfig
    from graphgrad.train.experiment import prepare_data

    cfg = TrainConfig(seed=seed)
    data = prepare_data(cfg)
    (xtr, ytr), (xte, yte) = data.train, data.test

    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "graphgrad", "train", "--quiet", "--seed", str(seed), "--out", f"{tmp}/run"],
            capture_output=True, text=True, check=True,
        )
        gg_wall = time.perf_counter() - t0
    summary = next((line for line in proc.stdout.splitlines() if "test accuracy" in line), proc.stdout.strip())

    clf = MLPClassifier(hidden_layer_sizes=tuple(cfg.hidden), solver="adam", learning_rate_init=cfg.lr,
                        batch_size=cfg.batch_size, max_iter=cfg.epochs, alpha=0.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        clf.fit(xtr, ytr)
        sk_fit = time.perf_counter() - t0
    return {
        "graphgrad": f"{summary.strip()} (whole command {gg_wall:.1f} s incl. start-up and checkpoints)",
        "sklearn": f"test accuracy {clf.score(xte, yte):.2%}, fit {sk_fit:.1f} s",
    }
