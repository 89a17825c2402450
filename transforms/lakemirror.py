"""A data root on an object store, worked on through a local mirror.

Every writer works on a local folder as it does for a local data root (the journalled commit,
the index of stored articles, the locks): the mirror, kept under NEWSFLOW_CACHE_DIR (default
~/.cache/newsflow), one folder per `s3://bucket/prefix`. The object store is the truth; the
mirror is brought up to date from it before each commit and what the commit changed is
published to it after:

- **Tables** (articles, quarantine, runs, quality): published through the log of commits
  (transforms/lakelog.py). Each local file is uploaded under a unique key (its name with a
  random part) and one log commit adds the new keys and removes the keys they replace, so a
  reader of the log never sees a partial or doubled file. `state/lake.json` (the manifest)
  records the log number the mirror is at and, per local file, its key, size and mtime.
- **Sync** (`sync`, under the commit lock, after a crash's journal is finished): the files
  the log publishes since the manifest's number are downloaded, the files it no longer
  publishes deleted, and the index of stored articles told which files changed.
- **Publish** (`publish`): the table files that differ from the manifest are uploaded and
  published as the commit right after the manifest's number, and no other: a mirror that
  decided what to write without a commit another writer made meanwhile publishes nothing
  (`MirrorBehind`); the caller syncs and does its commit again. Local changes that were
  never published (a crash between the local commit and the publish) are published by the
  next sync when the log has not moved, and dropped for the log's files when it has (the
  run is done again: its work files are still there).
- **Work files and raw WARC** are plain objects under the same relative keys (`push`,
  `pull`), so the tasks of one run can run on different machines.

Cost: a sync reads the log since the mirror's number (at most a checkpoint and
lakelog.CHECKPOINT_EVERY commits) and lists the mirror's table files; it downloads only what
changed. A new machine downloads the whole dataset once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transforms.cachedir import cache_base
from transforms.exceptions import MirrorBehind
from transforms.files import fsync_dir, write_json_durably
from transforms.lakelog import TABLES, CommitConflict, Lake
from transforms.objectstore import S3Location

REMOTE = Path("state") / "remote.json"  # the object store this folder mirrors
MANIFEST = Path("state") / "lake.json"
_UNIQUE = re.compile(r"\.[0-9a-f]{12}(?=\.[^./]+$)")  # the random part of a published key

log = logging.getLogger(__name__)

Files = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)


def cache_root(uri: str) -> Path:
    """The local mirror of the data root `uri`."""
    base = cache_base()
    location = S3Location.parse(uri)
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or ""  # one bucket name on two stores
    digest = hashlib.sha256(f"{endpoint} {location}".encode()).hexdigest()[:16]
    return base / f"{location.bucket}-{digest}"


def attach(uri: str) -> Path:
    """The mirror of `uri`, created (empty, at log number 0) when missing."""
    root = cache_root(uri)
    remote = root / REMOTE
    if not remote.exists():
        remote.parent.mkdir(parents=True, exist_ok=True)
        write_json_durably(remote, {"uri": str(S3Location.parse(uri))})
    return root


def lake_of(root: Path) -> Lake | None:
    """The log of the object store `root` mirrors; None for a local data root."""
    remote = root / REMOTE
    if not remote.exists():
        return None
    uri = json.loads(remote.read_text(encoding="utf-8"))["uri"]
    return Lake(S3Location.parse(uri))


def local_name(key: str) -> str:
    """The mirror's path of a published file (its key without the random part)."""
    return _UNIQUE.sub("", key, count=1)


def unique_key(path: str) -> str:
    """A new key for the local file `path`: its name with a random part."""
    stem, _, suffix = path.rpartition(".")
    return f"{stem}.{uuid.uuid4().hex[:12]}.{suffix}"


# ------------------------------------------------------------------------------ manifest


@dataclass
class Manifest:
    seq: int
    files: dict[str, list[Any]]  # local path -> [key, size, mtime_ns]

    @classmethod
    def load(cls, root: Path) -> Manifest:
        path = root / MANIFEST
        if not path.exists():
            return cls(0, {})
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(data["seq"]), dict(data["files"]))

    def save(self, root: Path) -> None:
        write_json_durably(root / MANIFEST, {"seq": self.seq, "files": self.files})

    def changed(self, local: Files) -> tuple[list[str], list[str]]:
        """Local files new or different since the manifest, and files of the manifest gone."""
        differ = [p for p, v in local.items() if tuple(self.files.get(p, [None])[1:]) != v]
        gone = [p for p in self.files if p not in local]
        return sorted(differ), sorted(gone)


