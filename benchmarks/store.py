"""What a run costs as the store grows: the write stage on an empty store and on a large one.

Builds a synthetic store (default 1,000,000 articles over 200 publication days: days older
than a week compacted into one file each, the last week as many small run files, 20
sources x 4 runs a day), with realistic MinHash signatures and the band hashes derived from
them as the pipeline derives them; then measures, with the real write stage
(`ingest.run.commit.write`: dedup against the store, the journalled commit, quarantine,
crawl state, run metrics):

- a 250-article run (10% of them copies of stored articles of the last week) on an empty
  store and on the large one, five of each alternating, after the store was flushed to
  disk: the ratio of the medians is the figure (target: within 1.5x);
- a run that brought nothing new (target: under 50 ms);
- 50 successive 250-article runs on the large store: first five against last five;
- `newsflow dedup --rebuild` on the large store in a child process: its peak memory
  (target: under 2 GiB) and time.

The store is built by a child process; the runs are measured in this one.

    .venv/bin/python benchmarks/store.py [--articles 1000000] [--days 200] [--keep DIR]

Prints figures; asserts nothing (not a test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# before pyarrow: the write stage measured with the allocator newsflow's processes give
# Arrow (ingest/run/allocator.py)
import ingest.run  # noqa: E402, F401

# isort: split
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ingest.config import Settings, Source  # noqa: E402
from ingest.run.commit import write  # noqa: E402
from ingest.run.model import Run  # noqa: E402
from ingest.run.workfiles import write_jsonl  # noqa: E402
from transforms import minhash  # noqa: E402
from transforms.commit import commit_lock  # noqa: E402
from transforms.dataset import partition_dir, write_atomic  # noqa: E402
from transforms.index import ArticleIndex  # noqa: E402
from transforms.schema import ARTICLE_SCHEMA  # noqa: E402

LAST_DAY = dt.date(2026, 11, 30)
SOURCES = 20
RUNS_PER_DAY = 4
RECENT_DAYS = 7
BATCH = 250
SETTINGS = Settings()


def rows_for(n: int, day: dt.date, rng: np.random.Generator, start: int) -> dict[str, Any]:
    """Columns of n synthetic articles published on `day` (ids from `start`)."""
    signatures = rng.integers(0, 2**32, size=(n, minhash.NUM_PERM), dtype=np.uint64).astype(
        np.uint32
    )
    bands = minhash.band_hashes(signatures)
    seconds = rng.integers(0, 86400, size=n)
    base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    ids = [_article_id(start + k) for k in range(n)]
    hashes = [os.urandom(32).hex() for _ in range(n)]
    sources = [f"src-{k % SOURCES}" for k in range(start, start + n)]
    return {
        "article_id": ids,
        "url": [f"https://{s}.example/{i}" for s, i in zip(sources, ids, strict=True)],
        "canonical_url": [f"https://{s}.example/{i}" for s, i in zip(sources, ids, strict=True)],
        "source_id": sources,
        "site_name": sources,
        "title": [f"Headline {i}" for i in ids],
        "text": [f"Body of article {i}." for i in ids],
        "published_at": [base + dt.timedelta(seconds=int(s)) for s in seconds],
        "date_source": ["meta"] * n,
        "fetched_at": [base + dt.timedelta(days=1)] * n,
        "word_count": [400] * n,
        "content_hash": hashes,
        "story_id": ids,
        "run_id": [f"scheduled__{day}-{k % RUNS_PER_DAY}" for k in range(n)],
        "extractor": ["trafilatura/2.3.1"] * n,
        "shingles": [396] * n,
        "minhash": signatures,
        "lsh_bands": bands,
    }


def _article_id(number: int) -> str:
    """An article_id as the pipeline makes them (transforms/urls.py: a hash of the canonical
    URL), so that the index's keys and stories arrive in random order, as they do."""
    return hashlib.sha256(f"https://bench.example/{number}".encode()).hexdigest()[:16]


def table_of(columns: dict[str, Any]) -> pa.Table:
    n = len(columns["article_id"])
    arrays = {}
    for field in ARTICLE_SCHEMA:
        values = columns.get(field.name)
        if values is None:
            arrays[field.name] = pa.nulls(n, field.type)
        elif field.name in ("minhash", "lsh_bands"):
            flat = pa.array(np.asarray(values).reshape(-1), type=field.type.value_type)
            offsets = pa.array(np.arange(0, n + 1) * values.shape[1], type=pa.int32())
            arrays[field.name] = pa.ListArray.from_arrays(offsets, flat)
        else:
            arrays[field.name] = pa.array(values, type=field.type)
    return pa.table(arrays, schema=ARTICLE_SCHEMA)


def build_store(root: Path, articles: int, days: int) -> None:
    """The synthetic store, then its index (built from the files, as for an old data root)."""
    rng = np.random.default_rng(20261201)
    per_day = articles // days
    start = 0
    for d in range(days):
        day = LAST_DAY - dt.timedelta(days=days - 1 - d)
        table = table_of(rows_for(per_day, day, rng, start))
        start += per_day
        part = partition_dir(root, day)
        if (LAST_DAY - day).days >= RECENT_DAYS:
            write_atomic(table, part / f"compacted-{day:%Y%m%d}.parquet", row_group_size=50_000)
            continue
        files = SOURCES * RUNS_PER_DAY
        for k in range(files):
            chunk = table.slice(
                k * per_day // files, (k + 1) * per_day // files - k * per_day // files
            )
            write_atomic(
                chunk, part / f"src-{k % SOURCES}__{day:%Y%m%d}T{k // SOURCES:02d}.parquet"
            )
    started = time.perf_counter()
    with commit_lock(root), ArticleIndex(root) as index:
        count = index.count()
    size = (root / "state" / "articles.sqlite").stat().st_size
    print(
        f"store: {count:,} articles in {days} days; index built in "
        f"{time.perf_counter() - started:.1f} s, {size / 2**20:.0f} MiB"
    )


