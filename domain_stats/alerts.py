"""Every token that can appear in an answer's ``alerts``, each with its meaning: the one source.

Alerts are stable tokens a SIEM rule can match, so each is written here once and imported
everywhere else; the README's alert table is this module's :data:`ALERTS` (a test checks it,
``python -m domain_stats.alerts`` prints it). A token may be followed by ``": "`` and a reason
in words (``INVALID-NAME: 'co.uk' is a public suffix``): match on the token.

The ``ISC-`` prefix and the ``seen_by_isc`` field keep the original tool's name for the
central server ("ISC"), so rules written for the original keep working.
"""

from __future__ import annotations

__all__ = ["ALERTS", "ONCE", "markdown_table", "with_reason"]

#: token -> one-line meaning, in the order the README lists them.
ALERTS: dict[str, str] = {}


def _alert(token: str, meaning: str) -> str:
    ALERTS[token] = meaning
    return token


def with_reason(token: str, reason: str) -> str:
    """``TOKEN: reason``, the form of an alert that carries words for the operator."""
    return f"{token}: {reason}"


# Facts about the domain.
YOUR_FIRST_CONTACT = _alert(
    "YOUR-FIRST-CONTACT", "the first request for this domain from your organisation, ever (one answer, exactly once)"
)
ISC_FIRST_CONTACT = _alert(
    "ISC-FIRST-CONTACT",
    "nobody in the community had asked the central server about this domain before (one answer, in one organisation)",
)
RE_REGISTERED = _alert(
    "RE-REGISTERED",
    "a background refresh of an expired record found a different creation date: the domain was dropped and "
    "registered again; seen_by_web is the new date (one answer, exactly once)",
)
PROHIBITED_TLD = _alert(
    "PROHIBITED-TLD", "the name is under a suffix in prohibited_tlds: answered locally, never sent or recorded"
)

