"""Tags with more attributes than any page needs, found before the page is parsed.

libxml2's HTML parser checks each attribute of a tag against the ones before it, so a tag's
parse takes time growing with the square of its attributes: 100,000 in one tag take 5.6 s,
and the 5 MB a response may have holds 800,000 (six minutes). The parse is one call into C,
which the extraction's CPU limit (ingest/extract/cpu_limit.py) cannot stop midway, so such a
page is refused before it is parsed. Real pages stay far below the limit (the 2,190 pages of
the evaluation sets: 136 attributes at most in one element)."""

from __future__ import annotations

import bisect
import re

MAX_ATTRIBUTES = 1_000  # in one tag: its parse costs under a millisecond
# pages smaller than this are not searched (about a millisecond per 200 KB): the most
# attributes they can hold, about 40,000 in one tag, parse within a second
CHECKED_FROM = 256 * 1024
# a tag long enough to hold more than MAX_ATTRIBUTES (each takes a separator and a name
# outside quotes: two characters at least). A quote opens a value only right after `=` (as
# the parser reads it: a stray quote elsewhere is a character of a name), and a quoted value
# is one step, `>` and `<` inside it included. Possessive: a search is linear in the page.
_LONG_TAG = re.compile(
    rb"""<[A-Za-z](?:=\s*+(?:"[^"]*+"|'[^']*+')?|[^<>=]){%d,}+""" % (2 * MAX_ATTRIBUTES)
)
_QUOTED = re.compile(rb"""=\s*+(?:"[^"]*+"|'[^']*+')""")  # a quoted value, with its `=`
_NAME = re.compile(rb"""[\s/]+[^\s/>=]""")  # an attribute's name, after its separator
# text the parser reads as no tags: scripts, style sheets, comments
_RAW_OPEN = re.compile(rb"<(script|style)\b|<!--", re.IGNORECASE)
_RAW_CLOSE = {
    b"script": re.compile(rb"</script", re.IGNORECASE),
    b"style": re.compile(rb"</style", re.IGNORECASE),
    None: re.compile(rb"-->"),
}


def crowded_tag(html: bytes) -> int | None:
    """The number of attributes of the first tag outside scripts, style sheets and comments
    with more than MAX_ATTRIBUTES of them; None when no tag has that many (or the page is
    smaller than CHECKED_FROM)."""
    if len(html) < CHECKED_FROM:
        return None
    candidates = list(_LONG_TAG.finditer(html))
    if not candidates:
        return None
    starts, ends = _raw_text(html)
    for match in candidates:
        at = bisect.bisect_right(starts, match.start()) - 1
        if at >= 0 and match.start() < ends[at]:
            continue  # inside a script, a style sheet or a comment
        names = len(_NAME.findall(_QUOTED.sub(b"=", match.group(0))))
        if names > MAX_ATTRIBUTES:
            return names
    return None


def _raw_text(html: bytes) -> tuple[list[int], list[int]]:
    """The (sorted, disjoint) spans of the scripts, style sheets and comments, as lists of
    starts and ends; one unclosed runs to the end."""
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    while (opened := _RAW_OPEN.search(html, at)) is not None:
        kind = opened.group(1).lower() if opened.group(1) else None
        closed = _RAW_CLOSE[kind].search(html, opened.end())
        at = closed.end() if closed is not None else len(html)
        starts.append(opened.start())
        ends.append(at)
    return starts, ends
