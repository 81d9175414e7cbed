"""Split nested state (dicts, lists, tuples, numbers, arrays) into JSON and a flat dict of arrays.

Optimizer and scheduler states mix arrays with numbers and structure (``{"state": {0: {"step": 3,
"exp_avg": array}}, "param_groups": [...]}``). Arrays go to safetensors under a key derived from
their path; everything else stays in JSON with a ``{"__tensor__": key}`` marker in the array's
place. Dicts with non-string keys and tuples get their own markers, so decoding gives back exactly
the types that were encoded (an optimizer's ``state`` is keyed by int, Adam's ``betas`` is a tuple).
No pickle: nothing but JSON types and arrays is accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphgrad.errors import CheckpointError

TENSOR = "__tensor__"
DICT = "__dict__"
TUPLE = "__tuple__"
_MARKERS = (TENSOR, DICT, TUPLE)


def encode(obj: Any, prefix: str = "") -> tuple[Any, dict[str, np.ndarray]]:
    """Return ``(json_skeleton, arrays)``; ``decode(json_skeleton, arrays)`` rebuilds ``obj``."""
    arrays: dict[str, np.ndarray] = {}
    return _encode(obj, prefix, arrays), arrays


def _fresh_key(path: str, arrays: dict[str, np.ndarray]) -> str:
    key = path or "tensor"
    n = 1
    while key in arrays:
        n += 1
        key = f"{path}#{n}"
    return key


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        key = _fresh_key(path, arrays)
        arrays[key] = np.ascontiguousarray(obj)
        return {TENSOR: key, "shape": list(obj.shape)}  # safetensors stores 0-d arrays as shape (1,)
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {TUPLE: [_encode(v, f"{path}.{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{path}.{i}" if path else str(i), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        def child(k: Any) -> str:
            return f"{path}.{k}" if path else str(k)

        if all(isinstance(k, str) and k not in _MARKERS for k in obj):
            return {k: _encode(v, child(k), arrays) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"cannot store a dict key of type {type(k).__name__} at {path or '<root>'}")
            items.append([k, _encode(v, child(k), arrays)])
        return {DICT: items}
    raise TypeError(f"cannot store a {type(obj).__name__} at {path or '<root>'} (only JSON types and arrays)")


def decode(skeleton: Any, arrays: dict[str, np.ndarray], source: str = "checkpoint") -> Any:
    """Inverse of :func:`encode`; ``source`` names the file in errors about missing arrays."""
    if isinstance(skeleton, list):
        return [decode(v, arrays, source) for v in skeleton]
    if isinstance(skeleton, dict):
        if TENSOR in skeleton:
            return _decode_tensor(skeleton, arrays, source)
        if len(skeleton) == 1:
            (marker, value), = skeleton.items()
            if marker == TUPLE:
                return tuple(decode(v, arrays, source) for v in value)
            if marker == DICT:
                return {k: decode(v, arrays, source) for k, v in value}
        return {k: decode(v, arrays, source) for k, v in skeleton.items()}
    return skeleton


def _decode_tensor(marker: dict[str, Any], arrays: dict[str, np.ndarray], source: str) -> np.ndarray:
    key, shape = marker[TENSOR], marker.get("shape")
    if key not in arrays:
        raise CheckpointError(f"{source}: tensor {key!r} is missing")
    arr = arrays[key]
    if shape is not None and list(arr.shape) != list(shape):
        if arr.size != int(np.prod(shape)):
            raise CheckpointError(f"{source}: tensor {key!r} has shape {arr.shape}, expected {tuple(shape)}")
        arr = arr.reshape(shape)
    return arr