def build_elsewhere(root: Path, articles: int, days: int) -> None:
    """build_store in a child process: the runs measured here then happen in a process that
    holds what a run's process holds, not the millions of objects the build made (whose
    full garbage collections fell on some runs and not others: the first five of 50
    successive runs took 73 ms and the last five 98 in one in-process build, 105 and 85 in
    another)."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import ingest.run; from benchmarks.store import build_store; "
        "build_store(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(root), str(articles), str(days)], check=True
    )


def run_batch(root: Path, number: int, rng: np.random.Generator, copies: int) -> float:
    """The write stage of one run of BATCH new articles (`copies` of them copies of stored
    articles of the last week); returns its seconds."""
    day = LAST_DAY
    columns = rows_for(BATCH, day, rng, 10**12 + number * BATCH)
    stored = sorted(partition_dir(root, day - dt.timedelta(days=2)).glob("*.parquet"))
    if stored and copies:  # each run copies other stored articles: stories stay realistic
        source_file = stored[number % len(stored)]
        originals = pq.read_table(source_file, columns=["content_hash", "minhash"])
        originals = originals.slice((number * copies) % max(1, originals.num_rows - copies), copies)
        for k, value in enumerate(originals["content_hash"].to_pylist()):
            columns["content_hash"][k] = value  # an exact copy
        signatures = np.array(originals["minhash"].to_pylist(), dtype=np.uint32)
        columns["minhash"][: len(signatures)] = signatures
        columns["lsh_bands"] = minhash.band_hashes(columns["minhash"])
    source = Source(id="bench", name="Bench", feeds=("http://127.0.0.1/feed.xml",))
    columns["source_id"] = ["bench"] * BATCH
    run = Run(
        f"bench-{number}",
        *(2 * [dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number)]),
    )
    columns["run_id"] = [run.run_id] * BATCH
    work = root / "work" / source.id / run.key
    work.mkdir(parents=True, exist_ok=True)
    path = work / "articles.parquet"
    pq.write_table(table_of(columns), path)
    write_jsonl(work / "discovered.jsonl", ({"url": u} for u in columns["url"]))
    started = time.perf_counter()
    write(source, SETTINGS, root, run, str(path))
    return time.perf_counter() - started


def no_op(root: Path, number: int) -> float:
    source = Source(id="quiet", name="Quiet", feeds=("http://127.0.0.1/feed.xml",))
    at = dt.datetime(2026, 12, 2, tzinfo=dt.UTC) + dt.timedelta(hours=number)
    run = Run(f"quiet-{number}", at, at)
    work = root / "work" / source.id / run.key
    work.mkdir(parents=True, exist_ok=True)
    path = work / "articles.parquet"
    pq.write_table(ARTICLE_SCHEMA.empty_table(), path)
    write_jsonl(work / "discovered.jsonl", [])  # discovery found nothing new
    started = time.perf_counter()
    write(source, SETTINGS, root, run, str(path))
    return time.perf_counter() - started


def rebuild_memory(root: Path) -> tuple[float, float]:
    """(peak resident GiB, seconds) of `newsflow dedup --rebuild` in a child process."""
    started = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "newsflow"), "dedup", "--data", str(root), "--rebuild"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kib / 2**20, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    scratch = Path(tempfile.mkdtemp(prefix="newsflow-store-"))
    big = args.keep or scratch / "big"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    figures: dict[str, Any] = {"date": today, "articles": args.articles}
    try:
        if not (big / "articles").exists():
            build_elsewhere(big, args.articles, args.days)
        os.sync()  # the store's gigabyte on disk, not in the page cache's write-back queue
        empty: list[float] = []
        large: list[float] = []
        for k in range(5):  # alternating, so both see the machine in the same state
            empty.append(run_batch(scratch / f"empty-{k}", k, rng, copies=0))
            large.append(run_batch(big, k, rng, copies=BATCH // 10))
        figures["write_empty_s"] = statistics.median(empty)
        figures["write_large_s"] = statistics.median(large)
        figures["ratio"] = figures["write_large_s"] / figures["write_empty_s"]
        figures["no_op_ms"] = 1000 * statistics.median(no_op(big, k) for k in range(5))
        series = [run_batch(big, 100 + k, rng, copies=BATCH // 10) for k in range(args.runs)]
        figures["first_five_s"] = statistics.median(series[:5])
        figures["last_five_s"] = statistics.median(series[-5:])
        figures["rebuild_peak_gib"], figures["rebuild_s"] = rebuild_memory(big)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"write stage, {BATCH} new articles: empty store {figures['write_empty_s'] * 1000:.0f} ms, "
        f"{args.articles:,}-article store {figures['write_large_s'] * 1000:.0f} ms "
        f"(x{figures['ratio']:.2f}; target within x1.5)"
    )
    print(f"a run that brought nothing: write stage {figures['no_op_ms']:.0f} ms (target < 50 ms)")
    print(
        f"{args.runs} successive runs: first five {figures['first_five_s'] * 1000:.0f} ms, "
        f"last five {figures['last_five_s'] * 1000:.0f} ms "
        f"(x{figures['last_five_s'] / figures['first_five_s']:.2f})"
    )
    print(
        f"dedup --rebuild: peak {figures['rebuild_peak_gib']:.2f} GiB (target < 2 GiB), "
        f"{figures['rebuild_s']:.0f} s"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
