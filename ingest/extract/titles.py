"""The headline: which of the page's headings and stated titles is the article's, with the
site's name, kickers and tails taken off and text saved in the wrong charset repaired.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from ingest.extract.metadata import PageMetadata
from transforms import provenance

if TYPE_CHECKING:
    from lxml import html as lxml_html

# what site templates put between headline and site name (the choices Yoast SEO offers)
_SEPARATOR = "(?:::|[|\u2013\u2014\\-:\u00b7\u2022\u00bb\u00ab\u22c6*~<>])"
_TITLE_SEPARATORS = re.compile(f"\\s+{_SEPARATOR}\\s+")
_LABEL_WORDS = 2  # a title's tail of this many words or fewer is a label, not a subtitle
_EDGE_SEPARATOR = re.compile(f"^\\s*{_SEPARATOR}\\s+|\\s+{_SEPARATOR}\\s*$")  # "Headline \u22c6"
# a UTF-8 lead byte read as Latin-1/Windows-1252, then a continuation byte read the same way
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
    "\u0192\u02c6\u02dc\u2013-\u2122]"
)
_CONTINUES = re.compile(r"\w|\s+[\w(\[\"'\u2018\u201c]")  # more of the same sentence
_NOT_HEADLINE = {"time", "h2", "h3", "h4", "h5", "h6", "script", "style"}


def choose_title(
    meta: PageMetadata,
    headings: list[str],
    generic: str | None,
    url: str = "",
    subheadings: Collection[str] = (),
) -> tuple[str | None, str | None]:
    """The article's headline and its layer (transforms.provenance: `heading`, else the
    layer of the stated title, `jsonld`, `meta` or `title_element`, else `trafilatura` for
    `generic`, its title); (None, None) when the page has none.

    The page's <h1> wins when it names the same story as the metadata, else the metadata
    title without a " | Site name" tail. The stated headline wins over the <h1> when the
    page also prints it as a heading of its own (the <h1> is then a banner or section
    label), and when the <h1> is the stated headline plus furniture: a kicker such as
    "Blog:" or a " | Opinion" tail."""
    declared, layer = _declared_title(meta)
    if declared is None and unescape(generic):
        declared, layer = unescape(generic), provenance.TRAFILATURA
    stated = _strip_site(declared, _site_words(meta, url), _site_names(meta, url))
    from_stated = (_repair(stated), layer if stated else None)
    if not headings:
        return from_stated
    if stated and _key(stated) in {_key(h) for h in subheadings}:
        return from_stated
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
            return from_stated
    if stated and (_holds(best, stated) or _lossy_copy(best, stated)):
        return from_stated
    # a pipe does not occur inside a headline: it sets off a tagline, section or site name
    return _repair(max(best.split(" | "), key=lambda part: len(part.split()))), provenance.HEADING


def read_headings(tree: lxml_html.HtmlElement, meta: PageMetadata, url: str = "") -> list[str]:
    """The texts of the page's <h1> elements, without the ones that are the masthead: many
    sites set their own name as an <h1> in the header on every page."""
    found: list[str] = []
    site = _site_words(meta, url)
    for node in tree.iterfind(".//h1"):
        text = unescape(_heading_text(node)) or ""
        keep = 2 <= len(text) <= 300 and text not in found
        if keep and not _is_masthead(node, text, site, meta, url):
            found.append(text)
    return found


def read_subheadings(tree: lxml_html.HtmlElement) -> list[str]:
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
    inside it (the date, a subtitle a broken page left inside the <h1>) is not the headline.

    Parts of the heading in elements of their own are not run together (see _join): a
    kicker's text ends with ": ", a block's with a space, an inline element's with a space
    where the words would otherwise run into each other ("DemoDer")."""
    tokens: list[str | _Boundary] = []

    def walk(element: lxml_html.HtmlElement) -> None:
        if element.text:
            tokens.append(element.text)
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "br":
                tokens.append(" ")
            elif tag not in _NOT_HEADLINE:
                kind = _BLOCK if tag in _BLOCKS else _INLINE
                tokens.append(kind)
                walk(child)
                tokens.append(_KICKER if _is_kicker(child) else kind)
            if child.tail:
                tokens.append(child.tail)

    walk(node)
    return " ".join(_join(tokens).split())


class _Boundary(str):
    """Where one element's text ends and another's begins, and how they are joined."""


