"""Which network addresses the crawler may connect to.

A feed can point anywhere: private, loopback, link-local (cloud metadata), multicast and
reserved addresses are refused unless a range in `allow_networks` covers them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The URL's host resolves to an address the settings do not allow."""


class UnresolvableHost(Exception):
    """The URL's host does not resolve."""


def parse_networks(ranges: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(r, strict=False) for r in ranges)


def is_public(address: IPAddress) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, allowed: tuple[IPNetwork, ...]) -> None:
    """Return if every address the URL's host resolves to may be contacted; raise otherwise."""
    host = urlsplit(url).hostname
    if not host:
        raise UnresolvableHost(f"no host in {url!r}")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if is_public(address):
            continue
        if not any(address in net for net in allowed if net.version == address.version):
            raise BlockedAddress(
                f"{host} resolves to {address}, a non-public address; add a range covering it to settings.allow_networks to allow it"
            )
