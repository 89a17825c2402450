"""Arrow's allocator in newsflow's processes: the system's, set by importing `ingest` before
pyarrow (ingest/__init__.py), unless the environment chose one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# what each kind of newsflow process imports first: the command (and its spawned workers,
# which import the runner), and the three DAG files an Airflow task process parses
ENTRIES = [
    "import ingest.cli",
    "import ingest.run.runner",
    *(
        f"import runpy; runpy.run_path({str(ROOT / 'dags' / name)!r})"
        for name in ("news_ingest.py", "news_daily.py", "news_reprocess.py")
    ),
]


def _backend(entry: str, chosen: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    probe = f"{entry}\nimport pyarrow\nprint(pyarrow.default_memory_pool().backend_name)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return out.stdout.strip().splitlines()[-1]


def test_pyarrow_alone_would_use_another_allocator() -> None:
    # the premise: without newsflow's package, pyarrow picks mimalloc (or jemalloc)
    assert _backend("pass") != "system"


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_newsflow_process_gives_arrow_the_system_allocator(entry: str) -> None:
    assert _backend(entry) == "system"


def test_an_allocator_chosen_in_the_environment_is_kept() -> None:
    assert _backend("import ingest.cli", chosen="mimalloc") == "mimalloc"
