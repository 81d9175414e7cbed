"""Built-in datasets by name: scikit-learn's bundled tables (no network) and seeded synthetic sets."""

from __future__ import annotations

import numpy as np

from graphgrad.data.bundle import DataBundle
from graphgrad.data.synthetic import GENERATORS
from graphgrad.errors import ConfigError

_SKLEARN = {  # name -> scikit-learn loader (imported on use: sklearn.datasets takes seconds to import)
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
}
_REGRESSION = {"diabetes"}
DEFAULT_DATASET = "digits"
SYNTHETIC_SIZE = 1000


def dataset_names() -> list[str]:
    """Names accepted by :func:`load_dataset` (tables first, then synthetic)."""
    return [*_SKLEARN, *GENERATORS]


def _sklearn_bundle(name: str) -> DataBundle:
    from sklearn import datasets as skd

    raw = getattr(skd, _SKLEARN[name])()
    x = np.asarray(raw.data, dtype=np.float32)
    features = [str(f) for f in getattr(raw, "feature_names", [])] or [f"x{i}" for i in range(x.shape[1])]
    if name in _REGRESSION:
        y = np.asarray(raw.target, dtype=np.float32)
        return DataBundle(x, y, "regression", 0, features, [], name, target="target")
    y = np.asarray(raw.target, dtype=np.int64)
    targets = [str(t) for t in raw.target_names]
    shape = (1, *raw.images.shape[1:]) if name == "digits" else (x.shape[1],)  # digits: 8x8 images
    return DataBundle(x, y, "classification", len(targets), features, targets, name, target="class",
                      input_shape=shape)


def load_dataset(name: str = DEFAULT_DATASET, seed: int = 0, n_samples: int | None = None) -> DataBundle:
    """A built-in dataset: ``digits`` (default; 8x8 images, pixels 0..16, 10 classes), ``iris``,
    ``wine``, ``breast_cancer``, ``diabetes`` (regression), or synthetic 2-D ``moons``, ``circles``,
    ``spirals`` (3 classes), ``xor`` (``n_samples`` points, default 1000, drawn from ``seed``).

    Features are float32 and not scaled (fit a :class:`Standardizer` on the training split).
    Names are case-insensitive and ``-`` may stand for ``_``.
    """
    key = str(name).strip().lower().replace("-", "_")
    if key in _SKLEARN:
        if n_samples is not None:
            raise ConfigError(f"n_samples applies to the synthetic datasets {list(GENERATORS)}, not {key!r}")
        return _sklearn_bundle(key)
    if key in GENERATORS:
        n = SYNTHETIC_SIZE if n_samples is None else n_samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ConfigError(f"n_samples must be an integer >= 2, got {n_samples!r}")
        x, y = GENERATORS[key](int(n), int(seed))
        y = np.asarray(y, dtype=np.int64)
        k = int(y.max()) + 1
        return DataBundle(x.astype(np.float32), y, "classification", k, ["x0", "x1"],
                          [str(i) for i in range(k)], key, target="class")
    raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(dataset_names())}")
