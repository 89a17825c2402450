"""Bring the ids of stored articles to the current URL rule (`newsflow migrate-urls`).

An article file whose footer states an older URL rule (transforms/urls.py) holds canonical
URLs, and ids hashed from them, that the current rule may spell differently: an article
fetched again would get another id and be stored twice. The migration, under the commit lock:

1. marks itself pending (`state/url_migration.json`) and invalidates the index of stored
   articles, so that a crash at any later step leaves files that are the truth: the next
   commit rebuilds the index from them, and the next `migrate-urls` finishes the job;
2. spells every stored canonical URL by the current rule and hashes its new id;
3. keeps, of rows that now share an id (two spellings of one article), the one fetched first
   (then: the earliest fetched URL), and drops the others; each dropped row is listed, with
   the id of the row kept, in `state/url_migrations/<time>.json` — nothing goes silently;
4. rewrites each file of an older rule, or with a row that changes, atomically: new URLs and
   ids, `story_id`/`duplicate_of` pointing at the new ids, the current rule in its footer;
5. recomputes the copy and story flags of every row (transforms/dedup_store.py's rebuild,
   which also rebuilds the index), and clears the pending mark.

Idempotent: a second run changes nothing. Memory: the light columns (ids, URLs, fetch times)
of every stored row, then one file at a time, then the dedup rebuild's window.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from transforms.dataset import (
    FILE_COLUMN,
    article_files,
    is_compacted,
    minhash_scheme,
    read_partitions,
    with_minhash_scheme,
    with_url_rule,
    write_atomic,
)
from transforms.dataset import url_rule as rule_of
from transforms.files import fsync_dir, read_stored, write_json_durably
from transforms.schema import ARTICLE_SCHEMA, SORT_ORDER
from transforms.urls import URL_RULE, article_id, respell

PENDING = Path("state") / "url_migration.json"
RECORDS = Path("state") / "url_migrations"
LIGHT = ["article_id", "url", "canonical_url", "fetched_at"]

log = logging.getLogger(__name__)


def respelled(table: pa.Table) -> pa.Table:
    """`table` (with url and canonical_url) with canonical_url and article_id by the current
    rule, and story_id/duplicate_of following a changed id: for rows made under an older rule
    that are written again (a run transformed before an upgrade and committed after it, or a
    re-run's stored rows), so that no file states the current rule over older ids. Returns
    `table` itself when nothing changes."""
    if not table.num_rows:
        return table
    urls: list[Any] = table["url"].to_pylist()
    old: list[Any] = table["canonical_url"].to_pylist()
    new = [respell(u, c) for u, c in zip(urls, old, strict=True)]
    if new == old:
        return table
    ids = table["article_id"].to_pylist()
    renamed = {i: article_id(c) for i, c, was in zip(ids, new, old, strict=True) if c != was}
    out = table
    for column, values in (
        ("canonical_url", new),
        ("article_id", [renamed.get(i, i) for i in ids]),
    ):
        at = out.schema.get_field_index(column)
        out = out.set_column(at, out.schema.field(column), pa.array(values, pa.string()))
    for column in ("story_id", "duplicate_of"):
        if column in out.column_names:
            at = out.schema.get_field_index(column)
            values = [renamed.get(v, v) for v in out[column].to_pylist()]
            out = out.set_column(at, out.schema.field(column), pa.array(values, pa.string()))
    return out


def outdated_files(root: Path) -> list[Path]:
    """The stored article files whose ids follow an older URL rule than URL_RULE."""
    return [path for path in article_files(root) if rule_of(path) != URL_RULE]


def migrate(
    root: Path,
    window: dt.timedelta,
    now: dt.datetime,
    after_file: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Migrate the stored ids of `root` to URL_RULE (see the module's docstring); returns
    counts and the path of the record of dropped rows (None when none were dropped).
    `after_file` is called after each file is rewritten (for tests that interrupt it there).
    The caller holds the commit lock."""
    from transforms.dedup_store import rebuild
    from transforms.index import invalidate_index
    from transforms.lakemirror import push

    outdated = outdated_files(root)
    pending = root / PENDING
    done: dict[str, Any] = {
        "files": 0,
        "changed": 0,
        "dropped": 0,
        "record": None,
        "resumed": pending.exists(),
    }
    if not outdated and not done["resumed"]:
        return done
    write_json_durably(pending, {"rule": URL_RULE, "started": now.isoformat()})
    invalidate_index(root)
    renamed, dropped = _plan(root)
    if dropped:  # listed, and on an object store pushed beside the dataset, before any goes
        done["record"] = _record(root, now, dropped)
        push(root, [done["record"]])
    touched = {Path(r["file"]) for r in dropped} | {Path(f) for f in renamed["files"]}
    gone = {(r["file"], r["article_id"]) for r in dropped}
    for path in sorted(set(outdated) | touched):
        done["changed"] += _rewrite(path, renamed["ids"], gone)
        done["files"] += 1
        if after_file is not None:
            after_file(path)
    done["dropped"] = len(dropped)
    rebuild(root, window)  # flags by the current rules, and the index from the files
    pending.unlink()
    fsync_dir(pending.parent)
    return done


def _plan(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """({"ids": old id -> (new canonical URL, new id) for rows that change, "files": files
    with such rows}, the rows to drop: every row that shares its new id with one fetched
    earlier)."""
    light = read_partitions(root, LIGHT)
    olds: list[Any] = light["article_id"].to_pylist()
    urls: list[Any] = light["url"].to_pylist()
    canonicals: list[Any] = light["canonical_url"].to_pylist()
    fetched: list[dt.datetime | None] = light["fetched_at"].to_pylist()
    files: list[Any] = light[FILE_COLUMN].to_pylist()
    ids: dict[str, tuple[str, str]] = {}
    changed_files: set[str] = set()
    by_new: dict[str, list[int]] = {}
    for i, canonical in enumerate(canonicals):
        spelt = respell(urls[i], canonical)
        new = article_id(spelt)
        if new != olds[i] or spelt != canonical:
            ids[olds[i]] = (spelt, new)
            changed_files.add(files[i])
        by_new.setdefault(new, []).append(i)
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    dropped = []
    for new, rows in by_new.items():
        if len(rows) < 2:
            continue
        kept, *others = sorted(rows, key=lambda i: (fetched[i] or never, urls[i], files[i]))
        for i in others:
            dropped.append(
                {
                    "article_id": olds[i],
                    "canonical_url": canonicals[i],
                    "url": urls[i],
                    "file": files[i],
                    "kept": new,
                    "kept_url": urls[kept],
                }
            )
    return {"ids": ids, "files": changed_files}, dropped


def _rewrite(path: Path, ids: dict[str, tuple[str, str]], dropped: set[tuple[str, str]]) -> int:
    """Rewrite one file by the plan, column by column (the text is never turned into Python
    objects); returns the rows whose id or URL changed."""
    from transforms.compaction import ROW_GROUP_ROWS

    table = read_stored(path, ARTICLE_SCHEMA)
    keys: list[Any] = table["article_id"].to_pylist()
    keep = [(str(path), key) not in dropped for key in keys]
    table = table.filter(pa.array(keep, pa.bool_()))
    if not table.num_rows:
        path.unlink()
        fsync_dir(path.parent)
        return 0
    keys = table["article_id"].to_pylist()
    new_ids = [ids[k][1] if k in ids else k for k in keys]
    columns: dict[str, list[Any]] = {
        "article_id": new_ids,
        "canonical_url": [
            ids[k][0] if k in ids else c
            for k, c in zip(keys, table["canonical_url"].to_pylist(), strict=True)
        ],
        "story_id": [ids[v][1] if v in ids else v for v in table["story_id"].to_pylist()],
    }
    originals = [ids[v][1] if v in ids else v for v in table["duplicate_of"].to_pylist()]
    # a copy of its own other spelling is no copy
    columns["duplicate_of"] = [
        None if o == i else o for o, i in zip(originals, new_ids, strict=True)
    ]
    for name, values in columns.items():
        at = table.schema.get_field_index(name)
        table = table.set_column(at, table.schema.field(name), pa.array(values, pa.string()))
    compacted = is_compacted(path)
    if compacted:
        table = table.sort_by(list(SORT_ORDER))
    write_atomic(  # (the fingerprints stay what they were: their scheme too)
        with_minhash_scheme(with_url_rule(table, URL_RULE), minhash_scheme(path)),
        path,
        row_group_size=ROW_GROUP_ROWS if compacted else None,
        sorted_rows=compacted,
    )
    return sum(k in ids for k in keys)


def _record(root: Path, now: dt.datetime, dropped: list[dict[str, Any]]) -> Path:
    target = root / RECORDS / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    listed = [{**row, "file": Path(row["file"]).relative_to(root).as_posix()} for row in dropped]
    write_json_durably(target, {"rule": URL_RULE, "dropped": listed})
    for row in dropped:
        log.info(
            "dropped %s (%s): the same article as %s under URL rule %s",
            row["article_id"],
            row["url"],
            row["kept"],
            URL_RULE,
        )
    return target
