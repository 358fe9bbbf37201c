"""What a registry says about a domain, whichever protocol asked it, and why it said nothing.

The RDAP and WHOIS engines both answer a :class:`Registration` or raise a
:class:`RegistryError`, so the lookup service, the central server and storage handle one
result type and one error branch; the error's ``alert`` is the stable token that goes into
the answer. Storage keeps the same type: a registration read back from the database is the one
that was written, with where it came from (``origin``).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from domain_stats import alerts
from domain_stats.errors import DomainStatsError

__all__ = [
    "EARLIEST_CREATION",
    "FUTURE_SLACK_SECONDS",
    "ORIGIN_CENTRAL",
    "ORIGIN_LOCAL",
    "ORIGIN_RDAP",
    "ORIGIN_WHOIS",
    "NoRegistryServer",
    "Registration",
    "RegistryError",
    "implausible_creation",
    "plausible_expiry",
]

# Where a registration came from; it decides what an answer's ``seen_by_isc`` shows.
ORIGIN_LOCAL = "local"  # imported list, update feed, starter set: "NA"
ORIGIN_RDAP = "rdap"  # our own RDAP lookup: "RDAP"
ORIGIN_WHOIS = "whois"  # our own WHOIS lookup: "WHOIS"
ORIGIN_CENTRAL = "isc"  # the central server: the community's first-contact date (stored as "isc")


class Registration(NamedTuple):
    """Registration facts for one domain, UTC epoch seconds; ``expires`` None where none is published."""

    created: float
    expires: float | None
    origin: str
    seen_by_isc: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now


#: No domain was registered before 1985 (the first .com, symbolics.com: 15 March 1985).
EARLIEST_CREATION = 473_385_600.0  # 1985-01-01 00:00:00 UTC
#: How far ahead of our clock a creation date may be (clocks and zones disagree by less).
FUTURE_SLACK_SECONDS = 86_400.0


def implausible_creation(created: float, now: float) -> str | None:
    """Why a creation date can be no registry's record (before 1985, or after tomorrow), or None.

    Such an answer is ``*-BAD-RESPONSE``, never a category: 0001-01-01 would read ESTABLISHED,
    2999 NEW. One rule for RDAP, WHOIS and the central server's answers.
    """
    if created < EARLIEST_CREATION:
        return f"creation date {created:.0f} is before 1985: no domain is that old"
    if created > now + FUTURE_SLACK_SECONDS:
        return f"creation date {created:.0f} is in the future"
    return None


def plausible_expiry(created: float, expires: float | None) -> float | None:
    """The expiry, or None when it is before the creation (it cannot be true; the creation may be)."""
    return None if expires is not None and expires < created else expires


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
