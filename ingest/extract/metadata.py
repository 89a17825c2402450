"""Structured page metadata: JSON-LD, OpenGraph / article:* meta, <time datetime>, canonical link.

Each value keeps the exact string the page gave (timestamps with time of day, fraction and
offset); turning strings into UTC datetimes is transforms.normalise's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lxml import html as lxml_html

from ingest.extract.webjson import web_json
from transforms.provenance import JSONLD, META, TIME_ELEMENT, TITLE_ELEMENT

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "blogposting",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "report",
    "liveblogposting",
}

PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date.issued",
    "dcterms.created",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")


@dataclass
class PageMetadata:
    published: str | None = None
    published_from: str | None = None  # jsonld | meta | time_element (transforms.provenance)
    modified: str | None = None
    modified_from: str | None = None  # jsonld | meta
    canonical: str | None = None
    title: str | None = None
    # every title the page states, in this order: JSON-LD headline, og:title, twitter:title,
    # <title>; choose_title weighs them against each other and against the page's <h1>
    titles: tuple[str, ...] = ()
    titles_from: tuple[
        str, ...
    ] = ()  # the layer of each of `titles`: jsonld | meta | title_element
    site_name: str | None = None
    site_names: tuple[str, ...] = ()  # JSON-LD publisher, og:site_name, application-name
    description: str | None = None
    authors: tuple[str, ...] = ()
    authors_from: str | None = None  # jsonld | meta
    # the names of the Organizations JSON-LD gives as the author (a news agency, the site)
    author_organisations: tuple[str, ...] = ()
    # the authors JSON-LD describes as a Person (with a profile: url, image, description...):
    # people even when they share the site's name (a personal site is named after its owner)
    people: tuple[str, ...] = ()
    language: str | None = None
    og_type: str | None = None
    schema_types: frozenset[str] = frozenset()  # every JSON-LD @type on the page, lower-cased
    # "page" when `published` stated no offset and took the one another timestamp of the
    # page states (see zoned)
    offset_from: str | None = None
    # a live blog (JSON-LD LiveBlogPosting): `published` is its first post and `modified`
    # its latest update (see _live)
    live: bool = False


# a Person node with a profile of its own; a bare {"@type": "Person", "name": <the site>} is
# what CMS templates write when an article has no author
PROFILE_KEYS = ("url", "image", "description", "sameAs", "jobTitle", "email")


def site_organisations(meta: PageMetadata, sitename: str | None) -> list[str]:
    """The site's names (the stated one and `sitename`, found elsewhere on the page): a byline
    that repeats one is the publisher, not a person, unless JSON-LD describes that author as
    a Person with a profile (`people`: a personal site named after its owner)."""
    people = {p.casefold() for p in meta.people}
    return [s for s in (meta.site_name, sitename) if s and s.casefold() not in people]


def read_metadata(tree: lxml_html.HtmlElement) -> PageMetadata:
    """Collect what the page states about itself; missing values stay None."""
    meta = PageMetadata()
    nodes = _jsonld_nodes(tree)
    _from_jsonld(nodes, meta)
    values = _meta_values(tree)
    if meta.published is None:
        for key in PUBLISHED_META:
            if values.get(key):
                meta.published, meta.published_from = values[key], META
                break
    if meta.modified is None:
        meta.modified = next((values[k] for k in MODIFIED_META if values.get(k)), None)
        meta.modified_from = META if meta.modified else None
    if meta.published is None:
        _page_dates(nodes, meta)
    if meta.published is None:
        for node in tree.iterfind(".//time[@datetime]"):
            value = (node.get("datetime") or "").strip()
            if value and (
                "pubdate" in node.attrib
                or node.get("itemprop") == "datePublished"
                or meta.published is None
            ):
                meta.published, meta.published_from = value, TIME_ELEMENT
                if "pubdate" in node.attrib or node.get("itemprop") == "datePublished":
                    break
    _zoned(meta, nodes, values, tree)
    meta.og_type = values.get("og:type")
    headline = meta.title  # from JSON-LD, when it has one
    meta.title = meta.title or values.get("og:title") or values.get("twitter:title")
    element = tree.find("./head/title")
    element = tree.find(".//title") if element is None else element
    stated = (
        (headline, JSONLD),
        (values.get("og:title"), META),
        (values.get("twitter:title"), META),
        (" ".join(element.text_content().split()) if element is not None else None, TITLE_ELEMENT),
    )
    first = dict(reversed([(t, layer) for t, layer in stated if t]))  # a title's first layer
    meta.titles = tuple(dict.fromkeys(t for t, _ in stated if t))
    meta.titles_from = tuple(first[t] for t in meta.titles)
    meta.site_name = meta.site_name or values.get("og:site_name") or values.get("application-name")
    names = (meta.site_name, values.get("og:site_name"), values.get("application-name"))
    meta.site_names = tuple(dict.fromkeys(n for n in names if n))
    meta.description = meta.description or values.get("og:description") or values.get("description")
    if meta.authors:
        meta.authors_from = JSONLD
    elif values.get("author"):
        meta.authors, meta.authors_from = (values["author"],), META
    for link in tree.iterfind(".//link[@rel][@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            meta.canonical = (link.get("href") or "").strip() or None
            break
    meta.canonical = meta.canonical or values.get("og:url")
    lang = (
        tree.get("lang")
        or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        or values.get("content-language")
    )
    if lang:
        meta.language = lang.strip().split("-")[0].split("_")[0].lower() or None
    return meta


def _zoned(
    meta: PageMetadata,
    nodes: list[tuple[dict[str, Any], set[str]]],
    values: dict[str, str],
    tree: lxml_html.HtmlElement,
) -> None:
    """Give a published (or modified) time that states no offset the one the page states:

    1. another value of the same field with an offset for the same time of day (a JSON-LD
       `datePublished` without offset and `article:published_time` with one) replaces it;
    2. else the offset of any other timestamp of the page is taken (`offset_from` "page").

    A value still without offset is read later in the source's time zone, else UTC."""
    from transforms.normalise import has_time, parse_local, states_offset

    stamps: list[tuple[str, str]] = []  # (field, value) of every timestamp the page states
    for node, _ in nodes:
        for key, field in (("datePublished", "published"), ("dateModified", "modified")):
            if isinstance(node.get(key), str):
                stamps.append((field, node[key].strip()))
    stamps += [("published", values[k]) for k in PUBLISHED_META if values.get(k)]
    stamps += [("modified", values[k]) for k in MODIFIED_META if values.get(k)]
    stamps += [
        ("published" if "pubdate" in n.attrib or n.get("itemprop") == "datePublished" else "", v)
        for n in tree.iterfind(".//time[@datetime]")
        if (v := (n.get("datetime") or "").strip())
    ]
    stated: list[tuple[str, str, dt.datetime]] = []
    for field, value in stamps:
        parsed = parse_local(value) if has_time(value) and states_offset(value) else None
        if parsed is not None:
            stated.append((field, value, parsed))
    if not stated:
        return
    for field in ("published", "modified"):
        value = getattr(meta, field)
        naive = parse_local(value) if value else None
        if naive is None or states_offset(value) or not has_time(value):
            continue
        same = next(
            (
                v
                for f, v, p in stated
                if f == field
                and p.replace(tzinfo=None, second=0, microsecond=0)
                == naive.replace(tzinfo=None, second=0, microsecond=0)
            ),
            None,
        )
        if same is not None:
            setattr(meta, field, same)
            continue
        zone = stated[0][2].tzinfo
        setattr(meta, field, naive.replace(tzinfo=zone).isoformat())
        if field == "published":
            meta.offset_from = "page"


