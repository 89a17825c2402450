"""Article extraction in layers, each field with its provenance.

1. Structured data the page states about itself: JSON-LD, OpenGraph / article:* meta,
   <time datetime>, the canonical link (ingest.extract.metadata).
2. A site profile when the page's source names one or the page belongs to a publisher the
   project has one for (ingest.extract.profiles): the body and the excerpt by the publisher's
   own layout, in the version served when the page was fetched.
3. trafilatura for the body and whatever is still missing, and htmldate (inside it) for the
   day of publication, which also reads dates in the URL.
4. For every body, whichever layer gave it: trailing attribution lines ("Source: merkur")
   name `original_source` and leave the text, as do editors' initials ("(as)")
   (ingest.extract.attribution); the lead printed above the body (the profile's excerpt,
   else the standfirst of ingest.extract.standfirst) is the description and, unless only
   its class sets it apart, the text's first paragraph, once.

Next to the layers, ingest.extract.dates reads the dates printed around the headline and in the URL
path. The publication date is the URL's day, else the printed one (an "Updated" one gives way
to the metadata's publication time), else the metadata's when htmldate agrees, else
htmldate's day (choose_date); it keeps a stated time of day, fraction and offset whenever
the metadata states that day.
Pages that are sections, listings or tag pages raise ExtractError("not_article").
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ingest.extract.attribution import with_lead, without_attribution
from ingest.extract.authors import Byline, read_bylines
from ingest.extract.bylines import printed_bylines
from ingest.extract.credits import agencies
from ingest.extract.dates import (
    PrintedDate,
    byline_date,
    printed_dates,
    read_page_text,
    same_instant,
    url_day,
)
from ingest.extract.decode import decode_html
from ingest.extract.metadata import PageMetadata, read_metadata, site_organisations
from ingest.extract.page_type import is_listing
from ingest.extract.standfirst import printed_lead
from ingest.extract.titles import (
    choose_title,
    drop_title_line,
    read_headings,
    read_subheadings,
    unescape,
)
from transforms import provenance
from transforms.normalise import clip, has_time, word_count

if TYPE_CHECKING:
    from lxml import html as lxml_html

MIN_WORDS = 10  # news briefs can be two sentences
# the record's short fields at most (headlines run to about 150 characters, standfirsts to a
# few hundred): a page that puts megabytes in its <title> or description is cut to these
TITLE_CHARS = 1_000
DESCRIPTION_CHARS = 5_000
SITE_NAME_CHARS = 200
# a longer declared canonical is ignored, not cut (a cut URL is another URL; servers refuse
# URLs of a few KiB, sitemaps allow 2,048 characters)
CANONICAL_CHARS = 4_096
TRAFILATURA = f"trafilatura/{version('trafilatura')}"


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
    # the layer (transforms.provenance): jsonld | meta | time_element for a timestamp; url |
    # byline | htmldate for a bare day (the URL path's, the one printed by the headline,
    # htmldate's)
    published_from: str | None
    modified: str | None
    canonical: str | None
    site_name: str | None
    language: str | None
    extractor: str  # the body layer: "trafilatura/<version>" or "profile:<name>@<version>"
    original_source: str | None = None  # the publisher an aggregator copied the article from
    offset_from: str | None = None  # "page": `published` took another timestamp's offset
    # the layers (transforms.provenance) of the title and of the authors (None without any)
    title_source: str | None = None
    authors_source: str | None = None
    credits: tuple[str, ...] = ()  # the news agencies the bylines credit (ingest.extract.credits)


def extract_page(
    body: bytes,
    url: str,
    header_charset: str | None = None,
    *,
    fetched_at: dt.datetime | None = None,
    profile: str | None = None,
) -> ExtractedPage:
    """Extract one article from HTML bytes, fetched at `fetched_at` (which picks a site
    profile's layout version; None: the newest) from a source whose pages `profile` reads
    (a name from ingest.extract.profiles; None: the profile matching the page, if any).

    Raises ExtractError: `parse_error`, `no_text`, `too_deep` (no text, and the page nests
    elements deeper than the parser follows), `too_slow` (a tag with more attributes than
    the parser reads in reasonable time: ingest.extract.crowded), `not_article`.
    """
    from ingest.extract.article_body import page_day, trafilatura_fields
    from ingest.extract.profiles import find_profile

    tree, too_deep = _parse(body, url, header_charset)
    meta = read_metadata(tree)
    headings = read_headings(tree, meta, url)
    chosen = find_profile(meta, url, profile)
    fields = chosen.extract(tree, meta, fetched_at) if chosen is not None else None
    near_headline = read_page_text(tree)
    printed = printed_dates(tree, meta.language, text=near_headline)
    bylines = printed_bylines(tree, near_headline)
    # trafilatura's author search is spared when a layer above names a person, and its
    # body when a site profile gave one
    profiled = read_bylines(fields.authors, initials=True).authors if fields else ()
    doc = trafilatura_fields(tree, url, meta, bylines, body=fields is None, author=not profiled)
    if fields is None and is_listing(meta, url, doc.get("text") or "", tree):
        raise ExtractError("not_article", f"{url}: a section, listing or tag page, not an article")
    title, title_source = choose_title(
        meta, headings, doc.get("title"), url, read_subheadings(tree)
    )
    if fields is not None:
        text, extractor = fields.text, f"profile:{fields.profile}"
    else:
        text, extractor = drop_title_line(doc.get("text") or "", title), TRAFILATURA
    # 4. for every body: attribution lines out (an aggregator's source kept), the lead once
    text, original_source = without_attribution(text)
    standfirst = None if fields is not None else printed_lead(tree, text)
    lead = fields.description if fields is not None else standfirst.text if standfirst else None
    text = with_lead(text, None if standfirst is not None and standfirst.styled else lead)
    if word_count(text) < MIN_WORDS:
        if too_deep:
            raise ExtractError(
                "too_deep",
                f"{url}: elements nest deeper than {MAX_DEPTH} levels, where the parser stops; "
                f"only {word_count(text)} words of text before that",
            )
        raise ExtractError(
            "no_text", f"{url}: only {word_count(text)} words of text (minimum {MIN_WORDS})"
        )
    published, published_from = choose_date(
        meta, lambda: page_day(tree, url, meta), printed, url_day(url)
    )
    offset_from = meta.offset_from if published == meta.published else None
    if published_from == provenance.BYLINE and has_time(published):
        published, offset_from = _page_offset(published or "", meta)
    authors, authors_source, credits = choose_authors(
        meta,
        bylines,
        fields.authors if fields else (),
        doc.get("author"),
        site_organisations(meta, doc.get("sitename")),
        url,
    )
    return ExtractedPage(
        title=_clipped(title, TITLE_CHARS),
        text=text,
        description=_clipped(
            unescape(lead or meta.description or doc.get("description")), DESCRIPTION_CHARS
        ),
        authors=authors,
        published=published,
        published_from=published_from,
        modified=meta.modified,
        canonical=meta.canonical if len(meta.canonical or "") <= CANONICAL_CHARS else None,
        site_name=_clipped(unescape(meta.site_name or doc.get("sitename")), SITE_NAME_CHARS),
        language=meta.language,
        extractor=extractor,
        original_source=(fields.original_source if fields else None) or original_source,
        offset_from=offset_from,
        title_source=title_source,
        authors_source=authors_source,
        credits=credits,
    )


def _clipped(value: str | None, limit: int) -> str | None:
    """A short field of the record within its limit (a page may fill a <title> or a meta
    description with megabytes: the record keeps the start, cut between words)."""
    return clip(value, limit) if value is not None and len(value) > limit else value


# ------------------------------------------------------------------------------- layers


def choose_authors(
    meta: PageMetadata,
    bylines: list[str],
    profiled: tuple[str, ...] = (),
    found: str | None = None,
    organisations: list[str] | None = None,
    url: str = "",
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """The article's authors, their layer (None when there are none) and the agencies the
    page credits.

    1. The site profile's authors (`profiled`).
    2. The metadata's (JSON-LD, else <meta name="author">), unless the printed byline names
       each of them and more: metadata that names only the first of several authors.
    3. The first byline printed by the headline that names a person.
    4. trafilatura's author search (`found`, its names separated by ";").

    The credits are the agencies any of these layers name, and JSON-LD's Organization
    authors that are agencies."""
    host = urlsplit(url).hostname or ""
    orgs = organisations or []
    printed = [read_bylines([b], orgs, host) for b in bylines]
    layers: list[tuple[str | None, Byline]] = [
        (provenance.PROFILE, read_bylines(profiled, orgs, host, initials=True)),
        (meta.authors_from, read_bylines(meta.authors, orgs, host)),
        (
            provenance.BYLINE,
            Byline(
                next((b.authors for b in printed if b.authors), ()),
                tuple(_unique(c for b in printed for c in b.credits)),
            ),
        ),
        (provenance.TRAFILATURA, read_bylines((found or "").split(";"), orgs, host)),
    ]
    credits = _unique(
        [
            *(c for _, layer in layers for c in layer.credits),
            *(a for o in meta.author_organisations for a in agencies(o)),
        ]
    )
    chosen = next(((source, layer) for source, layer in layers if layer.authors), None)
    if chosen is None:
        return (), None, tuple(credits)
    source, layer = chosen
    byline = layers[2][1].authors
    if (
        source in (provenance.JSONLD, provenance.META)
        and len(byline) > len(layer.authors)
        and {_name_key(n) for n in layer.authors} <= {_name_key(n) for n in byline}
    ):
        source, layer = provenance.BYLINE, layers[2][1]
    return layer.authors, source, tuple(credits)


def _unique(names: Iterable[str]) -> list[str]:
    """`names` without repeats (compared without case), in their order."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return list(seen.values())


def _name_key(name: str) -> str:
    return " ".join(re.findall(r"\w+", name.casefold()))


def choose_date(
    meta: PageMetadata,
    found: str | Callable[[], str | None] | None,
    printed: list[PrintedDate] | None = None,
    from_url: str | None = None,
) -> tuple[str | None, str | None]:
    """The publication date and its layer, best evidence first.

    1. A whole date in the URL path: the CMS wrote it once, at publication.
    2. The date printed with the headline (ingest.extract.dates.byline_date), the date the page
       stands by; but when it is labelled "Updated" and the metadata states a publication
       time, the page was published before it: the stated time (unless htmldate's day is
       the printed one).
    3. The stated timestamp when its day agrees with the day htmldate found (or it found
       none); else htmldate's day.

    A chosen day keeps a timestamp's time of day and offset when the metadata states the
    same instant (its published, else its modified time) or a <time datetime> gave one;
    days are compared in the timestamp's own offset. `found`, htmldate's day, may be given
    as a function: it runs only when the choice needs it (htmldate is the costliest step).
    """
    from transforms.normalise import local_day

    stated = meta.published
    shown = byline_date(printed or [])
    if from_url is not None:
        same = shown is not None and shown.day == from_url
        return _timestamped(from_url, provenance.URL, meta, shown if same else None, exact=True)
    if meta.live and stated is not None:
        return stated, meta.published_from  # a live blog's first post (see metadata)
    if shown is not None and (shown.label != "updated" or stated is None):
        return _timestamped(shown.day, provenance.BYLINE, meta, shown, exact=False)
    found_day = found() if callable(found) else found
    if shown is not None:
        if shown.day == found_day:
            return _timestamped(shown.day, provenance.BYLINE, meta, shown, exact=False)
        return stated, meta.published_from  # published before the printed update
    if stated is not None and (found_day is None or local_day(stated) == found_day):
        return stated, meta.published_from
    if found_day is not None:
        return found_day, provenance.HTMLDATE
    return stated, meta.published_from


def _timestamped(
    day: str, layer: str, meta: PageMetadata, shown: PrintedDate | None, exact: bool
) -> tuple[str, str | None]:
    """`day` as the fullest timestamp that names it: the stated publication time, the time
    printed with the date (a <time datetime>, or a time of day next to the printed date:
    layer `byline`), the modification time; else the bare day, from `layer`. A value with
    a time of day beats a bare day of the same field.

    A printed day (not `exact`) also matches a stated time that is the same instant in
    another time zone: pages render dates in the server's or the reader's zone, while a URL
    day is written once, in the publisher's."""
    from transforms.normalise import local_day

    published = meta.published
    if (
        published is not None
        and (local_day(published) == day or (not exact and same_instant(day, published)))
        and (has_time(published) or shown is None or not has_time(shown.stamp))
    ):
        return published, meta.published_from
    if shown is not None and shown.stamp is not None and local_day(shown.stamp) == day:
        return shown.stamp, shown.stamp_from
    if published is not None and local_day(published) == day:
        return published, meta.published_from
    if meta.modified is not None and local_day(meta.modified) == day:
        return meta.modified, meta.modified_from
    return day, layer


def _page_offset(stamp: str, meta: PageMetadata) -> tuple[str, str | None]:
    """A printed time of day without a zone in the offset the page's stated publication or
    modification time gives (`offset_from` "page"); unchanged when none states one."""
    from transforms.normalise import parse_local, states_offset

    if states_offset(stamp):
        return stamp, None
    for value in (meta.published, meta.modified):
        zoned = parse_local(value) if has_time(value) and states_offset(value) else None
        naive = parse_local(stamp)
        if zoned is not None and naive is not None:
            return naive.replace(tzinfo=zoned.tzinfo).isoformat(), "page"
    return stamp, None


# ------------------------------------------------------------------------------ helpers


MAX_DEPTH = 2048  # libxml2's nesting limit in huge-tree mode (256 otherwise)


def _parse(body: bytes, url: str, header_charset: str | None) -> tuple[lxml_html.HtmlElement, bool]:
    """The page's tree, and whether parsing stopped at MAX_DEPTH levels of nesting: libxml2's
    huge-tree mode follows nesting that deep (the body is already within the size cap) and
    cuts off what is deeper."""
    from lxml import etree
    from lxml import html as lxml_html

    from ingest.extract.crowded import MAX_ATTRIBUTES, crowded_tag

    text, _ = decode_html(body, header_charset)
    html = text.encode("utf-8")
    crowded = crowded_tag(html)
    if crowded is not None:  # (the parse would be one long call the CPU limit cannot stop)
        raise ExtractError(
            "too_slow",
            f"{url}: a tag with {crowded} attributes (over {MAX_ATTRIBUTES}), which the HTML "
            "parser reads in time growing with the square of their number; not parsed",
        )
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
    parser.set_element_class_lookup(_element_classes())
    try:
        tree: lxml_html.HtmlElement = lxml_html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError("parse_error", f"{url}: {exc}") from None
    return tree, any("Excessive depth" in error.message for error in parser.error_log)


@functools.cache
def _element_classes() -> Any:
    """lxml.html's element classes, looked up in C: lxml.html's own parser looks each
    element's class up in Python whenever code touches the element, about a microsecond
    each, and extraction touches several thousand elements of a page many times. The
    classes are the same for every element the HTML parser makes (HtmlElement, its form
    classes by tag name, HtmlComment, ...); only an element code would create with an
    upper-case or namespaced form tag ("INPUT") would be a plain HtmlElement here."""
    from lxml import etree
    from lxml import html as lxml_html

    lookup = etree.ElementNamespaceClassLookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    classes = lookup.get_namespace(None)
    classes.update(lxml_html.HtmlElementClassLookup._default_element_classes)
    return lookup
