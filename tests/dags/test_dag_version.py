"""An ingest DAG's version changes with its DAG file and the sources file, never with its runs.

Everything a DAG file computes at parse time is serialised, and a serialised DAG that
differs from the one its last runs used is a new DAG version: docs showing the last run
made one on every run. Here a real Airflow (`airflow dags test` and `airflow dags
reserialize`, each parsing the dags folder afresh, on a SQLite metadata database of its
own) runs an ingest DAG twice against the demo site, and the versions recorded in the
metadata database are counted after parsing, after the first run and after the second.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.integration.harness import airflow_cli, private_env

pytestmark = pytest.mark.airflow
DAG_ID = "news_ingest__limited-times"  # hourly: two runs, an hour apart


def airflow_env(home: Path, sources: Path, data: Path) -> dict[str, str]:
    """A private Airflow home (SQLite) with the project's DAGs, the test's sources and data."""
    env = private_env(home)
    env.update(
        {
            # every parse writes what changed (by default a DAG is rewritten at most every
            # 30 s, which would hide a change made by a run that took less)
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
            "NEWSFLOW_SOURCES": str(sources),
            "NEWSFLOW_DATA": str(data),
        }
    )
    return env


def metadata(home: Path, query: str, dag_id: str) -> list[object]:
    """The first column of `query` (one `?`: the DAG id) on the home's metadata database."""
    with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
        return [row[0] for row in db.execute(query, (dag_id,)).fetchall()]


def versions(home: Path, dag_id: str) -> list[object]:
    """The DAG's version numbers, oldest first."""
    query = "SELECT version_number FROM dag_version WHERE dag_id = ? ORDER BY version_number"
    return metadata(home, query, dag_id)


def run_states(home: Path, dag_id: str) -> list[object]:
    """The states of the DAG's runs, oldest first."""
    return metadata(home, "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)


def test_runs_leave_the_ingest_dag_version_unchanged(demo_sources: Path, tmp_path: Path) -> None:
    home, data = tmp_path / "airflow-home", tmp_path / "data"
    home.mkdir()
    env = airflow_env(home, demo_sources, data)
    airflow_cli(env, "db", "migrate")

    airflow_cli(env, "dags", "reserialize")  # what the dag-processor does, once
    parsed = versions(home, DAG_ID)
    assert parsed == [1]

    seen = [parsed]
    for logical_date in ("2026-11-25T12:00:00+00:00", "2026-11-25T13:00:00+00:00"):
        airflow_cli(env, "dags", "test", DAG_ID, logical_date)
        airflow_cli(env, "dags", "reserialize")  # parsed again after the run, as it would be
        seen.append(versions(home, DAG_ID))
    assert run_states(home, DAG_ID) == ["success", "success"]
    assert seen == [[1], [1], [1]], f"versions after parsing, run 1 and run 2: {seen}"
