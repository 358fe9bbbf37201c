"""What the operators of a central server set while it runs (``central config set``).

These live in the server's database, not in ``central.yaml``, so that a change reaches a
running server at once and every instance sharing the database agrees. Each value is
checked here, once, before it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from domain_stats.central_protocol import ConfigAnswer
from domain_stats.config import clean_suffixes
from domain_stats.errors import UserError
from domain_stats.versions import VersionError, parse_database_version, parse_software_version

__all__ = ["POLICY_KEYS", "Policy", "PolicyError", "parse_policy_value"]


class PolicyError(UserError):
    """A value an operator tried to set is not valid; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Policy:
    min_software_version: str = "0.0"
    min_database_version: str = "1.0"
    status_interval: float = 60.0  # minutes between a client's status reports
    prohibited_tlds: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Policy:
        known = {k: v for k, v in stored.items() if k in POLICY_KEYS}
        if "prohibited_tlds" in known:
            known["prohibited_tlds"] = tuple(known["prohibited_tlds"])
        return cls(**known)

    def config_answer(self) -> ConfigAnswer:
        return ConfigAnswer(self.min_software_version, self.min_database_version, self.prohibited_tlds)


POLICY_KEYS = ("min_software_version", "min_database_version", "status_interval", "prohibited_tlds")


def parse_policy_value(key: str, values: Sequence[str]) -> Any:
    """The JSON value to store for ``config set KEY VALUES...``."""
    if key not in POLICY_KEYS:
        raise PolicyError(f"unknown setting {key!r}; one of: {', '.join(POLICY_KEYS)}")
    if key == "prohibited_tlds":
        return clean_suffixes(list(values))
    if len(values) != 1:
        raise PolicyError(f"{key} takes one value")
    value = values[0]
    if key == "status_interval":
        try:
            minutes = float(value)
        except ValueError:
            raise PolicyError(f"status_interval: {value!r} is not a number of minutes") from None
        if not 0 < minutes <= 7 * 24 * 60:
            raise PolicyError("status_interval: minutes between 0 and 10080 (a week)")
        return minutes
    try:
        if key == "min_database_version":
            parse_database_version(value)
        else:
            parse_software_version(value)
    except VersionError:
        shape = "MAJOR.MINOR" if key == "min_database_version" else "a version such as 0.1 or 0.1.2"
        raise PolicyError(f"{key}: {value!r} is not {shape}") from None
    return value
