"""Article extraction in layers, each field with its provenance.

1. Structured data the page states about itself: JSON-LD, OpenGraph / article:* meta,
   <time datetime>, the canonical link (ingest.metadata).
2. A site profile when the page belongs to a publisher the project has one for
   (ingest.profiles): body, authors and attribution by the publisher's own layout.
3. trafilatura for the body and whatever is still missing, and htmldate (inside it) for the
   day of publication, which also reads dates in the URL.

The publication time keeps the page's time of day, fraction and offset when its metadata
has them and they agree with the day found in the page; otherwise the day found wins.
Pages that are sections, listings or tag pages raise ExtractError("not_article").
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ingest.authors import clean_authors
from ingest.decode import decode_html
from ingest.metadata import ARTICLE_TYPES, PageMetadata, read_metadata

if TYPE_CHECKING:
    from lxml import html as lxml_html

MIN_WORDS = 10  # news briefs can be two sentences
TRAFILATURA = f"trafilatura/{version('trafilatura')}"
# a listing segment ending the path, or followed by one short segment: /tag/politics/, /category/world
LISTING_PATH = re.compile(
    r"/(?:tags?|categor(?:y|ies)|sections?|authors?|search)(?:/[^/]{1,40})?/?$|/page/\d+/?$",
    re.IGNORECASE,
)
_TITLE_SEPARATORS = re.compile("\\s+[|\u2013\u2014\\-:\u00b7\u2022\u00bb]\\s+")


class ExtractError(Exception):
    """A page that yields no article; `reason` is a quarantine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ExtractedPage:
    title: str | None
    text: str
    description: str | None
    authors: tuple[str, ...]
    published: str | None  # as the page states it (or a day, YYYY-MM-DD, from the page text)
    published_from: str | None  # jsonld | meta | time_element | page_heuristic
    modified: str | None
    canonical: str | None
    site_name: str | None
    language: str | None
    extractor: str  # the body layer: "trafilatura/<version>" or "profile:<name>@<version>"
    original_source: str | None = None  # the publisher an aggregator copied the article from


def extract_page(body: bytes, url: str, header_charset: str | None = None) -> ExtractedPage:
    """Extract one article from HTML bytes.

    Raises ExtractError: `parse_error`, `no_text`, `not_article`.
    """
    from ingest.profiles import find_profile

    tree = _parse(body, url, header_charset)
    meta = read_metadata(tree)
    headings = _headings(tree)
    profile = find_profile(meta, url)
    fields = profile.extract(tree, meta) if profile is not None else None
    doc = _trafilatura(tree, url, meta)
    if fields is None and _is_listing(meta, url, doc, tree):
        raise ExtractError("not_article", f"{url}: a section, listing or tag page, not an article")
    title = choose_title(meta, headings, doc.get("title"))
    if fields is not None:
        text, extractor = fields.text, f"profile:{fields.profile}"
    else:
        text, extractor = _drop_title_line(doc.get("text") or "", title), TRAFILATURA
    if len(text.split()) < MIN_WORDS:
        raise ExtractError(
            "no_text", f"{url}: only {len(text.split())} words of text (minimum {MIN_WORDS})"
        )
    published, published_from = choose_date(meta, doc.get("date"))
    organisations = [s for s in (meta.site_name, doc.get("sitename")) if s]
    candidates = (
        fields.authors if fields else (),
        meta.authors,
        (doc.get("author") or "").split(";"),
    )
    authors = next((found for c in candidates if (found := clean_authors(c, organisations))), ())
    return ExtractedPage(
        title=title,
        text=text,
        description=_unescape(
            (fields.description if fields else None) or meta.description or doc.get("description")
        ),
        authors=authors,
        published=published,
        published_from=published_from,
        modified=meta.modified,
        canonical=meta.canonical,
        site_name=_unescape(meta.site_name or doc.get("sitename")),
        language=meta.language,
        extractor=extractor,
        original_source=fields.original_source if fields else None,
    )


# ------------------------------------------------------------------------------- layers


