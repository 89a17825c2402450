"""Upgrading the MinHash scheme (transforms/minhash.py: every character of the scripts written
without spaces is a word): stored files say which scheme made their fingerprints, a rewrite
never claims a scheme its rows were not fingerprinted under, the daily check warns, and
`dedup --rebuild` makes the fingerprints again and finds the copies the older scheme missed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.dedup import older_words
from tests.transforms.test_dedup import STORIES, T0, WEEK, row, stored
from tests.transforms.test_index import commit, dump
from tests.transforms.test_minhash import EDITED, OTHER, REPORT
from transforms import dataset, minhash
from transforms.commit import commit_lock
from transforms.compaction import compact
from transforms.dedup import add_fingerprints
from transforms.dedup_store import rebuild
from transforms.index import rebuild_index
from transforms.quality import check_recent

OLDER = minhash.OLDER_SCHEMES[0]


def as_older_scheme(root: Path) -> None:
    """Every article file's footer stating the older scheme (as it wrote them)."""
    for path in dataset.article_files(root):
        table = pq.read_table(path)
        dataset.write_atomic(dataset.with_minhash_scheme(table, OLDER), path)
        assert dataset.minhash_scheme(path) == OLDER


def old_store(root: Path) -> dict[str, dict[str, Any]]:
    """A store fingerprinted under the older scheme: a Chinese report and an English story,
    then (after the upgrade) another site's lightly edited copy of the report."""
    with older_words():
        report = row("https://a.example/report", REPORT, T0, "a")
        english = row("https://a.example/english", STORIES["wire"], T0, "a")
        other = row("https://a.example/weather", OTHER, T0, "a")
        commit(root, [report, english, other], "a", "r1")
    as_older_scheme(root)
    copy = row("https://b.example/copy", EDITED, T0 + dt.timedelta(hours=3), "b")
    commit(root, [copy], "b", "r2")
    return {r["url"]: r for r in (report, english, other, copy)}


def fresh_prints(text: str) -> tuple[Any, ...]:
    made = [{"text": text}]
    add_fingerprints(made)
    return made[0]["shingles"], made[0]["minhash"], made[0]["lsh_bands"]


def test_the_older_scheme_missed_the_copy_and_a_rebuild_finds_it(tmp_path: Path) -> None:
    rows = old_store(tmp_path)
    before = stored(tmp_path)
    copy = "https://b.example/copy"
    assert before[copy]["duplicate_of"] is None  # the report's stored bands: of the old rule
    stale = dataset.stale_prints(tmp_path)
    assert len(stale) == 1 and dataset.minhash_scheme(stale[0]) == OLDER
    findings = [f for f in check_recent(tmp_path, T0.date(), 1, T0) if f.check == "minhash_scheme"]
    assert len(findings) == 1 and "dedup --rebuild" in findings[0].message

    with commit_lock(tmp_path):
        done = rebuild(tmp_path, WEEK)
    after = stored(tmp_path)
    report = rows["https://a.example/report"]["article_id"]
    assert after[copy]["duplicate_of"] == report
    assert after[copy]["story_id"] == after["https://a.example/report"]["story_id"]
    assert after["https://a.example/weather"]["duplicate_of"] is None
    assert dataset.stale_prints(tmp_path) == []
    assert not [f for f in check_recent(tmp_path, T0.date(), 1, T0) if f.check == "minhash_scheme"]
    # the report's fingerprints are made again; the English story's were already equal
    prints = {
        r["url"]: r
        for r in dataset.read_partitions(
            tmp_path, ["url", "shingles", "minhash", "lsh_bands"]
        ).to_pylist()
    }
    for url, text in (
        ("https://a.example/report", REPORT),
        ("https://a.example/english", STORIES["wire"]),
    ):
        assert (
            prints[url]["shingles"],
            prints[url]["minhash"],
            prints[url]["lsh_bands"],
        ) == fresh_prints(text)
    assert done["changed"] >= 2  # the report's fingerprints, the copy's flags
    kept_index = dump(tmp_path)
    with commit_lock(tmp_path):
        rebuild_index(tmp_path)
    assert dump(tmp_path) == kept_index  # the index equals a rebuild from the files
    with commit_lock(tmp_path):
        assert rebuild(tmp_path, WEEK) == {"rows": 4, "changed": 0, "files": 0}


