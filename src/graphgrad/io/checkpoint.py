"""Checkpoints of a training run: safetensors for arrays, JSON for everything else, no pickle.

A run directory holds ``state.json`` and one safetensors file per group of arrays
(``model-000003.safetensors``, ``optimizer-000003.safetensors``...). Each save writes its tensor
files under NEW names (the number is the save index), then writes ``state.json`` last, which names
those files with their sha256. Writing ``state.json`` (atomically) is the commit point: a crash at
any moment before it leaves the previous ``state.json`` pointing at the previous files, which are
still there and unchanged; files of older saves are removed only after the commit. Every file is
written atomically (temp file, fsync, rename, fsync of the directory).

Nothing is deleted that this run did not write: each run has a ``run_id`` (in state.json and in
the metadata of each of its tensor files); after a commit, a save removes only the tensor files
the previous state.json named and tensor files carrying this run's id (left by a save that was
killed before its commit), and only temporaries named as :mod:`graphgrad.io.atomic` names them.

Reading checks the format, the version, the document against a schema and every file's sha256,
and refuses tensor files reached through a link that leaves the run folder, so a truncated,
edited or tampered checkpoint is refused with a :class:`~graphgrad.errors.CheckpointError`
naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from graphgrad.errors import CheckpointError
from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text, remove_stale_temporaries
from graphgrad.io.codec import decode, encode
from graphgrad.io.schema import check_schema

FORMAT = "graphgrad-checkpoint"
FORMAT_VERSION = 1
STATE_FILE = "state.json"
_TENSOR_FILE = re.compile(r"^(?P<group>[A-Za-z_][A-Za-z0-9_]*)-(?P<index>\d{6,})\.safetensors$")
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_DOCUMENT_SCHEMA: dict[str, Any] = {
    "format": str, "format_version": int, "save_index": int, "?run_id": str,
    "files": {str: {"path": str, "sha256": str, "?bytes": int, "structure": object}},
    "state": dict,
}


@dataclass
class LoadedCheckpoint:
    """What :func:`load_checkpoint` returns: the JSON state and the decoded array groups."""

    path: Path
    state: dict[str, Any]
    groups: dict[str, Any] = field(default_factory=dict)
    save_index: int = 0
    run_id: str = ""
    files: dict[str, Path] = field(default_factory=dict)  # group -> its tensor file

    def check_like(self, group: str, expected: Mapping[str, Any]) -> None:
        """Refuse arrays of ``group`` that graphgrad never saves for arrays like ``expected`` (a
        model's ``state_dict()``): another dtype, or NaN or infinite values in a floating array.
        The file's sha256 only proves it is the file state.json names, not what it holds."""
        where = self.files.get(group, self.path / STATE_FILE)
        for key, saved in self.groups.get(group, {}).items():
            like = expected.get(key)
            if not isinstance(saved, np.ndarray) or like is None:
                continue
            dtype = np.asarray(like).dtype
            if saved.dtype != dtype:
                raise CheckpointError(f"{where}: tensor {key!r} is {saved.dtype}, the model's is {dtype}")
            if saved.dtype.kind == "f" and not np.isfinite(saved).all():
                bad = int(np.count_nonzero(~np.isfinite(saved)))
                raise CheckpointError(f"{where}: tensor {key!r} holds {bad} NaN or infinite values; graphgrad "
                                      "never saves those (a run stops before its loss turns NaN)")


def is_own_file(name: str) -> bool:
    """True for names a checkpoint writes (state.json, ``<group>-<index>.safetensors``)."""
    return name == STATE_FILE or bool(_TENSOR_FILE.match(name))


def tensor_file_run_id(path: Path) -> str | None:
    """The ``run_id`` in a safetensors file's header metadata (None if absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 1_000_000:
                return None
            header = json.loads(f.read(n))
        run_id = header.get("__metadata__", {}).get("run_id")
    except (OSError, ValueError, struct.error, AttributeError, RecursionError):
        return None
    return run_id if isinstance(run_id, str) else None


def _previous_document(run_dir: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((run_dir / STATE_FILE).read_text("utf-8"))
        check_schema(doc, _DOCUMENT_SCHEMA, STATE_FILE)
    except (OSError, ValueError, RecursionError, CheckpointError):
        return None
    return doc if doc.get("format") == FORMAT else None


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
    remove_stale_temporaries(run_dir, is_own_file)
    previous = _previous_document(run_dir)
    run_id = str(previous.get("run_id") or uuid.uuid4().hex) if previous else uuid.uuid4().hex
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
        data = safetensors.numpy.save(arrays, metadata={"format": FORMAT, "group": name, "run_id": run_id})
        filename = f"{name}-{index:06d}.safetensors"
        atomic_write_bytes(run_dir / filename, data)
        files[name] = {"path": filename, "sha256": _sha256(data), "bytes": len(data), "structure": skeleton}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "save_index": index,
        "run_id": run_id,
        "files": files,
        "state": state_skeleton,
    }
    state_path = run_dir / STATE_FILE
    atomic_write_text(state_path, json.dumps(document, indent=1) + "\n")  # the commit point
    keep = {f["path"] for f in files.values()}
    superseded = {f["path"] for f in previous["files"].values()} if previous else set()
    remove_leftovers(run_dir, run_id, keep, superseded)
    return state_path


def remove_leftovers(run_dir: Path, run_id: str, keep: set[str], superseded: frozenset[str] | set[str] = frozenset()
                     ) -> list[str]:
    """Remove tensor files of this run that ``keep`` does not name: those in ``superseded`` (named
    by the previous state.json) and those whose header carries ``run_id``. Returns their names."""
    removed = []
    for p in run_dir.iterdir():
        if not _TENSOR_FILE.match(p.name) or p.name in keep or p.is_symlink() or not p.is_file():
            continue
        if p.name in superseded or tensor_file_run_id(p) == run_id:
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def _read_document(run_dir: Path) -> dict[str, Any]:
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: not a directory, expected a run directory holding {STATE_FILE}")
    state_path = run_dir / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"{run_dir}: not a graphgrad run directory (no {STATE_FILE})")
    _inside(run_dir, state_path)
    try:
        document = json.loads(state_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{state_path}: unreadable or not valid JSON ({e})") from None
    except RecursionError:
        raise CheckpointError(f"{state_path}: nested too deeply to be a checkpoint") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{state_path}: not a graphgrad checkpoint (format field missing or wrong)")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{state_path}: checkpoint format version {version!r}, this graphgrad reads version {FORMAT_VERSION}"
        )
    check_schema(document, _DOCUMENT_SCHEMA, str(state_path))
    return document


def _inside(run_dir: Path, path: Path) -> None:
    """Refuse a file that resolves (through links) to somewhere outside the run folder."""
    real = path.resolve()
    if path.is_symlink() and not real.is_relative_to(run_dir.resolve()):
        raise CheckpointError(f"{path}: a link to {real}, outside the run folder; refusing to read it")


def _read_group(run_dir: Path, name: str, entry: dict[str, Any]) -> dict[str, np.ndarray]:
    filename = entry["path"]
    if not isinstance(filename, str) or Path(filename).name != filename:
        raise CheckpointError(f"{run_dir / STATE_FILE}: bad file name {filename!r} for group {name!r}")
    path = run_dir / filename
    _inside(run_dir, path)
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


def load_checkpoint(run_dir: str | os.PathLike[str], groups: Iterable[str] | None = None) -> LoadedCheckpoint:
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
    return LoadedCheckpoint(path=run_dir, state=state, groups=loaded, save_index=int(document["save_index"]),
                            run_id=str(document.get("run_id", "")),
                            files={name: run_dir / files[name]["path"] for name in loaded})
