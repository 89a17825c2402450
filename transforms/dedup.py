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

Work per run is proportional to the new rows: stored rows enter only as a vectorised
membership test over the window's `content_hash` and `lsh_bands` columns; the few that
match are read in full together with the other members of their stories.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms import minhash
from transforms.dataset import RunOutput

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
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
Flags = tuple[str | None, str, float | None]  # duplicate_of, story_id, dup_similarity


@dataclass
class DedupResult:
    rows: list[dict[str, Any]]  # the batch rows to write, flagged
    seen: int  # batch rows whose canonical URL was already stored (or repeated in the batch)
    duplicates: int  # written rows flagged as copies
    # stored rows whose flags changed: article_id -> new (duplicate_of, story_id, dup_similarity)
    updates: dict[str, Flags] = field(default_factory=dict)
    files: set[Path] = field(default_factory=set)  # the stored files holding those rows


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
            elif _stored_flags(nodes[i]) != value:
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
    usable = [i for i, r in enumerate(nodes) if r["shingles"] and r["lsh_bands"]]
    if usable:
        sigs = np.array([nodes[i]["minhash"] for i in usable], dtype=np.uint32)
        sizes = np.array([nodes[i]["shingles"] for i in usable], dtype=np.int32)
        bands = np.array([nodes[i]["lsh_bands"] for i in usable], dtype=np.int64)
        index = minhash.BandIndex()
        index.add(bands)
        queries = [k for k, i in enumerate(usable) if i < limit]
        q, c = index.query(bands[queries])
        q = np.asarray(queries, dtype=np.int64)[q]
        keep = q != c
        q, c = q[keep], c[keep]
        u = np.asarray(usable, dtype=np.int64)
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


