"""Bylines to a clean list of people: no "By", no organisations, no duplicates."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PREFIX = re.compile(
    r"^(?:(?:written|reported|posted|story|text|words|photos?)\s+)?(?:by|von|par|por|di|door|av|przez)\s*[:\-]?\s+",
    re.IGNORECASE,
)
# "and"/"und" in any case ("JOHN SMITH AND JANE DOE"); the one- and two-letter
# conjunctions (Spanish "y", Italian "e", Catalan "i", ...) only in lower case: "Sarah E
# Needleman" has a middle initial, not two authors
_SPLIT = re.compile(r"\s*(?:,|;|\||&|\b(?i:and|und)\b|\b(?:et|y|e|en|och|i)\b)\s*")
_ORG_WORDS = re.compile(
    r"\b(?:news|staff|team|desk|editorial|editors?|newsroom|media|press|agency|agencies|associated|reuters|afp|dpa|"
    r"inc|ltd|llc|gmbh|corp|company|group|online|magazine|times|post|daily|herald|tribune|gazette|journal|"
    r"wire|service|redaktion|admin|administrator|contributors?|guest|sponsored|"
    r"writer|reporter|correspondent|columnist|photographer|producer|author)\b",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(r"[@/\\]|https?:|www\.|\d")
_TRAILING_ROLE = re.compile(
    r"\s*[-\u2013\u2014,]\s*(?:senior|chief|staff|contributing|associate)?\s*(?:writer|editor|reporter|correspondent|columnist)\b.*$",
    re.IGNORECASE,
)


def clean_authors(raw: Iterable[str], organisations: Iterable[str] = ()) -> tuple[str, ...]:
    """Split bylines, strip "By …" and roles, drop organisations (and `organisations`), dedupe."""
    orgs = {o.casefold() for o in organisations if o}
    names: list[str] = []
    seen: set[str] = set()
    for byline in raw:
        if not isinstance(byline, str):
            continue
        byline = _PREFIX.sub("", " ".join(byline.split()))
        for part in _SPLIT.split(byline):
            name = _TRAILING_ROLE.sub("", _PREFIX.sub("", part)).strip(
                " .\u00b7-\u2013\u2014:()[]\"'"
            )
            key = name.casefold()
            if not name or key in seen or key in orgs or not _looks_like_person(name):
                continue
            seen.add(key)
            names.append(name)
    return tuple(names)


def _looks_like_person(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= 5 or len(name) > 60 or _NOT_A_NAME.search(name):
        return False
    if _ORG_WORDS.search(name):
        return False
    return (
        any(w[:1].isupper() for w in words)
        or (len(words) > 1 and name.islower())  # "kirstin boatto"
        or (len(words) == 1 and name.islower() and len(name) <= 4)  # initials such as "as"
    )
