"""Raw capture: every fetched article response as WARC records (the bronze layer).

One file per source and run, DATA/raw/<source_id>/<run_key>.warc.gz, gzip per record.
Each response record is followed by a metadata record (JSON) holding what the feed said of
the item and how it was fetched, so `newsflow reprocess` rebuilds the same articles
without the network. Bodies are stored decoded (Content-Encoding removed).
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

RAW = "raw"
ITEM_CONTENT_TYPE = "application/vnd.newsflow.item+json"
GZIP_LEVEL = 4  # (see _gzipped)


def warc_path(root: Path, source_id: str, run_key: str) -> Path:
    return root / RAW / source_id / f"{run_key}.warc.gz"


def _gzipped(record: Any) -> bytes:
    """A WARC record as one gzip member (a record per member, as WARC readers expect), at
    level 4 of zlib-ng's deflate (the same format; any gzip reader reads it). Measured on
    the 400 article pages of benchmarks/end_to_end.py: 1.12 ms of CPU per page and 20.2% of
    the page's size, against the standard library zlib's 1.75 ms and 20.5% at the same level
    and 3.05 ms and 19.5% at its default (6)."""
    buffer = io.BytesIO()
    WARCWriter(buffer, gzip=False, warc_version="1.1").write_record(record)
    compressor = zlib_ng.compressobj(GZIP_LEVEL, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)
    return compressor.compress(buffer.getvalue()) + compressor.flush()


class RunArchive:
    """Writes one run's WARC file; it appears under its final name only when closed cleanly."""

    def __init__(self, path: Path, info: Mapping[str, Any]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self._fh: BinaryIO = open(self._tmp, "wb")  # noqa: SIM115 - closed by close()/abort()
        self._writer = WARCWriter(None, gzip=False, warc_version="1.1")  # makes records
        self._lock = threading.Lock()
        self._size = 0  # bytes written so far
        # per response (in the file's order): its WARC-Record-ID, where its two records lie
        # (offset and length in bytes) and whether the page is kept (an HTML page)
        self.written: list[tuple[str, int, int, bool]] = []
        payload = json.dumps(dict(info), sort_keys=True).encode("utf-8")
        record = self._writer.create_warc_record(
            path.name,
            "warcinfo",
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_content_type="application/json",
        )
        self._write(_gzipped(record))

    @property
    def writing(self) -> Path:
        """The file being written (renamed to `path` when closed cleanly)."""
        return self._tmp

    def _write(self, data: bytes) -> int:
        """Append `data`; returns its offset."""
        offset = self._size
        self._fh.write(data)
        self._size += len(data)
        return offset

    def add(
        self,
        url: str,
        status: int,
        reason: str,
        headers: Mapping[str, str],
        body: bytes,
        item: Mapping[str, Any],
        *,
        kept: bool = True,
    ) -> str:
        """Append a response and its item metadata; returns the response's WARC-Record-ID.
        `kept`: whether the page goes on to extraction (said in `written`)."""
        http_headers = StatusAndHeaders(
            f"{status} {reason}".strip(), list(headers.items()), protocol="HTTP/1.1"
        )
        meta_bytes = json.dumps(dict(item), sort_keys=True).encode("utf-8")
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http_headers,
        )
        record_id = str(response.rec_headers.get_header("WARC-Record-ID"))
        meta = self._writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(meta_bytes),
            length=len(meta_bytes),
            warc_content_type=ITEM_CONTENT_TYPE,
            warc_headers_dict={"WARC-Concurrent-To": record_id},
        )
        # compressed outside the lock (zlib-ng lets other threads run meanwhile, as zlib does:
        # two threads compress twice the pages in the same time)
        members = _gzipped(response) + _gzipped(meta)
        with self._lock:
            self.written.append((record_id, self._write(members), len(members), kept))
        return record_id

    def flush(self) -> None:
        """Make what was added so far readable by other processes (`read_written`)."""
        with self._lock:
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> RunArchive:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_written(
    paths: Sequence[Path], spans: Iterable[tuple[int, int]]
) -> Iterator[tuple[str, bytes] | None]:
    """(WARC-Record-ID, body) of the response at each (offset, length) of a run archive, or
    None where there is none, read from the first of `paths` that exists (the file being
    written, which RunArchive.flush made readable that far, then the finished file it is
    renamed to)."""
    for path in paths:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue
        with fh:
            for offset, length in spans:
                fh.seek(offset)
                found = None
                for record in ArchiveIterator(io.BytesIO(fh.read(length))):
                    if record.rec_type == "response":
                        record_id = str(record.rec_headers.get_header("WARC-Record-ID"))
                        found = (record_id, record.content_stream().read())
                        break
                yield found
        return
    raise FileNotFoundError(f"no run archive at {', '.join(map(str, paths))}")


def read_info(path: Path) -> dict[str, Any]:
    """The warcinfo record of a run archive."""
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "warcinfo":
                info: dict[str, Any] = json.loads(record.content_stream().read())
                return info
    raise ValueError(f"{path}: no warcinfo record")


def read_responses(path: Path) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """(WARC-Record-ID, item metadata, body) for every response in a run archive, in order.
    The item's `fetched_at` is the response record's WARC-Date when the item lacks one."""
    pending: dict[str, tuple[bytes, str | None]] = {}
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                pending[str(record.rec_headers.get_header("WARC-Record-ID"))] = (
                    record.content_stream().read(),
                    record.rec_headers.get_header("WARC-Date"),
                )
            elif (
                record.rec_type == "metadata"
                and record.rec_headers.get_header("Content-Type") == ITEM_CONTENT_TYPE
            ):
                record_id = str(record.rec_headers.get_header("WARC-Concurrent-To"))
                item = json.loads(record.content_stream().read())
                if record_id in pending:
                    body, date = pending.pop(record_id)
                    if date and not item.get("fetched_at"):
                        item["fetched_at"] = date
                    yield record_id, item, body
