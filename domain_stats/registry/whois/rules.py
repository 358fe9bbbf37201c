"""What WHOIS answers say, as data: the labels, the not-found and limit texts, and the registry rules.

Every entry comes from a real answer; the comment names the registry (sample files are in
``tests/registry/whois/samples`` and the shared corpus). Labels are matched at the start of a line,
case-insensitively, the longest first, and followed by ``:``, ``]``, dots, a tab or spaces
(``Creation Date:``, ``[Created on]``, ``created............:``, ``Record created on``).
A line whose value is not a date is skipped, so the first *dated* creation line wins: the
domain object comes before its contacts and registrar in every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain_stats.registry.whois.dates import DayOrder

__all__ = ["CREATED_LABELS", "EXPIRES_LABELS", "LIMIT_TEXTS", "NOT_FOUND_TEXTS", "RULES", "RegistryRule", "rule_for"]

CREATED_LABELS: tuple[str, ...] = (
    "creation date",  # ICANN gTLD format (.com, .org, .co, .us, ...), .by, .ca
    "created date",  # .ac (Porkbun)
    "created",  # RIPE-like: .fr/.re/.pm/.wf/.yt (AFNIC), .ru/.su, .se/.nu, .ua, .int, .br, .it, .sk, .pl, .fi
    "created on",  # .jp "[Created on]"
    "registered",  # .dk "Registered:", .ee "registered:"
    "registered on",  # .uk "Registered on:", .ro "Registered On:", .gg "Registered on 30th April 2003"
    "registered date",  # .jp "[Registered Date]", .kr "Registered Date :"
    "registration time",  # .cn and 中国 (CNNIC)
    "registration date",  # .rs
    "record created",  # .hu "record created:"
    "record created on",  # .tw, .mo
    "domain record activated",  # .edu
    "first registration date",  # .ch (SWITCH), tab-separated
    "domain name commencement date",  # .hk
    "domain created",  # .kz
    "domain registered",  # .tk
    "domain registration date",  # the list: .us and .biz before 2019 (Neustar)
    "登録年月日",  # .jp answered in Japanese ("[登録年月日]")
)

EXPIRES_LABELS: tuple[str, ...] = (
    "registry expiry date",  # ICANN gTLD format
    "registrar registration expiration date",  # ICANN gTLD format, registrar part
    "expiry date",  # AFNIC, .uk, .hk
    "expiration date",  # .by, .kr, .rs
    "expiration time",  # CNNIC
    "expires",  # .se/.nu, .ua, .it, .fi, .jp "[Expires on]" below
    "expires on",  # .jp, .tw (old)
    "expire",  # .ee
    "expire date",  # .it
    "expire-date",  # .ir (IRNIC)
    "paid-till",  # .ru/.su (RIPN)
    "record expires on",  # .tw, .mo
    "record will expire on",  # .tk
    "domain expires",  # .edu
    "renewal date",  # .pl
    "valid until",  # .sk
)

#: Lower-case texts, spaces collapsed, that say the registry has no such domain. Only read when
#: the answer has no creation date: some registered answers quote these words in their terms.
NOT_FOUND_TEXTS: tuple[str, ...] = (
    "no match for",  # Verisign (.com/.net/.name/.tv/.cc), .br, .mo, .uk
    "no match",  # .hu "Nincs talalat / No match", .jp "No match!!", .edu "NO MATCH:"
    "not found",  # "Domain not found." (.org, .io, .info, .ee, .fi), "NOT FOUND" (.me, .aero), .ca, .se/.nu
    "no object found",  # .ai, .cx, .gs "Domain Status: No Object Found"
    "no data found",  # .biz, .co, .us, .in, .tel, .xxx
    "does not exist",  # .berlin, .cat, .coop, .la, .top, .ws, .by "Object does not exist"
    "no matching record",  # CNNIC
    "not been registered",  # .cymru, .jobs, .wales, .hk, .uk
    "is not registered",  # .ch, .rs "%ERROR:103: Domain is not registered"
    "no entries found",  # RIPN (.ru/.su/.рф), .dk, AFNIC, .ir, .ua, .ro
    "status: free",  # .de
    "is free",  # .nl
    "status: available",  # .it, .eu
    "is available for registration",  # .love, .sexy
    "not available for registration",  # .name reserved second-level names
    "not available for second level registration",  # .name shared names ("science.name")
    "nothing found",  # .kz
    "220 available",  # .nz "query_status: 220 Available"
    "no found",  # .tw
    "returned 0 objects",  # IANA (.int)
    "no information available about domain name",  # .pl
    "not known in dot tk",  # .tk
    "등록되어 있지 않습니다",  # .kr
)

#: Lower-case texts (spaces collapsed) of a registry refusing to answer because we asked too often. The corpus has
#: none; these are the texts registries are known to send (PIR, Afilias, Verisign, CORE,
#: DENIC, ...), matched only in answers without a creation date.
LIMIT_TEXTS: tuple[str, ...] = (
    "limit exceeded",  # "WHOIS LIMIT EXCEEDED", "Query limit exceeded", "Your connection limit exceeded"
    "rate exceeded",  # "Query rate exceeded, please try again later"
    "quota exceeded",  # "Look up quota exceeded"
    "exceeded the maximum allowable",
    "exceeded the query limit",
    "access control limit reached",  # DENIC "55000000002 Connection refused; access control limit reached."
    "too many requests",
)


@dataclass(frozen=True, slots=True)
class RegistryRule:
    """What one registry needs beyond the common reading, and where we learned it."""

    source: str
    day_order: DayOrder | None = None
    #: The query line sent (``{domain}`` is replaced); CRLF is added.
    query: str = "{domain}"


#: TLD -> rule. Dates without a zone are UTC for every registry: none of these documents
#: another zone for its port-43 answers (CNNIC's and TWNIC's local times are printed with
#: ``(UTC+8)`` where TWNIC states it; CNNIC states nothing and is read as UTC).
RULES: dict[str, RegistryRule] = {
    "tk": RegistryRule(
        "Dot TK prints month first: 'Domain registered: 11/29/2016' (zcore.tk)", day_order=DayOrder.MONTH_FIRST
    ),
    "hk": RegistryRule(
        "HKIRC prints day first: 'Domain Name Commencement Date: 14-03-2004' (ibm.hk)", day_order=DayOrder.DAY_FIRST
    ),
    "jp": RegistryRule(
        "JPRS answers in Japanese unless the query ends in /e (its help text); the samples are the English form",
        query="{domain}/e",
    ),
}

_NONE = RegistryRule("")


def rule_for(tld: str) -> RegistryRule:
    return RULES.get(tld, _NONE)
