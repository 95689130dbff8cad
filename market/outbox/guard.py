"""Where a webhook may go. A provider types the address, so before anything is
sent the name is resolved, every address it resolves to is checked, and the
connection goes to the checked address itself: a name that resolves to a
public address when checked and to 127.0.0.1 a moment later (DNS rebinding)
never reaches the inside."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_SECONDS = 5.0


class UnsafeAddress(Exception):
    """The address may not be called; the message says why (in English, for logs)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # "scheme", "form" or "private"


@dataclass(frozen=True)
class Target:
    url: SplitResult
    host: str  # as typed: sent as the Host header and as the TLS server name
    port: int


def refused_because(address: IPAddress) -> str | None:
    """Why an address is not on the public internet, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return refused_because(embedded)
    for flag in (
        "is_loopback",
        "is_private",
        "is_link_local",
        "is_multicast",
        "is_reserved",
        "is_unspecified",
    ):
        if getattr(address, flag):
            return flag.removeprefix("is_").replace("_", "-")
    if not address.is_global:
        return "not-global"
    return None


def parse(url: str, *, allow_http: bool) -> Target:
    """The shape of the address: https (http only where allowed), a host, no
    user name or password in it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress(f"not a valid address: {exc}", reason="form") from exc
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise UnsafeAddress("the address must start with https://", reason="scheme")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise UnsafeAddress("the address must name a host and nothing else", reason="form")
    return Target(parts, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name has now (off the event loop: getaddrinfo blocks)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
    )
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_all(host: str, addresses: list[IPAddress]) -> None:
    if not addresses:
        raise UnsafeAddress(f"{host} has no address", reason="form")
    for address in addresses:
        why = refused_because(address)
        if why is not None:
            raise UnsafeAddress(
                f"{host} resolves to {address}, a {why} address; only public addresses are called",
                reason="private",
            )


async def check_for_saving(url: str, *, allow_private: bool, allow_http: bool) -> Target:
    """At save time: the shape, a literal address, and the name's addresses if it
    resolves now (a name that does not resolve yet is checked again at delivery)."""
    target = parse(url, allow_http=allow_http)
    if allow_private:
        return target
    address = literal(target.host)
    if address is not None:
        check_all(target.host, [address])
        return target
    if target.host == "localhost" or target.host.endswith((".localhost", ".local", ".internal")):
        raise UnsafeAddress(f"{target.host} is a local name", reason="private")
    try:
        addresses = await resolve(target.host, target.port)
    except (OSError, TimeoutError, UnicodeError):
        return target
    check_all(target.host, addresses)
    return target


async def pinned_address(target: Target, *, allow_private: bool) -> IPAddress:
    """At delivery: resolve, check every address, and return the one to connect to."""
    address = literal(target.host)
    if address is not None:
        addresses = [address]
    else:
        try:
            addresses = await resolve(target.host, target.port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise UnsafeAddress(f"cannot resolve {target.host}: {exc}", reason="form") from exc
    if not allow_private:
        check_all(target.host, addresses)
    return addresses[0]


def url_for(target: Target, address: IPAddress) -> str:
    """The same address with the host replaced by the checked IP."""
    host = f"[{address}]" if address.version == 6 else str(address)
    path = target.url.path or "/"
    query = f"?{target.url.query}" if target.url.query else ""
    return f"{target.url.scheme}://{host}:{target.port}{path}{query}"


def host_header(target: Target) -> str:
    default = 443 if target.url.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"
