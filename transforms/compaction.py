"""Compaction: merge the many small files of an older partition into one, sorted by
`published_at`, with a target row-group size and zstd compression. The runs and quarantine
tables (a small file per run) have their older `run_date` partitions merged the same way, so
that what a reader lists and opens does not grow with every run ever made; a run written
again into such a partition replaces its rows inside the merged file
(transforms/dataset.py: commit_run_metrics, commit_quarantine).

Crash safety: a journal (`.compaction.json` in the partition) names the inputs and the
target before anything changes, written atomically (a temporary file, fsync, rename), so it is
complete or absent; the target is written atomically; the inputs are deleted; the journal
goes last. An interrupted compaction is finished (target present: delete the inputs still
there) or undone (target absent: nothing changed) by `recover` — which every commit runs
under the dataset's lock before it reads — so no row is ever lost or stored twice once any
writer has run. Readers that take no lock see the same rows through `published_files`.
A journal that cannot be read (torn by a crash or a full disk) is removed with a warning,
after removing the files whose rows a compacted file of the partition already holds (a
compaction that finished while its journal was lost); nothing else changes. Callers hold
the commit lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.dataset import (
    ARTICLES,
    COMPACTED_PREFIX,
    QUARANTINE,
    RUNS,
    is_compacted,
    write_atomic,
)
from transforms.exceptions import CorruptFile
from transforms.files import fsync_dir, read_columns, read_stored, reading, write_json_durably
from transforms.schema import (
    ARTICLE_SCHEMA,
    PARTITION_COLUMN,
    QUARANTINE_SCHEMA,
    RUNS_SCHEMA,
    SCHEMA_VERSION,
    SORT_ORDER,
)

JOURNAL = ".compaction.json"
ROW_GROUP_ROWS = 50_000  # about 100-200 MB of articles: large enough for fast scans
# the tables beside the articles: a small file per run (or per run with quarantined items),
# whose older partitions are merged the same way (no index to tell)
SIDE_TABLES = {QUARANTINE: QUARANTINE_SCHEMA, RUNS: RUNS_SCHEMA}
# what names a row of each table, to tell which files a compacted file holds the rows of
ROW_KEYS = {
    ARTICLES: ("article_id",),
    RUNS: ("source_id", "run_id", "interval_start", "interval_end"),
    QUARANTINE: ("source_id", "run_id", "stage", "url", "reason", "at"),
}

log = logging.getLogger(__name__)


def compact(
    root: Path,
    older_than: dt.timedelta,
    now: dt.datetime,
    row_group_rows: int = ROW_GROUP_ROWS,
    after_write: Callable[[Path], None] | None = None,
) -> dict[str, int]:
    """Compact every partition whose day is older than `now - older_than` and that has more
    than one file (or one file not yet compacted), and every partition, of any day, with a
    file of an older schema version: the compacted file has the current schema, so every
    reader (pandas, polars, pyarrow, DuckDB) sees every column after an upgrade that added
    some. Returns counts. `after_write` is called between writing a target and deleting its
    inputs (for tests that interrupt it there). Raises CorruptFile when an input is not
    readable Parquet (its partition is left as it was)."""
    recover(root)
    cutoff = (now - older_than).date()
    done = {"partitions": 0, "files": 0, "rows": 0, "upgraded": 0}
    for part in sorted((root / ARTICLES).glob(f"{PARTITION_COLUMN}=*")):
        day = dt.date.fromisoformat(part.name.removeprefix(f"{PARTITION_COLUMN}="))
        inputs = sorted(part.glob("*.parquet"))
        old = any(outdated(path) for path in inputs)
        due = day < cutoff and not (len(inputs) == 1 and is_compacted(inputs[0]))
        if not inputs or not (due or old):
            continue
        done["upgraded"] += old
        rows = _compact_partition(part, inputs, row_group_rows, after_write)
        done["partitions"] += 1
        done["files"] += len(inputs)
        done["rows"] += rows
    done["side_partitions"], done["side_files"] = 0, 0
    for folder, schema in SIDE_TABLES.items():
        for part in sorted((root / folder).glob("*=*")):
            inputs = sorted(part.glob("*.parquet"))
            day = dt.date.fromisoformat(part.name.split("=", 1)[1])
            if day >= cutoff or not inputs or (len(inputs) == 1 and is_compacted(inputs[0])):
                continue
            _compact_side(part, inputs, schema, after_write)
            done["side_partitions"] += 1
            done["side_files"] += len(inputs)
    return done


def upgrade_tables(root: Path) -> int:
    """Rewrite, in the current schema, every file of the quarantine and runs tables whose
    footer states an older schema version (one small file per run: each is replaced
    atomically, no journal needed); returns how many. The articles table's files are
    upgraded by `compact`. The caller holds the commit lock."""
    upgraded = 0
    for folder, schema in ((QUARANTINE, QUARANTINE_SCHEMA), (RUNS, RUNS_SCHEMA)):
        for path in sorted((root / folder).glob("*/*.parquet")):
            if outdated(path):
                write_atomic(read_stored(path, schema), path)
                upgraded += 1
    return upgraded


def outdated(path: Path) -> bool:
    """Whether a table file was written with an older schema than SCHEMA_VERSION (its footer
    states another version, or none). An unreadable file is left to the checks that name it."""
    try:
        with reading(path):
            metadata = pq.read_schema(path).metadata or {}
    except CorruptFile:
        return False
    return metadata.get(b"newsflow.schema_version") != SCHEMA_VERSION.encode()


def _compact_partition(
    part: Path,
    inputs: list[Path],
    row_group_rows: int,
    after_write: Callable[[Path], None] | None,
) -> int:
    def merged(target: Path) -> int:
        tables = [read_stored(path, ARTICLE_SCHEMA) for path in inputs]
        table = pa.concat_tables(tables).sort_by(list(SORT_ORDER))
        write_atomic(
            table, target, row_group_size=row_group_rows, sorted_rows=True, rows_from=inputs
        )
        return table.num_rows

    return _journalled(part, inputs, merged, after_write)


def _compact_side(
    part: Path, inputs: list[Path], schema: pa.Schema, after_write: Callable[[Path], None] | None
) -> int:
    """Merge the files of an older partition of the runs or quarantine table into one."""

    def merged(target: Path) -> int:
        table = pa.concat_tables([read_stored(path, schema) for path in inputs])
        write_atomic(table.sort_by([("source_id", "ascending"), ("run_id", "ascending")]), target)
        return table.num_rows

    return _journalled(part, inputs, merged, after_write)


def _journalled(
    part: Path,
    inputs: list[Path],
    merge: Callable[[Path], int],
    after_write: Callable[[Path], None] | None,
) -> int:
    """The compaction protocol (see the module's docstring): the journal, the merged target
    (`merge` writes it and returns its rows), the inputs removed, the journal removed."""
    digest = hashlib.sha256("\n".join(p.name for p in inputs).encode()).hexdigest()[:16]
    target = part / f"{COMPACTED_PREFIX}{digest}.parquet"
    journal = part / JOURNAL
    write_json_durably(journal, {"inputs": [p.name for p in inputs], "target": target.name})
    try:
        rows = merge(target)
        fsync_dir(part)  # the target's name is durable before any input goes
    except Exception:
        if not target.exists():  # nothing changed: the plan is void
            journal.unlink(missing_ok=True)
        raise
    if after_write is not None:
        after_write(target)
    for path in inputs:
        if path != target:
            path.unlink(missing_ok=True)
    _moved(part, [p.name for p in inputs], target.name)
    journal.unlink()
    return rows


def recover(root: Path) -> int:
    """Finish or undo compactions that were interrupted; returns how many it found. An
    unreadable journal is removed with a warning naming it (see the module's docstring)."""
    found = 0
    journals = [j for table in ROW_KEYS for j in sorted((root / table).glob(f"*=*/{JOURNAL}"))]
    for journal in journals:
        part = journal.parent
        try:
            plan = _read_plan(journal)
        except ValueError as exc:
            found += 1
            _recover_unreadable(journal, str(exc))
            continue
        if plan is None:  # gone meanwhile
            continue
        found += 1
        if (part / plan.target).exists():  # the merged file is complete: finish
            for name in plan.inputs:
                if name != plan.target:
                    (part / name).unlink(missing_ok=True)
            _moved(part, list(plan.inputs), plan.target)
        journal.unlink(missing_ok=True)  # otherwise nothing had changed: the inputs are all there
    return found


def _moved(part: Path, inputs: list[str], target: str) -> None:
    """Tell the index of stored articles that the rows of `inputs` are in `target` now (the
    other tables have no index)."""
    from transforms.index import ArticleIndex

    if part.parent.name != ARTICLES:
        return
    root = part.parent.parent
    prefix = f"{ARTICLES}/{part.name}/"
    with ArticleIndex(root) as index:
        index.moved([prefix + name for name in inputs], prefix + target)


def published_files(root: Path, folder: str) -> list[Path]:
    """The Parquet files of the table folder `folder` (articles, quarantine, runs) that hold
    its rows: every `<partition>/*.parquet` except the inputs of a pending compaction whose
    target is complete (the target holds their rows); what `recover` would leave, without
    changing anything. Raises CorruptFile when a partition whose journal is unreadable has a
    file that cannot be read."""
    files: list[Path] = []
    for part in sorted(p for p in (root / folder).glob("*") if p.is_dir()):
        files += partition_files(part)
    return files


def partition_files(part: Path) -> list[Path]:
    """The files of one partition that hold its rows (see `published_files`)."""
    hidden = _superseded(part)
    return [f for f in sorted(part.glob("*.parquet")) if f.name not in hidden]


@dataclass(frozen=True)
class _Plan:
    inputs: tuple[str, ...]
    target: str


def _read_plan(journal: Path) -> _Plan | None:
    """The journal's plan; None when there is no journal; ValueError saying why it cannot be
    used (empty, torn JSON, or not naming files of its partition)."""
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise ValueError("it is empty")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"it is not complete JSON: {exc}") from exc
    inputs = data.get("inputs") if isinstance(data, dict) else None
    target = data.get("target") if isinstance(data, dict) else None
    if not isinstance(inputs, list) or not all(map(_file_name, [*inputs, target])):
        raise ValueError("it does not name its inputs and target as files of its partition")
    return _Plan(tuple(inputs), str(target))


def _file_name(name: object) -> bool:
    return isinstance(name, str) and name.endswith(".parquet") and Path(name).name == name


def _superseded(part: Path) -> set[str]:
    """Names of the files of `part` whose rows a pending compaction's target already holds."""
    try:
        plan = _read_plan(part / JOURNAL)
    except ValueError:
        return {p.name for p in _unjournaled(part)[1]}
    if plan is None or not (part / plan.target).exists():
        return set()  # no compaction pending, or it had changed nothing yet
    return set(plan.inputs) - {plan.target}


def _unjournaled(part: Path) -> tuple[Path | None, list[Path]]:
    """For a partition whose journal is unreadable: its largest compacted file and the other
    files all of whose rows (by ROW_KEYS) that file holds, the inputs of a compaction that
    finished; (None, []) without a compacted file. Raises CorruptFile for an unreadable file."""
    files = sorted(part.glob("*.parquet"))
    compacted = [f for f in files if is_compacted(f)]
    if not compacted:
        return None, []
    ids = {f: _row_keys(f) for f in files}
    container = max(compacted, key=lambda f: (len(ids[f]), f.name))
    return container, [f for f in files if f != container and ids[f] <= ids[container]]


def _row_keys(path: Path) -> set[tuple[str, ...]]:
    """What names each row of a stored file (ROW_KEYS of its table)."""
    columns = list(ROW_KEYS.get(path.parent.parent.name, ROW_KEYS[ARTICLES]))
    with reading(path):
        rows = read_columns(path, columns).to_pylist()
    return {tuple(str(row[c]) for c in columns) for row in rows}


def _recover_unreadable(journal: Path, why: str) -> None:
    try:
        container, leftovers = _unjournaled(journal.parent)
    except CorruptFile as exc:
        log.warning(
            "%s: compaction journal unreadable (%s) and the partition cannot be checked (%s); "
            "removed the journal and left the partition's files as they are",
            journal,
            why,
            exc,
        )
        journal.unlink(missing_ok=True)
        return
    for path in leftovers:
        path.unlink(missing_ok=True)
    if leftovers and container is not None:
        _moved(journal.parent, [p.name for p in leftovers], container.name)
        done = (
            f"removed {', '.join(p.name for p in leftovers)}: every row of them is in "
            f"{container.name} (a compaction that finished)"
        )
    else:
        done = "no compaction had changed the partition: nothing to redo"
    journal.unlink(missing_ok=True)
    log.warning("%s: compaction journal unreadable (%s); removed it; %s", journal, why, done)
