"""The date forms import files and update feeds carry, read fast: they repeat days and times a lot.

A date without a zone is UTC. The feed's own form, ``%Y-%m-%d %H:%M:%S``, is the fast path
(each day and time of day is worked out once); ISO 8601, RFC 1123 and epoch seconds are
read too.
"""

from __future__ import annotations

import calendar
import contextlib
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["DATE_FORMAT", "format_date", "parse_date_value", "parse_plain_date"]

#: How every date is shown and sent: in answers, on the central-server protocol, in feed lines.
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

_PLAIN_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d) ([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\Z")
# Imports repeat days and times of day a lot: remember what each "YYYY-MM-DD" and "HH:MM:SS" is worth.
_DAYS: dict[str, int] = {}
_TIMES: dict[str, int] = {}


def format_date(epoch: float, offset_hours: float = 0.0) -> str:
    """``epoch`` (UTC seconds) in :data:`DATE_FORMAT`, shifted by ``offset_hours``.

    Always a four-digit year: the C library's ``%Y`` writes year 1 as ``1``.
    """
    t = time.gmtime(epoch + offset_hours * 3600)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def parse_plain_date(value: str) -> float | None:
    """The feed's own ``%Y-%m-%d %H:%M:%S``, fast; None when ``value`` is in another form."""
    midnight = _DAYS.get(value[:10])
    seconds = _TIMES.get(value[11:])
    if midnight is not None and seconds is not None and value[10] == " ":
        return float(midnight + seconds)
    match = _PLAIN_DATE.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        datetime(year, month, day)  # refuses February 30th
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None
    midnight = calendar.timegm((year, month, day, 0, 0, 0))
    seconds = hour * 3600 + minute * 60 + second
    if len(_DAYS) < 100_000:
        _DAYS[value[:10]] = midnight
    _TIMES[value[11:]] = seconds
    return float(midnight + seconds)


def parse_date_value(value: Any) -> float:
    """Epoch seconds from the date forms import files use; dates without a zone are UTC."""
    if type(value) is str and len(value) == 19:
        plain = parse_plain_date(value)
        if plain is not None:
            return plain
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    with contextlib.suppress(ValueError):  # epoch seconds written as text
        return float(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            stamp = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise ValueError(f"not a date: {value!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
