"""The memory allocators of the processes that run the pipeline, set when `ingest.run` is
imported (before pyarrow): the `newsflow` command (ingest/cli.py imports it first), its
worker processes, and the Airflow tasks of newsflow's DAGs (each DAG file imports
`ingest.run.assets` when it is parsed, before a task runs). The Airflow plugin (ingest/ui)
does not import it, so other DAGs' tasks in the same deployment keep their allocators.

Measured by benchmarks/memory.py (peak memory of one source run of 5,000 items against 500):

- Arrow's memory comes from the system allocator instead of pyarrow's default, mimalloc,
  which keeps the pages of freed buffers: a 5,000-item run peaked 60 MiB higher with it,
  and the peak grew with the run's items. `ARROW_DEFAULT_MEMORY_POOL` counts only when it
  is set before pyarrow is imported; a value already set (`mimalloc`, `jemalloc`) is kept.
- glibc's malloc (Linux): blocks of MMAP_THRESHOLD bytes or more are mapped on their own
  and given back to the system when freed, and a process has at most ARENAS arenas. By
  default glibc raises its threshold to the size of every mapped block freed (up to 32
  MiB), after which Arrow's buffers, Parquet's page buffers and large Python strings come
  from the heap, and the free space between what stays allocated is never given back: the
  write stage of a 5,000-item run ended with 50 MiB free in its heap and 40 MiB in use,
  and peaked at 1.34 times a 500-item run's peak; with these settings alone, 1.22.
  glibc's own settings win: a setting chosen in the environment
  (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_ARENA_MAX`, or `glibc.malloc.mmap_threshold` /
  `glibc.malloc.arena_max` in `GLIBC_TUNABLES`) is left as it is.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import cast

MMAP_THRESHOLD = 64 * 1024  # bytes
ARENAS = 2
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # mallopt's parameters (glibc's malloc.h)


def configure() -> None:
    """Arrow's allocator, and glibc malloc's settings in this process (see the module)."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):  # (unset or empty: Arrow's default)
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    for parameter, value, variable, tunable in (
        (
            _M_MMAP_THRESHOLD,
            MMAP_THRESHOLD,
            "MALLOC_MMAP_THRESHOLD_",
            "glibc.malloc.mmap_threshold",
        ),
        (_M_ARENA_MAX, ARENAS, "MALLOC_ARENA_MAX", "glibc.malloc.arena_max"),
    ):
        if not os.environ.get(variable) and f"{tunable}=" not in tunables:
            mallopt(parameter, value)


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's `mallopt`, or None on another C library (musl, macOS: nothing to tune)."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return None
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # (no such name, no such function)
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return cast(Callable[[int, int], int], mallopt)
