"""Read the registration and expiration dates out of an RDAP domain response (RFC 9083).

Real registries disagree on details: ``Z``, ``+00:00``, ``+0000`` or no zone at all (taken
as UTC), 0-9 fractional digits, upper-case or trailing-dot ``ldhName``, no expiration, error
bodies with ``errorCode``. Anything we cannot trust becomes :class:`RdapBadResponse`, never
an exception of another kind.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import idna
import orjson

from domain_stats.registry.rdap.errors import RdapBadResponse, RdapNotFound
from domain_stats.registry.registration import ORIGIN_RDAP, Registration

__all__ = ["parse_domain_response", "parse_rdap_date"]

_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?\Z"
)


def parse_rdap_date(text: object) -> float:
    """UTC epoch seconds for an RDAP date; a date without a zone is UTC."""
    match = _DATE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise RdapBadResponse(f"unreadable date {text!r}")
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    try:
        stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as err:
        raise RdapBadResponse(f"impossible date {text!r}: {err}") from None
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        try:
            stamp -= offset if sign == "+" else -offset
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in the year 10000
            raise RdapBadResponse(f"date out of range {text!r}") from None
    seconds = stamp.timestamp()
    if fraction:
        seconds += int(fraction[:6]) / 10 ** len(fraction[:6])
    return seconds


def parse_domain_response(body: bytes | dict[str, Any], domain: str) -> Registration:
    """Dates for ``domain`` from a response body; raises an :class:`RdapError` subclass."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise RdapBadResponse(f"not JSON: {err}") from None
    else:
        data = body
    if not isinstance(data, dict):
        raise RdapBadResponse("response is not a JSON object")
    if "errorCode" in data:
        code = data.get("errorCode")
        title = data.get("title") or ""
        if code == 404:
            raise RdapNotFound(f"registry says not found: {title}".strip())
        raise RdapBadResponse(f"error response {code!r} {title}".strip())
    if "domainSearchResults" in data:
        raise RdapBadResponse("a search result, not a domain object")
    _check_name(data, domain)
    events = data.get("events")
    if not isinstance(events, list):
        raise RdapBadResponse("no events in the response")
    created = expires = None
    for event in events:
        if not isinstance(event, dict):
            continue
        action = str(event.get("eventAction", "")).strip().lower()
        if action == "registration" and created is None:
            created = parse_rdap_date(event.get("eventDate"))
        elif action == "expiration" and expires is None:
            expires = parse_rdap_date(event.get("eventDate"))
    if created is None:
        raise RdapBadResponse("no registration event")
    return Registration(created, expires, ORIGIN_RDAP)


def _check_name(data: dict[str, Any], domain: str) -> None:
    """Refuse an answer about another domain (a misrouted or confused server)."""
    names = [data.get("ldhName"), data.get("unicodeName")]
    given = [str(n).strip().rstrip(".").lower() for n in names if isinstance(n, str) and n.strip()]
    if not given:
        return
    if domain in given:
        return
    if "xn--" in domain:
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            if idna.decode(domain) in given:
                return
    raise RdapBadResponse(f"response is about {given[0]!r}, not {domain!r}")
