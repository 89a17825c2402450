"""Work files of a run's stages: JSON lines, written atomically, under DATA/work/<source>/<run>/;
and the removal of what killed processes left behind."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    write_bytes(
        path,
        "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode(
            "utf-8"
        ),
    )
    return path


class JsonlWriter:
    """A JSON-lines work file written one row at a time (memory does not grow with the
    rows), under a hidden name until `close`, which renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self._handle = open(self._tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.count = 0

    def write(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        self.count += 1

    def close(self) -> Path:
        self._handle.close()
        self._tmp.replace(self.path)
        return self.path

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:  # an error: leave no partial file
            self._handle.close()
            self._tmp.unlink(missing_ok=True)


class WorkFilesGone(RuntimeError):
    """A stage's input work file is missing: the one-sentence message says what to do."""


def require(path: Path | str, stage: str) -> Path:
    """`path`, the input of `stage`, which must exist: a stage run again after its run's work
    files were removed (`keep_work_days` after the commit) must fail, not commit an empty run
    over what its first attempt stored."""
    path = Path(path)
    if not path.exists():
        raise WorkFilesGone(
            f"{path}: the {stage} stage's input is missing (a run's work files are removed "
            "keep_work_days after it committed, or an earlier stage did not run); clear the "
            "DAG run from its first task, discovered_items, to run it again whole."
        )
    return path


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    write_bytes(
        path, json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    )
    return path


def read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


LEFTOVER_AGE = dt.timedelta(days=1)  # far longer than any stage may run (Airflow's timeout: 1 h)
WRITTEN = "written.json"  # in a run's work folder once its write stage committed


def remove_leftovers(root: Path, now: dt.datetime, age: dt.timedelta = LEFTOVER_AGE) -> int:
    """Remove what killed processes left behind, once older than `age`: hidden temporary files
    (a WARC file, a Parquet or work file being written) and the work folders of runs that
    never committed. Returns how many files and folders went. Nothing younger is touched,
    so a run in progress is safe."""
    cutoff = (now - age).timestamp()
    removed = 0
    for pattern in ("raw/*/.*.tmp", "*/*=*/.*.tmp", "work/*/*/.*.tmp"):
        for path in root.glob(pattern):
            if _older(path, cutoff):
                path.unlink(missing_ok=True)
                removed += 1
    for folder in root.glob("work/*/*"):
        unfinished = folder.is_dir() and not (folder / WRITTEN).exists()
        if unfinished and all(_older(p, cutoff) for p in [folder, *folder.iterdir()]):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
