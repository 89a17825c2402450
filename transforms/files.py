"""Stored files: the one place where a failed Parquet read becomes `CorruptFile`, and durable
writes of the small JSON journals that make multi-file changes atomic."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.exceptions import CorruptFile


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Run a read of the stored file `path`; a file that is not readable Parquet raises
    CorruptFile naming it. A missing file or a permission error stays what it is."""
    try:
        yield
    except (FileNotFoundError, PermissionError):
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptFile.parquet(path, exc) from exc


def read_stored(path: Path, schema: pa.Schema) -> pa.Table:
    """A stored Parquet file's rows in `schema`; raises CorruptFile naming an unreadable one."""
    with reading(path):
        return read_columns(path, schema.names, schema)


def read_columns(
    path: Path, columns: list[str] | None, schema: pa.Schema | None = None
) -> pa.Table:
    """The `columns` of one Parquet file (all when None), in that order. With `schema`, as
    `pq.read_table(schema=...)` reads them: each column cast to the schema's type, a column
    the file lacks all nulls. Read with the file reader alone: `pq.read_table` goes through
    pyarrow.dataset, which discovers the file as a dataset first (0.3 ms more per file the
    index and dedup read)."""
    handle = pq.ParquetFile(path)
    names = handle.schema_arrow.names
    wanted = list(names) if columns is None else columns
    if schema is None:
        return handle.read(columns=wanted).select(wanted)
    present = set(names)
    table = handle.read(columns=[c for c in wanted if c in present])
    fields = [schema.field(c) for c in wanted]
    metadata: dict[bytes | str, bytes | str] | None = (
        {k: v for k, v in schema.metadata.items()} if schema.metadata is not None else None
    )
    return pa.Table.from_arrays(
        [
            table[f.name].cast(f.type) if f.name in present else pa.nulls(table.num_rows, f.type)
            for f in fields
        ],
        schema=pa.schema(fields, metadata=metadata),  # (the schema's, as pq.read_table)
    )


def check_readable(paths: Iterable[Path]) -> None:
    """Read each file's Parquet footer (a few kilobytes each); raises CorruptFile for the first
    file that is empty, truncated or not Parquet."""
    for path in paths:
        with reading(path):
            pq.read_metadata(path)


# the stored files found readable, as they were then: relative path -> [size, mtime_ns, inode]
READABLE = Path("state") / "readable.json"


def check_readable_changed(root: Path, paths: Iterable[Path]) -> None:
    """check_readable for the stored files under `root` that were not found readable before
    as they are now (their size, modification time and inode, kept in DATA/state/readable
    .json): a command's opening check then reads the footers of the files written or
    changed since the last one, instead of every stored file's on every run. A file that
    went away meanwhile (compacted by another process) is left out."""
    memo = root / READABLE
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: every file is read
        known = {}
    if not isinstance(known, dict):
        known = {}
    found: dict[str, list[int]] = {}
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        key = path.relative_to(root).as_posix()
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        if known.get(key) != stamp:
            check_readable([path])
        found[key] = stamp
    if found != known:  # (a memo not kept only means the next check reads more footers)
        with contextlib.suppress(OSError):
            replace_whole(memo, lambda handle: handle.write(json.dumps(found).encode("utf-8")))


def write_json_durably(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` so that the file is complete or absent, even when the
    disk fills or the machine stops: a temporary file, fsync, rename, fsync of the folder."""
    replace_whole(path, lambda handle: handle.write(json.dumps(data).encode("utf-8")))
    fsync_dir(path.parent)


def replace_whole(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` through `write` so that it is complete or absent: a hidden temporary file
    beside it, fsync, rename (the folder is not synced: callers that need the name durable do
    that)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    """Make a written file's contents durable."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Make the names in `folder` (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
