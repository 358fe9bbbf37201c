from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain_stats.registry.rdap.errors import RdapBadResponse, RdapError, RdapNotFound
from domain_stats.registry.rdap.parse import parse_domain_response, parse_rdap_date
from tests.registry.rdap.corpus import DATED, UNDATED, CorpusEntry
from tests.support.rdap_server import rdap_domain
from tests.support.shared import needs_shared


def _epoch(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


@needs_shared
@pytest.mark.parametrize("entry", DATED, ids=lambda e: e.file)
def test_corpus_dates_match_the_manifest(entry: CorpusEntry) -> None:
    dates = parse_domain_response(entry.body, entry.domain or "")
    assert dates.created == pytest.approx(_epoch(entry.registration), abs=1e-3)
    assert (
        dates.expires == pytest.approx(_epoch(entry.expiration), abs=1e-3)
        if entry.expiration
        else dates.expires is None
    )


@needs_shared
@pytest.mark.parametrize("entry", UNDATED, ids=lambda e: e.file)
def test_corpus_errors_and_searches_are_rdap_errors(entry: CorpusEntry) -> None:
    with pytest.raises(RdapError):
        parse_domain_response(entry.body, entry.domain or "example.com")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2004-06-28T18:28:14Z", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T18:28:14+00:00", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T18:28:14.000+0000", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T18:28:14", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T21:28:14+03:00", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T14:28:14-04:00", datetime(2004, 6, 28, 18, 28, 14, tzinfo=UTC)),
        ("2004-06-28T18:28:14.5Z", datetime(2004, 6, 28, 18, 28, 14, 500000, tzinfo=UTC)),
        ("2004-06-28t18:28:14.123456789z", datetime(2004, 6, 28, 18, 28, 14, 123456, tzinfo=UTC)),
    ],
)
def test_date_forms_seen_in_the_wild(text: str, expected: datetime) -> None:
    assert parse_rdap_date(text) == pytest.approx(expected.timestamp(), abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2004-13-01T00:00:00Z",
        "2004-06-28",
        None,
        12345,
        "9999-12-31T23:59:59-01:00",  # the year 10000
        "0001-01-01T00:00:00+01:00",  # the year 0
    ],
)
def test_unreadable_dates_are_bad_responses(text: object) -> None:
    with pytest.raises(RdapBadResponse):
        parse_rdap_date(text)  # type: ignore[arg-type]


def test_not_found_error_body() -> None:
    with pytest.raises(RdapNotFound):
        parse_domain_response(b'{"errorCode": 404, "title": "Not Found"}', "gone.com")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"null",
        b"{",
        b'{"events": "soon"}',
        b'{"ldhName": "a.com", "events": [{"eventAction": "registration"}]}',
    ],
)
def test_malformed_bodies_are_bad_responses(body: bytes) -> None:
    with pytest.raises(RdapBadResponse):
        parse_domain_response(body, "a.com")


def test_answer_about_another_domain_is_refused() -> None:
    with pytest.raises(RdapBadResponse, match=r"other\.com"):
        parse_domain_response(rdap_domain("other.com", "2001-01-01T00:00:00Z"), "asked.com")


def test_trailing_dot_and_case_in_ldh_name_are_accepted() -> None:
    body = rdap_domain("Amazon.Cyou.", "2020-05-14T00:00:00Z")
    assert parse_domain_response(body, "amazon.cyou").expires is None
