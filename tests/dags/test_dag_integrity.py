"""DAG contracts: they parse without errors, carry the expected settings, and stay light to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.timetables.interval import CronDataIntervalTimetable

from ingest.config import load_sources
from tests.conftest import ROOT

DAGS = ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_configured_source(dagbag: DagBag) -> None:
    ids = {f"news_ingest__{s.id}" for s in load_sources(ROOT / "sources.yaml").sources}
    assert ids and ids <= set(dagbag.dags)


def test_ingest_dags_follow_the_contract(dagbag: DagBag) -> None:
    config = load_sources(ROOT / "sources.yaml")
    for source in config.sources:
        dag = dagbag.dags[f"news_ingest__{source.id}"]
        assert {"newsflow", "ingest", f"source:{source.id}"} <= set(dag.tags)
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert isinstance(dag.timetable, CronDataIntervalTimetable)
        assert dag.timetable.summary == source.cron
        assert dag.doc_md and source.name in dag.doc_md and source.feeds[0] in dag.doc_md
        assert [t.task_id for t in dag.topological_sort()] == [
            "discover_items",
            "fetch_pages",
            "extract_articles",
            "transform_articles",
            "write_articles",
        ]
        for task in dag.tasks:
            assert task.owner == "newsflow"
            assert task.retries >= 2
        (outlet,) = dag.get_task("write_articles").outlets
        assert outlet.name == "newsflow_articles" and outlet.uri == "newsflow://articles/"


def test_importing_a_dag_file_pulls_in_nothing_heavy() -> None:
    probe = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in ('pandas', 'pyarrow', 'trafilatura', 'lxml', 'duckdb', 'feedparser', 'requests') if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(DAGS / "news_ingest.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_broken_sources_file_is_an_import_error_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text(
        "sources:\n  - id: Bad_Id\n    feeds: [https://example.org/f]\n", encoding="utf-8"
    )
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(bad))
    errors = DagBag(dag_folder=str(DAGS)).import_errors
    assert len(errors) == 1
    assert "ids must be lower-case letters" in next(iter(errors.values()))
