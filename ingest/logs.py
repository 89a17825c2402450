"""What the command line shows while it works: one log line per stage of each source run
(`<source>: <stage> count=… quarantined=… in 0.52 s`, written by ingest.run.stages and
ingest.run.commit), as plain lines when stderr is a file or a pipe (Airflow's task logs,
scripts), and as a progress display when it is a terminal: one line per source, rewritten
in place as its stages finish (items discovered, fetched, extracted …), kept when its run
is written. `-v` adds debug lines, `-q` keeps only warnings and errors.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

STAGE_LOGGER = "ingest.run"  # the stage lines' loggers (ingest.run.stages, ingest.run.commit)
FINAL_STAGE = "write"


def configure(verbosity: int = 0, stream: TextIO | None = None) -> logging.Handler:
    """Send log lines to `stream` (stderr at the time of each line, when None): the stage
    lines and every warning; with verbosity > 0 every debug line too, with verbosity < 0
    warnings and errors only. A progress display on a terminal."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler: logging.Handler = (
        ProgressHandler(stream) if _is_terminal(stream or sys.stderr) else _Lines(stream)
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "newsflow", False)]:
        root.removeHandler(old)
    handler.newsflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity > 0 else logging.WARNING)
    logging.getLogger(STAGE_LOGGER).setLevel(level)
    return handler


class _Lines(logging.StreamHandler):  # type: ignore[type-arg]
    """Plain lines, to `stream` or to whatever sys.stderr is when a line is written."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self.fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self.fixed if self.fixed is not None else sys.stderr
        super().emit(record)


def stage_line(source_id: str, stage: str, counts: dict[str, int], seconds: float) -> str:
    """The one line a finished stage logs."""
    parts = [f"{source_id}:", stage, *(f"{key}={value}" for key, value in counts.items())]
    return " ".join([*parts, f"in {seconds:.2f} s"])


class ProgressHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """On a terminal: a stage line rewrites the current line (its source's progress so far);
    the final stage's line, and every other message, ends it."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self.fixed = stream
        self.progress: dict[str, list[str]] = {}
        self.open = False  # a progress line is on screen, not yet ended

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self.fixed if self.fixed is not None else sys.stderr
        try:
            stage = getattr(record, "stage", None)
            source = getattr(record, "source_id", None)
            if stage is None or source is None:
                self._end()
                self.stream.write(self.format(record) + "\n")
            else:
                done = self.progress.setdefault(source, [])
                done.append(getattr(record, "summary", stage))
                self.stream.write("\r\x1b[K" + f"{source}: " + " · ".join(done))
                self.open = True
                if stage == FINAL_STAGE:
                    self._end()
                    del self.progress[source]
            self.flush()
        except Exception:  # a display must never stop a run
            self.handleError(record)

    def _end(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.open = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
