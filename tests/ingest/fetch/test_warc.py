"""Raw capture as WARC, and `newsflow reprocess` rebuilding the same articles without the network."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from warcio.archiveiterator import ArchiveIterator

from ingest.cli import main
from ingest.fetch.warc import RunArchive, read_info, read_responses, read_written
from ingest.siteserver import SiteServer


def rows(data: Path) -> list[tuple[object, ...]]:
    table = ds.dataset(data / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(
        (
            r["article_id"],
            r["text"],
            r["title"],
            r["published_at"],
            r["date_source"],
            r["duplicate_of"],
            r["fetched_at"],
        )
        for r in table.to_pylist()
    )


def quarantine(data: Path) -> list[tuple[object, ...]]:
    table = ds.dataset(data / "quarantine", format="parquet", partitioning="hive").to_table()
    return sorted((r["url"], r["stage"], r["reason"]) for r in table.to_pylist())


def test_fetched_responses_are_stored_as_warc_records(
    demo_sources: Path, tmp_path: Path, demo_server: SiteServer
) -> None:
    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    (archive,) = (data / "raw" / "limited-times").glob("*.warc.gz")
    with open(archive, "rb") as fh:
        records = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.http_headers.get_statuscode() if r.http_headers else None,
            )
            for r in ArchiveIterator(fh)
        ]
    responses = [(uri, status) for kind, uri, status in records if kind == "response"]
    assert sorted(uri.removeprefix(demo_server.base_url) for uri, _ in responses) == [
        "/limited-times/files/weekly-digest.pdf",
        "/limited-times/news/2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html",
        "/limited-times/news/2023-04-06-port-authority-signs-crane-contract.html",
    ]
    assert {status for _, status in responses} == {"200"}
    assert records[0][0] == "warcinfo" and [k for k, _, _ in records].count("metadata") == 3
    # the site profile the sources file names is kept for reprocessing
    assert read_info(archive)["source_profile"] == "limited-times"


def test_an_item_without_a_fetch_time_takes_its_records_warc_date(tmp_path: Path) -> None:
    path = tmp_path / "run.warc.gz"
    stated = "2024-02-01T09:30:00+00:00"
    with RunArchive(path, {"source_id": "relay"}) as archive:
        for name, item in (("a", {}), ("b", {"fetched_at": stated})):
            url = f"https://relay.example/{name}"
            archive.add(url, 200, "OK", {"Content-Type": "text/html"}, b"<html></html>", item)
    (_, older, _), (_, newer, _) = read_responses(path)
    written = dt.datetime.fromisoformat(older["fetched_at"])
    assert abs(dt.datetime.now(dt.UTC) - written) < dt.timedelta(minutes=5)
    assert newer["fetched_at"] == stated  # the fetch time the live run recorded wins


def test_responses_are_read_at_their_place_while_the_archive_is_written_and_after(
    tmp_path: Path,
) -> None:
    """What a part taken during the fetch reads: each response at the offset and length the
    archive recorded, from the file being written once flushed, and from the finished file
    once it is renamed; a span that holds no response says so."""
    path = tmp_path / "run.warc.gz"
    bodies = [f"<html><p>page {n}</p></html>".encode() * (n + 1) for n in range(3)]
    with RunArchive(path, {"source_id": "relay"}) as archive:
        ids = [
            archive.add(f"https://relay.example/{n}", 200, "OK", {}, body, {}, kept=n != 1)
            for n, body in enumerate(bodies)
        ]
        archive.flush()
        written = list(archive.written)
        spans = [(offset, length) for _, offset, length, _ in written]
        paths = [archive.writing, path]
        assert list(read_written(paths, spans)) == list(zip(ids, bodies, strict=True))
    assert [(record_id, kept) for record_id, _, _, kept in written] == list(
        zip(ids, [True, False, True], strict=True)
    )
    assert not paths[0].exists()
    assert list(read_written(paths, spans[::-1])) == list(zip(ids, bodies, strict=True))[::-1]
    assert list(read_written(paths, [(0, spans[0][0])])) == [None]  # the warcinfo record
    with pytest.raises(FileNotFoundError):
        list(read_written([tmp_path / "none.warc.gz"], spans))


def run_rows(root: Path) -> list[dict[str, Any]]:
    files = sorted(str(p) for p in (root / "runs").glob("run_date=*/*.parquet"))
    return list(ds.dataset(files, format="parquet").to_table().to_pylist())


def test_reprocess_rebuilds_the_same_articles_offline(
    demo_sources: Path, tmp_path: Path, demo_server: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    live_rows, live_quarantine = rows(data), quarantine(data)
    live_crawl = {
        r["source_id"]: tuple(
            r[k] for k in ("discovered", "fetched", "requests", "bytes_fetched", "seconds_fetch")
        )
        for r in run_rows(data)
    }
    demo_server.stop()  # the network is gone from here on
    shutil.rmtree(data / "articles")
    capsys.readouterr()
    assert main(["reprocess", "--data", str(data), "--workers", "2"]) == 0
    assert rows(data) == live_rows
    assert quarantine(data) == live_quarantine  # fetch-stage rows of the live run are kept
    out = capsys.readouterr().out
    assert "total: new=4 duplicate=1 seen=0 failed=3" in out
    # the runs' metrics keep what the crawl did (nothing was fetched again) and say reprocess
    crawl = ("discovered", "fetched", "requests", "bytes_fetched", "seconds_fetch")
    again = {r["source_id"]: r for r in run_rows(data)}
    assert all(r["reprocess"] for r in again.values())
    assert {s: tuple(r[k] for k in crawl) for s, r in again.items()} == live_crawl
    assert all(r["fetched"] > 0 and r["requests"] > 0 for r in again.values())
    assert (
        main(
            ["reprocess", "--data", str(data), "--source", "limited-times", "--since", "2000-01-01"]
        )
        == 0
    )
    assert rows(data) == live_rows  # idempotent
    assert main(["reprocess", "--data", str(data), "--since", "2999-01-01"]) == 0
    assert "sources=0" in capsys.readouterr().out


def test_reprocess_without_raw_data_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reprocess", "--data", str(tmp_path)]) == 2
    assert "no raw/ folder" in capsys.readouterr().err


def test_each_record_is_its_own_gzip_member_with_valid_digests(tmp_path: Path) -> None:
    """Records are compressed one per gzip member (what WARC readers seek by), and the
    payload and block digests the records carry check out."""
    import zlib

    path = tmp_path / "run.warc.gz"
    with RunArchive(path, {"source_id": "s"}) as archive:
        for n in range(3):
            body = f"<html><body><p>page {n}</p></body></html>".encode() * 50
            archive.add(
                f"http://example.test/{n}", 200, "OK", {"Content-Type": "text/html"}, body, {}
            )
    data, members = path.read_bytes(), 0
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS + 16)
        member.decompress(data)
        assert member.eof
        data, members = member.unused_data, members + 1
    with open(path, "rb") as fh:
        kinds = [r.rec_type for r in ArchiveIterator(fh, check_digests="raise")]
    assert kinds == ["warcinfo"] + ["response", "metadata"] * 3
    assert members == len(kinds)
    assert [body[:20] for _, _, body in read_responses(path)] == [b"<html><body><p>page "] * 3
