"""The central-server protocol on the wire, shared by the server and the ``mode: central`` client.

One endpoint, ``POST /api``, takes ``{"command": "config" | "status" | "query", ...}`` and
answers JSON (``docs/protocol.md``). This module only validates
and builds those objects; it does no I/O, so both sides and the tests use the same rules.
Dates travel as ``%Y-%m-%d %H:%M:%S`` UTC; a query error carries its cache TTL, in hours, in
``seen_by_isc``.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from typing import Any

import orjson

from domain_stats import alerts
from domain_stats.dates import DATE_FORMAT, format_date
from domain_stats.errors import DomainStatsError, UserError
from domain_stats.registry.registration import implausible_creation, plausible_expiry
from domain_stats.versions import VersionError, parse_software_version

__all__ = [
    "API_PATH",
    "MAX_ALERTS",
    "MAX_ANSWER_BYTES",
    "MAX_OPERATOR_ALERTS",
    "MAX_PROHIBITED",
    "MAX_QUERY_MANY",
    "MAX_REQUEST_BYTES",
    "MAX_RETRY_AFTER_SECONDS",
    "MAX_TEXT",
    "SERVER_ERROR_ALERTS",
    "TTL_NOT_CACHED",
    "TTL_NO_EXPIRY",
    "TTL_PERMANENT",
    "CentralRefused",
    "ConfigAnswer",
    "ProtocolError",
    "QueryAnswer",
    "QueryError",
    "StatusAnswer",
    "StatusReport",
    "check_domain_text",
    "operator_alert_problem",
    "parse_config_answer",
    "parse_query_answer",
    "parse_request",
    "parse_status_answer",
    "parse_wire_date",
    "wire_date",
]

API_PATH = "/api"
MAX_REQUEST_BYTES = 512 * 1024  # a query_many of 1,000 names of the longest kind
#: Most names in one ``query_many``.
MAX_QUERY_MANY = 1000
#: Longest ``Retry-After`` a member honours from the server's 429 (a longer one is taken as this).
MAX_RETRY_AFTER_SECONDS = 300.0

# seen_by_isc of a query error: hours to cache it, or one of these.
TTL_NOT_CACHED = 0
TTL_NO_EXPIRY = -1  # cached without expiry, evictable by the LRU
TTL_PERMANENT = -2  # cached for good, never evicted

MAX_TEXT = 256  # longest version, domain or alert string accepted
#: The largest answer a member reads (the protocol's answers are a few hundred bytes).
MAX_ANSWER_BYTES = 64 * 1024
#: Most alerts in one query answer, and in one operator alert list.
MAX_ALERTS = 8
#: Most suffixes in the server's prohibited list.
MAX_PROHIBITED = 10_000
#: What an error answer may say: the registry engine's own lasting or transient outcomes, and the
#: server's prohibited list. Anything else in an error answer is dropped (``ISC-ERROR`` if nothing
#: is left): a server cannot make a member say ``YOUR-FIRST-CONTACT`` or ``DATABASE-UNAVAILABLE``.
SERVER_ERROR_ALERTS = frozenset(token for token in alerts.ALERTS if token.startswith(("RDAP-", "WHOIS-"))) | frozenset(
    (alerts.NO_SERVER, alerts.PROHIBITED_TLD)
)
_MAX_COUNT = 2**63 - 1


class ProtocolError(DomainStatsError):
    """A request or an answer that does not follow the protocol; the message says what is wrong."""


class CentralRefused(UserError):
    """The central server does not let this client run (denied, or software too old)."""


def _check_version(text: object) -> None:
    try:
        parse_software_version(text)
    except VersionError as err:
        raise ProtocolError(str(err)) from None


def wire_date(epoch: float | None) -> str | None:
    return None if epoch is None else format_date(epoch)


def parse_wire_date(value: Any, field: str) -> float:
    if not isinstance(value, str):
        raise ProtocolError(f"{field}: expected a date string")
    try:
        return float(calendar.timegm(time.strptime(value, DATE_FORMAT)))
    except ValueError:
        raise ProtocolError(f"{field}: not a date as {DATE_FORMAT}: {value[:40]!r}") from None


@dataclass(frozen=True, slots=True)
class StatusReport:
    client_version: str
    database_version: str
    cache_efficiency: tuple[int, int, int]  # hits, misses, expired
    database_efficiency: tuple[int, int]  # hits, misses

    def to_request(self) -> dict[str, Any]:
        return {
            "command": "status",
            "client_version": self.client_version,
            "database_version": self.database_version,
            "cache_efficiency": list(self.cache_efficiency),
            "database_efficiency": list(self.database_efficiency),
        }


@dataclass(frozen=True, slots=True)
class ConfigAnswer:
    min_software_version: str
    min_database_version: str
    prohibited_tlds: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "min_software_version": self.min_software_version,
            "min_database_version": self.min_database_version,
            "prohibited_tlds": list(self.prohibited_tlds),
        }


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    interval: float  # minutes until the next status
    deny_client: str

    def to_json(self) -> dict[str, Any]:
        return {"interval": self.interval, "deny_client": self.deny_client}


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    created: float
    expires: float | None
    seen_by_isc: float
    alerts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "seen_by_web": wire_date(self.created),
            "expires": wire_date(self.expires),
            "seen_by_isc": wire_date(self.seen_by_isc),
            "alerts": list(self.alerts),
        }


@dataclass(frozen=True, slots=True)
class QueryError:
    ttl: int  # hours (> 0) or TTL_NOT_CACHED / TTL_NO_EXPIRY / TTL_PERMANENT
    alerts: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"seen_by_web": "ERROR", "expires": "ERROR", "seen_by_isc": self.ttl, "alerts": list(self.alerts)}


# ---- requests (server side) ----


def parse_request(body: bytes) -> tuple[str, dict[str, Any]]:
    """``(command, request)`` from a request body, every field checked; :class:`ProtocolError` if not."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("the body must be a JSON object") from None
    if not isinstance(request, dict):
        raise ProtocolError("the body must be a JSON object")
    command = request.get("command")
    if command == "config":
        return command, {}
    if command == "status":
        report = StatusReport(
            client_version=_text(request, "client_version"),
            database_version=_text(request, "database_version"),
            cache_efficiency=_counts(request, "cache_efficiency", 3),  # type: ignore[arg-type]
            database_efficiency=_counts(request, "database_efficiency", 2),  # type: ignore[arg-type]
        )
        _check_version(report.client_version)
        _check_version(report.database_version)
        return command, {"report": report}
    if command == "query":
        return command, {"domain": _text(request, "domain")}
    if command == "query_many":
        domains = request.get("domains")
        if not isinstance(domains, list) or not 0 < len(domains) <= MAX_QUERY_MANY:
            raise ProtocolError(f'"domains" must be a list of 1 to {MAX_QUERY_MANY} names')
        return command, {"domains": domains}  # each name is checked on its own: a bad one is answered in place
    raise ProtocolError('"command" must be one of "config", "status", "query", "query_many"')