def _meta_values(tree: lxml_html.HtmlElement) -> dict[str, str]:
    values: dict[str, str] = {}
    for node in tree.iterfind(".//meta"):
        key = (
            node.get("property")
            or node.get("name")
            or node.get("itemprop")
            or node.get("http-equiv")
        )
        content = node.get("content")
        if key and content and content.strip():
            values.setdefault(key.strip().lower(), " ".join(content.split()))
    return values


def _jsonld_nodes(tree: lxml_html.HtmlElement) -> list[tuple[dict[str, Any], set[str]]]:
    """Every JSON-LD node of the page (graphs and lists flattened) with its lower-cased
    @types, parsed once for all the readers below."""
    found = []
    for script in tree.iterfind(".//script[@type]"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = web_json(script.text)
        except ValueError:  # (not JSON, or nested too deeply: that block is left out)
            continue
        for node in _nodes(data):
            kinds = node.get("@type")
            names = {str(t).lower() for t in (kinds if isinstance(kinds, list) else [kinds]) if t}
            found.append((node, names))
    return found


def _from_jsonld(nodes: list[tuple[dict[str, Any], set[str]]], meta: PageMetadata) -> None:
    types: set[str] = set()
    article: dict[str, Any] | None = None
    for node, names in nodes:
        types |= names
        if article is None and names & ARTICLE_TYPES:
            article = node
    meta.schema_types = frozenset(types)
    if article is None:
        return
    published = article.get("datePublished")
    if isinstance(published, str) and published.strip():
        meta.published, meta.published_from = published.strip(), JSONLD
    modified = article.get("dateModified")
    if isinstance(modified, str) and modified.strip():
        meta.modified, meta.modified_from = modified.strip(), JSONLD
    if "liveblogposting" in {
        str(t).lower() for t in _listed(article.get("@type")) if isinstance(t, str)
    }:
        _live(article, meta)
    headline = article.get("headline")
    if isinstance(headline, str) and headline.strip():
        meta.title = " ".join(headline.split())
    meta.authors = tuple(_names(article.get("author")))
    meta.people = tuple(_names(article.get("author"), "Person", PROFILE_KEYS))
    meta.author_organisations = tuple(_names(article.get("author"), "Organization"))
    publisher = article.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        meta.site_name = publisher["name"].strip() or None


def _live(node: dict[str, Any], meta: PageMetadata) -> None:
    """A live blog's times: its first post (the earliest of `coverageStartTime`,
    `datePublished` and its updates' publication times) and its latest update (the latest of
    `dateModified` and its updates' times). A stated time without offset is compared as if
    in UTC; values that are not timestamps are left out."""
    from transforms.normalise import parse_timestamp

    starts: list[str] = []
    ends: list[str] = []
    for key, into in (
        ("coverageStartTime", starts),
        ("datePublished", starts),
        ("dateModified", ends),
    ):
        if isinstance(node.get(key), str) and node[key].strip():
            into.append(node[key].strip())
    for update in _listed(node.get("liveBlogUpdate")):
        if not isinstance(update, dict):
            continue
        for key in ("datePublished", "dateModified"):
            if isinstance(update.get(key), str) and update[key].strip():
                value = update[key].strip()
                starts.append(value)
                ends.append(value)
    timed = [(parsed, v) for v in starts if (parsed := parse_timestamp(v)) is not None]
    if timed:
        meta.published, meta.published_from = min(timed)[1], JSONLD
    timed = [(parsed, v) for v in ends + starts if (parsed := parse_timestamp(v)) is not None]
    if timed:
        meta.modified, meta.modified_from = max(timed)[1], JSONLD
    meta.live = True


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _page_dates(nodes: list[tuple[dict[str, Any], set[str]]], meta: PageMetadata) -> None:
    """Dates of the JSON-LD node that describes the page when no article node gave one: SEO
    plugins state `datePublished` on a WebPage (or an Article subtype such as TechArticle)
    node and leave the article node out."""
    for node, names in nodes:
        published = node.get("datePublished")
        if (
            any(n.endswith(("page", "article", "posting")) for n in names)
            and isinstance(published, str)
            and published.strip()
        ):
            meta.published, meta.published_from = published.strip(), JSONLD
            modified = node.get("dateModified")
            if meta.modified is None and isinstance(modified, str) and modified.strip():
                meta.modified, meta.modified_from = modified.strip(), JSONLD
            return


def _nodes(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [n for item in data for n in _nodes(item)]
    if isinstance(data, dict):
        found = [data]
        graph = data.get("@graph")
        if isinstance(graph, list):
            found.extend(n for item in graph for n in _nodes(item))
        return found
    return []


def _names(value: Any, only: str | None = None, having: Collection[str] = ()) -> list[str]:
    """The names of a JSON-LD `author` value, Organizations left out; with `only`, just the
    nodes of that @type (`only` "Organization": of that type or a subtype of it, such as
    NewsMediaOrganization), and with `having`, just those with one of these keys."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() and only is None else []
    if isinstance(value, dict):
        name, kind = value.get("name"), value.get("@type")
        kinds = {k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)}
        if only == "Organization":
            wanted = any(k.endswith("Organization") for k in kinds)
        else:
            wanted = "Organization" not in kinds and (only is None or only in kinds)
        wanted = wanted and (not having or any(value.get(k) for k in having))
        return [name.strip()] if isinstance(name, str) and name.strip() and wanted else []
    if isinstance(value, list):
        return [n for item in value for n in _names(item, only, having)]
    return []
