"""A source's parts put together as the stages' work files of the whole run
(ingest/run/parts.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.run.model import Part, Run
from ingest.run.parts import _LINES, _join_files
from tests.transforms.test_dataset import row, table


@pytest.mark.parametrize(
    ("sizes", "groups"), [([3, 4, 1, 6], [5, 5, 4]), ([3, 4, 1, 7], [5, 5, 5])]
)
def test_parts_are_joined_in_order_in_row_groups_of_the_chunk_size(
    tmp_path: Path, sizes: list[int], groups: list[int]
) -> None:
    # chunks taken while a fetch went on, each in row groups of 2: the joined file holds
    # their rows in order, in row groups of 5 (not one per part, and no empty one at the end)
    parts = [Part(k, 0) for k in range(len(sizes))]
    rows = [row(n, dt.datetime(2023, 4, 1, n, tzinfo=dt.UTC)) for n in range(sum(sizes))]
    at = 0
    for part, size in zip(parts, sizes, strict=True):
        path = tmp_path / part.name("articles.parquet")
        pq.write_table(table(rows[at : at + size]), path, row_group_size=2)
        for filename in _LINES:
            (tmp_path / part.name(filename)).write_text(f"{part.index}\n", encoding="utf-8")
        at += size
    _join_files(Run.adhoc(), tmp_path, parts, group_rows=5)
    joined = pq.ParquetFile(tmp_path / "articles.parquet")
    meta = joined.metadata
    written = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert written == groups
    assert joined.read().equals(table(rows))
    for filename in _LINES:
        assert (tmp_path / filename).read_text(encoding="utf-8") == "0\n1\n2\n3\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["articles.parquet", *_LINES])
