"""Compaction: one sorted zstd file per older partition, no row lost or doubled, even when
the process is killed half-way; a re-run of a compacted run replaces its rows."""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.commit import commit_articles, commit_lock
from transforms.compaction import JOURNAL, compact, published_files
from transforms.dataset import RunOutput, read_partitions
from transforms.index import read_own
from transforms.schema import ARTICLE_SCHEMA

UTC = dt.UTC
NOW = dt.datetime(2024, 3, 20, 12, tzinfo=UTC)
OLD_DAY = dt.datetime(2024, 3, 1, tzinfo=UTC)


def article(n: int, published: dt.datetime, source: str, run_id: str) -> dict[str, Any]:
    return {
        "article_id": f"{n:016x}",
        "url": f"https://{source}.example/{n}",
        "canonical_url": f"https://{source}.example/{n}",
        "source_id": source,
        "text": f"text {n}",
        "published_at": published,
        "date_source": "meta",
        "fetched_at": published + dt.timedelta(hours=1),
        "word_count": 2,
        "content_hash": f"hash{n}",
        "run_id": run_id,
        "extractor": "test",
    }


def fill(root: Path) -> list[str]:
    """Twelve small files: three sources x four runs on an old day, plus one recent file."""
    ids = []
    n = 0
    for source in ("a", "b", "c"):
        for run in range(4):
            rows = []
            for k in range(3):
                n += 1
                rows.append(
                    article(
                        n,
                        OLD_DAY + dt.timedelta(hours=(n * 7) % 23, minutes=k),
                        source,
                        f"run{run}",
                    )
                )
                ids.append(f"{n:016x}")
            commit_articles(
                pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
                root,
                source,
                f"K{run}",
                f"run{run}",
            )
    recent = article(999, NOW - dt.timedelta(days=1), "a", "run9")
    commit_articles(pa.Table.from_pylist([recent], schema=ARTICLE_SCHEMA), root, "a", "K9", "run9")
    return [*ids, f"{999:016x}"]


def stored_ids(root: Path) -> list[str]:
    return sorted(read_partitions(root, ["article_id"])["article_id"].to_pylist())


