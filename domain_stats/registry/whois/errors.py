"""The WHOIS engine's exception tree; each error carries the alert that goes into the answer."""

from __future__ import annotations

from domain_stats import alerts
from domain_stats.registry.registration import NoRegistryServer, RegistryError

__all__ = [
    "WhoisBackedOff",
    "WhoisBadResponse",
    "WhoisError",
    "WhoisNoDate",
    "WhoisNoServer",
    "WhoisNotFound",
    "WhoisRateLimited",
    "WhoisTimeout",
    "WhoisUnreachable",
]


class WhoisError(RegistryError):
    """A WHOIS query gave no registration date; ``alert`` says why."""


class WhoisNotFound(WhoisError):
    alert = alerts.WHOIS_NOT_FOUND
    settled = True


class WhoisNoDate(WhoisError):
    """Registered, but the registry publishes no creation date: its answer, not a failure."""

    alert = alerts.WHOIS_NO_DATE
    settled = True


class WhoisTimeout(WhoisError):
    alert = alerts.WHOIS_TIMEOUT
    server_fault = True


class WhoisUnreachable(WhoisError):
    alert = alerts.WHOIS_UNREACHABLE
    server_fault = True


class WhoisRateLimited(WhoisError):
    alert = alerts.WHOIS_RATE_LIMITED


class WhoisBadResponse(WhoisError):
    alert = alerts.WHOIS_BAD_RESPONSE


class WhoisBackedOff(WhoisError):
    alert = alerts.WHOIS_BACKED_OFF


class WhoisNoServer(WhoisError, NoRegistryServer):
    alert = alerts.NO_SERVER
