"""SQL over the dataset with DuckDB: views `articles`, `quarantine`, `runs` and `quality` over
the published Parquet files (a pending compaction's superseded inputs left out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from transforms.commit import recover_if_idle
from transforms.compaction import published_files
from transforms.dataset import ARTICLES, QUARANTINE, RUNS
from transforms.files import check_readable
from transforms.objectstore import S3Location
from transforms.quality import QUALITY, QUALITY_SCHEMA
from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN, QUARANTINE_SCHEMA, RUNS_SCHEMA

VIEWS: dict[str, tuple[str, pa.Schema, str]] = {
    "articles": (ARTICLES, ARTICLE_SCHEMA, PARTITION_COLUMN),
    "quarantine": (QUARANTINE, QUARANTINE_SCHEMA, "run_date"),
    "runs": (RUNS, RUNS_SCHEMA, "run_date"),
    "quality": (QUALITY, QUALITY_SCHEMA, "check_date"),
}


class EmptyQuery(ValueError):
    """SQL without a statement: nothing but spaces, comments or semicolons."""


def connect(root: Path | S3Location, *, unsafe: bool = False) -> Any:
    """A DuckDB connection with the dataset's views (empty views for empty tables) over a
    local data root or one on an object store (its published files, from its log of commits:
    transforms/lakelog.py). Unless `unsafe`, it reads nothing but the views and writes no
    file: external access is off and the configuration locked. Raises CorruptFile for a
    local file that is not readable Parquet."""
    import duckdb

    if isinstance(root, Path):
        recover_if_idle(root)  # a commit a crash interrupted is finished first, if nobody writes
        datasets = {
            view: _dataset(root / folder, schema, partition)
            for view, (folder, schema, partition) in VIEWS.items()
        }
    else:
        datasets = _lake_datasets(root)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # show timestamps in UTC whatever the machine's zone
    for view, dataset in datasets.items():
        con.register(f"_{view}", dataset)
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM _{view}")
    if not unsafe:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def table_version(root: Path | S3Location, table: str = "articles") -> tuple[Any, ...]:
    """What identifies the rows a view of `table` reads now, without reading them: its
    published files with their size and modification time (a file rewritten in place changes
    both), or on an object store the keys of its published files (a key is never reused). A
    cache of something computed from the rows is good as long as this is equal."""
    if isinstance(root, Path):
        found = []
        for path in published_files(root, table):
            try:
                stat = path.stat()
            except FileNotFoundError:  # replaced meanwhile: the version is new anyway
                continue
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
        return tuple(found)
    from transforms.lakelog import Lake

    return tuple(sorted(Lake(root).published().files.get(table, ())))


def _dataset(folder: Path, schema: pa.Schema, partition: str) -> Any:
    """The published files of a table as one pyarrow dataset: the table's whole schema (files
    written before a column existed read it as null) and the Hive partition column as a date."""
    import pyarrow.dataset as ds

    files = published_files(folder.parent, folder.name)
    check_readable(files)
    key = pa.schema([pa.field(partition, pa.date32())])
    return ds.dataset(
        [str(f) for f in files],
        schema=pa.unify_schemas([schema, key]),
        format="parquet",
        partitioning=ds.partitioning(key, flavor="hive"),
        partition_base_dir=str(folder),
    )


def _lake_datasets(location: S3Location) -> dict[str, Any]:
    """Each view's published files on the object store as one pyarrow dataset (DuckDB reads
    them through pyarrow: its own S3 extension would have to be downloaded)."""
    import pyarrow.dataset as ds

    from transforms.lakelog import Lake

    lake = Lake(location)
    published = lake.published().files
    out = {}
    for view, (folder, schema, partition) in VIEWS.items():
        key = pa.schema([pa.field(partition, pa.date32())])
        out[view] = ds.dataset(
            [lake.uri(p) for p in sorted(published.get(folder, ()))],
            schema=pa.unify_schemas([schema, key]),
            format="parquet",
            filesystem=lake.fs,
            partitioning=ds.partitioning(key, flavor="hive"),
            partition_base_dir=lake.uri(folder),
        )
    return out


def run_query(
    root: Path | S3Location, sql: str, *, unsafe: bool = False
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` run against the dataset's views (see `connect`).
    Raises EmptyQuery for SQL without a statement."""
    con = connect(root, unsafe=unsafe)
    try:
        result = con.execute(sql)
        if result is None:  # DuckDB's answer to SQL without a statement
            raise EmptyQuery("the query is empty")
        columns = [d[0] for d in result.description] if result.description else []
        return columns, result.fetchall()
    finally:
        con.close()


def write_result(
    columns: list[str], rows: list[tuple[Any, ...]], fmt: str, output: Path | None = None
) -> None:
    """A query's result as a table, CSV (a header line, lists and structs as JSON), JSON (an
    array of objects; timestamps in ISO 8601) or Parquet (only to a file), to `output` or
    stdout."""
    import io
    import json
    import sys

    if fmt == "parquet":
        if output is None:
            raise ValueError("Parquet is written to a file only")
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows])
        if not rows:
            table = pa.table({c: pa.array([], pa.null()) for c in columns})
        pq.write_table(table, output)
        return
    if fmt == "csv":
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
        text = buffer.getvalue()
    elif fmt == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        text = json.dumps(records, default=_json_value, ensure_ascii=False, indent=1) + "\n"
    else:
        text = format_table(columns, rows) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _json_value(value: Any) -> Any:
    import datetime as dt
    import decimal

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _csv_cell(value: Any) -> Any:
    import json

    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def format_table(columns: list[str], rows: list[tuple[Any, ...]], max_width: int = 60) -> str:
    """A plain-text table: one header, one line per row, long cells shortened."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        text = " ".join(text.split())
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)
