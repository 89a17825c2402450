"""htmldate's slow date parser, asked only about strings it could read.

htmldate sends a string its own patterns cannot read to dateparser, which reads it in the
first of its 205 locales that knows every word of it, compiling each locale's word lists
(a few milliseconds to a second each) on its way there: a string no locale reads compiles
them all, about 2 s of CPU in each process (worker, Airflow task) that meets one, and a
German or Czech date the dozens of locales before it.

So dateparser's question "does this locale apply to the string?" is answered "no" without
compiling the locale when the locale lacks one of the string's words (sanitised and
normalised as dateparser reads it): every run of letters must be a word of the locale's
data (its names, skipped words and relative expressions), a word of a string its patterns
match (simplifications such as Russian ordinals, listed from the expressions' syntax
trees), a time zone name or one of the parser's own tokens. A locale that writes no spaces
between words (Japanese) may read a run of letters that is a sequence of its words. A
locale with a pattern whose matches cannot be listed (any word character, a letter
repeated without bound: Chinese, Korean, Hebrew) is always asked. Strings with the
letters some locales read as variants of others (Arabic and Persian forms) are left to
dateparser, and a string is answered (no date) without asking at all when no locale may
read it.

Each locale's words are a superset of what dateparser compiles from the same data, read
without compiling it. Reading them takes under a second, so they ship with the package
(data/date_words.json.gz, for the pinned dateparser and htmldate; regenerate it with
`.venv/bin/python -m ingest.extract.date_guard`); with other versions installed, they are
read once per process. The answers are the same, without the cost. So do the month names
htmldate reads from every locale when a string has no year (data/month_words.json.gz).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import importlib
import json
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

_LETTERS = re.compile(r"[^\W\d_]+")
# the stdlib's parser of regular expressions and its node kinds (loaded with `re`)
_SRE = importlib.import_module("re._parser")
_OP = importlib.import_module("re._constants")


@dataclass(frozen=True)
class _Words:
    """What a locale may read: its words; for a locale that writes no spaces between words
    (`unspaced`: dateparser finds its words inside runs of letters), a run of letters
    that is a sequence of its words."""

    known: frozenset[str]
    unspaced: bool = False

    def may_read(self, runs: frozenset[str]) -> bool:
        if self.unspaced:
            return all(_split_into(run, self.known) for run in runs)
        return runs <= self.known


def _split_into(run: str, words: frozenset[str]) -> bool:
    """Whether `run` is a sequence of `words`."""
    ends = {0}  # where a sequence of words read so far ends
    for start in range(len(run)):
        if start in ends:
            ends.update(stop for stop in range(start + 1, len(run) + 1) if run[start:stop] in words)
    return len(run) in ends


def may_hold_a_date(string: str) -> bool:
    """Whether some locale of dateparser may know every word of `string` (see the module)."""
    runs = _unknown_runs(string)
    return not runs or any(w is None or w.may_read(runs) for w in _known_words()[1].values())


def may_read(locale: str, string: str) -> bool:
    """Whether the dateparser locale named `locale` (its short name) may know every word of
    `string`; True for a locale this module cannot tell (none of its words, or patterns
    whose words cannot be listed)."""
    words = _known_words()[1].get(locale)
    return words is None or words.may_read(_unknown_runs(string))


@functools.lru_cache(maxsize=256)
def _unknown_runs(string: str) -> frozenset[str]:
    """The runs of letters of `string`, sanitised and folded as dateparser does, that are
    not words every locale knows (time zone names, the parser's own tokens)."""
    from dateparser.date import sanitize_date  # type: ignore[import-untyped]

    text = _plain(sanitize_date(string))  # (dateparser reads it normalised)
    return frozenset({_fold(run) for run in _LETTERS.findall(text)} - _known_words()[0])


SHIPPED = Path(__file__).parent / "data" / "date_words.json.gz"
# htmldate's month_words(): the month names of every dateparser locale, folded. Reading them
# loads all 205 locales' data, 0.15 s of CPU in each process that meets a string without a
# year or a month it knows (most workers of a run, most Airflow tasks); stored, 0.01 s
SHIPPED_MONTHS = Path(__file__).parent / "data" / "month_words.json.gz"
Known = tuple[frozenset[str], dict[str, _Words | None]]
_REPLACED: dict[str, Any] = {}  # htmldate's functions install() replaced


@functools.cache
def _known_words() -> Known:
    """The words of `_read_words`: as shipped (SHIPPED) when they were read from the
    installed versions, else read now."""
    return _shipped(SHIPPED, _versions()) or _read_words()


def _versions() -> dict[str, str]:
    """What the words depend on: dateparser's data and patterns, htmldate's folding, the
    Python version's Unicode tables and regular-expression parser."""
    return {
        "dateparser": metadata.version("dateparser"),
        "htmldate": metadata.version("htmldate"),
        "python": "{}.{}".format(*sys.version_info[:2]),
    }


def _shipped(path: Path, versions: dict[str, str]) -> Known | None:
    """The words stored in `path`, if they were read from `versions`; None otherwise (or
    when the file is missing or unreadable)."""
    try:
        stored = json.loads(gzip.decompress(path.read_bytes()))
        if stored["versions"] != versions:
            return None
        locales = {
            name: None if entry is None else _Words(frozenset(entry[0]), bool(entry[1]))
            for name, entry in stored["locales"].items()
        }
        return frozenset(stored["everywhere"]), locales
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def write_words(path: Path = SHIPPED) -> None:
    """Store the words read from the installed versions in `path` (see the module)."""
    everywhere, locales = _read_words()
    stored = {
        "versions": _versions(),
        "everywhere": sorted(everywhere),
        "locales": {
            name: None if words is None else [sorted(words.known), words.unspaced]
            for name, words in sorted(locales.items())
        },
    }
    text = json.dumps(stored, ensure_ascii=False, indent=0, sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


@functools.cache
def month_words() -> frozenset[str]:
    """What htmldate's month_words() returns: as shipped (SHIPPED_MONTHS) when read from the
    installed versions, else htmldate's own."""
    try:
        stored = json.loads(gzip.decompress(SHIPPED_MONTHS.read_bytes()))
        if stored["versions"] == _versions():
            return frozenset(stored["words"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    words: frozenset[str] = htmldate_month_words()
    return words


def htmldate_month_words() -> frozenset[str]:
    """htmldate's own month_words(), whether install() has replaced it or not."""
    import htmldate.extractors as extractors

    own: Any = _REPLACED.get("month_words", extractors.month_words)
    words: frozenset[str] = own()
    return words


def write_month_words(path: Path = SHIPPED_MONTHS) -> None:
    """Store htmldate's month words as the installed versions read them in `path`."""
    stored = {"versions": _versions(), "words": sorted(htmldate_month_words())}
    text = json.dumps(stored, ensure_ascii=False, indent=0, sort_keys=True)
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


def _read_words() -> Known:
    """(every run of letters in the time zone names and the tokens every locale's dictionary
    holds, and what each locale may read by its short name: None when it cannot be told),
    folded as `_fold` folds a string's words, as written and normalised as dateparser
    normalises (accents and other marks removed). A locale's words are the runs of letters
    of every string of its data, and of every string its patterns (simplifications,
    relative expressions) match; a locale that reads the variants of some letters has the
    words of its data before and after translating them."""
    from dateparser.languages.dictionary import (  # type: ignore[import-untyped]
        PARSER_KNOWN_TOKENS,
    )
    from dateparser.languages.loader import default_loader  # type: ignore[import-untyped]
    from dateparser.timezones import timezone_info_list  # type: ignore[import-untyped]
    from dateparser.utils import normalize_unicode as plain  # type: ignore[import-untyped]
    from dateparser_data.settings import settings  # type: ignore[import-untyped]
    from htmldate.extractors import _fold_month_name as fold

    forms: dict[str, tuple[str, ...]] = {}  # a string's words (locales share most strings)
    matched: dict[str, frozenset[str]] = {}  # the words of the strings a pattern matches
    plained: dict[str, str] = {}

    def words(node: Any, found: set[str]) -> set[str]:
        if isinstance(node, str):
            if node not in forms:
                folded = [fold(run) for run in _LETTERS.findall(node)]
                if node.isascii():  # (normalising changes nothing)
                    forms[node] = tuple(folded)
                else:
                    forms[node] = (
                        *folded,
                        *(
                            plained.get(run) or plained.setdefault(run, plain(run))
                            for run in folded
                        ),
                        # (a mark removed joins two runs)
                        *(fold(run) for run in _LETTERS.findall(plain(node))),
                    )
            found.update(forms[node])
        elif isinstance(node, dict):
            for key, value in node.items():
                words(key, found)
                words(value, found)
        elif isinstance(node, list | tuple):
            for value in node:
                words(value, found)
        return found

    locales: dict[str, _Words | None] = {}
    for locale in default_loader.get_locales():
        found: set[str] = set()
        try:
            for info in {id(i): i for i in (locale.info, locale._native.info)}.values():
                words(info, found)
                for pattern in _patterns(info):
                    if pattern not in matched:
                        matched[pattern] = frozenset(words(_matched(pattern), set()))
                    found |= matched[pattern]
        except _Unlisted:
            locales[locale.shortname] = None
            continue
        before = locales.get(locale.shortname, _Words(frozenset()))
        if before is not None:  # (a locale listed twice: an unlisted one stays unlisted)
            unspaced = str(locale.info.get("no_word_spacing", "")).lower() == "true"
            locales[locale.shortname] = _Words(before.known | found, unspaced)
    everywhere = words(timezone_info_list, set())
    known_tokens = [*PARSER_KNOWN_TOKENS, *settings.get("SKIP_TOKENS", [])]
    everywhere |= words([token.lower() for token in known_tokens], set())
    return frozenset(everywhere), locales


def _patterns(info: dict[str, Any]) -> list[str]:
    """The regular expressions of a locale's data: its simplifications' patterns and its
    relative expressions'."""
    found = [key for entry in info.get("simplifications", []) for key in entry]
    for patterns in (info.get("relative-type-regex") or {}).values():
        found.extend(patterns)
    return [p for p in found if isinstance(p, str)]


class _Unlisted(Exception):
    """A pattern whose matches cannot be listed (it may match any letter, or letters
    repeated without bound, or too many strings): its locale is always asked."""


MAX_MATCHES = 20_000  # strings listed per pattern


@functools.cache
def _matched(pattern: str) -> tuple[str, ...]:
    """Every string `pattern` matches, where a digit stands for any run of digits and a
    space for any run of white space (runs of letters are what matters); raises _Unlisted."""
    try:
        tree = _SRE.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise _Unlisted(pattern) from exc
    return tuple(_sequence(list(tree)))


def _sequence(items: list[tuple[Any, Any]]) -> set[str]:
    out = {""}
    for op, value in items:
        alternatives = _one(op, value)
        out = {a + b for a in out for b in alternatives}
        if len(out) > MAX_MATCHES:
            raise _Unlisted("too many strings")
    return out


def _one(op: Any, value: Any) -> set[str]:
    c = _OP
    if op is c.LITERAL:
        return {chr(value)}
    if op is c.IN:
        return _members(value)
    if op is c.BRANCH:
        return set().union(*(_sequence(list(branch)) for branch in value[1]))
    if op is c.SUBPATTERN:
        return _sequence(list(value[-1]))
    if op is c.ATOMIC_GROUP:
        return _sequence(list(value))
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return {""}  # (consumes nothing)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, body = value
        inner = _sequence(list(body))
        if not any(_LETTERS.search(text) for text in inner):
            return ({""} if low == 0 else set()) | inner  # (digits and spaces: any count)
        if high == c.MAXREPEAT or high > 4:
            raise _Unlisted("letters repeated without bound")
        return set().union(*(_sequence(list(body) * count) for count in range(low, high + 1)))
    raise _Unlisted(f"{op}")  # any character, a back reference, a conditional


def _members(items: list[tuple[Any, Any]]) -> set[str]:
    """The characters of a set ([...]): digits, spaces and punctuation as one of each."""
    c = _OP
    out: set[str] = set()
    for op, value in items:
        if op is c.LITERAL:
            out.add(chr(value))
        elif op is c.RANGE and value[1] - value[0] <= 64:
            out.update(chr(code) for code in range(value[0], value[1] + 1))
        elif op is c.CATEGORY and value is c.CATEGORY_DIGIT:
            out.add("0")
        elif op is c.CATEGORY and value is c.CATEGORY_SPACE:
            out.add(" ")
        elif op is c.CATEGORY and value is c.CATEGORY_NOT_WORD:
            out.add("-")
        else:  # a negated set, a wide range, letters of a category
            raise _Unlisted(f"{op} {value}")
    return out


def _fold(word: str) -> str:
    from htmldate.extractors import _fold_month_name

    return str(_fold_month_name(word))


def _plain(word: str) -> str:
    from dateparser.utils import normalize_unicode

    return str(normalize_unicode(word))


def install() -> None:
    """Put the guard in front of htmldate's call of dateparser (once per process)."""
    import htmldate.extractors as extractors

    original: Any = extractors._external_date
    if getattr(original, "guarded", False):
        return

    def guarded(string: str) -> dt.datetime | None:
        return original(string) if may_hold_a_date(string) else None

    guarded.guarded = True  # type: ignore[attr-defined]
    extractors._external_date = guarded
    _REPLACED["month_words"] = extractors.month_words
    extractors.month_words = month_words  # (has_date_cue looks it up in its module)
    _guard_locales(extractors.get_external_parser())


def _guard_locales(parser: Any) -> None:
    """Answer dateparser's question whether a locale applies to a string "no" without
    compiling the locale when it lacks one of the string's words (see the module)."""
    from dateparser.languages.locale import _VARIANT_LETTERS  # type: ignore[import-untyped]

    original = parser._is_applicable_locale

    def applicable(locale: Any, string: str, ignore_surrounding_text: bool = False) -> bool:
        if ignore_surrounding_text or _VARIANT_LETTERS.intersection(string):
            return bool(original(locale, string, ignore_surrounding_text))
        return may_read(locale.shortname, string) and bool(
            original(locale, string, ignore_surrounding_text)
        )

    parser._is_applicable_locale = applicable


if __name__ == "__main__":
    write_words()
    write_month_words()
    print(f"wrote {SHIPPED} and {SHIPPED_MONTHS}")
