"""The extraction quality gate: newsflow's scores on the public evaluation sets may not fall
below the floors pinned in benchmarks/baseline.json (a score goes down only on purpose:
re-pin with `make eval-baseline` and say why in the commit)."""

from __future__ import annotations

import json

import pytest

from benchmarks.extraction import BASELINE, EVAL, corpus_hash, evaluate, load_corpus

pytestmark = pytest.mark.eval


def test_the_evaluation_corpus_is_the_one_the_floors_were_pinned_on() -> None:
    assert EVAL.is_dir(), f"the evaluation sets are missing at {EVAL} (set NEWSFLOW_EVAL_DIR)"
    assert corpus_hash() == json.loads(BASELINE.read_text(encoding="utf-8"))["corpus_sha256"]


def test_scores_stay_at_or_above_the_pinned_floors() -> None:
    floors = json.loads(BASELINE.read_text(encoding="utf-8"))["floors"]
    scores = evaluate(["newsflow"], load_corpus(), workers=2)["newsflow"]
    below = {k: (round(scores[k], 4), v) for k, v in floors.items() if scores[k] < v}
    assert not below, f"scores below their floors (score, floor): {below}"
