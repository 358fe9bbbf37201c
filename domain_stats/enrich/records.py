"""What a reader makes of a line: the event's JSON text and the name it asks about."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from domain_stats.errors import DomainStatsError

__all__ = ["ANSWER_KEY", "BadLine", "Record", "event_record"]

#: The key of the answer added to each event.
ANSWER_KEY = "domain_stats"


class Record(NamedTuple):
    """An event as a JSON object's text, and the host name it asks about (None: it asks none).

    When ``name`` is set the object has at least that key and no :data:`ANSWER_KEY` (a reader
    drops one that came with the event), so the answer goes in where its closing brace was.
    """

    text: bytes
    name: str | None


class BadLine(DomainStatsError):
    """A line the format cannot read; counted and reported with its number, never fatal."""


def event_record(event: dict[str, Any], name: str | None) -> Record:
    """The record of a parsed event: an :data:`ANSWER_KEY` it came with is dropped (enriched
    before: the new answer takes its place), and an object left empty asks nothing."""
    event.pop(ANSWER_KEY, None)
    try:
        return Record(orjson.dumps(event), name if event else None)
    except orjson.JSONEncodeError as err:  # an integer beyond 64 bits, a surrogate
        raise BadLine(f"cannot be written as JSON: {err}") from None
