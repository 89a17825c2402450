"""htmldate's whole-page date scans tried only where a match can start
(ingest.extract.date_scan) give what the expressions' own findall gives."""

from __future__ import annotations

import gzip
import random
import re

import htmldate.core as core
import pytest
from lxml import html as lxml_html

from benchmarks.extraction import held_back, load_corpus
from ingest.extract import date_scan

PATTERNS = [
    p for p in vars(core).values() if isinstance(p, re.Pattern) and p.pattern in date_scan.DIGIT_LED
]

CORNERS = [
    "",
    "2024",
    "x2024-03-05y 2024-03-06/2024-03-07 12/03/2024 1/3/2024 03.12.24 20240305 x19991231x",
    "w3.org/2020/ w3.org 2021 (2022) \u0663\u0662024-01-02 2024-01-02\u0663 ©2023",
    "2024-03-05\n2024-03-06\n\n1999 2000 2030 2031 2024-13-01 2024-12 12-2024 1-2024",
    "99/99/99 00.00.00 31/12/99 1999/12/31/ a/2024/03/05/b 2024.03.05 2024--03-05",
]


NUMBERS = [
    "2024",
    "1999",
    "2031",
    "1994",
    "12",
    "03",
    "3",
    "31",
    "13",
    "00",
    "20240305",
    "19991231",
]


def _fuzz(count: int) -> list[str]:
    """Runs of 1 to 4 digits and separators: date-like strings, adjacent and overlapping."""
    rng = random.Random(15)
    separators = [*"/.-x \n\u0663//.", "w3.org/", "--", ""]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            parts.append(rng.choice(NUMBERS) if rng.random() < 0.7 else str(rng.randint(0, 9999)))
            parts.append(rng.choice(separators))
        texts.append("".join(parts))
    return texts


def _serialized_pages() -> list[str]:
    """Every 20th page of the evaluation sets' development part, serialised as htmldate
    serialises the page it searches."""
    pages = [p for p in load_corpus() if not held_back(p)][::20]
    out = []
    for page in pages:
        tree = lxml_html.fromstring(gzip.decompress(page.path.read_bytes()))
        out.append(lxml_html.tostring(tree, encoding="unicode"))
    return out


def test_the_pinned_htmldate_has_every_listed_expression() -> None:
    assert {p.pattern for p in PATTERNS} == date_scan.DIGIT_LED
    assert all(date_scan.digit_led(p) is not None for p in PATTERNS)
    assert date_scan.digit_led(core.COPYRIGHT_PATTERN) is None  # (not one that starts so)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.pattern[:30])
def test_findall_gives_the_same_strings(pattern: re.Pattern[str]) -> None:
    fast = date_scan.DigitLed(pattern)
    texts = CORNERS + _fuzz(3000)
    assert sum(bool(pattern.findall(t)) for t in texts) >= 10  # the texts reach the expression
    for text in texts:
        assert fast.findall(text) == pattern.findall(text), text


def test_real_pages_give_the_same_strings() -> None:
    pages = _serialized_pages()
    assert len(pages) > 30
    found = 0
    for text in pages:
        for pattern in PATTERNS:
            wanted = pattern.findall(text)
            assert date_scan.DigitLed(pattern).findall(text) == wanted
            found += len(wanted)
    assert found > 100


def test_installed_the_year_filter_gets_the_stand_ins_and_the_same_answers() -> None:
    from htmldate import find_date

    # (a date nowhere but in an attribute: only the search of the whole page finds it)
    page = "<html><body><p>Hello</p><div data-x='ref 12/03/2021 w3.org/2020/'>x</div></body></html>"
    date_scan.install()
    date_scan.install()  # (twice: one stand-in)
    installed = core.plausible_year_filter
    assert getattr(installed, "digit_led", False)
    assert not getattr(installed.original, "digit_led", False)  # not wrapped twice
    core.plausible_year_filter = installed.original  # htmldate's own, for the answer before
    try:
        before = find_date(page, extensive_search=True, original_date=True)
    finally:
        core.plausible_year_filter = installed
    seen = []
    original = date_scan.DigitLed.findall

    def spy(self: date_scan.DigitLed, text: str) -> list[str]:
        seen.append(self.pattern.pattern)
        return original(self, text)

    date_scan.DigitLed.findall = spy  # type: ignore[method-assign]
    try:
        after = find_date(page, extensive_search=True, original_date=True)
    finally:
        date_scan.DigitLed.findall = original  # type: ignore[method-assign]
    assert after == before == "2021-03-12"
    assert seen and set(seen) <= date_scan.DIGIT_LED
