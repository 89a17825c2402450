"""`newsflow ingest`'s runner: sources in parallel worker processes (ingest_workers) give the
rows, counts and run metrics one process gives, in the sources' order, with a crash kept to
its source, sources of one host one after another, and Ctrl-C stopping every worker."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from ingest.config import Settings, Source, SourcesConfig, load_sources
from ingest.demo import DEMO_SITE
from ingest.run import runner, server
from ingest.run.commit import write
from ingest.run.model import Run, workdir
from ingest.run.parts import CHUNK_PAGES
from ingest.run.runner import SourceResult, _perform, _Task, ingest_sources
from ingest.run.server import host_groups, start_workers_early
from ingest.siteserver import Reply, SiteServer, serve_site
from tests.conftest import demo_sources_text, write_sources
from tests.ingest.sites import article_html, rss
from transforms.schema import ARTICLE_SCHEMA

# when a page was fetched, a failure recorded, a stage run
VOLATILE = {"fetched_at", "at", "started_at", "finished_at"}
COPIES = 4  # sources carrying the same stories
STORIES = 6


def with_workers(config: SourcesConfig, workers: int) -> SourcesConfig:
    return replace(config, settings=replace(config.settings, ingest_workers=workers))


def stored(root: Path, table: str) -> list[dict[str, Any]]:
    if not (root / table).is_dir():
        return []
    found = ds.dataset(
        root / table, format="parquet", partitioning="hive", ignore_prefixes=[".", "_"]
    )
    rows = found.to_table().to_pylist()
    rows = [
        {k: v for k, v in row.items() if k not in VOLATILE and not k.startswith("seconds_")}
        for row in rows
    ]
    return sorted(rows, key=lambda r: (r["source_id"], r.get("url") or ""))


def summary(results: list[SourceResult]) -> list[tuple[str, Any, str | None]]:
    return [
        (r.source_id, None if r.ref is None else {**r.ref, "files": len(r.ref["files"])}, r.error)
        for r in results
    ]


def stored_count(result: SourceResult) -> int:
    assert result.ref is not None, result.error
    return result.ref["new"] + result.ref["duplicate"]


def copies_site(root: Path, sources: int, stories: int) -> Path:
    """`sources` publishers, /s<k>/feed.xml each, all carrying the same stories."""
    for k in range(sources):
        (root / f"s{k}" / "a").mkdir(parents=True)
        for n in range(stories):
            (root / f"s{k}" / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")
        feed = rss([(f"/s{k}/a/{n}.html", None) for n in range(stories)])
        (root / f"s{k}" / "feed.xml").write_text(feed, encoding="utf-8")
    return root


def copies_sources(
    path: Path, base_urls: list[str], sources: int, workers: int = 1
) -> SourcesConfig:
    """Source k reads /s<k>/feed.xml from the k-th server (its own host when there are as
    many servers as sources)."""
    listed = "".join(
        f"  - id: s{k}\n    name: Outlet {k}\n    feeds: [{base_urls[k % len(base_urls)]}/s{k}/feed.xml]\n"
        for k in range(sources)
    )
    return load_sources(
        write_sources(
            path,
            f"""
settings:
  allow_networks: ["127.0.0.0/8"]
  rate_limit_per_host: 100
  backoff_base_s: 0.01
  timeout_s: 5
  ingest_workers: {workers}
sources:
{listed}""",
        )
    )


@contextmanager
def hosts(root: Path, count: int, routes: dict[str, Any] | None = None) -> Iterator[list[str]]:
    """`root` served on 127.0.0.1 ... 127.0.0.<count>; yields their base URLs."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(serve_site(root, routes, host=f"127.0.0.{k + 1}")).base_url
            for k in range(count)
        ]


@pytest.fixture
def copies_hosts(tmp_path: Path) -> Iterator[list[str]]:
    with hosts(copies_site(tmp_path / "site", COPIES, STORIES), COPIES) as base_urls:
        yield base_urls


