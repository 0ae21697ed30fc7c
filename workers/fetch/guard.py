"""The address guard: every outgoing connection is checked against it.

Only publicly routable addresses are reachable, except the exact `host:port` pairs of the
allow-list. The check runs twice: on every address the resolver returns (so a name that
resolves to a private address is refused) and in the socket factory on the address the
socket is actually connected to (so IP literals, which skip the resolver, and DNS
rebinding between a check and the connect cannot get through).

`address_block_reason` and `AllowList` are pure and need no network; `AddressGuard` holds
the per-session state (refusals seen, addresses resolved from allowed names).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import TCPConnector
from aiohttp.abc import AbstractResolver, ResolveResult

from triage.errors import ConfigError
from workers.fetch.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]

_CARRIER_GRADE_NAT = ipaddress.IPv4Network("100.64.0.0/10")
# Ranges that `is_global` lets through in some Python versions but that must not be reached.
_V4_BLOCKED = (
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv4Network("192.0.0.0/24"),
    ipaddress.IPv4Network("192.88.99.0/24"),
    ipaddress.IPv4Network("198.18.0.0/15"),
    ipaddress.IPv4Network("240.0.0.0/4"),
)
_V6_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_V6_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V6_BLOCKED = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 local use
    ipaddress.IPv6Network("100::/64"),  # discard-only
    ipaddress.IPv6Network("2001::/32"),  # Teredo: tunnels to arbitrary IPv4
    ipaddress.IPv6Network("2001:db8::/32"),  # documentation
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.IPv6Network("5f00::/16"),  # SRv6 segment identifiers
)


def parse_ip(text: str) -> IPAddress | None:
    """The IP address in `text` (IPv6 brackets and zone ids accepted), or None for a name."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def address_block_reason(address: IPAddress) -> str | None:
    """Why `address` must not be connected to, or None when it is publicly routable."""
    if isinstance(address, ipaddress.IPv6Address):
        return _v6_block_reason(address)
    return _v4_block_reason(address)


