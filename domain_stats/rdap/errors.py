"""The RDAP client's exception tree; each error carries the alert that goes into the answer.

Alerts are stable tokens a SIEM rule can match (:mod:`domain_stats.alerts`); the detail goes
to the log.
"""

from __future__ import annotations

from typing import ClassVar

from domain_stats import alerts
from domain_stats.errors import DomainStatsError

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


class RdapError(DomainStatsError):
    """An RDAP lookup gave no registration date; ``alert`` says why."""

    alert: ClassVar[str]
    #: Does this error count against the server's health (and lead to backing off)?
    server_fault: ClassVar[bool] = False

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.alert)
        self.detail = detail


class RdapNotFound(RdapError):
    alert = alerts.RDAP_NOT_FOUND


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


class RdapNoServer(RdapError):
    alert = alerts.RDAP_NO_SERVER


class RdapBackedOff(RdapError):
    alert = alerts.RDAP_BACKED_OFF
