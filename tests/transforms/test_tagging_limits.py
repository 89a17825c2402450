"""Tagging on pathological input (issue 13: a megabyte of capitals kept the transform stage
busy for hours): what each part reads is capped, an article's parts stop at its time budget,
the names kept are bounded, and the entity patterns find the same names in linear time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest

import transforms.tagging as tagging
from transforms.tagging import TEXT_CHARS, TITLE_CHARS, Tagger, clip, tag_rows
from transforms.tagging.entities import MAX_NAMES, RuleEntityTagger
from transforms.tagging.topics import load_taxonomy

MEGABYTE = 1_000_000


class Recorder:
    """Stands in for every part (the entity tagger, the taxonomy and the functions the other
    parts call), recording the length of the texts each is given."""

    name = "recorder"
    digest = "0"

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: dict[str, list[int]] = {}
        for part, function, texts, result in (
            ("language", "detect", 1, ("en", 1.0)),
            ("places", "find_places", 1, ([], [])),
            ("keywords", "keywords", 2, []),
        ):
            recording = self.recording(part, texts, result)
            monkeypatch.setattr(f"transforms.tagging.{part}.{function}", recording)

    def recording(self, part: str, texts: int, result: Any) -> Any:
        def record(*args: Any) -> Any:
            self.read[part] = [len(text) for text in args[:texts]]
            return result

        return record

    def prepare(self, language: str | None) -> None:
        pass

    def people_and_organizations(self, text: str, tokens: Any = None, language: Any = None) -> Any:
        return self.recording("entities", 1, ([], []))(text)

    def match(self, title: str, text: str) -> Any:
        return self.recording("topics", 2, [])(title, text)


def test_every_part_reads_at_most_the_capped_title_and_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(monkeypatch)
    _, failed = Tagger(recorder, recorder).tag("HEADLINE " * MEGABYTE, "WORD " * MEGABYTE, "en")
    assert failed == []
    assert set(recorder.read) == {"language", "places", "entities", "topics", "keywords"}
    assert TEXT_CHARS - len("WORD ") <= recorder.read["language"][0] <= TEXT_CHARS
    for part in ("places", "entities"):  # the title and the text, flattened together
        assert recorder.read[part][0] <= TITLE_CHARS + 1 + TEXT_CHARS
    for part in ("topics", "keywords"):
        title, text = recorder.read[part]
        assert title <= TITLE_CHARS and text <= TEXT_CHARS


def test_the_caps_cut_at_whitespace_and_leave_real_articles_whole() -> None:
    article = ("The council approved the budget on Tuesday after a long debate. " * 1600)[:100_000]
    assert clip(article, TEXT_CHARS) == article  # twice the longest article body seen
    assert clip("one two three", 9) == "one two"
    assert clip("one two three", 7) == "one two"  # the cut falls on a space
    assert clip("one two\nthree", 12) == "one two"
    assert clip("A" * 20, 8) == "A" * 8  # no whitespace to cut at
    assert clip("", 8) == ""


class SlowEntities:
    """An entity tagger that takes `seconds` of a fake clock."""

    name = "slow"

    def __init__(self, clock: list[float], seconds: float, loading: float = 0.0) -> None:
        self.clock, self.seconds, self.loading = clock, seconds, loading
        self.prepared: list[str | None] = []

    def prepare(self, language: str | None) -> None:
        self.prepared.append(language)
        self.clock[0] += self.loading if len(self.prepared) == 1 else 0.0

    def people_and_organizations(self, text: str, tokens: Any = None, language: Any = None) -> Any:
        self.clock[0] += self.seconds
        return ["Anna Berg"], []


def test_the_parts_left_after_the_time_budget_are_skipped_and_counted_as_failed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    monkeypatch.setattr(tagging, "_clock", lambda: clock[0])
    text = "Belarusian troops crossed into Poland, the Kremlin said. Forecasters expect rain."
    rows: list[dict[str, Any]] = [{"title": "Storm and troops", "text": text}]
    slow = Tagger(load_taxonomy(), SlowEntities(clock, tagging.BUDGET_S + 1))
    with caplog.at_level(logging.WARNING, logger="transforms.tagging"):
        assert tag_rows(rows, slow) == 2
    row = rows[0]
    assert row["places"] == ["BY", "PL", "RU"] and row["people"] == ["Anna Berg"]
    assert row["topics"] == [] and row["tags"] == [] and row["keywords"] == []
    budget = f"over its {tagging.BUDGET_S:.1f} s budget for 'Storm and troops'"
    assert f"{budget}, skipped topics, keywords" in caplog.text

    rows = [{"title": "Storm and troops", "text": text}]
    assert tag_rows(rows, Tagger(load_taxonomy(), SlowEntities(clock, 0.5))) == 0
    assert rows[0]["keywords"]


def test_loading_a_language_model_does_not_count_against_the_article(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A pipeline loads when its language first comes, mid-run: those seconds are not the
    article's, so its parts are not skipped (a rebuild would tag it whole)."""
    clock = [100.0]
    monkeypatch.setattr(tagging, "_clock", lambda: clock[0])
    entities = SlowEntities(clock, 0.1, loading=tagging.BUDGET_S + 5)
    text = "Belarusian troops crossed into Poland, the Kremlin said. Forecasters expect rain."
    rows: list[dict[str, Any]] = [{"title": "Storm", "text": text, "language": "en"}]
    with caplog.at_level(logging.WARNING, logger="transforms.tagging"):
        assert tag_rows(rows, Tagger(load_taxonomy(), entities)) == 0
    assert entities.prepared == ["en"] and clock[0] > 100 + tagging.BUDGET_S
    assert rows[0]["keywords"] and rows[0]["people"] == ["Anna Berg"]
    assert "budget" not in caplog.text


