"""SQL over the dataset with DuckDB: views `articles`, `quarantine` and `runs` over the Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from transforms.dataset import ARTICLES, QUARANTINE, RUNS
from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN, QUARANTINE_SCHEMA, RUNS_SCHEMA

VIEWS: dict[str, tuple[str, pa.Schema, str]] = {
    "articles": (ARTICLES, ARTICLE_SCHEMA, PARTITION_COLUMN),
    "quarantine": (QUARANTINE, QUARANTINE_SCHEMA, "run_date"),
    "runs": (RUNS, RUNS_SCHEMA, "run_date"),
}


def connect(root: Path) -> Any:
    """A DuckDB connection with the dataset's views defined (empty views for empty tables)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # show timestamps in UTC whatever the machine's zone
    for view, (folder, schema, partition) in VIEWS.items():
        pattern = root / folder / "*" / "*.parquet"
        if any((root / folder).glob("*/*.parquet")):
            glob = str(pattern).replace("'", "''")
            con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
            )
        else:
            empty = schema.append(pa.field(partition, pa.string())).empty_table()
            con.register(f"_{view}_empty", empty)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM _{view}_empty")
    return con


def run_query(root: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` run against the dataset's views."""
    con = connect(root)
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description] if result.description else []
        return columns, result.fetchall()
    finally:
        con.close()


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
