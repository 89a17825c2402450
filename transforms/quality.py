"""Data-quality checks on recent partitions, recorded in DATA/quality/.

Each finding has a severity: `error` (the data breaks its contract: a schema mismatch, a
required field missing, a date out of bounds) fails the checking task; `warning` (a
source that went silent or spiked, too many copies, extraction going bad) is logged and
recorded for the report. Checks:

- schema: every file's columns have the contract's types; no unknown columns;
- required: the contract's non-null columns have no nulls;
- dates: `published_at` not after the fetch (plus a small clock tolerance), not in the
  future, not before 1990-01-01 (the first online news);
- duplicate_rate: per source, the share of copies among the recent rows (over MAX_COPY_SHARE);
- volume: per source, the articles its runs added on the check day against the average of
  the previous VOLUME_DAYS days (nothing at all after a non-zero average: `dropped`; more
  than SPIKE_FACTOR times the average: `spike`), from the run metrics;
- extraction: per source, the share of short bodies (under SHORT_WORDS words) and of rows
  whose date is only the fetch time (over MAX_BAD_SHARE);
- url_rule: stored files (of any day) whose ids follow an older URL rule than the current
  one (transforms/urls.py): an article fetched again would be stored twice until
  `newsflow migrate-urls` has run;
- minhash_scheme: stored files whose fingerprints an older MinHash scheme made
  (transforms/minhash.py): a copy of one of their articles in a script written without
  spaces may go unnoticed until `newsflow dedup --rebuild` has run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms import provenance
from transforms.compaction import partition_files
from transforms.dataset import ARTICLES, RUNS, partition_dir, write_atomic
from transforms.files import read_stored
from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN, RUNS_SCHEMA

QUALITY = "quality"
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
CLOCK_TOLERANCE = dt.timedelta(minutes=10)
MAX_COPY_SHARE = 0.5
MAX_BAD_SHARE = 0.2
SHORT_WORDS = 50
VOLUME_DAYS = 7
LONGEST_INTERVAL = dt.timedelta(days=35)  # a monthly schedule's data interval, and more
SPIKE_FACTOR = 3.0
MIN_ROWS = 5  # shares are not judged on fewer rows

_QUALITY_FIELDS: list[pa.Field[Any]] = [
    pa.field("checked_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("check", pa.string(), nullable=False),
    pa.field("severity", pa.string(), nullable=False),
    pa.field("source_id", pa.string()),
    pa.field("value", pa.float64()),
    pa.field("threshold", pa.float64()),
    pa.field("message", pa.string(), nullable=False),
]
QUALITY_SCHEMA = pa.schema(_QUALITY_FIELDS)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str  # error | warning
    source_id: str | None
    value: float | None
    threshold: float | None
    message: str


def check_recent(root: Path, day: dt.date, days: int, now: dt.datetime) -> list[Finding]:
    """Run every check on the partitions of the `days` days up to `day` (inclusive), and on
    any partition after it (rows dated in the future land there)."""
    span = [day - dt.timedelta(days=k) for k in range(days)]
    files = [f for d in span for f in sorted(partition_dir(root, d).glob("*.parquet"))]
    for folder in sorted((root / ARTICLES).glob(f"{PARTITION_COLUMN}=*")):
        if folder.name.removeprefix(f"{PARTITION_COLUMN}=") > day.isoformat():
            files += sorted(folder.glob("*.parquet"))
    findings = [*_schema(files)]
    if files:
        table = pa.concat_tables(
            [read_stored(f, ARTICLE_SCHEMA) for f in files], promote_options="default"
        )
        findings += _required(table) + _dates(table, now) + _copies(table) + _extraction(table)
    findings += _volume(root, day) + _url_rule(root) + _minhash_scheme(root)
    return findings


def record(root: Path, day: dt.date, findings: list[Finding], now: dt.datetime) -> Path:
    """Write the day's findings to DATA/quality/check_date=YYYY-MM-DD/quality.parquet
    (replacing an earlier check of the same day); an empty file records a clean check."""
    rows = [{"checked_at": now, **asdict(f)} for f in findings]
    target = root / QUALITY / f"check_date={day.isoformat()}" / "quality.parquet"
    write_atomic(pa.Table.from_pylist(rows, schema=QUALITY_SCHEMA), target)
    return target


def _schema(files: list[Path]) -> list[Finding]:
    out = []
    for path in files:
        schema = pq.read_schema(path)
        for field in schema:
            if field.name == PARTITION_COLUMN:
                continue
            if field.name not in ARTICLE_SCHEMA.names:
                out.append(
                    Finding(
                        "schema",
                        "error",
                        None,
                        None,
                        None,
                        f"{path}: unknown column {field.name!r}",
                    )
                )
            elif not field.type.equals(ARTICLE_SCHEMA.field(field.name).type):
                expected = ARTICLE_SCHEMA.field(field.name).type
                out.append(
                    Finding(
                        "schema",
                        "error",
                        None,
                        None,
                        None,
                        f"{path}: column {field.name!r} is {field.type}, the contract says {expected}",
                    )
                )
    return out


def _required(table: pa.Table) -> list[Finding]:
    out = []
    for field in ARTICLE_SCHEMA:
        if not field.nullable and field.name in table.column_names:
            nulls = table[field.name].null_count
            if nulls:
                out.append(
                    Finding(
                        "required", "error", None, nulls, 0, f"{nulls} rows have no {field.name}"
                    )
                )
    return out


def _dates(table: pa.Table, now: dt.datetime) -> list[Finding]:
    out = []
    published, fetched = table["published_at"], table["fetched_at"]
    tolerance = pa.scalar(CLOCK_TOLERANCE, pa.duration("us"))
    checks: dict[str, Any] = {
        "after the fetch": pc.greater(published, pc.add(fetched, tolerance)),
        "in the future": pc.greater(published, pa.scalar(now + CLOCK_TOLERANCE, published.type)),
        f"before {EARLIEST.date()}": pc.less(published, pa.scalar(EARLIEST, published.type)),
    }
    for what, mask in checks.items():
        bad = pc.sum(pc.cast(pc.fill_null(mask, pa.scalar(False)), pa.int64())).as_py() or 0
        if bad:
            out.append(Finding("dates", "error", None, bad, 0, f"{bad} rows are published {what}"))
    return out


def _share_warnings(
    table: pa.Table, check: str, mask: Any, limit: float, what: str
) -> list[Finding]:
    """A warning for each source (with at least MIN_ROWS rows) where more than `limit` of its
    rows match `mask`; `what` completes "<share> of its recent articles ..."."""
    out = []
    sources: list[str] = sorted({s for s in table["source_id"].to_pylist() if s})
    matched = pc.fill_null(mask, pa.scalar(False))
    for source in sources:
        mine = pc.equal(table["source_id"], pa.scalar(source, pa.string()))
        rows = pc.sum(pc.cast(mine, pa.int64())).as_py() or 0
        hits = pc.sum(pc.cast(pc.and_(mine, matched), pa.int64())).as_py() or 0
        share = hits / rows if rows else 0.0
        if rows >= MIN_ROWS and share > limit:
            message = f"{source}: {share:.0%} of its recent articles {what}"
            out.append(Finding(check, "warning", source, share, limit, message))
    return out


def _copies(table: pa.Table) -> list[Finding]:
    copies = pc.is_valid(table["duplicate_of"])
    return _share_warnings(table, "duplicate_rate", copies, MAX_COPY_SHARE, "are copies of others")


def _extraction(table: pa.Table) -> list[Finding]:
    short = pc.less(table["word_count"], pa.scalar(SHORT_WORDS, pa.int32()))
    undated = pc.equal(table["date_source"], pa.scalar(provenance.FETCH_TIME, pa.string()))
    return _share_warnings(
        table, "extraction", short, MAX_BAD_SHARE, "have short bodies"
    ) + _share_warnings(
        table, "extraction", undated, MAX_BAD_SHARE, "have no date but the fetch time"
    )


def _volume(root: Path, day: dt.date) -> list[Finding]:
    """New articles per source and run day, from the run metrics of the partitions that can
    hold the window's runs (a run's partition is its interval's first day; its day here, the
    interval's last): the check reads the same files on day 1,000 as on day 10."""
    first = day - dt.timedelta(days=VOLUME_DAYS)
    earliest = (first - LONGEST_INTERVAL).isoformat()
    latest = (day + dt.timedelta(days=1)).isoformat()
    files = [
        path
        for part in sorted((root / RUNS).glob("run_date=*"))
        if earliest <= part.name.removeprefix("run_date=") <= latest
        for path in partition_files(part)  # (a merge cut short: its inputs are not counted)
    ]
    if not files:
        return []
    runs = pa.concat_tables([read_stored(f, RUNS_SCHEMA) for f in files]).to_pylist()
    per: dict[str, dict[dt.date, int]] = {}
    for run in runs:
        when = (
            run["interval_end"].date()
            if run["interval_end"] > run["interval_start"]
            else run["started_at"].date()
        )
        if first <= when <= day and not run["reprocess"]:
            per.setdefault(run["source_id"], {}).setdefault(when, 0)
            per[run["source_id"]][when] += run["new"] or 0
    out = []
    for source, by_day in sorted(per.items()):
        history = [by_day.get(first + dt.timedelta(days=k), 0) for k in range(VOLUME_DAYS)]
        ran_before = [d for d in by_day if d < day]
        if not ran_before:
            continue  # a new source has no history to compare with
        average = sum(history) / VOLUME_DAYS
        today = by_day.get(day, 0)
        if average > 0 and today == 0:
            out.append(
                Finding(
                    "volume",
                    "warning",
                    source,
                    today,
                    average,
                    f"{source}: no new articles on {day} after {average:.1f} a day before (dropped)",
                )
            )
        elif today > SPIKE_FACTOR * max(average, 1.0):
            out.append(
                Finding(
                    "volume",
                    "warning",
                    source,
                    today,
                    SPIKE_FACTOR * max(average, 1.0),
                    f"{source}: {today} new articles on {day} against {average:.1f} a day before (spike)",
                )
            )
    return out


def _url_rule(root: Path) -> list[Finding]:
    from transforms.url_migration import PENDING, outdated_files
    from transforms.urls import URL_RULE

    outdated = outdated_files(root)
    if not outdated and not (root / PENDING).exists():
        return []
    return [
        Finding(
            "url_rule",
            "warning",
            None,
            float(len(outdated)),
            0.0,
            f"{len(outdated)} article files hold ids of an older URL rule than rule {URL_RULE}"
            + (" (a migration was interrupted)" if (root / PENDING).exists() else "")
            + ": run `newsflow migrate-urls` so that articles fetched again keep their ids",
        )
    ]


def _minhash_scheme(root: Path) -> list[Finding]:
    from transforms.dataset import stale_prints
    from transforms.minhash import SCHEME

    stale = stale_prints(root)
    if not stale:
        return []
    return [
        Finding(
            "minhash_scheme",
            "warning",
            None,
            float(len(stale)),
            0.0,
            f"{len(stale)} article files hold fingerprints of an older MinHash scheme than "
            f"{SCHEME}: run `newsflow dedup --rebuild` so that copies of their articles in "
            "Chinese, Japanese, Thai and the other scripts written without spaces are found",
        )
    ]
