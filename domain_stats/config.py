"""``domain_stats.yaml``: every setting, its default and its documentation, in one place.

The :class:`Settings` model is the single source of truth: validation, the commented
default file written on first use, and the README table all come from its fields.
A file names only the keys it changes; the rest take their defaults.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain_stats.names import DEFAULT_PROHIBITED
from domain_stats.rdap.bootstrap import IANA_BOOTSTRAP_URL

__all__ = ["ConfigError", "Settings", "CONFIG_NAME", "load_settings", "ensure_data_dir", "default_config_text"]

CONFIG_NAME = "domain_stats.yaml"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and the file."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    local_address: str = Field("127.0.0.1", description="Address to listen on. Keep 127.0.0.1 unless other hosts must reach the service; on any other address /stats and /showcache require admin_key.")
    local_port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    database_file: str = Field("domain_stats.db", description="SQLite database, relative to the data directory.")
    cached_max_items: int = Field(100_000, ge=1, description="Most domains kept in the memory cache (least recently used are evicted).")
    cache_max_hours: float = Field(24.0, gt=0, description="Longest a good answer stays in the memory cache, even when the domain's registration expires later.")
    memory_cache: str = Field("memory_cache.json", description="File the memory cache is saved to on clean shutdown and reloaded from at start (JSON lines), relative to the data directory.")
    prohibited_tlds: list[str] = Field(list(DEFAULT_PROHIBITED), description="Suffixes answered locally with PROHIBITED-TLD and never sent upstream. Add your internal zones here (e.g. corp.example.com).")
    psl_private: bool = Field(False, description="Also use the private section of the Public Suffix List (x.github.io stays x.github.io instead of github.io).")
    timezone_offset: float = Field(0.0, ge=-24, le=24, description="Hours added to displayed dates. Stored dates are always UTC.")
    log_detail: int = Field(1, ge=0, le=2, description="0: warnings and errors only; 1: also start-up and upstream problems; 2: also every lookup (debug).")
    mode: Literal["rdap"] = Field("rdap", description="Where unknown domains are resolved: rdap (this service's own RDAP client). The community mode (isc) comes with the central server.")
    established_days_age: int = Field(730, ge=0, description="A domain registered fewer days ago than this is NEW, otherwise ESTABLISHED. Applied at answer time, never stored.")
    rdap_bootstrap: str = Field("", description="An RDAP bootstrap file (path or http(s) URL) to use as it is instead of the IANA registry. Empty: the packaged IANA snapshot, refreshed in the background.")
    rdap_bootstrap_refresh_url: str = Field(IANA_BOOTSTRAP_URL, description="Where the background refresh of the IANA bootstrap comes from (daily). Empty disables the refresh, e.g. on an isolated sensor.")
    rdap_ca_file: str = Field("", description="A CA bundle (PEM) to verify https RDAP servers and a bootstrap URL with, for a TLS-inspecting proxy or a private registry mirror. Empty: the system's CAs. Verification is never turned off.")
    rdap_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Whole time budget of one RDAP lookup, including waits for rate limits and Retry-After.")
    rdap_server_concurrency: int = Field(10, ge=1, le=1000, description="Most simultaneous requests to one RDAP server.")
    rdap_server_rate: float = Field(20.0, gt=0, description="Most requests per second to one RDAP server.")
    rdap_error_ttl_hours: float = Field(1.0, ge=0, description="How long an RDAP error answer is cached before the domain is tried again; also how long a failed refresh of an expired record, or a registration the registry reports as expired, waits before the next query.")
    admin_key: str = Field("", description="Key for /stats and /showcache (Authorization: Bearer KEY). Required for them when local_address is not a loopback address. Never logged.")

    @field_validator("prohibited_tlds")
    @classmethod
    def _clean_suffixes(cls, value: list[str]) -> list[str]:
        return [s.strip().strip(".").lower() for s in value if s and s.strip().strip(".")]

    @field_validator("local_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        if value != "localhost":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address") from None
        return value

    @property
    def is_loopback(self) -> bool:
        return self.local_address == "localhost" or ipaddress.ip_address(self.local_address).is_loopback

    def rdap_ssl_context(self, data_dir: Path) -> "ssl.SSLContext | None":
        """The TLS context for RDAP, or None for the system's defaults."""
        if not self.rdap_ca_file:
            return None
        path = self.data_path(data_dir, self.rdap_ca_file)
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"rdap_ca_file: cannot load {path}: {err}") from None

    def data_path(self, data_dir: Path, value: str) -> Path:
        """A setting's file, relative to the data directory unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(data_dir) / path


def default_config_text() -> str:
    """The commented configuration written on first use: every key, its meaning and default."""
    lines = [
        "# domain-stats configuration. Every key is optional: uncomment and change what you need;",
        "# the others keep the defaults shown. Paths are relative to this directory.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description}")
        dumped = yaml.safe_dump({name: field.default}, default_flow_style=False, sort_keys=False).rstrip("\n")
        lines.extend(f"# {line}" for line in dumped.splitlines())
        lines.append("")
    return "\n".join(lines)


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory and its commented configuration if they do not exist yet."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = data_dir / CONFIG_NAME
        if not config.exists():
            config.write_text(default_config_text(), encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot create data directory {data_dir}: {err.strerror}") from None
    return config


def load_settings(data_dir: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read ``DIR/domain_stats.yaml`` (creating it on first use) and validate it."""
    config = ensure_data_dir(data_dir)
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{config}: not valid YAML: {err}") from None
    except OSError as err:
        raise ConfigError(f"cannot read {config}: {err.strerror}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{config}: expected key: value lines at the top level")
    raw.update(overrides or {})
    try:
        return Settings(**raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"]) or "(file)"
            message = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{key}: {message}")
        raise ConfigError(f"{config}: " + "; ".join(problems)) from None
