"""The address guard's decisions, without any network, and its socket-level check."""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
import pytest

from tests.workers.media_server import MediaServer
from triage.errors import ConfigError
from workers.fetch.errors import BlockedAddressError
from workers.fetch.guard import (
    AddressGuard,
    AllowList,
    BlockedConnectionError,
    address_block_reason,
    destination_refusals,
    guarded_connector,
    normalise_host,
    target_block_reason,
)

BLOCKED: list[tuple[str, str | None]] = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", None),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", None),
    ("172.16.5.4", None),
    ("172.31.255.255", None),
    ("192.168.1.1", None),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("192.0.0.8", None),
    ("192.0.2.1", None),
    ("198.18.0.1", None),
    ("198.51.100.7", None),
    ("203.0.113.9", None),
    ("224.0.0.1", "multicast or broadcast"),
    ("239.255.255.250", "multicast or broadcast"),
    ("240.0.0.1", None),
    ("255.255.255.255", "multicast or broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", None),
    ("fd12:3456:789a::1", None),
    ("fe80::1", "link-local"),
    ("fe80::1%1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:10.1.2.3", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
    ("::ffff:0.0.0.0", "IPv4-mapped unspecified"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "NAT64 loopback"),
    ("64:ff9b::a00:1", "NAT64 private"),
    ("64:ff9b:1::1", None),
    ("2002:7f00:1::1", "6to4 loopback"),
    ("2002:a9fe:a9fe::1", "6to4 link-local"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", None),
    ("2001:db8::1", None),
    ("100::1", None),
    ("3fff::1", None),
    ("5f00::1", None),
    ("::ffff:0:7f00:1", None),
]

PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81c::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("text", "reason"), BLOCKED)
def test_non_public_address_is_blocked_with_its_class(text: str, reason: str | None) -> None:
    found = address_block_reason(ipaddress.ip_address(text))
    assert found is not None
    # "private" versus "reserved" follows the Python version's registry tables.
    if reason is not None:
        assert found == reason


@pytest.mark.parametrize("text", PUBLIC)
def test_public_address_is_not_blocked(text: str) -> None:
    assert address_block_reason(ipaddress.ip_address(text)) is None


def test_allow_list_exempts_exact_host_and_port_only() -> None:
    allow = AllowList.parse(["127.0.0.1:43123"])
    loopback = ipaddress.ip_address("127.0.0.1")
    assert target_block_reason("127.0.0.1", 43123, loopback, allow) is None
    assert target_block_reason("127.0.0.1", 43124, loopback, allow) == "loopback"
    assert target_block_reason("127.0.0.2", 43123, loopback, allow) == "loopback"


def test_allow_list_compares_parsed_hosts_not_prefixes() -> None:
    allow = AllowList.parse(["media.test:8080"])
    assert allow.allows("MEDIA.test.", 8080)
    assert not allow.allows("media.test.evil.example", 8080)
    assert not allow.allows("media.tes", 8080)
    assert not allow.allows("media.test", 80)


def test_empty_allow_list_allows_nothing_extra() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert target_block_reason("127.0.0.1", 80, loopback, AllowList()) == "loopback"


def test_ipv6_allow_entry_needs_brackets_and_matches_any_spelling() -> None:
    allow = AllowList.parse(["[::1]:9000"])
    assert allow.allows("0:0:0:0:0:0:0:1", 9000)
    assert str(next(iter(allow.entries))) == "[::1]:9000"
    with pytest.raises(ConfigError, match="brackets"):
        AllowList.parse(["::1:9000"])


@pytest.mark.parametrize("text", ["localhost", "host:", ":80", "host:port", "host:70000", "h:0"])
def test_malformed_allow_entry_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"fetch\.allow_hosts"):
        AllowList.parse([text])


def test_normalise_host_canonicalises_ip_spellings() -> None:
    assert normalise_host("[0:0::1]") == "::1"
    assert normalise_host("Example.COM.") == "example.com"


def test_url_with_blocked_literal_is_refused_before_connecting() -> None:
    guard = AddressGuard(AllowList())
    with pytest.raises(BlockedAddressError, match="loopback"):
        guard.check_url_target("127.0.0.1", 8080)
    assert guard.refusals == ["127.0.0.1:8080 (loopback)"]


def test_socket_factory_refuses_blocked_peer_and_allows_listed_pair() -> None:
    guard = AddressGuard(AllowList.parse(["127.0.0.1:5000"]))
    info = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 5001))
    with pytest.raises(BlockedConnectionError):
        guard.socket_factory(info)
    allowed = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 5000))
    sock = guard.socket_factory(allowed)
    sock.close()
    mapped = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.0.0.1", 5000, 0, 0))
    with pytest.raises(BlockedConnectionError):
        guard.socket_factory(mapped)


async def test_resolver_drops_names_that_resolve_to_blocked_addresses() -> None:
    guard = AddressGuard(AllowList())
    with pytest.raises(BlockedConnectionError):
        await guard.resolve("localhost", 80)
    assert guard.refusals
    assert all("localhost:80 ->" in refusal for refusal in guard.refusals)


async def test_resolver_keeps_allowed_name_and_exempts_its_addresses() -> None:
    guard = AddressGuard(AllowList.parse(["localhost:5000"]))
    infos = await guard.resolve("localhost", 5000)
    assert infos
    for info in infos:
        guard.check_connect(info[4])
    with pytest.raises(BlockedConnectionError):
        guard.check_connect(("127.0.0.1", 5001))


async def test_a_destination_is_checked_before_any_connection() -> None:
    assert await destination_refusals(AllowList(), "127.0.0.1", 8080) == [
        "127.0.0.1:8080 (loopback)"
    ]
    by_name = await destination_refusals(AllowList(), "localhost", 80)
    assert by_name and all(refusal.startswith("localhost:80 -> ") for refusal in by_name)
    assert await destination_refusals(AllowList.parse(["127.0.0.1:8080"]), "127.0.0.1", 8080) == []
    assert await destination_refusals(AllowList.parse(["localhost:80"]), "localhost", 80) == []


async def test_a_destination_whose_name_does_not_resolve_is_not_refused() -> None:
    # Its receiver may merely be down (or its name not published yet).
    assert await destination_refusals(AllowList(), "receiver.invalid", 443) == []


async def test_connector_checks_the_connected_address_even_for_ip_literals(
    media_server: MediaServer,
) -> None:
    # The session is used directly, skipping fetch_media's early URL check, so only the
    # socket factory stands between the request and the unlisted loopback port.
    guard = AddressGuard(AllowList.parse([f"127.0.0.1:{media_server.port + 1}"]))
    async with aiohttp.ClientSession(connector=guarded_connector(guard)) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(media_server.url("/page.html"))
    assert guard.refusals == [f"{media_server.host_port} (loopback)"]
    assert media_server.requests == []


async def test_connector_lets_the_listed_pair_through(media_server: MediaServer) -> None:
    guard = AddressGuard(AllowList.parse([media_server.host_port]))
    async with (
        aiohttp.ClientSession(connector=guarded_connector(guard)) as session,
        session.get(media_server.url("/page.html")) as response,
    ):
        assert response.status == 200
    assert guard.refusals == []
