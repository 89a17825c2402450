"""`newsflow query`'s views: exactly the published rows (each once, even while a compaction is
pending), the Hive partition dates, and no access to anything but the views unless asked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.transforms.test_compaction import NOW, OLD_DAY, Stop, article, fill, stop
from transforms.commit import commit_articles, commit_lock
from transforms.compaction import JOURNAL, compact
from transforms.dataset import commit_run_metrics
from transforms.exceptions import CorruptFile
from transforms.query import run_query
from transforms.schema import ARTICLE_SCHEMA

PART = Path("articles") / "published_date=2024-03-01"


def run_row(source: str, new: int, quarantined: int) -> dict[str, Any]:
    """A runs row: what one run of `source` did."""
    return {
        "run_id": f"manual__{source}",
        "source_id": source,
        "interval_start": NOW,
        "interval_end": NOW,
        "started_at": NOW,
        "finished_at": NOW,
        "status": "success",
        "reprocess": False,
        "new": new,
        "quarantined": quarantined,
    }


def counts(root: Path) -> tuple[int, int]:
    """Rows and distinct article ids the articles view shows."""
    rows = run_query(root, "SELECT count(*), count(DISTINCT article_id) FROM articles")[1]
    return rows[0][0], rows[0][1]


def test_a_compaction_pending_with_its_target_written_shows_each_row_once(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    with commit_lock(tmp_path), pytest.raises(Stop):
        compact(tmp_path, dt.timedelta(days=7), NOW, after_write=stop)
    assert (tmp_path / PART / JOURNAL).exists()
    assert len(list((tmp_path / PART).glob("*.parquet"))) == 13  # the target and its inputs
    assert counts(tmp_path) == (len(ids), len(ids))


def test_a_compaction_pending_without_its_target_shows_the_inputs(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    inputs = sorted(p.name for p in (tmp_path / PART).glob("*.parquet"))
    plan = {"inputs": inputs, "target": "compacted-0123456789abcdef.parquet"}
    (tmp_path / PART / JOURNAL).write_text(json.dumps(plan))
    assert counts(tmp_path) == (len(ids), len(ids))


def test_views_keep_date_partitions_and_read_files_older_than_a_column(tmp_path: Path) -> None:
    new = article(1, OLD_DAY, "a", "run1") | {"story_id": f"{1:016x}"}
    commit_articles(pa.Table.from_pylist([new], schema=ARTICLE_SCHEMA), tmp_path, "a", "K1")
    early = pa.schema(list(ARTICLE_SCHEMA)[:20])  # written before stories and tags existed
    old = {k: v for k, v in article(2, OLD_DAY, "b", "run0").items() if k in early.names}
    pq.write_table(pa.Table.from_pylist([old], schema=early), tmp_path / PART / "b__K0.parquet")
    commit_run_metrics(run_row("a", 1, 0), tmp_path, "a", "K1", NOW.date())
    _, rows = run_query(
        tmp_path,
        "SELECT source_id, published_date, typeof(published_date), story_id FROM articles "
        "ORDER BY 1",
    )
    assert rows == [
        ("a", dt.date(2024, 3, 1), "DATE", f"{1:016x}"),
        ("b", dt.date(2024, 3, 1), "DATE", None),
    ]
    assert run_query(tmp_path, "SELECT run_date, typeof(run_date) FROM runs")[1] == [
        (NOW.date(), "DATE")
    ]
    described = "SELECT column_type FROM (DESCRIBE quarantine) WHERE column_name = 'run_date'"
    assert run_query(tmp_path, described)[1] == [("DATE",)]
    assert run_query(tmp_path, "SELECT count(*) FROM quarantine")[1] == [(0,)]


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "COPY articles TO '{tmp}/articles/published_date=2024-03-01/a__K1.parquet'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_parquet('{tmp}/articles/*/*.parquet')",
        "ATTACH '{tmp}/x.duckdb'",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
    ],
)
def test_queries_read_only_the_views(tmp_path: Path, sql: str) -> None:
    commit_articles(
        pa.Table.from_pylist([article(1, OLD_DAY, "a", "run1")], schema=ARTICLE_SCHEMA),
        tmp_path,
        "a",
        "K1",
    )
    stored = (tmp_path / PART / "a__K1.parquet").read_bytes()
    with pytest.raises(duckdb.Error):
        run_query(tmp_path, sql.format(tmp=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "state"]  # the commit's index
    assert (tmp_path / PART / "a__K1.parquet").read_bytes() == stored
    assert run_query(tmp_path, "SELECT count(*) FROM articles")[1] == [(1,)]


def test_unsafe_is_full_duckdb(tmp_path: Path) -> None:
    _, rows = run_query(tmp_path, "SELECT count(*) > 0 FROM read_text('/etc/passwd')", unsafe=True)
    assert rows == [(True,)]
    run_query(tmp_path, f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", unsafe=True)
    assert (tmp_path / "x.csv").exists()


def test_a_file_that_is_not_parquet_is_named(tmp_path: Path) -> None:
    fill(tmp_path)
    broken = tmp_path / PART / "b__K1.parquet"
    broken.write_bytes(broken.read_bytes()[:100])  # truncated
    with pytest.raises(CorruptFile, match=r"b__K1\.parquet: is not a readable Parquet file"):
        run_query(tmp_path, "SELECT count(*) FROM articles")
