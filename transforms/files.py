"""Reading stored Parquet files: the one place where a failed read becomes `CorruptFile`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


def check_readable(paths: Iterable[Path]) -> None:
    """Read each file's Parquet footer (a few kilobytes each); raises CorruptFile for the first
    file that is empty, truncated or not Parquet."""
    for path in paths:
        with reading(path):
            pq.read_metadata(path)