def test_a_rebuild_since_a_day_makes_the_fingerprints_of_that_day_on_again(
    tmp_path: Path,
) -> None:
    old_store(tmp_path)
    with commit_lock(tmp_path):
        rebuild(tmp_path, WEEK, since=(T0 + dt.timedelta(days=1)).date())
    assert len(dataset.stale_prints(tmp_path)) == 1  # the day before is left as it was
    with commit_lock(tmp_path):
        rebuild(tmp_path, WEEK, since=T0.date())
    assert dataset.stale_prints(tmp_path) == []
    assert stored(tmp_path)["https://b.example/copy"]["duplicate_of"] is not None


def test_a_rewrite_keeps_the_older_scheme_of_the_rows_it_holds(tmp_path: Path) -> None:
    """Compaction and flag updates carry the rows' fingerprints over unchanged: the file they
    write says the older scheme, so the rebuild still knows to make them again."""
    old_store(tmp_path)
    with commit_lock(tmp_path):
        compact(tmp_path, dt.timedelta(days=1), T0 + dt.timedelta(days=30))
    schemes = {dataset.minhash_scheme(p) for p in dataset.article_files(tmp_path)}
    assert schemes == {OLDER}  # one compacted file, of both runs' rows
    (compacted,) = dataset.article_files(tmp_path)
    table = pq.read_table(compacted)
    dataset.write_atomic(table, compacted, rows_from=[compacted])
    assert dataset.minhash_scheme(compacted) == OLDER
    dataset.write_atomic(table, compacted, rows_from=[compacted], refingerprinted=True)
    assert dataset.minhash_scheme(compacted) == minhash.SCHEME


def test_the_write_stage_fingerprints_again_a_run_transformed_under_an_older_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run transformed before an upgrade and written after it: its rows get the current
    scheme's fingerprints, as its file says."""
    from ingest.run import commit as write_stage
    from tests.ingest.run.test_edge_cases import transformed_run

    source, settings, data, run, transformed = transformed_run(tmp_path, 2)
    path = Path(transformed["path"])
    table = pq.read_table(path)
    garbled = np.zeros(minhash.NUM_PERM, dtype=np.uint32).tolist()
    at = table.schema.get_field_index("minhash")
    field = table.schema.field(at)
    table = table.set_column(at, field, pa.array([garbled] * table.num_rows, field.type))
    pq.write_table(dataset.with_minhash_scheme(table, OLDER), path)

    write_stage.write(source, settings, data, run, str(path))
    for stored_file in dataset.article_files(data):
        assert dataset.minhash_scheme(stored_file) == minhash.SCHEME
        written = pq.read_table(stored_file).to_pylist()
        for made in written:
            assert made["minhash"] != garbled
            assert (made["shingles"], made["minhash"], made["lsh_bands"]) == fresh_prints(
                made["text"]
            )


def test_a_run_written_again_after_the_upgrade_fingerprints_the_rows_it_keeps(
    tmp_path: Path,
) -> None:
    """A run stored under the older scheme and written again (a cleared task) with fewer
    rows keeps its earlier rows: they are fingerprinted again, as its new file says."""
    from ingest.run import commit as write_stage
    from tests.ingest.run.test_edge_cases import transformed_run

    source, settings, data, run, transformed = transformed_run(tmp_path, 3)
    path = Path(transformed["path"])
    everything = pq.read_table(path)
    write_stage.write(source, settings, data, run, str(path))
    garbled = np.zeros(minhash.NUM_PERM, dtype=np.uint32).tolist()
    for stored_file in dataset.article_files(data):  # as the older scheme stored them
        table = pq.read_table(stored_file)
        at = table.schema.get_field_index("minhash")
        field = table.schema.field(at)
        table = table.set_column(at, field, pa.array([garbled] * table.num_rows, field.type))
        dataset.write_atomic(dataset.with_minhash_scheme(table, OLDER), stored_file)

    pq.write_table(everything.slice(0, 1), path)  # the run again, one row produced
    write_stage.write(source, settings, data, run, str(path))
    written = [r for f in dataset.article_files(data) for r in pq.read_table(f).to_pylist()]
    assert len(written) == 3  # the two rows not produced again are kept
    for made in written:
        assert (made["shingles"], made["minhash"], made["lsh_bands"]) == fresh_prints(made["text"])
    assert {dataset.minhash_scheme(f) for f in dataset.article_files(data)} == {minhash.SCHEME}
