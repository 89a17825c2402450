"""Edge cases of incremental crawling and hostile documents."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from ingest.config import Settings, load_sources
from ingest.discover.feeds import parse_feed
from ingest.discover.sitemaps import parse_sitemap
from ingest.fetch.http import HttpClient
from ingest.fetch.state import CrawlState
from ingest.run.model import Run, WriteRef
from ingest.run.stages import run_source
from ingest.siteserver import Reply, serve_site
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


def quarantine(data: Path) -> list[dict[str, object]]:
    return (
        ds.dataset(data / "quarantine", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )


def test_a_page_dated_year_one_falls_back_to_the_next_date_and_blocks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = write_site(tmp_path / "site", 3)
    page = site / "a" / "1.html"
    page.write_text(
        re.sub(
            r'published_time" content="[^"]+"',
            'published_time" content="0001-01-01T00:00:00Z"',
            page.read_text(),
        ),
        encoding="utf-8",
    )
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url)
        with caplog.at_level(logging.WARNING, logger="transforms.articles"):
            ref = ingest(sources, tmp_path / "data")
        assert ref["new"] == 3 and ref["failed"] == 0
        assert ingest(sources, tmp_path / "data")["failed"] == 0  # and the next run goes on
    table = ds.dataset(tmp_path / "data" / "articles", format="parquet", partitioning="hive")
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in table.to_table().to_pylist()}
    assert rows["1.html"]["published_at"].year >= 2026  # the server's Last-Modified date
    assert rows["1.html"]["date_source"] == "http_header"
    assert rows["0.html"]["date_source"] == "meta"
    assert any("0001-01-01" in m and "outside the years" in m for m in caplog.messages)


def transformed_run(tmp_path: Path, pages: int) -> tuple[Any, Any, Path, Run, dict[str, Any]]:
    """A fixture site's run taken through the transform stage, one stage at a time: (source,
    settings, data root, run, the transform stage's result), for tests of the write stage."""
    from ingest.run import stages

    site = write_site(tmp_path / "site", pages)
    with serve_site(site) as server:
        config = load_sources(sources_file(tmp_path / "s.yaml", server.base_url))
        source, settings, data, run = (
            config.sources[0],
            config.settings,
            tmp_path / "data",
            Run.adhoc(),
        )
        found = stages.discover(source, settings, data, run)
        fetched = stages.fetch(source, settings, data, run, found["path"])
    extracted = stages.extract(source, settings, data, run, fetched["path"])
    return (
        source,
        settings,
        data,
        run,
        stages.transform(source, settings, data, run, extracted["path"]),
    )


