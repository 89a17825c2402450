"""Retention: committed runs' work folders and raw WARC files removed once older than the
settings `keep_work_days` and `keep_raw_days` (the daily upkeep calls it).

Only DATA/work/ and DATA/raw/ are listed (two levels each), so the cost follows the number of
runs kept, never the number of stored articles. What killed processes left behind (hidden
temporary files, work folders of runs that never committed) is workfiles.remove_leftovers'.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path
from typing import TypedDict

from ingest.config import SOURCES_ENV, ConfigError, Settings, load_sources, sources_path
from ingest.fetch.warc import RAW
from ingest.run.workfiles import WRITTEN

WORK = "work"
WARC_SUFFIX = ".warc.gz"

log = logging.getLogger(__name__)


class Expired(TypedDict):
    """What one pass removed: work folders and raw files, and the bytes each freed."""

    work_folders: int
    work_bytes: int
    raw_files: int
    raw_bytes: int


def upkeep_settings(config: Path | None = None) -> Settings:
    """The settings of `config`; without one, of the sources file NEWSFLOW_SOURCES names,
    else of the project's sources.yaml when it exists, else the defaults. Raises ConfigError
    for a `config` or a NEWSFLOW_SOURCES that is missing, or a sources file that is not
    valid."""
    if config is None:
        config = sources_path()
        named = os.environ.get(SOURCES_ENV)
        if named and not config.is_file():  # set on purpose: never the defaults instead
            what = "is a folder" if config.is_dir() else "no such file"
            raise ConfigError(
                f"{SOURCES_ENV}={named}: {what}; point it at a sources file, or unset it to "
                "use the project's sources.yaml."
            )
        if not config.is_file():
            return Settings()
    return load_sources(config).settings


def remove_expired(root: Path, now: dt.datetime, settings: Settings) -> Expired:
    """Remove the work folders of committed runs once they are `keep_work_days` old, and raw
    WARC files once `keep_raw_days` old (never when it is None). Returns the counts and the
    bytes freed.

    A work folder's age is its newest file's (written.json when the run committed, or a stage
    of it re-run since, as a cleared task does), so a folder in use is kept. A WARC file's age
    is its modification time, when the capture was closed: a backfill of an old window fetches
    today and keeps its capture as long as any other, and a copy of the data root that does
    not keep modification times errs on keeping. A folder without written.json is never
    touched here: it is a run in progress, or a leftover for remove_leftovers."""
    done = Expired(work_folders=0, work_bytes=0, raw_files=0, raw_bytes=0)
    work_cutoff = (now - dt.timedelta(days=settings.keep_work_days)).timestamp()
    for folder in _children(root / WORK, depth=2):
        if not folder.is_dir() or not (folder / WRITTEN).is_file():
            continue
        stats = _file_stats(folder)
        if stats and max(mtime for mtime, _ in stats) < work_cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            if folder.exists():
                log.warning("could not remove all of %s; it is tried again next time", folder)
            else:
                done["work_folders"] += 1
                done["work_bytes"] += sum(size for _, size in stats)
    if settings.keep_raw_days is None:
        return done
    raw_cutoff = (now - dt.timedelta(days=settings.keep_raw_days)).timestamp()
    for path in _children(root / RAW, depth=2):
        if not path.name.endswith(WARC_SUFFIX):
            continue  # hidden temporary files are remove_leftovers'
        try:
            stat = path.stat()
            if stat.st_mtime < raw_cutoff:
                path.unlink()
                done["raw_files"] += 1
                done["raw_bytes"] += stat.st_size
        except FileNotFoundError:
            continue
    return done


def _children(folder: Path, depth: int) -> list[Path]:
    """The entries `depth` levels below `folder` (not hidden, symbolic links not followed)."""
    level = [folder]
    for step in range(depth):
        found = []
        for parent in level:
            try:
                with os.scandir(parent) as entries:
                    for entry in entries:
                        last = step == depth - 1
                        if not entry.name.startswith(".") and (
                            last or entry.is_dir(follow_symlinks=False)
                        ):
                            found.append(Path(entry.path))
            except (FileNotFoundError, NotADirectoryError):
                continue
        level = found
    return level


def _file_stats(folder: Path) -> list[tuple[float, int]]:
    """(modification time, size) of every file under `folder`, and of the folder itself."""
    found = []
    for top, _, files in os.walk(folder):
        for path in [Path(top), *(Path(top, name) for name in files)]:
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            found.append((stat.st_mtime, 0 if path == Path(top) else stat.st_size))
    return found
