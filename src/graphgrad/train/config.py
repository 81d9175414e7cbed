"""The configuration of a training run: defaults, validation, TOML files, and the name tables.

One place decides what ``graphgrad train`` does with no arguments (an MLP on digits), what a
choice of model changes (``--model cnn`` has no hidden layers unless asked), and which names are
valid; every bad value becomes a :class:`~graphgrad.errors.ConfigError` that says what is wrong
and lists the valid choices.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from graphgrad.errors import ConfigError
from graphgrad.train import registry

ACTIVATIONS = tuple(registry.ACTIVATIONS)
OPTIMIZERS = tuple(registry.OPTIMIZERS)
SCHEDULES = tuple(registry.SCHEDULES)
MODELS = tuple(registry.MODELS)
DEFAULT_MODEL = "mlp"
TASKS = ("auto", "classification", "regression")
MISSING = ("error", "drop", "fill")
CLASS_WEIGHTS = ("none", "balanced")

# the type every setting must have (a TOML file or a tampered state.json may hold anything)
_STR, _OPT_STR, _NUM, _INT, _OPT_INT = (str,), (str, type(None)), (int, float), (int,), (int, type(None))
_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": _STR, "data": _OPT_STR, "target": _OPT_STR, "hidden": (list, str), "channels": (list, str),
    "model": _STR, "activation": _STR, "optimizer": _STR, "lr": _NUM, "momentum": _NUM, "batch_size": _INT,
    "epochs": _INT, "dropout": _NUM, "l2": _NUM, "weight_decay": _NUM, "schedule": _OPT_STR, "patience": _OPT_INT,
    "seed": _INT, "test_size": _NUM, "val_size": _NUM, "task": _STR, "drop": (list, str),
    "features": (list, str, type(None)), "missing": _STR, "class_weight": _OPT_STR,
}
_TYPE_WORDS = {_STR: "text", _OPT_STR: "text", _NUM: "a number", _INT: "an integer", _OPT_INT: "an integer",
               (list, str): "a list", (list, str, type(None)): "a list"}


@dataclass
class TrainConfig:
    """Every setting of a run; saved in state.json so ``--resume`` and ``evaluate`` rebuild it."""

    dataset: str = "digits"
    data: str | None = None  # a CSV / NPZ / IDX file instead of a built-in dataset
    target: str | None = None
    task: str = "auto"  # auto | classification | regression
    drop: list[str] = field(default_factory=list)  # CSV columns that are not features
    features: list[str] | None = None  # only these CSV columns are features
    missing: str = "error"  # error | drop | fill (missing cells)
    model: str = DEFAULT_MODEL
    hidden: list[int] = None  # type: ignore[assignment]  # None: the model's default (registry.MODEL_DEFAULTS)
    channels: list[int] = None  # type: ignore[assignment]  # the CNN's stages; None: the model's default
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 20
    dropout: float = 0.0
    l2: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "cosine"
    patience: int | None = None
    seed: int = 0
    test_size: float = 0.2
    val_size: float = 0.1
    class_weight: str = "none"  # none | balanced (classification)

    def __post_init__(self) -> None:
        """Fill the settings left unset with the model's defaults (an MLP's for an unknown model,
        which :meth:`validate` then refuses)."""
        defaults = model_defaults(self.model)
        for name, value in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, copy.deepcopy(value))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "configuration") -> TrainConfig:
        """A validated config from a dict (TOML table, state.json); unknown keys are errors."""
        names = [f.name for f in dataclasses.fields(cls)]
        normalized = {str(k).replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(normalized) - set(names))
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {unknown}; valid settings: {', '.join(names)}")
        config = cls(**normalized)
        config.validate(source)
        return config

    def validate(self, source: str = "configuration") -> None:
        """Raise ConfigError on the first invalid setting."""
        def bad(name: str, value: Any, rule: str) -> ConfigError:
            return ConfigError(f"{source}: invalid {name.replace('_', '-')} {value!r} ({rule})")

        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        def positive_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value > 0

        for name, types in _TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise bad(name, value, f"must be {_TYPE_WORDS[types]}, not {type(value).__name__}")
        for name in SIZE_SETTINGS:
            if isinstance(getattr(self, name), str):
                setattr(self, name, parse_sizes(name, getattr(self, name)))
        self.drop = parse_columns("drop", self.drop) or []
        self.features = parse_columns("features", self.features)
        self.task = choose("task", self.task, TASKS)
        self.missing = choose("missing", self.missing, MISSING)
        self.model = choose("model", self.model, MODELS)
        self.class_weight = choose("class-weight", "none" if self.class_weight is None else self.class_weight,
                                   CLASS_WEIGHTS)
        for name, (what, example) in SIZE_SETTINGS.items():
            sizes = getattr(self, name)
            if not isinstance(sizes, list) or not all(positive_int(h) for h in sizes):
                raise bad(name, sizes, f"must be a list of positive {what}, e.g. {example}")
        has_stages = bool(model_defaults(self.model)["channels"])
        if self.channels and not has_stages:
            raise ConfigError(f"{source}: --channels sets the convolution stages of --model cnn; the {self.model} "
                              "has none (leave --channels out, or use --model cnn)")
        if has_stages and not self.channels:
            raise bad("channels", self.channels, f"--model {self.model} needs at least one stage, e.g. 32,64")
        self.activation = choose("activation", self.activation, ACTIVATIONS)
        self.optimizer = choose("optimizer", self.optimizer, OPTIMIZERS)
        self.schedule = choose("schedule", "none" if self.schedule is None else self.schedule, SCHEDULES)
        if not number(self.lr) or self.lr <= 0:
            raise bad("lr", self.lr, "the learning rate must be a number > 0")
        for name in ("momentum", "l2", "weight_decay"):
            value = getattr(self, name)
            if not number(value) or value < 0:
                raise bad(name, value, "must be a number >= 0")
        if not number(self.dropout) or not 0 <= self.dropout < 1:
            raise bad("dropout", self.dropout, "the drop probability must be in [0, 1)")
        for name in ("batch_size", "epochs"):
            if not positive_int(getattr(self, name)):
                raise bad(name, getattr(self, name), "must be an integer > 0")
        if self.patience is not None and not positive_int(self.patience):
            raise bad("patience", self.patience, "must be an integer > 0")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise bad("seed", self.seed, "must be an integer >= 0")
        for name in ("test_size", "val_size"):
            value = getattr(self, name)
            if not number(value) or not 0 < value < 1:
                raise bad(name, value, "must be a fraction in (0, 1)")
        if self.test_size + self.val_size >= 0.9:
            raise ConfigError(f"{source}: test-size + val-size must leave at least 10% for training")


def model_defaults(model: Any) -> dict[str, Any]:
    """The settings that ``model`` changes from the MLP's defaults (:data:`registry.MODEL_DEFAULTS`)."""
    key = str(model).strip().lower().replace("-", "_")
    return {**registry.MODEL_DEFAULTS[DEFAULT_MODEL], **registry.MODEL_DEFAULTS.get(key, {})}