def choose_title(meta: PageMetadata, headings: list[str], generic: str | None) -> str | None:
    """The article's headline: the page's <h1> when it names the same story as the metadata,
    else the metadata title without a " | Site name" tail."""
    declared = _unescape(meta.title) or _unescape(generic)
    if headings:
        if declared is None or len(headings) == 1:
            return headings[0]
        best = max(headings, key=lambda h: _overlap(h, declared))
        if _overlap(best, declared) >= 0.5:
            return best
    return _strip_site(declared, meta.site_name)


def choose_date(meta: PageMetadata, found_day: str | None) -> tuple[str | None, str | None]:
    """The stated timestamp when its day agrees with the day found in the page (or none was
    found); else the found day. Days are compared in the timestamp's own offset."""
    from transforms.normalise import local_day

    stated = meta.published
    if stated is not None and (found_day is None or local_day(stated) == found_day):
        return stated, meta.published_from
    if found_day is not None:
        return found_day, "page_heuristic"
    return stated, meta.published_from


def _is_listing(
    meta: PageMetadata, url: str, doc: dict[str, Any], tree: lxml_html.HtmlElement
) -> bool:
    """Conservative: only pages with no article markup and clear listing signs."""
    if meta.schema_types & ARTICLE_TYPES or (meta.og_type or "").startswith("article"):
        return False
    path = urlsplit(url).path
    if not url:
        return False
    listing = LISTING_PATH.search(path)
    if listing and listing.group(0).count("-") <= 3:  # a long slug after /category/ is an article
        return True
    if path in ("", "/"):
        return _link_density(tree) > 0.4
    if meta.schema_types & {"collectionpage", "itemlist", "searchresultspage"}:
        return True
    words = len((doc.get("text") or "").split())
    return words < 200 and _link_density(tree) > 0.6


def _link_density(tree: lxml_html.HtmlElement) -> float:
    body = tree.find(".//body")
    if body is None:
        return 0.0
    total = len(" ".join(body.text_content().split()))
    linked = sum(len(" ".join(a.text_content().split())) for a in body.iterfind(".//a"))
    return linked / total if total else 0.0


def _trafilatura(
    tree: lxml_html.HtmlElement, url: str, meta: PageMetadata | None = None
) -> dict[str, Any]:
    """Body, day found in the page, and the fallback title/author/description/site name from
    trafilatura and htmldate (see ingest.article_body for how the body is chosen)."""
    from ingest.article_body import trafilatura_fields

    return trafilatura_fields(tree, url, meta)


# ------------------------------------------------------------------------------ helpers


def _parse(body: bytes, url: str, header_charset: str | None) -> lxml_html.HtmlElement:
    from lxml import etree
    from lxml import html as lxml_html

    text, _ = decode_html(body, header_charset)
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        tree: lxml_html.HtmlElement = lxml_html.document_fromstring(
            text.encode("utf-8"), parser=parser
        )
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError("parse_error", f"{url}: {exc}") from None
    return tree


def _headings(tree: lxml_html.HtmlElement) -> list[str]:
    found = []
    for node in tree.iterfind(".//h1"):
        text = " ".join(node.text_content().split())
        if 2 <= len(text) <= 300 and text not in found:
            found.append(text)
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _overlap(heading: str, declared: str) -> float:
    h, d = _words(heading), _words(declared)
    return len(h & d) / len(h) if h else 0.0


def _strip_site(title: str | None, site_name: str | None) -> str | None:
    if not title:
        return title
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) > 1:
        site = _words(site_name or "")
        tail, head = parts[-1], parts[0]
        if (site and _words(tail) <= site | {"the", "com"}) or len(tail.split()) <= 3 < len(
            " ".join(parts[:-1]).split()
        ):
            return " - ".join(parts[:-1]) if len(parts) > 2 else head
    return title


def _unescape(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(html.unescape(html.unescape(text)).split())
    return cleaned or None


def _drop_title_line(text: str, title: str | None) -> str:
    """trafilatura keeps the headline as the body's first line; the record has it as `title`."""
    lines = text.strip().split("\n")
    if (
        title
        and lines
        and " ".join(lines[0].split()).casefold() == " ".join(title.split()).casefold()
    ):
        lines = lines[1:]
    return "\n".join(lines).strip()
