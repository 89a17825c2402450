"""Deduplication and story clustering across sources and runs.

Rules (the same for an ingest run's commit and for `newsflow dedup --rebuild`):

- One row per canonical URL, ever: a row whose article_id is already stored (or appears
  earlier in the batch) is not written again; it counts as `seen`. Stored rows are never
  rewritten when a page changes later; the first version stored stands.
- Two articles are copies when their comparable words are equal (`content_hash`), or when
  their MinHash signatures share an LSH band and the estimated containment of the smaller
  text in the larger is at least minhash.CONTAINMENT_MIN with Jaccard at least
  minhash.JACCARD_MIN — and their publication times are at most the window apart (default
  7 days, setting `dedup_window_days`).
- A story is a connected set of copies. Its winner is the earliest `published_at`, then a
  copy from the publisher that other copies name in `original_source`, then the lowest
  article_id. Every row gets `story_id` = the winner's article_id; copies get
  `duplicate_of` = the winner and `dup_similarity` = their estimated containment with it
  (1.0 for equal words); the winner has neither. Copies are kept as rows, never deleted.
- New rows can join stored stories, merge two of them, or bring an earlier original: then
  the stored rows whose flags change are rewritten in place (their files, atomically, under
  the commit lock), so the dataset always equals what a rebuild from scratch computes.

These are pure functions over rows; transforms/dedup_store.py applies them to the dataset.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from transforms import minhash

DEDUP_COLUMNS = [
    "article_id",
    "url",
    "source_id",
    "site_name",
    "original_source",
    "published_at",
    "content_hash",
    "duplicate_of",
    "story_id",
    "dup_similarity",
    "shingles",
    "minhash",
    "lsh_bands",
]
FLAGS = ("duplicate_of", "story_id", "dup_similarity")
# rows sharing one band value beyond this many are compared with the first ones only, new
# rows and stored rows each (a thousand near-identical pages stay connected through them, in
# pairs linear in their number)
BUCKET_LIMIT = 32
QUERY_CHUNK = 1024  # rows whose candidates are compared at once
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Flags = tuple[str | None, str, float | None]  # duplicate_of, story_id, dup_similarity


def add_fingerprints(rows: list[dict[str, Any]]) -> None:
    """Set `shingles`, `minhash` and `lsh_bands` of article rows from their text, in place."""
    prints = minhash.fingerprint([r["text"] for r in rows])
    for i, row in enumerate(rows):
        row["shingles"] = int(prints.sizes[i])
        row["minhash"] = prints.signatures[i].tolist()
        row["lsh_bands"] = prints.bands[i].tolist() if prints.sizes[i] else []


def cluster(
    new: list[dict[str, Any]],
    stored: list[dict[str, Any]],
    window: dt.timedelta,
) -> tuple[dict[str, Flags], dict[str, Flags]]:
    """Flags for `new` rows and changed flags of `stored` rows.

    `stored` must hold every stored row that could take part: those the new rows may match
    (same content hash or a shared band within the window) and all other members of their
    stories. Each row needs DEDUP_COLUMNS. Returns (flags of new rows, changes to stored).
    """
    nodes = new + stored
    n_new = len(new)
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    # stored stories stay whole
    first_of_story: dict[str, int] = {}
    for i in range(n_new, len(nodes)):
        story = nodes[i]["story_id"] or nodes[i]["article_id"]
        union(i, first_of_story.setdefault(story, i))
    for i, j in copy_pairs(nodes, window, n_new):
        union(i, j)

    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(nodes)):
        members[find(i)].append(i)
    new_flags: dict[str, Flags] = {}
    changed: dict[str, Flags] = {}
    for group in members.values():
        if not any(i < n_new for i in group):
            continue
        winner = min(group, key=_winner_key(nodes, group))
        others = [i for i in group if i != winner]
        scores = _similarity_to(nodes, winner, others)
        flags: dict[int, Flags] = {winner: (None, nodes[winner]["article_id"], None)}
        for i, score in zip(others, scores, strict=True):
            flags[i] = (nodes[winner]["article_id"], nodes[winner]["article_id"], score)
        for i, value in flags.items():
            if i < n_new:
                new_flags[nodes[i]["article_id"]] = value
            elif stored_flags(nodes[i]) != value:
                changed[nodes[i]["article_id"]] = value
    return new_flags, changed


def copy_pairs(
    nodes: Sequence[dict[str, Any]],
    window: dt.timedelta,
    n_new: int | None = None,
    is_copy: Callable[[Any, Any], Any] = minhash.is_copy,
) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of copies among `nodes`; with `n_new`, only pairs with at least one
    of the first n_new nodes (the others' pairs are already reflected in their stories).
    `is_copy` decides from the estimated Jaccard and containment arrays (benchmarks compare
    other rules with it)."""
    n = len(nodes)
    limit = n if n_new is None else n_new
    if not n or not limit:
        return []
    micros = np.array([_micros(r["published_at"]) for r in nodes], dtype=np.int64)
    span = int(window.total_seconds() * 1_000_000)
    pairs: set[tuple[int, int]] = set()
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(nodes):
        by_hash[row["content_hash"]].append(i)
    for group in by_hash.values():
        # equal words: in time order, neighbours within the window connect the same sets
        # as all pairs would, in O(g log g) for a hash shared by g rows
        ordered = sorted(group, key=lambda i: micros[i])
        for i, j in pairwise(ordered):
            if micros[j] - micros[i] <= span and (i < limit or j < limit):
                pairs.add((min(i, j), max(i, j)))
    usable = [
        i
        for i, r in enumerate(nodes)
        if r["shingles"] and r["lsh_bands"] is not None and len(r["lsh_bands"])
    ]
    if usable:
        sigs = np.array([nodes[i]["minhash"] for i in usable], dtype=np.uint32)
        sizes = np.array([nodes[i]["shingles"] for i in usable], dtype=np.int32)
        bands = np.array([nodes[i]["lsh_bands"] for i in usable], dtype=np.int64)
        u = np.asarray(usable, dtype=np.int64)
        queries = np.nonzero(u < limit)[0]  # positions in `usable` of the rows to match
        # new rows and stored rows in separate indexes, each bucket capped on its own: a batch
        # of many near-identical new rows must not crowd the stored ones out of a bucket
        indexes = []
        for members in (queries, np.nonzero(u >= limit)[0]):
            if len(members):
                index = minhash.BandIndex()
                index.add(bands[members])
                indexes.append((index, members))
        for first in range(0, len(queries), QUERY_CHUNK):  # memory bounded by the chunk
            chunk = queries[first : first + QUERY_CHUNK]
            for index, members in indexes:
                q, c = index.query(bands[chunk], limit=BUCKET_LIMIT)
                q, c = chunk[q], members[c]
                keep = q != c
                q, c = q[keep], c[keep]
                keep = np.abs(micros[u[q]] - micros[u[c]]) <= span
                q, c = q[keep], c[keep]
                jaccard, containment = minhash.similarity(sigs[q], sizes[q], sigs[c], sizes[c])
                ok = is_copy(jaccard, containment)
                for a, b in zip(u[q[ok]].tolist(), u[c[ok]].tolist(), strict=True):
                    pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def _winner_key(nodes: Sequence[dict[str, Any]], group: list[int]) -> Any:
    named = {_fold(nodes[i].get("original_source")) for i in group} - {""}

    def key(i: int) -> tuple[int, int, str]:
        row = nodes[i]
        return (_micros(row["published_at"]), 0 if _is_named(row, named) else 1, row["article_id"])

    return key


