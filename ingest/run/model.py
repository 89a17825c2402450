"""What the stages of a run pass each other: the run (its id and window), the references a
stage returns (what a DAG task pushes to XCom), and where the run's work files live."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from ingest.config import Source


class StageRef(TypedDict):
    """What a stage hands to the next one: where its output is and how many items it holds."""

    path: str
    count: int
    quarantined: int


class DiscoverRef(StageRef):
    """The discover stage's reference: with how many items the fetch stage has to request.
    None means the run is already committed: nothing new was listed."""

    to_fetch: int


class WriteRef(TypedDict):
    source_id: str
    discovered: int
    not_modified: int
    fetched: int
    new: int
    duplicate: int
    seen: int
    failed: int
    files: list[str]


SUMMARY_KEYS = ("new", "duplicate", "seen", "failed", "not_modified")


@dataclass(frozen=True)
class Run:
    """One run of one source: its id and its data interval [start, end) in UTC."""

    run_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def key(self) -> str:
        """The run's name in file names: a pure function of its window."""
        return f"{_stamp(self.start)}_{_stamp(self.end)}"

    @classmethod
    def adhoc(cls, now: dt.datetime | None = None) -> Run:
        """A run started by hand: a zero-width window at the current instant."""
        now = now or dt.datetime.now(dt.UTC)
        return cls(run_id=f"manual__{now.isoformat()}", start=now, end=now)

    @classmethod
    def of_dag_run(cls, run_id: str, start: dt.datetime | None, end: dt.datetime | None) -> Run:
        """The run of an Airflow DAG run with the data interval [start, end), in UTC; without
        an interval (never an ingest DAG's run), a zero-width window at the current instant."""
        start = start or dt.datetime.now(dt.UTC)
        end = end or start
        return cls(run_id=run_id, start=start.astimezone(dt.UTC), end=end.astimezone(dt.UTC))

    @classmethod
    def from_key(cls, key: str, run_id: str) -> Run:
        start, end = (_unstamp(part) for part in key.split("_", 1))
        return cls(run_id=run_id, start=start, end=end)


def _stamp(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment:%Y%m%dT%H%M%S}{fraction}Z"


def _unstamp(text: str) -> dt.datetime:
    fmt = "%Y%m%dT%H%M%S.%fZ" if "." in text else "%Y%m%dT%H%M%SZ"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)


def workdir(root: Path, source: Source, run: Run) -> Path:
    return root / "work" / source.id / run.key


STAGES = ("discover", "fetch", "extract", "transform", "write")


@dataclass(frozen=True)
class Part:
    """Part `index` of `of` of a source run's fetched pages, which `newsflow ingest`'s
    workers extract and transform in parallel (ingest.run.parts): the pages of the index-th
    of `of` even shares of the run archive's responses, in the archive's order. The whole
    run is part 0 of 1.

    A part taken while the fetch still runs (a chunk: ingest.run.parts.Chunker) names its
    pages instead: `records`, each a fetched page's work-file row with where its records
    lie in the run archive, read from `archive` (the file being written, or the finished
    one it becomes); `of` is then 0 (the number of parts is not known yet)."""

    index: int = 0
    of: int = 1
    records: tuple[tuple[dict[str, Any], int, int], ...] = field(default=(), compare=False)
    archive: str = field(default="", compare=False)

    @property
    def last(self) -> bool:
        return self.index == self.of - 1

    def bounds(self, pages: int) -> tuple[int, int]:
        """The part's pages among `pages`: positions [first, stop) in the archive's order."""
        return self.index * pages // self.of, (self.index + 1) * pages // self.of

    def name(self, filename: str) -> str:
        """The name of the part's own copy of a work file ("extracted.jsonl" of part 0 of 4:
        "extracted.part0of4.jsonl", of chunk 3: "extracted.part3ofn.jsonl"); the whole run's
        is the file's name."""
        if self.of == 1:
            return filename
        stem, dot, suffix = filename.partition(".")
        return f"{stem}.part{self.index}of{self.of or 'n'}{dot}{suffix}"


WHOLE = Part()
