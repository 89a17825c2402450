"""The daily reports transforms/report.py writes under DATA/reports/YYYY-MM-DD/ (report.html
and its PNG charts), on a local data root or beside the dataset on an object store."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from transforms.objectstore import S3Location

# the files a report folder holds: report.html and charts named after their sections
FILE_NAME = re.compile(r"^[a-z0-9_]{1,64}\.(html|png)$")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "png": "image/png"}


def report_days(root: Path | S3Location) -> list[dt.date]:
    """The days with a report.html, newest first."""
    from transforms.report import REPORTS  # (here: it imports pyarrow, see plugin.py)

    if isinstance(root, Path):
        names = [p.parent.name for p in (root / REPORTS).glob("*/report.html")]
    else:
        import pyarrow.fs as pafs

        from transforms.lakelog import Lake

        lake = Lake(root)
        selector = pafs.FileSelector(lake.uri(REPORTS), recursive=True, allow_not_found=True)
        names = [
            info.path.rsplit("/", 2)[-2]
            for info in lake.fs.get_file_info(selector)
            if info.path.endswith("/report.html")
        ]
    days = []
    for name in names:
        try:
            days.append(dt.date.fromisoformat(name))
        except ValueError:
            continue  # not a report folder
    return sorted(set(days), reverse=True)


def report_file(root: Path | S3Location, day: dt.date, name: str) -> bytes | None:
    """The bytes of one file of a day's report (None when there is no such file). `name`
    must match FILE_NAME (checked here too: it becomes part of a path)."""
    if not FILE_NAME.match(name):
        return None
    from transforms.report import REPORTS

    relative = f"{REPORTS}/{day.isoformat()}/{name}"
    if isinstance(root, Path):
        path = root / relative
        return path.read_bytes() if path.is_file() else None
    from transforms.lakelog import Lake

    lake = Lake(root)
    try:
        with lake.fs.open_input_file(lake.uri(relative)) as stream:
            return bytes(stream.read())
    except FileNotFoundError:
        return None