def _is_named(row: dict[str, Any], named: set[str]) -> bool:
    """Whether the row comes from a publisher named as the original: its source id, site name
    or a label of its host equals a name (case and spacing folded)."""
    if not named:
        return False
    host = (urlsplit(row.get("url") or "").hostname or "").lower().split(".")
    own = {_fold(row.get("source_id")), _fold(row.get("site_name")), *host}
    return bool(own & named)


def _fold(text: str | None) -> str:
    return "".join((text or "").casefold().split())


def _similarity_to(nodes: Sequence[dict[str, Any]], winner: int, others: list[int]) -> list[float]:
    if not others:
        return []
    w = nodes[winner]
    scores = [1.0] * len(others)
    near = [k for k, i in enumerate(others) if nodes[i]["content_hash"] != w["content_hash"]]
    if near and w["shingles"]:
        sig = np.array([nodes[others[k]]["minhash"] for k in near], dtype=np.uint32)
        size = np.array([nodes[others[k]]["shingles"] for k in near], dtype=np.int32)
        win_sig = np.tile(np.asarray(w["minhash"], dtype=np.uint32), (len(near), 1))
        win_size = np.full(len(near), w["shingles"], dtype=np.int32)
        _, containment = minhash.similarity(sig, size, win_sig, win_size)
        for k, value in zip(near, containment.tolist(), strict=True):
            scores[k] = _round(value)
    elif near:
        for k in near:
            scores[k] = 0.0
    return scores


def _round(value: float) -> float:
    """Similarities are stored as float32: round so a stored value compares equal to a new one."""
    return float(np.float32(round(value, 4)))


def stored_flags(row: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    similarity = row.get("dup_similarity")
    return (
        row.get("duplicate_of"),
        row.get("story_id"),
        None if similarity is None else _round(similarity),
    )


def _micros(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1)
