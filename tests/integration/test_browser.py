"""The Airflow UI, rendered by headless Chromium, lists the project's DAGs.

The REST API can say a DAG is serialised while the UI still fails to show it (a broken
`doc_md`, a tag the UI cannot render, a front-end error): only a browser that runs the UI's
JavaScript sees what a user sees. A screenshot of the page is kept in the test's folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import load_sources
from tests.conftest import ROOT
from tests.integration.conftest import Stack
from tests.integration.harness import run_chromium

pytestmark = [pytest.mark.airflow, pytest.mark.integration]


def test_ui_lists_the_project_dags(chromium: str, airflow_stack: Stack, tmp_path: Path) -> None:
    airflow = airflow_stack.airflow
    dag_ids = [f"news_ingest__{s.id}" for s in load_sources(airflow_stack.sources).sources]
    dag_ids += [p.stem for p in (ROOT / "dags").glob("news_daily.py")]  # the DAGs beside them
    for dag_id in dag_ids:
        airflow.wait_for_dag(dag_id)
    page = f"{airflow.api_url}/dags"

    dom = run_chromium(chromium, ["--dump-dom", page], tmp_path)
    missing = [dag_id for dag_id in dag_ids if dag_id not in dom]
    assert not missing, f"{missing} not in the rendered DAG list:\n{dom[-3000:]}"

    screenshot = tmp_path / "dags.png"
    run_chromium(chromium, [f"--screenshot={screenshot}", page], tmp_path)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {screenshot}"
