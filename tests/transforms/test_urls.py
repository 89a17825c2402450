"""URL ids that survive spelling, the rule in every file's footer, and the migration of ids
stored under an older rule."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.transforms.test_dedup import STORIES, T0, WEEK, row, stored, wire_with
from tests.transforms.test_index import commit, dump
from transforms import dataset
from transforms.commit import commit_lock
from transforms.compaction import compact
from transforms.index import ArticleIndex, rebuild_index
from transforms.quality import check_recent
from transforms.url_migration import PENDING, _plan, migrate, outdated_files
from transforms.urls import (
    URL_RULE,
    URL_RULE_KEY,
    _rule_1,
    article_id,
    canonical_url,
    normalise_url,
    request_url,
)

# spellings a browser, a feed or a sitemap gives of one URL: each pair must get one id
SAME = [
    ("https://NEWS.Example/a", "https://news.example/a"),
    ("https://news.example./a", "https://news.example/a"),  # the root label's dot
    ("https://news.example:443/a", "https://news.example/a"),
    ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),  # IDNA
    ("https://BÜCHER.example/a", "https://xn--bcher-kva.example/a"),
    ("https://news.example/%7Eed/story", "https://news.example/~ed/story"),  # unreserved
    ("https://news.example/caf%c3%a9", "https://news.example/caf%C3%A9"),  # escape case
    ("https://news.example/café", "https://news.example/caf%C3%A9"),  # raw UTF-8
    ("https://news.example/a b", "https://news.example/a%20b"),
    ("https://news.example/x/./y/../z", "https://news.example/x/z"),  # dot segments
    ("https://news.example", "https://news.example/"),
    ("https://news.example/a?b=2&a=1&utm_source=rss#top", "https://news.example/a?a=1&b=2"),
    ("https://news.example/a?q=caf%c3%a9", "https://news.example/a?q=café"),
    ("https://user:secret@news.example/a", "https://news.example/a"),
]
# spellings that name different resources: each pair must keep two ids
DIFFERENT = [
    ("https://news.example/A", "https://news.example/a"),  # paths are case-sensitive
    ("https://news.example/a%2Fb", "https://news.example/a/b"),  # an escaped slash is data
    ("https://news.example/a/", "https://news.example/a"),
    ("https://news.example/a?q=%E9", "https://news.example/a?q=%E8"),  # Latin-1 queries
    ("https://news.example/a?id=1&id=2", "https://news.example/a?id=2&id=1"),
    ("http://news.example/a", "https://news.example/a"),
    ("https://news.example:8443/a", "https://news.example/a"),
    ("https://faß.example/a", "https://fass.example/a"),  # IDNA as browsers: two domains
    ("https://news.example/a%3Fb", "https://news.example/a?b"),  # an escaped "?" is data
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_spellings_of_one_url_get_one_id(one: str, other: str) -> None:
    assert normalise_url(one) == normalise_url(other)
    assert article_id(normalise_url(one)) == article_id(normalise_url(other))


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_urls_keep_different_ids(one: str, other: str) -> None:
    assert normalise_url(one) != normalise_url(other)


@pytest.mark.parametrize(
    "url",
    [u for pair in SAME + DIFFERENT for u in pair]
    + [
        "http://\\x/a",
        "http://.//news.example/a",
        "http://☃.example/",
        "http://[::1]:8080/a",
        "http://a_b.example/x",
        "http://news.example:99999/a",
        "http://-x-.example/",
    ],
)
def test_the_rule_is_idempotent_and_takes_any_url(url: str) -> None:
    once = normalise_url(url)
    assert normalise_url(once) == once
    assert once.isascii() and "#" not in once


@pytest.mark.parametrize(
    ("url", "declared", "expected"),
    [
        (
            "HTTPS://News.Example:443/a?utm_source=rss&b=2&a=1#top",
            None,
            "https://news.example/a?a=1&b=2",
        ),
        ("http://news.example:80/a?fbclid=x&gclid=y&mc_cid=z", None, "http://news.example/a"),
        ("http://news.example:8080/a", None, "http://news.example:8080/a"),
        ("https://news.example", None, "https://news.example/"),
        (
            "https://news.example/a?utm_medium=x",
            "https://www.news.example/canonical",
            "https://www.news.example/canonical",
        ),
        (
            "https://news.example/a",
            "/relative/canonical",
            "https://news.example/relative/canonical",
        ),
        ("https://news.example/a", "https://other.example/stolen", "https://news.example/a"),
        ("https://news.example/a", "javascript:alert(1)", "https://news.example/a"),
        ("https://news.example/a", "http://[oops/b", "https://news.example/a"),  # unreadable
        (
            "https://news.example/a",
            "/",
            "https://news.example/a",
        ),  # homepage canonical: a template mistake
        ("https://news.example/", "https://news.example/", "https://news.example/"),
        ("http://[::1]:8080/a?b=2&a=2&a=1", None, "http://[::1]:8080/a?a=2&a=1&b=2"),
        # more tracking parameters, Matomo and HubSpot prefixes; the article's own query stays
        (
            "https://news.example/a?id=7&_hsenc=x&pk_campaign=y&mtm_source=z&gbraid=w&igsh=v",
            None,
            "https://news.example/a?id=7",
        ),
        # mobile and AMP copies fold into the canonical they declare on the same site
        (
            "https://m.news.example/2024/story?utm_source=app",
            "https://www.news.example/2024/story",
            "https://www.news.example/2024/story",
        ),
        (
            "https://amp.news.example/2024/story",
            "https://news.example/2024/story",
            "https://news.example/2024/story",
        ),
        (
            "https://news.example/2024/story/amp",
            "https://news.example/2024/story",
            "https://news.example/2024/story",
        ),
        (
            "https://mobile.news.example/2024/story#comments",
            "https://news.example/2024/story",
            "https://news.example/2024/story",
        ),
        # without a confirming canonical, an AMP path is left alone
        ("https://news.example/2024/story/amp", None, "https://news.example/2024/story/amp"),
        # another site's canonical (a syndication partner naming the original) is not this URL
        (
            "https://m.aggregator.example/copy",
            "https://www.news.example/2024/story",
            "https://m.aggregator.example/copy",
        ),
        # "m." alone is not a variant prefix of a two-label host
        ("https://m.example/a", "https://example/a", "https://m.example/a"),
    ],
)
def test_canonical_url(url: str, declared: str | None, expected: str) -> None:
    assert canonical_url(url, declared) == expected


def test_article_id_is_stable_and_follows_canonical_url() -> None:
    a = article_id(normalise_url("https://news.example/a?utm_source=x"))
    assert a == article_id("https://news.example/a")
    assert len(a) == 16 and a != article_id("https://news.example/b")


# -------------------------------------------------------------- files under an older rule

# canonical URLs as rule 1 stored them (it left paths and hosts' scripts as they came)
RULE_1 = {
    "https://news.example/caf%c3%a9-story": "https://news.example/caf%C3%A9-story",
    "https://news.example/café-story": "https://news.example/caf%C3%A9-story",
    "https://bücher.example/%7Eed/story": "https://xn--bcher-kva.example/~ed/story",
    "https://news.example/plain": "https://news.example/plain",
    # rule 1 stored "?q=caf%EF%BF%BD"; the fetched URL still has the byte
    "https://news.example/search?q=caf%E9": "https://news.example/search?q=caf%E9",
}


def rule_1_row(url: str, text: str, fetched: dt.datetime, source: str) -> dict[str, Any]:
    """A row as the first rule made it: its canonical URL spelt by rule 1, its hash as id."""
    made = row(url, text, fetched - dt.timedelta(hours=1), source)
    return {**made, "canonical_url": _rule_1(url), "article_id": article_id(_rule_1(url))}


def as_rule_1(root: Path) -> None:
    """Rewrite every article file with a footer that states no URL rule (as rule 1 wrote)."""
    for path in dataset.article_files(root):
        table = pq.read_table(path)
        metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != URL_RULE_KEY}
        dataset.write_atomic(table.replace_schema_metadata(metadata), path)
        assert dataset.url_rule(path) == "1"


def old_store(root: Path) -> dict[str, dict[str, Any]]:
    """A store written under rule 1: two spellings of one article (stored twice, the later
    one a copy of the earlier), an id whose host and path rule 2 spells otherwise, and a
    story copied from it."""
    first = rule_1_row("https://news.example/caf%c3%a9-story", STORIES["wire"], T0, "a")
    again = rule_1_row(
        "https://news.example/café-story", STORIES["wire"], T0 + dt.timedelta(hours=5), "b"
    )
    moved = rule_1_row("https://bücher.example/%7Eed/story", STORIES["same_topic"], T0, "c")
    copy = rule_1_row(
        "https://news.example/plain",
        wire_with(tail=STORIES["added_paragraph"]),
        T0 + dt.timedelta(hours=2),
        "d",
    )
    commit(root, [first], "a", "r1")
    commit(root, [again], "b", "r2")
    # a Latin-1 query: rule 1 replaced the byte it could not read as UTF-8
    latin = rule_1_row("https://news.example/search?q=caf%E9", STORIES["brief"], T0, "c")
    assert "%EF%BF%BD" in latin["canonical_url"]
    commit(root, [moved, copy, latin], "c", "r3")
    as_rule_1(root)
    return {r["url"]: r for r in (first, again, moved, copy, latin)}


def without_file(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {u: {k: v for k, v in r.items() if k != dataset.FILE_COLUMN} for u, r in rows.items()}


def migrated(root: Path, **kw: Any) -> dict[str, Any]:
    with commit_lock(root):
        return migrate(root, WEEK, T0 + dt.timedelta(days=30), **kw)


def test_ids_stored_under_rule_1_are_migrated_and_other_spellings_dropped(tmp_path: Path) -> None:
    rows = old_store(tmp_path)
    before = stored(tmp_path)
    assert (
        before["https://news.example/café-story"]["duplicate_of"]
        == rows["https://news.example/caf%c3%a9-story"]["article_id"]
    )  # rule 1: one article stored twice, as a copy of itself
    assert len(outdated_files(tmp_path)) == 3
    assert _plan(tmp_path)[0]["ids"]  # (the plan sees the changes: the check below can fail)
    [warning] = [f for f in check_recent(tmp_path, T0.date(), 1, T0) if f.check == "url_rule"]
    assert "newsflow migrate-urls" in warning.message

    done = migrated(tmp_path)

    assert (done["files"], done["dropped"]) == (3, 1)
    after = stored(tmp_path)
    assert set(after) == {
        "https://news.example/caf%c3%a9-story",
        "https://bücher.example/%7Eed/story",
        "https://news.example/plain",
        "https://news.example/search?q=caf%E9",
    }  # the later spelling went; the one fetched first stays
    for url, kept in after.items():
        assert kept["article_id"] == article_id(RULE_1[url])
    wire = after["https://news.example/caf%c3%a9-story"]
    assert wire["duplicate_of"] is None and wire["story_id"] == wire["article_id"]
    copy = after["https://news.example/plain"]
    assert copy["duplicate_of"] == wire["article_id"] == copy["story_id"]  # re-pointed
    record = json.loads(Path(done["record"]).read_text("utf-8"))
    [gone] = record["dropped"]
    assert gone["url"] == "https://news.example/café-story"
    assert gone["kept"] == wire["article_id"] and gone["file"].startswith("articles/")

    assert outdated_files(tmp_path) == [] and not (tmp_path / PENDING).exists()
    assert all(dataset.url_rule(p) == URL_RULE for p in dataset.article_files(tmp_path))
    assert [f for f in check_recent(tmp_path, T0.date(), 1, T0) if f.check == "url_rule"] == []
    kept_index = dump(tmp_path)
    with commit_lock(tmp_path):
        rebuild_index(tmp_path)
    assert dump(tmp_path) == kept_index  # the index equals a rebuild from the files
    assert migrated(tmp_path)["files"] == 0  # idempotent: nothing left to change or drop
    assert _plan(tmp_path) == ({"ids": {}, "files": set()}, [])

    # the same article fetched again in either spelling is known as stored
    again = commit(
        tmp_path, [row("https://NEWS.example/café-story", STORIES["wire"], T0, "e")], "e", "r4"
    )
    assert (len(again.rows), again.seen) == (0, 1)


def test_the_migration_gives_what_a_fresh_ingest_under_rule_2_gives(tmp_path: Path) -> None:
    rows = old_store(tmp_path / "old")
    migrated(tmp_path / "old")
    fresh = tmp_path / "fresh"
    for n, url in enumerate(
        (
            "https://news.example/caf%c3%a9-story",
            "https://bücher.example/%7Eed/story",
            "https://news.example/plain",
            "https://news.example/search?q=caf%E9",
        )
    ):
        made = rows[url]
        commit(
            fresh,
            [row(url, made["text"], made["published_at"], made["source_id"])],
            made["source_id"],
            f"r{n}",
        )
    columns = ["canonical_url", "article_id", "duplicate_of", "story_id"]
    assert {
        u: {c: r[c] for c in columns if c in r} for u, r in stored(tmp_path / "old").items()
    } == {u: {c: r[c] for c in columns if c in r} for u, r in stored(fresh).items()}


def test_a_migration_killed_after_a_file_is_finished_by_the_next(tmp_path: Path) -> None:
    old_store(tmp_path / "whole")
    migrated(tmp_path / "whole")
    root = tmp_path / "killed"
    old_store(root)

    def die(path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrated(root, after_file=die)
    assert (root / PENDING).exists() and len(outdated_files(root)) == 2
    [warning] = [f for f in check_recent(root, T0.date(), 1, T0) if f.check == "url_rule"]
    assert "interrupted" in warning.message
    with commit_lock(root), ArticleIndex(root) as index:
        assert index.rebuilt  # the next opener took the files, not the stale index, as truth
    migrated(root)
    assert without_file(stored(root)) == without_file(stored(tmp_path / "whole"))
    assert not (root / PENDING).exists()


def test_rewrites_keep_the_oldest_rule_of_their_rows_and_new_files_state_the_current(
    tmp_path: Path,
) -> None:
    old_store(tmp_path)
    commit(tmp_path, [row("https://news.example/new", STORIES["same_topic"], T0, "f")], "f", "r5")
    states = {p.name: dataset.url_rule(p) for p in dataset.article_files(tmp_path)}
    assert sorted(states.values()) == ["1", "1", "1", URL_RULE]
    with commit_lock(tmp_path):  # one partition's files (rules 1 and 2) compacted into one
        compact(tmp_path, dt.timedelta(days=1), T0 + dt.timedelta(days=30))
    [compacted] = dataset.article_files(tmp_path)
    assert dataset.url_rule(compacted) == "1"  # not a claim that its ids were migrated
    migrated(tmp_path)
    assert dataset.url_rule(compacted) == URL_RULE
    assert pq.read_metadata(compacted).row_group(0).sorting_columns  # still declared sorted


def test_the_command_migrates_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.cli import main

    old_store(tmp_path)
    assert main(["migrate-urls", "--data", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert "3 files rewritten" in said and "1 rows dropped" in said and "url_migrations" in said
    assert main(["migrate-urls", "--data", str(tmp_path)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert main(["migrate-urls", "--data", str(tmp_path), "--window-days", "-1"]) == 2
    assert "--window-days" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("https://a.example/x?utm_source=rss&id=3#c", "https://a.example/x?id=3"),
        ("https://a.example/x#top", "https://a.example/x"),
        ("https://a.example/x?FBCLID=1", "https://a.example/x"),
        ("https://a.example/x?utm%5Fsource=rss", "https://a.example/x"),
        # everything else as given: order, spelling and empty fields
        ("https://a.example/x?b=2&a=%7e1", "https://a.example/x?b=2&a=%7e1"),
        ("https://a.example/x?&", "https://a.example/x?&"),
        ("https://A.example/x?q=a#", "https://A.example/x?q=a"),
    ],
)
def test_the_url_a_crawler_asks_for(url: str, asked: str) -> None:
    assert request_url(url) == asked
