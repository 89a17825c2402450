"""A source's parts put together as the stages' work files of the whole run
(ingest/run/parts.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from ingest.run.model import Part, Run
from ingest.run.parts import _LINES, _join_files
from tests.transforms.test_dataset import row, table


def test_parts_are_joined_in_order_in_row_groups_of_the_chunk_size(tmp_path: Path) -> None:
    # chunks taken while a fetch went on, of 3, 4, 1 and 6 rows, each in row groups of 2:
    # the joined file holds their rows in order, in row groups of 5 (not one per part)
    parts = [Part(k, 0) for k in range(4)]
    rows = [row(n, dt.datetime(2023, 4, 1, n, tzinfo=dt.UTC)) for n in range(14)]
    at = 0
    for part, size in zip(parts, [3, 4, 1, 6], strict=True):
        path = tmp_path / part.name("articles.parquet")
        pq.write_table(table(rows[at : at + size]), path, row_group_size=2)
        for filename in _LINES:
            (tmp_path / part.name(filename)).write_text(f"{part.index}\n", encoding="utf-8")
        at += size
    _join_files(Run.adhoc(), tmp_path, parts, group_rows=5)
    joined = pq.ParquetFile(tmp_path / "articles.parquet")
    groups = [joined.metadata.row_group(g).num_rows for g in range(joined.metadata.num_row_groups)]
    assert groups == [5, 5, 4]
    assert joined.read().equals(table(rows))
    for filename in _LINES:
        assert (tmp_path / filename).read_text(encoding="utf-8") == "0\n1\n2\n3\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["articles.parquet", *_LINES])
