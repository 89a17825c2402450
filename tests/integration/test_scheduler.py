"""The DAGs as deployed: a real scheduler, dag-processor and api-server on PostgreSQL run the
ingest DAGs that the REST API triggers, and the dataset and run metrics appear."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Stack

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

INGEST_DAGS = {
    "news_ingest__harbour-gazette": "harbour-gazette",
    "news_ingest__limited-times": "limited-times",
}
DAILY_DAG = "news_daily"  # scheduled on the Asset the ingest DAGs' stored_articles updates


def read_partitions(folder: Path, key: str) -> pa.Table:
    """Every Parquet file of the dataset contract's `folder/key=VALUE/*.parquet` partitions, as
    one table (other files beside them, such as state or journals, are not the dataset)."""
    files = sorted(folder.glob(f"{key}=*/*.parquet"))
    assert files, f"no {key}=*/*.parquet under {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def test_scheduler_runs_the_triggered_ingest_dags(airflow_stack: Stack) -> None:
    airflow, data = airflow_stack.airflow, airflow_stack.data
    started = dt.datetime.now(dt.UTC)
    daily = (ROOT / "dags" / f"{DAILY_DAG}.py").exists()
    if daily:  # unpaused first, so the ingest runs' Asset events create its run
        airflow.wait_for_dag(DAILY_DAG)
        airflow.unpause(DAILY_DAG)

    run_ids = {dag_id: airflow.trigger(dag_id) for dag_id in INGEST_DAGS}
    for dag_id in INGEST_DAGS:
        airflow.unpause(dag_id)
    for dag_id, run_id in run_ids.items():
        run = airflow.wait_for_dag_run(dag_id, run_id)
        assert set(run["task_states"].values()) == {"success"}, run["task_states"]

    articles = read_partitions(data / "articles", "published_date")
    assert sorted(set(articles.column("source_id").to_pylist())) == sorted(INGEST_DAGS.values())
    assert set(articles.column("run_id").to_pylist()) <= set(run_ids.values())
    assert articles.num_rows == 5  # the demo site's articles, the wire copy flagged not dropped

    runs = read_partitions(data / "runs", "run_date")
    ours = sorted(
        (row["run_id"], row["source_id"], row["status"])
        for row in runs.to_pylist()
        if row["run_id"] in run_ids.values()
    )
    assert ours == sorted(
        (run_ids[dag_id], source, "success") for dag_id, source in INGEST_DAGS.items()
    )  # one metrics row per source run

    if daily:
        # the run the ingest runs' Asset events made (unpausing may add a scheduled one too)
        airflow.wait_for_dag_run(DAILY_DAG, since=started, run_type="asset_triggered")
        reports = sorted((data / "reports").glob("*/report.html"))
        assert reports, f"no report under {data / 'reports'}"
