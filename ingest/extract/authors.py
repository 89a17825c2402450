"""Bylines to a clean list of people: no "By", no organisations, no duplicates."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from ingest.extract.dates import MONTHS

_PREFIX = re.compile(
    r"^(?:(?:written|reported|posted|story|text|words|photos?|recipe|article|post|review|"
    r"interview|column|analysis)\s+)?(?:by|von|par|por|di|door|av|przez)\s*[:\-]?\s+",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?:authors?|autor(?:in|en)?|auteurs?|byline)\s*:?\s+", re.IGNORECASE)
# "and"/"und" in any case ("JOHN SMITH AND JANE DOE"); the one- and two-letter
# conjunctions (Spanish "y", Italian "e", Catalan "i", ...) only in lower case: "Sarah E
# Needleman" has a middle initial, not two authors
_SPLIT = re.compile(r"\s*(?:,|;|\||&|\b(?i:and|und)\b|\b(?:et|y|e|en|och|i)\b)\s*")
# what follows a name in a byline widget: its date line, a reviewer, a bullet before the date
_TAIL = re.compile(
    r"\s*(?:\b(?:last\s+)?(?:updated|published|posted|modified)\b|"
    r"\b(?:medically\s+|fact[- ]?)?(?:reviewed|checked|edited)\s+by\b|[\u2022\u00b7]).*$",
    re.IGNORECASE,
)
_ORG_WORDS = re.compile(
    r"\b(?:news|staff|team|desk|editorial|editors?|newsroom|media|press|agency|agencies|associated|reuters|afp|dpa|"
    r"inc|ltd|llc|gmbh|corp|company|group|online|magazine|times|post|daily|herald|tribune|gazette|journal|"
    r"wire|service|redaktion|admin|administrator|contributors?|guest|sponsored|"
    r"writer|reporter|correspondent|columnist|photographer|producer|author)\b",
    re.IGNORECASE,
)
# job descriptions ("Ben Cole, Digital Security Expert", "Luxury Travel Expert") are never
# a name
_ROLE_WORD = re.compile(
    r"\b(?:founder|co-?founder|ceo|cto|cfo|coo|director|expert|consultant|educators?|reviewer|"
    r"editor|winemaker|specialist|strategist|manager|analyst|attorney|lawyer|bsn|phd|dvm)\b",
    re.IGNORECASE,
)
# titles and degrees that follow a first and a last name end the name there ("Mateo Haber
# Founder", "Cara Dunn RN"); those that are also surnames ("Edith Head") need both before
_ROLE_TAIL = re.compile(
    r"^(\S+\s+\S+?)\s+(?:former|founder|co-?founder|ceo|cto|cfo|coo|head|chief|lead|senior|"
    r"managing)\b.*$",
    re.IGNORECASE,
)
# degrees after a name, in any part of a byline ("Cara Dunn RN, BSN")
_DEGREE_TAIL = re.compile(
    r"^(\S+\s+\S+?)\s+(?:rn|rd|rdn|md|bsn|msn|phd|dvm|vmd|mba|cpa|cfp)\b.*$", re.IGNORECASE
)
# page furniture that trafilatura's byline search picks up
_UI_WORDS = re.compile(
    r"\b(?:view|more|all|posts|articles|stories|profile|bio|follow|subscribe|share|read|"
    r"written|by|www|com)\b",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(r"[@/\\]|https?:|www\.|\d")
_TRAILING_ROLE = re.compile(
    r"\s*[-\u2013\u2014,]\s*(?:senior|chief|staff|contributing|associate)?\s*(?:writer|editor|reporter|correspondent|columnist)\b.*$",
    re.IGNORECASE,
)
# lower-case words inside a name: "Marna van der Merwe", "Ana de la Cruz"
_PARTICLES = re.compile(
    r"van|der|den|de|del|della|la|le|da|das|dos|du|von|zu|ter|ten|bin|ibn|al|el|y|e"
)
# words of a sentence, never of a lower-case name ("the way", from "by the way")
_FUNCTION_WORDS = re.compile(
    r"the|a|an|of|to|in|on|at|for|with|from|by|our|your|my|their|his|her|its|this|that|"
    r"these|those|it|is|are|was|were|be|one|some|all|any|no|not|and|or|but|as|so"
)
# the English month names and abbreviations a byline runs into ("Luke Kim December"), but
# for those that are also names ("Theresa May", "Lee August")
_END_MONTHS = re.compile(
    r"january|february|march|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
)
_DAY = re.compile(r"\d{1,2}(?:st|nd|rd|th)?")


def clean_authors(raw: Iterable[str], organisations: Iterable[str] = ()) -> tuple[str, ...]:
    """Split bylines, strip "By …", roles and date lines, drop organisations (and
    `organisations`), dedupe. `raw` is one source's list (often one byline cut at its
    separators): a lone word next to a full name there is a title or a desk ("Ben Cole,
    Privacy"), not a second author."""
    orgs = {o.casefold() for o in organisations if o}
    parts = [
        part
        for byline in raw
        if isinstance(byline, str)
        for part in _SPLIT.split(
            _LABEL.sub("", _PREFIX.sub("", " ".join(html.unescape(byline).split())))
        )
    ]
    found = [name for i, part in enumerate(parts) if (name := _name(part, first=i == 0))]
    if any(" " in name for name in found):
        found = [name for name in found if " " in name]
    names: list[str] = []
    seen: set[str] = set()
    for name in found:
        key = name.casefold()
        if key not in seen and key not in orgs:
            seen.add(key)
            names.append(name)
    return tuple(names)


def _name(part: str, first: bool) -> str | None:
    """One part of a byline as a person's name, or None. Only the first part may carry a
    title after the name: a later part with one is that person's job title."""
    name = _DEGREE_TAIL.sub(r"\1", _TRAILING_ROLE.sub("", _TAIL.sub("", _PREFIX.sub("", part))))
    if first:
        name = _ROLE_TAIL.sub(r"\1", name)
    name = _drop_trailing_month(name.strip(" .\u00b7-\u2013\u2014:()[]\"'"))
    return name if name and _looks_like_person(name) else None


def _drop_trailing_month(name: str) -> str:
    """ "Luke Kim December 3" (the byline run into its date line) is Luke Kim."""
    words = name.split()
    if len(words) > 2 and _DAY.fullmatch(words[-1]) and words[-2].casefold() in MONTHS:
        return " ".join(words[:-2])  # a month followed by a day is a date's, in any language
    if len(words) > 1 and _END_MONTHS.fullmatch(words[-1].casefold().rstrip(".")):
        return " ".join(words[:-1])
    return name


def _looks_like_person(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= 5 or len(name) > 60 or _NOT_A_NAME.search(name):
        return False
    if _ORG_WORDS.search(name) or _ROLE_WORD.search(name) or _UI_WORDS.search(name):
        return False
    if len(words) == 1 and name.casefold().rstrip(".") in MONTHS:  # "Dec", from "Dec 3, 2025"
        return False
    if name.islower():  # "kirstin boatto"; one short word is initials, such as "as"
        if len(words) == 1:
            return len(name) <= 4
        return not any(_FUNCTION_WORDS.fullmatch(w) for w in words)  # "the way", from "by the way"
    # a name's words are capitalised, but for particles: "Personal finance" is not a name
    return all(w[:1].isupper() or not w[:1].isalpha() or _PARTICLES.fullmatch(w) for w in words)
