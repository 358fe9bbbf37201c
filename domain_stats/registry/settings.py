"""The registry engine's own settings: how RDAP and WHOIS servers are found and how hard they are asked.

The engine takes this model (plain values, validated) and a data directory, never the settings
file: :class:`domain_stats.config.CommonSettings` embeds it, so both servers' files carry these
keys at the top level under the same names, and the engine stays free of the servers' settings.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain_stats.errors import ConfigError
from domain_stats.registry.rdap.bootstrap import IANA_BOOTSTRAP_URL
from domain_stats.registry.whois.servers import parse_server

__all__ = ["RegistrySettings", "ServerLimit", "ca_context", "data_path"]


def data_path(data_dir: Path, value: str) -> Path:
    """A setting's file, relative to the data directory unless absolute."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(data_dir) / path


def ca_context(data_dir: Path, key: str, ca_file: str) -> ssl.SSLContext | None:
    """A verifying TLS context trusting ``ca_file`` (the setting ``key``), or None for the system's CAs."""
    if not ca_file:
        return None
    path = data_path(data_dir, ca_file)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"{key}: cannot load {path}: {err}") from None


class ServerLimit(BaseModel):
    """One upstream server's own limits (``whois_server_limits``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(1, ge=1, le=100)
    rate: float = Field(1.0, gt=0)


class RegistrySettings(BaseModel):
    """Keys of the registry engine, the same in ``domain_stats.yaml`` and ``central.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rdap_bootstrap: str = Field(
        "",
        description=(
            "An RDAP bootstrap file (path or http(s) URL) to use as it is instead of the IANA registry. Empty: "
            "the packaged IANA snapshot, refreshed in the background."
        ),
    )
    rdap_bootstrap_refresh_url: str = Field(
        IANA_BOOTSTRAP_URL,
        description=(
            "Where the background refresh of the IANA bootstrap comes from (daily). Empty disables the refresh, "
            "e.g. on an isolated sensor."
        ),
    )
    rdap_ca_file: str = Field(
        "",
        description=(
            "A CA bundle (PEM) to verify https RDAP servers and a bootstrap URL with, for a TLS-inspecting proxy "
            "or a private registry mirror. Empty: the system's CAs. Verification is never turned off."
        ),
    )
    rdap_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        description=(
            "Longest one RDAP request may take once sent. A request that answers slower is the server's failure "
            "(RDAP-TIMEOUT; three in a row pause the server)."
        ),
    )
    rdap_server_concurrency: int = Field(
        10,
        ge=1,
        le=1000,
        description=(
            "Most simultaneous requests to one RDAP server, for the whole service (with --workers N each worker "
            "takes an equal part, at least 1)."
        ),
    )
    rdap_server_rate: float = Field(
        20.0,
        gt=0,
        description=(
            "Most requests per second to one RDAP server, for the whole service (shared like rdap_server_concurrency)."
        ),
    )
    whois_servers: dict[str, str] = Field(
        {},
        description=(
            "WHOIS servers by TLD (or suffix), host[:port], over the packaged map, e.g. {de: whois.example.net:4343};"
            " an empty value asks no WHOIS server for that TLD. WHOIS answers the TLDs the RDAP bootstrap does not"
            " cover."
        ),
    )
    whois_packaged_map: bool = Field(
        True,
        description=(
            "Use the packaged TLD -> WHOIS server map. false: only the TLDs in whois_servers are asked over WHOIS "
            "(an isolated network)."
        ),
    )
    whois_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        description=(
            "Longest one WHOIS query may take, from connecting to the end of the answer (WHOIS-TIMEOUT; three in a "
            "row pause the server)."
        ),
    )
    whois_server_concurrency: int = Field(
        1,
        ge=1,
        le=100,
        description="Most simultaneous queries to one WHOIS server (shared like rdap_server_concurrency).",
    )
    whois_server_rate: float = Field(
        1.0,
        gt=0,
        description=(
            "Most queries per second to one WHOIS server (shared like rdap_server_rate). Registries are strict."
        ),
    )
    whois_server_limits: dict[str, ServerLimit] = Field(
        {},
        description=(
            "Other limits for named WHOIS servers, e.g. {whois.nic.it: {concurrency: 2, rate: 4}} (by host name)."
        ),
    )
    whois_limit_pause_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description=(
            'How long a WHOIS server\'s "limit exceeded" answer holds its line (like an RDAP 429); the query then '
            "waits its turn again (WHOIS-RATE-LIMITED after five in a row)."
        ),
    )
    whois_when_rdap_fails: bool = Field(
        False,
        description=(
            "Also ask WHOIS (where the map names a server) when a TLD's RDAP server fails or is paused after "
            "failures, instead of answering RDAP-TIMEOUT, RDAP-UNREACHABLE, RDAP-SERVER-ERROR or RDAP-BACKED-OFF."
        ),
    )

    @field_validator("whois_servers")
    @classmethod
    def _valid_whois_servers(cls, value: dict[str, str]) -> dict[str, str]:
        for suffix, server in value.items():
            if not isinstance(server, str):
                raise ValueError(f"{suffix}: expected host[:port] or an empty string")
            if server.strip():
                parse_server(server)  # its ValueError names the problem
        return value

    def rdap_ssl_context(self, data_dir: Path) -> ssl.SSLContext | None:
        """The TLS context for RDAP, or None for the system's defaults."""
        return ca_context(data_dir, "rdap_ca_file", self.rdap_ca_file)
