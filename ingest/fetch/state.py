"""Persistent crawl state: an embedded SQLite file under DATA/state/, or a PostgreSQL database
shared by several machines (ingest.fetch.statedb).

- `validators`: per feed or sitemap URL, the ETag, Last-Modified and content hash of the last
  committed fetch (and the ones before it, so re-running the run that set them repeats it).
- `urls`: per article URL, when it was first and last seen, its last outcome and the run
  that first stored it.
- `robots`: robots.txt bodies per origin, with when they were fetched.
- `host_slots`: the next moment each host may be contacted (the shared rate limiter), and
  `host_sent`: when its last request went out and when it was answered (checked just before
  each request, so that one host's requests never overlap).
- `listed`: per feed page or sitemap index, the documents it listed when last read in full
  (feeds a page advertises, child sitemaps without a <lastmod>): a parent that has not
  changed still leads to them, for they change without it.
- `sitemap_backlog`: per source, the sitemaps a run deferred (over its budget), in order.
- `item_backlog`: per source, the items runs deferred over their item budget
  (`items_per_run`), with the listing's time for each (the freshest are taken first), and
  the run that took each one out (kept until the next run commits, so re-running that run
  takes the same items).

Every process (CLI, Airflow task, on any machine) opens the same state; writers are
serialised by SQLite's lock or PostgreSQL's row locks.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.fetch.statedb import Session, open_state_db, state_url

SCHEMA = """
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    etag TEXT, last_modified TEXT, content_hash TEXT,
    prev_etag TEXT, prev_last_modified TEXT, prev_content_hash TEXT,
    run_key TEXT, checked_at TEXT
);
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    outcome TEXT NOT NULL, transient INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    article_id TEXT, stored_by TEXT, updated_hint TEXT, last_run TEXT
);
CREATE INDEX IF NOT EXISTS urls_retry ON urls (source_id, transient);
CREATE TABLE IF NOT EXISTS robots (
    origin TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS host_slots (host TEXT PRIMARY KEY, next_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS host_sent (
    host TEXT PRIMARY KEY, sent_at REAL NOT NULL, answered_at REAL
);
CREATE TABLE IF NOT EXISTS listed (
    url TEXT PRIMARY KEY, children TEXT, prev_children TEXT, run_key TEXT
);
CREATE TABLE IF NOT EXISTS item_backlog (
    source_id TEXT NOT NULL, url TEXT NOT NULL, item TEXT NOT NULL, feed_time TEXT,
    taken_by TEXT,
    PRIMARY KEY (source_id, url)
);
CREATE TABLE IF NOT EXISTS sitemap_backlog (
    source_id TEXT NOT NULL, position INTEGER NOT NULL, url TEXT NOT NULL, depth INTEGER NOT NULL,
    PRIMARY KEY (source_id, position)
);
"""


def _children(stored: str | None) -> tuple[str, ...] | None:
    return None if stored is None else tuple(json.loads(stored))


# Outcomes worth trying again on the next run: the server or the network may recover.
TRANSIENT_PREFIXES = (
    "timeout",
    "connection_error",
    "dns_error",
    "http_429",
    "http_5",
    "robots_unavailable",
    "host_backoff",
)
MAX_TRANSIENT_ATTEMPTS = 5


def is_transient(outcome: str) -> bool:
    return outcome.startswith(TRANSIENT_PREFIXES)


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    # the documents this one listed (a page's advertised feeds, an index's child sitemaps
    # without <lastmod>), followed even when it has not changed; None: it lists none
    children: tuple[str, ...] | None = None

    def __post_init__(self) -> None:  # (read back from a run's JSON summary as a list)
        if self.children is not None and not isinstance(self.children, tuple):
            object.__setattr__(self, "children", tuple(self.children))


@dataclass(frozen=True)
class UrlState:
    url: str
    outcome: str
    last_seen: dt.datetime
    attempts: int
    stored_by: str | None
    updated_hint: str | None
    last_run: str | None


@dataclass(frozen=True)
class Outcome:
    """What became of one item in a committed run."""

    url: str
    outcome: str  # "stored" or a quarantine reason
    article_id: str | None = None
    updated_hint: str | None = None


class CrawlState:
    """The crawl state of a data root: its SQLite file, or the PostgreSQL database `url`
    names (see ingest.fetch.statedb; None: the NEWSFLOW_STATE_URL variable, else the file)."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.db = open_state_db(root, state_url(url), SCHEMA)
        self._slots: dict[str, float] = {}  # host -> the slot this process last reserved
        self._sent: dict[str, float] = {}  # host -> the start of this process's request to it

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CrawlState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> AbstractContextManager[Session]:
        return self.db.read()

    def _tx(self) -> AbstractContextManager[Session]:
        """A write transaction (threads, processes and machines share the state)."""
        return self.db.tx()

    # ------------------------------------------------------------ feed and sitemap validators

    def validators(self, url: str, run_key: str) -> Validators | None:
        """The validators to send for `url`; a re-run of the run that set them gets the earlier ones."""
        with self._read() as con:
            cursor = con.execute("SELECT * FROM validators WHERE url = ?", (url,))
            row = cursor.fetchone()
            if row is None:
                return None
            data = dict(zip([d[0] for d in cursor.description], row, strict=True))
            listed = con.execute(
                "SELECT children, prev_children, run_key FROM listed WHERE url = ?", (url,)
            ).fetchone()
        if data["run_key"] == run_key:
            if not (data["prev_etag"] or data["prev_last_modified"] or data["prev_content_hash"]):
                return None
            children = listed[1] if listed is not None and listed[2] == run_key else None
            return Validators(
                data["prev_etag"],
                data["prev_last_modified"],
                data["prev_content_hash"],
                _children(children),
            )
        children = listed[0] if listed is not None else None
        return Validators(
            data["etag"], data["last_modified"], data["content_hash"], _children(children)
        )

    def save_validators(self, updates: dict[str, Validators], run_key: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._tx() as con:
            for url, v in updates.items():
                row = con.execute(
                    "SELECT etag, last_modified, content_hash, prev_etag, prev_last_modified, prev_content_hash, run_key FROM validators WHERE url = ?"
                    + self.db.for_update,
                    (url,),
                ).fetchone()
                if row is None:
                    prev: tuple[str | None, ...] = (None, None, None)
                elif row[6] == run_key:
                    prev = row[3:6]  # the same run again: keep what came before it
                else:
                    prev = row[0:3]
                etag, modified = _sendable(v.etag), _sendable(v.last_modified)
                con.execute(
                    "INSERT INTO validators VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                    "last_modified = excluded.last_modified, content_hash = excluded.content_hash, "
                    "prev_etag = excluded.prev_etag, prev_last_modified = excluded.prev_last_modified, "
                    "prev_content_hash = excluded.prev_content_hash, run_key = excluded.run_key, "
                    "checked_at = excluded.checked_at",
                    (url, etag, modified, v.content_hash, *prev, run_key, now),
                )
                self._save_children(con, url, v.children, run_key)

    def _save_children(
        self, con: Session, url: str, children: tuple[str, ...] | None, run_key: str
    ) -> None:
        row = con.execute(
            "SELECT children, prev_children, run_key FROM listed WHERE url = ?"
            + self.db.for_update,
            (url,),
        ).fetchone()
        if row is None and children is None:
            return
        prev = None if row is None else (row[1] if row[2] == run_key else row[0])
        con.execute(
            "INSERT INTO listed VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
            "children = excluded.children, prev_children = excluded.prev_children, "
            "run_key = excluded.run_key",
            (url, None if children is None else json.dumps(list(children)), prev, run_key),
        )

    # ------------------------------------------------------------------------- article URLs

    def url_states(self, urls: Iterable[str]) -> dict[str, UrlState]:
        found: dict[str, UrlState] = {}
        batch = list(urls)
        with self._read() as con:
            self._states(con, batch, found)
        return found

    @staticmethod
    def _states(con: Session, batch: list[str], found: dict[str, UrlState]) -> None:
        for i in range(0, len(batch), 500):
            chunk = batch[i : i + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT url, outcome, last_seen, attempts, stored_by, updated_hint, last_run FROM urls WHERE url IN ({marks})"
            for url, outcome, last_seen, attempts, stored_by, hint, last_run in con.execute(
                query, chunk
            ):
                found[url] = UrlState(
                    url,
                    outcome,
                    dt.datetime.fromisoformat(last_seen),
                    attempts,
                    stored_by,
                    hint,
                    last_run,
                )

    def pending_retries(self, source_id: str) -> list[str]:
        """URLs of this source whose last outcome was transient and that have attempts left."""
        with self._read() as con:
            rows = con.execute(
                "SELECT url FROM urls WHERE source_id = ? AND transient = 1 AND attempts < ? ORDER BY last_seen",
                (source_id, MAX_TRANSIENT_ATTEMPTS),
            ).fetchall()
        return [r[0] for r in rows]

    def record_outcomes(self, source_id: str, outcomes: Iterable[Outcome], run_key: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._tx() as con:
            for o in outcomes:
                transient = int(is_transient(o.outcome))
                con.execute(
                    """
                    INSERT INTO urls (url, source_id, first_seen, last_seen, outcome, transient, attempts, article_id, stored_by, updated_hint, last_run)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (url) DO UPDATE SET
                        last_seen = excluded.last_seen,
                        outcome = CASE WHEN urls.outcome = 'stored' AND excluded.outcome != 'stored' AND urls.stored_by != ?
                                       THEN urls.outcome ELSE excluded.outcome END,
                        transient = excluded.transient,
                        attempts = CASE WHEN excluded.transient = 1 THEN urls.attempts + 1 ELSE 0 END,
                        article_id = COALESCE(excluded.article_id, urls.article_id),
                        stored_by = COALESCE(urls.stored_by, excluded.stored_by),
                        updated_hint = COALESCE(excluded.updated_hint, urls.updated_hint),
                        last_run = excluded.last_run
                    """,
                    (
                        o.url,
                        source_id,
                        now,
                        now,
                        o.outcome,
                        transient,
                        transient,
                        o.article_id,
                        run_key if o.outcome == "stored" else None,
                        o.updated_hint,
                        run_key,
                        run_key,
                    ),
                )

    # ----------------------------------------------------------------------- sitemap backlog

    def sitemap_backlog(self, source_id: str) -> list[tuple[str, int]]:
        """The sitemaps (URL, nesting depth) the last committed run of the source deferred."""
        with self._read() as con:
            rows = con.execute(
                "SELECT url, depth FROM sitemap_backlog WHERE source_id = ? ORDER BY position",
                (source_id,),
            ).fetchall()
        return [(str(url), int(depth)) for url, depth in rows]

    def save_sitemap_backlog(self, source_id: str, backlog: Iterable[tuple[str, int]]) -> None:
        """Replace the source's deferred sitemaps."""
        with self._tx() as con:
            con.execute("DELETE FROM sitemap_backlog WHERE source_id = ?", (source_id,))
            con.executemany(
                "INSERT INTO sitemap_backlog VALUES (?, ?, ?, ?)",
                [(source_id, i, url, depth) for i, (url, depth) in enumerate(backlog)],
            )

    # -------------------------------------------------------------------------- item backlog

    def item_backlog(self, source_id: str, limit: int, run_key: str) -> list[dict[str, Any]]:
        """The `limit` freshest items earlier runs of the source deferred (undated ones last),
        and the ones `run_key` took out when it ran before (a re-run takes them again)."""
        with self._read() as con:
            rows = con.execute(
                "SELECT item FROM item_backlog WHERE source_id = ? "
                "AND (taken_by IS NULL OR taken_by = ?) "
                "ORDER BY feed_time IS NULL, feed_time DESC, url LIMIT ?",
                (source_id, run_key, limit),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def save_item_backlog(
        self,
        source_id: str,
        taken: Iterable[str],
        deferred: Iterable[dict[str, Any]],
        run_key: str,
        released: Iterable[str] = (),
        keep: int | None = None,
    ) -> None:
        """Commit a run's item budget: the backlog items it took (or found already known) are
        marked as taken by it, and dropped when a later run commits; `deferred` items wait,
        and so do the `released` ones (taken, not fetched for now: a run of the same key
        may have taken them before). Of the waiting items, `keep` at most stay: the stalest
        (those `item_backlog` gives last) are dropped."""
        with self._tx() as con:
            con.executemany(
                "UPDATE item_backlog SET taken_by = NULL WHERE source_id = ? AND url = ? "
                "AND taken_by = ?",
                [(source_id, url, run_key) for url in released],
            )
            con.execute(
                "DELETE FROM item_backlog WHERE source_id = ? AND taken_by IS NOT NULL "
                "AND taken_by != ?",
                (source_id, run_key),
            )
            con.executemany(
                "UPDATE item_backlog SET taken_by = ? WHERE source_id = ? AND url = ?",
                [(run_key, source_id, url) for url in taken],
            )
            con.executemany(
                "INSERT INTO item_backlog VALUES (?, ?, ?, ?, NULL) "
                "ON CONFLICT (source_id, url) DO UPDATE SET item = excluded.item, "
                "feed_time = excluded.feed_time, taken_by = NULL",
                [  # (without a retry's flag: whether it is one, the crawl state says)
                    (source_id, item["url"], json.dumps(_listed(item)), item.get("feed_time"))
                    for item in deferred
                ],
            )
            if keep is not None:
                row = con.execute(
                    "SELECT COUNT(*) FROM item_backlog WHERE source_id = ? AND taken_by IS NULL",
                    (source_id,),
                ).fetchone()
                if int(row[0]) > keep:
                    con.execute(
                        "DELETE FROM item_backlog WHERE source_id = ? AND taken_by IS NULL "
                        "AND url IN (SELECT url FROM item_backlog WHERE source_id = ? "
                        "AND taken_by IS NULL "
                        "ORDER BY feed_time IS NULL DESC, feed_time ASC, url DESC LIMIT ?)",
                        (source_id, source_id, int(row[0]) - keep),
                    )

    def item_backlog_items(
        self, source_id: str, urls: Iterable[str], run_key: str
    ) -> dict[str, dict[str, Any]]:
        """The backlog's items of `urls` a run `run_key` may take (see `item_backlog_urls`),
        by URL."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(urls)
        with self._read() as con:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                rows = con.execute(
                    "SELECT url, item FROM item_backlog WHERE source_id = ? "
                    "AND (taken_by IS NULL OR taken_by = ?) "
                    f"AND url IN ({','.join('?' * len(batch))})",
                    (source_id, run_key, *batch),
                ).fetchall()
                found.update((str(url), json.loads(item)) for url, item in rows)
        return found

    def item_backlog_count(self, source_id: str, run_key: str) -> int:
        """How many of the source's backlog items a run `run_key` may take (see
        `item_backlog_urls`)."""
        return int(self._may_take("COUNT(*)", source_id, run_key)[0][0])

    def item_backlog_urls(self, source_id: str, run_key: str) -> set[str]:
        """The URLs of the source's backlog items a run `run_key` may take: those waiting,
        and those it took out when it ran before."""
        return {str(row[0]) for row in self._may_take("url", source_id, run_key)}

    def _may_take(self, what: str, source_id: str, run_key: str) -> list[Any]:
        with self._read() as con:
            return list(
                con.execute(
                    f"SELECT {what} FROM item_backlog WHERE source_id = ? "
                    "AND (taken_by IS NULL OR taken_by = ?)",
                    (source_id, run_key),
                ).fetchall()
            )

    # ---------------------------------------------------------------------------- robots.txt

    def robots(self, origin: str) -> tuple[int, str, float] | None:
        with self._read() as con:
            row = con.execute(
                "SELECT status, body, fetched_at FROM robots WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), float(row[2]))

    def save_robots(self, origin: str, status: int, body: str) -> None:
        with self._tx() as con:
            con.execute(
                "INSERT INTO robots VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                "status = excluded.status, body = excluded.body, fetched_at = excluded.fetched_at",
                (origin, status, body.replace("\x00", "\ufffd"), time.time()),  # (PostgreSQL
            )  # text holds no NUL; a NUL in robots.txt is no rule of it)

    # ------------------------------------------------------------------------ rate limiting

    def reserve_slot(self, host: str, interval: float) -> float:
        """Reserve the next request slot for `host`; returns the seconds to wait for it.

        Slots are `interval` seconds apart for every process and machine sharing this state
        (the host's row is locked while its slot is taken; the time is the database's).
        """
        with self._tx() as con:
            con.execute(
                "INSERT INTO host_slots VALUES (?, 0) ON CONFLICT (host) DO NOTHING", (host,)
            )
            row = con.execute(
                "SELECT next_at FROM host_slots WHERE host = ?" + self.db.for_update, (host,)
            ).fetchone()
            now = self.db.now(con)
            slot = max(now, float(row[0]))
            con.execute("UPDATE host_slots SET next_at = ? WHERE host = ?", (slot + interval, host))
        self._slots[host] = slot
        return slot - now

    def confirm_slot(self, host: str, interval: float, stale: float) -> float | None:
        """Just before a request, after waiting for its slot: None while the host's last
        request (by any process or machine) is unanswered and younger than `stale` seconds
        (ask again shortly); else the seconds still to wait so that this one starts at
        least `interval` after the last one started and after it was answered, and it is
        recorded as starting then.

        A slot says when a request may start; a process that overslept its slot on a loaded
        machine, or whose request took long to reach the server, would otherwise be right
        before the next process's punctual request. A request whose sender died is waited
        for `stale` seconds."""
        with self._tx() as con:
            con.execute(
                "INSERT INTO host_sent VALUES (?, 0, 0) ON CONFLICT (host) DO NOTHING", (host,)
            )
            sent_at, answered_at = con.execute(
                "SELECT sent_at, answered_at FROM host_sent WHERE host = ?" + self.db.for_update,
                (host,),
            ).fetchone()
            # the reserved slot counts as the present when the clock has not reached it yet:
            # the wait for it was cut short (a test's sleeper), not to be waited again
            now = max(self.db.now(con), self._slots.get(host, 0.0))
            if answered_at is None and now < float(sent_at) + stale:
                return None
            start = max(now, float(sent_at) + interval, float(answered_at or 0) + interval)
            con.execute(
                "UPDATE host_sent SET sent_at = ?, answered_at = NULL WHERE host = ?",
                (start, host),
            )
        self._slots.pop(host, None)
        self._sent[host] = start
        return start - now

    def request_answered(self, host: str) -> None:
        """This process's request to `host` was answered (or failed): the next one may be
        confirmed, and starts its interval after now at the earliest."""
        start = self._sent.pop(host, None)
        if start is None:
            return
        with self._tx() as con:
            now = max(self.db.now(con), start)
            con.execute(
                "UPDATE host_sent SET answered_at = ? WHERE host = ? AND sent_at = ?",
                (now, host, start),
            )


def _listed(item: dict[str, Any]) -> dict[str, Any]:
    """A backlog item as its listing gave it: without the flag a run puts on a retry."""
    return {key: value for key, value in item.items() if key != "retry"}


def _sendable(value: str | None) -> str | None:
    """A validator a server sent, if it can be sent back in a request header (PostgreSQL's
    text also refuses the NUL byte); None for one with a control character."""
    if value is None or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    return value
