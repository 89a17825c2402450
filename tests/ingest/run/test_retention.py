"""Retention: committed runs' work folders and raw WARC files go once older than the settings,
nothing else does, and `newsflow daily` applies it with the sources file's settings."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.config import SOURCES_ENV, ConfigError, Settings
from ingest.run.retention import remove_expired, upkeep_settings
from ingest.run.workfiles import WRITTEN, remove_leftovers
from tests.transforms.test_compaction import fill

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 25, 6, tzinfo=UTC)
SOURCES = 'sources:\n  - id: a\n    feeds: ["https://a.example/feed.xml"]\n'


def aged(path: Path, days: float, now: dt.datetime = NOW) -> Path:
    """Set `path`'s modification time `days` before `now`."""
    moment = (now - dt.timedelta(days=days)).timestamp()
    os.utime(path, (moment, moment))
    return path


def work_folder(
    root: Path, key: str, days: float, committed: bool = True, now: dt.datetime = NOW
) -> Path:
    """A run's work folder whose files are all `days` old; with written.json when committed."""
    folder = root / "work" / "a" / key
    folder.mkdir(parents=True)
    names = ["discovered.jsonl", "fetched.jsonl"] + ([WRITTEN] if committed else [])
    for name in names:
        (folder / name).write_bytes(b"x" * 100)
        aged(folder / name, days, now)
    aged(folder, days, now)
    return folder


def warc(root: Path, name: str, days: float, now: dt.datetime = NOW) -> Path:
    path = root / "raw" / "a" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w" * 1000)
    return aged(path, days, now)


def test_committed_work_folders_go_after_keep_work_days(tmp_path: Path) -> None:
    old = work_folder(tmp_path, "20261115T000000Z_20261115T010000Z", days=10)
    young = work_folder(tmp_path, "20261122T000000Z_20261122T010000Z", days=3)
    done = remove_expired(tmp_path, NOW, Settings(keep_work_days=7))
    assert not old.exists() and young.exists()
    assert done == {"work_folders": 1, "work_bytes": 300, "raw_files": 0, "raw_bytes": 0}


def test_a_committed_run_with_a_stage_re_run_since_is_kept(tmp_path: Path) -> None:
    folder = work_folder(tmp_path, "K1", days=10)
    aged(folder / "fetched.jsonl", 0.01)  # a cleared task wrote it again a moment ago
    assert remove_expired(tmp_path, NOW, Settings(keep_work_days=7))["work_folders"] == 0
    assert (folder / WRITTEN).exists()


def test_zero_days_removes_committed_runs_but_never_a_run_in_progress(tmp_path: Path) -> None:
    committed = work_folder(tmp_path, "K1", days=0.001)
    running = work_folder(tmp_path, "K2", days=0.5, committed=False)
    stale = work_folder(tmp_path, "K3", days=30, committed=False)
    done = remove_expired(tmp_path, NOW, Settings(keep_work_days=0))
    assert not committed.exists() and done["work_folders"] == 1
    assert running.exists() and stale.exists()  # stale is remove_leftovers' to remove
    assert remove_leftovers(tmp_path, NOW) == 1
    assert running.exists() and not stale.exists()


def test_raw_files_are_kept_forever_by_default(tmp_path: Path) -> None:
    ancient = warc(tmp_path, "20000101T000000Z_20000101T010000Z.warc.gz", days=9000)
    done = remove_expired(tmp_path, NOW, Settings(keep_work_days=0))
    assert Settings().keep_raw_days is None
    assert ancient.exists() and done["raw_files"] == 0


def test_raw_files_go_after_keep_raw_days_by_modification_time(tmp_path: Path) -> None:
    # named by an old window but captured (written) two days ago, as a backfill does: kept
    backfilled = warc(tmp_path, "20250101T000000Z_20250101T010000Z.warc.gz", days=2)
    old = warc(tmp_path, "20261001T000000Z_20261001T010000Z.warc.gz", days=40)
    temp = warc(tmp_path, ".20261001T000000Z_20261001T010000Z.warc.gz.ab12.tmp", days=40)
    other = warc(tmp_path, "notes.txt", days=40)
    done = remove_expired(tmp_path, NOW, Settings(keep_raw_days=30))
    assert backfilled.exists() and temp.exists() and other.exists() and not old.exists()
    assert done == {"work_folders": 0, "work_bytes": 0, "raw_files": 1, "raw_bytes": 1000}


def test_an_empty_or_missing_data_root_is_fine(tmp_path: Path) -> None:
    nothing = {"work_folders": 0, "work_bytes": 0, "raw_files": 0, "raw_bytes": 0}
    assert remove_expired(tmp_path / "none", NOW, Settings(keep_raw_days=1)) == nothing


def test_upkeep_settings_come_from_the_sources_file_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCES_ENV, str(tmp_path / "missing.yaml"))  # set: never the defaults
    with pytest.raises(ConfigError, match=f"{SOURCES_ENV}=.*missing.yaml: no such file"):
        upkeep_settings()
    path = tmp_path / "sources.yaml"
    path.write_text("settings:\n  keep_raw_days: 30\n" + SOURCES, encoding="utf-8")
    monkeypatch.setenv(SOURCES_ENV, str(path))
    assert upkeep_settings().keep_raw_days == 30.0
    with pytest.raises(ConfigError, match="file not found"):
        upkeep_settings(tmp_path / "missing.yaml")


def test_daily_applies_retention_from_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    fill(root)
    now = dt.datetime.fromtimestamp(time.time(), UTC)
    old_run = work_folder(root, "K1", days=10, now=now)
    new_run = work_folder(root, "K2", days=1, now=now)
    old_raw = warc(root, "K1.warc.gz", days=40, now=now)
    new_raw = warc(root, "K2.warc.gz", days=1, now=now)
    plain = tmp_path / "plain.yaml"  # no settings: the defaults
    plain.write_text(SOURCES, encoding="utf-8")
    monkeypatch.setenv(SOURCES_ENV, str(plain))
    day = ["--day", "2024-03-01"]

    assert main(["daily", "--data", str(root), *day]) in (0, 1)  # defaults: raw kept
    out = capsys.readouterr().out
    assert "retention: removed 1 work folders (300 B) and 0 raw files (0 B)" in out
    assert not old_run.exists() and new_run.exists() and old_raw.exists()

    config = tmp_path / "sources.yaml"
    config.write_text("settings:\n  keep_raw_days: 30\n" + SOURCES, encoding="utf-8")
    assert main(["daily", "--data", str(root), "--config", str(config), *day]) in (0, 1)
    assert "and 1 raw files (1000 B)" in capsys.readouterr().out
    assert not old_raw.exists() and new_raw.exists() and new_run.exists()
    page = (root / "reports" / "2024-03-01" / "report.html").read_text(encoding="utf-8")
    assert "raw/ 1000 B" in page and "raw WARC files removed 30 days after capture" in page

    config.write_text("settings:\n  keep_raw_days: 0\n" + SOURCES, encoding="utf-8")
    assert main(["daily", "--data", str(root), "--config", str(config), *day]) == 2
    err = capsys.readouterr().err
    assert f"{config}: settings.keep_raw_days" in err and err.count("\n") == 1
    assert new_raw.exists()
