"""The log of commits that publishes a dataset on an object store, against a real S3-compatible
server: what is published, racing writers, conflicts, checkpoints that bound the log, and
the garbage of writers that died before their commit."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.harness import S3Server
from transforms import lakelog
from transforms.lakelog import CommitConflict, Lake
from transforms.objectstore import S3Location


@pytest.fixture
def lake(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Lake:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return Lake(S3Location.parse(f"s3://{s3_server.bucket}/lake-{uuid.uuid4().hex[:10]}"))


def put(lake: Lake, name: str, day: str = "2026-12-01") -> str:
    path = lake.new_name("articles", f"published_date={day}", name)
    lake.write_bytes(path, name.encode())
    return path


def test_only_committed_files_are_published_and_a_commit_can_replace_files(lake: Lake) -> None:
    assert lake.published().files == {}
    first, second = put(lake, "a.parquet"), put(lake, "b.parquet")
    put(lake, "orphan.parquet")  # its writer died before committing it
    assert lake.commit({"articles": [first, second]}) == 1
    assert lake.published().files == {"articles": {first, second}}
    third = put(lake, "a.parquet")  # a re-run's file: a new name, never an overwrite
    assert third != first
    assert lake.commit({"articles": [third]}, {"articles": [first]}) == 2
    snapshot = lake.published()
    assert (snapshot.seq, snapshot.files) == (2, {"articles": {second, third}})


def test_racing_writers_each_get_their_own_commit_and_nothing_is_lost(lake: Lake) -> None:
    def writer(n: int) -> list[int]:
        return [lake.commit({"articles": [put(lake, f"w{n}-{k}.parquet")]}) for k in range(6)]

    with ThreadPoolExecutor(6) as pool:
        numbers = [seq for seqs in pool.map(writer, range(6)) for seq in seqs]
    assert sorted(numbers) == list(range(1, 37))  # every number won once
    assert len(lake.published().files["articles"]) == 36


def test_two_writers_removing_one_file_conflict_and_only_one_commits(lake: Lake) -> None:
    shared = put(lake, "shared.parquet")
    lake.commit({"articles": [shared]})

    def replace(n: int) -> str:
        try:
            lake.commit({"articles": [put(lake, f"r{n}.parquet")]}, {"articles": [shared]})
        except CommitConflict:
            return "conflict"
        return "committed"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(replace, range(4)))
    assert outcomes.count("committed") == 1, outcomes
    files = lake.published().files["articles"]
    assert shared not in files and len(files) == 1


def test_checkpoints_keep_the_log_short_and_the_published_files_right(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lakelog, "CHECKPOINT_EVERY", 5)
    paths = []
    for n in range(23):
        paths.append(put(lake, f"c{n}.parquet"))
        removed = {"articles": [paths.pop(0)]} if n % 4 == 3 else None
        lake.commit({"articles": [paths[-1]]}, removed)
    commits, checkpoints = lake._listing()
    assert len(commits) <= 2 * 5 + 1 and max(commits) == 23
    assert set(checkpoints) <= {15, 20}
    assert lake.published().files == {"articles": set(paths)}


def test_garbage_is_unpublished_files_older_than_the_grace(lake: Lake) -> None:
    live, replaced = put(lake, "live.parquet"), put(lake, "old.parquet")
    lake.commit({"articles": [live, replaced]})
    newer = put(lake, "new.parquet")
    lake.commit({"articles": [newer]}, {"articles": [replaced]})
    put(lake, "orphan.parquet")
    assert lake.collect_garbage() == 0  # all younger than the grace
    later = dt.datetime.now(dt.UTC) + lakelog.GRACE + dt.timedelta(minutes=1)
    assert lake.collect_garbage(later) == 2  # the replaced file and the orphan
    assert lake.published().files == {"articles": {live, newer}}
    for path in (live, newer):
        assert lake.fs.open_input_stream(lake.uri(path)).read()


def test_newsflow_query_reads_the_published_files_of_an_s3_data_root(
    lake: Lake,
    demo_sources: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ingest.cli import main

    local = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(local)]) == 0
    uploaded: dict[str, list[str]] = {}
    for table in ("articles", "quarantine", "runs"):
        for path in sorted((local / table).glob("*=*/*.parquet")):
            name = lake.new_name(table, path.parent.name, path.name)
            lake.write_bytes(name, path.read_bytes())
            uploaded.setdefault(table, []).append(name)
    lake.commit(uploaded)
    # a second copy of one file that no commit publishes (a writer that died): never read
    stray = sorted((local / "articles").glob("*=*/*.parquet"))[0]
    lake.write_bytes(lake.new_name("articles", stray.parent.name, stray.name), stray.read_bytes())
    sql = (
        "SELECT count(*) AS n, count(DISTINCT article_id) AS ids, min(published_date) AS first "
        "FROM articles"
    )
    capsys.readouterr()
    assert main(["query", "--data", str(local), sql]) == 0
    here = capsys.readouterr().out
    s3 = f"s3://{lake.location.bucket}/{lake.location.prefix}"
    assert main(["query", "--data", s3, sql]) == 0
    there = capsys.readouterr().out
    assert there == here and " 5 " in there  # the demo's five articles, none doubled
    assert main(["query", "--data", s3, "SELECT reason FROM quarantine ORDER BY 1"]) == 0
    assert "robots_disallowed" in capsys.readouterr().out


def test_an_unreachable_s3_data_root_is_one_sentence_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.cli import main
    from tests.integration.harness import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hush-hush")
    assert main(["query", "--data", "s3://news-lake/flow", "SELECT 1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsflow: s3://news-lake/flow: the dataset could not be read (")
    assert "hush-hush" not in err and len(err.splitlines()) == 1


def test_a_writer_that_stalled_past_a_checkpoint_commits_again_after_it(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lakelog, "CHECKPOINT_EVERY", 5)
    for n in range(12):  # checkpoints at 5 and 10; the commits up to 5 are pruned
        lake.commit({"articles": [put(lake, f"p{n}.parquet")]})
    late = put(lake, "late.parquet")
    stale = lakelog.Snapshot(2, {})  # what the stalled writer read before the others went on
    real = lake.published
    answers = iter([stale])
    monkeypatch.setattr(lake, "published", lambda: next(answers, None) or real())
    seq = lake.commit({"articles": [late]})  # its first try recreates pruned number 3
    assert seq == 13
    assert late in real().files["articles"]
