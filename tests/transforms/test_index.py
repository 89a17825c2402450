"""The index of stored articles: kept with every commit, equal to a rebuild from the files, and
what lets a commit read only the files it needs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.transforms.test_dedup import STORIES, T0, WEEK, row, stored, wire_with
from tests.transforms.test_dedup import commit as commit_rows
from transforms import dataset
from transforms import index as index_module
from transforms.bands import key_of
from transforms.commit import commit_lock
from transforms.compaction import compact
from transforms.index import ArticleIndex, rebuild_index


def commit(root: Path, rows: list[dict[str, Any]], source_id: str, run: str) -> Any:
    """A run's commit with its rows carrying the run's id (as the write stage's rows do)."""
    return commit_rows(root, [{**r, "run_id": run} for r in rows], source_id, run)


def dump(root: Path) -> list[tuple[Any, ...]]:
    with ArticleIndex(root) as index:
        return index.dump()


def test_the_index_kept_by_commits_equals_one_rebuilt_from_the_files(tmp_path: Path) -> None:
    late = row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=6), "a")
    other = row("https://a.example/other", STORIES["same_topic"], T0, "a")
    commit(tmp_path, [late, other], "a", "run1")
    copy = row("https://b.example/copy", STORIES["edited"], T0 + dt.timedelta(hours=8), "b")
    commit(tmp_path, [copy], "b", "run2")
    early = row("https://c.example/early", wire_with(tail=STORIES["added_paragraph"]), T0, "c")
    commit(tmp_path, [early], "c", "run3")  # takes the story over: stored rows re-flagged
    with commit_lock(tmp_path):  # their partition compacted into one file
        compact(tmp_path, dt.timedelta(days=1), T0 + dt.timedelta(days=30))
    commit(tmp_path, [late], "a", "run1")  # run1 again, after compaction: its rows replaced
    kept = dump(tmp_path)
    assert len(kept) == 3 and {r[3] for r in kept} == {early["article_id"]}
    with commit_lock(tmp_path):
        assert rebuild_index(tmp_path) == 3
    assert dump(tmp_path) == kept
    assert {r["url"] for r in stored(tmp_path).values()} == {
        "https://a.example/late",
        "https://b.example/copy",
        "https://c.example/early",
    }  # run1's re-run no longer lists "other": its row went, from the files and the index


