"""The Parquet dataset on disk: paths, atomic writes, and the reads that dedup needs.

Layout under the data root:
    articles/published_date=YYYY-MM-DD/<source_id>__<run_key>.parquet
    quarantine/run_date=YYYY-MM-DD/<source_id>__<run_key>.parquet

A file's name is a pure function of (source, run window), so re-running a run replaces its
own files instead of appending to the dataset.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.files import read_columns, read_stored, reading
from transforms.minhash import SCHEME as MINHASH_SCHEME
from transforms.schema import (
    ARTICLE_SCHEMA,
    PARTITION_COLUMN,
    QUARANTINE_SCHEMA,
    RUNS_SCHEMA,
    writer_options,
)
from transforms.urls import FIRST_RULE, URL_RULE_KEY

ARTICLES = "articles"
MINHASH_SCHEME_KEY = b"newsflow.minhash_scheme"
QUARANTINE = "quarantine"
RUNS = "runs"


def output_name(source_id: str, run_key: str) -> str:
    return f"{source_id}__{run_key}.parquet"


def partition_dir(root: Path, day: dt.date) -> Path:
    return root / ARTICLES / f"{PARTITION_COLUMN}={day.isoformat()}"


def partition_day(path: Path) -> dt.date:
    """The publication day of the partition that holds the stored file `path`."""
    return dt.date.fromisoformat(path.parent.name.removeprefix(f"{PARTITION_COLUMN}="))


def article_files(root: Path) -> list[Path]:
    return sorted((root / ARTICLES).glob(f"{PARTITION_COLUMN}=*/*.parquet"))


def write_atomic(
    table: pa.Table,
    target: Path,
    row_group_size: int | None = None,
    *,
    sorted_rows: bool = False,
    rows_from: Iterable[Path] = (),
    refingerprinted: bool = False,
) -> None:
    """Write `table` to `target` so that no reader ever sees a partial file (with the
    project's Parquet conventions, transforms.schema.writer_options; `sorted_rows`: the
    rows are in SORT_ORDER, and the footer says so). `rows_from`: the stored article files
    whose rows `table` holds again (a rewrite); the file states the oldest URL rule among
    them, so that a rewrite never claims ids a migration has not made (transforms/urls.py),
    and an older MinHash scheme when one of them states one, unless `refingerprinted` (the
    rows' fingerprints were all made again now: transforms/dedup_store.py's rebuild)."""
    sources = list(rows_from)
    if sources:
        footers = [_footer(p) for p in sources]
        rules = [m.get(URL_RULE_KEY, FIRST_RULE.encode()).decode() for m in footers]
        table = with_url_rule(table, min(rules, key=int))
        schemes = [m.get(MINHASH_SCHEME_KEY, b"").decode() for m in footers]
        stale = next((s for s in schemes if s != MINHASH_SCHEME), None)
        table = with_minhash_scheme(
            table, MINHASH_SCHEME if stale is None or refingerprinted else stale
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(
            table,
            tmp,
            row_group_size=row_group_size,
            **writer_options(table.schema, sorted_rows=sorted_rows),
        )
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _footer(path: Path) -> dict[bytes, bytes]:
    with reading(path):
        return dict(pq.read_schema(path).metadata or {})


def url_rule(path: Path) -> str:
    """The URL rule the ids of a stored article file follow (its footer; none: the first)."""
    return _footer(path).get(URL_RULE_KEY, FIRST_RULE.encode()).decode()


def minhash_scheme(path: Path) -> str:
    """The MinHash scheme (transforms/minhash.py's SCHEME) of the fingerprints a stored
    article file holds, from its footer ("" when it states none)."""
    return _footer(path).get(MINHASH_SCHEME_KEY, b"").decode()


def with_minhash_scheme(table: pa.Table, scheme: str) -> pa.Table:
    """`table` whose footer will state the MinHash scheme `scheme`."""
    metadata: dict[bytes, bytes] = dict(table.schema.metadata or {})
    metadata[MINHASH_SCHEME_KEY] = scheme.encode()
    return table.replace_schema_metadata(metadata)


def stale_prints(root: Path) -> list[Path]:
    """The stored article files whose fingerprints an older MinHash scheme made: until
    `newsflow dedup --rebuild` has made them again, a copy of one of their articles in the
    scripts the scheme changed for may go unnoticed."""
    return [p for p in article_files(root) if minhash_scheme(p) != MINHASH_SCHEME]


def with_url_rule(table: pa.Table, rule: str) -> pa.Table:
    """`table` whose footer will state URL rule `rule`."""
    metadata: dict[bytes, bytes] = dict(table.schema.metadata or {})
    metadata[URL_RULE_KEY] = rule.encode()
    return table.replace_schema_metadata(metadata)


COMPACTED_PREFIX = "compacted-"


@dataclass(frozen=True)
class RunOutput:
    """A run's rows in the dataset: the files named after it and, once a partition has been
    compacted, its rows (by source and run id) inside the compacted file."""

    source_id: str
    run_key: str
    run_id: str

    @property
    def name(self) -> str:
        return output_name(self.source_id, self.run_key)

    def mask(self, table: pa.Table) -> Any:
        """True for the rows of a compacted file's table (with source_id, run_id) that are this run's."""
        source = pc.equal(table["source_id"], pa.scalar(self.source_id, pa.string()))
        run = pc.equal(table["run_id"], pa.scalar(self.run_id, pa.string()))
        return pc.and_(source, run)


def is_compacted(path: Path) -> bool:
    return path.name.startswith(COMPACTED_PREFIX)


def drop_from_compacted(root: Path, run: RunOutput, files: Iterable[Path]) -> None:
    """Remove the rows of `run` from the compacted `files` that hold some (a compacted file
    left empty goes)."""
    for path in files:
        keys = read_columns(path, ["source_id", "run_id"])
        mine = run.mask(keys)
        if pc.any(mine).as_py():
            rest = read_columns(path, ARTICLE_SCHEMA.names, ARTICLE_SCHEMA).filter(pc.invert(mine))
            if rest.num_rows:
                write_atomic(rest, path, rows_from=[path])
            else:
                path.unlink()


def read_run(root: Path, run: RunOutput, columns: list[str], files: Iterable[Path]) -> pa.Table:
    """The stored rows a run wrote, from the `files` that hold them (its own files and the
    compacted files with its rows)."""
    tables = []
    for path in sorted(set(files)):
        if path.name == run.name:
            tables.append(_read_files([path], columns))
        elif is_compacted(path):
            table = _read_files([path], sorted({*columns, "source_id", "run_id"}))
            tables.append(table.filter(run.mask(table)).select([*columns, FILE_COLUMN]))
    if not tables:
        return _read_files([], columns).drop([FILE_COLUMN])
    return pa.concat_tables(tables).drop([FILE_COLUMN])


FILE_COLUMN = "__file"


def read_partitions(
    root: Path,
    columns: list[str],
    days: Iterable[dt.date] | None = None,
    exclude: RunOutput | None = None,
) -> pa.Table:
    """Columns of the stored articles in the given publication days (all when None), plus
    FILE_COLUMN naming each row's file. One column read per file: no per-row Python work."""
    if days is None:
        files = article_files(root)
    else:
        files = [
            f
            for day in sorted(set(days))
            for f in sorted(partition_dir(root, day).glob("*.parquet"))
        ]
    return _read_files(files, columns, exclude)


def read_matching(
    root: Path,
    column: str,
    values: Iterable[str],
    columns: list[str],
    exclude: RunOutput | None = None,
    only: Path | None = None,
) -> pa.Table:
    """Rows of any stored file (or of the file `only`) whose `column` is one of `values`,
    plus FILE_COLUMN."""
    value_set = pa.array(sorted(set(values)), type=pa.string())
    if not len(value_set):
        return _read_files([], columns)
    hits = []
    for path in [only] if only is not None else article_files(root):
        if exclude is not None and path.name == exclude.name:
            continue
        keys = read_columns(path, [column], _schema([column]))[column]
        if not pc.any(pc.is_in(keys, value_set=value_set)).as_py():
            continue
        table = _read_files([path], list(dict.fromkeys([*columns, column])), exclude)
        table = table.filter(pc.is_in(table[column], value_set=value_set))
        hits.append(table.select([*columns, FILE_COLUMN]))
    return pa.concat_tables(hits) if hits else _read_files([], columns)


def update_columns(
    root: Path,
    changes: dict[str, dict[str, object]],
    files: Iterable[Path] | None = None,
    *,
    refingerprinted: Iterable[Path] = (),
) -> list[Path]:
    """Set columns of stored rows by article_id ({article_id: {column: value}}), rewriting each
    affected file atomically; returns the files rewritten. `files`, when the caller knows
    them, limits the search. `refingerprinted`: files whose rows' fingerprints the caller
    made again under the current MinHash scheme (`changes` holds those that differ), each
    rewritten to say so even when none of its rows changed. Callers hold the commit lock."""
    again = set(refingerprinted)
    if not changes and not again:
        return []
    ids = pa.array(sorted(changes), type=pa.string())
    rewritten = []
    listed = set(files) if files is not None else set(article_files(root))
    for path in sorted(listed | again):
        keys = read_columns(path, ["article_id"])["article_id"]
        if path not in again and not pc.any(pc.is_in(keys, value_set=ids)).as_py():
            continue
        rows = _read_files([path], [f.name for f in ARTICLE_SCHEMA]).drop([FILE_COLUMN]).to_pylist()
        for row in rows:
            row.update(changes.get(row["article_id"], {}))
        write_atomic(
            pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
            path,
            rows_from=[path],
            refingerprinted=path in again,
        )
        rewritten.append(path)
    return rewritten


def _schema(columns: list[str]) -> pa.Schema:
    return pa.schema([ARTICLE_SCHEMA.field(c) for c in columns])


def _read_files(
    files: list[Path], columns: list[str], exclude: RunOutput | None = None
) -> pa.Table:
    """Columns of the files plus FILE_COLUMN; without the rows of the run `exclude`."""
    schema = _schema(columns).append(pa.field(FILE_COLUMN, pa.string()))
    tables = []
    for path in files:
        if exclude is not None and path.name == exclude.name:
            continue
        wanted = columns
        if exclude is not None and is_compacted(path):
            wanted = list(dict.fromkeys([*columns, "source_id", "run_id"]))
        with reading(path):  # CorruptFile naming the file, not pyarrow's error
            table = read_columns(path, wanted, _schema(wanted))
        if wanted is not columns:
            assert exclude is not None
            table = table.filter(pc.invert(exclude.mask(table))).select(columns)
        tables.append(
            table.append_column(FILE_COLUMN, pa.repeat(pa.scalar(str(path)), table.num_rows))
        )
    return pa.concat_tables(tables).cast(schema) if tables else schema.empty_table()


def read_quarantine(
    root: Path, source_id: str, run_key: str, run_id: str, run_day: dt.date
) -> list[dict[str, object]]:
    """The quarantine rows of one run: its file (any run date), or its rows in the merged
    file of its run date's partition once that was compacted."""
    rows: list[dict[str, object]] = []
    for path in sorted((root / QUARANTINE).glob(f"run_date=*/{output_name(source_id, run_key)}")):
        rows += read_stored(path, QUARANTINE_SCHEMA).to_pylist()
    merged = merged_file(root / QUARANTINE / f"run_date={run_day.isoformat()}")
    if merged is not None:
        stored = read_stored(merged, QUARANTINE_SCHEMA)
        rows += stored.filter(_quarantine_of(stored, source_id, [run_id])).to_pylist()
    return rows


def commit_quarantine(
    rows: Iterable[dict[str, object]],
    root: Path,
    source_id: str,
    run_key: str,
    run_day: dt.date,
    run_ids: Iterable[str],
) -> Path | None:
    """Write a run's quarantine rows (replacing an earlier attempt's); None when there are none.
    In a partition whose files were merged (transforms/compaction.py), the merged file is
    rewritten with the rows of `run_ids` (the run's id, and that of an earlier run of the
    same window, which its file would have replaced) replaced."""
    name = output_name(source_id, run_key)
    table = pa.Table.from_pylist(list(rows), schema=QUARANTINE_SCHEMA)
    part = root / QUARANTINE / f"run_date={run_day.isoformat()}"
    target = part / name
    for stale in (root / QUARANTINE).glob(f"run_date=*/{name}"):
        if stale != target or not table.num_rows:
            stale.unlink()
    merged = merged_file(part)
    if merged is not None:
        stored = read_stored(merged, QUARANTINE_SCHEMA)
        kept = stored.filter(pc.invert(_quarantine_of(stored, source_id, run_ids)))
        if kept.num_rows != stored.num_rows or table.num_rows:
            _rewrite_merged(merged, pa.concat_tables([kept, table]))
        target.unlink(missing_ok=True)
        return merged if table.num_rows else None
    if not table.num_rows:
        return None
    write_atomic(table, target)
    return target


def merged_file(part: Path) -> Path | None:
    """The merged file of a runs or quarantine partition (transforms/compaction.py), if any."""
    return next(iter(sorted(part.glob(f"{COMPACTED_PREFIX}*.parquet"))), None)


def _rewrite_merged(path: Path, table: pa.Table) -> None:
    """A merged runs or quarantine file written again (removed when no row is left)."""
    if table.num_rows:
        write_atomic(table.sort_by([("source_id", "ascending"), ("run_id", "ascending")]), path)
    else:
        path.unlink()


def _quarantine_of(table: pa.Table, source_id: str, run_ids: Iterable[str]) -> Any:
    return pc.and_(
        pc.equal(table["source_id"], pa.scalar(source_id)),
        pc.is_in(table["run_id"], value_set=pa.array(sorted(set(run_ids)), pa.string())),
    )


def run_metrics_of(table: pa.Table, source_id: str, start: dt.datetime, end: dt.datetime) -> Any:
    """The mask of the metrics rows of one source's run with the window [start, end): the
    rows of its file, whose name the window makes (transforms/dataset.py: output_name)."""
    kind = table.schema.field("interval_start").type
    return pc.and_(
        pc.equal(table["source_id"], pa.scalar(source_id)),
        pc.and_(
            pc.equal(table["interval_start"], pa.scalar(start, kind)),
            pc.equal(table["interval_end"], pa.scalar(end, kind)),
        ),
    )


def run_metrics_path(root: Path, source_id: str, run_key: str, run_day: dt.date) -> Path:
    """runs/run_date=YYYY-MM-DD/<source>__<run>.parquet: the file of a run's metrics row."""
    return root / RUNS / f"run_date={run_day.isoformat()}" / output_name(source_id, run_key)


def commit_run_metrics(
    row: dict[str, Any], root: Path, source_id: str, run_key: str, run_day: dt.date
) -> Path:
    """Write a run's metrics row (`run_metrics_path`), replacing an earlier attempt of the
    same run (one row per source and run); in a partition whose files were merged, inside
    the merged file. Returns the file written."""
    target = run_metrics_path(root, source_id, run_key, run_day)
    table = pa.Table.from_pylist([row], schema=RUNS_SCHEMA)
    merged = merged_file(target.parent)
    if merged is None:
        write_atomic(table, target)
        return target
    stored = read_stored(merged, RUNS_SCHEMA)
    same = run_metrics_of(stored, source_id, row["interval_start"], row["interval_end"])
    _rewrite_merged(merged, pa.concat_tables([stored.filter(pc.invert(same)), table]))
    target.unlink(missing_ok=True)
    return merged
