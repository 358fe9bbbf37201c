"""Settings both servers share, and how a settings file is read, validated and first written.

Each server has one pydantic model (the lookup service's ``domain_stats.lookup.config.Settings``,
the central server's ``domain_stats.central.config.CentralSettings``), both built on
:class:`CommonSettings`. A model is the single source of truth for its file: validation, the
commented default file written on first use, and the README table all come from its fields.
A file names only the keys it changes; the rest take their defaults.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain_stats.errors import ConfigError
from domain_stats.private_files import create_private, make_private_dir
from domain_stats.registry.settings import RegistrySettings, ca_context, data_path

__all__ = [
    "CommonSettings",
    "ConfigError",
    "clean_suffixes",
    "default_config_text",
    "ensure_data_dir",
    "load_settings_file",
]


class _ListeningSettings(BaseModel):
    """The first keys of every settings file (declared apart so that they come first in it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    local_address: str = Field(
        "127.0.0.1",
        description=(
            "Address to listen on. Keep 127.0.0.1 unless other hosts must reach the service; on any other address"
            " /stats, /showcache, /metrics and /ui require admin_key."
        ),
    )
    local_port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    database_file: str = Field("domain_stats.db", description="SQLite database, relative to the data directory.")
    database_url: str = Field(
        "",
        repr=False,
        description=(
            "A PostgreSQL database to use instead of the SQLite file, e.g. "
            "postgresql://domainstats@db.example.org/domainstats (several instances can share it). Empty: SQLite."
            " Its password is never logged."
        ),
    )
    psl_private: bool = Field(
        False,
        description=(
            "Also use the private section of the Public Suffix List (x.github.io stays x.github.io instead of "
            "github.io)."
        ),
    )
    log_detail: int = Field(
        1,
        ge=0,
        le=2,
        description=(
            "0: warnings and errors only; 1: also start-up and upstream problems; 2: also every lookup (debug)."
        ),
    )


class CommonSettings(RegistrySettings, _ListeningSettings):
    """Keys the lookup service and the central server share: same name, same meaning.

    The registry engine's keys (:class:`~domain_stats.registry.settings.RegistrySettings`) are
    embedded at the top level; ``LEGACY_KEYS`` are earlier names still read.
    """

    #: Earlier names of settings, read as their current names (a file may not use both).
    LEGACY_KEYS: ClassVar[dict[str, str]] = {"rdap_error_ttl_hours": "registry_error_ttl_hours"}

    registry_error_ttl_hours: float = Field(
        1.0,
        ge=0,
        description=(
            "How long an RDAP or WHOIS error answer is cached before the domain is tried again; also how long a failed "
            "refresh of an expired record, or a registration the registry reports as expired, waits before the "
            "next query."
        ),
    )
    upstream_line_max: int = Field(
        20_000,
        ge=1,
        le=10_000_000,
        description=(
            "Most names one process keeps waiting for an upstream answer (about 3 KB each: 20,000 is about 60 MB). "
            "A new name beyond it is answered with the queued token (RDAP-QUEUED, WHOIS-QUEUED, ISC-QUEUED) and "
            "not kept: its next lookup asks again. /stats and /metrics show the line and what overflowed."
        ),
    )
    upstream_queue_wait_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description=(
            "Longest a lookup waits in line for an upstream server (our own per-server limits, or a 429's "
            "Retry-After) before it is answered ERROR with RDAP-QUEUED (WHOIS-QUEUED for a WHOIS server, "
            "ISC-QUEUED in mode central). The query stays in line and is resolved in the background; the next ask "
            "answers from what it found."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it empty for SQLite)")
        return value

    def database_location(self, data_dir: Path) -> str | Path:
        """What :func:`~domain_stats.storage.open_storage` opens: the PostgreSQL URL, or the SQLite file."""
        return self.database_url or self.data_path(data_dir, self.database_file)

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

    def ca_context(self, data_dir: Path, key: str, ca_file: str) -> ssl.SSLContext | None:
        """A verifying TLS context trusting ``ca_file`` (the setting ``key``), or None for the system's CAs."""
        return ca_context(data_dir, key, ca_file)

    def private_paths(self, data_dir: Path, config_name: str) -> list[Path]:
        """What must stay readable by this user alone: the directory, its configuration, the database."""
        paths = [Path(data_dir), Path(data_dir) / config_name]
        if not self.database_url:
            paths.append(self.data_path(data_dir, self.database_file))
        return paths

    def data_path(self, data_dir: Path, value: str) -> Path:
        """A setting's file, relative to the data directory unless absolute."""
        return data_path(data_dir, value)

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        for old, new in cls.LEGACY_KEYS.items():
            if old in raw:
                if new in raw:
                    raise ValueError(f"{old} is the old name of {new}: set only {new}")
                raw[new] = raw.pop(old)
        return raw


def clean_suffixes(value: list[str]) -> list[str]:
    """``[".Corp.Example.com."]`` -> ``["corp.example.com"]``; empty entries dropped."""
    return [s.strip().strip(".").lower() for s in value if s and s.strip().strip(".")]


SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def default_config_text(model: type[CommonSettings], title: str = "domain-stats") -> str:
    """The commented configuration written on first use: every key, its meaning and default."""
    lines = [
        f"# {title} configuration. Every key is optional: uncomment and change what you need;",
        "# the others keep the defaults shown. Paths are relative to this directory.",
        "",
    ]
    for name, field in model.model_fields.items():
        lines.append(f"# {field.description}")
        dumped = yaml.safe_dump({name: field.default}, default_flow_style=False, sort_keys=False).rstrip("\n")
        lines.extend(f"# {line}" for line in dumped.splitlines())
        lines.append("")
    return "\n".join(lines)


def ensure_data_dir(data_dir: Path, name: str, text: str) -> Path:
    """Create the data directory (0700) and its commented configuration (0600) if they do not exist yet."""
    data_dir = Path(data_dir)
    try:
        make_private_dir(data_dir)
        config = data_dir / name
        if not config.exists():
            create_private(config)
            config.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot create data directory {data_dir}: {err.strerror}") from None
    return config


def load_settings_file(
    model: type[SettingsT],
    data_dir: Path,
    name: str,
    overrides: dict[str, Any] | None = None,
    title: str = "domain-stats",
) -> SettingsT:
    """Read ``DIR/name`` (creating it, commented, on first use) and validate it against ``model``."""
    config = ensure_data_dir(data_dir, name, default_config_text(model, title))
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
        return model(**raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"]) or "(file)"
            message = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            problems.append(f"{key}: {message}")
        raise ConfigError(f"{config}: " + "; ".join(problems)) from None