_INLINE, _BLOCK, _KICKER = _Boundary("inline"), _Boundary("block"), _Boundary("kicker")
_STRENGTH = {_INLINE: 0, _BLOCK: 1, _KICKER: 2}
_BLOCKS = frozenset(
    {"div", "p", "header", "hgroup", "section", "article", "aside", "figure", "figcaption"}
    | {"blockquote", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr", "td", "th"}
)
# the class or id of a kicker (the line over a headline: "Blog", "Nationale Demo")
_KICKER_MARK = re.compile(
    r"kicker|dachzeile|spitzmarke|overline|eyebrow|top-?line|roof-?line|super-?title|"
    r"over-?title|pre-?title|pre-?headline",
    re.IGNORECASE,
)
_ENDS_PHRASE = (":", ".", "!", "?", "\u2026")


def _is_kicker(element: lxml_html.HtmlElement) -> bool:
    marks = f"{element.get('class') or ''} {element.get('id') or ''}"
    return bool(_KICKER_MARK.search(marks))


def _join(tokens: list[str | _Boundary]) -> str:
    """The texts of `tokens`, joined at each element boundary between two of them:

    - after a kicker, ": " (unless the kicker ends with a colon or a full stop of its own):
      the one form every kicker takes, as sites that print it inline write it ("Blog:
      Headline");
    - after a block element, a space;
    - after an inline element, a space only where two words would run together: a word of
      two letters or more or a stop, then a capital letter or a digit ("Nationale Demo" +
      "Der 9. Juli"); a capital, or a one-letter prefix, before it is part of the same
      word ("<b>T</b>he", "i<b>Phone</b>" stay whole)."""
    out = ""
    pending: _Boundary | None = None
    for token in tokens:
        if isinstance(token, _Boundary):
            if pending is None or _STRENGTH[token] > _STRENGTH[pending]:
                pending = token
            continue
        if not token.strip() or pending is None or not out.strip():
            out += token
            if token.strip():
                pending = None
            continue
        left, right = out.rstrip(), token.lstrip()
        if pending is _KICKER:
            out = left + (" " if left.endswith(_ENDS_PHRASE) else ": ") + right
        elif pending is _BLOCK or (
            out == left
            and token == right
            and (left[-1].isalnum() or left[-1] in ".,;:!?)\u2019\u201d\"'")
            and not left[-1].isupper()
            and (not left[-1].isalpha() or (len(left) > 1 and left[-2].isalnum()))
            and (right[0].isupper() or right[0].isdigit())
            and not (left[-1].isdigit() and right[0].isdigit())
        ):
            out = left + " " + right
        else:
            out += token
        pending = None
    return out


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
    stated = [unescape(t) or "" for t in meta.titles]
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
    """Words that name the site: its stated names and its host name and the host's words
    (a site named "davidbau.com" or "Mattressnap" on mattressnap.com, "Rust Blog" on
    blog.rust-lang.org)."""
    words: set[str] = set()
    for name in meta.site_names or ((meta.site_name,) if meta.site_name else ()):
        words |= _words(unescape(name) or "")
    host = (urlsplit(url).hostname or "").removeprefix("www.").casefold()
    if host:
        words |= {host, *host.split("."), *re.split(r"[.\-]", host)}  # "rust-lang": "rust"
    return words


def _site_names(meta: PageMetadata, url: str = "") -> set[str]:
    """The site's names as _fold keys: its stated names (og:site_name, JSON-LD publisher,
    application-name), its host with and without the ending, and the host's labels
    ("examplenews", "examplenewscom" for www.example-news.com)."""
    names = {_fold(unescape(n) or "") for n in (*meta.site_names, meta.site_name) if n}
    labels = [x for x in (urlsplit(url).hostname or "").casefold().split(".") if x != "www"]
    if labels:
        names |= {_fold("".join(labels)), _fold("".join(labels[:-1]))}
        names |= {_fold(label) for label in labels[:-1]}
    return names - {""}


def _fold(text: str) -> str:
    """Text compared without case, spaces or punctuation."""
    return re.sub(r"[\W_]+", "", text.casefold())


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


def _declared_title(meta: PageMetadata) -> tuple[str | None, str | None]:
    """The headline the page's metadata states, and its layer: the first of JSON-LD
    headline, og:title, twitter:title and <title>. One cut short (another stated title goes
    on from where it stops, mid-word or with a next word rather than a " | Site" tail)
    gives way to the longer one."""
    titles = meta.titles or (meta.title,)
    layers = meta.titles_from if len(meta.titles_from) == len(titles) else ()
    stated = [
        (title, layers[i] if layers else provenance.META)
        for i, raw in enumerate(titles)
        if (title := unescape(raw))
    ]
    if not stated:
        return None, None
    first = stated[0]
    cut = first[0].rstrip(".\u2026 ")
    for other in stated[1:]:
        if (
            len(cut.split()) >= 3
            and other[0].casefold().startswith(cut.casefold())
            and _CONTINUES.match(other[0][len(cut) :])
        ):
            return other
    return first


def _strip_site(
    title: str | None, site: set[str] | str | None, names: Collection[str] = ()
) -> str | None:
    """The title without the site's name after or before it ("Headline | Site", "Site:
    Headline", "example.com Headline"). A part set off by a separator is the site's name
    when its words are among the site's words (`site`: its stated names and host) or it is
    one of `names` (_site_names), compared without case and punctuation. Another tail of
    one or two words after a longer headline is a section, format or brand label ("|
    Opinion", "- Infographic", "| ACME\u00ae") and goes too; a longer one is the headline's
    own, a subtitle ("Headline - What it means for you")."""
    if not title:
        return title
    site = _words(site) if isinstance(site, str) else (site or set())
    known = site | {"the", "com"}

    def is_site(part: str) -> bool:
        return bool(site and _words(part) <= known) or _fold(part) in names

    title = _EDGE_SEPARATOR.sub("", title) or title
    seps = list(_TITLE_SEPARATORS.finditer(title))
    if seps:
        head, tail = title[: seps[-1].start()], title[seps[-1].end() :]
        if is_site(tail) or len(tail.split()) <= _LABEL_WORDS < len(head.split()):
            return head
        head, tail = title[: seps[0].start()], title[seps[0].end() :]
        if is_site(head):
            return tail
    for host in (name for name in site if "." in name):
        if title.casefold().startswith(host + " "):
            return title[len(host) :].strip() or title
    return title


def unescape(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(html.unescape(html.unescape(text)).split())
    return cleaned or None


def drop_title_line(text: str, title: str | None) -> str:
    """trafilatura keeps the headline as the body's first line; the record has it as `title`.
    The line goes too when it is the headline as printed with a kicker or a separated tail
    ("Blog: Headline", "Headline | Opinion")."""
    lines = text.strip().split("\n")
    if title and lines:
        first = " ".join(lines[0].split())
        if first.casefold() == " ".join(title.split()).casefold() or _holds(first, title):
            lines = lines[1:]
    return "\n".join(lines).strip()
