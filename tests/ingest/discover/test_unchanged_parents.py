"""Documents that change while the document listing them does not: a page advertising its
feeds, a sitemap index without <lastmod>; and a news sitemap behind a long backlog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingest.config import load_sources
from ingest.run.model import Run
from ingest.run.stages import run_source
from ingest.siteserver import serve_site
from tests.ingest.discover.test_discovery import quarantined, urlset
from tests.ingest.sites import article_html, rss, sitemap_index, sources_file

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def runs(sources: Path, data: Path, first: int, count: int) -> list[int]:
    """Run the source `count` times an hour apart; the new articles of each run."""
    config = load_sources(sources)
    new = []
    for hour in range(first, first + count):
        at = NOW + dt.timedelta(hours=hour)
        ref = run_source(config.sources[0], config.settings, data, Run(f"r{hour}", at, at))
        new.append(ref["new"])
    return new


def articles(site: Path, numbers: range) -> None:
    (site / "a").mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (site / "a" / f"{n}.html").write_text(article_html(n), encoding="utf-8")


def test_an_unchanged_page_still_leads_to_the_feeds_it_advertises(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles(site, range(3))
    (site / "news.html").write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body>News</body></html>",
        encoding="utf-8",
    )
    (site / "feed.xml").write_text(rss([("/a/0.html", None)]), encoding="utf-8")
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url, feeds=["/news.html"])
        assert runs(sources, tmp_path / "data", 0, 1) == [1]
        # the page stays as it was (a 304); its feed gains two items
        (site / "feed.xml").write_text(
            rss([("/a/0.html", None), ("/a/1.html", None), ("/a/2.html", None)]),
            encoding="utf-8",
        )
        assert runs(sources, tmp_path / "data", 1, 1) == [2]
        assert server.count("/feed.xml") == 2
        # and when neither changed, the feed is asked conditionally and nothing is new
        assert runs(sources, tmp_path / "data", 2, 1) == [0]
        assert server.count("/news.html") == 3 and server.count("/feed.xml") == 3
    assert quarantined(tmp_path / "data") == []


def test_an_unchanged_index_still_leads_to_its_undated_children(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles(site, range(4))
    (site / "index.xml").write_text(sitemap_index(["/pages.xml"]), encoding="utf-8")
    (site / "pages.xml").write_text(
        urlset(["<url><loc>{{BASE_URL}}/a/0.html</loc></url>"]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml"]',
        )
        assert runs(sources, tmp_path / "data", 0, 1) == [1]
        (site / "pages.xml").write_text(
            urlset([f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc></url>" for n in range(4)]),
            encoding="utf-8",
        )
        assert runs(sources, tmp_path / "data", 1, 2) == [3, 0]
        assert server.count("/index.xml") == 3 and server.count("/pages.xml") == 3


def test_a_dated_child_of_an_unchanged_index_is_not_asked_again(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles(site, range(1))
    recent = (NOW - dt.timedelta(hours=1)).isoformat()
    (site / "index.xml").write_text(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{{{{BASE_URL}}}}/pages.xml</loc><lastmod>{recent}</lastmod></sitemap>"
        "</sitemapindex>",
        encoding="utf-8",
    )
    (site / "pages.xml").write_text(
        urlset(["<url><loc>{{BASE_URL}}/a/0.html</loc></url>"]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml"]',
        )
        assert runs(sources, tmp_path / "data", 0, 2) == [1, 0]
        # its <lastmod> says it is as it was when read
        assert server.count("/index.xml") == 2 and server.count("/pages.xml") == 1


def test_a_news_sitemap_is_read_every_run_however_long_the_backlog(tmp_path: Path) -> None:
    site = tmp_path / "site"
    articles(site, range(12))
    (site / "index.xml").write_text(
        sitemap_index([f"/child{n}.xml" for n in range(6)]), encoding="utf-8"
    )
    for n in range(6):
        (site / f"child{n}.xml").write_text(
            urlset([f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc></url>"]), encoding="utf-8"
        )

    def news(numbers: range) -> None:
        entries = [f"<url><loc>{{{{BASE_URL}}}}/a/{n}.html</loc></url>" for n in numbers]
        (site / "news.xml").write_text(urlset(entries), encoding="utf-8")

    news(range(6, 7))
    with serve_site(site) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            feeds=[],
            extra=f'    sitemaps: ["{server.base_url}/index.xml", "{server.base_url}/news.xml"]',
            settings="  sitemaps_per_run: 3",
        )
        data = tmp_path / "data"
        # run 0: the index, the news sitemap and one child; five children are left over
        assert runs(sources, data, 0, 1) == [2]
        for hour in range(1, 4):
            news(range(6, 7 + hour))  # one breaking story an hour
            before = len(server.request_headers)
            new = runs(sources, data, hour, 1)[0]
            asked = [path for path, _ in server.request_headers[before:]]
            # the news sitemap is read every run, before the backlog of children
            assert "/news.xml" in asked and "/a/" + f"{6 + hour}.html" in asked
            assert asked.index("/news.xml") < min(
                (asked.index(p) for p in asked if p.startswith("/child")), default=len(asked)
            )
            assert new >= 1
        # and the backlog still drains: every child's article is stored within a few runs
        runs(sources, data, 4, 2)
        assert all(server.count(f"/a/{n}.html") == 1 for n in range(10))
