"""The five stages of one source's run: discover → fetch → extract → transform → write.

Each stage reads its predecessor's work file, writes its own, and returns a small
reference (path and counts) — what a DAG task pushes to XCom. Work files live under
DATA/work/<source_id>/<run_key>/ and are replaced when a stage re-runs. Every item a feed
lists ends as an article, a flagged duplicate, an already-stored article, or a quarantine
row with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from ingest.config import Settings, Source
from ingest.http import HTML_TYPES, FetchError, HttpClient

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


class StageRef(TypedDict):
    """What a stage hands to the next one: where its output is and how many items it holds."""

    path: str
    count: int
    quarantined: int


class WriteRef(TypedDict):
    source_id: str
    new: int
    duplicate: int
    seen: int
    failed: int
    files: list[str]


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


def _stamp(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment:%Y%m%dT%H%M%S}{fraction}Z"


def workdir(root: Path, source: Source, run: Run) -> Path:
    return root / "work" / source.id / run.key


# ---------------------------------------------------------------------------------- stages


def discover(source: Source, settings: Settings, root: Path, run: Run) -> StageRef:
    """Fetch the source's feeds and list their items; feeds that fail are quarantined."""
    from ingest.feeds import FeedError, parse_feed

    work = workdir(root, source, run)
    items: dict[str, dict[str, Any]] = {}
    problems: list[dict[str, Any]] = []
    with HttpClient(settings) as client:
        for feed_url in source.feeds:
            try:
                response = client.get(feed_url, accept=FEED_ACCEPT)
                feed = parse_feed(response.body, response.url, response.headers.get("Content-Type"))
            except FetchError as exc:
                problems.append(_problem(feed_url, source, run, "discover", exc.reason, exc.detail))
                continue
            except FeedError as exc:
                problems.append(
                    _problem(feed_url, source, run, "discover", "bad_feed", f"{feed_url}: {exc}")
                )
                continue
            if feed.recovered_error:
                problems.append(
                    _problem(
                        feed_url,
                        source,
                        run,
                        "discover",
                        "feed_recovered",
                        f"malformed feed, {len(feed.items)} items recovered: {feed.recovered_error}",
                    )
                )
            for label, why in feed.skipped:
                problems.append(
                    _problem(feed_url, source, run, "discover", "no_link", f"{label}: {why}")
                )
            for item in feed.items:
                items.setdefault(
                    item.url,
                    {
                        "url": item.url,
                        "feed_url": item.feed_url,
                        "feed_title": item.title,
                        "feed_published": _iso(item.published or item.updated),
                        "feed_authors": list(item.authors),
                        "feed_summary": item.summary,
                    },
                )
    path = _write_jsonl(work / "discovered.jsonl", items.values())
    _write_jsonl(work / "quarantine-discover.jsonl", problems)
    return StageRef(path=str(path), count=len(items), quarantined=len(problems))


def fetch(source: Source, settings: Settings, discovered: str, run: Run) -> StageRef:
    """Download every discovered item; non-HTML and failed responses are quarantined."""
    work = Path(discovered).parent
    pages = work / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    fetched: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    with HttpClient(settings) as client:
        for item in _read_jsonl(Path(discovered)):
            url = item["url"]
            try:
                response = client.get(url, accept=HTML_ACCEPT)
            except FetchError as exc:
                problems.append(_problem(url, source, run, "fetch", exc.reason, exc.detail))
                continue
            except Exception as exc:  # one bad item must not stop the run
                problems.append(_problem(url, source, run, "fetch", "fetch_error", repr(exc)))
                continue
            if response.content_type not in HTML_TYPES and not _looks_like_html(response.body):
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
                continue
            page = pages / f"{hashlib.sha1(url.encode('utf-8')).hexdigest()}.html"
            _write_bytes(page, response.body)
            fetched.append(
                {
                    **item,
                    "final_url": response.url,
                    "status": response.status,
                    "charset": response.charset,
                    "last_modified": response.headers.get("Last-Modified"),
                    "fetched_at": response.fetched_at.isoformat(),
                    "page": page.name,
                    "bytes": len(response.body),
                }
            )
    path = _write_jsonl(work / "fetched.jsonl", fetched)
    _write_jsonl(work / "quarantine-fetch.jsonl", problems)
    return StageRef(path=str(path), count=len(fetched), quarantined=len(problems))


