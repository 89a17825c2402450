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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ingest.authors import clean_authors
from ingest.bylines import printed_bylines
from ingest.dates import (
    PrintedDate,
    byline_date,
    printed_dates,
    read_page_text,
    same_instant,
    url_day,
)
from ingest.decode import decode_html
from ingest.metadata import PageMetadata, read_metadata, site_organisations
from ingest.page_type import is_listing

if TYPE_CHECKING:
    from lxml import html as lxml_html

MIN_WORDS = 10  # news briefs can be two sentences
TRAFILATURA = f"trafilatura/{version('trafilatura')}"
# what site templates put between headline and site name (the choices Yoast SEO offers)
_SEPARATOR = "[|\u2013\u2014\\-:\u00b7\u2022\u00bb\u00ab\u22c6*~<>]"
_TITLE_SEPARATORS = re.compile(f"\\s+{_SEPARATOR}\\s+")
_EDGE_SEPARATOR = re.compile(f"^\\s*{_SEPARATOR}\\s+|\\s+{_SEPARATOR}\\s*$")  # "Headline \u22c6"
# a UTF-8 lead byte read as Latin-1/Windows-1252, then a continuation byte read the same way
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013-\u2122]"
)
_CONTINUES = re.compile(r"\w|\s+[\w(\[\"'\u2018\u201c]")  # more of the same sentence
_NOT_HEADLINE = {"time", "h2", "h3", "h4", "h5", "h6", "script", "style"}


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

    Raises ExtractError: `parse_error`, `no_text`, `too_deep` (no text, and the page nests
    elements deeper than the parser follows), `not_article`.
    """
    from ingest.article_body import page_day
    from ingest.profiles import find_profile

    tree, too_deep = _parse(body, url, header_charset)
    meta = read_metadata(tree)
    headings = _headings(tree, meta, url)
    profile = find_profile(meta, url)
    fields = profile.extract(tree, meta) if profile is not None else None
    near_headline = read_page_text(tree)
    printed = printed_dates(tree, meta.language, text=near_headline)
    bylines = printed_bylines(tree, near_headline)
    # trafilatura's author search is spared when a layer above names a person
    doc = _trafilatura(tree, url, meta, [*(fields.authors if fields else ()), *bylines])
    if fields is None and is_listing(meta, url, doc.get("text") or "", tree):
        raise ExtractError("not_article", f"{url}: a section, listing or tag page, not an article")
    title = choose_title(meta, headings, doc.get("title"), url, _subheadings(tree))
    if fields is not None:
        text, extractor = fields.text, f"profile:{fields.profile}"
    else:
        text, extractor = _drop_title_line(doc.get("text") or "", title), TRAFILATURA
    if len(text.split()) < MIN_WORDS:
        if too_deep:
            raise ExtractError(
                "too_deep",
                f"{url}: elements nest deeper than {MAX_DEPTH} levels, where the parser stops; "
                f"only {len(text.split())} words of text before that",
            )
        raise ExtractError(
            "no_text", f"{url}: only {len(text.split())} words of text (minimum {MIN_WORDS})"
        )
    published, published_from = choose_date(
        meta, lambda: page_day(tree, url, meta), printed, url_day(url)
    )
    organisations = site_organisations(meta, doc.get("sitename"))
    candidates = (
        fields.authors if fields else (),
        meta.authors,
        *([b] for b in bylines),
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


def choose_title(
    meta: PageMetadata,
    headings: list[str],
    generic: str | None,
    url: str = "",
    subheadings: Collection[str] = (),
) -> str | None:
    """The article's headline: the page's <h1> when it names the same story as the metadata,
    else the metadata title without a " | Site name" tail.

    The stated headline wins over the <h1> when the page also prints it as a heading of its
    own (the <h1> is then a banner or section label), and when the <h1> is the stated
    headline plus furniture: a kicker such as "Blog:" or a " | Opinion" tail."""
    declared = _declared_title(meta) or _unescape(generic)
    stated = _strip_site(declared, _site_words(meta, url))
    if not headings:
        return _repair(stated)
    if stated and _key(stated) in {_key(h) for h in subheadings}:
        return _repair(stated)
    if declared is None or len(headings) == 1:
        best = headings[0]
    else:
        # of the <h1>s that name the stated story, the one sharing the most of its words: a
        # one-word section heading ("Reviews") is trivially inside a long stated title
        best = max(
            headings,
            key=lambda h: (_overlap(h, declared) >= 0.5, len(_words(h) & _words(declared))),
        )
        if _overlap(best, declared) < 0.5:
            return _repair(stated)
    if stated and (_holds(best, stated) or _lossy_copy(best, stated)):
        return _repair(stated)
    # a pipe does not occur inside a headline: it sets off a tagline, section or site name
    return _repair(max(best.split(" | "), key=lambda part: len(part.split())))


def choose_date(
    meta: PageMetadata,
    found: str | Callable[[], str | None] | None,
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
    days are compared in the timestamp's own offset. `found`, htmldate's day, may be given
    as a function: it runs only when the choice needs it (htmldate is the costliest step).
    """
    from transforms.normalise import local_day

    stated = meta.published
    if from_url is not None:
        return _timestamped(from_url, meta, None, exact=True)
    shown = byline_date(printed or [])
    if shown is not None and (shown.label != "updated" or stated is None):
        return _timestamped(shown.day, meta, shown.stamp, exact=False)
    found_day = found() if callable(found) else found
    if shown is not None:
        if shown.day == found_day:
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


