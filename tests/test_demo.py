from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingest.cli import main
from tests.conftest import ROOT


def test_demo_prints_the_summary_and_a_query_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--data", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "total: new=4 duplicate=1 seen=0 failed=3 not_modified=0 sources=2" in out
    assert "2023-04-06     | limited-times   | New Putin-Lukashenko plan" in out
    assert "2023-04-06 11:03:23.682" in out
    assert "http_404" in out and "not_html" in out
    assert "['BY', 'FI', 'PL', 'RU', 'UA'] | ['conflict', 'politics']" in out
    # the second demo run finds everything already stored
    assert main(["demo", "--data", str(tmp_path / "demo")]) == 0
    assert (
        "total: new=0 duplicate=0 seen=0 failed=0 not_modified=2 sources=2"
        in capsys.readouterr().out
    )


def test_console_script_help_lists_the_commands() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "newsflow"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    for command in (
        "ingest",
        "reprocess",
        "dedup",
        "retag",
        "daily",
        "query",
        "demo",
        "serve-demo",
    ):
        assert command in out
