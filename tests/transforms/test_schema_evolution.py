"""A dataset whose files were written under two schema versions (a column was added in
between) reads the same in pandas, pyarrow, DuckDB and polars once the upkeep has run:
compaction rewrites every partition that holds a file of an older version, whatever its
age, so every file has the current schema and no reader silently drops a column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from tests.transforms.test_compaction import NOW, fill
from transforms.commit import commit_lock
from transforms.compaction import compact, outdated
from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN, SCHEMA_VERSION

ADDED_LATER = ("title_source", "authors_source", "credits")  # the columns of version 5


def write_as_older_version(path: Path) -> None:
    """Rewrite a table file as the version before its last columns existed wrote it."""
    table = pq.read_table(path, schema=ARTICLE_SCHEMA)
    table = table.drop_columns(list(ADDED_LATER))
    metadata = {**(ARTICLE_SCHEMA.metadata or {}), b"newsflow.schema_version": b"4"}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")


def readers(articles: Path) -> dict[str, tuple[set[str], int]]:
    """(columns, rows) as each analytics library reads the table folder."""
    import duckdb
    import pandas as pd
    import polars as pl

    frame = pd.read_parquet(articles)
    table = pq.read_table(articles)
    con = duckdb.connect()
    duck = con.execute(
        f"SELECT * FROM read_parquet('{articles}/**/*.parquet', hive_partitioning = true)"
    )
    duck_columns = {d[0] for d in duck.description or []}
    duck_rows = len(duck.fetchall())
    try:
        polar = pl.read_parquet(f"{articles}/**/*.parquet", hive_partitioning=True)
        polars_read = (set(polar.columns), polar.height)
    except pl.exceptions.SchemaError:  # files that disagree: polars refuses the read
        polars_read = (set(), 0)
    return {
        "pandas": (set(frame.columns), len(frame)),
        "pyarrow": (set(table.column_names), table.num_rows),
        "duckdb": (duck_columns, duck_rows),
        "polars": polars_read,
    }


def test_every_reader_sees_every_column_after_the_upkeep(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    old_day = tmp_path / "articles" / f"{PARTITION_COLUMN}=2024-03-01"
    files = sorted(old_day.glob("*.parquet"))
    for path in files:
        write_as_older_version(path)
    assert all(outdated(path) for path in files)
    expected = {*ARTICLE_SCHEMA.names, PARTITION_COLUMN}
    # the first file a reader meets is of the older version: without the upgrade, readers
    # that take the schema from it lose the added columns
    before = readers(tmp_path / "articles")
    assert any(columns != expected for columns, _ in before.values()), before

    with commit_lock(tmp_path):  # nothing is old enough to be due: only the upgrade runs
        done = compact(tmp_path, dt.timedelta(days=60), NOW)
    assert done["upgraded"] == 1 and done["partitions"] == 1 and done["files"] == len(files)
    assert not any(outdated(p) for p in (tmp_path / "articles").rglob("*.parquet"))
    for name, (columns, rows) in readers(tmp_path / "articles").items():
        assert columns == expected, name
        assert rows == len(ids), name
    with commit_lock(tmp_path):  # nothing left to upgrade
        assert compact(tmp_path, dt.timedelta(days=60), NOW)["upgraded"] == 0


def test_the_current_version_is_written_in_every_footer(tmp_path: Path) -> None:
    fill(tmp_path)
    for path in (tmp_path / "articles").rglob("*.parquet"):
        metadata = pq.read_schema(path).metadata or {}
        assert metadata[b"newsflow.schema_version"] == SCHEMA_VERSION.encode()


def test_quarantine_and_runs_files_of_an_older_version_are_upgraded(tmp_path: Path) -> None:
    from transforms.compaction import upgrade_tables
    from transforms.dataset import commit_quarantine, commit_run_metrics
    from transforms.schema import QUARANTINE_SCHEMA, RUNS_SCHEMA

    for k, day in enumerate((dt.date(2024, 3, 1), dt.date(2024, 3, 2))):
        at = dt.datetime(2024, 3, 1 + k, tzinfo=dt.UTC)
        run = {"run_id": f"r{k}", "source_id": "a", "interval_start": at, "interval_end": at}
        run |= {"started_at": at, "finished_at": at, "status": "success", "reprocess": False}
        commit_run_metrics(run, tmp_path, "a", f"K{k}", day)
        bad = {"url": "https://a.example/x", "source_id": "a", "stage": "fetch"}
        bad |= {"reason": "http_5xx", "run_id": f"r{k}", "at": at}
        commit_quarantine([bad], tmp_path, "a", f"K{k}", day, [f"r{k}"])
    runs = sorted((tmp_path / "runs").rglob("*.parquet"))
    newer = ("failed_task", "error")  # as if these had been added since
    for path in runs[:1]:  # a reader meets the older file first
        table = pq.read_table(path).drop_columns(list(newer))
        metadata = {**(RUNS_SCHEMA.metadata or {}), b"newsflow.schema_version": b"4"}
        pq.write_table(table.replace_schema_metadata(metadata), path)
    assert set(readers(tmp_path / "runs")["pyarrow"][0]) & set(newer) == set()

    quarantine = sorted((tmp_path / "quarantine").rglob("*.parquet"))
    for path in quarantine[:1]:  # and a quarantine file from before "detail" existed
        table = pq.read_table(path).drop_columns(["detail"])
        metadata = {**(QUARANTINE_SCHEMA.metadata or {}), b"newsflow.schema_version": b"4"}
        pq.write_table(table.replace_schema_metadata(metadata), path)
    assert "detail" not in readers(tmp_path / "quarantine")["pyarrow"][0]

    with commit_lock(tmp_path):
        assert upgrade_tables(tmp_path) == 2
        assert upgrade_tables(tmp_path) == 0
    for name, (columns, rows) in readers(tmp_path / "runs").items():
        assert {*RUNS_SCHEMA.names, "run_date"} == columns, name
        assert rows == len(runs), name
    for name, (columns, rows) in readers(tmp_path / "quarantine").items():
        assert {*QUARANTINE_SCHEMA.names, "run_date"} == columns, name
        assert rows == len(quarantine), name
