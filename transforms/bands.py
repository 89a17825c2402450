"""Band hashes by publication day: the part of the index (transforms/index.py) that finds
the stored rows sharing an LSH band or the content hash with a new one.

A day's pairs (band, key), the key standing for the article_id and the bands being each
row's LSH band hashes and one made of its content hash (`hash_band`), live in a base file
`state/bands/<day>.npy` and up to `MAX_SEGMENTS` small segment files `<day>.<seq>.npy`, each
a (2, n) array sorted by band: row 0 the bands (contiguous, so a look-up binary-searches the
mapped file and touches a few pages), row 1 the keys. A commit that adds to a day writes one
segment the size of its batch; when a day has too many segments they are merged: into one
segment while they hold less than a MERGE_SHARE of what its base holds (a large day's base
is not rewritten for every few commits), else with the base into a new base. A day's pairs
are the union of its files (a pair found twice counts once), so a crash between writing a
merged file and removing the files it took in changes nothing. Every file is written whole
under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
from collections import defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from transforms.files import fsync_dir, replace_whole

Pairs = npt.NDArray[np.int64]  # (2, n): row 0 bands, row 1 keys; sorted by band
EMPTY: Pairs = np.empty((2, 0), dtype=np.int64)
BandValues = npt.NDArray[np.int64]  # band hashes to look up, in one dimension
MAX_SEGMENTS = 8  # a day's segments beyond this are merged
MERGE_SHARE = 0.25  # segments holding less than this share of the base's pairs merge alone
HASH_PREFIX = 16  # hex digits of content_hash that make its band: a collision only adds a candidate


def key_of(article_id: str) -> int:
    """The article_id as a signed 64-bit key: its 16 hex digits, or a hash of other ids."""
    try:
        value = int(article_id, 16) if len(article_id) == 16 else None
    except ValueError:
        value = None
    if value is None:
        value = int(hashlib.sha256(article_id.encode()).hexdigest()[:16], 16)
    return value - 2**64 if value >= 2**63 else value


def hash_band(content_hash: str) -> int:
    """A row's content hash as one more of its bands: rows with equal words share it, so one
    look-up in a day's files finds them and the rows sharing an LSH band alike."""
    return key_of(content_hash[:HASH_PREFIX])


class BandDays:
    """The band files of one data root, under `folder` (the index keeps its key arrays, pairs
    (key, row number), as one more set of such files, all on one "day")."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def keys(self, days: Iterable[int], bands: Iterable[int] | BandValues) -> set[int]:
        """The keys that share one of `bands` (ints, or an int64 array) on one of `days`."""
        query = np.unique(
            bands if isinstance(bands, np.ndarray) else np.fromiter(bands, dtype=np.int64)
        )
        found: set[int] = set()
        if not len(query):
            return found
        wanted = set(days)
        files = self.files(wanted)
        for day in sorted(wanted):
            for path in files.get(day, []):
                pairs = _load(path, mapped=True)
                column = pairs[0]
                if not len(column):
                    continue
                left = np.searchsorted(column, query, side="left")
                inside = left < len(column)
                hit = np.zeros(len(query), dtype=bool)
                hit[inside] = column[left[inside]] == query[inside]
                if not hit.any():
                    continue
                starts = left[hit]
                lengths = np.searchsorted(column, query[hit], side="right") - starts
                offsets = np.arange(lengths.sum()) - np.repeat(
                    np.cumsum(lengths) - lengths, lengths
                )
                found.update(pairs[1][np.repeat(starts, lengths) + offsets].tolist())
        return found

    def change(
        self,
        day: int,
        added: Pairs,
        dropped: Iterable[int],
        listed: dict[int, list[Path]] | None = None,
    ) -> None:
        """Take the pairs of the `dropped` keys out of a day, then add `added` to it.
        `listed`: `files()` taken before this commit's changes (a change touches only its own
        day's files, so one listing serves all the days a commit changes)."""
        files = (self.files() if listed is None else listed).get(day, [])
        keys = np.unique(np.fromiter(dropped, dtype=np.int64))
        if len(keys):
            kept = []
            for path in files:
                pairs = _load(path)
                gone = np.isin(pairs[1], keys)
                if gone.any():
                    _replace(path, pairs[:, ~gone])
                if not gone.all():
                    kept.append(path)
            files = kept
        added = normalised(added)
        if not added.shape[1]:
            return
        if not files:
            _write(self.path(day), added)
        elif len(files) > MAX_SEGMENTS:
            base = self.path(day) if files[0] == self.path(day) else None
            segments = files[1:] if base is not None else files
            pending = [_load(p) for p in segments] + [added]
            held = _load(base, mapped=True).shape[1] if base is not None else 0
            if sum(p.shape[1] for p in pending) < MERGE_SHARE * held:  # one segment
                last = max(_sequence(p) for p in segments)
                target = self.folder / f"{day}.{last + 1}.npy"
            else:  # base and segments become one base
                pending = [_load(base), *pending] if base is not None else pending
                target = self.path(day)
            _write(target, normalised(np.concatenate(pending, axis=1)))
            for path in segments:
                path.unlink(missing_ok=True)
        else:
            last = max((_sequence(p) for p in files), default=0)
            _write(self.folder / f"{day}.{last + 1}.npy", added)

    def by_key(self) -> dict[int, list[int]]:
        """Every key's bands, sorted (for comparing an index with a rebuild)."""
        out: dict[int, set[int]] = defaultdict(set)
        for paths in self.files().values():
            for path in paths:
                for band, key in _load(path).T.tolist():
                    out[key].add(band)
        return {key: sorted(bands) for key, bands in out.items()}

    def files(self, days: Collection[int] | None = None) -> dict[int, list[Path]]:
        """Each day's files (of `days` only, when given): its base first (when it has one),
        then its segments in order."""
        out: dict[int, list[tuple[int, str]]] = defaultdict(list)
        try:
            with os.scandir(self.folder) as entries:  # (names only: no Path per entry)
                names = [entry.name for entry in entries]
        except FileNotFoundError:
            return {}
        for name in names:
            parts = name.split(".")
            if name.startswith(".") or parts[-1] != "npy" or len(parts) not in (2, 3):
                continue
            try:
                day, sequence = int(parts[0]), int(parts[1]) if len(parts) == 3 else 0
            except ValueError:
                continue
            if days is None or day in days:
                out[day].append((sequence, name))
        return {
            day: [self.folder / name for _, name in sorted(found)] for day, found in out.items()
        }

    def sync(self) -> None:
        if self.folder.is_dir():
            fsync_dir(self.folder)

    def path(self, day: int) -> Path:
        """A day's base file."""
        return self.folder / f"{day}.npy"


