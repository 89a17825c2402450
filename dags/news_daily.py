"""news_daily: compaction, data-quality checks and the daily report.

Runs when an ingest run updates the `newsflow_articles` Asset, and every day at 05:30 UTC
whatever happened. Configuration only: the work is in transforms.compaction,
transforms.quality and transforms.report. Tasks are named after what they produce.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from ingest.run.assets import ARTICLES, REPORT

if TYPE_CHECKING:
    from airflow.sdk.types import OutletEventAccessorsProtocol

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

DOC = """
### Daily upkeep of the article dataset

Triggered by every ingest run (the `newsflow_articles` Asset) and daily at 05:30 UTC.

1. **compacted_partitions** — partitions older than `compact_older_than_days` are merged
   into one file each, sorted by `published_at` (zstd, large row groups). Journalled: an
   interrupted compaction is finished or undone by the next writer; no row is lost or doubled.
   Then what killed runs left behind more than a day ago (hidden temporary files, work
   folders of runs that never committed) is removed, and so are, per the sources file's
   settings, committed runs' work folders `keep_work_days` after they committed (7) and raw
   WARC files `keep_raw_days` after capture (by default kept forever). The counts and bytes
   freed are in the task's log and return value.
2. **quality_findings** — checks on the last `check_days` days of partitions: schema,
   required fields, dates within bounds, copy rate, per-source volume against its trailing
   average (dropped to zero, spikes), extraction health (short bodies, missing dates).
   Recorded in `DATA/quality/check_date=YYYY-MM-DD/quality.parquet`. **Errors fail this
   task** (the log lists each finding); warnings are logged and shown in the report.
3. **daily_report** — `DATA/reports/YYYY-MM-DD/report.html` with charts: articles per source
   per day, unique stories and copies, top topics and places, quarantine reasons and run
   outcomes per source, and the disk usage of each data folder with the retention in force.
   Runs even when the checks failed. Its path is in the
   `newsflow_report` Asset event (`extra.report`).
