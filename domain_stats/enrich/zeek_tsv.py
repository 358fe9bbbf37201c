"""Zeek's ASCII (TSV) logs -> each row as the JSON object Zeek's own JSON writer would write.

The header lines set the separator, the fields and their types; a new header (Zeek writes one
at the top of each rotated file) replaces the old one, so a followed log reads on across
rotations. Values are typed as in Zeek's JSON logs: the unset field is ``null``, numbers are
numbers, ``T``/``F`` are booleans, sets and vectors are lists.

Rows are read one of two ways, with the same result: a block's rows column-wise
(:mod:`.zeek_columns`, the usual case), or a row's values typed one by one into a dict for
``orjson.dumps`` (a single line, and the rows the column-wise reading leaves: escapes, numbers
Zeek does not usually write).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from domain_stats.enrich.records import BadLine, Record, event_record
from domain_stats.enrich.zeek_columns import ColumnReader, Header, Result, element_kind

__all__ = ["ZEEK_NAME_FIELDS", "ZeekTsvReader"]

#: Where Zeek logs keep the host name, by log: dns.log, ssl.log, http.log.
ZEEK_NAME_FIELDS = ("query", "server_name", "host")

_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\\\")
_NUMBER_TYPES: dict[str, Callable[[str], int | float]] = {
    "count": int,
    "int": int,
    "port": int,
    "time": float,
    "interval": float,
    "double": float,
}
_BOOLS = {"T": True, "F": False}


def _unescape(value: str) -> str:
    """Zeek writes separators and unprintable bytes as ``\\xHH``, a backslash as ``\\\\``."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else "\\", value)


class ZeekTsvReader:
    """Zeek's ASCII logs; the header lines set its state. A line at a time (``reader(line)``,
    each value typed), or a block at a time (:meth:`read_many`, column-wise where it can)."""

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.fields: list[str] = []
        self._kinds: list[str] = []
        self._name_index: int | None = None
        self._columns: ColumnReader | None = None
        # Column numbers by how their values are typed (from #types; strings until it comes).
        self._numbers: list[tuple[int, Callable[[str], Any]]] = []
        self._bools: list[int] = []
        self._collections: list[tuple[int, Callable[[str], Any]]] = []
        self._strings: list[int] = []

    def __call__(self, line: str) -> Record | None:
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            self._header(line)
            return None
        if not line:
            return None
        if not self.fields:
            raise BadLine("a row before the #fields header")
        values = line.split(self.separator)
        if len(values) != len(self.fields):
            raise BadLine(f"{len(values)} fields where #fields names {len(self.fields)}")
        name = values[self._name_index] if self._name_index is not None else None
        if name is not None and ("\\" in name or name in (self.unset, self.empty)):
            name = _unescape(name) if name not in (self.unset, self.empty) else None
        return event_record(self._typed(values), name or None)

    def read_many(self, lines: list[str]) -> tuple[list[Result], list[tuple[int, str]]]:
        """The records of ``lines`` in order, and the bad lines (their index in ``lines``, why)."""
        records: list[Result] = []
        bad: list[tuple[int, str]] = []
        marks = [i for i, line in enumerate(lines) if line[:1] == "#"] if "\n#" in "\n" + "\n".join(lines) else []
        start = 0
        for end in [*marks, len(lines)]:
            if end > start:
                self._read_run(lines, start, end, records, bad)
            if end < len(lines):
                self._header(lines[end].rstrip("\r\n"))
            start = end + 1
        return records, bad

    def _read_run(
        self, lines: list[str], start: int, end: int, records: list[Result], bad: list[tuple[int, str]]
    ) -> None:
        """Rows ``start:end`` of ``lines``, all under the header as it stands."""
        rows = lines[start:end]
        done = self._columns.read(rows) if self._columns is not None else [None] * len(rows)
        if None not in done:
            records += done  # type: ignore[arg-type]
            return
        for i, result in enumerate(done, start):
            if result is None:
                try:
                    result = self(lines[i])
                except BadLine as err:
                    bad.append((i, str(err)))
                    continue
            if result is not None:
                records.append(result)

    def _typed(self, values: list[Any]) -> dict[str, Any]:
        """The row typed value by value."""
        unset, empty = self.unset, self.empty
        try:
            for i in self._strings:
                value = values[i]
                if value == unset:
                    values[i] = None
                elif value == empty:
                    values[i] = ""
                elif "\\" in value:
                    values[i] = _unescape(value)
            for i, number in self._numbers:
                value = values[i]
                values[i] = None if value == unset else number(value)
            for i in self._bools:
                value = values[i]
                values[i] = None if value == unset else _BOOLS[value]
            for i, collection in self._collections:
                value = values[i]
                values[i] = None if value == unset else collection(value)
        except (ValueError, KeyError) as err:
            raise BadLine(f"a value does not match its #types: {err}") from None
        return dict(zip(self.fields, values, strict=True))

    def _header(self, line: str) -> None:
        if line.startswith("#separator "):
            self.separator = _unescape(line[len("#separator ") :])
            self._prepare()
            return
        key, _, rest = line.partition(self.separator)
        if key == "#set_separator":
            self.set_separator = _unescape(rest)
        elif key == "#empty_field":
            self.empty = rest
        elif key == "#unset_field":
            self.unset = rest
        elif key == "#fields":
            self.fields = rest.split(self.separator)
            self._kinds = ["string"] * len(self.fields)  # until #types comes
        elif key == "#types":
            self._kinds = rest.split(self.separator)
        else:
            return
        self._prepare()

    def _prepare(self) -> None:
        """How rows are read under the header as it now stands."""
        self._numbers, self._bools, self._collections, self._strings = [], [], [], []
        kinds = self._kinds = (self._kinds + ["string"] * len(self.fields))[: len(self.fields)]
        for i, kind in enumerate(kinds):
            element = element_kind(kind)
            if kind in _NUMBER_TYPES:
                self._numbers.append((i, _NUMBER_TYPES[kind]))
            elif kind == "bool":
                self._bools.append(i)
            elif element is not None:
                self._collections.append((i, self._collection(element)))
            else:
                self._strings.append(i)
        found = (self.fields.index(f) for f in ZEEK_NAME_FIELDS if f in self.fields)
        self._name_index = next((i for i in found if i in self._strings), None)
        header = Header(
            self.fields, kinds, self.separator, self.set_separator, self.unset, self.empty, self._name_index
        )
        self._columns = ColumnReader.build(header)

    def _collection(self, kind: str) -> Callable[[str], list[Any]]:
        empty, separator = self.empty, self.set_separator
        if kind in _NUMBER_TYPES:
            element: Callable[[str], Any] = _NUMBER_TYPES[kind]
        elif kind == "bool":
            element = _BOOLS.__getitem__
        else:
            element = _unescape

        def collection(value: str) -> list[Any]:
            return [] if value == empty else [element(item) for item in value.split(separator)]

        return collection
