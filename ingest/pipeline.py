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
import http
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar
from urllib.parse import urlsplit

from ingest.config import Settings, Source
from ingest.http import HTML_TYPES, FetchError, HttpClient, WaitBudget
from ingest.state import (
    MAX_TRANSIENT_ATTEMPTS,
    CrawlState,
    Outcome,
    UrlState,
    Validators,
    is_transient,
)
from ingest.workfiles import WRITTEN, read_json, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


class StageRef(TypedDict):
    """What a stage hands to the next one: where its output is and how many items it holds."""

    path: str
    count: int
    quarantined: int


class WriteRef(TypedDict):
    source_id: str
    discovered: int
    not_modified: int
    fetched: int
    new: int
    duplicate: int
    seen: int
    failed: int
    files: list[str]


SUMMARY_KEYS = ("new", "duplicate", "seen", "failed", "not_modified")


@dataclass(frozen=True)
class Run:
    """One run of one source: its id and its data interval [start, end) in UTC."""

    run_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def key(self) -> str:
        """The run's name in file names: a pure function of its window."""
        return f"{_stamp(self.start)}_{_stamp(self.end)}"

    @classmethod
    def adhoc(cls, now: dt.datetime | None = None) -> Run:
        """A run started by hand: a zero-width window at the current instant."""
        now = now or dt.datetime.now(dt.UTC)
        return cls(run_id=f"manual__{now.isoformat()}", start=now, end=now)

    @classmethod
    def from_key(cls, key: str, run_id: str) -> Run:
        start, end = (_unstamp(part) for part in key.split("_", 1))
        return cls(run_id=run_id, start=start, end=end)


def _stamp(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment:%Y%m%dT%H%M%S}{fraction}Z"


def _unstamp(text: str) -> dt.datetime:
    fmt = "%Y%m%dT%H%M%S.%fZ" if "." in text else "%Y%m%dT%H%M%SZ"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)


def workdir(root: Path, source: Source, run: Run) -> Path:
    return root / "work" / source.id / run.key


STAGES = ("discover", "fetch", "extract", "transform", "write")
_Stage = TypeVar("_Stage", bound=Callable[..., Any])
_Result = TypeVar("_Result")


def _timed(stage: str) -> Callable[[_Stage], _Stage]:
    """Record when a stage started and finished in the run's work folder (for run metrics)."""

    def wrap(function: _Stage) -> _Stage:
        @functools.wraps(function)
        def timed(
            source: Source, settings: Settings, root: Path, run: Run, *args: Any, **kwargs: Any
        ) -> Any:
            started = dt.datetime.now(dt.UTC)
            result = function(source, settings, root, run, *args, **kwargs)
            write_json(
                workdir(root, source, run) / f"timing-{stage}.json",
                {"started": started.isoformat(), "finished": dt.datetime.now(dt.UTC).isoformat()},
            )
            return result

        return timed  # type: ignore[return-value]

    return wrap


# ---------------------------------------------------------------------------------- stages


@_timed("discover")
def discover(
    source: Source, settings: Settings, root: Path, run: Run, *, refetch: bool = False
) -> StageRef:
    """List the items of the source's feeds, homepage and sitemaps, plus URLs due for a retry;
    with `refetch`, documents are read in full even when their validators say unchanged."""
    from ingest.discover import Discoverer

    settings = source.settings(settings)
    work = workdir(root, source, run)
    budget = WaitBudget(settings)
    with CrawlState(root) as state, HttpClient(settings, state, budget=budget) as client:
        found = Discoverer(source, settings, client, state, run.key, run.end, refetch=refetch).run()
    problems = [
        _problem(url, source, run, "discover", reason, detail)
        for url, reason, detail in found.problems
    ]
    path = write_jsonl(work / "discovered.jsonl", found.items.values())
    write_jsonl(work / "quarantine-discover.jsonl", problems)
    write_json(
        work / "discover.json",
        {
            "validators": {url: asdict(v) for url, v in found.validators.items()},
            "not_modified": found.not_modified,
            "repeated": found.repeated,
            "out_of_window": found.out_of_window,
            "deferred_sitemaps": found.deferred_sitemaps,
            "bytes": client.bytes_fetched,
            "requests": client.requests_made,
            "waited": budget.spent,
        },
    )
    return StageRef(path=str(path), count=len(found.items), quarantined=len(problems))


@_timed("fetch")
def fetch(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    discovered: str,
    *,
    refetch: bool = False,
) -> StageRef:
    """Fetch every discovered item not already known, hosts in parallel, into the run's WARC file."""

    settings = source.settings(settings)
    work = Path(discovered).parent
    items = list(read_jsonl(Path(discovered)))
    with CrawlState(root) as state:
        return _fetch_all(source, settings, root, run, state, work, items, refetch)


