"""The article body (and the page-heuristic day) from trafilatura and htmldate.

trafilatura runs in three modes that fail in opposite ways. Its precision mode drops
boilerplate (link lists, comment blocks, teasers) but also cuts article content it is
unsure of: lists, tables, short paragraphs between sections. Its recall mode keeps those,
with more boilerplate around the article. The body is the precision text with the blocks
that only the recall text has *between* two blocks both texts share: a block the article
itself frames on both sides is part of it, while boilerplate sits before the article
(navigation, teasers) or after it (related links, newsletter boxes, comments). When the
precision text is short it may have cut the article itself: then the default mode runs too
and wins when precision kept less than PRECISION_KEEP of its words.

Precision mode also drops the article's own section headings. They come back from the tree:
a heading outside the page chrome whose next element's text starts a line of the body is
set before that line (a heading introduces what follows it).

The day of publication (`page_day`) comes from htmldate's find_date on the same tree, with
the parameters trafilatura would pass; ingest.extract.page calls it only when its date choice
needs it. trafilatura's own metadata (title, author,
description, site name) is read only for the fields the page's structured metadata lacks,
since the extractor uses them only as fallbacks.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from transforms.normalise import word_count

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata

# a body shorter than this after the precision and default passes: the recall pass is tried
# (ingest.extract.page.MIN_WORDS is the article's minimum)
LAST_RESORT_WORDS = 10
PRECISION_KEEP = 0.6  # share of the default body the precision pass must keep to be used
SHORT_BODY_WORDS = 200  # a precision body shorter than this is checked against the default
WIDEN_BODY = True  # add the recall pass's interior blocks (costs a third pass on some pages)
CONTENT_ITEM_WORDS = 6  # a list item or cell this long is prose, not a menu entry or label
ANCHOR_WORDS = 6  # words of the text after a heading that must start a line of the body
HEADING_WORDS = 20  # a longer "heading" is a paragraph styled as one
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
DAY_REACH = 40  # characters around a year within which its month and day are written
_WORD = re.compile(r"\w+")
_CHROME = frozenset({"nav", "header", "footer", "aside"})
FALLBACK_FIELDS = ("title", "author", "description", "sitename")
_OPTIONS: dict[str, Any] = {"include_comments": False, "include_tables": True}


def trafilatura_fields(
    tree: lxml_html.HtmlElement,
    url: str,
    meta: PageMetadata | None = None,
    bylines: Sequence[str] = (),
    *,
    body: bool = True,
    author: bool = True,
) -> dict[str, Any]:
    """Body text (without `body`, when a site profile gave the body: "") and trafilatura's
    metadata for the fields `meta` lacks (all of them when `meta` is None; its author only
    when neither `meta` nor the printed `bylines` name a person, and never without
    `author`: a site profile named the authors). The tree is not modified:
    trafilatura and htmldate both work on copies of an element they are given, so `page_day`
    can run on it later, only when needed."""
    text = body_text(tree, url) if body else ""
    found: dict[str, Any] = {"text": text}
    found.update(fallback_metadata(tree, url, meta, bylines, author=author))
    return found


def body_text(tree: lxml_html.HtmlElement, url: str) -> str:
    """The precision text with the recall text's interior blocks; the default text when the
    precision pass cut the article (see the module docstring)."""
    trafilatura = _trafilatura()

    precise = _text(trafilatura.bare_extraction(tree, url=url, favor_precision=True, **_OPTIONS))
    precise_words = word_count(precise)
    if precise_words < SHORT_BODY_WORDS:
        default = _text(trafilatura.bare_extraction(tree, url=url, **_OPTIONS))
        if word_count(default) < LAST_RESORT_WORDS:
            return last_resort(tree, url) or precise or default
        if precise_words < PRECISION_KEEP * word_count(default):
            return with_headings(tree, default)
    if precise and WIDEN_BODY and _drops_content_items(tree, precise):
        # fast: the recall text serves only as a source of blocks to insert between shared
        # anchors, so trafilatura's fallback extractors (readability, jusText) add nothing
        wide = _text(
            trafilatura.bare_extraction(tree, url=url, favor_recall=True, fast=True, **_OPTIONS)
        )
        precise = with_interior_blocks(precise, wide)
    return with_headings(tree, precise)


def last_resort(tree: lxml_html.HtmlElement, url: str) -> str:
    """A body for a page where trafilatura's precision and default passes (the default with
    its own fallbacks, down to its baseline) found none: its recall pass, whose looser
    thresholds keep an article its other modes discard whole (an article is never lost for
    want of trying)."""
    trafilatura = _trafilatura()

    wide = _text(trafilatura.bare_extraction(tree, url=url, favor_recall=True, **_OPTIONS))
    return with_headings(tree, wide) if word_count(wide) >= LAST_RESORT_WORDS else ""


def _trafilatura() -> Any:
    """trafilatura, with its costliest XPath expressions evaluated by equivalent Python
    (ingest.extract.fast_xpath: the same elements, in less time) and its comparison with
    readability skipped where it cannot change the text (ingest.extract.compare_bound)."""
    import trafilatura
    import trafilatura.metadata

    from ingest.extract import compare_bound, fast_xpath

    fast_xpath.install()
    compare_bound.install()
    return trafilatura


@contextmanager
def trafilatura_as_shipped() -> Iterator[None]:
    """trafilatura with its own XPath expressions and comparison while in the block (see
    `_trafilatura`): a benchmark measuring trafilatura beside newsflow in one process
    measures trafilatura as it ships."""
    from ingest.extract import compare_bound, fast_xpath

    with fast_xpath.suspended(), compare_bound.suspended():
        yield


def with_headings(tree: lxml_html.HtmlElement, text: str) -> str:
    """`text` with the page's section headings it lacks, each set before the line that starts
    with the text of the element after the heading (see the module docstring). Headings are
    placed last to first, so a heading followed by a subheading lands before the subheading
    once that has been placed."""
    if not text:
        return text
    lines = text.split("\n")
    # where each line's opening words (and each whole short line) first occur
    first: dict[tuple[str, ...], int] = {}
    present: set[tuple[str, ...]] = set()
    for i, line in enumerate(lines):
        words = tuple(_tokens(line))
        present.add(words)
        for key in {words[:n] for n in range(4, ANCHOR_WORDS + 1)} | {words}:
            first.setdefault(key, i)
    placed: dict[int, list[str]] = {}
    headings = [
        h for h in tree.iter(*_HEADINGS) if not any(a.tag in _CHROME for a in h.iterancestors())
    ]
    for heading in reversed(headings):
        title = " ".join(heading.text_content().split())
        words = tuple(_tokens(title))
        if not words or words in present or len(words) > HEADING_WORDS:
            continue
        after = next(
            (
                el
                for el in heading.itersiblings()
                if isinstance(el.tag, str) and el.text_content().strip()
            ),
            None,
        )
        if after is None:
            continue
        # a short anchor must be a whole line (a subheading); a long one starts its line
        at = first.get(tuple(_tokens(after.text_content())[:ANCHOR_WORDS]))
        if at is not None:
            placed.setdefault(at, []).insert(0, title)
            first.setdefault(words, at)
            present.add(words)
    if not placed:
        return text
    return "\n".join(x for i, line in enumerate(lines) for x in (*placed.get(i, ()), line))


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def with_interior_blocks(narrow: str, wide: str) -> str:
    """`narrow` plus the lines only `wide` has that sit between two lines both share.

    Lines are aligned in order (difflib on whole lines). A run of wide-only lines is kept
    only when shared lines come both before and after it, so boilerplate leading or trailing
    the article never enters; lines only `narrow` has are always kept."""
    base = [line for line in (" ".join(x.split()) for x in narrow.split("\n")) if line]
    extra = [line for line in (" ".join(x.split()) for x in wide.split("\n")) if line]
    if not base or not extra:
        return narrow
    ops = difflib.SequenceMatcher(None, base, extra, autojunk=False).get_opcodes()
    out: list[str] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "insert":
            if 0 < k < len(ops) - 1:
                out.extend(extra[j1:j2])
        else:  # equal, delete, replace: the precision text's own lines
            out.extend(base[i1:i2])
    return "\n".join(out)


def _drops_content_items(tree: lxml_html.HtmlElement, text: str) -> bool:
    """Whether the page has more prose-like list items than `text` has list lines, or
    prose-like table cells while `text` has no table: precision mode drops such lists and
    tables inside articles, and only then can the recall pass add interior blocks. Items in
    navigation, headers, footers and asides, short items and link-dominated ones (menus,
    related links) do not count."""
    lines = [line.lstrip() for line in text.split("\n")]
    listed = sum(line.startswith("- ") for line in lines)
    tabled = sum(line.startswith("|") for line in lines)
    items = 0
    for node in tree.iter("li", "td"):
        if any(a.tag in _CHROME for a in node.iterancestors()):
            continue
        words = " ".join(node.text_content().split())
        linked = sum(len(" ".join(a.text_content().split())) for a in node.iter("a"))
        # (the words counted last: counting Thai words runs a dictionary tokenizer)
        if linked < 0.5 * len(words) and word_count(words) >= CONTENT_ITEM_WORDS:
            items += node.tag == "li"
            if items > listed or (node.tag == "td" and tabled == 0):
                return True
    return False


def page_day(tree: lxml_html.HtmlElement, url: str, meta: PageMetadata | None) -> str | None:
    """htmldate's day of publication, with the parameters newsflow has always given it
    through trafilatura: original (not updated) date, extensive search, and the page's own
    declared address for dates in the URL.

    When it finds no whole date, htmldate falls back to a month ("2024-03" as 2024-03-01)
    or a year, often the footer's copyright year ("© 2026" as 2026-01-01). A day that is
    the first of a month is therefore kept only when the page writes that day somewhere
    (see `writes_day`): a record without a date is better than one filed under a copyright
    year."""
    from htmldate import find_date

    from ingest.extract import date_guard, date_scan

    date_guard.install()  # dateparser is asked only about strings it could read
    date_scan.install()  # the page's text scanned for dates only where one can start
    address = (meta.canonical if meta is not None else None) or url
    try:
        day = find_date(
            tree, extensive_search=True, original_date=True, outputformat="%Y-%m-%d", url=address
        )
    except ValueError:
        return None
    if day is not None and day.endswith("-01") and not writes_day(tree, day, address):
        return None
    return day


def writes_day(tree: lxml_html.HtmlElement, day: str, url: str = "") -> bool:
    """Whether the page's HTML (text, attributes, scripts) or its URL writes the whole
    date `day` (YYYY-MM-DD): as digits in year-first, day-first or month-first order, or
    with the month's name in one of the languages ingest.extract.dates reads."""
    from lxml import html as lxml_html

    from ingest.extract.dates import MONTHS

    year, month, date = day.split("-")
    m, d = int(month), int(date)
    names = "|".join(sorted((n for n, k in MONTHS.items() if k == m), key=len, reverse=True))
    mm, dd = rf"0?{m}", rf"0?{d}"
    written = re.compile(
        rf"(?<![\d])(?:{year}[-/.]{mm}[-/.]{dd}(?!\d)|{dd}[-/.]{mm}[-/.]{year}"
        rf"|{mm}[-/.]{dd}[-/.]{year}|{year}{month}{date}(?!\d))"
        rf"|(?<!\w)(?:{names})\.?\s+{dd}(?:st|nd|rd|th|er|º)?,?\s+(?:de\s+)?{year}"
        rf"|(?<!\d){dd}(?:st|nd|rd|th|er|º)?\.?\s+(?:de\s+|of\s+)?(?:{names})\.?,?\s+(?:de\s+)?{year}",
        re.IGNORECASE,
    )
    if written.search(url):
        return True
    # the pattern runs only around the year's occurrences: a page's HTML is long
    page = lxml_html.tostring(tree, encoding=str)
    at = page.find(year)
    while at != -1:
        if written.search(page, max(0, at - DAY_REACH), at + len(year) + DAY_REACH):
            return True
        at = page.find(year, at + 1)
    return False


