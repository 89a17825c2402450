"""Article extraction in layers, each field with its provenance.

1. Structured data the page states about itself: JSON-LD, OpenGraph / article:* meta,
   <time datetime>, the canonical link (ingest.metadata).
2. A site profile when the page belongs to a publisher the project has one for
   (ingest.profiles): body, authors and attribution by the publisher's own layout.
3. trafilatura for the body and whatever is still missing, and htmldate (inside it) for the
   day of publication, which also reads dates in the URL.

Next to the layers, ingest.dates reads the dates printed around the headline and in the URL
path. The publication date is the URL's day, else the printed one (an "Updated" one gives way
to the metadata's publication time), else the metadata's when htmldate agrees, else
htmldate's day (choose_date); it keeps a stated time of day, fraction and offset whenever
the metadata states that day.
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
from ingest.dates import PrintedDate, byline_date, printed_dates, same_instant, url_day
from ingest.decode import decode_html
from ingest.metadata import ARTICLE_TYPES, PageMetadata, read_metadata

if TYPE_CHECKING:
    from lxml import html as lxml_html

MIN_WORDS = 10  # news briefs can be two sentences
PRECISION_KEEP = 0.6  # share of the default body the precision pass must keep to be used
SHORT_BODY_WORDS = 200  # a precision body shorter than this is checked against the default
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
    # jsonld | meta | time_element (the layer of the timestamp) | page_heuristic (a bare day
    # from the URL, the printed byline or htmldate)
    published_from: str | None
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
    printed = printed_dates(tree, meta.language)  # before trafilatura, which edits the tree
    doc = _trafilatura(tree, url)
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
    published, published_from = choose_date(meta, doc.get("date"), printed, url_day(url))
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


def choose_date(
    meta: PageMetadata,
    found_day: str | None,
    printed: list[PrintedDate] | None = None,
    from_url: str | None = None,
) -> tuple[str | None, str | None]:
    """The publication date and its layer, best evidence first.

    1. A whole date in the URL path: the CMS wrote it once, at publication.
    2. The date printed with the headline (ingest.dates.byline_date), the date the page
       stands by; but when it is labelled "Updated" and the metadata states a publication
       time, the page was published before it: the stated time (unless htmldate's day is
       the printed one).
    3. The stated timestamp when its day agrees with the day htmldate found (or it found
       none); else htmldate's day.

    A chosen day keeps a timestamp's time of day and offset when the metadata states the
    same instant (its published, else its modified time) or a <time datetime> gave one;
    days are compared in the timestamp's own offset.
    """
    from transforms.normalise import local_day

    stated = meta.published
    if from_url is not None:
        return _timestamped(from_url, meta, None, exact=True)
    shown = byline_date(printed or [])
    if shown is not None:
        if shown.label != "updated" or stated is None or shown.day == found_day:
            return _timestamped(shown.day, meta, shown.stamp, exact=False)
        return stated, meta.published_from  # published before the printed update
    if stated is not None and (found_day is None or local_day(stated) == found_day):
        return stated, meta.published_from
    if found_day is not None:
        return found_day, "page_heuristic"
    return stated, meta.published_from


def _timestamped(
    day: str, meta: PageMetadata, stamp: str | None, exact: bool
) -> tuple[str, str | None]:
    """`day` as the fullest timestamp that names it: the stated publication time, a <time
    datetime>, the modification time; else the bare day (layer `page_heuristic`).

    A printed day (not `exact`) also matches a stated time that is the same instant in
    another time zone: pages render dates in the server's or the reader's zone, while a URL
    day is written once, in the publisher's."""
    from transforms.normalise import local_day

    if meta.published is not None and (
        local_day(meta.published) == day or (not exact and same_instant(day, meta.published))
    ):
        return meta.published, meta.published_from
    if stamp is not None and local_day(stamp) == day:
        return stamp, "time_element"
    if meta.modified is not None and local_day(meta.modified) == day:
        return meta.modified, meta.modified_from
    return day, "page_heuristic"


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


def _trafilatura(tree: lxml_html.HtmlElement, url: str) -> dict[str, Any]:
    """Body and metadata from trafilatura, in its precision mode (which drops boilerplate its
    default keeps: link lists, comment blocks, teasers). A short result may mean it cut into
    the article itself: then the default mode runs too, and wins when precision kept less
    than PRECISION_KEEP of its words."""
    import copy

    import trafilatura

    options: dict[str, Any] = {"url": url, "include_comments": False, "include_tables": True}
    doc = trafilatura.bare_extraction(
        copy.deepcopy(tree),
        with_metadata=True,
        favor_precision=True,
        date_extraction_params={
            "extensive_search": True,
            "original_date": True,
            "outputformat": "%Y-%m-%d",
        },
        **options,
    )
    if doc is None or isinstance(doc, dict):
        doc = None
    found = {
        k: getattr(doc, k, None)
        for k in ("title", "text", "date", "author", "description", "sitename")
    }
    precise_words = len((found["text"] or "").split())
    if precise_words < SHORT_BODY_WORDS:
        default = trafilatura.bare_extraction(tree, with_metadata=doc is None, **options)
        text = getattr(default, "text", None) or ""
        if precise_words < PRECISION_KEEP * len(text.split()):
            found["text"] = text
            if doc is None and default is not None and not isinstance(default, dict):
                found.update(
                    {
                        k: getattr(default, k, None)
                        for k in ("title", "date", "author", "description", "sitename")
                    }
                )
    return found


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
