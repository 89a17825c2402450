"""Data-quality checks: each check finds what it should, and nothing on clean data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.commit import commit_articles
from transforms.dataset import commit_run_metrics, partition_dir
from transforms.quality import check_recent, record
from transforms.schema import ARTICLE_SCHEMA

UTC = dt.UTC
DAY = dt.date(2024, 3, 10)
NOW = dt.datetime(2024, 3, 10, 20, tzinfo=UTC)


def article(n: int, source: str = "a", **extra: Any) -> dict[str, Any]:
    published = dt.datetime(2024, 3, 10, 8, tzinfo=UTC)
    row = {
        "article_id": f"{n:016x}",
        "url": f"https://{source}.example/{n}",
        "canonical_url": f"https://{source}.example/{n}",
        "source_id": source,
        "text": "word " * 80,
        "published_at": published,
        "date_source": "meta",
        "fetched_at": published + dt.timedelta(hours=1),
        "word_count": 80,
        "content_hash": f"h{n}",
        "run_id": "r",
        "extractor": "test",
    }
    return {**row, **extra}


def write(root: Path, rows: list[dict[str, Any]], source: str = "a", key: str = "K") -> None:
    commit_articles(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), root, source, key)


def run_row(source: str, day: dt.date, new: int) -> dict[str, Any]:
    end = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
    return {
        "run_id": f"{source}-{day}",
        "source_id": source,
        "interval_start": end - dt.timedelta(hours=1),
        "interval_end": end,
        "started_at": end,
        "finished_at": end,
        "status": "success",
        "reprocess": False,
        "new": new,
    }


def checks(findings: list[Any]) -> list[tuple[str, str, str | None]]:
    return sorted((f.check, f.severity, f.source_id) for f in findings)


def test_clean_data_has_no_findings(tmp_path: Path) -> None:
    write(tmp_path, [article(n) for n in range(6)])
    findings = check_recent(tmp_path, DAY, 3, NOW)
    assert findings == []
    path = record(tmp_path, DAY, findings, NOW)
    assert pq.read_table(path).num_rows == 0  # a clean check is recorded too


def test_contract_breaks_are_errors(tmp_path: Path) -> None:
    future = dt.datetime(2024, 3, 12, tzinfo=UTC)
    write(
        tmp_path,
        [
            article(1, published_at=future, fetched_at=future),  # in the future
            article(2, fetched_at=dt.datetime(2024, 3, 9, tzinfo=UTC)),  # after its fetch
        ],
    )
    loose = pa.schema(
        [f.with_nullable(True) for f in ARTICLE_SCHEMA], metadata=ARTICLE_SCHEMA.metadata
    ).append(pa.field("surprise", pa.string()))
    bad = pa.Table.from_pylist([{**article(3), "text": None, "surprise": "x"}], schema=loose)
    pq.write_table(bad, partition_dir(tmp_path, DAY) / "other__K.parquet")
    findings = check_recent(tmp_path, DAY, 3, NOW)
    messages = [f.message for f in findings]
    assert checks(findings) == [
        ("dates", "error", None),
        ("dates", "error", None),
        ("required", "error", None),
        ("schema", "error", None),
    ]
    assert "1 rows have no text" in messages
    assert any("unknown column 'surprise'" in m for m in messages)
    assert any("published after the fetch" in m for m in messages)
    assert any("published in the future" in m for m in messages)


def test_copies_and_bad_extraction_are_warnings_per_source(tmp_path: Path) -> None:
    write(tmp_path, [article(n, "a", duplicate_of="0" * 16) for n in range(6)], "a")
    write(tmp_path, [article(10 + n, "b", word_count=12) for n in range(6)], "b")
    write(tmp_path, [article(20 + n, "c", date_source="fetch_time") for n in range(6)], "c")
    write(tmp_path, [article(30 + n, "d", duplicate_of="0" * 16) for n in range(2)], "d")  # too few
    findings = check_recent(tmp_path, DAY, 3, NOW)
    assert checks(findings) == [
        ("duplicate_rate", "warning", "a"),
        ("extraction", "warning", "b"),
        ("extraction", "warning", "c"),
    ]


def test_a_source_that_goes_silent_or_spikes_is_flagged(tmp_path: Path) -> None:
    for k in range(1, 8):
        before = DAY - dt.timedelta(days=k)
        for source in ("quiet", "loud", "steady"):
            commit_run_metrics(run_row(source, before, 4), tmp_path, source, f"K{k}", before)
    commit_run_metrics(run_row("quiet", DAY, 0), tmp_path, "quiet", "K0", DAY)
    commit_run_metrics(run_row("loud", DAY, 40), tmp_path, "loud", "K0", DAY)
    commit_run_metrics(run_row("steady", DAY, 5), tmp_path, "steady", "K0", DAY)
    commit_run_metrics(run_row("newcomer", DAY, 50), tmp_path, "newcomer", "K0", DAY)
    findings = check_recent(tmp_path, DAY, 3, NOW)
    assert checks(findings) == [("volume", "warning", "loud"), ("volume", "warning", "quiet")]
    assert any("(dropped)" in f.message for f in findings)
    assert any("(spike)" in f.message for f in findings)


def test_the_volume_check_reads_only_the_partitions_its_window_can_use(tmp_path: Path) -> None:
    """The daily check costs the same on day 1,000 as on day 10: run metrics from long
    before its window are not read (a damaged one there would stop it if they were)."""
    for k in range(1, 8):
        before = DAY - dt.timedelta(days=k)
        commit_run_metrics(run_row("quiet", before, 4), tmp_path, "quiet", f"K{k}", before)
    commit_run_metrics(run_row("quiet", DAY, 0), tmp_path, "quiet", "K0", DAY)
    long_ago = DAY - dt.timedelta(days=400)
    old = commit_run_metrics(run_row("quiet", long_ago, 4), tmp_path, "quiet", "OLD", long_ago)
    old.write_bytes(b"not parquet")
    findings = check_recent(tmp_path, DAY, 3, NOW)
    assert checks(findings) == [("volume", "warning", "quiet")]
    # a run whose data interval began 30 days ago and ended in the window is counted there
    began = DAY - dt.timedelta(days=30)
    row = run_row("monthly", DAY - dt.timedelta(days=3), 4)
    row["interval_start"] = dt.datetime.combine(began, dt.time(), tzinfo=UTC)
    commit_run_metrics(row, tmp_path, "monthly", "M1", began)
    findings = check_recent(tmp_path, DAY, 3, NOW)
    assert ("volume", "warning", "monthly") in checks(findings)  # nothing since: dropped
