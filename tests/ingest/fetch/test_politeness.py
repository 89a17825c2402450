"""robots.txt, the shared per-host rate limit, retries with backoff and Retry-After."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.config import Settings
from ingest.fetch.errors import FetchError
from ingest.fetch.http import HttpClient, WaitBudget, backoff_delay, retry_after_seconds
from ingest.fetch.state import CrawlState
from ingest.siteserver import Reply, SiteServer, serve_site

HTML = {"Content-Type": "text/html; charset=utf-8"}
PAGE = Reply(200, HTML, b"<html><body>ok</body></html>")


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "user_agent": "newsflow/0.1 (+https://example.org/newsflow)",
        "timeout_s": 2,
        "allow_networks": ("127.0.0.0/8",),
        "rate_limit_per_host": 100,
        "backoff_base_s": 0.01,
        "max_retries": 2,
    }
    return Settings(**(base | overrides))  # type: ignore[arg-type]


class Flaky:
    """Answers with the given replies in turn, then the last one forever."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.calls = 0

    def __call__(self, _path: str) -> Reply:
        self.calls += 1
        return self.replies[min(self.calls, len(self.replies)) - 1]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[CrawlState]:
    with CrawlState(tmp_path) as crawl_state:
        yield crawl_state


def site(routes: dict[str, object]) -> Iterator[SiteServer]:
    return serve_site(None, routes)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- robots.txt


def test_disallowed_urls_are_never_requested_and_robots_is_cached(state: CrawlState) -> None:
    robots = Reply(
        200,
        {"Content-Type": "text/plain"},
        b"User-agent: newsflow\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n",
    )
    with site({"/robots.txt": robots, "/public.html": PAGE, "/private/x.html": PAGE}) as server:
        with HttpClient(settings(), state) as client:
            assert client.get(f"{server.base_url}/public.html").status == 200
            with pytest.raises(FetchError) as info:
                client.get(f"{server.base_url}/private/x.html")
        assert info.value.reason == "robots_disallowed"
        assert server.count("/private/x.html") == 0
        with HttpClient(
            settings(), state
        ) as client:  # a later task or run: robots.txt from the state
            client.get(f"{server.base_url}/public.html")
        assert server.count("/robots.txt") == 1


def test_a_robots_txt_over_the_page_cap_is_read_to_500_kib_not_refused(
    state: CrawlState,
) -> None:
    rules = b"User-agent: *\nDisallow: /private/\n"
    padding = b"# " + b"x" * 78 + b"\n"
    tail = b"User-agent: *\nDisallow: /late/\n"  # past the first 500 KiB: ignored
    body = rules + padding * 12_000 + tail  # about 970 kB, ten times the page cap below
    routes = {"/robots.txt": Reply(200, {"Content-Type": "text/plain"}, body), "/a": PAGE}
    routes |= {"/private/x": PAGE, "/late/x": PAGE}
    with site(routes) as server, HttpClient(settings(max_page_bytes=100_000), state) as client:
        assert client.get(f"{server.base_url}/a").status == 200
        assert client.get(f"{server.base_url}/late/x").status == 200
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/private/x")
    assert info.value.reason == "robots_disallowed"
    stored = state.robots(server.base_url)
    assert stored is not None and stored[0] == 200 and len(stored[1]) == 512_000


def test_robots_is_read_again_after_its_ttl(state: CrawlState) -> None:
    with site({"/robots.txt": Reply(200, {}, b"User-agent: *\nAllow: /\n"), "/a": PAGE}) as server:
        with HttpClient(settings(robots_ttl_s=0), state) as client:
            client.get(f"{server.base_url}/a")
        with HttpClient(settings(robots_ttl_s=0), state) as client:
            client.get(f"{server.base_url}/a")
        assert server.count("/robots.txt") == 2


