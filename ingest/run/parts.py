"""A source run's extract and transform stages in parts, for `newsflow ingest`'s workers.

A source's fetched pages are extracted in parts (ingest.run.model.Part: chunks of the run
archive's responses, in the archive's order, or even shares of them), which any
idle worker extracts and transforms into the part's own work files; when every part is
done, `join` puts them together as the files the two stages write for the whole run, in the
same order, and the run is committed as usual. The last source of a run no longer keeps one
core busy while the other waits, and each source's pages are spread over the cores.

Extraction does not wait for the fetch to end: every PROGRESS_S the fetch hands over what it
has added to the run archive, and each CHUNK_PAGES pages are a part of their own
(`Chunker`), read at their place in the archive while it is still being written; the pages
left when the fetch ends are shared out among the workers. A worker that fetches sends its
chunks to the command's process as they are made (the others extract them); where the
command's process fetches (sources of one host, from PARALLEL_PAGES pages) it hands them
out itself. A rate-limited fetch and the extraction of what it fetched go on side by side.

The DAG's tasks run the stages whole (a task is the unit Airflow schedules), and so does
`newsflow ingest` with one worker or with an object-store data root, whose stages move
their work files to and from the store.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any, TypedDict

from ingest.config import Settings, Source
from ingest.run.model import Part, Run, StageRef
from ingest.run.workfiles import read_json, write_json

PART_PAGES = 8  # the fewest pages a part of its own is worth (its start costs a few ms)
PARTS_PER_WORKER = 2  # each part reads the run archive up to its pages: a few per worker
# the fewest pages that start workers for sources of one host (their server's warm-up takes
# a second or so of CPU; a page's extraction and tagging, 50 to 100 ms)
PARALLEL_PAGES = 64
CHUNK_PAGES = 32  # pages of a part taken while the fetch goes on


class Chunker:
    """Cuts a fetch in progress into parts (chunks) of CHUNK_PAGES pages, in the archive's
    order, naming each page's row and where its records lie; when the fetch is done, the
    pages left are shared among `workers` (at least PART_PAGES a part). Called from the
    thread that waits for the fetch's threads, which add to the archive and the rows."""

    def __init__(self, workers: int, pages: int = CHUNK_PAGES) -> None:
        self.workers, self.pages = workers, pages
        self.made = 0  # parts so far
        self._seen = 0  # entries of the archive's `written` looked at
        self._rows_seen = 0
        self._rows: dict[str, dict[str, Any]] = {}  # by record id, not yet in a part
        self._waiting: list[tuple[dict[str, Any], int, int]] = []

    def take(self, archive: Any, fetched: list[dict[str, Any]], done: bool) -> list[Part]:
        """The parts the archive's new pages make (all of those left when `done`); what
        they name is made readable first."""
        rows = fetched[self._rows_seen :]  # (appended by the fetch's threads meanwhile)
        self._rows_seen += len(rows)
        self._rows.update((row["record_id"], row) for row in rows)
        for record_id, offset, length, kept in archive.written[self._seen :]:
            if kept:
                row = self._rows.pop(record_id, None)
                if row is None:  # its row is being made: it is taken at the next look
                    break
                self._waiting.append((row, offset, length))
            self._seen += 1
        sizes: list[int] = []
        full = len(self._waiting) // self.pages
        sizes += [self.pages] * full
        left = len(self._waiting) - self.pages * full
        if done and left:
            shares = max(1, min(left // PART_PAGES, self.workers))
            sizes += [(k + 1) * left // shares - k * left // shares for k in range(shares)]
        if not sizes:
            return []
        archive.flush()
        parts = []
        for size in sizes:
            records, self._waiting = self._waiting[:size], self._waiting[size:]
            parts.append(Part(self.made, 0, tuple(records), str(archive.writing)))
            self.made += 1
        return parts


class PartRef(TypedDict):
    extracted: StageRef
    transformed: StageRef
    started: str  # ISO times: when the part's extraction started and finished, and when
    extract_finished: str  # its transform finished (the stages' timings, put together)
    finished: str


def fetched_pages(fetched: str) -> int:
    """How many pages the fetch stage whose work file is `fetched` fetched."""
    return int(read_json(Path(fetched).parent / "fetch.json").get("fetched", 0))


def parts_of(fetched: str, workers: int, per_worker: int = PARTS_PER_WORKER) -> int:
    """How many parts the pages listed in the work file `fetched` are extracted in."""
    return max(1, min(fetched_pages(fetched) // PART_PAGES, per_worker * workers))


def prepare_part(
    source: Source, settings: Settings, root: Path, run: Run, fetched: str, part: Part
) -> PartRef:
    """Extract and transform one part of a run's fetched pages (see the module)."""
    from ingest.run.stages import extract_share, transform_share

    started = _now()
    extracted = extract_share(source, settings, root, run, fetched, part)
    extract_finished = _now()
    transformed = transform_share(source, settings, root, run, extracted["path"], part)
    return PartRef(
        extracted=extracted,
        transformed=transformed,
        started=started,
        extract_finished=extract_finished,
        finished=_now(),
    )


def join(
    source: Source,
    run: Run,
    fetched: str,
    parts: list[PartRef],
    of: list[Part],
    group_rows: int = Settings.chunk_items,
) -> str:
    """The whole run's extract and transform work files (records, rows, quarantine rows,
    timings, the stages' log lines) from its parts' (`parts`, made by the parts `of`), in
    order; the parts' files are removed. The rows are written in row groups of up to
    `group_rows` (the stages' `chunk_items`), as the transform stage writes them, however
    small the parts were. Returns the transformed work file."""
    from ingest.run.stages import log_stage

    work = Path(fetched).parent
    if len(parts) > 1 or of[0].of != 1:
        _join_files(run, work, of, group_rows)
    for stage, start, end in (
        ("extract", "started", "extract_finished"),
        ("transform", "extract_finished", "finished"),
    ):
        # the stage's time is its parts' time added up (what one process would have spent;
        # they ran side by side, and waited for a worker between the two stages)
        began = [dt.datetime.fromisoformat(str(p[start])) for p in parts]  # type: ignore[literal-required]
        ended = [dt.datetime.fromisoformat(str(p[end])) for p in parts]  # type: ignore[literal-required]
        spent = sum((b - a for a, b in zip(began, ended, strict=True)), dt.timedelta())
        started, finished = min(began).isoformat(), (min(began) + spent).isoformat()
        write_json(work / f"timing-{stage}.json", {"started": started, "finished": finished})
        key = "extracted" if stage == "extract" else "transformed"
        refs: list[StageRef] = [p[key] for p in parts]  # type: ignore[literal-required]
        whole = StageRef(
            path=str(work / ("extracted.jsonl" if stage == "extract" else "articles.parquet")),
            count=sum(r["count"] for r in refs),
            quarantined=sum(r["quarantined"] for r in refs),
        )
        log_stage(source.id, stage, whole, spent.total_seconds())
    return str(work / "articles.parquet")


# the two stages' JSON-lines work files, which parts write a copy of each
_LINES = ("extracted.jsonl", "quarantine-extract.jsonl", "quarantine-transform.jsonl")


def _join_files(run: Run, work: Path, parts: list[Part], group_rows: int) -> None:
    """The whole run's work files of the two stages from the parts' (see `join`). A row
    group of the joined file is one part's or several parts' rows: a chunk of a fetch is
    CHUNK_PAGES pages, and a file of many small row groups keeps a large footer in the
    memory of every reader (the write stage's, which reads it a chunk at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.schema import ARTICLE_SCHEMA, writer_options

    names = [part.name for part in parts]
    for filename in _LINES:
        _concatenate([work / name(filename) for name in names], work / filename)
    path = work / "articles.parquet"
    tmp = path.with_name(f".{path.name}.{run.key}.tmp")
    try:
        with pq.ParquetWriter(
            tmp, ARTICLE_SCHEMA, **writer_options(ARTICLE_SCHEMA, run_file=True)
        ) as out:
            waiting: list[pa.Table] = []  # (fewer than group_rows rows)
            for name in names:  # (the same footer as the transform stage's: the schema's)
                part = pq.ParquetFile(work / name("articles.parquet"), pre_buffer=False)
                for group in range(part.num_row_groups):  # (chunk_items rows at most)
                    waiting.append(part.read_row_group(group))
                    while sum(t.num_rows for t in waiting) >= group_rows:
                        rows = pa.concat_tables(waiting)
                        out.write_table(rows.slice(0, group_rows))
                        waiting = [rows.slice(group_rows)]
                part.close()
            if sum(t.num_rows for t in waiting):  # (no empty row group at the end)
                out.write_table(pa.concat_tables(waiting))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    for name in names:
        for filename in (*_LINES, "articles.parquet"):
            (work / name(filename)).unlink(missing_ok=True)


def _concatenate(paths: list[Path], target: Path) -> None:
    tmp = target.with_name(f".{target.name}.joining.tmp")
    with tmp.open("wb") as out:
        for path in paths:
            with path.open("rb") as part:
                shutil.copyfileobj(part, out)
    tmp.replace(target)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
