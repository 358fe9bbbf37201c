"""``query_many``: up to 1,000 names in one request, each answered exactly as ``query`` would."""

from __future__ import annotations

import asyncio
from collections import Counter

from domain_stats.alerts import ISC_FIRST_CONTACT
from domain_stats.central_protocol import MAX_QUERY_MANY
from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import RdapTestServer

CREATED = "2010-02-03T04:05:06Z"


async def test_answers_come_in_order_with_bad_names_in_their_place(
    central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("one.com", CREATED, "2030-02-03T04:05:06Z")
    rdap_server.add_domain("two.net", CREATED)
    key = await central.add_key("alpha")
    names = ["www.one.com", "10.0.0.1", "two.net", "printer.local", "missing.org", 7, "ONE.com."]
    status, body = await central.post({"command": "query_many", "domains": names}, key)
    assert status == 200
    answers = body["answers"]
    assert len(answers) == len(names)
    assert answers[0]["seen_by_web"] == "2010-02-03 04:05:06" and answers[0]["alerts"] == [ISC_FIRST_CONTACT]
    assert "IP address" in answers[1]["error"]  # what query answers with its 400
    assert answers[2]["seen_by_web"] == "2010-02-03 04:05:06" and answers[2]["expires"] is None
    assert answers[3] == {"seen_by_web": "ERROR", "expires": "ERROR", "seen_by_isc": -2, "alerts": ["PROHIBITED-TLD"]}
    assert answers[4]["alerts"] == ["RDAP-NOT-FOUND"] and answers[4]["seen_by_isc"] == 1
    assert "domain" in answers[5]["error"]
    assert answers[6]["alerts"] == [] and answers[6]["seen_by_isc"] == answers[0]["seen_by_isc"]  # one.com again
    assert rdap_server.count("one.com") == 1


async def test_each_answer_is_what_query_answers(central: CentralTestServer, rdap_server: RdapTestServer) -> None:
    names = [f"same-{n}.com" for n in range(20)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
    alpha, beta = await central.add_key("alpha"), await central.add_key("beta")
    _, many = await central.post({"command": "query_many", "domains": names}, alpha)
    singles = [(await central.post({"command": "query", "domain": name}, beta))[1] for name in names]
    # beta asks second: the same facts, without the community's first contact that alpha had.
    assert [a["alerts"] for a in many["answers"]] == [[ISC_FIRST_CONTACT]] * len(names)
    assert [{**a, "alerts": []} for a in many["answers"]] == singles


async def test_limits(central: CentralTestServer) -> None:
    key = await central.add_key("alpha")
    too_many = [f"n{n}.com" for n in range(MAX_QUERY_MANY + 1)]
    for body in ({"command": "query_many", "domains": too_many}, {"command": "query_many", "domains": []}):
        status, answer = await central.post(body, key)
        assert status == 400 and "domains" in answer["error"]
    assert (await central.post({"command": "query_many", "domains": "one.com"}, key))[0] == 400


async def test_one_community_first_contact_when_two_members_batch_the_same_names_at_once(
    central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    names = [f"shared-{n}.com" for n in range(60)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
    keys = [await central.add_key(member) for member in ("alpha", "beta")]
    bodies = await asyncio.gather(
        *(central.post({"command": "query_many", "domains": names}, key) for key in keys),
        *(central.post({"command": "query_many", "domains": list(reversed(names))}, key) for key in keys),
    )
    first = Counter(
        name
        for (_, body), order in zip(bodies, [names, names, names[::-1], names[::-1]], strict=True)
        for name, a in zip(order, body["answers"], strict=True)
        if ISC_FIRST_CONTACT in a["alerts"]
    )
    assert first == dict.fromkeys(names, 1)
    assert all(rdap_server.count(name) == 1 for name in names)