def test_missing_robots_allows_everything_and_a_failing_one_allows_nothing(
    state: CrawlState,
) -> None:
    with site({"/a": PAGE}) as server, HttpClient(settings(), state) as client:
        assert client.get(f"{server.base_url}/a").status == 200  # robots.txt is a 404
    with (
        site({"/robots.txt": Reply(503, {}, b""), "/a": PAGE}) as server,
        HttpClient(settings(max_retries=0), state) as client,
    ):
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
        assert info.value.reason == "robots_unavailable"
        assert server.count("/a") == 0


def test_a_robots_txt_answering_304_unasked_means_no_rules_like_a_404(
    state: CrawlState,
) -> None:
    with (
        site({"/robots.txt": Reply(304, {}, b""), "/a": PAGE}) as server,
        HttpClient(settings(), state) as client,
    ):
        assert client.get(f"{server.base_url}/a").status == 200
        assert server.count("/robots.txt") == 1


def test_crawl_delay_is_honoured(state: CrawlState) -> None:
    robots = Reply(200, {}, b"User-agent: *\nCrawl-delay: 0.3\n")
    with (
        site({"/robots.txt": robots, "/a": PAGE}) as server,
        HttpClient(settings(rate_limit_per_host=100), state) as client,
    ):
        for _ in range(4):
            client.get(f"{server.base_url}/a")
        times = [t for t, p in server.request_times if p == "/a"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.28, gaps


# ------------------------------------------------------------------------------ rate limits


def test_the_rate_limit_holds_across_clients_sharing_the_state(tmp_path: Path) -> None:
    """Two clients (as two tasks or DAGs would be) on one host share its limit of 5 requests/s."""
    with site({"/a": PAGE}) as server:

        def worker() -> None:
            with (
                CrawlState(tmp_path) as own,
                HttpClient(settings(rate_limit_per_host=5), own) as client,
            ):
                for _ in range(4):
                    client.get(f"{server.base_url}/a")

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times = sorted(t for t, p in server.request_times if p == "/a")
    assert len(times) == 8
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.18, gaps  # 1/5 s apart, whichever client sent them


def test_different_hosts_do_not_wait_for_each_other(tmp_path: Path) -> None:
    """robots.txt and three pages per host at 2 requests/s: 1.5 s per host, in parallel."""
    with (
        serve_site(None, {"/a": PAGE}, host="127.0.0.1") as one,
        serve_site(None, {"/a": PAGE}, host="127.0.0.2") as two,
    ):

        def worker(base: str) -> None:
            with (
                CrawlState(tmp_path) as own,
                HttpClient(settings(rate_limit_per_host=2), own) as client,
            ):
                for _ in range(3):
                    client.get(f"{base}/a")

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(s.base_url,)) for s in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 2.6, elapsed


# ---------------------------------------------------------------------------------- retries


def test_5xx_is_retried_with_backoff_until_it_succeeds(state: CrawlState) -> None:
    flaky = Flaky(Reply(503, {}, b""), Reply(502, {}, b""), PAGE)
    sleeps: list[float] = []
    with (
        site({"/robots.txt": Reply(404, {}, b""), "/a": flaky}) as server,
        HttpClient(
            settings(backoff_base_s=0.2, max_retries=3), state, sleeper=sleeps.append
        ) as client,
    ):
        assert client.get(f"{server.base_url}/a").status == 200
    assert flaky.calls == 3
    assert (
        sum(sleeps) <= 0.2 + 0.4 + 0.1
    )  # two backoffs of at most 0.2 and 0.4 s, plus rate-limit waits


