r"""The date forms WHOIS servers print, read into UTC epoch seconds.

Every form here was seen in a real registry answer (the samples are in ``tests/registry/whois/samples``
and the shared corpus): ``2001-02-03T04:05:06Z`` and its variants (fractions, ``-0700``,
``+03``, ``-T``), ``2001-02-03``, ``2001/02/03``, ``2001.02.03 04:05:06``, ``2012. 05. 19.``,
``20010203``, ``03.02.2001``, ``03-Feb-2001``, ``31 May 1999``, ``30th April 2003 at
00:00:00.000``, zones written ``(UTC+8)`` or ``(GMT+0:00)``. A date without a zone is UTC.
``dd-mm-yyyy`` and ``mm/dd/yyyy`` cannot be told apart by their form: a registry rule
(:mod:`domain_stats.registry.whois.rules`) says which a registry prints, and without one only a date
that can be read one way alone is accepted.

"before 1 January 1996" (SWITCH, for domains older than its records) is a bound, not a
date: :class:`WhoisDate` says so and the caller decides.

The patterns are anchored at the start of the value, every run of blanks in them is bounded
(``[ \t]{0,4}``, no ``\s*`` beside another quantifier over blanks), and a value is read up to
:data:`MAX_DATE_TEXT` characters: however many blanks a hostile value holds, a match costs a
small constant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

__all__ = ["MAX_DATE_TEXT", "DayOrder", "WhoisDate", "parse_whois_date"]


class DayOrder(Enum):
    """How a registry orders ``nn-nn-yyyy`` and ``nn/nn/yyyy``."""

    DAY_FIRST = "dd-mm-yyyy"
    MONTH_FIRST = "mm/dd/yyyy"


@dataclass(frozen=True, slots=True)
class WhoisDate:
    epoch: float
    #: The registry gave an upper bound ("before 1 January 1996"), not the date itself.
    before: bool = False


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

#: The longest text a date is read from (a real one, with its time and zone, is under 50 characters).
MAX_DATE_TEXT = 100

_TIME = r"(?:[ \t]{0,4}-?[Tt ][ \t]{0,4}(?:at[ \t]{1,4})?(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?)?"
_ZONE = (
    r"[ \t]{0,4}(?:(?P<z>[Zz])\b|(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?\b"
    r"|\(?(?i:UTC|GMT)[ \t]{0,4}(?:(?P<psign>[+-])(?P<poh>\d{1,2})(?::(?P<pom>\d{2}))?)?\)?)?"
)
_YEAR_FIRST = re.compile(
    r"(\d{4})[ \t]{0,4}([-/.])[ \t]{0,4}(\d{1,2})[ \t]{0,4}\2[ \t]{0,4}(\d{1,2})\.?(?!\d)" + _TIME + _ZONE
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?!\d)")
_NUMERIC_DAY_MONTH = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?!\d)" + _TIME + _ZONE)
_NAMED_MONTH = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?[- \t]{1,4}([A-Za-z]{3,9})\.?[- \t,]{1,4}(\d{4})(?!\d)" + _TIME + _ZONE
)
_BEFORE = re.compile(r"before[ \t]{1,4}", re.IGNORECASE)


def parse_whois_date(text: str, order: DayOrder | None = None) -> WhoisDate | None:
    """The date at the start of ``text`` (anything after it is ignored), or None if there is none."""
    text = text[:MAX_DATE_TEXT].strip()
    bound = _BEFORE.match(text)
    if bound:
        text = text[bound.end() :]
    fields = _read(text, order)
    if fields is None:
        return None
    (year, month, day, hour, minute, second), offset = fields
    try:
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC) - offset
        return WhoisDate(stamp.timestamp(), before=bound is not None)
    except (ValueError, OverflowError):  # 31.02.2001, or a zone pushing year 9999 over
        return None


def _read(text: str, order: DayOrder | None) -> tuple[tuple[int, ...], timedelta] | None:
    if match := _YEAR_FIRST.match(text):
        year, _, month, day = match.group(1, 2, 3, 4)
        return _with_time((int(year), int(month), int(day)), match, 5)
    if match := _NUMERIC_DAY_MONTH.match(text):
        first, separator, second, year = match.group(1, 2, 3, 4)
        ymd = _day_month(int(year), int(first), int(second), separator, order)
        return None if ymd is None else _with_time(ymd, match, 5)
    if match := _NAMED_MONTH.match(text):
        day, name, year = match.group(1, 2, 3)
        month = _MONTHS.get(name.lower())
        return None if month is None else _with_time((int(year), month, int(day)), match, 4)
    if match := _COMPACT.match(text):
        return (int(match[1]), int(match[2]), int(match[3]), 0, 0, 0), timedelta(0)
    return None


def _day_month(year: int, first: int, second: int, separator: str, order: DayOrder | None) -> tuple[int, ...] | None:
    """``03.02.2001`` is always day first (every registry printing dots does); ``-`` and ``/``
    follow the registry's rule, or, without one, the reading when only one is a real date (or
    both are the same)."""
    if separator == "." or order is DayOrder.DAY_FIRST:
        return (year, second, first)
    if order is DayOrder.MONTH_FIRST:
        return (year, first, second)
    if first > 12 >= second or first == second:
        return (year, second, first)
    if second > 12 >= first:
        return (year, first, second)
    return None  # 03-04-2001: ambiguous without a rule


def _with_time(ymd: tuple[int, ...], match: re.Match[str], group: int) -> tuple[tuple[int, ...], timedelta]:
    hour, minute, second = (int(match.group(group + i) or 0) for i in range(3))
    return (*ymd, hour, minute, second), _offset(match)


def _offset(match: re.Match[str]) -> timedelta:
    sign, hours, minutes = match.group("sign"), match.group("oh"), match.group("om")
    if sign is None:
        sign, hours, minutes = match.group("psign"), match.group("poh"), match.group("pom")
    if sign is None:
        return timedelta(0)
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return offset if sign == "+" else -offset
