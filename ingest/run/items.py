"""One item's steps inside a stage: whether to fetch it, fetching it into the run's WARC file,
extracting it, the quarantine row for what failed, and setting aside the rows that make a
batch step fail."""

from __future__ import annotations

import datetime as dt
import http
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ingest.config import Settings, Source
from ingest.fetch.errors import FetchError
from ingest.fetch.http import HTML_TYPES, HttpClient
from ingest.fetch.state import MAX_TRANSIENT_ATTEMPTS, CrawlState, UrlState, is_transient
from ingest.run.model import Run
from transforms.exceptions import STORAGE_FAULTS

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
DEFAULT_EXTRACT_CPU_S = Settings.extract_cpu_s  # (reprocessing has no sources file)
_Result = TypeVar("_Result")


def isolate(
    rows: list[dict[str, Any]], attempt: Callable[[list[dict[str, Any]]], _Result]
) -> tuple[_Result, list[dict[str, Any]], list[tuple[dict[str, Any], Exception]]]:
    """(`attempt(rows)`, rows, []) when it succeeds. When it raises, each row is tried alone,
    the rows that fail alone are set aside with their error, and `attempt` runs on the rest:
    (its result, the rows kept, the rows set aside). Raises the first error again when no
    single row is to blame (a full disk, say)."""
    try:
        return attempt(rows), rows, []
    except STORAGE_FAULTS:  # the dataset's or the crawl state's, not a row's: the run fails
        raise
    except Exception as first:
        failing: list[tuple[dict[str, Any], Exception]] = []
        kept: list[dict[str, Any]] = []
        for row in rows:
            try:
                attempt([row])
                kept.append(row)
            except STORAGE_FAULTS:
                raise
            except Exception as exc:
                failing.append((row, exc))
        if not failing:
            raise first from None
        log.warning("%d of %d rows set aside after %r", len(failing), len(rows), first)
        return attempt(kept), kept, failing


def split_known(
    items: list[dict[str, Any]],
    state: CrawlState,
    run_key: str,
    settings: Settings,
    refetch: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(items to fetch, {"url", "why"} rows of the items that need no request), from what the
    crawl state knows of them; with `refetch`, every item is fetched."""
    if refetch:
        return list(items), []
    known = state.url_states(item["url"] for item in items)
    todo: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for item in items:
        why = skip_reason(item, known.get(item["url"]), run_key, settings)
        if why:
            skipped.append({"url": item["url"], "why": why})
        else:
            todo.append(item)
    return todo, skipped


def skip_reason(
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


def fetch_item(
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
        problems.append(problem(url, source, run, "fetch", exc.reason, exc.detail))
        return
    except STORAGE_FAULTS:  # the run's crawl state, not this page: the source's run fails
        raise
    except Exception as exc:  # one bad item must not stop the run
        problems.append(problem(url, source, run, "fetch", "fetch_error", repr(exc)))
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
    html = is_html(meta, response.body)
    record_id = archive.add(
        response.url, response.status, phrase, response.headers, response.body, meta, kept=html
    )
    if not html:
        problems.append(
            problem(
                url,
                source,
                run,
                "fetch",
                "not_html",
                f"{url} is {binary_kind(response.body) or response.content_type or 'untyped'}"
                + (f", labelled {response.content_type}" if binary_kind(response.body) else ""),
            )
        )
        return
    fetched.append({**meta, "record_id": record_id})


def extract_item(
    item: dict[str, Any],
    body: bytes,
    source: Source,
    run: Run,
    extracted: list[dict[str, Any]],
    problems: list[dict[str, Any]],
    cpu_s: float = DEFAULT_EXTRACT_CPU_S,
) -> None:
    """Extract one page (live or from WARC) into an extracted record or a problem row."""
    record, failure = extract_record(item, body, source.language, source.profile, cpu_s)
    if record is not None:
        extracted.append(record)
    elif failure is not None:
        problems.append(problem(item["url"], source, run, "extract", *failure))


def extract_record(
    item: dict[str, Any],
    body: bytes,
    source_language: str | None,
    profile: str | None = None,
    cpu_s: float = DEFAULT_EXTRACT_CPU_S,
) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """(extracted record, None) or (None, (reason, detail)); a plain function, so worker
    processes can run it (bulk reprocessing). The page is read with the site profile the
    source names (`profile`), in the layout version served when it was fetched (the item's
    `fetched_at`, written with its WARC record), within `cpu_s` seconds of CPU."""
    from ingest.extract.cpu_limit import TooSlow, within
    from ingest.extract.page import ExtractError, extract_page

    try:
        page = within(
            cpu_s,
            extract_page,
            body,
            item["final_url"],
            item.get("charset"),
            fetched_at=_timestamp(item.get("fetched_at")),
            profile=profile,
        )
    except TooSlow:
        return None, (
            "too_slow",
            f"{item['final_url']}: extracting the page took over {cpu_s:g}s of CPU "
            f"({len(body)} bytes; the setting extract_cpu_s)",
        )
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
            "published_offset_from": page.offset_from,
            "modified": page.modified,
            "canonical": page.canonical,
            "site_name": page.site_name,
            "language": page.language or item.get("feed_language"),
            "source_language": source_language,
            "extractor": page.extractor,
            "original_source": page.original_source,
            "title_source": page.title_source,
            "authors_source": page.authors_source,
            "credits": list(page.credits),
        },
        None,
    )


def _timestamp(value: Any) -> dt.datetime | None:
    """An ISO timestamp as a datetime; None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def problem(
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


# the first bytes of formats servers label text/html by mistake (a PDF, an image)
_NOT_HTML = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b\x08", "gzip-compressed data"),
)


def binary_kind(body: bytes) -> str | None:
    """What a body is when its first bytes say it is another format than HTML, else None."""
    return next((kind for magic, kind in _NOT_HTML if body.startswith(magic)), None)


def is_html(meta: dict[str, Any], body: bytes) -> bool:
    if binary_kind(body) is not None:
        return False
    if meta.get("content_type") in HTML_TYPES:
        return True
    head = body[:512].lstrip().lower()
    return meta.get("content_type") in (
        "",
        "text/plain",
        "application/octet-stream",
    ) and head.startswith((b"<!doctype html", b"<html"))