def check_domain_text(value: Any) -> str:
    """A ``domain`` as the protocol takes it, or :class:`ProtocolError` (a ``query``'s 400, or the error
    answer in a ``query_many`` name's place)."""
    return _text({"domain": value}, "domain")


def _text(request: dict[str, Any], field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise ProtocolError(f'"{field}" must be a non-empty string of at most {MAX_TEXT} characters')
    return value


def _counts(request: dict[str, Any], field: str, length: int) -> tuple[int, ...]:
    value = request.get(field)
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(type(n) is int and 0 <= n <= _MAX_COUNT for n in value)
    ):
        raise ProtocolError(f'"{field}" must be a list of {length} non-negative integers')
    return tuple(value)


# ---- answers (client side) ----


def _object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ProtocolError("the answer is not a JSON object")
    return answer


def _alerts(answer: dict[str, Any]) -> tuple[str, ...]:
    found = answer.get("alerts")
    if (
        not isinstance(found, list)
        or len(found) > MAX_ALERTS
        or not all(isinstance(a, str) and 0 < len(a) <= MAX_TEXT for a in found)
    ):
        raise ProtocolError(f'"alerts" must be a list of at most {MAX_ALERTS} strings of {MAX_TEXT} characters')
    return tuple(found)


#: Operator alerts one domain may carry (room is left for ``ISC-FIRST-CONTACT``).
MAX_OPERATOR_ALERTS = MAX_ALERTS - 1