def table_files(root: Path) -> Files:
    """The mirror's table files (Parquet files of the published tables, hidden ones aside)."""
    found: Files = {}
    for table in TABLES:
        folder = root / table
        if not folder.is_dir():
            continue
        for path in folder.rglob("*.parquet"):
            relative = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in relative.split("/")):
                continue
            stat = path.stat()
            found[relative] = (stat.st_size, stat.st_mtime_ns)
    return found


# ---------------------------------------------------------------------------- sync, publish


def sync(root: Path, lake: Lake) -> int:
    """Bring the mirror to the log's newest commit (the caller holds the commit lock and has
    finished any journal a crash left); returns the files downloaded or deleted."""
    manifest = Manifest.load(root)
    local = table_files(root)
    differ, gone = manifest.changed(local)
    snapshot = lake.published()
    if differ or gone:
        if snapshot.seq == manifest.seq:
            log.info(
                "%s: publishing %d local change(s) a crash left", root, len(differ) + len(gone)
            )
            publish(root, lake)
            return 0
        log.warning(
            "%s: %d local change(s) were never published and the log has moved on; the log's "
            "files replace them (the runs that made them are done again)",
            root,
            len(differ) + len(gone),
        )
    remote = {local_name(k): k for keys in snapshot.files.values() for k in keys}
    have = {p: entry[0] for p, entry in manifest.files.items()}
    fetch = sorted(
        p for p, k in remote.items() if have.get(p) != k or p in differ or p not in local
    )
    drop = sorted(p for p in local if p not in remote)
    for path in fetch:
        _download(lake, remote[path], root / path)
    if fetch or drop:  # before the deletions: a crash between leaves them to the next sync
        _reindex(root, fetch, drop)
    for path in drop:
        (root / path).unlink(missing_ok=True)
    now = table_files(root)
    manifest = Manifest(snapshot.seq, {p: [k, *now[p]] for p, k in remote.items() if p in now})
    manifest.save(root)
    return len(fetch) + len(drop)


def publish(root: Path, lake: Lake) -> int:
    """Publish the mirror's table files that differ from the manifest as the commit right
    after the manifest's number; returns that number (the manifest's, when nothing changed).
    Raises MirrorBehind when another writer published first."""
    manifest = Manifest.load(root)
    local = table_files(root)
    differ, gone = manifest.changed(local)
    if not (differ or gone):
        return manifest.seq
    add: dict[str, list[str]] = {}
    remove: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for path in differ:
        keys[path] = key = unique_key(path)
        _upload(lake, root / path, key)
        add.setdefault(_table(path), []).append(key)
    for path in [*differ, *gone]:
        if path in manifest.files:
            remove.setdefault(_table(path), []).append(manifest.files[path][0])
    try:
        seq = lake.commit(add, remove, after=manifest.seq)
    except CommitConflict as exc:
        raise MirrorBehind(str(exc)) from None
    for path in gone:
        del manifest.files[path]
    for path, key in keys.items():
        manifest.files[path] = [key, *local[path]]
    manifest.seq = seq
    manifest.save(root)
    return seq


def publish_mirror(root: Path) -> None:
    """`publish` when `root` mirrors an object store (under the commit lock)."""
    lake = lake_of(root)
    if lake is not None:
        publish(root, lake)


def _table(path: str) -> str:
    return path.split("/", 1)[0]


def _reindex(root: Path, fetched: Iterable[str], dropped: Iterable[str]) -> None:
    """Tell the index of stored articles which article files changed under it."""
    from transforms.index import open_index

    fetched = [p for p in fetched if _table(p) == "articles"]
    dropped = [p for p in dropped if _table(p) == "articles"]
    if not (fetched or dropped):
        return
    change: dict[str, Any] = {
        "replaced": [*fetched, *dropped],
        "run": None,
        "written": fetched,
        "stories": {},
    }
    with open_index(root) as index:
        index.apply({"index": change}, redo=True)


