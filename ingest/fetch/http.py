"""The one HTTP client of the project: every request the crawler makes goes through it.

Per request, in order: the URL's scheme and resolved addresses are checked (at every redirect
hop), robots.txt is consulted (cached in the crawl state), a slot is taken from the host's
rate limit (shared by every process using the same data root), then the response is read
within a size cap counted after decompression and a total deadline. Connection errors,
timeouts, 429 and 5xx are retried with exponential backoff and jitter, honouring
Retry-After up to a cap. Every failure is a `FetchError` with a short machine-readable reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from ingest.config import Settings
from ingest.fetch.body import BodyError, read_limited
from ingest.fetch.errors import FetchError
from ingest.fetch.netguard import (
    BlockedAddress,
    UnresolvableHost,
    UnsafeURL,
    check_url,
    guarded_adapter,
    parse_networks,
)
from ingest.fetch.robots import MAX_ROBOTS_BYTES, RobotsPolicy
from ingest.fetch.watchdog import Watch, watched

if TYPE_CHECKING:
    from ingest.fetch.state import CrawlState

MAX_REDIRECTS = 5
MAX_CRAWL_DELAY_S = 60.0  # a robots.txt Crawl-delay is honoured up to a minute between requests
ANSWER_POLL_S = 0.02  # how often a request waits for the host's last one to be answered
HTML_TYPES = ("text/html", "application/xhtml+xml")


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

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def media_type(header: str) -> tuple[str, str | None]:
    """Split a Content-Type header into (media type, charset or None)."""
    msg = Message()
    msg["Content-Type"] = header or "application/octet-stream"
    charset = msg.get_param("charset")
    return msg.get_content_type().lower(), (str(charset).strip().lower() if charset else None)


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After in seconds, from either its delta-seconds or its HTTP-date form."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return (rng or random).uniform(0, min(cap, base * 2**attempt))


class WaitBudget:
    """The seconds a run may spend waiting for servers that ask it to back off (retry delays
    and Retry-After), per host and in all, and for a host that does not answer (requests
    that timed out or lost their connection: they count for that host only, so a few dead
    hosts do not stop the run's requests to the rest); shared by the clients of one run's
    threads. Once a wait was refused, the host (or, over the run's budget, every host) gets
    no more requests in this run: its items are retried by the next."""

    def __init__(
        self,
        settings: Settings,
        spent: Mapping[str, float] | None = None,
        unanswered: Mapping[str, float] | None = None,
    ) -> None:
        self.per_host = settings.backoff_budget_host_s
        self.per_run = settings.backoff_budget_run_s
        self.spent: dict[str, float] = dict(spent or {})  # host -> backoff waits
        self.unanswered: dict[str, float] = dict(unanswered or {})  # host -> unanswered time
        self._refused: dict[str, str] = {}  # host ("" for every host) -> why
        self._lock = threading.Lock()

    def refusal(self, host: str) -> str | None:
        """Why no more requests go to `host` in this run, or None."""
        with self._lock:
            return self._refused.get("") or self._refused.get(host)

    def spend(self, host: str, seconds: float, unanswered: float = 0.0) -> str | None:
        """Take `seconds` of backing off for `host`, after `unanswered` seconds of requests
        it did not answer; or return why not (over a budget: the unanswered time is counted
        all the same)."""
        with self._lock:
            unanswered_total = self.unanswered.get(host, 0.0) + max(unanswered, 0.0)
            self.unanswered[host] = unanswered_total
            host_total = self.spent.get(host, 0.0) + seconds + unanswered_total
            run_total = sum(self.spent.values()) + seconds
            if host_total > self.per_host:
                why = f"{host} cost {host_total:.0f}s of backing off and unanswered requests, over the run's {self.per_host:g}s per host"
                self._refused[host] = why
                return why
            if run_total > self.per_run:
                why = f"servers asked for {run_total:.0f}s of backing off, over the run's {self.per_run:g}s"
                self._refused[""] = why
                return why
            self.spent[host] = self.spent.get(host, 0.0) + seconds
            return None


class HttpClient:
    """A requests session carrying the project's politeness and safety rules.

    Without a crawl state (`state=None`) it neither reads robots.txt nor rate-limits: that
    mode is for tests of the mechanics only; the pipeline always passes the state.
    """

    def __init__(
        self,
        settings: Settings,
        state: CrawlState | None = None,
        *,
        sleeper: Callable[[float], None] = time.sleep,
        budget: WaitBudget | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.allowed = parse_networks(settings.allow_networks)
        self.session = requests.Session()
        guarded = guarded_adapter(self.allowed)  # the address check where the socket connects
        self.session.mount("http://", guarded)
        self.session.mount("https://", guarded)
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.bytes_fetched = 0
        self.requests_made = 0
        self._lock = threading.Lock()
        self._sleep = sleeper
        self.budget = budget or WaitBudget(settings)
        self.robots: RobotsPolicy | None = None
        if state is not None:
            self.robots = RobotsPolicy(
                lambda url: self.get_robots(url, MAX_ROBOTS_BYTES).body,
                state,
                settings.robots_token,
                settings.robots_ttl_s,
            )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ public

    def get(
        self,
        url: str,
        *,
        accept: str = "*/*",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response:
        """GET `url` under every rule above; a 304 answer to the validators is returned as is.

        Raises FetchError on anything else that is not a 2xx response.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._with_retries(url, headers, check_robots=True)

    def get_robots(self, url: str, read_at_most: int) -> Response:
        """GET a robots.txt itself: the same rules, minus robots.txt; a longer file is cut to
        its first `read_at_most` bytes instead of being refused."""
        return self._with_retries(
            url, {"Accept": "text/plain, */*;q=0.1"}, check_robots=False, truncate_at=read_at_most
        )

    # ---------------------------------------------------------------------------- internals

    def _with_retries(
        self,
        url: str,
        headers: dict[str, str],
        *,
        check_robots: bool,
        truncate_at: int | None = None,
    ) -> Response:
        s = self.settings
        host = urlsplit(url).hostname or ""
        for attempt in range(s.max_retries + 1):
            try:
                return self._follow(url, headers, check_robots, truncate_at)
            except FetchError as exc:
                # a host that does not answer costs what it was waited for, like a backoff:
                # past its budget it gets no more requests this run (not 4 x 60 s per item)
                lost = exc.waited if exc.reason in ("timeout", "connection_error") else 0.0
                if not exc.retryable or attempt == s.max_retries:
                    if lost > 0:
                        self.budget.spend(host, 0.0, lost)
                    raise
                if exc.retry_after is not None:
                    if exc.retry_after > s.retry_after_cap_s:
                        exc.detail += f" (Retry-After {exc.retry_after:.0f}s is over the cap of {s.retry_after_cap_s:.0f}s)"
                        raise
                    delay = exc.retry_after
                else:
                    delay = backoff_delay(attempt, s.backoff_base_s, s.backoff_max_s)
                over = self.budget.spend(host, delay, lost)
                if over is not None:
                    raise FetchError("host_backoff", f"{url}: {exc.detail}; {over}") from None
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _follow(
        self, url: str, headers: dict[str, str], check_robots: bool, truncate_at: int | None
    ) -> Response:
        started = time.monotonic()
        deadline = started + self.settings.deadline_s
        admitting = 0.0  # the waits for slots and robots.txt: not the server's time
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            before = time.monotonic()
            self._admit(current, check_robots)
            admitting += time.monotonic() - before
            deadline = started + admitting + self.settings.deadline_s
            with watched(deadline) as watch:
                try:
                    response = self._answered(current, headers, deadline, watch)
                    overdue = self._overdue(current, watch)  # (headers cut short, maybe)
                    if overdue is not None:
                        response.close()
                        raise overdue
                    status = response.status_code
                    if not (300 <= status < 400):
                        return self._read(current, response, deadline, truncate_at, watch)
                except FetchError as exc:  # the server's time
                    exc.waited = max(time.monotonic() - started - admitting, 0.0)
                    raise
                if status == 304 and not {"If-None-Match", "If-Modified-Since"} & headers.keys():
                    response.close()  # (not modified since what? nothing was asked)
                    raise FetchError(
                        "http_304", f"{current} answered 304 to a request without validators", 304
                    )
                if status == 304:
                    return self._read(current, response, deadline, truncate_at, watch)
                response.close()
            current = self._redirected(current, response)
        raise FetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    def _answered(
        self, url: str, headers: dict[str, str], deadline: float, watch: Watch
    ) -> requests.Response:
        """The response's status and headers (the body still to read)."""
        try:
            return self._request(url, headers, deadline, watch)
        finally:
            if self.state is not None:  # the host's next request waits from now on
                self.state.request_answered(urlsplit(url).hostname or "")

    def _redirected(self, current: str, response: requests.Response) -> str:
        """The URL a redirect response points to."""
        status = response.status_code
        location = response.headers.get("Location", "").strip()
        # raw UTF-8 bytes (a non-ASCII slug), which HTTP headers carry as Latin-1; a
        # Location that is not UTF-8 is kept as the header gave it
        with contextlib.suppress(UnicodeError):
            location = location.encode("latin-1").decode("utf-8")
        if not location:
            raise FetchError(
                "bad_redirect", f"{current} answered {status} without a Location", status
            )
        try:
            target = urljoin(current, location)
            urlsplit(target).port  # noqa: B018 - raises ValueError for a malformed URL
        except ValueError:
            raise FetchError(
                "bad_redirect",
                f"{current} redirected to a malformed URL {location[:200]!r}",
                status,
            ) from None
        return target

    def _admit(self, url: str, check_robots: bool) -> None:
        """Scheme, address, robots.txt and rate limit, for one hop (waiting for its slot)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError("bad_scheme", f"refusing non-http(s) URL {url}")
        over = self.budget.refusal(urlsplit(url).hostname or "")
        if over is not None:
            raise FetchError("host_backoff", f"not requesting {url}: {over}")
        try:
            check_url(url, self.allowed)
        except UnsafeURL as exc:
            raise FetchError("bad_url", str(exc)) from None
        except BlockedAddress as exc:
            raise FetchError("network_blocked", str(exc)) from None
        except UnresolvableHost as exc:
            raise FetchError("dns_error", str(exc)) from None
        delay = 0.0
        if check_robots and self.robots is not None:
            delay = min(self.robots.check(url), MAX_CRAWL_DELAY_S)
        if self.state is None:
            return
        host = urlsplit(url).hostname or ""
        interval = max(1.0 / self.settings.rate_limit_per_host, delay)
        wait = max(self.state.reserve_slot(host, interval), 0.0)
        if wait > 0:
            self._sleep(wait)
        # the host's last request (another process's, maybe) must be answered first; one
        # whose sender died is waited for as long as a request may take
        stale = self.settings.timeout_s + interval
        for _ in range(int(stale / ANSWER_POLL_S) + 2):
            late = self.state.confirm_slot(host, interval, stale)
            if late is not None:
                break
            self._sleep(ANSWER_POLL_S)
        else:
            late = self.state.confirm_slot(host, interval, 0.0)
        assert late is not None
        if late > 0:
            self._sleep(late)

    def _request(
        self, url: str, headers: dict[str, str], deadline: float, watch: Watch
    ) -> requests.Response:
        with self._lock:
            self.requests_made += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(
                "timeout", f"{url}: request deadline of {self.settings.deadline_s:g}s passed"
            )
        timeout = min(self.settings.timeout_s, remaining)
        try:
            return self.session.get(
                url,
                headers=headers,
                timeout=(min(timeout, 10.0), timeout),
                allow_redirects=False,
                stream=True,
            )
        except BlockedAddress as exc:  # the connect-time check (a name that changed its address)
            raise FetchError("network_blocked", str(exc)) from None
        except requests.RequestException as exc:
            raise self._overdue(url, watch) or _as_fetch_error(url, exc) from None
        except ValueError as exc:  # requests parses a malformed Location before we see it
            raise self._overdue(url, watch) or FetchError("bad_redirect", f"{url}: {exc}") from None

    def _read(
        self,
        url: str,
        response: requests.Response,
        deadline: float,
        truncate_at: int | None,
        watch: Watch,
    ) -> Response:
        with response:
            status = response.status_code
            if status == 304:
                return Response(url, status, response.headers, b"", dt.datetime.now(dt.UTC))
            if status >= 400 or status < 200 or status in (204, 205):
                raise FetchError(
                    f"http_{status}",
                    f"{url} answered {status} {response.reason}",
                    status,
                    retry_after_seconds(response.headers.get("Retry-After")),
                )
            cap = truncate_at or self.settings.max_page_bytes
            declared = response.headers.get("Content-Length", "")
            if (
                truncate_at is None
                and declared.isdigit()
                and int(declared) > cap
                and not response.headers.get("Content-Encoding")
            ):
                raise FetchError(
                    "too_large", f"{url} declares {declared} bytes, over the cap of {cap}"
                )
            try:
                body = read_limited(
                    lambda n: response.raw.read1(n, decode_content=False),
                    response.headers.get("Content-Encoding", ""),
                    cap,
                    deadline,
                    truncate=truncate_at is not None,
                )
            except BodyError as exc:
                raise self._overdue(url, watch) or FetchError(
                    exc.reason, f"{url}: {exc.detail}"
                ) from None
            except Exception as exc:  # requests' and urllib3's errors while streaming the body
                raise self._overdue(url, watch) or _as_fetch_error(url, exc) from None
            overdue = self._overdue(url, watch)  # (a body without a length ends when cut)
            if overdue is not None:
                raise overdue
        with self._lock:
            self.bytes_fetched += len(body)
        headers = CaseInsensitiveDict(response.headers)
        for name in ("Content-Encoding", "Transfer-Encoding"):  # the body is stored decoded
            headers.pop(name, None)
        headers["Content-Length"] = str(len(body))
        return Response(url, status, headers, body, dt.datetime.now(dt.UTC))

    def _overdue(self, url: str, watch: Watch) -> FetchError | None:
        """The timeout of a request whose connection the watchdog cut at its deadline."""
        if not watch.fired:
            return None
        return FetchError(
            "timeout", f"{url}: request deadline of {self.settings.deadline_s:g}s passed"
        )


def _as_fetch_error(url: str, exc: BaseException) -> FetchError:
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    if isinstance(exc, requests.Timeout | ReadTimeoutError) or any(
        isinstance(a, ReadTimeoutError) for a in exc.args
    ):
        return FetchError("timeout", f"{url}: timed out")
    malformed = _malformed_answer(exc)
    if malformed is not None:  # the same answer again on a retry: not retried
        shown = f"{type(malformed).__name__}: {str(malformed)[:200]!r}"
        return FetchError("bad_response", f"{url}: a malformed answer ({shown})")
    if isinstance(exc, requests.ConnectionError | ProtocolError | ConnectionError):
        return FetchError("connection_error", f"{url}: {_short(exc)}")
    return FetchError("request_error", f"{url}: {_short(exc)}")


def _malformed_answer(exc: BaseException, depth: int = 0) -> BaseException | None:
    """The http.client error inside `exc` saying the server's answer was malformed (a bad
    status line, a header line over 64 KiB, over 100 headers), if there is one; a connection
    that closed or broke is not one, nor is a connection in the wrong state for a request
    (CannotSendRequest, ResponseNotReady: this side's doing, not the server's answer)."""
    from http.client import (
        HTTPException,
        ImproperConnectionState,
        IncompleteRead,
        RemoteDisconnected,
    )

    if isinstance(exc, HTTPException) and not isinstance(
        exc, RemoteDisconnected | IncompleteRead | ImproperConnectionState
    ):
        return exc
    if depth > 3:
        return None
    inner = [a for a in exc.args if isinstance(a, BaseException)] + [exc.__context__]
    for candidate in inner:
        if candidate is not None and candidate is not exc:
            found = _malformed_answer(candidate, depth + 1)
            if found is not None:
                return found
    return None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
