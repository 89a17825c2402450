"""news_reprocess: rebuild stored articles from the raw responses kept as WARC, offline.

Manual only: trigger it after an extractor fix, with the Params `since` (runs started on or
after that day, UTC), `sources` (ids; empty: all) and `workers` (processes). Then copies
and tags are recomputed for the days it touched, and the `newsflow_articles` Asset is
updated, which triggers `news_daily`. Configuration only: the work is ingest.run.reprocess,
transforms.dedup_store.rebuild and transforms.tagging.retag (`newsflow reprocess`, `dedup`,
`retag` on the command line).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param, dag, task

from ingest.run.assets import ARTICLES

if TYPE_CHECKING:
    from airflow.sdk.types import OutletEventAccessorsProtocol


@dag(
    dag_id="news_reprocess",
    description="Rebuild stored articles from the raw responses, after an extractor fix",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "newsflow", "retries": 0},
    tags=["newsflow", "maintenance"],
    doc_md=__doc__,
    params={
        "since": Param(type="string", format="date", title="Runs started on or after (UTC day)"),
        "sources": Param(
            [], type="array", items={"type": "string"}, title="Source ids (empty: all)"
        ),
        "workers": Param(2, type="integer", minimum=1, maximum=32, title="Processes"),
    },
)
def news_reprocess() -> None:
    # Each task declares the context it needs as keyword parameters, which Airflow fills in.

    @task(multiple_outputs=False)
    def reprocessed_articles(*, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from ingest.config import data_root
        from ingest.run.reprocess import reprocess_runs

        params = params or {}
        since = dt.date.fromisoformat(params["since"])
        results = reprocess_runs(
            data_root(remote=True),
            list(params["sources"]) or None,
            since,
            workers=int(params["workers"]),
        )
        failed = [f"{r.source_id}: {r.error}" for r in results if r.ref is None]
        if failed:
            raise RuntimeError(f"{len(failed)} runs could not be reprocessed: {failed[:3]}")
        return {"runs": len(results), "new": sum(int(r.ref["new"]) for r in results if r.ref)}

    @task(multiple_outputs=False, outlets=[ARTICLES])
    def recomputed_stories_and_tags(
        *,
        params: dict[str, Any] | None = None,
        outlet_events: OutletEventAccessorsProtocol | None = None,
    ) -> dict[str, int]:
        from ingest.config import data_root, load_sources, sources_path
        from transforms.commit import locked
        from transforms.dedup_store import rebuild
        from transforms.tagging import get_tagger, retag

        root = data_root(remote=True)
        settings = load_sources(sources_path()).settings
        since = dt.date.fromisoformat((params or {})["since"])

        def recomputed() -> tuple[dict[str, int], dict[str, int]]:
            stories = rebuild(root, dt.timedelta(days=settings.dedup_window_days), since)
            tags = retag(root, get_tagger(settings.taxonomy, settings.entity_models), since)
            return stories, tags

        stories, tags = locked(root, recomputed)
        counts = {"story_rows_changed": stories["changed"], "tag_rows_changed": tags["changed"]}
        if outlet_events is not None:  # None only when the function is called directly
            outlet_events[ARTICLES].extra = counts
        return counts

    reprocessed_articles() >> recomputed_stories_and_tags()


news_reprocess()
