"""htmldate's slow date parser, asked only about strings it could read.

htmldate sends a string its own patterns cannot read to dateparser, which reads it in the
first of its 205 locales that knows every word of it. The first string that no locale reads
makes dateparser compile the word lists of every locale, about 2 s of CPU in each process
(worker, Airflow task) that meets one: a tenth of a run's CPU. So a string is answered (no
date) without asking when no locale knows every word of it (sanitised as dateparser
sanitises it): every run of letters, of any length, must appear somewhere in one locale's
data (its names, skipped words, simplification and relative patterns) or among the time
zone names.

A string that some locale may read still makes dateparser go through its locales in order,
compiling each one's words to ask whether it reads the string, until one does: a German
date compiles the dozens of locales before German. So the same test is put in front of
that question, locale by locale: a locale that lacks one of the string's words is told it
does not apply, without compiling it. Strings without letters, and strings with the
letters some locales read as variants of others (Arabic and Persian forms), are left to
dateparser.

Each locale's words are a superset of what dateparser compiles from the same data, read
without compiling it (about a quarter of a second, once per process; `newsflow ingest`
does it once for all its workers). The answers are the same, without the cost.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

_LETTERS = re.compile(r"[^\W\d_]+")


def may_hold_a_date(string: str) -> bool:
    """Whether some locale of dateparser may know every word of `string` (see the module)."""
    runs = _unknown_runs(string)
    return not runs or any(runs <= words for words in _known_words()[1].values())


def may_read(locale: str, string: str) -> bool:
    """Whether the dateparser locale named `locale` (its short name) may know every word of
    `string`; True for a locale this module has no words of."""
    words = _known_words()[1].get(locale)
    return words is None or _unknown_runs(string) <= words


@functools.lru_cache(maxsize=256)
def _unknown_runs(string: str) -> frozenset[str]:
    """The runs of letters of `string`, sanitised and folded as dateparser does, that are
    not words every locale knows (time zone names, the parser's own tokens)."""
    from dateparser.date import sanitize_date  # type: ignore[import-untyped]

    text = _plain(sanitize_date(string))  # (dateparser reads it normalised)
    return frozenset({_fold(run) for run in _LETTERS.findall(text)} - _known_words()[0])


@functools.cache
def _known_words() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """(every run of letters in the time zone names and the tokens every locale's dictionary
    holds, and in each locale's data by its short name), folded as `_fold` folds a string's
    words, as written and normalised as dateparser normalises (accents and other marks
    removed). A locale that reads the variants of some letters has the words of its data
    before and after translating them."""
    from dateparser.languages.dictionary import (  # type: ignore[import-untyped]
        PARSER_KNOWN_TOKENS,
    )
    from dateparser.languages.loader import default_loader  # type: ignore[import-untyped]
    from dateparser.timezones import timezone_info_list  # type: ignore[import-untyped]
    from dateparser.utils import normalize_unicode as plain  # type: ignore[import-untyped]
    from htmldate.extractors import _fold_month_name as fold

    forms: dict[str, tuple[str, ...]] = {}  # a string's words (locales share most strings)

    def words(node: Any, found: set[str]) -> set[str]:
        if isinstance(node, str):
            if node not in forms:
                runs = _LETTERS.findall(node)
                folded = [fold(run) for run in runs]
                forms[node] = (
                    *folded,
                    *(plain(run) for run in folded),
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

    locales: dict[str, frozenset[str]] = {}
    for locale in default_loader.get_locales():
        found = words(locale.info, set())
        if locale._native is not locale:
            words(locale._native.info, found)
        locales[locale.shortname] = locales.get(locale.shortname, frozenset()) | found
    everywhere = words(timezone_info_list, set())
    everywhere |= words([token.lower() for token in PARSER_KNOWN_TOKENS], set())
    return frozenset(everywhere), locales


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
