"""Reading response bodies within limits: bytes out (after decompression), and a deadline.

Decompression is done here, not by urllib3, so a gzip bomb is stopped after at most
`cap` bytes of output, however small its input.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable


class BodyError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Decoder:
    """Incremental identity/gzip/deflate decoder whose output is capped."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.encoding = encoding.strip().lower()
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        if self.encoding in ("", "identity"):
            self._z = None
        elif self.encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate_tried = False
        else:
            raise BodyError("bad_encoding", f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes) -> None:
        if self._z is None:
            self._add(data)
            return
        while data:
            if self._z.eof:
                # after a whole member: another gzip member, or zero padding (which gzip
                # allows) or trailing junk, both ignored as browsers and gzip itself do
                data = data.lstrip(b"\x00")
                if not data or self.encoding == "deflate" or data[:1] != b"\x1f":
                    return
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = self._z.decompress(data, self.cap - self.size + 1)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self._raw_deflate_tried and self.size == 0:
                    self._raw_deflate_tried = (
                        True  # some servers send raw deflate without a zlib header
                    )
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BodyError("bad_encoding", f"corrupt {self.encoding} body: {exc}") from None
            self._add(out)
            data = self._z.unconsumed_tail or (self._z.unused_data if self._z.eof else b"")

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            self.parts.append(data[: len(data) - (self.size - self.cap)])  # up to the cap
            what = "decompressed " if self._z is not None else ""
            raise BodyError("too_large", f"{what}body exceeds the cap of {self.cap} bytes")
        self.parts.append(data)

    def body(self) -> bytes:
        return b"".join(self.parts)

    def finish(self) -> bytes:
        """The whole body, once the input has ended; a compressed stream cut before its end
        (a connection closed early, a Content-Length that lies) is `bad_encoding`, not a
        page with its end missing."""
        if self._z is not None and not self._z.eof:
            raise BodyError(
                "bad_encoding", f"truncated {self.encoding} body: the stream ends before its end"
            )
        return self.body()


def read_limited(
    read1: Callable[[int], bytes],
    encoding: str,
    cap: int,
    deadline: float,
    *,
    truncate: bool = False,
) -> bytes:
    """Read a body with `read1` (returns what is available, b'' at the end) within the limits.

    `deadline` is a time.monotonic() value; raises BodyError (`too_large`, `timeout`,
    `bad_encoding`). With `truncate`, a body over `cap` is not an error: its first `cap`
    bytes are returned (what a crawler reads of a long robots.txt).
    """
    decoder = Decoder(encoding, cap)
    while True:
        if time.monotonic() > deadline:
            raise BodyError("timeout", "the response took longer than the request deadline")
        chunk = read1(16384)
        if not chunk:
            break
        try:
            decoder.feed(chunk)
        except BodyError as exc:
            if not (truncate and exc.reason == "too_large"):
                raise
            return decoder.body()[:cap]
    return decoder.finish()


def gunzip_limited(data: bytes, cap: int) -> bytes:
    """Decompress a gzip file (a .xml.gz sitemap) to at most `cap` bytes."""
    decoder = Decoder("gzip", cap)
    decoder.feed(data)
    return decoder.finish()
