"""Rebuild a run's articles from its WARC file: extract → transform → write, no network.

The rebuilt rows replace the run's own files (same names), so reprocessing is idempotent and
gives the same article ids; fetch-stage quarantine rows of the live run are kept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ingest.config import Settings, Source
from ingest.pipeline import Run, StageRef, _extract_item, _is_html, transform, write
from ingest.runner import SourceResult
from ingest.warc import RAW, read_info, read_responses
from ingest.workfiles import write_jsonl


def reprocess_runs(
    root: Path, source_ids: list[str] | None = None, since: dt.date | None = None
) -> list[SourceResult]:
    """Reprocess every stored run (of the given sources, started on or after `since`), oldest first."""
    archives = sorted((root / RAW).glob("*/*.warc.gz"), key=lambda p: (p.name, p.parent.name))
    results: list[SourceResult] = []
    for path in archives:
        source_id, key = path.parent.name, path.name.removesuffix(".warc.gz")
        if source_ids and source_id not in source_ids:
            continue
        try:
            info = read_info(path)
            run = Run.from_key(key, str(info["run_id"]))
            if since is not None and run.start.date() < since:
                continue
            source = Source(
                id=source_id,
                name=str(info.get("source_name") or source_id),
                feeds=(),
                language=info.get("source_language"),
            )
            extracted = _extract_archive(root, path, source, run)
            transformed = transform(source, Settings(), root, run, extracted["path"])
            results.append(
                SourceResult(
                    f"{source_id} {key}",
                    write(source, Settings(), root, run, transformed["path"], reprocess=True),
                )
            )
        except Exception as exc:
            results.append(SourceResult(f"{source_id} {key}", None, f"{type(exc).__name__}: {exc}"))
    return results


def _extract_archive(root: Path, path: Path, source: Source, run: Run) -> StageRef:
    work = root / "work" / source.id / f"{run.key}.reprocess"
    items: list[dict[str, Any]] = []
    extracted: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for _, item, body in read_responses(path):
        items.append(item)
        if _is_html(item, body):  # other types were quarantined by the live run's fetch stage
            _extract_item(item, body, source, run, extracted, problems)
    write_jsonl(work / "discovered.jsonl", items)
    out = write_jsonl(work / "extracted.jsonl", extracted)
    write_jsonl(work / "quarantine-extract.jsonl", problems)
    return StageRef(path=str(out), count=len(extracted), quarantined=len(problems))
