"""The index of stored articles: what a commit must know about the dataset, without reading it.

Kept under DATA/state/ with every commit (from the commit's journalled plan) and rebuildable
from the Parquet files at any time (`build`); the files stay the source of truth.

- `articles.sqlite`: per stored row its article_id, file, publication day, story and the run
  that wrote it, numbered in the order rows came (a commit's rows are appended);
- `keys/0[.<seq>].npy`: each row's key (bands.key_of(article_id)) with its number, sorted by
  key: where "is this article stored?" is looked up;
- `bands/<day>[.<seq>].npy`: per publication day, the LSH band hashes of that day's rows and
  a band made of each one's content hash.

Both kinds of arrays are kept as transforms/bands.py keeps them: a commit adds a small sorted
file, merged into the others now and then. Article ids and content hashes are hashes: rows
keyed by them land at random places of a B-tree, and each such B-tree costs about a page
write per row (to the write-ahead log, then to the database and its sync), some 15 ms for a
commit of 250 rows on a 1,000,000-row index against a few pages on an empty one. So no
B-tree of the index is keyed by a hash: the articles table by arrival, the story index
holding only the rows whose story is another article's (a copy's; a row that is its own
story, as most are, is found by its key), the others by file and by run. A key or band
whose row has gone (replaced by a re-run, its file deleted) stays in the arrays until they
are rebuilt; a look-up checks the row it names.

So "already stored?", "which rows of the window share a band or a content hash?", "which
rows make up these stories, and in which files?" and "which files hold this run's rows?"
cost the batch and the window, never the store.

A file deleted by hand is noticed when a look-up names it: its rows leave the index (they
are not stored any more). Files added by hand are not: `newsflow dedup --rebuild` rebuilds
the index, and the daily upkeep rebuilds it when the files on disk and the index disagree.
Callers hold the commit lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.bands import EMPTY, BandDays, BandValues, Pairs, day_pairs, hash_band, key_of
from transforms.dataset import RunOutput, article_files, read_run
from transforms.files import read_columns, reading

STATE = Path("state")
INDEX = STATE / "articles.sqlite"
BANDS = STATE / "bands"
KEYS = STATE / "keys"
KEYS_DAY = 0  # the key arrays are one "day" of pairs (key, row number)
VERSION = "7"  # a different version is rebuilt from the files (its tables made anew)
_EPOCH = dt.date(1970, 1, 1)
_CHUNK = 500  # values per IN (...) list

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_name ON files (name);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,  -- in the order rows came
    key INTEGER NOT NULL,  -- bands.key_of(article_id), found in the key arrays
    article_id TEXT NOT NULL,
    file INTEGER NOT NULL,
    day INTEGER NOT NULL,
    story TEXT,
    source_id TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_copies ON articles (story) WHERE story != article_id;
CREATE INDEX IF NOT EXISTS articles_run ON articles (source_id, run_id);
CREATE INDEX IF NOT EXISTS articles_file ON articles (file);
"""
INDEX_COLUMNS = [
    "article_id",
    "published_at",
    "story_id",
    "content_hash",
    "source_id",
    "run_id",
    "lsh_bands",
]

log = logging.getLogger(__name__)
_open = threading.local()  # the indexes a caller up this thread's stack holds open


@dataclass(frozen=True)
class Stored:
    """One stored row as the index knows it."""

    article_id: str
    path: str  # relative to the data root
    day: dt.date
    story: str | None


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


