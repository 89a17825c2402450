"""Copies and stories: fingerprints, the copy test, the winner rule, and the rules against a
real Parquet dataset across sources, runs, concurrent commits and rebuilds."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from transforms.articles import build_article
from transforms.commit import commit_lock
from transforms.dataset import RunOutput, article_files, read_partitions, update_columns
from transforms.dedup import FLAGS, add_fingerprints, cluster
from transforms.dedup_store import commit_deduplicated, rebuild, story_counts

UTC = dt.UTC
WEEK = dt.timedelta(days=7)
STORIES = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "dedup" / "stories.json").read_text("utf-8")
)
T0 = dt.datetime(2024, 3, 5, 9, 0, tzinfo=UTC)


def row(
    url: str,
    text: str,
    published: dt.datetime = T0,
    source_id: str = "s",
    original_source: str | None = None,
) -> dict[str, Any]:
    record = {
        "url": url,
        "text": text,
        "fetched_at": (published + dt.timedelta(hours=1)).isoformat(),
        "published": published.isoformat(),
        "published_from": "jsonld",
        "extractor": "test",
        "original_source": original_source,
        "title": url.rsplit("/", 1)[-1],
    }
    article = build_article(record, source_id, source_id, "run")
    add_fingerprints([article])
    return article


def flags_of(new: list[dict[str, Any]], stored: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    flags, _ = cluster(list(new), list(stored), WEEK)
    return {r["url"]: flags[r["article_id"]] for r in new}


def wire_with(head: str = "", tail: str = "", body: str | None = None) -> str:
    return "\n".join(p for p in (head, body or STORIES["wire"], tail) if p)


# ------------------------------------------------------------------------------ the copy test


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "syndicated with another site's boilerplate",
            wire_with(STORIES["boilerplate_head"], STORIES["boilerplate_tail"]),
        ),
        ("lightly edited, last paragraph cut", STORIES["edited"]),
        ("one paragraph added", wire_with(tail=STORIES["added_paragraph"])),
        ("typography and case differ", STORIES["wire"].replace("'", "\u2019").upper()),
    ],
)
def test_copies_are_flagged_with_their_similarity(name: str, text: str) -> None:
    original = row("https://a.example/cranes", STORIES["wire"])
    copy = row("https://b.example/copy", text, T0 + dt.timedelta(hours=3))
    flags = flags_of([original, copy])
    assert flags["https://a.example/cranes"] == (None, original["article_id"], None)
    duplicate_of, story, similarity = flags["https://b.example/copy"]
    assert (duplicate_of, story) == (original["article_id"], original["article_id"]), name
    assert similarity is not None and similarity >= 0.8


@pytest.mark.parametrize(
    "other", ["follow_up", "same_topic", "brief"], ids=["follow-up", "same topic", "brief"]
)
def test_hard_negatives_are_separate_stories(other: str) -> None:
    original = row("https://a.example/cranes", STORIES["wire"])
    different = row("https://b.example/other", STORIES[other], T0 + dt.timedelta(days=2))
    flags = flags_of([original, different])
    assert flags["https://b.example/other"] == (None, different["article_id"], None)


def test_exact_copies_have_similarity_one_and_boilerplate_lines_do_not_matter() -> None:
    original = row("https://a.example/cranes", STORIES["wire"])
    copy = row("https://b.example/copy", "Source: merkur\n" + STORIES["wire"], T0)
    assert copy["content_hash"] == original["content_hash"]
    flags = flags_of([original, copy])
    assert sorted(f[2] for f in flags.values() if f[2] is not None) == [1.0]


def test_copies_further_apart_than_the_window_do_not_match() -> None:
    original = row("https://a.example/cranes", STORIES["wire"])
    late = row("https://b.example/copy", STORIES["wire"], T0 + dt.timedelta(days=8))
    assert flags_of([original, late])["https://b.example/copy"][0] is None


# ---------------------------------------------------------------------------- the winner rule


def test_the_earliest_copy_wins_whatever_the_order_of_arrival() -> None:
    late = row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=5))
    early = row("https://z.example/early", STORIES["edited"], T0)
    for batch in ([late, early], [early, late]):
        flags = flags_of(batch)
        assert flags["https://a.example/late"][0] == early["article_id"]
        assert flags["https://z.example/early"][0] is None


def test_at_equal_times_the_publisher_named_as_original_source_wins() -> None:
    aggregator = row(
        "https://aggregator.example/copy",
        STORIES["wire"],
        source_id="agg",
        original_source="Merkur",
    )
    original = row("https://www.merkur.example/story", STORIES["wire"], source_id="merkur-feed")
    other = row("https://c.example/copy", STORIES["wire"], source_id="c")
    flags = flags_of([aggregator, original, other])
    assert flags["https://www.merkur.example/story"][0] is None
    assert flags["https://aggregator.example/copy"][0] == original["article_id"]
    assert flags["https://c.example/copy"][0] == original["article_id"]


def test_at_equal_times_without_a_named_original_the_lowest_article_id_wins() -> None:
    copies = [row(f"https://site{i}.example/x", STORIES["wire"]) for i in range(4)]
    winner = min(c["article_id"] for c in copies)
    flags = flags_of(copies)
    assert {f[1] for f in flags.values()} == {winner}
    assert sum(f[0] is None for f in flags.values()) == 1


# -------------------------------------------------------------------- against a Parquet store


def commit(root: Path, rows: list[dict[str, Any]], source_id: str, run_key: str) -> Any:
    with commit_lock(root):
        result, _ = commit_deduplicated(rows, root, RunOutput(source_id, run_key, run_key), WEEK)
    return result


def stored(root: Path) -> dict[str, dict[str, Any]]:
    table = read_partitions(root, ["url", "article_id", *FLAGS])
    return {r["url"]: r for r in table.to_pylist()}


def test_copies_across_two_sources_and_two_runs(tmp_path: Path) -> None:
    original = row("https://a.example/cranes", STORIES["wire"], source_id="a")
    first = commit(tmp_path, [original], "a", "run1")
    assert (first.duplicates, first.seen) == (0, 0)
    copies = [
        row(
            "https://b.example/copy",
            wire_with(STORIES["boilerplate_head"], STORIES["boilerplate_tail"]),
            T0 + dt.timedelta(hours=2),
            "b",
        ),
        row("https://b.example/edited", STORIES["edited"], T0 + dt.timedelta(days=1), "b"),
        row("https://b.example/strike", STORIES["same_topic"], T0 + dt.timedelta(days=1), "b"),
    ]
    second = commit(tmp_path, copies, "b", "run2")
    assert second.duplicates == 2 and not second.updates
    rows = stored(tmp_path)
    winner = original["article_id"]
    assert rows["https://a.example/cranes"]["story_id"] == winner
    assert rows["https://b.example/copy"]["duplicate_of"] == winner
    assert rows["https://b.example/edited"]["story_id"] == winner
    assert rows["https://b.example/strike"]["duplicate_of"] is None
    # the same canonical URL later: one row ever
    third = commit(
        tmp_path, [row("https://a.example/cranes", STORIES["edited"], source_id="c")], "c", "run3"
    )
    assert (third.seen, len(third.rows)) == (1, 0)
    assert story_counts(tmp_path) == {"articles": 4, "stories": 2, "copies": 2, "unflagged": 0}


def test_an_earlier_original_arriving_later_takes_over_the_stored_story(tmp_path: Path) -> None:
    late = row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=6), "a")
    copy = row("https://b.example/copy", STORIES["edited"], T0 + dt.timedelta(hours=8), "b")
    commit(tmp_path, [late, copy], "a", "run1")
    early = row("https://c.example/early", wire_with(tail=STORIES["added_paragraph"]), T0, "c")
    result = commit(tmp_path, [early], "c", "run2")
    assert set(result.updates) == {late["article_id"], copy["article_id"]}
    rows = stored(tmp_path)
    assert rows["https://c.example/early"]["duplicate_of"] is None
    assert rows["https://a.example/late"]["duplicate_of"] == early["article_id"]
    assert rows["https://b.example/copy"]["story_id"] == early["article_id"]


def _commit_and_die(root: str, point: str) -> None:
    def die(step: str) -> None:
        if step == point:
            os.kill(os.getpid(), signal.SIGKILL)

    early = row("https://c.example/early", wire_with(tail=STORIES["added_paragraph"]), T0, "c")
    with commit_lock(Path(root)):
        commit_deduplicated([early], Path(root), RunOutput("c", "run2", "run2"), WEEK, crash=die)


@pytest.mark.parametrize(
    "point", ["staged", "journalled", "renamed", "replaced", "flagged", "indexed"]
)
def test_a_commit_killed_at_any_point_leaves_all_of_it_or_none_of_it(
    tmp_path: Path, point: str
) -> None:
    late = row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=6), "a")
    copy = row("https://b.example/copy", STORIES["edited"], T0 + dt.timedelta(hours=8), "b")
    commit(tmp_path, [late, copy], "a", "run1")
    worker = multiprocessing.get_context("spawn").Process(
        target=_commit_and_die, args=(str(tmp_path), point)
    )
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    with commit_lock(tmp_path):  # the next writer recovers before it reads
        pass
    left = [p for p in (tmp_path / "state" / "staging").rglob("*") if p.is_file()]
    assert not left and not (tmp_path / "state" / "commit.json").exists()
    rows = stored(tmp_path)
    early = row("https://c.example/early", wire_with(tail=STORIES["added_paragraph"]), T0, "c")
    if point == "staged":  # before the commit point: nothing happened
        assert set(rows) == {"https://a.example/late", "https://b.example/copy"}
        assert rows["https://a.example/late"]["duplicate_of"] is None
        later = commit(tmp_path, [early], "c", "run3")  # the next run stores it as new
        assert (len(later.rows), later.seen) == (1, 0)
    else:  # after it: all of it, the stored copies re-flagged too
        assert rows["https://c.example/early"]["duplicate_of"] is None
        later = commit(tmp_path, [early], "c", "run3")  # the next run sees it as stored
        assert (len(later.rows), later.seen) == (0, 1)
    rows = stored(tmp_path)
    assert rows["https://a.example/late"]["duplicate_of"] == early["article_id"]
    assert rows["https://b.example/copy"]["story_id"] == early["article_id"]
    with commit_lock(tmp_path):  # what the runs left is what a rebuild computes
        assert rebuild(tmp_path, WEEK)["changed"] == 0


def test_a_query_after_a_half_applied_commit_sees_all_of_it(tmp_path: Path) -> None:
    from transforms.query import run_query

    late = row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=6), "a")
    commit(tmp_path, [late], "a", "run1")
    worker = multiprocessing.get_context("spawn").Process(
        target=_commit_and_die, args=(str(tmp_path), "renamed")
    )
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL  # new file in place, stored copy not re-flagged
    _, rows = run_query(tmp_path, "SELECT url, duplicate_of FROM articles ORDER BY url")
    early = row("https://c.example/early", wire_with(tail=STORIES["added_paragraph"]), T0, "c")
    assert rows == [
        ("https://a.example/late", early["article_id"]),
        ("https://c.example/early", None),
    ]


def _commit_in_process(root: str, url: str, barrier: Any) -> None:
    article = row(url, STORIES["wire"], T0, source_id=url.split("/")[2])
    barrier.wait()
    commit(Path(root), [article], article["source_id"], "run")


def test_concurrent_commits_keep_exactly_one_original(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    urls = ["https://a.example/x", "https://b.example/x", "https://c.example/x"]
    barrier = context.Barrier(len(urls))
    workers = [
        context.Process(target=_commit_in_process, args=(str(tmp_path), url, barrier))
        for url in urls
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    rows = stored(tmp_path)
    assert len(rows) == 3
    assert sum(r["duplicate_of"] is None for r in rows.values()) == 1
    assert len({r["story_id"] for r in rows.values()}) == 1


def test_rebuild_gives_what_the_runs_gave_and_is_idempotent(tmp_path: Path) -> None:
    rows = [
        row("https://a.example/late", STORIES["wire"], T0 + dt.timedelta(hours=6), "a"),
        row("https://b.example/edited", STORIES["edited"], T0 + dt.timedelta(days=1), "b"),
        row("https://c.example/follow", STORIES["follow_up"], T0 + dt.timedelta(days=2), "c"),
        row("https://d.example/early", STORIES["wire"], T0, "d"),
        row("https://e.example/strike", STORIES["same_topic"], T0 + dt.timedelta(days=3), "e"),
    ]
    for i, article in enumerate(rows):
        commit(tmp_path, [article], article["source_id"], f"run{i}")
    incremental = stored(tmp_path)
    # wipe the flags, as if thresholds had changed, then rebuild
    update_columns(tmp_path, {r["article_id"]: dict.fromkeys(FLAGS) for r in incremental.values()})
    assert story_counts(tmp_path)["unflagged"] == 5
    assert rebuild(tmp_path, WEEK)["changed"] == 5
    assert stored(tmp_path) == incremental
    mtimes = {p: p.stat().st_mtime_ns for p in article_files(tmp_path)}
    assert rebuild(tmp_path, WEEK) == {"rows": 5, "changed": 0, "files": 0}
    assert rebuild(tmp_path, WEEK, since=(T0 + dt.timedelta(days=1)).date())["changed"] == 0
    assert {p: p.stat().st_mtime_ns for p in article_files(tmp_path)} == mtimes


def test_rebuild_since_a_day_recomputes_only_from_that_day(tmp_path: Path) -> None:
    early = row("https://d.example/early", STORIES["wire"], T0, "d")
    later = row("https://b.example/edited", STORIES["edited"], T0 + dt.timedelta(days=2), "b")
    commit(tmp_path, [early, later], "d", "run")
    update_columns(tmp_path, {r["article_id"]: dict.fromkeys(FLAGS) for r in (early, later)})
    done = rebuild(tmp_path, WEEK, since=(T0 + dt.timedelta(days=1)).date())
    # one row recomputed; the earlier row it joins gets its story id, as in an ingest run
    assert (done["rows"], done["changed"]) == (1, 2)
    rows = stored(tmp_path)
    assert rows["https://b.example/edited"]["duplicate_of"] == early["article_id"]
    assert rows["https://d.example/early"]["story_id"] == early["article_id"]
    assert rows["https://d.example/early"]["duplicate_of"] is None


def test_rows_written_before_fingerprints_existed_get_them_on_rebuild(tmp_path: Path) -> None:
    article = row("https://a.example/x", STORIES["wire"])
    commit(tmp_path, [article], "a", "run")
    update_columns(
        tmp_path,
        {
            article["article_id"]: {
                "shingles": None,
                "minhash": None,
                "lsh_bands": None,
                **dict.fromkeys(FLAGS),
            }
        },
    )
    rebuild(tmp_path, WEEK)
    (path,) = article_files(tmp_path)
    back = pq.read_table(path).to_pylist()[0]
    assert back["minhash"] == article["minhash"] and back["story_id"] == article["article_id"]


def test_a_thousand_near_identical_pages_form_one_story_in_pairs_linear_in_their_number() -> None:
    from transforms.dedup import BUCKET_LIMIT, copy_pairs

    # one template with a different number per page: every page shares most bands with all
    # the others, which used to give n^2 candidate pairs (gigabytes at a few thousand pages)
    rows = [
        row(
            f"https://s.example/{n}",
            wire_with(tail=f"Page {n} of the listing."),
            T0 + dt.timedelta(minutes=n),
        )
        for n in range(1000)
    ]
    pairs = copy_pairs(rows, WEEK)
    assert len(pairs) <= 2 * BUCKET_LIMIT * len(rows)  # all pairs: 499,500
    flags = flags_of(rows)
    assert {f[1] for f in flags.values()} == {rows[0]["article_id"]}  # one story, first wins
    assert sum(f[0] is None for f in flags.values()) == 1


def test_a_stored_original_is_found_by_a_batch_crowded_with_its_copies() -> None:
    original = row("https://a.example/original", wire_with(tail="Page original of the listing."))
    original["story_id"] = original["article_id"]
    copies = [
        row(
            f"https://s.example/{n}",
            wire_with(tail=f"Page {n} of the listing."),
            T0 + dt.timedelta(hours=1, minutes=n),
        )
        for n in range(40)  # more than BUCKET_LIMIT new rows in every shared band
    ]
    for copy in copies:  # the same fingerprint (words equal but for a few): every band shared
        for column in ("shingles", "minhash", "lsh_bands"):
            copy[column] = original[column]
    flags = flags_of(copies, [original])
    assert {f[1] for f in flags.values()} == {original["article_id"]}  # joined its story
    assert {f[0] for f in flags.values()} == {original["article_id"]}  # all copies of it


def test_dedup_rows_view_the_signatures_of_every_chunk_of_a_table() -> None:
    import pyarrow as pa

    from transforms.dedup_store import dedup_view
    from transforms.schema import ARTICLE_SCHEMA

    rows = [row(f"https://a.example/{n}", f"story {n} " + STORIES["wire"]) for n in range(5)]
    rows[2]["minhash"] = rows[2]["lsh_bands"] = None  # (a row without fingerprints)
    whole = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
    # three chunks, one of them a slice (its offsets start inside its values)
    chunked = pa.concat_tables([whole.slice(0, 1), whole.slice(1, 3), whole.slice(4)])
    assert chunked["minhash"].num_chunks == 3
    for viewed, expected in zip(dedup_view(chunked), rows, strict=True):
        for column in ("minhash", "lsh_bands"):
            if expected[column] is None:
                assert viewed[column] is None
            else:
                assert viewed[column].tolist() == list(expected[column])
