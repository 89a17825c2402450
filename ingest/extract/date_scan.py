"""htmldate's scans of a whole page for date-like strings, in a sixth of the time.

When nothing else on a page gives a date, htmldate's extensive search serialises the page and
runs seven regular expressions over the whole of it (`\\D(...)\\D`: a date between two
non-digits), each a `findall` that tries the expression at every character: 16 ms per page of
84 KB on the benchmark's pages (measured on the 32 of 400 that reach it).

Every match of each of those expressions starts with a character that is not a digit followed
by an ASCII digit, so it can only start right before a run of ASCII digits. `findall` here
tries the expression only there (the runs are found once per page, shared by the seven), in
the order `findall` would, and after a match only from its end: the same strings in the same
order, 2.5 ms per such page instead of 16. An expression whose text is not one listed here
(another htmldate) keeps its own `findall`, so an upgrade can make this slower, never
different. `tests/ingest/extract/test_date_scan.py` compares both on written corners,
generated strings and every 20th development page of the evaluation sets.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

# htmldate 1.11.0's expressions (htmldate.core) that start with a non-digit and then an ASCII
# digit, each with one group, as `findall` gives them
DIGIT_LED = frozenset(
    {
        r"\D([0-3]?[0-9]/[0-1]?[0-9]/[0129][0-9]|[0-3][0-9]\.[01][0-9]\.[0129][0-9])\D",
        r"\D([0-3]?[0-9][/.-][0-1]?[0-9][/.-][0-9]{4})\D",
        r"\D([0-9]{4}[/.-][0-9]{2}[/.-][0-9]{2})\D",
        r"\D([0-1]?[0-9][/.-][12][0-9]{3})\D",
        r"\D([12][0-9]{3}[/.-](?:1[0-2]|0[1-9]))\D",
        r"(\D19[0-9]{2}[01][0-9][0-3][0-9]\D|\D20[0-9]{2}[01][0-9][0-3][0-9]\D)",
        r"(?<!w3.org)\D((?:199[0-9]|20[0-3][0-9]))\D",
    }
)
_RUN = re.compile(r"[0-9]+")
_last = threading.local()  # the last text's digit runs, per thread


def _run_starts(text: str) -> list[int]:
    """Where each run of ASCII digits in `text` starts (remembered for the last text: the
    seven scans of a page read the same one)."""
    cached = getattr(_last, "runs", None)
    if cached is not None and cached[0] is text:
        known: list[int] = cached[1]
        return known
    starts = [run.start() for run in _RUN.finditer(text)]
    _last.runs = (text, starts)
    return starts


class DigitLed:
    """A compiled expression of DIGIT_LED, its `findall` trying it only where it can match."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def findall(self, text: str) -> list[str]:
        match = self.pattern.match
        found = []
        at_least = 0  # where the next match may start: the end of the last
        for start in _run_starts(text):
            at = start - 1  # the non-digit before the run
            if at < at_least:
                continue
            m = match(text, at)
            if m is not None:
                found.append(m.group(1))
                at_least = m.end()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pattern, name)


def digit_led(pattern: re.Pattern[str]) -> DigitLed | None:
    """The faster stand-in for one of htmldate's expressions, if it is one of DIGIT_LED."""
    if pattern.pattern in DIGIT_LED and pattern.groups == 1 and not pattern.flags & re.VERBOSE:
        return DigitLed(pattern)
    return None


def install() -> None:
    """Give htmldate's year filter the stand-ins (once per process)."""
    import htmldate.core

    core: Any = htmldate.core
    original: Callable[..., Any] = core.plausible_year_filter
    if getattr(original, "digit_led", False):
        return
    stand_ins: dict[re.Pattern[str], DigitLed | None] = {}

    def plausible_year_filter(htmlstring: str, *, pattern: re.Pattern[str], **rest: Any) -> Any:
        if pattern not in stand_ins:
            stand_ins[pattern] = digit_led(pattern)
        return original(htmlstring, pattern=stand_ins[pattern] or pattern, **rest)

    plausible_year_filter.digit_led = True  # type: ignore[attr-defined]
    plausible_year_filter.original = original  # type: ignore[attr-defined]
    core.plausible_year_filter = plausible_year_filter
