"""Bylines printed around the headline, for pages whose metadata names no person: an author
link (`/author/<slug>`, `rel=author`, `itemprop=author`) or a "By …" / "Written by" line.
Read from the same stretch of text as the printed dates (ingest.extract.dates.PageText)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingest.extract.dates import PageText, read_page_text

if TYPE_CHECKING:
    from lxml import html as lxml_html

BEFORE_HEADLINE = 300  # characters before the headline where a byline may sit (kicker, top)
MAX_BYLINE = 100  # a longer run of text is a sentence, not a byline
MAX_FOUND = 3
_LABEL = re.compile(
    r"^\s*(?:(?:(?:written|posted|words|story|text|reported|article)\s+)?"
    r"(?:by|von|par|por|door|av|di)\b|(?:authors?|autor(?:in|en)?|auteurs?)\s*:)\s*:?\s*(.*)$",
    re.IGNORECASE | re.DOTALL,
)
# Japanese and Korean bylines: a label before the name ("文・山田太郎", "記者 김철수") or the
# reporter's title after it ("山田太郎 記者", "김철수 기자 kim@example.kr")
_CJK_LABEL = re.compile(
    r"^\s*(?:(?:写真・)?(?:取材・)?(?:文|筆者|著者|執筆|글)\s*[・:\uff1a/\uff0f=]|(?:記者|기자)\s)|"
    r"(?:記者|特派員|編集委員|기자|특파원)(?:\s+\S+@\S+)?\s*$"
)
MAX_CJK_BYLINE = 40  # characters: a name, its title and an address
# "Photo by", "Foto von", "Medically reviewed by": a credit or a reviewer, not the author
_NOT_AUTHOR = re.compile(
    r"\b(?:photos?|fotos?|bild(?:er)?|photograph|images?|illustrations?|video|graphics?|"
    r"credits?|map|"
    r"(?:reviewed|checked|edited|illustrated|photographed)(?:\s+by)?)\W*$",
    re.IGNORECASE,
)
# where a byline line goes on to its date or section ("Ann Lee · 3 May", "Ann Lee | News")
_AFTER_NAME = re.compile(r"\s*(?:[|\u00b7\u2022\u2014]|\bon\s|\d).*$", re.DOTALL)
_AUTHOR_PATH = re.compile(
    r"/(?:authors?|contributors?|writers?|journalists?|columnists?|people|byline|"
    r"autor(?:en)?|auteurs?|redakteur(?:e|in)?)/[^/?#]+",
    re.IGNORECASE,
)
# what stands between the names of one byline: "Ann Lee, Ole Berg and Mira Lund"
_JOINS = re.compile(r"\s*(?:,|;|&|and|und|et|y|e|en|og|och|i)?\s*", re.IGNORECASE)
_CONTROLS = frozenset({"option", "select", "button", "label"})  # "Sort by Review"
_ANCESTORS = 3  # how far up from a run of text an author link or mark is looked for


def printed_bylines(tree: lxml_html.HtmlElement, text: PageText | None = None) -> list[str]:
    """The raw bylines printed near the first <h1>, in document order (at most
    MAX_FOUND); ingest.extract.authors.clean_authors turns them into names. Author links
    with only a comma or a conjunction between them are one byline ("Ann Lee, Ole Berg"). Empty when the page has
    no <h1>: without a headline there is no place where a byline is expected. `text` is the
    page's `read_page_text`, when the caller has it already."""
    text = text or read_page_text(tree)
    if text is None or text.headline is None:
        return []
    start_h, end_h = text.headline
    found: list[str] = []
    last = -1  # the run of text where the last byline (or a repeat of it) was read
    for i, offset in enumerate(text.starts):
        if offset < start_h - BEFORE_HEADLINE or start_h <= offset < end_h:
            continue
        if text.holders[i].tag in _CONTROLS or _NOT_AUTHOR.search(
            " ".join(text.parts[max(0, i - 2) : i])
        ):
            continue
        byline = _marked(text.holders[i]) or _labelled(text.parts, i)
        if not byline:
            continue
        if found and byline in found[-1].split(", "):
            last = i
        elif (
            found and (between := text.parts[last + 1 : i]) and all(map(_JOINS.fullmatch, between))
        ):
            found[-1] = f"{found[-1]}, {byline}"  # "By <a>Ann Lee</a> and <a>Ole Berg</a>"
            last = i
        elif byline not in found:
            if len(found) == MAX_FOUND:
                break
            found.append(byline)
            last = i
    return found


def _marked(holder: lxml_html.HtmlElement) -> str | None:
    """The text of an element marked as the author, or of a link to an author's page."""
    node: lxml_html.HtmlElement | None = holder
    for _ in range(_ANCESTORS):
        if node is None or not isinstance(node.tag, str):
            return None
        href = (node.get("href") or "") if node.tag == "a" else ""
        if (
            "author" in (node.get("rel") or "").lower().split()
            or (node.get("itemprop") or "").lower() == "author"
            or _AUTHOR_PATH.search(href)
        ):
            value = " ".join(node.text_content().split())
            return value if 0 < len(value) <= MAX_BYLINE else None
        node = node.getparent()
    return None


def _labelled(parts: list[str], i: int) -> str | None:
    """ "By Ann Lee", or a label on its own followed by the name in the next run of text; a
    Japanese or Korean byline whole ("文・山田太郎", "김철수 기자")."""
    run = " ".join(parts[i].split())
    if len(run) <= MAX_CJK_BYLINE and _CJK_LABEL.search(run):
        return run
    match = _LABEL.match(run)
    if not match or len(run) > MAX_BYLINE:
        return None
    rest = match.group(1)
    if not rest and i + 1 < len(parts):
        rest = " ".join(parts[i + 1].split())
        if len(rest) > MAX_BYLINE:
            return None
    name = _AFTER_NAME.sub("", rest).strip(" ,:")
    return name or None
