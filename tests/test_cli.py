"""The command line on a damaged or wrong data root: one sentence naming the file or value and
what to do, exit code 2, no traceback; and `query`, which reads only the views unless --unsafe."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.cli import main
from tests.transforms.test_compaction import NOW, fill
from tests.transforms.test_query import run_row
from transforms.dataset import commit_quarantine, commit_run_metrics

COMMANDS = [
    ["ingest"],
    ["reprocess"],
    ["dedup"],
    ["dedup", "--rebuild"],
    ["retag"],
    ["daily"],
    ["query", "SELECT 1"],
    ["demo"],
]


def dataset(root: Path) -> Path:
    """Articles of three sources in two partitions, their runs and one quarantine row."""
    fill(root)
    for source, new in (("a", 13), ("b", 12), ("c", 12)):
        commit_run_metrics(run_row(source, new, 1), root, source, "K1", NOW.date())
    row = {
        "url": "https://a.example/gone",
        "source_id": "a",
        "stage": "fetch",
        "reason": "http_404",
        "run_id": "run1",
        "at": NOW,
    }
    commit_quarantine([row], root, "a", "K1", NOW.date(), ["run1"])
    return root


def one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("newsflow: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_query_answers_the_readme_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(dataset(tmp_path))
    sql = "SELECT source_id, count(*) FROM articles GROUP BY 1 ORDER BY 1"
    assert main(["query", "--data", root, sql]) == 0
    out = capsys.readouterr().out
    assert "a         | 13" in out and "c         | 12" in out and "(3 rows)" in out
    sql = "SELECT source_id, sum(new), sum(quarantined) FROM runs GROUP BY 1 ORDER BY 1"
    assert main(["query", "--data", root, sql]) == 0
    assert "b         | 12         | 1" in capsys.readouterr().out
    sql = "SELECT published_date, count(*) FROM articles GROUP BY 1 ORDER BY 1"
    assert main(["query", "--data", root, sql]) == 0
    assert "2024-03-01     | 36" in capsys.readouterr().out
    assert main(["query", "--data", root, "SELECT reason, run_date FROM quarantine"]) == 0
    assert f"http_404 | {NOW.date()}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SET enable_external_access=true",
    ],
)
def test_query_reads_only_the_views_without_unsafe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str
) -> None:
    root = dataset(tmp_path / "data")
    assert main(["query", "--data", str(root), sql.format(tmp=tmp_path)]) == 2
    err = one_sentence(capsys)
    assert "newsflow: query failed: " in err
    assert (
        "queries read only the views articles, quarantine, runs and quality (--unsafe lifts this)"
        in err
    )
    assert not (tmp_path / "x.csv").exists()


def test_query_unsafe_is_full_duckdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(dataset(tmp_path / "data"))
    sql = "SELECT count(*) > 0 AS has_lines FROM read_text('/etc/passwd')"
    assert main(["query", "--data", root, "--unsafe", sql]) == 0
    assert "True" in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_that_is_not_parquet_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    root = dataset(tmp_path)
    (root / "raw").mkdir()  # for reprocess
    broken = next((root / "articles" / "published_date=2024-03-01").glob("b__*.parquet"))
    truncated = broken.read_bytes()[:200]
    broken.write_bytes(truncated)
    assert main([command[0], "--data", str(root), *command[1:]]) == 2
    err = one_sentence(capsys)
    assert f"newsflow: {broken}: is not a readable Parquet file (" in err
    assert "move it aside" in err
    assert broken.read_bytes() == truncated
    assert not (root / "reports").exists()  # nothing was done


def test_a_crawl_state_that_is_not_sqlite_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "data" / "state" / "crawl.sqlite"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"this is not a database" * 10)
    (tmp_path / "data" / "raw").mkdir()
    sources = tmp_path / "sources.yaml"
    sources.write_text('sources:\n  - id: a\n    feeds: ["https://a.example/feed.xml"]\n')
    for command in (["ingest", "--config", str(sources)], ["reprocess"]):
        assert main([*command, "--data", str(tmp_path / "data")]) == 2
        err = one_sentence(capsys)
        assert f"newsflow: {state}: is not a readable SQLite database (" in err
        assert "move it aside and run again: a new crawl state is created" in err


def test_a_crawl_state_damaged_past_its_schema_fails_each_source_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo_sources: Path
) -> None:
    """The opening check reads only the schema: a damaged page found mid-run is the file's
    error for each source (the run's storage), not a quarantine row for every feed and page
    read after it."""
    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    state = data / "state" / "crawl.sqlite"
    page = 4096
    damaged = state.read_bytes()
    state.write_bytes(damaged[:page] + b"\xa5" * (len(damaged) - page))  # all but the schema
    capsys.readouterr()
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 1
    out = capsys.readouterr().out
    sentence = f"CorruptFile: {state}: is not a readable SQLite database ("
    assert out.count(sentence) == 2  # each of the two sources
    assert "move it aside and run again" in out
    details = [
        detail
        for file in (data / "quarantine").rglob("*.parquet")
        for detail in pq.read_table(file, columns=["detail"]).column("detail").to_pylist()
    ]
    assert details and not any("DatabaseError" in (d or "") for d in details)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_data_root_that_is_a_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    afile = tmp_path / "data"
    afile.write_text("not a folder")
    assert main([command[0], "--data", str(afile), *command[1:]]) == 2
    err = one_sentence(capsys)
    assert f"--data {afile}: is a file, not a folder; pass a folder" in err
    assert main([command[0], "--data", str(afile / "sub"), *command[1:]]) == 2
    assert f"is under {afile}, which is a file" in one_sentence(capsys)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_url_data_root_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    # the demo needs a local folder; the others take s3:// data roots
    # (tests/transforms/test_lakelog.py, test_lakemirror.py)
    if command[0] == "demo":
        assert main([command[0], "--data", "s3://bucket/x", *command[1:]]) == 2
        err = one_sentence(capsys)
        assert "--data s3://bucket/x: this command needs a local folder as the data root" in err
    if command[0] != "demo":  # the demo has a default --data of its own
        monkeypatch.setenv("NEWSFLOW_DATA", "GS://bucket/x")
        assert main(command) == 2
        assert "NEWSFLOW_DATA=GS://bucket/x: this command needs a local folder" in one_sentence(
            capsys
        )
    assert list(tmp_path.iterdir()) == []  # no folder named "s3:" or "GS:"


def test_daily_writes_its_report_through_the_read_only_views(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset(tmp_path)
    assert main(["daily", "--data", str(root), "--day", str(NOW.date())]) in (0, 1)
    report = root / "reports" / str(NOW.date())
    assert (report / "report.html").exists() and (report / "quarantine.png").exists()
    sql = "SELECT check_date, quality.check, severity, source_id, message FROM quality"
    assert main(["query", "--data", str(root), sql]) == 0
    assert "check_date | check | severity | source_id | message" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"newsflow {version('newsflow')}"


def test_query_writes_csv_json_and_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import json

    import pyarrow.parquet as pq

    root = str(dataset(tmp_path / "data"))
    sql = (
        "SELECT source_id, count(*) AS n, min(published_at) AS first, "
        "['x', source_id] AS tags FROM articles GROUP BY 1 ORDER BY 1"
    )
    assert main(["query", "--data", root, "--format", "csv", sql]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["source_id", "n", "first", "tags"]
    assert rows[1][:2] == ["a", "13"] and rows[1][3] == '["x", "a"]'
    assert rows[1][2].startswith("2024-03-01T")  # ISO 8601
    assert main(["query", "--data", root, "--format", "json", sql]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["source_id"] for r in records] == ["a", "b", "c"]
    assert records[0]["n"] == 13 and records[0]["tags"] == ["x", "a"]
    out = tmp_path / "result.parquet"
    assert main(["query", "--data", root, "--format", "parquet", "--output", str(out), sql]) == 0
    table = pq.read_table(out)
    assert table.column_names == ["source_id", "n", "first", "tags"] and table.num_rows == 3
    assert capsys.readouterr().out == ""
    # Parquet is binary: it goes to a file, never to the terminal
    assert main(["query", "--data", root, "--format", "parquet", sql]) == 2
    assert "--output" in one_sentence(capsys)
    # any format to a file
    text = tmp_path / "result.csv"
    assert main(["query", "--data", root, "--format", "csv", "--output", str(text), sql]) == 0
    assert text.read_text("utf-8").startswith("source_id,n,first,tags\n")


def test_ingest_json_prints_one_machine_readable_summary(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed_sources"] == 0 and summary["seconds"] > 0
    by_source = {s["source_id"]: s for s in summary["sources"]}
    assert set(by_source) == {"limited-times", "harbour-gazette"}
    assert all(s["status"] == "success" and s["new"] > 0 for s in by_source.values())
    assert all(s["fetched"] >= s["new"] for s in by_source.values())
    assert all(0 < s["seconds"] <= summary["seconds"] for s in by_source.values())


def files(root: Path) -> dict[Path, int]:
    """Every file under `root` with its modification time: what a refused command left."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("option", "value", "use"),
    [
        ("--compact-older-than-days", "1000000", "a number of days from 0 to 36500"),
        ("--compact-older-than-days", "-1", "a number of days from 0 to 36500"),
        ("--check-days", "61", "a number of days from 1 to 60"),
        ("--day", "9999-12-31", "a day from 1970-01-01 to 9000-12-31"),
        ("--day", "0001-01-01", "a day from 1970-01-01 to 9000-12-31"),
    ],
)
def test_daily_refuses_an_option_out_of_range_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, use: str
) -> None:
    root = dataset(tmp_path)
    before = files(root)
    assert main(["daily", "--data", str(root), option, value]) == 2
    assert f"newsflow: {option} {value}: use {use}." in one_sentence(capsys)
    assert files(root) == before  # nothing compacted, removed or reported


