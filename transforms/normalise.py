"""Normalisation of extracted values: timestamps to UTC, whitespace, hashes (URLs: transforms/urls.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata

_BLANKS = re.compile(r"\n\s*\n+")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WORD = re.compile(r"\w+")
# Short lines that sites wrap around a republished article: attribution, prompts to read,
# share, follow or subscribe, copyright. Only whole short lines match, never article prose.
BOILERPLATE_MAX_WORDS = 12
BOILERPLATE_LINE = re.compile(
    r"\s*(?:(?:sources?|quelle|fuente|via|photo|image|picture)\s*:"
    r"|(?:read (?:more|also|next)|see also|related(?: articles?| stories)?|more on this|also read"
    r"|follow us|sign up|subscribe|share (?:this|on)|click here|advertisement|copyright"
    r"|all rights reserved)\b|\(c\)|©)",
    re.IGNORECASE,
)


# Time-zone abbreviations written in dates ("19:20:36 CEST 2023"), as seconds east of UTC.
# Ambiguous ones take the reading news pages mean most: IST India, CST North America.
ZONE_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 3600, "BST": 3600,
    "CET": 3600, "CEST": 7200, "MEZ": 3600, "MESZ": 7200,
    "EET": 7200, "EEST": 10800, "MSK": 10800, "TRT": 10800,
    "EST": -18000, "EDT": -14400, "CST": -21600, "CDT": -18000,
    "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
    "AKST": -32400, "AKDT": -28800, "HST": -36000,
    "IST": 19800, "PKT": 18000, "ICT": 25200, "WIB": 25200, "HKT": 28800, "SGT": 28800,
    "AWST": 28800, "JST": 32400, "KST": 32400, "ACST": 34200, "ACDT": 37800,
    "AEST": 36000, "AEDT": 39600, "NZST": 43200, "NZDT": 46800,
    "WAT": 3600, "CAT": 7200, "SAST": 7200, "EAT": 10800,
}  # fmt: skip


def parse_timestamp(
    value: str | dt.datetime | None, zone: dt.tzinfo | None = None
) -> dt.datetime | None:
    """An ISO-8601 (or RFC 2822, or other common written) timestamp as an aware UTC datetime;
    a value that states no offset is read in `zone` (UTC when None). Returns None for values
    that are not timestamps. Sub-second precision is kept.
    """
    parsed = parse_local(value, zone)
    return None if parsed is None else parsed.astimezone(dt.UTC)


_TIME_OF_DAY = re.compile(r"\d[T ]\d")


def has_time(value: object) -> bool:
    """Whether a timestamp string has a time of day ("2024-03-03T19:20"); a bare day
    ("2024-03-03") names no instant, and takes no offset."""
    return isinstance(value, str) and _TIME_OF_DAY.search(value) is not None


def states_offset(value: str | dt.datetime | None) -> bool:
    """Whether a timestamp states its offset from UTC (or a zone's name)."""
    if isinstance(value, dt.datetime):
        return value.tzinfo is not None
    parsed = _parse_text(value.strip()) if value else None
    return parsed is not None and parsed.tzinfo is not None


# No news page was published before the first years of the web, nor will be by this year: a
# date outside is a placeholder (0001-01-01, the Unix epoch) or a misread number.
EARLIEST_YEAR, LATEST_YEAR = 1990, 2100


def parse_local(
    value: str | dt.datetime | None, zone: dt.tzinfo | None = None
) -> dt.datetime | None:
    """Like parse_timestamp, but in the offset the value states (`zone` when it states none,
    UTC without one). None for a year outside [EARLIEST_YEAR, LATEST_YEAR): not a time a
    page can mean (and year 1 or 9999 in an offset could not even be shifted to UTC)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed: dt.datetime | None = value
    else:
        parsed = _parse_text(value.strip())
    if parsed is None or not EARLIEST_YEAR <= parsed.year < LATEST_YEAR:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone or dt.UTC)


def local_day(value: str | None) -> str | None:
    """The calendar day a timestamp names in its own offset (YYYY-MM-DD), or None."""
    parsed = parse_local(value)
    return parsed.date().isoformat() if parsed is not None else None


def _parse_text(text: str) -> dt.datetime | None:
    if not text or len(text) > 64:
        return None
    if _DATE_ONLY.match(text):
        text += "T00:00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        mailed = parsedate_to_datetime(text)
        # a zone name the mail format does not know ("CEST") leaves it naive: read on
        if mailed.tzinfo is not None or not _named_zone(text):
            return mailed
    except (TypeError, ValueError, IndexError):
        pass
    if not re.search(r"\d{4}", text):
        return None  # a four-digit year or nothing: "05/06" or "yesterday" are not dates here
    import warnings

    from dateutil import parser as date_parser

    try:
        with warnings.catch_warnings():  # an unknown zone name: the value states no offset
            warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
            parsed = date_parser.parse(
                text,
                default=dt.datetime(1970, 1, 1),  # noqa: DTZ001 - no zone stated: stays naive
                tzinfos=ZONE_ABBREVIATIONS,
            )
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.year >= 1990 else None


def _named_zone(text: str) -> bool:
    return any(word in ZONE_ABBREVIATIONS for word in re.findall(r"\b[A-Z]{1,5}\b", text))


# Invisible controls that change how text displays or breaks, never what it says: bidi marks,
# embeddings, overrides and isolates (a title can be made to read backwards), zero-width
# spaces, word joiners, byte-order marks. ZWNJ and ZWJ stay: Persian and Indic spelling and
# emoji sequences need them.
_INVISIBLE = dict.fromkeys(
    [
        *(0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0xFEFF),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x206A),
    ]
)
_HAS_INVISIBLE = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE) + "]")


def clean_text(text: str | None) -> str:
    """Unicode NFC without invisible controls, spaces collapsed within lines, paragraphs
    separated by one newline."""
    if not text:
        return ""
    if _HAS_INVISIBLE.search(text) is not None:  # (rare; translate reads a text slowly)
        text = text.translate(_INVISIBLE)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # a line's runs of whitespace collapsed to one space, its ends stripped: str.split
    # reads a line three times faster than a regular expression
    lines = (" ".join(line.split()) for line in _BLANKS.sub("\n", text).split("\n"))
    return "\n".join(line for line in lines if line)


def clean_line(text: str | None) -> str | None:
    """A single-line field (title, description, name): NFC without invisible controls,
    whitespace collapsed; None when empty."""
    if text is None:
        return None
    cleaned = " ".join(unicodedata.normalize("NFC", text.translate(_INVISIBLE)).split())
    return cleaned or None


def comparable_text(text: str) -> str:
    """The text two copies of one article share, whatever site printed them: boilerplate
    lines dropped (see BOILERPLATE_LINE), NFKC, case-folded. Its words (\\w+ runs) are what
    copies are compared by: sites differ in quotes, dashes and line breaks, not in words."""
    kept = (line for line in text.split("\n") if not _is_boilerplate(line))
    return unicodedata.normalize("NFKC", "\n".join(kept)).casefold()


def comparable_tokens(text: str) -> list[str]:
    return _WORD.findall(comparable_text(text))


def content_hash(text: str) -> str:
    """SHA-256 of the article's comparable words: equal for exact copies across sites."""
    return hashlib.sha256(" ".join(comparable_tokens(text)).encode("utf-8")).hexdigest()


def _is_boilerplate(line: str) -> bool:
    return BOILERPLATE_LINE.match(line) is not None and len(line.split()) <= BOILERPLATE_MAX_WORDS


# scripts written without spaces between words, where each character counts as a word
# (a Chinese word is one to two characters, a Japanese one a few): Han, kana, their
# half-width and compatibility forms; Hangul is written with spaces and counts by them
UNSPACED_RANGES = (  # first and last code point of each block
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x2FA1F),  # CJK extensions B to F, compatibility supplement
)
_UNSPACED = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in UNSPACED_RANGES) + "]")


