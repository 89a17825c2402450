"""The output formats of `newsflow query` (transforms/query.py writes them), in a module of
their own: the command line's parser lists them without importing the query's libraries."""

from __future__ import annotations

QUERY_FORMATS = ("table", "csv", "json", "parquet")
