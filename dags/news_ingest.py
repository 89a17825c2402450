"""One ingest DAG per source in the sources file: discover → fetch → extract → transform → write.

Tasks are named after what they produce: discovered_items, fetched_pages,
extracted_articles, normalised_articles, stored_articles (the last updates the
`newsflow_articles` Asset with the run's counts, which triggers `news_daily`). Manual runs
take the Param `refetch` (fetch items again even if already stored). A failed task is
recorded in the run metrics (DATA/runs/) and handed to the notifiers named in
NEWSFLOW_FAILURE_NOTIFIERS (see ingest/run/callbacks.py).

Configuration only. The sources file is named by NEWSFLOW_SOURCES (default: the project's
sources.yaml) and the data root by NEWSFLOW_DATA (default: the project's data/ folder); only
the tasks resolve the data root: parsing reads the sources file alone, and a DAG, its docs
included, changes only with it (anything else would make each run a new DAG version).
Tasks take their run's context as parameters and pass references (paths and counts)
through XCom; the pipeline's libraries are imported inside the tasks, so parsing this file
stays cheap.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, get_parsing_context, task
from airflow.sdk.exceptions import AirflowSkipException
from airflow.timetables.interval import CronDataIntervalTimetable

from ingest.config import Settings, Source, data_root, load_sources, retry_delay, sources_path
from ingest.run.assets import ARTICLES
from ingest.run.callbacks import task_failed

if TYPE_CHECKING:
    from airflow.sdk.types import OutletEventAccessorsProtocol

    from ingest.run.model import Run

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "newsflow",
    "retries": 2,
    "retry_delay": retry_delay(),  # 2 minutes unless NEWSFLOW_RETRY_DELAY_S says otherwise
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=1),
}


def _run(run_id: str | None, start: dt.datetime | None, end: dt.datetime | None) -> Run:
    """The pipeline's Run for a DAG run: its id and data interval [start, end), the context
    a task declares; raises RuntimeError when called outside a DAG run (no run id)."""
    from ingest.run.model import Run

    if run_id is None:
        raise RuntimeError("an ingest task needs its DAG run's id: run it in Airflow")
    return Run.of_dag_run(run_id, start, end)


SOURCES_PAGE = "/newsflow/sources?source={}"  # the newsflow plugin's page (url prefix /newsflow)


def _doc(source: Source, settings: Settings) -> str:
    """The DAG's docs: the source's entry in the sources file, and nothing else.

    Docs are part of the serialised DAG, so anything in them that changed with the data
    (the last run's counts) would make every run a new DAG version: the runs are on the
    newsflow plugin's Sources page, linked from here.
    """
    feeds = "\n".join(f"- <{url}>" for url in source.feeds) or "- (none)"
    sitemaps = "\n".join(f"- <{url}>" for url in source.sitemaps) or "- (none)"
    rate = source.settings(settings).rate_limit_per_host
    rows = (
        ("source id", f"`{source.id}`"),
        ("schedule", f"`{source.schedule}` (UTC); each run covers one interval `[start, end)`"),
        (
            "homepage",
            f"<{source.homepage}> (the feeds it advertises are read too)"
            if source.homepage
            else "(none)",
        ),
        ("language hint", f"`{source.language}`" if source.language else "(none)"),
        (
            "timezone",
            f"`{source.timezone}`, for printed times without an offset"
            if source.timezone
            else "(none: the page's other timestamps, else UTC, give it the offset)",
        ),
        (
            "site profile",
            f"`{source.profile}`" if source.profile else "(the one matching each page, if any)",
        ),
        (
            "politeness",
            f"at most {rate:g} requests/s per host, shared by every source on it; "
            f"robots.txt rules for `{settings.robots_token}` obeyed",
        ),
    )
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    return (
        f"### {source.name}\n\nIngests the source `{source.id}`: discover feed items, fetch "
        "pages, extract articles, normalise, deduplicate, tag and write them to the `articles` "
        "Parquet dataset, partitioned by publication date.\n\n"
        f"| setting | value |\n|---|---|\n{table}\n\n"
        f"**Feeds**\n\n{feeds}\n\n**Sitemaps**\n\n{sitemaps}\n\n"
        f"**Runs**: the last runs' counts and failures are on the newsflow "
        f"[Sources page]({SOURCES_PAGE.format(source.id)}). "
        "Items that fail at any stage are written to `quarantine/` with a reason; every run "
        'writes one row of metrics to `runs/` (`newsflow query "SELECT * FROM runs"`). '
        "These docs change only with the sources file."
    )


def build_dag(source: Source, settings: Settings) -> Any:
    @dag(
        dag_id=f"news_ingest__{source.id}",
        description=f"Ingest {source.name} into the article dataset",
        schedule=CronDataIntervalTimetable(source.cron, timezone="UTC"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["newsflow", "ingest", f"source:{source.id}"],
        doc_md=_doc(source, settings),
        params={
            "refetch": Param(
                False,
                type="boolean",
                title="Refetch",
                description="Fetch the items again even if they are already stored.",
            )
        },
        default_args={
            **DEFAULT_ARGS,
            "on_failure_callback": functools.partial(task_failed, source.id),
        },
    )
    def ingest() -> None:
        # Each task declares the context it needs as keyword parameters, which Airflow fills
        # in: the run's id and data interval, the Params, the outlet events.

        def here(root: Path, run: Run, ref: str) -> str:
            """A work file named by an earlier task, in this machine's data root (with an
            object-store data root, each machine works in its own mirror)."""
            from ingest.run.model import workdir

            return str(workdir(root, source, run) / PurePath(ref).name)

        @task(multiple_outputs=False)
        def discovered_items(
            *,
            run_id: str | None = None,
            data_interval_start: dt.datetime | None = None,
            data_interval_end: dt.datetime | None = None,
            params: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            from ingest.run import commit, stages

            run = _run(run_id, data_interval_start, data_interval_end)
            refetch = bool((params or {}).get("refetch", False))
            root = data_root(remote=True)
            found = stages.discover(source, settings, root, run, refetch=refetch)
            if not found["to_fetch"]:  # nothing new: the run is committed here
                commit.commit_unchanged(source, settings, root, run)
            return dict(found)

        @task(multiple_outputs=False)
        def fetched_pages(
            found: dict[str, Any],
            *,
            run_id: str | None = None,
            data_interval_start: dt.datetime | None = None,
            data_interval_end: dt.datetime | None = None,
            params: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            from ingest.run import stages

            if not found["to_fetch"]:
                raise AirflowSkipException("discovery listed nothing new; the run is committed")
            run = _run(run_id, data_interval_start, data_interval_end)
            refetch = bool((params or {}).get("refetch", False))
            root = data_root(remote=True)
            path = here(root, run, found["path"])
            return dict(stages.fetch(source, settings, root, run, path, refetch=refetch))

        @task(multiple_outputs=False)
        def extracted_articles(
            fetched: dict[str, Any],
            *,
            run_id: str | None = None,
            data_interval_start: dt.datetime | None = None,
            data_interval_end: dt.datetime | None = None,
        ) -> dict[str, Any]:
            from ingest.run import stages

            run = _run(run_id, data_interval_start, data_interval_end)
            root = data_root(remote=True)
            path = here(root, run, fetched["path"])
            return dict(stages.extract(source, settings, root, run, path))

        @task(multiple_outputs=False)
        def normalised_articles(
            extracted: dict[str, Any],
            *,
            run_id: str | None = None,
            data_interval_start: dt.datetime | None = None,
            data_interval_end: dt.datetime | None = None,
        ) -> dict[str, Any]:
            from ingest.run import stages

            run = _run(run_id, data_interval_start, data_interval_end)
            root = data_root(remote=True)
            path = here(root, run, extracted["path"])
            return dict(stages.transform(source, settings, root, run, path))

        @task(multiple_outputs=False, outlets=[ARTICLES])
        def stored_articles(
            transformed: dict[str, Any],
            *,
            run_id: str | None = None,
            data_interval_start: dt.datetime | None = None,
            data_interval_end: dt.datetime | None = None,
            outlet_events: OutletEventAccessorsProtocol | None = None,
        ) -> dict[str, Any]:
            from ingest.run import commit

            run = _run(run_id, data_interval_start, data_interval_end)
            root = data_root(remote=True)
            ref = commit.write(source, settings, root, run, here(root, run, transformed["path"]))
            counts = {k: v for k, v in ref.items() if k != "files"}
            if outlet_events is not None:  # None only when the function is called directly
                outlet_events[ARTICLES].extra = counts
            return {**counts, "files": len(ref["files"])}

        stored_articles(normalised_articles(extracted_articles(fetched_pages(discovered_items()))))

    return ingest()


_config = load_sources(sources_path())
# a task's process parses this file for its own DAG (Airflow's parsing context names it):
# only that one is built, so a task's start does not grow with the number of sources
_wanted = get_parsing_context().dag_id
for _source in _config.sources:
    _dag_id = f"news_ingest__{_source.id}"
    if _wanted is None or _wanted == _dag_id:
        globals()[_dag_id] = build_dag(_source, _config.settings)
