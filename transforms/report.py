"""The daily report: DATA/reports/YYYY-MM-DD/report.html with PNG charts (matplotlib).

Charts over the DAYS days up to the report day: articles per source per day, unique
stories against copies, top topics and places, quarantine reasons per source, fetch
outcomes per source from the run metrics; then the day's quality findings as a table.
The numbers come from DuckDB over the dataset's views, as `newsflow query` sees them.
Above them, one line of disk usage per data folder and the retention settings in force.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transforms.query import connect

REPORTS = "reports"
DAYS = 14
TOP = 12
DISK_FOLDERS = ("articles", "quarantine", "runs", "raw", "work", "state")


@dataclass(frozen=True)
class Retention:
    """The retention settings in force, as plain values (transforms does not read the
    sources file): days a committed run's work files are kept, and days raw WARC files are
    kept (None: forever)."""

    keep_work_days: float
    keep_raw_days: float | None


def build_report(
    root: Path,
    day: dt.date,
    findings: list[dict[str, Any]] | None = None,
    retention: Retention | None = None,
) -> Path:
    """Write the report for `day` (replacing an earlier one) and return its path."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    out = root / REPORTS / day.isoformat()
    out.mkdir(parents=True, exist_ok=True)
    first = day - dt.timedelta(days=DAYS - 1)
    con = connect(root)
    try:
        sections = [
            _articles_per_source(con, out, first, day),
            _stories(con, out, first, day),
            _top(con, out, "topics", first, day),
            _top(con, out, "places", first, day),
            _quarantine(con, out, first, day),
            _fetch_outcomes(con, out, first, day),
        ]
    finally:
        con.close()
    body = _disk_line(disk_usage(root), retention) + "\n".join(sections)
    body += _findings_table(findings or [])
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>newsflow report {day}</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:left}</style></head><body>"
        f"<h1>newsflow: the {DAYS} days to {day}</h1>{body}</body></html>"
    )
    target = out / "report.html"
    tmp = out / ".report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target


def _where(first: dt.date, day: dt.date, column: str = "published_date") -> str:
    return f"CAST({column} AS DATE) BETWEEN DATE '{first}' AND DATE '{day}'"


def _chart(out: Path, name: str, title: str, draw: Any) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 3.6))
    try:
        drawn = draw(axes)
        axes.set_title(title)
        figure.tight_layout()
        figure.savefig(out / f"{name}.png", dpi=90)
    finally:
        plt.close(figure)
    if not drawn:
        return f"<h2>{html.escape(title)}</h2><p>No data in this period.</p>"
    return f"<h2>{html.escape(title)}</h2><img src='{name}.png' alt='{html.escape(title)}'>"


def _stacked(axes: Any, labels: list[str], series: dict[str, list[float]]) -> bool:
    bottom = [0.0] * len(labels)
    for name, values in series.items():
        axes.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if series:
        axes.legend(fontsize="small")
        axes.tick_params(axis="x", labelrotation=45, labelsize="small")
    return bool(series) and any(bottom)


def window_days(first: dt.date, day: dt.date) -> list[str]:
    """Every day from `first` to `day`: a chart over days shows each one, zeros included."""
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((day - first).days + 1)]


def _pivot(
    rows: list[tuple[Any, Any, Any]], labels: list[str] | None = None
) -> tuple[list[str], dict[str, list[float]]]:
    """(x labels, one series per name) of (x, name, value) rows; `labels` fixes the x axis
    (rows outside it are left out), else it is the rows' own x values."""
    labels = labels if labels is not None else sorted({str(r[0]) for r in rows})
    rows = [r for r in rows if str(r[0]) in labels]
    series: dict[str, list[float]] = {}
    for x, name, value in rows:
        series.setdefault(str(name), [0.0] * len(labels))[labels.index(str(x))] = float(value)
    return labels, series


