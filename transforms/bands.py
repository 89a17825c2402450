"""Band hashes by publication day: the part of the index (transforms/index.py) that finds
the stored rows sharing an LSH band with a new one.

Each day's band hashes are one array of (band, key) pairs sorted by band, the key standing
for the article_id, in `state/bands/<day>.npy`. A look-up maps the window's days and binary-
searches them; a commit that adds to a day merges its pairs in (linear time) and rewrites
that day's file so that it is complete or absent. Far cheaper than scattering a run's ten
thousand band hashes over one big B-tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from transforms.files import fsync_dir

Pairs = npt.NDArray[np.int64]  # (n, 2): band, key; sorted by band
EMPTY: Pairs = np.empty((0, 2), dtype=np.int64)


def key_of(article_id: str) -> int:
    """The article_id as a signed 64-bit key: its 16 hex digits, or a hash of other ids."""
    try:
        value = int(article_id, 16) if len(article_id) == 16 else None
    except ValueError:
        value = None
    if value is None:
        value = int(hashlib.sha256(article_id.encode()).hexdigest()[:16], 16)
    return value - 2**64 if value >= 2**63 else value


class BandDays:
    """The band arrays of one data root, under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def keys(self, days: Iterable[int], bands: Iterable[int]) -> set[int]:
        """The keys that share one of `bands` on one of `days`."""
        query = np.unique(np.fromiter(bands, dtype=np.int64))
        found: set[int] = set()
        if not len(query):
            return found
        for day in sorted(set(days)):
            pairs = self.load(day, mapped=True)
            if not len(pairs):
                continue
            left = np.searchsorted(pairs[:, 0], query, side="left")
            right = np.searchsorted(pairs[:, 0], query, side="right")
            hit = right > left
            for start, stop in zip(left[hit].tolist(), right[hit].tolist(), strict=True):
                found.update(pairs[start:stop, 1].tolist())
        return found

    def change(self, day: int, added: Pairs, dropped: Iterable[int]) -> None:
        """Add `added` to a day and take the pairs of the `dropped` keys out."""
        self.save(day, merged(self.load(day), added, dropped))

    def by_key(self) -> dict[int, list[int]]:
        """Every key's bands (for comparing an index with a rebuild)."""
        out: dict[int, list[int]] = defaultdict(list)
        for path in sorted(self.folder.glob("*.npy")) if self.folder.is_dir() else []:
            for band, key in np.load(path).tolist():
                out[key].append(band)
        return out

    def sync(self) -> None:
        if self.folder.is_dir():
            fsync_dir(self.folder)

    def path(self, day: int) -> Path:
        return self.folder / f"{day}.npy"

    def load(self, day: int, *, mapped: bool = False) -> Pairs:
        """A day's pairs (mapped: read lazily, for look-ups that touch a few pages)."""
        try:
            pairs: Pairs = np.load(self.path(day), mmap_mode="r" if mapped else None)
        except FileNotFoundError:
            return np.empty((0, 2), dtype=np.int64)
        return pairs

    def save(self, day: int, pairs: Pairs) -> None:
        """Replace a day's band file so that it is complete or absent."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(day)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as handle:
                np.save(handle, pairs)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)


def day_pairs(table: pa.Table) -> dict[int, Pairs]:
    """The (band, key) pairs of the rows of `table`, by publication day."""
    out: dict[int, Pairs] = {}
    if not table.num_rows:
        return out
    days = np.asarray(
        pc.cast(table["published_at"], pa.date32()).cast(pa.int32()).to_numpy(), dtype=np.int64
    )
    keys = np.array([key_of(str(a)) for a in table["article_id"].to_pylist()], dtype=np.int64)
    bands: Any = table["lsh_bands"].combine_chunks()
    lengths = np.asarray(pc.list_value_length(bands).fill_null(0).to_numpy(), dtype=np.int64)
    flat = np.asarray(pc.list_flatten(bands).to_numpy(), dtype=np.int64)
    owners = np.repeat(np.arange(table.num_rows), lengths)
    for day in np.unique(days).tolist():
        mine = days[owners] == day
        out[int(day)] = np.stack([flat[mine], keys[owners[mine]]], axis=1)
    return out


def merged(existing: Pairs, added: Pairs, dropped: Iterable[int]) -> Pairs:
    """`existing` (sorted by band) without the pairs of the `dropped` keys, with `added`
    merged in: sorted by band, in linear time (a day's array is rewritten by every commit
    that adds to it)."""
    keys = np.unique(np.fromiter(dropped, dtype=np.int64))
    if len(existing) and len(keys):
        at = np.clip(np.searchsorted(keys, existing[:, 1]), 0, len(keys) - 1)
        existing = existing[keys[at] != existing[:, 1]]
    if not len(added):
        return np.array(existing, dtype=np.int64).reshape(-1, 2)
    added = added[np.argsort(added[:, 0], kind="stable")]
    added = added[np.r_[True, (added[1:] != added[:-1]).any(axis=1)]]
    at = (
        np.searchsorted(existing[:, 0], added[:, 0])
        if len(existing)
        else np.zeros(len(added), dtype=np.int64)
    )
    return np.insert(np.asarray(existing, dtype=np.int64).reshape(-1, 2), at, added, axis=0)
