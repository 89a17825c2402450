"""The five stages of one source's run: discover → fetch → extract → transform → write.

Each stage reads its predecessor's work file, writes its own, and returns a small
reference (path and counts) — what a DAG task pushes to XCom. Work files live under
DATA/work/<source_id>/<run_key>/ and are replaced when a stage re-runs; fetched responses
go to the run's WARC file under DATA/raw/. Every item a source lists ends as an article, a
flagged duplicate, an already-known item (`seen`), or a quarantine row with a reason.
Crawl state (validators, seen URLs) is committed only by the write stage, with the data.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ingest.config import Settings, Source
from ingest.fetch.http import HttpClient, WaitBudget
from ingest.fetch.state import (
    CrawlState,
)
from ingest.run.commit import commit_unchanged, write
from ingest.run.items import (
    extract_item,
    fetch_item,
    isolate,
    problem,
    split_known,
)
from ingest.run.model import WHOLE, DiscoverRef, Part, Run, StageRef, WriteRef, workdir
from ingest.run.workfiles import (
    JsonlWriter,
    read_json,
    read_jsonl,
    require,
    write_json,
    write_jsonl,
)

log = logging.getLogger(__name__)

_Stage = TypeVar("_Stage", bound=Callable[..., Any])
# what a fetch tells while it goes on: the archive being written, the fetched pages' rows
# so far, whether it is done (see `fetch`)
Progress = Callable[[Any, list[dict[str, Any]], bool], None]
PROGRESS_S = 0.25


def _timed(stage: str) -> Callable[[_Stage], _Stage]:
    """Record when a stage started and finished in the run's work folder (for run metrics)."""

    def wrap(function: _Stage) -> _Stage:
        @functools.wraps(function)
        def timed(
            source: Source, settings: Settings, root: Path, run: Run, *args: Any, **kwargs: Any
        ) -> Any:
            from ingest.fetch.warc import warc_path
            from transforms.lakemirror import lake_of, pull, push

            started = dt.datetime.now(dt.UTC)
            work = workdir(root, source, run)
            archive = warc_path(root, source.id, run.key)
            # on the mirror of an object store, the run's files come from (and go to) the
            # store: the run's tasks may run on different machines
            pull(root, work)
            if stage == "extract":
                pull(root, archive)
            result = function(source, settings, root, run, *args, **kwargs)
            # less the time the stage lent its caller after its own work was done (a fetch's
            # progress calls, which commit other sources: see `fetch`)
            lent = read_json(work / "fetch.json").get("seconds_lent", 0) if stage == "fetch" else 0
            finished = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lent)
            write_json(
                work / f"timing-{stage}.json",
                {"started": started.isoformat(), "finished": finished.isoformat()},
            )
            log_stage(source.id, stage, result, (finished - started).total_seconds())
            if lake_of(root) is not None:
                since = started.timestamp() - 1  # file times lag the clock by a tick
                written = [p for p in work.glob("*") if p.stat().st_mtime >= since]
                push(root, [*written, *([archive] if stage == "fetch" else [])])
            return result

        return timed  # type: ignore[return-value]

    return wrap


def log_stage(source_id: str, stage: str, result: Any, seconds: float) -> None:
    """The stage's one log line: its counts and its time (see ingest.logs)."""
    from ingest.logs import stage_line

    counts = (
        {k: int(v) for k, v in result.items() if isinstance(v, int)}
        if isinstance(result, dict)
        else {"nothing_new": 1}
        if result is None
        else {}
    )
    noun = {"discover": "discovered", "fetch": "fetched", "extract": "extracted"}.get(
        stage, f"{stage}ed"
    )
    summary = f"{counts.get('count', 0)} {noun}" if "count" in counts else stage
    log.info(
        "%s",
        stage_line(source_id, stage, counts, seconds),
        extra={"stage": stage, "source_id": source_id, "summary": summary},
    )


# ---------------------------------------------------------------------------------- stages


