"""The band files of the index: look-ups, additions and removals agree with a plain set of
pairs per day through segments, merges and a merge a crash cut short."""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np

from transforms.bands import EMPTY, MAX_SEGMENTS, MERGE_SHARE, BandDays, Pairs, normalised


def pairs_of(found: set[tuple[int, int]]) -> Pairs:
    if not found:
        return EMPTY
    return np.array(sorted(found), dtype=np.int64).T.copy()


def expected_keys(
    model: dict[int, set[tuple[int, int]]], days: set[int], bands: set[int]
) -> set[int]:
    return {k for d in days for b, k in model[d] if b in bands}


def test_band_files_agree_with_a_set_of_pairs_through_segments_and_merges(tmp_path: Path) -> None:
    rng = random.Random(15)
    days = BandDays(tmp_path / "bands")
    model: dict[int, set[tuple[int, int]]] = defaultdict(set)
    next_key = 0
    for step in range(60):
        day = rng.randrange(3)
        dropped = (
            set(
                rng.sample(
                    sorted({k for _, k in model[day]}), k=min(3, len({k for _, k in model[day]}))
                )
            )
            if step % 4 == 0
            else set()
        )
        added = set()
        for _ in range(rng.randrange(0, 6)):
            next_key += 1
            added |= {(rng.randrange(50), next_key) for _ in range(4)}
        days.change(day, pairs_of(added), dropped)
        model[day] = {p for p in model[day] if p[1] not in dropped} | added
        query = set(rng.sample(range(50), 10))
        assert days.keys({0, 1, 2}, query) == expected_keys(model, {0, 1, 2}, query)
        assert days.keys({day}, query) == expected_keys(model, {day}, query)
        assert all(len(paths) <= MAX_SEGMENTS + 1 for paths in days.files().values())
    everything: dict[int, list[int]] = defaultdict(list)
    for found in model.values():
        for band, key in found:
            everything[key].append(band)
    assert days.by_key() == {k: sorted(v) for k, v in everything.items()}
    assert max(len(paths) for paths in days.files().values()) > 1  # segments were used


def test_a_merge_cut_short_before_its_segments_went_changes_no_look_up(tmp_path: Path) -> None:
    days = BandDays(tmp_path / "bands")
    for k in range(MAX_SEGMENTS + 1):  # a base and MAX_SEGMENTS segments
        days.change(7, pairs_of({(k % 3, 100 + k), (9, 100 + k)}), ())
    before = days.files()[7]
    saved = tmp_path / "saved"
    saved.mkdir()
    for path in before[1:]:
        shutil.copy(path, saved / path.name)
    days.change(7, pairs_of({(1, 500)}), ())  # merges everything into the base
    assert days.files()[7] == [days.path(7)]
    merged_keys = days.keys({7}, {0, 1, 2, 9})
    merged_by_key = days.by_key()
    for path in saved.iterdir():  # as if the process died before removing the segments
        shutil.copy(path, days.folder / path.name)
    assert len(days.files()[7]) == len(before)
    assert days.keys({7}, {0, 1, 2, 9}) == merged_keys == {*range(100, 100 + MAX_SEGMENTS + 1), 500}
    assert days.by_key() == merged_by_key
    days.change(7, EMPTY, {100, 500})  # a removal reaches every file holding the key
    assert days.keys({7}, {0, 1, 2, 9}) == merged_keys - {100, 500}


def test_a_large_days_segments_merge_alone_and_its_base_is_not_rewritten(tmp_path: Path) -> None:
    """A commit adds a batch to a day whose base holds far more: the segments merge into
    one segment while they hold less than MERGE_SHARE of the base, then into the base."""
    days = BandDays(tmp_path / "bands")
    base = {(b, 1000 + k) for k in range(400) for b in range(3)}  # 1,200 pairs
    days.change(3, pairs_of(base), ())
    model = set(base)
    written = days.path(3).stat().st_mtime_ns
    for k in range(MAX_SEGMENTS + 1):
        batch = {(k % 3, 5000 + k), (7, 5000 + k)}
        days.change(3, pairs_of(batch), ())
        model |= batch
    files = days.files()[3]
    assert files[0] == days.path(3) and len(files) == 2  # the base and one merged segment
    assert days.path(3).stat().st_mtime_ns == written
    assert days.keys({3}, {0, 1, 2, 7}) == {k for _, k in model}
    while len(model) - len(base) < MERGE_SHARE * len(base):  # the segments grow ...
        k = len(model)
        batch = {(b, 9000 + k + j) for j in range(10) for b in (0, 7)}
        days.change(3, pairs_of(batch), ())
        model |= batch
    for k in range(MAX_SEGMENTS + 1):  # ... until a merge takes them into the base
        days.change(3, pairs_of({(8, 20000 + k)}), ())
        model.add((8, 20000 + k))
    assert days.path(3).stat().st_mtime_ns != written
    assert days.keys({3}, {0, 1, 2, 7, 8}) == {k for _, k in model}
    assert days.by_key() == {
        key: sorted(b for b, k in model if k == key) for key in {k for _, k in model}
    }


def test_normalised_pairs_are_those_sorted_by_band_then_key_each_once() -> None:
    """Against sorting by both columns: sorted runs (a base and its segments) and unsorted
    pairs, with many shared bands and repeated pairs."""
    rng = np.random.default_rng(15)
    for _ in range(300):
        n = int(rng.integers(0, 300))
        pairs = np.stack([rng.integers(-4, 4, n), rng.integers(-3, 3, n)]).astype(np.int64)
        if n % 2:  # a few distinct 64-bit bands too
            pairs[0, : n // 3] = rng.integers(-(2**63), 2**63 - 1, n // 3, dtype=np.int64)
        cut = int(rng.integers(0, n + 1))
        merged = np.concatenate([_reference(pairs[:, :cut]), _reference(pairs[:, cut:]), pairs], 1)
        for given in (pairs, merged):
            assert np.array_equal(normalised(given), _reference(given))
            assert normalised(given).flags.c_contiguous


def _reference(pairs: Pairs) -> Pairs:
    unique = sorted(set(map(tuple, pairs.T.tolist())))
    return np.array(unique, dtype=np.int64).T.reshape(2, -1)
