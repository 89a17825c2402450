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


def test_people_precision_first_by_rules_and_recall_with_the_model() -> None:
    rules = field_scores("rules")
    assert rules["people"][0] >= 0.85  # precision first: no lone famous surnames, whole names
    model = field_scores()  # the installed English pipeline (ner-models.txt)
    assert model["people"][2] >= 0.85 and model["people"][2] > rules["people"][2]
    assert model["organizations"][2] >= rules["organizations"][2]