def test_a_commit_reads_no_stored_file_its_rows_cannot_touch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in range(20):  # twenty stored days of unrelated stories, one file each
        at = T0 - dt.timedelta(days=30 + day)
        text = f"Story {day}: " + " ".join(f"w{day}x{k}" for k in range(60))
        commit(tmp_path, [row(f"https://old.example/{day}", text, at, "old")], "old", f"r{day}")
    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(tmp_path, [original], "a", "run1")
    read: list[str] = []
    real_read_table = pq.read_table
    real_dataset = ds.dataset

    def reading_table(source: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(Path(str(source)).name)
        return real_read_table(source, *args, **kwargs)

    def reading_dataset(source: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(Path(str(source)).name)
        return real_dataset(source, *args, **kwargs)

    def reading_columns(source: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(Path(str(source)).name)
        return real_read_columns(source, *args, **kwargs)

    real_read_columns = index_module.read_columns
    monkeypatch.setattr(pq, "read_table", reading_table)
    monkeypatch.setattr(dataset.pq, "read_table", reading_table)
    monkeypatch.setattr(ds, "dataset", reading_dataset)
    monkeypatch.setattr(index_module, "read_columns", reading_columns)
    copy = row("https://b.example/copy", STORIES["edited"], T0 + dt.timedelta(hours=2), "b")
    result = commit(tmp_path, [copy], "b", "run2")
    assert result.rows[0]["duplicate_of"] == original["article_id"]
    stored_files = {p.name for p in dataset.article_files(tmp_path)}
    # the original's file (a candidate); the run's own new file is indexed as it was written
    assert {name for name in read if name in stored_files} <= {"a__run1.parquet"}
    kept = dump(tmp_path)
    with commit_lock(tmp_path):
        rebuild_index(tmp_path)
    assert dump(tmp_path) == kept


def test_a_window_before_the_index_is_found_by_bands_and_hash(tmp_path: Path) -> None:
    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(tmp_path, [original], "a", "run1")
    (tmp_path / "state" / "articles.sqlite").unlink()  # an older data root: no index yet
    for suffix in ("-wal", "-shm"):
        (tmp_path / "state" / f"articles.sqlite{suffix}").unlink(missing_ok=True)
    copy = row("https://b.example/copy", STORIES["edited"], T0 + WEEK / 2, "b")
    exact = row("https://c.example/exact", STORIES["wire"], T0 + WEEK, "c")
    result = commit(tmp_path, [copy, exact], "b", "run2")  # the index is built first
    assert {r["duplicate_of"] for r in result.rows} == {original["article_id"]}


def test_a_row_without_fingerprints_is_found_by_its_content_hash(tmp_path: Path) -> None:
    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(tmp_path, [original], "a", "run1")
    no_prints = dict.fromkeys(("shingles", "minhash", "lsh_bands"))  # (before they existed)
    dataset.update_columns(tmp_path, {original["article_id"]: no_prints})
    with commit_lock(tmp_path):
        rebuild_index(tmp_path)
    exact = row("https://c.example/exact", STORIES["wire"], T0 + dt.timedelta(hours=1), "c")
    result = commit(tmp_path, [exact], "c", "run2")  # shares no LSH band: only the hash
    assert result.rows[0]["duplicate_of"] == original["article_id"]


def test_a_storys_members_are_its_own_article_and_its_copies(tmp_path: Path) -> None:
    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    other = row("https://a.example/other", STORIES["same_topic"], T0, "a")
    commit(tmp_path, [original, other], "a", "run1")
    copy = row("https://b.example/copy", STORIES["edited"], T0 + dt.timedelta(hours=2), "b")
    commit(tmp_path, [copy], "b", "run2")
    with commit_lock(tmp_path), ArticleIndex(tmp_path) as index:
        members = index.members([original["article_id"]], None)
        in_story_index = index.con.execute(
            "SELECT article_id FROM articles INDEXED BY articles_copies "
            "WHERE story IN (?, ?) AND story != article_id",
            (original["article_id"], other["article_id"]),
        ).fetchall()
        without_run2 = index.members([original["article_id"]], ("b", "run2"))
    assert sorted(m.article_id for m in members) == sorted(
        [original["article_id"], copy["article_id"]]
    )
    assert in_story_index == [(copy["article_id"],)]  # an article that is its own story: not
    assert [m.article_id for m in without_run2] == [original["article_id"]]


def test_a_key_whose_row_went_does_not_find_the_row_that_took_its_number(
    tmp_path: Path,
) -> None:
    first = row("https://a.example/first", STORIES["wire"], T0, "a")
    commit(tmp_path, [first], "a", "run1")
    second = row("https://a.example/second", STORIES["same_topic"], T0, "a")
    commit(tmp_path, [second], "a", "run1")  # the re-run drops "first": its number is free
    with commit_lock(tmp_path), ArticleIndex(tmp_path) as index:
        numbers = index.con.execute("SELECT id, article_id FROM articles").fetchall()
        found = index.stored([first["article_id"], second["article_id"]], None)
        by_key = index._rows("key", [key_of(first["article_id"])], None)  # as bands find it
    assert numbers == [(1, second["article_id"])]  # the number "first" had
    assert found == {second["article_id"]} and by_key == []
    again = commit(tmp_path, [first], "b", "run2")
    assert (len(again.rows), again.seen) == (1, 0)  # not stored: written again
    kept = dump(tmp_path)
    with commit_lock(tmp_path):
        rebuild_index(tmp_path)
    assert dump(tmp_path) == kept


def test_files_added_by_hand_are_taken_in_by_the_daily_reconciliation(tmp_path: Path) -> None:
    import shutil

    from transforms.index import reconcile_index

    elsewhere = tmp_path / "elsewhere"
    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(elsewhere, [original], "a", "run1")
    commit(
        tmp_path / "data", [row("https://b.example/x", STORIES["same_topic"], T0, "b")], "b", "r"
    )
    (copied,) = (elsewhere / "articles").rglob("*.parquet")
    target = tmp_path / "data" / copied.relative_to(elsewhere)
    shutil.copy(copied, target)  # restored from a backup, say
    with commit_lock(tmp_path / "data"):
        assert reconcile_index(tmp_path / "data") is True
        assert reconcile_index(tmp_path / "data") is False  # in line now
    again = commit(tmp_path / "data", [original], "c", "r2")
    assert (len(again.rows), again.seen) == (0, 1)  # known as stored after the rebuild


def test_a_file_repeating_another_files_article_gives_one_indexed_row(tmp_path: Path) -> None:
    import shutil

    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(tmp_path, [original], "a", "run1")
    (stored_file,) = (tmp_path / "articles").rglob("*.parquet")
    shutil.copy(stored_file, stored_file.with_name("copied-by-hand.parquet"))
    with commit_lock(tmp_path):
        assert rebuild_index(tmp_path) == 1
    ((article_id, path, *_),) = dump(tmp_path)
    # the file read last stands, as when the index kept one row per key
    assert (article_id, path.rsplit("/", 1)[1]) == (
        original["article_id"],
        "copied-by-hand.parquet",
    )


def test_an_index_of_an_older_version_is_rebuilt_with_the_current_tables(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    original = row("https://a.example/wire", STORIES["wire"], T0, "a")
    commit(tmp_path, [original], "a", "run1")
    kept = dump(tmp_path)
    path = tmp_path / "state" / "articles.sqlite"
    with closing(sqlite3.connect(path)) as con, con:  # as an older version left it
        con.execute("DROP TABLE articles")
        con.execute(
            "CREATE TABLE articles (key INTEGER PRIMARY KEY, article_id TEXT NOT NULL UNIQUE, "
            "file INTEGER NOT NULL, day INTEGER NOT NULL, story TEXT, chash TEXT NOT NULL, "
            "source_id TEXT NOT NULL, run_id TEXT NOT NULL)"
        )
        con.execute("UPDATE meta SET value = '4' WHERE key = 'version'")
    with commit_lock(tmp_path), ArticleIndex(tmp_path) as index:
        assert index.rebuilt
        unique = [i for i in index.con.execute("PRAGMA index_list(articles)") if i[2]]
        assert unique == []  # the article_id is found by its key: no unique index to keep
    assert dump(tmp_path) == kept
    again = commit(tmp_path, [original], "c", "r2")
    assert (len(again.rows), again.seen) == (0, 1)  # found stored through the rebuilt index
