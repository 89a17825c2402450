"""A run's commit to the article dataset as one unit: its new files, the removal of what it
wrote before, and the copy flags of stored rows that its articles change.

1. Stage: each new partition file is written in `state/staging/` (never in a table folder).
2. Journal: the plan (staged file -> final name, the run's files to remove, the run whose
   rows leave compacted files, the flag updates and the files holding those rows) is written
   to `state/commit.json` so that it is complete or absent. This is the commit point.
3. Apply: renames, removals, compacted files, flag updates, the index of stored articles
   (transforms/index.py); every step can be done twice.
4. The journal is removed.

`recover`, which every writer runs under the commit lock before it reads, applies a journal
a crash left behind (the commit happens, late) and removes staged files no journal names
(a crash before the commit point: nothing happened). Readers that take no lock see the
dataset as it was before the commit until a writer recovers it. Callers hold the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.dataset import (
    ARTICLES,
    RunOutput,
    drop_from_compacted,
    is_compacted,
    output_name,
    partition_dir,
    update_columns,
)
from transforms.files import fsync_dir, fsync_file, write_json_durably
from transforms.schema import ARTICLE_SCHEMA, writer_options

_T = TypeVar("_T")
# the commit's journal and its staged files live in state/, beside the index: the table
# folders hold only their Parquet files (a journal left in articles/ by an older version is
# still found: LEGACY_JOURNAL)
JOURNAL = Path("state") / "commit.json"
LEGACY_JOURNAL = Path(ARTICLES) / ".commit.json"
STAGING = Path("state") / "staging"  # new files wait here until the commit point

log = logging.getLogger(__name__)

Crash = Callable[[str], None]  # called at each named step (tests stop the process there)
Chunks = Callable[[], Iterable[pa.Table]]  # a run's rows, a chunk at a time; can be walked again
OPEN_DAYS = 128  # staged day files written at once; a run spread over more days takes more walks
FLUSH_ROWS = 1000  # rows buffered across days before they are written out
MAX_WALKS = 8  # walks over a large run's chunks when its day counts are known (see _walks)


def commit_articles(
    table: pa.Table | Chunks,
    root: Path,
    source_id: str,
    run_key: str,
    run_id: str | None = None,
    *,
    updates: Mapping[str, Mapping[str, object]] | None = None,
    update_files: Iterable[Path] = (),
    crash: Crash | None = None,
    days: Mapping[dt.date, int] | None = None,
) -> list[Path]:
    """Write a run's articles, one file per publication day, replacing what the (source, run)
    wrote before: its files, and with `run_id` its rows in compacted files; and set `updates`
    ({article_id: {column: value}}) on the stored rows in `update_files`. One commit, the
    index of stored articles included; returns the run's files. `table` may come as
    `Chunks`, so that the run's rows are never all in memory at once; then `days`, the
    number of its rows of each publication day (UTC), lets their day files be written whole
    a few days at a time (see `_stage`)."""
    from transforms.index import open_index

    step = crash or (lambda _name: None)
    name = output_name(source_id, run_key)
    if isinstance(table, pa.Table):  # (in memory whole: one walk writes each day whole)
        whole = table
        staged, indexed = _stage(root, name, lambda: iter([whole]))
    else:
        staged, indexed = _stage(root, name, table, days)
    step("staged")
    with open_index(root) as index:
        previous = index.named(name)
        compacted = [] if run_id is None else index.run_files(source_id, run_id)
    stale = sorted(set(previous) - set(staged.values()))
    updates = {aid: dict(values) for aid, values in (updates or {}).items()}
    if not (staged or previous or compacted or updates):
        return []  # nothing written before, nothing to write: no commit at all
    plan = {
        "staged": staged,
        "remove": stale,
        "run": None if run_id is None else [source_id, run_key, run_id],
        "compacted": sorted(p for p in compacted if is_compacted(root / p)),
        "updates": updates,
        "update_files": sorted(_relative(root, p) for p in update_files),
        "index": {
            "replaced": sorted({*previous, *staged.values()}),
            "run": None if run_id is None else [source_id, run_id],
            "written": sorted(staged.values()),
            "stories": {aid: v["story_id"] for aid, v in updates.items() if "story_id" in v},
        },
    }
    write_json_durably(root / JOURNAL, plan)
    step("journalled")
    _apply(root, plan, step, indexed=indexed)
    (root / JOURNAL).unlink()
    return [root / final for final in staged.values()]


def _walks(days: Mapping[dt.date, int]) -> list[set[dt.date]]:
    """The days of a run grouped for `_stage`, in date order: each group of at most
    FLUSH_ROWS rows (a day of more, alone) and OPEN_DAYS days; for a run of more than
    MAX_WALKS x FLUSH_ROWS rows, of at most its MAX_WALKS-th part (each walk reads all the
    run's rows: the walks stay few, at most about twice MAX_WALKS, however large the run,
    and a walk's day files then take a row group per FLUSH_ROWS rows buffered)."""
    budget = max(FLUSH_ROWS, math.ceil(sum(days.values()) / MAX_WALKS))
    walks: list[set[dt.date]] = []
    rows = 0
    for day in sorted(days):
        if not walks or len(walks[-1]) >= OPEN_DAYS or rows + days[day] > budget:
            walks.append(set())
            rows = 0
        walks[-1].add(day)
        rows += days[day]
    return walks


def _stage(
    root: Path, name: str, chunks: Chunks, days: Mapping[dt.date, int] | None = None
) -> tuple[dict[str, str], dict[str, pa.Table]]:
    """Write the rows of `chunks` under hidden names in the staging folder, one file per
    publication day (each written row group sorted by time); returns {staged file: final
    name} and {final name: the index's columns of the rows written there}.

    With `days` (rows per day), each walk over the chunks writes a group of days of at most
    FLUSH_ROWS rows (`_walks`), so that a day file is one row group, however many chunks
    its rows are spread over (a file of many small row groups has a large footer, and its
    writer keeps it in memory until it is closed). A run of at most FLUSH_ROWS rows takes
    one walk; a very large run, at most about 2 x MAX_WALKS. Without `days`, one walk writes every day, FLUSH_ROWS rows at a time, as the
    rows come; a run whose rows span more than OPEN_DAYS days walks its chunks once for
    every OPEN_DAYS days. Memory: a chunk, up to FLUSH_ROWS buffered rows and the index's
    columns. Rows of a day missing from `days` are written all the same, by a last walk."""
    staging = root / STAGING
    staged: dict[str, str] = {}
    indexed: dict[str, pa.Table] = {}
    done: set[Any] = set()
    planned = set(days or ())
    walks: list[set[Any] | None] = [*_walks(days)] if days else [None]
    while walks:
        only = walks.pop(0)
        with _DayFiles(staging, name, only, planned) as files:
            for chunk in chunks():
                files.add(chunk, skip=done)
        for day, hidden in files.files.items():
            fsync_file(hidden)
            final = _relative(root, partition_dir(root, day) / name)
            staged[_relative(root, hidden)] = final
            indexed[final] = pa.concat_tables(files.indexed[day])
        done |= set(files.files)
        if files.refused and not walks:  # (days a walk left for another)
            walks.append(None)
    if staged:
        fsync_dir(staging)
    return staged, indexed


class _DayFiles:
    """The staged files of the publication days one walk writes, written as rows arrive:
    the days `only` (None: up to OPEN_DAYS days, as they come); `planned`, the days some walk
    takes (a day outside them is refused, for a last walk)."""

    def __init__(self, staging: Path, name: str, only: set[Any] | None, planned: set[Any]) -> None:
        self.staging, self.name = staging, name
        self.only, self.planned = only, planned
        self.writers: dict[Any, pq.ParquetWriter] = {}
        self.files: dict[Any, Path] = {}
        self.buffered: dict[Any, list[pa.Table]] = {}
        self.indexed: dict[Any, list[pa.Table]] = {}  # the index's columns of what is written
        self.count = 0
        self.taken: set[Any] = set()  # the days this walk writes (at most OPEN_DAYS)
        self.refused: set[Any] = set()  # days left for a later walk

    def _takes(self, day: Any) -> bool:
        if self.only is not None:
            if day not in self.only and day not in self.planned:
                self.refused.add(day)  # (not counted in the plan: a last walk writes it)
            return day in self.only
        if day in self.refused:
            return False
        if day not in self.taken:
            if len(self.taken) >= OPEN_DAYS:
                self.refused.add(day)  # all of its rows wait for a later walk
                return False
            self.taken.add(day)
        return True

    def add(self, chunk: pa.Table, skip: set[Any]) -> None:
        if not chunk.num_rows:
            return
        if not chunk.schema.equals(ARTICLE_SCHEMA):
            chunk = chunk.cast(ARTICLE_SCHEMA)
        chunk = chunk.sort_by("published_at")
        days: list[Any] = pc.cast(chunk["published_at"], pa.date32()).to_pylist()
        starts = [i for i, d in enumerate(days) if i == 0 or d != days[i - 1]]
        runs = [
            (days[start], start, stop)
            for start, stop in zip(starts, [*starts[1:], len(days)], strict=True)
            if days[start] not in skip and self._takes(days[start])
        ]
        kept = sum(stop - start for _, start, stop in runs)
        if not kept:
            return
        if kept < chunk.num_rows:  # only the rows taken stay in memory, not the whole chunk
            chunk = chunk.take(
                pa.array([i for _, start, stop in runs for i in range(start, stop)], pa.int64())
            )
            moved, at = [], 0
            for day, start, stop in runs:
                moved.append((day, at, at + stop - start))
                at += stop - start
            runs = moved
        for day, start, stop in runs:
            self.buffered.setdefault(day, []).append(chunk.slice(start, stop - start))
            self.count += stop - start
        if self.count >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        from transforms.index import INDEX_COLUMNS

        for day, parts in self.buffered.items():
            if day not in self.writers:
                hidden = (
                    self.staging / f"{uuid.uuid4().hex}-{self.name}.staged"
                )  # no reader globs it
                hidden.parent.mkdir(parents=True, exist_ok=True)
                self.writers[day] = pq.ParquetWriter(
                    hidden, ARTICLE_SCHEMA, **writer_options(ARTICLE_SCHEMA, run_file=True)
                )
                self.files[day] = hidden
            rows = pa.concat_tables(parts).sort_by("published_at")
            self.writers[day].write_table(rows)
            self.indexed.setdefault(day, []).append(rows.select(INDEX_COLUMNS))
        self.buffered.clear()
        self.count = 0

    def __enter__(self) -> _DayFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
        finally:
            for writer in self.writers.values():
                writer.close()


def recover(root: Path) -> int:
    """Finish a commit a crash interrupted after its commit point, and remove staged files of
    commits interrupted before it; returns 1 when a commit was finished, else 0."""
    journal = root / JOURNAL
    if not journal.exists() and (root / LEGACY_JOURNAL).exists():
        journal = root / LEGACY_JOURNAL
    finished = 0
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        plan = None
    except (OSError, ValueError) as exc:  # written durably, so only a damaged disk gets here
        log.warning("%s: unreadable (%s); removed it, the commit did not happen", journal, exc)
        journal.unlink(missing_ok=True)
        plan = None
    if plan is not None:
        _apply(root, plan, lambda _name: None, redo=True)
        journal.unlink()
        log.info("%s: finished a commit that a crash interrupted", journal)
        finished = 1
    for staging in (root / STAGING, root / ARTICLES / ".staging"):  # and an older version's
        if staging.is_dir():
            for leftover in staging.iterdir():
                leftover.unlink(missing_ok=True)  # staged before a crash, never committed
    with contextlib.suppress(OSError):
        (root / ARTICLES / ".staging").rmdir()
    return finished


def _apply(
    root: Path,
    plan: dict[str, Any],
    step: Crash,
    *,
    redo: bool = False,
    indexed: Mapping[str, pa.Table] | None = None,
) -> None:
    """Carry out a journalled plan; each part is a no-op the second time. The new names are
    made durable before the caller removes the journal. `indexed`: the index's columns of
    the files the plan writes, as written (else the index reads them from the files)."""
    from transforms.index import open_index

    for hidden, final in plan["staged"].items():
        if (root / hidden).exists():
            (root / final).parent.mkdir(parents=True, exist_ok=True)
            (root / hidden).replace(root / final)
    for folder in {(root / final).parent for final in plan["staged"].values()}:
        fsync_dir(folder)
    step("renamed")
    for name in plan["remove"]:
        (root / name).unlink(missing_ok=True)
    if plan["run"] is not None:
        compacted = [root / p for p in plan["compacted"]]
        drop_from_compacted(root, RunOutput(*plan["run"]), [p for p in compacted if p.exists()])
    step("replaced")
    files = {root / name for name in plan["update_files"]}
    update_columns(root, plan["updates"], {f for f in files if f.exists()})
    step("flagged")
    with open_index(root) as index:
        index.apply(plan, redo=redo, tables=indexed)
    step("indexed")


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# ----------------------------------------------------------------------------- the lock


@contextmanager
def commit_lock(root: Path) -> Iterator[None]:
    """Serialise commits to one data root across processes: dedup reads what is stored and
    writes what is new, and two runs must not both decide a story is new. Whoever takes the
    lock first finishes a run's commit or a compaction that was interrupted.

    On the mirror of an object store (transforms/lakemirror.py) the mirror is brought up to
    date from the store first, and what the block changed is published after it; publishing
    raises MirrorBehind when another machine published meanwhile (nothing was published:
    take the lock again and redo the work)."""
    import fcntl

    from transforms.lakemirror import lake_of, publish, sync

    lock = root / "state" / "commit.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _recover(root)
            lake = lake_of(root)
            if lake is not None:  # a mirror of an object store: up to date before deciding
                sync(root, lake)
            yield
            if lake is not None:
                publish(root, lake)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


MIRROR_ATTEMPTS = 5  # a block redone when other machines keep publishing first


def locked(root: Path, work: Callable[[], _T]) -> _T:
    """`work()` under the commit lock; on the mirror of an object store, done again (on the
    synced mirror) when another machine published first, up to MIRROR_ATTEMPTS times."""
    from transforms.exceptions import MirrorBehind

    for attempt in range(1, MIRROR_ATTEMPTS + 1):
        try:
            with commit_lock(root):
                return work()
        except MirrorBehind:
            if attempt == MIRROR_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def synced(root: Path) -> None:
    """On the mirror of an object store: brought up to date now (the commit lock taken and
    given back); nothing on a local data root."""
    from transforms.lakemirror import lake_of

    if lake_of(root) is not None:
        locked(root, lambda: None)


@contextmanager
def current(root: Path) -> Iterator[None]:
    """For a block that reads the dataset and may write a table: on the mirror of an object
    store, the commit lock (the mirror synced before, what changed published after); on a
    local data root, nothing (readers take no lock)."""
    from transforms.lakemirror import lake_of

    if lake_of(root) is None:
        yield
        return
    with commit_lock(root):  # (a block that writes should go through `locked`)
        yield


def recover_if_idle(root: Path) -> bool:
    """For readers: finish what an interrupted commit or compaction left, when no writer holds
    the lock (a reader never waits) and the data root is writable; returns whether it could."""
    import fcntl

    try:
        handle = open(root / "state" / "commit.lock", "a+")  # noqa: SIM115 - closed below
    except OSError:  # no lock file yet, or a read-only data root
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            _recover(root)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def _recover(root: Path) -> None:
    from transforms import compaction

    recover(root)
    compaction.recover(root)