def test_backoff_is_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(6):
        delays = [backoff_delay(attempt, 1.0, 10.0, rng) for _ in range(200)]
        ceiling = min(10.0, 2.0**attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling and min(delays) < 0.2 * ceiling  # spread, not fixed


def test_4xx_is_not_retried(state: CrawlState) -> None:
    gone = Flaky(Reply(404, {}, b""))
    with site({"/a": gone}) as server, HttpClient(settings(max_retries=3), state) as client:
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
    assert info.value.reason == "http_404" and gone.calls == 1


def test_429_waits_for_retry_after(state: CrawlState) -> None:
    busy = Flaky(Reply(429, {"Retry-After": "1"}, b""), PAGE)
    sleeps: list[float] = []
    with (
        site({"/a": busy}) as server,
        HttpClient(settings(), state, sleeper=sleeps.append) as client,
    ):
        assert client.get(f"{server.base_url}/a").status == 200
    assert 1.0 in sleeps and busy.calls == 2


def test_retry_after_beyond_the_cap_gives_up_at_once(state: CrawlState) -> None:
    busy = Flaky(Reply(429, {"Retry-After": "3600"}, b""))
    sleeps: list[float] = []
    with (
        site({"/a": busy}) as server,
        HttpClient(settings(retry_after_cap_s=60), state, sleeper=sleeps.append) as client,
    ):
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
    assert info.value.reason == "http_429" and "over the cap" in info.value.detail
    assert busy.calls == 1 and all(s < 1 for s in sleeps)


def test_retry_after_in_both_forms() -> None:
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Wed, 25 Nov 2026 12:02:30 GMT", now) == 150
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0  # in the past: at once
    assert retry_after_seconds("soon", now) is None


def test_connection_errors_are_retried_then_reported() -> None:
    with serve_site(None, {}) as server:
        dead = server.base_url  # nothing listens here once the block ends
    with HttpClient(settings(max_retries=2)) as client, pytest.raises(FetchError) as info:
        client.get(f"{dead}/a")
    assert info.value.reason == "connection_error"
    assert client.requests_made == 3


def test_a_storm_of_long_retry_afters_is_bounded_per_host_and_per_run(state: CrawlState) -> None:
    storm = Flaky(Reply(503, {"Retry-After": "100"}, b""))
    sleeps: list[float] = []
    budget = WaitBudget(settings(backoff_budget_host_s=250, backoff_budget_run_s=500))
    with site({f"/{n}": storm for n in range(50)}) as server:
        client = HttpClient(
            settings(max_retries=10, retry_after_cap_s=120),
            state,
            sleeper=sleeps.append,
            budget=budget,
        )
        reasons = []
        for n in range(50):
            with pytest.raises(FetchError) as info:
                client.get(f"{server.base_url}/{n}")
            reasons.append(info.value.reason)
    assert (
        sorted(sleeps)[-3:][1:] == [100.0, 100.0] and sorted(sleeps)[-3] < 1
    )  # a third wait would pass 250 s
    assert reasons == ["host_backoff"] * 50
    assert storm.calls == 3  # the other 49 items were not requested: retried next run
    # another host still has its own budget until the run's is used up
    assert budget.spend("other.example", 240) is None
    assert budget.spend("third.example", 100) is not None  # 200 + 240 + 100 > 500
    assert budget.refusal("fourth.example") is not None


def test_host_backoff_items_are_retried_by_the_next_run(tmp_path: Path) -> None:
    from ingest.config import load_sources
    from ingest.run.model import Run
    from ingest.run.stages import run_source
    from tests.ingest.sites import sources_file, write_site

    site_root = write_site(tmp_path / "site", 4)
    storm = Reply(503, {"Retry-After": "1"}, b"")
    with serve_site(site_root, {f"/a/{n}.html": storm for n in range(4)}) as server:
        sources = sources_file(
            tmp_path / "s.yaml",
            server.base_url,
            settings="  backoff_budget_host_s: 1.5\n  max_retries: 5",
        )
        config = load_sources(sources)
        first = run_source(config.sources[0], config.settings, tmp_path / "data", Run.adhoc())
        pages = sum(server.count(f"/a/{n}.html") for n in range(4))
        server.routes.clear()  # the site is back
        second = run_source(config.sources[0], config.settings, tmp_path / "data", Run.adhoc())
    assert (first["new"], first["failed"], pages) == (0, 4, 2)  # one wait of 1 s, then no more
    assert second["new"] == 4


def test_a_robots_txt_redirecting_to_a_blocked_address_is_named_as_the_cause(
    state: CrawlState,
) -> None:
    routes = {
        "/robots.txt": Reply(302, {"Location": "http://169.254.169.254/robots.txt"}),
        "/a": PAGE,
    }
    with site(routes) as server, HttpClient(settings(), state) as client:
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
        assert server.count("/a") == 0
    assert info.value.reason == "network_blocked"
    assert info.value.detail.startswith(f"reading {server.base_url}/robots.txt: ")
    assert "169.254.169.254" in info.value.detail


def test_a_304_to_a_request_without_validators_is_an_error_not_an_empty_page(
    state: CrawlState,
) -> None:
    routes = {"/a": Reply(304, {}, b""), "/b": PAGE}
    with site(routes) as server, HttpClient(settings(), state) as client:
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
        assert info.value.reason == "http_304" and not info.value.retryable
        assert server.count("/a") == 1
        # asked with a validator, a 304 is the answer it always was
        answered = client.get(f"{server.base_url}/a", etag='"v1"')
    assert answered.not_modified


def test_a_host_that_never_answers_stops_getting_requests_once_its_budget_is_spent() -> None:
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, reads, never answers
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    slow = settings(
        timeout_s=0.5,
        deadline_s=0.5,
        max_retries=1,
        backoff_budget_host_s=2,
        backoff_budget_run_s=1,  # (unanswered time is the host's: the run's is for backoffs)
    )
    reasons = []
    started = time.monotonic()
    try:
        with HttpClient(slow) as client:  # (no crawl state: no robots.txt to wait for)
            for n in range(10):
                try:
                    client.get(f"{base}/a/{n}.html")
                except FetchError as exc:
                    reasons.append(exc.reason)
    finally:
        listener.close()
        for conn in held:
            conn.close()
    elapsed = time.monotonic() - started
    assert reasons[0] == "timeout" and reasons[-1] == "host_backoff", reasons
    assert reasons.count("timeout") <= 3, reasons  # then no more requests to it
    assert elapsed < 6, elapsed  # not 10 items x 2 attempts x 0.5 s
    assert 1.4 < client.budget.unanswered["127.0.0.1"] < 3
    assert client.budget.refusal("other.example") is None  # other hosts still get requests


def test_the_time_a_request_was_unanswered_leaves_out_reading_robots_txt(
    state: CrawlState,
) -> None:
    def slow_robots() -> Iterator[bytes]:
        time.sleep(0.6)
        yield b"User-agent: *\nAllow: /\n"

    def hanging_page() -> Iterator[bytes]:
        yield b"<html><body><p>"
        time.sleep(5)
        yield b"late</p></body></html>"

    routes = {
        "/robots.txt": lambda _path: Reply(200, {}, chunks=slow_robots()),
        "/a": lambda _path: Reply(200, HTML, chunks=hanging_page()),
    }
    with (
        site(routes) as server,
        HttpClient(settings(timeout_s=3, deadline_s=1, max_retries=0), state) as client,
    ):
        started = time.monotonic()
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/a")
        elapsed = time.monotonic() - started
    assert info.value.reason == "timeout"
    assert elapsed >= 1.5, elapsed  # robots.txt's 0.6 s, then the page's whole second
    assert 0.9 < info.value.waited < 1.4, info.value.waited  # the page's second, not robots'
    assert 0.9 < client.budget.unanswered["127.0.0.1"] < 1.4


def test_unanswered_time_is_counted_once_and_only_against_its_host() -> None:
    budget = WaitBudget(settings(backoff_budget_host_s=500, backoff_budget_run_s=900))
    for host in ("a.example", "b.example", "c.example", "d.example", "e.example", "f.example"):
        for _ in range(3):
            assert budget.spend(host, 0.0, 60.0) is None
    assert budget.unanswered["a.example"] == 180 and budget.spent["a.example"] == 0
    assert budget.spend("live.example", 1.0) is None  # dead hosts leave the run's budget
    assert budget.spend("a.example", 0.0, 330.0) is not None  # 180 + 330 > 500, once counted