def _fetch_all(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    state: CrawlState,
    work: Path,
    items: list[dict[str, Any]],
    refetch: bool,
) -> StageRef:
    from ingest.warc import RunArchive, warc_path

    known = state.url_states(item["url"] for item in items)
    todo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skipped: list[dict[str, Any]] = []
    for item in items:
        why = None if refetch else _skip_reason(item, known.get(item["url"]), run.key, settings)
        if why:
            skipped.append({"url": item["url"], "why": why})
        else:
            todo[urlsplit(item["url"]).hostname or ""].append(item)
    fetched: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    totals = {"bytes": 0, "requests": 0}
    totals_lock = threading.Lock()
    if todo:
        info = {
            "source_id": source.id,
            "source_name": source.name,
            "source_language": source.language,
            "run_id": run.run_id,
            "run_key": run.key,
        }
        # what discovery waited for counts too: the budget is the run's
        budget = WaitBudget(settings, read_json(work / "discover.json").get("waited"))
        with RunArchive(warc_path(root, source.id, run.key), info) as archive:

            def one_host(host_items: list[dict[str, Any]]) -> None:
                with HttpClient(settings, state, budget=budget) as client:
                    for item in host_items:
                        _fetch_item(client, archive, item, source, run, fetched, problems)
                    with totals_lock:
                        totals["bytes"] += client.bytes_fetched
                        totals["requests"] += client.requests_made

            with ThreadPoolExecutor(max_workers=min(settings.fetch_workers, len(todo))) as pool:
                list(pool.map(one_host, todo.values()))
    path = write_jsonl(work / "fetched.jsonl", fetched)
    write_jsonl(work / "skipped.jsonl", skipped)
    write_jsonl(work / "quarantine-fetch.jsonl", problems)
    write_json(work / "fetch.json", {"fetched": len(fetched), "skipped": len(skipped), **totals})
    return StageRef(path=str(path), count=len(fetched), quarantined=len(problems))


@_timed("extract")
def extract(source: Source, settings: Settings, root: Path, run: Run, fetched: str) -> StageRef:
    """Extract an article from every fetched page, reading the bodies back from the WARC file."""
    from ingest.warc import read_responses, warc_path

    work = Path(fetched).parent
    wanted = {row["record_id"]: row for row in read_jsonl(Path(fetched))}
    extracted: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    archive = warc_path(root, source.id, run.key)
    if wanted and archive.exists():
        for record_id, _, body in read_responses(archive):
            row = wanted.pop(record_id, None)
            if row is not None:
                _extract_item(row, body, source, run, extracted, problems)
    for row in wanted.values():  # listed as fetched but missing from the archive
        problems.append(
            _problem(
                row["url"],
                source,
                run,
                "extract",
                "raw_missing",
                f"no WARC record {row['record_id']}",
            )
        )
    path = write_jsonl(work / "extracted.jsonl", extracted)
    write_jsonl(work / "quarantine-extract.jsonl", problems)
    return StageRef(path=str(path), count=len(extracted), quarantined=len(problems))


@_timed("transform")
def transform(source: Source, settings: Settings, root: Path, run: Run, extracted: str) -> StageRef:
    """Normalise extracted records into rows of the article schema (a Parquet work file)."""
    import pyarrow as pa

    from transforms.articles import TransformError, build_article
    from transforms.dataset import write_atomic
    from transforms.dedup import add_fingerprints
    from transforms.schema import ARTICLE_SCHEMA
    from transforms.tagging import get_tagger, tag_rows

    work = Path(extracted).parent
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for record in read_jsonl(Path(extracted)):
        try:
            rows.append(build_article(record, source.id, source.name, run.run_id))
        except TransformError as exc:
            problems.append(
                _problem(record["url"], source, run, "transform", exc.reason, exc.detail)
            )
        except Exception as exc:
            problems.append(
                _problem(record["url"], source, run, "transform", "transform_error", repr(exc))
            )
    _, rows, failing = isolate(rows, add_fingerprints)
    failed = tag_rows(rows, get_tagger(settings.taxonomy, settings.entity_model))
    if failed:
        log.warning("%s: %d tagging parts failed; their columns are empty", source.id, failed)
    table, _, unwritable = isolate(rows, lambda r: pa.Table.from_pylist(r, schema=ARTICLE_SCHEMA))
    for row, error in failing + unwritable:  # one bad row must not keep the others out
        problems.append(
            _problem(row["url"], source, run, "transform", "transform_error", repr(error))
        )
    path = work / "articles.parquet"
    write_atomic(table, path)
    write_jsonl(work / "quarantine-transform.jsonl", problems)
    return StageRef(path=str(path), count=len(rows), quarantined=len(problems))