def _trafilatura(
    tree: lxml_html.HtmlElement,
    url: str,
    meta: PageMetadata | None = None,
    bylines: Sequence[str] = (),
) -> dict[str, Any]:
    """Body and the fallback title/author/description/site name from trafilatura (see
    ingest.article_body for how the body is chosen; the day is read later, when needed)."""
    from ingest.article_body import trafilatura_fields

    return trafilatura_fields(tree, url, meta, bylines)


# ------------------------------------------------------------------------------ helpers

MAX_DEPTH = 2048  # libxml2's nesting limit in huge-tree mode (256 otherwise)


def _parse(body: bytes, url: str, header_charset: str | None) -> tuple[lxml_html.HtmlElement, bool]:
    """The page's tree, and whether parsing stopped at MAX_DEPTH levels of nesting: libxml2's
    huge-tree mode follows nesting that deep (the body is already within the size cap) and
    cuts off what is deeper."""
    from lxml import etree
    from lxml import html as lxml_html

    text, _ = decode_html(body, header_charset)
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
    try:
        tree: lxml_html.HtmlElement = lxml_html.document_fromstring(
            text.encode("utf-8"), parser=parser
        )
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError("parse_error", f"{url}: {exc}") from None
    return tree, any("Excessive depth" in error.message for error in parser.error_log)


def _headings(tree: lxml_html.HtmlElement, meta: PageMetadata, url: str = "") -> list[str]:
    """The texts of the page's <h1> elements, without the ones that are the masthead: many
    sites set their own name as an <h1> in the header on every page."""
    found: list[str] = []
    site = _site_words(meta, url)
    for node in tree.iterfind(".//h1"):
        text = _unescape(_heading_text(node)) or ""
        keep = 2 <= len(text) <= 300 and text not in found
        if keep and not _is_masthead(node, text, site, meta, url):
            found.append(text)
    return found


def _subheadings(tree: lxml_html.HtmlElement) -> list[str]:
    """The texts of the page's <h2>..<h6> headings."""
    return [_heading_text(node) for node in tree.iter("h2", "h3", "h4", "h5", "h6")]


def _repair(text: str | None) -> str | None:
    """Undo mojibake: UTF-8 bytes a page or its CMS read as Latin-1 or Windows-1252 ("â€™"
    for "\u2019"). Text that does not round-trip to valid UTF-8 is left as it is."""
    if not text or not _MOJIBAKE.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text


def _heading_text(node: lxml_html.HtmlElement) -> str:
    """A heading's words: a line break separates words, and a <time> or a nested heading
    inside it (the date, a subtitle a broken page left inside the <h1>) is not the headline."""
    parts: list[str] = []

    def walk(element: lxml_html.HtmlElement) -> None:
        if element.text:
            parts.append(element.text)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "br":
                parts.append(" ")
            elif tag not in _NOT_HEADLINE:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(node)
    return " ".join("".join(parts).split())


def _is_masthead(
    node: lxml_html.HtmlElement, text: str, site: set[str], meta: PageMetadata, url: str
) -> bool:
    """An <h1> that is the site's logo or menu rather than the story: in a <nav>, a link to
    the home page, the site's name, or the part of the page's <title> beside the headline."""
    # a page with unclosed menu markup nests all that follows in its <nav>: an <article>
    # or <main> nearer the heading outranks it
    container = next(node.iterancestors("nav", "article", "main"), None)
    if container is not None and container.tag == "nav":
        return True
    links = [*node.iterancestors("a"), *node.iterfind(".//a")]
    if any(_is_home(a.get("href") or "", url) for a in links):
        return True
    if site and _words(text) <= site:
        return True
    name = _key(text)
    stated = [_unescape(t) or "" for t in meta.titles]
    keys = [_key(t) for t in stated]
    for title in keys:  # "Site: Headline" where another title states the headline alone
        if any(
            title in (f"{name} {other}", f"{other} {name}")
            for other in keys
            if other and other != title and not set(other.split()) <= site
        ):
            return True
    for title in stated:  # "Headline | Site"
        parts = _TITLE_SEPARATORS.split(title)
        rest = " ".join(parts[:-1])
        if len(parts) > 1 and _key(parts[-1]) == name and len(rest.split()) > len(text.split()):
            return True
    return False


