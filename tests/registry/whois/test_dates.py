"""WHOIS date forms: any date written in any form a registry uses reads back as that moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain_stats.registry.whois.dates import DayOrder, parse_whois_date

MOMENTS = st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]  # fmt: skip

TIMED_FORMS = [
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.123Z"),
    lambda d: d.strftime("%Y-%m-%d-T%H:%M:%SZ"),
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S"),
    lambda d: d.strftime("%Y.%m.%d %H:%M:%S"),
    lambda d: d.strftime("%d.%m.%Y %H:%M:%S"),
    lambda d: f"{d.day}.{d.month}.{d.year} {d:%H:%M:%S}",
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S.55172"),
]
DATE_FORMS = [
    lambda d: d.strftime("%Y-%m-%d"),
    lambda d: d.strftime("%Y/%m/%d"),
    lambda d: d.strftime("%Y. %m. %d."),
    lambda d: d.strftime("%Y%m%d") + " #24302",
    lambda d: d.strftime("%d.%m.%Y"),
    lambda d: f"{d.day:02d}-{MONTHS[d.month - 1]}-{d.year}",
    lambda d: f"{d.day} {LONG_MONTHS[d.month - 1]} {d.year}",
    lambda d: d.strftime("%Y-%m-%d (YYYY-MM-DD)"),
]


@given(MOMENTS, st.sampled_from(TIMED_FORMS))
def test_timed_forms_read_back(moment: datetime, form: object) -> None:
    text = form(moment)  # type: ignore[operator]
    parsed = parse_whois_date(text)
    assert parsed is not None, text
    assert parsed.epoch == moment.replace(tzinfo=UTC).timestamp()


@given(MOMENTS, st.sampled_from(DATE_FORMS))
def test_date_forms_read_back_as_midnight(moment: datetime, form: object) -> None:
    text = form(moment)  # type: ignore[operator]
    parsed = parse_whois_date(text)
    assert parsed is not None, text
    assert parsed.epoch == datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()


@given(MOMENTS, st.integers(-12, 14), st.sampled_from([0, 30]), st.sampled_from(["{h}{m}", "{h}:{m}", " ({u}{h}:{m})"]))
def test_a_stated_zone_is_converted_to_utc(moment: datetime, hours: int, minutes: int, shape: str) -> None:
    sign = "-" if hours < 0 else "+"
    offset = timedelta(hours=abs(hours), minutes=minutes)
    zone = shape.format(h=f"{sign}{abs(hours):02d}", m=f"{minutes:02d}", u="UTC")
    parsed = parse_whois_date(moment.strftime("%Y-%m-%d %H:%M:%S") + zone)
    assert parsed is not None
    local = moment.replace(tzinfo=UTC).timestamp()
    assert parsed.epoch == local - (offset.total_seconds() if sign == "+" else -offset.total_seconds())


@given(MOMENTS)
def test_registry_rules_decide_ambiguous_day_month(moment: datetime) -> None:
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()
    day_first = parse_whois_date(f"{moment:%d-%m-%Y}", DayOrder.DAY_FIRST)
    month_first = parse_whois_date(f"{moment:%m/%d/%Y}", DayOrder.MONTH_FIRST)
    assert day_first is not None and day_first.epoch == midnight
    assert month_first is not None and month_first.epoch == midnight
    without_rule = parse_whois_date(f"{moment:%m/%d/%Y}")
    if moment.day <= 12 and moment.day != moment.month:
        assert without_rule is None  # ambiguous: never guessed
    else:
        assert without_rule is not None and without_rule.epoch == midnight


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30th April 2003 at 00:00:00.000", "2003-04-30 00:00:00"),
        ("1999-06-07 13:01:43 (GMT+0:00)", "1999-06-07 13:01:43"),
        ("2000-08-29 10:22:50 (UTC+8)", "2000-08-29 02:22:50"),
        ("2011-07-21 18:03:50+03", "2011-07-21 15:03:50"),
        ("2011-01-23 00:00:07 +02:00", "2011-01-22 22:00:07"),
    ],
)
def test_registry_forms(text: str, expected: str) -> None:
    parsed = parse_whois_date(text)
    assert parsed is not None
    assert parsed.epoch == datetime.strptime(expected, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def test_before_is_a_bound() -> None:
    parsed = parse_whois_date("before 1 January 1996")
    assert parsed is not None and parsed.before
    assert parsed.epoch == datetime(1996, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "text", ["", "never", "2001-02-30", "31.02.2001", "2001-13-01", "9999-12-31T23:59:59-01:00", "Smarch 3 2001"]
)
def test_not_a_date(text: str) -> None:
    assert parse_whois_date(text) is None
