"""Publishing a dataset on an object store, where there is no rename: the log of commits.

A data root on S3 (`s3://bucket/prefix`) keeps its tables' Parquet files under the usual
Hive-partitioned paths (`articles/published_date=YYYY-MM-DD/...`), each written once under a
unique name. Which files make up the dataset is said by a log under `_log/`:

- `_log/<seq>.json` (seq zero-padded to 12 digits): one commit, the files it adds and the
  files it removes, by table. A writer claims the next number with a conditional create
  (`If-None-Match: *`), so of two writers racing for a number exactly one wins; the other
  reads the log again and retries on the next number (or gives up when a file it meant to
  remove is no longer published: a conflict).
- `_log/<seq>.checkpoint.json`: every CHECKPOINT_EVERY commits, the whole set of published
  files at that number, so a reader replays at most that many commits. Commits older than
  the checkpoint before the newest one are deleted, so the log's length (and a reader's
  listing) stays bounded however long the dataset lives.

Readers take the published files from the log (`published`), never from a listing of the
folders: a file written by a writer that died before its commit, or one a later commit
removed, is never read. Such files are deleted by `collect_garbage` once older than a grace
period (a reader that listed the log just before a commit may still be reading them).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transforms.objectstore import S3Credentials, S3Location, put_if_absent

LOG = "_log"
CHECKPOINT_EVERY = 50
GRACE = dt.timedelta(hours=1)  # unpublished files written or removed since are left alone
TABLES = ("articles", "quarantine", "runs", "quality")  # the folders garbage is looked for in
_WIDTH = 12


class CommitConflict(Exception):
    """A commit removes a file that is no longer published (another writer removed it)."""


@dataclass
class Snapshot:
    """The published files at one commit number, by table (paths relative to the root)."""

    seq: int = 0
    files: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, record: Mapping[str, Any]) -> None:
        for table, paths in record.get("remove", {}).items():
            self.files.setdefault(table, set()).difference_update(paths)
        for table, paths in record.get("add", {}).items():
            self.files.setdefault(table, set()).update(paths)
        self.seq = int(record["seq"])


class Lake:
    """The log of one data root on an object store."""

    def __init__(self, location: S3Location, credentials: S3Credentials | None = None) -> None:
        self.location = location
        self.credentials = credentials or S3Credentials.from_env()
        self.fs = self.credentials.filesystem()

    # ------------------------------------------------------------------------------ reading

    def published(self) -> Snapshot:
        """The published files as of the newest commit."""
        for _ in range(5):  # a commit pruned while this listed: list again
            commits, checkpoints = self._listing()
            start = max(checkpoints, default=0)
            try:
                snapshot = self._checkpoint(start) if start else Snapshot()
                for seq in sorted(c for c in commits if c > start):
                    snapshot.apply(self._read(self._key(seq)))
            except FileNotFoundError:
                continue
            return snapshot
        raise RuntimeError(f"{self.location}: the log changed under five readings in a row")

    def uri(self, relative: str) -> str:
        """The pyarrow path (`bucket/key`) of a file relative to the root."""
        return self.location.path(relative)

    # ------------------------------------------------------------------------------ writing

    def new_name(self, table: str, partition: str, name: str) -> str:
        """A unique path for a new file of `table` (relative to the root): `name` with a
        random part, so that no two writers, and no retry, ever write the same object."""
        stem, _, suffix = name.rpartition(".")
        return f"{table}/{partition}/{stem}.{uuid.uuid4().hex[:12]}.{suffix}"

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a data file (unpublished until a commit adds it)."""
        with self.fs.open_output_stream(self.uri(relative)) as out:
            out.write(data)

    def commit(
        self,
        add: Mapping[str, Iterable[str]] | None = None,
        remove: Mapping[str, Iterable[str]] | None = None,
        *,
        attempts: int = 50,
        after: int | None = None,
    ) -> int:
        """Publish `add` and unpublish `remove` ({table: [relative paths]}) as one commit;
        returns its number. Retries when another writer took the number first; raises
        CommitConflict when a file to remove is no longer published, and, with `after`, when
        the commit cannot be the one right after number `after` (a writer that decided what
        to write from the dataset as of `after` must not publish over commits it has not
        seen)."""
        added = {t: sorted(set(p)) for t, p in (add or {}).items()}
        removed = {t: sorted(set(p)) for t, p in (remove or {}).items()}
        for attempt in range(attempts):
            snapshot = self.published()
            if after is not None and snapshot.seq != after:
                raise CommitConflict(
                    f"{self.location}: commit {snapshot.seq} was published since commit {after}"
                )
            for table, paths in removed.items():
                gone = set(paths) - snapshot.files.get(table, set())
                if gone:
                    raise CommitConflict(
                        f"{self.location}: {table} files no longer published: {sorted(gone)[:3]}"
                    )
            seq = snapshot.seq + 1
            record = {
                "seq": seq,
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "add": added,
                "remove": removed,
            }
            body = json.dumps(record, sort_keys=True).encode()
            if put_if_absent(self.credentials, self.location.bucket, self._key(seq), body):
                if max(self._listing()[1], default=0) >= seq:
                    # a writer that stalled past a checkpoint created a number already pruned:
                    # readers start after it, so this commit does not count; take another
                    if after is not None:
                        raise CommitConflict(f"{self.location}: commit {seq} came too late")
                    continue
                if seq % CHECKPOINT_EVERY == 0:
                    snapshot.apply(record)
                    self._write_checkpoint(snapshot)
                return seq
            if after is not None:
                raise CommitConflict(f"{self.location}: another writer published commit {seq}")
            time.sleep(min(0.5, 0.01 * 2**attempt))  # another writer won this number
        raise RuntimeError(f"{self.location}: no commit number won in {attempts} attempts")

    def collect_garbage(
        self, now: dt.datetime | None = None, tables: Iterable[str] = TABLES
    ) -> int:
        """Delete the files of `tables` that no commit publishes (a dead writer's, or removed
        by a later commit) once written more than GRACE ago and not removed by a commit in the
        last GRACE (a reader may still be reading them); returns how many went."""
        import pyarrow.fs as pafs

        now = now or dt.datetime.now(dt.UTC)
        live = {p for paths in self.published().files.values() for p in paths}
        recent = self._recently_removed(now)
        base = self.location.path()
        removed = 0
        for table in tables:
            selector = pafs.FileSelector(self.uri(table), recursive=True, allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                relative = info.path[len(base) + 1 :]
                if info.type != pafs.FileType.File or relative in live or relative in recent:
                    continue
                if info.mtime is not None and now - info.mtime.astimezone(dt.UTC) < GRACE:
                    continue
                self.fs.delete_file(info.path)
                removed += 1
        return removed

    def _recently_removed(self, now: dt.datetime) -> set[str]:
        """Files that commits still in the log removed less than GRACE before `now`."""
        found: set[str] = set()
        for seq in self._listing()[0]:
            try:
                record = self._read(self._key(seq))
            except FileNotFoundError:
                continue  # pruned meanwhile: older than any checkpoint reader's start
            if now - dt.datetime.fromisoformat(record["at"]) < GRACE:
                found.update(p for paths in record.get("remove", {}).values() for p in paths)
        return found

    # ------------------------------------------------------------------------------ the log

    def _key(self, seq: int, kind: str = "json") -> str:
        return self.location.key(f"{LOG}/{seq:0{_WIDTH}d}.{kind}")

    def _listing(self) -> tuple[list[int], list[int]]:
        """The commit numbers and the checkpoint numbers in the log."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.location.path(LOG), allow_not_found=True)
        commits, checkpoints = [], []
        for info in self.fs.get_file_info(selector):
            name = info.path.rsplit("/", 1)[-1]
            number, _, kind = name.partition(".")
            if not number.isdigit():
                continue
            if kind == "json":
                commits.append(int(number))
            elif kind == "checkpoint.json":
                checkpoints.append(int(number))
        return commits, checkpoints

    def _read(self, key: str) -> dict[str, Any]:
        with self.fs.open_input_stream(f"{self.location.bucket}/{key}") as stream:
            data: dict[str, Any] = json.loads(stream.read())
        return data

    def _checkpoint(self, seq: int) -> Snapshot:
        data = self._read(self._key(seq, "checkpoint.json"))
        return Snapshot(int(data["seq"]), {t: set(p) for t, p in data["files"].items()})

    def _write_checkpoint(self, snapshot: Snapshot) -> None:
        """Write the checkpoint at `snapshot.seq`, then delete the commits (and checkpoints)
        before the previous checkpoint: readers that started from it can still finish."""
        body = json.dumps(
            {"seq": snapshot.seq, "files": {t: sorted(p) for t, p in snapshot.files.items()}},
            sort_keys=True,
        ).encode()
        key = f"{self.location.bucket}/{self._key(snapshot.seq, 'checkpoint.json')}"
        with self.fs.open_output_stream(key) as out:
            out.write(body)
        keep_from = snapshot.seq - CHECKPOINT_EVERY
        commits, checkpoints = self._listing()
        for seq in commits:
            if seq <= keep_from:
                self.fs.delete_file(f"{self.location.bucket}/{self._key(seq)}")
        for seq in checkpoints:
            if seq < keep_from:
                self.fs.delete_file(f"{self.location.bucket}/{self._key(seq, 'checkpoint.json')}")
