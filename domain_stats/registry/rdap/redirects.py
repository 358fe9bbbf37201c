"""Which RDAP redirects are followed: a few, never to a weaker scheme, never into private networks.

Registries redirect to registrars' RDAP servers, which are public. A redirect is a URL chosen
by whoever answered, so following it blindly would let any RDAP server make us fetch from
127.0.0.1, the LAN or a cloud metadata address and serve what we got as an answer. A target is
followed only if it is one of the configured servers (the bootstrap's), or its host resolves
to public addresses only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from urllib.parse import SplitResult, urljoin, urlsplit

from domain_stats.registry.rdap.errors import RdapBadResponse

__all__ = ["MAX_REDIRECTS", "REDIRECT_STATUSES", "check_redirect", "origin", "url_port"]

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, with the default port written out."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{url_port(parts)}"


def url_port(parts: SplitResult) -> int:
    """The port a URL names, or its scheme's default."""
    return parts.port or (443 if parts.scheme == "https" else 80)


async def check_redirect(current: str, location: str | None, known_origins: frozenset[str]) -> str:
    """The absolute URL a redirect from ``current`` leads to, if it may be followed; else RdapBadResponse."""
    if not location:
        raise RdapBadResponse(f"{current} redirected without a Location")
    target = urljoin(current, location.strip())
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RdapBadResponse(f"{current} redirected to {target!r}, not an http(s) URL")
    if urlsplit(current).scheme == "https" and parts.scheme != "https":
        raise RdapBadResponse(f"{current} redirected from https to {parts.scheme}: not followed")
    if origin(target) in known_origins:
        return target
    for address in await _addresses(parts.hostname, url_port(parts)):
        if not address.is_global:
            raise RdapBadResponse(f"{current} redirected to {target!r} ({address}, not a public address): not followed")
    return target


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host itself when it is an address literal, else what it resolves to."""
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host.strip("[]"))]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise RdapBadResponse(f"cannot resolve the redirect target {host!r}: {err}") from None
    return [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]
