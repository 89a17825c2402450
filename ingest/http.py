"""The one HTTP client of the project: every request the crawler makes goes through it.

It sends an honest User-Agent, applies timeouts and a size cap enforced while streaming,
checks every redirect hop against the network guard, and turns each failure into a
`FetchError` with a short machine-readable reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

import requests

from ingest.config import Settings
from ingest.netguard import BlockedAddress, UnresolvableHost, check_url, parse_networks

MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """A request that produced no usable response; `reason` is a quarantine code."""

    def __init__(self, reason: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    fetched_at: dt.datetime

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        return media_type(self.headers.get("Content-Type", ""))[0]

    @property
    def charset(self) -> str | None:
        return media_type(self.headers.get("Content-Type", ""))[1]


def media_type(header: str) -> tuple[str, str | None]:
    """Split a Content-Type header into (media type, charset or None)."""
    msg = Message()
    msg["Content-Type"] = header or "application/octet-stream"
    charset = msg.get_param("charset")
    return msg.get_content_type().lower(), (str(charset).strip().lower() if charset else None)


class HttpClient:
    """A requests session carrying the project's politeness and safety rules."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowed = parse_networks(settings.allow_networks)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.bytes_fetched = 0
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, accept: str = "*/*") -> Response:
        """GET `url`, following up to MAX_REDIRECTS redirects; raises FetchError on any failure."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(current).scheme not in ("http", "https"):
                raise FetchError("bad_scheme", f"refusing non-http(s) URL {current}")
            try:
                check_url(current, self.allowed)
            except BlockedAddress as exc:
                raise FetchError("network_blocked", str(exc)) from None
            except UnresolvableHost as exc:
                raise FetchError("dns_error", str(exc)) from None
            response = self._request(current, accept)
            if response.is_redirect:
                location = response.headers.get("Location", "")
                response.close()
                if not location:
                    raise FetchError(
                        "bad_redirect",
                        f"{current} redirected without a Location",
                        response.status_code,
                    )
                current = urljoin(current, location)
                continue
            return self._read(current, response)
        raise FetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    def _request(self, url: str, accept: str) -> requests.Response:
        self.requests_made += 1
        timeout = self.settings.timeout_s
        try:
            return self.session.get(
                url,
                headers={"Accept": accept},
                timeout=(min(timeout, 10.0), timeout),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            raise FetchError("timeout", f"{url}: {exc.__class__.__name__}") from None
        except requests.ConnectionError as exc:
            raise FetchError("connection_error", f"{url}: {_short(exc)}") from None
        except requests.RequestException as exc:
            raise FetchError("request_error", f"{url}: {_short(exc)}") from None

    def _read(self, url: str, response: requests.Response) -> Response:
        cap = self.settings.max_page_bytes
        with response:
            if response.status_code >= 400:
                raise FetchError(
                    f"http_{response.status_code}",
                    f"{url} answered {response.status_code} {response.reason}",
                    response.status_code,
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise FetchError(
                    "too_large", f"{url} declares {declared} bytes, over the cap of {cap}"
                )
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_content(chunk_size=65536):
                    size += len(chunk)
                    if size > cap:
                        raise FetchError(
                            "too_large", f"{url} sent more than the cap of {cap} bytes"
                        )
                    chunks.append(chunk)
            except requests.RequestException as exc:
                if _timed_out(exc):
                    raise FetchError("timeout", f"{url}: read timed out") from None
                raise FetchError("connection_error", f"{url}: {_short(exc)}") from None
        self.bytes_fetched += size
        return Response(
            url=url,
            status=response.status_code,
            headers=response.headers,
            body=b"".join(chunks),
            fetched_at=dt.datetime.now(dt.UTC),
        )


def _timed_out(exc: requests.RequestException) -> bool:
    """requests reports a read timeout in the middle of a body as a ConnectionError."""
    from urllib3.exceptions import ReadTimeoutError

    return isinstance(exc, requests.Timeout) or any(
        isinstance(a, ReadTimeoutError) for a in exc.args
    )


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."