def write(
    source: Source,
    settings: Settings,
    root: Path,
    run: Run,
    transformed: str,
    *,
    reprocess: bool = False,
) -> WriteRef:
    """Deduplicate against the dataset, commit the run's articles and quarantine rows, then the
    crawl state. Serialised across processes by the dataset's commit lock."""
    import pyarrow.parquet as pq

    from transforms.dataset import (
        RunOutput,
        commit_lock,
        commit_quarantine,
        output_name,
        read_quarantine,
        read_run,
    )
    from transforms.dedup import commit_flagged, dedup_batch
    from transforms.schema import ARTICLE_SCHEMA

    written_at = dt.datetime.now(dt.UTC)
    work = Path(transformed).parent
    name = output_name(source.id, run.key)
    discovered = {item["url"]: item for item in read_jsonl(work / "discovered.jsonl")}
    batch = pq.read_table(transformed, schema=ARTICLE_SCHEMA).to_pylist()
    stages = (
        ("extract", "transform") if reprocess else ("discover", "fetch", "extract", "transform")
    )
    problems = [row for stage in stages for row in read_jsonl(work / f"quarantine-{stage}.jsonl")]
    for row in problems:
        row["at"] = dt.datetime.fromisoformat(row["at"])
    with commit_lock(root):
        if reprocess:  # keep what the live run recorded before extraction
            problems = [
                r for r in read_quarantine(root, name) if r["stage"] in ("discover", "fetch")
            ] + problems
        # rows this run wrote before are kept unless this attempt produced the item again or
        # quarantined it: an item no longer listed, or skipped as known, is never lost
        redone = {r["url"] for r in batch} | {
            p["url"] for p in problems if p["stage"] != "discover"
        }
        output = RunOutput(source.id, run.key, run.run_id)
        own = [
            r
            for r in read_run(root, output, [f.name for f in ARTICLE_SCHEMA]).to_pylist()
            if r["url"] not in redone
        ]
        window = dt.timedelta(days=settings.dedup_window_days)
        result, _, failing = isolate(
            own + batch, lambda rows: dedup_batch(rows, root, window, exclude=output)
        )
        for row, error in failing:  # one bad row must not keep the others out
            problems.append(
                _problem(row["url"], source, run, "write", "write_error", repr(error))
                | {"at": dt.datetime.now(dt.UTC)}
            )
        set_aside = {row["url"] for row, _ in failing}
        batch = [r for r in batch if r["url"] not in set_aside]
        files = commit_flagged(result, root, output)
        commit_quarantine(problems, root, source.id, run.key, run.start.date())
        if not reprocess:
            _commit_state(root, source, run, work, batch, problems, discovered)
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
    write_json(work / WRITTEN, dict(ref))  # a committed run: its work folder is no leftover
    return ref


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
    commit_run_metrics(row, root, source.id, run.key, run.start.date())
    latest = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}
    write_json(root / "runs" / "latest" / f"{source.id}.json", latest)


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


def run_source(
    source: Source, settings: Settings, root: Path, run: Run, *, refetch: bool = False
) -> WriteRef:
    """All five stages in-process, through the same functions the DAG tasks call."""
    found = discover(source, settings, root, run, refetch=refetch)
    fetched = fetch(source, settings, root, run, found["path"], refetch=refetch)
    extracted = extract(source, settings, root, run, fetched["path"])
    transformed = transform(source, settings, root, run, extracted["path"])
    return write(source, settings, root, run, transformed["path"])


# --------------------------------------------------------------------------------- helpers


def isolate(
    rows: list[dict[str, Any]], attempt: Callable[[list[dict[str, Any]]], _Result]
) -> tuple[_Result, list[dict[str, Any]], list[tuple[dict[str, Any], Exception]]]:
    """(`attempt(rows)`, rows, []) when it succeeds. When it raises, each row is tried alone,
    the rows that fail alone are set aside with their error, and `attempt` runs on the rest:
    (its result, the rows kept, the rows set aside). Raises the first error again when no
    single row is to blame (a full disk, say)."""
    try:
        return attempt(rows), rows, []
    except Exception as first:
        failing: list[tuple[dict[str, Any], Exception]] = []
        kept: list[dict[str, Any]] = []
        for row in rows:
            try:
                attempt([row])
                kept.append(row)
            except Exception as exc:
                failing.append((row, exc))
        if not failing:
            raise first from None
        log.warning("%d of %d rows set aside after %r", len(failing), len(rows), first)
        return attempt(kept), kept, failing


