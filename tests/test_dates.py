"""The one date format: always four-digit years, and what is written reads back the same."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from domain_stats.dates import format_date, parse_date_value, parse_plain_date

YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC).timestamp()


def test_a_registration_in_year_one_has_a_four_digit_year() -> None:
    assert format_date(YEAR_ONE) == "0001-01-01 00:00:00"
    assert format_date(YEAR_ONE + 86400 * 400, offset_hours=-1) == "0002-02-04 23:00:00"


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_dates_are_written_with_four_digit_years_and_read_back(moment: datetime) -> None:
    epoch = moment.replace(tzinfo=UTC, microsecond=0).timestamp()
    text = format_date(epoch)
    assert len(text) == 19 and text[4] == "-"
    assert text == f"{moment.year:04d}" + moment.strftime("-%m-%d %H:%M:%S")
    assert parse_plain_date(text) == epoch
    assert parse_date_value(text) == epoch
