"""Members' API keys: made here, shown once, and only their hash kept.

Keys are 256 random bits, so a plain SHA-256 is enough (no salt or slow hash needed: there is
nothing to guess from a leaked hash).
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["hash_key", "new_api_key"]


def new_api_key() -> tuple[str, str]:
    """A fresh API key and the hash that is all the server keeps of it."""
    key = secrets.token_urlsafe(32)
    return key, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