class ArticleIndex:
    """The index of the data root `root`; opened (and built when missing or outdated) under
    the commit lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / INDEX
        self.bands = BandDays(root / BANDS)
        self.keys = BandDays(root / KEYS)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        self.con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.executescript(SCHEMA)
        row = self.con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        self.rebuilt = fresh or row is None or row[0] != VERSION
        if self.rebuilt:
            self.build()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> ArticleIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # ------------------------------------------------------------------------------ building

    def build(self) -> int:
        """Rebuild the whole index from the Parquet files, one publication day at a time
        (memory bounded by a day's rows, and the key pairs of all rows, written last: 16
        bytes a row); returns the rows indexed."""
        self.bands.clear()
        self.keys.clear()
        numbered: list[Pairs] = []
        with self._tx() as con:
            for name in ("articles", "files", "meta"):  # (an older version's tables differ)
                con.execute(f"DROP TABLE IF EXISTS {name}")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            by_day: dict[int, list[Pairs]] = defaultdict(list)
            current = None
            for path in article_files(self.root):  # in partition order: one day after another
                if current is not None and path.parent != current:
                    self._write_days(by_day)
                current = path.parent
                with reading(path):
                    rows = read_columns(path, INDEX_COLUMNS)
                numbered.append(self._insert(con, self._relative(path), rows))
                for day, pairs in day_pairs(rows).items():
                    by_day[day].append(pairs)
            self._write_days(by_day)
            # a file can repeat an article of another (added by hand): the last one stands
            con.execute(
                "DELETE FROM articles WHERE id NOT IN "
                "(SELECT max(id) FROM articles GROUP BY key, article_id)"
            )
            count = self.count()
            if numbered:
                self.keys.change(KEYS_DAY, np.concatenate(numbered, axis=1), ())
            con.execute("INSERT INTO meta VALUES ('version', ?)", (VERSION,))
        log.info("%s: index built from the files, %d rows", self.path, count)
        return count

    def _write_days(self, by_day: dict[int, list[Pairs]]) -> None:
        listed = self.bands.files()
        for day, parts in by_day.items():
            self.bands.change(day, np.concatenate(parts, axis=1), (), listed)
        by_day.clear()

    def _insert(self, con: sqlite3.Connection, path: str, table: pa.Table) -> Pairs:
        """Append the rows of `table`, stored in the file `path`; returns their pairs (key,
        row number), which the caller adds to the key arrays (their band hashes are the
        caller's too)."""
        if not table.num_rows:
            return EMPTY
        file_id = self._file_id(con, path)
        ids: list[Any] = table["article_id"].to_pylist()
        days: list[Any] = pc.cast(table["published_at"], pa.date32()).to_pylist()
        keys = [key_of(a) for a in ids]
        first = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM articles").fetchone()[0])
        numbers = range(first, first + len(ids))
        con.executemany(
            "INSERT INTO articles (id, key, article_id, file, day, story, source_id, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                numbers,
                keys,
                ids,
                [file_id] * len(ids),
                [day_number(d) for d in days],
                table["story_id"].to_pylist(),
                table["source_id"].to_pylist(),
                table["run_id"].to_pylist(),
                strict=True,
            ),
        )
        return np.array([keys, numbers], dtype=np.int64)

    def _file_id(self, con: sqlite3.Connection, path: str) -> int:
        con.execute(
            "INSERT OR IGNORE INTO files (path, name) VALUES (?, ?)",
            (path, path.rsplit("/", 1)[-1]),
        )
        found = con.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return int(found[0])

    # ------------------------------------------------------------------------------ changes

    def apply(
        self,
        plan: dict[str, Any],
        *,
        redo: bool = False,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> None:
        """Bring the index in line with a commit's plan (see transforms.commit); doing it twice
        changes nothing (`redo`: it may have been done before a crash, so the band arrays
        are checked for the written keys too). `plan["index"]` names the files whose rows are
        replaced, the run whose rows go, the files written and the stories that changed.
        `tables`: the INDEX_COLUMNS of files written, as the committer wrote them (the
        files are read for the others)."""
        change = plan.get("index")
        if change is None:
            return
        given = tables or {}
        written = {}
        for path in change["written"]:
            if path in given:
                written[path] = given[path].select(INDEX_COLUMNS)
                continue
            with reading(self.root / path):
                written[path] = read_columns(self.root / path, INDEX_COLUMNS)
        new_ids = {str(a) for t in written.values() for a in t["article_id"].to_pylist()}
        with self._tx() as con:
            gone: list[tuple[int, int]] = []  # (key, day) of the rows that leave
            for path in change["replaced"]:
                gone += con.execute(
                    "SELECT a.key, a.day FROM articles a JOIN files f ON f.id = a.file "
                    "WHERE f.path = ?",
                    (path,),
                ).fetchall()
                con.execute(
                    "DELETE FROM articles WHERE file = (SELECT id FROM files WHERE path = ?)",
                    (path,),
                )
                if path not in written:
                    con.execute("DELETE FROM files WHERE path = ?", (path,))
            if change["run"] is not None:
                run = tuple(change["run"])
                gone += con.execute(
                    "SELECT key, day FROM articles WHERE source_id = ? AND run_id = ?", run
                ).fetchall()
                con.execute("DELETE FROM articles WHERE source_id = ? AND run_id = ?", run)
            # one row per article: one indexed before (in a file not replaced) gives way
            earlier = self._numbered(new_ids)
            con.executemany("DELETE FROM articles WHERE id = ?", [(n,) for _, n in earlier])
            numbered = [self._insert(con, path, table) for path, table in written.items()]
            if numbered:
                self.keys.change(KEYS_DAY, np.concatenate(numbered, axis=1), ())
                self.keys.sync()
            stories = change["stories"]
            con.executemany(
                "UPDATE articles SET story = ? WHERE id = ?",
                [(stories[aid], n) for aid, n in self._numbered(set(stories))],
            )
            # the written keys can be in a band array already only when this is done again
            dropped = {int(k) for k, _ in gone} | ({key_of(a) for a in new_ids} if redo else set())
            added: dict[int, list[Pairs]] = defaultdict(list)
            for table in written.values():
                for day, pairs in day_pairs(table).items():
                    added[day].append(pairs)
            changed = {int(d) for _, d in gone} | set(added)
            listed = self.bands.files(changed)  # (one listing for all the days)
            for day in changed:
                new = np.concatenate(added[day], axis=1) if added[day] else EMPTY
                self.bands.change(day, new, dropped, listed)
            if added or gone:
                self.bands.sync()

    def moved(self, inputs: Iterable[str], target: str) -> None:
        """Rows of the files `inputs` now live in `target` (a compaction); idempotent."""
        with self._tx() as con:
            target_id = self._file_id(con, target)
            for path in inputs:
                if path == target:
                    continue
                con.execute(
                    "UPDATE articles SET file = ? WHERE file = (SELECT id FROM files WHERE path = ?)",
                    (target_id, path),
                )
                con.execute("DELETE FROM files WHERE path = ?", (path,))

    # ------------------------------------------------------------------------------ look-ups

    def stored(self, article_ids: Iterable[str], exclude: tuple[str, str] | None) -> set[str]:
        """Which of `article_ids` are stored (not counting the rows of the run `exclude`,
        (source_id, run_id)); rows whose file is gone leave the index first."""
        return {r.article_id for r in self.rows(article_ids, exclude)}

    def candidates(
        self,
        hashes: Iterable[str],
        bands: Iterable[int] | BandValues,
        days: Iterable[dt.date],
        exclude: tuple[str, str] | None,
    ) -> list[Stored]:
        """Stored rows published on one of `days` whose content hash starts like one of
        `hashes` or that share one of `bands` (both looked up in the days' band files)."""
        wanted = {day_number(d) for d in days}
        if not wanted:
            return []
        values = np.concatenate(
            [
                bands if isinstance(bands, np.ndarray) else np.fromiter(bands, dtype=np.int64),
                np.fromiter((hash_band(h) for h in hashes), dtype=np.int64),
            ]
        )
        keys = self.bands.keys(wanted, values)
        rows = self._rows("key", list(keys), exclude)
        unique = {r.article_id: r for r in rows if day_number(r.day) in wanted}
        return list(unique.values())

    def members(self, stories: Iterable[str], exclude: tuple[str, str] | None) -> list[Stored]:
        """Every stored row of the given stories: the copies through the story index, each
        story's own article (whose story is itself, not in that index) by its key."""
        wanted = set(stories)
        copies = self._rows("story", list(wanted), exclude, copies=True)
        own = self._rows("key", list({key_of(s) for s in wanted}), exclude)
        return copies + [r for r in own if r.article_id in wanted and r.story == r.article_id]

    def rows(self, article_ids: Iterable[str], exclude: tuple[str, str] | None) -> list[Stored]:
        """The stored rows of `article_ids` (looked up by their keys)."""
        wanted = set(article_ids)
        found = self._rows("key", list({key_of(a) for a in wanted}), exclude)
        return [r for r in found if r.article_id in wanted]

    def run_files(self, source_id: str, run_id: str) -> list[str]:
        """The files (relative paths) that hold rows of the run."""
        found = self.con.execute(
            "SELECT DISTINCT f.path FROM articles a JOIN files f ON f.id = a.file "
            "WHERE a.source_id = ? AND a.run_id = ?",
            (source_id, run_id),
        )
        return self._existing(str(r[0]) for r in found)

    def named(self, name: str) -> list[str]:
        """The files (relative paths) called `name`, in any partition."""
        found = self.con.execute("SELECT path FROM files WHERE name = ?", (name,))
        return self._existing(str(r[0]) for r in found)

    def files(self) -> set[str]:
        """Every file the index names rows in."""
        found = self.con.execute(
            "SELECT DISTINCT f.path FROM articles a JOIN files f ON f.id = a.file"
        )
        return {str(r[0]) for r in found}

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM articles").fetchone()[0])

    def dump(self) -> list[tuple[Any, ...]]:
        """Every indexed row with its bands, sorted: for comparing an index with a rebuild."""
        bands = self.bands.by_key()
        rows = self.con.execute(
            "SELECT a.key, a.article_id, f.path, a.day, a.story, a.source_id, "
            "a.run_id FROM articles a JOIN files f ON f.id = a.file ORDER BY a.article_id"
        )
        return [(*r[1:], tuple(sorted(bands.get(r[0], [])))) for r in rows]

    def _existing(self, paths: Iterable[str]) -> list[str]:
        """The `paths` that exist; the rows of the others leave the index."""
        paths = set(paths)
        missing = {p for p in paths if not (self.root / p).exists()}
        if missing:
            self._lost(missing)
        return sorted(paths - missing)

    def _rows(
        self,
        column: str,
        values: Sequence[Any],
        exclude: tuple[str, str] | None,
        *,
        copies: bool = False,
    ) -> list[Stored]:
        """The rows whose `column` is one of `values` (`copies`: of those, the ones whose story
        is another article's, as the partial story index holds them)."""
        found: list[Stored] = []
        missing: set[str] = set()
        only = " AND a.story != a.article_id" if copies else ""
        keys = None
        if column == "key":  # the rows the key arrays number, of those keys
            keys = set(values)
            column, values = "id", sorted(self._numbers(keys))
        for chunk in _chunks(values):
            query = (
                "SELECT a.article_id, f.path, a.day, a.story, a.source_id, a.run_id, a.key "
                f"FROM articles a JOIN files f ON f.id = a.file WHERE a.{column} IN "
                f"({','.join('?' * len(chunk))}){only}"
            )
            for aid, path, day, story, source_id, run_id, key in self.con.execute(query, chunk):
                if keys is not None and key not in keys:  # (a number used again)
                    continue
                if exclude is not None and (source_id, run_id) == exclude:
                    continue
                if path in missing or not (self.root / path).exists():
                    missing.add(path)
                    continue
                found.append(Stored(aid, path, _EPOCH + dt.timedelta(days=day), story))
        if missing:
            self._lost(missing)
        return found

    def _numbers(self, keys: Iterable[int]) -> set[int]:
        """The row numbers the key arrays give for `keys` (of rows that may have gone)."""
        return self.keys.keys([KEYS_DAY], np.fromiter(keys, dtype=np.int64))

    def _numbered(self, article_ids: set[str]) -> list[tuple[str, int]]:
        """(article_id, row number) of the indexed rows of `article_ids`."""
        out: list[tuple[str, int]] = []
        for chunk in _chunks(sorted(self._numbers(key_of(a) for a in article_ids))):
            found = self.con.execute(
                f"SELECT article_id, id FROM articles WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out += [(aid, number) for aid, number in found if aid in article_ids]
        return out

    def _lost(self, paths: set[str]) -> None:
        """Rows of files that no longer exist leave the index (their band pairs stay until
        the next build: a key without a row is skipped)."""
        log.warning(
            "%s: %d indexed file(s) no longer exist (%s); their rows leave the index",
            self.path,
            len(paths),
            ", ".join(sorted(paths)[:3]),
        )
        with self._tx() as con:
            for path in paths:
                con.execute(
                    "DELETE FROM articles WHERE file = (SELECT id FROM files WHERE path = ?)",
                    (path,),
                )
                con.execute("DELETE FROM files WHERE path = ?", (path,))

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


@contextmanager
def open_index(root: Path) -> Iterator[ArticleIndex]:
    """The index of `root`: the one an enclosing `open_index` of this thread holds, else a new
    connection held until this block ends (so one commit opens, and checkpoints, it once)."""
    held: dict[Path, ArticleIndex] = _open.__dict__.setdefault("held", {})
    if root in held:
        yield held[root]
        return
    with ArticleIndex(root) as index:
        held[root] = index
        try:
            yield index
        finally:
            del held[root]


def invalidate_index(root: Path) -> None:
    """Make whoever opens the index of `root` next rebuild it from the files (without
    building it now): for a change of many files that a crash may interrupt."""
    path = root / INDEX
    if path.exists():
        with closing(sqlite3.connect(path, timeout=60)) as con, con:
            con.execute("DELETE FROM meta WHERE key = 'version'")


def rebuild_index(root: Path) -> int:
    """Rebuild the index of `root` from its files; returns the rows indexed."""
    with closing(ArticleIndex(root)) as index:
        return index.count() if index.rebuilt else index.build()


def reconcile_index(root: Path) -> bool:
    """Rebuild the index when the files it names and the files on disk differ (files added,
    removed or replaced by hand); returns whether it did. Lists every file: for the daily
    upkeep, not for a run. The caller holds the commit lock."""
    with closing(ArticleIndex(root)) as index:
        on_disk = {index._relative(p) for p in article_files(root)}
        if index.rebuilt or index.files() == on_disk:
            return False
        log.warning(
            "%s: the index and the files differ (%d indexed, %d on disk); rebuilding it",
            index.path,
            len(index.files()),
            len(on_disk),
        )
        index.build()
        return True


def own_files(root: Path, run: RunOutput) -> list[Path]:
    """The stored files that hold rows the run wrote (its files and the compacted files with
    its rows), found through the index."""
    with open_index(root) as index:
        paths = {*index.named(run.name), *index.run_files(run.source_id, run.run_id)}
    return sorted(root / p for p in paths)


def read_own(root: Path, run: RunOutput, columns: list[str]) -> pa.Table:
    """The stored rows the run wrote (see `own_files`)."""
    return read_run(root, run, columns, own_files(root, run))


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    values = list(values)
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]
