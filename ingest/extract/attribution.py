"""The lines around an article's body that are not its prose: an aggregator's attribution
("Source: merkur"), the editors' initials ("(as)", "(dpa/as)") and a lead printed twice.

These apply to every body, whichever layer gave it (a site profile or trafilatura), so an
aggregator in the same layout but other markup than a profile knows is read the same way.

- An attribution line among the last ATTRIBUTION_BLOCKS lines of the body leaves the text
  and names `original_source`: a label of SOURCE_LABELS, a colon, and a short name (at most
  SOURCE_WORDS words and SOURCE_CHARS characters; a URL gives its host), or a clear
  "Originally published by/in/on/at <name>" (no digits in the name, which would be a date).
  A longer line ("Source: the ministry said that …") is a sentence of the article and stays.
- An initials line ("(as)", "(dpa/as)", "(ank/dpa)") among the same last lines leaves the
  text. Initials are not people, so they are not authors; an agency among them (dpa) is
  left out too: `original_source` names the outlet an aggregator copied from, which only an
  attribution line states, not the wire service the outlet used.
- A picture's credit in the same form ("Source: Getty Images", "Quelle: picture-alliance")
  leaves the text but names no source.
- A lead printed twice at the top of the body (a standfirst repeated as the first
  paragraphs) appears once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

ATTRIBUTION_BLOCKS = 3  # attribution closes an article: only its last lines are read
SOURCE_WORDS = 6  # a source's name is a name, not a sentence
SOURCE_CHARS = 60
LEAD_BLOCKS = 4  # lines a lead may span (a two-sentence excerpt is often two paragraphs)
# "Source:" in the languages of the project's sources and their neighbours (singular and
# plural): English and French (also "Source :"), German, Spanish, Portuguese and Italian,
# Dutch, Polish, Danish and Norwegian, Swedish, Finnish, Hungarian, Czech and Slovak,
# Romanian, Turkish, Russian, Ukrainian, Croatian, Serbian and Slovene, Greek
SOURCE_LABELS = (
    "sources?",
    "quellen?",
    "fuentes?",
    "fontes?",
    "fonti",
    "bron(?:nen)?",
    "źródł[oa]",
    "kilder?",
    "käll(?:a|or)",
    "lähde",
    "lähteet",
    "forrás(?:ok)?",
    "zdroj(?:e)?",
    "surs(?:a|e)",
    "kaynak(?:lar)?",
    "источник(?:и)?",
    "джерело",
    "izvor(?:i)?",
    "πηγ(?:ή|ές)",
)
_SOURCE = re.compile(rf"^(?:{'|'.join(SOURCE_LABELS)})\s*:\s*(?P<name>\S.*?)[.;]?$", re.IGNORECASE)
_ORIGINALLY = re.compile(
    r"^(?:this (?:article|story|post|piece) )?(?:was |is )?originally "
    r"(?:published|appeared|posted) (?:by|in|on|at) (?P<name>[^\d]+?)[.;]?$",
    re.IGNORECASE,
)
# a picture's credit ("Source: Getty Images") names no outlet the article came from: the line
# leaves the text, and `original_source` stays empty
_PICTURE_CREDIT = re.compile(
    r"\b(?:images?|photos?|fotos?|bild(?:er)?|pictures?|picture-alliance|shutterstock|istock"
    r"|unsplash|pixabay|pexels|imago|wikimedia|adobe\s+stock|screenshot|grafik|graphic)\b",
    re.IGNORECASE,
)
_INITIALS = re.compile(r"^\(\s*[^\W\d_]{1,5}(?:\s*[/,]\s*[^\W\d_]{1,5}){0,3}\s*\)$")
_WORD = re.compile(r"\w+")


def source_name(line: str) -> str | None:
    """The outlet an attribution line names ("Source: merkur" gives "merkur"), or None when
    the line is not one (see the module docstring)."""
    line = " ".join(line.split())
    match = _SOURCE.match(line) or _ORIGINALLY.match(line)
    if match is None:
        return None
    name = match["name"].strip()
    if name.startswith(("http://", "https://")) and " " not in name:
        host = urlsplit(name).hostname or ""
        name = host.removeprefix("www.")
    if not name or len(name) > SOURCE_CHARS or len(name.split()) > SOURCE_WORDS:
        return None
    if ". " in name or name.endswith(("?", "!", ":")):  # more than one sentence, or a question
        return None
    return name


def is_initials(line: str) -> bool:
    """Whether the line is only editors' initials in brackets: "(as)", "(dpa/as)"."""
    return bool(_INITIALS.match(line.strip()))


def without_attribution(text: str) -> tuple[str, str | None]:
    """`text` without its trailing attribution and initials lines, and the outlet an
    attribution line names (the one nearest the article when there are several)."""
    lines = text.split("\n")
    source = None
    kept = len(lines)
    for at in range(len(lines) - 1, max(len(lines) - 1 - ATTRIBUTION_BLOCKS, -1), -1):
        line = lines[at].strip()
        if not line:
            kept = at
            continue
        if is_initials(line):
            kept = at
        elif (name := source_name(line)) is not None:
            kept = at
            if not _PICTURE_CREDIT.search(name):
                source = name
        else:
            break
    if kept == 0:  # nothing but attribution: not an article body, leave it whole
        return text, None
    return "\n".join(lines[:kept]).rstrip("\n"), source


def with_lead(text: str, lead: str | None) -> str:
    """`text` with `lead` (the standfirst printed above the body) as its first paragraph,
    once: unchanged when the text already holds it, and a lead the body repeats at its top
    appears once (see `without_repeated_lead`)."""
    text = without_repeated_lead(text)
    if not lead or not _words(lead):
        return text
    if _contains(_words(text), _words(lead)):
        return text
    return f"{' '.join(lead.split())}\n{text}" if text else " ".join(lead.split())


def without_repeated_lead(text: str) -> str:
    """`text` without a repeat of its first lines right after them: a lead (one or a few
    lines) printed again as the first paragraphs appears once."""
    lines = text.split("\n")
    for size in range(1, min(LEAD_BLOCKS, len(lines) // 2) + 1):
        head = _words(" ".join(lines[:size]))
        if not head:
            continue
        joined: list[str] = []
        for end in range(size, min(size + LEAD_BLOCKS, len(lines))):
            joined.extend(_words(lines[end]))
            if joined == head:
                return "\n".join(lines[:size] + lines[end + 1 :])
            if len(joined) >= len(head):
                break
    return text


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _contains(words: list[str], part: list[str]) -> bool:
    return f" {' '.join(part)} " in f" {' '.join(words)} "