# Thai (and Lao, written the same way) puts no spaces between words, and its words are
# several characters long: a dictionary tokenizer splits them (pythainlp's newmm)
THAI_RANGES = ((0x0E00, 0x0E7F), (0x0E80, 0x0EFF))  # Thai, Lao
_NOT_ALNUM = re.compile(r"[^\w\s]|_")  # neither a letter or digit (str.isalnum) nor a space
_THAI = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in THAI_RANGES) + "]+")
# a character that may be Thai, Lao or unspaced: any but those below the Thai block and those
# between the Lao block and the first unspaced one. Most texts have none, and a search for
# this negated class reads a text about five times faster than one for the two sets above.
_MAYBE_UNSPACED = re.compile(
    f"[^\\x00-{chr(THAI_RANGES[0][0] - 1)}"
    f"{chr(THAI_RANGES[-1][1] + 1)}-{chr(UNSPACED_RANGES[0][0] - 1)}]"
)


def clip(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters, else its start cut at the last whitespace
    within `limit` (at `limit` itself when there is none)."""
    if len(text) <= limit or text[limit].isspace():
        return text[:limit]
    cut = text[:limit]
    end = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return cut[:end] if end > 0 else cut


def word_count(text: str) -> int:
    """Words of `text`: whitespace-separated runs, with every Chinese or Japanese character
    one word (those scripts put no spaces between words) and runs of Thai split into words
    by a dictionary tokenizer."""
    if _MAYBE_UNSPACED.search(text) is None:
        return len(text.split())
    thai = _THAI.findall(text)
    if thai:
        return sum(_thai_words(run) for run in thai) + word_count(_THAI.sub(" ", text))
    unspaced = len(_UNSPACED.findall(text))
    if not unspaced:
        return len(text.split())
    # what is left between the characters: words of other scripts (runs with a letter or a
    # digit), and punctuation ("。"), which is not counted
    return unspaced + len(_NOT_ALNUM.sub("", _UNSPACED.sub(" ", text)).split())


def _thai_words(run: str) -> int:
    """Words in a run of Thai letters (the tokenizer's dictionary loads on first use, once
    per process; it reads its bundled data only, never the network or the home folder)."""
    import os

    os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
    from pythainlp.tokenize import word_tokenize

    return sum(1 for word in word_tokenize(run, engine="newmm", keep_whitespace=False) if word)