@pytest.mark.parametrize("sql", ["", "-- hi", ";", "   ", "/* nothing */ ;"])
def test_an_empty_query_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sql: str
) -> None:
    root = dataset(tmp_path)
    assert main(["query", "--data", str(root), sql]) == 2
    err = one_sentence(capsys)
    assert "newsflow: the query is empty (no SQL statement" in err
    assert 'pass one, like "SELECT count(*) FROM articles".' in err


@pytest.mark.parametrize("fmt", ["table", "csv", "parquet"])
def test_a_query_output_that_cannot_be_written_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    root = str(dataset(tmp_path / "data"))
    folder = tmp_path / "out"
    folder.mkdir()
    query = ["query", "--data", root, "--format", fmt, "SELECT 1 AS n", "--output"]
    assert main([*query, str(folder)]) == 2
    suffix = "txt" if fmt == "table" else fmt
    assert f"--output {folder}: is a folder; pass a file name, like {folder}/result.{suffix}." in (
        one_sentence(capsys)
    )
    missing = tmp_path / "nowhere" / "x.csv"
    assert main([*query, str(missing)]) == 2
    err = one_sentence(capsys)
    assert f"--output {missing}: the folder {missing.parent} does not exist; create it" in err
    assert list(folder.iterdir()) == [] and not missing.parent.exists()


