"""The standfirst: the lead printed between the headline and the body (also called the dek,
the excerpt or the teaser).

A site profile names its excerpt by selector; for other pages `printed_lead` reads it from
the page, after the headline (the first <h1> outside navigation, asides and footers) and
before the body:

1. an element whose class or id names a lead (LEAD_WORDS: "article-lead", "c-standfirst",
   "post-excerpt", "dek", ...), not inside a link, list item or figure: a lead set apart
   by its style (`styled`);
2. else the first <h2> or <p> of lead length after the headline, when the element after it
   (or after its parent) starts with the body's first line (a lead the body lacks or
   repeats), or when it starts the body itself but stands apart: a heading, or a paragraph
   followed by the body's container. A paragraph followed by the body's second line is the
   body's own first paragraph, and the page prints no lead.

Either must read as a lead: LEAD_MIN_WORDS to LEAD_MAX_WORDS words ending a sentence, not a
"By ..." line. The page's meta description is not a printed lead (it is often written for
search engines).

ingest.extract.page keeps a profile's excerpt and an unstyled lead as the first paragraph
of the text (ingest.extract.attribution.with_lead) and any of them as the description. A
styled lead is the description only: measured on benchmarks/extraction.py, adding it to the
text lowered body precision on both evaluation sets (their articles leave such deks out),
while the leads of rule 2 left the scores level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from transforms.normalise import word_count

if TYPE_CHECKING:
    from lxml import html as lxml_html

LEAD_WORDS = frozenset(
    {
        "lead",
        "standfirst",
        "excerpt",
        "summary",
        "intro",
        "teaser",
        "dek",
        "deck",
        "subtitle",
        "subheadline",
        "strapline",
    }
)
LEAD_MIN_WORDS = 6
LEAD_MAX_WORDS = 80
REACH = 40  # elements after the headline within which the lead is looked for
ANCHOR_WORDS = 6  # words of the body's first line that find the element it comes from
_PART = re.compile(r"[a-z]+")
_OUTSIDE = frozenset({"nav", "aside", "footer"})
_NOT_IN = frozenset({"a", "li", "figure", "figcaption", "nav", "aside", "footer", "form"})
_WORD = re.compile(r"\w+")
# a sentence's end, also the ideographic one, before closing quotes and brackets
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)]*$")
_BYLINE = re.compile(r"^(?:by|von|par|por|di|door)\s", re.IGNORECASE)


@dataclass(frozen=True)
class Standfirst:
    text: str
    styled: bool  # named by its class or id (rule 1), not an <h2>/<p> of the article's flow


def printed_lead(tree: lxml_html.HtmlElement, text: str) -> Standfirst | None:
    """The standfirst printed between the headline and the body `text`, or None (see the
    module docstring)."""
    headline = next(
        (h for h in tree.iter("h1") if not any(a.tag in _OUTSIDE for a in h.iterancestors())),
        None,
    )
    # the first line of prose (not a date or a label trafilatura kept above it)
    lines = (_words(line) for line in text.split("\n"))
    first = next((w for w in lines if sum(x.isalpha() for x in w) >= 4), None)
    if headline is None or first is None:
        return None
    anchor = first[:ANCHOR_WORDS]
    for element in _following(headline):
        named = _names_lead(element)
        if not named and element.tag not in ("h2", "p"):
            continue
        if any(a.tag in _NOT_IN for a in element.iterancestors()):
            continue
        lead = _as_lead(element)
        if lead is None:  # a date, a byline, a label, or the whole body
            continue
        if named:
            return Standfirst(lead, styled=True)
        # an <h2> or <p> is the lead when the body starts right after it, or when it starts
        # the body itself and stands apart from it: a heading, or a paragraph followed by
        # the body's container; else it is the body's own first paragraph
        after = _next(element)
        if after is None:
            return None
        if _words(after.text_content())[: len(anchor)] == anchor or (
            _words(lead)[: len(anchor)] == anchor
            and (element.tag == "h2" or after.find(".//p") is not None)
        ):
            return Standfirst(lead, styled=False)
        return None
    return None


def _following(headline: lxml_html.HtmlElement) -> list[lxml_html.HtmlElement]:
    found: list[lxml_html.HtmlElement] = headline.xpath(f"following::*[position() <= {REACH}]")
    return found


def _next(node: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    """The element after `node` that prints text (its parent's, when it is the last)."""
    for _ in range(3):
        for after in node.itersiblings():
            printed = isinstance(after.tag, str) and after.tag not in ("script", "style")
            if printed and after.text_content().strip():
                return after
        parent = node.getparent()
        if parent is None:
            return None
        node = parent
    return None


def _names_lead(element: lxml_html.HtmlElement) -> bool:
    names = f"{element.get('class', '')} {element.get('id', '')}"
    for token in names.split():
        parts = _PART.findall(re.sub(r"(?<=[a-z])(?=[A-Z])", "-", token).casefold())
        if any(part in LEAD_WORDS for part in parts):
            return True
    return False


def _as_lead(element: lxml_html.HtmlElement) -> str | None:
    text = " ".join(element.text_content().split())
    if element.find(".//h1") is not None or element.find(".//script") is not None:
        return None
    if not LEAD_MIN_WORDS <= word_count(text) <= LEAD_MAX_WORDS:
        return None
    if not _SENTENCE_END.search(text) or _BYLINE.match(text):
        return None
    return text


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())
