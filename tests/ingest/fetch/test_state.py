"""The crawl state behind one interface with two back ends: every test runs on the embedded
SQLite file and on a real PostgreSQL server the tests start (a fresh database each)."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.config import ConfigError, parse_sources
from ingest.fetch.state import (
    MAX_TRANSIENT_ATTEMPTS,
    CrawlState,
    Outcome,
    Validators,
)
from ingest.fetch.statedb import masked
from tests.integration.harness import Postgres, free_port
from transforms.exceptions import StateUnavailable


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the SQLite file under the data root) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        yield request.getfixturevalue("postgres").new_database()


def test_validators_are_kept_per_url_and_a_rerun_sees_the_ones_before_it(
    tmp_path: Path, state_url: str | None
) -> None:
    with CrawlState(tmp_path, state_url) as state:
        assert state.validators("https://a.example/feed", "run1") is None
        state.save_validators({"https://a.example/feed": Validators('"e1"', "Mon", "h1")}, "run1")
        assert state.validators("https://a.example/feed", "run2") == Validators('"e1"', "Mon", "h1")
        state.save_validators({"https://a.example/feed": Validators('"e2"', "Tue", "h2")}, "run2")
        state.save_validators({"https://a.example/feed": Validators('"e3"', "Wed", "h3")}, "run2")
        # run2 again: it must send what run1 left, not what its own first attempt saved
        assert state.validators("https://a.example/feed", "run2") == Validators('"e1"', "Mon", "h1")
        assert state.validators("https://a.example/feed", "run3") == Validators('"e3"', "Wed", "h3")
    if state_url is not None:
        assert not (tmp_path / "state" / "crawl.sqlite").exists()


def test_what_a_document_listed_is_kept_with_its_validators_and_a_rerun_sees_the_earlier(
    tmp_path: Path, state_url: str | None
) -> None:
    page, a, b = "https://a.example/news", "https://a.example/a.xml", "https://a.example/b.xml"
    with CrawlState(tmp_path, state_url) as state:
        state.save_validators({page: Validators('"e1"', None, "h1", (a,))}, "run1")
        assert state.validators(page, "run2") == Validators('"e1"', None, "h1", (a,))
        state.save_validators({page: Validators('"e2"', None, "h2", (a, b))}, "run2")
        state.save_validators({page: Validators('"e3"', None, "h3", (b,))}, "run2")
        assert state.validators(page, "run2") == Validators('"e1"', None, "h1", (a,))
        assert state.validators(page, "run3") == Validators('"e3"', None, "h3", (b,))
        # read back from a run's JSON summary, the list is a tuple again
        assert Validators('"e4"', None, "h4", [a]) == Validators('"e4"', None, "h4", (a,))  # type: ignore[arg-type]
        # a document that lists nothing any more leads nowhere
        state.save_validators({page: Validators('"e5"', None, "h5")}, "run4")
        assert state.validators(page, "run5") == Validators('"e5"', None, "h5")


def test_nul_bytes_from_a_server_are_kept_out_of_the_state(
    tmp_path: Path, state_url: str | None
) -> None:
    # PostgreSQL's text refuses NUL: an ETag holding one failed every later run's commit
    from ingest.discover.feeds import absolute_url

    with CrawlState(tmp_path, state_url) as state:
        feed = "https://a.example/feed"
        state.save_validators({feed: Validators('"x\x00y"', "Mon\x01", "h1")}, "run1")
        assert state.validators(feed, "run2") == Validators(None, None, "h1")  # none sendable
        state.save_robots("https://a.example", 200, "User-agent: *\x00\nDisallow: /private\n")
        assert not state.robots("https://a.example")[1].count("\x00")  # type: ignore[index]
    assert absolute_url("https://a.example/", "/a\x00b.html") is None  # a malformed link


def test_url_outcomes_retries_backlog_and_robots(tmp_path: Path, state_url: str | None) -> None:
    with CrawlState(tmp_path, state_url) as state:
        state.record_outcomes(
            "s",
            [
                Outcome("https://a.example/1", "stored", "id1"),
                Outcome("https://a.example/2", "timeout"),
            ],
            "run1",
        )
        # a later run's failure does not undo a stored URL; transient failures count attempts
        state.record_outcomes(
            "s",
            [Outcome("https://a.example/1", "http_404"), Outcome("https://a.example/2", "timeout")],
            "run2",
        )
        found = state.url_states(["https://a.example/1", "https://a.example/2", "https://x/3"])
        assert set(found) == {"https://a.example/1", "https://a.example/2"}
        assert found["https://a.example/1"].outcome == "stored"
        assert found["https://a.example/1"].stored_by == "run1"
        assert found["https://a.example/2"].attempts == 2
        assert state.pending_retries("s") == ["https://a.example/2"]
        for k in range(MAX_TRANSIENT_ATTEMPTS):
            state.record_outcomes("s", [Outcome("https://a.example/2", "timeout")], f"r{k}")
        assert state.pending_retries("s") == []  # out of attempts

        state.save_sitemap_backlog(
            "s", [("https://a.example/s2.xml", 1), ("https://a.example/s1.xml", 2)]
        )
        assert state.sitemap_backlog("s") == [
            ("https://a.example/s2.xml", 1),
            ("https://a.example/s1.xml", 2),
        ]
        state.save_sitemap_backlog("s", [])
        assert state.sitemap_backlog("s") == []

        assert state.robots("https://a.example") is None
        state.save_robots("https://a.example", 200, "User-agent: *\nDisallow: /x")
        state.save_robots("https://a.example", 200, "User-agent: *\nDisallow: /y")
        status, body, fetched_at = state.robots("https://a.example") or (0, "", 0.0)
        assert (status, body) == (200, "User-agent: *\nDisallow: /y")
        assert abs(fetched_at - time.time()) < 60  # seconds, to the second (not 4-byte REAL)


def _reserve(root: str, url: str | None, count: int, queue: multiprocessing.Queue[float]) -> None:
    with CrawlState(Path(root), url) as state:
        for _ in range(count):
            wait = state.reserve_slot("shared.example", 0.2)  # reserved, not waited for
            queue.put(time.time() + wait)


def test_host_slots_stay_an_interval_apart_across_processes(
    tmp_path: Path, state_url: str | None
) -> None:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[float] = context.Queue()
    workers = [
        context.Process(target=_reserve, args=(str(tmp_path), state_url, 10, queue))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    slots = sorted(queue.get(timeout=60) for _ in range(40))
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) > 0.15  # 200 ms apart, less the jitter of reading the clock afterwards


# the clocks' disagreement allowed: the state's (the database server's) and this process's
CLOCK = 0.01


def test_one_hosts_requests_never_overlap_across_processes(
    tmp_path: Path, state_url: str | None
) -> None:
    with CrawlState(tmp_path, state_url) as first, CrawlState(tmp_path, state_url) as second:
        started = time.monotonic()
        assert first.reserve_slot("late.example", 0.3) == 0
        wait = second.reserve_slot("late.example", 0.3)  # the next slot, 300 ms on ...
        assert 0.3 - (time.monotonic() - started) - CLOCK <= wait <= 0.3 + CLOCK  # ... from now
        time.sleep(0.3)  # the first overslept: its slot has passed, the second's has come
        assert first.confirm_slot("late.example", 0.3, stale=5) == 0  # starts now, late
        # the second's slot has come, but the first request is not answered yet
        assert second.confirm_slot("late.example", 0.3, stale=5) is None
        time.sleep(0.1)
        answered = time.monotonic()
        first.request_answered("late.example")  # answered 100 ms after it started
        wait = second.confirm_slot("late.example", 0.3, stale=5)  # 300 ms after the answer
        assert wait is not None
        assert 0.3 - (time.monotonic() - answered) - CLOCK <= wait <= 0.3 + CLOCK
        time.sleep(wait)
        second.request_answered("late.example")
        # a request whose sender died unanswered holds the host only until it is stale
        time.sleep(first.reserve_slot("late.example", 0.3) + 0.3)
        assert first.confirm_slot("late.example", 0.3, stale=5) == 0  # and then dies
        time.sleep(0.3)
        assert second.confirm_slot("late.example", 0.3, stale=5) is None
        assert second.confirm_slot("late.example", 0.3, stale=0.2) == 0


def test_an_unreachable_state_database_is_one_sentence_without_its_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://newsflow:s3cret@127.0.0.1:{free_port()}/newsflow"
    with pytest.raises(StateUnavailable) as caught:
        CrawlState(tmp_path, url)
    message = str(caught.value)
    assert "s3cret" not in message
    assert "postgresql://newsflow:***@127.0.0.1" in message
    assert "cannot be reached" in message and "state_url" in message
    assert masked(url).count("***") == 1


@pytest.mark.parametrize("value", ["sqlite:///x.db", "postgresql://", 42])
def test_a_bad_state_url_setting_names_the_file_and_the_fix(tmp_path: Path, value: object) -> None:
    raw = {
        "settings": {"state_url": value},
        "sources": [{"id": "a", "name": "A", "feeds": ["https://a.example/feed"]}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_sources(raw, tmp_path / "sources.yaml")
    message = str(caught.value)
    assert str(tmp_path / "sources.yaml") in message
    assert "settings.state_url" in message and "postgresql://" in message


def test_ingest_keeps_its_crawl_state_in_postgresql_and_a_second_run_is_incremental(
    tmp_path: Path,
    postgres: Postgres,
    demo_sources: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import psycopg2

    from ingest.cli import main

    url = postgres.new_database()
    monkeypatch.setenv("NEWSFLOW_STATE_URL", url)
    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    first = capsys.readouterr().out
    assert not (data / "state" / "crawl.sqlite").exists()
    con = psycopg2.connect(url)
    try:
        with con.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM urls WHERE outcome = 'stored'")
            stored = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM validators")
            validators = cursor.fetchone()[0]
    finally:
        con.close()
    assert stored > 0 and validators == 2  # the demo's two feeds
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    second = capsys.readouterr().out
    total = {k: int(v) for k, v in (p.split("=") for p in first.splitlines()[-1].split()[1:])}
    again = {k: int(v) for k, v in (p.split("=") for p in second.splitlines()[-1].split()[1:])}
    assert total["new"] > 0 and again["new"] == 0  # the state in PostgreSQL was read back
    assert again["not_modified"] == 2  # both feeds answered 304 to the validators stored there


def test_a_state_connection_the_server_dropped_is_opened_again(
    tmp_path: Path, postgres: Postgres
) -> None:
    import psycopg2

    url = postgres.new_database()
    with CrawlState(tmp_path, url) as state:
        state.save_robots("https://a.example", 200, "first")
        killer = psycopg2.connect(url)
        try:
            killer.autocommit = True
            with killer.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        finally:
            killer.close()
        state.save_robots("https://a.example", 200, "second")  # a new connection, same state
        status, body, _ = state.robots("https://a.example") or (0, "", 0.0)
        assert (status, body) == (200, "second")


def test_the_item_backlog_gives_the_freshest_first_and_a_rerun_takes_the_same(
    tmp_path: Path, state_url: str | None
) -> None:
    def item(n: int, time: str | None) -> dict[str, object]:
        return {"url": f"https://a.example/{n}", "feed_time": time, "feed_title": f"Story {n}"}

    items = [
        item(0, "2026-11-20T10:00:00+00:00"),
        item(1, None),
        item(2, "2026-11-22T10:00:00+00:00"),
        item(3, "2026-11-21T10:00:00+00:00"),
        item(4, None),
    ]
    with CrawlState(tmp_path, state_url) as state:
        state.save_item_backlog("s", [], items, "run1")
        assert len(state.item_backlog_urls("s", "run2")) == 5
        assert state.item_backlog_urls("other", "run2") == set()
        first = state.item_backlog("s", 3, "run2")
        assert [i["url"][-1] for i in first] == ["2", "3", "0"]  # dated, freshest first
        assert first[0] == items[2]  # the whole item comes back
        state.save_item_backlog("s", [i["url"] for i in first], [], "run2")
        left = {"https://a.example/1", "https://a.example/4"}
        assert state.item_backlog_urls("s", "run3") == left  # (what run2 took is not theirs)
        assert len(state.item_backlog_urls("s", "run2")) == 5
        assert [state.item_backlog_count("s", k) for k in ("run3", "run2")] == [2, 5]
        assert state.item_backlog_count("other", "run2") == 0
        # run2 again takes what it took, and what is left
        again = state.item_backlog("s", 10, "run2")
        assert sorted(i["url"][-1] for i in again) == ["0", "1", "2", "3", "4"]
        # a later run sees only what is left (undated, by URL); its commit drops run2's
        later = state.item_backlog("s", 10, "run3")
        assert [i["url"][-1] for i in later] == ["1", "4"]
        state.save_item_backlog("s", ["https://a.example/1"], [item(4, None)], "run3")
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run2")] == ["4"]
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run3")] == ["1", "4"]
        # deferred again, an item waits again
        state.save_item_backlog("s", [], [item(1, None)], "run4")
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run5")] == ["1", "4"]
        # taken, then released by the same run (not fetched for now): it waits again
        state.save_item_backlog("s", ["https://a.example/4"], [], "run5")
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run6")] == ["1"]
        state.save_item_backlog("s", [], [], "run5", released=["https://a.example/4"])
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run6")] == ["1", "4"]
        # over its limit, the backlog drops what it would give last: the undated, then the
        # oldest (another source's items stay)
        state.save_item_backlog("other", [], [item(9, None)], "run1")
        state.save_item_backlog("s", [], items, "run6", keep=3)
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run7")] == ["2", "3", "0"]
        state.save_item_backlog("s", [], [], "run7", keep=1)
        assert [i["url"][-1] for i in state.item_backlog("s", 10, "run8")] == ["2"]
        assert [i["url"][-1] for i in state.item_backlog("other", 10, "run8")] == ["9"]
