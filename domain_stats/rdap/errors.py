"""The RDAP client's exception tree; each error carries the alert that goes into the answer.

Alerts are stable tokens a SIEM rule can match; the detail goes to the log.
"""

from __future__ import annotations

__all__ = [
    "RdapError",
    "RdapNotFound",
    "RdapTimeout",
    "RdapRateLimited",
    "RdapServerError",
    "RdapBadResponse",
    "RdapNoServer",
    "RdapBackedOff",
    "RdapTransportError",
]


class RdapError(Exception):
    alert = "RDAP-ERROR"
    #: Does this error count against the server's health (and lead to backing off)?
    server_fault = False

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.alert)
        self.detail = detail


class RdapNotFound(RdapError):
    alert = "RDAP-NOT-FOUND"


class RdapTimeout(RdapError):
    alert = "RDAP-TIMEOUT"
    server_fault = True


class RdapTransportError(RdapError):
    alert = "RDAP-UNREACHABLE"
    server_fault = True


class RdapServerError(RdapError):
    alert = "RDAP-SERVER-ERROR"
    server_fault = True


class RdapRateLimited(RdapError):
    alert = "RDAP-RATE-LIMITED"


class RdapBadResponse(RdapError):
    alert = "RDAP-BAD-RESPONSE"


class RdapNoServer(RdapError):
    alert = "RDAP-NO-SERVER"


class RdapBackedOff(RdapError):
    alert = "RDAP-BACKED-OFF"
