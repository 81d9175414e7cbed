"""Checkpoints of a training run: safetensors for arrays, JSON for everything else, no pickle.

A run directory holds ``state.json`` and one safetensors file per group of arrays
(``model-000003.safetensors``, ``optimizer-000003.safetensors``...). Each save writes its tensor
files under NEW names (the number is the save index), then writes ``state.json`` last, which names
those files with their sha256. Writing ``state.json`` (atomically) is the commit point: a crash at
any moment before it leaves the previous ``state.json`` pointing at the previous files, which are
still there and unchanged; files of older saves are removed only after the commit. Every file is
written atomically (temp file, fsync, rename, fsync of the directory).

Reading checks the format, the version and every file's sha256, so a truncated or edited
checkpoint is refused with a :class:`~graphgrad.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from graphgrad.errors import CheckpointError
from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text, remove_stale_temporaries
from graphgrad.io.codec import decode, encode

FORMAT = "graphgrad-checkpoint"
FORMAT_VERSION = 1
STATE_FILE = "state.json"
_TENSOR_FILE = re.compile(r"^(?P<group>[A-Za-z_][A-Za-z0-9_]*)-(?P<index>\d{6,})\.safetensors$")
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: the JSON state and the decoded array groups."""

    path: Path
    state: dict[str, Any]
    groups: dict[str, Any] = field(default_factory=dict)
    save_index: int = 0


def is_checkpoint(run_dir: str | os.PathLike[str]) -> bool:
    """True when ``run_dir`` has a ``state.json`` (it may still be invalid; load to check)."""
    return (Path(run_dir) / STATE_FILE).is_file()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _next_index(run_dir: Path) -> int:
    """A save index larger than any file in the directory uses, so new names never clash."""
    used = [int(m["index"]) for p in run_dir.iterdir() if (m := _TENSOR_FILE.match(p.name))]
    try:
        used.append(int(json.loads((run_dir / STATE_FILE).read_text("utf-8"))["save_index"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return max(used, default=0) + 1


def save_checkpoint(
    run_dir: str | os.PathLike[str], state: Mapping[str, Any], groups: Mapping[str, Any]
) -> Path:
    """Save ``groups`` (name -> nested arrays/numbers, e.g. ``{"model": model.state_dict()}``)
    and ``state`` (JSON-able, may hold arrays too) as the run's new checkpoint; returns state.json.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    index = _next_index(run_dir)
    state_skeleton, state_arrays = encode(dict(state))
    all_groups: dict[str, Any] = dict(groups)
    if state_arrays:
        if "state" in all_groups:
            raise ValueError("group name 'state' is reserved for arrays found inside the state")
        all_groups["state"] = state_arrays
    files: dict[str, Any] = {}
    for name, content in all_groups.items():
        if not _GROUP_NAME.match(name):
            raise ValueError(f"group name {name!r} must be an identifier")
        if name == "state" and state_arrays:
            skeleton, arrays = None, state_arrays
        else:
            skeleton, arrays = encode(content)
        data = safetensors.numpy.save(arrays, metadata={"format": FORMAT, "group": name})
        filename = f"{name}-{index:06d}.safetensors"
        atomic_write_bytes(run_dir / filename, data)
        files[name] = {"path": filename, "sha256": _sha256(data), "bytes": len(data), "structure": skeleton}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "save_index": index,
        "files": files,
        "state": state_skeleton,
    }
    state_path = run_dir / STATE_FILE
    atomic_write_text(state_path, json.dumps(document, indent=1) + "\n")  # the commit point
    keep = {f["path"] for f in files.values()}
    for p in run_dir.iterdir():
        if _TENSOR_FILE.match(p.name) and p.name not in keep:
            p.unlink(missing_ok=True)
    return state_path


def _read_document(run_dir: Path) -> dict[str, Any]:
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: not a directory, expected a run directory holding {STATE_FILE}")
    state_path = run_dir / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"{run_dir}: not a graphgrad run directory (no {STATE_FILE})")
    try:
        document = json.loads(state_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{state_path}: unreadable or not valid JSON ({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{state_path}: not a graphgrad checkpoint (format field missing or wrong)")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{state_path}: checkpoint format version {version!r}, this graphgrad reads version {FORMAT_VERSION}"
        )
    files = document.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(f, dict) and {"path", "sha256", "structure"} <= f.keys() for f in files.values()
    ):
        raise CheckpointError(f"{state_path}: malformed 'files' table")
    if "state" not in document:
        raise CheckpointError(f"{state_path}: missing 'state'")
    return document


def _read_group(run_dir: Path, name: str, entry: dict[str, Any]) -> dict[str, np.ndarray]:
    filename = entry["path"]
    if not isinstance(filename, str) or Path(filename).name != filename:
        raise CheckpointError(f"{run_dir / STATE_FILE}: bad file name {filename!r} for group {name!r}")
    path = run_dir / filename
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (named by {STATE_FILE})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None
    if _sha256(data) != entry["sha256"]:
        raise CheckpointError(f"{path}: sha256 does not match {STATE_FILE} (file truncated or modified)")
    try:
        return safetensors.numpy.load(data)
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def load_checkpoint(run_dir: str | os.PathLike[str], groups: Iterable[str] | None = None) -> Checkpoint:
    """Read and verify the run's checkpoint; ``groups`` limits which tensor files are read."""
    run_dir = Path(run_dir)
    document = _read_document(run_dir)
    files: dict[str, Any] = document["files"]
    wanted = list(files) if groups is None else list(groups)
    state_arrays: dict[str, np.ndarray] = {}
    if "state" in files:
        state_arrays = _read_group(run_dir, "state", files["state"])
    loaded: dict[str, Any] = {}
    for name in wanted:
        if name == "state":
            continue
        if name not in files:
            raise CheckpointError(f"{run_dir / STATE_FILE}: no tensor group {name!r} (has {sorted(files)})")
        arrays = _read_group(run_dir, name, files[name])
        loaded[name] = decode(files[name]["structure"], arrays, str(run_dir / files[name]["path"]))
    state = decode(document["state"], state_arrays, str(run_dir / STATE_FILE))
    if not isinstance(state, dict):
        raise CheckpointError(f"{run_dir / STATE_FILE}: 'state' is not an object")
    return Checkpoint(path=run_dir, state=state, groups=loaded, save_index=int(document.get("save_index", 0)))
