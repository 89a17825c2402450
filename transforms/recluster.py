"""A full rebuild of the copy and story flags, one window of days at a time.

The same rules as transforms/dedup.py's `cluster` over every stored row, computed so that
memory is bounded by the dedup window, not by the store: the light columns of every row are
held as Arrow arrays; the MinHash signatures and band hashes are read one publication day at
a time and kept only while that day is within the window of the day being compared; copies
are joined in a union-find over row positions. Only the members of stories with more than
one row are read again, to score each copy against its story's winner. Rows stored without
fingerprints, or in files of an older MinHash scheme, are fingerprinted from their text as
their day comes (only those files' text is read).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from transforms import minhash
from transforms.dedup import (
    DEDUP_COLUMNS,
    FLAGS,
    _similarity_to,
    _winner_key,
    add_fingerprints,
    stored_flags,
)

PRINTS = ["article_id", "shingles", "minhash", "lsh_bands"]
LIGHT = [c for c in DEDUP_COLUMNS if c not in PRINTS[1:]]  # what every row keeps in memory
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def recluster_all(
    root: Path, window: dt.timedelta, stale: set[str] | None = None
) -> tuple[int, dict[str, dict[str, object]], dict[str, str]]:
    """(rows checked, the changes of flags and fingerprints by article_id, the file of each
    changed row) for every stored row. The rows of the files `stale` (an older MinHash
    scheme made their fingerprints) are fingerprinted again from their text."""
    from transforms.dataset import FILE_COLUMN, read_partitions

    light = read_partitions(root, LIGHT)
    if not light.num_rows:
        return 0, {}, {}
    light = light.sort_by([("published_at", "ascending"), ("article_id", "ascending")])
    ids: list[Any] = light["article_id"].to_pylist()
    micros = _micros(light["published_at"])
    days = pc.cast(light["published_at"], pa.date32()).cast(pa.int32()).to_numpy()
    hashes: list[Any] = light["content_hash"].to_pylist()
    span = int(window.total_seconds() * 1_000_000)
    reach = math.ceil(window / dt.timedelta(days=1))
    parent = np.arange(light.num_rows, dtype=np.int64)
    refingerprinted: dict[str, dict[str, object]] = {}

    last_by_hash: dict[str, int] = {}  # the latest row of each content hash in the window
    hashes_of_day: dict[int, list[str]] = defaultdict(list)
    buffer: dict[int, _Prints] = {}  # day -> fingerprints of its rows
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    for start, stop in zip(starts, [*starts[1:], len(days)], strict=True):
        day = int(days[start])
        for old in [d for d in buffer if d < day - reach]:
            del buffer[old]
        for old in [d for d in hashes_of_day if d < day - reach]:
            for h in hashes_of_day.pop(old):  # a hash last seen that day is out of reach now
                if days[last_by_hash.get(h, start)] == old:
                    del last_by_hash[h]
        positions = np.arange(start, stop, dtype=np.int64)
        for i in positions.tolist():  # equal words: each row with the previous one of its hash
            previous = last_by_hash.get(hashes[i])
            if previous is not None and micros[i] - micros[previous] <= span:
                _union(parent, previous, i)
            last_by_hash[hashes[i]] = i
            hashes_of_day[day].append(hashes[i])
        prints = _day_prints(
            root, day, [ids[i] for i in positions.tolist()], positions, stale or set()
        )
        for aid, values in prints.changed.items():
            refingerprinted[aid] = values
        buffer[day] = prints
        _band_pairs(parent, buffer, prints, micros, span)

    roots = np.array([_find(parent, i) for i in range(len(ids))], dtype=np.int64)
    flags = _flags(root, light, roots, refingerprinted)
    changes: dict[str, dict[str, object]] = {}
    before = light.select(["duplicate_of", "story_id", "dup_similarity"]).to_pylist()
    for i, aid in enumerate(ids):
        value = flags.get(aid, (None, aid, None))
        if stored_flags(before[i]) != value:
            changes[aid] = dict(zip(FLAGS, value, strict=True))
    for aid, values in refingerprinted.items():
        changes.setdefault(aid, {}).update(values)
    files: list[Any] = light[FILE_COLUMN].to_pylist()
    where = {aid: files[i] for i, aid in enumerate(ids) if aid in changes}
    return len(ids), changes, where


class _Prints:
    """One day's fingerprints: the rows usable for band matching (with text to compare)."""

    def __init__(
        self,
        positions: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int32],
        signatures: npt.NDArray[np.uint32],
        bands: npt.NDArray[np.int64],
        changed: dict[str, dict[str, object]],
    ) -> None:
        self.positions = positions
        self.sizes = sizes
        self.signatures = signatures
        self.bands = bands
        self.changed = changed