def within_budget(
    todo: list[dict[str, Any]], budget: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the `budget` freshest items by the time their listing gave, then the undated ones in
    listing order; the rest, deferred to the next runs). Within budget: everything, as
    listed."""
    if len(todo) <= budget:
        return todo, []
    dated = sorted(
        (item for item in todo if item.get("feed_time")),
        key=lambda item: str(item["feed_time"]),
        reverse=True,
    )
    ordered = dated + [item for item in todo if not item.get("feed_time")]
    return ordered[:budget], ordered[budget:]


@_timed("discover")
def discover(
    source: Source, settings: Settings, root: Path, run: Run, *, refetch: bool = False
) -> DiscoverRef:
    """List the items of the source's feeds, homepage and sitemaps, plus URLs due for a retry;
    with `refetch`, documents are read in full even when their validators say unchanged.
    `to_fetch` 0 means nothing new: `commit.commit_unchanged` finishes the run."""
    from ingest.discover.discoverer import Discoverer

    settings = source.settings(settings)
    work = workdir(root, source, run)
    budget = WaitBudget(settings)
    with (
        CrawlState(root, settings.state_url) as state,
        HttpClient(settings, state, budget=budget) as client,
    ):
        found = Discoverer(source, settings, client, state, run.key, run.end, refetch=refetch).run()
        # what earlier runs left over their item budget competes with what is new
        backlog = state.item_backlog(source.id, settings.items_per_run, run.key)
        # the listed items the backlog holds too: looked up by URL, so that what the backlog
        # holds beyond the listing and the budget is only counted, never read
        kept = state.item_backlog_items(source.id, list(found.items), run.key)
        items = [
            # a retry of an item the backlog holds keeps what its listing said (its time,
            # which orders it within the budget, its title and date)
            {**kept[item["url"]], "retry": True}
            if item.get("retry") and item["url"] in kept
            else item
            for item in found.items.values()
        ]
        items += [item for item in backlog if item["url"] not in found.items]
        todo, skipped = split_known(items, state, run.key, settings, refetch)
        # (a refetch asks for every listed item again: what it deferred, the next run would
        # skip as already stored)
        todo, deferred = (todo, []) if refetch else within_budget(todo, settings.items_per_run)
        # the backlog items this run takes or finds known, however it came to them (read
        # from the backlog, or listed again): the commit marks them taken; the others wait
        later = {item["url"] for item in deferred}
        in_backlog = set(kept) | {item["url"] for item in backlog}  # (of the run's items)
        backlog_taken = sorted(in_backlog - later)
        # waiting: the deferred items and the backlog's items this run did not come to
        # (the deferred are among the run's items, so the two are apart); an item the run
        # takes and cannot fetch for now goes back to the backlog at the commit, as a retry
        # with a quarantine row of its own: not counted here
        waiting = len(later) + state.item_backlog_count(source.id, run.key) - len(in_backlog)
        dropped = max(0, waiting - settings.backlog_items)  # (by the commit: the stalest)
    problems = [
        problem(url, source, run, "discover", reason, detail)
        for url, reason, detail in found.problems
    ]
    if waiting:
        first = f" (first: {deferred[0]['url']})" if deferred else ""
        problems.append(
            problem(
                [*source.feeds, *source.sitemaps, source.homepage or ""][0],  # the source's
                source,
                run,
                "discover",
                "item_limit",
                f"{len(todo)} items are fetched in this run, its budget (the setting items_per_run: "
                f"{settings.items_per_run}, the freshest first); {waiting - dropped} wait for "
                f"the next runs{first}"
                + (
                    f", and the {dropped} stalest are dropped: the backlog keeps "
                    f"{settings.backlog_items} (the setting backlog_items)"
                    if dropped
                    else ""
                ),
            )
        )
    items = [item for item in items if item["url"] not in later]
    path = write_jsonl(work / "discovered.jsonl", items)
    if deferred:
        write_jsonl(work / "deferred.jsonl", deferred)
    else:  # (an earlier attempt's, when this one defers nothing)
        (work / "deferred.jsonl").unlink(missing_ok=True)
    write_jsonl(work / "quarantine-discover.jsonl", problems)
    write_json(
        work / "discover.json",
        {
            "validators": {url: asdict(v) for url, v in found.validators.items()},
            "not_modified": found.not_modified,
            "repeated": found.repeated,
            "out_of_window": found.out_of_window,
            "deferred_sitemaps": found.deferred_sitemaps,
            "backlog_taken": backlog_taken,
            "deferred_items": len(deferred),
            "waiting_items": waiting - dropped,
            "dropped_items": dropped,
            "bytes": client.bytes_fetched,
            "requests": client.requests_made,
            "waited": budget.spent,
            "unanswered": budget.unanswered,
        },
    )
    if not todo:  # nothing to request: the fetch stage's summary, so the run can commit now
        write_jsonl(work / "skipped.jsonl", skipped)
        write_json(work / "fetch.json", {"fetched": 0, "skipped": len(skipped)})
    return DiscoverRef(
        path=str(path), count=len(items), quarantined=len(problems), to_fetch=len(todo)
    )


@_timed("fetch")
def fetch(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    discovered: str,
    *,
    refetch: bool = False,
    progress: Progress | None = None,
) -> StageRef:
    """Fetch every discovered item not already known, hosts in parallel, into the run's WARC
    file. `progress` is called in this thread every PROGRESS_S while the fetch goes on,
    and once when it is done (before the archive is closed), with the archive being written
    and the fetched pages' rows so far (ingest.run.parts.Chunker)."""

    settings = source.settings(settings)
    work = Path(discovered).parent
    items = list(read_jsonl(require(discovered, "fetch")))
    with CrawlState(root, settings.state_url) as state:
        return _fetch_all(source, settings, root, run, state, work, items, refetch, progress)


