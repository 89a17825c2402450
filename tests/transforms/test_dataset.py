from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from transforms import dataset
from transforms.commit import commit_articles
from transforms.dataset import (
    FILE_COLUMN,
    RunOutput,
    commit_quarantine,
    read_partitions,
    write_atomic,
)
from transforms.schema import ARTICLE_SCHEMA

UTC = dt.UTC


def read_articles(root: Path, columns: list[str], exclude: RunOutput | None = None) -> pa.Table:
    return read_partitions(root, columns, exclude=exclude).drop([FILE_COLUMN])


def row(n: int, published: dt.datetime, **extra: Any) -> dict[str, Any]:
    base = {
        "article_id": f"{n:016x}",
        "url": f"https://news.example/{n}",
        "canonical_url": f"https://news.example/{n}",
        "source_id": "src",
        "site_name": "Example",
        "title": f"Story {n}",
        "description": None,
        "text": f"text of story {n}",
        "authors": ["A. Writer"],
        "published_at": published,
        "date_source": "meta",
        "modified_at": None,
        "fetched_at": dt.datetime(2023, 4, 8, tzinfo=UTC),
        "language": "en",
        "word_count": 4,
        "content_hash": f"hash{n}",
        "duplicate_of": None,
        "run_id": "run-1",
        "extractor": "test",
        "feed_url": None,
    }
    return base | extra


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)


def test_partitions_follow_the_utc_publication_date(tmp_path: Path) -> None:
    rows = [
        row(1, dt.datetime(2023, 4, 6, 23, 59, 59, 999000, tzinfo=UTC)),
        row(2, dt.datetime(2023, 4, 7, 0, 0, tzinfo=UTC)),
        row(3, dt.datetime(2023, 4, 6, 0, 0, tzinfo=UTC)),
    ]
    files = commit_articles(table(rows), tmp_path, "src", "K1")
    rel = sorted(str(f.relative_to(tmp_path)) for f in files)
    assert rel == [
        "articles/published_date=2023-04-06/src__K1.parquet",
        "articles/published_date=2023-04-07/src__K1.parquet",
    ]
    assert pq.read_table(files[0]).num_rows == 2
    # files are sorted by published_at inside a partition
    assert pq.read_table(tmp_path / rel[0])["article_id"].to_pylist() == [f"{3:016x}", f"{1:016x}"]


def test_dataset_reads_as_one_in_duckdb_pandas_and_pyarrow(tmp_path: Path) -> None:
    commit_articles(
        table([row(1, dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC))]),
        tmp_path,
        "src",
        "K1",
    )
    commit_articles(table([row(2, dt.datetime(2023, 4, 7, 1, tzinfo=UTC))]), tmp_path, "src", "K2")
    glob = f"{tmp_path}/articles/**/*.parquet"
    con = duckdb.connect()
    got = con.execute(
        f"SELECT published_date, published_at FROM read_parquet('{glob}', hive_partitioning=true) ORDER BY 2"
    ).fetchall()
    assert [str(r[0]) for r in got] == ["2023-04-06", "2023-04-07"]
    assert got[0][1] == dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC)
    frame = pd.read_parquet(tmp_path / "articles")
    assert sorted(frame["published_date"].astype(str)) == ["2023-04-06", "2023-04-07"]
    arrow = ds.dataset(tmp_path / "articles", format="parquet", partitioning="hive").to_table()
    assert arrow.num_rows == 2
    assert arrow.schema.field("published_at").type == pa.timestamp("us", tz="UTC")


