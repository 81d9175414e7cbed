"""Checkpoint files: safetensors for arrays, JSON for the rest, written atomically, no pickle."""

from __future__ import annotations

from graphgrad.io.atomic import atomic_write_bytes, atomic_write_text
from graphgrad.io.checkpoint import (
    FORMAT_VERSION,
    STATE_FILE,
    LoadedCheckpoint,
    is_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from graphgrad.io.codec import decode, encode

__all__ = [
    "FORMAT_VERSION",
    "STATE_FILE",
    "LoadedCheckpoint",
    "atomic_write_bytes",
    "atomic_write_text",
    "decode",
    "encode",
    "is_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]
