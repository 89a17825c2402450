"""The daily report: its disk-usage line (bytes per data folder, the retention in force)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.transforms.test_compaction import fill
from transforms.report import DISK_FOLDERS, Retention, build_report, disk_usage, format_bytes

DAY = dt.date(2024, 3, 1)


def sized(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def disk_line(page: str) -> str:
    start = page.index("<p class='disk'>")
    return page[start : page.index("</p>", start)]


def test_disk_usage_counts_the_bytes_under_each_data_folder(tmp_path: Path) -> None:
    sized(tmp_path / "raw" / "a" / "K1.warc.gz", 3000)
    sized(tmp_path / "raw" / "b" / ".K2.warc.gz.x.tmp", 100)
    sized(tmp_path / "work" / "a" / "K1" / "discovered.jsonl", 200)
    sized(tmp_path / "state" / "crawl.sqlite", 4096)
    sized(tmp_path / "reports" / "elsewhere.html", 999)  # not one of the folders
    (tmp_path / "work" / "a" / "K1" / "link").symlink_to(tmp_path / "state" / "crawl.sqlite")
    usage = disk_usage(tmp_path)
    assert list(usage) == list(DISK_FOLDERS)
    assert usage["raw"] == 3100 and usage["state"] == 4096 and usage["articles"] == 0
    assert 200 < usage["work"] < 4096 + 200  # the link counts as a link, not its target


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (20 * 1024**2, "20.0 MiB"),
        (5 * 1024**5, "5120.0 TiB"),
    ],
)
def test_bytes_are_shown_in_binary_units(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_the_report_shows_disk_usage_and_the_retention_in_force(tmp_path: Path) -> None:
    fill(tmp_path)
    sized(tmp_path / "raw" / "a" / "K1.warc.gz", 2048)
    page = build_report(tmp_path, DAY, [], Retention(7, None)).read_text(encoding="utf-8")
    line = disk_line(page)
    assert "Disk usage: articles/ " in line and "raw/ 2.0 KiB" in line and "work/ 0 B" in line
    assert "; total " in line
    assert "work files removed 7 days after their run committed" in line
    assert "raw WARC files kept forever" in line

    page = build_report(tmp_path, DAY, [], Retention(0.5, 1)).read_text(encoding="utf-8")
    line = disk_line(page)
    assert "removed 0.5 days after their run committed" in line
    assert "raw WARC files removed 1 day after capture" in line

    line = disk_line(build_report(tmp_path, DAY).read_text(encoding="utf-8"))
    assert "raw/ 2.0 KiB" in line and "Retention" not in line


def test_charts_over_days_show_every_day_of_the_window_zeros_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The articles sit on one day: the day charts still have all DAYS days, that one with
    its bars and the others at zero."""
    import transforms.report as report

    drawn: list[tuple[list[str], dict[str, list[float]]]] = []
    real = report._stacked

    def spy(axes: object, labels: list[str], series: dict[str, list[float]]) -> bool:
        drawn.append((labels, series))
        return real(axes, labels, series)

    monkeypatch.setattr(report, "_stacked", spy)
    fill(tmp_path)
    day = DAY + dt.timedelta(days=3)
    build_report(tmp_path, day)
    days = report.window_days(day - dt.timedelta(days=report.DAYS - 1), day)
    assert len(days) == report.DAYS and days[-1] == day.isoformat()
    per_source, stories = drawn[0], drawn[1]
    for labels, series in (per_source, stories):
        assert labels == days
        totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
        assert totals[days.index(DAY.isoformat())] > 0
        assert sum(1 for t in totals if t == 0) == len(days) - 1
