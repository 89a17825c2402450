"""Dates the page prints for its reader next to the headline, and dates in the URL path.

Metadata (ingest.extract.metadata) says what the publishing software stored; the reader sees the
date printed under (or just above) the headline, usually with a label: "Published", "Posted",
"Updated", "Last modified". On pages that are revised the two differ (the stored
`datePublished` is the first draft, the printed date the current version, or the other way
round), and templates put the page's first `<time>` in a sidebar. The printed date near the
headline is the date the page stands by, so it is read here as its own layer:

- the text of the page in document order (scripts, styles, navigation and forms left out),
  the headline's position in it, and every date written in a common format (ISO, "March 3,
  2024", "3 March 2024", "Mar. 3rd 2024", "03/03/2024", "3.3.2024"; month names in English,
  German, French, Spanish, Italian, Dutch and Portuguese) and every `<time datetime>`;
- each with its label: the words just before it ("Updated", "Published on") or the
  class/id/itemprop of the element around it (`date-modified`, `datePublished`);
- a date in the URL path (/2024/03/03/, /2024-03-03-slug) is the strongest evidence of all:
  a publisher's CMS writes it once, at publication.

Dates after the fetch (or now) are never used.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from transforms import provenance

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lxml import html as lxml_html

Label = Literal["published", "updated"] | None

# month names and their usual abbreviations, in the languages of European and American news
MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar janvier enero gennaio januari janeiro jänner janv ene gen",
        "february feb februar février fevrier febrero febbraio februari fevereiro févr fev",
        "march mar märz maerz mars marzo maart março marco mrz",
        "april apr avril abril aprile avr",
        "may mai mayo maggio mei maio",
        "june jun juni juin junio giugno junho",
        "july jul juli juillet julio luglio julho juil",
        "august aug août aout agosto ago",
        "september sep sept septembre septiembre settembre setembro set",
        "october oct oktober octobre octubre ottobre oktober outubro okt",
        "november nov novembre noviembre novembro",
        "december dec dezember décembre decembre diciembre dicembre desember dezembro déc dez dic",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS.setdefault(_name, _number)
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))


def _day_re(name: str) -> str:
    return rf"(?P<{name}>[0-3]?\d)(?:st|nd|rd|th|er|º)?"


def _year_re(name: str) -> str:
    return rf"(?P<{name}>(?:19|20)\d\d)(?!\d)"


# "March 3, 2024", "Mar. 3rd 2024", "3 March 2024", "3. März 2024", "3 de marzo de 2024"
_WRITTEN = re.compile(
    rf"(?<![\w/])(?:(?P<m1>{_MONTH})\.?\s+{_day_re('d1')},?\s+(?:de\s+)?{_year_re('y1')}"
    rf"|{_day_re('d2')}\.?\s+(?:de\s+|of\s+)?(?P<m2>{_MONTH})\.?,?\s+(?:de\s+)?{_year_re('y2')})",
    re.IGNORECASE,
)
# 2024-03-03, 2024/03/03, 2024.03.03
_ISO = re.compile(
    r"(?<![\d/.-])(?P<y>(?:19|20)\d\d)(?P<s>[-/.])(?P<m>[01]?\d)(?P=s)(?P<d>[0-3]?\d)(?![\d])"
)
# 03/03/2024, 3.3.2024, 03-03-24 (two-digit years only after a label)
_NUMERIC = re.compile(
    r"(?<![\d/.-])(?P<a>[0-3]?\d)(?P<s>[/.-])(?P<b>[0-3]?\d)(?P=s)(?P<y>(?:19|20)\d\d|\d\d)"
    r"(?![\d/]|\.\d)"
)
_LABEL_WORDS = (
    r"(?P<label>(?:originally\s+|first\s+)?(?:published|posted|created|"
    r"(?:last\s+)?(?:updated|modified|reviewed)|revised|"
    r"veröffentlicht|erschienen|aktualisiert|geändert|publié|publie|mis\s+à\s+jour|modifié|"
    r"publicado|actualizado|atualizado|pubblicato|aggiornato|gepubliceerd|bijgewerkt))"
)
# a label ends right before the date: "Updated:", "Published on", "Last modified on Mon"
_LABEL = re.compile(
    _LABEL_WORDS + r"\W{0,3}(?:\s*(?:on|at|am|le|el|em|il|op|:))?\W{0,3}"
    r"(?:\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?)?\s*$",
    re.IGNORECASE,
)
_LABEL_WORD = re.compile(rf"\b{_LABEL_WORDS}\b", re.IGNORECASE)
_UPDATED_WORDS = (
    "updat",
    "modif",
    "revis",
    "review",
    "aktualis",
    "geänder",
    "mis à jour",
    "actualiz",
    "atualiz",
    "aggiorn",
    "bijgewerkt",
)
_ATTR_UPDATED = re.compile(r"modif|updat|revis", re.IGNORECASE)
_ATTR_PUBLISHED = re.compile(r"publish|pubdate|posted|created", re.IGNORECASE)
# never shown as text; (navigation, footers and buttons are not skipped: broken markup nests
# whole articles inside an unclosed <button> or <nav>)
_SKIP = {"script", "style", "noscript", "template", "svg"}
# URL path dates: /2024/03/05/, /2024/mar/05/, /20240305/, /2024-03-05-slug
_URL_DATE = re.compile(
    rf"(?<![\d])(?P<y>(?:19|20)\d\d)(?P<s>[/_-]?)(?P<m>[01]\d|{_MONTH})(?P=s)(?P<d>[0-3]\d)(?![\d])",
    re.IGNORECASE,
)


# The byline block under a headline (name, role, date, reading time) is a few lines; dates
# further down belong to the body, related links or a sidebar. A date just above the headline
# is a kicker ("March 3, 2024 · Politics"). An explicit "Published" label may close a longer
# header (standfirst, image caption, then "Published ...").
BYLINE_REACH = 300  # characters of page text after the headline
KICKER_REACH = 50  # characters before it
LABELLED_REACH = 1000  # after it, for a date labelled as the publication date
# the offsets of the world's time zones from UTC: one instant is on these days somewhere
ZONES = (dt.timedelta(hours=-12), dt.timedelta(hours=14))


@dataclass(frozen=True)
class PrintedDate:
    day: str  # YYYY-MM-DD
    label: Label  # what the words or markup around it call it
    offset: int  # characters of page text after the headline (negative: above it)
    # a full timestamp when a <time datetime> gave one, or the time of day printed next to
    # the date ("March 3, 2024, 7:20 p.m. EDT"), with its offset when the page names its zone
    stamp: str | None = None
    stamp_from: str | None = None  # its layer (transforms.provenance): time_element or byline


# a time of day printed right after a date ("March 3, 2024, 7:20 p.m. EDT", "3. März 2024,
# 14:30 Uhr", "2024-03-03 | 19:20 CEST") or right before it ("14:30, 3 March 2024")
_CLOCK = (
    r"(?<![\d.:])(?P<h>[012]?\d)(?:[:.h](?P<m>[0-5]\d))(?::(?P<s>[0-5]\d))?(?![\d.,:]\d|\d)"
    r"(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?(?:\s*(?:uhr|h)\b)?"
    r"(?:\s*\(?(?P<zone>(?-i:[A-Z]{2,5})(?![a-z])(?:\s*[+-]\s*\d{1,2}(?::?\d\d)?)?)\)?)?"
)
_TIME_AFTER = re.compile(
    r"\W{0,4}(?:(?:at|um|à|a\s+las|alle|om|às|,|-|\||\u2013|\u00b7)\s*){0,2}" + _CLOCK,
    re.IGNORECASE,
)
_TIME_BEFORE = re.compile(_CLOCK + r"\s*(?:,|\||-|\u2013|\u00b7|on|le|am)?\s*$", re.IGNORECASE)
TIME_REACH = 40  # characters after (or before) a date where its time of day may be printed


def url_day(url: str, now: dt.datetime | None = None) -> str | None:
    """The day a URL path names, when it names a whole one (year, month and day)."""
    path = unquote(urlsplit(url).path)
    for match in _URL_DATE.finditer(path):
        month = match.group("m")
        day = _day(
            int(match.group("y")),
            int(month) if month.isdigit() else MONTHS[month.lower()],
            int(match.group("d")),
            now,
        )
        if day:
            return day
    return None


def byline_date(found: list[PrintedDate]) -> PrintedDate | None:
    """The date printed with the headline: one labelled as the publication date, else an
    unlabelled one, else an "Updated" one; below the headline before above it."""
    near = [
        f
        for f in found
        if -KICKER_REACH <= f.offset <= (LABELLED_REACH if f.label == "published" else BYLINE_REACH)
    ]
    below = [f for f in near if f.offset >= 0]
    above = [f for f in reversed(near) if f.offset < 0]
    for label in ("published", None, "updated"):
        for group in (below, above):
            for f in group:
                if f.label == label:
                    return f
    return None


def same_instant(day: str, stamp: str) -> bool:
    """Whether a timestamp with a time of day falls on `day` in some time zone: a page prints
    its local day for an instant its metadata states in UTC (23:30Z is the next day in
    Berlin, 02:00Z the day before in New York)."""
    from transforms.normalise import has_time, parse_local

    instant = parse_local(stamp)
    if instant is None:
        return False
    if instant.date().isoformat() == day:
        return True
    if not has_time(stamp.strip()):
        return False  # a bare day names no instant
    utc = instant.astimezone(dt.UTC)
    earliest, latest = ((utc + shift).date().isoformat() for shift in ZONES)
    return earliest <= day <= latest


def printed_dates(
    tree: lxml_html.HtmlElement,
    language: str | None = None,
    now: dt.datetime | None = None,
    text: PageText | None = None,
) -> list[PrintedDate]:
    """The dates written in the page's visible text around the headline (the first <h1>; the
    start of the page when it has none), from KICKER_REACH before it to LABELLED_REACH
    after it, in document order, each with its label and distance from the headline.

    A <time datetime> counts once, by its machine-readable value (its printed text may be
    the same instant in another time zone, or a relative "2 days ago"). `text` is the
    page's `read_page_text`, when the caller has it already."""
    text = text or read_page_text(tree)
    if text is None:
        return []
    start_h, end_h = text.headline or (0, 0)
    low = max(0, start_h - KICKER_REACH)
    high = end_h + LABELLED_REACH
    page = text.joined()
    found: list[PrintedDate] = []
    previous_end = max(0, low - 60)
    for start, end, day in _find(page, previous_end, high, _day_first(tree, language), now):
        if start >= low and not any(a <= start < b for a, b, _ in text.times):
            before = page[max(previous_end, start - 60) : start]
            label = _text_label(before) or _attr_label(text.owner(start))
            clock = _printed_time(page, start, end, day)
            found.append(
                PrintedDate(
                    day,
                    label,
                    _distance(start, start_h, end_h),
                    clock,
                    provenance.BYLINE if clock else None,
                )
            )
        previous_end = end
    for start, end, node in text.times:
        value = (node.get("datetime") or "").strip()
        machine_day = _iso_day(value, now) if low <= start <= high else None
        if machine_day:
            label = (
                _text_label(page[max(0, start - 60) : start])
                or _text_label(page[start:end], anywhere=True)
                or _attr_label(node)
            )
            stamp = value if "T" in value or " " in value else None
            found.append(
                PrintedDate(
                    machine_day,
                    label,
                    _distance(start, start_h, end_h),
                    stamp,
                    provenance.TIME_ELEMENT if stamp else None,
                )
            )
    found.sort(key=lambda f: f.offset)
    return found


