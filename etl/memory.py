"""Handing memory back to the system between large steps.

Arrow's default pool (mimalloc) and glibc keep freed memory for reuse; a
process that loads or computes a million-account table once, then works in
far less, should give it back so its resident size is what it really holds.
"""

from __future__ import annotations

import ctypes
import gc
import os

import pyarrow as pa


def release_memory() -> None:
    """Collect garbage, then return free memory of Arrow's pool and of the C heap to the system."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory stays with the process for reuse
        pass


def use_system_allocator() -> None:
    """Arrow allocations through malloc, whose freed pages `release_memory` can return
    (mimalloc keeps them); an explicit ARROW_DEFAULT_MEMORY_POOL is left alone."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())