"""


def _day(
    params: dict[str, Any] | None, end: dt.datetime | None, logical_date: dt.datetime | None
) -> dt.date:
    """The day a run checks and reports: the Param `report_day`, else the day its data
    interval ends (an asset-triggered run has none: the day it started)."""
    chosen = (params or {}).get("report_day")
    if chosen:
        return dt.date.fromisoformat(chosen)
    return (end or logical_date or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()


@dag(
    dag_id="news_daily",
    description="Compaction, quality checks and the daily report of the article dataset",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 5 * * *", timezone="UTC"), assets=[ARTICLES]
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "newsflow", "retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    tags=["newsflow", "daily"],
    doc_md=DOC,
    params={
        "compact_older_than_days": Param(
            7, type="integer", minimum=1, maximum=3650, title="Compact partitions older than (days)"
        ),
        "check_days": Param(
            3, type="integer", minimum=1, maximum=60, title="Days of partitions to check"
        ),
        "report_day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Report day (default: the run's day)",
        ),
    },
)
def news_daily() -> None:
    # Each task declares the context it needs as keyword parameters, which Airflow fills in.

    @task(multiple_outputs=False)
    def compacted_partitions(*, params: dict[str, Any] | None = None) -> dict[str, int]:
        import logging

        from ingest.config import data_root
        from ingest.run.retention import remove_expired, upkeep_settings
        from ingest.run.workfiles import LEFTOVER_AGE, WRITTEN, remove_leftovers
        from transforms.commit import locked
        from transforms.compaction import compact, upgrade_tables
        from transforms.index import reconcile_index
        from transforms.lakemirror import expire_remote, lake_of

        root, now = data_root(remote=True), dt.datetime.now(dt.UTC)
        settings = upkeep_settings()
        days = int((params or {})["compact_older_than_days"])

        def compacted() -> dict[str, int]:
            done = compact(root, dt.timedelta(days=days), now)
            done["tables_upgraded"] = upgrade_tables(root)  # quarantine and runs files
            done["index_rebuilt"] = int(reconcile_index(root))  # files changed by hand
            return done

        done = locked(root, compacted)
        leftovers = remove_leftovers(root, now)
        expired = remove_expired(root, now, settings)
        # on an object store: the work files and WARC of every machine's runs, by the same rules
        remote = expire_remote(
            root, now, settings.keep_work_days, settings.keep_raw_days, LEFTOVER_AGE, WRITTEN
        )
        logging.getLogger("newsflow.retention").info(
            "removed %d leftovers, %d work folders (%d bytes) and %d raw files (%d bytes); "
            "keep_work_days=%g keep_raw_days=%s",
            leftovers,
            expired["work_folders"],
            expired["work_bytes"],
            expired["raw_files"],
            expired["raw_bytes"],
            settings.keep_work_days,
            "forever" if settings.keep_raw_days is None else f"{settings.keep_raw_days:g}",
        )
        lake = lake_of(root)  # and the files no commit publishes any more, an hour on
        garbage = lake.collect_garbage(now) if lake is not None else 0
        return {
            **done,
            "leftovers_removed": leftovers,
            **expired,
            **remote,
            "unpublished_removed": garbage,
        }

    @task(multiple_outputs=False)
    def quality_findings(
        *,
        params: dict[str, Any] | None = None,
        data_interval_end: dt.datetime | None = None,
        logical_date: dt.datetime | None = None,
    ) -> dict[str, Any]:
        import logging
        from pathlib import Path

        from airflow.sdk.exceptions import AirflowFailException

        from ingest.config import data_root
        from transforms.commit import locked
        from transforms.lakemirror import lake_of
        from transforms.quality import Finding, check_recent, record

        log = logging.getLogger("newsflow.quality")
        day = _day(params, data_interval_end, logical_date)
        root, now = data_root(remote=True), dt.datetime.now(dt.UTC)
        days = int((params or {})["check_days"])

        def checked() -> tuple[list[Finding], Path]:  # on an object store: findings published
            findings = check_recent(root, day, days, now)
            return findings, record(root, day, findings, now)

        findings, path = locked(root, checked) if lake_of(root) else checked()
        for finding in findings:
            (log.error if finding.severity == "error" else log.warning)(
                "%s %s: %s", finding.severity.upper(), finding.check, finding.message
            )
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise AirflowFailException(
                f"{len(errors)} data-quality errors (first: {errors[0].message}); all findings in {path}"
            )
        return {"warnings": len(findings), "errors": 0, "file": str(path)}

    @task(multiple_outputs=False, trigger_rule="all_done", outlets=[REPORT])
    def daily_report(
        *,
        params: dict[str, Any] | None = None,
        data_interval_end: dt.datetime | None = None,
        logical_date: dt.datetime | None = None,
        outlet_events: OutletEventAccessorsProtocol | None = None,
    ) -> dict[str, str]:
        import pyarrow.parquet as pq

        from ingest.config import data_root
        from ingest.run.retention import upkeep_settings
        from transforms.commit import current
        from transforms.lakemirror import push
        from transforms.quality import QUALITY
        from transforms.report import Retention, build_report

        day = _day(params, data_interval_end, logical_date)
        root, settings = data_root(remote=True), upkeep_settings()
        findings_file = root / QUALITY / f"check_date={day.isoformat()}" / "quality.parquet"
        retention = Retention(settings.keep_work_days, settings.keep_raw_days)
        with current(root):  # on an object store: the newest dataset, the report uploaded
            findings = pq.read_table(findings_file).to_pylist() if findings_file.exists() else []
            path = build_report(root, day, findings, retention)
            push(root, path.parent.rglob("*"))
        if outlet_events is not None:  # None only when the function is called directly
            outlet_events[REPORT].extra = {"report": str(path)}
        return {"report": str(path)}

    compacted_partitions() >> quality_findings() >> daily_report()


news_daily()
