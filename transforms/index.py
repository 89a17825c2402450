"""The index of stored articles: what a commit must know about the dataset, without reading it.

An embedded SQLite file, DATA/state/articles.sqlite, kept with every commit (in the commit's
journalled plan) and rebuildable from the Parquet files at any time (`build`); the files stay
the source of truth. Per stored row: its article_id, file, publication day, story, the start
of its content hash, the run that wrote it; and its LSH band hashes. So "already stored?",
"which stored rows share a band or a content hash in the window?", "which rows make up these
stories, and in which files?" and "which files hold this run's rows?" are index look-ups
whose cost grows with the batch, not with the store.

A file deleted by hand is noticed when a look-up names it: its rows leave the index (they are
not stored any more). Files added by hand are not: `newsflow dedup --rebuild` rebuilds the
index, and the daily upkeep rebuilds it when the files on disk and the index disagree.
Callers hold the commit lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.dataset import RunOutput, article_files, read_run
from transforms.files import reading
from transforms.schema import ARTICLE_SCHEMA

INDEX = Path("state") / "articles.sqlite"
VERSION = "1"  # a different version is rebuilt from the files
HASH_PREFIX = 16  # characters of content_hash kept: a collision only adds a candidate
_EPOCH = dt.date(1970, 1, 1)
_CHUNK = 500  # values per IN (...) list

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_name ON files (name);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    file INTEGER NOT NULL,
    day INTEGER NOT NULL,
    story TEXT,
    chash TEXT NOT NULL,
    source_id TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_story ON articles (story);
CREATE INDEX IF NOT EXISTS articles_chash ON articles (chash);
CREATE INDEX IF NOT EXISTS articles_run ON articles (source_id, run_id);
CREATE INDEX IF NOT EXISTS articles_file ON articles (file);
CREATE TABLE IF NOT EXISTS bands (
    band INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (band, id)
) WITHOUT ROWID;
"""
ROW_COLUMNS = ["article_id", "published_at", "story_id", "content_hash", "source_id", "run_id"]
INDEX_COLUMNS = [*ROW_COLUMNS, "lsh_bands"]