def _download(lake: Lake, key: str, target: Path, mtime: float | None = None) -> None:
    """`key` to `target`, whole or not at all, and durable before the manifest names it
    (with the store's modification time when given, for `pull` to compare)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with lake.fs.open_input_stream(lake.uri(key)) as stream, open(partial, "wb") as out:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if mtime is not None:
            os.utime(partial, (mtime, mtime))
        partial.replace(target)
        fsync_dir(target.parent)
    finally:
        partial.unlink(missing_ok=True)


def _upload(lake: Lake, source: Path, key: str) -> None:
    with open(source, "rb") as data, lake.fs.open_output_stream(lake.uri(key)) as out:
        while chunk := data.read(1 << 20):
            out.write(chunk)


# ----------------------------------------------------------------------- work files, WARC


def push(root: Path, paths: Iterable[Path]) -> int:
    """Upload files of the mirror (work files, WARC) under their relative keys, so that the
    next task of the run finds them on any machine; returns how many."""
    lake = lake_of(root)
    if lake is None:
        return 0
    count = 0
    for path in paths:
        if path.is_file() and not path.name.startswith("."):
            _upload(lake, path, path.relative_to(root).as_posix())
            count += 1
    return count


def pull(root: Path, path: Path) -> int:
    """Download what the mirror lacks (or has in another size) of `path`: a file (a run's
    WARC) or a folder (a run's work folder); returns how many files came."""
    import pyarrow.fs as pafs

    lake = lake_of(root)
    if lake is None:
        return 0
    base = lake.location.path()
    info = lake.fs.get_file_info(lake.uri(path.relative_to(root).as_posix()))
    if info.type == pafs.FileType.Directory:
        selector = pafs.FileSelector(info.path, recursive=True)
        found = [i for i in lake.fs.get_file_info(selector) if i.type == pafs.FileType.File]
    else:
        found = [info] if info.type == pafs.FileType.File else []
    count = 0
    for item in found:
        relative = item.path[len(base) + 1 :]
        target = root / relative
        stamp = item.mtime.timestamp() if item.mtime is not None else None
        if target.exists():
            here = target.stat()
            # the same object when the size matches and the local copy is no older (an
            # earlier stage's file, rewritten by a task run again elsewhere, is newer there)
            if here.st_size == item.size and (stamp is None or here.st_mtime >= stamp):
                continue
        _download(lake, relative, target, stamp)
        count += 1
    return count


def expire_remote(
    root: Path,
    now: dt.datetime,
    keep_work_days: float,
    keep_raw_days: float | None,
    leftover_age: dt.timedelta,
    written: str = "written.json",
) -> dict[str, int]:
    """Retention on the object store a mirror stands for, by the local rules (see
    ingest.run.retention): a run's work folder goes once `keep_work_days` after its newest
    object when it holds `written` (the run committed), or once `leftover_age` old when it
    does not (a run that never committed); raw WARC objects once `keep_raw_days` old (never
    when None). Lists work/ and raw/ only: the cost follows the runs kept, not the articles.
    Returns the objects removed, by kind."""
    import pyarrow.fs as pafs

    done = {"work_objects": 0, "raw_objects": 0}
    lake = lake_of(root)
    if lake is None:
        return done
    base = lake.location.path()

    def listing(prefix: str) -> list[Any]:
        selector = pafs.FileSelector(lake.uri(prefix), recursive=True, allow_not_found=True)
        return [i for i in lake.fs.get_file_info(selector) if i.type == pafs.FileType.File]

    folders: dict[str, list[Any]] = {}
    for info in listing("work"):
        relative = info.path[len(base) + 1 :]
        folder = "/".join(relative.split("/")[:3])  # work/<source>/<run>
        folders.setdefault(folder, []).append(info)
    for objects in folders.values():
        newest = max(i.mtime for i in objects).astimezone(dt.UTC)
        committed = any(i.path.endswith(f"/{written}") for i in objects)
        keep = dt.timedelta(days=keep_work_days) if committed else leftover_age
        if now - newest > keep:
            for info in objects:
                lake.fs.delete_file(info.path)
                done["work_objects"] += 1
    if keep_raw_days is not None:
        for info in listing("raw"):
            if now - info.mtime.astimezone(dt.UTC) > dt.timedelta(days=keep_raw_days):
                lake.fs.delete_file(info.path)
                done["raw_objects"] += 1
    return done
