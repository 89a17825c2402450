"""Exact deduplication of a batch of new articles against itself and the stored dataset.

- One row per canonical URL, ever: a batch row whose article_id is already stored (or
  appears earlier in the batch) is not written again; it counts as `seen`.
- Identical normalised text on another URL is kept as a row and flagged: `duplicate_of`
  names the original. The original is the stored row with that content hash if there is
  one (stored rows are never rewritten here), otherwise the batch row with the earliest
  `published_at`, then the lowest `article_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DedupResult:
    rows: list[dict[str, Any]]
    seen: int
    duplicates: int


def dedup_batch(batch: list[dict[str, Any]], stored: list[dict[str, Any]]) -> DedupResult:
    """`stored` rows need article_id, content_hash and duplicate_of."""
    stored_ids = {r["article_id"] for r in stored}
    originals: dict[str, str] = {}
    for r in sorted(stored, key=lambda r: r["article_id"]):
        if r.get("duplicate_of") is None:
            originals.setdefault(r["content_hash"], r["article_id"])
    kept: dict[str, dict[str, Any]] = {}
    seen = 0
    for row in batch:
        if row["article_id"] in stored_ids or row["article_id"] in kept:
            seen += 1
            continue
        kept[row["article_id"]] = dict(row)
    rows = sorted(kept.values(), key=lambda r: (r["published_at"], r["article_id"]))
    duplicates = 0
    for row in rows:
        original = originals.setdefault(row["content_hash"], row["article_id"])
        row["duplicate_of"] = None if original == row["article_id"] else original
        duplicates += row["duplicate_of"] is not None
    return DedupResult(rows=rows, seen=seen, duplicates=duplicates)