def _stored_flags(row: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    similarity = row.get("dup_similarity")
    return (
        row.get("duplicate_of"),
        row.get("story_id"),
        None if similarity is None else _round(similarity),
    )


def _micros(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


# ------------------------------------------------------------------------ against the store


def dedup_batch(
    batch: list[dict[str, Any]],
    root: Path,
    window: dt.timedelta,
    exclude: RunOutput | None = None,
) -> DedupResult:
    """Flag a batch of article rows against the dataset under `root` (the rows of the run
    `exclude`, its own earlier output, are not part of the store). The caller
    holds the commit lock, writes `rows` and then applies `updates`."""
    from transforms.dataset import FILE_COLUMN, read_partitions

    stored_ids = read_partitions(root, ["article_id"], exclude=exclude)["article_id"]
    batch_ids = pa.array([r["article_id"] for r in batch], type=pa.string())
    known = set(pc.filter(batch_ids, pc.is_in(batch_ids, value_set=stored_ids)).to_pylist())
    kept: dict[str, dict[str, Any]] = {}
    for row in batch:
        if row["article_id"] not in known and row["article_id"] not in kept:
            kept[row["article_id"]] = dict(row)
    rows = sorted(kept.values(), key=lambda r: (r["published_at"], r["article_id"]))
    missing = [r for r in rows if r.get("shingles") is None]
    if missing:
        add_fingerprints(missing)
    stored = _context(rows, root, window, exclude=exclude)
    flags, changed = cluster(rows, stored, window)
    for row in rows:
        row["duplicate_of"], row["story_id"], row["dup_similarity"] = flags[row["article_id"]]
    return DedupResult(
        rows=rows,
        seen=len(batch) - len(rows),
        duplicates=sum(r["duplicate_of"] is not None for r in rows),
        updates=changed,
        files={Path(r[FILE_COLUMN]) for r in stored if r["article_id"] in changed},
    )


def rebuild(root: Path, window: dt.timedelta, since: dt.date | None = None) -> dict[str, int]:
    """Recompute the flags of every stored row published on or after `since` (all rows when
    None) with the current rules, rewriting only files whose rows change. Rows before `since`
    take part as they are stored (their stories may gain members, as in an ingest run).
    Idempotent: a second call changes nothing. The caller holds the commit lock."""
    from transforms.dataset import FILE_COLUMN, read_partitions, update_columns

    table = read_partitions(root, DEDUP_COLUMNS)
    if since is not None:
        days = pc.cast(table["published_at"], pa.date32())
        table = table.filter(pc.greater_equal(days, pa.scalar(since, pa.date32())))
    rows = table.to_pylist()
    refingerprinted = [r for r in rows if r.get("shingles") is None]
    _fingerprint_stored(root, refingerprinted)
    before = {r["article_id"]: _stored_flags(r) for r in rows}
    stored = _context(rows, root, window, before_day=since) if since is not None else []
    flags, changed = cluster(rows, stored, window)
    changes: dict[str, dict[str, object]] = {
        aid: dict(zip(FLAGS, value, strict=True)) for aid, value in changed.items()
    }
    for aid, value in flags.items():
        if before[aid] != value:
            changes[aid] = dict(zip(FLAGS, value, strict=True))
    for row in refingerprinted:
        changes.setdefault(row["article_id"], {}).update(
            {k: row[k] for k in ("shingles", "minhash", "lsh_bands")}
        )
    where = {r["article_id"]: r[FILE_COLUMN] for r in [*rows, *stored]}
    files = update_columns(root, changes, {Path(where[aid]) for aid in changes})
    return {"rows": len(rows), "changed": len(changes), "files": len(files)}


def _fingerprint_stored(root: Path, rows: list[dict[str, Any]]) -> None:
    """Fingerprints for stored rows written before they existed: the text is read only from
    the files that hold such rows."""
    from transforms.dataset import FILE_COLUMN, read_matching

    if not rows:
        return
    texts: dict[Any, Any] = {}
    for path in sorted({r[FILE_COLUMN] for r in rows}):
        found = read_matching(
            root,
            "article_id",
            [r["article_id"] for r in rows if r[FILE_COLUMN] == path],
            ["article_id", "text"],
            only=Path(path),
        )
        texts.update(zip(found["article_id"].to_pylist(), found["text"].to_pylist(), strict=True))
    for row in rows:
        row["text"] = texts[row["article_id"]]
    add_fingerprints(rows)
    for row in rows:
        del row["text"]


def _context(
    rows: list[dict[str, Any]],
    root: Path,
    window: dt.timedelta,
    exclude: RunOutput | None = None,
    before_day: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The stored rows that `rows` may join: those in the window's partitions with one of the
    rows' content hashes or band hashes (one vectorised membership test over two columns),
    and every other member of their stories."""
    from transforms.dataset import read_matching, read_partitions

    if not rows:
        return []
    reach = math.ceil(window / dt.timedelta(days=1))
    days = {
        r["published_at"].date() + dt.timedelta(days=k)
        for r in rows
        for k in range(-reach, reach + 1)
    }
    if before_day is not None:
        days = {d for d in days if d < before_day}
    window_rows = read_partitions(
        root, ["article_id", "content_hash", "story_id", "lsh_bands"], days, exclude
    )
    if not window_rows.num_rows:
        return []
    hashes = pa.array({r["content_hash"] for r in rows}, type=pa.string())
    bands = pa.array({b for r in rows for b in (r["lsh_bands"] or [])}, type=pa.int64())
    match = pc.is_in(window_rows["content_hash"], value_set=hashes)
    flat = pc.list_flatten(window_rows["lsh_bands"])
    if len(flat) and len(bands):
        parents = pc.list_parent_indices(window_rows["lsh_bands"])
        hit_rows = pc.unique(pc.filter(parents, pc.is_in(flat, value_set=bands)))
        by_band = np.zeros(window_rows.num_rows, dtype=bool)
        by_band[hit_rows.to_numpy(zero_copy_only=False)] = True
        match = pc.or_(match, pa.array(by_band))
    candidates = window_rows.filter(match)
    story_ids: list[str | None] = candidates["story_id"].to_pylist()
    article_ids: list[Any] = candidates["article_id"].to_pylist()
    stories = {s for s in story_ids if s}
    loose = {a for a, s in zip(article_ids, story_ids, strict=True) if not s}
    found = [
        read_matching(root, "story_id", stories, DEDUP_COLUMNS, exclude),
        read_matching(root, "article_id", loose, DEDUP_COLUMNS, exclude),
    ]
    context: dict[str, dict[str, Any]] = {}
    for table in found:
        for row in table.to_pylist():
            if before_day is None or row["published_at"].date() < before_day:
                context[row["article_id"]] = row
    return list(context.values())


def story_counts(root: Path, since: dt.date | None = None) -> dict[str, int]:
    """Articles, distinct stories, flagged copies and rows without a story id (written before
    story clustering existed: `newsflow dedup --rebuild` fills them)."""
    from transforms.dataset import read_partitions

    table = read_partitions(root, ["published_at", "duplicate_of", "story_id"])
    if since is not None:
        days = pc.cast(table["published_at"], pa.date32())
        table = table.filter(pc.greater_equal(days, pa.scalar(since, pa.date32())))
    stories = pc.drop_null(table["story_id"])
    return {
        "articles": table.num_rows,
        "stories": len(pc.unique(stories)),
        "copies": table.num_rows - pc.count(table["duplicate_of"], mode="only_null").as_py(),
        "unflagged": table.num_rows - len(stories),
    }


def commit_deduplicated(
    batch: list[dict[str, Any]],
    root: Path,
    run: RunOutput,
    window: dt.timedelta,
    crash: Callable[[str], None] | None = None,
) -> tuple[DedupResult, list[Path]]:
    """Flag a run's rows against the store, then write them (replacing the run's earlier
    output) and rewrite the stored rows whose flags changed, as one commit (a crash at any
    point leaves either none of it or, once the next writer recovers, all of it). The caller
    holds dataset.commit_lock."""
    result = dedup_batch(batch, root, window, exclude=run)
    return result, commit_flagged(result, root, run, crash)


def commit_flagged(
    result: DedupResult,
    root: Path,
    run: RunOutput,
    crash: Callable[[str], None] | None = None,
) -> list[Path]:
    """Commit what `dedup_batch` decided (see commit_deduplicated); returns the run's files."""
    from transforms.commit import commit_articles
    from transforms.schema import ARTICLE_SCHEMA

    return commit_articles(
        pa.Table.from_pylist(result.rows, schema=ARTICLE_SCHEMA),
        root,
        run.source_id,
        run.run_key,
        run.run_id,
        updates={aid: dict(zip(FLAGS, f, strict=True)) for aid, f in result.updates.items()},
        update_files=result.files,
        crash=crash,
    )
