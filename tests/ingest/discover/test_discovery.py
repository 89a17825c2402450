"""Discovery beyond plain feeds: sitemaps (index, urlset, Google News, gzip, robots.txt),
feed autodiscovery from a homepage, JSON Feed."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from ingest.config import load_sources
from ingest.discover.feeds import parse_feed
from ingest.discover.sitemaps import parse_sitemap
from ingest.run.model import Run, WriteRef
from ingest.run.stages import run_source
from ingest.siteserver import serve_site
from tests.guards import finishes
from tests.ingest.sites import article_html, rss, sitemap_index, sources_file, write_site

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
RECENT = (NOW - dt.timedelta(hours=5)).isoformat()
OLD = (NOW - dt.timedelta(days=40)).isoformat()


def ingest(sources: Path, data: Path) -> WriteRef:
    config = load_sources(sources)
    return run_source(config.sources[0], config.settings, data, Run("manual__t", NOW, NOW))


def urlset(entries: list[str], news: bool = False) -> str:
    ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>{"".join(entries)}</urlset>'


def news_entry(path: str, published: str, title: str) -> str:
    return (
        f"<url><loc>{{{{BASE_URL}}}}{path}</loc><news:news><news:publication><news:name>Fixture</news:name>"
        f"<news:language>de</news:language></news:publication><news:publication_date>{published}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
    )


def test_sitemap_index_urlsets_news_and_gzip(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 6)
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{{{{BASE_URL}}}}/news.xml</loc><lastmod>{RECENT}</lastmod></sitemap>"
        "<sitemap><loc>{{BASE_URL}}/pages.xml.gz</loc></sitemap>"
        f"<sitemap><loc>{{{{BASE_URL}}}}/archive-2020.xml</loc><lastmod>{OLD}</lastmod></sitemap>"
        "</sitemapindex>"
    )
    (site / "index.xml").write_text(index, encoding="utf-8")
    (site / "news.xml").write_text(
        urlset(
            [
                news_entry("/a/0.html", RECENT, "Nachricht null"),
                news_entry("/a/1.html", OLD, "Old news"),
            ],
            news=True,
        ),
        encoding="utf-8",
    )
    pages = urlset(
        [
            f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc><lastmod>{RECENT}</lastmod></url>"
            for n in (2, 3)
        ]
        + ["<url><loc>{{BASE_URL}}/a/4.html</loc></url>"]
    )
    (site / "pages.xml.gz").write_bytes(
        gzip.compress(pages.encode())
    )  # served as a file, not Content-Encoding
    with serve_site(site) as server:
        (site / "pages.xml.gz").write_bytes(
            gzip.compress(pages.replace("{{BASE_URL}}", server.base_url).encode())
        )
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml"]',
        )
        ref = ingest(sources, tmp_path / "data")
        assert server.count("/archive-2020.xml") == 0  # older than the look-back window
        assert server.count("/a/1.html") == 0
    assert (ref["discovered"], ref["new"]) == (4, 4)  # 0 (news), 2, 3, 4 (no date: kept)


def test_google_news_hints_are_parsed() -> None:
    body = urlset(
        [news_entry("/a/0.html", "2026-11-25T07:00:00+01:00", "Nachricht null")], news=True
    ).replace("{{BASE_URL}}", "https://n.example")
    (entry,) = parse_sitemap(body.encode(), "https://n.example/news.xml", 10**6).entries
    assert entry.url == "https://n.example/a/0.html"
    assert entry.news_published == dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC)
    assert (entry.news_title, entry.news_language) == ("Nachricht null", "de")


def test_sitemaps_listed_in_robots_txt_and_nesting_depth(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    (site / "robots.txt").write_text(
        "User-agent: *\nAllow: /\nSitemap: {{BASE_URL}}/level1.xml\n", encoding="utf-8"
    )
    for level in (1, 2, 3):
        nxt = f"<sitemap><loc>{{{{BASE_URL}}}}/level{level + 1}.xml</loc></sitemap>"
        (site / f"level{level}.xml").write_text(
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{nxt}</sitemapindex>',
            encoding="utf-8",
        )
    (site / "level4.xml").write_text(
        urlset(["<url><loc>{{BASE_URL}}/a/0.html</loc></url>"]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/robots.txt"]',
            settings="  sitemap_depth: 3",
        )
        ref = ingest(sources, tmp_path / "data")
        assert server.count("/level3.xml") == 1 and server.count("/level4.xml") == 0
    assert ref["discovered"] == 0 and ref["failed"] == 1  # sitemap_too_deep, recorded


def test_sitemaps_of_a_robots_txt_that_cannot_be_read_are_a_row_not_nothing(
    tmp_path: Path,
) -> None:
    from ingest.siteserver import Reply

    site = write_site(tmp_path / "site", 1)
    with serve_site(site, {"/robots.txt": Reply(500, {}, b"down")}) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/robots.txt"]',
            settings="  max_retries: 0",
        )
        ref = ingest(sources, tmp_path / "data")
    assert ref["discovered"] == 0
    (row,) = quarantined(tmp_path / "data")  # (it looked like a run with nothing new)
    assert row["reason"] == "robots_unavailable" and "Sitemap" in row["detail"]


def test_a_source_configured_with_just_its_homepage(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 3)
    (site / "index.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml">'
        "</head><body><h1>Fixture Daily</h1></body></html>",
        encoding="utf-8",
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    homepage: "{server.base_url}/"',
        )
        assert ingest(sources, tmp_path / "data")["new"] == 3
        # a feed URL that turns out to be the homepage is followed to its feed as well
        sources = sources_file(tmp_path / "s2.yaml", server.base_url, feeds=["/"])
        assert ingest(sources, tmp_path / "data2")["new"] == 3


def test_json_feed_1_1(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fixture JSON",
        "authors": [{"name": "Desk"}],
        "items": [
            {
                "id": "1",
                "url": "{{BASE_URL}}/a/0.html",
                "title": "Zero",
                "date_published": "2026-11-24T23:30:00-02:00",
            },
            {"id": "2", "external_url": "{{BASE_URL}}/a/1.html", "authors": [{"name": "Ana Diaz"}]},
            {"id": "3", "title": "no link"},
        ],
    }
    (site / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    parsed = parse_feed(
        json.dumps(feed).replace("{{BASE_URL}}", "https://j.example").encode(),
        "https://j.example/feed.json",
        "application/feed+json",
    )
    assert [i.url for i in parsed.items] == [
        "https://j.example/a/0.html",
        "https://j.example/a/1.html",
    ]
    assert parsed.items[0].published == dt.datetime(2026, 11, 25, 1, 30, tzinfo=dt.UTC)
    assert parsed.items[0].authors == ("Desk",) and parsed.items[1].authors == ("Ana Diaz",)
    assert parsed.skipped == [("3", "item has no link")]
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url, feeds=["/feed.json"])
        ref = ingest(sources, tmp_path / "data")
    assert (ref["new"], ref["failed"]) == (2, 1)


@pytest.mark.parametrize("version", ["https://jsonfeed.org/version/2", None])
def test_json_that_is_not_a_json_feed_is_a_bad_feed(version: str | None) -> None:
    from ingest.discover.feeds import FeedError

    with pytest.raises(FeedError):
        parse_feed(
            json.dumps({"version": version, "items": []}).encode(), "https://j.example/f.json"
        )


def test_article_page_fixture_is_extractable() -> None:
    from ingest.extract.page import extract_page

    assert (
        extract_page(article_html(1).encode(), "https://x.example/a/1.html").title
        == "Story number 1 from the fixture site"
    )


# ------------------------------------------------------------------------ loops and bounds


def quarantined(data: Path) -> list[dict[str, object]]:
    import pyarrow.dataset as ds

    folder = data / "quarantine"
    if not folder.exists():
        return []
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def with_index_sitemap(tmp_path: Path, base_url: str) -> Path:
    """A sources file whose source reads /feed.xml and the sitemap index /index.xml."""
    return sources_file(
        tmp_path / "s.yaml",
        base_url,
        feeds=["/feed.xml"],
        extra=f'    sitemaps: ["{base_url}/index.xml"]',
    )


def test_a_sitemap_index_listing_itself_ends_with_one_loop_row(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    (site / "index.xml").write_text(
        sitemap_index(["/index.xml", "/missing.xml", "/child.xml"]), encoding="utf-8"
    )
    # a child pointing back up
    (site / "child.xml").write_text(sitemap_index(["/index.xml"]), encoding="utf-8")
    with serve_site(site) as server:
        sources = with_index_sitemap(tmp_path, server.base_url)
        ref = finishes(lambda: ingest(sources, tmp_path / "data"), 60)
        assert server.count("/index.xml") == 1 and server.count("/child.xml") == 1
    assert ref["new"] == 2  # the feed's items are still stored
    reasons = sorted(str(r["reason"]) for r in quarantined(tmp_path / "data"))
    assert reasons == ["discovery_loop", "discovery_loop", "http_404"]


def test_a_loop_at_the_depth_limit_is_a_loop_not_too_deep(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 1)
    # index -> a -> b, three levels (the default limit): b leads back to a, and lists c
    (site / "index.xml").write_text(sitemap_index(["/a.xml"]), encoding="utf-8")
    (site / "a.xml").write_text(sitemap_index(["/b.xml"]), encoding="utf-8")
    (site / "b.xml").write_text(sitemap_index(["/a.xml", "/c.xml"]), encoding="utf-8")
    with serve_site(site) as server:
        sources = with_index_sitemap(tmp_path, server.base_url)
        finishes(lambda: ingest(sources, tmp_path / "data"), 60)
        assert server.count("/a.xml") == 1 and server.count("/c.xml") == 0
    found = sorted(
        (str(r["reason"]), str(r["url"]).removeprefix(server.base_url))
        for r in quarantined(tmp_path / "data")
    )
    assert found == [("discovery_loop", "/b.xml"), ("sitemap_too_deep", "/c.xml")]


def test_a_feed_url_serving_html_that_advertises_itself_ends(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 1)
    (site / "news.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="{{BASE_URL}}/news.html">'
        "</head><body>News</body></html>",
        encoding="utf-8",
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml", server.base_url, feeds=["/news.html", "/feed.xml"]
        )
        ref = finishes(lambda: ingest(sources, tmp_path / "data"), 60)
        assert server.count("/news.html") == 1
    assert ref["new"] == 1
    rows = quarantined(tmp_path / "data")
    assert [(r["reason"], r["url"]) for r in rows] == [
        ("discovery_loop", f"{server.base_url}/news.html")
    ]


def test_a_page_advertising_many_feeds_gives_the_first_twenty_and_names_the_rest(
    tmp_path: Path,
) -> None:
    from ingest.discover.discoverer import ADVERTISED_FEEDS

    site = write_site(tmp_path / "site", 1)
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/f/{n}.xml">' for n in range(500)
    )
    (site / "index.html").write_text(
        f"<html><head>{links}</head><body>Front page</body></html>", encoding="utf-8"
    )
    (site / "f").mkdir()
    for n in range(500):
        (site / "f" / f"{n}.xml").write_bytes((site / "feed.xml").read_bytes())
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    homepage: "{server.base_url}/"',
        )
        assert ingest(sources, tmp_path / "data")["new"] == 1
        requested = sum(server.count(f"/f/{n}.xml") for n in range(500))
    assert requested == ADVERTISED_FEEDS  # not 500 requests
    (row,) = quarantined(tmp_path / "data")
    assert row["reason"] == "feed_limit" and "advertises 500 feeds" in row["detail"]
    assert f"/f/{ADVERTISED_FEEDS}.xml" in row["detail"]


def test_every_child_sitemap_is_read_within_a_few_runs_over_the_budget(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "a").mkdir(parents=True)
    for n in range(7):
        (site / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")
        (site / f"child{n}.xml").write_text(
            urlset([f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc></url>"]), encoding="utf-8"
        )
    (site / "index.xml").write_text(
        sitemap_index([f"/child{n}.xml" for n in range(7)]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml"]',
            settings="  sitemaps_per_run: 3",
        )
        config = load_sources(sources)
        stored = []
        for hour in range(4):
            at = NOW + dt.timedelta(hours=hour)
            first = len(server.request_headers)
            ref = run_source(
                config.sources[0], config.settings, tmp_path / "data", Run(f"r{hour}", at, at)
            )
            stored.append(ref["new"])
            # sitemaps read in full: asked without validators, or with ones that did not match
            full = [
                path
                for path, headers in server.request_headers[first:]
                if path.endswith(".xml") and "If-None-Match" not in headers
            ]
            assert len(full) <= 3  # the budget holds in every run
        # a child is read in full once; afterwards it answers 304, which costs no budget
        assert all(server.count(f"/child{n}.xml") >= 1 for n in range(7))
    assert stored[:3] == [2, 3, 2] and stored[3] == 0  # all seven articles within three runs


def test_a_sitemap_in_the_old_0_84_namespace_is_read() -> None:
    body = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.google.com/schemas/sitemap/0.84">'
        b"<url><loc>https://n.example/a</loc><lastmod>2026-11-24</lastmod></url></urlset>"
    )
    sitemap = parse_sitemap(body, "https://n.example/sitemap.xml", 1 << 20)
    assert sitemap.bad_locs == []
    ((entry),) = sitemap.entries
    assert entry.url == "https://n.example/a"
    assert entry.lastmod == dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_a_relative_sitemap_line_in_robots_txt_is_the_sites(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 1)
    (site / "robots.txt").write_text("User-agent: *\nSitemap: /pages.xml\n", encoding="utf-8")
    (site / "pages.xml").write_text(
        urlset(["<url><loc>{{BASE_URL}}/a/0.html</loc></url>"]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/robots.txt"]',
        )
        ref = ingest(sources, tmp_path / "data")
        assert server.count("/pages.xml") == 1
    assert ref["new"] == 1 and quarantined(tmp_path / "data") == []


def test_one_article_listed_with_tracking_parameters_and_fragments_is_asked_once(
    tmp_path: Path,
) -> None:
    site = write_site(tmp_path / "site", 2)
    (site / "feed.xml").write_text(
        rss(
            [
                ("/a/0.html?utm_source=rss&utm_medium=feed", None),
                ("/a/0.html#comments", None),
                ("/a/0.html", None),
                ("/a/1.html?fbclid=x1#top", None),
            ]
        ),
        encoding="utf-8",
    )
    with serve_site(site) as server:
        ref = ingest(sources_file(tmp_path / "s.yaml", server.base_url), tmp_path / "data")
        asked = [p for p in server.requests if p.startswith("/a/")]
    assert sorted(asked) == ["/a/0.html", "/a/1.html"]  # each once, without the tracking
    assert (ref["new"], ref["seen"]) == (2, 2)  # the other two listings are the same items
