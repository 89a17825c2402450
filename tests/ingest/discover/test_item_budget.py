"""A run fetches at most `items_per_run` new items, the freshest first; the rest wait in the
crawl state's item backlog and later runs take them, each page requested once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from ingest.config import load_sources
from ingest.fetch.state import CrawlState
from ingest.run.model import Run, workdir
from ingest.run.stages import run_source, within_budget
from ingest.run.workfiles import read_json, read_jsonl
from ingest.siteserver import Reply, serve_site
from tests.ingest.sites import article_html, sources_file

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
DATED = 9  # pages /a/0 ... /a/8 dated, /a/0 the freshest; /a/9 ... /a/11 undated
PAGES = 12


def site_with_sitemap(root: Path, pages: int = PAGES) -> Path:
    (root / "a").mkdir(parents=True, exist_ok=True)
    entries = []
    for n in range(pages):
        (root / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")
        lastmod = (
            f"<lastmod>{(NOW - dt.timedelta(hours=n + 1)).isoformat()}</lastmod>"
            if n < DATED
            else ""
        )
        entries.append(f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc>{lastmod}</url>")
    # listed oldest first, so the listing's order is not the order taken
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(reversed(entries))
        + "</urlset>",
        encoding="utf-8",
    )
    return root


def budget_of_five(tmp_path: Path, base_url: str) -> Path:
    """A sources file whose one source reads /sitemap.xml, five new items a run."""
    return sources_file(
        tmp_path / "s.yaml",
        base_url,
        feeds=[],
        extra=f'    sitemaps: ["{base_url}/sitemap.xml"]',
        settings="  items_per_run: 5",
    )


@contextmanager
def budget_of_five_served(tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    """The sitemap site served, and its one source (five new items a run) and settings."""
    with serve_site(site_with_sitemap(tmp_path / "site")) as server:
        config = load_sources(budget_of_five(tmp_path, server.base_url))
        yield server, config.sources[0], config.settings


def sitemaps_source(tmp_path: Path, base_url: str, sitemaps: list[str], budget: int) -> Any:
    """The sources of one source reading `sitemaps`, `budget` new items a run, a failed
    request not tried again within the run."""
    listed = ", ".join(f'"{base_url}/{name}"' for name in sitemaps)
    return load_sources(
        sources_file(
            tmp_path / "s.yaml",
            base_url,
            feeds=[],
            extra=f"    sitemaps: [{listed}]",
            settings=f"  items_per_run: {budget}\n  max_retries: 0",
        )
    )


def stored_pages(data: Path) -> list[int]:
    urls = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(int(u.rsplit("/", 1)[1].split(".")[0]) for u in urls["url"].to_pylist())


def reasons(data: Path) -> list[str]:
    folder = data / "quarantine"
    if not folder.exists():
        return []
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    return [str(r) for r in table["reason"].to_pylist()]


def test_a_long_listing_is_fetched_over_several_runs_freshest_first(tmp_path: Path) -> None:
    site = site_with_sitemap(tmp_path / "site")
    data = tmp_path / "data"
    with serve_site(site) as server:
        config = load_sources(budget_of_five(tmp_path, server.base_url))
        news = []
        after = []
        for hour in range(4):
            at = NOW + dt.timedelta(minutes=10 * hour)
            ref = run_source(config.sources[0], config.settings, data, Run(f"r{hour}", at, at))
            news.append(ref["new"])
            after.append(stored_pages(data))
        pages_requested = [server.count(f"/a/{n}.html") for n in range(PAGES)]
        sitemap_requests = server.count("/sitemap.xml")
    assert news == [5, 5, 2, 0]
    assert after[0] == [0, 1, 2, 3, 4]  # the freshest five
    # then the rest of the dated, then one of the undated
    assert after[1][:DATED] == list(range(DATED)) and len(after[1]) == 10
    assert after[2] == list(range(PAGES))
    assert pages_requested == [1] * PAGES  # each page once, none twice
    assert sitemap_requests == 4  # asked every run (answering unchanged after the first)
    # the two runs that left items behind say so, once each
    assert reasons(data).count("item_limit") == 2


def test_the_backlog_keeps_its_freshest_items_up_to_its_limit_and_says_what_it_dropped(
    tmp_path: Path,
) -> None:
    """A backlog over `backlog_items` drops its stalest items (the undated, then the oldest:
    those taken last), and the run's item_limit row and summary say how many."""
    from dataclasses import replace

    data = tmp_path / "data"
    with budget_of_five_served(tmp_path) as (server, source, settings):
        settings = replace(settings, backlog_items=3)
        run_source(source, settings, data, Run("r0", NOW, NOW))
        with CrawlState(data, settings.state_url) as state:
            waiting = state.item_backlog_urls(source.id, "a later run")
        at = NOW + dt.timedelta(hours=1)
        run_source(source, settings, data, Run("r1", at, at))
    assert waiting == {f"{server.base_url}/a/{n}.html" for n in (5, 6, 7)}
    summary = read_json(workdir(data, source, Run("r0", NOW, NOW)) / "discover.json")
    assert (summary["waiting_items"], summary["dropped_items"]) == (3, 4)
    table = ds.dataset(data / "quarantine", format="parquet", partitioning="hive").to_table()
    details = [
        d
        for r, d in zip(table["reason"].to_pylist(), table["detail"].to_pylist(), strict=True)
        if r == "item_limit"
    ]
    assert len(details) == 1 and "3 wait for the next runs" in details[0]
    assert (
        "the 4 stalest are dropped: the backlog keeps 3 (the setting backlog_items)" in details[0]
    )
    assert stored_pages(data) == [0, 1, 2, 3, 4, 5, 6, 7]  # the next run took the three