def test_rewriting_a_run_replaces_its_files_and_removes_stale_partitions(tmp_path: Path) -> None:
    commit_articles(
        table(
            [
                row(1, dt.datetime(2023, 4, 6, tzinfo=UTC)),
                row(2, dt.datetime(2023, 4, 5, tzinfo=UTC)),
            ]
        ),
        tmp_path,
        "src",
        "K1",
    )
    commit_articles(table([row(3, dt.datetime(2023, 4, 4, tzinfo=UTC))]), tmp_path, "other", "K1")
    files = commit_articles(
        table([row(1, dt.datetime(2023, 4, 6, tzinfo=UTC))]), tmp_path, "src", "K1"
    )
    assert [f.parent.name for f in files] == ["published_date=2023-04-06"]
    ids = sorted(read_articles(tmp_path, ["article_id"])["article_id"].to_pylist())
    assert ids == [f"{1:016x}", f"{3:016x}"]  # row 2's stale file is gone, the other source's stays


def test_a_failed_write_leaves_the_previous_file_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "articles" / "published_date=2023-04-06" / "src__K1.parquet"
    write_atomic(table([row(1, dt.datetime(2023, 4, 6, tzinfo=UTC))]), target)
    before = target.read_bytes()

    def crash(data: pa.Table, where: Path, **kwargs: Any) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(dataset.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(table([row(2, dt.datetime(2023, 4, 6, tzinfo=UTC))]), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["src__K1.parquet"]


def test_reads_exclude_a_runs_own_files_and_handle_an_empty_dataset(
    tmp_path: Path,
) -> None:
    assert read_articles(tmp_path, ["article_id"]).num_rows == 0
    commit_articles(table([row(1, dt.datetime(2023, 4, 6, tzinfo=UTC))]), tmp_path, "src", "K1")
    commit_articles(table([row(2, dt.datetime(2023, 4, 6, tzinfo=UTC))]), tmp_path, "src", "K2")
    got = read_articles(tmp_path, ["article_id", "content_hash"], RunOutput("src", "K2", "run"))
    assert got.to_pylist() == [{"article_id": f"{1:016x}", "content_hash": "hash1"}]


def test_older_files_without_newer_columns_stay_readable(tmp_path: Path) -> None:
    old = table([row(1, dt.datetime(2023, 4, 6, tzinfo=UTC))]).drop_columns(["feed_url"])
    write_atomic(old, tmp_path / "articles" / "published_date=2023-04-06" / "old.parquet")
    commit_articles(
        table([row(2, dt.datetime(2023, 4, 6, tzinfo=UTC), feed_url="https://f")]),
        tmp_path,
        "src",
        "K2",
    )
    got = read_articles(tmp_path, ["article_id", "feed_url"]).sort_by("article_id").to_pylist()
    assert got == [
        {"article_id": f"{1:016x}", "feed_url": None},
        {"article_id": f"{2:016x}", "feed_url": "https://f"},
    ]


def test_version_5_files_read_with_version_4_files_their_new_columns_null(
    tmp_path: Path,
) -> None:
    added = ["title_source", "authors_source", "credits"]
    assert ARTICLE_SCHEMA.names[-3:] == added  # added at the end, nullable
    assert all(ARTICLE_SCHEMA.field(name).nullable for name in added)
    assert ARTICLE_SCHEMA.metadata[b"newsflow.schema_version"] == b"5"
    old = table([row(1, dt.datetime(2023, 4, 6, tzinfo=UTC))]).drop_columns(added)
    write_atomic(old, tmp_path / "articles" / "published_date=2023-04-06" / "old.parquet")
    new = row(2, dt.datetime(2023, 4, 6, tzinfo=UTC))
    new.update(title_source="heading", authors_source="byline", credits=["dpa", "AFP"])
    commit_articles(table([new]), tmp_path, "src", "K2")
    got = read_articles(tmp_path, ["article_id", *added]).sort_by("article_id").to_pylist()
    assert got == [
        {"article_id": f"{1:016x}", "title_source": None, "authors_source": None, "credits": None},
        {
            "article_id": f"{2:016x}",
            "title_source": "heading",
            "authors_source": "byline",
            "credits": ["dpa", "AFP"],
        },
    ]


def test_quarantine_file_is_replaced_per_run_and_removed_when_empty(tmp_path: Path) -> None:
    at = dt.datetime(2023, 4, 8, tzinfo=UTC)
    rows = [
        {
            "url": "u",
            "source_id": "src",
            "stage": "fetch",
            "reason": "http_404",
            "detail": "d",
            "run_id": "r",
            "at": at,
        }
    ]
    path = commit_quarantine(rows, tmp_path, "src", "K1", dt.date(2023, 4, 8), ["r"])
    assert path is not None and pq.read_table(path).num_rows == 1
    commit_quarantine(rows * 2, tmp_path, "src", "K1", dt.date(2023, 4, 8), ["r"])
    assert pq.read_table(path).num_rows == 2
    assert commit_quarantine([], tmp_path, "src", "K1", dt.date(2023, 4, 8), ["r"]) is None
    assert not path.exists()


def test_rows_committed_a_chunk_at_a_time_land_as_one_file_per_day_in_any_number_of_walks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transforms import commit

    # 40 rows over 9 days, in chunks of 7 in arrival order; at most 4 days staged per walk
    rows = [row(n, dt.datetime(2023, 4, 1 + (n * 5) % 9, n % 24, tzinfo=UTC)) for n in range(40)]
    monkeypatch.setattr(commit, "OPEN_DAYS", 4)
    monkeypatch.setattr(commit, "FLUSH_ROWS", 5)
    walks = []

    def chunks() -> list[pa.Table]:
        walks.append(1)
        return [table(rows[i : i + 7]) for i in range(0, len(rows), 7)]

    files = commit_articles(chunks, tmp_path / "chunked", "src", "K1")
    whole = commit_articles(table(rows), tmp_path / "whole", "src", "K1")
    assert len(walks) == 3  # 9 days, 4 at a time
    assert sorted(f.relative_to(tmp_path / "chunked") for f in files) == sorted(
        f.relative_to(tmp_path / "whole") for f in whole
    )
    assert len(files) == 9
    for path in files:
        got = pq.read_table(path)
        assert sorted(got["article_id"].to_pylist()) == sorted(
            pq.read_table(tmp_path / "whole" / path.relative_to(tmp_path / "chunked"))[
                "article_id"
            ].to_pylist()
        )
        days = {t.date() for t in got["published_at"].to_pylist()}
        assert len(days) == 1
    assert not list((tmp_path / "chunked" / "state" / "staging").iterdir())


def walk_limits(monkeypatch: pytest.MonkeyPatch, open_days: int, flush_rows: int) -> None:
    """Staging's limits, made small: days staged at once and rows buffered."""
    from transforms import commit

    monkeypatch.setattr(commit, "OPEN_DAYS", open_days)
    monkeypatch.setattr(commit, "FLUSH_ROWS", flush_rows)


@pytest.mark.parametrize("seed", range(6))
def test_no_row_is_lost_when_days_come_back_after_a_flush_in_a_crowded_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    walk_limits(monkeypatch, open_days=3, flush_rows=4)
    rng = random.Random(seed)
    # roughly in date order with jitter: days return after their rows were flushed
    days = [min(9, max(0, n // 20 + rng.randint(-3, 3))) for n in range(200)]
    rows = [row(n, dt.datetime(2023, 4, 1 + d, n % 24, tzinfo=UTC)) for n, d in enumerate(days)]
    files = commit_articles(
        lambda: [table(rows[i : i + 7]) for i in range(0, len(rows), 7)], tmp_path, "src", "K1"
    )
    stored = sorted(a for f in files for a in pq.read_table(f)["article_id"].to_pylist())
    assert stored == sorted(r["article_id"] for r in rows)
    assert len(files) == len(set(days))


def test_rows_committed_with_their_day_counts_make_day_files_of_one_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transforms import commit

    # 60 rows over 9 days in chunks of 7 (each chunk spans several days); walks of at most
    # 20 rows: every day file is written whole, in one row group, in one of 4 walks
    rows = [row(n, dt.datetime(2023, 4, 1 + (n * 5) % 9, n % 24, tzinfo=UTC)) for n in range(60)]
    monkeypatch.setattr(commit, "FLUSH_ROWS", 20)
    counts = Counter(r["published_at"].date() for r in rows)
    assert sorted(map(len, commit._walks(counts))) == [2, 2, 2, 3]  # (6 or 7 rows a day)
    walks = []

    def chunks() -> list[pa.Table]:
        walks.append(1)
        return [table(rows[i : i + 7]) for i in range(0, len(rows), 7)]

    files = commit_articles(chunks, tmp_path / "chunked", "src", "K1", days=counts)
    whole = commit_articles(table(rows), tmp_path / "whole", "src", "K1")
    assert len(walks) == 4
    assert len(whole) == 9
    assert len(files) == 9
    for path in files:
        got = pq.ParquetFile(path)
        assert got.metadata.num_row_groups == 1
        assert len({t.date() for t in got.read()["published_at"].to_pylist()}) == 1
        same = pq.read_table(tmp_path / "whole" / path.relative_to(tmp_path / "chunked"))
        assert got.read().equals(same)  # the same rows, in the same order
    stored = sorted(a for f in files for a in pq.read_table(f)["article_id"].to_pylist())
    assert stored == sorted(r["article_id"] for r in rows)


def test_a_large_run_takes_few_walks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transforms import commit

    # 300 rows over 30 days: walks of 10 rows would be 30; 4 at most take a quarter each
    walk_limits(monkeypatch, open_days=128, flush_rows=10)
    monkeypatch.setattr(commit, "MAX_WALKS", 4)
    rows = [row(n, dt.datetime(2023, 4, 1 + n % 30, tzinfo=UTC)) for n in range(300)]
    counts = Counter(r["published_at"].date() for r in rows)
    assert [len(w) for w in commit._walks(counts)] == [7, 7, 7, 7, 2]  # (75 rows a walk)
    walks = []

    def chunks() -> list[pa.Table]:
        walks.append(1)
        return [table(rows[i : i + 40]) for i in range(0, len(rows), 40)]

    files = commit_articles(chunks, tmp_path, "src", "K1", days=counts)
    assert len(walks) == 5 and len(files) == 30
    for path in files:
        got = pq.read_table(path)
        assert len({t.date() for t in got["published_at"].to_pylist()}) == 1
        assert got.num_rows == 10
    stored = sorted(a for f in files for a in pq.read_table(f)["article_id"].to_pylist())
    assert stored == sorted(r["article_id"] for r in rows)


@pytest.mark.parametrize("seed", range(4))
def test_no_row_is_lost_when_the_day_counts_are_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    walk_limits(monkeypatch, open_days=3, flush_rows=6)
    rng = random.Random(seed)
    rows = [row(n, dt.datetime(2023, 4, 1 + rng.randrange(10), tzinfo=UTC)) for n in range(80)]
    counts = Counter(r["published_at"].date() for r in rows)
    for day in rng.sample(sorted(counts), 3):  # days missing from the counts, and counts off
        del counts[day]
    for day in rng.sample(sorted(counts), 2):
        counts[day] = rng.choice([1, counts[day] * 3])
    counts[dt.date(2023, 5, 1)] = 4  # and a day no row has
    files = commit_articles(
        lambda: [table(rows[i : i + 9]) for i in range(0, len(rows), 9)],
        tmp_path,
        "src",
        "K1",
        days=counts,
    )
    stored = sorted(a for f in files for a in pq.read_table(f)["article_id"].to_pylist())
    assert stored == sorted(r["article_id"] for r in rows)
    assert len(files) == len({r["published_at"].date() for r in rows})
    assert not list((tmp_path / "state" / "staging").iterdir())
