"""The five facts we answer, and the one place that decides how they are shown.

Facts are kept as UTC epoch seconds (:class:`Facts`); :class:`AnswerFormatter` turns them
into the JSON-ready :class:`Answer`, so ``category`` and ``timezone_offset`` follow the
configuration and never get stored. The memory cache keeps encoded answers; the formatter
says how long such an answer stays true (:meth:`AnswerFormatter.stable_until`) so a cached
body is never served past the moment its ``category`` would change.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from domain_stats.alerts import INVALID_NAME, PROHIBITED_TLD, YOUR_FIRST_CONTACT, with_reason
from domain_stats.dates import format_date
from domain_stats.registry.registration import ORIGIN_CENTRAL, ORIGIN_RDAP, ORIGIN_WHOIS, Registration

__all__ = [
    "ANSWER_FIELDS",
    "NEW",
    "PROHIBITED_BODY",
    "Answer",
    "AnswerFormatter",
    "Facts",
    "error_answer",
    "invalid_name_answer",
    "prohibited_answer",
    "with_first_contact",
]

NA = "NA"
ERROR = "ERROR"
NEW = "NEW"
ESTABLISHED = "ESTABLISHED"
#: ``seen_by_isc`` of a registration our own engine found: which protocol answered.
_PROTOCOL = {ORIGIN_RDAP: "RDAP", ORIGIN_WHOIS: "WHOIS"}


class Facts(NamedTuple):
    """What we know about one registered domain, ready to be rendered.

    ``created is None`` means the upstream lookup failed and ``alerts`` says why.
    ``seen_by_you`` is always set: an answer only exists after the contact is recorded.
    """

    created: float | None
    expires: float | None
    origin: str
    seen_by_isc: float | None
    seen_by_you: float
    alerts: tuple[str, ...] = ()

    @classmethod
    def known(cls, registration: Registration, seen_by_you: float, alerts: tuple[str, ...] = ()) -> Facts:
        """A registration as it is answered."""
        created, expires, origin, seen_by_isc = registration
        return cls(created, expires, origin, seen_by_isc, seen_by_you, alerts)

    @classmethod
    def failed(cls, seen_by_you: float, alerts: tuple[str, ...]) -> Facts:
        """No registration to answer with; ``alerts`` say why (an ERROR answer)."""
        return cls(None, None, "", None, seen_by_you, alerts)


class Answer(NamedTuple):
    seen_by_web: str
    seen_by_isc: str
    seen_by_you: str
    category: str
    alerts: tuple[str, ...]
    status: int = 200

    def as_dict(self) -> dict[str, Any]:
        return {
            "seen_by_web": self.seen_by_web,
            "seen_by_isc": self.seen_by_isc,
            "seen_by_you": self.seen_by_you,
            "category": self.category,
            "alerts": list(self.alerts),
        }

    def encode(self) -> bytes:
        return orjson.dumps(self.as_dict())


#: The five fields of every answer, in the order they are encoded (``status`` is HTTP's, not the body's).
ANSWER_FIELDS: tuple[str, ...] = Answer._fields[:5]


def prohibited_answer() -> Answer:
    return Answer(NA, NA, NA, NA, (PROHIBITED_TLD,))


PROHIBITED_BODY = prohibited_answer().encode()

_ALERTS_OPEN = b'"alerts":['
_FIRST = b'"' + YOUR_FIRST_CONTACT.encode() + b'"'


def with_first_contact(body: bytes) -> bytes:
    """The same encoded answer with ``YOUR-FIRST-CONTACT`` first in its alerts.

    Cheaper than rendering again on the first-sight path; it relies on our own encoding
    (:meth:`Answer.encode`: compact JSON, ``alerts`` the last key), which a test pins.
    """
    head, sep, tail = body.rpartition(_ALERTS_OPEN)
    if not sep:
        raise ValueError("not an encoded answer")
    return head + sep + _FIRST + (b"]}" if tail == b"]}" else b"," + tail)


def error_answer(alert: str, status: int) -> Answer:
    """The one envelope for every error the service answers: the lookup shape, nothing recorded."""
    return Answer(ERROR, ERROR, NA, ERROR, (alert,), status=status)


def invalid_name_answer(reason: str) -> Answer:
    return error_answer(with_reason(INVALID_NAME, reason), 400)


class AnswerFormatter:
    """Renders :class:`Facts` for display: dates shifted by ``timezone_offset``, category by age."""

    def __init__(self, *, established_days_age: int = 730, timezone_offset: float = 0.0) -> None:
        self._new_for = established_days_age * 86400
        self._offset = timezone_offset
        #: The settings an encoded answer depends on (a saved cache is only valid under the same).
        self.fingerprint = {"established_days_age": established_days_age, "timezone_offset": timezone_offset}

    def stable_until(self, facts: Facts, now: float) -> float | None:
        """When the rendered answer stops being true by itself: a NEW domain turning ESTABLISHED."""
        if facts.created is None or now - facts.created >= self._new_for:
            return None
        return facts.created + self._new_for

    def date(self, when: float) -> str:
        """A date as answers show it (``timezone_offset`` applied)."""
        return format_date(when, self._offset)

    def category(self, created: float, now: float) -> str:
        return NEW if now - created < self._new_for else ESTABLISHED

    def render(
        self, facts: Facts, *, now: float, first_contact: bool = False, extra_alerts: tuple[str, ...] = ()
    ) -> Answer:
        alerts = facts.alerts + extra_alerts
        if first_contact:
            alerts = (YOUR_FIRST_CONTACT, *alerts)
        seen_by_you = self.date(facts.seen_by_you)
        if facts.created is None:
            return Answer(ERROR, ERROR, seen_by_you, ERROR, alerts)
        if facts.origin in _PROTOCOL:
            isc = _PROTOCOL[facts.origin]
        elif facts.origin == ORIGIN_CENTRAL and facts.seen_by_isc is not None:
            isc = format_date(facts.seen_by_isc, self._offset)
        else:
            isc = NA
        return Answer(
            format_date(facts.created, self._offset),
            isc,
            seen_by_you,
            self.category(facts.created, now),
            alerts,
        )