def test_workers_store_the_rows_one_process_stores_on_the_demo_site(tmp_path: Path) -> None:
    """The demo's two publishers, each on a host of its own."""
    with serve_site(DEMO_SITE) as gazette, serve_site(DEMO_SITE, host="127.0.0.2") as times:
        text = demo_sources_text(gazette.base_url).replace(
            f"{gazette.base_url}/limited-times", f"{times.base_url}/limited-times"
        )
        config = load_sources(write_sources(tmp_path / "sources.yaml", text))
        run = Run.adhoc()
        sources = list(config.sources)
        alone = ingest_sources(with_workers(config, 1), sources, tmp_path / "one", run)
        pooled = ingest_sources(with_workers(config, 2), sources, tmp_path / "two", run)
        assert summary(pooled) == summary(alone)
        assert [r.source_id for r in pooled] == ["harbour-gazette", "limited-times"]
        for table in ("articles", "quarantine", "runs"):
            assert stored(tmp_path / "two", table) == stored(tmp_path / "one", table)
        assert len(stored(tmp_path / "two", "articles")) == 5
        # again: nothing new, both runs commit unchanged (the feeds answer 304)
        again = Run.adhoc()
        alone = ingest_sources(with_workers(config, 1), sources, tmp_path / "one", again)
        pooled = ingest_sources(with_workers(config, 2), sources, tmp_path / "two", again)
        assert summary(pooled) == summary(alone)
        assert [r.ref["not_modified"] for r in pooled if r.ref] == [1, 1]