def _v4_block_reason(address: ipaddress.IPv4Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
        return "multicast or broadcast"
    if address.is_link_local:
        return "link-local"
    if address in _CARRIER_GRADE_NAT:
        return "carrier-grade NAT"
    if address.is_private:
        return "private"
    if address.is_reserved or any(address in net for net in _V4_BLOCKED):
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def _v6_block_reason(address: ipaddress.IPv6Address) -> str | None:
    # Addresses that carry an IPv4 address are judged by that address.
    mapped = address.ipv4_mapped
    if mapped is not None:
        inner = _v4_block_reason(mapped)
        return None if inner is None else f"IPv4-mapped {inner}"
    if address in _V6_NAT64:
        inner = _v4_block_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return None if inner is None else f"NAT64 {inner}"
    sixtofour = address.sixtofour
    if sixtofour is not None:
        inner = _v4_block_reason(sixtofour)
        return None if inner is None else f"6to4 {inner}"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address in _V6_IPV4_COMPATIBLE:
        return "IPv4-compatible"
    if address.is_multicast:
        return "multicast"
    if address.is_link_local:
        return "link-local"
    if address.is_site_local:
        return "site-local"
    if address.is_private:
        return "private"
    if address.is_reserved or any(address in net for net in _V6_BLOCKED):
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def normalise_host(host: str) -> str:
    """Host in canonical form: lower case without trailing dot, IPs in compressed form."""
    address = parse_ip(host)
    if address is not None:
        return address.compressed
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class HostPort:
    """One exact `host:port` pair (host normalised by `normalise_host`)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """Parse `host:port` or `[v6]:port`; raise ValueError saying what is wrong."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise ValueError(f"{text!r} is not of the form host:port")
        if ":" in host and not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"the IPv6 host in {text!r} needs [brackets]")
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError(f"port out of range in {text!r}")
        return cls(normalise_host(host), port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class AllowList:
    """Exact `host:port` pairs exempt from the address guard; empty exempts nothing."""

    entries: frozenset[HostPort] = frozenset()

    @classmethod
    def parse(cls, items: Iterable[str]) -> AllowList:
        """Parse `host:port` strings; raise ConfigError naming the setting on a bad one."""
        try:
            return cls(frozenset(HostPort.parse(item) for item in items))
        except ValueError as exc:
            raise ConfigError(f"fetch.allow_hosts: {exc}") from exc

    def allows(self, host: str, port: int) -> bool:
        return HostPort(normalise_host(host), port) in self.entries

    def literal_addresses(self) -> frozenset[tuple[IPAddress, int]]:
        """The (address, port) pairs of entries whose host is an IP literal."""
        pairs = set()
        for entry in self.entries:
            address = parse_ip(entry.host)
            if address is not None:
                pairs.add((address, entry.port))
        return frozenset(pairs)


def target_block_reason(host: str, port: int, address: IPAddress, allow: AllowList) -> str | None:
    """Why connecting to `address` for `host:port` is refused, or None when it may go ahead."""
    if allow.allows(host, port):
        return None
    return address_block_reason(address)


class BlockedConnectionError(OSError):
    """Raised inside the connector when the guard refuses an address.

    An OSError so that aiohttp and its happy-eyeballs code treat it as a failed connect;
    callers translate it into `BlockedAddressError` using `AddressGuard.refusals`.
    """


class AddressGuard:
    """The guard for one client session or proxy: resolves, checks and opens sockets.

    `refusals` lists every refused target (e.g. `127.0.0.1:80 (loopback)`) so that a
    failed connection can be reported as blocked rather than unreachable.
    """

    def __init__(self, allow: AllowList) -> None:
        self._allow = allow
        self._exempt: set[tuple[IPAddress, int]] = set(allow.literal_addresses())
        self.refusals: list[str] = []

    def _refuse(self, target: str, reason: str) -> str:
        description = f"{target} ({reason})"
        self.refusals.append(description)
        return description

    def check_url_target(self, host: str, port: int) -> None:
        """Refuse at once a URL whose host is a blocked IP literal (no DNS needed)."""
        address = parse_ip(host)
        if address is None:
            return
        reason = target_block_reason(host, port, address, self._allow)
        if reason is not None:
            described = self._refuse(str(HostPort(address.compressed, port)), reason)
            raise BlockedAddressError(f"refused to connect to {described}")

    async def resolve(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list[AddrInfo]:
        """Resolve `host` and keep only the addresses the guard lets through."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        allowed_by_name = self._allow.allows(host, port)
        kept: list[AddrInfo] = []
        refused: list[str] = []
        for info in infos:
            address = parse_ip(str(info[4][0]))
            if address is None:
                continue
            if allowed_by_name:
                self._exempt.add((address, port))
                kept.append(info)
                continue
            reason = address_block_reason(address)
            if reason is None:
                kept.append(info)
            else:
                refused.append(self._refuse(f"{host}:{port} -> {address.compressed}", reason))
        if not kept:
            detail = "; ".join(refused) or "no addresses"
            raise BlockedConnectionError(f"no permitted address for {host}:{port}: {detail}")
        return kept

    def check_connect(self, sockaddr: tuple[Any, ...]) -> None:
        """Check the address a socket is about to connect to; raise if it is refused."""
        address = parse_ip(str(sockaddr[0]))
        port = int(sockaddr[1])
        if address is None:
            raise BlockedConnectionError(f"not an IP address: {sockaddr[0]!r}")
        if (address, port) in self._exempt:
            return
        reason = address_block_reason(address)
        if reason is not None:
            described = self._refuse(str(HostPort(address.compressed, port)), reason)
            raise BlockedConnectionError(f"refused to connect to {described}")

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's socket factory: the last check, on the exact address to connect to."""
        family, type_, proto, _, sockaddr = addr_info
        self.check_connect(sockaddr)
        return socket.socket(family=family, type=type_, proto=proto)

    async def open_connection(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a guarded TCP stream to `host:port` (used by the proxy for yt-dlp)."""
        loop = asyncio.get_running_loop()
        errors: list[OSError] = []
        for info in await self.resolve(host, port):
            try:
                sock = self.socket_factory(info)
            except BlockedConnectionError as exc:
                errors.append(exc)
                continue
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, info[4])
            except OSError as exc:
                sock.close()
                errors.append(exc)
                continue
            return await asyncio.open_connection(sock=sock)
        raise errors[0] if errors else OSError(f"cannot connect to {host}:{port}")


async def destination_refusals(allow: AllowList, host: str, port: int) -> list[str]:
    """Why the guard would refuse a connection to `host:port`, checked before any is made
    (an IP literal at once, a name on every address it resolves to); empty when it may be
    reached. A name that does not resolve (yet) is not refused: its receiver may be down."""
    guard = AddressGuard(allow)
    with contextlib.suppress(BlockedAddressError, OSError):
        guard.check_url_target(host, port)
        await guard.resolve(host, port)
    return guard.refusals


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that returns only addresses the guard lets through."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._guard.resolve(host, port, family)
        return [
            ResolveResult(
                hostname=host,
                host=str(info[4][0]),
                port=port,
                family=info[0],
                proto=info[2],
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for info in infos
        ]

    async def close(self) -> None:
        return None


def guarded_connector(guard: AddressGuard) -> TCPConnector:
    """The one connector for outgoing HTTP: guarded resolver plus guarded socket factory."""
    return TCPConnector(
        resolver=GuardedResolver(guard),
        socket_factory=guard.socket_factory,
        # No DNS cache: every connection re-resolves through the guard.
        use_dns_cache=False,
        force_close=True,
    )
