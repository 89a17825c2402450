"""What `newsflow ingest` shows while it works: one line per stage with counts and time as
plain lines when stderr is not a terminal (Airflow logs, scripts), a progress display when it
is; `-q` keeps only warnings."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.cli import main
from ingest.logs import configure

STAGES = ("discover", "fetch", "extract", "transform", "write")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("ingest.run").setLevel(logging.NOTSET)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_per_stage_when_not_on_a_terminal(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "--config", str(demo_sources), "--data", str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    for source in ("limited-times", "harbour-gazette"):
        lines = [line for line in err.splitlines() if line.startswith(f"{source}: ")]
        assert [line.split()[1] for line in lines] == list(STAGES), err
        assert all(re.search(r" in \d+\.\d\d s$", line) for line in lines)
        assert re.search(r" count=\d+ quarantined=\d+ ", lines[1])  # fetch
        assert re.search(r" new=[1-9]\d* duplicate=\d+ seen=\d+ failed=\d+ ", lines[-1])


def test_quiet_shows_no_stage_lines(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "d")
    assert main(["-q", "ingest", "--config", str(demo_sources), "--data", data]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "total: new=" in captured.out


def test_a_progress_display_on_a_terminal(demo_sources: Path, tmp_path: Path) -> None:
    from ingest.config import load_sources
    from ingest.run.runner import ingest_sources

    screen = Terminal()
    configure(0, screen)
    config = load_sources(demo_sources)
    ingest_sources(config, config.sources, tmp_path / "d")
    shown = screen.getvalue()
    assert "\r\x1b[K" in shown  # each stage rewrites its source's line
    finished = [line.rsplit("\r\x1b[K", 1)[-1] for line in shown.split("\n") if line]
    assert len(finished) == 2  # one line per source, kept once its run is written
    for line in finished:
        assert re.fullmatch(
            r"[\w-]+: \d+ discovered · \d+ fetched · \d+ extracted · \d+ transformed · "
            r"\d+ new, \d+ copies",
            line,
        ), line