@pytest.mark.parametrize("port", ["70000", "-1", "0"])
def test_serve_demo_refuses_a_port_out_of_range(
    capsys: pytest.CaptureFixture[str], port: str
) -> None:
    assert main(["serve-demo", "--port", port]) == 2
    assert f"--port {port}: use a port number from 1 to 65535." in one_sentence(capsys)


def test_serve_demo_names_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve-demo", "--port", str(port)]) == 2
    err = one_sentence(capsys)
    assert f"--port {port}: cannot serve on 127.0.0.1:{port} (Address already in use); " in err
    assert "pass another port" in err


@pytest.mark.parametrize("workers", ["0", "-3", "10000"])
def test_reprocess_refuses_a_number_of_workers_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    (tmp_path / "raw").mkdir()
    assert main(["reprocess", "--data", str(tmp_path), "--workers", workers]) == 2
    assert f"--workers {workers}: use a number of processes from 1 to 256." in one_sentence(capsys)


def test_reprocess_refuses_a_source_without_stored_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset(tmp_path)
    (root / "raw" / "a").mkdir(parents=True)
    (root / "raw" / "a" / "K1.warc.gz").write_bytes(b"")  # named only: nothing is read
    assert main(["reprocess", "--data", str(root), "--source", "a", "--source", "nope"]) == 2
    err = one_sentence(capsys)
    assert f"{root / 'raw'}: no WARC files of a source with id 'nope' (stored: a); pass" in err


