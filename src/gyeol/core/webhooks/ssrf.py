"""Where a webhook may be sent. Live endpoints must be https and resolve only to public addresses; test endpoints
may also use http and loopback, for local development. Checked at registration and again before each delivery.

Hosts are parsed the way a socket library would (decimal `2130706433`, hex `0x7f.1`, octal `0177.0.0.1`,
and IPv6 forms that carry an IPv4 address: mapped, compatible, translated, 6to4, Teredo, NAT64), and names are
resolved through an injectable resolver, so a name is judged by what it points at, every address of it: one
private address is enough to refuse.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from gyeol.core.errors import DomainError

Resolver = Callable[[str], Awaitable[list[str]]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


async def system_resolver(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _refused(url: str, why: str) -> DomainError:
    return DomainError("validation", "UNSAFE_WEBHOOK_URL", f"This webhook URL cannot be used: {why}.",
                       details={"url": url[:200], "reason": why})


def literal_ip(host: str) -> IP | None:
    """An address written in the host itself, in any form a socket library would accept."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # 2130706433, 0x7f.1, 0177.0.0.1, 127.1
    except OSError:
        return None


# IPv6 prefixes whose last 32 bits are an IPv4 address: NAT64, IPv4-compatible (deprecated, but a stack may still
# route it), and IPv4-translated (SIIT). Python's `is_global` judges them as IPv6 and finds them public.
_LOW_32_BITS = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"),
                ipaddress.IPv6Network("::ffff:0:0:0/96"))


def _ipv4_inside(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    if embedded is not None:
        return embedded
    if int(ip) > 1 and any(ip in net for net in _LOW_32_BITS):  # `::` and `::1` are IPv6's own
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _judged(ip: IP) -> IP:
    """The address that decides: the IPv4 one an IPv6 address carries, if it carries one."""
    inside = _ipv4_inside(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return inside if inside is not None else ip


def _allowed(ip: IP, livemode: bool) -> bool:
    ip = _judged(ip)
    if ip.is_global and not ip.is_multicast:
        return True
    return not livemode and ip.is_loopback


async def check_url(url: str, livemode: bool, resolver: Resolver = system_resolver) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number from 0 to 65535
    except ValueError:  # "http://[::1/x", "https://host:99999/"
        raise _refused(url, "it is not a well-formed URL with a port from 1 to 65535") from None
    if port == 0:
        raise _refused(url, "it is not a well-formed URL with a port from 1 to 65535")
    if parts.scheme not in ("https", "http") or (livemode and parts.scheme != "https"):
        raise _refused(url, "live endpoints must use https" if livemode else "the scheme must be http or https")
    host = parts.hostname
    if not host or parts.username or parts.password:
        raise _refused(url, "the URL needs a host and no credentials")
    ip = literal_ip(host)
    if ip is not None:
        addresses = [ip]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolver(host)]
        except (OSError, ValueError):
            raise _refused(url, "the host does not resolve") from None
    if not addresses:
        raise _refused(url, "the host does not resolve")
    for address in addresses:
        if not _allowed(address, livemode):
            raise _refused(url, "it points at a private, loopback, link-local or metadata address")
