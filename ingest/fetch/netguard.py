"""Which network addresses the crawler may connect to, checked where the connection is made.

A feed can point anywhere: every address that is not globally routable (private, loopback,
link-local such as cloud metadata at 169.254.169.254, shared address space such as
100.100.100.200, documentation, reserved) and every multicast address is refused unless a
range in `allow_networks` covers it. IPv6 forms that carry an IPv4 address (mapped, 6to4,
Teredo, NAT64) are judged by that IPv4 address.

The address is checked twice: once on the URL before robots.txt and the rate limit
(`check_url`, a clear early error), and again on the addresses the socket is about to
connect to (`guarded_adapter`), so the check and the connection can disagree neither about
where the host ends in an odd URL nor about what a name resolves to (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from ingest.config import unsafe_url_reason

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The URL's host resolves to an address the settings do not allow."""


class UnresolvableHost(Exception):
    """The URL's host does not resolve."""


class UnsafeURL(Exception):
    """The URL holds characters (backslash, control characters, spaces) that parsers read
    differently; it is refused rather than guessed at."""


def parse_networks(ranges: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(r, strict=False) for r in ranges)


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """Whether `address` is globally routable unicast (and so is any IPv4 address it carries)."""
    for candidate in {address, embedded_ipv4(address)}:
        if not candidate.is_global or candidate.is_multicast:
            return False
    return True


def check_address(host: str, address: IPAddress, allowed: tuple[IPNetwork, ...]) -> None:
    """Return if `address` may be contacted; raise BlockedAddress otherwise."""
    if is_public(address):
        return
    inner = embedded_ipv4(address)
    if any(a in net for a in {address, inner} for net in allowed if net.version == a.version):
        return
    raise BlockedAddress(
        f"{host} resolves to {address}, a non-public address; add a range covering it to settings.allow_networks to allow it"
    )


def url_host(url: str) -> str | None:
    """The host a connection to `url` goes to, parsed as the HTTP library parses it."""
    from urllib3.util import parse_url

    reason = unsafe_url_reason(url)
    if reason is not None:
        raise UnsafeURL(reason)
    host: str | None = parse_url(url).host
    return host


def check_url(url: str, allowed: tuple[IPNetwork, ...]) -> None:
    """Return if every address the URL's host resolves to may be contacted; raise
    UnsafeURL, UnresolvableHost or BlockedAddress otherwise."""
    host = url_host(url)
    if not host:
        raise UnresolvableHost(f"no host in {url!r}")
    for address in _resolve(host.strip("[]")):
        check_address(host, address, allowed)


def _resolve(host: str, port: int | None = None) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


# ------------------------------------------------------------------------ at connect time


def guarded_connection(
    host: str,
    port: int,
    allowed: tuple[IPNetwork, ...],
    timeout: Any,
    source_address: tuple[str, int] | None,
    socket_options: Any,
) -> socket.socket:
    """A socket connected to `host`:`port` whose every resolved address was checked first;
    raises BlockedAddress (nothing is sent to a refused address), socket.gaierror or OSError."""
    from urllib3.util.connection import allowed_gai_family, create_connection

    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    for address in addresses:
        check_address(host, ipaddress.ip_address(address), allowed)
    error: OSError | None = None
    for address in addresses:  # literal addresses: no second lookup between check and connect
        try:
            return create_connection((address, port), timeout, source_address, socket_options)
        except OSError as exc:
            error = exc
    raise error or OSError(f"{host} resolves to no address")


def guarded_adapter(allowed: tuple[IPNetwork, ...]) -> Any:
    """A requests adapter whose direct connections go only to addresses `allowed` admits.
    (Through a proxy, the proxy connects: the URL check before the request still holds.)"""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    from ingest.fetch.watchdog import released, waiting

    class Guarded:
        """Mixed into urllib3's connection classes: connect only to checked addresses, and
        let the request deadline's watchdog cut the wait for the answer (ingest.fetch.watchdog)."""

        def getresponse(self) -> Any:
            conn: Any = self
            waiting(conn.sock)
            return super().getresponse()  # type: ignore[misc]

        def _new_conn(self) -> socket.socket:
            conn: Any = self
            try:
                return guarded_connection(
                    conn._dns_host,
                    conn.port,
                    allowed,
                    conn.timeout,
                    conn.source_address,
                    conn.socket_options,
                )
            except socket.gaierror as exc:
                raise NameResolutionError(conn.host, conn, exc) from exc
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
                ) from exc
            except OSError as exc:
                raise NewConnectionError(
                    conn, f"Failed to establish a new connection: {exc}"
                ) from exc

    class GuardedHTTPConnection(Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(Guarded, HTTPSConnection):
        pass

    class Releasing:
        """Mixed into urllib3's pools: a connection put back is no longer the request's."""

        def _put_conn(self, conn: Any) -> None:
            if conn is not None:
                released(conn.sock)
            super()._put_conn(conn)  # type: ignore[misc]

    class GuardedHTTPPool(Releasing, HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(Releasing, HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": GuardedHTTPPool,
                "https": GuardedHTTPSPool,
            }

    return GuardedAdapter()