# ------------------------------------------------------------------------------ helpers


def read_page_text(tree: lxml_html.HtmlElement) -> PageText | None:
    """The visible text around the headline (see PageText); None for a page without a body."""
    body = tree.find(".//body")
    if body is None:
        return None
    text = PageText()
    text.read(body)
    return text


class PageText:
    """The visible text of a page in document order, with where its first <h1> and each
    <time datetime> sit in it and which element holds each run of text. Reading stops
    LABELLED_REACH characters after the headline: nothing further is used."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []  # offset of each text run
        self.holders: list[lxml_html.HtmlElement] = []  # the element holding each run
        self.times: list[tuple[int, int, lxml_html.HtmlElement]] = []
        self.headline: tuple[int, int] | None = None
        self.size = 0

    def read(self, body: lxml_html.HtmlElement) -> None:
        from lxml import etree

        opened: dict[lxml_html.HtmlElement, int] = {}
        walker = etree.iterwalk(body, events=("start", "end"))
        for event, node in walker:
            tag = node.tag
            if event == "start":
                if not isinstance(tag, str) or tag in _SKIP or node.get("hidden") is not None:
                    walker.skip_subtree()  # its "end" still comes, and adds its tail
                    continue
                if tag == "h1" or (tag == "time" and node.get("datetime")):
                    opened[node] = self.size
                self._add(node.text, node)
                continue
            if node in opened:
                if tag == "time":
                    self.times.append((opened.pop(node), self.size, node))
                elif self.headline is None:
                    self.headline = (opened.pop(node), self.size)
            if self.headline and self.size > self.headline[1] + LABELLED_REACH:
                break
            if node is not body:
                self._add(node.tail, node.getparent())

    def _add(self, text: str | None, holder: lxml_html.HtmlElement | None) -> None:
        if text and not text.isspace() and holder is not None:
            self.starts.append(self.size)
            self.holders.append(holder)
            self.parts.append(text)
            self.size += len(text) + 1

    def joined(self) -> str:
        return " ".join(self.parts)

    def owner(self, offset: int) -> lxml_html.HtmlElement | None:
        index = bisect.bisect_right(self.starts, offset) - 1
        return self.holders[index] if index >= 0 else None


def _printed_time(page: str, start: int, end: int, day: str) -> str | None:
    """The time of day printed next to the date at page[start:end], as an ISO timestamp on
    `day`: with its offset when a zone is named (CEST, EDT, UTC+2), else without (the
    transform reads it in the page's other offset, the source's zone or UTC)."""
    match = _TIME_AFTER.match(page, end, end + TIME_REACH)
    if match is None:
        match = _TIME_BEFORE.search(page, max(0, start - TIME_REACH), start)
    if match is None:
        return None
    hour, minute = int(match.group("h")), int(match.group("m"))
    ampm = (match.group("ampm") or "").lower()
    if ampm and not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if ampm == "p" else 0) if ampm else hour
    if hour > 23:
        return None
    stamp = f"{day}T{hour:02d}:{minute:02d}:{int(match.group('s') or 0):02d}"
    zone = (match.group("zone") or "").replace(" ", "")
    if not zone:
        return stamp
    from transforms.normalise import ZONE_ABBREVIATIONS

    named = re.fullmatch(r"([A-Z]+)(?:([+-])(\d{1,2}):?(\d\d)?)?", zone)
    if named is None or named.group(1) not in ZONE_ABBREVIATIONS:
        return stamp  # letters after the time that name no zone
    seconds = ZONE_ABBREVIATIONS[named.group(1)]
    if named.group(2):
        if named.group(1) not in ("UTC", "GMT"):
            return stamp
        shift = int(named.group(3)) * 3600 + int(named.group(4) or 0) * 60
        seconds = shift if named.group(2) == "+" else -shift
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{stamp}{sign}{hours:02d}:{rest // 60:02d}"


def _distance(start: int, headline_start: int, headline_end: int) -> int:
    """Characters after the headline's end, or (negative) before its start; 0 inside it."""
    if start >= headline_end:
        return start - headline_end
    return min(0, start - headline_start)


