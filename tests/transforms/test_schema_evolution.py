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
