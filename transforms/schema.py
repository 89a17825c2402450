"""The one Arrow schema of each table the pipeline writes.

Columns are only ever added (nullable, at the end); readers union by name, so files written
before a column existed stay readable.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa

from transforms.minhash import SCHEME as MINHASH_SCHEME
from transforms.urls import URL_RULE

SCHEMA_VERSION = "5"
TS = pa.timestamp("us", tz="UTC")

_ARTICLE_FIELDS: list[pa.Field[Any]] = [
    pa.field("article_id", pa.string(), nullable=False),
    pa.field("url", pa.string(), nullable=False),
    pa.field("canonical_url", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("site_name", pa.string()),
    pa.field("title", pa.string()),
    pa.field("description", pa.string()),
    pa.field("text", pa.string(), nullable=False),
    pa.field("authors", pa.list_(pa.string())),
    pa.field("published_at", TS, nullable=False),
    pa.field("date_source", pa.string(), nullable=False),
    pa.field("modified_at", TS),
    pa.field("fetched_at", TS, nullable=False),
    pa.field("language", pa.string()),
    pa.field("word_count", pa.int32(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string()),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("extractor", pa.string(), nullable=False),
    pa.field("feed_url", pa.string()),
    # the publisher an aggregator copied from (added in 2)
    pa.field("original_source", pa.string()),
    # story clustering (added in 3): see transforms/dedup.py and transforms/minhash.py
    pa.field("story_id", pa.string()),
    pa.field("dup_similarity", pa.float32()),
    pa.field("shingles", pa.int32()),
    pa.field("minhash", pa.list_(pa.uint32())),
    pa.field("lsh_bands", pa.list_(pa.int64())),
    # tags (added in 4): see transforms/tagging/
    pa.field("language_declared", pa.string()),
    pa.field("language_score", pa.float32()),
    pa.field("places", pa.list_(pa.string())),
    pa.field("cities", pa.list_(pa.string())),
    pa.field("people", pa.list_(pa.string())),
    pa.field("organizations", pa.list_(pa.string())),
    pa.field("topics", pa.list_(pa.string())),
    pa.field("keywords", pa.list_(pa.string())),
    pa.field("tags", pa.list_(pa.string())),
    pa.field(
        "tag_evidence",
        pa.list_(pa.struct([("tag", pa.string()), ("terms", pa.list_(pa.string()))])),
    ),
    pa.field("tagger_version", pa.string()),
    # provenance of the title and the authors, in date_source's vocabulary
    # (transforms/provenance.py), and the agencies a byline credits (added in 5)
    pa.field("title_source", pa.string()),
    pa.field("authors_source", pa.string()),
    pa.field("credits", pa.list_(pa.string())),
]
ARTICLE_SCHEMA = pa.schema(
    _ARTICLE_FIELDS,
    metadata={
        "newsflow.table": "articles",
        "newsflow.schema_version": SCHEMA_VERSION,
        "newsflow.minhash_scheme": MINHASH_SCHEME,
        "newsflow.url_rule": URL_RULE,  # the rule of its ids (transforms/urls.py)
    },
)

_QUARANTINE_FIELDS: list[pa.Field[Any]] = [
    pa.field("url", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("detail", pa.string()),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("at", TS, nullable=False),
]
QUARANTINE_SCHEMA = pa.schema(
    _QUARANTINE_FIELDS,
    metadata={"newsflow.table": "quarantine", "newsflow.schema_version": SCHEMA_VERSION},
)

PARTITION_COLUMN = "published_date"

_RUN_FIELDS: list[pa.Field[Any]] = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
    pa.field("interval_start", TS, nullable=False),
    pa.field("interval_end", TS, nullable=False),
    pa.field("started_at", TS, nullable=False),
    pa.field("finished_at", TS, nullable=False),
    pa.field("status", pa.string(), nullable=False),  # success | failed
    pa.field("reprocess", pa.bool_(), nullable=False),
    pa.field("discovered", pa.int32()),
    pa.field("not_modified", pa.int32()),
    pa.field("fetched", pa.int32()),
    pa.field("new", pa.int32()),
    pa.field("duplicates", pa.int32()),
    pa.field("seen", pa.int32()),
    pa.field("quarantined", pa.int32()),
    pa.field("quarantined_by_reason", pa.map_(pa.string(), pa.int32())),
    pa.field("bytes_fetched", pa.int64()),
    pa.field("requests", pa.int32()),
    pa.field("seconds_discover", pa.float64()),
    pa.field("seconds_fetch", pa.float64()),
    pa.field("seconds_extract", pa.float64()),
    pa.field("seconds_transform", pa.float64()),
    pa.field("seconds_write", pa.float64()),
    pa.field("failed_task", pa.string()),  # the task that failed, for status "failed"
    pa.field("error", pa.string()),
]
RUNS_SCHEMA = pa.schema(
    _RUN_FIELDS, metadata={"newsflow.table": "runs", "newsflow.schema_version": SCHEMA_VERSION}
)


# Parquet conventions of every table file. Dictionary encoding pays where values repeat
# (source ids, languages, layers, tags); free text, URLs, ids, hashes and signatures are
# (nearly) all distinct, and a dictionary there only costs a page that is thrown away.
NO_DICTIONARY = frozenset(
    {
        "article_id",
        "url",
        "canonical_url",
        "title",
        "description",
        "text",
        "content_hash",
        "duplicate_of",
        "minhash",
        "lsh_bands",
        "tag_evidence",
        "detail",
        "error",
    }
)
# compacted partitions are sorted by publication time (then id): declared in the footer so
# engines can skip and merge without sorting again
SORT_ORDER: tuple[tuple[str, Literal["ascending", "descending"]], ...] = (
    ("published_at", "ascending"),
    ("article_id", "ascending"),
)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The leaf column paths of `schema` that are dictionary-encoded (see NO_DICTIONARY)."""
    paths = []
    for field in schema:
        if field.name in NO_DICTIONARY:
            continue
        if pa.types.is_list(field.type):
            if not pa.types.is_struct(field.type.value_type):
                paths.append(f"{field.name}.list.element")
        elif pa.types.is_map(field.type):
            continue
        else:
            paths.append(field.name)
    return paths


def writer_options(
    schema: pa.Schema, *, sorted_rows: bool = False, run_file: bool = False
) -> dict[str, Any]:
    """Keyword arguments for pyarrow's Parquet writers of a table of `schema`: zstd, the
    dictionary columns, and the declared sort order when the rows are in SORT_ORDER.

    `run_file`: a file of one run's rows (a commit's file per day, a stage's work file),
    which holds a few rows until compaction rewrites it (a run's articles spread over their
    days): no dictionary at all. For so few rows a dictionary page per column makes the
    file bigger and slower to write: measured on article rows, 1.9 against 1.7 ms for one
    row, 7.6 against 5.2 ms for fifty."""
    import pyarrow.parquet as pq

    options: dict[str, Any] = {
        "compression": "zstd",
        "use_dictionary": False if run_file else dictionary_columns(schema),
    }
    if sorted_rows:
        options["sorting_columns"] = pq.SortingColumn.from_ordering(schema, list(SORT_ORDER))
    return options
