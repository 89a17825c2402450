"""A data root on an object store, worked on through local mirrors, against a real
S3-compatible server: what `newsflow ingest --data s3://…` publishes, machines that see each
other's commits, a commit made without the newest log that is redone, a crash between the
local commit and the publish, and the files of one run handed between machines."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from ingest.cli import main
from ingest.config import data_root, load_sources
from ingest.fetch.warc import warc_path
from ingest.run import stages
from ingest.run.commit import write
from ingest.run.model import Run
from tests.integration.harness import S3Server
from transforms import lakemirror
from transforms.cachedir import CACHE_ENV
from transforms.commit import commit_lock
from transforms.exceptions import MirrorBehind
from transforms.lakelog import Lake
from transforms.lakemirror import Manifest, lake_of, publish, sync
from transforms.objectstore import S3Location


@pytest.fixture
def uri(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket}/mirror-{uuid.uuid4().hex[:10]}"


def machine(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work as the machine `name` from now on: its own cache folder (its own mirror)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / f"cache-{name}"))


def published(uri: str, table: str = "articles") -> list[str]:
    """The `article_id` (or `url`) values of the files the log publishes, read from the store."""
    lake = Lake(S3Location.parse(uri))
    column = "article_id" if table == "articles" else "url"
    values: list[str] = []
    for key in lake.published().files.get(table, set()):
        values += pq.read_table(lake.uri(key), filesystem=lake.fs, columns=[column])[
            column
        ].to_pylist()
    return values


def ingest(sources: Path, uri: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["ingest", "--config", str(sources), "--data", uri]) == 0
    return capsys.readouterr().out


def query(uri: str, sql: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["query", "--data", uri, sql]) == 0
    return capsys.readouterr().out


def test_ingest_into_an_object_store_publishes_the_dataset(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    out = ingest(demo_sources, uri, capsys)
    assert "total: new=4 duplicate=1 seen=0 failed=3" in out
    mirror = data_root(uri, remote=True)
    assert mirror.is_relative_to(tmp_path / "cache-a")
    ids = published(uri)
    local = [
        aid
        for path in (mirror / "articles").rglob("*.parquet")
        for aid in pq.read_table(path, columns=["article_id"])["article_id"].to_pylist()
    ]
    assert len(ids) == 5 and sorted(ids) == sorted(local)  # every article, once
    assert len(published(uri, "quarantine")) == 3
    assert "5" in query(uri, "SELECT count(*) FROM articles", capsys)
    # the work files and the WARC of the runs are on the store too
    lake = lake_of(mirror)
    assert lake is not None
    keys = [
        i.path
        for i in lake.fs.get_file_info(pafs.FileSelector(lake.uri(""), recursive=True))
        if i.type == pafs.FileType.File
    ]
    assert any("/raw/harbour-gazette/" in k and k.endswith(".warc.gz") for k in keys)
    assert any("/work/harbour-gazette/" in k and k.endswith("articles.parquet") for k in keys)


def test_a_second_machine_sees_what_the_first_published_and_nothing_is_doubled(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    first = published(uri)
    # machine b: its own mirror and its own crawl state, so it fetches every page again;
    # the articles are already in the dataset it syncs, so nothing is new
    machine("b", tmp_path, monkeypatch)
    out = ingest(demo_sources, uri, capsys)
    assert "total: new=0" in out
    assert sorted(published(uri)) == sorted(first)
    # back on machine a: it takes b's commits (its runs' metrics rows) before its own
    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    assert sorted(published(uri)) == sorted(first)
    runs = query(uri, "SELECT count(*) FROM runs", capsys)
    assert "6" in runs  # two sources, three runs each, from two machines
    mirror_a = data_root(uri, remote=True)
    assert Manifest.load(mirror_a).seq == Lake(S3Location.parse(uri)).published().seq


def _table_file(root: Path, name: str) -> Path:
    """A small table file, as a commit on this machine would leave it."""
    path = root / "quarantine" / "run_date=2026-12-01" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"url": [f"https://example.org/{name}"]}), path)
    return path


def two_mirrors(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, Lake]:
    """Machines a and b, each with its mirror synced to the log (b's environment is on)."""
    machine("a", tmp_path, monkeypatch)
    a = data_root(uri, remote=True)
    machine("b", tmp_path, monkeypatch)
    b = data_root(uri, remote=True)
    lake = lake_of(a)
    assert lake is not None
    sync(a, lake), sync(b, lake)
    return a, b, lake


def first_sync_skipped(monkeypatch: pytest.MonkeyPatch, calls: Counter[str]) -> None:
    """The next sync does nothing (a commit decided without the log's newest commit); the
    later ones are real. `calls["sync"]` counts them."""
    real = lakemirror.sync

    def sync_once_late(root: Path, lake: Lake) -> int:
        calls["sync"] += 1
        return 0 if calls["sync"] == 1 else real(root, lake)

    monkeypatch.setattr(lakemirror, "sync", sync_once_late)


def test_a_mirror_behind_the_log_publishes_nothing_and_takes_the_log_after(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, lake = two_mirrors(uri, tmp_path, monkeypatch)
    _table_file(a, "from-a.parquet")
    assert publish(a, lake) == 1
    _table_file(b, "from-b.parquet")  # decided without a's commit
    with pytest.raises(MirrorBehind):
        publish(b, lake)
    assert sorted(published(uri, "quarantine")) == ["https://example.org/from-a.parquet"]
    # b's next commit starts by syncing: its unpublished file gives way to the log's
    with commit_lock(b):
        pass
    assert sorted(p.name for p in (b / "quarantine").rglob("*.parquet")) == ["from-a.parquet"]
    assert Manifest.load(b).seq == 1


def test_a_local_commit_a_crash_left_unpublished_is_published_by_the_next_sync(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("a", tmp_path, monkeypatch)
    a = data_root(uri, remote=True)
    with pytest.raises(RuntimeError), commit_lock(a):
        _table_file(a, "crashed.parquet")
        raise RuntimeError("the process died before the publish")
    assert published(uri, "quarantine") == []
    with commit_lock(a):  # the log has not moved: the local commit stands
        pass
    assert published(uri, "quarantine") == ["https://example.org/crashed.parquet"]


def test_the_tasks_of_one_run_can_run_on_different_machines(
    demo_sources: Path, uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine("a", tmp_path, monkeypatch)
    root = data_root(uri, remote=True)
    config = load_sources(demo_sources)
    source, settings = config.sources[0], config.settings
    run = Run.adhoc()
    found = stages.discover(source, settings, root, run)
    fetched = stages.fetch(source, settings, root, run, found["path"])
    # the next tasks run on a machine that has none of the run's files (same cache path, as
    # on workers made from one image)
    shutil.rmtree(root / "work")
    warc_path(root, source.id, run.key).unlink()
    extracted = stages.extract(source, settings, root, run, fetched["path"])
    assert extracted["count"] == 3
    shutil.rmtree(root / "work")
    transformed = stages.transform(source, settings, root, run, extracted["path"])
    shutil.rmtree(root / "work")
    ref = write(source, settings, root, run, transformed["path"])
    assert ref["new"] == 3
    assert len(published(uri)) == 3


def test_a_commit_redone_after_another_machine_published_first(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    machine("b", tmp_path, monkeypatch)
    b = data_root(uri, remote=True)
    with commit_lock(b):  # b's mirror is at the log's newest commit
        pass
    machine("a", tmp_path, monkeypatch)
    a = data_root(uri, remote=True)
    _table_file(a, "meanwhile.parquet")
    with commit_lock(a):  # a publishes while b's next run is under way
        pass
    machine("b", tmp_path, monkeypatch)
    calls = Counter[str]()
    first_sync_skipped(monkeypatch, calls)  # b decides its first attempt without a's commit
    real_publish = lakemirror.publish

    def counted_publish(root: Path, lake: Lake) -> int:
        try:
            return real_publish(root, lake)
        except MirrorBehind:
            calls["behind"] += 1
            raise

    monkeypatch.setattr(lakemirror, "publish", counted_publish)
    out = ingest(demo_sources, uri, capsys)
    assert calls["behind"] == 1  # the first commit was refused, and redone
    assert calls["sync"] == 3  # one per source, and again for the redone commit
    assert "total: new=0" in out
    assert len(published(uri)) == 5
    assert "https://example.org/meanwhile.parquet" in published(uri, "quarantine")


def test_an_unreachable_object_store_stops_ingest_with_one_sentence_without_the_secret(
    demo_sources: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.integration.harness import free_port

    machine("a", tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hush-hush")
    assert main(["ingest", "--config", str(demo_sources), "--data", "s3://news-lake/f"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsflow: s3://news-lake/f: the object store did not answer (")
    assert err.endswith("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
    assert "hush-hush" not in err and len(err.splitlines()) == 1


def test_compaction_on_a_mirror_publishes_the_compacted_files_in_one_commit(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import datetime as dt

    from transforms.compaction import compact

    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    ingest(demo_sources, uri, capsys)  # a second run: more files in the runs table
    lake = Lake(S3Location.parse(uri))
    before = lake.published()
    ids = sorted(published(uri))
    machine("b", tmp_path, monkeypatch)  # compacted on another machine than the ingest's
    mirror = data_root(uri, remote=True)
    with commit_lock(mirror):
        done = compact(mirror, dt.timedelta(0), dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    after = lake.published()
    assert done and after.seq > before.seq
    assert sorted(published(uri)) == ids  # the same rows, published once each
    assert len(after.files["articles"]) < len(before.files["articles"])


def test_retention_on_the_store_follows_the_local_rules(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import datetime as dt

    from ingest.run.workfiles import LEFTOVER_AGE, WRITTEN

    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    root = data_root(uri, remote=True)
    lake = lake_of(root)
    assert lake is not None
    with lake.fs.open_output_stream(lake.uri("work/harbour-gazette/unfinished/x.jsonl")) as out:
        out.write(b"{}\n")  # a run that never committed

    def objects(prefix: str) -> list[str]:
        selector = pafs.FileSelector(lake.uri(prefix), recursive=True, allow_not_found=True)
        return [i.path for i in lake.fs.get_file_info(selector) if i.type == pafs.FileType.File]

    work, raw = objects("work"), objects("raw")
    assert sum(p.endswith(f"/{WRITTEN}") for p in work) == 2 and len(raw) == 2
    now = dt.datetime.now(dt.UTC)
    expire = lakemirror.expire_remote
    assert expire(root, now, 7, None, LEFTOVER_AGE, WRITTEN) == {
        "work_objects": 0,
        "raw_objects": 0,
    }
    later = now + dt.timedelta(days=2)  # past the leftover age, within the kept days
    assert expire(root, later, 7, None, LEFTOVER_AGE, WRITTEN)["work_objects"] == 1
    assert set(objects("work")) == set(work) - {p for p in work if "/unfinished/" in p}
    much_later = now + dt.timedelta(days=8)
    done = expire(root, much_later, 7, 30, LEFTOVER_AGE, WRITTEN)
    assert done == {"work_objects": len(work) - 1, "raw_objects": 0}
    assert objects("work") == [] and len(objects("raw")) == 2
    assert (
        expire(root, now + dt.timedelta(days=31), 7, 30, LEFTOVER_AGE, WRITTEN)["raw_objects"] == 2
    )
    assert len(published(uri)) == 5  # the dataset is not retention's


def test_the_upkeep_commands_work_on_an_object_store_from_any_machine(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    machine("b", tmp_path, monkeypatch)  # a machine that has never seen the dataset
    assert main(["dedup", "--data", uri]) == 0
    assert "articles=5 stories=4 copies=1" in capsys.readouterr().out
    assert main(["daily", "--data", uri, "--config", str(demo_sources)]) in (0, 1)
    out = capsys.readouterr().out
    assert f"retention on {uri}: removed 0 work files, 0 raw files and 0 unpublished" in out
    lake = Lake(S3Location.parse(uri))
    assert lake.published().files.get("quality")  # the findings, published
    report = out.split("report: ", 1)[1].split()[0]
    key = Path(report).relative_to(data_root(uri, remote=True)).as_posix()
    assert lake.fs.get_file_info(lake.uri(key)).type == pafs.FileType.File
    assert main(["retag", "--data", uri]) == 0
    assert "retagged: 5 articles checked, 0 changed" in capsys.readouterr().out
    assert main(["migrate-urls", "--data", uri]) == 0
    assert "follows URL rule 2: nothing to migrate" in capsys.readouterr().out
    # no secret in what newsflow wrote: the mirrors, and every object on the store
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    for path in tmp_path.rglob("*"):
        if path.is_file() and "cache-" in str(path):
            assert secret not in path.read_bytes(), path
    selector = pafs.FileSelector(lake.uri(""), recursive=True)
    for info in lake.fs.get_file_info(selector):
        if info.type == pafs.FileType.File:
            with lake.fs.open_input_stream(info.path) as stream:
                assert secret not in stream.read(), info.path


def test_reprocessing_on_another_machine_takes_the_warc_files_from_the_store(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    ingest(demo_sources, uri, capsys)
    before = sorted(published(uri))
    seq = Lake(S3Location.parse(uri)).published().seq
    machine("b", tmp_path, monkeypatch)
    assert main(["reprocess", "--data", uri]) == 0
    out = capsys.readouterr().out
    # each run's articles rebuilt from its WARC file, replacing its own rows
    assert "total: new=4 duplicate=1 seen=0 failed=3" in out
    assert sorted(published(uri)) == before
    assert Lake(S3Location.parse(uri)).published().seq > seq  # published again
    root = data_root(uri, remote=True)
    assert len(list((root / "raw").rglob("*.warc.gz"))) == 2


def test_a_locked_block_is_done_again_when_another_machine_published_first(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transforms.commit import locked

    a, b, lake = two_mirrors(uri, tmp_path, monkeypatch)
    _table_file(a, "first.parquet")
    assert publish(a, lake) == 1
    first_sync_skipped(monkeypatch, Counter[str]())
    runs: list[list[str]] = []

    def work() -> None:  # what it sees, and then what it writes
        runs.append(sorted(p.name for p in (b / "quarantine").rglob("*.parquet")))
        _table_file(b, "second.parquet")

    locked(b, work)
    assert runs == [[], ["first.parquet"]]  # done again, on the synced mirror
    assert sorted(published(uri, "quarantine")) == [
        "https://example.org/first.parquet",
        "https://example.org/second.parquet",
    ]


def test_a_work_file_rewritten_elsewhere_with_the_same_size_is_taken_again(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    machine("a", tmp_path, monkeypatch)
    root = data_root(uri, remote=True)
    work = root / "work" / "s" / "run"
    work.mkdir(parents=True)
    (work / "fetch.json").write_text('{"fetched": 3}', encoding="utf-8")
    lakemirror.push(root, [work / "fetch.json"])
    assert lakemirror.pull(root, work) == 0  # the same file
    time.sleep(1.1)  # the store's times are to the second
    lake = lake_of(root)
    assert lake is not None
    with lake.fs.open_output_stream(lake.uri("work/s/run/fetch.json")) as out:
        out.write(b'{"fetched": 4}')  # a task run again on another machine
    assert lakemirror.pull(root, work) == 1
    assert (work / "fetch.json").read_text(encoding="utf-8") == '{"fetched": 4}'


def test_credentials_in_the_address_or_missing_keys_are_one_sentence(
    demo_sources: Path,
    uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine("a", tmp_path, monkeypatch)
    secret = "s3://AKIDEXAMPLE:wJalrXUtnFEMIK7MDENG@news-lake/flow"
    for command in (["ingest", "--config", str(demo_sources)], ["query", "SELECT 1"]):
        assert main([command[0], "--data", secret, *command[1:]]) == 2
        err = capsys.readouterr().err.strip()
        assert "wJalrXUtnFEMIK7MDENG" not in err and len(err.splitlines()) == 1
        assert "AWS_ACCESS_KEY_ID" in err
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")  # one key of two
    assert main(["ingest", "--config", str(demo_sources), "--data", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # none: a role's credentials cannot sign yet
    assert main(["ingest", "--config", str(demo_sources), "--data", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert "signed with keys" in err and err.endswith("AWS_SECRET_ACCESS_KEY.")


def test_a_url_migration_on_an_object_store_is_published_for_every_machine(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`migrate-urls` on a store written under URL rule 1, from a machine that never saw it:
    the rewritten files, the dropped spelling's record and the flags are published, and
    another machine reads what a local migration of the same rows gives."""
    from tests.transforms.test_dedup import stored
    from tests.transforms.test_urls import as_rule_1, migrated, old_store, without_file
    from transforms.commit import synced
    from transforms.dataset import article_files, url_rule
    from transforms.urls import URL_RULE

    local = tmp_path / "local"
    old_store(local)
    migrated(local)
    machine("a", tmp_path, monkeypatch)
    root_a = data_root(uri, remote=True)
    old_store(root_a)  # each commit published
    with commit_lock(root_a):  # the footers rule 1 wrote, published
        as_rule_1(root_a)
    machine("b", tmp_path, monkeypatch)
    assert main(["migrate-urls", "--data", uri]) == 0
    said = capsys.readouterr().out
    assert "3 files rewritten" in said and "1 rows dropped" in said
    lake = Lake(S3Location.parse(uri))
    selector = pafs.FileSelector(lake.uri("state/url_migrations"), recursive=True)
    records = [i.path for i in lake.fs.get_file_info(selector) if i.path.endswith(".json")]
    assert len(records) == 1  # the dropped row's record, on the store
    machine("c", tmp_path, monkeypatch)
    root_c = data_root(uri, remote=True)
    synced(root_c)
    assert all(url_rule(path) == URL_RULE for path in article_files(root_c))
    assert without_file(stored(root_c)) == without_file(stored(local))
    assert sorted(published(uri)) == sorted(r["article_id"] for r in stored(local).values())
    machine("a", tmp_path, monkeypatch)  # its mirror is behind: synced first, nothing left
    assert main(["migrate-urls", "--data", uri]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