def _articles_per_source(con: Any, out: Path, first: dt.date, day: dt.date) -> str:
    rows = con.execute(
        "SELECT CAST(published_date AS DATE) AS d, source_id, count(*) FROM articles "
        f"WHERE {_where(first, day)} GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    labels, series = _pivot(rows, window_days(first, day))
    return _chart(
        out,
        "articles_per_source",
        "Articles per source per day",
        lambda ax: _stacked(ax, labels, series),
    )


def _stories(con: Any, out: Path, first: dt.date, day: dt.date) -> str:
    rows = con.execute(
        "SELECT CAST(published_date AS DATE) AS d, "
        "count(*) FILTER (WHERE duplicate_of IS NULL), count(*) FILTER (WHERE duplicate_of IS NOT NULL) "
        f"FROM articles WHERE {_where(first, day)} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    counts = {str(r[0]): (float(r[1]), float(r[2])) for r in rows}
    labels = window_days(first, day)
    series = {
        "unique stories": [counts.get(d, (0.0, 0.0))[0] for d in labels],
        "copies": [counts.get(d, (0.0, 0.0))[1] for d in labels],
    }
    return _chart(
        out,
        "stories",
        "Unique stories and copies per day",
        lambda ax: _stacked(ax, labels, series if rows else {}),
    )


def _top(con: Any, out: Path, column: str, first: dt.date, day: dt.date) -> str:
    rows = con.execute(
        f"SELECT value, count(*) AS n FROM (SELECT unnest({column}) AS value FROM articles "
        f"WHERE {_where(first, day)} AND duplicate_of IS NULL) GROUP BY 1 ORDER BY n DESC, value LIMIT {TOP}"
    ).fetchall()

    def draw(axes: Any) -> bool:
        axes.barh([str(r[0]) for r in reversed(rows)], [r[1] for r in reversed(rows)])
        return bool(rows)

    return _chart(out, f"top_{column}", f"Top {column} (unique stories)", draw)


def _quarantine(con: Any, out: Path, first: dt.date, day: dt.date) -> str:
    rows = con.execute(
        "SELECT source_id, reason, count(*) FROM quarantine "
        f"WHERE {_where(first, day, 'run_date')} GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    labels, series = _pivot(rows)
    return _chart(
        out, "quarantine", "Quarantine reasons per source", lambda ax: _stacked(ax, labels, series)
    )


def _fetch_outcomes(con: Any, out: Path, first: dt.date, day: dt.date) -> str:
    rows = con.execute(
        "SELECT source_id, sum(new), sum(duplicates), sum(seen), sum(not_modified), sum(quarantined) "
        f"FROM runs WHERE {_where(first, day, 'run_date')} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    labels = [str(r[0]) for r in rows]
    names = ["new", "copies", "seen before", "not modified", "quarantined"]
    series = {n: [float(r[i + 1] or 0) for r in rows] for i, n in enumerate(names)}
    return _chart(
        out,
        "fetch_outcomes",
        "Outcomes per source (run metrics)",
        lambda ax: _stacked(ax, labels, series if rows else {}),
    )


def _findings_table(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "<h2>Quality checks</h2><p>No findings.</p>"
    head = "<tr><th>check</th><th>severity</th><th>source</th><th>message</th></tr>"
    rows = "".join(
        f"<tr><td>{html.escape(f['check'])}</td><td>{html.escape(f['severity'])}</td>"
        f"<td>{html.escape(f.get('source_id') or '')}</td><td>{html.escape(f['message'])}</td></tr>"
        for f in findings
    )
    return f"<h2>Quality checks</h2><table>{head}{rows}</table>"


def disk_usage(root: Path) -> dict[str, int]:
    """Bytes of the files under each of DISK_FOLDERS (0 for a missing one); symbolic links
    are not followed, and a file removed while walking is skipped."""
    return {name: _folder_bytes(root / name) for name in DISK_FOLDERS}


def _folder_bytes(folder: Path) -> int:
    total, pending = 0, [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(Path(entry.path))
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total


def format_bytes(count: int) -> str:
    """`count` bytes for people: 512 B, 1.5 KiB, 20.0 MiB, 3.2 GiB."""
    if count < 1024:
        return f"{count} B"
    size = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} TiB"


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _disk_line(usage: dict[str, int], retention: Retention | None) -> str:
    parts = ", ".join(f"{name}/ {format_bytes(size)}" for name, size in usage.items())
    line = f"Disk usage: {parts}; total {format_bytes(sum(usage.values()))}."
    if retention is not None:
        raw = (
            "kept forever"
            if retention.keep_raw_days is None
            else f"removed {_days(retention.keep_raw_days)} after capture"
        )
        line += (
            f" Retention: work files removed {_days(retention.keep_work_days)} after their run "
            f"committed; raw WARC files {raw}."
        )
    return f"<p class='disk'>{html.escape(line)}</p>"
