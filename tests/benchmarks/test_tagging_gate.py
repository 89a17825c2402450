"""The tagging targets, held on the project's labelled fixture sets (benchmarks/tagging.py)."""

from __future__ import annotations

from benchmarks.tagging import field_scores, language_scores


def test_language_accuracy_on_bodies_and_headlines() -> None:
    scores = language_scores()
    assert scores["languages"] >= 10
    assert scores["body"][0] >= 0.99
    assert scores["title"][0] >= 0.93


def test_places_and_topics_f1() -> None:
    scores = field_scores()
    assert scores["places"][2] >= 0.9
    assert scores["topics"][2] >= 0.8