def _is_home(href: str, url: str) -> bool:
    """Whether a link goes to the front page of the page's own site."""
    if not href or href.startswith("#"):
        return False
    target = urlsplit(urljoin(url, href))
    own = (urlsplit(url).hostname or "").removeprefix("www.")
    return (
        target.path in ("", "/")
        and not target.query
        and (target.hostname or "").removeprefix("www.") in (own, "")
    )


def _site_words(meta: PageMetadata, url: str = "") -> set[str]:
    """Words that name the site: its stated names and its host name (a site named
    "davidbau.com" or "Mattressnap" on mattressnap.com)."""
    words: set[str] = set()
    for name in meta.site_names or ((meta.site_name,) if meta.site_name else ()):
        words |= _words(_unescape(name) or "")
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    if host:
        words |= {host.casefold(), *host.casefold().split(".")}
    return words


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _lossy_copy(heading: str, stated: str) -> bool:
    """Whether `heading` is `stated` saved through a charset that lacked some of its
    characters, each written as "?" ("Beginner? Guide" for "Beginner's Guide" written with
    a typographic apostrophe)."""
    if "?" not in heading:
        return False
    # each "?" stands for one to three characters: the ends `stated` can be read up to, kept
    # as a set of positions (linear in the lengths; a regular expression of one gap per "?"
    # backtracks exponentially on a heading of many of them)
    text = stated.lower()
    ends = {0}
    for n, part in enumerate(re.split(r"(\?+)", heading.lower())):
        if n % 2:  # a run of k marks: k to 3k characters
            k = len(part)
            ends = {e + j for e in ends for j in range(k, 3 * k + 1) if e + j <= len(text)}
        else:
            ends = {e + len(part) for e in ends if text.startswith(part, e)}
        if not ends:
            return False
    return len(text) in ends


def _holds(heading: str, stated: str) -> bool:
    """Whether `heading` is `stated` with a tail after a separator ("Headline | Opinion",
    "Headline - Site") or a short label before a colon ("Blog: Headline")."""
    s = _key(stated)
    if not s or _key(heading) == s:
        return False
    parts = _TITLE_SEPARATORS.split(heading)
    if any(_key(" ".join(parts[:i])) == s for i in range(1, len(parts))):
        return True
    label, colon, rest = heading.partition(": ")
    return bool(colon) and len(label.split()) <= 2 and _key(rest) == s


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _overlap(heading: str, declared: str) -> float:
    h, d = _words(heading), _words(declared)
    return len(h & d) / len(h) if h else 0.0


def _declared_title(meta: PageMetadata) -> str | None:
    """The headline the page's metadata states: the first of JSON-LD headline, og:title,
    twitter:title and <title>. One cut short (another stated title goes on from where it
    stops, mid-word or with a next word rather than a " | Site" tail) gives way to the
    longer one."""
    stated = [t for t in (_unescape(x) for x in meta.titles or (meta.title,)) if t]
    if not stated:
        return None
    first = stated[0]
    cut = first.rstrip(".\u2026 ")
    for other in stated[1:]:
        if (
            len(cut.split()) >= 3
            and other.casefold().startswith(cut.casefold())
            and _CONTINUES.match(other[len(cut) :])
        ):
            return other
    return first


def _strip_site(title: str | None, site: set[str] | str | None) -> str | None:
    """The title without the site's name after or before it ("Headline | Site", "Site:
    Headline", "example.com Headline"); a tail of three words or fewer after a longer
    headline is taken for a site or section name too."""
    if not title:
        return title
    site = _words(site) if isinstance(site, str) else (site or set())
    known = site | {"the", "com"}
    title = _EDGE_SEPARATOR.sub("", title) or title
    seps = list(_TITLE_SEPARATORS.finditer(title))
    if seps:
        head, tail = title[: seps[-1].start()], title[seps[-1].end() :]
        if (site and _words(tail) <= known) or len(tail.split()) <= 3 < len(head.split()):
            return head
        head, tail = title[: seps[0].start()], title[seps[0].end() :]
        if site and _words(head) <= known:
            return tail
    for host in (name for name in site if "." in name):
        if title.casefold().startswith(host + " "):
            return title[len(host) :].strip() or title
    return title


def _unescape(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(html.unescape(html.unescape(text)).split())
    return cleaned or None


def _drop_title_line(text: str, title: str | None) -> str:
    """trafilatura keeps the headline as the body's first line; the record has it as `title`.
    The line goes too when it is the headline as printed with a kicker or a separated tail
    ("Blog: Headline", "Headline | Opinion")."""
    lines = text.strip().split("\n")
    if title and lines:
        first = " ".join(lines[0].split())
        if first.casefold() == " ".join(title.split()).casefold() or _holds(first, title):
            lines = lines[1:]
    return "\n".join(lines).strip()