def _skip_reason(
    item: dict[str, Any], known: UrlState | None, run_key: str, settings: Settings
) -> str | None:
    """Why an item needs no request in this run, or None to fetch it."""
    if known is None or item.get("retry") or known.last_run == run_key:
        return None  # new, due for a retry, or this very run again (a re-run repeats its requests)
    if known.outcome == "stored":
        updated = item.get("feed_updated")
        if updated and (known.updated_hint is None or updated > known.updated_hint):
            return None  # the source says the item changed since we stored it
        return "already_stored"
    if is_transient(known.outcome):
        return None if known.attempts < MAX_TRANSIENT_ATTEMPTS else f"gave_up:{known.outcome}"
    age = dt.datetime.now(dt.UTC) - known.last_seen
    return (
        f"failed_recently:{known.outcome}"
        if age.total_seconds() < settings.retry_failed_after_s
        else None
    )


def _fetch_item(
    client: HttpClient,
    archive: Any,
    item: dict[str, Any],
    source: Source,
    run: Run,
    fetched: list[dict[str, Any]],
    problems: list[dict[str, Any]],
) -> None:
    url = item["url"]
    try:
        response = client.get(url, accept=HTML_ACCEPT)
    except FetchError as exc:
        problems.append(_problem(url, source, run, "fetch", exc.reason, exc.detail))
        return
    except Exception as exc:  # one bad item must not stop the run
        problems.append(_problem(url, source, run, "fetch", "fetch_error", repr(exc)))
        return
    meta = {
        **item,
        "final_url": response.url,
        "status": response.status,
        "content_type": response.content_type,
        "charset": response.charset,
        "last_modified": response.headers.get("Last-Modified"),
        "fetched_at": response.fetched_at.isoformat(),
        "bytes": len(response.body),
    }
    try:
        phrase = http.HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    record_id = archive.add(
        response.url, response.status, phrase, response.headers, response.body, meta
    )
    if not _is_html(meta, response.body):
        problems.append(
            _problem(
                url,
                source,
                run,
                "fetch",
                "not_html",
                f"{url} is {response.content_type or 'untyped'}",
            )
        )
        return
    fetched.append({**meta, "record_id": record_id})


def _extract_item(
    item: dict[str, Any],
    body: bytes,
    source: Source,
    run: Run,
    extracted: list[dict[str, Any]],
    problems: list[dict[str, Any]],
) -> None:
    """Extract one page (live or from WARC) into an extracted record or a problem row."""
    record, problem = extract_record(item, body, source.language)
    if record is not None:
        extracted.append(record)
    elif problem is not None:
        problems.append(_problem(item["url"], source, run, "extract", *problem))


def extract_record(
    item: dict[str, Any], body: bytes, source_language: str | None
) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """(extracted record, None) or (None, (reason, detail)); a plain function, so worker
    processes can run it (bulk reprocessing)."""
    from ingest.extract import ExtractError, extract_page

    try:
        page = extract_page(body, item["final_url"], item.get("charset"))
    except ExtractError as exc:
        return None, (exc.reason, exc.detail)
    except Exception as exc:  # the extractor must not stop the run
        return None, ("extract_error", repr(exc))
    return (
        {
            **{k: v for k, v in item.items() if k != "record_id"},
            "title": page.title,
            "text": page.text,
            "description": page.description,
            "authors": list(page.authors),
            "published": page.published,
            "published_from": page.published_from,
            "modified": page.modified,
            "canonical": page.canonical,
            "site_name": page.site_name,
            "language": page.language or item.get("feed_language"),
            "source_language": source_language,
            "extractor": page.extractor,
            "original_source": page.original_source,
        },
        None,
    )


def _commit_state(
    root: Path,
    source: Source,
    run: Run,
    work: Path,
    batch: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    discovered: dict[str, dict[str, Any]],
) -> None:
    outcomes = [
        Outcome(
            r["url"], "stored", r["article_id"], discovered.get(r["url"], {}).get("feed_updated")
        )
        for r in batch
    ]
    outcomes += [Outcome(p["url"], p["reason"]) for p in problems if p["stage"] != "discover"]
    summary = read_json(work / "discover.json")
    validators = summary.get("validators", {})
    with CrawlState(root) as state:
        state.record_outcomes(source.id, outcomes, run.key)
        state.save_validators({url: Validators(**v) for url, v in validators.items()}, run.key)
        state.save_sitemap_backlog(
            source.id, [(url, int(depth)) for url, depth in summary.get("deferred_sitemaps", [])]
        )


def _problem(
    url: str, source: Source, run: Run, stage: str, reason: str, detail: str
) -> dict[str, Any]:
    return {
        "url": url,
        "source_id": source.id,
        "stage": stage,
        "reason": reason,
        "detail": detail[:2000],
        "run_id": run.run_id,
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }


def _is_html(meta: dict[str, Any], body: bytes) -> bool:
    if meta.get("content_type") in HTML_TYPES:
        return True
    head = body[:512].lstrip().lower()
    return meta.get("content_type") in (
        "",
        "text/plain",
        "application/octet-stream",
    ) and head.startswith((b"<!doctype html", b"<html"))
