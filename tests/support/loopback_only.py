"""No test reaches beyond this machine: connections to any address but loopback fail at once.

Registries, feeds and central servers in the tests are real servers on 127.0.0.1; a test that
forgot to point one at them (a packaged WHOIS map, a default URL) fails loudly here instead of
asking a real registry. Installed for the whole test run by ``conftest.py``.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["install"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True  # a Unix socket path or similar
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def install() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {host!r}: loopback only")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"tests may not connect to {address[0]!r}: loopback only")

    def connect(self: socket.socket, address: Any) -> None:
        guarded(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guarded(address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