def _fetch_all(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    state: CrawlState,
    work: Path,
    items: list[dict[str, Any]],
    refetch: bool,
    progress: Progress | None = None,
) -> StageRef:
    from ingest.fetch.warc import RunArchive, warc_path

    pending, skipped = split_known(items, state, run.key, settings, refetch)
    todo: dict[str, list[dict[str, Any]]] = defaultdict(list)  # by host
    for item in pending:
        todo[urlsplit(item["url"]).hostname or ""].append(item)
    fetched: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    totals = {"bytes": 0, "requests": 0}
    lent, ended = [0.0], list[float]()  # seconds lent to `progress`; when each host's fetch ended
    totals_lock = threading.Lock()
    if todo:
        info = {
            "source_id": source.id,
            "source_name": source.name,
            "source_language": source.language,
            "source_profile": source.profile,
            "run_id": run.run_id,
            "run_key": run.key,
        }
        # what discovery waited for counts too: the budget is the run's
        discovered = read_json(work / "discover.json")
        budget = WaitBudget(settings, discovered.get("waited"), discovered.get("unanswered"))
        with RunArchive(warc_path(root, source.id, run.key), info) as archive:

            def one_host(host_items: list[dict[str, Any]]) -> None:
                try:
                    with HttpClient(settings, state, budget=budget) as client:
                        for item in host_items:
                            fetch_item(client, archive, item, source, run, fetched, problems)
                        with totals_lock:
                            totals["bytes"] += client.bytes_fetched
                            totals["requests"] += client.requests_made
                finally:
                    with totals_lock:
                        ended.append(time.monotonic())

            def report(call: Progress, done: bool) -> None:
                """Call `call`, counting in `lent` the part of its time after the last
                host's fetch ended: the caller's work (it takes what the workers finished and
                commits other sources), not this fetch's."""
                called = time.monotonic()
                call(archive, fetched, done)
                with totals_lock:
                    if len(ended) == len(todo):
                        lent[0] += max(0.0, time.monotonic() - max(called, max(ended)))

            with ThreadPoolExecutor(max_workers=min(settings.fetch_workers, len(todo))) as pool:
                hosts = [pool.submit(one_host, host_items) for host_items in todo.values()]
                while progress is not None and wait(hosts, PROGRESS_S)[1]:
                    report(progress, False)
                for host in hosts:
                    host.result()
            if progress is not None:
                report(progress, True)
    path = write_jsonl(work / "fetched.jsonl", fetched)
    write_jsonl(work / "skipped.jsonl", skipped)
    write_jsonl(work / "quarantine-fetch.jsonl", problems)
    write_json(
        work / "fetch.json",
        {"fetched": len(fetched), "skipped": len(skipped), **totals, "seconds_lent": lent[0]},
    )
    return StageRef(path=str(path), count=len(fetched), quarantined=len(problems))