def _day_prints(
    root: Path, day: int, ids: list[str], positions: npt.NDArray[np.int64], stale: set[str]
) -> _Prints:
    """The fingerprints of one day's rows (computed from the text for rows stored without,
    and for the rows of the files `stale`); `changed`: those that differ from the stored."""
    from transforms.dataset import FILE_COLUMN, read_matching, read_partitions

    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    table = read_partitions(root, PRINTS, [date])
    rows = {r["article_id"]: r for r in table.to_pylist()}
    changed: dict[str, dict[str, object]] = {}
    missing = [
        rows[a] for a in ids if rows[a].get("shingles") is None or rows[a][FILE_COLUMN] in stale
    ]
    before = {r["article_id"]: {k: r[k] for k in PRINTS[1:]} for r in missing}
    if missing:
        by_file: dict[str, list[str]] = defaultdict(list)
        for row in missing:
            by_file[row[FILE_COLUMN]].append(row["article_id"])
        for path, wanted in by_file.items():
            texts = read_matching(
                root, "article_id", wanted, ["article_id", "text"], only=Path(path)
            )
            for aid, text in zip(
                texts["article_id"].to_pylist(), texts["text"].to_pylist(), strict=True
            ):
                rows[aid]["text"] = text
        add_fingerprints(missing)
        for row in missing:
            del row["text"]
            made = {k: row[k] for k in PRINTS[1:]}
            if made != before[row["article_id"]]:
                changed[row["article_id"]] = made
    usable = [k for k, a in enumerate(ids) if rows[a]["shingles"] and rows[a]["lsh_bands"]]
    if not usable:
        empty = np.empty(0, dtype=np.int64)
        return _Prints(
            empty,
            np.empty(0, np.int32),
            np.empty((0, minhash.NUM_PERM), np.uint32),
            np.empty((0, minhash.BANDS), np.int64),
            changed,
        )
    chosen = [rows[ids[k]] for k in usable]
    return _Prints(
        positions[usable],
        np.array([r["shingles"] for r in chosen], dtype=np.int32),
        np.array([r["minhash"] for r in chosen], dtype=np.uint32),
        np.array([r["lsh_bands"] for r in chosen], dtype=np.int64),
        changed,
    )


def _band_pairs(
    parent: npt.NDArray[np.int64],
    buffer: dict[int, _Prints],
    new: _Prints,
    micros: npt.NDArray[np.int64],
    span: int,
) -> None:
    """Join the copies among the day's rows and between them and the window's earlier days."""
    if not len(new.positions):
        return
    days = sorted(buffer)
    positions = np.concatenate([buffer[d].positions for d in days])
    sizes = np.concatenate([buffer[d].sizes for d in days])
    signatures = np.concatenate([buffer[d].signatures for d in days])
    bands = np.concatenate([buffer[d].bands for d in days])
    index = minhash.BandIndex()
    index.add(bands)
    offset = len(positions) - len(new.positions)  # the day's rows come last
    q, c = index.query(new.bands)
    q = q + offset
    keep = q != c
    q, c = q[keep], c[keep]
    keep = np.abs(micros[positions[q]] - micros[positions[c]]) <= span
    q, c = q[keep], c[keep]
    if not len(q):
        return
    jaccard, containment = minhash.similarity(signatures[q], sizes[q], signatures[c], sizes[c])
    ok = minhash.is_copy(jaccard, containment)
    for a, b in zip(positions[q[ok]].tolist(), positions[c[ok]].tolist(), strict=True):
        _union(parent, a, b)


def _flags(
    root: Path,
    light: pa.Table,
    roots: npt.NDArray[np.int64],
    made: dict[str, dict[str, object]],
) -> dict[str, tuple[str | None, str, float | None]]:
    """The flags of the rows of stories with more than one member (the others are their own
    stories): the winner by dedup's rule, each copy scored against it (by the fingerprints
    `made` again here where there are some, not the stored ones)."""
    from transforms.dataset import read_partitions

    _, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    grouped = np.flatnonzero(counts[inverse] > 1)
    if not len(grouped):
        return {}
    members = light.take(grouped).to_pylist()
    wanted_days = sorted({m["published_at"].date() for m in members})
    prints: dict[str, dict[str, Any]] = {}
    wanted = {m["article_id"] for m in members}
    for day in wanted_days:  # only the members' own days are read again
        table = read_partitions(root, PRINTS, [day])
        mask = pc.is_in(table["article_id"], value_set=pa.array(sorted(wanted), pa.string()))
        for row in table.filter(mask).to_pylist():
            prints[row["article_id"]] = row
    stories: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for member, position in zip(members, grouped.tolist(), strict=True):
        found = {**prints.get(member["article_id"], {}), **made.get(member["article_id"], {})}
        member.update({k: found.get(k) for k in ("shingles", "minhash", "lsh_bands")})
        stories[int(roots[position])].append(member)
    flags: dict[str, tuple[str | None, str, float | None]] = {}
    for nodes in stories.values():
        group = list(range(len(nodes)))
        winner = min(group, key=_winner_key(nodes, group))
        others = [i for i in group if i != winner]
        scores = _similarity_to(nodes, winner, others)
        story = nodes[winner]["article_id"]
        flags[story] = (None, story, None)
        for i, score in zip(others, scores, strict=True):
            flags[nodes[i]["article_id"]] = (story, story, score)
    return flags


def _micros(column: Any) -> npt.NDArray[np.int64]:
    return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _find(parent: npt.NDArray[np.int64], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = int(parent[i])
    return i


def _union(parent: npt.NDArray[np.int64], i: int, j: int) -> None:
    a, b = _find(parent, i), _find(parent, j)
    if a != b:
        parent[max(a, b)] = min(a, b)