def test_a_rerun_of_a_run_takes_the_same_items(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with budget_of_five_served(tmp_path) as (_server, source, settings):
        run_source(source, settings, data, Run("r0", NOW, NOW))
        second = Run("r1", NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=1))
        run_source(source, settings, data, second)
        taken = stored_pages(data)
        assert len(taken) == 10
        run_source(source, settings, data, second)  # run again (a cleared Airflow task)
        assert stored_pages(data) == taken
        third = Run("r2", NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=2))
        assert run_source(source, settings, data, third)["new"] == 2
    assert stored_pages(data) == list(range(PAGES))


def test_within_budget_keeps_the_listing_order_when_under_it() -> None:
    items = [{"url": f"u{n}", "feed_time": t} for n, t in enumerate(["b", None, "c", "a"])]
    assert within_budget(items, 4) == (items, [])
    taken, left = within_budget(items, 2)
    assert [i["url"] for i in taken] == ["u2", "u0"] and [i["url"] for i in left] == ["u3", "u1"]


def test_a_refetch_asks_for_every_listed_item_whatever_the_budget(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with budget_of_five_served(tmp_path) as (server, source, settings):
        for hour in range(3):  # three runs take all twelve
            at = NOW + dt.timedelta(hours=hour)
            run_source(source, settings, data, Run(f"r{hour}", at, at))
        assert stored_pages(data) == list(range(PAGES))
        at = NOW + dt.timedelta(hours=3)
        ref = run_source(source, settings, data, Run("r3", at, at), refetch=True)
        pages_requested = [server.count(f"/a/{n}.html") for n in range(PAGES)]
    assert pages_requested == [2] * PAGES  # every one again, none left for later
    assert ref["new"] == 0
    assert reasons(data).count("item_limit") == 2  # (the first two runs')


def test_a_commit_records_the_outcomes_before_it_lets_the_backlog_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit cut short after the item backlog was saved must not lose a backlog item the
    run took and could not fetch for now: its outcome (a retry) is recorded first."""
    calls: list[str] = []
    for name in ("record_outcomes", "save_item_backlog", "save_validators"):
        real = getattr(CrawlState, name)

        def logged(
            self: CrawlState, *args: Any, _real: Any = real, _name: str = name, **kw: Any
        ) -> Any:
            calls.append(_name)
            return _real(self, *args, **kw)

        monkeypatch.setattr(CrawlState, name, logged)
    site = site_with_sitemap(tmp_path / "site")
    with serve_site(site) as server:
        config = load_sources(budget_of_five(tmp_path, server.base_url))
        run_source(config.sources[0], config.settings, tmp_path / "data", Run("r0", NOW, NOW))
    assert calls == ["record_outcomes", "save_item_backlog", "save_validators"]


def test_the_backlog_holds_what_waits_and_the_runs_say_how_many(tmp_path: Path) -> None:
    """After every run, the backlog holds exactly the listed items not stored yet, and the
    run's count of waiting items is their number: when a changed listing lists backlog
    items again, when the listing's order and the backlog's differ, and when a run runs
    again under the same key."""
    site = tmp_path / "site"
    data = tmp_path / "data"
    with serve_site(site_with_sitemap(site)) as server:
        config = load_sources(budget_of_five(tmp_path, server.base_url))
        source, settings = config.sources[0], config.settings

        def run(key: str, hours: int, pages: int) -> None:
            at = NOW + dt.timedelta(hours=hours)
            run_source(source, settings, data, Run(key, at, at))
            listed = {f"{server.base_url}/a/{n}.html" for n in range(pages)}
            stored = {f"{server.base_url}/a/{n}.html" for n in stored_pages(data)}
            with CrawlState(data, settings.state_url) as state:
                assert state.item_backlog_urls(source.id, "a later run") == listed - stored
            summary = read_json(workdir(data, source, Run(key, at, at)) / "discover.json")
            assert summary["waiting_items"] == len(listed - stored), key

        run("r0", 0, PAGES)  # five taken, seven wait
        site_with_sitemap(site, PAGES + 1)  # the listing changes: one more, undated
        run("r1", 1, PAGES + 1)  # lists the seven again: five taken, three wait
        run("r1", 1, PAGES + 1)  # again (a cleared task): the listing is unchanged now
        run("r2", 2, PAGES + 1)
    assert stored_pages(data) == list(range(PAGES + 1))


def test_discovery_reads_of_a_long_backlog_only_the_listed_items_and_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's discovery costs its listing and its budget, not the backlog: the backlog's
    other items are counted, never read (a source listing more than its budget every run
    keeps a growing backlog), and the count of waiting items is still exact."""
    old = 1000  # backlog items listed long ago, older than every listed one
    asked: list[int] = []
    real_items = CrawlState.item_backlog_items

    def items(self: CrawlState, source_id: str, urls: Any, run_key: str) -> Any:
        urls = list(urls)
        asked.append(len(urls))
        return real_items(self, source_id, urls, run_key)

    def every_url(*args: Any) -> Any:
        raise AssertionError("the whole backlog was read")

    data = tmp_path / "data"
    with budget_of_five_served(tmp_path) as (server, source, settings):
        with CrawlState(data, settings.state_url) as state:
            state.save_item_backlog(
                source.id,
                [],
                [
                    {"url": f"{server.base_url}/old/{n}.html", "feed_time": "2020-01-01T00:00:00Z"}
                    for n in range(old)
                ],
                "r-before",
            )
        monkeypatch.setattr(CrawlState, "item_backlog_items", items)
        monkeypatch.setattr(CrawlState, "item_backlog_urls", every_url)
        run_source(source, settings, data, Run("r0", NOW, NOW))
    assert stored_pages(data) == [0, 1, 2, 3, 4]  # the freshest listed
    assert asked == [PAGES]  # the listed items, looked up by URL
    summary = read_json(workdir(data, source, Run("r0", NOW, NOW)) / "discover.json")
    assert summary["waiting_items"] == PAGES - 5 + old


def test_a_backlog_item_that_failed_for_now_is_retried_with_its_listing(
    tmp_path: Path,
) -> None:
    """A backlog item a run took and could not fetch for now comes back as a retry with
    what its listing said (its time orders it within the budget), not as a bare URL."""
    site = site_with_sitemap(tmp_path / "site")
    failing = {"on": True}

    def page_5(_path: str) -> Reply:
        if failing["on"]:
            return Reply(503, {"Content-Type": "text/plain"}, b"busy")
        return Reply(200, {"Content-Type": "text/html"}, article_html(5).encode())

    data = tmp_path / "data"
    with serve_site(site, {"/a/5.html": page_5}) as server:
        config = sitemaps_source(tmp_path, server.base_url, ["sitemap.xml"], budget=5)
        source, settings = config.sources[0], config.settings
        for hour in range(2):  # the second run takes /a/5.html from the backlog: 503
            at = NOW + dt.timedelta(hours=hour)
            run_source(source, settings, data, Run(f"r{hour}", at, at))
        assert 5 not in stored_pages(data)
        failing["on"] = False
        at = NOW + dt.timedelta(hours=2)
        run_source(source, settings, data, Run("r2", at, at))
        listed = list(read_jsonl(workdir(data, source, Run("r2", at, at)) / "discovered.jsonl"))
    retried = next(i for i in listed if i["url"].endswith("/a/5.html"))
    assert retried["retry"] is True
    assert retried["feed_time"] == (NOW - dt.timedelta(hours=6)).isoformat()
    assert 5 in stored_pages(data)


def test_a_backlog_item_failing_for_now_is_retried_as_often_as_any_other(
    tmp_path: Path,
) -> None:
    """A backlog item that keeps failing for now is asked for as many times as the crawl
    state allows a retry, then given up, even when fresher items put it off; it waits with
    what its listing said, never as a retry for good."""
    import json

    from ingest.fetch.state import MAX_TRANSIENT_ATTEMPTS

    site = tmp_path / "site"
    (site / "a").mkdir(parents=True)
    for n in range(10):
        (site / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")

    def sitemap(name: str, entries: list[tuple[int, int]]) -> None:  # (page, hours from NOW)
        urls = "".join(
            f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc>"
            f"<lastmod>{(NOW + dt.timedelta(hours=h)).isoformat()}</lastmod></url>"
            for n, h in entries
        )
        (site / name).write_text(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>",
            encoding="utf-8",
        )

    sitemap("a.xml", [(0, -1), (1, -2), (2, -3)])
    sitemap("b.xml", [])

    def busy(_path: str) -> Reply:
        return Reply(503, {"Content-Type": "text/plain"}, b"busy")

    data = tmp_path / "data"
    with serve_site(site, {"/a/1.html": busy}) as server:
        config = sitemaps_source(tmp_path, server.base_url, ["a.xml", "b.xml"], budget=1)
        source, settings = config.sources[0], config.settings
        for hour in range(MAX_TRANSIENT_ATTEMPTS + 6):
            if hour == 2:  # fresher items: they put the retry off
                sitemap("b.xml", [(5, 5), (6, 4)])
            at = NOW + dt.timedelta(hours=hour)
            run_source(source, settings, data, Run(f"r{hour}", at, at))
            with CrawlState(data, settings.state_url) as state, state._read() as con:
                rows = con.execute("SELECT item, feed_time FROM item_backlog").fetchall()
            assert all("retry" not in json.loads(item) and time for item, time in rows), hour
        requests = server.count("/a/1.html")
    assert requests == MAX_TRANSIENT_ATTEMPTS
    assert stored_pages(data) == [0, 2, 5, 6]
