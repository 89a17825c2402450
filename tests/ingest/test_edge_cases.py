"""Edge cases of incremental crawling and hostile documents."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.dataset as ds

from ingest.config import Settings, load_sources
from ingest.feeds import parse_feed
from ingest.http import HttpClient
from ingest.pipeline import Run, WriteRef, run_source
from ingest.sitemaps import parse_sitemap
from ingest.siteserver import Reply, serve_site
from ingest.state import CrawlState
from tests.ingest.sites import rss, sources_file, write_site

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def ingest(sources: Path, data: Path, run: Run | None = None, *, refetch: bool = False) -> WriteRef:
    config = load_sources(sources)
    return run_source(config.sources[0], config.settings, data, run or Run.adhoc(), refetch=refetch)


def urls(data: Path) -> list[str]:
    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table(
        columns=["url"]
    )
    return sorted(u.rsplit("/", 1)[-1] for u in table["url"].to_pylist())


def test_a_child_sitemap_that_failed_is_asked_for_again_next_run(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    (site / "index.xml").write_text(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{{BASE_URL}}/child.xml</loc></sitemap></sitemapindex>',
        encoding="utf-8",
    )
    child = {"up": False}

    def child_sitemap(_p: str) -> Reply:
        if not child["up"]:
            return Reply(503, {}, b"")
        body = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/a/0.html</loc></url></urlset>'
        return Reply(200, {"Content-Type": "application/xml"}, body.encode())

    with serve_site(site, {"/child.xml": child_sitemap}) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml"]',
            settings="  max_retries: 0",
        )
        assert ingest(sources, tmp_path / "data")["failed"] == 1
        child["up"] = True
        ref = ingest(sources, tmp_path / "data")
    assert server.count("/child.xml") == 2 and ref["new"] == 1  # the index was not settled by run 1


def test_re_running_an_old_run_keeps_items_a_later_run_saw(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        first = Run("scheduled__a", NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1))
        ingest(sources, tmp_path / "data", first)
        ingest(
            sources,
            tmp_path / "data",
            Run("scheduled__b", NOW - dt.timedelta(hours=1), NOW),
            refetch=True,
        )
        (site / "feed.xml").write_text(
            rss([("/a/1.html", None)]), encoding="utf-8"
        )  # /a/0 no longer listed
        ingest(sources, tmp_path / "data", first)  # cleared and re-run in Airflow
    assert urls(tmp_path / "data") == ["0.html", "1.html"]


def test_feeds_and_sitemaps_in_multibyte_legacy_encodings() -> None:
    feed = '<?xml version="1.0" encoding="shift_jis"?><rss version="2.0"><channel><title>日本の新聞</title><item><title>記事</title><link>https://jp.example/a/1.html</link></item></channel></rss>'
    parsed = parse_feed(feed.encode("shift_jis"), "https://jp.example/feed.xml")
    assert parsed.title == "日本の新聞" and [i.url for i in parsed.items] == [
        "https://jp.example/a/1.html"
    ]
    sitemap = '<?xml version="1.0" encoding="gb2312"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://cn.example/新闻/1</loc></url></urlset>'
    assert [
        e.url
        for e in parse_sitemap(sitemap.encode("gb2312"), "https://cn.example/s.xml", 10**6).entries
    ] == ["https://cn.example/新闻/1"]


def test_one_malformed_link_does_not_drop_the_rest_of_the_document() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": "1", "url": "http://[oops/"}, {"id": "2", "url": "https://j.example/2"}],
    }
    parsed = parse_feed(json.dumps(feed).encode(), "https://j.example/feed.json")
    assert [i.url for i in parsed.items] == ["https://j.example/2"] and parsed.skipped == [
        ("1", "item has a malformed link")
    ]
    sitemap = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://[oops/</loc></url><url><loc>https://s.example/ok</loc></url></urlset>'
    parsed_map = parse_sitemap(sitemap.encode(), "https://s.example/s.xml", 10**6)
    assert [e.url for e in parsed_map.entries] == [
        "https://s.example/ok"
    ] and parsed_map.bad_locs == ["http://[oops/"]


def test_a_hostile_crawl_delay_is_capped(tmp_path: Path) -> None:
    sleeps: list[float] = []
    robots = Reply(200, {}, b"User-agent: *\nCrawl-delay: 100000\n")
    with serve_site(
        None,
        {"/robots.txt": robots, "/a": Reply(200, {"Content-Type": "text/html"}, b"<html></html>")},
    ) as server:
        settings = Settings(
            user_agent="t/1", allow_networks=("127.0.0.0/8",), rate_limit_per_host=100
        )
        with (
            CrawlState(tmp_path) as state,
            HttpClient(settings, state, sleeper=sleeps.append) as client,
        ):
            for _ in range(3):
                client.get(f"{server.base_url}/a")
    assert max(sleeps) <= 60 * 2 + 1  # slots a minute apart at most, never the 28 hours asked for


def test_waiting_for_a_slot_does_not_use_up_the_request_deadline(tmp_path: Path) -> None:
    robots = Reply(200, {}, b"User-agent: *\nCrawl-delay: 1.2\n")
    with serve_site(
        None,
        {"/robots.txt": robots, "/a": Reply(200, {"Content-Type": "text/html"}, b"<html></html>")},
    ) as server:
        settings = Settings(
            user_agent="t/1",
            allow_networks=("127.0.0.0/8",),
            rate_limit_per_host=100,
            deadline_s=1.0,
            max_retries=0,
        )
        with CrawlState(tmp_path) as state, HttpClient(settings, state) as client:
            assert client.get(f"{server.base_url}/a").status == 200
            assert (
                client.get(f"{server.base_url}/a").status == 200
            )  # waited 1.2 s for its slot, then had 1 s
