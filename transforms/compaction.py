"""Compaction: merge the many small files of an older partition into one, sorted by
`published_at`, with a target row-group size and zstd compression.

Crash safety: a journal (`.compaction.json` in the partition) names the inputs and the
target before anything changes; the target is written atomically; the inputs are deleted;
the journal goes last. An interrupted compaction is finished (target present: delete the
inputs still there) or undone (target absent: nothing changed) by `recover` — which every
commit runs under the dataset's lock before it reads — so no row is ever lost or stored
twice once any writer has run. Callers hold the commit lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.dataset import (
    ARTICLES,
    COMPACTED_PREFIX,
    is_compacted,
    write_atomic,
)
from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN

JOURNAL = ".compaction.json"
ROW_GROUP_ROWS = 50_000  # about 100-200 MB of articles: large enough for fast scans


def compact(
    root: Path,
    older_than: dt.timedelta,
    now: dt.datetime,
    row_group_rows: int = ROW_GROUP_ROWS,
    after_write: Callable[[Path], None] | None = None,
) -> dict[str, int]:
    """Compact every partition whose day is older than `now - older_than` and that has more
    than one file (or one file not yet compacted). Returns counts. `after_write` is called
    between writing a target and deleting its inputs (for tests that interrupt it there)."""
    recover(root)
    cutoff = (now - older_than).date()
    done = {"partitions": 0, "files": 0, "rows": 0}
    for part in sorted((root / ARTICLES).glob(f"{PARTITION_COLUMN}=*")):
        day = dt.date.fromisoformat(part.name.removeprefix(f"{PARTITION_COLUMN}="))
        inputs = sorted(part.glob("*.parquet"))
        if day >= cutoff or not inputs or (len(inputs) == 1 and is_compacted(inputs[0])):
            continue
        rows = _compact_partition(part, inputs, row_group_rows, after_write)
        done["partitions"] += 1
        done["files"] += len(inputs)
        done["rows"] += rows
    return done


def _compact_partition(
    part: Path,
    inputs: list[Path],
    row_group_rows: int,
    after_write: Callable[[Path], None] | None,
) -> int:
    digest = hashlib.sha256("\n".join(p.name for p in inputs).encode()).hexdigest()[:16]
    target = part / f"{COMPACTED_PREFIX}{digest}.parquet"
    journal = part / JOURNAL
    journal.write_text(
        json.dumps({"inputs": [p.name for p in inputs], "target": target.name}), encoding="utf-8"
    )
    table = pa.concat_tables([pq.read_table(p, schema=ARTICLE_SCHEMA) for p in inputs]).sort_by(
        [("published_at", "ascending"), ("article_id", "ascending")]
    )
    write_atomic(table, target, row_group_size=row_group_rows)
    if after_write is not None:
        after_write(target)
    for path in inputs:
        if path != target:
            path.unlink(missing_ok=True)
    journal.unlink()
    return table.num_rows


def recover(root: Path) -> int:
    """Finish or undo compactions that were interrupted; returns how many it found."""
    found = 0
    for journal in (root / ARTICLES).glob(f"{PARTITION_COLUMN}=*/{JOURNAL}"):
        found += 1
        plan = json.loads(journal.read_text(encoding="utf-8"))
        part = journal.parent
        if (part / plan["target"]).exists():  # the merged file is complete: finish
            for name in plan["inputs"]:
                if name != plan["target"]:
                    (part / name).unlink(missing_ok=True)
        journal.unlink()  # otherwise nothing had changed: the inputs are all there
    return found
