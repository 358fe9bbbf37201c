from __future__ import annotations

from datetime import UTC, datetime

from domain_stats.lookup.answer import AnswerFormatter, Facts, with_first_contact

DAY = 86400.0
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


def facts(created: float | None, origin: str = "rdap", alerts: tuple[str, ...] = ()) -> Facts:
    return Facts(created, None, origin, None, NOW - DAY, alerts)


def test_category_boundary_is_established_days_age() -> None:
    fmt = AnswerFormatter(established_days_age=730)
    assert fmt.render(facts(NOW - 729 * DAY), now=NOW).category == "NEW"
    assert fmt.render(facts(NOW - 730 * DAY), now=NOW).category == "ESTABLISHED"


def test_origin_decides_seen_by_isc() -> None:
    fmt = AnswerFormatter()
    assert fmt.render(facts(NOW, "rdap"), now=NOW).seen_by_isc == "RDAP"
    assert fmt.render(facts(NOW, "local"), now=NOW).seen_by_isc == "NA"
    isc = Facts(NOW, None, "isc", NOW - 3600, NOW, ())
    assert fmt.render(isc, now=NOW).seen_by_isc == "2026-11-27 11:00:00"


def test_error_facts_answer_error_but_show_contact() -> None:
    answer = AnswerFormatter().render(facts(None, "", ("RDAP-TIMEOUT",)), now=NOW, first_contact=True)
    assert answer.as_dict() == {
        "seen_by_web": "ERROR",
        "seen_by_isc": "ERROR",
        "seen_by_you": "2026-11-26 12:00:00",
        "category": "ERROR",
        "alerts": ["YOUR-FIRST-CONTACT", "RDAP-TIMEOUT"],
    }


def test_negative_timezone_offset() -> None:
    answer = AnswerFormatter(timezone_offset=-5).render(facts(NOW), now=NOW)
    assert answer.seen_by_web == "2026-11-27 07:00:00"


def test_stable_until_is_the_category_flip() -> None:
    fmt = AnswerFormatter(established_days_age=10)
    assert fmt.stable_until(facts(NOW - 3 * DAY), NOW) == NOW + 7 * DAY
    assert fmt.stable_until(facts(NOW - 30 * DAY), NOW) is None
    assert fmt.stable_until(facts(None), NOW) is None


def test_first_contact_added_to_an_encoded_answer_equals_rendering_it() -> None:
    fmt = AnswerFormatter()
    for alerts in [(), ("RDAP-TIMEOUT",), ("A", "B")]:
        for created in (NOW - 3 * DAY, None):
            f = facts(created, alerts=alerts)
            plain = fmt.render(f, now=NOW).encode()
            assert with_first_contact(plain) == fmt.render(f, now=NOW, first_contact=True).encode()
