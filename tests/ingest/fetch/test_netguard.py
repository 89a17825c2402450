"""The address guard: it checks exactly the host the connection uses, at connect time, and
refuses every non-global range unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.config import ConfigError, Settings
from ingest.fetch.errors import FetchError
from ingest.fetch.http import HttpClient
from ingest.fetch.netguard import is_public
from ingest.fetch.state import CrawlState
from ingest.siteserver import Reply, SiteServer, serve_site
from tests.ingest.sites import sources_file

PUBLIC = "93.184.216.34"  # a globally routable address; nothing ever connects to it here
_real_getaddrinfo = socket.getaddrinfo


def fake_dns(answers: Callable[[str], str | None]) -> Callable[..., Any]:
    """getaddrinfo that answers `answers(host)` for the names it knows (no query leaves the
    machine) and passes literal addresses through."""

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        address = answers(str(host))
        return _real_getaddrinfo(address or host, port, *args, **kwargs)

    return getaddrinfo


@pytest.fixture
def server() -> Iterator[SiteServer]:
    page = Reply(200, {"Content-Type": "text/html"}, b"<html><body>secret</body></html>")
    with serve_site(None, {"/": page, "/robots.txt": Reply(404)}) as srv:
        yield srv


def test_a_backslash_cannot_smuggle_another_host_past_the_check(
    server: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the part before the backslash is where the HTTP library would connect; the part after
    # '@' is what a plain URL parser calls the host
    monkeypatch.setattr(
        socket, "getaddrinfo", fake_dns(lambda h: PUBLIC if h == "example.com" else None)
    )
    url = f"http://127.0.0.1:{server.port}\\@example.com/"
    with CrawlState(tmp_path) as state, HttpClient(Settings(), state) as client:
        with pytest.raises(FetchError) as info:
            client.get(url)
    assert info.value.reason == "bad_url"
    assert server.requests == []  # neither the page nor robots.txt was requested


def test_a_name_that_changes_its_address_after_the_check_is_refused_at_connect(
    server: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = {"n": 0}

    def rebinding(host: str) -> str | None:
        if host != "rebind.example":
            return None
        lookups["n"] += 1
        return PUBLIC if lookups["n"] == 1 else "127.0.0.1"  # public when checked, then not

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns(rebinding))
    settings = Settings(max_retries=0)
    with HttpClient(settings) as client, pytest.raises(FetchError) as info:
        client.get(f"http://rebind.example:{server.port}/")
    assert info.value.reason == "network_blocked"
    assert lookups["n"] == 2  # checked once before, once where the socket connects
    assert server.requests == []


def test_allowed_ranges_still_connect_through_the_guard(server: SiteServer) -> None:
    with HttpClient(Settings(allow_networks=("127.0.0.0/8",))) as client:
        assert client.get(f"{server.base_url}/").body.endswith(b"secret</body></html>")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("100.100.100.200", False),  # shared address space (a cloud's metadata service)
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("192.0.2.10", False),  # documentation
        ("198.18.0.1", False),  # benchmarking
        ("240.0.0.1", False),  # reserved
        ("224.0.0.1", False),  # multicast
        ("10.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:169.254.169.254", False),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("ff02::1", False),
    ],
)
def test_only_globally_routable_unicast_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_shared_address_space_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        fake_dns(lambda h: "100.100.100.200" if h == "metadata.example" else None),
    )
    with HttpClient(Settings()) as client, pytest.raises(FetchError) as info:
        client.get("http://metadata.example/latest/meta-data/")
    assert info.value.reason == "network_blocked"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254\\\\@example.com/feed.xml",
        "http://example.com/feed.xml\\r\\nX-Injected: 1",
        "http://example.com/a b.xml",
    ],
)
def test_configured_urls_with_backslashes_or_control_characters_are_refused(
    tmp_path: Path, url: str
) -> None:
    with pytest.raises(ConfigError) as info:
        sources_file(tmp_path / "sources.yaml", "", feeds=[url])
    message = str(info.value)
    assert str(tmp_path / "sources.yaml") in message and "fixture" in message
    assert "percent-encode" in message
