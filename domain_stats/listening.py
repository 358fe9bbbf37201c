"""The listening socket, bound the one way both servers bind it.

A busy port or an unknown address is one clear :class:`BindError` before anything slow starts.
"""

from __future__ import annotations

import socket

from domain_stats.errors import UserError

__all__ = ["LISTEN_BACKLOG", "BindError", "check_port_free", "listen"]

#: Connections the kernel holds for us before they are accepted: every process that listens on
#: the socket must listen with this (asyncio would listen again with its own default of 100).
LISTEN_BACKLOG = 2048


class BindError(UserError):
    """The configured address cannot be listened on (busy port, unknown address)."""


def check_port_free(address: str, port: int) -> None:
    """Raise :class:`BindError` now, before a slow start, if the address cannot be listened on."""
    listen(address, port, backlog=1).close()


def listen(address: str, port: int, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """The listening socket every worker accepts on."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    # As servers do: connections in TIME_WAIT from a previous run must not count as "busy".
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(backlog)
    except OSError as err:
        sock.close()
        raise BindError(f"cannot listen on {address}:{port}: {err.strerror}") from None
    sock.set_inheritable(True)
    return sock
