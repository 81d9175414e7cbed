"""Random generators for data order: accept a seed or a Generator, and save/restore state as JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import ConfigError


def as_generator(generator: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a seed, an existing Generator (used as is, not copied), or None (fresh entropy)."""
    if generator is None or isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(None if generator is None else int(generator))
    if isinstance(generator, np.random.Generator):
        return generator
    raise ConfigError(
        f"generator must be a numpy.random.Generator, an int seed or None, got {type(generator).__name__}"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def get_state(generator: np.random.Generator) -> dict[str, Any]:
    """The generator's bit-generator state as plain dicts, lists and ints (JSON-able)."""
    return _jsonable(generator.bit_generator.state)


def set_state(generator: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a state from :func:`get_state`; the bit-generator kind must match."""
    kind = type(generator.bit_generator).__name__
    saved = state.get("bit_generator") if isinstance(state, dict) else None
    if saved != kind:
        raise ConfigError(f"generator state is for bit generator {saved!r}, this generator is {kind!r}")
    restored = dict(state)
    if isinstance(restored.get("state"), dict) and "key" in restored["state"]:  # MT19937 keeps an array
        inner = dict(restored["state"])
        inner["key"] = np.asarray(inner["key"], dtype=np.uint32)
        restored["state"] = inner
    generator.bit_generator.state = restored