@_timed("extract")
def extract(source: Source, settings: Settings, root: Path, run: Run, fetched: str) -> StageRef:
    """Extract an article from every fetched page, reading the bodies back from the WARC file
    and writing each record as it is made (memory does not grow with the pages)."""
    return extract_share(source, settings, root, run, fetched)


def extract_share(
    source: Source, settings: Settings, root: Path, run: Run, fetched: str, part: Part = WHOLE
) -> StageRef:
    """The extract stage's work on one part of the fetched pages (`part`: k of n, the
    pages the k-th of n even shares of the archive's responses, in the archive's order;
    see ingest.run.parts), its files named for the part."""
    from ingest.fetch.warc import read_responses, warc_path

    work = Path(fetched).parent
    problems: list[dict[str, Any]] = []
    archive = warc_path(root, source.id, run.key)
    if part.records:  # a chunk taken while the fetch went on: its pages are named
        return _extract_chunk(source, settings, run, work, part, archive)
    wanted = {row["record_id"]: row for row in read_jsonl(require(fetched, "extract"))}
    first, stop = part.bounds(len(wanted))
    with JsonlWriter(work / part.name("extracted.jsonl")) as out:
        if wanted and archive.exists() and (part.last or stop > first):
            position = 0  # of the wanted responses read so far
            for record_id, _, body in read_responses(archive):
                row = wanted.pop(record_id, None)
                if row is None:
                    continue
                position += 1
                if position <= first:
                    continue
                extracted: list[dict[str, Any]] = []
                extract_item(row, body, source, run, extracted, problems, settings.extract_cpu_s)
                for record in extracted:
                    out.write(record)
                if position >= stop and not part.last:
                    break
    for row in wanted.values() if part.last else ():  # listed as fetched, not in the archive
        problems.append(_raw_missing(row, source, run))
    write_jsonl(work / part.name("quarantine-extract.jsonl"), problems)
    return StageRef(path=str(out.path), count=out.count, quarantined=len(problems))


def _raw_missing(row: dict[str, Any], source: Source, run: Run) -> dict[str, Any]:
    """The quarantine row of a page listed as fetched whose response the archive lacks."""
    return problem(
        row["url"], source, run, "extract", "raw_missing", f"no WARC record {row['record_id']}"
    )


def _extract_chunk(
    source: Source, settings: Settings, run: Run, work: Path, part: Part, archive: Path
) -> StageRef:
    """extract_share's work on a chunk: the pages `part.records` names, read at their place
    in the run archive (the file being written, or `archive` once it is finished)."""
    from ingest.fetch.warc import read_written

    problems: list[dict[str, Any]] = []
    with JsonlWriter(work / part.name("extracted.jsonl")) as out:
        spans = [(offset, length) for _, offset, length in part.records]
        read = read_written([Path(part.archive), archive], spans)
        for (row, _, _), found in zip(part.records, read, strict=True):
            if found is None or found[0] != row["record_id"]:
                problems.append(_raw_missing(row, source, run))
                continue
            extracted: list[dict[str, Any]] = []
            extract_item(row, found[1], source, run, extracted, problems, settings.extract_cpu_s)
            for record in extracted:
                out.write(record)
    write_jsonl(work / part.name("quarantine-extract.jsonl"), problems)
    return StageRef(path=str(out.path), count=out.count, quarantined=len(problems))


@_timed("transform")
def transform(source: Source, settings: Settings, root: Path, run: Run, extracted: str) -> StageRef:
    """Normalise extracted records into rows of the article schema (a Parquet work file),
    `settings.chunk_items` records at a time (memory does not grow with the records)."""
    return transform_share(source, settings, root, run, extracted)