def _find(
    page: str, low: int, high: int, day_first: bool, now: dt.datetime | None
) -> Iterator[tuple[int, int, str]]:
    """Every date written in page[low:high] as (start, end, YYYY-MM-DD), in order; where
    two readings overlap the first wins."""
    spans: list[tuple[int, int, str]] = []
    for match in _WRITTEN.finditer(page, low, high):
        g = match.groupdict()
        month = MONTHS[(g["m1"] or g["m2"]).lower()]
        day = _day(int(g["y1"] or g["y2"]), month, int(g["d1"] or g["d2"]), now)
        if day:
            spans.append((match.start(), match.end(), day))
    for match in _ISO.finditer(page, low, high):
        day = _day(int(match.group("y")), int(match.group("m")), int(match.group("d")), now)
        if day:
            spans.append((match.start(), match.end(), day))
    for match in _NUMERIC.finditer(page, low, high):
        a, b, year = int(match.group("a")), int(match.group("b")), match.group("y")
        if len(year) == 2:
            if not _LABEL.search(page[max(0, match.start() - 40) : match.start()]):
                continue  # "3/4/25" is a date only when a label says so
            year = "20" + year
        first = match.group("s") == "." or day_first
        if a > 12 and b <= 12:
            first = True
        elif b > 12 and a <= 12:
            first = False
        day = _day(int(year), b if first else a, a if first else b, now)
        if day:
            spans.append((match.start(), match.end(), day))
    spans.sort()
    end = -1
    for span in spans:
        if span[0] >= end:  # overlapping readings of the same characters: the first wins
            yield span
            end = span[1]


