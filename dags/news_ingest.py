"""One ingest DAG per source in the sources file: discover → fetch → extract → transform → write.

Configuration only. The sources file is named by NEWSFLOW_SOURCES (default: the project's
sources.yaml) and the data root by NEWSFLOW_DATA (default: the project's data/ folder).
Tasks pass references (paths and counts) through XCom; the pipeline's libraries are
imported inside the tasks, so parsing this file stays cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from ingest.config import Settings, Source, load_sources, sources_path

ARTICLES = Asset(name="newsflow_articles", uri="newsflow://articles")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "newsflow",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=1),
}


def _run() -> Any:
    """The pipeline's Run for the current DAG run: its id and data interval [start, end)."""
    from ingest.pipeline import Run

    context = get_current_context()
    start = (
        context.get("data_interval_start") or context.get("logical_date") or dt.datetime.now(dt.UTC)
    )
    end = context.get("data_interval_end") or start
    return Run(
        run_id=str(context["run_id"]), start=start.astimezone(dt.UTC), end=end.astimezone(dt.UTC)
    )


def _doc(source: Source) -> str:
    feeds = "\n".join(f"- <{url}>" for url in source.feeds)
    return (
        f"### {source.name}\n\nIngests the source `{source.id}` on `{source.schedule}` (UTC): "
        f"discover feed items, fetch pages, extract articles, normalise, deduplicate and write "
        f"them to the `articles` Parquet dataset, partitioned by publication date.\n\n"
        f"**Feeds**\n\n{feeds}\n\nItems that fail at any stage are written to `quarantine/` with a reason."
    )


def build_dag(source: Source, settings: Settings) -> Any:
    @dag(
        dag_id=f"news_ingest__{source.id}",
        description=f"Ingest {source.name} into the article dataset",
        schedule=CronDataIntervalTimetable(source.cron, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["newsflow", "ingest", f"source:{source.id}"],
        doc_md=_doc(source),
    )
    def ingest() -> None:
        @task(multiple_outputs=False)
        def discover_items() -> dict[str, Any]:
            from ingest import pipeline
            from ingest.config import data_root

            return dict(pipeline.discover(source, settings, data_root(), _run()))

        @task(multiple_outputs=False)
        def fetch_pages(found: dict[str, Any]) -> dict[str, Any]:
            from ingest import pipeline
            from ingest.config import data_root

            return dict(pipeline.fetch(source, settings, data_root(), _run(), found["path"]))

        @task(multiple_outputs=False)
        def extract_articles(fetched: dict[str, Any]) -> dict[str, Any]:
            from ingest import pipeline
            from ingest.config import data_root

            return dict(pipeline.extract(source, settings, data_root(), _run(), fetched["path"]))

        @task(multiple_outputs=False)
        def transform_articles(extracted: dict[str, Any]) -> dict[str, Any]:
            from ingest import pipeline
            from ingest.config import data_root

            return dict(
                pipeline.transform(source, settings, data_root(), _run(), extracted["path"])
            )

        @task(multiple_outputs=False, outlets=[ARTICLES])
        def write_articles(transformed: dict[str, Any]) -> dict[str, Any]:
            from ingest import pipeline
            from ingest.config import data_root

            ref = pipeline.write(source, settings, data_root(), _run(), transformed["path"])
            counts = {k: v for k, v in ref.items() if k != "files"}
            get_current_context()["outlet_events"][ARTICLES].extra = counts
            return {**counts, "files": len(ref["files"])}

        write_articles(transform_articles(extract_articles(fetch_pages(discover_items()))))

    return ingest()


_config = load_sources(sources_path())
for _source in _config.sources:
    globals()[f"news_ingest__{_source.id}"] = build_dag(_source, _config.settings)
