"""What the pages show, read through the project's one query layer (transforms/query.py: the
DuckDB views `newsflow query` uses). Every value from a request reaches DuckDB as a bound
parameter, never as SQL text; every function returns plain rows (dicts) for a template."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from transforms import provenance

SPARK_DAYS = 14
STORIES_SHOWN = 40
QUARANTINE_DAYS = 14
# columns an article page shows apart (the body, tags with their evidence) or not at all
# (the signature columns are numbers for the dedup stage, not for people)
HIDDEN_COLUMNS = ("text", "minhash", "lsh_bands", "tag_evidence")
# the field each provenance column speaks for, as the article page pairs them
PROVENANCE = {
    "published_at": "date_source",
    "title": "title_source",
    "authors": "authors_source",
    "text": "extractor",
    "language": "language_declared",
}


def _rows(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _days(last: dt.date, count: int) -> list[dt.date]:
    return [last - dt.timedelta(days=k) for k in range(count - 1, -1, -1)]


# --- Sources ------------------------------------------------------------------------------


def sources(con: Any, today: dt.date) -> list[dict[str, Any]]:
    """One row per source (any source with a run or an article): its last run's time, state
    and outcome counts, new articles per day over the SPARK_DAYS days to `today`, the share
    of its articles fetched in that span with no stated date or a short body, and the
    findings of the newest quality check that named it."""
    from transforms.quality import SHORT_WORDS  # (here: it imports pyarrow, see plugin.py)

    first = today - dt.timedelta(days=SPARK_DAYS - 1)
    last_runs = _rows(
        con,
        "SELECT source_id, finished_at, status, reprocess, new, duplicates, seen, not_modified, "
        "quarantined, error FROM runs "
        "QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY finished_at DESC, run_id DESC) = 1",
    )
    per_day = con.execute(
        "SELECT source_id, run_date, sum(coalesce(new, 0)) FROM runs "
        "WHERE run_date BETWEEN ? AND ? AND NOT reprocess GROUP BY 1, 2",
        [first, today],
    ).fetchall()
    shares = _rows(
        con,
        "SELECT source_id, count(*) AS articles, "
        "count(*) FILTER (WHERE date_source = ?) AS undated, "
        "count(*) FILTER (WHERE word_count < ?) AS short FROM articles "
        "WHERE CAST(fetched_at AS DATE) BETWEEN ? AND ? GROUP BY 1",
        [provenance.FETCH_TIME, SHORT_WORDS, first, today],
    )
    findings = _rows(
        con,
        'SELECT source_id, check_date, severity, "check", message FROM quality '
        "WHERE source_id IS NOT NULL AND check_date = (SELECT max(check_date) FROM quality) "
        'ORDER BY source_id, severity, "check"',
    )
    names = sorted(
        {r["source_id"] for r in last_runs}
        | {r[0] for r in per_day}
        | {r["source_id"] for r in shares}
        | {r[0] for r in con.execute("SELECT DISTINCT source_id FROM articles").fetchall()}
    )
    days = _days(today, SPARK_DAYS)
    out = []
    for name in names:
        counts = {d: 0 for d in days}
        for source, day, new in per_day:
            if source == name:
                counts[day] = int(new)
        share = next((r for r in shares if r["source_id"] == name), None)
        total = share["articles"] if share else 0
        out.append(
            {
                "source_id": name,
                "last_run": next((r for r in last_runs if r["source_id"] == name), None),
                "per_day": [(d, counts[d]) for d in days],
                "articles": total,
                "undated_share": share["undated"] / total if share and total else None,
                "short_share": share["short"] / total if share and total else None,
                "findings": [f for f in findings if f["source_id"] == name],
            }
        )
    return out


# --- Articles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleFilter:
    """The article list's filters, each already validated (None: not filtered)."""

    source: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    language: str | None = None
    topic: str | None = None
    place: str | None = None
    copies_only: bool = False

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause with `?` placeholders, and the values bound to them."""
        parts: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.source is not None:
            parts.append("source_id = ?")
            params.append(self.source)
        if self.since is not None:
            parts.append("published_date >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append("published_date <= ?")
            params.append(self.until)
        if self.language is not None:
            parts.append("language = ?")
            params.append(self.language)
        if self.topic is not None:
            parts.append("list_contains(topics, ?)")
            params.append(self.topic)
        if self.place is not None:
            parts.append("(list_contains(places, ?) OR list_contains(cities, ?))")
            params += [self.place, self.place]
        if self.copies_only:
            parts.append("duplicate_of IS NOT NULL")
        return " AND ".join(parts), params


def articles(
    con: Any, chosen: ArticleFilter, page: int, size: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many articles match, and page `page` (from 1) of `size` of them, newest first."""
    where, params = chosen.where()
    total = con.execute(f"SELECT count(*) FROM articles WHERE {where}", params).fetchone()[0]
    rows = _rows(
        con,
        "SELECT article_id, source_id, title, published_at, date_source, language, topics, "
        f"places, duplicate_of, word_count FROM articles WHERE {where} "
        "ORDER BY published_at DESC, article_id LIMIT ? OFFSET ?",
        [*params, size, (page - 1) * size],
    )
    return int(total), rows


