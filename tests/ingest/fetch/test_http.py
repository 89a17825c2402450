from __future__ import annotations

import contextlib
import gzip
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.config import Settings
from ingest.fetch.errors import FetchError
from ingest.fetch.http import HttpClient
from ingest.siteserver import Reply, SiteServer, serve_site

LOOPBACK = Settings(
    user_agent="newsflow-tests/0.1",
    timeout_s=2,
    max_page_bytes=100_000,
    backoff_base_s=0.01,
    allow_networks=("127.0.0.0/8",),
)
HTML = {"Content-Type": "text/html; charset=utf-8"}
ARTICLE = (
    b"<html><body>"
    + b"".join(b"<p>Paragraph %d of the report.</p>" % n for n in range(400))
    + b"</body></html>"
)
ARTICLE_GZ = gzip.compress(ARTICLE)


@pytest.fixture
def server() -> Iterator[SiteServer]:
    def forever() -> Iterator[bytes]:
        for _ in itertools.count():
            yield b"x" * 65536

    def slow() -> Iterator[bytes]:
        time.sleep(3)
        yield b"late"

    routes = {
        "/ok.html": Reply(200, HTML, b"<html><body>ok</body></html>"),
        "/declared-big": Reply(200, HTML, b"x" * 200_000),
        "/endless": lambda _p: Reply(200, HTML, chunks=forever()),
        "/slow": lambda _p: Reply(200, HTML, chunks=slow()),
        "/redirect": Reply(301, {"Location": "/ok.html"}),
        "/loop": Reply(302, {"Location": "/loop"}),
        "/to-metadata": Reply(302, {"Location": "http://169.254.169.254/latest/meta-data/"}),
        "/to-file": Reply(302, {"Location": "file:///etc/passwd"}),
        "/gone": Reply(410, HTML, b"gone"),
        # a non-ASCII slug's UTF-8 bytes, which HTTP carries (and Python reads) as Latin-1
        "/to-cafe": Reply(302, {"Location": "/café".encode().decode("latin-1")}),
        "/caf%C3%A9": Reply(200, HTML, b"<html><body>caf\xc3\xa9</body></html>"),
        "/cut.gz": Reply(
            200, {**HTML, "Content-Encoding": "gzip"}, ARTICLE_GZ[: len(ARTICLE_GZ) // 2]
        ),
        "/whole.gz": Reply(200, {**HTML, "Content-Encoding": "gzip"}, ARTICLE_GZ),
        # zero padding after the member (gzip allows it), and junk after it (browsers read on)
        "/padded.gz": Reply(200, {**HTML, "Content-Encoding": "gzip"}, ARTICLE_GZ + bytes(4096)),
        "/junk.gz": Reply(200, {**HTML, "Content-Encoding": "gzip"}, ARTICLE_GZ + b"\r\n0\r\n"),
        "/two.gz": Reply(
            200, {**HTML, "Content-Encoding": "gzip"}, ARTICLE_GZ + bytes(3) + gzip.compress(b"!")
        ),
    }
    with serve_site(None, routes) as srv:
        yield srv


def test_get_returns_body_and_sends_an_honest_user_agent(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client:
        response = client.get(f"{server.base_url}/ok.html")
    assert response.status == 200 and response.body.startswith(b"<html>")
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert response.fetched_at.tzinfo is not None
    assert client.session.headers["User-Agent"] == "newsflow-tests/0.1"


@pytest.mark.parametrize(("path", "reason"), [("/missing", "http_404"), ("/gone", "http_410")])
def test_http_errors_become_reasons(server: SiteServer, path: str, reason: str) -> None:
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get(server.base_url + path)
    assert info.value.reason == reason


def test_redirects_are_followed_and_the_final_url_kept(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client:
        response = client.get(f"{server.base_url}/redirect")
    assert response.url == f"{server.base_url}/ok.html"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/loop", "too_many_redirects"),
        ("/to-metadata", "network_blocked"),
        ("/to-file", "bad_scheme"),
    ],
)
def test_bad_redirects_are_refused(server: SiteServer, path: str, reason: str) -> None:
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get(server.base_url + path)
    assert info.value.reason == reason


def test_loopback_is_refused_unless_allowed(server: SiteServer) -> None:
    with HttpClient(Settings()) as client, pytest.raises(FetchError) as info:
        client.get(f"{server.base_url}/ok.html")
    assert info.value.reason == "network_blocked"
    assert "allow_networks" in info.value.detail
    assert server.requests == []  # refused before any connection


def test_size_cap_is_enforced_on_the_declared_length(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get(f"{server.base_url}/declared-big")
    assert info.value.reason == "too_large"
    assert "declares 200000 bytes" in info.value.detail  # refused before reading the body


def test_size_cap_is_enforced_while_streaming(server: SiteServer) -> None:
    started = time.monotonic()
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get(f"{server.base_url}/endless")
    assert info.value.reason == "too_large"
    assert client.bytes_fetched == 0
    assert time.monotonic() - started < 10  # bounded: the endless body was cut off


def test_slow_server_times_out(server: SiteServer) -> None:
    fast = Settings(user_agent="t", timeout_s=0.5, max_retries=0, allow_networks=("127.0.0.0/8",))
    with HttpClient(fast) as client, pytest.raises(FetchError) as info:
        client.get(f"{server.base_url}/slow")
    assert info.value.reason == "timeout"


def test_unresolvable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)  # no real DNS query leaves the machine
    with HttpClient(LOOPBACK) as client, pytest.raises(FetchError) as info:
        client.get("http://no-such-host.invalid/")
    assert info.value.reason == "dns_error"


def test_a_redirect_to_a_non_ascii_slug_is_followed(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client:
        response = client.get(f"{server.base_url}/to-cafe")
    assert response.status == 200 and response.url.endswith("/café")  # (served at /caf%C3%A9)


def test_a_compressed_body_cut_short_is_refused_not_stored_in_part(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client:
        assert client.get(f"{server.base_url}/whole.gz").body == ARTICLE
        with pytest.raises(FetchError) as info:
            client.get(f"{server.base_url}/cut.gz")
    assert info.value.reason == "bad_encoding" and "truncated" in str(info.value)


def test_a_gzip_body_with_padding_junk_or_a_second_member_is_read(server: SiteServer) -> None:
    with HttpClient(LOOPBACK) as client:
        assert client.get(f"{server.base_url}/padded.gz").body == ARTICLE
        assert client.get(f"{server.base_url}/junk.gz").body == ARTICLE
        assert client.get(f"{server.base_url}/two.gz").body == ARTICLE + b"!"


@contextlib.contextmanager
def dripping(
    head: bytes, drip: bytes, asked: list[bytes] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """A server on 127.0.0.1 that answers each connection with `head`, then `drip` a byte
    every 50 ms (each well within the socket timeout), for at most 15 s; yields its URL.
    The request lines it is sent go to `asked`; with `tls`, it speaks HTTPS."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except OSError:
                return
        with conn:
            request = conn.recv(65536)
            if asked is not None:
                asked.append(request.split(b"\r\n", 1)[0])
            conn.sendall(head)
            for byte in itertools.islice(itertools.cycle(drip), 300):
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client hung up
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/page.html"
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 400),  # headers a byte at a time
        (b"", b"HTTP/1.1 100 Continue\r\n\r\n"),  # interim responses without end
        (  # chunked: the body, then trailers a byte at a time
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n",
            b"X-Trailer: " + b"b" * 400,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>", b"slow body "),  # no length
        # headers cut at the deadline are not an answer: no redirect followed, no status
        (b"HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\n", b"X-Slow: " + b"a" * 400),
        (b"HTTP/1.1 404 Not Found\r\n", b"X-Slow: " + b"a" * 400),
        (b"HTTP/1.1 304 Not Modified\r\n", b"X-Slow: " + b"a" * 400),
    ],
    ids=[
        "headers",
        "interim-responses",
        "trailers",
        "body-without-length",
        "redirect-headers",
        "error-headers",
        "not-modified-headers",
    ],
)
def test_a_server_that_drips_its_answer_is_cut_at_the_request_deadline(
    head: bytes, drip: bytes
) -> None:
    settings = replace(LOOPBACK, timeout_s=5, deadline_s=1, max_retries=0)
    asked: list[bytes] = []
    with dripping(head, drip, asked) as url, HttpClient(settings) as client:
        started = time.monotonic()
        with pytest.raises(FetchError) as info:
            client.get(url)
        elapsed = time.monotonic() - started
    assert info.value.reason == "timeout"
    assert "deadline of 1s passed" in info.value.detail
    assert elapsed < 2.5, elapsed  # not the 15 s the server would drip for
    assert asked == [b"GET /page.html HTTP/1.1"]


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1, and the certificate file a client trusts."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_a_tls_server_that_drips_its_headers_is_cut_at_the_request_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert_file = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))  # (requests prefers it)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    settings = replace(LOOPBACK, timeout_s=5, deadline_s=1, max_retries=0)
    head, drip = b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 400
    with dripping(head, drip, tls=context) as url, HttpClient(settings) as client:
        started = time.monotonic()
        with pytest.raises(FetchError) as info:
            client.get(url)
        elapsed = time.monotonic() - started
    assert info.value.reason == "timeout", info.value
    assert elapsed < 2.5, elapsed


def test_a_watched_connection_is_reused_after_its_request_and_not_cut_later(
    server: SiteServer,
) -> None:
    settings = Settings(
        user_agent="t", deadline_s=0.5, max_retries=0, allow_networks=("127.0.0.0/8",)
    )
    from urllib3.util.connection import is_connection_dropped

    url = f"{server.base_url}/ok.html"
    with HttpClient(settings) as client:
        first = client.get(url)
        time.sleep(0.8)  # past the first request's deadline: its watch has ended
        manager = client.session.get_adapter(url).poolmanager
        keys = list(manager.pools.keys())  # (the container refuses plain iteration)
        kept = [c for key in keys for c in manager.pools[key].pool.queue if c]
        assert len(kept) == 1 and kept[0].sock is not None
        assert not is_connection_dropped(kept[0])  # the watchdog left it alone
        second = client.get(url)
        assert manager.pools[keys[0]].num_connections == 1  # reused
    assert first.body == second.body == b"<html><body>ok</body></html>"


def test_a_connection_back_in_the_pool_is_not_cut_at_its_last_request_s_deadline(
    server: SiteServer,
) -> None:
    import requests
    from urllib3.util.connection import is_connection_dropped

    from ingest.fetch.netguard import guarded_adapter, parse_networks
    from ingest.fetch.watchdog import watched

    url = f"{server.base_url}/ok.html"
    with requests.Session() as session:
        session.mount("http://", guarded_adapter(parse_networks(("127.0.0.0/8",))))
        with watched(time.monotonic() + 0.3) as watch:
            assert session.get(url).content == b"<html><body>ok</body></html>"
            assert watch.sock is None  # (the connection went back to the pool)
            time.sleep(0.6)  # the deadline passes while the request's block is still open
        assert watch.fired
        manager = session.get_adapter(url).poolmanager
        keys = list(manager.pools.keys())  # (the container refuses plain iteration)
        kept = [c for key in keys for c in manager.pools[key].pool.queue if c]
        assert len(kept) == 1 and not is_connection_dropped(kept[0])


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (
            b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: a\r\n" % n for n in range(150)) + b"\r\n",
            "got more than 100 headers",
        ),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", "65536 bytes"),
        (b"\x00\x01 hello\r\n\r\n", r"BadStatusLine: '\x00\x01 hello\r\n'"),
    ],
    ids=["too-many-headers", "header-line-too-long", "no-status-line"],
)
def test_a_malformed_answer_is_bad_response_and_not_retried(answer: bytes, shown: str) -> None:
    settings = Settings(
        user_agent="t", max_retries=3, backoff_base_s=0.01, allow_networks=("127.0.0.0/8",)
    )
    with dripping(answer, b"") as url, HttpClient(settings) as client:
        with pytest.raises(FetchError) as info:
            client.get(url)
        assert client.requests_made == 1  # the same answer would come again
    assert info.value.reason == "bad_response" and not info.value.retryable
    assert shown in info.value.detail and "\n" not in info.value.detail


def test_a_connection_in_the_wrong_state_is_a_connection_error_not_a_malformed_answer() -> None:
    from http.client import BadStatusLine, CannotSendRequest, ResponseNotReady

    import requests

    from ingest.fetch.http import _as_fetch_error

    url = "http://news.example/a"
    for cause in (CannotSendRequest("Request-sent"), ResponseNotReady("Idle")):
        error = _as_fetch_error(url, requests.ConnectionError(cause))
        assert error.reason == "connection_error" and error.retryable, error
    malformed = _as_fetch_error(url, requests.ConnectionError(BadStatusLine("\x00")))
    assert malformed.reason == "bad_response" and not malformed.retryable
