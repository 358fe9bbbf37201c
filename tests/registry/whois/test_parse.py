"""Reading real WHOIS answers: every creation date, every registry without one, every not-found text."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain_stats import alerts
from domain_stats.registry.whois.errors import WhoisError
from domain_stats.registry.whois.parse import decode_answer, parse_whois_answer
from tests.registry.whois.corpus import CORPUS_PARAMS, SAMPLE_PARAMS, WhoisEntry, utc

#: The one "before ..." answer: SWITCH's "First registration date: before 1 January 1996".
BOUND_ANSWERS = {"switch.ch.txt": "1996-01-01 00:00:00"}


def check(entry: WhoisEntry) -> None:
    if entry.created == "NOTFOUND":
        with pytest.raises(WhoisError) as caught:
            parse_whois_answer(entry.raw, entry.domain, entry.tld)
        assert caught.value.alert == alerts.WHOIS_NOT_FOUND
        return
    bound = BOUND_ANSWERS.get(entry.path.name)
    if entry.created == "NONE" and bound is None:
        with pytest.raises(WhoisError) as caught:
            parse_whois_answer(entry.raw, entry.domain, entry.tld)
        assert caught.value.alert == alerts.WHOIS_NO_DATE, caught.value.detail
        return
    dates = parse_whois_answer(entry.raw, entry.domain, entry.tld)
    assert dates.created == utc(bound or entry.created)
    assert dates.expires == (None if entry.expires == "NONE" else utc(entry.expires))


@pytest.mark.parametrize("entry", SAMPLE_PARAMS)
def test_kept_samples(entry: WhoisEntry) -> None:
    check(entry)


@pytest.mark.parametrize("entry", CORPUS_PARAMS)
def test_shared_corpus(entry: WhoisEntry) -> None:
    check(entry)


def test_a_before_bound_is_answered_as_that_date() -> None:
    answer = b"Domain name:\nexample.ch\n\nFirst registration date\tbefore 1 January 1996\n"
    assert parse_whois_answer(answer, "example.ch", "ch").created == utc("1996-01-01 00:00:00")


def test_an_empty_creation_label_does_not_take_the_next_lines_date() -> None:
    answer = b"Domain Name: EXAMPLE.COM\r\nCreation Date:\r\nRegistry Expiry Date: 2030-01-01T00:00:00Z\r\n"
    with pytest.raises(WhoisError) as caught:
        parse_whois_answer(answer, "example.com", "com")
    assert caught.value.alert == alerts.WHOIS_NO_DATE


@pytest.mark.parametrize(
    ("answer", "alert"),
    [
        (b"", alerts.WHOIS_BAD_RESPONSE),
        (b"\x00\xff\xfe garbage", alerts.WHOIS_BAD_RESPONSE),
        (b"Domain Name: OTHER.COM\r\nRegistrar: X\r\n", alerts.WHOIS_BAD_RESPONSE),  # about another domain
        (b"Domain Name: EXAMPLE.COM\r\nCreation Date: sometime in 2001-13-45\r\n", alerts.WHOIS_BAD_RESPONSE),
        (b"Domain Name: EXAMPLE.COM\r\nCreation Date: 03-04-2001\r\n", alerts.WHOIS_BAD_RESPONSE),  # ambiguous
        (b"Domain Name: EXAMPLE.COM\r\nStatus: connect\r\n", alerts.WHOIS_NO_DATE),
        (b"WHOIS LIMIT EXCEEDED - SEE WWW.PIR.ORG/WHOIS FOR DETAILS\r\n", alerts.WHOIS_RATE_LIMITED),
        (b"Your connection limit exceeded. Please slow down and try again later.\n", alerts.WHOIS_RATE_LIMITED),
        (b"55000000002 Connection refused; access control limit reached.\n", alerts.WHOIS_RATE_LIMITED),
        (b"Domain Name: EXAMPLE.COM\r\nCreation Date: 9999-12-31T23:59:59-01:00\r\n", alerts.WHOIS_BAD_RESPONSE),
    ],
)
def test_answers_without_a_usable_date(answer: bytes, alert: str) -> None:
    with pytest.raises(WhoisError) as caught:
        parse_whois_answer(answer, "example.com", "com")
    assert caught.value.alert == alert


@pytest.mark.parametrize(
    ("encoding", "created"),
    [("iso-2022-jp", "[登録年月日]                    2001/03/22"), ("latin-1", "created: 2001-03-22 (créé)")],
)
def test_answers_that_are_not_utf8(encoding: str, created: str) -> None:
    answer = f"Domain: example.jp (日本)\n{created}\n".encode(encoding, "replace")
    assert parse_whois_answer(answer, "example.jp", "jp").created == utc("2001-03-22 00:00:00")


def test_a_japanese_answer_decodes_from_iso_2022_jp() -> None:
    text = "[ドメイン名]                    EXAMPLE.JP\n"
    assert decode_answer(text.encode("iso-2022-jp")) == text


@given(st.binary(max_size=2000))
def test_any_bytes_give_dates_or_a_whois_error(raw: bytes) -> None:
    try:
        dates = parse_whois_answer(raw, "example.com", "com")
    except WhoisError as err:
        assert err.alert.startswith("WHOIS-")
    else:
        assert math.isfinite(dates.created)


@given(
    st.lists(
        st.sampled_from(
            [
                "Creation Date:",
                "created:",
                "[Created on]",
                "Registered on",
                " ",
                "\t",
                ":",
                "-",
                "2001",
                "13",
                "31",
                "-0700",
                "(UTC+8)",
                "T",
                "Z",
                "\r\n",
                "Jan",
                "before ",
                ".",
            ]
        ),
        max_size=60,
    )
)
def test_label_and_date_soup_never_crashes(parts: list[str]) -> None:
    with contextlib.suppress(WhoisError):
        parse_whois_answer("".join(parts).encode(), "example.com", "com")
