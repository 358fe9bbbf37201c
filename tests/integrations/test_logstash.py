"""The Logstash pipeline's skip rule agrees with the service: what it skips has no registration date
(the service answers 400 INVALID-NAME, or PROHIBITED-TLD for a name like localhost); what it lets
through is a name the service answers."""

from __future__ import annotations

import re
from pathlib import Path

from domain_stats import alerts
from tests.support.services import RunningService

PIPELINE = Path(__file__).resolve().parents[2] / "integrations" / "logstash" / "domain-stats.conf"
NAMES = [
    "wpad",
    "printer",
    "localhost",
    "10.1.2.3",
    "192.168.0.1.",
    "fe80::1",
    "2001:db8::53",
    "4.3.2.1.in-addr.arpa",
    "b.a.9.8.ip6.arpa",
    "example.com",
    "www.example.co.uk",
    "a-1.example.net.",
]


def skipped_by_pipeline(name: str) -> bool:
    """The `if` before the http filter, read from the pipeline file itself (its regexes are plain)."""
    condition = next(line for line in PIPELINE.read_text().splitlines() if "[dns][question][name] =~" in line)
    for operator, pattern in re.findall(r"\] (=~|!~) /(.+?)/(?= and| \{)", condition):
        matches = re.search(pattern, name) is not None
        if matches != (operator == "=~"):
            return True
    return False


async def test_names_the_pipeline_skips_are_names_the_service_refuses(service: RunningService) -> None:
    skipped = [name for name in NAMES if skipped_by_pipeline(name)]
    assert skipped == NAMES[:9]  # IPs, single labels and reverse lookups; registrable names go through
    async with service.client.post(service.url + "/batch", json=NAMES) as resp:
        answers = await resp.json()
    without_date = {
        name
        for name, a in zip(NAMES, answers, strict=True)
        if a["alerts"][:1] and a["alerts"][0].startswith((alerts.INVALID_NAME, alerts.PROHIBITED_TLD))
    }
    assert set(skipped) == without_date
