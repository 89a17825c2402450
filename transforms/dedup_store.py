"""Deduplication against the stored dataset: a run's rows flagged and committed with the
stored rows whose flags they change, `newsflow dedup --rebuild`, and the story counts. The
rules themselves (what a copy is, which copy wins) are transforms/dedup.py's.

Work per run is proportional to the new rows: stored rows enter only as a vectorised
membership test over the window's `content_hash` and `lsh_bands` columns; the few that
match are read in full together with the other members of their stories.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.commit import Chunks
from transforms.dataset import RunOutput
from transforms.dedup import DEDUP_COLUMNS, FLAGS, Flags, add_fingerprints, cluster, stored_flags
from transforms.index import ArticleIndex, Stored


@dataclass
class DedupResult:
    rows: list[dict[str, Any]]  # the batch rows to write, flagged
    seen: int  # batch rows whose canonical URL was already stored (or repeated in the batch)
    duplicates: int  # written rows flagged as copies
    # stored rows whose flags changed: article_id -> new (duplicate_of, story_id, dup_similarity)
    updates: dict[str, Flags] = field(default_factory=dict)
    files: set[Path] = field(default_factory=set)  # the stored files holding those rows


def dedup_batch(
    batch: list[dict[str, Any]],
    root: Path,
    window: dt.timedelta,
    exclude: RunOutput | None = None,
) -> DedupResult:
    """Flag a batch of article rows against the dataset under `root` (the rows of the run
    `exclude`, its own earlier output, are not part of the store). What is stored is looked
    up in the index: the cost grows with the batch and its stories, not with the store. The
    caller holds the commit lock, writes `rows` and then applies `updates`."""
    from transforms.dataset import FILE_COLUMN
    from transforms.index import open_index

    skip = None if exclude is None else (exclude.source_id, exclude.run_id)
    with open_index(root) as index:
        known = index.stored([r["article_id"] for r in batch], skip)
        kept: dict[str, dict[str, Any]] = {}
        for row in batch:
            if row["article_id"] not in known and row["article_id"] not in kept:
                kept[row["article_id"]] = dict(row)
        rows = sorted(kept.values(), key=lambda r: (r["published_at"], r["article_id"]))
        missing = [r for r in rows if r.get("shingles") is None]
        if missing:
            add_fingerprints(missing)
        stored = _context(rows, root, window, index, skip)
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
    None) with the current rules, rewriting only files whose rows change, then rebuild the
    index from the files. Rows before `since` take part as they are stored (their stories may
    gain members, as in an ingest run). A full rebuild walks the dataset one window of days
    at a time, so its memory is bounded by the window, not the store. Idempotent: a second
    call changes nothing. The caller holds the commit lock."""
    from transforms.dataset import partition_day, stale_prints, update_columns
    from transforms.index import ArticleIndex
    from transforms.recluster import recluster_all

    stale = stale_prints(root)  # fingerprinted again here: rewritten, stating the scheme
    if since is not None:
        stale = [p for p in stale if partition_day(p) >= since]
    with ArticleIndex(root) as index:
        if since is None:
            counted, changes, where = recluster_all(root, window, {str(p) for p in stale})
        else:
            counted, changes, where = _recluster_since(root, window, since, index, stale)
        files = update_columns(
            root, changes, {Path(where[aid]) for aid in changes}, refingerprinted=stale
        )
        index.build()
    return {"rows": counted, "changed": len(changes), "files": len(files)}


def _recluster_since(
    root: Path, window: dt.timedelta, since: dt.date, index: ArticleIndex, stale: list[Path]
) -> tuple[int, dict[str, dict[str, object]], dict[str, str]]:
    """(rows checked, changes by article_id, file of each row) for the rows from `since`;
    the rows of the files `stale` are fingerprinted again."""
    from transforms.dataset import FILE_COLUMN, read_partitions

    table = read_partitions(root, DEDUP_COLUMNS)
    days = pc.cast(table["published_at"], pa.date32())
    table = table.filter(pc.greater_equal(days, pa.scalar(since, pa.date32())))
    rows = table.to_pylist()
    again = {str(p) for p in stale}
    refingerprinted = [r for r in rows if r.get("shingles") is None or r[FILE_COLUMN] in again]
    prints = ("shingles", "minhash", "lsh_bands")
    stored_prints = {r["article_id"]: {k: r[k] for k in prints} for r in refingerprinted}
    _fingerprint_stored(root, refingerprinted)
    refingerprinted = [
        r for r in refingerprinted if {k: r[k] for k in prints} != stored_prints[r["article_id"]]
    ]
    before = {r["article_id"]: stored_flags(r) for r in rows}
    stored = _context(rows, root, window, index, before_day=since)
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
    return len(rows), changes, where


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
    index: ArticleIndex,
    exclude: tuple[str, str] | None = None,
    before_day: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The stored rows that `rows` may join, read from the files the index names: those
    published within the window of a row that share its content hash or one of its band
    hashes, and every other member of their stories (before `before_day` only, when given)."""
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
    bands = [np.asarray(r["lsh_bands"], dtype=np.int64) for r in rows if r["lsh_bands"] is not None]
    candidates = index.candidates(
        [r["content_hash"] for r in rows],
        np.concatenate(bands) if bands else np.empty(0, dtype=np.int64),  # (not Python ints)
        days,
        exclude,
    )
    del bands
    stories = {c.story for c in candidates if c.story}
    loose = {c.article_id for c in candidates if not c.story}
    found = [*index.members(stories, exclude), *index.rows(loose, exclude)]
    context = [
        row
        for row in read_rows(root, found, DEDUP_COLUMNS)
        if before_day is None or row["published_at"].date() < before_day
    ]
    return context


def read_rows(root: Path, found: Iterable[Stored], columns: list[str]) -> list[dict[str, Any]]:
    """The `columns` (and FILE_COLUMN) of the stored rows `found`, each file read once."""
    from transforms.dataset import read_matching

    by_file: dict[str, set[str]] = defaultdict(set)
    for row in found:
        by_file[row.path].add(row.article_id)
    out: list[dict[str, Any]] = []
    for path, ids in sorted(by_file.items()):
        table = read_matching(root, "article_id", ids, columns, only=root / path)
        out += table.to_pylist()
    return out


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
    holds commit.commit_lock."""
    result = dedup_batch(batch, root, window, exclude=run)
    return result, commit_flagged(result, root, run, crash)


