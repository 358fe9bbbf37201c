"""``domain_stats.yaml``: every setting of the lookup service, its default and its documentation.

:class:`Settings` is the single source of truth for the file: validation, the commented default
file written on first use, and the README table all come from its fields.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from domain_stats.config import CommonSettings, clean_suffixes, load_settings_file
from domain_stats.names import DEFAULT_PROHIBITED

__all__ = ["CONFIG_NAME", "Settings", "load_settings"]

CONFIG_NAME = "domain_stats.yaml"


class Settings(CommonSettings):
    """``domain_stats.yaml``: the lookup service."""

    #: The original tool's name and an earlier one for ``central_fallback_registry`` (``mode: isc`` too).
    LEGACY_KEYS: ClassVar[dict[str, str]] = {
        **CommonSettings.LEGACY_KEYS,
        "isc_fallback_rdap": "central_fallback_registry",
        "central_fallback_rdap": "central_fallback_registry",
    }

    max_connections: int = Field(
        4096,
        ge=16,
        le=1_000_000,
        description=(
            "Most open client connections per worker process. Near it the oldest idle keep-alive "
            "connections are closed to make room (logged once). serve raises its open-files limit "
            "to 65536 where the system allows; keep this below that limit."
        ),
    )
    cached_max_items: int = Field(
        100_000, ge=1, description="Most domains kept in the memory cache (least recently used are evicted)."
    )
    cache_max_hours: float = Field(
        24.0,
        gt=0,
        description=(
            "Longest a good answer stays in the memory cache, even when the domain's registration expires later."
        ),
    )
    memory_cache: str = Field(
        "memory_cache.json",
        description=(
            "File the memory cache is saved to on clean shutdown and reloaded from at start (JSON lines), "
            "relative to the data directory."
        ),
    )
    prohibited_tlds: list[str] = Field(
        list(DEFAULT_PROHIBITED),
        description=(
            "Suffixes answered locally with PROHIBITED-TLD and never sent upstream. Add your internal zones here "
            "(e.g. corp.example.com). In mode central the central server's list is added to this one."
        ),
    )
    timezone_offset: float = Field(
        0.0, ge=-24, le=24, description="Hours added to displayed dates. Stored dates are always UTC."
    )
    mode: Literal["rdap", "central"] = Field(
        "rdap",
        description=(
            "Where unknown domains are resolved: rdap (this service's own RDAP client) or central (the "
            "community's central server at server_url; isc, the original tool's name for it, is read as central)."
        ),
    )
    established_days_age: int = Field(
        730,
        ge=0,
        description=(
            "A domain registered fewer days ago than this is NEW, otherwise ESTABLISHED. Applied at answer time, "
            "never stored."
        ),
    )
    admin_key: str = Field(
        "",
        repr=False,
        description=(
            "Key for /stats, /showcache, /metrics and /ui (Authorization: Bearer KEY). Without it they answer only "
            "local requests: the service on a loopback address, a loopback Host, no proxy header. Never logged."
        ),
    )
    server_url: str = Field(
        "",
        description=(
            "mode central: the central server's base URL, e.g. https://community.example.org:4100 (lookups are "
            "posted to <server_url>/api)."
        ),
    )
    api_key: str = Field(
        "",
        repr=False,
        description=(
            "mode central: this organisation's key for the central server (from domain-stats central key add). "
            "Never logged."
        ),
    )
    server_ca_file: str = Field(
        "",
        description=(
            "mode central: a CA bundle (PEM) to verify the central server's certificate with. Empty: the system's"
            " CAs. Verification is never turned off."
        ),
    )
    server_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="mode central: whole time budget of one request to the central server."
    )
    central_fallback_registry: bool = Field(
        False,
        description=(
            "mode central: while the central server cannot be reached, resolve unknown domains with this "
            "service's own registry engine (RDAP, WHOIS where a TLD has no RDAP) instead of answering ERROR."
        ),
    )
    target_updates: str = Field(
        "",
        description=(
            "Where the established-domain update feed comes from: an http(s) base URL (with version.json under "
            "it) or a directory. Empty: in mode central the central server's feed, otherwise none."
        ),
    )
    update_interval_hours: float = Field(
        24.0,
        ge=0,
        description=(
            "How often the running service applies new versions of the update feed (0: only db update by hand, "
            "and at start when the central server requires a newer database)."
        ),
    )
    feed_max_file_mb: int = Field(
        1024,
        ge=1,
        le=1_000_000,
        description=(
            "Largest update-feed file downloaded, in MB after any gzip decoding; a larger one stops the "
            "update (nothing of it applied)."
        ),
    )
    starter_data: bool = Field(
        True,
        description=(
            "On a new database, import the packaged starter set of about 37,000 established domains (from the "
            "original domain_stats top1m list) so common domains are answered locally from the first minute."
        ),
    )
    queued_answer_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description=(
            "How long an answer with RDAP-QUEUED (or ISC-QUEUED) stays in the memory cache. The background "
            "resolution replaces it as soon as it lands; 0: not cached."
        ),
    )
    import_resolve_rate: float = Field(
        1.0,
        gt=0,
        le=100,
        description=(
            "Names a second the running service resolves from lists imported as plain names (domain-stats import "
            "of a file of names), in the background."
        ),
    )

    @field_validator("prohibited_tlds")
    @classmethod
    def _clean_suffixes(cls, value: list[str]) -> list[str]:
        return clean_suffixes(value)

    @field_validator("server_url")
    @classmethod
    def _valid_server_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _original_mode(cls, value: Any) -> Any:
        """The original tool's name for the central server: ``mode: isc``."""
        return "central" if value == "isc" else value

    @model_validator(mode="after")
    def _central_needs_a_server(self) -> Settings:
        if self.mode == "central":
            missing = [key for key in ("server_url", "api_key") if not getattr(self, key)]
            if missing:
                raise ValueError(f"mode central needs {' and '.join(missing)}")
        return self

    def server_ssl_context(self, data_dir: Path) -> ssl.SSLContext | None:
        return self.ca_context(data_dir, "server_ca_file", self.server_ca_file)


def load_settings(data_dir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read ``DIR/domain_stats.yaml`` (creating it on first use) and validate it."""
    return load_settings_file(Settings, data_dir, CONFIG_NAME, overrides)