def _token(alert: str) -> str:
    return alert.partition(": ")[0]


def operator_alert_problem(text: str) -> str | None:
    """Why ``text`` cannot be an operator alert, or None: it must not pass for one of our tokens
    (members drop those from a server's answers)."""
    if not text or len(text) > MAX_TEXT or not text.isprintable():
        return f"1 to {MAX_TEXT} printable characters"
    if _token(text) in alerts.ALERTS:
        return f"{_token(text)} is one of domain-stats' own alert tokens; write the alert in other words"
    return None


def _good_answer_alerts(found: tuple[str, ...]) -> tuple[str, ...]:
    """``ISC-FIRST-CONTACT`` once, then the operators' own alerts; a token of ours in any other place
    (``RDAP-NOT-FOUND`` on a good answer, a second first contact) is not the server's to say."""
    first = (alerts.ISC_FIRST_CONTACT,) if alerts.ISC_FIRST_CONTACT in found else ()
    return first + tuple(a for a in dict.fromkeys(found) if _token(a) not in alerts.ALERTS)


def _error_answer_alerts(found: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for a in dict.fromkeys(found) if _token(a) in SERVER_ERROR_ALERTS)


def parse_config_answer(answer: Any) -> ConfigAnswer:
    answer = _object(answer)
    config = ConfigAnswer(
        _text(answer, "min_software_version"),
        _text(answer, "min_database_version"),
        tuple(answer.get("prohibited_tlds") or ()),
    )
    _check_version(config.min_software_version)
    _check_version(config.min_database_version)
    if len(config.prohibited_tlds) > MAX_PROHIBITED or not all(
        isinstance(s, str) and len(s) <= MAX_TEXT for s in config.prohibited_tlds
    ):
        raise ProtocolError(f'"prohibited_tlds" must be a list of at most {MAX_PROHIBITED} suffixes')
    return config


def parse_status_answer(answer: Any) -> StatusAnswer:
    answer = _object(answer)
    interval, deny = answer.get("interval"), answer.get("deny_client", "")
    if type(interval) not in (int, float) or not interval > 0:
        raise ProtocolError('"interval" must be a positive number of minutes')
    if not isinstance(deny, str):
        raise ProtocolError('"deny_client" must be a string')
    return StatusAnswer(float(interval), deny)


def parse_query_answer(answer: Any, now: float | None = None) -> QueryAnswer | QueryError:
    """``now``: wall-clock UTC seconds (a creation date after tomorrow is refused)."""
    answer = _object(answer)
    found = _alerts(answer)
    if answer.get("seen_by_web") == "ERROR":
        ttl = answer.get("seen_by_isc")
        if type(ttl) is not int or ttl < TTL_PERMANENT:
            raise ProtocolError('an error answer needs an integer TTL (>= -2) in "seen_by_isc"')
        return QueryError(ttl, _error_answer_alerts(found))
    expires = answer.get("expires")
    created = parse_wire_date(answer.get("seen_by_web"), "seen_by_web")
    problem = implausible_creation(created, time.time() if now is None else now)
    if problem is not None:
        raise ProtocolError(problem)
    return QueryAnswer(
        created=created,
        expires=plausible_expiry(created, None if expires is None else parse_wire_date(expires, "expires")),
        seen_by_isc=parse_wire_date(answer.get("seen_by_isc"), "seen_by_isc"),
        alerts=_good_answer_alerts(found),
    )