def dedup_view(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of `table` as dedup needs them: its columns only, unless fingerprints are
    missing (rows written before they existed), whose text then comes along. Signatures and
    band hashes are numpy views into one array per column, not lists of Python ints (a
    tenth of the memory)."""
    columns = [c for c in DEDUP_COLUMNS if c not in ("minhash", "lsh_bands")]
    if table.num_rows and table["shingles"].null_count:
        columns.append("text")
    rows = table.select(columns).to_pylist()
    for column in ("minhash", "lsh_bands"):
        for row, view in zip(rows, _list_views(table[column]), strict=True):
            row[column] = view
    return rows


def _list_views(column: Any) -> list[Any]:
    """Each row of a list column (a chunked array) as a numpy view into its values (None for
    a null): views into each chunk's own buffers, which are not copied into one."""
    views: list[Any] = []
    for array in column.chunks:
        values = np.asarray(array.values.to_numpy(zero_copy_only=False))
        offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False))
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        views += [
            values[offsets[i] : offsets[i + 1]] if valid[i] else None for i in range(len(array))
        ]
    return views


def flagged(
    table: pa.Table,
    result: DedupResult,
    taken: set[str] | None = None,
    kept: dict[str, dict[str, Any]] | None = None,
) -> pa.Table:
    """The rows of `table` that `dedup_batch` kept (each article once, in the table's order)
    with its flags and fingerprints: what the run writes, without its rows leaving Arrow
    (and without a copy when every row is kept). `taken`: the articles of earlier chunks of
    the same rows (updated), when the rows come a chunk at a time; `kept`: the result's rows
    by article_id, made once for all the chunks."""
    kept = kept if kept is not None else {r["article_id"]: r for r in result.rows}
    ids = [str(a) for a in table["article_id"].to_pylist()]
    first: list[int] = []
    taken = set() if taken is None else taken
    for i, aid in enumerate(ids):
        if aid in kept and aid not in taken:
            taken.add(aid)
            first.append(i)
    if len(first) != table.num_rows:
        table = table.take(pa.array(first, type=pa.int64()))
    rows = [kept[ids[i]] for i in first]
    for column in (*FLAGS, "shingles", "minhash", "lsh_bands"):
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.array([r[column] for r in rows], field.type))
    return table


def unprinted(table: pa.Table) -> pa.Table:
    """`table` with its fingerprint columns (those it has) cleared: rows whose fingerprints
    an older MinHash scheme made, which dedup then makes again from their text."""
    for column in ("shingles", "minhash", "lsh_bands"):
        index = table.schema.get_field_index(column)
        if index >= 0:
            field = table.schema.field(index)
            table = table.set_column(index, field, pa.nulls(table.num_rows, field.type))
    return table


def needs_text(*tables: pa.Table) -> bool:
    """Whether some row of `tables` lacks fingerprints (rows written before they existed), so
    that dedup needs its text as well as DEDUP_COLUMNS (see `dedup_view`)."""
    return any(t.num_rows and t["shingles"].null_count for t in tables)


def commit_flagged(
    result: DedupResult,
    root: Path,
    run: RunOutput,
    crash: Callable[[str], None] | None = None,
    table: pa.Table | Chunks | None = None,
) -> list[Path]:
    """Commit what `dedup_batch` decided (see commit_deduplicated), from `table` (see
    `flagged`; or chunks of it) when given, else from the result's rows; returns the run's
    files."""
    from transforms.commit import commit_articles
    from transforms.schema import ARTICLE_SCHEMA

    # the rows per day, when they come a chunk at a time (see commit_articles)
    days = (
        Counter(r["published_at"].astimezone(dt.UTC).date() for r in result.rows)
        if callable(table)
        else None
    )
    return commit_articles(
        table if table is not None else pa.Table.from_pylist(result.rows, schema=ARTICLE_SCHEMA),
        root,
        run.source_id,
        run.run_key,
        run.run_id,
        updates={aid: dict(zip(FLAGS, f, strict=True)) for aid, f in result.updates.items()},
        update_files=result.files,
        crash=crash,
        days=days,
    )
