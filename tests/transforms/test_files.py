"""Reading one stored file without pyarrow.dataset gives what pq.read_table gives."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.files import read_columns

TARGET = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("added_later", pa.float64()),
    ],
    metadata={b"newsflow.table": b"things"},
)


@pytest.fixture
def older_file(tmp_path: Path) -> Path:
    """A file written before a column existed, with a narrower integer type and a column in
    another order, carrying metadata of its own."""
    table = pa.table(
        {
            "tags": pa.array([["a"], [], None], pa.list_(pa.string())),
            "count": pa.array([1, None, 3], pa.int32()),
            "id": ["x", "y", "z"],
            "dropped": [True, False, True],
        }
    ).replace_schema_metadata({b"newsflow.table": b"old"})
    path = tmp_path / "older.parquet"
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    "columns",
    [["id"], ["count", "id"], ["added_later", "tags"], ["id", "count", "tags", "added_later"]],
)
def test_columns_read_with_a_schema_equal_pyarrows_reading(
    older_file: Path, columns: list[str]
) -> None:
    expected = pq.read_table(older_file, columns=columns, schema=TARGET)
    got = read_columns(older_file, columns, TARGET)
    assert got.equals(expected) and got.schema.equals(expected.schema, check_metadata=True)
    assert got.column_names == columns


def test_columns_read_as_stored_equal_pyarrows_reading(older_file: Path) -> None:
    for columns in (["dropped", "id"], ["count"]):
        expected = pq.read_table(older_file, columns=columns)
        got = read_columns(older_file, columns)
        assert got.equals(expected) and got.schema.equals(expected.schema, check_metadata=True)
    whole = read_columns(older_file, None)
    assert whole.equals(pq.read_table(older_file))
    with pytest.raises((pa.ArrowInvalid, KeyError)):  # a column the file lacks, no schema
        read_columns(older_file, ["added_later"])
