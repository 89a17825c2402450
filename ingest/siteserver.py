"""A small threaded HTTP server for a folder of static pages, on 127.0.0.1.

Serves the bundled demo site and the tests' fixture sites. `{{BASE_URL}}` in text files is
replaced by the server's own base URL, so feeds and canonical links carry absolute URLs.
Extra routes (status, headers, body) let a test add any response it needs; every request
path is logged so tests can count requests.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class Reply:
    """A response; with `chunks`, the body is streamed without a Content-Length."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None


Route = Reply | Callable[[str], Reply]


class SiteServer:
    def __init__(
        self,
        root: Path | None,
        routes: dict[str, Route] | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.root = root
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.base_url = f"http://{host}:{self.port}"
        self.request_headers: list[tuple[str, dict[str, str]]] = []
        self.request_times: list[tuple[float, str]] = []  # (time.monotonic(), path)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="siteserver", daemon=True
        )

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for p in self.requests if p == path)

    def reply(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        route = self.routes.get(path)
        if route is not None:
            return route(path) if callable(route) else route
        if self.root is None:
            return Reply(404, {"Content-Type": "text/plain"}, b"not found")
        target = (self.root / unquote(path).lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            return Reply(
                404,
                {"Content-Type": "text/html; charset=utf-8"},
                b"<html><body><h1>Not found</h1></body></html>",
            )
        body = target.read_bytes()
        ctype = TEXT_TYPES.get(target.suffix)
        if ctype is not None:
            body = body.replace(b"{{BASE_URL}}", self.base_url.encode("ascii"))
        else:
            ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        # validators, and 304 answers to conditional requests, as a real web server gives them
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = formatdate(target.stat().st_mtime, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        request = {k.lower(): v for k, v in (headers or {}).items()}
        if etag in request.get("if-none-match", "") or (
            "if-none-match" not in request and request.get("if-modified-since") == modified
        ):
            return Reply(304, validators)
        return Reply(200, {"Content-Type": ctype, **validators}, body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                headers = dict(self.headers.items())
                with server._lock:
                    server.requests.append(path)
                    server.request_headers.append((path, headers))
                    server.request_times.append((time.monotonic(), path))
                reply = server.reply(path, headers)
                self.send_response(reply.status)
                if reply.chunks is None:
                    out = {"Content-Length": str(len(reply.body)), **reply.headers}
                else:
                    out = {"Connection": "close", **reply.headers}
                    self.close_connection = True
                for name, value in out.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for chunk in reply.chunks if reply.chunks is not None else [reply.body]:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-response (a size cap, a timeout) is expected here."""


@contextmanager
def serve_site(
    root: Path | None,
    routes: dict[str, Route] | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
) -> Iterator[SiteServer]:
    """Serve `root` on `host` (a free port unless given) for the duration of the block."""
    server = SiteServer(root, routes, port, host).start()
    try:
        yield server
    finally:
        server.stop()
