"""The allocators of the processes that run newsflow's pipeline, set by importing `ingest.run`
before pyarrow (ingest/run/allocator.py) unless the environment chose otherwise: Arrow's is
the system's, and glibc's malloc maps large blocks on their own; the other task processes
of an Airflow deployment, which load the newsflow plugin, are left as they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT

# what each kind of newsflow process imports first: the command, its spawned workers (which
# unpickle the runner's function), and the three DAG files an Airflow task process parses
# before it runs one of their tasks
ENTRIES = [
    "import ingest.cli",
    "from ingest.run.runner import _serve",
    *(
        f"import runpy; runpy.run_path({str(ROOT / 'dags' / name)!r})"
        for name in ("news_ingest.py", "news_daily.py", "news_reprocess.py")
    ),
]


def _probe(code: str, chosen: str | None = None, **more: str) -> list[Any]:
    """The last line of what `code` prints, as JSON, in a fresh interpreter whose
    environment sets ARROW_DEFAULT_MEMORY_POOL to `chosen` (unset when None), and `more`;
    glibc's malloc settings are unset unless given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "ARROW_DEFAULT_MEMORY_POOL",
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_ARENA_MAX",
            "GLIBC_TUNABLES",
        )
    }
    env.update(more)
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _backend(entry: str, chosen: str | None = None) -> str:
    code = f"{entry}\nimport json, pyarrow\nprint(json.dumps([pyarrow.default_memory_pool().backend_name]))"
    return _probe(code, chosen)[0]


def test_pyarrow_alone_would_use_another_allocator() -> None:
    # the premise: without newsflow, pyarrow picks mimalloc (or jemalloc)
    assert _backend("pass") != "system"


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_pipeline_process_gives_arrow_the_system_allocator(entry: str) -> None:
    assert _backend(entry) == "system"


@pytest.mark.parametrize("chosen", ["mimalloc", "jemalloc"])
def test_an_allocator_chosen_in_the_environment_is_kept(chosen: str) -> None:
    assert _backend("import ingest.cli", chosen=chosen) == chosen


def test_an_empty_setting_counts_as_unset() -> None:
    # (an empty value, as a compose file's ${VAR:-} passes it, would give Arrow's default)
    assert _backend("import ingest.cli", chosen="") == "system"


def test_the_plugin_leaves_other_task_processes_as_they_are() -> None:
    # Airflow imports the plugin in every task process of the deployment: it must not set the
    # allocator (nor load pyarrow, which would fix it before a newsflow DAG file could)
    code = (
        "import json, os, sys\nimport ingest.ui.plugin\n"
        "print(json.dumps([os.environ.get('ARROW_DEFAULT_MEMORY_POOL', ''),"
        " *sorted(m for m in ('pyarrow', 'pandas', 'ingest.run') if m in sys.modules)]))"
    )
    assert _probe(code) == [""]


# how many of 200 blocks of 100 KiB are mapped on their own (given back to the system when
# freed) after a block of 4 MiB was freed, which raises glibc's own threshold to 4 MiB (its
# default behaviour); the first few may come from space already free in the heap
_MAPPED = """
import ctypes, json
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
big = bytearray(4 << 20)
del big
before = libc.mallinfo2().hblks
blocks = [bytearray(100 * 1024) for _ in range(200)]
print(json.dumps([libc.mallinfo2().hblks - before]))
"""


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except ValueError:
        return False


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc is tuned only where it is the C library")
@pytest.mark.parametrize("entry", ["pass", *ENTRIES])
def test_pipeline_processes_map_large_blocks_on_their_own(entry: str) -> None:
    # (the premise, "pass": glibc alone takes them all from its heap)
    mapped = _probe(f"{entry}\n{_MAPPED}")[0]
    assert (mapped == 0) if entry == "pass" else (mapped >= 150)


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc is tuned only where it is the C library")
@pytest.mark.parametrize(
    "chosen",
    [
        {"MALLOC_MMAP_THRESHOLD_": "1048576"},
        {"GLIBC_TUNABLES": "glibc.malloc.check=0:glibc.malloc.mmap_threshold=1048576"},
    ],
    ids=["variable", "tunable"],
)
def test_a_malloc_threshold_chosen_in_the_environment_is_kept(chosen: dict[str, str]) -> None:
    assert _probe(f"import ingest.cli\n{_MAPPED}", **chosen) == [0]


def test_the_plugin_leaves_malloc_as_it_is() -> None:
    assert _probe(f"import ingest.ui.plugin\n{_MAPPED}") == [0]
