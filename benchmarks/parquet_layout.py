"""Parquet conventions, before and after: file size and typical analytics queries on one
compacted partition file of realistic articles, written with pyarrow's defaults (zstd,
every column dictionary-encoded, no declared order) and with the project's conventions
(transforms.schema.writer_options: no dictionary for free text, ids and signatures; the
sort order declared in the footer). Same rows, same row groups, one run; the query times
are the best of --rounds, with DuckDB on one thread.

The rows: the article bodies and titles of the public evaluation sets (../shared/eval),
repeated under new ids to --rows rows, with synthetic MinHash signatures and band hashes
(benchmarks/store.py) and a dozen sources. Not a test: compare the ratios.

    .venv/bin/python benchmarks/parquet_layout.py [--rows 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.store import rows_for, table_of  # noqa: E402
from transforms.compaction import ROW_GROUP_ROWS  # noqa: E402
from transforms.schema import SORT_ORDER, writer_options  # noqa: E402

DAY = dt.date(2024, 3, 1)
QUERIES = {
    "articles per source": "SELECT source_id, count(*) FROM t GROUP BY 1",
    "one hour's titles": (
        "SELECT title FROM t WHERE published_at >= TIMESTAMPTZ '2024-03-01 10:00:00+00' "
        "AND published_at < TIMESTAMPTZ '2024-03-01 11:00:00+00'"
    ),
    "text search": "SELECT count(*) FROM t WHERE text ILIKE '%government%'",
    "whole rows of one source": "SELECT * FROM t WHERE source_id = 'src-3'",
}


def articles(rows: int) -> pa.Table:
    """`rows` articles with the evaluation sets' real titles and bodies, sorted as a
    compacted partition is."""
    from benchmarks.extraction import load_corpus

    pages = [p for p in load_corpus() if p.is_article and p.body]
    if not pages:
        raise SystemExit("the evaluation sets are missing (../shared/eval)")
    columns = rows_for(rows, DAY, np.random.default_rng(7), 0)
    columns["text"] = [pages[k % len(pages)].body for k in range(rows)]
    columns["title"] = [pages[k % len(pages)].title or "" for k in range(rows)]
    columns["language"] = ["en"] * rows
    columns["places"] = [["DE", "FR"][: k % 3] for k in range(rows)]
    return table_of(columns).sort_by(list(SORT_ORDER))


def query_seconds(path: Path, sql: str, rounds: int) -> float:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - started)
    con.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    table = articles(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        before, after = Path(tmp) / "before.parquet", Path(tmp) / "after.parquet"
        pq.write_table(table, before, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        pq.write_table(
            table,
            after,
            row_group_size=ROW_GROUP_ROWS,
            **writer_options(table.schema, sorted_rows=True),
        )
        size_b, size_a = before.stat().st_size, after.stat().st_size
        print(f"{args.rows} articles, one compacted file, row groups of {ROW_GROUP_ROWS}")
        print(f"{'':<28}{'defaults':>12}{'conventions':>14}{'ratio':>8}")
        print(f"{'file size (MiB)':<28}{size_b / 2**20:>12.1f}{size_a / 2**20:>14.1f}"
              f"{size_a / size_b:>8.2f}")  # fmt: skip
        for name, sql in QUERIES.items():
            b = query_seconds(before, sql, args.rounds)
            a = query_seconds(after, sql, args.rounds)
            print(f"{name + ' (ms)':<28}{b * 1000:>12.1f}{a * 1000:>14.1f}{a / b:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