def default_text(name: str) -> str:
    """A setting's default for ``--help``: ``256,128; --model cnn: none`` when models differ."""
    def text(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(map(str, value)) or "none"
        return str(value)

    base = model_defaults(DEFAULT_MODEL)[name]
    others = [f"--model {m}: {text(model_defaults(m)[name])}" for m in MODELS if model_defaults(m)[name] != base]
    return "; ".join([text(base), *others])


def choose(what: str, name: Any, valid: tuple[str, ...]) -> str:
    """``name`` normalized (case, ``-``/``_``) if it is one of ``valid``, else a ConfigError listing them."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in valid:
        raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(valid)}")
    return key


def parse_columns(what: str, value: Any) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (column names for --drop / --features)."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"invalid {what} {value!r} (column names, e.g. name,date)")
    out = [n.strip() for n in names if n.strip()]
    if len(set(out)) != len(out):
        raise ConfigError(f"invalid {what} {value!r} (a column is named twice)")
    return out


# the settings that are lists of sizes: what the numbers are, and an example
SIZE_SETTINGS = {"hidden": ("layer sizes", "128,64"), "channels": ("channel counts", "32,64")}


def parse_sizes(name: str, text: str) -> list[int]:
    """``"128,64"`` -> ``[128, 64]``; ``""`` or ``"none"`` -> ``[]`` (for ``--hidden``, a linear
    model), for the settings of :data:`SIZE_SETTINGS`; a ConfigError names the setting."""
    what, example = SIZE_SETTINGS[name]
    text = text.strip()
    if text.lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"invalid {name} {text!r} ({what} separated by commas, e.g. {example})") from None
    if any(s <= 0 for s in sizes):
        raise ConfigError(f"invalid {name} {text!r} ({what} must be > 0)")
    return sizes


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings in a TOML file (top level, or a ``[train]`` table)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {os.fspath(path)!r}") from None
    except IsADirectoryError:
        raise ConfigError(f"{os.fspath(path)}: is a directory, expected a TOML file") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{os.fspath(path)}, line {line}: not UTF-8 text (TOML files must be UTF-8)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{os.fspath(path)}: invalid TOML ({e})") from None
    table = doc.get("train", doc)
    if not isinstance(table, dict):
        raise ConfigError(f"{os.fspath(path)}: [train] must be a table")
    return table
