"""Run metrics and failure records: one row per source and run in DATA/runs/ (the table
folder holds only its Parquet files; a source's last run is the row with the latest
`finished_at`, as the newsflow Sources page shows it)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from ingest.config import Source
from ingest.run.model import STAGES, Run, WriteRef, workdir
from ingest.run.workfiles import read_json, read_jsonl

# what a reprocess (extraction again from the raw WARC files) cannot know, kept from the live run
CRAWL_FIGURES = (
    "discovered",
    "not_modified",
    "fetched",
    "seen",
    "bytes_fetched",
    "requests",
    "seconds_discover",
    "seconds_fetch",
)


def stored_row(root: Path, source_id: str, run: Run) -> dict[str, Any] | None:
    """The run's stored metrics row, if any."""
    from transforms.dataset import merged_file, run_metrics_of, run_metrics_path
    from transforms.files import read_stored
    from transforms.schema import RUNS_SCHEMA

    path = run_metrics_path(root, source_id, run.key, run.start.date())
    # its own file, else its row in the merged file of an older partition
    for found in [path, merged_file(path.parent)]:
        if found is not None and found.exists():
            table = read_stored(found, RUNS_SCHEMA)  # a damaged file: a CorruptFile naming it
            rows = table.filter(run_metrics_of(table, source_id, run.start, run.end)).to_pylist()
            if rows:
                return rows[0]
    return None


def record_run(
    root: Path,
    source: Source,
    run: Run,
    work: Path,
    ref: WriteRef,
    problems: list[dict[str, Any]],
    write_started: dt.datetime,
    *,
    reprocess: bool = False,
    status: str = "success",
    failed_task: str | None = None,
    error: str | None = None,
) -> None:
    """Append (or, for a re-run, replace) the run's row of metrics in DATA/runs/."""
    from transforms.dataset import commit_run_metrics

    timings = {stage: read_json(work / f"timing-{stage}.json") for stage in STAGES}
    timings["write"] = {
        "started": write_started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
    }
    seconds = {
        f"seconds_{stage}": (
            dt.datetime.fromisoformat(t["finished"]) - dt.datetime.fromisoformat(t["started"])
        ).total_seconds()
        if t
        else None
        for stage, t in timings.items()
    }
    if status != "success":  # the write stage did not run: only the stages that finished count
        timings.pop("write")
    starts = [dt.datetime.fromisoformat(t["started"]) for t in timings.values() if t] or [
        write_started
    ]
    discover_summary, fetch_summary = (
        read_json(work / "discover.json"),
        read_json(work / "fetch.json"),
    )
    reasons: dict[str, int] = defaultdict(int)
    for problem in problems:
        reasons[problem["reason"]] += 1
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "source_id": source.id,
        "interval_start": run.start,
        "interval_end": run.end,
        "started_at": min(starts),
        "finished_at": dt.datetime.now(dt.UTC),
        "status": status,
        "reprocess": reprocess,
        "discovered": ref["discovered"],
        "not_modified": ref["not_modified"],
        "fetched": ref["fetched"],
        "new": ref["new"],
        "duplicates": ref["duplicate"],
        "seen": ref["seen"],
        "quarantined": ref["failed"],
        "quarantined_by_reason": sorted(reasons.items()),
        "bytes_fetched": int(discover_summary.get("bytes", 0)) + int(fetch_summary.get("bytes", 0)),
        "requests": int(discover_summary.get("requests", 0))
        + int(fetch_summary.get("requests", 0)),
        **seconds,
        "failed_task": failed_task,
        "error": error,
    }
    if reprocess:  # the pages were not fetched again: the crawl's figures stay the live run's
        live = stored_row(root, source.id, run)
        for key in CRAWL_FIGURES:
            if live is not None:
                row[key] = live[key]
    commit_run_metrics(row, root, source.id, run.key, run.start.date())


def record_failure(
    root: Path, source: Source, run: Run, failed_task: str, error: BaseException | str | None
) -> None:
    """Record a failed run in DATA/runs/ (status "failed", the task and the error), with the
    counts of the stages that finished. A later successful attempt replaces the row."""
    work = workdir(root, source, run)
    discover_summary, fetch_summary = (
        read_json(work / "discover.json"),
        read_json(work / "fetch.json"),
    )
    problems = [
        row
        for stage in ("discover", "fetch", "extract", "transform")
        for row in read_jsonl(work / f"quarantine-{stage}.jsonl")
    ]
    ref = WriteRef(
        source_id=source.id,
        discovered=sum(1 for _ in read_jsonl(work / "discovered.jsonl")),
        not_modified=int(discover_summary.get("not_modified", 0)),
        fetched=int(fetch_summary.get("fetched", 0)),
        new=0,
        duplicate=0,
        seen=0,
        failed=len(problems),
        files=[],
    )
    if isinstance(error, BaseException):
        message: str | None = f"{type(error).__name__}: {error}"[:2000]
    else:
        message = None if error is None else str(error)[:2000]
    record_run(
        root,
        source,
        run,
        work,
        ref,
        problems,
        dt.datetime.now(dt.UTC),
        status="failed",
        failed_task=failed_task,
        error=message,
    )
