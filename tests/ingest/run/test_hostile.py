"""Hostile input: every case ends as a quarantine row with a clear reason, within bounded time
and memory, and the rest of the run goes on."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from ingest.config import load_sources
from ingest.run.model import Run, WriteRef
from ingest.run.stages import run_source
from ingest.siteserver import Reply, serve_site
from tests.ingest.sites import article_html, rss, sources_file, write_site
from transforms.tagging import get_tagger

HTML = {"Content-Type": "text/html; charset=utf-8"}
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title><item><link>http://127.0.0.1/x</link></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&x;</title></channel></rss>"""
CAP = 1_000_000


def drip() -> Iterator[bytes]:
    yield b"<html><body><p>"
    for _ in range(600):
        time.sleep(0.05)
        yield b"x"


def endless() -> Iterator[bytes]:
    while True:
        yield b"<p>" + b"y" * 65530


def routes() -> dict[str, Any]:
    bomb = gzip.compress(b"\0" * 200_000_000)  # 200 MB of zeros in about 200 kB
    latin1 = (
        article_html(7, "Zürich: Straßenbahn fährt wieder")
        .encode("latin-1")
        .replace(b'charset="utf-8"', b'charset="iso-8859-1"')
    )
    # JSON-LD holding half an emoji (a lone surrogate escape): it stopped the source's run
    half_emoji = article_html(9, "Half an emoji in the byline").replace(
        "</head>",
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"author": {"name": "Jo \\ud83d Doe"}}</script></head>',
    )
    assert "\\ud83d" in half_emoji
    article = gzip.compress(article_html(8, "Cut short").encode())
    return {
        "/half-emoji.html": Reply(200, HTML, half_emoji.encode()),
        "/cut-short.html": Reply(200, {**HTML, "Content-Encoding": "gzip"}, article[:-40]),
        "/pdf-as-html.html": Reply(200, HTML, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
        "/bomb-feed.xml": Reply(200, {"Content-Type": "application/rss+xml"}, BILLION_LAUGHS),
        "/xxe-feed.xml": Reply(200, {"Content-Type": "application/rss+xml"}, XXE),
        "/broken-feed.xml": Reply(
            200,
            {"Content-Type": "application/rss+xml"},
            b"<rss><channel><item><link>/a/0.html</link></item><item><title>unclosed",
        ),
        "/bomb-sitemap.xml.gz": Reply(200, {"Content-Type": "application/x-gzip"}, bomb),
        "/laughs-sitemap.xml": Reply(
            200,
            {"Content-Type": "application/xml"},
            BILLION_LAUGHS.replace(b"<rss", b"<urlset").replace(b"</rss>", b"</urlset>"),
        ),
        "/gzip-bomb.html": Reply(200, {**HTML, "Content-Encoding": "gzip"}, bomb),
        "/endless.html": lambda _p: Reply(200, HTML, chunks=endless()),
        "/drip.html": lambda _p: Reply(200, HTML, chunks=drip()),
        "/loop.html": Reply(302, {"Location": "/loop.html"}),
        **{f"/chain/{n}": Reply(301, {"Location": f"/chain/{n + 1}"}) for n in range(10)},
        "/to-ftp.html": Reply(302, {"Location": "ftp://127.0.0.1/file"}),
        "/to-metadata.html": Reply(302, {"Location": "http://169.254.169.254/latest/meta-data/"}),
        "/to-private.html": Reply(302, {"Location": "http://10.1.2.3/internal"}),
        "/no-location.html": Reply(302, {}),
        "/bad-location.html": Reply(302, {"Location": "http://[::1/broken"}),
        "/report.pdf": Reply(200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 not really"),
        "/photo.png": Reply(200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n"),
        "/latin1.html": Reply(
            200, {"Content-Type": "text/html"}, latin1
        ),  # charset only in the page
        "/latin1-header.html": Reply(
            200,
            {"Content-Type": "text/html; charset=ISO-8859-1"},
            latin1.replace(b"iso-8859-1", b"utf-8"),
        ),
    }


HOSTILE = [
    "/gzip-bomb.html",
    "/endless.html",
    "/drip.html",
    "/loop.html",
    "/chain/0",
    "/to-ftp.html",
    "/to-metadata.html",
    "/to-private.html",
    "/no-location.html",
    "/bad-location.html",
    "/report.pdf",
    "/photo.png",
    "/latin1.html",
    "/latin1-header.html",
    "/half-emoji.html",
    "/cut-short.html",
    "/pdf-as-html.html",
]
EXPECTED = {
    "/gzip-bomb.html": ("fetch", "too_large"),
    "/endless.html": ("fetch", "too_large"),
    "/drip.html": ("fetch", "timeout"),
    "/loop.html": ("fetch", "too_many_redirects"),
    "/chain/0": ("fetch", "too_many_redirects"),
    "/to-ftp.html": ("fetch", "bad_scheme"),
    "/to-metadata.html": ("fetch", "network_blocked"),
    "/to-private.html": ("fetch", "network_blocked"),
    "/no-location.html": ("fetch", "bad_redirect"),
    "/bad-location.html": ("fetch", "bad_redirect"),
    "/report.pdf": ("fetch", "not_html"),
    "/photo.png": ("fetch", "not_html"),
    "/cut-short.html": ("fetch", "bad_encoding"),  # not stored with its end missing
    "/pdf-as-html.html": ("fetch", "not_html"),  # labelled text/html
    "/bomb-feed.xml": ("discover", "unsafe_xml"),
    "/xxe-feed.xml": ("discover", "unsafe_xml"),
    "/broken-feed.xml": ("discover", "feed_recovered"),
    "/broken-feed.xml ": ("discover", "no_link"),  # its second item lost its link in the damage
    "/bomb-sitemap.xml.gz": ("discover", "too_large"),
    "/laughs-sitemap.xml": ("discover", "unsafe_xml"),
}


def test_hostile_site_is_survived_with_reasons_and_bounded_time_and_memory(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", 2)
    (site / "feed.xml").write_text(
        rss([("/a/0.html", None), ("/a/1.html", None)] + [(p, None) for p in HOSTILE]),
        encoding="utf-8",
    )
    with serve_site(site, routes()) as server:
        base = server.base_url
        sources = sources_file(
            tmp_path / "s.yaml",
            base,
            feeds=["/feed.xml", "/bomb-feed.xml", "/xxe-feed.xml", "/broken-feed.xml"],
            extra=f'    sitemaps: ["{base}/bomb-sitemap.xml.gz", "{base}/laughs-sitemap.xml"]',
            settings=f"  max_page_bytes: {CAP}\n  deadline_s: 2\n  max_retries: 1\n  fetch_workers: 1"
            "\n  entity_models: rules",  # (a spaCy pipeline's load is no hostile input)
        )
        config = load_sources(sources)
        # the tagger's models load once per process (the language model alone allocates
        # 169 MB while it loads): loaded first, so the bound measures the hostile input
        get_tagger(config.settings.taxonomy, config.settings.entity_models).load()
        tracemalloc.start()
        started = time.monotonic()
        ref: WriteRef = run_source(
            config.sources[0], config.settings, tmp_path / "data", Run.adhoc()
        )
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert server.count("/chain/6") == 0  # the chain was cut after five redirects
    assert elapsed < 30, elapsed  # the drip is cut at the 2 s deadline (and once more on retry)
    assert peak < 40 * CAP, peak  # the 200 MB bomb never got past the 1 MB cap
    rows = (
        ds.dataset(tmp_path / "data" / "quarantine", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    found = sorted((r["url"].removeprefix(base), r["stage"], r["reason"]) for r in rows)
    assert found == sorted((url.strip(), *outcome) for url, outcome in EXPECTED.items())
    articles = (
        ds.dataset(tmp_path / "data" / "articles", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    titles = {a["title"]: a["text"] for a in articles}
    # the rest of the run went on; the two Latin-1 pages carry the same text: one is a flagged copy
    assert (ref["new"], ref["duplicate"]) == (4, 1)
    assert "Half an emoji in the byline" in titles
    assert "Story number 0 from the fixture site" in titles
    latin = titles["Zürich: Straßenbahn fährt wieder"]
    assert "Ã" not in latin and "Paragraph 0 of story 7" in latin
