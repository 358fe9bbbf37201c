"""The one rule both servers read ``Authorization: Bearer KEY`` by.

The scheme is case-insensitive (RFC 9110, section 11.1): ``bearer KEY`` and ``BEARER KEY`` are
the same credentials as ``Bearer KEY``. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

__all__ = ["bearer_key", "has_key"]


def bearer_key(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The key of the first ``Authorization: Bearer`` header (names lower-case), or ``b""``."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, key = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                return key.strip()
    return b""


def has_key(headers: Iterable[tuple[bytes, bytes]], key: bytes) -> bool:
    """Do the headers carry ``key`` as bearer credentials? Never true for an empty ``key``."""
    return bool(key) and hmac.compare_digest(bearer_key(headers), key)
