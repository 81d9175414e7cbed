"""Large temporary arrays reused from the heap, not fresh pages from the operating system.

A training step allocates and frees many arrays of megabytes (layer outputs, their gradients,
padded images). glibc's ``malloc`` serves every block above its *mmap threshold* (128 KiB at
start, raised as such blocks are freed, up to 32 MiB) with fresh pages and gives them back on
``free``, and the kernel zeroes each page again at its first touch: on a VGG-style step of
3x32x32 images at batch 32 that was a fifth of the step (53 ms against 42 ms, one thread). Fixing
the threshold at glibc's own ceiling keeps such blocks in the heap, where the next step reuses
them. The price: the process's resident memory stays near a step's peak between steps instead of
shrinking.

Applied once per process, by a training run (:meth:`graphgrad.train.Trainer.fit`) and the
benchmarks, or by a user calling :func:`reuse_freed_memory`. Nothing is changed off glibc, when
the user chose malloc settings themselves (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``GLIBC_TUNABLES``), or with ``GRAPHGRAD_KEEP_HEAP=0``.
"""

from __future__ import annotations

import ctypes
import functools
import os

__all__ = ["reuse_freed_memory"]

MMAP_THRESHOLD = 32 << 20
"""Blocks up to this size come from the heap: glibc's largest dynamic threshold on 64-bit systems."""
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
"""Free memory at the heap's top kept for reuse, up to this much (glibc's own ratio to the above)."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
OPT_OUT = "GRAPHGRAD_KEEP_HEAP"


@functools.cache
def reuse_freed_memory() -> str:
    """Keep freed arrays of up to 32 MiB in the heap for reuse (see the module's docstring); once
    per process (later calls return the first one's answer). Returns what was done, in words:
    ``"applied"`` or why not."""
    if os.environ.get(OPT_OUT, "").strip() == "0":
        return f"not applied: {OPT_OUT}=0"
    chosen = [name for name in USER_SETTINGS if os.environ.get(name)]
    if chosen:
        return f"not applied: malloc settings already chosen ({', '.join(chosen)})"
    try:
        libc_version = os.confstr("CS_GNU_LIBC_VERSION") or ""  # glibc answers; musl, macOS, Windows do not
    except (AttributeError, ValueError, OSError):
        libc_version = ""
    if not libc_version.startswith("glibc"):
        return "not applied: not glibc"
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, glibc's among them (no library search)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    except (OSError, AttributeError) as error:
        return f"not applied: {error}"
    return "applied" if ok else "not applied: mallopt refused the thresholds"