def fallback_metadata(
    tree: lxml_html.HtmlElement,
    url: str,
    meta: PageMetadata | None,
    bylines: Sequence[str] = (),
    *,
    author: bool = True,
) -> dict[str, str | None]:
    """trafilatura's author and site name, and its title and description when the page's
    structured metadata lacks them (the extractor uses those only then). Follows
    trafilatura's extract_metadata, without its date, category, tag and licence searches."""
    # the site name is one of the organisations the stated authors are checked against:
    # it is always read; the author only when no stated author is left after that check
    wanted = {
        "title": meta is None or not meta.title,
        "author": True,
        "description": meta is None or not meta.description,
        "sitename": True,
    }
    tm = _trafilatura().metadata
    doc = tm.examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None
    with contextlib.suppress(Exception):  # trafilatura guards this call the same way
        doc = tm.extract_meta_json(tree, doc)
    if wanted["title"] and not doc.title:
        doc.title = tm.extract_title(tree)
    if wanted["sitename"]:
        doc.sitename = doc.sitename or tm.extract_sitename(tree)
        if doc.sitename:
            doc.sitename = doc.sitename.lstrip("@")
            if doc.sitename and "." not in doc.sitename and not doc.sitename[0].isupper():
                doc.sitename = doc.sitename.title()
        else:
            address = doc.url or tm.extract_url(tree, url)
            match = tm.META_URL.match(address or "")
            doc.sitename = match[1] if match else None
    if author and not doc.author and not _stated_people(meta, doc.sitename, bylines, url):
        doc.author = tm.extract_author(tree)  # the costliest of these searches
    doc.clean_and_trim()
    return {k: getattr(doc, k, None) if wanted[k] else None for k in FALLBACK_FIELDS}


def _stated_people(
    meta: PageMetadata | None, sitename: str | None, bylines: Sequence[str] = (), url: str = ""
) -> bool:
    """Whether the page's structured metadata or a byline printed by its headline names an
    author who is a person (then ingest.extract.page never falls back to trafilatura's author)."""
    from ingest.extract.authors import clean_authors
    from ingest.extract.metadata import PageMetadata, site_organisations

    site = " ".join(sitename.split()) if sitename else None
    organisations = site_organisations(meta or PageMetadata(), site)
    stated = [meta.authors] if meta is not None else []
    host = urlsplit(url).hostname or ""
    return any(
        clean_authors(names, organisations, host) for names in [*stated, *([b] for b in bylines)]
    )


def _text(doc: Any) -> str:
    return (getattr(doc, "text", None) or "") if doc is not None else ""