log = logging.getLogger(__name__)


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
        """Rebuild the whole index from the Parquet files, one file at a time (memory bounded
        by the largest file); returns the rows indexed."""
        count = 0
        with self._tx() as con:
            for name in ("bands", "articles", "files", "meta"):
                con.execute(f"DELETE FROM {name}")
            for path in article_files(self.root):
                with reading(path):
                    rows = pq.read_table(path, columns=INDEX_COLUMNS)
                count += self._insert(con, self._relative(path), rows)
            con.execute("INSERT INTO meta VALUES ('version', ?)", (VERSION,))
        log.info("%s: index built from the files, %d rows", self.path, count)
        return count

    def _insert(self, con: sqlite3.Connection, path: str, table: pa.Table) -> int:
        """Index the rows of `table`, stored in the file `path` (replacing what the index
        had for their article ids)."""
        if not table.num_rows:
            return 0
        file_id = self._file_id(con, path)
        ids: list[Any] = table["article_id"].to_pylist()
        days: list[Any] = pc.cast(table["published_at"], pa.date32()).to_pylist()
        hashes: list[Any] = table["content_hash"].to_pylist()
        self._forget(con, ids)
        con.executemany(
            "INSERT INTO articles (article_id, file, day, story, chash, source_id, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            zip(
                ids,
                [file_id] * len(ids),
                [day_number(d) for d in days],
                table["story_id"].to_pylist(),
                [h[:HASH_PREFIX] for h in hashes],
                table["source_id"].to_pylist(),
                table["run_id"].to_pylist(),
                strict=True,
            ),
        )
        rowids = dict(self._select(con, "SELECT article_id, id FROM articles", "article_id", ids))
        bands = table["lsh_bands"].to_pylist()
        con.executemany(
            "INSERT OR IGNORE INTO bands VALUES (?, ?)",
            (
                (band, rowids[aid])
                for aid, row in zip(ids, bands, strict=True)
                for band in row or ()
            ),
        )
        return len(ids)

    def _file_id(self, con: sqlite3.Connection, path: str) -> int:
        con.execute(
            "INSERT OR IGNORE INTO files (path, name) VALUES (?, ?)",
            (path, path.rsplit("/", 1)[-1]),
        )
        found = con.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return int(found[0])

    def _forget(self, con: sqlite3.Connection, article_ids: Sequence[str]) -> None:
        for chunk in _chunks(article_ids):
            marks = ",".join("?" * len(chunk))
            con.execute(
                f"DELETE FROM bands WHERE id IN (SELECT id FROM articles WHERE article_id IN ({marks}))",
                chunk,
            )
            con.execute(f"DELETE FROM articles WHERE article_id IN ({marks})", chunk)

    # ------------------------------------------------------------------------------ changes

    def apply(self, plan: dict[str, Any]) -> None:
        """Bring the index in line with a commit's plan (see transforms.commit); doing it twice
        changes nothing. `plan["index"]` names the files whose rows are replaced, the run
        whose rows go, the rows written (by file) and the stories that changed."""
        change = plan.get("index")
        if change is None:
            return
        with self._tx() as con:
            gone = [
                int(r[0])
                for path in change["replaced"]
                for r in con.execute("SELECT id FROM files WHERE path = ?", (path,))
            ]
            for file_id in gone:
                con.execute(
                    "DELETE FROM bands WHERE id IN (SELECT id FROM articles WHERE file = ?)",
                    (file_id,),
                )
                con.execute("DELETE FROM articles WHERE file = ?", (file_id,))
            if change["run"] is not None:
                source_id, run_id = change["run"]
                con.execute(
                    "DELETE FROM bands WHERE id IN (SELECT id FROM articles WHERE source_id = ? AND run_id = ?)",
                    (source_id, run_id),
                )
                con.execute(
                    "DELETE FROM articles WHERE source_id = ? AND run_id = ?", (source_id, run_id)
                )
            for path in change["replaced"]:
                if path not in change["written"]:
                    con.execute("DELETE FROM files WHERE path = ?", (path,))
            for path, rows in change["written"].items():
                table = pa.Table.from_pylist(
                    [
                        {**r, "published_at": dt.datetime.fromisoformat(r["published_at"])}
                        for r in rows
                    ],
                    schema=_ROW_SCHEMA,
                )
                self._insert(con, path, table)
            con.executemany(
                "UPDATE articles SET story = ? WHERE article_id = ?",
                [(story, aid) for aid, story in change["stories"].items()],
            )

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
        found = self._rows("article_id", list(dict.fromkeys(article_ids)), exclude)
        return {r.article_id for r in found}

    def candidates(
        self,
        hashes: Iterable[str],
        bands: Iterable[int],
        days: Iterable[dt.date],
        exclude: tuple[str, str] | None,
    ) -> list[Stored]:
        """Stored rows published on one of `days` whose content hash starts like one of
        `hashes` or that share one of `bands`."""
        wanted = {day_number(d) for d in days}
        if not wanted:
            return []
        prefixes = list({h[:HASH_PREFIX] for h in hashes})
        by_band = [
            int(r[0])
            for chunk in _chunks(list(set(bands)))
            for r in self.con.execute(
                f"SELECT DISTINCT id FROM bands WHERE band IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        ]
        rows = self._rows("chash", prefixes, exclude) + self._rows("id", by_band, exclude)
        unique = {r.article_id: r for r in rows if day_number(r.day) in wanted}
        return list(unique.values())

    def members(self, stories: Iterable[str], exclude: tuple[str, str] | None) -> list[Stored]:
        """Every stored row of the given stories."""
        return self._rows("story", list(set(stories)), exclude)

    def rows(self, article_ids: Iterable[str], exclude: tuple[str, str] | None) -> list[Stored]:
        return self._rows("article_id", list(set(article_ids)), exclude)

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

    def _existing(self, paths: Iterable[str]) -> list[str]:
        """The `paths` that exist; the rows of the others leave the index."""
        paths = set(paths)
        missing = {p for p in paths if not (self.root / p).exists()}
        if missing:
            self._lost(missing)
        return sorted(paths - missing)

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
        rows = self.con.execute(
            "SELECT a.article_id, f.path, a.day, a.story, a.chash, a.source_id, a.run_id, "
            "(SELECT group_concat(band) FROM (SELECT band FROM bands b WHERE b.id = a.id ORDER BY band)) "
            "FROM articles a JOIN files f ON f.id = a.file ORDER BY a.article_id"
        )
        return [tuple(r) for r in rows]

    def _rows(
        self, column: str, values: Sequence[Any], exclude: tuple[str, str] | None
    ) -> list[Stored]:
        found: list[Stored] = []
        missing: set[str] = set()
        for chunk in _chunks(values):
            query = (
                "SELECT a.article_id, f.path, a.day, a.story, a.source_id, a.run_id "
                f"FROM articles a JOIN files f ON f.id = a.file WHERE a.{column} IN "
                f"({','.join('?' * len(chunk))})"
            )
            for aid, path, day, story, source_id, run_id in self.con.execute(query, chunk):
                if exclude is not None and (source_id, run_id) == exclude:
                    continue
                if path in missing or not (self.root / path).exists():
                    missing.add(path)
                    continue
                found.append(Stored(aid, path, _EPOCH + dt.timedelta(days=day), story))
        if missing:
            self._lost(missing)
        return found

    def _lost(self, paths: set[str]) -> None:
        log.warning(
            "%s: %d indexed file(s) no longer exist (%s); their rows leave the index",
            self.path,
            len(paths),
            ", ".join(sorted(paths)[:3]),
        )
        with self._tx() as con:
            for path in paths:
                con.execute(
                    "DELETE FROM bands WHERE id IN (SELECT a.id FROM articles a JOIN files f "
                    "ON f.id = a.file WHERE f.path = ?)",
                    (path,),
                )
                con.execute(
                    "DELETE FROM articles WHERE file = (SELECT id FROM files WHERE path = ?)",
                    (path,),
                )
                con.execute("DELETE FROM files WHERE path = ?", (path,))

    @staticmethod
    def _select(
        con: sqlite3.Connection, query: str, column: str, values: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            out += con.execute(f"{query} WHERE {column} IN ({marks})", chunk).fetchall()
        return out

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


_ROW_SCHEMA = pa.schema([ARTICLE_SCHEMA.field(c) for c in INDEX_COLUMNS])


def index_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The index's columns of article rows, as JSON-ready dicts (for a commit's plan)."""
    rows = table.select(INDEX_COLUMNS).to_pylist()
    for row in rows:
        row["published_at"] = row["published_at"].isoformat()
    return rows


def rebuild_index(root: Path) -> int:
    """Rebuild the index of `root` from its files; returns the rows indexed."""
    with closing(ArticleIndex(root)) as index:
        return index.count() if index.rebuilt else index.build()


def read_own(root: Path, run: RunOutput, columns: list[str]) -> pa.Table:
    """The stored rows the run wrote (its files and its rows in compacted files), found
    through the index."""
    with ArticleIndex(root) as index:
        paths = {*index.named(run.name), *index.run_files(run.source_id, run.run_id)}
    return read_run(root, run, columns, [root / p for p in paths])


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    values = list(values)
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]