def _text_label(text: str, anywhere: bool = False) -> Label:
    """The label ending `text` (words right before a date), or anywhere in it (the words
    inside a <time> element: "<time datetime=..>Updated 3 March</time>")."""
    match = (_LABEL_WORD if anywhere else _LABEL).search(text)
    if match is None:
        return None
    word = match.group("label").lower()
    return "updated" if any(w in word for w in _UPDATED_WORDS) else "published"


def _attr_label(node: lxml_html.HtmlElement | None) -> Label:
    """class, id or itemprop of the element or its two nearest ancestors."""
    for _ in range(3):
        if node is None:
            break
        attrs = " ".join(node.get(a) or "" for a in ("class", "id", "itemprop"))
        if _ATTR_UPDATED.search(attrs):
            return "updated"
        if _ATTR_PUBLISHED.search(attrs):
            return "published"
        node = node.getparent()
    return None


def _day_first(tree: lxml_html.HtmlElement, language: str | None) -> bool:
    """03/04/2024 is 3 April everywhere but in the US (and the English pages that do not say
    which English they are)."""
    lang = (tree.get("lang") or language or "").lower().replace("_", "-")
    if not lang:
        return False
    if lang.startswith("en"):
        return lang[3:5] not in ("", "us", "ph", "ca")
    return True


def _iso_day(value: str, now: dt.datetime | None) -> str | None:
    match = _ISO.search(value)
    if match is None or match.group("s") != "-":
        return None
    from transforms.normalise import local_day

    day = local_day(value.strip()) or ""
    if not day:
        return _day(int(match.group("y")), int(match.group("m")), int(match.group("d")), now)
    return _day(int(day[:4]), int(day[5:7]), int(day[8:10]), now)


def _day(year: int, month: int, day: int, now: dt.datetime | None) -> str | None:
    """A real calendar day, not after now (one day's slack for time zones ahead of UTC)."""
    try:
        value = dt.date(year, month, day)
    except ValueError:
        return None
    limit = (now or dt.datetime.now(dt.UTC)).date() + dt.timedelta(days=1)
    if value > limit or year < 1990:
        return None
    return value.isoformat()
