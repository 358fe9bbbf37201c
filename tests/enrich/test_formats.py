"""Reading log lines: Zeek TSV and JSON, Suricata eve.json, JSON lines, CSV and names, from real-format samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain_stats.enrich.formats import Format, detect_format, line_reader
from domain_stats.enrich.records import BadLine, Record
from domain_stats.errors import UserError

SAMPLES = Path(__file__).parent / "samples"


def read_all(path: Path, kind: Format | None = None, **options: str) -> list[Record]:
    lines = path.read_text().splitlines()
    reader = line_reader(kind or detect_format(lines[0], **options), **options)
    records = [reader(line) for line in lines]
    return [r for r in records if r is not None]


def event(record: Record | None) -> dict[str, Any]:
    assert record is not None
    value = orjson.loads(record.text)
    assert isinstance(value, dict)
    return value


def test_zeek_tsv_rows_are_typed_as_zeek_json_types_them() -> None:
    records = read_all(SAMPLES / "dns.log")
    assert [r.name for r in records] == ["www.example.com", "fresh-news.net", "example.com", None, "cdn.fresh-news.net"]
    first = event(records[0])
    assert first["ts"] == 1796032800.000123 and first["id.orig_p"] == 53555 and first["rtt"] == 0.012417
    assert first["RD"] is True and first["AA"] is False
    assert first["answers"] == ["93.184.216.34", "example.com"]
    assert first["TTLs"] == [86400.0, 300.0]
    unset = event(records[1])
    assert unset["rtt"] is None and unset["rcode"] is None and unset["answers"] is None


def test_zeek_tsv_escapes_and_empty_sets() -> None:
    records = read_all(SAMPLES / "dns.log")
    assert event(records[2])["answers"] == ["v=spf1\t-all,x"]  # \x09 and the escaped set separator
    assert event(records[3])["answers"] == [] and event(records[3])["query"] is None


def test_zeek_tsv_separator_from_the_header_and_a_second_header() -> None:
    reader = line_reader(Format.ZEEK_TSV)
    assert reader("#separator \\x7c") is None
    assert reader("#fields|ts|query") is None
    assert reader("#types|time|string") is None
    record = reader("1.5|a\\x7cb.example")
    assert event(record) == {"ts": 1.5, "query": "a|b.example"} and record and record.name == "a|b.example"
    # A rotated log starts with its own header: it replaces the first.
    assert reader("#separator \\x09") is None
    assert reader("#fields\tquery\tts") is None
    record = reader("example.org\t2")
    assert event(record) == {"query": "example.org", "ts": "2"} and record and record.name == "example.org"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1796032800.0\tonly-two-fields", "fields where #fields names"),
        ("not-a-time\t" + "\t".join(["x"] * 23), "does not match its #types"),
    ],
)
def test_zeek_tsv_bad_rows(line: str, reason: str) -> None:
    reader = line_reader(Format.ZEEK_TSV)
    for header in (SAMPLES / "dns.log").read_text().splitlines()[:8]:
        reader(header)
    with pytest.raises(BadLine, match=reason):
        reader(line)


def test_a_zeek_row_before_its_header_is_bad() -> None:
    with pytest.raises(BadLine, match="before the #fields"):
        line_reader(Format.ZEEK_TSV)("1.0\texample.com")


def test_zeek_json() -> None:
    records = read_all(SAMPLES / "dns.json")
    assert [r.name for r in records] == ["www.example.com", "fresh-news.net", None]
    assert event(records[0])["id.orig_h"] == "10.0.0.5"


def test_suricata_dns_versions_tls_and_other_events() -> None:
    records = read_all(SAMPLES / "eve.json")
    assert [r.name for r in records] == [
        "www.example.com",  # EVE DNS v2 query
        "www.example.com",  # v2 answer
        "fresh-news.net",  # v3 request: queries[].rrname
        None,  # a flow event
        "cdn.fresh-news.net",  # TLS SNI
    ]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [("dns.log", Format.ZEEK_TSV), ("dns.json", Format.ZEEK_JSON), ("eve.json", Format.SURICATA)],
)
def test_formats_are_told_from_the_first_line(sample: str, expected: Format) -> None:
    assert detect_format((SAMPLES / sample).read_text().splitlines()[0]) is expected


def test_detection_of_names_and_of_json_that_needs_a_field() -> None:
    assert detect_format("example.com") is Format.NAMES
    assert detect_format('{"a": 1}', field="a") is Format.JSON
    assert detect_format("a,b", column="b") is Format.CSV
    with pytest.raises(UserError, match="--field"):
        detect_format('{"fqdn": "example.com"}')


def test_json_lines_with_a_field_path() -> None:
    reader = line_reader(Format.JSON, field="request.host")
    line = '{"request": {"host": "example.com"}}'
    assert reader(line + "\n") == Record(line.encode(), "example.com")  # written back as it came
    assert reader('{"request": "flat"}') == Record(b'{"request": "flat"}', None)
    assert line_reader(Format.JSON, field="id.host")('{"id.host": "a.example"}').name == "a.example"  # type: ignore[union-attr]
    with pytest.raises(BadLine, match="not valid JSON"):
        reader("{broken")
    with pytest.raises(BadLine, match="not a JSON object"):
        reader("[1, 2]")


def test_csv_with_a_column() -> None:
    reader = line_reader(Format.CSV, column="host")
    assert reader("time,host,client") is None
    row = {"time": "1", "host": "example.com", "client": "10.0.0.1"}
    assert reader('1,"example.com",10.0.0.1') == Record(orjson.dumps(row), "example.com")
    with pytest.raises(BadLine, match="columns where the header has 3"):
        reader("1,example.com")
    with pytest.raises(UserError, match="no column 'name'"):
        line_reader(Format.CSV, column="name")("time,host")


def test_plain_names() -> None:
    reader = line_reader(Format.NAMES)
    assert reader("  example.com \n") == Record(b'{"name":"example.com"}', "example.com")
    assert reader("") is None
    with pytest.raises(BadLine, match="spaces"):
        reader("two words")


@given(st.sampled_from(list(Format)), st.lists(st.text(max_size=80), max_size=12))
def test_any_text_is_a_record_a_header_or_a_bad_line(kind: Format, lines: list[str]) -> None:
    """No line, however strange, stops a run: each reader returns or raises BadLine (or, for a
    CSV header without the column, the one UserError that explains the command line)."""
    reader = line_reader(kind, field="dns.rrname", column="host")
    for line in ["host", *lines] if kind is Format.CSV else lines:
        try:
            record = reader(line)
        except BadLine:
            continue
        if record is not None:
            assert isinstance(orjson.loads(record.text), dict)
            assert record.name is None or (isinstance(record.name, str) and orjson.loads(record.text))