def _sequence(path: Path) -> int:
    parts = path.name.split(".")
    return int(parts[1]) if len(parts) == 3 else 0


def _load(path: Path, *, mapped: bool = False) -> Pairs:
    """A file's pairs (mapped: read lazily, for look-ups that touch a few pages)."""
    try:
        return _mapped(path) if mapped else np.load(path)
    except FileNotFoundError:
        return EMPTY


def _mapped(path: Path) -> Pairs:
    """A band file mapped read-only: its .npy header read here, the array a view of the map
    (a third of what `np.load(mmap_mode="r")` costs, which a look-up pays per file)."""
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        if dtype != np.int64 or fortran or len(shape) != 2 or shape[0] != 2:
            raise ValueError(f"{path}: not a (2, n) int64 band file")
        if not shape[1]:
            return EMPTY
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    pairs = np.frombuffer(mapping, dtype=np.int64, count=2 * shape[1], offset=offset)
    return pairs.reshape(shape)


def _replace(path: Path, pairs: Pairs) -> None:
    if pairs.shape[1]:
        _write(path, np.ascontiguousarray(pairs))
    else:
        path.unlink(missing_ok=True)


def _write(target: Path, pairs: Pairs) -> None:
    """Write a band file so that it is complete or absent."""
    replace_whole(target, lambda handle: np.save(handle, pairs))


def normalised(pairs: Pairs) -> Pairs:
    """`pairs` sorted by band (then key), each pair once, as one contiguous (2, n) array.

    What is merged is mostly runs already sorted (a day's base and its segments): a stable
    sort by band alone goes through them in about linear time, where sorting by both
    columns at once sorts the keys first, in random order. Only the pairs whose band is
    some other pair's are then sorted by key too (bands are 64-bit hashes, shared only by
    near-duplicates), and only then can a pair be there twice. Each row is taken in one
    dimension: a (2, n) array indexed along its columns costs ten times as much. A base of
    200,000 pairs and nine segments: 7 ms, against 20 with those steps done on the (2, n)
    array and 25 to 40 with a sort by both columns."""
    if not pairs.shape[1]:
        return EMPTY
    order = np.argsort(pairs[0], kind="stable")
    bands, keys = pairs[0][order], pairs[1][order]
    same = bands[1:] == bands[:-1]
    if same.any():  # each run of equal bands, sorted by key in its place
        tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
        keys[tied] = keys[tied][np.lexsort((keys[tied], bands[tied]))]
        distinct = np.r_[True, ~same | (keys[1:] != keys[:-1])]
        if not distinct.all():
            bands, keys = bands[distinct], keys[distinct]
    return np.stack([bands, keys]).astype(np.int64, copy=False)


def day_pairs(table: pa.Table) -> dict[int, Pairs]:
    """The (band, key) pairs of the rows of `table`, by publication day: each row's LSH bands
    and its content hash's band (`hash_band`)."""
    out: dict[int, Pairs] = {}
    if not table.num_rows:
        return out
    days = np.asarray(
        pc.cast(table["published_at"], pa.date32()).cast(pa.int32()).to_numpy(), dtype=np.int64
    )
    keys = np.array([key_of(str(a)) for a in table["article_id"].to_pylist()], dtype=np.int64)
    bands: Any = table["lsh_bands"].combine_chunks()
    lengths = np.asarray(pc.list_value_length(bands).fill_null(0).to_numpy(), dtype=np.int64)
    hashes: list[Any] = table["content_hash"].to_pylist()
    hashed = [row for row, value in enumerate(hashes) if value]
    flat = np.concatenate(
        [
            np.asarray(pc.list_flatten(bands).to_numpy(), dtype=np.int64),
            np.array([hash_band(str(hashes[row])) for row in hashed], dtype=np.int64),
        ]
    )
    owners = np.concatenate(
        [np.repeat(np.arange(table.num_rows), lengths), np.array(hashed, dtype=np.int64)]
    )
    for day in np.unique(days).tolist():
        mine = days[owners] == day
        out[int(day)] = np.stack([flat[mine], keys[owners[mine]]])
    return out
