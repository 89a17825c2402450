from __future__ import annotations

import datetime as dt
from typing import Any

from transforms.dedup import dedup_batch

UTC = dt.UTC


def art(aid: str, chash: str, hour: int) -> dict[str, Any]:
    return {
        "article_id": aid,
        "content_hash": chash,
        "published_at": dt.datetime(2023, 4, 6, hour, tzinfo=UTC),
        "duplicate_of": None,
    }


def test_one_row_per_canonical_url_within_a_batch_and_against_the_store() -> None:
    result = dedup_batch(
        [art("a", "h1", 1), art("a", "h1", 1), art("b", "h2", 2)],
        [{"article_id": "b", "content_hash": "h2", "duplicate_of": None}],
    )
    assert [r["article_id"] for r in result.rows] == ["a"]
    assert result.seen == 2


def test_identical_text_on_another_url_is_flagged_not_dropped() -> None:
    result = dedup_batch(
        [art("late", "same", 5), art("early", "same", 3), art("other", "diff", 4)], []
    )
    flags = {r["article_id"]: r["duplicate_of"] for r in result.rows}
    assert flags == {"early": None, "late": "early", "other": None}
    assert result.duplicates == 1 and result.seen == 0


def test_a_stored_original_wins_over_the_batch() -> None:
    stored = [{"article_id": "zz-stored", "content_hash": "same", "duplicate_of": None}]
    result = dedup_batch([art("aa-new", "same", 1)], stored)
    assert result.rows[0]["duplicate_of"] == "zz-stored"


def test_equal_times_break_ties_on_the_lowest_id() -> None:
    result = dedup_batch([art("b", "same", 1), art("a", "same", 1)], [])
    assert {r["article_id"]: r["duplicate_of"] for r in result.rows} == {"a": None, "b": "a"}
