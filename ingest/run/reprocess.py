"""Rebuild a run's articles from its WARC file: extract → transform → write, no network.

The rebuilt rows replace the run's own files (same names), so reprocessing is idempotent and
gives the same article ids; fetch-stage quarantine rows of the live run are kept.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ingest.config import ConfigError, Settings, Source
from ingest.fetch.warc import RAW, read_info, read_responses
from ingest.run.commit import write
from ingest.run.items import extract_record, is_html, problem
from ingest.run.model import Run, StageRef
from ingest.run.runner import SourceResult
from ingest.run.stages import transform
from ingest.run.workfiles import write_jsonl


def reprocess_runs(
    root: Path, source_ids: list[str] | None = None, since: dt.date | None = None, workers: int = 1
) -> list[SourceResult]:
    """Reprocess every stored run (of the given sources, started on or after `since`), oldest first.
    On the mirror of an object store, the WARC files come from the store first. Raises
    ConfigError for a source without any stored WARC file."""
    from transforms.commit import synced
    from transforms.lakemirror import pull

    synced(root)
    for source_id in source_ids or [""]:
        pull(root, root / RAW / source_id)
    archives = sorted((root / RAW).glob("*/*.warc.gz"), key=lambda p: (p.name, p.parent.name))
    stored = sorted({path.parent.name for path in archives})
    for source_id in source_ids or []:
        if source_id not in stored:
            raise ConfigError(
                f"{root / RAW}: no WARC files of a source with id '{source_id}' (stored: "
                f"{', '.join(stored) or 'none'}); pass one of those ids to --source."
            )
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        results = [_reprocess_one(root, path, source_ids, since, pool) for path in archives]
    return [r for r in results if r is not None]


def _reprocess_one(
    root: Path,
    path: Path,
    source_ids: list[str] | None,
    since: dt.date | None,
    pool: Executor | None,
) -> SourceResult | None:
    """Rebuild one run's articles, or None when the filters leave it out."""
    source_id, key = path.parent.name, path.name.removesuffix(".warc.gz")
    if source_ids and source_id not in source_ids:
        return None
    try:
        info = read_info(path)
        run = Run.from_key(key, str(info["run_id"]))
        if since is not None and run.start.date() < since:
            return None
        source = Source(
            id=source_id,
            name=str(info.get("source_name") or source_id),
            feeds=(),
            language=info.get("source_language"),
            profile=info.get("source_profile"),  # as the sources file named it at fetch time
        )
        extracted = _extract_archive(root, path, source, run, pool)
        transformed = transform(source, Settings(), root, run, extracted["path"])
        ref = write(source, Settings(), root, run, transformed["path"], reprocess=True)
        return SourceResult(f"{source_id} {key}", ref)
    except Exception as exc:
        return SourceResult(f"{source_id} {key}", None, f"{type(exc).__name__}: {exc}")


def _extract_archive(
    root: Path, path: Path, source: Source, run: Run, pool: Executor | None
) -> StageRef:
    """Extract every HTML response of a run archive, on the worker processes when given."""
    work = root / "work" / source.id / f"{run.key}.reprocess"
    items: list[dict[str, Any]] = []
    pages: list[tuple[dict[str, Any], bytes]] = []
    for _, item, body in read_responses(path):
        items.append(item)
        if is_html(item, body):  # other types were quarantined by the live run's fetch stage
            pages.append((item, body))
    languages = [source.language] * len(pages)
    profiles = [source.profile] * len(pages)
    args = ([i for i, _ in pages], [b for _, b in pages], languages, profiles)
    results = (
        pool.map(extract_record, *args, chunksize=4)
        if pool is not None
        else map(extract_record, *args)
    )
    extracted: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for (item, _), (record, failure) in zip(pages, results, strict=True):
        if record is not None:
            extracted.append(record)
        elif failure is not None:
            problems.append(problem(item["url"], source, run, "extract", *failure))
    write_jsonl(work / "discovered.jsonl", items)
    out = write_jsonl(work / "extracted.jsonl", extracted)
    write_jsonl(work / "quarantine-extract.jsonl", problems)
    return StageRef(path=str(out), count=len(extracted), quarantined=len(problems))
