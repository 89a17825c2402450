"""Publication days, side by side: newsflow, trafilatura and htmldate on the htmldate project's
evaluation pages (../shared/eval/htmldate: 1,000 pages with a human-checked day, many
languages; see its README).

- `dev`: the `default` set (800 pages, mostly German and English blogs, news and
  organisation sites), the part rules may be studied on;
- `held`: the `mediacloud2020` set (200 news pages in many languages, sampled in 2020):
  scored, never read page by page.

Metrics per part: exact-day accuracy over every page (a page newsflow does not store, as not
an article or without text, counts as undated), the share of pages left undated, and the
share dated later than their true day (an update, a copyright year or a crawl date taken for
the publication). newsflow runs its whole extractor (`extract_page`, the bytes decoded as the
pipeline decodes a response), trafilatura `bare_extraction` with metadata, htmldate
`find_date` with its extensive search and original dates, as trafilatura calls it. htmldate
was tuned on these pages: it is the reference to keep up with, not a fair held-out measure
of itself.

    .venv/bin/python benchmarks/dates.py [--limit N] [--workers 2]

Not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.extraction import EVAL  # noqa: E402

DATES = EVAL / "htmldate"
PARTS = {"default": "dev", "mediacloud2020": "held"}


@dataclass(frozen=True)
class DatedPage:
    id: str
    url: str
    day: str | None  # YYYY-MM-DD; None: the page has no publication day (a right answer is none)
    part: str  # dev | held
    path: Path


def load_pages(root: Path = DATES) -> list[DatedPage]:
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return [
        DatedPage(
            key,
            value["url"],
            value["date"] if isinstance(value["date"], str) else None,
            PARTS[value["set"]],
            root / "html" / f"{key}.html.gz",
        )
        for key, value in sorted(truth.items())
    ]


class Lost(Exception):
    """A contender stored no article for the page (newsflow: quarantined or not_article)."""


def newsflow_day(html: bytes, url: str) -> str | None:
    from ingest.extract.page import ExtractError, extract_page
    from transforms.normalise import local_day

    try:
        page = extract_page(html, url)
    except ExtractError as exc:
        raise Lost(exc.reason) from None
    return local_day(page.published) if page.published else None


def trafilatura_day(html: bytes, url: str) -> str | None:
    import trafilatura

    from ingest.extract.article_body import trafilatura_as_shipped

    with trafilatura_as_shipped():  # trafilatura as it ships, though newsflow ran in this process
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if doc is None or isinstance(doc, dict):
        return None
    return str(doc.date) if doc.date else None


def htmldate_day(html: bytes, url: str) -> str | None:
    from htmldate import find_date

    try:
        return find_date(html, url=url, extensive_search=True, original_date=True)
    except ValueError:
        return None


CONTENDERS: dict[str, Callable[[bytes, str], str | None]] = {
    "newsflow": newsflow_day,
    "trafilatura": trafilatura_day,
    "htmldate": htmldate_day,
}


def _work(args: tuple[str, DatedPage]) -> tuple[str, str, str | None]:
    """(contender, page id, day); the day is LOST when no article was stored."""
    name, page = args
    html = gzip.decompress(page.path.read_bytes())
    try:
        day = CONTENDERS[name](html, page.url)
    except Lost:
        return name, page.id, LOST
    except Exception:  # a contender's crash is an undated page, counted, not the run's end
        day = None
    return name, page.id, day[:10] if day else None


LOST = "lost"  # the page gave no article (newsflow: quarantined, or dropped as not_article)


def score(pages: list[DatedPage], days: dict[str, str | None]) -> dict[str, float]:
    n = len(pages) or 1
    found = [(p, days.get(p.id)) for p in pages]
    return {
        "exact day": sum(d == p.day for p, d in found) / n,
        "undated": sum(d is None or d == LOST for _, d in found) / n,
        "later than the day": sum(
            d is not None and d != LOST and p.day is not None and d > p.day for p, d in found
        )
        / n,
        # every page of these sets has a publication day: most are articles or posts
        "no article stored": sum(d == LOST for _, d in found) / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="the first N pages only")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not (DATES / "truth.json").is_file():
        raise SystemExit(f"{DATES}: the htmldate evaluation set is not here (NEWSFLOW_EVAL_DIR)")
    pages = load_pages()[: args.limit]
    started = time.monotonic()
    jobs = [(name, page) for name in CONTENDERS for page in pages]
    results: dict[str, dict[str, str | None]] = {name: {} for name in CONTENDERS}
    with ProcessPoolExecutor(args.workers) as pool:
        for name, page_id, day in pool.map(_work, jobs, chunksize=8):
            results[name][page_id] = day
    parts = {part: [p for p in pages if p.part == part] for part in ("dev", "held")}
    print(
        f"{len(pages)} pages ({len(parts['dev'])} dev: htmldate's default set; "
        f"{len(parts['held'])} held back: mediacloud2020) in {time.monotonic() - started:.0f}s"
    )
    columns = [(name, part) for name in CONTENDERS for part in ("dev", "held")]
    print(f"{'':<20}" + "".join(f"{f'{n} {p}':>18}" for n, p in columns))
    scores = {(n, p): score(parts[p], results[n]) for n, p in columns}
    for metric in ("exact day", "undated", "later than the day", "no article stored"):
        print(f"{metric:<20}" + "".join(f"{scores[c][metric]:>18.3f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
