"""Log lines in, records and the name to look up out: one reader per log format, no I/O.

Each reader turns one line into a :class:`~.records.Record` (the event's JSON text, and the
host name it asks about or ``None``), ``None`` for lines that carry no event (Zeek's ``#``
header lines), or raises :class:`BadLine` with a reason. Formats (``docs/enrich.md``):

- ``zeek-tsv``: Zeek's ASCII log, the ``#separator``/``#fields``/``#types`` header and tab
  separated rows; the name is ``query`` (``dns.log``), else ``server_name`` (``ssl.log``) or
  ``host`` (``http.log``). Values are typed as in Zeek's own JSON logs: the unset field is
  ``null``, numbers are numbers, ``T``/``F`` are booleans, sets and vectors are lists.
- ``zeek-json``: Zeek's JSON logs, one object a line, the same names.
- ``suricata``: Suricata's ``eve.json``; DNS events (``dns.rrname`` or, in EVE DNS version 3,
  ``dns.queries[].rrname``), TLS (``tls.sni``) and HTTP (``http.hostname``); other events pass
  through without a name.
- ``json``: JSON lines, the name at ``--field`` (a dotted path, or a key that holds dots).
- ``csv``: comma-separated with a header row, the name in ``--column``.
- ``names``: one host name a line.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable
from typing import Any

import orjson

from domain_stats.enrich.records import ANSWER_KEY, BadLine, Record, event_record
from domain_stats.enrich.zeek_tsv import ZEEK_NAME_FIELDS, ZeekTsvReader
from domain_stats.errors import UserError

__all__ = ["Format", "LineReader", "detect_format", "line_reader"]


class Format(enum.Enum):
    ZEEK_TSV = "zeek-tsv"
    ZEEK_JSON = "zeek-json"
    SURICATA = "suricata"
    JSON = "json"
    CSV = "csv"
    NAMES = "names"


LineReader = Callable[[str], Record | None]


def detect_format(first_line: str, *, field: str | None = None, column: str | None = None) -> Format:
    """The format of a log from its first non-empty line (and the options that name a field)."""
    if column is not None:
        return Format.CSV
    if field is not None:
        return Format.JSON
    line = first_line.strip()
    if line.startswith("#"):
        return Format.ZEEK_TSV
    if line.startswith("{"):
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise UserError("the first line looks like JSON but is not; say --format") from None
        if isinstance(event, dict):
            if "event_type" in event:
                return Format.SURICATA
            if any(name in event for name in ZEEK_NAME_FIELDS):
                return Format.ZEEK_JSON
        raise UserError("JSON lines without a known name field: say which with --field PATH")
    return Format.NAMES


def line_reader(kind: Format, *, field: str | None = None, column: str | None = None) -> LineReader:
    """A reader for one log; it keeps the state a header sets (Zeek TSV, CSV)."""
    if kind is Format.ZEEK_TSV:
        return ZeekTsvReader()
    if kind is Format.ZEEK_JSON:
        return _json_reader(_zeek_name)
    if kind is Format.SURICATA:
        return _json_reader(_suricata_name)
    if kind is Format.JSON:
        if not field:
            raise UserError("--format json needs --field PATH: where each line keeps the name")
        return _json_reader(_path_name(field))
    if kind is Format.CSV:
        if not column:
            raise UserError("--format csv needs --column NAME: the header of the column with the names")
        return CsvReader(column)
    return _name_record


def _name_record(line: str) -> Record | None:
    name = line.strip()
    if not name:
        return None
    if any(c.isspace() for c in name):
        raise BadLine("not a host name (it has spaces)")
    return event_record({"name": name}, name)


def _json_reader(name_of: Callable[[dict[str, Any]], str | None]) -> LineReader:
    def read(line: str) -> Record | None:
        text = line.strip().encode()
        if not text:
            return None
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadLine("not valid JSON") from None
        if not isinstance(event, dict):
            raise BadLine("not a JSON object")
        name = name_of(event)
        if not isinstance(name, str) or not name:
            return Record(text, None)
        if ANSWER_KEY in event:
            return event_record(event, name)
        return Record(text, name)

    return read


def _zeek_name(event: dict[str, Any]) -> str | None:
    for key in ZEEK_NAME_FIELDS:
        value = event.get(key)
        if value:
            return value  # type: ignore[no-any-return]
    return None


def _suricata_name(event: dict[str, Any]) -> str | None:
    kind = event.get("event_type")
    section = event.get(kind) if isinstance(kind, str) else None
    if not isinstance(section, dict):
        return None
    if kind == "dns":
        if "rrname" in section:
            return section["rrname"]  # type: ignore[no-any-return]
        queries = section.get("queries")
        if isinstance(queries, list) and queries and isinstance(queries[0], dict):
            return queries[0].get("rrname")
        return None
    if kind == "tls":
        return section.get("sni")
    if kind == "http":
        return section.get("hostname")
    return None


def _path_name(path: str) -> Callable[[dict[str, Any]], str | None]:
    parts = path.split(".")

    def name_of(event: dict[str, Any]) -> str | None:
        if path in event:  # Zeek JSON keeps dotted names flat: "id.orig_h"
            return event[path]  # type: ignore[no-any-return]
        value: Any = event
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value  # type: ignore[no-any-return]

    return name_of


class CsvReader:
    """Comma-separated values; the first line is the header, the name is in ``column``."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.header: list[str] | None = None
        self._index = 0

    def __call__(self, line: str) -> Record | None:
        if not line.strip():
            return None
        try:
            values = next(csv.reader((line,)))
        except csv.Error as err:
            raise BadLine(f"not CSV: {err}") from None
        if self.header is None:
            if self.column not in values:
                raise UserError(f"the CSV header has no column {self.column!r} (it has {', '.join(values)})")
            self.header, self._index = values, values.index(self.column)
            return None
        if len(values) != len(self.header):
            raise BadLine(f"{len(values)} columns where the header has {len(self.header)}")
        return event_record(dict(zip(self.header, values, strict=True)), values[self._index] or None)