def transform_share(
    source: Source, settings: Settings, root: Path, run: Run, extracted: str, part: Part = WHOLE
) -> StageRef:
    """The transform stage's work on the records of one part (see `extract_share`)."""
    import pyarrow.parquet as pq

    from transforms.schema import ARTICLE_SCHEMA, writer_options
    from transforms.tagging import get_tagger

    work = require(extracted, "transform").parent
    problems: list[dict[str, Any]] = []
    tagger = get_tagger(settings.taxonomy, settings.entity_models)
    path = work / part.name("articles.parquet")
    tmp = path.with_name(f".{path.name}.{run.key}.tmp")
    count = 0
    try:
        with pq.ParquetWriter(
            tmp, ARTICLE_SCHEMA, **writer_options(ARTICLE_SCHEMA, run_file=True)
        ) as out:
            chunk: list[dict[str, Any]] = []
            for record in itertools.chain(read_jsonl(Path(extracted)), [None]):
                if record is not None:
                    chunk.append(record)
                if chunk and (record is None or len(chunk) >= settings.chunk_items):
                    table = _transform_chunk(chunk, source, run, tagger, problems)
                    out.write_table(table)
                    count += table.num_rows
                    chunk = []
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    write_jsonl(work / part.name("quarantine-transform.jsonl"), problems)
    return StageRef(path=str(path), count=count, quarantined=len(problems))


def _transform_chunk(
    records: list[dict[str, Any]],
    source: Source,
    run: Run,
    tagger: Any,
    problems: list[dict[str, Any]],
) -> Any:
    """Article rows (an Arrow table) of a chunk of extracted records; what fails becomes a
    quarantine row in `problems`."""
    import pyarrow as pa

    from transforms.articles import TransformError, build_article
    from transforms.dedup import add_fingerprints
    from transforms.schema import ARTICLE_SCHEMA
    from transforms.tagging import tag_rows

    rows: list[dict[str, Any]] = []
    for record in records:
        try:
            rows.append(build_article(record, source.id, source.name, run.run_id, source.timezone))
        except TransformError as exc:
            problems.append(
                problem(record["url"], source, run, "transform", exc.reason, exc.detail)
            )
        except Exception as exc:
            problems.append(
                problem(record["url"], source, run, "transform", "transform_error", repr(exc))
            )
    _, rows, failing = isolate(rows, add_fingerprints)
    failed = tag_rows(rows, tagger)
    if failed:
        log.warning("%s: %d tagging parts failed; their columns are empty", source.id, failed)
    table, _, unwritable = isolate(rows, lambda r: pa.Table.from_pylist(r, schema=ARTICLE_SCHEMA))
    for row, error in failing + unwritable:  # one bad row must not keep the others out
        problems.append(
            problem(row["url"], source, run, "transform", "transform_error", repr(error))
        )
    return table


def prepare(
    source: Source, settings: Settings, root: Path, run: Run, *, refetch: bool = False
) -> str | None:
    """The stages before the commit (discover, fetch, extract, transform), in-process;
    returns the transformed work file, or None when discovery left nothing to fetch."""
    fetched = discover_and_fetch(source, settings, root, run, refetch=refetch)
    if fetched is None:
        return None
    extracted = extract(source, settings, root, run, fetched)
    return transform(source, settings, root, run, extracted["path"])["path"]


def discover_and_fetch(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    *,
    refetch: bool = False,
    progress: Progress | None = None,
) -> str | None:
    """The discover and fetch stages (`progress`: see `fetch`); returns the fetched work
    file, or None when discovery left nothing to fetch."""
    found = discover(source, settings, root, run, refetch=refetch)
    if not found["to_fetch"]:
        return None
    return fetch(source, settings, root, run, found["path"], refetch=refetch, progress=progress)[
        "path"
    ]


def run_source(
    source: Source, settings: Settings, root: Path, run: Run, *, refetch: bool = False
) -> WriteRef:
    """All five stages in-process, through the same functions the DAG tasks call."""
    transformed = prepare(source, settings, root, run, refetch=refetch)
    if transformed is None:
        return commit_unchanged(source, settings, root, run)
    return write(source, settings, root, run, transformed)