def test_names_that_start_inside_a_word_are_still_found() -> None:
    text = (
        "Activists of the Kyiv-based Anti-Corruption Action Centre (AntAC) and the pro-Kremlin "
        "Liberal Party met officials of the ex-Soviet Union and AT&T Inc."
    )
    people, organizations = RuleEntityTagger().people_and_organizations(text)
    assert people == []
    assert organizations == [
        "Kyiv-based Anti-Corruption Action Centre",
        "Kremlin Liberal Party",
        "Soviet Union",
        "AT&T Inc",
    ]


def _letters(number: int) -> str:
    """A lower-case word for a number: 0 -> "a", 26 -> "ba"."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = chr(97 + digit) + word
        if not number:
            return word


def test_the_names_kept_are_bounded() -> None:
    text = " ".join(f"Acme{i} Bank said Tom Hale{_letters(i)}." for i in range(2 * MAX_NAMES))
    people, organizations = RuleEntityTagger().people_and_organizations(text)
    assert len(people) == len(organizations) == MAX_NAMES
    assert people[0] == "Tom Halea" and organizations[0] == "Acme0 Bank"


GUARD_S = 120  # the child takes a few seconds; with the quadratic patterns, hours
CHILD = """
import json
from transforms.tagging import get_tagger, tag_rows
from transforms.tagging.entities import RuleEntityTagger

units = ("A", "A-", "aA", "A. ", "Aa ", "AAAA (AA) ", "?!")
rows = [{"title": unit * 1_000_000, "text": unit * 1_000_000} for unit in units]
tag_rows(rows, get_tagger())
uncapped = [RuleEntityTagger().people_and_organizations(unit * 1_000_000) for unit in units[:3]]
print(json.dumps({"organizations": [row["organizations"] for row in rows], "uncapped": uncapped}))
"""


def test_a_megabyte_of_capitals_in_title_and_text_is_tagged() -> None:
    """Each row's title and text are a megabyte of one pathological unit; the entity tagger
    also reads the first three whole, past the caps. Run in a child process, so that the
    test fails instead of hanging when tagging does not finish."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=GUARD_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"tagging megabytes of capitals did not finish in {GUARD_S} s")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found == {"organizations": [[]] * 7, "uncapped": [[[], []]] * 3}
