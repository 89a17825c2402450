"""Incremental fetching: conditional feed requests, seen URLs, refetch, retries of transient failures."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from ingest.config import load_sources
from ingest.run.model import Run, WriteRef
from ingest.run.stages import run_source
from ingest.siteserver import Reply, SiteServer, serve_site
from tests.ingest.sites import article_html, rss, sources_file, write_site


def ingest(sources: Path, data: Path, *, refetch: bool = False) -> WriteRef:
    config = load_sources(sources)
    return run_source(config.sources[0], config.settings, data, Run.adhoc(), refetch=refetch)


def article_requests(server: SiteServer) -> list[str]:
    return [p for p in server.requests if p.startswith("/a/")]


def stored_ids(data: Path) -> list[str]:
    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table(
        columns=["article_id"]
    )
    return sorted(table["article_id"].to_pylist())


def test_a_second_run_makes_only_conditional_feed_requests(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 5)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        first = ingest(sources, tmp_path / "data")
        assert first["new"] == 5 and len(article_requests(server)) == 5
        before = len(server.requests)
        second = ingest(sources, tmp_path / "data")
        after = server.request_headers[before:]
    assert (second["new"], second["not_modified"], second["fetched"]) == (0, 1, 0)
    assert [path for path, _ in after] == ["/feed.xml"]  # no article, no robots.txt (cached)
    headers = {k.lower(): v for k, v in after[0][1].items()}
    assert headers["if-none-match"].startswith('"') and "if-modified-since" in headers
    assert len(stored_ids(tmp_path / "data")) == 5


def test_a_run_with_nothing_new_commits_after_discovery_and_runs_no_other_stage(
    tmp_path: Path,
) -> None:
    site = write_site(tmp_path / "site", 3)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        ingest(sources, tmp_path / "data")
        (site / "feed.xml").write_text(  # changed, but lists only stored items
            rss([(f"/a/{n}.html", None) for n in (2, 1, 0)]), encoding="utf-8"
        )
        second = ingest(sources, tmp_path / "data")
    assert (second["new"], second["seen"], second["fetched"], second["discovered"]) == (0, 3, 0, 3)
    (work,) = [
        w
        for w in (tmp_path / "data" / "work" / "fixture").iterdir()
        if not any(w.glob("fetched.jsonl"))
    ]
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith("timing")) == [
        "discover.json",
        "discovered.jsonl",
        "fetch.json",
        "quarantine-discover.jsonl",
        "skipped.jsonl",
        "written.json",
    ]  # no fetch, extract or transform stage ran
    assert not (tmp_path / "data" / "raw" / "fixture" / f"{work.name}.warc.gz").exists()


def test_a_changed_feed_costs_only_its_new_items(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 3)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        ingest(sources, tmp_path / "data")
        (site / "a" / "3.html").write_text(article_html(3), encoding="utf-8")
        (site / "feed.xml").write_text(
            rss([(f"/a/{n}.html", None) for n in range(4)]), encoding="utf-8"
        )
        server.requests.clear()
        ref = ingest(sources, tmp_path / "data")
    assert article_requests(server) == ["/a/3.html"]
    assert (ref["new"], ref["seen"], ref["discovered"]) == (1, 3, 4)


def test_refetch_and_feed_updates_fetch_again(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        ingest(sources, tmp_path / "data")
        server.requests.clear()
        ingest(sources, tmp_path / "data", refetch=True)  # the feed is unchanged: still listed
        assert sorted(article_requests(server)) == ["/a/0.html", "/a/1.html"]
        assert all("If-None-Match" not in h for p, h in server.request_headers if p == "/feed.xml")
        server.requests.clear()
        (site / "feed.xml").write_text(
            rss([("/a/0.html", "2026-11-25T10:00:00Z"), ("/a/1.html", None)]), encoding="utf-8"
        )
        ingest(sources, tmp_path / "data")  # item 0 says it was updated
        assert article_requests(server) == ["/a/0.html"]
        (site / "feed.xml").write_text(
            rss(
                [
                    ("/a/0.html", "2026-11-25T10:00:00Z"),
                    ("/a/1.html", None),
                    ("/a/0.html?utm_source=feed", None),
                ]
            ),
            encoding="utf-8",
        )
        server.requests.clear()
        ref = ingest(sources, tmp_path / "data", refetch=True)
        # the listing with a tracking parameter is the same item: asked for once
        assert sorted(article_requests(server)) == ["/a/0.html", "/a/1.html"]
    assert (
        ref["new"] == 0 and len(stored_ids(tmp_path / "data")) == 2
    )  # one row per canonical URL, ever


def test_transient_failures_are_retried_on_the_next_run_even_when_the_feed_is_unchanged(
    tmp_path: Path,
) -> None:
    site = write_site(tmp_path / "site", 2)
    state = {"down": True}

    def flaky(path: str) -> Reply:
        if state["down"]:
            return Reply(503, {}, b"busy")
        return Reply(200, {"Content-Type": "text/html"}, article_html(1).encode())

    with serve_site(site, {"/a/1.html": flaky}) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url, settings="  max_retries: 0")
        first = ingest(sources, tmp_path / "data")
        assert (first["new"], first["failed"]) == (1, 1)
        state["down"] = False
        second = ingest(sources, tmp_path / "data")
    assert (second["not_modified"], second["new"], second["failed"]) == (1, 1, 0)
    assert len(stored_ids(tmp_path / "data")) == 2


def test_permanent_failures_are_not_requested_again_every_run(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 1)
    (site / "feed.xml").write_text(
        rss([("/a/0.html", None), ("/a/gone.html", None)]), encoding="utf-8"
    )
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        ingest(sources, tmp_path / "data")
        (site / "feed.xml").write_text(
            rss([("/a/0.html", None), ("/a/gone.html", None), ("/a/0.html#x", None)]),
            encoding="utf-8",
        )
        ref = ingest(sources, tmp_path / "data")  # the feed changed, but its items are known
    assert server.count("/a/gone.html") == 1
    assert (ref["new"], ref["seen"], ref["failed"]) == (0, 3, 0)


def test_refetch_rebuilds_a_lost_file_although_the_feed_is_unchanged(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 3)
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        ingest(sources, tmp_path / "data")
        stored = stored_ids(tmp_path / "data")
        lost = sorted((tmp_path / "data" / "articles").glob("*/*.parquet"))
        assert len(stored) == 3 and lost
        lost[0].unlink()  # a file lost, or removed by hand
        kept = len(stored_ids(tmp_path / "data"))
        assert kept < 3
        assert ingest(sources, tmp_path / "data")["fetched"] == 0  # the feed answers 304
        ref = ingest(sources, tmp_path / "data", refetch=True)
    assert (ref["fetched"], ref["new"], ref["seen"]) == (3, 3 - kept, kept)
    assert stored_ids(tmp_path / "data") == stored
