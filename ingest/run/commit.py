"""The write stage: deduplicate a run's articles against the dataset and commit them with
its quarantine rows, its crawl state and its run metrics; and the commit of a run whose
discovery listed nothing to fetch."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.config import Settings, Source
from ingest.fetch.state import CrawlState, Outcome, Validators, is_transient
from ingest.logs import stage_line
from ingest.run.items import isolate, problem
from ingest.run.metrics import record_run, stored_row
from ingest.run.model import SUMMARY_KEYS, Run, WriteRef, workdir
from ingest.run.workfiles import WRITTEN, read_json, read_jsonl, require, write_json

log = logging.getLogger(__name__)


def _since(start: dt.datetime) -> float:
    return (dt.datetime.now(dt.UTC) - start).total_seconds()


def write(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    transformed: str | None,
    *,
    reprocess: bool = False,
) -> WriteRef:
    """Deduplicate against the dataset, commit the run's articles and quarantine rows, then the
    crawl state. Serialised across processes by the dataset's commit lock. `transformed`
    None: the run has no article to write (see `commit_unchanged`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from transforms.commit import locked
    from transforms.dataset import (
        RunOutput,
        commit_quarantine,
        minhash_scheme,
        read_quarantine,
        url_rule,
    )
    from transforms.dedup import DEDUP_COLUMNS
    from transforms.dedup_store import (
        commit_flagged,
        dedup_batch,
        dedup_view,
        flagged,
        needs_text,
        unprinted,
    )
    from transforms.files import read_columns
    from transforms.index import open_index, own_files, read_own
    from transforms.lakemirror import publish_mirror, pull, push
    from transforms.minhash import SCHEME
    from transforms.schema import ARTICLE_SCHEMA
    from transforms.url_migration import respelled
    from transforms.urls import URL_RULE

    written_at = dt.datetime.now(dt.UTC)
    work = workdir(root, source, run) if transformed is None else Path(transformed).parent
    pull(root, work)  # on the mirror of an object store: the earlier tasks' files
    if transformed is not None:
        require(transformed, "write")
    if not reprocess:  # a reprocessed run's work folder holds only its extract and transform
        require(work / "discovered.jsonl", "write")
    # each discovered item's feed date (what the crawl state keeps), not the whole item
    discovered = {
        item["url"]: item.get("feed_updated") for item in read_jsonl(work / "discovered.jsonl")
    }

    # rows transformed under an older URL rule (before an upgrade) get the current ids here:
    # no file states the current rule over older ids (transforms/url_migration.py)
    current_rule = transformed is None or url_rule(Path(transformed)) == URL_RULE
    # and fingerprints of an older MinHash scheme are made again (dedup makes the missing)
    current_prints = transformed is None or minhash_scheme(Path(transformed)) == SCHEME

    def spelt(table: pa.Table) -> pa.Table:  # the transformed file's rows, by the current rule
        return table if current_rule else respelled(table)

    def read_new(columns: list[str]) -> pa.Table:  # the new rows' columns dedup needs
        if transformed is None:
            return ARTICLE_SCHEMA.empty_table().select(columns)
        wanted = list(dict.fromkeys([*columns, "url", "canonical_url"]))
        table = read_columns(Path(transformed), wanted, ARTICLE_SCHEMA)
        table = spelt(table).select(columns)
        return table if current_prints else unprinted(table)

    # only dedup's columns are read whole; the rows are written a chunk at a time from the
    # transformed file (memory does not grow with the run's text)
    table = read_new(DEDUP_COLUMNS)
    urls: list[str] = [str(u) for u in table["url"].to_pylist()]
    stages = (
        ("extract", "transform") if reprocess else ("discover", "fetch", "extract", "transform")
    )
    listed = [row for stage in stages for row in read_jsonl(work / f"quarantine-{stage}.jsonl")]
    for row in listed:
        row["at"] = dt.datetime.fromisoformat(row["at"])

    def _commit(listed: list[dict[str, Any]], table: pa.Table) -> WriteRef:
        problems = [dict(row) for row in listed]
        if reprocess:  # keep what the live run recorded before extraction
            problems = [
                r
                for r in read_quarantine(root, source.id, run.key, run.run_id, run.start.date())
                if r["stage"] in ("discover", "fetch")
            ] + problems
        # rows this run wrote before are kept unless this attempt produced the item again or
        # quarantined it: an item no longer listed, or skipped as known, is never lost
        redone = set(urls) | {p["url"] for p in problems if p["stage"] != "discover"}
        output = RunOutput(source.id, run.key, run.run_id)
        redone_urls = pa.array(sorted(redone), type=pa.string())

        def read_kept(columns: list[str]) -> pa.Table:  # rows this run wrote before, kept
            own = read_own(root, output, list(dict.fromkeys([*columns, "canonical_url"])))
            own = own.filter(pc.invert(pc.is_in(own["url"], value_set=redone_urls)))
            own = respelled(own).select(columns)  # (stored before a migration, maybe)
            files = own_files(root, output)  # fingerprints of an older scheme: made again
            return own if all(minhash_scheme(f) == SCHEME for f in files) else unprinted(own)

        own = read_kept(DEDUP_COLUMNS)
        if needs_text(own, table):
            own, table = read_kept([*DEDUP_COLUMNS, "text"]), read_new([*DEDUP_COLUMNS, "text"])
        rows = pa.concat_tables([own, table])
        window = dt.timedelta(days=settings.dedup_window_days)
        result, light, failing = isolate(
            dedup_view(rows), lambda light: dedup_batch(light, root, window, exclude=output)
        )
        del light  # (the rows as dedup was given them: the result's rows are its own)
        for row, error in failing:  # one bad row must not keep the others out
            problems.append(
                problem(row["url"], source, run, "write", "write_error", repr(error))
                | {"at": dt.datetime.now(dt.UTC)}
            )
        set_aside = {row["url"] for row, _ in failing}
        everything = [f.name for f in ARTICLE_SCHEMA]

        def chunks() -> Iterator[pa.Table]:  # the rows to write, flagged, a chunk at a time
            taken: set[str] = set()
            kept = {r["article_id"]: r for r in result.rows}
            if own.num_rows:
                yield flagged(read_kept(everything), result, taken, kept)
            if transformed is not None:
                # without pre-buffering, which reads every row group's bytes up front
                reader = pq.ParquetFile(transformed, pre_buffer=False)
                for batch in reader.iter_batches(batch_size=settings.chunk_items):
                    chunk = spelt(pa.Table.from_batches([batch]))
                    yield flagged(chunk, result, taken, kept)

        files = commit_flagged(result, root, output, table=chunks)
        earlier = stored_row(root, source.id, run)  # an earlier run of the window: replaced
        replaced = {run.run_id, *([str(earlier["run_id"])] if earlier else [])}
        commit_quarantine(problems, root, source.id, run.key, run.start.date(), replaced)
        ids = table["article_id"].to_pylist()
        batch = [
            {"url": u, "article_id": a}
            for u, a in zip(urls, ids, strict=True)
            if u not in set_aside
        ]
        fresh = {r["url"] for r in batch}
        summary = read_json(work / "discover.json")
        fetch_summary = read_json(work / "fetch.json")
        ref = WriteRef(
            source_id=source.id,
            discovered=len(discovered),
            not_modified=int(summary.get("not_modified", 0)),
            fetched=int(fetch_summary.get("fetched", 0)),
            new=sum(1 for r in result.rows if r["url"] in fresh and r["duplicate_of"] is None),
            duplicate=sum(
                1 for r in result.rows if r["url"] in fresh and r["duplicate_of"] is not None
            ),
            seen=result.seen
            + int(summary.get("repeated", 0))
            + int(fetch_summary.get("skipped", 0)),
            failed=len(problems),
            files=[str(f) for f in files],
        )
        record_run(root, source, run, work, ref, problems, written_at, reprocess=reprocess)
        # on the mirror of an object store the dataset is published before the crawl state
        # says the items are stored (raises MirrorBehind when another machine was first)
        publish_mirror(root)
        if not reprocess:
            _commit_state(root, settings, source, run, work, batch, problems, discovered)
        return ref

    def attempt() -> WriteRef:  # redone by `locked` when another machine published first
        with open_index(root):  # one connection to the index per commit
            return _commit(listed, table)

    ref = locked(root, attempt)
    write_json(work / WRITTEN, dict(ref))  # a committed run: its work folder is no leftover
    log.info(
        "%s",
        stage_line(source.id, "write", {k: ref[k] for k in SUMMARY_KEYS}, _since(written_at)),  # type: ignore[literal-required]
        extra={
            "stage": "write",
            "source_id": source.id,
            "summary": f"{ref['new']} new, {ref['duplicate']} copies",
        },
    )
    push(root, [work / WRITTEN])  # (on the store too, for its retention)
    return ref


def commit_unchanged(source: Source, settings: Settings, root: Path, run: Run) -> WriteRef:
    """Commit a run whose discovery listed nothing to fetch (its quarantine rows, validators
    and metrics; no article), without the fetch, extract and transform stages."""
    return write(source, settings, root, run, None)


def _commit_state(
    root: Path,
    settings: Settings,
    source: Source,
    run: Run,
    work: Path,
    batch: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    discovered: dict[str, Any],
) -> None:
    """The run's outcomes in the crawl state; `discovered`: each discovered URL's feed date."""
    outcomes = [
        Outcome(r["url"], "stored", r["article_id"], discovered.get(r["url"])) for r in batch
    ]
    outcomes += [Outcome(p["url"], p["reason"]) for p in problems if p["stage"] != "discover"]
    summary = read_json(work / "discover.json")
    validators = summary.get("validators", {})
    deferred = list(read_jsonl(work / "deferred.jsonl")) if summary.get("deferred_items") else []
    # a backlog item this run took and could not fetch for now stays in the backlog: the
    # retry the next run makes keeps what its listing said (its time, title and date)
    waiting = {item["url"] for item in deferred}
    retrying = {o.url for o in outcomes if is_transient(o.outcome)}
    taken = summary.get("backlog_taken", [])
    with CrawlState(root, settings.state_url) as state:
        # the outcomes first: a backlog item this run took and that failed for now must be
        # known as a retry before the backlog is saved; then the backlogs, so that a
        # commit cut short after them leaves the validators unsaved, and the next run lists
        # the same items again (nothing deferred is lost)
        state.record_outcomes(source.id, outcomes, run.key)
        state.save_sitemap_backlog(
            source.id, [(url, int(depth)) for url, depth in summary.get("deferred_sitemaps", [])]
        )
        state.save_item_backlog(
            source.id,
            [url for url in taken if url not in waiting and url not in retrying],
            deferred,
            run.key,
            released=[url for url in taken if url in retrying],
            keep=settings.backlog_items,
        )
        state.save_validators({url: Validators(**v) for url, v in validators.items()}, run.key)
