"""htmldate's slow date parser, asked only about strings it could read.

htmldate sends a string its own patterns cannot read to dateparser, which reads it in the
first of its 205 locales that knows every word of it. The first string that no locale reads
makes dateparser compile the word lists of every locale, about 2 s of CPU in each process
(worker, Airflow task) that meets one: a tenth of a run's CPU. So a string is answered (no
date) without asking when no locale knows every word of it (sanitised as dateparser
sanitises it): every run of letters, of any length, must appear somewhere in one locale's
data (its names, skipped words, simplification and relative patterns) or among the time
zone names.

Each locale's words are a superset of what dateparser compiles from the same data, read
without compiling it (about half a second, once per process; `newsflow ingest` does it once
for all its workers). The answers are the same, without the cost.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

_LETTERS = re.compile(r"[^\W\d_]+")


def may_hold_a_date(string: str) -> bool:
    """Whether some locale of dateparser may know every word of `string` (see the module)."""
    from dateparser.date import sanitize_date  # type: ignore[import-untyped]

    text = sanitize_date(string)
    runs = {_fold(run) for run in _LETTERS.findall(text)}
    runs |= {_plain(run) for run in runs}
    zones, locales = _known_words()
    runs -= zones
    return not runs or any(runs <= words for words in locales)


@functools.cache
def _known_words() -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
    """(every run of letters in the time zone names, and in each locale's data), folded as
    `_fold` folds a string's words, with and without accents (dateparser normalises)."""
    from dateparser.languages.loader import default_loader  # type: ignore[import-untyped]
    from dateparser.timezones import timezone_info_list  # type: ignore[import-untyped]

    def words(node: Any, found: set[str]) -> set[str]:
        if isinstance(node, str):
            for run in _LETTERS.findall(node):
                found.add(_fold(run))
                found.add(_plain(_fold(run)))
        elif isinstance(node, dict):
            for key, value in node.items():
                words(key, found)
                words(value, found)
        elif isinstance(node, list | tuple):
            for value in node:
                words(value, found)
        return found

    locales = tuple(frozenset(words(locale.info, set())) for locale in default_loader.get_locales())
    return frozenset(words(timezone_info_list, set())), locales


def _fold(word: str) -> str:
    from htmldate.extractors import _fold_month_name

    return str(_fold_month_name(word))


def _plain(word: str) -> str:
    from dateparser.utils import normalize_unicode  # type: ignore[import-untyped]

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
