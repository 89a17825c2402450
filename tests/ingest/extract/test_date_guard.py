"""htmldate asks dateparser only about strings it could read: the same answers, without
compiling every locale's words for a string none of them reads."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.extract.date_guard import install, may_hold_a_date

# (string, whether some locale whose words are known may read it); a string no such locale
# may read is asked only of the locales whose patterns cannot be listed, and it must be one
# dateparser reads as no date
STRINGS = [
    ("Top 10 IT Security Best Practices for 2025", False),  # words no locale knows
    ("Lenovo IdeaPad 5 Gaming Chromebook (2022", False),
    ("67 Reviews 4.7 out of 5", False),
    ("2 of 3 items", False),
    ("12 de 2024", True),  # (dateparser reads it as 12 December 2024)
    ("Dec. 19, 2025", True),
    ("Thu, 09/25/2025 - 00:00", True),
    ("Posted on: 25 Sep 2025", True),  # (dateparser drops what comes before "on:")
    ("15 Октомври 2020", True),
    ("25. září 2025", True),
    ("Mise à jour le 3 mars 2024", False),  # ("mise" is in no locale's words)
    ("le 3 mars 2024", True),
    ("20240325", True),
]


@pytest.mark.parametrize(("string", "readable"), STRINGS)
def test_a_string_is_asked_only_of_the_locales_that_may_read_it(
    string: str, readable: bool
) -> None:
    from htmldate.extractors import get_external_parser

    from ingest.extract.date_guard import _known_words, may_read

    locales = _known_words()[1]
    unlisted = {name for name, words in locales.items() if words is None}
    assert {"zh", "ko", "he"} <= unlisted and len(unlisted) <= 8
    asked = {name for name in locales if may_read(name, string)}
    answer = get_external_parser.__wrapped__().get_date_data(string)  # (unguarded)
    assert (asked != unlisted) is readable
    assert may_hold_a_date(string)  # (some locale cannot be told)
    if readable:
        assert answer["locale"] in {*asked, None}  # (None: digits read without a locale)
    else:
        assert answer["date_obj"] is None


def test_the_guard_answers_as_dateparser_and_is_put_in_place_once() -> None:
    import htmldate.extractors as extractors

    install()
    guarded = extractors._external_date
    install()
    assert extractors._external_date is guarded
    assert guarded("Top 10 IT Security Best Practices for 2025") is None
    assert str(guarded("Dec. 19, 2025"))[:10] == "2025-12-19"


def test_a_page_whose_only_date_like_string_no_locale_reads_compiles_few_locales() -> None:
    # in a fresh process: dateparser's compiled word lists are per process
    script = textwrap.dedent(
        """
        from dateparser.languages.dictionary import Dictionary
        from ingest.extract.page import extract_page

        body = "".join(f"<p>Paragraph {n} of a long report on the harbour.</p>" for n in range(8))
        page = (
            "<html><head><title>Review</title></head><body><article><h1>Review</h1>"
            "<div class='rank'>Top 10 IT Security Best Practices for 2025</div>"
            + body + "</article></body></html>"
        )
        extract_page(page.encode(), "https://n.example/review")
        print(sum(len(v) for v in Dictionary._split_regex_cache.values()))
        from ingest.extract.date_guard import _known_words
        print(sum(words is None for words in _known_words()[1].values()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    compiled, unlisted = map(int, done.stdout.split()[-2:])
    assert compiled <= unlisted <= 8  # those whose patterns cannot be listed, not 205


def _month_and_day_names() -> list[str]:
    """Dates written with a month's or a weekday's name of every locale (its first
    spelling), one with a time of day and a zone: words each of the locales knows."""
    from dateparser.languages.loader import default_loader

    strings = set()
    for locale in default_loader.get_locales():
        for key, form in (("march", "12 {} 2024"), ("friday", "{} 3 May, 2021 10:30 pm UTC")):
            for name in [n for n in locale.info.get(key, []) if isinstance(n, str)][:1]:
                strings.add(form.format(name))
    return sorted(strings)


def test_a_locale_is_asked_only_when_it_may_read_the_string_with_the_same_answers() -> None:
    """The guarded parser answers as a parser without the guard (the date and the locale
    that read it) for dates in every locale's words, while it compiles only the locales
    that know a string's words."""
    import htmldate.extractors as extractors

    from ingest.extract.date_guard import may_read

    plain = extractors.get_external_parser.__wrapped__()  # (a new parser, unguarded)
    install()
    guarded = extractors.get_external_parser()
    assert guarded is not plain
    strings = _month_and_day_names()
    assert len(strings) > 250
    strings += [
        "12.03.2024T10:30",  # the parser's skip token "t"
        "12 mar 2024 T 10:30",
        "первое марта 2024",  # words the simplification patterns match (Russian ordinals)
        "двадцать первое марта 2024",
        "12. března 2024 o půlnoci",
        "2024年3月12日午後3時",  # no spaces between words: a sequence of words
        "2024年3月12日火曜日",
        "2024年3月12日星期二",  # (a locale whose patterns cannot be listed: always asked)
    ]
    for string in strings:
        mine, theirs = guarded.get_date_data(string), plain.get_date_data(string)
        assert (mine["date_obj"], mine["locale"]) == (theirs["date_obj"], theirs["locale"]), string
    assert may_read("cs", "25. září 2025") and not may_read("en", "25. září 2025")
    assert may_read("tr", "Sal\u0131, 3 Mart 2020")  # (a dotless i)
    assert may_read("en", "3 March 2024 10:30 pm GMT")  # the parser's own tokens and zones
    assert may_read("xx-unknown", "anything")  # a locale without words here: asked
    assert may_read("ru", "первое марта 2024") and may_read("ja", "2024年3月12日午後3時")
    assert not may_read("ja", "Top 10 IT Security Best Practices for 2025")


def test_a_date_of_a_late_locale_compiles_only_the_locales_that_may_read_it() -> None:
    script = textwrap.dedent(
        """
        from dateparser.languages.dictionary import Dictionary
        import htmldate.extractors as extractors
        from ingest.extract.date_guard import install

        install()
        found = extractors._external_date("25. září 2025")
        print(found.date(), sum(len(v) for v in Dictionary._split_regex_cache.values()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    day, compiled = done.stdout.split()
    assert day == "2025-09-25"
    assert 1 <= int(compiled) <= 5  # Czech (and any locale with all its words), not ~40


def test_the_shipped_words_are_those_read_from_the_installed_versions(tmp_path: Path) -> None:
    """The package ships the words it would read (regenerate: python -m
    ingest.extract.date_guard); words of other versions are read again, not used."""
    from ingest.extract import date_guard

    read = date_guard._read_words()
    assert date_guard._shipped(date_guard.SHIPPED, date_guard._versions()) == read
    date_guard.write_words(tmp_path / "words.json.gz")
    assert (tmp_path / "words.json.gz").read_bytes() == date_guard.SHIPPED.read_bytes()
    other = {**date_guard._versions(), "dateparser": "0.0.1"}
    assert date_guard._shipped(date_guard.SHIPPED, other) is None
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    assert date_guard._shipped(tmp_path / "bad.json.gz", date_guard._versions()) is None
    assert date_guard._shipped(tmp_path / "missing.json.gz", date_guard._versions()) is None


def test_the_shipped_month_names_are_htmldates_own(tmp_path: Path) -> None:
    import htmldate.extractors as extractors

    from ingest.extract import date_guard

    date_guard.install()
    assert extractors.month_words is date_guard.month_words  # (what has_date_cue calls)
    own = date_guard.htmldate_month_words()
    assert len(own) > 1000 and "janvier" in own and "september" in own
    assert date_guard.month_words() == own
    date_guard.write_month_words(tmp_path / "months.json.gz")
    assert (tmp_path / "months.json.gz").read_bytes() == date_guard.SHIPPED_MONTHS.read_bytes()
    bounds = (dt.datetime(1995, 1, 1), dt.datetime(2030, 1, 1))  # noqa: DTZ001 - htmldate's
    assert extractors.has_date_cue("le 3 janvier", *bounds)
    assert not extractors.has_date_cue("le 3 bonjour", *bounds)
