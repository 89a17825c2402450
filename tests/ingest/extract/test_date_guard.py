"""htmldate asks dateparser only about strings it could read: the same answers, without
compiling every locale's words for a string none of them reads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ingest.extract.date_guard import install, may_hold_a_date

# (string, whether dateparser may be asked); every string dateparser is not asked about
# must be one it reads as no date
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


@pytest.mark.parametrize(("string", "asked"), STRINGS)
def test_only_a_string_that_may_be_a_date_is_asked_about(string: str, asked: bool) -> None:
    from htmldate.extractors import get_external_parser

    assert may_hold_a_date(string) is asked
    if not asked:  # the answer it stands in for
        assert get_external_parser().get_date_data(string)["date_obj"] is None


def test_the_guard_answers_as_dateparser_and_is_put_in_place_once() -> None:
    import htmldate.extractors as extractors

    install()
    guarded = extractors._external_date
    install()
    assert extractors._external_date is guarded
    assert guarded("Top 10 IT Security Best Practices for 2025") is None
    assert str(guarded("Dec. 19, 2025"))[:10] == "2025-12-19"


def test_a_page_whose_only_date_like_string_no_locale_reads_compiles_no_locale() -> None:
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
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert int(done.stdout.split()[-1]) == 0  # not 205 locales' expressions