def test_sources_that_all_share_a_host_run_in_process(
    tmp_path: Path, demo_server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_workers(*args: object) -> None:
        raise AssertionError("worker processes started for a few pages of one host")

    monkeypatch.setattr(runner, "_Worker", no_workers)
    config = load_sources(
        write_sources(tmp_path / "sources.yaml", demo_sources_text(demo_server.base_url))
    )
    results = ingest_sources(with_workers(config, 2), list(config.sources), tmp_path / "data")
    assert [r.ref["new"] for r in results if r.ref] == [3, 1]
    assert demo_server.count("/robots.txt") == 1


@pytest.fixture
def joined(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of parts of each source the pool joins, in order."""
    counts: list[int] = []
    real_join = runner.join

    def counted(*args: Any) -> str:
        counts.append(len(args[4]))  # (the parts the source was extracted in)
        return real_join(*args)

    monkeypatch.setattr(runner, "join", counted)
    return counts


def test_a_large_source_alone_is_extracted_in_parts_on_the_workers(
    tmp_path: Path, joined: list[int]
) -> None:
    """One source (one host): this process fetches, and its pages, PARALLEL_PAGES or more,
    are extracted in parts by the workers, in chunks while it fetches; the rows are one
    process's."""
    pages = runner.PARALLEL_PAGES + 6
    site = copies_site(tmp_path / "site", 2, pages)
    with hosts(site, 1) as base_urls:
        config = copies_sources(tmp_path / "sources.yaml", base_urls, 2, workers=2)
        run = Run.adhoc()
        pooled = ingest_sources(config, list(config.sources), tmp_path / "pool", run)
        alone = ingest_sources(with_workers(config, 1), list(config.sources), tmp_path / "one", run)
    # each source: two chunks of CHUNK_PAGES taken while it fetched, and a part of the rest
    assert runner.PARALLEL_PAGES + 6 == 2 * CHUNK_PAGES + 6
    assert joined == [3, 3]
    for source in config.sources:  # its rows joined into one row group (chunk_items: 500)
        transformed = workdir(tmp_path / "pool", source, run) / "articles.parquet"
        assert pq.ParquetFile(transformed).metadata.num_row_groups == 1
    assert summary(pooled) == summary(alone)
    assert [stored_count(r) for r in pooled] == [pages, pages]
    for table in ("articles", "quarantine", "runs"):
        assert stored(tmp_path / "pool", table) == stored(tmp_path / "one", table), table
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("hosts_count", [1, 2], ids=["one host", "two hosts"])
def test_a_rate_limited_source_is_extracted_while_it_is_fetched(
    tmp_path: Path, hosts_count: int
) -> None:
    """A fetch slowed by its rate limit: the workers extract the chunks it has fetched while
    it goes on (the extraction starts before the fetch ends), whether this process fetches
    (sources of one host) or a worker does (a second source, short, on another host: the
    other worker takes the chunks once it is done), and the run stores what one process
    stores."""
    from ingest.run.model import workdir
    from ingest.run.workfiles import read_json

    pages = runner.PARALLEL_PAGES
    site = copies_site(tmp_path / "site", 2, pages)
    short = [(f"/s1/a/{n}.html", None) for n in range(5)]
    (site / "s1" / "feed.xml").write_text(rss(short), encoding="utf-8")
    with hosts(site, hosts_count) as base_urls:
        config = copies_sources(tmp_path / "sources.yaml", base_urls, 2, workers=2)
        slow = replace(config.settings, rate_limit_per_host=10.0)  # 6.4 s of fetching
        config = replace(config, settings=slow)
        run = Run.adhoc()
        pooled = ingest_sources(config, list(config.sources), tmp_path / "pool", run)
        fast = with_workers(copies_sources(tmp_path / "s1.yaml", base_urls, 2), 1)
        alone = ingest_sources(fast, list(fast.sources), tmp_path / "one", run)
    assert [stored_count(r) for r in pooled] == [pages, 5]
    work = workdir(tmp_path / "pool", config.sources[0], run)
    fetch, extract = (read_json(work / f"timing-{stage}.json") for stage in ("fetch", "extract"))
    assert extract["started"] < fetch["finished"]
    assert summary(pooled) == summary(alone)
    for table in ("articles", "quarantine"):
        assert stored(tmp_path / "pool", table) == stored(tmp_path / "one", table), table


def test_copies_across_sources_count_and_store_as_in_one_process(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, COPIES, COPIES)
    run = Run.adhoc()
    pooled = ingest_sources(config, list(config.sources), tmp_path / "pool", run)
    alone = ingest_sources(with_workers(config, 1), list(config.sources), tmp_path / "one", run)
    # commits in the sources' order: each source's new and duplicate counts as in one process
    assert summary(pooled) == summary(alone)
    for table in ("articles", "runs"):
        assert stored(tmp_path / "pool", table) == stored(tmp_path / "one", table)
    assert_one_original_per_story(stored(tmp_path / "pool", "articles"))


def assert_one_original_per_story(rows: list[dict[str, Any]]) -> None:
    assert len(rows) == COPIES * STORIES
    stories: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        stories.setdefault(row["story_id"], []).append(row)
    assert len(stories) == STORIES
    for copies in stories.values():
        assert len(copies) == COPIES
        assert sum(r["duplicate_of"] is None for r in copies) == 1


def _run_then_commit(sources: str, root: str, index: int, run: Run, barrier: Any) -> None:
    """One source's run in its own process, its commit started together with the others'."""
    config = load_sources(sources)
    source = config.sources[index]
    transformed = _perform(_Task(index, source), config.settings, Path(root), run, False)
    assert isinstance(transformed, str), transformed
    barrier.wait()
    write(source, config.settings, Path(root), run, transformed)


def test_runs_committing_at_once_from_several_processes_store_what_one_process_stores(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    """What separate DAG runs do: each process commits its own source, all at once."""
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, COPIES)
    run = Run.adhoc()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(COPIES)
    args = (str(config.path), str(tmp_path / "concurrent"))
    workers = [
        context.Process(target=_run_then_commit, args=(*args, k, run, barrier))
        for k in range(COPIES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    rows = stored(tmp_path / "concurrent", "articles")
    assert_one_original_per_story(rows)
    ingest_sources(config, list(config.sources), tmp_path / "one", run)
    assert rows == stored(tmp_path / "one", "articles")


def test_sources_extracted_in_parts_store_what_one_process_stores(
    tmp_path: Path, joined: list[int]
) -> None:
    """Each source's pages are extracted and transformed in parts by both workers, and
    joined: the rows, quarantine rows, counts and run metrics are one process's."""
    site = copies_site(tmp_path / "site", 3, 20)
    for k in range(3):  # and a page without an article: a quarantine row of the extract stage
        (site / f"s{k}" / "a" / "empty.html").write_text("<html></html>", encoding="utf-8")
        links = [(f"/s{k}/a/{n}.html", None) for n in range(20)]
        links.insert(7, (f"/s{k}/a/empty.html", None))
        (site / f"s{k}" / "feed.xml").write_text(rss(links), encoding="utf-8")
    with hosts(site, 3) as base_urls:
        config = copies_sources(tmp_path / "sources.yaml", base_urls, 3, workers=2)
        run = Run.adhoc()
        pooled = ingest_sources(config, list(config.sources), tmp_path / "pool", run)
        alone = ingest_sources(with_workers(config, 1), list(config.sources), tmp_path / "one", run)
    # 21 pages each: two parts; the last source, fetched in chunks of PART_PAGES, in two or
    # three (as many as its fetch had made when a chunk was taken)
    assert joined[:2] == [2, 2] and joined[2] in (2, 3)
    assert summary(pooled) == summary(alone)
    for table in ("articles", "quarantine", "runs"):
        assert stored(tmp_path / "pool", table) == stored(tmp_path / "one", table), table
    reasons = [r["stage"] for r in stored(tmp_path / "pool", "quarantine")]
    assert reasons.count("extract") == 3
    assert all(r["seconds_extract"] > 0 for r in stored_metrics(tmp_path / "pool"))
    leftovers = [p.name for p in (tmp_path / "pool" / "work").rglob("*") if ".part" in p.name]
    assert leftovers == []


def test_the_commit_modules_are_imported_ahead() -> None:
    """What the command's process imports while its workers start (a module misnamed there
    would be passed over in silence)."""
    code = (
        "import sys; from ingest.run import runner; runner._ready_to_commit(); "
        "print(all(m in sys.modules for m in (*runner.COMMIT_MODULES, 'pandas')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_the_last_source_is_fetched_in_smaller_chunks(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    """The run ends with its last part: the last source's chunks are PART_PAGES pages, so
    that a worker left without a part waits less for the other's."""
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, 2, workers=2)
    pool = runner._Pool(list(config.sources), config.settings, tmp_path, Run.adhoc(), False, 2)
    first = pool._next_task()
    assert first is not None and first.chunked == 2 and first.chunk_pages == runner.CHUNK_PAGES
    pool.todo.remove(first.index)
    last = pool._next_task()
    assert last is not None and last.index != first.index
    assert last.chunk_pages == runner.PART_PAGES < runner.CHUNK_PAGES


def test_a_source_whose_parts_cannot_be_planned_or_fail_fails_alone(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    """The pool's book-keeping: a source whose fetch summary cannot be read fails (the run
    goes on); a failed part drops the source's parts still waiting, not the others'."""
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, 2, workers=2)
    pool = runner._Pool(list(config.sources), config.settings, tmp_path, Run.adhoc(), False, 2)
    work = tmp_path / "work"
    for name, summary in (("s0", "{not json"), ("s1", '{"fetched": 40}')):
        (work / name).mkdir(parents=True)
        (work / name / "fetch.json").write_text(summary, encoding="utf-8")
    pool._split(0, str(work / "s0" / "fetched.jsonl"))
    assert pool.results[0].ref is None and "JSONDecodeError" in (pool.results[0].error or "")
    pool._split(1, str(work / "s1" / "fetched.jsonl"))
    assert [t.part.index for t in pool.parts_todo if t.part] == [0, 1, 2, 3]
    pool._fail(1, SourceResult("s1", None, "Boom: a part failed"))
    assert pool.parts_todo == [] and pool.results[1].error == "Boom: a part failed"


def stored_metrics(root: Path) -> list[dict[str, Any]]:
    found = ds.dataset(root / "runs", format="parquet", partitioning="hive")
    return found.to_table().to_pylist()


def test_a_source_that_crashes_under_workers_leaves_the_others_running(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, 3, workers=2)
    data = tmp_path / "data"
    (data / "work").mkdir(parents=True)
    (data / "work" / "s1").write_text("not a folder")  # s1 cannot write its work files
    results = ingest_sources(config, list(config.sources), data)
    assert [r.source_id for r in results] == ["s0", "s1", "s2"]
    assert results[1].ref is None and results[1].error is not None
    assert "s1" in results[1].error
    assert all(stored_count(r) == STORIES for r in (results[0], results[2]))
    assert {r["source_id"] for r in stored(data, "articles")} == {"s0", "s2"}


class DyingSource(Source):
    """A source whose worker process dies outright (as on a crash in a C library)."""

    def settings(self, base: Settings) -> Settings:
        os._exit(3)


def test_a_worker_process_that_dies_is_reported_and_the_others_still_run(
    tmp_path: Path, copies_hosts: list[str]
) -> None:
    config = copies_sources(tmp_path / "sources.yaml", copies_hosts, 3, workers=2)
    s0, s1, s2 = config.sources
    dying = DyingSource(**{f: getattr(s1, f) for f in s1.__dataclass_fields__})
    results = ingest_sources(config, [s0, dying, s2], tmp_path / "data")
    assert [r.source_id for r in results] == ["s0", "s1", "s2"]
    assert results[1].ref is None
    assert results[1].error == ("WorkerDied: the process running the source exited with code 3")
    assert all(stored_count(r) == STORIES for r in (results[0], results[2]))
    assert not multiprocessing.active_children()


def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    released = threading.Event()

    def interrupt(path: str) -> Reply:
        """The page a worker is fetching when the user presses Ctrl-C."""
        os.kill(os.getpid(), signal.SIGINT)
        released.wait(60)
        return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, article_html(0).encode())

    site = copies_site(tmp_path / "site", 2, 1)
    with hosts(site, 2, {"/s0/a/0.html": interrupt}) as base_urls:
        config = copies_sources(tmp_path / "sources.yaml", base_urls, 2, workers=2)
        try:
            with pytest.raises(KeyboardInterrupt):
                ingest_sources(config, list(config.sources), tmp_path / "data")
            assert not multiprocessing.active_children()
        finally:
            released.set()


def test_sources_sharing_a_host_are_grouped() -> None:
    def source(name: str, *feeds: str, homepage: str | None = None) -> Source:
        return Source(id=name, name=name, feeds=feeds, homepage=homepage)

    sources = [
        source("a", "https://a.example/feed"),
        source("b", "https://b.example/feed"),
        source("c", "https://c.example/feed", "https://B.example/other"),
        source("d", "https://d.example/feed", homepage="https://a.example/"),
        source("e", "https://e.example/feed"),
    ]
    assert host_groups(sources) == [0, 1, 1, 0, 4]


def test_workers_fork_from_a_server_that_loaded_their_modules_and_it_is_stopped_after() -> None:
    from multiprocessing import forkserver

    context = server.worker_context()
    assert context.get_start_method() == "forkserver"
    probe = context.Process(target=_loaded_before_any_work, args=(context.Queue(),))
    queue = probe._args[0]  # type: ignore[attr-defined]
    probe.start()
    loaded = queue.get(timeout=60)
    probe.join(30)
    # the worker began with the stages, trafilatura and the language model loaded, frozen
    # for the garbage collector (most of its objects are), which collects the young rarely
    assert loaded == [True, True, True, True, True, True], loaded
    server._stop_forkserver()
    assert forkserver._forkserver._forkserver_pid is None  # type: ignore[attr-defined]


def _loaded_before_any_work(queue: Any) -> None:
    import gc
    import sys

    from ingest.run.warm import YOUNG_OBJECTS
    from transforms.tagging.language import _identifier

    queue.put(
        [
            "ingest.run.stages" in sys.modules,
            "trafilatura" in sys.modules,
            "htmldate" in sys.modules,
            _identifier.cache_info().currsize == 1,
            gc.get_freeze_count() > len(gc.get_objects()),
            gc.get_threshold()[0] == YOUNG_OBJECTS,
        ]
    )


# run in a worker by `exec`, so that the worker imports no test module (they import pandas)
_CONVERT_ROWS = """
import datetime as dt
import sys

import pyarrow as pa

from transforms.schema import ARTICLE_SCHEMA

row = {"article_id": "a1", "published_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)}
table = pa.Table.from_pylist([row | {"places": ["FI"]}, row], schema=ARTICLE_SCHEMA)
seen = ["pandas" in sys.modules, table.column("places").to_pylist()]
frame = table.to_pandas()
queue.put([*seen, "pandas" in sys.modules, frame.shape])
"""


def test_workers_convert_rows_to_arrow_without_importing_pandas() -> None:
    """pyarrow imports pandas on its first conversion of Python values only to recognise
    pandas' objects; the workers' server makes that conversion with pandas out of reach, so
    a worker's rows convert without it (0.17 s of CPU less per worker), and an explicit use
    of pandas still imports it and works."""
    context = server.worker_context()
    queue = context.Queue()
    probe = context.Process(target=exec, args=(_CONVERT_ROWS, {"queue": queue}))
    probe.start()
    answer = queue.get(timeout=60)
    probe.join(30)
    server._stop_forkserver()
    assert answer == [False, [["FI"], None], True, (2, len(ARTICLE_SCHEMA))]


def test_a_pool_stops_the_server_its_workers_forked_from(tmp_path: Path) -> None:
    from multiprocessing import forkserver

    with serve_site(DEMO_SITE) as gazette, serve_site(DEMO_SITE, host="127.0.0.2") as times:
        text = demo_sources_text(gazette.base_url).replace(
            f"{gazette.base_url}/limited-times", f"{times.base_url}/limited-times"
        )
        config = load_sources(write_sources(tmp_path / "sources.yaml", text))
        results = ingest_sources(
            with_workers(config, 2), list(config.sources), tmp_path, Run.adhoc()
        )
    assert all(r.ref is not None for r in results)
    assert forkserver._forkserver._forkserver_pid is None  # type: ignore[attr-defined]


def test_the_server_starts_early_only_for_a_run_with_workers(tmp_path: Path) -> None:
    """`newsflow ingest` starts the fork server before its checks when the run will use
    workers (and the pool uses it, then stops it); not for a run in one process."""
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver  # type: ignore[attr-defined]
    with serve_site(DEMO_SITE) as gazette, serve_site(DEMO_SITE, host="127.0.0.2") as times:
        text = demo_sources_text(gazette.base_url)
        config = load_sources(write_sources(tmp_path / "sources.yaml", text))
        sources = list(config.sources)
        start_workers_early(with_workers(config, 2).settings, sources)  # one host
        assert server._forkserver_pid is None
        text = text.replace(f"{gazette.base_url}/limited-times", f"{times.base_url}/limited-times")
        config = with_workers(load_sources(write_sources(tmp_path / "s2.yaml", text)), 2)
        sources = list(config.sources)
        start_workers_early(config.settings, sources)
        early = server._forkserver_pid
        assert early is not None
        results = ingest_sources(config, sources, tmp_path / "data", Run.adhoc())
    assert all(r.ref is not None for r in results)
    assert server._forkserver_pid is None  # stopped with the pool that used it
    with pytest.raises(ChildProcessError):
        os.waitpid(early, os.WNOHANG)  # (reaped)


def test_two_pools_at_once_in_one_process_both_finish(tmp_path: Path) -> None:
    """The fork server both pools' workers come from outlives the first pool to end."""
    from multiprocessing import forkserver

    outcomes: dict[str, list[SourceResult]] = {}
    released = threading.Event()

    def held_feed(_path: str) -> Reply:
        """A feed that keeps its request open (a byte a quarter second) until released."""

        def body() -> Iterator[bytes]:
            yield b'<?xml version="1.0"?>'
            waited = 0.0
            while not released.wait(0.25) and waited < 240:
                waited += 0.25
                yield b" "
            yield b'<rss version="2.0"><channel><title>Held</title></channel></rss>'

        return Reply(200, {"Content-Type": "application/rss+xml"}, chunks=body())

    with (
        serve_site(DEMO_SITE) as gazette,
        serve_site(DEMO_SITE, host="127.0.0.2") as times,
        serve_site(None, {"/held.xml": held_feed}, host="127.0.0.3") as holder,
    ):
        text = demo_sources_text(gazette.base_url).replace(
            f"{gazette.base_url}/limited-times", f"{times.base_url}/limited-times"
        )
        config = with_workers(load_sources(write_sources(tmp_path / "sources.yaml", text)), 2)
        config = replace(config, settings=replace(config.settings, deadline_s=300))
        held = Source("held", "Held", (f"{holder.base_url}/held.xml",))

        def run(name: str, sources: list[Source]) -> None:
            outcomes[name] = ingest_sources(config, sources, tmp_path / name, Run.adhoc())

        short = threading.Thread(target=run, args=("short", list(config.sources)))
        # the long pool's source on the held feed keeps it running until the short one ended
        long = threading.Thread(target=run, args=("long", [*config.sources, held]))
        long.start()
        short.start()
        short.join(300)
        assert long.is_alive()  # (the case under test: one pool ended, the other runs)
        server_kept = forkserver._forkserver._forkserver_pid is not None  # type: ignore[attr-defined]
        released.set()
        long.join(300)
    assert server_kept  # (the running pool's workers report their exits through it)
    assert sorted(outcomes) == ["long", "short"]
    failed = [r for results in outcomes.values() for r in results if r.ref is None]
    assert not failed, failed
    assert forkserver._forkserver._forkserver_pid is None  # type: ignore[attr-defined]