def test_older_partitions_become_one_sorted_zstd_file(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    with commit_lock(tmp_path):
        done = compact(tmp_path, dt.timedelta(days=7), NOW, row_group_rows=5)
    assert {k: done[k] for k in ("partitions", "files", "rows", "upgraded")} == {
        "partitions": 1,
        "files": 12,
        "rows": 36,
        "upgraded": 0,
    }
    assert (done["side_partitions"], done["side_files"]) == (0, 0)
    old = sorted((tmp_path / "articles" / "published_date=2024-03-01").iterdir())
    assert len(old) == 1 and old[0].name.startswith("compacted-")
    table = pq.read_table(old[0])
    assert table["published_at"].to_pylist() == sorted(table["published_at"].to_pylist())
    meta = pq.ParquetFile(old[0]).metadata
    assert meta.num_row_groups == 8  # 36 rows in groups of 5
    assert meta.row_group(0).column(0).compression == "ZSTD"
    # the footer declares the order (published_at, then article_id), for engines to use
    names = table.schema.names
    declared = [(names[c.column_index], c.descending) for c in meta.row_group(0).sorting_columns]
    assert declared == [("published_at", False), ("article_id", False)]
    # dictionaries where values repeat, none for free text, ids and signatures
    encodings = {
        meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).encodings
        for i in range(meta.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["source_id"]
    assert "RLE_DICTIONARY" in encodings["places.list.element"]
    for column in ("text", "article_id", "minhash.list.element", "lsh_bands.list.element"):
        assert "RLE_DICTIONARY" not in encodings[column], column
    assert len(list((tmp_path / "articles" / "published_date=2024-03-19").iterdir())) == 1
    assert stored_ids(tmp_path) == sorted(ids)
    with commit_lock(tmp_path):  # nothing left to do
        assert compact(tmp_path, dt.timedelta(days=7), NOW)["partitions"] == 0


def _compact_and_die(root: str) -> None:
    def die(target: Path) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with commit_lock(Path(root)):
        compact(Path(root), dt.timedelta(days=7), NOW, after_write=die)


def test_a_compaction_killed_half_way_loses_and_doubles_nothing(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    worker = multiprocessing.get_context("spawn").Process(
        target=_compact_and_die, args=(str(tmp_path),)
    )
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    part = tmp_path / "articles" / "published_date=2024-03-01"
    assert (part / JOURNAL).exists()  # killed between writing the target and the clean-up
    with commit_lock(tmp_path):  # the next writer finishes it before reading anything
        pass
    assert not (part / JOURNAL).exists()
    assert stored_ids(tmp_path) == sorted(ids)
    with commit_lock(tmp_path):
        assert compact(tmp_path, dt.timedelta(days=7), NOW)["partitions"] == 0
    assert stored_ids(tmp_path) == sorted(ids)


def test_a_compaction_killed_before_its_target_was_complete_changes_nothing(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    part = tmp_path / "articles" / "published_date=2024-03-01"
    inputs = sorted(p.name for p in part.iterdir())
    (part / JOURNAL).write_text(json.dumps({"inputs": inputs, "target": "compacted-x.parquet"}))
    (part / ".compacted-x.parquet.tmp").write_bytes(b"PAR1 half")  # an interrupted write
    with commit_lock(tmp_path):
        pass
    assert sorted(p.name for p in part.glob("*.parquet")) == inputs
    assert stored_ids(tmp_path) == sorted(ids)


def test_a_rerun_of_a_compacted_run_replaces_its_rows(tmp_path: Path) -> None:
    fill(tmp_path)
    with commit_lock(tmp_path):
        compact(tmp_path, dt.timedelta(days=7), NOW)
    run = RunOutput("b", "K2", "run2")
    before = read_own(tmp_path, run, ["article_id"])["article_id"].to_pylist()
    assert len(before) == 3
    again = [article(500, OLD_DAY + dt.timedelta(hours=2), "b", "run2")]
    with commit_lock(tmp_path):
        commit_articles(
            pa.Table.from_pylist(again, schema=ARTICLE_SCHEMA), tmp_path, "b", "K2", "run2"
        )
    assert read_own(tmp_path, run, ["article_id"])["article_id"].to_pylist() == [f"{500:016x}"]
    stored = stored_ids(tmp_path)
    assert f"{500:016x}" in stored and not set(before) & set(stored)
    excluded = read_partitions(tmp_path, ["article_id"], exclude=run)["article_id"].to_pylist()
    assert f"{500:016x}" not in excluded and len(excluded) == len(stored) - 1


def commit_new_run(root: Path) -> str:
    """What an ingest does: take the commit lock (which runs recovery), write a run's file."""
    row = article(700, OLD_DAY + dt.timedelta(hours=5), "d", "run7")
    with commit_lock(root):
        commit_articles(pa.Table.from_pylist([row], schema=ARTICLE_SCHEMA), root, "d", "K7", "run7")
    return f"{700:016x}"


@pytest.mark.parametrize(
    "journal",
    [b"", b'{"inputs": ["a__K0.parquet", "a__K1.parq'],
    ids=["empty", "truncated"],
)
def test_an_unreadable_journal_is_removed_with_a_warning_and_commits_go_on(
    tmp_path: Path, journal: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    ids = fill(tmp_path)
    part = tmp_path / "articles" / "published_date=2024-03-01"
    files = sorted(p.name for p in part.glob("*.parquet"))
    (part / JOURNAL).write_bytes(journal)  # a disk that filled while the journal was written
    with caplog.at_level(logging.WARNING, logger="transforms.compaction"):
        new = commit_new_run(tmp_path)
    assert not (part / JOURNAL).exists()
    assert sorted(p.name for p in part.glob("*.parquet")) == sorted([*files, "d__K7.parquet"])
    assert stored_ids(tmp_path) == sorted([*ids, new])
    assert f"{part / JOURNAL}: compaction journal unreadable" in caplog.text
    assert "nothing to redo" in caplog.text
    with commit_lock(tmp_path):
        assert compact(tmp_path, dt.timedelta(days=7), NOW)["partitions"] == 1
    assert stored_ids(tmp_path) == sorted([*ids, new])


class Stop(Exception):
    pass


def stop(target: Path) -> None:
    raise Stop(target)


def test_a_finished_compaction_whose_journal_was_lost_leaves_no_row_doubled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = fill(tmp_path)
    part = tmp_path / "articles" / "published_date=2024-03-01"
    inputs = sorted(part.glob("*.parquet"))
    with commit_lock(tmp_path), pytest.raises(Stop):
        compact(tmp_path, dt.timedelta(days=7), NOW, after_write=stop)
    (target,) = part.glob("compacted-*.parquet")
    (part / JOURNAL).write_bytes(b'{"inputs": ["a__K')  # the machine stopped: journal torn
    late = article(801, OLD_DAY, "e", "run8")  # a file whose rows the target does not hold
    pq.write_table(pa.Table.from_pylist([late], schema=ARTICLE_SCHEMA), part / "e__K8.parquet")
    # readers already see each row once
    assert published_files(tmp_path, "articles") == sorted(
        [target, part / "e__K8.parquet", *(tmp_path / "articles").glob("*19/*.parquet")]
    )
    with caplog.at_level(logging.WARNING, logger="transforms.compaction"):
        new = commit_new_run(tmp_path)
    assert not any(p.exists() for p in inputs)
    assert sorted(part.glob("*.parquet")) == sorted(
        [target, part / "e__K8.parquet", part / "d__K7.parquet"]
    )
    assert stored_ids(tmp_path) == sorted([*ids, f"{801:016x}", new])
    assert f"{part / JOURNAL}: compaction journal unreadable" in caplog.text
    assert f"every row of them is in {target.name}" in caplog.text


def test_a_disk_that_fills_while_the_journal_is_written_leaves_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = fill(tmp_path)
    part = tmp_path / "articles" / "published_date=2024-03-01"
    files = sorted(part.iterdir())

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with commit_lock(tmp_path), pytest.raises(OSError, match="No space left"):
        compact(tmp_path, dt.timedelta(days=7), NOW)
    monkeypatch.undo()
    assert sorted(part.iterdir()) == files  # no journal, no temporary file
    new = commit_new_run(tmp_path)
    assert stored_ids(tmp_path) == sorted([*ids, new])


def test_a_journal_naming_files_outside_its_partition_is_not_followed(tmp_path: Path) -> None:
    ids = fill(tmp_path)
    part = tmp_path / "articles" / "published_date=2024-03-01"
    victim = tmp_path / "state" / "keep.parquet"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_bytes(b"not yours")
    plan = {"inputs": ["../../state/keep.parquet"], "target": "a__K0.parquet"}
    (part / JOURNAL).write_text(json.dumps(plan))
    with commit_lock(tmp_path):
        pass
    assert victim.exists() and not (part / JOURNAL).exists()
    assert stored_ids(tmp_path) == sorted(ids)


def run_metrics(source: str, day: dt.date, hour: int, new: int) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)
    return {
        "run_id": f"scheduled__{start.isoformat()}",
        "source_id": source,
        "interval_start": start,
        "interval_end": start + dt.timedelta(hours=1),
        "started_at": start,
        "finished_at": start,
        "status": "success",
        "reprocess": False,
        "new": new,
    }


def problems(run: dict[str, Any], urls: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "url": url,
            "source_id": run["source_id"],
            "stage": "fetch",
            "reason": "http_404",
            "detail": None,
            "run_id": run["run_id"],
            "at": run["started_at"],
        }
        for url in urls
    ]


def side_tables(root: Path) -> tuple[list[Any], list[Any]]:
    from transforms.query import run_query

    runs = run_query(root, "SELECT source_id, run_id, new FROM runs ORDER BY ALL")[1]
    quarantined = run_query(root, "SELECT source_id, run_id, url FROM quarantine ORDER BY ALL")
    return runs, quarantined[1]


def test_older_runs_and_quarantine_partitions_merge_and_a_run_written_again_replaces_its_rows(
    tmp_path: Path,
) -> None:
    """One small file per run would make every reader list and open every run ever made:
    older run dates are merged like the articles, and a run written again into a merged
    partition replaces its rows there (its metrics row, its quarantine rows)."""
    from ingest.run.metrics import stored_row
    from ingest.run.model import Run
    from transforms.dataset import commit_quarantine, commit_run_metrics, read_quarantine

    written: list[dict[str, Any]] = []
    for days_ago in (10, 9, 1):
        day = NOW.date() - dt.timedelta(days=days_ago)
        for hour in range(4):
            for source in ("a", "b"):
                run = run_metrics(source, day, hour, hour)
                key = f"{day:%Y%m%d}T{hour:02d}"
                commit_run_metrics(run, tmp_path, source, key, day)
                commit_quarantine(
                    problems(run, [f"https://{source}/{key}"]),
                    tmp_path,
                    source,
                    key,
                    day,
                    [run["run_id"]],
                )
                written.append(run | {"key": key, "day": day})
    before = side_tables(tmp_path)
    with commit_lock(tmp_path):
        done = compact(tmp_path, dt.timedelta(days=7), NOW)
    assert (done["side_partitions"], done["side_files"]) == (4, 32)
    for table in ("runs", "quarantine"):
        for days_ago, files in ((10, 1), (9, 1), (1, 8)):
            day = NOW.date() - dt.timedelta(days=days_ago)
            assert len(list((tmp_path / table / f"run_date={day}").glob("*.parquet"))) == files
    assert side_tables(tmp_path) == before
    with commit_lock(tmp_path):  # nothing left to merge
        assert compact(tmp_path, dt.timedelta(days=7), NOW)["side_files"] == 0

    # a run of a merged day written again: its rows replaced inside the merged file
    old = written[0]
    run = Run(old["run_id"], old["interval_start"], old["interval_end"])
    commit_run_metrics(old | {"new": 99}, tmp_path, "a", old["key"], old["day"])
    again = problems(old, ["https://a/again-1", "https://a/again-2"])
    commit_quarantine(again, tmp_path, "a", old["key"], old["day"], [old["run_id"]])
    runs, quarantined = side_tables(tmp_path)
    assert len(runs) == len(before[0]) and ("a", old["run_id"], 99) in runs
    assert len(quarantined) == len(before[1]) + 1
    assert {r[2] for r in quarantined if r[:2] == ("a", old["run_id"])} == {
        "https://a/again-1",
        "https://a/again-2",
    }
    assert len(list((tmp_path / "runs" / f"run_date={old['day']}").glob("*.parquet"))) == 1
    stored = stored_row(tmp_path, "a", run)
    assert stored is not None and stored["new"] == 99
    found = read_quarantine(tmp_path, "a", old["key"], old["run_id"], old["day"])
    assert sorted(str(r["url"]) for r in found) == ["https://a/again-1", "https://a/again-2"]
    commit_quarantine([], tmp_path, "a", old["key"], old["day"], [old["run_id"]])
    assert not read_quarantine(tmp_path, "a", old["key"], old["run_id"], old["day"])
    assert len(side_tables(tmp_path)[1]) == len(before[1]) - 1

    # the same window run again under another id (as its file would be, it is replaced):
    # the write stage names the earlier run's id, found by the window
    other = written[2]
    rerun = other | {"run_id": "manual__again", "new": 7}
    earlier = stored_row(
        tmp_path, "a", Run("manual__again", other["interval_start"], other["interval_end"])
    )
    assert earlier is not None and earlier["run_id"] == other["run_id"]
    replaced = ["manual__again", str(earlier["run_id"])]
    commit_quarantine(
        problems(rerun, ["https://a/third"]), tmp_path, "a", other["key"], other["day"], replaced
    )
    commit_run_metrics(rerun, tmp_path, "a", other["key"], other["day"])
    runs, quarantined = side_tables(tmp_path)
    assert [r for r in runs if r[1] in (other["run_id"], "manual__again") and r[0] == "a"] == [
        ("a", "manual__again", 7)
    ]
    assert [r for r in quarantined if r[0] == "a" and r[1] in replaced] == [
        ("a", "manual__again", "https://a/third")
    ]


def test_a_merge_of_run_files_cut_short_loses_and_doubles_nothing(tmp_path: Path) -> None:
    from transforms.compaction import recover
    from transforms.dataset import commit_run_metrics

    day = NOW.date() - dt.timedelta(days=10)
    for hour in range(3):
        commit_run_metrics(run_metrics("a", day, hour, hour), tmp_path, "a", f"K{hour}", day)
    before = side_tables(tmp_path)

    def crash(target: Path) -> None:
        raise KeyboardInterrupt  # the process stops between the merged file and the deletes

    with commit_lock(tmp_path), pytest.raises(KeyboardInterrupt):
        compact(tmp_path, dt.timedelta(days=7), NOW, after_write=crash)
    part = tmp_path / "runs" / f"run_date={day}"
    assert (part / JOURNAL).exists() and len(list(part.glob("*.parquet"))) == 4
    assert len(published_files(tmp_path, "runs")) == 1  # readers see the merged file only
    (part / JOURNAL).write_text('{"inputs": [')  # and the journal torn, too: the rows tell
    assert len(published_files(tmp_path, "runs")) == 1
    assert recover(tmp_path) == 1
    assert not (part / JOURNAL).exists() and len(list(part.glob("*.parquet"))) == 1
    assert side_tables(tmp_path) == before
