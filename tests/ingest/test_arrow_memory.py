"""Arrow's allocator: the system's in the processes that run newsflow's pipeline, set by
importing `ingest.run` before pyarrow (ingest/run/__init__.py) unless the environment chose
one; and untouched in the other task processes of an Airflow deployment, which load the
newsflow plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


def _probe(code: str, chosen: str | None = None) -> list[str]:
    """The last line of what `code` prints, as JSON, in a fresh interpreter whose
    environment sets ARROW_DEFAULT_MEMORY_POOL to `chosen` (unset when None)."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
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
