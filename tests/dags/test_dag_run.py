"""A generated DAG runs in-process (dag.test()) against the demo site and writes what the CLI writes."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from airflow.dag_processing.dagbag import DagBag

from ingest.cli import main
from tests.conftest import ROOT

pytestmark = pytest.mark.airflow
UTC = dt.UTC


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    from airflow.utils import db

    db.resetdb()
    yield


def rows(root: Path) -> list[tuple[object, ...]]:
    table = ds.dataset(root / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(
        (
            r["article_id"],
            r["canonical_url"],
            r["title"],
            r["text"],
            r["published_at"],
            r["duplicate_of"],
            str(r["published_date"]),
        )
        for r in table.to_pylist()
    )


def asset_events(dag_id: str) -> list[dict[str, object]]:
    """The extras of the Asset events the DAG's runs made, oldest first."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetEvent.extra).where(AssetEvent.source_dag_id == dag_id)
        return [dict(extra) for extra in session.scalars(query.order_by(AssetEvent.id))]


def test_dag_run_writes_the_same_rows_as_the_cli(
    airflow_db: None, demo_sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag_data, cli_data = tmp_path / "dag-data", tmp_path / "cli-data"
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(demo_sources))
    monkeypatch.setenv("NEWSFLOW_DATA", str(dag_data))
    dags = DagBag(dag_folder=str(ROOT / "dags")).dags
    for source_id in ("harbour-gazette", "limited-times"):
        run = dags[f"news_ingest__{source_id}"].test(
            logical_date=dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
        )
        assert run.state == "success"
        window = (run.data_interval_start, run.data_interval_end)
        assert window[1] - window[0] > dt.timedelta(
            0
        )  # a real [start, end) window, not a zero-width one
    dag_rows = rows(dag_data)
    assert len(dag_rows) == 5
    # stored_articles got the outlet events as a parameter: the Asset event carries the counts
    (event,) = asset_events("news_ingest__limited-times")
    assert event["new"] + event["duplicate"] == 2 and event["source_id"] == "limited-times"
    seed = next(
        r
        for r in dag_rows
        if r[2] == "New Putin-Lukashenko plan: Russia apparently moves Belarus troops"
    )
    assert (
        seed[4] == dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC)
        and seed[6] == "2023-04-06"
    )
    files = sorted(p.name for p in (dag_data / "articles").glob("*/limited-times__*.parquet"))
    assert files == [
        "limited-times__20261125T110000Z_20261125T120000Z.parquet"
    ]  # named by the hourly window
    quarantine = (
        ds.dataset(dag_data / "quarantine", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    assert sorted(q["reason"] for q in quarantine) == ["http_404", "not_html", "robots_disallowed"]
    assert all(q["run_id"].startswith("manual__") for q in quarantine)

    assert main(["ingest", "--config", str(demo_sources), "--data", str(cli_data)]) == 0
    assert rows(cli_data) == dag_rows

    # the daily DAG after the ingest runs: compaction, checks, report
    daily = dags["news_daily"].test(
        logical_date=dt.datetime(2026, 11, 25, 13, tzinfo=UTC),
        run_conf={"report_day": "2023-04-06", "check_days": 3},
    )
    assert daily.state == "success"
    assert {ti.task_id: ti.state for ti in daily.get_task_instances()} == {
        "compacted_partitions": "success",
        "quality_findings": "success",
        "daily_report": "success",
    }
    for day in ("2023-04-05", "2023-04-06"):  # old partitions: one compacted file each
        (only,) = (dag_data / "articles" / f"published_date={day}").iterdir()
        assert only.name.startswith("compacted-")
    assert rows(dag_data) == dag_rows
    report = dag_data / "reports" / "2023-04-06" / "report.html"
    assert asset_events("news_daily") == [{"report": str(report)}]
    assert "Articles per source per day" in report.read_text(encoding="utf-8")
    assert (dag_data / "reports" / "2023-04-06" / "articles_per_source.png").stat().st_size > 1000
    assert (dag_data / "quality" / "check_date=2023-04-06" / "quality.parquet").exists()

    # reprocessing from the raw responses gives the same rows back
    again = dags["news_reprocess"].test(
        logical_date=dt.datetime(2026, 11, 25, 14, tzinfo=UTC),
        run_conf={"since": "2026-11-25", "workers": 1},
    )
    assert again.state == "success"
    (recomputed,) = asset_events("news_reprocess")
    assert set(recomputed) == {"story_rows_changed", "tag_rows_changed"}
    assert rows(dag_data) == dag_rows

    # a manual run with the Param refetch reads the unchanged feed in full and fetches again
    refetched = dags["news_ingest__harbour-gazette"].test(
        logical_date=dt.datetime(2026, 11, 25, 16, 15, tzinfo=UTC), run_conf={"refetch": True}
    )
    assert refetched.state == "success"
    latest = last_run(dag_data, "harbour-gazette")
    assert latest["not_modified"] == 0 and latest["fetched"] > 0
    assert latest["new"] == 0 and latest["seen"] >= latest["fetched"]
    assert rows(dag_data) == dag_rows

    # a scheduled run that finds nothing new commits in discovered_items; the rest is skipped
    quiet = dags["news_ingest__harbour-gazette"].test(  # dag.test() keeps the last run's conf
        logical_date=dt.datetime(2026, 11, 25, 18, 15, tzinfo=UTC), run_conf={"refetch": False}
    )
    states = {ti.task_id: ti.state for ti in quiet.get_task_instances()}
    assert states.pop("discovered_items") == "success"
    assert set(states.values()) == {"skipped"} and len(states) == 4
    latest = last_run(dag_data, "harbour-gazette")
    assert latest["run_id"] == quiet.run_id and latest["status"] == "success"
    assert latest["fetched"] == 0 and latest["not_modified"] == 1


def last_run(root: Path, source_id: str) -> dict[str, Any]:
    """The source's latest row of the runs table."""
    from transforms.query import run_query

    columns, rows = run_query(
        root,
        f"SELECT * FROM runs WHERE source_id = '{source_id}' ORDER BY finished_at DESC LIMIT 1",
    )
    return dict(zip(columns, rows[0], strict=True))


def test_a_failed_task_is_recorded_and_notified(
    demo_sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from ingest.run.callbacks import task_failed

    calls: list[object] = []
    module = type(sys)("newsflow_test_notifiers")
    module.remember = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "newsflow_test_notifiers", module)
    monkeypatch.setenv(
        "NEWSFLOW_FAILURE_NOTIFIERS", "newsflow_test_notifiers:remember, missing_module:x"
    )
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(demo_sources))
    monkeypatch.setenv("NEWSFLOW_DATA", str(tmp_path))
    start = dt.datetime(2026, 11, 25, 11, tzinfo=UTC)
    context = {
        "run_id": "scheduled__2026-11-25T11:00:00+00:00",
        "data_interval_start": start,
        "data_interval_end": start + dt.timedelta(hours=1),
        "task_instance": type("TI", (), {"task_id": "fetched_pages"})(),
        "exception": ConnectionError("the network went away"),
    }
    task_failed("harbour-gazette", context)
    (path,) = (tmp_path / "runs").glob("run_date=*/*.parquet")
    (row,) = pq.read_table(path).to_pylist()
    assert (row["status"], row["failed_task"], row["source_id"]) == (
        "failed",
        "fetched_pages",
        "harbour-gazette",
    )
    assert row["error"] == "ConnectionError: the network went away"
    assert calls == [context]  # the broken notifier path is logged, the good one still runs
