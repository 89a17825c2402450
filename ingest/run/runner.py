"""Running sources in-process (the CLI's path) and reporting what each run did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.config import Source, SourcesConfig
from ingest.run.model import SUMMARY_KEYS, Run, WriteRef
from ingest.run.stages import run_source


@dataclass(frozen=True)
class SourceResult:
    source_id: str
    ref: WriteRef | None
    error: str | None = None


def ingest_sources(
    config: SourcesConfig,
    sources: list[Source],
    root: Path,
    run: Run | None = None,
    *,
    refetch: bool = False,
) -> list[SourceResult]:
    """Run each source once; a source whose run crashes is reported, and the others still run."""
    run = run or Run.adhoc()
    results = []
    for source in sources:
        try:
            results.append(
                SourceResult(
                    source.id, run_source(source, config.settings, root, run, refetch=refetch)
                )
            )
        except Exception as exc:
            results.append(SourceResult(source.id, None, f"{type(exc).__name__}: {exc}"))
    return results


def print_summary(results: list[SourceResult]) -> None:
    totals = dict.fromkeys(SUMMARY_KEYS, 0)
    for result in results:
        if result.ref is None:
            print(f"{result.source_id}: run failed: {result.error}")
            continue
        counts = {key: int(result.ref[key]) for key in SUMMARY_KEYS}  # type: ignore[literal-required]
        for key, value in counts.items():
            totals[key] += value
        print(f"{result.source_id}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    errors = sum(1 for r in results if r.ref is None)
    tail = f" errors={errors}" if errors else ""
    print(
        "total: "
        + " ".join(f"{k}={v}" for k, v in totals.items())
        + f" sources={len(results)}{tail}"
    )
