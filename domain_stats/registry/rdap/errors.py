"""The RDAP client's exception tree; each error carries the alert that goes into the answer.

Alerts are stable tokens a SIEM rule can match (:mod:`domain_stats.alerts`); the detail goes
to the log.
"""

from __future__ import annotations

from domain_stats import alerts
from domain_stats.registry.registration import NoRegistryServer, RegistryError

__all__ = [
    "RdapBackedOff",
    "RdapBadResponse",
    "RdapError",
    "RdapNoServer",
    "RdapNotFound",
    "RdapRateLimited",
    "RdapServerError",
    "RdapTimeout",
    "RdapTransportError",
]


class RdapError(RegistryError):
    """An RDAP lookup gave no registration date; ``alert`` says why."""


class RdapNotFound(RdapError):
    alert = alerts.RDAP_NOT_FOUND
    settled = True


class RdapTimeout(RdapError):
    alert = alerts.RDAP_TIMEOUT
    server_fault = True


class RdapTransportError(RdapError):
    alert = alerts.RDAP_UNREACHABLE
    server_fault = True


class RdapServerError(RdapError):
    alert = alerts.RDAP_SERVER_ERROR
    server_fault = True


class RdapRateLimited(RdapError):
    alert = alerts.RDAP_RATE_LIMITED


class RdapBadResponse(RdapError):
    alert = alerts.RDAP_BAD_RESPONSE


class RdapNoServer(RdapError, NoRegistryServer):
    alert = alerts.NO_SERVER


class RdapBackedOff(RdapError):
    alert = alerts.RDAP_BACKED_OFF
