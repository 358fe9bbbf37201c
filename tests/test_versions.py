"""Versions are read one way each: software versions part by part, database versions as MAJOR.MINOR."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain_stats.versions import VersionError, parse_database_version, parse_software_version


def test_versions_compare_as_integers_not_strings() -> None:
    assert parse_database_version("1.10") > parse_database_version("1.9")
    assert parse_software_version("0.10.2") > parse_software_version("0.9.9")


@pytest.mark.parametrize("text", ["", "1", "1.", ".1", "1.2.3", "1.x", " 1.2", "1.2 ", "1.9999999999", None, 1.2])
def test_a_database_version_is_major_dot_minor(text: object) -> None:
    with pytest.raises(VersionError):
        parse_database_version(text)


@pytest.mark.parametrize("text", ["", "new", "1..2", "1.-2", "1.2b", "٣.1", "1" * 40, None, 3])
def test_a_software_version_is_dotted_integers(text: object) -> None:
    with pytest.raises(VersionError):
        parse_software_version(text)


@given(st.text(alphabet="0123456789.x -٣", max_size=40))
def test_any_text_is_a_version_or_a_version_error(text: str) -> None:
    """Nothing else escapes, and what is accepted is ASCII digits and dots, part for part."""
    for parse in (parse_software_version, parse_database_version):
        try:
            parsed = parse(text)
        except VersionError:
            continue
        assert [int(part) for part in text.split(".")] == list(parsed)
        assert parse is not parse_database_version or len(parsed) == 2