@pytest.mark.parametrize(
    "command", [["retag"], ["dedup", "--rebuild"], ["daily"], ["migrate-urls"]], ids=" ".join
)
@pytest.mark.parametrize("wrong", ["missing.yaml", "folder"])
def test_a_sources_variable_naming_no_file_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    wrong: str,
) -> None:
    root = dataset(tmp_path / "data")
    (tmp_path / "folder").mkdir()
    named = tmp_path / wrong
    monkeypatch.setenv("NEWSFLOW_SOURCES", str(named))
    before = files(root)
    assert main([command[0], "--data", str(root), *command[1:]]) == 2
    what = "is a folder" if wrong == "folder" else "no such file"
    assert f"newsflow: NEWSFLOW_SOURCES={named}: {what}; point it at a sources file" in (
        one_sentence(capsys)
    )
    assert files(root) == before


@pytest.mark.parametrize("command", [["dedup", "--rebuild"], ["dedup"], ["migrate-urls"]])
def test_window_days_and_config_are_one_or_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    root = dataset(tmp_path / "data")
    missing = tmp_path / "missing.yaml"
    before = files(root)
    both = [*command, "--data", str(root), "--window-days", "5", "--config", str(missing)]
    assert main(both) == 2
    assert (
        f"--window-days 5 and --config {missing}: both set the dedup window; pass only one"
        in one_sentence(capsys)
    )
    assert main([*command, "--data", str(root), "--config", str(missing)]) == 2
    assert f"{missing}: file not found" in one_sentence(capsys)
    assert files(root) == before


def test_ingest_runs_a_source_named_twice_once(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    data = tmp_path / "data"
    twice = ["--source", "limited-times", "--source", "limited-times"]
    assert (
        main(["ingest", "--config", str(demo_sources), "--data", str(data), "--json", *twice]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert [s["source_id"] for s in summary["sources"]] == ["limited-times"]


@pytest.mark.parametrize(
    "endpoint", ["localhost:9000", "http://127.0.0.1:99999", "http://[::1", "ftp://host:21"]
)
def test_a_wrong_endpoint_variable_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert main(["query", "--data", "s3://bucket/x", "SELECT 1"]) == 2
    err = one_sentence(capsys)
    assert f"newsflow: AWS_ENDPOINT_URL={endpoint}: not an address of an S3-compatible " in err
    assert "write it like http://localhost:9000" in err


def test_the_opening_check_reads_only_files_written_or_changed_since_it_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's check of the stored files costs what was written since the last, not the
    store; a file damaged after it passed is still named before anything is done."""
    import re
    import shutil

    import transforms.files
    from ingest.cli import _check_stored
    from transforms.dataset import article_files
    from transforms.exceptions import CorruptFile

    root = dataset(tmp_path / "data")
    read: list[Path] = []
    footer = pq.read_metadata
    monkeypatch.setattr(
        transforms.files.pq, "read_metadata", lambda path: read.append(path) or footer(path)
    )
    stored = article_files(root)
    _check_stored(root)
    assert sorted(read) == stored
    read.clear()
    _check_stored(root)
    assert read == []
    added = stored[0].with_name("z__K9.parquet")
    shutil.copyfile(stored[0], added)
    _check_stored(root)
    assert read == [added]
    broken = stored[-1]
    broken.write_bytes(broken.read_bytes()[:200])
    with pytest.raises(CorruptFile, match=f"{re.escape(str(broken))}: is not a readable Parquet"):
        _check_stored(root)
