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
            "discovered_items",
            "fetched_pages",
            "extracted_articles",
            "normalised_articles",
            "stored_articles",
        ]
        for task in dag.tasks:
            assert task.owner == "newsflow"
            assert task.retries >= 2
            assert task.on_failure_callback
        (outlet,) = dag.get_task("stored_articles").outlets
        assert outlet.name == "newsflow_articles" and outlet.uri == "newsflow://articles/"
        assert dag.params["refetch"] is False
        assert f"(/newsflow/sources?source={source.id})" in dag.doc_md  # the runs: the plugin


def ingest_docs(monkeypatch: pytest.MonkeyPatch, data: str) -> dict[str, str]:
    """The ingest DAGs' docs, by DAG id, as parsed with NEWSFLOW_DATA set to `data`."""
    monkeypatch.setenv("NEWSFLOW_DATA", data)
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return {i: d.doc_md or "" for i, d in bag.dags.items() if i.startswith("news_ingest__")}


def test_parsing_does_not_touch_the_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DAG files are configuration: their docs are the sources file's, whatever the data root
    holds, and one that is missing, a file, not a local folder or has run records gives the
    same DAGs (what is wrong with it is for the tasks to say)."""
    missing = tmp_path / "missing"
    docs = ingest_docs(monkeypatch, str(missing))
    assert docs and not missing.exists()
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    assert ingest_docs(monkeypatch, str(tmp_path / "a-file")) == docs
    assert ingest_docs(monkeypatch, str(tmp_path / "a-file" / "below")) == docs
    assert ingest_docs(monkeypatch, "ftp://bucket/x") == docs
    unreadable = tmp_path / "unreadable"
    (unreadable / "runs" / "latest").mkdir(parents=True)
    for source_id in (dag_id.split("__", 1)[1] for dag_id in docs):
        (unreadable / "runs" / "latest" / f"{source_id}.json").mkdir()  # not a file
    unreadable.chmod(0)
    try:
        assert ingest_docs(monkeypatch, str(unreadable)) == docs
    finally:
        unreadable.chmod(0o755)
    recorded = tmp_path / "recorded"
    (recorded / "runs" / "latest").mkdir(parents=True)
    for source_id in (dag_id.split("__", 1)[1] for dag_id in docs):
        run = {"run_id": "scheduled__2026-11-25T12:00:00+00:00", "status": "success"}
        (recorded / "runs" / "latest" / f"{source_id}.json").write_text(json.dumps(run))
    assert ingest_docs(monkeypatch, str(recorded)) == docs


def test_dag_files_import_the_assets_and_take_the_context_as_parameters(dagbag: DagBag) -> None:
    from ingest.run.assets import ARTICLES, REPORT

    for dag_file in sorted(DAGS.glob("*.py")):
        code = dag_file.read_text(encoding="utf-8")
        assert "Asset(" not in code, f"{dag_file.name}: import the Assets from ingest.run.assets"
        assert "get_current_context" not in code, f"{dag_file.name}: declare context parameters"
    outlets = [o for dag in dagbag.dags.values() for task in dag.tasks for o in task.outlets]
    assert outlets and all(o in (ARTICLES, REPORT) for o in outlets)


def test_news_daily_follows_the_articles_asset_and_the_clock(dagbag: DagBag) -> None:
    from airflow.timetables.assets import AssetOrTimeSchedule

    dag = dagbag.dags["news_daily"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert [t.task_id for t in dag.topological_sort()] == [
        "compacted_partitions",
        "quality_findings",
        "daily_report",
    ]
    assert dag.get_task("daily_report").trigger_rule == "all_done"
    (outlet,) = dag.get_task("daily_report").outlets
    assert outlet.name == "newsflow_report"
    assert dag.params["compact_older_than_days"] == 7 and dag.params["report_day"] is None
    assert "DATA/reports/YYYY-MM-DD/report.html" in dag.doc_md


def test_params_are_validated_by_airflow(dagbag: DagBag) -> None:
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    for dag_id, key, value, message in (
        ("news_daily", "compact_older_than_days", 0, "less than the minimum of 1"),
        ("news_daily", "report_day", "not a day", "is not a 'date'"),
        ("news_ingest__harbour-gazette", "refetch", "yes", "is not of type 'boolean'"),
    ):
        params = copy.deepcopy(dagbag.dags[dag_id].params)
        with pytest.raises(ParamValidationError, match=message):
            params[key] = value
    good = copy.deepcopy(dagbag.dags["news_daily"].params)
    good["report_day"] = "2026-11-24"
    assert good.validate()["report_day"] == "2026-11-24"


def test_a_tasks_parse_builds_only_its_own_dag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runpy

    from airflow.sdk.definitions.context import (
        _AIRFLOW_PARSING_CONTEXT_DAG_ID,
        _AIRFLOW_PARSING_CONTEXT_TASK_ID,
    )

    many = tmp_path / "sources.yaml"
    many.write_text(
        "sources:\n"
        + "".join(f"  - id: s{n}\n    feeds: [https://example.org/{n}.xml]\n" for n in range(30)),
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(many))

    def built() -> list[str]:
        names = runpy.run_path(str(DAGS / "news_ingest.py"))
        return sorted(k for k in names if k.startswith("news_ingest__"))

    assert len(built()) == 30  # the scheduler's and the dag processor's parse: every DAG
    # what Airflow's task runner sets while it parses the file of a task's DAG (its own
    # context manager leaves the variables set afterwards, so monkeypatch sets them here)
    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, "news_ingest__s7")
    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_TASK_ID, "fetched_pages")
    assert built() == ["news_ingest__s7"]
    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, "news_daily")
    assert built() == []  # (another file's DAG)


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


def test_news_reprocess_is_manual_and_needs_a_since_day(dagbag: DagBag) -> None:
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["news_reprocess"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual runs only
    assert [t.task_id for t in dag.topological_sort()] == [
        "reprocessed_articles",
        "recomputed_stories_and_tags",
    ]
    (outlet,) = dag.get_task("recomputed_stories_and_tags").outlets
    assert outlet.name == "newsflow_articles"
    params = copy.deepcopy(dag.params)
    with pytest.raises(ParamValidationError):
        params.validate()  # no since day given
    with pytest.raises(ParamValidationError, match="is not a 'date'"):
        params["since"] = "last week"
    params["since"] = "2026-11-01"
    assert params.validate()["sources"] == []