# The domain's registration date could not be had (seen_by_web is "ERROR").
RDAP_NOT_FOUND = _alert("RDAP-NOT-FOUND", "the registry has no such domain (404)")
RDAP_TIMEOUT = _alert("RDAP-TIMEOUT", "no answer from the RDAP server within rdap_timeout_seconds")
RDAP_UNREACHABLE = _alert("RDAP-UNREACHABLE", "the connection to the RDAP server failed")
RDAP_SERVER_ERROR = _alert("RDAP-SERVER-ERROR", "the RDAP server answered 5xx")
RDAP_QUEUED = _alert(
    "RDAP-QUEUED",
    "transient: the RDAP server's line (our per-server limits, or its 429) was longer than "
    "upstream_queue_wait_seconds. Cached for queued_answer_seconds; the query stays in line and the next ask "
    "answers what it found",
)
RDAP_RATE_LIMITED = _alert(
    "RDAP-RATE-LIMITED",
    "the server answered 429 five times in a row for this domain (each 429 holds its line for the Retry-After, "
    "at most 5 min, and is not counted as a failure); or a lookup that may not queue found no turn in time",
)
RDAP_BACKED_OFF = _alert(
    "RDAP-BACKED-OFF",
    "the RDAP server is paused after its own failures: three in a row (refused, reset, 5xx, a request that "
    "timed out) pause it for 30 s, doubling to 10 min",
)
RDAP_BAD_RESPONSE = _alert(
    "RDAP-BAD-RESPONSE",
    "unusable RDAP response: not JSON, no registration event, about another domain, an error body, a creation date "
    "before 1985 or after tomorrow",
)
NO_SERVER = _alert(
    "NO-SERVER",
    "neither the IANA RDAP bootstrap nor the WHOIS server map (with whois_servers) names a server for the TLD",
)
WHOIS_NOT_FOUND = _alert("WHOIS-NOT-FOUND", "the registry's WHOIS server says it has no such domain")
WHOIS_NO_DATE = _alert(
    "WHOIS-NO-DATE",
    "the domain is registered, but its registry publishes no creation date over WHOIS (DENIC's .de, nic.at, "
    "EURid, ...): an honest answer, cached like WHOIS-NOT-FOUND",
)
WHOIS_TIMEOUT = _alert("WHOIS-TIMEOUT", "the WHOIS server did not finish its answer within whois_timeout_seconds")
WHOIS_UNREACHABLE = _alert("WHOIS-UNREACHABLE", "the connection to the WHOIS server failed")
WHOIS_RATE_LIMITED = _alert(
    "WHOIS-RATE-LIMITED",
    'the WHOIS server answered its "limit exceeded" text five times in a row for this domain (each holds its '
    "line for whois_limit_pause_seconds and is not counted as a failure)",
)
WHOIS_BAD_RESPONSE = _alert(
    "WHOIS-BAD-RESPONSE",
    "unusable WHOIS answer: empty, not about the domain, a creation date we cannot read (or before 1985, or after "
    "tomorrow), or over 1 MiB",
)
WHOIS_BACKED_OFF = _alert("WHOIS-BACKED-OFF", "the WHOIS server is paused after its own failures (as RDAP-BACKED-OFF)")
WHOIS_QUEUED = _alert(
    "WHOIS-QUEUED",
    "transient: the WHOIS server's line was longer than upstream_queue_wait_seconds (as RDAP-QUEUED)",
)
DATABASE_UNAVAILABLE = _alert("DATABASE-UNAVAILABLE", "the local database could not be read or written")
ISC_UNREACHABLE = _alert("ISC-UNREACHABLE", "mode central: the central server could not be reached")
ISC_TIMEOUT = _alert("ISC-TIMEOUT", "mode central: the central server did not answer within server_timeout_seconds")
ISC_BACKED_OFF = _alert(
    "ISC-BACKED-OFF",
    "mode central: the central server failed moments ago and is not asked until the pause ends "
    "(1 s after a failure, doubling to 1 min)",
)
ISC_QUEUED = _alert(
    "ISC-QUEUED",
    "mode central, transient: the line for the central server was longer than upstream_queue_wait_seconds; "
    "the query stays in line (as RDAP-QUEUED)",
)
ISC_UNAUTHORIZED = _alert("ISC-UNAUTHORIZED", "mode central: the central server refused api_key (unknown or revoked)")
ISC_SERVER_ERROR = _alert("ISC-SERVER-ERROR", "mode central: the central server failed (5xx)")
ISC_BAD_RESPONSE = _alert(
    "ISC-BAD-RESPONSE",
    "mode central: the central server answered something that is not the protocol (too large, a redirect, too many "
    "alerts, a creation date before 1985 or after tomorrow)",
)
ISC_BAD_REQUEST = _alert("ISC-BAD-REQUEST", "mode central: the central server refused the request (400)")
ISC_ERROR = _alert("ISC-ERROR", "mode central: the central server answered an error without saying which")

# The request itself was refused (HTTP 4xx/5xx, nothing recorded); a reason follows the token.
INVALID_NAME = _alert(
    "INVALID-NAME", "400: not a domain name (an IP address, an unknown TLD, a bare public suffix, a bad label...)"
)
BAD_REQUEST = _alert("BAD-REQUEST", "400: a malformed request, or a /batch body that is not a JSON list of names")
UNAUTHORIZED = _alert("UNAUTHORIZED", "401: /stats or /showcache without the right Authorization: Bearer <admin_key>")
FORBIDDEN = _alert(
    "FORBIDDEN",
    "403: /stats or /showcache while admin_key is not set, on a non-loopback address or through a proxy "
    "(a request with Forwarded, X-Forwarded-For or X-Real-IP)",
)
METHOD_NOT_ALLOWED = _alert("METHOD-NOT-ALLOWED", "405: a method other than GET (or POST for /batch)")
TIMEOUT = _alert("TIMEOUT", "408: the whole request did not arrive within the request deadline (30 s)")
TOO_LARGE = _alert("TOO-LARGE", "413, 414 or 431: a body, request target or header block over its limit")
INTERNAL_ERROR = _alert("INTERNAL-ERROR", "500: a bug; the details are in the service log, never in the answer")


#: The alerts one answer carries exactly once: a repeat of the name (a second event of one batch,
#: the next ask) does not carry them again.
ONCE = frozenset((YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT, RE_REGISTERED))


def markdown_table() -> str:
    """The README's alert table, from :data:`ALERTS`."""
    rows = [f"| `{token}` | {meaning} |" for token, meaning in ALERTS.items()]
    return "\n".join(["| alert | meaning |", "|---|---|", *rows])


if __name__ == "__main__":
    print(markdown_table())
