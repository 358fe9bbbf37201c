"""``central.yaml``: the central server's settings, same key names as the client where they mean the same.

What operators change while the server runs (minimum versions, status interval, the shared
prohibited list) is not here but in the database (:mod:`domain_stats.central.policy`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from domain_stats.config import CommonSettings, load_settings_file

__all__ = ["CENTRAL_CONFIG_NAME", "CentralSettings", "load_central_settings"]

CENTRAL_CONFIG_NAME = "central.yaml"


class CentralSettings(CommonSettings):
    local_address: str = Field(
        "127.0.0.1",
        description=(
            "Address to listen on. Keep 127.0.0.1 behind a reverse proxy on the same host; 0.0.0.0 (or ::) to let"
            " client sites connect directly, preferably with tls_cert and tls_key."
        ),
    )
    local_port: int = Field(4100, ge=1, le=65535, description="TCP port to listen on.")
    database_file: str = Field("central.db", description="SQLite database, relative to the data directory.")
    tls_cert: str = Field(
        "",
        description=(
            "Certificate chain (PEM) to serve HTTPS with; needs tls_key. Empty: plain HTTP (for a TLS-terminating"
            " reverse proxy in front)."
        ),
    )
    tls_key: str = Field("", description="Private key (PEM) for tls_cert.")
    trusted_proxies: list[str] = Field(
        [],
        description=(
            "Addresses of your reverse proxies (e.g. [127.0.0.1]): for requests from them the member's address is"
            " taken from X-Forwarded-For. Empty: the peer's address, always."
        ),
    )

    member_query_rate: float = Field(
        100.0,
        gt=0,
        description=(
            "Most queries a second one member may send (bursts of 10 seconds' worth after a quiet spell). Past it "
            "the member is answered 429 with Retry-After; members hold their line for it, never a failure."
        ),
    )
    max_requests_per_address: int = Field(
        512,
        ge=1,
        le=100_000,
        description=(
            "Most requests under way at once from one client address (the member's, as trusted_proxies tell it; a "
            "member sends up to 100 at once per worker); more are answered 429 at once."
        ),
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Longest a client may take to send a request's headers; a slower one is disconnected.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> CentralSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        return self


def load_central_settings(data_dir: Path, overrides: dict[str, Any] | None = None) -> CentralSettings:
    """Read ``DIR/central.yaml`` (creating it, commented, on first use) and validate it."""
    return load_settings_file(
        CentralSettings, data_dir, CENTRAL_CONFIG_NAME, overrides, title="domain-stats central server"
    )