def extract(source: Source, fetched: str, run: Run) -> StageRef:
    """Extract an article from every fetched page; pages without one are quarantined."""
    from ingest.extract import ExtractError, extract_page

    work = Path(fetched).parent
    extracted: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for item in _read_jsonl(Path(fetched)):
        url = item["final_url"]
        try:
            page = extract_page(
                (work / "pages" / item["page"]).read_bytes(), url, item.get("charset")
            )
        except ExtractError as exc:
            problems.append(_problem(item["url"], source, run, "extract", exc.reason, exc.detail))
            continue
        except Exception as exc:  # the extractor must not stop the run
            problems.append(
                _problem(item["url"], source, run, "extract", "extract_error", repr(exc))
            )
            continue
        extracted.append(
            {
                **item,
                "title": page.title,
                "text": page.text,
                "description": page.description,
                "authors": list(page.authors),
                "published": page.published,
                "published_from": page.published_from,
                "modified": page.modified,
                "canonical": page.canonical,
                "site_name": page.site_name,
                "language": page.language,
                "source_language": source.language,
                "extractor": page.extractor,
            }
        )
    path = _write_jsonl(work / "extracted.jsonl", extracted)
    _write_jsonl(work / "quarantine-extract.jsonl", problems)
    return StageRef(path=str(path), count=len(extracted), quarantined=len(problems))


def transform(source: Source, extracted: str, run: Run) -> StageRef:
    """Normalise extracted records into rows of the article schema (a Parquet work file)."""
    import pyarrow as pa

    from transforms.articles import TransformError, build_article
    from transforms.dataset import write_atomic
    from transforms.schema import ARTICLE_SCHEMA

    work = Path(extracted).parent
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for record in _read_jsonl(Path(extracted)):
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
    path = work / "articles.parquet"
    write_atomic(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA), path)
    _write_jsonl(work / "quarantine-transform.jsonl", problems)
    return StageRef(path=str(path), count=len(rows), quarantined=len(problems))


def write(source: Source, transformed: str, root: Path, run: Run) -> WriteRef:
    """Deduplicate against the dataset and commit the run's articles and quarantine rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.dataset import commit_articles, commit_quarantine, output_name, read_articles
    from transforms.dedup import dedup_batch
    from transforms.schema import ARTICLE_SCHEMA

    work = Path(transformed).parent
    batch = pq.read_table(transformed, schema=ARTICLE_SCHEMA).to_pylist()
    stored = read_articles(
        root,
        ["article_id", "content_hash", "duplicate_of"],
        exclude_name=output_name(source.id, run.key),
    )
    result = dedup_batch(batch, stored.to_pylist())
    files = commit_articles(
        pa.Table.from_pylist(result.rows, schema=ARTICLE_SCHEMA), root, source.id, run.key
    )
    problems = [
        row
        for stage in ("discover", "fetch", "extract", "transform")
        for row in _read_jsonl(work / f"quarantine-{stage}.jsonl")
    ]
    for row in problems:
        row["at"] = dt.datetime.fromisoformat(row["at"])
    commit_quarantine(problems, root, source.id, run.key, run.start.date())
    return WriteRef(
        source_id=source.id,
        new=len(result.rows) - result.duplicates,
        duplicate=result.duplicates,
        seen=result.seen,
        failed=len(problems),
        files=[str(f) for f in files],
    )


def run_source(source: Source, settings: Settings, root: Path, run: Run) -> WriteRef:
    """All five stages in-process, through the same functions the DAG tasks call."""
    found = discover(source, settings, root, run)
    fetched = fetch(source, settings, found["path"], run)
    extracted = extract(source, fetched["path"], run)
    transformed = transform(source, extracted["path"], run)
    return write(source, transformed["path"], root, run)


# --------------------------------------------------------------------------------- helpers


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


def _looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes(
        path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    )
    return path


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
