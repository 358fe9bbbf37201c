"""What a registry says about a domain, whichever protocol asked it (RDAP or WHOIS).

The RDAP and WHOIS engines both answer :class:`RegistrationDates` or raise a
:class:`RegistryError`, so the lookup service and the central server handle one result type
and one error branch; the error's ``alert`` is the stable token that goes into the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain_stats import alerts
from domain_stats.errors import DomainStatsError

__all__ = ["NoRegistryServer", "RegistrationDates", "RegistryError"]


@dataclass(frozen=True, slots=True)
class RegistrationDates:
    """UTC epoch seconds; ``expires`` None where the registry publishes none."""

    created: float
    expires: float | None


class RegistryError(DomainStatsError):
    """A registry gave no registration date; ``alert`` says why."""

    alert: ClassVar[str]
    #: Does this error count against the server's health (and lead to a pause)?
    server_fault: ClassVar[bool] = False
    #: The registry's own lasting answer (not found, no date published), not a failure to ask.
    settled: ClassVar[bool] = False

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.alert)
        self.detail = detail


class NoRegistryServer(RegistryError):
    """Neither the RDAP bootstrap nor the WHOIS server map names a server for the TLD."""

    alert = alerts.NO_SERVER
