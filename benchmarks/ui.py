"""How long each newsflow page (ingest/ui/) takes to answer on a large dataset.

Builds a synthetic data root (default 100,000 articles over 60 publication days up to
today, 20 sources, benchmarks/store.py's article generator with languages, topics, places
and one copy in ten added; a run row per source and run, quarantined items and a quality
check), then requests every page through the plugin's app in-process (the query, the
rendering; no network, no login) and reports the median of five requests after one warm-up.

    .venv/bin/python benchmarks/ui.py [--articles 100000] [--days 60] [--keep DIR]

Prints figures; asserts nothing (not a test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # (before ingest.run: Arrow's default allocator, as the api-server has)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.store import RUNS_PER_DAY, SOURCES, rows_for, table_of  # noqa: E402
from transforms.dataset import partition_dir, write_atomic  # noqa: E402
from transforms.quality import Finding, record  # noqa: E402
from transforms.schema import QUARANTINE_SCHEMA, RUNS_SCHEMA  # noqa: E402

TOPICS = ["politics", "economy", "sport", "science", "culture", "conflict"]
PLACES = ["DE", "FR", "PL", "UA", "US", "GB", "IT"]
LANGUAGES = ["en", "de", "fr"]
REASONS = ["http_404", "not_html", "robots_disallowed", "too_short"]


def build(root: Path, articles: int, days: int, today: dt.date) -> str:
    """The synthetic data root; returns the id of one article that has copies."""
    rng = np.random.default_rng(20261202)
    per_day = articles // days
    start, sample = 0, ""
    for d in range(days):
        day = today - dt.timedelta(days=days - 1 - d)
        columns = rows_for(per_day, day, rng, start)
        ids = columns["article_id"]
        n = len(ids)
        columns["language"] = [LANGUAGES[k % 3] for k in range(n)]
        columns["topics"] = [[TOPICS[k % 6], TOPICS[(k // 6) % 6]] for k in range(n)]
        columns["places"] = [[PLACES[k % 7]] for k in range(n)]
        columns["date_source"] = ["fetch_time" if k % 25 == 0 else "meta" for k in range(n)]
        columns["fetched_at"] = [p + dt.timedelta(hours=1) for p in columns["published_at"]]
        # one article in ten is a copy of the one before it (another source, same story)
        columns["story_id"] = [ids[k - 1] if k % 10 == 1 else ids[k] for k in range(n)]
        columns["duplicate_of"] = [ids[k - 1] if k % 10 == 1 else None for k in range(n)]
        sample = sample or ids[0]
        write_atomic(table_of(columns), partition_dir(root, day) / "part.parquet", 50_000)
        start += per_day
        write_runs(root, day, per_day)
        write_quarantine(root, day, rng)
    now = dt.datetime.now(dt.UTC)
    record(root, today, [Finding("volume", "warning", "src-3", 0, 12.0, "src-3: dropped")], now)
    return sample


def write_runs(root: Path, day: dt.date, per_day: int) -> None:
    rows: list[dict[str, Any]] = []
    for source in range(SOURCES):
        for k in range(RUNS_PER_DAY):
            start = dt.datetime.combine(day, dt.time(6 * k), tzinfo=dt.UTC)
            rows.append(
                {
                    "run_id": f"scheduled__{day}-{k}",
                    "source_id": f"src-{source}",
                    "interval_start": start - dt.timedelta(hours=6),
                    "interval_end": start,
                    "started_at": start,
                    "finished_at": start + dt.timedelta(seconds=40),
                    "status": "success",
                    "reprocess": False,
                    "new": per_day // (SOURCES * RUNS_PER_DAY),
                    "duplicates": 3,
                    "seen": 20,
                    "not_modified": 5,
                    "quarantined": 2,
                }
            )
    target = root / "runs" / f"run_date={day}" / "runs.parquet"
    write_atomic(pa.Table.from_pylist(rows, schema=RUNS_SCHEMA), target)


def write_quarantine(root: Path, day: dt.date, rng: np.random.Generator) -> None:
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    rows = [
        {
            "url": f"https://src-{k % SOURCES}.example/q/{day}/{k}",
            "source_id": f"src-{k % SOURCES}",
            "stage": "fetch",
            "reason": REASONS[int(rng.integers(0, len(REASONS)))],
            "detail": "synthetic",
            "run_id": f"scheduled__{day}-0",
            "at": at + dt.timedelta(seconds=k),
        }
        for k in range(SOURCES * RUNS_PER_DAY * 2)
    ]
    target = root / "quarantine" / f"run_date={day}" / "quarantine.parquet"
    write_atomic(pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA), target)


def measure(root: Path, sample: str, today: dt.date) -> dict[str, float]:
    """Median milliseconds of five requests per page, after one warm-up request."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from ingest.ui.app import create_app

    os.environ["NEWSFLOW_DATA"] = str(root)
    app = create_app()
    app.dependency_overrides[get_user] = lambda: object()
    client = TestClient(app)
    pages = {
        "sources": "/sources",
        "articles": "/articles",
        "articles, topic + copies only": "/articles?topic=economy&copies=true",
        "articles, page 1,000": "/articles?page=1000",
        "one article": f"/articles/{sample}",
        "stories of a day": f"/stories?day={today - dt.timedelta(days=1)}",
        "quarantine": "/quarantine",
        "quarantine, one reason": "/quarantine?reason=http_404",
        "reports": "/reports",
    }
    out = {}
    for name, path in pages.items():
        times = []
        for k in range(6):
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[-500:]}")
            if k:
                times.append(elapsed)
        out[name] = 1000 * statistics.median(times)
        print(f"{name:32} {out[name]:8.0f} ms")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--keep", type=Path, default=None, help="build the data here and keep it")
    args = parser.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    scratch = Path(tempfile.mkdtemp(prefix="newsflow-ui-"))
    root = args.keep or scratch / "data"
    try:
        started = time.perf_counter()
        sample = build(root, args.articles, args.days, today)
        print(f"data: {args.articles:,} articles in {time.perf_counter() - started:.0f} s")
        figures: dict[str, Any] = {"date": today.isoformat(), "dataset_articles": args.articles}
        figures.update(measure(root, sample, today))
        print(json.dumps(figures))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