def test_a_row_that_breaks_the_write_stage_is_quarantined_and_the_rest_stored(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.run import commit

    source, settings, data, run, transformed = transformed_run(tmp_path, 3)
    # a work file with a row no check caught (written by an older version, say)
    table = pq.read_table(transformed["path"])
    dates = table["published_at"].to_pylist()
    dates[1] = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    index = table.schema.get_field_index("published_at")
    table = table.set_column(
        index, table.schema.field(index), pa.array(dates, table.schema.field(index).type)
    )
    pq.write_table(table, transformed["path"])
    broken = table["url"][1].as_py()
    ref = commit.write(source, settings, data, run, transformed["path"])
    assert (ref["new"], ref["failed"]) == (2, 1)
    assert [(q["url"], q["stage"], q["reason"]) for q in quarantine(data)] == [
        (broken, "write", "write_error")
    ]
    assert broken.rsplit("/", 1)[-1] not in urls(data) and len(urls(data)) == 2


def test_a_damaged_stored_file_fails_the_write_stage_rather_than_its_rows() -> None:
    """A file of the dataset or the crawl state that cannot be read is no row's fault: the
    write stage fails naming it, instead of setting every row aside as a write_error."""
    from ingest.run.items import isolate
    from transforms.exceptions import CorruptFile

    def attempt(rows: list[dict[str, Any]]) -> int:
        if len(rows) > 1:
            raise ValueError("one bad row")
        raise CorruptFile("articles/x.parquet", "is not a readable Parquet file", "move it")

    with pytest.raises(CorruptFile, match=r"x\.parquet"):
        isolate([{"url": "a"}, {"url": "b"}], attempt)
    with pytest.raises(CorruptFile):
        isolate([{"url": "a"}], attempt)


def test_leftovers_of_killed_runs_go_after_a_day_and_nothing_live_is_touched(
    tmp_path: Path,
) -> None:
    import os

    from ingest.run.workfiles import remove_leftovers

    site = write_site(tmp_path / "site", 2)
    data = tmp_path / "data"
    with serve_site(site) as server:
        ingest(sources_file(tmp_path / "s.yaml", server.base_url), data)  # a committed run
    (committed,) = (data / "work" / "fixture").iterdir()
    killed = data / "work" / "fixture" / "20261124T000000Z_20261124T010000Z"
    killed.mkdir()
    (killed / "discovered.jsonl").write_text("{}\n")
    warc_tmp = data / "raw" / "fixture" / ".x.warc.gz.0123.tmp"
    parquet_tmp = next((data / "articles").glob("published_date=*")) / ".x.parquet.0123.tmp"
    running = data / "raw" / "fixture" / ".y.warc.gz.4567.tmp"  # being written right now
    for path in (warc_tmp, parquet_tmp, running):
        path.write_bytes(b"partial")
    now = dt.datetime.now(dt.UTC)
    two_days_ago = (now - dt.timedelta(days=2)).timestamp()
    old = [warc_tmp, parquet_tmp, killed / "discovered.jsonl", killed, committed]
    old += list(committed.iterdir())
    for path in old:
        os.utime(path, (two_days_ago, two_days_ago))
    assert remove_leftovers(data, now) == 3
    assert not killed.exists() and not warc_tmp.exists() and not parquet_tmp.exists()
    assert committed.exists() and running.exists() and len(urls(data)) == 2
    assert remove_leftovers(data, now) == 0


def test_a_run_transformed_under_an_older_url_rule_is_stored_with_the_current_ids(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ingest.run import commit
    from transforms.dataset import article_files, url_rule
    from transforms.urls import URL_RULE, URL_RULE_KEY, article_id

    source, settings, data, run, transformed = transformed_run(tmp_path, 2)
    table = pq.read_table(transformed["path"])
    current = sorted(table["article_id"].to_pylist())
    # as rule 1 wrote it: dot segments left in the path, no rule in the footer
    old = [c.replace("/a/", "/a/./") for c in table["canonical_url"].to_pylist()]
    assert old != table["canonical_url"].to_pylist()
    for name, values in (("canonical_url", old), ("article_id", [article_id(c) for c in old])):
        at = table.schema.get_field_index(name)
        table = table.set_column(at, table.schema.field(name), pa.array(values, pa.string()))
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != URL_RULE_KEY}
    pq.write_table(table.replace_schema_metadata(metadata), transformed["path"])

    commit.write(source, settings, data, run, transformed["path"])
    stored = [pq.read_table(p) for p in article_files(data)]
    assert sorted(i for t in stored for i in t["article_id"].to_pylist()) == current
    assert all(url_rule(p) == URL_RULE for p in article_files(data))


def _ingest_between_two_pages(
    tmp_path: Path, name: str, page: str, settings: str
) -> tuple[str, Path, dict[str, Any], float]:
    """Ingest a source whose feed lists `page` (served as /a/`name`) between two good pages:
    (the site's address, the data root, the run's summary, the run's seconds)."""
    site = write_site(tmp_path / "site", 2)
    (site / "a" / name).write_text(page, encoding="utf-8")
    (site / "feed.xml").write_text(
        rss([("/a/0.html", None), (f"/a/{name}", None), ("/a/1.html", None)]),
        encoding="utf-8",
    )
    data = tmp_path / "data"
    with serve_site(site) as server:
        sources = sources_file(tmp_path / "s.yaml", server.base_url, settings=settings)
        started = time.monotonic()
        ref = ingest(sources, data)
        elapsed = time.monotonic() - started
    return server.base_url, data, ref, elapsed


def _only_row_too_slow(base_url: str, data: Path, ref: dict[str, Any], name: str) -> str:
    """The two good pages are stored, the page `name` is the one too_slow row; its detail."""
    assert urls(data) == ["0.html", "1.html"]
    [row] = quarantine(data)
    assert (row["url"], row["stage"], row["reason"]) == (
        f"{base_url}/a/{name}",
        "extract",
        "too_slow",
    )
    assert ref["new"] == 2 and ref["failed"] == 1
    return str(row["detail"])


# TooSlow may land in a weakref callback, where Python drops it (and pytest's own hook
# reports it): it is raised again until the extraction ends (ingest.extract.cpu_limit)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_page_that_takes_too_long_to_extract_is_quarantined_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    # 50,000 links in one paragraph: trafilatura takes about a minute over it
    links = "".join(f'<a href="/t/{n}">word {n}</a> ' for n in range(50_000))
    page = (
        f"<html><head><title>Links</title></head><body><article><p>{links}</p></article>"
        "</body></html>"
    )
    base_url, data, ref, elapsed = _ingest_between_two_pages(
        tmp_path, "slow.html", page, "  extract_cpu_s: 1\n  entity_models: rules"
    )
    detail = _only_row_too_slow(base_url, data, ref, "slow.html")
    assert "over 1s of CPU" in detail and "extract_cpu_s" in detail
    assert elapsed < 30, elapsed


def test_a_tag_with_half_a_million_attributes_is_refused_before_parsing(tmp_path: Path) -> None:
    """500,000 attributes in one tag (3.9 MB, within max_page_bytes): the HTML parser would
    take minutes in one call into C that the CPU limit cannot stop; the page is a too_slow
    row at once, the others are stored."""
    attributes = " ".join(f"a{n}" for n in range(500_000))
    page = (
        f"<html><head><title>Crowded</title></head><body><div {attributes}>x</div>"
        "<article><p>Text.</p></article></body></html>"
    )
    base_url, data, ref, elapsed = _ingest_between_two_pages(
        tmp_path, "crowded.html", page, "  entity_models: rules"
    )
    assert "a tag with 500000 attributes" in _only_row_too_slow(base_url, data, ref, "crowded.html")
    assert elapsed < 30, elapsed


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunk"])
def test_a_page_listed_as_fetched_without_its_response_is_a_quarantine_row(
    tmp_path: Path, chunked: bool
) -> None:
    """The extract stage on a run archive that lacks a response its fetch listed (a file
    cut short, or replaced): the page is a raw_missing row, the others are extracted."""
    from ingest.config import load_sources
    from ingest.fetch.warc import RunArchive, warc_path
    from ingest.run.model import Part, Run, workdir
    from ingest.run.stages import extract_share
    from ingest.run.workfiles import read_jsonl, write_jsonl
    from tests.ingest.sites import article_html, sources_file

    config = load_sources(sources_file(tmp_path / "s.yaml", "http://127.0.0.1:9"))
    source, run = config.sources[0], Run.adhoc()
    work = workdir(tmp_path, source, run)
    work.mkdir(parents=True)
    rows = []
    with RunArchive(warc_path(tmp_path, source.id, run.key), {"source_id": source.id}) as archive:
        for n in range(2):
            url = f"http://127.0.0.1:9/a/{n}.html"
            meta = {"url": url, "final_url": url, "charset": "utf-8"}
            body = article_html(n).encode()
            rows.append({**meta, "record_id": archive.add(url, 200, "OK", {}, body, meta)})
        spans = [(offset, length) for _, offset, length, _ in archive.written]
    rows[1]["record_id"] = "<urn:uuid:not-in-the-archive>"
    fetched = write_jsonl(work / "fetched.jsonl", rows)
    part = Part()
    if chunked:
        records = tuple((row, *span) for row, span in zip(rows, spans, strict=True))
        part = Part(0, 0, records, str(tmp_path / "gone.warc.gz"))  # (renamed since)
    ref = extract_share(source, config.settings, tmp_path, run, str(fetched), part)
    assert (ref["count"], ref["quarantined"]) == (1, 1)
    (row,) = read_jsonl(work / part.name("quarantine-extract.jsonl"))
    assert row["reason"] == "raw_missing" and row["url"].endswith("/a/1.html")