def choices(con: Any) -> dict[str, list[str]]:
    """The values the article filters offer: sources, languages, topics and places."""
    out = {}
    for name, sql in {
        "sources": "SELECT DISTINCT source_id FROM articles",
        "languages": "SELECT DISTINCT language FROM articles WHERE language IS NOT NULL",
        "topics": "SELECT DISTINCT unnest(topics) FROM articles",
        "places": "SELECT DISTINCT unnest(places) FROM articles",
    }.items():
        out[name] = sorted(str(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None)
    return out


def article(con: Any, article_id: str) -> dict[str, Any] | None:
    """Every column of one article (None when there is no such article)."""
    found = _rows(con, "SELECT * FROM articles WHERE article_id = ? LIMIT 1", [article_id])
    return found[0] if found else None


def copies(con: Any, story_id: str | None, article_id: str) -> list[dict[str, Any]]:
    """The other articles of a story, earliest first."""
    if story_id is None:
        return []
    return _rows(
        con,
        "SELECT article_id, source_id, title, published_at, duplicate_of, dup_similarity "
        "FROM articles WHERE story_id = ? AND article_id <> ? ORDER BY published_at, article_id",
        [story_id, article_id],
    )


# --- Stories ------------------------------------------------------------------------------


def latest_day(con: Any) -> dt.date | None:
    """The newest publication day in the dataset."""
    day = con.execute("SELECT max(published_date) FROM articles").fetchone()[0]
    return day if isinstance(day, dt.date) else None


def stories(con: Any, day: dt.date) -> list[dict[str, Any]]:
    """The STORIES_SHOWN stories with an article published on `day` that have the most
    copies: each with its articles, earliest first (the first published the story, the
    others republished it)."""
    top = _rows(
        con,
        "WITH today AS (SELECT DISTINCT story_id FROM articles "
        "WHERE published_date = ? AND story_id IS NOT NULL) "
        "SELECT story_id, count(*) AS articles FROM articles "
        "WHERE story_id IN (SELECT story_id FROM today) GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY articles DESC, story_id LIMIT ?",
        [day, STORIES_SHOWN],
    )
    if not top:
        return []
    members = _rows(
        con,
        "SELECT story_id, article_id, source_id, title, published_at, duplicate_of, "
        "dup_similarity FROM articles WHERE list_contains(?, story_id) "
        "ORDER BY published_at, article_id",
        [[t["story_id"] for t in top]],
    )
    for story in top:
        story["members"] = [m for m in members if m["story_id"] == story["story_id"]]
    return top


# --- Quarantine ---------------------------------------------------------------------------


def quarantine_reasons(con: Any) -> list[str]:
    return [
        str(r[0])
        for r in con.execute("SELECT DISTINCT reason FROM quarantine ORDER BY 1").fetchall()
    ]


def quarantine_summary(
    con: Any, today: dt.date, reason: str | None
) -> tuple[list[dt.date], list[dict[str, Any]]]:
    """The QUARANTINE_DAYS days to `today`, and per source and reason the rows quarantined
    on each of them (and in all)."""
    days = _days(today, QUARANTINE_DAYS)
    rows = con.execute(
        "SELECT source_id, reason, run_date, count(*) FROM quarantine "
        "WHERE run_date BETWEEN ? AND ? AND (? IS NULL OR reason = ?) GROUP BY 1, 2, 3",
        [days[0], today, reason, reason],
    ).fetchall()
    grouped: dict[tuple[str, str], dict[dt.date, int]] = {}
    for source, why, day, count in rows:
        grouped.setdefault((source, why), {})[day] = int(count)
    summary = [
        {
            "source_id": source,
            "reason": why,
            "per_day": [(d, counts.get(d, 0)) for d in days],
            "total": sum(counts.values()),
        }
        for (source, why), counts in sorted(grouped.items())
    ]
    return days, summary


def quarantined(
    con: Any, reason: str | None, source: str | None, page: int, size: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many quarantined rows match, and page `page` of them, newest first."""
    where = "(? IS NULL OR reason = ?) AND (? IS NULL OR source_id = ?)"
    params = [reason, reason, source, source]
    total = con.execute(f"SELECT count(*) FROM quarantine WHERE {where}", params).fetchone()[0]
    rows = _rows(
        con,
        f'SELECT "at", source_id, stage, reason, url, detail FROM quarantine WHERE {where} '
        'ORDER BY "at" DESC, url LIMIT ? OFFSET ?',
        [*params, size, (page - 1) * size],
    )
    return int(total), rows
