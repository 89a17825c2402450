"""Where the crawl state lives: an SQLite file under the data root (the embedded default) or a
PostgreSQL database shared by several machines (`state_url: postgresql://...` in the
settings, or NEWSFLOW_STATE_URL).

Both speak the same SQL (`?` placeholders; `INSERT ... ON CONFLICT ... DO UPDATE`); this
module hides the rest: connections (one per thread), transactions that serialise writers
(SQLite's `BEGIN IMMEDIATE`; PostgreSQL's row locks, taken with `SELECT ... FOR UPDATE`,
`for_update` here), the clock a rate limiter must share (the database server's, so machines
with skewed clocks still keep a host's interval) and the column types.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from transforms.exceptions import CorruptFile, StateUnavailable

STATE_URL_ENV = "NEWSFLOW_STATE_URL"
_SCHEMA_LOCK = 0x6E657773  # the advisory lock that serialises creating the tables


class Rows(Protocol):
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Session(Protocol):
    """One connection inside a read or a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def masked(url: str) -> str:
    """`url` without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:  # not an address: whatever stands before an @ is masked
        return re.sub(r"(//)[^/?#]*@", r"\1***@", url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def state_url(configured: str | None) -> str | None:
    """The PostgreSQL URL of the crawl state (the setting, else NEWSFLOW_STATE_URL), or None
    for the SQLite file under the data root."""
    return configured or os.environ.get(STATE_URL_ENV) or None


def open_state_db(root: Path, url: str | None, schema: str) -> StateDb:
    if url is None:
        return SqliteDb(root / "state" / "crawl.sqlite", schema)
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("postgresql", "postgres") and parts.port != 0
    except ValueError:  # an unclosed [ of an IPv6 host, a port that is not a number
        usable = False
    if not usable:
        raise StateUnavailable(
            masked(url),
            "is not a crawl state address",
            f"set state_url (or {STATE_URL_ENV}) to postgresql://user:password@host:port/database, "
            "or leave it out for the SQLite file under the data root.",
        )
    return PostgresDb(url, schema)


class StateDb:
    """The crawl state's database; subclasses connect to one kind."""

    for_update = ""  # appended to a SELECT whose rows the transaction will change
    name = ""
    reconnects = False  # whether a connection the server dropped is opened again

    def __init__(self) -> None:
        self._connections: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _open(self) -> Any:
        raise NotImplementedError

    def _session(self, con: Any) -> Session:
        raise NotImplementedError

    def _connection(self) -> Any:
        """This thread's connection (one per thread; `close()` closes them all)."""
        key = threading.get_ident()
        with self._lock:
            con = self._connections.get(key)
            if con is not None and getattr(con, "closed", False):  # psycopg2: dropped by the server
                con = None
            if con is None:
                con = self._connections[key] = self._open()
        return con

    def _discard(self) -> None:
        """Drop this thread's connection (broken), so that its next use reconnects."""
        with self._lock:
            con = self._connections.pop(threading.get_ident(), None)
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()

    def close(self) -> None:
        with self._lock:
            for con in self._connections.values():
                con.close()
            self._connections.clear()

    def _damaged(self, exc: BaseException) -> Exception | None:
        """The error to raise instead of `exc` when it says the database itself is damaged."""
        return None

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            yield self._session(self._connection())
        except Exception as exc:
            damaged = self._damaged(exc)
            if damaged is None:
                raise
            raise damaged from exc

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A write transaction: writers are serialised (wholly on SQLite; by the rows they
        lock on PostgreSQL)."""
        session = self._session(self._connection())
        try:
            session.execute(self._begin)
        except Exception:
            if not self.reconnects:
                raise
            self._discard()  # the server dropped the connection: nothing is done yet, so again
            session = self._session(self._connection())
            session.execute(self._begin)
        try:
            yield session
        except BaseException as exc:
            try:
                session.execute("ROLLBACK")
            except Exception:  # the connection itself broke: the next use opens a new one
                self._discard()
            damaged = self._damaged(exc)
            if damaged is None:
                raise
            raise damaged from exc
        try:
            session.execute("COMMIT")
        except Exception as exc:
            try:  # the connection must not stay inside the failed transaction
                session.execute("ROLLBACK")
            except Exception:
                self._discard()
            damaged = self._damaged(exc)
            if damaged is None:
                raise
            raise damaged from exc

    _begin = "BEGIN"

    def now(self, session: Session) -> float:
        """Seconds since the epoch by the clock every user of this state shares."""
        return time.time()


class SqliteDb(StateDb):
    _begin = "BEGIN IMMEDIATE"

    def __init__(self, path: Path, schema: str) -> None:
        super().__init__()
        self.path = path
        self.name = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(50):  # switching to WAL does not wait for a concurrent opener
            try:
                with closing(self._open()) as con:
                    if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(schema)
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:  # not SQLite, or its pages are damaged
                raise _unreadable(path, exc) from exc

    def _damaged(self, exc: BaseException) -> Exception | None:
        """A damaged page found mid-run (the opening check reads only the schema): the
        file's error, not a quarantine row for every feed and page after it."""
        name = getattr(exc, "sqlite_errorname", "")
        if isinstance(exc, sqlite3.DatabaseError) and name in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            return _unreadable(self.path, exc)
        return None

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def _session(self, con: Any) -> Session:
        session: Session = con  # sqlite3.Connection has execute and executemany
        return session


def _unreadable(path: Path, exc: BaseException) -> CorruptFile:
    return CorruptFile(
        path,
        f"is not a readable SQLite database ({exc})",
        "move it aside and run again: a new crawl state is created, so feeds and "
        "pages are requested again in full once (stored articles are not stored twice).",
    )


class PostgresDb(StateDb):
    for_update = " FOR UPDATE"
    reconnects = True

    def __init__(self, url: str, schema: str) -> None:
        super().__init__()
        self.url = url
        self.name = masked(url)
        with self.tx() as session:
            session.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for statement in postgres_schema(schema):
                session.execute(statement)

    def _open(self) -> Any:
        import psycopg2

        try:
            con = psycopg2.connect(self.url, connect_timeout=10)
        except psycopg2.Error as exc:
            reason = " ".join(str(exc).split()).replace(self.url, self.name)
            raise StateUnavailable(
                self.name,
                f"cannot be reached ({reason[:200]})",
                "start the database or correct state_url / NEWSFLOW_STATE_URL, then run again.",
            ) from None
        con.autocommit = True  # transactions are the explicit BEGIN ... COMMIT of tx()
        return con

    def _session(self, con: Any) -> Session:
        return _PgSession(con)

    def now(self, session: Session) -> float:
        return float(session.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])


class _PgSession:
    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        cursor = self.con.cursor()
        cursor.execute(sql.replace("?", "%s"), tuple(params) or None)
        rows: Rows = cursor
        return rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.con.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


def postgres_schema(schema: str) -> list[str]:
    """The SQLite schema's statements in PostgreSQL's types (REAL is 4 bytes there: a time in
    seconds since the epoch needs DOUBLE PRECISION)."""
    translated = re.sub(r"\bREAL\b", "DOUBLE PRECISION", schema)
    return [s.strip() for s in translated.split(";") if s.strip()]
