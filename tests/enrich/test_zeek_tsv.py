"""Zeek TSV rows read column-wise, a block at a time, give what typing each value of each line gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain_stats.enrich.records import BadLine
from domain_stats.enrich.zeek_columns import ColumnReader, Header
from domain_stats.enrich.zeek_tsv import ZeekTsvReader

FIELDS = ["ts", "uid", "id.resp_p", "trans_id", "rtt", "query", "AA", "answers", "TTLs", "note%s", "domain"]
TYPES = ["time", "string", "port", "count", "interval", "string", "bool", "vector[string]", "vector[interval]",
         "enum", "addr"]  # fmt: skip
HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#fields\t" + "\t".join(FIELDS),
    "#types\t" + "\t".join(TYPES),
]
# Values as Zeek writes them and values it does not: markers, numbers not as JSON writes them,
# escapes, characters JSON must escape, template syntax.
VALUES = st.one_of(
    st.sampled_from(
        [
            "-",
            "(empty)",
            "0",
            "-0",
            "7",
            "007",
            "-5",
            "1.5",
            "1.50",
            "1796032800.000123",
            "1e5",
            "inf",
            "nan",
            "99999999999999999999999",
            "T",
            "F",
            "t",
            "a,b",
            "a,,b",
            ",",
            "x\\x09y",
            "a\\x2cb",
            "\\\\",
            '"q"',
            "%s",
            "%%",
            "%(x)s",
            "\u00e9t\u00e9",
            "\x7f",
            "\x01",
            "\r",
            "",
            " ",
            "example.com",
            "1.5,2.25",
            "1,x",
        ]
    ),
    st.text(max_size=12),
)
WRITTEN = ["1796032800.000123", "C1", "53", "1", "0.012417", "example.com", "T", "a,b", "1.5,2.25", "x", "10.0.0.1"]


def _row(unset: list[bool], changed: dict[int, str]) -> str:
    values = ["-" if missing else value for value, missing in zip(WRITTEN, unset, strict=True)]
    for i, value in changed.items():
        values[i] = value
    return "\t".join(values)


# Rows as Zeek writes them (some columns unset) with up to three values from VALUES, so that
# most rows are read column-wise and some are left to be typed.
ROW = st.builds(
    _row,
    st.lists(st.booleans(), min_size=len(FIELDS), max_size=len(FIELDS)),
    st.dictionaries(st.integers(0, len(FIELDS) - 1), VALUES, max_size=3),
)
ROWS = st.lists(st.one_of(ROW, st.lists(VALUES, min_size=len(FIELDS), max_size=len(FIELDS)).map("\t".join)), max_size=8)


def line_by_line(lines: list[str]) -> list[tuple[str | None, Any] | tuple[int, str]]:
    """Each event (name, object) or bad line (index, reason), a line at a time."""
    reader = ZeekTsvReader()
    out: list[tuple[str | None, Any] | tuple[int, str]] = []
    for i, line in enumerate(lines):
        try:
            record = reader(line)
        except BadLine as err:
            out.append((i, str(err)))
            continue
        if record is not None:
            out.append((record.name, orjson.loads(record.text)))
    return out


def block_at_once(lines: list[str]) -> list[tuple[str | None, Any] | tuple[int, str]]:
    records, bad = ZeekTsvReader().read_many(lines)
    events: list[tuple[str | None, Any] | tuple[int, str]] = [(name, orjson.loads(text)) for text, name in records]
    return [*events, *bad]


def in_order(results: list[tuple[str | None, Any] | tuple[int, str]]) -> list[Any]:
    return sorted(results, key=repr)


def events_of(results: list[tuple[str | None, Any] | tuple[int, str]]) -> list[Any]:
    return [result for result in results if not isinstance(result[0], int)]


@given(ROWS, st.booleans())
@example(["\t".join(WRITTEN), "\t".join(["-"] * len(FIELDS))], False)
@example(
    ["\t".join(["(empty)", "(empty)", "0", "0", "(empty)", "(empty)", "F", "(empty)", "(empty)", "-", "x"])], False
)
@example(["\t".join(WRITTEN), "\t".join(WRITTEN[:3])], True)
@example([_row([False] * len(FIELDS), {5: "a\\x09b.example"}), _row([False] * len(FIELDS), {9: 'say "hi"'})], False)
def test_a_block_reads_as_its_lines_one_by_one(rows: list[str], rotated: bool) -> None:
    # (A second header in the middle, with other fields: the rows after it are read under it.)
    second = ["#separator \\x09", "#fields\tquery\tts", "#types\tstring\ttime", "a.example\t2.5", "b\t7"]
    lines = [*HEADER, *rows, *(second if rotated else []), *rows[:2]]
    one_by_one, at_once = line_by_line(lines), block_at_once(lines)
    assert in_order(at_once) == in_order(one_by_one)  # the same events and bad lines
    assert events_of(at_once) == events_of(one_by_one)  # the events in the same order


def test_a_separator_changed_after_the_fields_holds_for_the_rows_after_it() -> None:
    lines = [*HEADER, "\t".join(WRITTEN), "#separator \\x7c", "|".join(WRITTEN), "\t".join(WRITTEN)]
    assert block_at_once(lines) == line_by_line(lines)
    assert [name for name, _ in block_at_once(lines)] == ["example.com", "example.com", len(lines) - 1]


def test_rows_as_zeek_writes_them_are_read_column_wise() -> None:
    header = Header(FIELDS, TYPES, name_index=5)
    reader = ColumnReader.build(header)
    assert reader is not None
    rows = ["\t".join(WRITTEN), "\t".join(["1.0", "C2", "53", "-", "-", "-", "-", "-", "(empty)", "-", "::1"])]
    first, second = reader.read(rows)
    assert first is not None and second is not None
    assert first[1] == "example.com" and orjson.loads(first[0]) == {
        "ts": 1796032800.000123, "uid": "C1", "id.resp_p": 53, "trans_id": 1, "rtt": 0.012417,
        "query": "example.com", "AA": True, "answers": ["a", "b"], "TTLs": [1.5, 2.25], "note%s": "x",
        "domain": "10.0.0.1",
    }  # fmt: skip
    assert second[1] is None and orjson.loads(second[0]) == {
        "ts": 1.0, "uid": "C2", "id.resp_p": 53, "trans_id": None, "rtt": None, "query": None, "AA": None,
        "answers": None, "TTLs": [], "note%s": None, "domain": "::1",
    }  # fmt: skip


def test_rows_left_for_typing_one_by_one() -> None:
    reader = ColumnReader.build(Header(FIELDS, TYPES, name_index=5))
    assert reader is not None
    escaped = list(WRITTEN)
    escaped[5] = "a\\x09b.example"
    odd_number = list(WRITTEN)
    odd_number[3] = "007"
    results = reader.read(["\t".join(WRITTEN), "\t".join(escaped), "\t".join(odd_number), "too\tfew"])
    assert [result is None for result in results] == [False, True, True, True]


@pytest.mark.parametrize(
    ("fields", "types", "separator"),
    [
        (["query", "flags"], ["string", "set[bool]"], "\t"),  # a collection of booleans
        (["query", "query"], ["string", "string"], "\t"),  # a field named twice
        (["query", "domain_stats"], ["string", "string"], "\t"),  # the answer's own key
        (["query"], ["string"], "||"),  # a separator of two characters
    ],
)
def test_headers_read_only_line_by_line(fields: list[str], types: list[str], separator: str) -> None:
    assert ColumnReader.build(Header(fields, types, separator)) is None


def test_a_number_too_large_for_json_is_a_bad_line() -> None:
    values = ["1.0", "C1", "53", "1" * 30, "-", "a.example", "T", "-", "-", "-", "-"]
    records, bad = ZeekTsvReader().read_many([*HEADER, "\t".join(values)])
    assert records == [] and bad == [(len(HEADER), "cannot be written as JSON: Integer exceeds 64-bit range")]
